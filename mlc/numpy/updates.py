"""Writes into traced arrays: ``x[key] = value``, ``x += y``, ``out=x``, as new versions of ``x``.

Each write computes the array's whole new value with graph ops and makes it
the array's current version (:mod:`mlc.tracer.state` writes it through views
to the array they were taken from, and the jit writes a written argument back
into the caller's array):

- a basic index (ints, slices with any step, ``None``, ``...``): one
  ``update_slice`` op (the value broadcast to the indexed shape first), or, for
  a small region of a larger array, a ``dynamic_update_slice`` at constant starts;
- traced ints (a loop's index, a computed int) with static slices beside them
  (``A[i, j] = v``, ``C[:, i] = c``, ``p[1:-1, j] = q``, ``x[i, ::2] = r``): one
  ``dynamic_update_slice``, the traced ints its starts. Both store only the
  region, in the array's own buffer where its old version is dead after the
  write, else into a copy (:mod:`mlc.passes.graph.inplace`); inside a loop's body
  a write of one element is an ``element_set``, stored in place the same way;
- a boolean mask (``s[s <= 0.1] = 1.0``, ``x[:, m] = v``, with ``:`` and ``...``
  beside it): ``where(mask, value, x)``; the value must broadcast to the masked
  elements' shape without their count (one value per True element needs the
  count, known only when the function runs). A constant mask (a NumPy array)
  is the indices of its True elements, anywhere in the key;
- integer index arrays (lists, NumPy or traced arrays, a traced int), one or
  several on adjacent axes, with slices around them: a scatter. Where an index
  repeats, the last value written wins, as in NumPy. A constant index is
  checked (NumPy's IndexError, as a ShapeError); a traced one out of bounds is a
  BoundsError (an IndexError) when the function runs, before any argument is
  written back.

Values are cast to the array's dtype as NumPy's item assignment casts them
(unsafely: ``a_int[0] = 1.7`` stores 1), and a Python int out of the dtype's
range is NumPy 2's OverflowError (a DTypeError).

>>> import numpy as np, mlc
>>> @mlc.jit
... def f(x):
...     y = np.zeros_like(x)
...     y[::2] = x[::2] * 10
...     y[y > 15] = -1.0
...     return y
>>> f(np.arange(5, dtype="float32"))
array([ 0.,  0., -1.,  0., -1.], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DTypeError, IndexBoundsError, IRError, ShapeError, TraceError
from ..ir.graph import Constant
from ..ops.library import broadcast_shapes
from ..ops.library.shape import _slice_signature, index_text, plan_getitem
from ..tracer.operands import as_tracer, as_tracers
from ..tracer.source import describe_location, user_location
from ..tracer.state import write
from ..tracer.trace import current_trace
from ..tracer.tracer import Tracer
from ._api import emit, numpy_function
from .elementwise import astype, where
from .bounds import access_text, check_index, check_indices
from .masked_read import Selection, nonzero_key, same_mask, selection_refusal
from .windows import Window, has_traced_slice, use_indexing, window_setitem

__all__ = ["setitem", "assign", "update_slice", "assigned", "gathered", "concrete_key", "copyto", "fill_diagonal", "put", "index_array",
           "is_bool_array"]


def _where() -> str:
    return describe_location(user_location())


def _trace_for(base: Tracer):
    """The trace that records ops on ``base`` now: inside a compiled loop's body, the body's
    (which captures ``base`` from around it), else ``base``'s own."""
    ctx = current_trace()
    return ctx if ctx is not None and ctx.accepts(base) else base._ctx


#: The smallest array a static slice write stores in place (a smaller one is one fused pass: two
#: kernels, the value's and the store, cost more than one pass over it).
_IN_PLACE_FROM = 256


def _static_trace(base: Tracer) -> bool:
    """Whether ``base`` and every input of the trace recording its writes have static shapes:
    an in-place write needs a static region, and a program with dynamic axes runs its kernels
    one by one, without ``main``'s copies (there, writes stay passes over the array)."""
    if not all(isinstance(n, (int, np.integer)) for n in base.shape):
        return False
    return all(isinstance(n, (int, np.integer)) for v in _trace_for(base).inputs for n in v.type.shape)


