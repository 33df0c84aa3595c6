"""The tanh GELU of mlc checkouts and TVM's fast_tanh schedule, interleaved in one process:
``python benchmarks/gelu_ab.py A_CHECKOUT B_CHECKOUT [...] [--log2n 22] [--rounds 15] [--calls 10]``.

Each checkout's ``mlc`` is imported in turn (the other's modules dropped from
``sys.modules``) and jits ``benchmarks.programs.gelu`` (default and ``fast_math=True``);
then TVM's kernel (``benchmarks/tvm_kernels.py``) and ``np.copyto`` of the input (the
memory's pace) join them, and each round times every contender once (a batch of
``--calls`` calls, its mean), in an order shuffled each round, 50 ms apart. Printed: each
contender's median and fastest round in ms, and its ratios to the first checkout and to
TVM (TVM's time over this one: above 1 is faster than TVM), with the load average before
and after. ``MLC_NUM_THREADS`` and ``TVM_NUM_THREADS`` set the threads (both cores by
default); with one each, ``--cpu`` times the CPU time of the calling thread, which runs
every kernel then: on a machine other work keeps busy, the time slices it loses to that
work do not count.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import programs  # noqa: E402
from benchmarks.checkouts import load_mlc  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkouts", nargs="+")
    ap.add_argument("--log2n", type=int, default=22)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--cpu", action="store_true",
                    help="time the calling thread's CPU time, not the wall clock (on a loaded machine, "
                         "with MLC_NUM_THREADS=1 TVM_NUM_THREADS=1: every kernel runs on this thread)")
    args = ap.parse_args()
    clock = time.thread_time if args.cpu else time.perf_counter
    os.environ["MLC_CACHE_DIR"] = ""
    os.environ["MLC_TIERED"] = "0"  # (optimised code from the first call; no background thread)
    x = np.random.default_rng(0).standard_normal(1 << args.log2n, dtype="float32")
    want = programs.gelu(x.astype(np.float64))
    runners = {}
    names = [chr(ord("A") + i) for i in range(len(args.checkouts))]
    for name, path in zip(names, args.checkouts):
        mlc = load_mlc(path)
        print(f"{name}: {path}")
        for fast in (False, True):
            jitted = mlc.jit(lambda v: programs.gelu(v), fast_math=fast)
            y = jitted(x)
            np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
            runners[name + (" fast_math" if fast else "")] = lambda f=jitted: f(x)
    try:
        from benchmarks import tvm_kernels
        runners["tvm fast_tanh"] = tvm_kernels.gelu(x)
    except ImportError as err:
        print(f"no TVM: {err}")
    out = np.empty_like(x)
    runners["np.copyto"] = lambda: np.copyto(out, x)
    times: dict[str, list[float]] = {k: [] for k in runners}
    order = list(runners)
    rng = np.random.default_rng(1)
    print(f"load before: {os.getloadavg()}")
    for _ in range(args.rounds):
        rng.shuffle(order)
        for k in order:
            run = runners[k]
            run()
            start = clock()
            for _ in range(args.calls):
                run()
            times[k].append((clock() - start) / args.calls)
            time.sleep(0.05)
    print(f"load after: {os.getloadavg()}")
    med = {k: statistics.median(t) for k, t in times.items()}
    low = {k: min(t) for k, t in times.items()}
    tvm = "tvm fast_tanh" if "tvm fast_tanh" in med else None
    print(f"2^{args.log2n} float32, {args.rounds} rounds of {args.calls} calls"
          + (", this thread's CPU time" if args.cpu else ""))
    print(f"{'contender':16} {'median ms':>10} {'min ms':>8} {'A/this':>7} {'tvm/this':>9} {'min: tvm/this':>14}")
    for k in runners:
        base = ("A fast_math" if k.endswith("fast_math") else "A") if k[0] in names and k[1:2] in ("", " ") else None
        versus_a = f"{med[base] / med[k]:7.2f}" if base else f"{'-':>7}"
        versus_tvm = f"{med[tvm] / med[k]:9.2f} {low[tvm] / low[k]:14.2f}" if tvm else ""
        print(f"{k:16} {med[k] * 1e3:10.3f} {low[k] * 1e3:8.3f} {versus_a} {versus_tvm}")


if __name__ == "__main__":
    main()
