"""Pure loop transformations behind split, fuse and reorder.

Each function takes a PrimFunc and loop variables (loops are named by their
``loop_var`` object), checks that the request is legal, raising
:class:`~mlc.ScheduleError` before building anything, and returns a new
PrimFunc; the input is never modified. Block iterator bindings and
predicates are rewritten with :func:`rebind`, which simplifies them under
the loop ranges so the printed IR stays the way a person would write it.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace as dc_replace

from ...ir import dtype as dt
from ...ir.arith import Analyzer
from ...ir.analysis import iteration_conflict, stmt_children
from ...ir.expr import IntImm, IterVar, PrimExpr, Range, Var, cast, const, logical_and
from ...ir.functor import pre_order_nodes
from ...ir.range_mutator import RangeMutator
from ...ir.tir import BlockRealize, For, IfThenElse, PrimFunc
from ..analysis import stmt_blocks
from ..base import schedule_error
from ..state import Location, blocks_under, find_loop, replace

__all__ = ["rebind", "outer_ranges", "split_loop", "fuse_loops", "reorder_loops", "loop_chain",
           "const_extent"]


# ------------------------------------------------------------------ helpers

def outer_ranges(loc: Location) -> dict[Var, Range]:
    """Ranges of every loop and block iterator enclosing ``loc`` (for simplification)."""
    ranges: dict[Var, Range] = {}
    for node in loc.path:
        if isinstance(node, For):
            ranges[node.loop_var] = Range(node.min, node.extent)
        elif isinstance(node, BlockRealize):
            for iv in node.block.iter_vars:
                ranges[iv.var] = iv.dom
    return ranges


class _Rebind(RangeMutator):
    """Substitute loop variables; simplify bindings and predicates of the blocks met.

    ``predicate`` (optional) is added to every outermost BlockRealize.
    """

    def __init__(self, vmap: Mapping[Var, PrimExpr], ranges: Mapping[Var, Range],
                 predicate: PrimExpr | None):
        super().__init__(ranges)
        self.vmap, self.predicate = vmap, predicate
        self.block_depth = 0

    def visit_Var(self, var: Var):
        return self.vmap.get(var, var)

    def visit_For(self, node: For):
        lo, extent = self.visit(node.min), self.visit(node.extent)
        if lo is not node.min or extent is not node.extent:
            ana = self.analyzer
            lo, extent = ana.simplify(lo), ana.simplify(extent)
        with self.bound({node.loop_var: Range(lo, extent)}):
            body = self.visit(node.body)
        if lo is node.min and extent is node.extent and body is node.body:
            return node
        return dc_replace(node, min=lo, extent=extent, body=body)

    def visit_BlockRealize(self, node: BlockRealize):
        values = tuple(self._simplified(v) for v in node.iter_values)
        predicate = self.visit(node.predicate)
        if self.predicate is not None and self.block_depth == 0:
            predicate = logical_and(predicate, self.predicate)
        if predicate is not node.predicate:
            predicate = self.analyzer.simplify(predicate)
        self.block_depth += 1
        try:
            block = self.visit(node.block)  # (under the iterators' domains: RangeMutator.visit_Block)
        finally:
            self.block_depth -= 1
        if block is node.block and predicate is node.predicate and \
                all(a is b for a, b in zip(values, node.iter_values)):
            return node
        return BlockRealize(values, predicate, block)

    def _simplified(self, value: PrimExpr) -> PrimExpr:
        new = self.visit(value)
        return value if new is value else self.analyzer.simplify(new)


def rebind(stmt, vmap: Mapping[Var, PrimExpr], ranges: Mapping[Var, Range],
           predicate: PrimExpr | None = None):
    """``stmt`` with ``vmap`` substituted; changed bindings simplified under ``ranges``.

    When ``predicate`` is given it is and-ed into the predicate of every
    outermost block under ``stmt``; without such a block, ``stmt`` is wrapped
    in ``if predicate:`` so no iteration outside the old domain ever runs.
    """
    if predicate is not None and not blocks_under(stmt):
        stmt = IfThenElse(predicate, stmt)
        predicate = None
    return _Rebind(vmap, ranges, predicate).visit(stmt)


def const_extent(loop: For, primitive: str, func: PrimFunc) -> int:
    """The loop's extent as an int; a symbolic extent is a ScheduleError."""
    if not isinstance(loop.extent, IntImm):
        raise schedule_error(primitive, f"loop {loop.loop_var.name} has the symbolic extent "
                             f"`{loop.extent!r}`; {primitive} needs a constant extent",
                             func, loop)
    return loop.extent.value


