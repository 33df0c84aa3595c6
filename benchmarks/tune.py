"""``python -m benchmarks tune [--trials 64] [--tiny] [--workers 1] [name ...]``: mlc.tune's rows.

For each workload: tune it with ``mlc.tune`` (the default schedule is one of
the candidates), report the tuning's wall-clock time, measured trials per
minute (also with the candidates' own run time taken out), failures; then
time NumPy, the default schedule and the tuned schedule side by side in the
benchmark harness (interleaved rounds, one table).

Workloads: ``matmul1024`` (1024^3 float32), ``conv2d`` (1x64x56x56, 64x3x3,
pad 1), ``bmm`` (16x128x128x128 batch matmul). The issue's targets: tuned
matmul >= default and >= NumPy with 64 trials (>= 1.1x NumPy with 256);
conv2d and bmm >= 1.2x the default; >= 60 trials per minute on 2 cores
excluding the kernels' run time; against Apache TVM's MetaSchedule with the
same trial count, equal or better final kernels in less wall-clock time.

MetaSchedule (``--no-metaschedule`` leaves it out) tunes the same workload
with the same trial count when TVM is installed (:mod:`.metaschedule`); its
final kernel is one more contender of the table and its tuning a row of the
tuning table, with notes saying where it differed from MetaSchedule as shipped
(a cost model or a process pool this machine lacks). Where it cannot run, both
rows say exactly why. Without LightGBM, mlc.tune searches at random (said too).
"""
from __future__ import annotations

import argparse
import io
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import programs as P
from .harness import Contender, Workload, print_table, run_workload, unavailable
from .peers import installed

__all__ = ["main", "TUNE_WORKLOADS"]


@dataclass(frozen=True)
class TuneWorkload:
    key: str
    title: str
    flops: float
    module: Callable[[], object]          # () -> single-function module
    inputs: tuple
    out_shape: tuple
    reference: Callable[[], np.ndarray]
    numpy_label: str
    numpy_run: Callable[[], object]


