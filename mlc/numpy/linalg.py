"""``mlc.numpy.linalg``: the part of the Array API's linalg extension mlc.numpy has so far.

``matmul``, ``matrix_transpose``, ``tensordot`` and ``vecdot`` are the main
namespace's; ``vector_norm`` composes registry ops (``absolute``, ``sum``,
``max``/``min``, ``power``, ``sqrt``). The rest of the extension (``cholesky``,
``inv``, ``svd``, ...) is not implemented yet.

>>> import numpy as np, mlc
>>> mlc.numpy.linalg.vector_norm(np.array([3.0, -4.0]))
array(5.)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..ir import dtype as dt
from ..tracer.operands import as_tracer
from ._api import emit, hashable, numpy_function
from .contractions import matmul, tensordot, vecdot
from .manipulation import matrix_transpose

__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot", "vector_norm"]


@numpy_function("x")
def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):  # noqa: A002 - the standard's name
    """The ``ord``-norm of ``x`` over ``axis`` (all axes when None): 2 (Euclidean), 1, inf, -inf,
    0 (count of nonzeros) or any other real ``p`` (``sum(|x|**p)**(1/p)``)."""
    t = as_tracer(x)
    if t.dtype.kind not in "fc":
        raise ShapeError(f"vector_norm: needs a floating-point array, got {t.dtype}; cast it first")
    real = np.dtype(dt.component(t.dtype.name))  # of |x|: a complex array's parts' dtype
    axis, keepdims = hashable(axis), bool(keepdims)
    magnitude = emit("absolute", [t])
    if ord == math.inf:
        return emit("max", [magnitude], axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return emit("min", [magnitude], axis=axis, keepdims=keepdims)
    if ord == 0:
        zero = as_tracer(t.dtype.type(0), t._ctx)
        nonzero = emit("astype", [emit("not_equal", [t, zero])], dtype=real.name)
        return emit("sum", [nonzero], axis=axis, keepdims=keepdims, dtype=None)
    if ord == 1:
        return emit("sum", [magnitude], axis=axis, keepdims=keepdims, dtype=None)
    if ord == 2:
        squares = emit("multiply", [magnitude, magnitude])
        return emit("sqrt", [emit("sum", [squares], axis=axis, keepdims=keepdims, dtype=None)])
    p = as_tracer(real.type(ord), t._ctx)
    total = emit("sum", [emit("power", [magnitude, p])], axis=axis, keepdims=keepdims, dtype=None)
    return emit("power", [total, as_tracer(real.type(1 / ord), t._ctx)])