def update_slice(base: Tracer, value: Tracer, starts, stops, steps) -> Tracer:
    """``base`` with ``value`` (of the slice's shape and ``base``'s dtype) at the slice: a region
    of at most a quarter of an array of ``_IN_PLACE_FROM`` elements or more is stored in place
    (``dynamic_update_slice`` at constant starts: only the region is written where ``base`` is
    dead after the write); a larger one is one pass over the array (``update_slice``), which fuses with the value's producer."""
    shape = tuple(base.shape)
    if base.ndim and _static_trace(base):
        dims = _slice_signature(shape, starts, stops, steps)
        region = tuple(d[3] for d in dims)
        if 4 * math.prod(region) <= math.prod(shape) and math.prod(shape) >= _IN_PLACE_FROM and \
                tuple(value.shape) == region:
            ctx = _trace_for(base)
            return emit("dynamic_update_slice", [base, value, *(as_tracer(np.int64(d[0]), ctx) for d in dims)],
                        steps=tuple(d[2] for d in dims))
    return emit("update_slice", [base, value], starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))


def assign(target: Tracer, result, what: str) -> Tracer:
    """Store ``result`` in ``target`` whole (``x += y``, ``out=x``): NumPy's ``same_kind`` cast
    to ``target``'s dtype, and ``target``'s shape kept; returns ``target``."""
    result = as_tracer(result, target._ctx)
    if tuple(result.shape) != tuple(target.shape):
        raise ShapeError(f"{what}: non-broadcastable output operand with shape {tuple(target.shape)} doesn't "
                         f"match the broadcast shape {tuple(result.shape)}{_where()}")
    if result.dtype != target.dtype:
        if not np.can_cast(result.dtype, target.dtype, "same_kind"):
            raise DTypeError(f"{what}: cannot cast the result from {result.dtype} to {target.dtype} with casting "
                             f"rule 'same_kind' (as NumPy); cast it first with .astype(...){_where()}")
        result = astype(result, target.dtype)
    write(target, result, update_slice)
    return target


def setitem(target: Tracer, key, value) -> None:
    """``target[key] = value`` (see the module's docstring)."""
    if target.weak:
        raise TraceError(f"item assignment into a Python scalar argument{_where()}")
    key = concrete_key(nonzero_key(key))
    items = key if isinstance(key, tuple) else (key,)
    if has_traced_slice(items):  # x[:i] = ... in a compiled loop (see .windows)
        return window_setitem(target, items, value)
    base = Tracer(target._ctx, target._atom)
    write(target, assigned(base, key, value), update_slice)


def assigned(base: Tracer, key, value) -> Tracer:
    """The new value of ``base`` after ``base[key] = value``."""
    try:
        return _assigned(base, key, value)
    except IRError as err:  # a dynamic axis (mlc.jit(dynamic=...)) has no size to index with
        raise TraceError(f"x[{index_text(key)}] = ... on an array of shape {tuple(base.shape)} is not supported "
                         f"along its dynamic axes: {err}. Mark fewer axes dynamic (mlc.jit(dynamic=...)), or "
                         f"write np.where(mask, value, x){_where()}") from None


def element_index(base: Tracer, key, write: bool = False):
    """The indices of ``base[key]`` as 0-d int Tracers when ``key`` names one element by ints
    (``a[i, j]`` in a loop over ``i``, or ``a[0, j]``), else None: such a read or write is
    an ``element_get``/``element_set``, which a loop of them compiles into one kernel. Inside a
    loop's body only (elsewhere the gather and scatter check a written index's bounds when the
    function runs); there a read out of bounds is clipped, a write out of bounds writes nothing,
    and either raises BoundsError when the function runs (:mod:`.bounds`)."""
    items = key if isinstance(key, tuple) else (key,)
    inner = current_trace()
    if inner is None or not inner.captures:  # outside a loop's body: a gather or scatter, checked
        return None
    if base.ndim == 0 or len(items) != base.ndim or not all(isinstance(n, int) for n in base.shape):
        return None
    out = []
    for k, n in zip(items, base.shape):
        if isinstance(k, Tracer):
            if k.ndim != 0 or k.dtype == np.bool_ or np.dtype(k.dtype).kind not in "iu":
                return None
            out.append(k.strong() if k.weak else k)
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            if not -n <= int(k) < n:
                return None  # out of bounds: the static path says so, as NumPy's IndexError
            out.append(as_tracer(np.int64(k), base._ctx))
        else:
            return None
    for axis, (k, n) in enumerate(zip(items, base.shape)):
        check_index(k, n, access_text(key, write), axis)
    return out