def loop_index_dtype(primitive: str, dtype: str, extent: int, func: PrimFunc, loop: For) -> str:
    """The dtype of a loop variable that counts to ``extent``: ``dtype``, widened to int64
    when ``extent`` does not fit it (a loop of 2**31 iterations needs 64-bit indices)."""
    for candidate in (dtype, "int64"):
        top = (1 << (dt.bits(candidate) - dt.is_signed(candidate))) - 1
        if dt.bits(candidate) >= dt.bits(dtype) and extent <= top:
            return candidate
    raise schedule_error(primitive, f"the new loop would run {extent} iterations, more than a "
                         "64-bit loop variable can count", func, loop)


def _mixed_loop(realize: BlockRealize, loops: Sequence[For]) -> For | None:
    """The first of ``loops`` that a block with an init binds to both a spatial and a reduce
    iterator (None if there is none)."""
    block = realize.block
    if block.init is None:
        return None
    spatial = [v for iv, v in zip(block.iter_vars, realize.iter_values) if iv.iter_type != "reduce"]
    reduce = [v for iv, v in zip(block.iter_vars, realize.iter_values) if iv.iter_type == "reduce"]
    for loop in loops:
        if _uses(spatial, [loop.loop_var]) is not None and _uses(reduce, [loop.loop_var]) is not None:
            return loop
    return None


def _uses(exprs: Sequence[PrimExpr], vars_: Sequence[Var]) -> Var | None:
    """The first of ``vars_`` that occurs in ``exprs``, or None."""
    ids = {id(v): v for v in vars_}
    for expr in exprs:
        for node in pre_order_nodes(expr):
            if isinstance(node, Var) and id(node) in ids:
                return ids[id(node)]
    return None


# -------------------------------------------------------------------- split

def split_loop(func: PrimFunc, loop_var: Var, factors: Sequence[int]) -> tuple[PrimFunc, list[Var]]:
    """Split a loop into ``len(factors)`` nested loops; returns (func, new loop vars).

    ``factors`` are positive ints whose product covers the extent. When the
    product is larger, every block under the loop gets the predicate
    ``outer * inner_extent + inner < extent`` so the extra iterations do
    nothing. A loop of symbolic extent takes one factor that is an expression
    (``(n + 7) // 8``, what the Schedule infers for a None) and is always guarded. The new loops are serial and named ``{name}_0``, ``{name}_1``, ...

    :meth:`mlc.Schedule.split` shows the IR before and after.
    """
    loc = find_loop(func, loop_var, "split")
    loop: For = loc.node
    if not factors or any(not _is_factor(f) for f in factors):
        raise schedule_error("split", f"factors must be positive ints, got {list(factors)}", func, loop)
    symbolic = [f for f in factors if not isinstance(f, int)]
    if isinstance(loop.extent, IntImm) and not symbolic:
        extent = loop.extent.value
        total = math.prod(factors)
        if total < extent:
            raise schedule_error("split", f"the factors {list(factors)} multiply to {total}, less "
                                 f"than the extent {extent} of loop {loop_var.name}; they must "
                                 "cover it", func, loop)
        dtype = loop_index_dtype("split", loop_var.dtype, total, func, loop)
        guarded = total > extent
    else:
        extent = loop.extent
        if len(symbolic) != 1:
            raise schedule_error("split", f"loop {loop_var.name} has the symbolic extent "
                                 f"`{extent!r}`; split it with one factor None (inferred as the "
                                 f"extent divided by the others, rounded up), got {list(factors)}",
                                 func, loop)
        dtype = loop_var.dtype
        guarded = True
    new_vars = [Var(f"{loop_var.name}_{n}", dtype) for n in range(len(factors))]
    fused: PrimExpr = const(0, dtype)
    for var, factor in zip(new_vars, factors):
        fused = fused * factor + var
    ranges = outer_ranges(loc)
    ranges.update({v: Range.from_extent(cast(f, dtype) if isinstance(f, PrimExpr) else const(f, dtype))
                   for v, f in zip(new_vars, factors)})
    ana = Analyzer(ranges)
    fused = ana.simplify(fused)
    predicate = None
    if guarded:
        predicate = ana.simplify(fused < cast(extent, dtype) if isinstance(extent, PrimExpr) else fused < extent)
        if isinstance(predicate, IntImm) and predicate.value:
            predicate = None
    value = ana.simplify(cast(loop.min, dtype) + fused)
    body = rebind(loop.body, {loop_var: cast(value, loop_var.dtype)}, ranges, predicate)
    for var, factor in reversed(list(zip(new_vars, factors))):
        ext = cast(factor, dtype) if isinstance(factor, PrimExpr) else const(factor, dtype)
        body = For(var, const(0, dtype), ext, "serial", body)
    return replace(func, loop, body), new_vars


def _is_factor(f) -> bool:
    """A split factor: a positive int, or (inferred for a symbolic extent) an integer expression."""
    if isinstance(f, PrimExpr):
        return dt.is_int(f.dtype) and not isinstance(f, IntImm)
    return not isinstance(f, bool) and isinstance(f, int) and f >= 1


