"""What a call of a jitted function costs when its signature was compiled before (a cache
hit): ``python -m benchmarks.jit_hit``.

Three calls of ``a + b`` on 4 float32 values, each a cache hit: arrays only (the fast
path), an array and a Python float (the fast path with a scalar), and a keyword argument
(the keyed path), and NumPy's ``a + b`` beside them for scale. Each timing is the
median, over ``--rounds`` rounds, of the mean of a batch of ``--number`` calls; the
contenders are interleaved round by round. To compare two versions of mlc, run this
with each, alternately, on the same machine.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import mlc


def _mean_call_s(fn, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.jit_hit", description=__doc__.split("\n\n")[1])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--number", type=int, default=20_000)
    args = p.parse_args(argv)
    a = np.arange(4, dtype="float32")
    b = np.ones(4, "float32")
    add = mlc.jit(lambda x, y: x + y)
    add_kw = mlc.jit(lambda x, y: x + y)
    add(a, b), add(a, 1.5), add_kw(a, y=b)  # (compiled: every call below is a hit)
    contenders = {
        "hit, two arrays": lambda: add(a, b),
        "hit, an array and a float": lambda: add(a, 1.5),
        "hit, a keyword argument": lambda: add_kw(a, y=b),
        "numpy a + b": lambda: a + b,
    }
    times = {label: [] for label in contenders}
    for _ in range(args.rounds):
        for label, fn in contenders.items():
            times[label].append(_mean_call_s(fn, args.number))
    print(f"a cache hit of mlc.jit(lambda x, y: x + y) on 4 float32, median of {args.rounds} rounds "
          f"of {args.number} calls:")
    for label, t in times.items():
        print(f"  {label:28s} {statistics.median(t) * 1e6:6.3f} us  ({min(t) * 1e6:.3f}..{max(t) * 1e6:.3f})")

if __name__ == "__main__":
    main()
