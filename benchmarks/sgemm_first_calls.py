"""First calls of the sgemm rows' built contenders: ``python -m benchmarks.sgemm_first_calls [--size N] [--rounds R]``.

Times, in this one process (after the table's warm-up build), the first call (build + first
run, compiled from nothing) of the sgemm workload's ``mlc te, hand schedule (fast_matmul)``
and ``mlc te, default schedule`` contenders and JAX's, interleaved round by round, each
checked against NumPy; prints the timings (ms) and their medians.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def main(argv=None) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.append(root)  # (after PYTHONPATH: the tree it names gives mlc)
    p = argparse.ArgumentParser(prog="python -m benchmarks.sgemm_first_calls", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=2048, choices=(1024, 2048))
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    from benchmarks.first_call_profile import _warm_up
    from benchmarks.harness import _first_call
    from benchmarks.workloads import WORKLOADS
    _warm_up()
    w = WORKLOADS[f"sgemm{args.size}"](False)
    labels = ("te, hand schedule (fast_matmul)", "te, default schedule", "jit")
    contenders = [c for c in w.contenders if (c.peer == "mlc" and c.label in labels[:2]) or
                  (c.peer == "jax" and c.build is not None)]
    expected = w.reference()
    times: dict[str, list[float]] = {f"{c.peer} {c.label}": [] for c in contenders}
    for r in range(args.rounds):
        for c in contenders[r % len(contenders):] + contenders[:r % len(contenders)]:
            _, value, seconds = _first_call(c)
            np.testing.assert_allclose(np.asarray(value), expected, rtol=w.rtol, atol=w.atol)
            times[f"{c.peer} {c.label}"].append(seconds * 1e3)
    print(f"load average {os.getloadavg()[0]:.2f}; first calls of sgemm {args.size}^3 (ms)")
    for key, ms in times.items():
        print(f"{key:<45} {' '.join(f'{t:7.1f}' for t in ms)}   median {np.median(ms):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
