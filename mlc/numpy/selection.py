"""Choosing elements by conditions and writing at static or traced positions: ``select``,
``piecewise``, ``put_along_axis``, ``put``, ``place`` and ``putmask``.

``select`` and ``piecewise`` are chains of ``where`` (``piecewise`` applies
each function to the whole array, then keeps its values where its condition
holds: the functions must be elementwise, as NumPy's users write them).
``put_along_axis``, ``put``, ``place`` and ``putmask`` change their array in place, as in
NumPy (:func:`mlc.numpy.writes.rebind`): every name bound to that array sees
the new value, and so do its views and, for an argument, the caller's array.

>>> import numpy as np, mlc
>>> @mlc.jit
... def f(x):
...     return np.select([x < 0, x > 2], [-x, x * 10], default=7)
>>> f(np.array([-1, 1, 3]))
array([ 1,  7, 30])
"""
from __future__ import annotations

import numpy as np

from ..errors import IndexBoundsError, ShapeError, TraceError
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from ._api import numpy_function
from .creation import arange, zeros_like
from .elementwise import clip, where
from .cumulative import cumsum
from .indexing import take_along_axis, unchecked_take as take  # (ranks reduced modulo len(vals))
from .writes import rebind, writable
from .reductions import max as _max
from .shapes import broadcast_to, moveaxis, reshape

__all__ = ["select", "piecewise", "put_along_axis", "put", "place", "putmask"]


def _where() -> str:
    return describe_location(user_location())


@numpy_function("condlist", "choicelist", "default")
def select(condlist, choicelist, default=0):
    """``np.select``: from the first condition that holds, that choice's element; else ``default``."""
    if len(condlist) != len(choicelist):
        raise ShapeError(f"np.select: list of cases must be same length as list of conditions{_where()}")
    if not condlist:
        raise ShapeError(f"np.select: select with an empty condition list is not possible{_where()}")
    conds = [as_tracer(c) for c in condlist]
    for n, c in enumerate(conds):
        if c.dtype != np.bool_:
            raise TraceError(f"np.select: invalid entry {n} in condlist: should be boolean ndarray{_where()}")
    result = default
    for cond, choice in zip(reversed(conds), reversed(list(choicelist))):
        result = where(cond, choice, result)
    return as_tracer(result)


@numpy_function("x", "condlist")
def piecewise(x, condlist, funclist, *args, **kw):
    """``np.piecewise``: where condition ``k`` holds, ``funclist[k]`` of ``x`` (a function, applied to
    the whole ``x``, or a constant); one extra function covers where none holds; later conditions
    win, and the result has ``x``'s dtype."""
    t = as_tracer(x)
    if isinstance(condlist, (Tracer, np.ndarray)) and (condlist.ndim == 0 or tuple(condlist.shape) == tuple(t.shape)):
        condlist = [condlist]
    conds = [as_tracer(c) for c in condlist]
    if len(funclist) not in (len(conds), len(conds) + 1):
        raise ShapeError(f"np.piecewise: with {len(conds)} condition(s), {len(conds)} or {len(conds) + 1} "
                         f"functions are expected, got {len(funclist)}{_where()}")
    if len(funclist) == len(conds) + 1:
        none = conds[0] if len(conds) == 1 else None
        for c in conds[1:]:
            none = (none if none is not None else conds[0]) | c
        conds = conds + [~none]
    result = zeros_like(t)
    for cond, fn in zip(conds, funclist):
        values = fn(t, *args, **kw) if callable(fn) else fn
        values = as_tracer(values) if not isinstance(values, (int, float, complex, bool)) else values
        result = where(cond, values, result)
        result = result if result.dtype == t.dtype else result.astype(t.dtype)
    return result


