"""Compiled loops: ``python -m benchmarks.control_flow``.

Two numbers of a loop that runs natively in the graph's main:

- first call (trace, compile, run) of a time-step loop written as Python (and a second
  call: what running the loop costs),
  ``for t in range(steps): u = u + 0.1 * (roll(u, 1) - 2 * u + roll(u, -1))``,
  for 10 and for 10,000 steps; each in a fresh process with an empty compile cache
  (``MLC_CACHE_DIR`` a new folder), the two interleaved, the median of ``--processes``;
- the cost of one iteration of ``mlc.fori_loop`` over a small kernel (``c * 0.999 + x`` on
  16 float32 values): (time of 10,000 iterations - time of 0) / 10,000, a call's median
  over ``--rounds``; beside it, one call of the same kernel as a jitted function of its own;
- ``heat`` (an in-place 2-D stencil in a time-step loop, as NumPy users write it) on
  ``--heat-size`` squared for ``--heat-steps`` steps against NumPy running the same source and
  Numba's ``@njit(parallel=True)`` loop version (two buffers, ``prange`` over rows),
  the median of ``--heat-rounds`` calls each, interleaved.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import mlc

_FIRST_CALL = """
import time, numpy as np
t0 = time.perf_counter()
import mlc
def time_steps(u, steps):
    for t in range(steps):
        u = u + 0.1 * (np.roll(u, 1) - 2 * u + np.roll(u, -1))
    return u
u = np.linspace(0, 1, 64).astype("float32")
mlc.jit(lambda x: x + 1)(u)  # mlc's own first-use costs, apart
f = mlc.jit(time_steps, static_argnames=("steps",))
t1 = time.perf_counter()
f(u, steps={steps})
t2 = time.perf_counter()
f(u, steps={steps})
print(t2 - t1, time.perf_counter() - t2)
"""


def heat(u, steps):
    for t in range(steps):
        u[1:-1, 1:-1] += 0.1 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])


def _numba_heat():
    """Numba's best spelling of :func:`heat`: loops over two buffers, rows in parallel; None
    without Numba."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(parallel=True)
    def heat_loops(u, steps):
        a, b = u.copy(), u.copy()
        n, m = u.shape
        for t in range(steps):
            for i in numba.prange(1, n - 1):
                for j in range(1, m - 1):
                    b[i, j] = a[i, j] + np.float32(0.1) * (a[i + 1, j] + a[i - 1, j] + a[i, j + 1]
                                                          + a[i, j - 1] - np.float32(4) * a[i, j])
            a, b = b, a
        u[:] = a
    return heat_loops


def heat_row(size: int, steps: int, rounds: int) -> None:
    """Prints heat's medians and ratios, each contender on a fresh copy per call."""
    u0 = np.random.default_rng(0).random((size, size), dtype=np.float32)
    contenders = {"mlc": mlc.jit(heat, static_argnames=("steps",)), "numpy": heat}
    numba_heat = _numba_heat()
    if numba_heat is not None:
        contenders["numba parallel"] = numba_heat
    results = {}
    for name, fn in contenders.items():  # compiled, and checked against NumPy's answer
        results[name] = u0.copy()
        fn(results[name], steps)
    for name, got in results.items():
        np.testing.assert_allclose(got, results["numpy"], rtol=1e-4, atol=1e-5, err_msg=name)
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            u = u0.copy()
            start = time.perf_counter()
            fn(u, steps)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    line = ", ".join(f"{name} {t * 1e3:.1f} ms" for name, t in medians.items())
    ratios = ", ".join(f"{medians[name] / medians['mlc']:.2f}x {name}" for name in medians if name != "mlc")
    print(f"heat {size}x{size}, {steps} steps: {line}; mlc is {ratios}")


def first_call_s(steps: int) -> tuple[float, float]:
    """The first and the second call's seconds, in a fresh process (a script file: the loop is rewritten from
    its source, which ``python -c`` would not keep)."""
    with tempfile.TemporaryDirectory() as folder:
        script = os.path.join(folder, "first_call.py")
        with open(script, "w") as f:
            f.write(_FIRST_CALL.format(steps=steps))
        root = os.path.dirname(os.path.dirname(os.path.abspath(mlc.__file__)))  # this mlc, not another
        env = {**os.environ, "MLC_CACHE_DIR": os.path.join(folder, "cache"),
               "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
        out = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, check=True)
    first, second = out.stdout.strip().splitlines()[-1].split()
    return float(first), float(second)


def _call_s(fn, *args, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.control_flow", description=__doc__.split("\n\n")[1])
    p.add_argument("--processes", type=int, default=3)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--heat-size", type=int, default=1024)
    p.add_argument("--heat-steps", type=int, default=1000)
    p.add_argument("--heat-rounds", type=int, default=3)
    p.add_argument("--only-heat", action="store_true", help="the heat row alone")
    args = p.parse_args(argv)
    heat_row(args.heat_size, args.heat_steps, args.heat_rounds)
    if args.only_heat:
        return
    first = {10: [], 10_000: []}
    for _ in range(args.processes):
        for steps in first:
            first[steps].append(first_call_s(steps))
    for steps, times in first.items():
        call, run = (statistics.median(t[k] for t in times) for k in (0, 1))
        print(f"first call, {steps:>6} steps: {call * 1e3:8.1f} ms (a later call, the loop's run alone: "
              f"{run * 1e3:.2f} ms)")
    ratio = statistics.median(t[0] for t in first[10_000]) / statistics.median(t[0] for t in first[10])
    print(f"first call, 10,000 / 10 steps: {ratio:.2f}x")

    x = np.ones(16, "float32")
    loop = mlc.jit(lambda x, n: mlc.fori_loop(0, n, lambda i, c: c * 0.999 + x, x))
    kernel = mlc.jit(lambda c, x: c * 0.999 + x)
    loop(x, np.int64(1)), kernel(x, x)
    n = 10_000
    none, many = (_call_s(loop, x, np.int64(k), rounds=args.rounds) for k in (0, n))
    one = _call_s(kernel, x, x, rounds=args.rounds)
    print(f"fori_loop, {n} iterations: {many * 1e6:8.1f} us a call, "
          f"{(many - none) / n * 1e9:6.1f} ns an iteration; one call of the kernel jitted alone: "
          f"{one * 1e6:.1f} us")


if __name__ == "__main__":
    main()
