"""The GPU chapter's programs and schedules, as examples/ch7_gpu_acceleration.py writes them,
and the float16 matmul the tensor-core tests schedule."""
import mlc
from mlc import te
from examples.ch7_gpu_acceleration import (matmul, row_sum, schedule_matmul_local, schedule_matmul_shared,
                                           schedule_row_sum, schedule_vector_add, schedule_window_sum,
                                           vector_add, window_sum)

__all__ = ["matmul", "row_sum", "schedule_matmul_local", "schedule_matmul_shared", "schedule_row_sum",
           "schedule_vector_add", "schedule_window_sum", "vector_add", "window_sum", "half_matmul"]


def half_matmul(m, n, k):
    """``C = f32(A) @ f32(B)`` of float16 ``A`` (m x k) and ``B`` (k x n): the tensor cores' matmul."""
    A = te.placeholder((m, k), "float16", name="A")
    B = te.placeholder((k, n), "float16", name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r].astype("float32") * B[r, j].astype("float32"), axis=r),
                   name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})
