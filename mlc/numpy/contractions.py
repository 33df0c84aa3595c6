"""Contractions: matmul (``@``), dot, einsum.

``matmul`` and ``dot`` are generated from their registry ops; the others
build ``einsum`` or ``multiply`` and ``sum`` here.

>>> import numpy as np, mlc
>>> mlc.numpy.matmul(np.eye(2, dtype="float32"), np.array([[1.0], [2.0]], "float32"))
array([[1.],
       [2.]], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from ..errors import AxisError, ShapeError
from ..tracer.operands import as_tracers
from .shapes import expand_dims, reshape, squeeze
from ._api import emit, numpy_function
from .elementwise import conj, multiply
from .generated import GENERATED
from .reductions import sum as _sum

__all__ = ["matmul", "dot", "einsum", "einsum_path", "vecdot", "tensordot", "inner", "vdot", "matvec", "vecmat"]


matmul, dot = GENERATED["matmul"], GENERATED["dot"]


@numpy_function()
def einsum(subscripts, *operands, optimize=False):
    """``np.einsum(subscripts, *operands)`` (explicit letters, no ellipsis); ``optimize`` (a
    contraction order, as ``np.einsum_path`` gives) is accepted and left to the compiler."""
    return emit("einsum", as_tracers(list(operands)), subscripts=subscripts)


def einsum_path(subscripts, *operands, optimize="greedy", einsum_call=False):
    """``np.einsum_path``: NumPy's contraction order and its report, which depend only on the
    operands' shapes (computed by NumPy while tracing, on stand-ins of those shapes)."""
    stand_ins = [np.broadcast_to(np.zeros((), o.dtype), o.shape) if hasattr(o, "shape") and hasattr(o, "dtype")
                 else o for o in operands]
    return np.einsum_path(subscripts, *stand_ins, optimize=optimize, einsum_call=einsum_call)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@numpy_function("x1", "x2")
def vecdot(x1, x2, /, *, axis=-1):
    """Dot products of the vectors along ``axis`` (the other axes broadcast): the sum of
    ``conj(x1) * x2``, as the standard and ``np.vecdot`` define it for complex vectors."""
    a, b = as_tracers([x1, x2], op="vecdot")
    if not -min(a.ndim, b.ndim) <= axis < min(a.ndim, b.ndim):
        raise AxisError(f"vecdot: axis {axis} is out of bounds for shapes {a.shape} and {b.shape}")
    if a.shape[axis] != b.shape[axis]:
        raise ShapeError(f"vecdot: the vectors along axis {axis} differ in length: {a.shape} and {b.shape}")
    products = multiply(conj(a), b)
    return _sum(products, axis=axis, dtype=products.dtype)  # (matmul's dtype, not sum's widening)


@numpy_function("x1", "x2")
def tensordot(x1, x2, /, axes=2):
    """Sum of products over ``axes`` (an int: the last of ``x1`` with the first of ``x2``; or
    two sequences of axes), as one ``einsum``."""
    a, b = as_tracers([x1, x2], op="tensordot")
    if isinstance(axes, int):
        if not 0 <= axes <= min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: axes={axes} must be between 0 and {min(a.ndim, b.ndim)}")
        pairs = list(zip(range(a.ndim - axes, a.ndim), range(axes)))
    else:
        xa, xb = axes
        if len(xa) != len(xb):
            raise ShapeError(f"tensordot: axes {axes} pair up different numbers of axes")
        pairs = [(p % a.ndim, q % b.ndim) for p, q in zip(xa, xb)]
    if a.ndim + b.ndim > len(_LETTERS):
        raise ShapeError("tensordot: too many dimensions")
    sa = list(_LETTERS[:a.ndim])
    sb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for p, q in pairs:
        if a.shape[p] != b.shape[q]:
            raise ShapeError(f"tensordot: axis {p} of {a.shape} and axis {q} of {b.shape} differ in length")
        sb[q] = sa[p]
    summed = {sa[p] for p, _ in pairs}
    out = "".join(c for c in sa if c not in summed) + "".join(c for c in sb if c not in summed)
    return emit("einsum", [a, b], subscripts=f"{''.join(sa)},{''.join(sb)}->{out}")


@numpy_function("a", "b")
def inner(a, b, /):
    """``np.inner``: the sum of products over the last axes of ``a`` and ``b`` (a product when
    either is 0-d; no conjugation)."""
    x, y = as_tracers([a, b], op="inner")
    if x.ndim == 0 or y.ndim == 0:
        return multiply(x, y)
    return tensordot(x, y, axes=([x.ndim - 1], [y.ndim - 1]))


@numpy_function("a", "b")
def vdot(a, b, /):
    """``np.vdot``: the dot product of the flattened arrays, ``a`` conjugated."""
    x, y = as_tracers([a, b], op="vdot")
    if x.size != y.size:
        raise ShapeError(f"vdot: the arrays hold different numbers of elements: {x.shape} and {y.shape}")
    return vecdot(reshape(x, (-1,)), reshape(y, (-1,)))


def _checked(name: str, x1, x2):
    a, b = as_tracers([x1, x2], op=name)
    if a.ndim < 1 or b.ndim < 1:
        raise ShapeError(f"{name}: both operands need at least 1 dimension, got {a.shape} and {b.shape}")
    return a, b


@numpy_function("x1", "x2", "out")
def matvec(x1, x2, /, out=None, **kwargs):
    """``np.matvec``: matrix-vector products, ``x1 @ x2[..., None]`` along the last axes (the
    others broadcast)."""
    a, b = _checked("matvec", x1, x2)
    return squeeze(matmul(a, expand_dims(b, -1)), -1)


@numpy_function("x1", "x2", "out")
def vecmat(x1, x2, /, out=None, **kwargs):
    """``np.vecmat``: vector-matrix products with the vector conjugated, ``conj(x1)[..., None, :] @
    x2``."""
    a, b = _checked("vecmat", x1, x2)
    return squeeze(matmul(expand_dims(conj(a), -2), b), -2)
