"""Tiny programs the schedule primitives' docstrings transform.

Each function returns an :class:`~mlc.IRModule` with one function ``main``,
small enough that its printed IR fits in a docstring.

>>> print(add_one(4)["main"].script())
@T.prim_func
def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
    T.func_attr({"global_symbol": "main", "tir.noalias": True})
    for i in range(4):
        with T.block("B"):
            vi = T.axis.spatial(4, i)
            T.reads(A[vi])
            T.writes(B[vi])
            B[vi] = A[vi] + T.float32(1)
"""
from __future__ import annotations

from ..ir import te
from ..ir.tir import IRModule

__all__ = ["add_one", "scale_2d", "two_stage", "two_stage_2d", "row_sum", "two_sums", "matmul", "dot"]


def _module(*tensors) -> IRModule:
    return IRModule({"main": te.create_prim_func(list(tensors))})


def add_one(n: int = 8) -> IRModule:
    """``B[i] = A[i] + 1`` for ``i < n``."""
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] + 1, "B")
    return _module(A, B)


def scale_2d(m: int = 4, n: int = 4) -> IRModule:
    """``B[i, j] = A[i, j] * 2`` on an ``m x n`` array."""
    A = te.placeholder((m, n), "float32", "A")
    B = te.compute((m, n), lambda i, j: A[i, j] * 2, "B")
    return _module(A, B)


def two_stage(n: int = 4) -> IRModule:
    """``B[i] = A[i] * 2`` then ``C[i] = B[i] + 1``: a producer and its consumer."""
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] * 2, "B")
    C = te.compute((n,), lambda i: B[i] + 1, "C")
    return _module(A, C)


def row_sum(m: int = 2, n: int = 8) -> IRModule:
    """``B[i] = sum(A[i, k] for k < n)``: a reduction with an init."""
    A = te.placeholder((m, n), "float32", "A")
    k = te.reduce_axis((0, n), name="k")
    B = te.compute((m,), lambda i: te.sum(A[i, k], axis=k), "B")
    return _module(A, B)


def two_sums(n: int = 8) -> IRModule:
    """``S[0] = sum(A)`` and ``Q[0] = sum(A * A)``: two reductions over the same elements."""
    A = te.placeholder((n,), "float32", "A")
    k = te.reduce_axis((0, n), name="k")
    S = te.compute((1,), lambda i: te.sum(A[k], axis=k), "S")
    r = te.reduce_axis((0, n), name="r")
    Q = te.compute((1,), lambda i: te.sum(A[r] * A[r], axis=r), "Q")
    return _module(A, S, Q)


def matmul(n: int = 4, m: int = 4, k: int = 4) -> IRModule:
    """``C = A @ B`` with ``A`` of shape ``(n, k)`` and ``B`` of shape ``(k, m)``."""
    A = te.placeholder((n, k), "float32", "A")
    B = te.placeholder((k, m), "float32", "B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((n, m), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), "C")
    return _module(A, B, C)


def two_stage_2d(m: int = 2, n: int = 4) -> IRModule:
    """:func:`two_stage` on an ``m x n`` array: its intermediate ``B`` has rows to align."""
    A = te.placeholder((m, n), "float32", "A")
    B = te.compute((m, n), lambda i, j: A[i, j] * 2, "B")
    C = te.compute((m, n), lambda i, j: B[i, j] + 1, "C")
    return _module(A, C)


def dot(n: int = 8) -> IRModule:
    """``C[0] = sum(A[k] * B[k] for k < n)``: the shape of the ``dot_4_f32`` intrinsic."""
    A = te.placeholder((n,), "float32", "A")
    B = te.placeholder((n,), "float32", "B")
    k = te.reduce_axis((0, n), name="k")
    C = te.compute((1,), lambda i: te.sum(A[k] * B[k], axis=k), "C")
    return _module(A, B, C)