def _assigned(base: Tracer, key, value) -> Tracer:
    items = key if isinstance(key, tuple) else (key,)
    at = element_index(base, items, write=True)
    if at is not None and not isinstance(value, (list, tuple)) and np.ndim(value) == 0:
        v = _cast(base, value)
        if v.ndim == 0:
            return emit("element_set", [base, v, *at])
    mask = _mask(items)
    if isinstance(value, Selection):  # a[mask] = b[mask] * 2: the values where the mask holds
        if mask is None or mask[0] != 0 or not isinstance(mask[1], Tracer) or not same_mask(as_tracer(mask[1], base._ctx),
                                                                                value.mask):
            raise selection_refusal(f"x[{index_text(key)}] = (y[mask] ...): the selection's mask is not the "
                                    "written one")
        written = value.values
        if written.ndim != base.ndim or tuple(written.shape[:value.mask.ndim]) != tuple(value.mask.shape) \
                or broadcast_shapes(tuple(written.shape), tuple(base.shape)) != tuple(base.shape):
            raise selection_refusal(f"x[{index_text(key)}] = y[mask] with y of another shape than x")
        return where(value._full_mask(), _cast(base, written), base)
    if mask is not None:
        return _masked(base, items, *mask, value)
    if any(is_bool_array(k) for k in items):  # constant masks among other indices: their True elements
        items = tuple(part for k in items for part in (
            np.nonzero(np.asarray(k)) if is_bool_array(k) else (k,)))
    if _pointwise(items, base.ndim):
        if _static_trace(base):
            return _point_written(base, items, value)
        if all(_scalar_index(k) or _whole_axis(k) for k in items):
            return _point_where(base, items, value)
    if any(index_array(k) is not None for k in items):
        return _scattered(base, items, value)
    try:
        starts, stops, steps, shape = plan_getitem(base.shape, key)
    except (ShapeError, TypeError) as err:
        raise (type(err) if isinstance(err, ShapeError) else ShapeError)(
            f"x[{index_text(key)}] = ...: {err}{_where()}") from None
    dims = _slice_signature(base.shape, starts, stops, steps)
    v = _fit(_cast(base, value), tuple(shape), key)
    region = tuple(d[3] for d in dims)
    if tuple(v.shape) != region:
        v = emit("reshape", [v], newshape=region)
    if all(lo == 0 and step == 1 and count == n for (lo, _, step, count), n in zip(dims, base.shape)):
        return v
    if any(d[3] == 0 for d in dims):
        return base
    return update_slice(base, v, starts, stops, steps)


# ------------------------------------------------------------------ traced ints and whole axes

def _scalar_index(k) -> bool:
    return isinstance(k, Tracer) and k.ndim == 0 and k.dtype.kind in "iu"


def _pointwise(items: tuple, ndim: int) -> bool:
    """Whether ``items`` is traced ints (0-d) and static slices only (``A[i, j]``, ``C[:, i]``,
    ``p[1:-1, j]``, at least one traced int): a write of a region at a traced offset."""
    if not any(_scalar_index(k) for k in items) or sum(1 for k in items if k is Ellipsis) > 1:
        return False
    return len([k for k in items if k is not Ellipsis]) <= ndim and all(
        _scalar_index(k) or k is Ellipsis or (isinstance(k, slice) and _static_slice(k)) for k in items)


def _static_slice(k: slice) -> bool:
    return all(b is None or (isinstance(b, (int, np.integer)) and not isinstance(b, (bool, np.bool_)))
               for b in (k.start, k.stop, k.step))


def _point_written(base: Tracer, items: tuple, value) -> Tracer:
    """``base[items] = value`` for :func:`_pointwise` items: one ``dynamic_update_slice``, each
    traced int the start of an axis of extent 1, each slice its static start, step and length
    (stored in place where ``base`` is dead after the write: only the region is written). An
    index outside its axis writes nothing, and is a BoundsError when the function runs."""
    ctx = _trace_for(base)
    n_ell = base.ndim - len([k for k in items if k is not Ellipsis])
    axes = [k2 for k in items for k2 in ((slice(None),) * n_ell if k is Ellipsis else (k,))]
    axes += [slice(None)] * (base.ndim - len(axes))
    kept, starts, steps, region = [], [], [], []
    for a, k in enumerate(axes):
        n = base.shape[a]
        if not _scalar_index(k):
            lo, hi, step = k.indices(n)
            count = len(range(lo, hi, step))
            if count == 0:
                return base
            kept.append(count)
            region.append(count)
            starts.append(as_tracer(np.int64(lo), ctx))
            steps.append(step)
            continue
        check_index(k, n, access_text(items, True), a)
        starts.append(astype(k.strong(), "int64"))
        steps.append(1)
        region.append(1)
    v = _fit(_cast(base, value), tuple(kept), items)
    if tuple(v.shape) != tuple(region):
        v = emit("reshape", [v], newshape=tuple(region))
    return emit("dynamic_update_slice", [base, v, *starts], steps=tuple(steps))


