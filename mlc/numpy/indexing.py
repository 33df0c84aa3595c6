"""Gathers by index arrays: ``take`` and ``take_along_axis``.

Each emits its gather op (:mod:`mlc.ops.library.gather`): one load of ``x``
per output element, at an index read from ``indices``. Negative indices
count from the end, as in NumPy. Called on concrete arrays (eagerly), an
index out of bounds raises :class:`mlc.BoundsError` (an IndexError) as NumPy
does; inside ``@mlc.jit`` the values are unknown while tracing: the kernel clips
such an index into the axis (it never reads outside ``x``), and the jit raises
BoundsError after the call (:mod:`.bounds`; ``mlc.jit(bounds_check=False)``
keeps the clipped values, as JAX does).

>>> import numpy as np, mlc
>>> mlc.numpy.take(np.array([10, 20, 30], "int32"), np.array([2, -3, 1]))
array([30, 10, 20], dtype=int32)
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from ..errors import BoundsError, DTypeError, ShapeError
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ..tracer import Tracer
from ._api import emit, numpy_function
from .bounds import check_indices
from .loops import refuse_out

__all__ = ["take", "take_along_axis", "unchecked_take"]


def _checked_eagerly(fn):
    """``fn``, refusing out-of-bounds concrete ``indices`` before it runs (NumPy's IndexError)."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(x, indices, /, *args, **kwargs):
        if not isinstance(x, Tracer) and not isinstance(indices, Tracer):
            axis = signature.bind(x, indices, *args, **kwargs).arguments.get("axis", _DEFAULT[fn])
            _check_bounds(fn.__name__, np.asarray(x), np.asarray(indices), axis)
        return fn(x, indices, *args, **kwargs)
    wrapper.__mlc_impl__ = fn.__mlc_impl__
    wrapper.jitted = fn.jitted
    return wrapper


def _check_bounds(name: str, x: np.ndarray, indices: np.ndarray, axis) -> None:
    if indices.dtype.kind not in "iu" or indices.size == 0 or x.ndim == 0:
        return  # the op reports a bad dtype or shape
    if axis is None:
        axis = 0
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -x.ndim <= axis < x.ndim:
        return
    n = x.shape[axis]
    lo, hi = indices.min(), indices.max()
    if lo < -n or hi >= n:
        bad = lo if lo < -n else hi
        raise BoundsError(f"{name}: index {int(bad)} is out of bounds for axis {axis} with size {n}; "
                          f"indices must lie in [-{n}, {n})")


def _indices(name: str, indices):
    idx = as_tracer(indices)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{name}: indices must be an integer array, got {idx.dtype}")
    return idx


@numpy_function("x", "indices", "out")
def _take(x, indices, /, axis=None, out=None):
    """The elements of ``x`` at ``indices`` (of any shape) along ``axis`` (``x`` must be 1-D
    when None)."""
    refuse_out("take", out)
    t = as_tracer(x)
    if axis is None:
        if t.ndim != 1:
            raise ShapeError(f"take: axis is required for an array of {t.ndim} dimensions")
        axis = 0
    axis = normalize_axis("take", axis, t.ndim)
    idx = _indices("take", indices)
    check_indices(idx, t.shape[axis], "np.take", axis)
    if idx.ndim == 1:
        return emit("take", [t, idx], axis=axis)
    # indices of any shape (a scalar too): gathered flat, their shape in place of the axis
    out = emit("take", [t, emit("reshape", [idx], newshape=(-1,))], axis=axis)
    return emit("reshape", [out], newshape=tuple(t.shape[:axis]) + tuple(idx.shape) + tuple(t.shape[axis + 1:]))


def unchecked_take(x: Tracer, indices: Tracer, axis: int) -> Tracer:
    """``np.take(x, indices, axis=axis)`` of 1-D ``indices`` that mlc computed within the axis
    (no run-time check: :mod:`.bounds`)."""
    ctx = next((v._ctx for v in (x, indices) if isinstance(v, Tracer)), None)
    t, idx = as_tracer(x, ctx), as_tracer(indices, ctx)
    return emit("take", [t, idx], axis=normalize_axis("take", axis, t.ndim))


@numpy_function("x", "indices")
def _take_along_axis(x, indices, /, axis=-1):
    """``x`` at ``indices`` along ``axis``, ``indices`` having ``x``'s number of dimensions (the
    other axes broadcast)."""
    t = as_tracer(x)
    axis = normalize_axis("take_along_axis", axis, t.ndim)
    idx = _indices("take_along_axis", indices)
    check_indices(idx, t.shape[axis], "np.take_along_axis", axis)
    return emit("take_along_axis", [t, idx], axis=axis)


_take.__name__ = _take.__qualname__ = "take"
_take_along_axis.__name__ = _take_along_axis.__qualname__ = "take_along_axis"
_DEFAULT = {_take: None, _take_along_axis: -1}
take = _checked_eagerly(_take)
take_along_axis = _checked_eagerly(_take_along_axis)
