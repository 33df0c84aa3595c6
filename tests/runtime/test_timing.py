"""time_function / time_evaluator: warm-up before timing, the median of the repeats and their spread."""
import time

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.runtime import timing
from mlc.runtime.timing import MIN_WARMUP_SECONDS, time_function


class Clock:
    """A stand-in for ``time`` in :mod:`mlc.runtime.timing`: the callables below advance
    it, so the tests do not depend on how loaded the machine is."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(timing, "time", fake)
    return fake


FAST = 1e-5


def test_the_pool_wakes_up_before_timing_starts(clock):
    """The first launches start the pool's workers (5 ms each here, 15 ms together):
    warm-up absorbs them, and every timed round sees the fast kernel."""
    calls = []

    def kernel():
        calls.append(clock.now)
        clock.now += 5e-3 if len(calls) <= 3 else FAST

    result = time_function(kernel, number=5, repeat=3, warmup=1)
    assert len(calls) > 3 + 5 * 3
    assert result.results == pytest.approx((FAST,) * 3), result
    assert clock.now - 5 * 3 * FAST >= MIN_WARMUP_SECONDS


def test_the_median_ignores_one_stalled_round_and_the_spread_shows_it(clock, monkeypatch):
    """One timed call stalls 20 ms (a preempted worker): the median is the typical round,
    the spread shows the stall."""
    monkeypatch.setattr(timing, "MIN_WARMUP_SECONDS", 0.0)  # warm-up: exactly one call
    calls = []

    def kernel():
        calls.append(clock.now)
        clock.now += 0.02 if len(calls) == 3 else FAST  # the second timed call: round 2 of 5

    result = time_function(kernel, number=1, repeat=5, warmup=1)
    assert len(calls) == 6
    assert result.median == pytest.approx(FAST)
    assert result.spread == pytest.approx(0.02 - FAST)
    assert "median=0.0100 ms" in repr(result) and "spread=19.9900 ms" in repr(result)


def test_time_evaluator_reports_the_median_of_its_repeats():
    A = te.placeholder((64,), "float32", "A")
    lib = mlc.build(mlc.IRModule({"double": te.create_prim_func([A, te.compute((64,), lambda i: A[i] * 2, "B")])}),
                    "llvm")
    a = np.ones(64, "float32")
    result = lib.time_evaluator("double", number=3)(a, np.empty_like(a))
    assert len(result.results) == 3
    assert result.min <= result.median <= result.max


@pytest.mark.parametrize("kwargs", [dict(number=0), dict(repeat=0), dict(warmup=-1)])
def test_bad_counts_are_refused(kwargs):
    with pytest.raises(ValueError):
        time_function(lambda: None, **kwargs)
