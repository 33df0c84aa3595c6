"""The MLC course's first tensor program, compiled by mlc and timed against NumPy.

mm_relu: C = max(A @ B, 0), written as tensor expressions, printed as
TensorIR, compiled to native code with LLVM, checked and timed.
"""
import time

import numpy as np

import mlc
from mlc import te
from mlc.runtime import time_function


def mm_relu_module(n: int = 128) -> mlc.IRModule:
    A = te.placeholder((n, n), "float32", name="A")
    B = te.placeholder((n, n), "float32", name="B")
    k = te.reduce_axis((0, n), name="k")
    Y = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="Y")
    C = te.compute((n, n), lambda i, j: te.max(Y[i, j], 0), name="C")
    return mlc.IRModule({"mm_relu": te.create_prim_func([A, B, C])})


def main() -> None:
    mod = mm_relu_module()
    print(mod.script())

    start = time.perf_counter()
    lib = mlc.build(mod, target="llvm")
    print(f"\ncompiled for {lib.target} in {(time.perf_counter() - start) * 1e3:.0f} ms")

    rng = np.random.default_rng(0)
    a = rng.random((128, 128), dtype="float32")
    b = rng.random((128, 128), dtype="float32")
    c = np.empty((128, 128), "float32")
    lib["mm_relu"](a, b, c)
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5)
    print("result matches NumPy")

    t_mlc = lib.time_evaluator("mm_relu", number=100, repeat=7)(a, b, c).median
    t_np = time_function(lambda: np.maximum(a @ b, 0), number=100, repeat=7).median
    print(f"mlc   mm_relu 128^3: {t_mlc * 1e6:8.1f} us")
    print(f"numpy mm_relu 128^3: {t_np * 1e6:8.1f} us")
    print(f"speed-up over NumPy: {t_np / t_mlc:.2f}x")


if __name__ == "__main__":
    main()
