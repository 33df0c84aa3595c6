"""Running sums and products, and differences along an axis.

``cumsum``/``cumprod`` record the registry's scan ops; the Array API's
``cumulative_sum``/``cumulative_prod`` add ``include_initial`` (the identity
first) and ``diff`` subtracts neighbouring slices:

>>> import numpy as np, mlc
>>> mlc.numpy.cumulative_sum(np.array([1, 2, 3], "int32"), include_initial=True)
array([0, 1, 3, 6])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir import dtype as dt
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ._api import emit, numpy_function
from .elementwise import not_equal, subtract
from .loops import refuse_out
from .shapes import broadcast_to, concatenate, getitem, reshape

__all__ = ["cumsum", "cumprod", "cumulative_sum", "cumulative_prod", "diff"]


def _scan(op: str, a, axis, dtype):
    t = as_tracer(a)
    if axis is None:
        t, axis = reshape(t, (-1,)), 0
    elif t.ndim == 0:  # as NumPy's: a 0-d array scans as one of shape (1,), axis 0 or -1
        t = reshape(t, (1,))
    axis = normalize_axis(op, axis, t.ndim)  # an int in range (1.5, True, 2 of a 2-d array: refused)
    return emit(op, [t], axis=axis, dtype=None if dtype is None else dt.canonical(dtype))


@numpy_function("a", "out")
def cumsum(a, axis=None, dtype=None, out=None):
    """``np.cumsum(a, axis, dtype)``: running sums (flattened when ``axis`` is None)."""
    refuse_out("cumsum", out)
    return _scan("cumsum", a, axis, dtype)


@numpy_function("a", "out")
def cumprod(a, axis=None, dtype=None, out=None):
    """``np.cumprod(a, axis, dtype)``: running products (flattened when ``axis`` is None)."""
    refuse_out("cumprod", out)
    return _scan("cumprod", a, axis, dtype)


def _cumulative(name: str, op: str, identity: int, x, axis, dtype, include_initial):
    t = as_tracer(x)
    if axis is None:
        if t.ndim > 1:
            raise ShapeError(f"{name}: axis is required for an array of {t.ndim} dimensions")
        axis = 0
    if t.ndim == 0:
        raise ShapeError(f"{name}: needs an array of at least 1 dimension, got a 0-d array")
    out = _scan(op, t, axis, dtype)
    if not include_initial:
        return out
    axis %= t.ndim
    first = np.full(out.shape[:axis] + (1,) + out.shape[axis + 1:], identity, out.dtype)
    return concatenate([first, out], axis=axis)


@numpy_function("x")
def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """The Array API's running sum; ``include_initial`` puts a 0 first."""
    return _cumulative("cumulative_sum", "cumsum", 0, x, axis, dtype, include_initial)


@numpy_function("x")
def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """The Array API's running product; ``include_initial`` puts a 1 first."""
    return _cumulative("cumulative_prod", "cumprod", 1, x, axis, dtype, include_initial)


@numpy_function("x", "prepend", "append")
def diff(x, /, n=1, axis=-1, prepend=None, append=None):
    """The ``n``-th differences along ``axis`` (``prepend``/``append`` joined first)."""
    t = as_tracer(x)
    if t.ndim == 0:
        raise ShapeError("diff: needs an array of at least 1 dimension, got a 0-d array")
    if n < 0:
        raise ShapeError(f"diff: n must be non-negative, got {n}")
    axis = normalize_axis("diff", axis, t.ndim)
    edge = t.shape[:axis] + (1,) + t.shape[axis + 1:]  # a scalar prepend/append: one slice of it

    def joined(p):
        p = as_tracer(p, t._ctx)
        return broadcast_to(p, edge) if p.ndim == 0 else p
    parts = [p for p in (prepend, t, append) if p is not None]
    if len(parts) > 1:
        t = concatenate([joined(p) for p in parts], axis=axis)
    lead = (slice(None),) * axis
    difference = not_equal if t.dtype == np.bool_ else subtract  # NumPy's diff of bools
    for _ in range(n):
        t = difference(getitem(t, lead + (slice(1, None),)), getitem(t, lead + (slice(None, -1),)))
    return t
