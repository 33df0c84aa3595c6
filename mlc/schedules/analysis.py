"""What block-level primitives ask about a PrimFunc: bindings, regions, order, dependences.

Blocks declare the regions they read and write in terms of their own
iterators. Substituting the iterators' bindings gives the regions in terms of
the enclosing loops; relaxing some of those loops (:mod:`mlc.ir.arith.int_set`)
gives the region touched during one iteration of an outer loop.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..ir.buffer import Buffer, BufferRegion
from ..ir.expr import (Binary, BufferLoad, IntImm, PrimExpr, Range, Var, and_all, conjuncts, const,  # noqa: F401
                       make_binary)
from ..ir.functor import pre_order_nodes, substitute
from ..ir.analysis import stmt_children
from ..ir.arith import Analyzer, IntSet, canonical, linear, relax_region, union_regions
from ..ir.te import access_regions
from ..ir.tir import Block, BlockRealize, For, PrimFunc, Stmt
from .state import Location, all_blocks

__all__ = [
    "binding_map", "regions_in_loops", "loop_dom", "loops_below", "relaxed_access",
    "block_order", "buffer_ids", "is_param", "intersects", "recompute_reads", "conjuncts",
    "loop_ranges", "is_true", "point_pattern", "merge_regions", "stmt_blocks", "relax_regions", "and_all", "clip_to_shape",
    "simplify_predicate",
]


def binding_map(realize: BlockRealize) -> dict[Var, PrimExpr]:
    """Each block iterator's variable -> the expression it is bound to."""
    return {iv.var: v for iv, v in zip(realize.block.iter_vars, realize.iter_values)}


def regions_in_loops(realize: BlockRealize, regions: Sequence[BufferRegion]) -> list[BufferRegion]:
    """``regions`` (in block iterators) rewritten in the enclosing loop variables."""
    vmap = binding_map(realize)
    return [BufferRegion(r.buffer, tuple(Range(canonical(substitute(x.min, vmap)), x.extent)
                                         for x in r.region)) for r in regions]


def loop_dom(loops: Iterable[For]) -> dict[Var, IntSet]:
    """Each loop variable -> the interval it runs over."""
    return {f.loop_var: IntSet.from_range(Range(f.min, f.extent)) for f in loops}


def loop_ranges(loops: Iterable[For]) -> dict[Var, Range]:
    return {f.loop_var: Range(f.min, f.extent) for f in loops}


def loops_below(loc: Location, loop: For) -> list[For]:
    """The loops on ``loc``'s path strictly inside ``loop`` (outermost first)."""
    out, seen = [], False
    for node in loc.path:
        if node is loop:
            seen = True
        elif seen and isinstance(node, For):
            out.append(node)
    return out


def relaxed_access(loc: Location, loop: For, kind: str, buffers: set[int],
                   relax_over: Sequence[For] = ()) -> dict[int, list[IntSet]]:
    """The regions of ``buffers`` the block at ``loc`` reads (``kind="reads"``) or
    writes during one iteration of ``loop``, by ``id(buffer)``; relaxed also over the
    loops ``relax_over`` (GPU thread loops whose threads share the buffer)."""
    realize = loc.node
    dom = loop_dom(list(relax_over) + loops_below(loc, loop))
    out: dict[int, list[IntSet]] = {}
    for region in regions_in_loops(realize, getattr(realize.block, kind)):
        if id(region.buffer) in buffers:
            out[id(region.buffer)] = union_regions(out.get(id(region.buffer)), relax_region(region.region, dom))
    return out


def block_order(func: PrimFunc) -> list[BlockRealize]:
    """Every block of ``func`` in program order (the root excluded)."""
    return [loc.node for loc in all_blocks(func)]


def buffer_ids(regions: Iterable[BufferRegion]) -> set[int]:
    return {id(r.buffer) for r in regions}


def is_param(func: PrimFunc, buffer: Buffer) -> bool:
    return any(p is buffer for p in func.params)


def intersects(regions: Iterable[BufferRegion], ids: set[int]) -> list[Buffer]:
    """The buffers of ``regions`` whose ids are in ``ids``."""
    return [r.buffer for r in regions if id(r.buffer) in ids]


