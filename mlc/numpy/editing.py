"""Array editing with static positions: ``append``, ``delete``, ``insert``, ``resize``,
``array_split``, ``hsplit``, ``vsplit``, ``dsplit``, ``row_stack``, ``rollaxis``,
``ediff1d``, ``choose``, ``apply_over_axes`` and the index helpers ``tril_indices_from``,
``triu_indices_from`` and ``diag_indices_from``.

The positions (``obj`` of ``delete`` and ``insert``, the sections of ``array_split``) are
constants, so the result's shape is known while tracing. Which element lands where is
computed by NumPy itself, while tracing, on arrays of positions shaped like the operands
(:func:`_positions`): ``np.insert(positions, obj, -1 - value_positions)`` says, for each
element of the result, which element of ``arr`` (or of ``values``) it is, broadcasting and
all; the traced function is a gather at those constant positions.

>>> import numpy as np, mlc
>>> mlc.jit(lambda x: np.insert(np.delete(x, [0, 2]), 1, [7.0, 8.0]))(np.arange(5.0))
array([1., 7., 8., 3., 4.])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from ._api import numpy_function
from .bounds import check_indices
from .cumulative import diff
from .elementwise import clip, remainder, where
from .indexing import unchecked_take
from .shapes import broadcast_to, concatenate, getitem, reshape, transpose
from .stacking import vstack

__all__ = ["append", "delete", "insert", "resize", "array_split", "hsplit", "vsplit", "dsplit", "row_stack",
           "rollaxis", "ediff1d", "choose", "apply_over_axes", "tril_indices_from", "triu_indices_from",
           "diag_indices_from"]


def _where() -> str:
    return describe_location(user_location())


def _static(name: str, what: str, value):
    if isinstance(value, Tracer) or (isinstance(value, (list, tuple)) and any(isinstance(v, Tracer) for v in value)):
        raise TraceError(f"np.{name} with a traced {what} cannot be traced inside @mlc.jit: the result's shape "
                         f"depends on it; pass {what} as a constant (a Python int, slice or list, or a NumPy "
                         f"array){_where()}")
    return value


def _positions(name: str, make, *shapes):
    """``make(*positions)``, NumPy's own function run on int64 arrays of ``shapes`` that hold each
    element's flat position (``-1 - position`` for the second and later operands); its errors
    as ShapeError."""
    arrays = [np.arange(int(np.prod(s)), dtype=np.int64).reshape(s) for s in shapes]
    arrays[1:] = [-1 - a for a in arrays[1:]]
    try:
        return np.asarray(make(*arrays))
    except (ValueError, IndexError, TypeError) as err:
        raise ShapeError(f"np.{name}: {err}{_where()}") from None


def _gather(t, positions: np.ndarray):
    """The elements of ``t`` at the flat ``positions``, shaped like them."""
    flat = reshape(t, (-1,))
    out = unchecked_take(flat, as_tracer(positions.reshape(-1), t._ctx), 0)
    return reshape(out, positions.shape)


def _merged(t, values, positions: np.ndarray):
    """The elements of ``t`` at the non-negative ``positions``, of ``values`` at ``-1 - p``."""
    if positions.size and positions.min() >= 0:
        return _gather(t, positions)
    picked = _gather(values, np.where(positions < 0, -1 - positions, 0))
    if positions.size and positions.max() < 0:
        return picked
    return where(as_tracer(positions >= 0, t._ctx), _gather(t, np.maximum(positions, 0)), picked)


@numpy_function("arr", "values")
def append(arr, values, axis=None):
    """``np.append``: ``values`` after ``arr`` (both flattened without ``axis``)."""
    t, v = as_tracer(arr), as_tracer(values)
    if axis is None:
        return concatenate([reshape(t, (-1,)), reshape(v, (-1,))])
    return concatenate([t, v], axis=axis)


@numpy_function("arr")
def delete(arr, obj, axis=None):
    """``np.delete`` of the constant positions ``obj`` (an int, slice, list or boolean mask)."""
    t = as_tracer(arr)
    obj = _static("delete", "obj", obj)
    return _gather(t, _positions("delete", lambda p: np.delete(p, obj, axis), t.shape))


@numpy_function("arr", "values")
def insert(arr, obj, values, axis=None):
    """``np.insert`` of ``values`` (cast to ``arr``'s dtype) before the constant positions ``obj``."""
    t = as_tracer(arr)
    obj = _static("insert", "obj", obj)
    v = as_tracer(values, t._ctx)
    v = v if v.dtype == t.dtype else v.astype(t.dtype)
    positions = _positions("insert", lambda p, q: np.insert(p, obj, q, axis), t.shape, v.shape)
    return _merged(t, v, positions)


@numpy_function("a")
def resize(a, new_shape):
    """``np.resize``: ``a``'s elements repeated (or cut) in order to fill ``new_shape``."""
    t = as_tracer(a)
    new_shape = _static("resize", "new_shape", new_shape)
    if t.size == 0:
        return _positions("resize", lambda p: np.resize(p, new_shape), t.shape).astype(t.dtype)
    return _gather(t, _positions("resize", lambda p: np.resize(p, new_shape), t.shape))


def _sections(name: str, t, indices_or_sections, axis: int, equal: bool) -> list:
    """``t`` split along ``axis`` as ``np.split`` (``equal``) or ``np.array_split`` does."""
    _static(name, "indices_or_sections", indices_or_sections)
    axis = normalize_axis(f"np.{name}", axis, t.ndim)
    split = np.split if equal else np.array_split
    pieces = _positions(name, lambda p: [len(s) for s in split(p, indices_or_sections)], (t.shape[axis],))
    out, start = [], 0
    for length in pieces.tolist():
        key = [slice(None)] * t.ndim
        key[axis] = slice(start, start + length)
        out.append(getitem(t, tuple(key)))
        start += length
    return out


@numpy_function("ary")
def array_split(ary, indices_or_sections, axis=0):
    """``np.array_split``: ``np.split`` that allows sections of unequal length (the first
    ``n % sections`` one longer)."""
    return _sections("array_split", as_tracer(ary), indices_or_sections, axis, equal=False)


def _split_at_least(name: str, ndim: int, axis: int):
    def fn(ary, indices_or_sections):
        t = as_tracer(ary)
        if t.ndim < ndim:
            raise ShapeError(f"np.{name} only works on arrays of {ndim} or more dimensions, got shape "
                             f"{tuple(t.shape)}{_where()}")
        along = 0 if (name == "hsplit" and t.ndim == 1) else axis
        return _sections(name, t, indices_or_sections, along, equal=True)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``np.{name}``: ``np.split`` along axis {axis}."
    return numpy_function("ary")(fn)


hsplit = _split_at_least("hsplit", 1, 1)
vsplit = _split_at_least("vsplit", 2, 0)
dsplit = _split_at_least("dsplit", 3, 2)


def row_stack(tup, *, dtype=None, casting="same_kind"):
    """``np.row_stack``: NumPy's former name of :func:`vstack`."""
    return vstack(tup, dtype=dtype, casting=casting)


@numpy_function("a")
def rollaxis(a, axis, start=0):
    """``np.rollaxis``: ``axis`` moved to lie before ``start`` (prefer ``np.moveaxis``)."""
    t = as_tracer(a)
    n = t.ndim
    axis = normalize_axis("np.rollaxis", axis, n)
    if not -n <= start <= n:
        raise ShapeError(f"np.rollaxis: start {start} is out of the range [{-n}, {n}]{_where()}")
    start = start + n if start < 0 else start
    if axis < start:
        start -= 1
    if axis == start:
        return t.fresh()
    order = [d for d in range(n) if d != axis]
    order.insert(start, axis)
    return transpose(t, tuple(order))


@numpy_function("ary", "to_end", "to_begin")
def ediff1d(ary, to_end=None, to_begin=None):
    """``np.ediff1d``: the differences of the flattened ``ary``, with ``to_begin`` before them and
    ``to_end`` after (cast to ``ary``'s dtype)."""
    t = reshape(as_tracer(ary), (-1,))
    parts = [diff(t)] if t.shape[0] else [t]
    for extra, first in ((to_begin, True), (to_end, False)):
        if extra is None:
            continue
        e = reshape(as_tracer(extra, t._ctx), (-1,))
        if not np.can_cast(e.dtype, t.dtype, casting="same_kind"):
            raise TraceError(f"np.ediff1d: dtype of to_{'begin' if first else 'end'} ({e.dtype}) must be "
                             f"compatible with the dtype of the input ({t.dtype}){_where()}")
        e = e.astype(t.dtype)
        parts.insert(0, e) if first else parts.append(e)
    return concatenate(parts) if len(parts) > 1 else parts[0]


@numpy_function("a", "choices")
def choose(a, choices, out=None, mode="raise"):
    """``np.choose``: ``choices[a]`` elementwise, all broadcast together; ``mode`` ``"raise"``
    checks each index at every call, ``"wrap"`` takes it modulo the count, ``"clip"`` clips."""
    if out is not None:
        raise TraceError(f"np.choose(out=...) is not supported inside @mlc.jit; use the result{_where()}")
    index = as_tracer(a)
    if index.dtype.kind not in "iub":
        raise TraceError(f"np.choose: a must hold integers, got {index.dtype}{_where()}")
    given = list(choices) if isinstance(choices, (list, tuple)) else \
        [getitem(as_tracer(choices), k) for k in range(choices.shape[0])]
    if not given:
        raise ShapeError(f"np.choose: choices must not be empty{_where()}")
    options = [as_tracer(c, index._ctx) for c in given]
    n = len(options)
    dtype = np.result_type(*(c if type(c) in (int, float, complex) else o.dtype for c, o in zip(given, options)))
    shape = np.broadcast_shapes(index.shape, *(o.shape for o in options))
    index = index.astype("int64")
    if mode == "raise":
        index = where(index < 0, n, index)  # NumPy's choose takes no negative index
        check_indices(reshape(index, (-1,)), n, "np.choose", 0)
    elif mode == "wrap":
        index = remainder(index, n)
    elif mode == "clip":
        index = clip(index, 0, n - 1)
    else:
        raise TraceError(f"np.choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}{_where()}")
    result = broadcast_to(options[-1].astype(dtype), shape)
    for k in range(n - 2, -1, -1):
        result = where(index == k, options[k].astype(dtype), result)
    return result


def apply_over_axes(func, a, axes):
    """``np.apply_over_axes``: ``func(a, axis)`` for each axis in turn, each result kept at ``a``'s
    number of dimensions."""
    if not isinstance(a, Tracer):
        return np.apply_over_axes(func, a, axes)
    t = a
    for axis in ([axes] if np.ndim(axes) == 0 else list(axes)):
        axis = axis + t.ndim if axis < 0 else axis
        res = as_tracer(func(t, axis), t._ctx)
        if res.ndim == t.ndim:
            t = res
        elif res.ndim == t.ndim - 1:
            t = reshape(res, tuple(res.shape[:axis]) + (1,) + tuple(res.shape[axis:]))
        else:
            raise ShapeError(f"np.apply_over_axes: function is not returning an array of the correct shape"
                             f"{_where()}")
    return t


def _shape_of(name: str, arr, square: bool):
    shape = arr.shape
    if len(shape) != 2 and square is False:
        raise ShapeError(f"np.{name}: input array must be 2-d, got shape {tuple(shape)}{_where()}")
    return shape


def tril_indices_from(arr, k=0):
    """``np.tril_indices_from``: the (constant) row and column indices of ``arr``'s lower triangle."""
    rows, cols = _shape_of("tril_indices_from", arr, False)
    return np.tril_indices(rows, k=k, m=cols)


def triu_indices_from(arr, k=0):
    """``np.triu_indices_from``: the (constant) indices of ``arr``'s upper triangle."""
    rows, cols = _shape_of("triu_indices_from", arr, False)
    return np.triu_indices(rows, k=k, m=cols)


def diag_indices_from(arr):
    """``np.diag_indices_from``: the (constant) indices of the main diagonal of the square ``arr``."""
    shape = arr.shape
    if len(shape) < 2 or any(s != shape[0] for s in shape):
        raise ShapeError(f"np.diag_indices_from: all dimensions of the input must be of equal length, got "
                         f"shape {tuple(shape)}{_where()}")
    return np.diag_indices(shape[0], len(shape))
