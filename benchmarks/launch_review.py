"""What the launch review of parallel loops does on this host: ``python -m benchmarks.launch_review``.

A parallel loop too small for a team (a 4x8 float32 ``x * 2 + 1``) is called
``--calls`` times in a row, ``--rounds`` times, with a team of two threads: the
review (:mod:`mlc.backends.llvm.parallel`) should soon keep it on the calling
thread. Printed: how many of each round's calls woke the pool (median and
range), and the median time of a call against the same loop built for one thread
(no launch at all), interleaved round by round, with the ratio. Under load from
other processes the first number moves (a preempted calling thread makes a team
look worth it); the rules themselves are tested with made-up times in
``tests/backends/test_llvm_launch_review.py``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import mlc
from mlc import te
from mlc.backends.llvm import parallel
from mlc.backends.llvm.symbols import PARALLEL_STATE
from mlc.config import override


def tiny_kernel(threads: int):
    """The loop, its outer loop parallel, built for ``threads`` threads: (function, a, out)."""
    A = te.placeholder((4, 8), "float32", "A")
    B = te.compute((4, 8), lambda i, j: A[i, j] * 2 + 1, "B")
    sch = mlc.Schedule(mlc.IRModule({"f": te.create_prim_func([A, B])}))
    sch.parallel(sch.get_loops(sch.get_block("B", "f"))[0])
    with override(num_threads=threads):
        lib = mlc.build(sch.mod, "llvm")
    a = np.arange(32, dtype="float32").reshape(4, 8)
    return lib["f"], a, np.empty_like(a)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.launch_review", description=__doc__.split("\n\n")[1])
    p.add_argument("--calls", type=int, default=300, help="calls per round (default 300)")
    p.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    args = p.parse_args(argv)
    if not parallel.openmp_available():
        raise SystemExit("libgomp is not available: every parallel loop runs serially")
    team, one = tiny_kernel(2), tiny_kernel(1)
    woke, seconds = [], {"team of two": [], "one thread": []}
    for _ in range(args.rounds):
        for label, (fn, a, out) in (("team of two", team), ("one thread", one)):
            with override(num_threads=2 if label == "team of two" else 1):
                before = PARALLEL_STATE.pooled
                start = time.perf_counter()
                for _ in range(args.calls):
                    fn(a, out)
                seconds[label].append((time.perf_counter() - start) / args.calls)
                if label == "team of two":
                    woke.append(PARALLEL_STATE.pooled - before)
            time.sleep(0.2)  # (idle pools spin: let them dock before the other contender)
    print(f"calls that woke the pool, per {args.calls} calls of a 4x8 loop (team of two): "
          f"median {statistics.median(woke):.0f}, {min(woke)}..{max(woke)} over {args.rounds} rounds")
    ratio = statistics.median(seconds["one thread"]) / statistics.median(seconds["team of two"])
    for label, times in seconds.items():
        print(f"  {label:12s} median {statistics.median(times) * 1e6:7.2f} us a call "
              f"({min(times) * 1e6:.2f}..{max(times) * 1e6:.2f})")
    print(f"  one thread / team of two: {ratio:.2f}x")


if __name__ == "__main__":
    main()
