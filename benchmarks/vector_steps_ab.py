"""Vectors per step of an elementwise math loop, interleaved in one process:
``python benchmarks/vector_steps_ab.py OP [--dtype float32] [--log2n 14] [--widths 16,32] [--rounds 41] [--calls 300]``.

``Y[i] = OP(X[i])`` (``gelu``: the tanh GELU) built with mlc's te, the loop split by each
of ``--widths`` lanes (the inner part vectorized: 16 float32 lanes are two AVX2 vectors,
32 four), on threads for 2^18 elements or more unless ``MLC_NUM_THREADS=1``; for ``gelu``
TVM's fast_tanh schedule (``benchmarks/tvm_kernels.py``) joins them. Each round times every
contender once (a batch of ``--calls`` calls, its mean) in an order shuffled each round.
Printed: each one's median and fastest round in us, and its ratio to the first width's
median (above 1: faster). ``--cpu`` times the calling thread's CPU time (with
``MLC_NUM_THREADS=1 TVM_NUM_THREADS=1``, on a machine other work keeps busy). What
:data:`mlc.schedules.default.steps.ROUTINE_VECTORS` was chosen by.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mlc  # noqa: E402
from mlc import te  # noqa: E402


def _gelu(v):
    return 0.5 * v * (1.0 + te.tanh(0.7978845608 * (v + 0.044715 * v * v * v)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("op", help="gelu or a te math function (tanh, exp, sigmoid, ...)")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--log2n", type=int, default=14)
    ap.add_argument("--widths", default="16,32")
    ap.add_argument("--rounds", type=int, default=41)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--cpu", action="store_true")
    args = ap.parse_args()
    clock = time.thread_time if args.cpu else time.perf_counter
    n = 1 << args.log2n
    x = np.random.default_rng(0).standard_normal(n).astype(args.dtype)
    f = _gelu if args.op == "gelu" else getattr(te, args.op)
    threads = n >= 1 << 18 and os.environ.get("MLC_NUM_THREADS") != "1"

    def build(width: int):
        X = te.placeholder((n,), args.dtype, "X")
        Y = te.compute((n,), lambda i: f(X[i]), "Y")
        sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([X, Y])}))
        outer, inner = sch.split(sch.get_loops(sch.get_block("Y", func_name="main"))[0], [None, width])
        if threads:
            sch.parallel(outer)
        sch.vectorize(inner)
        kernel, out = mlc.build(sch.mod, target="llvm")["main"], np.empty_like(x)
        return lambda: kernel(x, out)

    runners = {f"{w} lanes": build(int(w)) for w in args.widths.split(",")}
    if args.op == "gelu" and args.dtype == "float32":
        from benchmarks import tvm_kernels
        runners["tvm fast_tanh"] = tvm_kernels.gelu(x)
    times: dict[str, list[float]] = {k: [] for k in runners}
    order, rng = list(runners), np.random.default_rng(1)
    print(f"{args.op} {args.dtype} 2^{args.log2n}, load before: {os.getloadavg()}")
    for _ in range(args.rounds):
        rng.shuffle(order)
        for k in order:
            runners[k]()
            start = clock()
            for _ in range(args.calls):
                runners[k]()
            times[k].append((clock() - start) / args.calls)
            time.sleep(0.02)
    print(f"load after: {os.getloadavg()}")
    first = statistics.median(next(iter(times.values())))
    for k, t in times.items():
        m = statistics.median(t)
        print(f"{k:14s} median {m * 1e6:9.2f} us  min {min(t) * 1e6:9.2f}  first/this {first / m:.3f}")


if __name__ == "__main__":
    main()
