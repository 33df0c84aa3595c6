"""Sorting and searching: ``sort``, ``argsort`` and ``searchsorted``.

``sort`` and ``argsort`` move the sorted axis last and emit the ``sort`` /
``argsort`` ops: a stable LSD radix sort, O(n) per byte of the key
(:mod:`mlc.ops.library.radix_sort`). NaN sorts after every number (before, when
``descending``), -0.0 and 0.0 tie, and ties keep their input order in both
directions, as NumPy's stable sort does. Complex numbers sort as NumPy's do:
by real part, then imaginary part, in the classes ``R + Rj``, ``R + nanj``,
``nan + Rj``, ``nan + nanj`` (R: not NaN), each by its parts that are not NaN;
that is stable sorts by imaginary part, real part and class in turn.
``searchsorted`` is a binary search per query (:mod:`mlc.ops.library.gather`).

>>> import numpy as np, mlc
>>> mlc.numpy.argsort(np.array([3.0, np.nan, 1.0, 3.0], "float32"))
array([2, 0, 3, 1])
"""
from __future__ import annotations

from ..errors import ShapeError, TraceError
from ..ir import dtype as dt
from ..ops.library import normalize_axis, result_type
from ..tracer.operands import as_tracer, as_tracers
from ._api import emit, numpy_function
from .shapes import moveaxis

__all__ = ["sort", "argsort", "searchsorted"]


def _sorted(name: str, x, axis, descending: bool, order=None):
    if order is not None:
        raise TraceError(f"{name}: order= sorts structured arrays by field, which mlc does not have; "
                         f"got order={order!r}. Leave it out")
    t = as_tracer(x)
    if t.ndim == 0:
        raise ShapeError(f"{name}: needs an array of at least 1 dimension, got a 0-d array")
    axis = normalize_axis(name, axis, t.ndim)
    half = t.dtype == "float16"  # float16 -> float32 is exact and keeps the order
    last = axis == t.ndim - 1
    t = emit("astype", [t], dtype="float32") if half else t
    moved = t if last else moveaxis(t, axis, -1)
    if moved.shape[-1] == 0:
        out = moved if name == "sort" else emit("astype", [moved], dtype="int64")
    elif dt.is_complex(moved.dtype):
        order = _complex_order(moved, bool(descending))
        out = order if name == "argsort" else emit("take_along_axis", [moved, order], axis=moved.ndim - 1)
    else:
        out = emit(name, [moved], descending=bool(descending))
    if half and name == "sort":
        out = emit("astype", [out], dtype="float16")
    return out if last else moveaxis(out, -1, axis)


def _complex_order(z, descending: bool):
    """The stable order of complex ``z`` along its last axis: stable argsorts by the least
    significant key first (imaginary part, real part, then the class ``2 isnan(re) + isnan(im)``),
    each ranking the order so far."""
    axis = z.ndim - 1
    re, im = emit("real", [z]), emit("imag", [z])
    nan_re, nan_im = (emit("astype", [emit("isnan", [part])], dtype="uint8") for part in (re, im))
    klass = emit("add", [emit("add", [nan_re, nan_re]), nan_im])
    order = emit("argsort", [im], descending=descending)
    for key in (re, klass):
        ranked = emit("argsort", [emit("take_along_axis", [key, order], axis=axis)], descending=descending)
        order = emit("take_along_axis", [order, ranked], axis=axis)
    return order


@numpy_function("x")
def sort(x, /, axis=-1, kind=None, order=None, *, descending=False, stable=True):
    """``x`` sorted along ``axis`` (stably; NaN last ascending, first descending). Every ``kind``
    NumPy names sorts stably here (a stable sort is a valid answer for each)."""
    return _sorted("sort", x, axis, descending, order)


@numpy_function("x")
def argsort(x, /, axis=-1, kind=None, order=None, *, descending=False, stable=True):
    """The int64 indices that sort ``x`` along ``axis`` (stable: ties keep their order, whatever
    ``kind``)."""
    return _sorted("argsort", x, axis, descending, order)


@numpy_function("x1", "x2", "sorter")
def searchsorted(x1, x2, /, side="left", sorter=None):
    """Where each of ``x2`` would go in the sorted 1-D ``x1``: the count of ``x1`` before it
    (``side="left"``) or not after it (``"right"``), as int64. ``sorter``: the integer indices
    that sort ``x1`` (``argsort(x1)``), when ``x1`` itself is not sorted."""
    a, v = as_tracers([x1, x2], op="searchsorted")
    if sorter is not None:
        order = as_tracer(sorter, a._ctx)
        if order.dtype.kind not in "iu" or order.shape != a.shape:
            raise ShapeError(f"searchsorted: sorter must be integer indices shaped like x1 {a.shape}, "
                             f"got {order.dtype} of shape {order.shape}")
        a = emit("take", [a, order], axis=0) if a.ndim == 1 else a
    dtype = result_type(a.dtype, v.dtype, op="searchsorted")
    a = a if a.dtype == dtype else emit("astype", [a], dtype=dtype)
    v = v if v.dtype == dtype else emit("astype", [v], dtype=dtype)
    return emit("searchsorted", [a, v], side=side)
