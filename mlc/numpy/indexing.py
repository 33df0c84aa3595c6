"""Gathers by index arrays: ``take`` and ``take_along_axis``.

The op library has no indexed load yet, so a gather is a selection: each
output element compares every position ``k`` of the gathered axis with its
index and keeps the one match (a ``max`` reduction over ``where(k == index,
x, lowest)``), linear in the axis length per element. It traces and
compiles like any reduction. Negative indices count from the end; an index
out of bounds gives an unspecified value, as the standard allows.

>>> import numpy as np, mlc
>>> mlc.numpy.take(np.array([10, 20, 30], "int32"), np.array([2, -3, 1]))
array([30, 10, 20], dtype=int32)
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from ..ops.library import broadcast_shapes
from ..tracer.operands import as_tracer
from ._api import emit, numpy_function
from .shapes import expand_dims, moveaxis, reshape

__all__ = ["take", "take_along_axis"]


def _select(values, positions, index):
    """``values`` at ``index`` along the last axis of ``values``/``positions`` (broadcast against
    ``index``'s trailing axis of length 1)."""
    if values.dtype == np.bool_:
        picked = _select(emit("astype", [values], dtype="uint8"), positions, index)
        return emit("astype", [picked], dtype="bool")
    lowest = -np.inf if values.dtype.kind == "f" else np.iinfo(values.dtype).min
    hit = emit("equal", [positions, index])
    chosen = emit("where", [hit, values, as_tracer(np.array(lowest, values.dtype), values._ctx)])
    return emit("max", [chosen], axis=-1, keepdims=False)


def _indices(name: str, indices, n: int):
    idx = as_tracer(indices)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{name}: indices must be an integer array, got {idx.dtype}")
    idx = emit("astype", [idx], dtype="int64")
    if n == 0:
        return idx
    return emit("remainder", [idx, as_tracer(np.int64(n), idx._ctx)])  # -1 is n - 1


@numpy_function("x", "indices")
def take(x, indices, /, *, axis=None):
    """The elements of ``x`` at ``indices`` (1-D) along ``axis`` (``x`` must be 1-D when None)."""
    t = as_tracer(x)
    if axis is None:
        if t.ndim != 1:
            raise ShapeError(f"take: axis is required for an array of {t.ndim} dimensions")
        axis = 0
    if not -t.ndim <= axis < t.ndim:
        raise ShapeError(f"take: axis {axis} is out of bounds for an array of {t.ndim} dimensions")
    n = t.shape[axis]
    idx = _indices("take", indices, n)
    if idx.ndim != 1:
        raise ShapeError(f"take: indices must be 1-D, got shape {idx.shape}")
    moved = moveaxis(t, axis, -1)                                   # (..., n)
    values = expand_dims(moved, -2)                                 # (..., 1, n)
    positions = as_tracer(np.arange(n, dtype="int64"), t._ctx)      # (n,)
    if n == 0 or idx.shape[0] == 0:
        out = reshape(moved[..., :0], moved.shape[:-1] + (0,)) if idx.shape[0] == 0 else None
        if out is None:
            raise ShapeError("take: cannot take from an empty axis")
        return moveaxis(out, -1, axis)
    out = _select(values, positions, expand_dims(idx, -1))          # (..., m)
    return moveaxis(out, -1, axis)


@numpy_function("x", "indices")
def take_along_axis(x, indices, /, *, axis=-1):
    """``x`` at ``indices`` along ``axis``, ``indices`` having ``x``'s number of dimensions (the
    other axes broadcast)."""
    t = as_tracer(x)
    if not -t.ndim <= axis < t.ndim:
        raise ShapeError(f"take_along_axis: axis {axis} is out of bounds for {t.ndim} dimensions")
    n = t.shape[axis]
    idx = _indices("take_along_axis", indices, n)
    if idx.ndim != t.ndim:
        raise ShapeError(f"take_along_axis: indices must have {t.ndim} dimensions like x, got {idx.ndim}")
    moved = moveaxis(t, axis, -1)                                   # (..., n)
    index = moveaxis(idx, axis, -1)                                 # (..., m)
    if index.shape[-1] == 0 or n == 0:
        if index.shape[-1] != 0:
            raise ShapeError("take_along_axis: cannot take from an empty axis")
        empty = emit("broadcast_to", [reshape(moved[..., :0], moved.shape[:-1] + (0,))],
                     shape=broadcast_shapes(moved.shape[:-1], index.shape[:-1], op="take_along_axis") + (0,))
        return moveaxis(empty, -1, axis)
    values = expand_dims(moved, -2)                                 # (..., 1, n)
    positions = as_tracer(np.arange(n, dtype="int64"), t._ctx)
    out = _select(values, positions, expand_dims(index, -1))        # (..., m)
    return moveaxis(out, -1, axis)
