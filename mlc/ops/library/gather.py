"""Gathers and searches with data-dependent loads: ``take``, ``take_along_axis``, ``searchsorted``;
and ``index_add``, the scatter-add that is the gathers' VJP.

``take`` and ``take_along_axis`` load ``x`` at an index read from another
buffer (a te load whose index is itself a load). A negative index counts from
the end, as in NumPy; an index still out of ``[0, n)`` is clipped into it, so
a kernel never reads outside ``x`` (NumPy raises IndexError there; checking
values needs them, which a compiled kernel only has at run time).

``searchsorted`` is a branch-free binary search per query: log2(n) steps,
each adding a power of two to the count of sorted elements before the query
when the element that far along still is; the count lives in the output (on
the GPU, a thread per query, in a register).

>>> from mlc import te
>>> from mlc.ops import get_op
>>> x, i = te.placeholder((5, 3), "float32", "x"), te.placeholder((4,), "int64", "i")
>>> get_op("take").lower(x, i, axis=0).shape
(4, 3)
"""
from __future__ import annotations

import numpy as np

from ...errors import BoundsError, DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ...ir.buffer import decl_buffer
from ...ir.expr import cast, const
from ...ir.tir import Allocate, BufferStore, PrimFunc, seq
from ..hand_written import thread_loops
from ..registry import TensorType, register_op
from ._common import broadcast_shapes, hand_written_func, normalize_axis, shape_size
from ._kernel import batched, loop, unflatten

__all__ = ["wrapped_index"]


def wrapped_index(i, n):
    """Index ``i`` (an int expression) of an axis of length ``n`` as an in-bounds INDEX: negative
    ones count from the end, the rest are clipped into ``[0, n)``. ``n`` may be the symbolic
    length of a dynamic axis (an int32 expression): the index is then computed in int64."""
    i = _e.convert(i)
    if not isinstance(n, (int, np.integer)):
        size = cast(_e.convert(n), "int64")
        i = cast(i, "int64")
        i = i + size * cast(i < const(0, "int64"), "int64")
        return cast(_e.max(_e.min(i, size - const(1, "int64")), const(0, "int64")), dt.INDEX)
    if i.dtype == "uint64":  # as NumPy converts a uint64 index array: wrapped into int64 (2^64 - 1 is -1)
        i = cast(i, "int64")
    bits = dt.bits(i.dtype)
    if dt.is_unsigned(i.dtype):  # never negative; n - 1 is clipped to where it fits the dtype
        return cast(_e.min(i, const(max(n - 1, 0), i.dtype)) if n - 1 < 2 ** bits else i, dt.INDEX)
    if n > 2 ** (bits - 1):  # n, or n - 1, does not fit the index's dtype (int8 ids of a 300-row table)
        i = cast(i, "int64")
    i = i + const(n, i.dtype) * cast(i < const(0, i.dtype), i.dtype)   # -1 is n - 1 (branch-free)
    i = _e.max(_e.min(i, const(max(n - 1, 0), i.dtype)), const(0, i.dtype))
    return cast(i, dt.INDEX)


def _check_indices(op: str, idx: TensorType) -> None:
    if not dt.is_int(idx.dtype):
        raise DTypeError(f"{op}: indices must be an integer array, got {idx.dtype}")


def _empty_axis(op: str, n: int, m: int) -> None:
    if n == 0 and m > 0:  # any index is out of bounds there: NumPy's IndexError
        raise BoundsError(f"{op}: index out of bounds: cannot take {m} element(s) from an empty axis "
                          "(NumPy raises IndexError)")


# ------------------------------------------------------------------ take

def _take_infer(x: TensorType, indices: TensorType, *, axis=0) -> TensorType:
    _check_indices("take", indices)
    if indices.ndim != 1:
        raise ShapeError(f"take: indices must be 1-D, got shape {indices.shape}")
    axis = normalize_axis("take", axis, x.ndim)
    _empty_axis("take", x.shape[axis], indices.shape[0])
    return TensorType(x.shape[:axis] + indices.shape + x.shape[axis + 1:], x.dtype)


def _take_lower(x, indices, *, axis=0):
    axis = normalize_axis("take", axis, len(x.shape))
    n = x.shape[axis]
    shape = tuple(x.shape[:axis]) + tuple(indices.shape) + tuple(x.shape[axis + 1:])

    def f(*i):
        at = wrapped_index(indices[i[axis]], n)
        return x[i[:axis] + (at,) + i[axis + 1:]]
    return te.compute(shape, f, name="T_take")


def _take_reference(x, indices, *, axis=0):
    return np.take(x, indices, axis=axis)


register_op("take", pattern="injective", infer=_take_infer, lower=_take_lower, reference=_take_reference,
            doc="``x``'s elements at the 1-D ``indices`` along ``axis`` (negative ones count from the "
                "end; out-of-range ones are clipped).")


# ------------------------------------------------------------------ take_along_axis

