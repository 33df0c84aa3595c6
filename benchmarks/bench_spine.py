"""The spine's baseline: te programs built as written (no schedule: te's naive loop order)."""
import numpy as np

import mlc
from mlc import te

from . import Row, median_time


def _matmul_module(n: int, relu: bool) -> mlc.IRModule:
    A = te.placeholder((n, n), "float32", name="A")
    B = te.placeholder((n, n), "float32", name="B")
    k = te.reduce_axis((0, n), name="k")
    Y = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="Y")
    if not relu:
        return mlc.IRModule({"main": te.create_prim_func([A, B, Y])})
    C = te.compute((n, n), lambda i, j: te.max(Y[i, j], 0), name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _run(name: str, n: int, relu: bool, number: int, repeat: int) -> Row:
    lib = mlc.build(_matmul_module(n, relu), "llvm", schedule=mlc.schedules.as_written)
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype="float32"), rng.random((n, n), dtype="float32")
    c = np.empty((n, n), "float32")
    reference = np.maximum(a @ b, 0) if relu else a @ b
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, reference, rtol=1e-4)
    t_mlc = lib.time_evaluator("main", number=number, repeat=repeat)(a, b, c).median
    t_np = median_time((lambda: np.maximum(a @ b, 0)) if relu else (lambda: a @ b), number, repeat)
    return Row(name, t_mlc, t_np, flops=2.0 * n ** 3, note="no schedule")


def mm_relu_128() -> Row:
    return _run("mm_relu 128^3 (course program)", 128, True, number=50, repeat=7)


def matmul_1024() -> Row:
    return _run("matmul 1024^3 float32", 1024, False, number=1, repeat=3)


BENCHMARKS = [mm_relu_128, matmul_1024]
