"""A background build pauses its Python work while a first tier runs in the foreground
(mlc.driver.background.foreground), within a bound: the optimised build still comes into use."""
import threading
import time

import numpy as np

import mlc
from mlc import te
from mlc.driver import background, first_tier

#: The longest anything here may wait, in seconds (a busy machine).
BOUND_S = 120


def _until(condition, what: str) -> None:
    """Wait (polling) until ``condition()``; fail after BOUND_S."""
    deadline = time.monotonic() + BOUND_S
    while not condition():
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.005)


def test_a_job_pauses_while_a_first_tier_runs_and_goes_on_after(monkeypatch):
    monkeypatch.setattr(background, "PAUSE_LIMIT_S", float(BOUND_S))
    reached, passed = threading.Event(), threading.Event()

    def job():
        reached.set()
        background.pause_for_foreground()
        passed.set()
    with background.foreground():
        assert background.submit(job)
        _until(reached.is_set, "reached the pause")
        _until(background.pausing, "paused")
        assert not passed.is_set()
        background.pause_for_foreground()  # (off the background thread: returns at once)
    assert background.wait(timeout=BOUND_S) and passed.is_set() and not background.pausing()


def test_a_job_pauses_for_at_most_its_limit_in_all(monkeypatch):
    """First-tier runs that never end hold a job up for PAUSE_LIMIT_S at most, all its pauses
    together: it ends while they still run."""
    monkeypatch.setattr(background, "PAUSE_LIMIT_S", 0.05)
    left = []

    def job():
        for _ in range(5):
            background.pause_for_foreground()
            left.append(background._STATE["pause_left"])
    with background.foreground():
        assert background.submit(job)
        assert background.wait(timeout=BOUND_S)  # (within the foreground run)
    assert len(left) == 5 and left[-1] <= 0 and left == sorted(left, reverse=True)


def test_an_optimised_build_waits_for_a_first_tier_run_then_comes_into_use(monkeypatch):
    monkeypatch.setattr(background, "PAUSE_LIMIT_S", float(BOUND_S))
    monkeypatch.setattr(first_tier, "QUICK_WORK_LIMIT", 0)
    n = 24
    A = te.placeholder((n, n), "float32", "A")
    k = te.reduce_axis((0, n), "k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * A[k, j], axis=k), "C")
    lib = mlc.build(mlc.IRModule({"main": te.create_prim_func([A, C])}), "llvm", tiered=True)
    assert isinstance(lib, first_tier.FirstTierModule)
    a, c = np.arange(n * n, dtype="float32").reshape(n, n) / n, np.empty((n, n), "float32")
    with background.foreground():  # (as a first-tier call's NumPy run marks itself)
        assert lib.start()
        _until(background.pausing, "paused in the driver")
        assert lib.is_first_tier
        lib["main"](a, c)  # runs through NumPy meanwhile
        np.testing.assert_allclose(c, a @ a, rtol=1e-5)
    assert lib.wait(timeout=BOUND_S) is not None and not lib.is_first_tier
    c[:] = np.nan
    lib["main"](a, c)
    np.testing.assert_allclose(c, a @ a, rtol=1e-5)