def _point_where(base: Tracer, items: tuple, value) -> Tracer:
    """``base[items] = value`` for traced ints and whole axes on an array with dynamic axes
    (no static region to store): ``where(at, value, base)``, ``at``
    True where each traced int's axis is at its index (one pass over ``base``, no gather). An
    index outside its axis writes nothing, and is a BoundsError when the function runs."""
    ctx = _trace_for(base)
    n_ell = base.ndim - len([k for k in items if k is not Ellipsis])
    axes = [k2 for k in items for k2 in ((slice(None),) * n_ell if k is Ellipsis else (k,))]
    axes += [slice(None)] * (base.ndim - len(axes))
    at, kept = None, []
    for a, k in enumerate(axes):
        if not _scalar_index(k):
            kept.append(base.shape[a])
            continue
        n = base.shape[a]
        check_index(k, n, access_text(items, True), a)
        t = astype(k.strong(), "int64")
        shape = [1] * base.ndim
        shape[a] = n
        iota = ctx.array(np.arange(n, dtype=np.int64).reshape(shape))
        hit = iota == where(t < 0, t + n, t)
        at = hit if at is None else at & hit
    v = _fit(_cast(base, value), tuple(kept), items)
    shape = tuple(1 if _scalar_index(k) else d for k, d in zip(axes, base.shape))
    if tuple(v.shape) != shape:
        v = emit("reshape", [v], newshape=shape)
    return where(at, v, base)


# ------------------------------------------------------------------ values

def _cast(base: Tracer, value) -> Tracer:
    """``value`` as a Tracer of ``base``'s dtype, as NumPy's item assignment converts it."""
    if isinstance(value, Tracer) and not _trace_for(base).accepts(value):
        raise TraceError("a traced value from another (finished) trace was assigned" + _where())
    if isinstance(value, (list, tuple)) or isinstance(value, (bool, int, float, complex)):
        _, v = as_tracers([base, value], _trace_for(base), op="setitem")
    else:
        v = as_tracer(value, _trace_for(base))
        if v.weak:
            _, v = as_tracers([base, v], _trace_for(base), op="setitem")
    return v if v.dtype == base.dtype else astype(v, base.dtype)


def _fit(v: Tracer, shape: tuple, key) -> Tracer:
    """``v`` broadcast to ``shape`` as NumPy's item assignment broadcasts (leading size-1 axes
    beyond ``shape``'s dropped)."""
    while v.ndim > len(shape) and v.shape[0] == 1:
        v = emit("reshape", [v], newshape=tuple(v.shape[1:]))
    try:
        ok = v.ndim <= len(shape) and broadcast_shapes(tuple(v.shape), shape) == tuple(shape)
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"x[{index_text(key)}] = ...: could not broadcast input array from shape "
                         f"{tuple(v.shape)} into shape {tuple(shape)}{_where()}")
    return v if tuple(v.shape) == tuple(shape) else emit("broadcast_to", [v], shape=tuple(shape))


# ------------------------------------------------------------------ masks

def is_bool_array(k) -> bool:
    """Whether ``k`` is a boolean mask (a bool ndarray, list or traced array)."""
    if isinstance(k, Tracer):
        return k.dtype == np.bool_
    if isinstance(k, np.ndarray):
        return k.dtype == np.bool_
    return isinstance(k, list) and np.asarray(k).dtype == np.bool_


def _whole_axis(k) -> bool:
    return k is Ellipsis or (isinstance(k, slice) and k == slice(None))


def _mask(items):
    """(position, mask) of the one boolean mask of a key whose other entries are ``:`` and ``...``,
    or None for a key without a mask. A constant mask elsewhere is left to the caller (its True
    elements' indices, :func:`_assigned`); any other mixture is a TraceError."""
    masks = [n for n, k in enumerate(items) if is_bool_array(k)]
    if not masks:
        return None
    if len(masks) > 1 or any(not _whole_axis(k) for n, k in enumerate(items) if n != masks[0]):
        if all(not isinstance(items[n], Tracer) for n in masks):
            return None
        raise TraceError(f"x[{index_text(items)}] = ...: a traced boolean mask is supported with only ':' and '...' "
                         f"beside it while tracing; index the other axes first, or write np.where(mask, value, x)"
                         f"{_where()}")
    return masks[0], items[masks[0]]


