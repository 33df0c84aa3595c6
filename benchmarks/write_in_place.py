"""Arguments written in place: ``python -m benchmarks.write_in_place``.

A jitted function that writes its argument (``x += 1``) once returned the argument's new value
in a fresh array, which the call then copied into the caller's array; its ``main`` now writes
the caller's array itself where it can (``Graph.written``, :mod:`mlc.tracer.writeback`). This
times one call of each program, the same function compiled both ways in this process
(``f.trace(x).lower(in_place=False)``: the copying program), interleaved, medians of
``--rounds`` batches:

- ``x += 1`` on ``--sizes`` float64 elements;
- ``heat`` (the 2-D stencil time-step loop of :mod:`benchmarks.control_flow`) on
  ``--heat-size`` squared for ``--heat-steps`` steps.

Prints one line per program: both medians and their ratio.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import mlc

from .control_flow import heat


def bump(x):
    x += 1


def _compiled(fn, args, statics=(), in_place=True):
    jitted = mlc.jit(fn, static_argnames=statics)
    return jitted.trace(*args).lower(in_place=in_place).compile()


def _per_call_s(fn, args, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn(*args)
    return (time.perf_counter() - start) / calls


def compare(name: str, fn, args, statics=(), rounds: int = 15, calls: int = 1) -> None:
    """Prints the medians of ``fn`` compiled to copy and in place (same arguments, interleaved)."""
    contenders = {"copying": _compiled(fn, args, statics, in_place=False),
                  "in place": _compiled(fn, args, statics, in_place=True)}
    results = {}
    for label, compiled in contenders.items():  # the two agree
        results[label] = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        compiled(*results[label])
    np.testing.assert_allclose(results["in place"][0], results["copying"][0], rtol=1e-6)
    times = {label: [] for label in contenders}
    for _ in range(rounds):
        for label, compiled in contenders.items():
            times[label].append(_per_call_s(compiled, args, calls))
    med = {label: statistics.median(t) for label, t in times.items()}
    print(f"{name}: copying {med['copying'] * 1e6:.1f} us, in place {med['in place'] * 1e6:.1f} us; "
          f"{med['copying'] / med['in place']:.2f}x")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.write_in_place", description=__doc__.split("\n\n")[1])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 1000000])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--heat-size", type=int, default=1024)
    p.add_argument("--heat-steps", type=int, default=1000)
    p.add_argument("--heat-rounds", type=int, default=3)
    args = p.parse_args(argv)
    for n in args.sizes:
        x = np.zeros(n)
        calls = max(10, 200_000 // n)
        compare(f"x += 1, {n} float64", bump, [x], rounds=args.rounds, calls=calls)
    u = np.random.default_rng(0).random((args.heat_size, args.heat_size), dtype=np.float32)
    compare(f"heat {args.heat_size}x{args.heat_size}, {args.heat_steps} steps", heat, [u, args.heat_steps],
            statics=("steps",), rounds=args.heat_rounds)


if __name__ == "__main__":
    main()
