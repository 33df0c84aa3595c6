"""Serial and vectorized sin, cos and tan of mlc checkouts, interleaved in one process:
``python benchmarks/trig_ab.py A_CHECKOUT B_CHECKOUT [C_CHECKOUT ...] [--n 1000000] [--rounds 11]``.

Each checkout's ``mlc`` is imported in turn (the other's modules dropped from
``sys.modules``), every workload compiled by both, then the calls alternate A, B, NumPy
round by round, in an order shuffled each round (the first call of a round ran slower on
a busy machine, whichever it was). Printed: medians in ms, each checkout's ratio to A (and
the last one's to NumPy), with ``--min`` the fastest call's ratios too, and the load
average. Workloads:
``vec`` (``np.sin(x)``: a vectorized loop), ``elem`` (an element loop ``y[i] =
np.sin(x[i])``), ``rows3`` (rows of 3: a loop too short to vectorize) and ``epi`` (sin of a
row sum, a reduction's epilogue), float32 and float64, x uniform in [-100, 100].
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.checkouts import load_mlc  # noqa: E402

OPS = ("sin", "cos", "tan")


def _cases(op: str):
    f = getattr(np, op)

    def vec(x):
        return f(x)

    def elem(x):
        n = x.shape[0]
        y = np.empty_like(x)
        for i in range(n):
            y[i] = f(x[i])
        return y

    def recur(x):
        n = x.shape[0]
        y = np.empty_like(x)
        y[0] = f(x[0])
        for i in range(1, n):
            y[i] = f(x[i]) + y[i - 1] * 0.5
        return y

    def epi(x):
        return f(np.sum(x, axis=1))
    return {"vec": (vec, 1), "elem": (elem, 1), "rows3": (vec, 3), "rows7": (vec, 7), "epi": (epi, 4),
            "recur": (recur, 1)}


def _numpy(label: str, x):
    """NumPy's whole-array ``op(x)``: an element loop's reference (``recur`` adds a recurrence)."""
    return getattr(np, label.split()[0])(x)


def _check(label: str, x, y) -> bool:
    """Whether ``y``, what a jitted workload gave, is its NumPy value (``recur``: the first
    1000 elements, its recurrence run in Python)."""
    ref = _numpy(label, x)
    if label.endswith("recur"):
        y, ref = y[:1000], ref[:1000].astype(np.float64)
        for i in range(1, 1000):
            ref[i] += ref[i - 1] * 0.5
    return np.allclose(y, ref, rtol=1e-4, atol=1e-4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkouts", nargs="+")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=11)
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--kinds", default="vec,elem,rows3,rows7,epi,recur")
    ap.add_argument("--min", action="store_true", help="also the ratios of the fastest calls")
    args = ap.parse_args()
    os.environ["MLC_CACHE_DIR"] = ""
    os.environ["MLC_TIERED"] = "0"  # (optimised code from the first call; no background thread)
    rng = np.random.default_rng(0)
    work = []  # (label, x, numpy fn, [compiled per checkout])
    for op in args.ops.split(","):
        for dtype in args.dtypes.split(","):
            for kind, (fn, cols) in _cases(op).items():
                if kind not in args.kinds.split(","):
                    continue
                shape = (args.n,) if cols == 1 else (args.n // cols, cols)
                x = rng.uniform(-100, 100, shape).astype(dtype)
                work.append((f"{op} {dtype} {kind}", x, fn, []))
    for path in args.checkouts:
        mlc = load_mlc(path)
        for label, x, fn, compiled in work:
            jitted = mlc.jit(fn)
            y = jitted(x)
            if not (_check(label, x, y) if label.endswith(("elem", "recur")) else
                    np.isclose(y, fn(x), rtol=1e-4, atol=1e-4).mean() > 0.999):  # (epi: a float32
                # sum in another order moves tan near its poles)
                print("MISMATCH", path, label)
            compiled.append(jitted)
    print(f"load before: {os.getloadavg()}")
    names = [chr(ord("A") + i) for i in range(len(args.checkouts))]
    for name, path in zip(names, args.checkouts):
        print(f"{name}: {path}")
    print(f"{'workload':24} " + " ".join(f"{n + ' ms':>9}" for n in names) + f" {'numpy ms':>9} "
          + " ".join(f"{n + '/A':>6}" for n in names[1:]) + f" {names[-1] + '/numpy':>8}")
    for label, x, fn, compiled in work:
        times = [[] for _ in range(len(compiled) + 1)]
        runners = [lambda f=f: f(x) for f in compiled] + [lambda: fn(x) if not label.endswith(("elem", "recur"))
                                                          else _numpy(label, x)]
        for run in runners:  # (warm-up)
            run()
        order = list(range(len(runners)))
        for _ in range(args.rounds):
            rng.shuffle(order)
            for i in order:
                start = time.perf_counter()
                runners[i]()
                times[i].append(time.perf_counter() - start)
        *ms, n = (statistics.median(t) * 1e3 for t in times)
        fastest = [min(t) for t in times[:-1]]
        print(f"{label:24} " + " ".join(f"{m:9.3f}" for m in ms) + f" {n:9.3f} "
              + " ".join(f"{m / ms[0]:6.2f}" for m in ms[1:]) + f" {ms[-1] / n:8.2f}"
              + ("  min " + " ".join(f"{m / fastest[0]:5.2f}" for m in fastest[1:]) if args.min else ""),
              flush=True)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