def _scattered(arr, indices, values, axis: int):
    """``arr`` with ``values`` written at ``indices`` along ``axis`` (NumPy's put_along_axis: the
    other axes of ``indices`` broadcast against ``arr``'s, ``values`` against the result, and the
    last write to a position wins), by a one-hot comparison of the indices with the positions."""
    n = arr.shape[axis]
    idx = as_tracer(indices)
    if idx.dtype.kind not in "iu":
        raise TraceError(f"np.put_along_axis: indices must be integers, got {idx.dtype}{_where()}")
    if isinstance(indices, np.ndarray) and indices.size and (indices.min() < -n or indices.max() >= n):
        raise IndexBoundsError(f"index out of bounds for axis {axis} with size {n}{_where()}")
    shape = tuple(k if d == axis else max(k, arr.shape[d]) for d, k in enumerate(idx.shape))
    idx = moveaxis(broadcast_to(idx, shape), axis, -1).astype("int64")
    vals = moveaxis(broadcast_to(as_tracer(values, arr._ctx), shape), axis, -1)
    moved = moveaxis(arr, axis, -1)
    k = idx.shape[-1]
    idx = where(idx < 0, idx + n, idx)
    hit = reshape(idx, idx.shape + (1,)) == arange(n, dtype="int64")  # (..., k, n)
    order = reshape(arange(k, dtype="int64"), (k, 1))
    if not k:
        return arr
    last = _max(where(hit, order, -1), axis=-2)  # (..., n): the last write to each position, or -1
    picked = take_along_axis(vals, clip(last, 0, k - 1), axis=-1)
    out = where(last >= 0, picked.astype(arr.dtype), moved)
    return moveaxis(out, -1, axis)


def put_along_axis(arr, indices, values, axis):
    """``np.put_along_axis``: ``arr``'s traced value replaced by one with ``values`` at ``indices``
    along ``axis`` (the last write to a position wins)."""
    t = writable("np.put_along_axis", arr)
    if axis is None:
        raise TraceError(f"np.put_along_axis(axis=None) is not supported inside @mlc.jit; reshape arr to 1-D"
                         f"{_where()}")
    axis = normalize_axis("put_along_axis", axis, t.ndim)
    if as_tracer(indices).ndim != t.ndim:
        raise ShapeError(f"np.put_along_axis: indices must have as many dimensions as arr ({t.ndim}){_where()}")
    rebind("np.put_along_axis", t, _scattered(t.fresh(), indices, values, axis))


def put(a, ind, v, mode="raise"):
    """``np.put``: ``a``'s traced value replaced by one with ``v`` (repeated as needed) at the flat
    positions ``ind``."""
    t = writable("np.put", a)
    flat = reshape(t.fresh(), (-1,))  # views of the value read must not mark the array written
    positions = reshape(as_tracer(ind), (1, -1))
    values = as_tracer(v, t._ctx)
    count = positions.shape[1]
    values = reshape(values, (-1,))
    if values.shape[0] != count and count:
        reps = -(-count // max(values.shape[0], 1))
        values = reshape(broadcast_to(reshape(values, (1, -1)), (reps, values.shape[0])), (-1,))[:count]
    rebind("np.put", t, reshape(_scattered(reshape(flat, (1, -1)), positions, reshape(values, (1, -1)), 1),
                                t.shape))


def place(arr, mask, vals):
    """``np.place``: the k-th True position of ``mask`` (in C order) gets ``vals[k % len(vals)]``,
    each element's ``k`` being the running count of True elements before it; an empty ``vals``
    leaves ``arr`` as it is (NumPy raises only where the mask has a True element)."""
    t = writable("np.place", arr)
    m = as_tracer(mask, t._ctx)
    if m.size != t.size:
        raise ShapeError(f"np.place: mask and data must be the same size, got {m.size} and {t.size}{_where()}")
    values = reshape(as_tracer(vals, t._ctx), (-1,))
    if values.shape[0] == 0:
        return
    flat_mask = reshape(m, (-1,)).astype("bool")
    rank = cumsum(flat_mask.astype("int64")) - 1  # how many True elements come before each
    picked = take(values, clip(rank, 0, None) % values.shape[0], 0)
    flat = reshape(t.fresh(), (-1,))
    rebind("np.place", t, reshape(where(flat_mask, picked.astype(t.dtype), flat), t.shape))


def putmask(a, mask, values):
    """``np.putmask``: where ``mask`` is True, the element at flat position ``i`` becomes
    ``values.flat[i % values.size]`` (the values repeat by position, not by count of True)."""
    t = writable("np.putmask", a)
    m = broadcast_to(as_tracer(mask, t._ctx).astype("bool"), tuple(t.shape))
    v = reshape(as_tracer(values, t._ctx), (-1,))
    if v.shape[0] == 0:
        return
    if v.shape[0] == t.size:
        picked = reshape(v, t.shape)
    else:
        picked = reshape(take(v, arange(t.size, dtype="int64") % v.shape[0], 0), t.shape)
    rebind("np.putmask", t, where(m, picked.astype(t.dtype), t.fresh()))