def _masked(base: Tracer, items, position: int, mask, value) -> Tracer:
    """``base[items] = value``, ``items[position]`` a boolean mask and the rest ``:`` and ``...``:
    ``where(mask, value, base)``, the mask's axes where it stands."""
    m = as_tracer(mask, _trace_for(base))
    width = base.ndim - sum(m.ndim if n == position else 1 for n, k in enumerate(items) if k is not Ellipsis)
    before = sum(width if k is Ellipsis else 1 for k in items[:position])  # the axes before the mask's
    axes = tuple(base.shape[before:before + m.ndim])
    if tuple(m.shape) != axes or before + m.ndim > base.ndim:
        raise ShapeError(f"x[{index_text(items)}] = ...: the mask's shape {tuple(m.shape)} does not match the "
                         f"array's axes {axes} it indexes (NumPy's IndexError){_where()}")
    lead, rest = tuple(base.shape[:before]), tuple(base.shape[before + m.ndim:])
    v = _cast(base, value)
    full = len(lead) + 1 + len(rest)
    if v.ndim > len(rest) and (v.ndim > full or v.shape[v.ndim - len(rest) - 1] != 1):
        if not isinstance(mask, Tracer):  # a constant mask: its True elements are known now
            return _scattered(base, items[:position] + tuple(np.nonzero(np.asarray(mask))) + items[position + 1:], v)
        raise TraceError(f"x[mask] = values of shape {tuple(v.shape)}: one value per True element needs the "
                         f"count of True elements, known only when the function runs; assign a value of "
                         f"shape {rest} (or a scalar), or write np.where(mask, values, x) with values of "
                         f"x's shape{_where()}")
    if v.ndim > len(rest):  # the values' axis of the True elements has size 1: each mask axis 1
        v = emit("reshape", [v], newshape=(1,) * (full - v.ndim) + tuple(v.shape))
        v = _fit(v, lead + (1,) + rest, items)
        v = emit("reshape", [v], newshape=lead + (1,) * m.ndim + rest)
    else:
        v = _fit(v, rest, items)
    m = emit("reshape", [m], newshape=(1,) * len(lead) + tuple(m.shape) + (1,) * len(rest)) \
        if lead or rest else m
    return where(m, v, base)


# ------------------------------------------------------------------ index arrays

def concrete_key(key):
    """``key`` with each traced constant in it (``np.arange(3)`` made inside the function, not
    written since) as its NumPy value (a 0-d integer one as a Python int): a static index."""
    items = key if isinstance(key, tuple) else (key,)
    if any(_traced_list(k) for k in items):  # A[[k, p]] with a traced p: an index array
        items = tuple(_stacked(k) if _traced_list(k) else k for k in items)
        key = items if isinstance(key, tuple) else items[0]
    if not any(isinstance(k, Tracer) for k in items):
        return key
    out = []
    for k in items:
        if isinstance(k, Tracer) and not isinstance(k, Window) and isinstance(k._atom, Constant) and not k.weak:
            k = k._atom.data
            k = int(k) if k.ndim == 0 and k.dtype.kind in "iu" else k
        out.append(k)
    return tuple(out) if isinstance(key, tuple) else out[0]


def _traced_list(k) -> bool:
    """Whether ``k`` is a list of integers some of which are traced (0-d) values: an index
    array whose elements are known when the function runs (``A[[k, p]]`` for a pivot ``p``)."""
    return isinstance(k, list) and any(isinstance(e, Tracer) for e in k) and all(
        (isinstance(e, Tracer) and e.ndim == 0 and e.dtype.kind in "iu")
        or (hasattr(e, "__index__") and not isinstance(e, (bool, np.bool_, Tracer))) for e in k)


def _stacked(k: list) -> Tracer:
    """The list ``k`` of (traced) integers as one traced int64 index array."""
    parts = [emit("reshape", [astype(as_tracer(e), "int64").strong()], newshape=(1,)) for e in k]
    return parts[0] if len(parts) == 1 else emit("concatenate", parts, axis=0)


