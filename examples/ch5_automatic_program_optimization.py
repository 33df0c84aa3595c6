"""MLC course, chapter 5: automatic program optimization.

1. The course's matmul ``C = A @ B`` (``MyModule``) and its hand schedule
   ``schedule_mm(sch, jfactor)``: split ``j``, reorder around ``k``,
   decompose the reduction.
2. The *stochastic* schedule: the split factor comes from
   ``sch.sample_perfect_tile``; every run draws another one, and the trace
   records the decision, so ``sch.trace`` replays it exactly.
3. Random search over traces (the course's ``random_search``): draw a few
   stochastic schedules, time each, keep the fastest.
4. ``mlc.tune`` with the stochastic schedule as its search space (the
   course's ``ms.tune_tir(..., space=ScheduleFn(stochastic_schedule_mm))``),
   then with mlc's own CPU design space (the default rules with their register
   tiles, packing, blocking, unrolling and parallelism sampled, searched with
   a learned cost model);
   the database's best trace is applied with ``mlc.build(..., schedule=trace)``.
5. Tuning the course's MLP end to end: the chapter 4 model (``linear0``,
   ``relu0``, ``linear1`` called from ``main`` with ``call_tir``) at the
   course's sizes; every kernel is tuned, the database is applied to the
   module, and the tuned model is checked against NumPy.

    python examples/ch5_automatic_program_optimization.py [--trials 64] [--work-dir ch5_tune]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

import mlc
from mlc import te
from mlc.runtime import time_function

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ch4_end_to_end import call_tir_module  # noqa: E402  (the chapter 4 model)


def my_module(n: int = 128) -> mlc.IRModule:
    """The course's MyModule: ``main`` computes ``C = A @ B``."""
    A = te.placeholder((n, n), "float32", name="A")
    B = te.placeholder((n, n), "float32", name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def schedule_mm(sch: mlc.Schedule, jfactor: int = 4) -> mlc.Schedule:
    """The course's hand schedule with a fixed split factor."""
    block_C = sch.get_block("C", "main")
    i, j, k = sch.get_loops(block=block_C)
    j_0, j_1 = sch.split(loop=j, factors=[None, jfactor])
    sch.reorder(i, j_0, k, j_1)
    sch.decompose_reduction(block_C, k)
    return sch


def stochastic_schedule_mm(sch: mlc.Schedule) -> mlc.Schedule:
    """The same schedule with the split factor drawn by ``sample_perfect_tile``."""
    block_C = sch.get_block("C", "main")
    i, j, k = sch.get_loops(block=block_C)
    j_factors = sch.sample_perfect_tile(loop=j, n=2)
    j_0, j_1 = sch.split(loop=j, factors=j_factors)
    sch.reorder(i, j_0, k, j_1)
    sch.decompose_reduction(block_C, k)
    return sch


def _arrays(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (n, n)).astype("float32")
    b = rng.uniform(-1, 1, (n, n)).astype("float32")
    return a, b, np.zeros((n, n), "float32")


def _time_mm(mod: mlc.IRModule, schedule, n: int, number: int = 5, repeat: int = 3) -> float:
    """Median seconds of ``main`` built with ``schedule`` (checked against NumPy first)."""
    lib = mlc.build(mod, target="llvm", schedule=schedule)
    a, b, c = _arrays(n)
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
    return time_function(lambda: lib["main"](a, b, c), number, repeat).median


def random_search(mod: mlc.IRModule, num_trials: int = 5, n: int = 128, seed: int = 0, verbose: bool = True):
    """The course's random search: ``num_trials`` stochastic schedules, the fastest kept."""
    best_time, best_trace = float("inf"), None
    for trial in range(num_trials):
        sch = stochastic_schedule_mm(mlc.Schedule(mod, seed=seed + trial))
        seconds = _time_mm(mod, mlc.Trace.from_json(sch.trace.to_json()), n)
        decision = [inst.inputs["decision"] for inst in sch.trace if inst.kind == "sample_perfect_tile"][0]
        if verbose:
            print(f"=====Attempt {trial}, time-cost: {seconds * 1e3:.3f} ms, j factors {decision}====")
        if seconds < best_time:
            best_time, best_trace = seconds, sch.trace
    return best_time, best_trace


def tune_mlp(batch: int, trials: int, work_dir: str, verbose: bool = True) -> float:
    """Tune the chapter 4 MLP's kernels, apply the database, check the model against NumPy;
    returns the largest difference from NumPy."""
    mod = call_tir_module(batch, 784, 128, 10)
    db = mlc.tune(mod, target="llvm", trials=trials, work_dir=os.path.join(work_dir, "mlp"), progress=verbose,
                  batch_size=min(8, trials))
    tuned = mlc.tune.apply_database(mod, db, "llvm")
    if verbose:
        print(tuned["linear0"].script())
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (batch, 784)).astype("float32")
    w0 = rng.uniform(-0.1, 0.1, (128, 784)).astype("float32")
    b0 = rng.uniform(-0.1, 0.1, (128,)).astype("float32")
    w1 = rng.uniform(-0.1, 0.1, (10, 128)).astype("float32")
    b1 = rng.uniform(-0.1, 0.1, (10,)).astype("float32")
    logits = mlc.build(tuned, target="llvm")["main"](x, w0, b0, w1, b1)
    expected = np.maximum(x @ w0.T + b0, 0) @ w1.T + b1
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    return float(np.abs(logits - expected).max())


