"""blockize: wrap the subtree under a loop into a new outer block.

Each iterator binding of the inner block is divided into a part from the
loops outside (which becomes an iterator of the outer block) and a part from
the loops inside. The outer block's reads and writes are the inner ones
relaxed over the inner loops::

    for i_0, i_1 in T.grid(8, 4):                for i_0 in range(8):
        with T.block("B"):                           with T.block("B_o"):
            vi = T.axis.spatial(32, i_0 * 4 + i_1)       vi_o = T.axis.spatial(8, i_0)
            B[vi] = A[vi] * 2                 ->         T.reads(A[vi_o * 4:vi_o * 4 + 4])
                                                         T.writes(B[vi_o * 4:vi_o * 4 + 4])
                                                         for i_1 in range(4):
                                                             with T.block("B"):
                                                                 vi_i = T.axis.spatial(4, i_1)
                                                                 B[vi_o * 4 + vi_i] = A[vi_o * 4 + vi_i] * 2

An iterator split between loops outside and inside is rebased to the tile
(``vi = vi_o * 4 + vi_i``); a reduction block's ``T.init()`` moves to the new
block when that block has reduction iterators (the reduction continues across
its instances), under copies of the inner spatial loops, as TVM's blockize does::

    with T.block("matmul_o"):
        vi_o, vj_o, vk_o = T.axis.remap("SSR", [i_0, j_0, k_0])
        with T.init():
            for i_1, j_1 in T.grid(16, 16):
                with T.block("matmul_init"):
                    vi_i_init, vj_i_init = T.axis.remap("SS", [i_1, j_1])
                    C[vi_o * 16 + vi_i_init, vj_o * 16 + vj_i_init] = T.float32(0)
        for i_1, j_1, k_1 in T.grid(16, 16, 16):
            with T.block("matmul"):
                vi_i, vj_i, vk_i = T.axis.remap("SSR", [i_1, j_1, k_1])
                C[vi_o * 16 + vi_i, ...] = C[vi_o * 16 + vi_i, ...] + A[...] * B[...]
"""
from __future__ import annotations

from dataclasses import replace as dc_replace

from ...ir.buffer import BufferRegion
from ...ir.expr import Binary, IntImm, IterVar, Range, Var, const, make_binary
from ...ir.functor import substitute
from ...ir.arith import Analyzer, Linear, canonical, constant_difference, free_vars, linear, uses_any
from ...ir.tir import Block, BlockRealize, For, PrimFunc
from ..analysis import and_all, conjuncts, loop_dom, loop_ranges, loops_below, relax_regions
from ..base import BlockRV, ScheduleBase, instruction, schedule_error
from ..edit import unique_block_name
from ..state import blocks_under, find_block, find_loop, replace

__all__ = ["BlockizePrimitives", "blockize_ir", "split_binding"]


def split_binding(value, inner_vars) -> tuple[Linear, Linear] | None:
    """``value`` as (outer part, inner part): the terms without and with ``inner_vars``.

    The constant goes with the outer part. None when a non-affine term mixes both.
    """
    lin = linear(canonical(value))
    outer, inner = Linear(const_=lin.const, dtype=lin.dtype), Linear(dtype=lin.dtype)
    for key, (atom, coef) in lin.terms.items():
        if not uses_any(atom, inner_vars):
            outer.terms[key] = [atom, coef]
        elif isinstance(atom, Var) or not uses_any(atom, _outer_of(atom, inner_vars)):
            inner.terms[key] = [atom, coef]
        else:
            return None
    return outer, inner


def _outer_of(atom, inner_vars) -> list[Var]:
    ids = {id(v) for v in inner_vars}
    return [v for v in free_vars(atom) if id(v) not in ids]


