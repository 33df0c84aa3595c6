"""First calls side by side: ``python -m benchmarks.first_calls [name ...] [--rounds N]``.

For each named workload (default: the rows whose first call trailed JAX's), times the
first call (build + first run, compiled from nothing: an empty object cache for mlc, JAX's
caches cleared) of mlc's ``jit`` contender with each first tier, and JAX's, interleaved in
rounds in this one process (after one untimed warm-up build, as in the benchmark table by
its second row); prints the medians. The tiers: ``compiled`` (``MLC_EAGER_FIRST=0``: the
first call runs a quick build) and ``eager`` (the first call may run the graph through NumPy:
:mod:`mlc.tracer.eager`). Each mlc first call waits, untimed, for its optimised build
(``mlc.tiering.wait``), and the steady state is checked: the optimised build in use.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import nullcontext

import numpy as np

ROWS = ["black_scholes", "softmax", "layer_norm", "mm_relu", "sgemm1024", "sgemm2048", "mlp", "mlp_adam_step", "mlp_per_example"]


def _timed(contender, settings=None) -> float:
    from mlc.config import override
    from mlc.tracer import tiering
    with contender.cold():
        with override(**settings) if settings is not None else nullcontext():
            start = time.perf_counter()
            contender.build()()
            seconds = time.perf_counter() - start
    if settings is not None:
        tiering.wait(timeout=300)
    return seconds


def main(argv=None) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, root)
    p = argparse.ArgumentParser(prog="python -m benchmarks.first_calls", description=__doc__.split("\n\n")[1])
    p.add_argument("names", nargs="*", default=ROWS)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    from benchmarks.first_call_profile import _warm_up as warm_up
    from benchmarks.workloads import WORKLOADS
    warm_up()
    variants = {"compiled": {"eager_first": False}, "eager": {"eager_first": True}}
    print(f"load average {os.getloadavg()[0]:.2f}; medians of {args.rounds} first calls (ms)")
    print(f"{'row':<18}" + "".join(f"{v:>10}" for v in variants) + f"{'jax':>10}")
    for name in args.names:
        w = WORKLOADS[name](False)
        jit = next(c for c in w.contenders if c.peer == "mlc" and c.program and c.program[0] == "jit")
        jax = next((c for c in w.contenders if c.peer == "jax" and c.build is not None), None)
        times = {k: [] for k in (*variants, "jax")}
        for r in range(args.rounds):
            order = list(variants) + ["jax"]
            order = order[r % len(order):] + order[:r % len(order)]
            for k in order:
                if k == "jax":
                    if jax is not None:
                        times[k].append(_timed(jax))
                else:
                    times[k].append(_timed(jit, variants[k]))
        print(f"{name:<18}" + "".join(f"{np.median(t) * 1e3:>10.1f}" if t else f"{'-':>10}"
                                       for t in times.values()), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
