"""Timing: the one way mlc measures a callable (used by time_evaluator and benchmarks).

A measurement warms the callable up first — at least ``warmup`` calls and at
least :data:`MIN_WARMUP_SECONDS` of calls — so the first launches of a thread
pool (creating or waking its threads) are not timed, then times ``repeat``
rounds of ``number`` calls. The result reports the median round and the
spread of the rounds: one round hit by the OS (a preempted worker, a pool
that went back to sleep) moves neither the median nor goes unseen.

>>> result = time_function(lambda: None, number=10, repeat=3)
>>> len(result.results), result.median >= 0, result.spread >= 0
(3, True, True)
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TimeResult", "time_function", "MIN_WARMUP_SECONDS"]

#: Warm-up goes on until its calls have taken at least this long (libgomp workers
#: that slept wake up within it, and new ones are started).
MIN_WARMUP_SECONDS = 0.02


@dataclass(frozen=True)
class TimeResult:
    """Seconds per call for each repeat; ``median`` (the figure to report), ``spread``
    (max - min of the repeats), ``mean`` and ``min`` summarise them."""
    results: tuple[float, ...]

    @property
    def mean(self) -> float:
        return sum(self.results) / len(self.results)

    @property
    def median(self) -> float:
        ordered = sorted(self.results)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    @property
    def min(self) -> float:
        return min(self.results)

    @property
    def max(self) -> float:
        return max(self.results)

    @property
    def spread(self) -> float:
        """max - min over the repeats (0 for one repeat)."""
        return self.max - self.min

    def __repr__(self) -> str:
        return (f"TimeResult(median={self.median * 1e3:.4f} ms, spread={self.spread * 1e3:.4f} ms "
                f"[min {self.min * 1e3:.4f}, max {self.max * 1e3:.4f}], repeat={len(self.results)})")


def time_function(fn: Callable[[], object], number: int = 10, repeat: int = 3,
                  warmup: int = 1) -> TimeResult:
    """Warm ``fn`` up, then ``repeat`` times measure the mean of ``number`` calls.

    Warm-up: at least ``warmup`` calls and, when ``warmup`` > 0, calls for at
    least :data:`MIN_WARMUP_SECONDS`.
    """
    if number < 1 or repeat < 1 or warmup < 0:
        raise ValueError(f"number and repeat must be at least 1 and warmup at least 0, got "
                         f"number={number}, repeat={repeat}, warmup={warmup}")
    _warm_up(fn, warmup)
    results = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        results.append((time.perf_counter() - start) / number)
    return TimeResult(tuple(results))


def _warm_up(fn: Callable[[], object], calls: int) -> None:
    if calls == 0:
        return
    start = time.perf_counter()
    done = 0
    while done < calls or time.perf_counter() - start < MIN_WARMUP_SECONDS:
        fn()
        done += 1