def blockize_ir(func: PrimFunc, loop: Var) -> tuple[PrimFunc, str]:
    """Wrap the loop ``loop`` and everything under it into a block ``{inner}_o``."""
    prim = "blockize"
    lloc = find_loop(func, loop, prim)
    target: For = lloc.node
    blocks = blocks_under(target.body)
    if len(blocks) != 1:
        raise schedule_error(prim, f"loop {loop.name!r}: blockize needs exactly one block under the "
                             f"loop, found {[b.block.name_hint for b in blocks]}", func, target)
    loc = find_block(func, blocks[0].block.name_hint, prim)
    inner_realize = loc.node
    inner_blk = inner_realize.block
    between = loc.path[next(k for k, n in enumerate(loc.path) if n is target):]
    if not all(isinstance(n, For) for n in between):
        raise schedule_error(prim, f"loop {loop.name!r}: only loops may stand between it and block "
                             f"{inner_blk.name_hint!r}", func, target)
    inner_loops = [target] + loops_below(loc, target)
    inner_vars = [f.loop_var for f in inner_loops]
    inner_ranges = loop_ranges(inner_loops)
    outer_ranges = loop_ranges(n for n in lloc.path if isinstance(n, For))
    outer_iters, outer_values, new_values, rebased = [], [], [], {}
    for iv, value in zip(inner_blk.iter_vars, inner_realize.iter_values):
        parts = split_binding(value, inner_vars)
        if parts is None:
            raise schedule_error(prim, f"loop {loop.name!r}: the binding {value!r} of {iv.var.name} "
                                 "mixes loops inside and outside it non-affinely", func, inner_realize)
        outer, inner = parts
        if not outer.terms:  # bound to inner loops (or a constant) only
            if not inner_blk.is_reduction:  # a spatial block keeps a unit outer iterator, as TVM's
                outer_iters.append(IterVar(Var(f"{iv.var.name}_o", iv.var.dtype), Range(const(0), const(1)),
                                           iv.iter_type))
                outer_values.append(const(0))
            new_values.append(value)
            continue
        if not inner.terms:
            factor, lo = 1, 0
        else:
            lo, hi = Analyzer(inner_ranges).const_int_bound(inner.to_expr())
            if lo is None or hi is None:
                raise schedule_error(prim, f"loop {loop.name!r}: cannot bound the inner part of "
                                     f"{iv.var.name}'s binding {value!r}", func, inner_realize)
            factor = hi - lo + 1
        rem = outer.const % factor  # the constant's remainder belongs to the inner part
        outer.const -= rem
        inner.const += rem
        if any(c % factor for _, c in outer.terms.values()):
            raise schedule_error(prim, f"loop {loop.name!r}: the binding {value!r} of {iv.var.name} is "
                                 f"not `outer * {factor} + inner`, so no outer iterator can describe "
                                 "the tile", func, inner_realize)
        scaled = Linear({k: [a, c // factor] for k, (a, c) in outer.terms.items()}, outer.const // factor,
                        outer.dtype)
        ovalue = scaled.to_expr()
        o_lo, o_hi = Analyzer(outer_ranges).const_int_bound(ovalue)
        if o_lo is None or o_hi is None:
            dom = iv.dom
            if not (isinstance(dom.extent, IntImm) and isinstance(dom.min, IntImm) and dom.min.value == 0):
                raise schedule_error(prim, f"loop {loop.name!r}: cannot bound the outer iterator of "
                                     f"{iv.var.name}", func, inner_realize)
            o_lo, o_hi = 0, -(-dom.extent.value // factor) - 1
        o_iv = IterVar(Var(f"{iv.var.name}_o", iv.var.dtype), Range(const(o_lo), const(o_hi - o_lo + 1)),
                       iv.iter_type)
        outer_iters.append(o_iv)
        outer_values.append(ovalue)
        new_values.append(canonical(o_iv.var * factor + inner.to_expr()))
        if inner.terms and lo + rem == 0:  # rebase: v = v_o * factor + v_i, v_i over the tile
            i_iv = IterVar(Var(f"{iv.var.name}_i", iv.var.dtype), Range(const(0), const(factor)),
                           iv.iter_type)
            rebased[iv.var] = (i_iv, inner.to_expr(), canonical(o_iv.var * factor + i_iv.var))
    # conjuncts over loops outside only guard the outer block (below): the inner one keeps the rest
    inner_pred = and_all([c for c in conjuncts(inner_realize.predicate) if uses_any(c, inner_vars)])
    pred = _rebind_predicate(inner_pred, inner_realize.iter_values, new_values)
    vmap = {iv.var: v for iv, v in zip(inner_blk.iter_vars, new_values)}
    dom = loop_dom(inner_loops)
    reads = relax_regions([_subst_region(r, vmap) for r in inner_blk.reads], dom)
    writes = relax_regions([_subst_region(r, vmap) for r in inner_blk.writes], dom)
    new_inner = _rebase_inner(inner_realize, new_values, rebased, pred)
    outer_init = None
    if new_inner.block.init is not None and any(iv.iter_type == "reduce" for iv in outer_iters):
        outer_init = _outer_init(prim, func, loop, new_inner, inner_loops)
        new_inner = dc_replace(new_inner, block=dc_replace(new_inner.block, init=None))
    name = unique_block_name(func, f"{inner_blk.name_hint}_o")
    func = replace(func, inner_realize, new_inner)
    target = find_loop(func, loop, prim).node
    outer_block = Block(name, tuple(outer_iters), tuple(reads), tuple(writes), target, init=outer_init)
    outer = BlockRealize(tuple(outer_values), _outer_predicate(inner_realize.predicate, inner_vars),
                         outer_block)
    return replace(func, target, outer), name


def _rebase_inner(realize: BlockRealize, new_values, rebased, pred) -> BlockRealize:
    """The inner block with each rebased iterator ``v`` replaced by ``v_i`` over the tile
    (its uses read ``v_o * factor + v_i``), the others bound to ``new_values``."""
    blk = realize.block
    iters, values, vmap = [], [], {}
    for iv, value in zip(blk.iter_vars, new_values):
        if iv.var in rebased:
            i_iv, binding, use = rebased[iv.var]
            iters.append(i_iv)
            values.append(binding)
            vmap[iv.var] = use
        else:
            iters.append(iv)
            values.append(value)
    if not vmap:
        return dc_replace(realize, iter_values=tuple(values), predicate=pred)
    new_blk = dc_replace(blk, iter_vars=tuple(iters),
                         reads=tuple(_subst_region(r, vmap) for r in blk.reads),
                         writes=tuple(_subst_region(r, vmap) for r in blk.writes),
                         body=substitute(blk.body, vmap),
                         init=None if blk.init is None else substitute(blk.init, vmap))
    return BlockRealize(tuple(values), pred, new_blk)


def _outer_init(prim, func, loop, inner: BlockRealize, inner_loops) -> BlockRealize | For:
    """The inner block's init, moved to the new outer block (as TVM's blockize does).

    It becomes a block ``{name}_init`` under copies of the inner loops that feed
    spatial iterators, so it runs once per outer instance where the outer block's
    reduction starts::

        with T.init():
            for i_1, j_1 in T.grid(16, 16):
                with T.block("matmul_init"):
                    vi_i_init, vj_i_init = T.axis.remap("SS", [i_1, j_1])
                    C[vi_o * 16 + vi_i_init, vj_o * 16 + vj_i_init] = T.float32(0)
    """
    blk = inner.block
    loop_ids = {id(f.loop_var) for f in inner_loops}
    spatial, reduce = set(), set()
    for iv, value in zip(blk.iter_vars, inner.iter_values):
        ids = {id(v) for v in free_vars(value)} & loop_ids
        (spatial if iv.iter_type == "spatial" else reduce).update(ids)
    both = [f.loop_var.name for f in inner_loops if id(f.loop_var) in spatial & reduce]
    if both:
        raise schedule_error(prim, f"loop {loop.name!r}: block {blk.name_hint!r} has T.init(), which "
                             f"moves to the new outer block, but loop {both[0]!r} feeds both spatial and "
                             "reduction iterators, so the init cannot be given its own loops", func, inner)
    copied = [f for f in inner_loops if id(f.loop_var) in spatial]
    loop_map = {f.loop_var: Var(f.loop_var.name, f.loop_var.dtype) for f in copied}
    iters, values, vmap = [], [], {}
    for iv, value in zip(blk.iter_vars, inner.iter_values):
        if iv.iter_type != "spatial":
            continue
        if not uses_any(value, list(loop_map)):
            vmap[iv.var] = value
            continue
        fresh = IterVar(Var(f"{iv.var.name}_init", iv.var.dtype), iv.dom, "spatial")
        iters.append(fresh)
        values.append(substitute(value, loop_map))
        vmap[iv.var] = fresh.var
    if uses_any(blk.init, [iv.var for iv in blk.iter_vars if iv.iter_type != "spatial"]):
        raise schedule_error(prim, f"loop {loop.name!r}: the init of block {blk.name_hint!r} reads a "
                             "reduction iterator", func, inner)
    writes = tuple(_subst_region(w, vmap) for w in blk.writes)
    init_blk = Block(f"{blk.name_hint}_init", tuple(iters), (), writes, substitute(blk.init, vmap))
    pred = and_all([substitute(c, loop_map) for c in conjuncts(inner.predicate)
                    if not uses_any(c, [f.loop_var for f in inner_loops if f.loop_var not in loop_map])])
    stmt = BlockRealize(tuple(values), pred, init_blk)
    for f in reversed(copied):
        stmt = For(loop_map[f.loop_var], f.min, f.extent, "serial", stmt)
    return stmt


def _outer_predicate(pred, inner_vars):
    """The conjuncts of the inner block's predicate that use no loop inside the new block.

    They also guard the outer block: where they fail, the outer bindings may leave their
    domains (a non-divisible split above), and nothing the outer block holds, such as a
    cache stage added later, may run there.
    """
    return and_all([c for c in conjuncts(pred) if not uses_any(c, inner_vars)])


def _rebind_predicate(pred, old_values, new_values):
    """Conjuncts comparing an old binding (plus a constant) are rewritten on the new one,
    so ``T.where(i_0 * 5 + i_1 < 12)`` becomes ``T.where(vi_o * 5 + i_1 < 12)``."""
    out = []
    for cond in conjuncts(pred):
        if isinstance(cond, Binary) and cond.op in ("lt", "le", "gt", "ge"):
            for old, new in zip(old_values, new_values):
                d = constant_difference(old, cond.a)
                if d is not None:
                    cond = make_binary(cond.op, canonical(new + d), cond.b)
                    break
        out.append(cond)
    return and_all(out)


def _subst_region(region, vmap):
    return BufferRegion(region.buffer, tuple(Range(substitute(r.min, vmap), r.extent) for r in region.region))


class BlockizePrimitives(ScheduleBase):

    @instruction
    def blockize(self, loop) -> BlockRV:
        """Wrap ``loop`` and its subtree into a new outer block ``{inner}_o`` whose
        iterators cover what the inner block's iterators span; returns it.

        More than one block under ``loop``, or bindings that cannot be divided into
        an outer and an inner part, are a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.add_one(8))
        >>> (i,) = sch.get_loops(sch.get_block("B"))
        >>> i0, i1 = sch.split(i, factors=[2, 4])
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i_0, i_1 in T.grid(2, 4):
                with T.block("B"):
                    vi = T.axis.spatial(8, i_0 * 4 + i_1)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] + T.float32(1)
        >>> outer = sch.blockize(i1)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i_0 in range(2):
                with T.block("B_o"):
                    vi_o = T.axis.spatial(2, i_0)
                    T.reads(A[vi_o * 4:vi_o * 4 + 4])
                    T.writes(B[vi_o * 4:vi_o * 4 + 4])
                    for i_1 in range(4):
                        with T.block("B"):
                            vi_i = T.axis.spatial(4, i_1)
                            T.reads(A[vi_o * 4 + vi_i])
                            T.writes(B[vi_o * 4 + vi_i])
                            B[vi_o * 4 + vi_i] = A[vi_o * 4 + vi_i] + T.float32(1)
        """
        fname, func, lloc = self._loop(loop, "blockize")
        new, name = blockize_ir(func, lloc.node.loop_var)
        self._commit(fname, new)
        return self._block_rv(fname, name)
