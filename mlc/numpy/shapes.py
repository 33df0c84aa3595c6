"""Shape functions: reshape, transpose, indexing, concatenation, padding, ...

``moveaxis``, ``expand_dims``, ``squeeze`` and ``flip`` are generated from
their registry ops; the rest need Python (shape arguments, sequences of
arrays, no-op shortcuts).

Indexing takes static keys only: ints, slices (any step, negative too),
``None`` and ``...``; it records one ``slice`` op and, when dimensions are
dropped or added, one ``reshape``.

>>> import numpy as np, mlc
>>> mlc.numpy.getitem(np.arange(6, dtype="int32").reshape(2, 3), (slice(None, None, -1), 1))
array([4, 1], dtype=int32)
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import IndexBoundsError, IRError, ShapeError, TraceError
from ..ir.expr import PrimExpr
from ..ops.library.shape import index_text, plan_getitem, reshape_shape
from ..tracer.operands import as_tracer, as_tracers
from ..tracer.tracer import Tracer
from ..tracer.source import describe_location, user_location
from ..tracer.trace import current_trace, is_tracing
from ._api import emit, hashable, numpy_function
from .generated import GENERATED
from .bounds import access_text, check_indices
from .indexing import take, unchecked_take
from .loops import refuse_out
from .masked_read import Selection, nonzero_key
from .windows import Window, has_traced_slice, use_indexing, window_getitem, window_take
from .updates import concrete_key, element_index, gathered, index_array, is_bool_array

__all__ = [
    "reshape", "ravel", "transpose", "moveaxis", "swapaxes", "expand_dims", "squeeze",
    "broadcast_to", "concatenate", "stack", "split", "flip", "pad", "getitem",
]


@numpy_function("a")
def _reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    shape = newshape if shape is None else shape
    if shape is None:
        raise ShapeError("reshape: give the new shape")
    if order != "C":
        raise TraceError(f"reshape: only order='C' is supported, got {order!r}")
    if copy is False:
        raise TraceError("reshape: copy=False asks for a view, and a traced reshape is always a new "
                         "array; pass copy=None")
    t = as_tracer(a)
    shape = hashable(shape if isinstance(shape, (tuple, list)) else (shape,))
    return t if shape == t.shape else emit("reshape", [t], newshape=shape)


@functools.wraps(_reshape)
def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    """``np.reshape(a, shape)`` in row-major order; one dimension may be -1.

    Traced, it records a ``reshape`` op. On a concrete C-contiguous array
    (and ``copy`` not True) it is a view, as the Array API's ``copy=None`` and
    NumPy allow: a new shape over the same memory, nothing computed.
    Otherwise the copy is a compiled kernel; ``copy=False`` then raises.
    """
    target = newshape if shape is None else shape
    if (isinstance(a, np.ndarray) and copy is not True and order == "C" and target is not None
            and a.flags.c_contiguous and not is_tracing()):
        target = hashable(target if isinstance(target, (tuple, list)) else (target,))
        return a.reshape(reshape_shape(a.shape, target))
    return _reshape(a, shape, order, newshape=newshape, copy=copy)


@numpy_function("a")
def ravel(a, order="C"):
    """``a`` flattened to one dimension."""
    return reshape(a, (-1,), order)


@numpy_function("a")
def transpose(a, axes=None):
    """``np.transpose(a, axes)``; no axes reverses them."""
    t = as_tracer(a)
    if t.ndim < 2 and axes is None:
        return t
    return emit("transpose", [t], axes=hashable(axes))


@numpy_function("a")
def swapaxes(a, axis1, axis2):
    """``np.swapaxes(a, axis1, axis2)``."""
    t = as_tracer(a)
    perm = list(range(t.ndim))
    try:
        perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    except IndexError:
        raise ShapeError(f"swapaxes: axes ({axis1}, {axis2}) out of bounds for {t.ndim} dimensions") from None
    return emit("transpose", [t], axes=tuple(perm))


@numpy_function("array")
def broadcast_to(array, shape):
    """``np.broadcast_to(array, shape)`` (a copy, as every traced value is)."""
    t = as_tracer(array)
    shape = hashable(shape if isinstance(shape, (tuple, list)) else (shape,))
    return t if shape == t.shape else emit("broadcast_to", [t], shape=shape)


moveaxis, expand_dims = GENERATED["moveaxis"], GENERATED["expand_dims"]
squeeze, flip = GENERATED["squeeze"], GENERATED["flip"]


def _sequence(name: str, arrays) -> list:
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise ShapeError(f"{name}: takes a non-empty list or tuple of arrays, got {arrays!r}")
    return as_tracers(list(arrays))


@numpy_function("arrays", "out")
def concatenate(arrays, axis=0, out=None):
    """``np.concatenate(arrays, axis)``; ``axis=None`` flattens first."""
    refuse_out("concatenate", out)
    return emit("concatenate", _sequence("concatenate", arrays), axis=axis)


@numpy_function("arrays", "out")
def stack(arrays, axis=0, out=None):
    """``np.stack(arrays, axis)``."""
    refuse_out("stack", out)
    return emit("stack", _sequence("stack", arrays), axis=axis)


@numpy_function("ary")
def split(ary, indices_or_sections, axis=0):
    """``np.split(ary, indices_or_sections, axis)``: a list of arrays."""
    return list(emit("split", [as_tracer(ary)], indices_or_sections=hashable(indices_or_sections),
                     axis=axis))


#: np.pad's modes that copy elements of the array: the source position of each padded position
#: along an axis of ``n`` elements (``j`` counts from the first original element, negative before it)
_PAD_SOURCES = {
    "edge": lambda j, n: np.clip(j, 0, n - 1),
    "wrap": lambda j, n: np.mod(j, n),
    "reflect": lambda j, n: (np.zeros_like(j) if n == 1 else np.where(
        np.mod(j, 2 * (n - 1)) < n, np.mod(j, 2 * (n - 1)), 2 * (n - 1) - np.mod(j, 2 * (n - 1)))),
    "symmetric": lambda j, n: np.where(np.mod(j, 2 * n) < n, np.mod(j, 2 * n), 2 * n - 1 - np.mod(j, 2 * n)),
}


@numpy_function("array")
def pad(array, pad_width, mode="constant", constant_values=0, reflect_type="even"):
    """``np.pad(array, pad_width, mode, constant_values=...)``: mode ``"constant"`` (one ``pad``
    op), or ``"edge"``, ``"wrap"``, ``"reflect"``, ``"symmetric"`` (a gather per padded axis at
    the positions NumPy copies from, a static index array).

    >>> import numpy as np, mlc
    >>> mlc.numpy.pad(np.array([1, 2, 3]), (2, 3), mode="reflect")
    array([3, 2, 1, 2, 3, 2, 1, 2])
    """
    t = as_tracer(array)
    if mode == "constant":
        return emit("pad", [t], pad_width=hashable(pad_width), constant_values=constant_values)
    if mode not in _PAD_SOURCES or reflect_type != "even":
        raise TraceError(f"np.pad: mode {mode!r}{'' if reflect_type == 'even' else ' with reflect_type=' + repr(reflect_type)} "
                         f"does not trace; the modes that do are 'constant', 'edge', 'wrap', 'reflect' "
                         f"and 'symmetric'{describe_location(user_location())}")
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                             np.asarray(pad_width, dtype=np.int64), (t.ndim, 2))
    for axis, (before, after) in enumerate(widths.tolist()):
        n = t.shape[axis]
        if before == 0 and after == 0:
            continue
        if n == 0:
            raise ShapeError(f"np.pad: can't extend the empty axis {axis} using modes other than 'constant' "
                             f"or 'empty'{describe_location(user_location())}")
        sources = _PAD_SOURCES[mode](np.arange(-before, n + after), n).astype(np.int64)
        t = emit("take", [t, as_tracer(sources, t._ctx)], axis=axis)
    return t


# ------------------------------------------------------------------ indexing

_STATIC_KEYS = (int, np.integer, slice, type(None), type(Ellipsis))


def _check_static(key) -> None:
    items = key if isinstance(key, tuple) else (key,)
    for k in items:
        parts = (k.start, k.stop, k.step) if isinstance(k, slice) else (k,)
        for part in parts:
            if isinstance(part, PrimExpr):  # computed from the size of a dynamic axis
                raise TraceError(
                    f"an index computed from the size of a dynamic axis (`{part!r}`) is not supported "
                    f"while tracing; mark fewer axes dynamic (mlc.jit(dynamic=...)) so that the size "
                    f"is a Python int{describe_location(user_location())}")
            if part is not None and not isinstance(part, _STATIC_KEYS) or isinstance(part, bool):
                raise TraceError(
                    f"only static indexing is supported while tracing: ints, slices, None and ...; "
                    f"got {type(part).__name__} {part!r}{describe_location(user_location())}\n"
                    "Use mlc.numpy.where for masks, or mark the index argument static "
                    "(static_argnums)")


#: What to write instead of reading a boolean mask's elements (``x[mask]``) while tracing.
MASK_INSTEAD = ("keep the shape and mask the values: np.where(mask, x, 0).sum() for x[mask].sum(), "
                "np.count_nonzero(mask) for its length, np.where(mask, x, np.nan) with np.nanmean / "
                "np.nanmax for the others")


def _advanced_getitem(t, items: tuple, n: int, index):
    """``t[items]`` where ``items[n]`` is the one integer index array and every other entry a
    slice, None or ``...`` (NumPy's advanced indexing with one index array): the basic
    indexing with ``:`` there, then a gather (``take``) of the index's elements along that
    axis, whose dimensions take its place. A constant index out of range is refused as NumPy
    refuses it; a traced one is checked when the function runs (:mod:`.bounds`)."""
    basic = indexed(t, items[:n] + (slice(None),) + items[n + 1:], stand_in=False)
    used = sum(1 for k in items if k is not None and k is not Ellipsis)
    axis = sum(t.ndim - used if k is Ellipsis else 1 for k in items[:n])
    size = basic.shape[axis]
    if isinstance(index, np.ndarray) and isinstance(size, int) and index.size:
        bad = index[(index < -size) | (index >= size)]
        if bad.size:
            raise IndexBoundsError(f"index {int(bad[0])} is out of bounds for axis {axis} with size {size}"
                             f"{describe_location(user_location())}")
    check_indices(index, size, access_text(items), axis)
    flat = index.reshape(-1) if index.ndim != 1 else index
    gathered = unchecked_take(basic, flat, axis=axis)
    shape = tuple(basic.shape[:axis]) + tuple(index.shape) + tuple(basic.shape[axis + 1:])
    return gathered if tuple(gathered.shape) == shape else emit("reshape", [gathered], newshape=shape)


@numpy_function("a")
def getitem(a, key):
    """``a[key]`` with a static basic index: one ``slice`` op, then a ``reshape`` if needed;
    with one integer index array among slices, None and ``...`` (``a[:, [0, 2]]``, ``a[i]``
    for a traced ``i``), a gather after it (:func:`_advanced_getitem`); with several, or ints
    beside them, on adjacent axes, one gather of those axes merged (:func:`.updates.gathered`).
    A constant boolean mask is the indices of its True elements."""
    return indexed(a, key)


def indexed(a, key, stand_in: bool = True):
    """:func:`getitem`; ``stand_in=False`` for the index of a whole array taken on the way to
    another (the basic part of ``a[:, i]``, the axis a window of ``a[:, :i]`` masks), which is
    read, never written through: ``a`` itself, not a view of a compiled body's stand-in for it."""
    t = as_tracer(a)
    key = concrete_key(nonzero_key(key))
    items = key if isinstance(key, tuple) else (key,)
    at = element_index(t, items)
    if at is not None:  # one element at traced ints (a loop's element code)
        return emit("element_get", [t, *at])
    if has_traced_slice(items):  # x[:i] in a compiled loop: a window of the whole axis
        return window_getitem(t, items)
    if any(isinstance(k, Window) for k in items):  # x[indices[lo:hi]]: a gather, a window
        return window_take(t, items)
    if any(isinstance(k, (np.ndarray, list)) and is_bool_array(k) for k in items):  # a constant mask:
        items = tuple(part for k in items for part in (  # its True elements' indices (NumPy's meaning)
            np.nonzero(np.asarray(k)) if isinstance(k, (np.ndarray, list)) and is_bool_array(k) else (k,)))
        key = items
    arrays = [(n, index_array(k)) for n, k in enumerate(items)]
    arrays = [(n, index) for n, index in arrays if index is not None]
    if len(arrays) == 1 and all(k is None or k is Ellipsis or isinstance(k, slice)
                                for m, k in enumerate(items) if m != arrays[0][0]):
        return _advanced_getitem(t, items, *arrays[0])
    if arrays and not any(is_bool_array(k) for k in items):  # several, or beside ints, on adjacent axes
        return gathered(t, key)
    if _leading_mask(items, t):
        # lazy: a reduction or a masked write uses it; the axes after the mask's taken as they are
        rest = (slice(None),) * items[0].ndim + tuple(items[1:])
        return Selection(t if len(items) == 1 else getitem(t, rest), items[0])
    bad = next((k for k in items if isinstance(k, Tracer) and k.dtype.kind not in "iub"), None)
    if bad is not None:  # NumPy's IndexError: only integers, slices, ..., None and int or bool arrays
        raise TraceError(f"{access_text(items)}: a {bad.dtype} index; only integers, slices, ..., None and "
                         f"integer or boolean arrays are valid indices (NumPy raises IndexError). Convert "
                         f"it with .astype(int){describe_location(user_location())}")
    if any(isinstance(k, (list, np.ndarray, Tracer)) for k in items):
        raise TraceError(
            f"x[{index_text(key)}]: a traced boolean mask selects a number of elements known only when "
            f"the function runs, so the result's shape is unknown while tracing: reading the elements "
            f"of a boolean mask is not compiled; {MASK_INSTEAD}{describe_location(user_location())}")
    _check_static(key)
    try:
        starts, stops, steps, out_shape = plan_getitem(t.shape, key)
    except ShapeError as err:
        raise type(err)(f"{err}{describe_location(user_location())}") from None
    except IRError as err:  # a dynamic axis (mlc.jit(dynamic=...)) has no size to index with
        if all(isinstance(n, int) for n in t.shape):
            raise
        raise TraceError(f"x[{index_text(key)}] of an array of shape {tuple(t.shape)} is not "
                         f"supported along its dynamic axes: {err}. Mark fewer axes dynamic "
                         f"(mlc.jit(dynamic=...)), or compute without indexing (np.take, np.where, a "
                         f"reduction){describe_location(user_location())}") from None
    whole = all(lo == 0 and (hi is None or hi == n) and st == 1
                for lo, hi, st, n in zip(starts, stops, steps, t.shape))
    here = current_trace()
    if not whole or (stand_in and here is not None and here is not t._ctx and here.accepts(t)):  # (inside a compiled
        # branch or loop body, a view of an array of the code around it is a view of the body's
        # own stand-in for it, whose writes the body hands back, whatever part of it the view covers)
        t = emit("slice", [t], starts=starts, stops=stops, steps=steps)
    if _is_scalar_key(items, t.ndim):
        # x[1, 2]: NumPy's result is a scalar, a copy, not a view: a later write into x does
        # not change it (``old = x[i, j]; x[i, j] = new; err = old - new``)
        return t._ctx.emit("reshape", [t], {"newshape": tuple(out_shape)}, view=False)
    return t if t.shape == out_shape else emit("reshape", [t], newshape=out_shape)


def _leading_mask(items, t) -> bool:
    """Whether ``items`` is a traced boolean mask over ``t``'s leading axes, followed only by
    ``:``, ``None`` and ``...`` (``x[m]``, ``X[m]`` for a mask of rows, ``n[m, None]``)."""
    m = items[0] if items else None
    if not (isinstance(m, Tracer) and m.dtype == np.bool_ and m.ndim and t.ndim >= m.ndim
            and tuple(m.shape) == tuple(t.shape[:m.ndim])):
        return False
    return all(k is None or k is Ellipsis or (isinstance(k, slice) and k == slice(None)) for k in items[1:])


def _is_scalar_key(items, ndim: int) -> bool:
    """True when a basic index ``items`` takes every one of ``ndim`` axes with an integer (no
    slice, None or ``...``): NumPy returns a scalar, a copy, for it.

    >>> _is_scalar_key((1, 2), 2), _is_scalar_key((1, slice(None)), 2), _is_scalar_key((1, ...), 1)
    (True, False, False)
    """
    return len(items) == ndim and all(
        hasattr(k, "__index__") and not isinstance(k, (bool, np.bool_)) for k in items)


use_indexing(getitem=getitem, indexed=indexed)
