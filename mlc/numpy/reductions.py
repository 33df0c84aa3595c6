"""Reductions: sum, prod, mean, max, min, argmax, argmin, var, std.

Most are generated from their registry ops (:mod:`.generated`); ``var``,
``std`` and ``count_nonzero`` need more than one op and are written here.

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
from .generated import GENERATED

__all__ = ["sum", "prod", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "all", "any", "count_nonzero"]


def _no_out(name: str, out) -> None:
    if out is not None:
        raise TraceError(f"{name}(out=...) is not supported when tracing; use the returned value")


sum, prod, mean = GENERATED["sum"], GENERATED["prod"], GENERATED["mean"]  # noqa: A001 - NumPy's names
max, min = GENERATED["max"], GENERATED["min"]  # noqa: A001
amax, amin = max, min
argmax, argmin = GENERATED["argmax"], GENERATED["argmin"]
all, any = GENERATED["all"], GENERATED["any"]  # noqa: A001


def _ddof(name: str, ddof, correction):
    """NumPy's ``ddof`` or the Array API's ``correction`` (the same number; give one)."""
    if correction is None:
        return ddof
    if ddof != 0 and ddof != correction:
        raise TraceError(f"{name}: give ddof or correction, not both (got ddof={ddof!r}, "
                         f"correction={correction!r})")
    return correction


def _spread(op, a, axis, dtype, out, ddof, keepdims, correction):
    """The graph op ``op`` ("var" or "std") with NumPy's arguments, cast to ``dtype`` if given."""
    _no_out(op, out)
    t = emit(op, [as_tracer(a)], axis=hashable(axis), keepdims=bool(keepdims),
             ddof=_ddof(op, ddof, correction))
    return t if dtype is None else emit("astype", [t], dtype=dt.canonical(dtype))


@numpy_function("a")
def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None):
    """``np.var(a, axis, ddof=..., keepdims=...)``; ``correction=`` is the Array API's ``ddof``."""
    return _spread("var", a, axis, dtype, out, ddof, keepdims, correction)


@numpy_function("a")
def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, correction=None):
    """``np.std(a, axis, ddof=..., keepdims=...)``; ``correction=`` is the Array API's ``ddof``."""
    return _spread("std", a, axis, dtype, out, ddof, keepdims, correction)


@numpy_function("x")
def count_nonzero(x, axis=None, *, keepdims=False):
    """How many elements of ``x`` are nonzero (NaN counts), as int64, over ``axis``."""
    t = as_tracer(x)
    nonzero = emit("not_equal", [t, as_tracer(np.zeros((), t.dtype), t._ctx)])
    return emit("sum", [nonzero], axis=hashable(axis), keepdims=bool(keepdims), dtype="int64")