def index_array(k):
    """``k`` as an integer index (an int ndarray, or a traced int array or scalar), else None."""
    if isinstance(k, Tracer):
        return k if k.dtype.kind in "iu" else None
    if isinstance(k, (list, np.ndarray)):
        values = np.asarray(k)
        if values.size == 0 and values.dtype.kind == "f":
            values = values.astype(np.intp)
        return values if values.dtype.kind in "iu" else None
    return None


def _expanded(items: tuple, ndim: int, key) -> tuple:
    """``items`` with ``...`` made slices and missing trailing axes ``:``; one entry per axis."""
    if any(k is None for k in items):
        raise TraceError(f"x[{index_text(key)}] = ...: None beside an index array is not supported while "
                         f"tracing; leave the None out (it only adds an axis of size 1){_where()}")
    if sum(1 for k in items if k is Ellipsis) > 1:
        raise ShapeError(f"an index can only have a single ellipsis ('...'){_where()}")
    if Ellipsis in [k for k in items if not isinstance(k, (Tracer, np.ndarray, list))]:
        n = next(n for n, k in enumerate(items) if k is Ellipsis and not isinstance(k, (Tracer, np.ndarray)))
        items = items[:n] + (slice(None),) * (ndim - len(items) + 1) + items[n + 1:]
    if len(items) > ndim:
        raise ShapeError(f"too many indices for array: array is {ndim}-dimensional, but {len(items)} were "
                         f"indexed{_where()}")
    return items + (slice(None),) * (ndim - len(items))


class _Advanced:
    """How a key with integer index arrays (and ints) on adjacent axes reads ``base``: the basic
    slice of the other axes (``part``), the adjacent axes from ``first`` merged into one that the
    flat index ``flat`` (1-D) reads, and the shape of the indices broadcast (``index_shape``)."""

    def __init__(self, base: Tracer, key, checked: bool = False, what: str = ""):
        items = _expanded(key if isinstance(key, tuple) else (key,), base.ndim, key)
        advanced = [n for n, k in enumerate(items) if not isinstance(k, slice)]
        if advanced != list(range(advanced[0], advanced[-1] + 1)):
            raise TraceError(f"x[{index_text(key)}]: index arrays separated by slices (NumPy moves their axes "
                             f"first) are not supported while tracing; index in two steps{_where()}")
        self.first, count = advanced[0], len(advanced)
        basic = tuple(slice(None) if n in advanced else k for n, k in enumerate(items))
        self.starts, self.stops, self.steps, _ = plan_getitem(base.shape, basic)
        dims = _slice_signature(base.shape, self.starts, self.stops, self.steps)
        self.whole = all(lo == 0 and step == 1 and c == n for (lo, _, step, c), n in zip(dims, base.shape))
        part = base if self.whole else emit("slice", [base], starts=self.starts, stops=self.stops, steps=self.steps)
        self.part = part
        sizes = tuple(part.shape[self.first:self.first + count])
        indices = [index_array(items[n]) if index_array(items[n]) is not None else np.asarray(items[n])
                   for n in advanced]
        for k in indices:
            if not isinstance(k, Tracer) and k.dtype.kind not in "iu":
                raise TraceError(f"x[{index_text(key)}]: only integers, slices, ..., None and integer or "
                                 f"boolean arrays are valid indices, got {k.dtype}{_where()}")
        try:
            self.index_shape = tuple(broadcast_shapes(*[tuple(k.shape) for k in indices]))
        except ShapeError:
            raise ShapeError(f"x[{index_text(key)}]: shape mismatch: indexing arrays could not be broadcast "
                             f"together with shapes {' '.join(str(tuple(k.shape)) for k in indices)}{_where()}") from None
        self.before, self.after = tuple(part.shape[:self.first]), tuple(part.shape[self.first + count:])
        self.flat = _flat_index(indices, sizes, self.index_shape, key, _trace_for(base), checked and what,
                                self.first)
        self.count = int(np.prod(self.index_shape, dtype=np.int64))
        merged = math.prod(sizes)
        self.rows = part if count == 1 else emit("reshape", [part], newshape=self.before + (merged,) + self.after)

    @property
    def shape(self) -> tuple:
        """The shape of ``base[key]``."""
        return self.before + self.index_shape + self.after


