"""Functions whose output shape depends on the values: ``nonzero``, one-argument ``where`` and
``repeat`` with an array of counts.

They run eagerly only, as JAX's do without ``size=``: inside ``@mlc.jit`` a
shape must be known before any value is, so they raise TraceError there.
Eagerly every step is a compiled kernel; only the count of results is read
back between kernels. The ``j``-th nonzero element of a flattened mask sits
at the first position where the running count of nonzeros reaches ``j + 1``:

>>> import numpy as np, mlc
>>> mlc.numpy.nonzero(np.array([[0, 3], [4, 0]]))
(array([0, 1]), array([1, 0]))

``repeat`` with counts finds each output element's source the same way: the
``j``-th output comes from the first position whose running count exceeds ``j``.

>>> mlc.numpy.repeat(np.array([7, 8, 9]), np.array([2, 0, 1]))
array([7, 7, 9])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..ops.library import normalize_axis
from ..tracer.source import describe_location, user_location
from ..tracer.trace import is_tracing
from . import elementwise as _elementwise
from .creation import asarray
from .cumulative import cumsum
from .elementwise import floor_divide, less, not_equal, remainder
from .indexing import take
from .masked_read import NonzeroIndex
from ..tracer.tracer import Tracer
from .reductions import any as _any
from .shapes import broadcast_to, reshape
from .sorting import searchsorted

__all__ = ["nonzero", "where", "repeat_counts"]


#: What to write inside ``@mlc.jit`` instead of a function whose shape depends on the values.
_INSTEAD = ("compute with the mask itself: np.where(mask, x, y) with three arguments, "
            "np.where(mask, x, 0).sum(), np.count_nonzero(mask); or call it outside @mlc.jit")


def _eager_only(name: str, instead: str = _INSTEAD) -> None:
    if is_tracing():
        raise TraceError(f"{name} has an output shape that depends on the values, so it cannot be "
                         f"traced (as in JAX without size=); {instead}"
                         f"{describe_location(user_location())}")


def _flat_positions(mask) -> np.ndarray:
    """int64 flat positions of the True elements of the 1-D bool ``mask`` (compiled kernels)."""
    running = cumsum(mask, axis=0, dtype="int64")
    count = int(running[-1]) if running.size else 0
    return searchsorted(running, np.arange(1, count + 1, dtype="int64"), side="left")


def nonzero(x, /):
    """The indices of the nonzero elements of ``x``, one int64 array per dimension (eager only;
    while tracing, lazy ones that index with the mask: :class:`.masked_read.NonzeroIndex`)."""
    if is_tracing() and isinstance(x, Tracer) and x.ndim:
        return _lazy_nonzero(x)
    _eager_only("nonzero")
    x = asarray(x)
    if x.ndim == 0:
        raise ShapeError("nonzero: a 0-d array has no indices; use atleast_1d or x[None] first")
    flat = _flat_positions(not_equal(reshape(x, (-1,)), np.zeros((), x.dtype)))
    out, stride = [], 1
    for extent in reversed(x.shape):
        out.append(remainder(floor_divide(flat, stride), extent) if extent > 1 else np.zeros_like(flat))
        stride *= extent
    return tuple(reversed(out))


def _lazy_nonzero(x) -> tuple:
    mask = x if x.dtype == np.bool_ else not_equal(x, np.zeros((), x.dtype))
    return tuple(NonzeroIndex(mask, axis) for axis in range(mask.ndim))


def where(condition, x=None, y=None, /):
    """``x`` where ``condition`` else ``y`` (traced and compiled); with only ``condition``,
    ``nonzero(condition)`` (eager only)."""
    if x is None and y is None:
        if is_tracing() and isinstance(condition, Tracer) and condition.ndim:
            return _lazy_nonzero(condition)
        _eager_only("where(condition) with one argument")
        return nonzero(condition)
    if x is None or y is None:
        raise TraceError("where: give both x and y, or neither (nonzero indices)")
    return _elementwise.where(condition, x, y)



def repeat_counts(x, repeats, axis):
    """``x``'s elements along ``axis`` (flattened when None), the ``i``-th ``repeats[i]`` times:
    ``repeats`` an array of non-negative integers, one per element or one for all (eager only)."""
    _eager_only("repeat with an array of counts")
    x = asarray(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = normalize_axis("repeat", axis, x.ndim)
    counts = asarray(repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise ShapeError(f"repeat: repeats must be an int or a 1-D integer array, got "
                         f"{counts.dtype} of shape {counts.shape}")
    n = x.shape[axis]
    if counts.ndim == 0 or counts.shape[0] == 1:
        counts = broadcast_to(reshape(counts, (1,)), (n,))
    if counts.shape[0] != n:
        raise ShapeError(f"repeat: {counts.shape[0]} counts for an axis of {n} elements; give one "
                         "count per element (or one for all)")
    if n and bool(_any(less(counts, 0))):
        raise ShapeError("repeat: repeats must be non-negative")
    ends = cumsum(counts, axis=0, dtype="int64")
    total = int(ends[-1]) if n else 0
    sources = searchsorted(ends, np.arange(total, dtype="int64"), side="right")
    return take(x, sources, axis=axis)