def _along_shape(x: TensorType, indices: TensorType, axis: int) -> tuple[int, ...]:
    if indices.ndim != x.ndim:
        raise ShapeError(f"take_along_axis: indices must have {x.ndim} dimensions like x, "
                         f"got {indices.ndim}")
    axis = normalize_axis("take_along_axis", axis, x.ndim)
    rest = broadcast_shapes(x.shape[:axis] + x.shape[axis + 1:],
                            indices.shape[:axis] + indices.shape[axis + 1:], op="take_along_axis")
    _empty_axis("take_along_axis", x.shape[axis], indices.shape[axis])
    return rest[:axis] + (indices.shape[axis],) + rest[axis:]


def _along_infer(x: TensorType, indices: TensorType, *, axis=-1) -> TensorType:
    _check_indices("take_along_axis", indices)
    return TensorType(_along_shape(x, indices, axis), x.dtype)


def _along_lower(x, indices, *, axis=-1):
    xt, it = TensorType(tuple(x.shape), x.dtype), TensorType(tuple(indices.shape), indices.dtype)
    axis = normalize_axis("take_along_axis", axis, xt.ndim)
    shape = _along_shape(xt, it, axis)
    zero = const(0, dt.INDEX)

    def f(*i):
        at = tuple(zero if it.shape[d] == 1 and shape[d] != 1 else i[d] for d in range(it.ndim))
        pos = wrapped_index(indices[at], xt.shape[axis])
        return x[tuple(pos if d == axis else (zero if xt.shape[d] == 1 else i[d]) for d in range(xt.ndim))]
    return te.compute(shape, f, name="T_take_along_axis")


def _along_reference(x, indices, *, axis=-1):
    return np.take_along_axis(x, indices, axis=axis)


register_op("take_along_axis", pattern="injective", infer=_along_infer, lower=_along_lower,
            reference=_along_reference,
            doc="``x`` at ``indices`` along ``axis`` (the other axes broadcast; negative indices count "
                "from the end, out-of-range ones are clipped).")


# ------------------------------------------------------------------ index_add

def _index_add_infer(values: TensorType, indices: TensorType, *, axis=0, size=0) -> TensorType:
    _check_indices("index_add", indices)
    axis = normalize_axis("index_add", axis, values.ndim)
    if indices.ndim != values.ndim or any(i not in (1, v) for i, v in zip(indices.shape, values.shape)):
        raise ShapeError(f"index_add: indices of shape {indices.shape} must broadcast to the values' shape "
                         f"{values.shape} with as many dimensions")
    if not isinstance(size, (int, np.integer)) or size < 0 or (size == 0 and values.shape[axis] > 0):
        raise ShapeError(f"index_add: size must be the positive length of the result's axis {axis}, got {size!r}")
    return TensorType(values.shape[:axis] + (int(size),) + values.shape[axis + 1:], values.dtype)


def _index_add_buffers(values: TensorType, indices: TensorType, axis, size):
    out = _index_add_infer(values, indices, axis=axis, size=size)
    axis = normalize_axis("index_add", axis, values.ndim)
    V, I, OUT = (decl_buffer(values.shape, values.dtype, "values"), decl_buffer(indices.shape, indices.dtype, "idx"),
                 decl_buffer(out.shape, out.dtype, "out"))
    zero = const(0, dt.INDEX)

    def index_of(at):  # the index element for the values element at ``at`` (broadcast axes read 0)
        return wrapped_index(I[tuple(zero if n == 1 else a for n, a in zip(indices.shape, at))], int(size))
    return V, I, OUT, axis, index_of


def _index_add_func(values: TensorType, indices: TensorType, *, axis=0, size=0) -> PrimFunc:
    """The PrimFunc ``(values, idx, out)``: per line before the axis, zeros, then each value added
    at its index (rows of the dimensions after the axis read and written contiguously)."""
    V, I, OUT, axis, index_of = _index_add_buffers(values, indices, axis, size)
    outer, m, inner = values.shape[:axis], values.shape[axis], values.shape[axis + 1:]
    zero_value = const(0, values.dtype)

    def block(o):
        clear = loop("p", 0, int(size), lambda p: batched(inner, lambda r: BufferStore(OUT, zero_value, o + (p,) + r),
                                                             "r"))

        def add(j):
            def one(r):
                at = o + (j,) + r
                target = o + (index_of(at),) + r
                return BufferStore(OUT, OUT[target] + V[at], target)
            return batched(inner, one, "r")
        return seq(clear, loop("j", 0, m, add))
    return hand_written_func((V, I, OUT), batched(outer, block))


def _index_add_gpu_func(values: TensorType, indices: TensorType, *, axis=0, size=0) -> PrimFunc:
    """:func:`_index_add_func` for the GPU: a thread per element of the dimensions around the
    axis, adding its line's values in order (no atomics: each output element has one writer)."""
    V, I, OUT, axis, index_of = _index_add_buffers(values, indices, axis, size)
    around = values.shape[:axis] + values.shape[axis + 1:]
    zero_value = const(0, values.dtype)

    def line(t):
        r = unflatten(t, around) if around else ()
        o, rest = r[:axis], r[axis:]
        clear = loop("p", 0, int(size), lambda p: BufferStore(OUT, zero_value, o + (p,) + rest))

        def add(j):
            at = o + (j,) + rest
            target = o + (index_of(at),) + rest
            return BufferStore(OUT, OUT[target] + V[at], target)
        return seq(clear, loop("j", 0, values.shape[axis], add))
    return hand_written_func((V, I, OUT), thread_loops(max(shape_size(around), 1), line), gpu=True)


