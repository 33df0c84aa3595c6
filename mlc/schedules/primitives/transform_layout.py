"""transform_layout: store an allocated buffer in another layout, given by an index map.

``transform_layout(block, ("read", 1), lambda k, j: (j // 16, k, j % 16))``
re-lays out the buffer ``block`` reads second: its shape becomes the range of
the map, and every load, store and declared region of it, in every block, is
rewritten through the map. Packing a matrix into column panels, for instance::

    B_global = T.alloc_buffer((64, 64))             B_global = T.alloc_buffer((4, 64, 16))
    ... B_global[v0, v1] = B[v0, v1]          ->    ... B_global[v1 // 16, v0, v1 % 16] = B[v0, v1]
    ... C[vi, vj] += A[vi, vk] * B_global[vk, vj]   ... C[vi, vj] += A[vi, vk] * B_global[vj // 16, vk, vj % 16]

Only buffers the function allocates can change layout (a parameter's layout is
the caller's). The map must send distinct elements to distinct places; that
is checked by enumeration before anything changes. The new shape is the
smallest box holding the image, so a map like ``j // 16`` on 40 columns
allocates 3 panels, the last one partly unused.
"""
from __future__ import annotations

import functools
from dataclasses import replace as dc_replace

import numpy as np

from ...ir.buffer import Buffer, BufferRegion
from ...ir.expr import Binary, BufferLoad, IntImm, Range, Var, const
from ...ir.functor import Mutator
from ...ir.int_set import IntSet, canonical, relax
from ...ir.tir import BufferStore, PrimFunc
from ..analysis import is_param
from ..base import ScheduleBase, instruction, schedule_error
from ..index_map import IndexMap
from ..state import find_block
from .loop_analysis import evaluate_index

__all__ = ["LayoutTransformPrimitives", "transform_layout_ir", "MAX_CHECKED_ELEMENTS"]

#: Injectivity is checked by enumerating the buffer; larger buffers are refused.
MAX_CHECKED_ELEMENTS = 1 << 26
_CHUNK = 1 << 20


def _resolve(prim, func, realize, buffer) -> Buffer:
    """The buffer named by ``("read" | "write", index)`` or by its name."""
    blk = realize.block
    if isinstance(buffer, str):
        for r in blk.reads + blk.writes:
            if r.buffer.name == buffer:
                return r.buffer
        names = sorted({r.buffer.name for r in blk.reads + blk.writes})
        raise schedule_error(prim, f"block {blk.name_hint!r} does not access a buffer named "
                             f"{buffer!r}; it accesses {names}", func, realize)
    if (isinstance(buffer, (tuple, list)) and len(buffer) == 2 and buffer[0] in ("read", "write")
            and isinstance(buffer[1], int) and not isinstance(buffer[1], bool)):
        kind, index = buffer
        regions = blk.reads if kind == "read" else blk.writes
        if not 0 <= index < len(regions):
            raise schedule_error(prim, f"block {blk.name_hint!r} {kind}s {len(regions)} buffer(s); "
                                 f"{kind} index {index} is out of range", func, realize)
        return regions[index].buffer
    raise schedule_error(prim, f"buffer must be ('read', i), ('write', i) or a buffer name, got {buffer!r}")


def _new_shape(prim, func, buf: Buffer, imap: IndexMap) -> tuple[int, ...]:
    dom = {p: IntSet(const(0), const(n - 1)) for p, n in zip(imap.params, buf.static_shape())}
    shape = []
    for r in imap.results:
        s = relax(r, dom)
        lo, hi = s.min, s.max
        if not (isinstance(lo, IntImm) and isinstance(hi, IntImm)):
            raise schedule_error(prim, f"cannot bound {r!r} of index map {imap.text!r} over buffer "
                                 f"{buf.name} of shape {buf.static_shape()}", func)
        if lo.value < 0:
            raise schedule_error(prim, f"index map {imap.text!r} sends elements of {buf.name} to "
                                 f"negative index {lo.value} (result {r!r})", func)
        shape.append(hi.value + 1)
    return tuple(shape)


def _splits_and_permutes(imap: IndexMap) -> bool:
    """True when each result is a param ``p``, ``p // c`` or ``p % c`` (c > 0) and every param
    appears once plain or once as the pair ``p // c, p % c``: such maps are one-to-one."""
    seen: dict[int, list] = {}
    for r in imap.results:
        if isinstance(r, Var):
            seen.setdefault(id(r), []).append(("plain", None))
        elif (isinstance(r, Binary) and r.op in ("floordiv", "floormod") and isinstance(r.a, Var)
              and isinstance(r.b, IntImm) and r.b.value > 0):
            seen.setdefault(id(r.a), []).append((r.op, r.b.value))
        else:
            return False
    if len(seen) != len(imap.params) or any(id(p) not in seen for p in imap.params):
        return False
    for uses in seen.values():
        kinds = sorted(uses, key=str)
        if kinds != [("plain", None)] and not (
                len(kinds) == 2 and kinds[0][0] == "floordiv" and kinds[1][0] == "floormod"
                and kinds[0][1] == kinds[1][1]):
            return False
    return True


