"""mlc in one run: jit real NumPy functions, compile them, check them, time them.

1. ``@mlc.jit`` on a GELU activation and on a two-layer MLP written in plain
   NumPy: traced into a graph, fused, scheduled, compiled with LLVM.
2. The MLC course's tensor program (mm_relu) written with tensor expressions,
   printed as TensorIR and built with the default CPU schedule.

Every result is checked against NumPy; times are medians from this run, each
timing after a pause as in the benchmarks. The NumPy side is the fast spelling (``x * x * x``, not ``x ** 3``, which NumPy
evaluates through ``pow``), on OpenBLAS's own kernels where the environment holds
them to others (``benchmarks/blas_env.py``): the baseline ``python -m benchmarks`` uses.
"""
import sys
import time
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the repository: benchmarks/
from benchmarks.blas_env import free_blas  # noqa: E402  (before NumPy loads)

BLAS_NOTE = free_blas(hint="")

import numpy as np  # noqa: E402

import mlc  # noqa: E402
from mlc.runtime import time_function  # noqa: E402

from ch2_tensor_program_transformations import mm_relu_module  # noqa: E402  (the course's program, examples/)

#: Seconds between two timings (the benchmarks' pause between contenders).
PAUSE_S = 0.2


def gelu(x):
    return 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0)
    return h @ w2 + b2


def compare(name: str, compiled, reference, args, rtol: float, number: int = 20) -> None:
    """Check ``compiled(*args)`` against ``reference(*args)`` and print both medians."""
    start = time.perf_counter()
    result = compiled(*args)
    first = time.perf_counter() - start
    want = reference(*args)
    np.testing.assert_allclose(result, want, rtol=rtol, atol=rtol)
    # a first call may run through NumPy while the optimised program builds (mlc.tiering):
    # the compiled program is checked, and timed, once it is in use
    mlc.tiering.wait(timeout=300)
    np.testing.assert_allclose(compiled(*args), want, rtol=rtol, atol=rtol)
    # a pause before each timing, as the benchmarks make (benchmarks/harness.py): the thread
    # pools that just ran (OpenBLAS's, libgomp's) spin for about 0.1 s after a call, and on a
    # machine of few cores the next contender's threads would share the cores with them
    time.sleep(PAUSE_S)
    t_mlc = time_function(lambda: compiled(*args), number=number, repeat=7).median
    time.sleep(PAUSE_S)
    t_np = time_function(lambda: reference(*args), number=number, repeat=7).median
    print(f"{name:<34} first call {first * 1e3:7.1f} ms | mlc {t_mlc * 1e6:9.1f} us | "
          f"numpy {t_np * 1e6:9.1f} us | speed-up {t_np / t_mlc:5.2f}x")


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"mlc {mlc.__version__} on {mlc.Target.from_str('llvm')}")
    if BLAS_NOTE:
        print(BLAS_NOTE)
    print()

    x = rng.standard_normal(1 << 22, dtype="float32")
    compare("gelu (tanh form), 2^22 float32", mlc.jit(gelu), gelu, (x,), rtol=1e-5, number=10)

    params = (rng.standard_normal((64, 784), dtype="float32"),
              rng.standard_normal((784, 128), dtype="float32") * 0.05,
              rng.standard_normal(128, dtype="float32"),
              rng.standard_normal((128, 10), dtype="float32") * 0.05,
              rng.standard_normal(10, dtype="float32"))
    jitted_mlp = mlc.jit(mlp)
    compare("mlp forward, batch 64 (784-128-10)", jitted_mlp, mlp, params, rtol=1e-4)
    print("\nThe MLP as mlc sees it (graph; two fused kernels):\n")
    print(jitted_mlp.lower(*params).as_text().split("\n\n@I.ir_module")[0])

    mod = mm_relu_module()
    print("\nThe MLC course's mm_relu as TensorIR:\n")
    print(mod.script())
    lib = mlc.build(mod, target="llvm")
    a, b = rng.random((128, 128), dtype="float32"), rng.random((128, 128), dtype="float32")
    c = np.empty((128, 128), "float32")

    def run(a, b):
        lib["mm_relu"](a, b, c)
        return c
    print()
    compare("mm_relu 128^3 (te, default schedule)", run, lambda a, b: np.maximum(a @ b, 0), (a, b),
            rtol=1e-4, number=100)


if __name__ == "__main__":
    main()