def _te_matmul(n: int):
    import mlc
    from mlc import te
    A = te.placeholder((n, n), "float32", name="A")
    B = te.placeholder((n, n), "float32", name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _te_bmm(b: int, n: int):
    import mlc
    from mlc import te
    A = te.placeholder((b, n, n), "float32", name="A")
    B = te.placeholder((b, n, n), "float32", name="B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((b, n, n), lambda z, i, j: te.sum(A[z, i, k] * B[z, k, j], axis=k), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _jit_conv(x, w):
    import mlc
    from mlc.ir.calls import is_graph_main
    lowered = mlc.jit(lambda a, b: mlc.nn.conv2d(a, b, padding=1)).lower(x, w)
    (name,) = [n for n, f in lowered.mod.items() if not is_graph_main(f)]  # the kernel, not the graph's main
    return mlc.IRModule({"main": lowered.mod[name].with_attr("global_symbol", "main")})


def matmul1024(tiny: bool) -> TuneWorkload:
    n = 64 if tiny else 1024
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype="float32"), rng.random((n, n), dtype="float32")
    out = np.empty((n, n), "float32")
    return TuneWorkload("matmul1024", f"matmul {n}^3 float32", 2.0 * n ** 3, lambda: _te_matmul(n), (a, b),
                        (n, n), lambda: a @ b, "np.matmul(out=)", lambda: np.matmul(a, b, out=out))


def conv2d(tiny: bool) -> TuneWorkload:
    c, hw = (16, 12) if tiny else (64, 56)  # tiny: still a vector of channels (AVX-512)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, c, hw, hw), dtype="float32")
    w = (rng.standard_normal((c, c, 3, 3)) / (3 * np.sqrt(c))).astype("float32")
    return TuneWorkload("conv2d", f"conv2d 1x{c}x{hw}x{hw}, {c}x3x3, pad 1", 2.0 * hw * hw * c * c * 9,
                        lambda: _jit_conv(x, w), (x, w), (1, c, hw, hw), lambda: P.im2col_conv2d(x, w),
                        "im2col + matmul", lambda: P.im2col_conv2d(x, w))


def bmm(tiny: bool) -> TuneWorkload:
    b, n = (2, 32) if tiny else (16, 128)
    rng = np.random.default_rng(0)
    x, y = rng.random((b, n, n), dtype="float32"), rng.random((b, n, n), dtype="float32")
    out = np.empty((b, n, n), "float32")
    return TuneWorkload("bmm", f"batch matmul {b}x{n}x{n}x{n} float32", 2.0 * b * n ** 3, lambda: _te_bmm(b, n),
                        (x, y), (b, n, n), lambda: x @ y, "np.matmul(out=)", lambda: np.matmul(x, y, out=out))


TUNE_WORKLOADS = {"matmul1024": matmul1024, "conv2d": conv2d, "bmm": bmm}


def _built(mod, schedule, inputs, out_shape, label: str) -> Contender:
    def build():
        import mlc
        lib = mlc.build(mod, "llvm", schedule=schedule)
        f = lib["main"]
        out = np.zeros(out_shape, "float32")

        def run():
            f(*inputs, out)
            return out
        return run
    return Contender("mlc", label, build)


def _lightgbm_missing() -> bool:
    import importlib.util
    return importlib.util.find_spec("lightgbm") is None


def _tune(w: TuneWorkload, trials: int, workers: int, work_dir: str) -> tuple[object, dict]:
    import mlc
    mod = w.module()
    start = time.perf_counter()
    # without LightGBM the cost model cannot train: search at random, and say so
    db = mlc.tune(mod, "llvm", trials=trials, work_dir=work_dir, workers=workers, cost_model=not _lightgbm_missing())
    wall = time.perf_counter() - start
    records = db.records(mod["main"], "llvm")
    # the candidates' own run time: the check, warm-up (calls for warmup_s at least), one probe call,
    # repeats of enough calls for min_repeat_s
    timing = mlc.tune.Timing()
    kernel_s = sum(max(timing.warmup * r.median_s, timing.warmup_s) +
                   r.median_s * (2 + timing.repeat * max(1, math.ceil(timing.min_repeat_s / r.median_s)))
                   for r in records if r.ok)
    stats = {"trials": len(records), "failed": sum(not r.ok for r in records), "wall_s": wall,
             "per_minute": 60 * len(records) / wall,
             "per_minute_excluding_kernels": 60 * len(records) / max(wall - kernel_s, 1e-9)}
    return db.best_trace(mod["main"], "llvm"), stats


def _metaschedule(w: TuneWorkload, trials: int, work_dir: str) -> tuple[Contender, dict]:
    """MetaSchedule's contender and its tuning row (``stats["why"]`` when it did not run)."""
    label = f"MetaSchedule, {trials} trials"
    if not installed("tvm"):
        why = "Apache TVM is not installed (pip install -e '.[bench]')"
        return unavailable("tvm", why, label), {"why": why}
    from . import metaschedule
    why = metaschedule.unavailable_reason()
    if why is None:
        run = metaschedule.tune(w.key, w.inputs, trials, work_dir)
        why = run.error or None
    if why is not None:
        why = f"MetaSchedule {why}" if not why.startswith("MetaSchedule") else why
        return unavailable("tvm", why, label), {"why": why}
    stats = {"trials": run.trials, "failed": run.failed, "wall_s": run.wall_s,
             "per_minute": 60 * run.trials / max(run.wall_s, 1e-9), "notes": run.notes}
    return Contender("tvm", label, run.build), stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks tune", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help=f"workloads (default: all): {', '.join(TUNE_WORKLOADS)}")
    p.add_argument("--trials", type=int, default=64)
    p.add_argument("--workers", type=int, default=1, help="local build/measure worker processes")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--tiny", action="store_true", help="smoke-test sizes (not a benchmark)")
    p.add_argument("--work-dir", default=None, help="keep the tuning databases here")
    p.add_argument("--no-metaschedule", action="store_true", help="leave Apache TVM's MetaSchedule out")
    args = p.parse_args(argv)
    names = args.names or list(TUNE_WORKLOADS)
    unknown = [n for n in names if n not in TUNE_WORKLOADS]
    if unknown:
        print(f"unknown tune workload(s) {unknown}; choose from {list(TUNE_WORKLOADS)}", file=sys.stderr)
        return 2
    from .machine import measure_machine
    machine = measure_machine(quick=args.tiny)
    print(machine.describe())
    work_root = args.work_dir or tempfile.mkdtemp(prefix="mlc-bench-tune-")
    results, stats_rows, ms_rows = [], [], []
    for name in names:
        w = TUNE_WORKLOADS[name](args.tiny)
        best, stats = _tune(w, args.trials, args.workers, os.path.join(work_root, name))
        stats_rows.append((w.title, stats))
        extra = ()
        if not args.no_metaschedule:
            contender, ms_stats = _metaschedule(w, args.trials, os.path.join(work_root, name, "metaschedule"))
            ms_rows.append((w.title, ms_stats))
            extra = (contender,)
        mod = w.module()
        workload = Workload(f"tune:{name}", f"{w.title}, {args.trials} trials", flops=w.flops,
                            reference=w.reference, rtol=1e-3, atol=1e-3, contenders=(
                                Contender("numpy", w.numpy_label, lambda w=w: w.numpy_run),
                                _built(mod, None, w.inputs, w.out_shape, "default schedule"),
                                _built(mod, best, w.inputs, w.out_shape, f"mlc.tune, {args.trials} trials"),
                            ) + extra)
        # one first call: a tuned build's is not a cold compile (its records are there)
        results.append(run_workload(workload, args.rounds, 0.005 if args.tiny else 0.05, first_calls=1))
    peak = max(machine.fma_peak_gflops, machine.fma_peak_1t_gflops)
    table = io.StringIO()
    print_table(results, peak, max(machine.copy_gbs, machine.copy_1t_gbs), out=table)
    print(table.getvalue(), end="")
    print(f"\n{'tuning':<44} {'trials':>6} {'failed':>6} {'wall':>8} {'per min':>8} {'excl. kernels':>14}")
    for title, s in stats_rows:
        print(f"{title:<44} {s['trials']:>6} {s['failed']:>6} {s['wall_s']:>7.1f}s {s['per_minute']:>8.0f} "
              f"{s['per_minute_excluding_kernels']:>14.0f}")
    if _lightgbm_missing():
        print("  mlc.tune: LightGBM is not installed: it searched at random (cost_model=False)")
    notes: list[str] = []
    for title, s in ms_rows:
        name = f"{title} [MetaSchedule]"
        if "why" in s:
            print(f"{name:<44} {'—':>6} {'—':>6} {'—':>8} {'—':>8}   {s['why']}")
            continue
        print(f"{name:<44} {s['trials']:>6} {s['failed']:>6} {s['wall_s']:>7.1f}s {s['per_minute']:>8.0f} "
              f"{'—':>14}")
        notes += [n for n in s["notes"] if n not in notes]
    for note in notes:
        print(f"  MetaSchedule: {note}")
    print(f"(databases in {work_root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
