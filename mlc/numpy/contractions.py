"""Contractions: matmul (``@``), dot, einsum.

>>> import numpy as np, mlc
>>> mlc.numpy.matmul(np.eye(2, dtype="float32"), np.array([[1.0], [2.0]], "float32"))
array([[1.],
       [2.]], dtype=float32)
"""
from __future__ import annotations

from ..tracer.operands import as_tracers
from ._api import emit, numpy_function

__all__ = ["matmul", "dot", "einsum"]


@numpy_function("x1", "x2")
def matmul(x1, x2):
    """``x1 @ x2`` with NumPy's rules (1-D operands, broadcast batch dimensions)."""
    return emit("matmul", as_tracers([x1, x2]))


@numpy_function("a", "b")
def dot(a, b):
    """``np.dot(a, b)``."""
    return emit("dot", as_tracers([a, b]))


@numpy_function()
def einsum(subscripts, *operands):
    """``np.einsum(subscripts, *operands)`` (explicit letters, no ellipsis)."""
    return emit("einsum", as_tracers(list(operands)), subscripts=subscripts)
