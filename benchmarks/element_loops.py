"""Scalar element loops: ``python -m benchmarks.element_loops [--n 512] [--rounds 41] [--target llvm]``.

A loop nest written as Numba users write it,
``for i in range(1, n): for j in range(m): a[i, j] = b[i, j] * 2 + a[i - 1, j]``, compiles into
one kernel (``element_loop``). Printed: the median of ``--rounds`` calls on n x n float64
arrays of the jitted loop, of the same source under Numba's ``@njit`` (when Numba is
installed) and of NumPy's vectorized spelling (a row at a time), for two forms: writing into
the argument (mlc writes the caller's array back after the call, as NumPy changes it in
place) and into an array the function makes (``np.empty_like``); with the host's load
average before and after. ``--check`` only compares each form with NumPy on ``--target``
(``cuda`` on a GPU machine) and prints ``ok``.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import mlc


def in_place(a, b):
    n, m = a.shape
    for i in range(1, n):
        for j in range(m):
            a[i, j] = b[i, j] * 2 + a[i - 1, j]
    return a


def fresh(b):
    n, m = b.shape
    out = np.empty_like(b)
    for j in range(m):
        out[0, j] = b[0, j]
    for i in range(1, n):
        for j in range(m):
            out[i, j] = b[i, j] * 2 + out[i - 1, j]
    return out


def in_place_numpy(a, b):
    for i in range(1, a.shape[0]):
        a[i] = b[i] * 2 + a[i - 1]
    return a


def fresh_numpy(b):
    out = np.empty_like(b)
    out[0] = b[0]
    for i in range(1, b.shape[0]):
        out[i] = b[i] * 2 + out[i - 1]
    return out


FORMS = (("writes its argument", in_place, in_place_numpy, True),
         ("writes an array it makes", fresh, fresh_numpy, False))


def _args(form_in_place: bool, n: int, seed: int = 0):
    r = np.random.default_rng(seed)
    a, b = r.random((n, n)), r.random((n, n))
    return (a, b) if form_in_place else (b,)


def _median_ms(fn, args, copy_first: bool, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        xs = [args[0].copy(), *args[1:]] if copy_first else list(args)
        t = time.perf_counter()
        fn(*xs)
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3


def check(target: str, sizes=(1, 7, 64)) -> None:
    for name, fn, _, writes in FORMS:
        for n in sizes:
            args = _args(writes, n)
            want = fn(*[x.copy() for x in args])
            got = mlc.jit(fn, target=target)(*[x.copy() for x in args])
            np.testing.assert_allclose(np.asarray(got.get() if hasattr(got, "get") else got), want, rtol=1e-12,
                                       err_msg=f"{name}, n={n}")
    print("ok")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--rounds", type=int, default=41)
    p.add_argument("--target", default="llvm")
    p.add_argument("--check", action="store_true")
    opts = p.parse_args()
    if opts.check:
        check(opts.target)
        return
    try:
        import numba  # noqa: PLC0415 - deferred: optional, for the comparison only
    except ImportError:
        numba = None
    print(f"host load before: {os.getloadavg()}")
    for name, fn, vectorized, writes in FORMS:
        args = _args(writes, opts.n)
        jitted = mlc.jit(fn, target=opts.target)
        t = time.perf_counter()
        jitted(*[x.copy() for x in args])
        first = time.perf_counter() - t
        row = {"mlc": _median_ms(jitted, args, writes, opts.rounds)}
        if numba is not None:
            njit = numba.njit(fn)
            njit(*[x.copy() for x in args])
            row["numba"] = _median_ms(njit, args, writes, opts.rounds)
        row["numpy"] = _median_ms(vectorized, args, writes, opts.rounds)
        shown = "  ".join(f"{k} {v:.3f} ms" for k, v in row.items())
        print(f"{opts.n}x{opts.n} element loop that {name}: {shown}  (mlc first call {first:.2f} s)")
    print(f"host load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