def _check_injective(prim, func, buf: Buffer, imap: IndexMap, shape: tuple[int, ...]) -> None:
    """Every element of ``buf`` goes to its own place: proven for splits and permutations,
    else checked by enumeration, chunk by chunk."""
    if _splits_and_permutes(imap):
        return
    old = buf.static_shape()
    total = int(np.prod(old, dtype=np.int64))
    if total > MAX_CHECKED_ELEMENTS:
        raise schedule_error(prim, f"buffer {buf.name} has {total} elements, too many to check that "
                             f"index map {imap.text!r} is one-to-one", func)
    seen = np.zeros(int(np.prod(shape, dtype=np.int64)), dtype=bool)
    for start in range(0, total, _CHUNK):
        flat = np.arange(start, min(total, start + _CHUNK), dtype=np.int64)
        env = dict(zip(imap.params, np.unravel_index(flat, old)))
        cols = []
        for r in imap.results:
            v = evaluate_index(r, env)
            if v is None:
                raise schedule_error(prim, f"cannot evaluate {r!r} of index map {imap.text!r}", func)
            cols.append(np.broadcast_to(v, flat.shape))
        target = np.ravel_multi_index(cols, shape)
        before = np.count_nonzero(seen)
        seen[target] = True
        if np.count_nonzero(seen) - before != target.size:
            raise schedule_error(prim, f"index map {imap.text!r} sends two elements of {buf.name} to "
                                 "the same place; a layout must keep every element", func)


class _Relayout(Mutator):
    """Rewrite every access of ``old`` (loads, stores, regions) through the map."""

    def __init__(self, old: Buffer, new: Buffer, imap: IndexMap):
        self.old, self.new, self.imap = old, new, imap

    def visit_buffer(self, buffer: Buffer) -> Buffer:
        return self.new if buffer is self.old else buffer

    def visit_BufferLoad(self, node: BufferLoad):
        node = self.generic_visit(node)
        if node.buffer is not self.new:
            return node
        return BufferLoad(self.new, self.imap.apply(node.indices), node.dtype)

    def visit_BufferStore(self, node: BufferStore):
        node = self.generic_visit(node)
        if node.buffer is not self.new:
            return node
        return BufferStore(self.new, node.value, self.imap.apply(node.indices))

    def visit_BufferRegion(self, node: BufferRegion):
        if node.buffer is not self.old:
            return self.generic_visit(node)
        if all(isinstance(r.extent, IntImm) and r.extent.value == 1 for r in node.region):
            point = self.imap.apply([r.min for r in node.region])
            return BufferRegion(self.new, tuple(Range(p, const(1)) for p in point))
        dom = {p: IntSet(r.min, canonical(r.min + r.extent - 1)) for p, r in zip(self.imap.params, node.region)}
        dims = []
        for res, size in zip(self.imap.results, self.new.shape):
            s = relax(res, dom)
            extent = None if s.min is None or s.max is None else canonical(s.max - s.min + 1)
            if isinstance(extent, IntImm):
                dims.append(Range(s.min, extent))
            else:
                dims.append(Range(const(0), size))
        return BufferRegion(self.new, tuple(dims))


def transform_layout_ir(func: PrimFunc, block: str, buffer, index_map) -> PrimFunc:
    """``func`` with the buffer ``block`` accesses (see :func:`_resolve`) laid out by ``index_map``."""
    prim = "transform_layout"
    loc = find_block(func, block, prim)
    buf = _resolve(prim, func, loc.node, buffer)
    if is_param(func, buf):
        raise schedule_error(prim, f"{buf.name} is a function parameter; its layout belongs to the "
                             "caller (transform a copy, e.g. one made by cache_read)", func, loc.node)
    if buf.strides:
        raise schedule_error(prim, f"{buf.name} has explicit strides (storage_align); transform its "
                             "layout before aligning it", func, loc.node)
    if not all(isinstance(e, IntImm) for e in buf.shape):
        raise schedule_error(prim, f"{buf.name} has a symbolic shape", func, loc.node)
    imap = IndexMap.parse(index_map, buf.ndim)
    shape = _new_shape(prim, func, buf, imap)
    _check_injective(prim, func, buf, imap, shape)
    new = dc_replace(buf, shape=tuple(const(n, buf.shape[0].dtype if buf.shape else "int32") for n in shape))
    return func.with_body(_Relayout(buf, new, imap).visit(func.body))


def _normalised(method):
    """Record ``index_map`` as canonical text and ``buffer`` as a tuple, so traces replay."""
    recorded = instruction(method)

    @functools.wraps(method)
    def wrapper(self, block, buffer, index_map):
        _, func, loc = self._block(block, "transform_layout")
        buf = _resolve("transform_layout", func, loc.node, buffer)
        spec = tuple(buffer) if isinstance(buffer, list) else buffer
        return recorded(self, block, spec, IndexMap.parse(index_map, buf.ndim).text)

    wrapper.is_instruction = True
    return wrapper


class LayoutTransformPrimitives(ScheduleBase):

    @_normalised
    def transform_layout(self, block, buffer, index_map) -> None:
        """Lay out the buffer ``block`` accesses as ``buffer`` (``("read", i)``,
        ``("write", i)`` or its name) by ``index_map`` (a lambda of its indices)."""
        fname, func, loc = self._block(block, "transform_layout")
        self._commit(fname, transform_layout_ir(func, loc.node.block.name_hint, buffer, index_map))