# --------------------------------------------------------------------- fuse

def loop_chain(func: PrimFunc, loop_vars: Sequence[Var], primitive: str) -> list[Location]:
    """Locations of loops that form a perfectly nested chain, outermost first.

    Raises when a loop is repeated or two loops are not ancestor and
    descendant with nothing but loops between them.
    """
    locs = [find_loop(func, v, primitive) for v in loop_vars]
    if len({id(v) for v in loop_vars}) != len(loop_vars):
        names = [v.name for v in loop_vars]
        raise schedule_error(primitive, f"a loop is listed twice in {names}", func)
    locs.sort(key=lambda loc: len(loc.path))
    bottom = locs[-1]
    chain_ids = {id(n) for n in bottom.path} | {id(bottom.node)}
    for loc in locs:
        if id(loc.node) not in chain_ids:
            raise schedule_error(
                primitive, f"loops {loc.node.loop_var.name} and {bottom.node.loop_var.name} are "
                "not nested in one another; the loops must form a single chain", func, loc.node)
    chain = _chain(locs)
    for outer, inner in zip(chain, chain[1:]):
        if not isinstance(inner, For) or outer.body is not inner:
            what = type(outer.body).__name__
            raise schedule_error(
                primitive, f"loop {outer.loop_var.name} does not directly contain the next loop "
                f"(there is a {what} in between); only loops may separate the loops of {primitive}",
                func, outer)
    return locs


def _chain(locs: list[Location]) -> list:
    """Every node from the outermost to the innermost of ``locs`` (sorted by depth)."""
    top, bottom = locs[0].node, locs[-1]
    if top is bottom.node:
        return [top]
    start = next(n for n, node in enumerate(bottom.path) if node is top)
    return list(bottom.path[start:]) + [bottom.node]


def fuse_loops(func: PrimFunc, loop_vars: Sequence[Var]) -> tuple[PrimFunc, Var]:
    """Fuse directly nested loops (outermost first) into one; returns (func, fused var).

    The fused loop ``i_j_fused`` runs over the product of the extents; each
    old variable becomes ``fused // stride % extent``, simplified.

    :meth:`mlc.Schedule.fuse` shows the IR before and after.
    """
    if not loop_vars:
        raise schedule_error("fuse", "fuse needs at least one loop")
    locs = [find_loop(func, v, "fuse") for v in loop_vars]
    for outer, inner in zip(locs, locs[1:]):
        if outer.node.body is not inner.node:
            raise schedule_error(
                "fuse", f"loop {inner.node.loop_var.name} is not the only statement directly "
                f"inside loop {outer.node.loop_var.name}; fuse takes directly nested loops, "
                "outermost first", func, outer.node)
    loops = [loc.node for loc in locs]
    for n, f in enumerate(loops):
        used = _uses((f.min, f.extent), [g.loop_var for g in loops[:n]])
        if used is not None:
            raise schedule_error("fuse", f"the range of loop {f.loop_var.name} depends on loop "
                                 f"{used.name}, so the two cannot be fused", func, f)
    widest = max((f.loop_var.dtype for f in loops), key=lambda d: dt.bits(d))
    if all(isinstance(f.extent, IntImm) for f in loops):
        extents = [f.extent.value for f in loops]
        total = math.prod(extents)
        dtype = loop_index_dtype("fuse", widest, total, func, loops[0])
        total_expr = const(total, dtype)
    else:  # symbolic extents: the fused extent is their product
        dtype = widest
        extents = [cast(f.extent, dtype) for f in loops]
        total = None
        total_expr = functools.reduce(lambda a, b: a * b, extents)
    fused = Var("_".join(f.loop_var.name for f in loops) + "_fused", dtype)
    ranges = outer_ranges(locs[0])
    ranges[fused] = Range.from_extent(total_expr)
    ana = Analyzer(ranges)
    vmap = {}
    for n, (f, extent) in enumerate(zip(loops, extents)):
        if total == 0:  # an empty loop: the fused loop never runs, any binding will do
            vmap[f.loop_var] = f.min
            continue
        inner = extents[n + 1:]
        stride = (math.prod(inner) if total is not None
                  else functools.reduce(lambda a, b: a * b, inner, const(1, dtype)))
        part = fused // stride
        if n > 0:  # the outermost part is below its extent already
            part = part % extent
        value = ana.simplify(cast(f.min, dtype) + part)
        vmap[f.loop_var] = cast(value, f.loop_var.dtype)  # each part fits its old loop's dtype
    body = rebind(loops[-1].body, vmap, ranges)
    new = For(fused, const(0, dtype), ana.simplify(total_expr), "serial", body)
    return replace(func, loops[0], new), fused


# ------------------------------------------------------------------ reorder

