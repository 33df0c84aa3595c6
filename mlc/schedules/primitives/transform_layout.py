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
allocates 3 panels, the last one partly unused. Such a layout has *padding*,
cells no element of the old buffer goes to; as in TVM, it needs a
``pad_value``, which a block ``{name}_pad`` at the head of the buffer's
allocating block writes into the padding before anything else runs::

    sch.transform_layout(block, ("read", 1), lambda k, j: (j // 16, k, j % 16), pad_value=0.0)
"""
from __future__ import annotations

import functools
from dataclasses import replace as dc_replace

import numpy as np

from ...errors import DTypeError, IRError
from ...ir import dtype as dt
from ...ir.analysis import evaluate_index
from ...ir.arith import Analyzer, IntSet, canonical, relax
from ...ir.buffer import Buffer, BufferRegion
from ...ir.expr import (Binary, BufferLoad, IntImm, IterVar, PrimExpr, Range, Var, const, convert,
                        logical_or)
from ...ir.functor import Mutator, substitute
from ...ir.tir import Block, BlockRealize, BufferStore, For, PrimFunc, Stmt, seq
from ..analysis import is_param
from ..base import ScheduleBase, instruction, schedule_error
from ..index_map import IndexMap
from ..state import find_block

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


def transform_layout_ir(func: PrimFunc, block: str, buffer, index_map, pad_value=None) -> PrimFunc:
    """``func`` with the buffer ``block`` accesses (see :func:`_resolve`) laid out by ``index_map``;
    a layout with padding needs ``pad_value``, written into the padding first."""
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
    padded = int(np.prod(shape, dtype=object)) > int(np.prod(buf.static_shape(), dtype=object))
    if padded and pad_value is None:
        raise schedule_error(prim, f"index map {imap.text!r} lays {buf.name} of shape "
                             f"{buf.static_shape()} out as {shape}, which has "
                             f"{int(np.prod(shape)) - int(np.prod(buf.static_shape()))} cells no "
                             "element goes to; pass pad_value= (e.g. 0) to say what they hold",
                             func, loc.node)
    fill = _pad_constant(prim, func, buf, pad_value) if pad_value is not None else None
    new = dc_replace(buf, shape=tuple(const(n, buf.shape[0].dtype if buf.shape else "int32") for n in shape))
    body = _Relayout(buf, new, imap).visit(func.body)
    if padded:
        body = _AddPadding(new, _pad_block(new, imap, buf.static_shape(), fill)).visit(body)
    return func.with_body(body)


def _pad_constant(prim, func, buf: Buffer, value):
    """``pad_value`` as a constant of the buffer's dtype (a Python or NumPy scalar)."""
    if isinstance(value, (bool, int, float, np.generic)) and not isinstance(value, (str, bytes)):
        try:
            return convert(value, buf.dtype) if not isinstance(value, float) or dt.is_float(buf.dtype) \
                else _exact_int(value, buf.dtype)
        except (DTypeError, IRError) as err:
            raise schedule_error(prim, f"pad_value {value!r} does not fit {buf.name}'s dtype "
                                 f"{buf.dtype}: {err}", func) from None
    raise schedule_error(prim, f"pad_value must be a scalar of {buf.name}'s dtype {buf.dtype}, got "
                         f"{value!r}", func)


def _exact_int(value: float, dtype: str):
    if not value.is_integer():
        raise DTypeError(f"{value!r} is not an integer")
    return convert(int(value), dtype)


def _padding_condition(imap: IndexMap, new_vars, old_shape) -> PrimExpr:
    """True where a cell of the new layout is padding: exact for splits and permutations
    (inverted), else True everywhere (the real elements overwrite the fill)."""
    if not _splits_and_permutes(imap):
        return const(True, "bool")
    parts: dict[int, dict] = {}
    for var, r in zip(new_vars, imap.results):
        if isinstance(r, Var):
            parts.setdefault(id(r), {})["plain"] = var
        else:
            parts.setdefault(id(r.a), {})[r.op] = (var, r.b.value)
    cond = const(False, "bool")
    for p, extent in zip(imap.params, old_shape):
        got = parts[id(p)]
        if "plain" in got:
            old = got["plain"]
        else:
            (outer, factor), (inner, _) = got["floordiv"], got["floormod"]
            old = outer * factor + inner
        cond = logical_or(cond, old >= extent)
    return cond


def _pad_block(new: Buffer, imap: IndexMap, old_shape, value) -> Stmt:
    """Loops around a block writing ``value`` into the padding cells: for splits and
    permutations, over the padding alone (:func:`_split_padding`), else over the new shape
    under the padding condition."""
    if _splits_and_permutes(imap):
        return _split_padding(new, imap, old_shape, value)
    shape = new.static_shape()
    loops = [Var(f"{new.name}_{d}", "int32") for d in range(len(shape))]
    ivs = tuple(IterVar(Var(f"v{d}", "int32"), Range.from_extent(const(n)), "spatial")
                for d, n in enumerate(shape))
    vs = [iv.var for iv in ivs]
    write = BufferRegion(new, tuple(Range(v, const(1)) for v in vs))
    block = Block(f"{new.name}_pad", ivs, (), (write,), BufferStore(new, value, tuple(vs)))
    cond = Analyzer({iv.var: iv.dom for iv in ivs}).simplify(_padding_condition(imap, vs, old_shape))
    stmt: Stmt = BlockRealize(tuple(loops), const(True, "bool"), block)
    if not (isinstance(cond, IntImm) and cond.value):
        stmt = BlockRealize(tuple(loops), substitute(cond, dict(zip(vs, loops))), block)
    for var, n in reversed(list(zip(loops, shape))):
        stmt = For(var, const(0), const(n), "serial", stmt)
    return stmt


def _split_padding(new: Buffer, imap: IndexMap, old_shape, value) -> Stmt:
    """The padding of a split ``j // F, j % F`` of an axis of ``n`` elements is the last
    tile's cells from ``n % F`` on: one block per padded split over those cells (and every
    index of the other dimensions), not a test per cell of the whole buffer. A packed panel
    of B for a ragged matmul (1000 columns in panels of 64) fills 24 of the 64 columns of
    its last panel, where a scan of the buffer tested 1000 x 16 x 64 cells.

    For ``lambda i: (i // 4, i % 4)`` on 34 elements, the fill went from a test per cell::

        for B_0, B_1 in T.grid(9, 4):
            with T.block("B_pad"):
                v0 = T.axis.spatial(9, B_0)
                v1 = T.axis.spatial(4, B_1)
                T.where(B_0 * 4 + B_1 >= 34)
                ...

    to the two cells of padding::

        for B_1 in range(2):
            with T.block("B_pad"):
                v0 = T.axis.spatial(9, 8)
                v1 = T.axis.spatial(4, B_1 + 2)
                T.reads()
                T.writes(B[v0, v1])
                B[v0, v1] = T.float32(-1.5)
    """
    shape = new.static_shape()
    position = {}
    for d, r in enumerate(imap.results):
        if isinstance(r, Binary):
            position.setdefault(id(r.a), {})[r.op] = d
    fills = []
    for p, extent in zip(imap.params, old_shape):
        where = position.get(id(p))
        if where is None:
            continue
        outer, inner = where["floordiv"], where["floormod"]
        factor = shape[inner]
        if extent % factor == 0:
            continue
        ivs = tuple(IterVar(Var(f"v{d}", "int32"), Range.from_extent(const(n)), "spatial")
                    for d, n in enumerate(shape))
        vs = [iv.var for iv in ivs]
        write = BufferRegion(new, tuple(Range(v, const(1)) for v in vs))
        name = f"{new.name}_pad" if not fills else f"{new.name}_pad_{len(fills)}"
        block = Block(name, ivs, (), (write,), BufferStore(new, value, tuple(vs)))
        loops, values = [], []
        for d, n in enumerate(shape):
            if d == outer:
                values.append(const(extent // factor))
                continue
            lo, count = (extent % factor, factor - extent % factor) if d == inner else (0, n)
            var = Var(f"{new.name}_{d}", "int32")
            loops.append((var, count))
            values.append(var + lo if lo else var)
        stmt: Stmt = BlockRealize(tuple(values), const(True, "bool"), block)
        for var, count in reversed(loops):
            stmt = For(var, const(0), const(count), "serial", stmt)
        fills.append(stmt)
    return seq(*fills)


class _AddPadding(Mutator):
    """Put the padding fill first in the block that allocates ``buffer``."""

    def __init__(self, buffer: Buffer, fill: Stmt):
        self.buffer, self.fill = buffer, fill

    def visit_Block(self, node: Block):
        node = self.generic_visit(node)
        if any(b is self.buffer for b in node.alloc_buffers):
            return dc_replace(node, body=seq(self.fill, node.body))
        return node


def _normalised(method):
    """Record ``index_map`` as canonical text and ``buffer`` as a tuple, so traces replay."""
    recorded = instruction(method)

    @functools.wraps(method)
    def wrapper(self, block, buffer, index_map, pad_value=None):
        _, func, loc = self._block(block, "transform_layout")
        buf = _resolve("transform_layout", func, loc.node, buffer)
        spec = tuple(buffer) if isinstance(buffer, list) else buffer
        if isinstance(pad_value, np.generic):
            pad_value = pad_value.item()
        return recorded(self, block, spec, IndexMap.parse(index_map, buf.ndim).text, pad_value)

    wrapper.is_instruction = True
    return wrapper


class LayoutTransformPrimitives(ScheduleBase):

    @_normalised
    def transform_layout(self, block, buffer, index_map, pad_value=None) -> None:
        """Lay out the buffer ``block`` accesses as ``buffer`` (``("read", i)``,
        ``("write", i)`` or its name) by ``index_map`` (a lambda of its indices), and
        rewrite every access to it.

        When the new layout has cells no element goes to (``i // 4, i % 4`` on 34
        elements allocates 36), ``pad_value`` is required and fills them. A function
        parameter, a buffer with explicit strides, or a map that sends two elements
        to one cell is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(8))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((8,))
            for i in range(8):
                with T.block("B"):
                    vi = T.axis.spatial(8, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i in range(8):
                with T.block("C"):
                    vi = T.axis.spatial(8, i)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> sch.transform_layout(sch.get_block("B"), "B", lambda i: (i // 4, i % 4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((2, 4))
            for i in range(8):
                with T.block("B"):
                    vi = T.axis.spatial(8, i)
                    T.reads(A[vi])
                    T.writes(B[vi // 4, vi % 4])
                    B[vi // 4, vi % 4] = A[vi] * T.float32(2)
            for i in range(8):
                with T.block("C"):
                    vi = T.axis.spatial(8, i)
                    T.reads(B[vi // 4, vi % 4])
                    T.writes(C[vi])
                    C[vi] = B[vi // 4, vi % 4] + T.float32(1)
        """
        fname, func, loc = self._block(block, "transform_layout")
        self._commit(fname, transform_layout_ir(func, loc.node.block.name_hint, buffer, index_map,
                                                pad_value))