def gathered(base: Tracer, key) -> Tracer:
    """``base[key]`` where ``key`` holds integer index arrays (and ints) on adjacent axes and slices
    elsewhere: one gather (``take``) of the merged axes."""
    plan = _Advanced(base, key, checked=True, what=access_text(key))
    out = emit("take", [plan.rows, as_tracer(plan.flat, _trace_for(base))], axis=plan.first)
    return out if tuple(out.shape) == plan.shape else emit("reshape", [out], newshape=plan.shape)


def _scattered(base: Tracer, items: tuple, value) -> Tracer:
    """``base[items] = value`` where ``items`` holds integer index arrays (and ints) on adjacent
    axes and slices elsewhere."""
    plan = _Advanced(base, items, checked=True, what=access_text(items, True))
    v = _fit(_cast(base, value), plan.shape, items)
    flat_shape = plan.before + (plan.count,) + plan.after
    vals = v if tuple(v.shape) == flat_shape else emit("reshape", [v], newshape=flat_shape)
    new = _scatter(plan.rows, plan.first, plan.flat, vals)
    part = plan.part
    if tuple(new.shape) != tuple(part.shape):
        new = emit("reshape", [new], newshape=tuple(part.shape))
    return new if plan.whole else update_slice(base, new, plan.starts, plan.stops, plan.steps)


def _flat_index(indices, sizes, index_shape, key, ctx, checked: str = "", first: int = 0):
    """The indices into the adjacent axes of ``sizes`` (from axis ``first``) as one flat
    (row-major) index of the merged axis, a 1-D int64 array (a NumPy array when every index is
    constant: checked); traced ones checked when the function runs, the access described as
    ``checked`` (:mod:`.bounds`)."""
    if all(not isinstance(k, Tracer) for k in indices):
        wrapped = []
        for k, n in zip(indices, sizes):
            bad = k[(k < -n) | (k >= n)]
            if bad.size:
                raise IndexBoundsError(f"x[{index_text(key)}] = ...: index {int(bad.flat[0])} is out of bounds for an "
                                 f"axis with size {n}{_where()}")
            wrapped.append(np.broadcast_to(np.where(k < 0, k + n, k).astype(np.int64), index_shape))
        return np.ravel_multi_index(wrapped, sizes).reshape(-1) if wrapped[0].size else np.zeros(0, np.int64)
    flat = None
    stride = 1
    for axis, (k, n) in reversed(list(enumerate(zip(indices, sizes), first))):
        if checked:  # checked when the function runs, as NumPy checks it
            check_indices(k, n, checked, axis)
        t = astype(as_tracer(k, ctx), "int64")
        t = where(t < 0, t + n, t)
        term = t * stride if stride != 1 else t
        flat = term if flat is None else flat + term
        stride *= n
    flat = emit("broadcast_to", [flat], shape=tuple(index_shape)) if tuple(flat.shape) != tuple(index_shape) else flat
    return emit("reshape", [flat], newshape=(-1,)) if flat.ndim != 1 else flat


def _scatter(rows: Tracer, axis: int, flat, values: Tracer) -> Tracer:
    """``rows`` with ``values[..., j, ...]`` written at ``rows[..., flat[j], ...]`` along ``axis``,
    the last ``j`` winning where an index repeats; indices outside the axis write nothing (the
    trace checks them: :func:`_flat_index`)."""
    n, m = rows.shape[axis], values.shape[axis]
    if m == 0:
        return rows
    if isinstance(flat, np.ndarray):  # the last writer of each position, known now
        last = np.full(n, -1, np.int64)
        last[flat] = np.arange(m)
    else:
        positions = np.arange(n, dtype=np.int64).reshape(n, 1)
        hits = emit("equal", [emit("reshape", [flat], newshape=(1, m)), as_tracer(positions, _trace_for(rows))])
        order = as_tracer(np.arange(m, dtype=np.int64).reshape(1, m), _trace_for(rows))
        last = emit("max", [where(hits, order, np.int64(-1))], axis=1)
    hit = last >= 0
    source = np.maximum(last, 0) if isinstance(last, np.ndarray) else where(hit, last, np.int64(0))
    gathered = emit("take", [values, as_tracer(source, _trace_for(rows))], axis=axis)
    shape = (1,) * axis + (n,) + (1,) * (rows.ndim - axis - 1)
    hit = np.reshape(hit, shape) if isinstance(hit, np.ndarray) else emit("reshape", [hit], newshape=shape)
    return where(hit, gathered, rows)


# ------------------------------------------------------------------ NumPy's writing functions

