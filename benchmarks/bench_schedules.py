"""Schedules against NumPy: the hand-scheduled and default matmuls, and the course's mm_relu.

* matmul 1024^3 and 2048^3 float32: ``examples/fast_matmul.py``'s hand
  schedule and the default CPU schedule (``mlc.build`` with no schedule)
  against ``a @ b``;
* mm_relu 128^3: the MLC course's chapter-2 schedule plus vectorize, unroll
  and parallel (``examples/ch2_tensor_program_transformations.py``), and the
  default schedule, against NumPy's two calls ``np.maximum(a @ b, 0)``.
"""
from __future__ import annotations

import numpy as np

import mlc
from examples.ch2_tensor_program_transformations import (FAST_JFACTOR, mm_relu_module, transform,
                                                        with_vectors_and_threads)
from examples.fast_matmul import fast_schedule, matmul_module

from . import Row, median_time


def _matmul(n: int, label: str, schedule, number: int, repeat: int) -> Row:
    lib = mlc.build(matmul_module(n, n, n), "llvm", schedule=schedule)
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype="float32"), rng.random((n, n), dtype="float32")
    c = np.empty((n, n), "float32")
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-3 * np.sqrt(n))
    t_mlc = lib.time_evaluator("main", number=number, repeat=repeat)(a, b, c).median
    t_np = median_time(lambda: a @ b, number, repeat)
    return Row(f"matmul {n}^3 float32", t_mlc, t_np, flops=2.0 * n ** 3, note=label)


def _mm_relu(label: str, mod: mlc.IRModule, schedule, number: int = 200, repeat: int = 9) -> Row:
    n = 128
    lib = mlc.build(mod, "llvm", schedule=schedule)
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype="float32"), rng.random((n, n), dtype="float32")
    c = np.empty((n, n), "float32")
    lib["mm_relu"](a, b, c)
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-4, atol=1e-4)
    t_mlc = lib.time_evaluator("mm_relu", number=number, repeat=repeat)(a, b, c).median
    t_np = median_time(lambda: np.maximum(a @ b, 0), number, repeat)
    return Row("mm_relu 128^3 (course program)", t_mlc, t_np, flops=2.0 * n ** 3, note=label)


def matmul_1024_hand() -> Row:
    return _matmul(1024, "hand schedule", fast_schedule, number=3, repeat=7)


def matmul_1024_default() -> Row:
    return _matmul(1024, "default schedule", None, number=3, repeat=7)


def matmul_2048_hand() -> Row:
    return _matmul(2048, "hand schedule", fast_schedule, number=1, repeat=5)


def matmul_2048_default() -> Row:
    return _matmul(2048, "default schedule", None, number=1, repeat=5)


def mm_relu_course() -> Row:
    sch = with_vectors_and_threads(transform(mm_relu_module(128), FAST_JFACTOR))
    return _mm_relu("course schedule + vectorize/unroll/parallel", sch.mod, mlc.schedules.as_written)


def mm_relu_default() -> Row:
    return _mm_relu("default schedule", mm_relu_module(128), None)


BENCHMARKS = [matmul_1024_hand, matmul_1024_default, matmul_2048_hand, matmul_2048_default,
              mm_relu_course, mm_relu_default]
