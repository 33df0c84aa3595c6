"""The GPU chapter's programs and schedules, as examples/ch7_gpu_acceleration.py writes them."""
from examples.ch7_gpu_acceleration import (matmul, row_sum, schedule_matmul_local, schedule_matmul_shared,
                                           schedule_row_sum, schedule_vector_add, schedule_window_sum,
                                           vector_add, window_sum)

__all__ = ["matmul", "row_sum", "schedule_matmul_local", "schedule_matmul_shared", "schedule_row_sum",
           "schedule_vector_add", "schedule_window_sum", "vector_add", "window_sum"]