def _writable(name: str, a) -> Tracer:
    if not isinstance(a, Tracer) or a.weak:
        raise TraceError(f"np.{name} writes into its first argument, which must be an array the traced function "
                         f"can write (an argument, or an array it made), got {type(a).__name__}{_where()}")
    return a


@numpy_function("dst", "src", "where")
def copyto(dst, src, casting="same_kind", where=True):
    """``np.copyto(dst, src)``: ``src`` broadcast into ``dst`` where ``where`` holds, cast under
    ``casting`` (NumPy's DTypeError where it forbids the cast)."""
    target = _writable("copyto", dst)
    value = as_tracer(src, target._ctx)
    if value.weak:
        _, value = as_tracers([target, value], target._ctx, op="copyto")
    elif value.dtype != target.dtype and not np.can_cast(value.dtype, target.dtype, casting):
        raise DTypeError(f"np.copyto: cannot cast array data from {value.dtype} to {target.dtype} according to the "
                         f"rule {casting!r} (as NumPy); pass casting='unsafe' or cast src first{_where()}")
    value = _fit(astype(value, target.dtype) if value.dtype != target.dtype else value, tuple(target.shape),
                 Ellipsis)
    if where is not True:
        value = _where_values(where, value, target)
    write(target, value, update_slice)


def _where_values(mask, value, target):
    m = as_tracer(mask, target._ctx)
    if m.weak:
        m = astype(m, "bool")
    return emit("where", [m, value, Tracer(target._ctx, target._atom)])


@numpy_function("a", "val")
def fill_diagonal(a, val, wrap=False):
    """``np.fill_diagonal(a, val)``: ``val`` (one value, or one per diagonal element) written on the
    main diagonal of ``a`` (2-D, or with all sides equal); ``wrap`` continues it past a tall
    matrix's square top, as NumPy does."""
    target = _writable("fill_diagonal", a)
    shape = tuple(target.shape)
    if len(shape) < 2 or (len(shape) > 2 and len(set(shape)) != 1):
        raise ShapeError(f"np.fill_diagonal: the array must be at least 2-d, and all its sides equal beyond 2-d; "
                         f"got shape {shape}{_where()}")
    if len(shape) == 2:
        step, end = shape[1] + 1, None if wrap else shape[1] * shape[1]
    else:
        step, end = 1 + sum(shape[0] ** k for k in range(1, len(shape))), None
    count = len(range(*slice(None, end, step).indices(math.prod(shape))))
    value = as_tracer(val, target._ctx) if not isinstance(val, (bool, int, float, complex)) else val
    if not isinstance(value, (bool, int, float, complex)) and value.size not in (1, count):
        raise TraceError(f"np.fill_diagonal: {value.size} values for {count} diagonal elements; NumPy repeats "
                         f"them, which is supported for one value or one per element{_where()}")
    if not isinstance(value, (bool, int, float, complex)):
        value = emit("reshape", [value], newshape=(value.size,)) if value.ndim != 1 else value
    flat = target._ctx.emit("reshape", [target], {"newshape": (math.prod(shape),)})  # a view: writes go to a
    setitem(flat, slice(None, end, step), value)


@numpy_function("a", "ind", "v")
def put(a, ind, v, mode="raise"):
    """``np.put(a, ind, v)``: ``v`` written at the flat indices ``ind`` of ``a`` (``mode="raise"``,
    NumPy's default: a constant index out of bounds is a ShapeError); one value, or one per index."""
    target = _writable("put", a)
    if mode != "raise":
        raise TraceError(f"np.put(..., mode={mode!r}): only mode='raise' is supported while tracing; wrap or clip "
                         f"the indices first (np.mod, np.clip){_where()}")
    values_shape, indices_shape = np.shape(v), np.shape(ind)
    if values_shape not in ((), (1,)) and math.prod(values_shape) != math.prod(indices_shape):
        raise TraceError(f"np.put: values of shape {tuple(values_shape)} for indices of shape {tuple(indices_shape)}: "
                         f"NumPy repeats values shorter than the indices; pass one value or one per index{_where()}")
    if values_shape not in ((), (1,)) and tuple(values_shape) != tuple(indices_shape):
        v = emit("reshape", [as_tracer(v, target._ctx)], newshape=tuple(indices_shape))
    flat = target._ctx.emit("reshape", [target], {"newshape": (target.size,)})  # a view: writes go to a
    setitem(flat, ind, v)


use_indexing(setitem=setitem, cast=_cast, replace=lambda target, new: write(target, new, update_slice))