def recompute_reads(block: Block) -> tuple[BufferRegion, ...]:
    """The regions ``block``'s body loads, in order of first use.

    A reduction (a block with ``init``) does not list the buffers it writes:
    reading its own accumulator is implied, as in ``te.create_prim_func``.
    """
    exprs = [n for n in pre_order_nodes(block.body) if isinstance(n, BufferLoad)]
    if block.init is not None:
        written = buffer_ids(block.writes)
        exprs = [n for n in exprs if id(n.buffer) not in written]
    return access_regions(exprs)


def is_true(cond: PrimExpr) -> bool:
    return isinstance(cond, IntImm) and cond.value == 1


def point_pattern(region: BufferRegion, iter_vars) -> list[tuple[Var, int]] | None:
    """For a region that is one point ``buf[v0 + c0, v1 + c1, ...]`` with distinct
    block iterators ``v``, the list of (v, c); None for any other shape."""
    ids = {id(iv.var): iv.var for iv in iter_vars}
    out, seen = [], set()
    for r in region.region:
        if not (isinstance(r.extent, IntImm) and r.extent.value == 1):
            return None
        lin = linear(r.min)
        if len(lin.terms) != 1:
            return None
        ((atom, coef),) = lin.terms.values()
        if coef != 1 or not isinstance(atom, Var) or id(atom) not in ids or id(atom) in seen:
            return None
        seen.add(id(atom))
        out.append((atom, lin.const))
    return out


def stmt_blocks(stmt: Stmt) -> list[BlockRealize]:
    """Every block realize inside ``stmt`` (nested ones included), in program order (a
    block's body before its init). Only statements are walked: no expression holds one."""
    out, stack = [], [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, BlockRealize):
            out.append(node)
            block = node.block
            stack.extend(s for s in (block.init, block.body) if s is not None)
        else:
            stack.extend(reversed(stmt_children(node)))
    return out


def merge_regions(regions: Iterable[BufferRegion]) -> tuple[BufferRegion, ...]:
    """One region per buffer (the hull), in order of first appearance.

    Where the hull's extent is not a constant, the whole dimension is used.
    """
    order: list[Buffer] = []
    hulls: dict[int, list[IntSet]] = {}
    for r in regions:
        key = id(r.buffer)
        sets = [IntSet.from_range(x) for x in r.region]
        if key not in hulls:
            order.append(r.buffer)
            hulls[key] = sets
        else:
            hulls[key] = [a.union(b) for a, b in zip(hulls[key], sets)]
    out = []
    for buf in order:
        dims = []
        for s, extent in zip(hulls[id(buf)], buf.shape):
            e = s.extent()
            dims.append(Range(s.min, e) if isinstance(e, IntImm) else Range(IntImm(0, extent.dtype), extent))
        out.append(BufferRegion(buf, tuple(dims)))
    return tuple(out)


def relax_regions(regions: Iterable[BufferRegion], dom) -> list[BufferRegion]:
    """``regions`` with the variables of ``dom`` relaxed (constant extents, else whole dims)."""
    out = []
    for r in regions:
        dims = []
        for s, extent in zip(clip_to_shape(relax_region(r.region, dom), r.buffer.shape), r.buffer.shape):
            e = s.extent()
            dims.append(Range(s.min, e) if isinstance(e, IntImm) else Range(IntImm(0, extent.dtype), extent))
        out.append(BufferRegion(r.buffer, tuple(dims)))
    return out


def simplify_predicate(pred: PrimExpr, ranges) -> PrimExpr:
    """``pred`` with integer comparisons normalised and conjuncts ``ranges`` prove dropped."""
    keep, ana = [], Analyzer(ranges)
    for cond in conjuncts(pred):
        if isinstance(cond, Binary) and cond.op in ("lt", "le", "gt", "ge", "eq", "ne"):
            cond = make_binary(cond.op, canonical(cond.a), canonical(cond.b))
        if not ana.can_prove(cond):
            keep.append(cond)
    return and_all(keep)


def clip_to_shape(sets: Sequence[IntSet], shape) -> list[IntSet]:
    """Constant endpoints outside ``[0, extent)`` moved inside: a block never
    touches a buffer out of bounds, so the part outside is never accessed."""
    out = []
    for s, extent in zip(sets, shape):
        lo, hi = s.min, s.max
        if isinstance(lo, IntImm) and lo.value < 0:
            lo = IntImm(0, lo.dtype)
        if isinstance(hi, IntImm) and isinstance(extent, IntImm) and hi.value > extent.value - 1:
            hi = IntImm(extent.value - 1, hi.dtype)
        out.append(IntSet(lo, hi))
    return out
