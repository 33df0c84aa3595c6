"""Stencils: kernels ``y = K(x)`` whose every element is one expression of ``x`` near it.

:func:`find_stencil` reads a kernel as a :class:`Stencil`: after its intermediate stages are
inlined, one block storing ``y[i, j, ...] = value`` where every read of ``x`` has a row index
that is a function of ``i`` alone, inside the array; the rows each row reads are evaluated
on every row (:attr:`Stencil.first`, :attr:`Stencil.last`), so a clamped index at the
array's edge is known to reach further than the rows inside do.
:mod:`.temporal_blocking` runs several steps of one over tiles.

>>> from mlc import te
>>> A = te.placeholder((6, 5), "float32", "A")
>>> B = te.compute((6, 5), lambda i, j: A[te.max(i - 1, 0), j] + A[i, j], name="B")
>>> st = find_stencil(te.create_prim_func([A, B]))
>>> st.halo, st.first.tolist(), reach_along(st, 1)
(1, [0, 0, 1, 2, 3, 4], 0)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...ir.analysis.dependence import evaluate_index
from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad, IntImm, Var
from ...ir.functor import pre_order_nodes
from ...ir.tir import BlockRealize, BufferStore, For, PrimFunc, SeqStmt
from .inline import LoadInliner

__all__ = ["Stencil", "find_stencil", "reach_along", "static_shape", "MAX_CHECKED_ROWS"]

#: The most rows whose read rows are checked one by one.
MAX_CHECKED_ROWS = 1 << 20


@dataclass(frozen=True)
class Stencil:
    """A kernel ``y = K(x)`` whose row ``i`` of ``y`` reads rows ``first[i] .. last[i]`` of ``x``,
    at most ``halo`` rows away: ``value`` (over ``iters``, the block's iterators, one per axis)
    is stored at ``y[iters]``."""
    x: Buffer
    y: Buffer
    iters: tuple[Var, ...]
    value: object
    halo: int
    first: np.ndarray = field(repr=False, compare=False)
    last: np.ndarray = field(repr=False, compare=False)


def find_stencil(func: PrimFunc) -> Stencil | None:
    """``func`` as a :class:`Stencil` over its first axis, or None where it is not one (see the
    module docstring for what is checked).

    >>> from mlc import te
    >>> A = te.placeholder((6, 5), "float32", "A")
    >>> B = te.compute((6, 5), lambda i, j: A[te.max(i - 1, 0), j] + A[i, j], name="B")
    >>> find_stencil(te.create_prim_func([A, B])).halo
    1
    >>> C = te.compute((6, 5), lambda i, j: A[5 - i, j], name="C")   # row 0 reads row 5
    >>> find_stencil(te.create_prim_func([A, C])).halo
    5
    """
    if len(func.params) != 2 or func.attr("mlc.scheduled") or func.root_block is None:
        return None
    x, y = func.params
    shape = static_shape(x)
    if shape is None or shape != static_shape(y) or x.dtype != y.dtype or not shape or min(shape) <= 0:
        return None
    root = func.root_block
    items = root.body.seq if isinstance(root.body, SeqStmt) else (root.body,)
    made = {id(buf) for buf in root.alloc_buffers}
    values: dict[int, tuple[tuple[Var, ...], object]] = {}  # an intermediate buffer -> its stage
    for k, item in enumerate(items):
        stage = _stage(item)
        if stage is None:
            return None
        buffer, iters, value = stage
        value = LoadInliner(values).visit(value)
        if buffer is y and k == len(items) - 1:
            reads = _row_reads(value, x, iters)
            if reads is None or len({v.dtype for v in iters}) != 1:
                return None
            points = np.arange(shape[0])
            halo = int(max(np.max(points - reads[0]), np.max(reads[1] - points)))
            return Stencil(x, y, iters, value, halo, *reads)
        if id(buffer) not in made or id(buffer) in values:
            return None
        values[id(buffer)] = (iters, value)
    return None


def _stage(stmt) -> tuple[Buffer, tuple[Var, ...], object] | None:
    """(the buffer, the iterators, the value) of a canonical loop nest around one block storing
    ``buffer[iterators] = value`` over all of ``buffer``, or None."""
    loops = []
    while isinstance(stmt, For):
        loops.append(stmt)
        stmt = stmt.body
    if not isinstance(stmt, BlockRealize) or not (isinstance(stmt.predicate, IntImm) and stmt.predicate.value):
        return None
    block = stmt.block
    store = block.body
    if not isinstance(store, BufferStore) or block.init is not None or block.alloc_buffers:
        return None
    iters = tuple(iv.var for iv in block.iter_vars)
    shape = static_shape(store.buffer)
    if shape is None or len(loops) != len(iters) or len(iters) != len(shape) or \
            any(a is not b for a, b in zip(store.indices, iters)) or len(store.indices) != len(iters):
        return None
    for loop, value, iv, extent in zip(loops, stmt.iter_values, block.iter_vars, shape):
        if loop.kind != "serial" or loop.annotations or _int(loop.min) != 0 or _int(loop.extent) != extent \
                or value is not loop.loop_var or iv.iter_type != "spatial" or _int(iv.dom.min) != 0 \
                or _int(iv.dom.extent) != extent:
            return None
    return store.buffer, iters, store.value


def static_shape(buffer: Buffer) -> tuple[int, ...] | None:
    """``buffer``'s shape as ints, or None where an extent is symbolic."""
    out = tuple(_int(d) for d in buffer.shape)
    return None if None in out else out


def _int(e) -> int | None:
    if isinstance(e, int):
        return e
    return e.value if isinstance(e, IntImm) else None


def _row_reads(value, x: Buffer, iters: tuple[Var, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """(the first, the last row of ``x`` that ``value`` reads) for each row it computes (read
    off every row), or None where a read is of another buffer, its row depends on more than
    the row iterator, leaves the array, or cannot be evaluated."""
    if any(isinstance(n, BufferLoad) and (n.buffer is not x or len(n.indices) != len(iters))
           for n in pre_order_nodes(value)):
        return None
    if any(isinstance(n, Var) and not any(n is v for v in iters) for n in pre_order_nodes(value)):
        return None  # a variable of its own (a let): not proven
    return _reads_along(value, x, iters, 0)


def reach_along(st: Stencil, axis: int) -> int | None:
    """The most that a read of ``st``'s ``x`` is away along ``axis`` from the element it
    computes, or None where a read's index along ``axis`` depends on another axis's iterator
    (see :func:`_reads_along`)."""
    reads = _reads_along(st.value, st.x, st.iters, axis)
    if reads is None:
        return None
    points = np.arange(len(reads[0]))
    return int(max(np.max(points - reads[0]), np.max(reads[1] - points)))


def _reads_along(value, x: Buffer, iters: tuple[Var, ...], axis: int):
    """(the least, the greatest index along ``axis`` that a read of ``x`` in ``value`` takes) for
    each index of that axis; None where a read's index along ``axis`` depends on another
    iterator, leaves the array, or cannot be evaluated."""
    size = static_shape(x)[axis]
    if size > MAX_CHECKED_ROWS:
        return None
    points = np.arange(size, dtype=np.int64)
    var = iters[axis]
    first, last = points.copy(), points.copy()
    for node in pre_order_nodes(value):
        if not isinstance(node, BufferLoad) or node.buffer is not x:
            continue
        index = node.indices[axis]
        if any(isinstance(v, Var) and v is not var for v in pre_order_nodes(index)):
            return None
        if axis == 0 and any(v is var for i in node.indices[1:] for v in pre_order_nodes(i)):
            return None  # a column that moves with the row: rows of a tile are not enough
        read = evaluate_index(index, {var: points})
        if read is None:
            return None
        read = np.broadcast_to(read, points.shape)
        if np.any(read < 0) or np.any(read >= size):
            return None
        first, last = np.minimum(first, read), np.maximum(last, read)
    return first, last
