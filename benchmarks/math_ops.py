"""Each float math function alone against NumPy's: ``python -m benchmarks.math_ops``.

For each op and dtype, a tensor program ``Y[i] = op(X[i])`` (two operands for
``arctan2`` and ``power``) built with ``mlc.build`` and its default schedule, called
with its output given (no allocation in the timing), against the NumPy ufunc with
``out=`` (SciPy's for erf), over the same ``--size`` values spread over the op's
ordinary domain (log's and the inverse trig's in (0.01, 0.99), the others' too,
``power``'s exponents in (0.5, 3)), for this machine or, with ``--isa avx2``, both held
to AVX2 code (:mod:`.isa`). The two are timed in alternation, ``--rounds``
times, a batch of calls of about 20 ms each; the table shows the medians and NumPy's
over mlc's. By default on one thread (NumPy's ufuncs use one): ``--threads 0`` gives
mlc every core. ``--fast-math`` adds a column: the same program built with
``fast_math=True`` (cheaper routines within 1e-6 relative, :mod:`mlc.passes.tir.math.fast`),
timed in the same alternation. What it shows is where a jitted NumPy function that calls
one of these gains or loses against NumPy, op by op.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from .isa import ISAS, emulate

#: op -> (NumPy's name, operands); erf is SciPy's.
OPS = {
    "exp": ("exp", 1), "expm1": ("expm1", 1), "log": ("log", 1), "log1p": ("log1p", 1),
    "log2": ("log2", 1), "log10": ("log10", 1), "sqrt": ("sqrt", 1), "cbrt": ("cbrt", 1),
    "sin": ("sin", 1), "cos": ("cos", 1), "tan": ("tan", 1), "atan": ("arctan", 1),
    "asin": ("arcsin", 1), "acos": ("arccos", 1), "sinh": ("sinh", 1), "cosh": ("cosh", 1),
    "tanh": ("tanh", 1), "erf": ("erf", 1), "atan2": ("arctan2", 2), "pow": ("power", 2),
}


def _numpy_function(op: str):
    import numpy as np
    name, _ = OPS[op]
    if op == "erf":
        from scipy import special
        return special.erf
    return getattr(np, name)


def _mlc_kernel(op: str, n: int, dtype: str, fast_math: bool = False):
    from mlc import build, te
    arity = OPS[op][1]
    xs = [te.placeholder((n,), dtype, f"X{k}") for k in range(arity)]
    fn = getattr(te, op)
    out = te.compute((n,), lambda i: fn(*[x[i] for x in xs]), "Y")
    return build(te.create_prim_func([*xs, out]), None, fast_math=fast_math)["main"]  # (MLC_TARGET: --isa's)


def _batch_s(call, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) / number


def measure(op: str, dtype: str, n: int, rounds: int, target_s: float = 0.02,
            fast_math: bool = False) -> tuple[float, ...]:
    """(mlc's median seconds a call, NumPy's, and with ``fast_math`` mlc's fast_math
    build's) for ``op`` on ``n`` values of ``dtype``."""
    import numpy as np
    rng = np.random.default_rng(0)
    args = [rng.uniform(0.01, 0.99, n).astype(dtype)]
    if OPS[op][1] == 2:
        args.append(rng.uniform(0.5, 3.0, n).astype(dtype))
    out = np.empty_like(args[0])
    kernel, numpy_fn = _mlc_kernel(op, n, dtype), _numpy_function(op)
    calls = [lambda: kernel(*args, out), lambda: numpy_fn(*args, out=out)]
    if fast_math:
        fast = _mlc_kernel(op, n, dtype, fast_math=True)
        calls.append(lambda: fast(*args, out))
    numbers = []
    for call in calls:
        call()
        numbers.append(max(1, int(target_s / max(_batch_s(call, 1), 1e-7))))
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for k, call in enumerate(calls):
            times[k].append(_batch_s(call, numbers[k]))
    return tuple(float(np.median(t)) for t in times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.math_ops", description=__doc__.split("\n\n")[0])
    p.add_argument("ops", nargs="*", metavar="op", help=f"ops (default all): {', '.join(OPS)}")
    p.add_argument("--dtypes", default="float32,float64", help="comma-separated (default float32,float64)")
    p.add_argument("--size", type=int, default=1 << 20, help="values per call (default 2^20)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--threads", type=int, default=1, help="mlc's threads (default 1, as NumPy's ufuncs; 0: all)")
    p.add_argument("--fast-math", action="store_true",
                   help="also time mlc's fast_math=True build (a column of its own)")
    p.add_argument("--isa", default="native", choices=ISAS,
                   help="avx2: mlc and NumPy held to AVX2 code on this AVX-512 machine (benchmarks/isa.py)")
    args = p.parse_args(argv)
    unknown = [op for op in args.ops if op not in OPS]
    if unknown:
        print(f"unknown op {unknown[0]!r}; choose from {', '.join(OPS)}", file=sys.stderr)
        return 2
    refused = emulate(args.isa)
    if refused:
        print(f"--isa {args.isa}: {refused}", file=sys.stderr)
        return 2
    import numpy as np  # (after emulate: NumPy reads its variable when it loads)

    import mlc
    if args.threads:
        mlc.set_num_threads(args.threads)
    threads = f"{args.threads} thread{'s' if args.threads != 1 else ''}" if args.threads else "all cores"
    print(f"{args.size} values a call; mlc on {threads}, NumPy {np.__version__} on one; "
          f"medians of {args.rounds} alternating rounds"
          + (f"; {args.isa} emulated (MLC_TARGET={os.environ['MLC_TARGET']!r}, NumPy without "
             f"{os.environ['NPY_DISABLE_CPU_FEATURES']})" if args.isa != "native" else ""))
    fast_head = f" {'fast_math':>11} {'numpy/fast':>10}" if args.fast_math else ""
    print(f"{'op':8} {'dtype':8} {'mlc':>11} {'numpy':>11} {'numpy/mlc':>10}" + fast_head)
    for dtype in args.dtypes.split(","):
        for op in args.ops or OPS:
            mine, numpy_s, *fast = measure(op, dtype, args.size, args.rounds, fast_math=args.fast_math)
            fast_text = f" {fast[0] * 1e6:8.1f} us {numpy_s / fast[0]:9.2f}x" if fast else ""
            print(f"{op:8} {dtype:8} {mine * 1e6:8.1f} us {numpy_s * 1e6:8.1f} us {numpy_s / mine:9.2f}x"
                  + fast_text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
