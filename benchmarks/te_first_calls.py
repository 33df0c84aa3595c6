"""First calls of te modules built with ``mlc.build``: ``python -m benchmarks.te_first_calls [--fresh] [--rounds N]``.

Times, in this one process, the first call (``mlc.build`` of the module + its first run on
``mlc.nd`` arrays, an empty object cache: ``mlc_cold``) of te modules as the course writes
them, and JAX's first call (``jax.jit``, caches cleared) of the same function where there is
one, contenders interleaved, ``--rounds`` rounds; prints one JSON line of every timing (ms)
and a table of medians. Each mlc first call waits, untimed, for its optimised build, and
checks its result against NumPy's. By default the process first warms up (a jitted
``x * 2 + 1`` and its build: LLVM started); ``--fresh`` does not, so the first row is the
process's first llvm target. To compare two trees, run one process per tree, alternating,
with ``PYTHONPATH`` naming the tree (the script itself imports mlc from there).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

N = 1024
#: (rows, columns) of the element-wise module: 2^22 float32 values
ELEMENTWISE = (4096, 1024)
#: values of the window sum (a stencil: ``B[i] = A[i] + A[i + 1] + A[i + 2]``)
WINDOW = 1 << 22


def _modules():
    from examples.ch2_tensor_program_transformations import mm_relu_module
    from examples.fast_matmul import matmul_module
    from mlc import te
    import mlc

    def scale_shift():
        X = te.placeholder(ELEMENTWISE, "float32", name="X")
        s = te.placeholder((ELEMENTWISE[1],), "float32", name="s")
        C = te.compute(ELEMENTWISE, lambda i, j: X[i, j] * s[j] + 1, name="C")
        return mlc.IRModule({"main": te.create_prim_func([X, s, C])})

    def window_sum():
        from benchmarks.workloads import _window_module
        return _window_module(WINDOW)

    rng = np.random.default_rng(0)
    a, b = rng.random((N, N), dtype="float32"), rng.random((N, N), dtype="float32")
    x, s = rng.random(ELEMENTWISE, dtype="float32"), rng.random(ELEMENTWISE[1], dtype="float32")
    w = rng.random(WINDOW, dtype="float32")
    return {
        "sgemm 1024^3": (lambda: matmul_module(N, N, N), "main", (a, b), lambda: a @ b,
                         lambda jnp: lambda p, q: p @ q),
        "mm_relu 1024^3": (lambda: mm_relu_module(N), "mm_relu", (a, b), lambda: np.maximum(a @ b, 0),
                           lambda jnp: lambda p, q: jnp.maximum(p @ q, 0)),
        "x * s + 1, 4096x1024": (scale_shift, "main", (x, s), lambda: x * s + 1, lambda jnp: lambda p, q: p * q + 1),
        "window sum, 2^22": (window_sum, "main", (w,), lambda: w[:-2] + w[1:-1] + w[2:],
                             lambda jnp: lambda p: p[:-2] + p[1:-1] + p[2:]),
    }


def main(argv=None) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.append(root)  # (after PYTHONPATH: the tree it names gives mlc)
    p = argparse.ArgumentParser(prog="python -m benchmarks.te_first_calls", description=__doc__.split("\n\n")[0])
    p.add_argument("--fresh", action="store_true", help="no warm-up: the first row starts LLVM (or not)")
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args(argv)
    import mlc
    from benchmarks.harness import _first_call
    from benchmarks.peers import installed, jax_contender, mlc_built
    if not args.fresh:
        from benchmarks.first_call_profile import _warm_up
        _warm_up()
    rows = _modules()
    times: dict[str, list[float]] = {}
    for r in range(args.rounds):
        for name, (module, entry, inputs, reference, jax_fn) in rows.items():
            out = np.empty(reference().shape, "float32")
            contenders = [("mlc", mlc_built(module, None, inputs, out, "te, default schedule", entry=entry))]
            if installed("jax"):
                contenders.append(("jax", jax_contender(jax_fn, inputs)))
            for peer, contender in (contenders if r % 2 == 0 else contenders[::-1]):
                _, value, seconds = _first_call(contender)
                np.testing.assert_allclose(np.asarray(value), reference(), rtol=1e-4, atol=1e-2)
                times.setdefault(f"{name} | {peer}", []).append(seconds * 1e3)
                mlc.tiering.wait(timeout=300)
    print(json.dumps({"mlc": mlc.__file__, "fresh": args.fresh, "load": os.getloadavg()[0], "ms": times}))
    for key, ms in times.items():
        print(f"{key:<40} {np.median(ms):>9.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
