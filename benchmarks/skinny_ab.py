"""Matmuls of few rows (a large B read once) of mlc checkouts against NumPy, interleaved:
``python benchmarks/skinny_ab.py A_CHECKOUT B_CHECKOUT [...] [--rounds 5] [--calls 5] [--cases mm8,...]``.

Each round runs one child process per checkout (its own compile cache, ``MLC_CACHE_DIR``
plus the checkout's index), in turn: the child imports that checkout's ``mlc``, jits every
case, and times each case and NumPy's matmul (OpenBLAS) ``--calls`` times, their median.
Printed: for each case the median over the rounds of every contender in ms, and the ratios
to NumPy and to the first checkout, with the load average before and after; ``--cpu``: of the
process's CPU time instead (for one thread each, less sensitive to the host's other work).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

#: name: (rows of x or None for a 1-d x, K, N, epilogue); "gemv" cases multiply a K x N
#: matrix by a vector of N.
CASES = {
    "mm8": (8, 30000, 2000, False), "mm8_relu": (8, 30000, 2000, True),
    "mm1": (1, 30000, 2000, False), "vec": (None, 30000, 2000, False),
    "mm3": (3, 30000, 2000, False), "mm13": (13, 30000, 2000, True),
    "mm16": (16, 30000, 2000, False), "mm32": (32, 30000, 2000, False),
    "mm8_1001": (8, 4001, 1001, True),
    "gemv": ("gemv", 2000, 30000, False),
    "sgemm1024": (1024, 1024, 1024, False), "mlp64": ("mlp", 784, 128, False),
    "vecmat1024": (None, 1024, 1024, False),
    "mm2_4096": (2, 4096, 4096, False), "mm4_4096": (4, 4096, 4096, False), "mm8_4096": (8, 4096, 4096, False),
    "mm16_4096": (16, 4096, 4096, False), "mm24_4096": (24, 4096, 4096, False),
    "mm2_wide": (2, 2000, 30000, False), "mm8_wide": (8, 2000, 30000, False), "mm13_wide": (13, 2000, 30000, True),
    "mm16_wide": (16, 2000, 30000, False), "vec_wide": (None, 2000, 30000, False),
    "mm16_1024": (16, 1024, 1024, False), "mm24_1024": (24, 1024, 1024, False),
}


def _arrays(case: str):
    rows, k, n, _ = CASES[case]
    rng = np.random.default_rng(0)
    if rows == "mlp":
        return (rng.standard_normal((64, 784), dtype="float32"), rng.standard_normal((784, 128), dtype="float32"),
                np.zeros(128, "float32"), rng.standard_normal((128, 10), dtype="float32"), np.zeros(10, "float32"))
    if rows == "gemv":
        return rng.random((k, n), dtype="float32"), rng.random(n, dtype="float32")
    x = rng.random((k,) if rows is None else (rows, k), dtype="float32")
    return x, rng.random((k, n), dtype="float32"), rng.random(n, dtype="float32")


def _function(case: str):
    rows, _, _, relu = CASES[case]
    if rows == "mlp":
        return lambda x, w1, b1, w2, b2: np.maximum(x @ w1 + b1, 0) @ w2 + b2
    if rows == "gemv":
        return lambda a, v: a @ v
    return (lambda x, w, b: np.maximum(x @ w + b, 0)) if relu else (lambda x, w, b: x @ w)


def _median_ms(f, args, calls: int) -> tuple[float, float]:
    """Medians of the wall time and of the process's CPU time of ``calls`` calls, in ms."""
    walls, cpus = [], []
    for _ in range(calls):
        t, c = time.perf_counter(), time.process_time()
        f(*args)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls) * 1e3, statistics.median(cpus) * 1e3


def child(cases: list[str], calls: int) -> None:
    import mlc
    out = {}
    for case in cases:
        args, f = _arrays(case), _function(case)
        jf = mlc.jit(f)
        jf(*args)
        mlc.tiering.wait()
        np.testing.assert_allclose(jf(*args), f(*args), rtol=2e-3, atol=1e-2)
        (mlc_ms, mlc_cpu), (numpy_ms, numpy_cpu) = _median_ms(jf, args, calls), _median_ms(f, args, calls)
        out[case] = {"mlc": mlc_ms, "numpy": numpy_ms, "mlc_cpu": mlc_cpu, "numpy_cpu": numpy_cpu}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkouts", nargs="*")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=5)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--cpu", action="store_true", help="compare CPU time instead of wall time (one thread each: "
                    "MLC_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1; less sensitive to other work on the host)")
    ap.add_argument("--child", action="store_true")
    a = ap.parse_args()
    cases = a.cases.split(",")
    if a.child:
        return child(cases, a.calls)
    cache = os.environ.get("MLC_CACHE_DIR", "/tmp/mlc-cache-skinny-ab")
    results = {c: {} for c in a.checkouts}
    print("load before:", os.getloadavg())
    for _ in range(a.rounds):
        for i, checkout in enumerate(a.checkouts):
            env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout), MLC_CACHE_DIR=f"{cache}-{i}")
            if a.cpu:  # (what --cpu says: one thread each, whatever the caller's environment)
                env.update(MLC_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
            run = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--cases", a.cases,
                                  "--calls", str(a.calls)], env=env, capture_output=True, text=True, check=True)
            for case, times in json.loads(run.stdout.strip().splitlines()[-1]).items():
                for who, t in times.items():
                    results[checkout].setdefault(case, {}).setdefault(who, []).append(t)
    print("load after:", os.getloadavg())
    first = a.checkouts[0]
    mlc_key, numpy_key = ("mlc_cpu", "numpy_cpu") if a.cpu else ("mlc", "numpy")
    for case in cases:
        numpy_ms = statistics.median(t for c in a.checkouts for t in results[c][case][numpy_key])
        row = [f"{case:11s} numpy {numpy_ms:8.2f} ms"]
        for c in a.checkouts:
            ms = statistics.median(results[c][case][mlc_key])
            base = statistics.median(results[first][case][mlc_key])
            row.append(f"{c}: {ms:8.2f} ms (numpy/mlc {numpy_ms / ms:5.2f}, first/this {base / ms:5.2f})")
        print(" | ".join(row))


if __name__ == "__main__":
    main()