def reorder_loops(func: PrimFunc, loop_vars: Sequence[Var]) -> PrimFunc:
    """Reorder loops of one perfectly nested chain into the given order.

    The listed loops take, in order, the positions they occupy together
    (outermost first); unlisted loops between them stay where they are.
    Loops keep their kind and annotations.

    :meth:`mlc.Schedule.reorder` shows the IR before and after.
    """
    locs = loop_chain(func, loop_vars, "reorder")
    chain = _chain(locs)
    top, bottom = chain[0], chain[-1]
    listed = {id(v) for v in loop_vars}
    by_var = {id(loc.node.loop_var): loc.node for loc in locs}
    order = iter(by_var[id(v)] for v in loop_vars)
    new_chain = [next(order) if id(f.loop_var) in listed else f for f in chain]
    for n, f in enumerate(new_chain):
        used = _uses((f.min, f.extent), [g.loop_var for g in new_chain[n + 1:]])
        if used is not None:
            raise schedule_error("reorder", f"the range of loop {f.loop_var.name} depends on loop "
                                 f"{used.name}, which would move inside it", func, f)
    moved = [f for f, g in zip(chain, new_chain) if f is not g]
    for realize in blocks_under(bottom.body):
        mixed = _mixed_loop(realize, moved)
        if mixed is not None:
            raise schedule_error(
                "reorder", f"loop {mixed.loop_var.name} feeds both spatial and reduce iterators of "
                f"block {realize.block.name_hint!r}, whose init runs when the reduce iterators are at "
                "their first value: moving it would change the order of the reduction's steps, and "
                "the init could run after some of them. Reorder the loops before fusing spatial "
                "and reduction loops together", func, mixed)
    changed = [n for n, (f, g) in enumerate(zip(chain, new_chain)) if f is not g]
    if changed:
        _check_order_free(func, chain[changed[0]:changed[-1] + 1], top)
    body = bottom.body
    for f in reversed(new_chain):
        body = dc_replace(f, body=body)
    return replace(func, top, body)


def _check_order_free(func: PrimFunc, loops: Sequence[For], top: For) -> None:
    """Refuse to change the order of ``loops`` (those whose order relative to another loop
    changes) when the blocks under them may depend on it.

    A loop bound to an opaque iterator has an order that matters by declaration. A loop
    that drives only reduce iterators of blocks with an init may move freely (the
    reduction is commutative); any other loop must have independent iterations, the
    proof ``parallel`` asks for (conservative: a dependence that the new order would
    keep is refused too). The proof is skipped when no buffer is both written and read
    under the loops.
    """
    realizes = stmt_blocks(top)
    written = {id(w.buffer) for r in realizes for w in r.block.writes}
    shared = any(id(x.buffer) in written for r in realizes for x in r.block.reads)
    for loop in loops:
        bound = _bound_iterators(loop)
        opaque = next(((r, iv) for r, iv, _ in bound if iv.iter_type == "opaque"), None)
        if opaque is not None:
            realize, iv = opaque
            raise schedule_error(
                "reorder", f"loop {loop.loop_var.name} drives the opaque iterator {iv.var.name} of block "
                f"{realize.block.name_hint!r}, whose iterations must run in their order; declare the "
                "iterator spatial or reduce if its order does not matter", func, loop)
        commutative = bool(bound) and all(iv.iter_type == "reduce" and init for _, iv, init in bound)
        if not shared or commutative:
            continue
        conflict = iteration_conflict(loop)
        if conflict is not None:
            buf, access = conflict
            who = f" by block {access.realize.block.name_hint!r}" if access.realize is not None else ""
            raise schedule_error(
                "reorder", f"iterations of loop {loop.loop_var.name} may depend on each other: buffer "
                f"{buf.name} is written under the loop and accessed{who} at elements another iteration "
                "may write, so running them in another order could change the result; keep the loop's "
                "place", func, loop)


def _bound_iterators(loop: For) -> list[tuple[BlockRealize, IterVar, bool]]:
    """(block, iterator, whether an init of the block or a block around it sets the
    output) for every block iterator bound to an expression of ``loop``'s variable, through
    nested blocks (an inner block bound to an outer iterator the loop drives)."""
    out = []
    stack = [(loop.body, frozenset({id(loop.loop_var)}), False)]
    while stack:
        node, dependent, has_init = stack.pop()
        if isinstance(node, BlockRealize):
            has_init = has_init or node.block.init is not None
            inner = set(dependent)
            for iv, value in zip(node.block.iter_vars, node.iter_values):
                if any(isinstance(n, Var) and id(n) in dependent for n in pre_order_nodes(value)):
                    out.append((node, iv, has_init))
                    inner.add(id(iv.var))
            dependent = frozenset(inner)
        stack.extend((child, dependent, has_init) for child in stmt_children(node))
    return out
