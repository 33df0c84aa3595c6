"""Scalar element loops: ``python -m benchmarks.element_loops [--n 512] [--rounds 41] [--target llvm]``.

Loop nests written as Numba users write them,
``for i in range(1, n): for j in range(m): a[i, j] = b[i, j] * 2 + a[i - 1, j]``, compiles into
one kernel (``element_loop``). Printed: the median of ``--rounds`` calls on n x n float64
arrays of the jitted loop, of the same source under Numba's ``@njit`` (when Numba is
installed) and of NumPy's vectorized spelling (a row at a time), for two forms: writing into
the argument (mlc writes the caller's array back after the call, as NumPy changes it in
place) into an array the function makes (``np.empty_like``), and a per-pixel Mandelbrot escape count
(a ``while`` loop per element; NumPy's spelling masks 50 whole-array steps); with the host's load
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


def escape_counts(xs, ys):
    out = np.zeros((ys.shape[0], xs.shape[0]), np.int64)
    for i in range(ys.shape[0]):
        for j in range(xs.shape[0]):
            zr = 0.0
            zi = 0.0
            n = 0
            while zr * zr + zi * zi < 4.0 and n < 50:
                zr, zi = zr * zr - zi * zi + xs[j], 2.0 * zr * zi + ys[i]
                n += 1
            out[i, j] = n
    return out


def escape_counts_numpy(xs, ys):
    cr, ci = xs[None, :], ys[:, None]
    zr = np.zeros((ys.shape[0], xs.shape[0]))
    zi = np.zeros_like(zr)
    n = np.zeros(zr.shape, np.int64)
    for _ in range(50):
        active = zr * zr + zi * zi < 4.0
        zr, zi = np.where(active, zr * zr - zi * zi + cr, zr), np.where(active, 2.0 * zr * zi + ci, zi)
        n += active
    return n


#: (what the loop does, the loop, NumPy's vectorized spelling, whether it writes its first argument)
FORMS = (("writes its argument", in_place, in_place_numpy, True),
         ("writes an array it makes", fresh, fresh_numpy, False),
         ("counts Mandelbrot escapes (a while loop per element)", escape_counts, escape_counts_numpy, False))


def _args(form, n: int, seed: int = 0):
    if form is escape_counts:
        return np.linspace(-2.0, 1.0, n), np.linspace(-1.5, 1.5, max(n * 3 // 4, 1))
    r = np.random.default_rng(seed)
    a, b = r.random((n, n)), r.random((n, n))
    return (a, b) if form is in_place else (b,)


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
            args = _args(fn, n)
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
        args = _args(fn, opts.n)
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
        size = "x".join(str(d) for d in (args[-1].shape if fn is not escape_counts else (len(args[1]), len(args[0]))))
        print(f"{size} element loop that {name}: {shown}  (mlc first call {first:.2f} s)")
    print(f"host load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