def _index_add_reference(values, indices, *, axis=0, size=0):
    axis = normalize_axis("index_add", axis, values.ndim)
    n = int(size)
    idx = np.broadcast_to(indices, values.shape).astype("int64")
    idx = np.clip(np.where(idx < 0, idx + n, idx), 0, max(n - 1, 0))
    out = np.zeros(values.shape[:axis] + (n,) + values.shape[axis + 1:], values.dtype)
    grids = list(np.indices(values.shape, sparse=True))
    grids[axis] = idx
    np.add.at(out, tuple(grids), values)
    return out


register_op("index_add", pattern="opaque", infer=_index_add_infer, lower=None, reference=_index_add_reference,
            prim_func=_index_add_func, gpu_prim_func=_index_add_gpu_func,
            doc="Zeros of ``values``' shape with axis ``axis`` of length ``size``, each value added at its "
                "index along that axis (``indices`` broadcast to ``values``; negative ones count from the "
                "end, out-of-range ones are clipped): the scatter-add that is ``take``'s and "
                "``take_along_axis``'s VJP, linear in memory where repeated indices add up.")


# ------------------------------------------------------------------ searchsorted

def _search_infer(a: TensorType, v: TensorType, *, side="left") -> TensorType:
    if side not in ("left", "right"):
        raise ShapeError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if a.ndim != 1:
        raise ShapeError(f"searchsorted: the sorted array must be 1-D, got shape {a.shape}")
    if a.dtype != v.dtype:
        raise DTypeError(f"searchsorted: the sorted array ({a.dtype}) and the queries ({v.dtype}) "
                         "must have one dtype; cast them to their result_type first")
    return TensorType(v.shape, "int64")


def _before(a, b):
    """``a`` sorts strictly before ``b`` (NaN after every number)."""
    if not dt.is_float(a.dtype):
        return a < b
    return _e.logical_or(a < b, _e.logical_and(_e.isnan(b), _e.logical_not(_e.isnan(a))))


def _binary_search(A, n: int, value, side: str, count, store) -> list:
    """The statements counting the elements of sorted ``A`` (of ``n``) before ``value`` (``side``
    "left") or not after it ("right"), in a count read by ``count()`` and written by ``store(e)``."""
    steps = []
    step = 1
    while step <= n:
        steps.append(step)
        step *= 2
    stmts = [store(const(0, "int64"))]
    for s in reversed(steps):  # count + s <= n and a[count + s - 1] is before the query: take s
        c = count()
        probe = A[(cast(_e.min(c, const(n - s, "int64")), dt.INDEX) + const(s - 1, dt.INDEX),)]
        hit = _before(probe, value) if side == "left" else _e.logical_not(_before(value, probe))
        take = _e.logical_and(c <= const(n - s, "int64"), hit)
        stmts.append(store(c + cast(take, "int64") * const(s, "int64")))
    return stmts


def _search_buffers(a: TensorType, v: TensorType, side: str):
    _search_infer(a, v, side=side)
    return decl_buffer(a.shape, a.dtype, "a"), decl_buffer(v.shape, v.dtype, "v"), decl_buffer(v.shape, "int64", "out")


def _search_func(a: TensorType, v: TensorType, *, side="left") -> PrimFunc:
    """The PrimFunc ``(a, v, out)``: the binary search of each query, counting in ``out``."""
    A, V, OUT = _search_buffers(a, v, side)

    def search(q):
        return seq(*_binary_search(A, a.shape[0], V[q], side, lambda: OUT[q], lambda e: BufferStore(OUT, e, q)))
    return hand_written_func((A, V, OUT), batched(v.shape, search, "q"))


def _search_gpu_func(a: TensorType, v: TensorType, *, side="left") -> PrimFunc:
    """:func:`_search_func` for the GPU: a thread per query, counting in a register."""
    A, V, OUT = _search_buffers(a, v, side)
    zero = const(0, dt.INDEX)

    def search(t):
        q = unflatten(t, v.shape)
        count = decl_buffer((1,), "int64", "count", scope="local")
        steps = _binary_search(A, a.shape[0], V[q], side, lambda: count[zero],
                               lambda e: BufferStore(count, e, (zero,)))
        return Allocate(count, seq(*steps, BufferStore(OUT, count[zero], q)))
    return hand_written_func((A, V, OUT), thread_loops(shape_size(v.shape), search), gpu=True)


def _search_reference(a, v, *, side="left"):
    return np.searchsorted(a, v, side=side).astype("int64")


register_op("searchsorted", pattern="opaque", infer=_search_infer, lower=None, reference=_search_reference,
            prim_func=_search_func, gpu_prim_func=_search_gpu_func,
            doc="Where each query would go in the sorted 1-D array: the count of its elements before "
                "the query (``side='left'``) or not after it (``'right'``), by binary search; int64.")