def main(n: int = 128, trials: int = 64, random_trials: int = 5, mlp_batch: int = 64, work_dir: str | None = None,
         verbose: bool = True) -> dict:
    work_dir = work_dir or tempfile.mkdtemp(prefix="mlc-ch5-")
    mod = my_module(n)
    results = {}

    results["hand schedule (jfactor 4)"] = _time_mm(mod, lambda sch: schedule_mm(sch, 4) and None, n)

    sch = stochastic_schedule_mm(mlc.Schedule(mod, seed=1))
    if verbose:
        print("=== a stochastic schedule: its trace records the decision ===")
        print(sch.trace)
        print(sch.mod.script())
    again = mlc.Schedule(mod)
    mlc.Trace.from_json(sch.trace.to_json()).apply(again)
    mlc.assert_structural_equal(again.mod, sch.mod)          # the trace replays the same program

    results["random search"], best_trace = random_search(mod, random_trials, n, verbose=verbose)
    if verbose:
        print("=== the best trace of the random search ===")
        print(best_trace)

    db = mlc.tune(mod, target="llvm", trials=trials, work_dir=os.path.join(work_dir, "stochastic"),
                  space=stochastic_schedule_mm, progress=verbose, batch_size=min(8, trials))
    results["mlc.tune, stochastic_schedule_mm space"] = _time_mm(mod, db.best_trace(mod["main"], "llvm"), n)

    db = mlc.tune(mod, target="llvm", trials=trials, work_dir=os.path.join(work_dir, "auto"), progress=verbose,
                  batch_size=min(16, trials))
    best = db.best_trace(mod["main"], "llvm")
    results["mlc.tune, CPU design space"] = _time_mm(mod, best, n)
    results["mlc default schedule"] = _time_mm(mod, None, n)
    a, b, c = _arrays(n)
    results["NumPy"] = time_function(lambda: np.matmul(a, b, out=c), 5, 3).median
    if verbose:
        print("=== the best schedule mlc.tune found ===")
        sch = mlc.Schedule(mod)
        best.apply(sch)
        print(sch.mod.script())
        print(f"tuning curve: {db.plot(os.path.join(work_dir, 'auto', 'curve.png'))}")

    results["MLP max |tuned - NumPy|"] = tune_mlp(mlp_batch, trials, work_dir, verbose)
    if verbose:
        flops = 2 * n ** 3
        print(f"\nmatmul {n} x {n} x {n} float32")
        for name, seconds in results.items():
            if name.startswith("MLP"):
                print(f"  {name:<42} {seconds:.2e}")
            else:
                print(f"  {name:<42} {seconds * 1e6:10.1f} us  {flops / seconds / 1e9:7.2f} GFLOP/s")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--work-dir", default=None)
    args = parser.parse_args()
    main(n=args.n, trials=args.trials, work_dir=args.work_dir)
