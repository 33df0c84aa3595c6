"""Sorting and searching by counting: ``sort``, ``argsort`` and ``searchsorted``.

Each is a comparison of every pair of elements reduced by a sum, so it traces
and compiles like any reduction (quadratic in the sorted length, no
data-dependent control flow). NaN sorts after every number, as in NumPy.
The position of element ``i`` in a stable ascending sort is its rank::

    rank[i] = #{k : x[k] < x[i]} + #{k < i : x[k] == x[i]}

and ``sort[r]`` is the one element whose rank is ``r``:

>>> import numpy as np, mlc
>>> mlc.numpy.argsort(np.array([3.0, np.nan, 1.0, 3.0], "float32"))
array([2, 0, 3, 1])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..tracer.operands import as_tracer, as_tracers
from ._api import emit, numpy_function
from .shapes import expand_dims, moveaxis

__all__ = ["sort", "argsort", "searchsorted"]


def _ufunc(op: str, *tracers):
    return emit(op, list(tracers))


def _before(a, b):
    """``a`` sorts strictly before ``b``: ``a < b``, or ``b`` is NaN and ``a`` is not."""
    if a.dtype.kind != "f":
        return _ufunc("less", a, b)
    return _ufunc("logical_or", _ufunc("less", a, b),
                  _ufunc("logical_and", _ufunc("isnan", b), _ufunc("logical_not", _ufunc("isnan", a))))


def _count(mask, axis: int):
    return emit("sum", [mask], axis=axis, keepdims=False, dtype="int64")


def _ranks(t, descending: bool):
    """Stable ranks along the last axis of ``t``, as int64."""
    n = t.shape[-1]
    xi, xk = expand_dims(t, -1), expand_dims(t, -2)          # (..., i, 1) and (..., 1, k)
    earlier = _before(xi, xk) if descending else _before(xk, xi)
    tie = _ufunc("logical_not", _ufunc("logical_or", _before(xk, xi), _before(xi, xk)))
    k_before_i = np.tri(n, n, -1, dtype=bool)                   # [i, k]: k < i (a constant)
    stable = _ufunc("logical_and", tie, as_tracer(k_before_i, t._ctx))
    return _ufunc("add", _count(earlier, -1), _count(stable, -1))


def _sorted_by_rank(name: str, x, axis, descending: bool, values: bool):
    t = as_tracer(x)
    if t.ndim == 0:
        raise ShapeError(f"{name}: needs an array of at least 1 dimension, got a 0-d array")
    if not -t.ndim <= axis < t.ndim:
        raise ShapeError(f"{name}: axis {axis} is out of bounds for an array of {t.ndim} dimensions")
    t = moveaxis(t, axis, -1)
    n = t.shape[-1]
    if n == 0:
        return moveaxis(t if values else emit("astype", [t], dtype="int64"), -1, axis)
    rank = expand_dims(_ranks(t, descending), -2)                # (..., 1, i)
    slot = as_tracer(np.arange(n, dtype="int64").reshape(n, 1), t._ctx)   # (r, 1)
    here = _ufunc("equal", rank, slot)                           # (..., r, i)
    if values:
        # exactly one i per r; the others are the dtype's lowest, so max picks it (-0.0 and NaN too)
        lowest = -np.inf if t.dtype.kind == "f" else np.iinfo(t.dtype).min
        picked = emit("where", [here, expand_dims(t, -2), as_tracer(np.array(lowest, t.dtype), t._ctx)])
        out = emit("max", [picked], axis=-1, keepdims=False)
    else:
        index = as_tracer(np.arange(n, dtype="int64"), t._ctx)
        picked = emit("where", [here, index, as_tracer(np.zeros((), "int64"), t._ctx)])
        out = emit("sum", [picked], axis=-1, keepdims=False, dtype="int64")
    return moveaxis(out, -1, axis)


@numpy_function("x")
def sort(x, /, *, axis=-1, descending=False, stable=True):
    """``x`` sorted along ``axis`` (stably; NaN last ascending, first descending)."""
    t = as_tracer(x)
    if t.dtype == np.bool_:
        return emit("astype", [sort(emit("astype", [t], dtype="uint8"), axis=axis, descending=descending)],
                    dtype="bool")
    return _sorted_by_rank("sort", t, axis, descending, values=True)


@numpy_function("x")
def argsort(x, /, *, axis=-1, descending=False, stable=True):
    """The int64 indices that sort ``x`` along ``axis`` (stable: ties keep their order)."""
    return _sorted_by_rank("argsort", x, axis, descending, values=False)


@numpy_function("x1", "x2")
def searchsorted(x1, x2, /, *, side="left", sorter=None):
    """Where each of ``x2`` would go in the sorted 1-D ``x1``: the count of ``x1`` before it
    (``side="left"``) or not after it (``"right"``), as int64."""
    if sorter is not None:
        raise TraceError("searchsorted: sorter= is not supported; pass x1 already sorted")
    if side not in ("left", "right"):
        raise ShapeError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    a, v = as_tracers([x1, x2], op="searchsorted")
    if a.ndim != 1:
        raise ShapeError(f"searchsorted: x1 must be 1-D, got shape {a.shape}")
    vk = expand_dims(v, -1)                                      # (..., 1) against (n,)
    mask = _before(a, vk) if side == "left" else _ufunc("logical_not", _before(vk, a))
    return _count(mask, -1)
