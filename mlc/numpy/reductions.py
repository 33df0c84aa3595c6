"""Reductions: sum, prod, mean, max, min, argmax, argmin, var, std.

``axis`` is None (all axes), an int or a tuple; ``keepdims`` keeps reduced
axes with size 1; result dtypes are NumPy's (``sum`` of int32 is int64).

>>> import numpy as np, mlc
>>> mlc.numpy.sum(np.arange(6, dtype="int32").reshape(2, 3), axis=1)
array([ 3, 12])
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..ir import dtype as dt
from ..tracer.operands import as_tracer
from ._api import emit, hashable, numpy_function

__all__ = ["sum", "prod", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "all", "any", "count_nonzero"]


def _no_out(name: str, out) -> None:
    if out is not None:
        raise TraceError(f"{name}(out=...) is not supported when tracing; use the returned value")


def _dtype(dtype):
    return None if dtype is None else dt.canonical(dtype)


@numpy_function("a")
def sum(a, axis=None, dtype=None, out=None, keepdims=False):  # noqa: A001 - NumPy's name
    """``np.sum(a, axis, dtype, keepdims=...)``."""
    _no_out("sum", out)
    return emit("sum", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims), dtype=_dtype(dtype))


@numpy_function("a")
def prod(a, axis=None, dtype=None, out=None, keepdims=False):
    """``np.prod(a, axis, dtype, keepdims=...)``."""
    _no_out("prod", out)
    return emit("prod", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims), dtype=_dtype(dtype))


@numpy_function("a")
def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    """``np.mean(a, axis, dtype, keepdims=...)``; integers average in float64."""
    _no_out("mean", out)
    return emit("mean", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims), dtype=_dtype(dtype))


@numpy_function("a")
def max(a, axis=None, out=None, keepdims=False):  # noqa: A001
    """``np.max(a, axis, keepdims=...)``."""
    _no_out("max", out)
    return emit("max", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims))


@numpy_function("a")
def min(a, axis=None, out=None, keepdims=False):  # noqa: A001
    """``np.min(a, axis, keepdims=...)``."""
    _no_out("min", out)
    return emit("min", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims))


amax, amin = max, min


@numpy_function("a")
def argmax(a, axis=None, out=None, keepdims=False):
    """``np.argmax(a, axis, keepdims=...)``: int64 indices of the first maximum."""
    _no_out("argmax", out)
    return emit("argmax", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims))


@numpy_function("a")
def argmin(a, axis=None, out=None, keepdims=False):
    """``np.argmin(a, axis, keepdims=...)``: int64 indices of the first minimum."""
    _no_out("argmin", out)
    return emit("argmin", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims))


def _ddof(name: str, ddof, correction):
    """NumPy's ``ddof`` or the Array API's ``correction`` (the same number; give one)."""
    if correction is None:
        return ddof
    if ddof != 0 and ddof != correction:
        raise TraceError(f"{name}: give ddof or correction, not both (got ddof={ddof!r}, "
                         f"correction={correction!r})")
    return correction


@numpy_function("a")
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None):
    """``np.var(a, axis, ddof=..., keepdims=...)``; ``correction=`` is the Array API's ``ddof``."""
    _no_out("var", out)
    t = emit("var", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims),
             ddof=_ddof("var", ddof, correction))
    return t if dtype is None else emit("astype", [t], dtype=dt.canonical(dtype))


@numpy_function("a")
def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None):
    """``np.std(a, axis, ddof=..., keepdims=...)``; ``correction=`` is the Array API's ``ddof``."""
    _no_out("std", out)
    t = emit("std", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims),
             ddof=_ddof("std", ddof, correction))
    return t if dtype is None else emit("astype", [t], dtype=dt.canonical(dtype))


@numpy_function("a")
def all(a, axis=None, out=None, keepdims=False):  # noqa: A001 - NumPy's name
    """``np.all(a, axis, keepdims=...)``: whether every element is nonzero (True when empty)."""
    _no_out("all", out)
    return emit("all", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims))


@numpy_function("a")
def any(a, axis=None, out=None, keepdims=False):  # noqa: A001 - NumPy's name
    """``np.any(a, axis, keepdims=...)``: whether some element is nonzero (False when empty)."""
    _no_out("any", out)
    return emit("any", [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims))


@numpy_function("x")
def count_nonzero(x, axis=None, *, keepdims=False):
    """How many elements of ``x`` are nonzero (NaN counts), as int64, over ``axis``."""
    t = as_tracer(x)
    nonzero = emit("not_equal", [t, as_tracer(np.zeros((), t.dtype), t._ctx)])
    return emit("sum", [nonzero], axis=hashable(axis), keepdims=bool(keepdims), dtype="int64")
