"""Reduction primitives: decompose_reduction and rfactor.

``decompose_reduction(block, loop)`` splits a reduction block's ``T.init()``
into its own block, placed right before ``loop``::

    for i, j_0 in T.grid(128, 32):                  for i, j_0 in T.grid(128, 32):
        for k, j_1 in T.grid(128, 4):                   for j_1_init in range(4):
            with T.block("Y"):                              with T.block("Y_init"): ...  # Y[vi, vj] = 0
                ...                            ->      for k, j_1 in T.grid(128, 4):
                with T.init():                              with T.block("Y_update"):
                    Y[vi, vj] = T.float32(0)                    T.reads(Y[vi, vj], A[vi, vk], B[vk, vj])
                Y[vi, vj] = Y[vi, vj] + ...                     Y[vi, vj] = Y[vi, vj] + ...

``rfactor(loop, factor_axis)`` turns the reduction loop ``loop`` into a
spatial dimension of a new buffer ``{Y}_rf`` (inserted at ``factor_axis``):
block ``{name}_rf`` computes partial results, and the original block then
reduces them::

    for i, k in T.grid(8, 16):                       for i, k in T.grid(8, 16):
        with T.block("S"):                               with T.block("S_rf"):      # S_rf[vk, vi] += A[vi, vk]
            vi, vk = T.axis.remap("SR", [i, k])  ->  for i, k in T.grid(8, 16):
            S[vi] = S[vi] + A[vi, vk]                    with T.block("S"):         # S[vi] += S_rf[vk, vi]
"""
from __future__ import annotations

from dataclasses import replace as dc_replace

from ...ir.buffer import Buffer, BufferRegion
from ...ir.expr import Binary, BufferLoad, IntImm, IterVar, PrimExpr, Range, Var, const, make_binary, select
from ...ir.functor import pre_order_nodes, substitute
from ...ir.arith import Analyzer, canonical, expr_key, free_vars, uses_any
from ...ir.te import access_regions, highest, lowest
from ...ir.tir import BlockRealize, BufferStore, For, PrimFunc, seq
from ..analysis import and_all, buffer_ids, conjuncts, loop_ranges, simplify_predicate
from ..base import BlockRV, ScheduleBase, instruction, schedule_error
from ..edit import add_alloc, unique_block_name, unique_buffer_name
from ..state import blocks_under, find_block, find_loop, loops_above, replace

__all__ = ["ReductionPrimitives", "decompose_reduction_ir", "rfactor_ir"]


def _fresh_iter(iv: IterVar, iter_type: str | None = None) -> IterVar:
    return IterVar(Var(iv.var.name, iv.var.dtype), iv.dom, iter_type or iv.iter_type)


# ------------------------------------------------------------ decompose_reduction

def decompose_reduction_ir(func: PrimFunc, block: str, loop: Var) -> tuple[PrimFunc, str, str]:
    """Split ``block``'s init into a block ``{block}_init`` placed before ``loop``.

    Returns the new function and the names of the init and update blocks.
    """
    prim = "decompose_reduction"
    loc = find_block(func, block, prim)
    lloc = find_loop(func, loop, prim)
    realize, blk, target = loc.node, loc.node.block, lloc.node
    where = f"block {block!r}, loop {loop.name!r}: "
    if not blk.is_reduction or blk.init is None:
        raise schedule_error(prim, where + "the block is not a reduction with a T.init() to split off",
                             func, realize)
    nest = loops_above(loc)
    if not any(f is target for f in nest):
        raise schedule_error(prim, where + "the loop is not above the block (in its block scope)",
                             func, target)
    inner = nest[next(k for k, f in enumerate(nest) if f is target):]
    outer_vars = [f.loop_var for f in nest[:len(nest) - len(inner)]]
    inner_ids = {id(f.loop_var) for f in inner}
    spatial_ids, reduce_ids = set(), set()
    for iv, value in zip(blk.iter_vars, realize.iter_values):
        ids = {id(v) for v in free_vars(value)}
        if iv.iter_type == "spatial":
            spatial_ids |= ids
        else:
            reduce_ids |= ids
            if uses_any(value, outer_vars):
                raise schedule_error(prim, where + f"the reduction iterator {iv.var.name} is bound to "
                                     f"{value!r}, which uses a loop outside {loop.name!r}; the init "
                                     "would run again on every iteration of it", func, target)
    free = [f.loop_var.name for f in inner if id(f.loop_var) not in spatial_ids | reduce_ids]
    if free:
        raise schedule_error(prim, where + f"loop {free[0]!r} does not index the block, so the block "
                             f"reruns the whole reduction on each of its iterations while the init "
                             "would run only once; decompose at a loop below it", func, realize)
    both = [f.loop_var.name for f in inner if id(f.loop_var) in spatial_ids & reduce_ids]
    if both:
        raise schedule_error(prim, where + f"loop {both[0]!r} feeds both spatial and reduction "
                             "iterators", func, realize)
    copied = [f for f in inner if id(f.loop_var) in spatial_ids]
    loop_map = {f.loop_var: Var(f"{f.loop_var.name}_init", f.loop_var.dtype) for f in copied}
    new_iters, iter_map, values = [], {}, []
    for iv, value in zip(blk.iter_vars, realize.iter_values):
        if iv.iter_type == "spatial":
            fresh = _fresh_iter(iv)
            new_iters.append(fresh)
            iter_map[iv.var] = fresh.var
            values.append(substitute(value, loop_map))
    reduce_vars = [iv.var for iv in blk.iter_vars if iv.iter_type != "spatial"]
    if uses_any(blk.init, reduce_vars):
        raise schedule_error(prim, where + "the init reads a reduction iterator", func, realize)
    init_name = unique_block_name(func, f"{block}_init")
    update_name = unique_block_name(func, f"{block}_update")
    writes = tuple(substitute(w, iter_map) for w in blk.writes)
    init_block = dc_replace(blk, name_hint=init_name, iter_vars=tuple(new_iters), reads=(),
                            writes=writes, body=substitute(blk.init, iter_map), init=None,
                            alloc_buffers=())
    init_pred = _init_predicate(prim, where, func, realize, inner_ids, loop_map,
                                [f for f in loc.path if isinstance(f, For)])
    init_stmt = BlockRealize(tuple(values), init_pred, init_block)
    for f in reversed(copied):
        init_stmt = dc_replace(f, loop_var=loop_map[f.loop_var], body=init_stmt)
    reads = tuple(w for w in blk.writes if id(w.buffer) not in buffer_ids(blk.reads)) + blk.reads
    update = dc_replace(blk, name_hint=update_name, init=None, reads=reads)
    func = replace(func, realize, dc_replace(realize, block=update))
    target = find_loop(func, loop, prim).node
    return replace(func, target, seq(init_stmt, target)), init_name, update_name


def _init_predicate(prim, where, func, realize, inner_ids, loop_map, loops) -> PrimExpr:
    """The conjuncts of the block predicate that constrain the init's loops."""
    keep = []
    for cond in conjuncts(realize.predicate):
        ids = {id(v) for v in free_vars(cond)}
        dropped = (ids & inner_ids) - {id(v) for v in loop_map}
        if not dropped:
            keep.append(substitute(cond, loop_map))
        elif ids & {id(v) for v in loop_map} and not _holds_at_first_step(cond, realize, loops, inner_ids,
                                                                           loop_map):
            raise schedule_error(prim, where + f"the predicate {cond!r} mixes the init's loops with "
                                 "reduction loops", func, realize)
    ranges = loop_ranges(f for f in loops if f.loop_var not in loop_map)
    ranges.update({loop_map[f.loop_var]: Range(f.min, f.extent) for f in loops if f.loop_var in loop_map})
    return simplify_predicate(and_all(keep), ranges)


def _holds_at_first_step(cond, realize, loops, inner_ids, loop_map) -> bool:
    """Whether ``cond``, a conjunct of the block predicate over the init's loops and the
    reduction loops, holds at the reduction loops' first iteration for every value of the
    init's loops, and the reduction iterators are at their minimum there. The block then
    runs its init at every point of the init's loops, and the init needs no part of
    ``cond``: a split reduction whose last block is ragged (``k_0 * 64 + k_1 < 1000003``)
    initialises each of its 64 accumulators at ``k_0 = 0``."""
    first = {f.loop_var: f.min for f in loops if id(f.loop_var) in inner_ids and f.loop_var not in loop_map}
    ana = Analyzer(loop_ranges(loops))
    for iv, value in zip(realize.block.iter_vars, realize.iter_values):
        if iv.iter_type != "spatial" and not ana.can_prove(
                make_binary("eq", substitute(value, first), iv.dom.min)):
            return False
    return ana.can_prove(substitute(cond, first))


# ----------------------------------------------------------------------- rfactor

_REDUCERS = ("add", "mul", "min", "max")
#: Each reducer's identity (what a left-out term adds), by dtype.
_IDENTITY = {"add": lambda d: const(0, d), "mul": lambda d: const(1, d), "max": lowest, "min": highest}


def _match_reducer(blk) -> tuple[str, BufferStore, PrimExpr] | None:
    """(op, store, rhs) for a body ``Y[idx] = op(Y[idx], rhs)`` with init ``Y[idx] = c``."""
    body, init = blk.body, blk.init
    if not (isinstance(body, BufferStore) and isinstance(init, BufferStore)):
        return None
    value = body.value
    if not (isinstance(value, Binary) and value.op in _REDUCERS):
        return None
    key = expr_key(body.indices)
    if init.buffer is not body.buffer or expr_key(init.indices) != key:
        return None
    for acc, rhs in ((value.a, value.b), (value.b, value.a)):
        if isinstance(acc, BufferLoad) and acc.buffer is body.buffer and expr_key(acc.indices) == key:
            if any(n.buffer is body.buffer for n in _loads(rhs)):
                return None
            return value.op, body, rhs
    return None


def _loads(e):
    return [n for n in pre_order_nodes(e) if isinstance(n, BufferLoad)]


def rfactor_ir(func: PrimFunc, loop: Var, factor_axis: int) -> tuple[PrimFunc, str]:
    """Factor the reduction over ``loop`` into a new buffer; returns (func, rf block name)."""
    prim = "rfactor"
    lloc = find_loop(func, loop, prim)
    target: For = lloc.node
    blocks = blocks_under(target.body)
    if len(blocks) != 1:
        names = [b.block.name_hint for b in blocks]
        raise schedule_error(prim, f"loop {loop.name!r}: rfactor needs exactly one block under the "
                             f"loop, found {names}", func, target)
    realize = blocks[0]
    blk = realize.block
    where = f"block {blk.name_hint!r}, loop {loop.name!r}: "
    matched = _match_reducer(blk) if blk.is_reduction else None
    if matched is None:
        raise schedule_error(prim, where + "the block is not a reduction `Y[i] = Y[i] op value` "
                             "(op one of +, *, min, max) with a T.init()", func, realize)
    op, store, rhs = matched
    loc = find_block(func, blk.name_hint, prim)
    nest = loops_above(loc)
    top = nest[0]
    if len(blocks_under(top)) != 1:
        raise schedule_error(prim, where + "the block must be alone in its loop nest", func, top)
    spatial_vars = {id(v) for iv, val in zip(blk.iter_vars, realize.iter_values)
                    if iv.iter_type == "spatial" for v in free_vars(val)}
    reduce_vars = {id(v) for iv, val in zip(blk.iter_vars, realize.iter_values)
                   if iv.iter_type != "spatial" for v in free_vars(val)}
    if id(loop) not in reduce_vars or id(loop) in spatial_vars:
        raise schedule_error(prim, where + "the loop is not a reduction loop of the block (it is "
                             "not bound only to reduction iterators)", func, target)
    mixed = [f.loop_var.name for f in nest if id(f.loop_var) in spatial_vars & reduce_vars]
    if mixed:
        raise schedule_error(prim, where + f"loop {mixed[0]!r} feeds both spatial and reduction "
                             "iterators", func, realize)
    ndim = len(store.indices)
    if not isinstance(factor_axis, int) or not -(ndim + 1) <= factor_axis <= ndim:
        raise schedule_error(prim, where + f"factor_axis must be in [{-(ndim + 1)}, {ndim}] for the "
                             f"{ndim}-d buffer {store.buffer.name}, got {factor_axis!r}")
    axis = factor_axis + ndim + 1 if factor_axis < 0 else factor_axis
    if not isinstance(target.extent, IntImm):
        raise schedule_error(prim, where + "the loop extent must be a constant", func, target)
    buf = store.buffer
    rf_buf = Buffer(unique_buffer_name(func, f"{buf.name}_rf"),
                    buf.shape[:axis] + (target.extent,) + buf.shape[axis:], buf.dtype, buf.scope)
    rf_name = unique_block_name(func, f"{blk.name_hint}_rf")

    # --- the rf block, in the original loops
    rf_iter = IterVar(Var(f"v{loop.name}", loop.dtype), Range(target.min, target.extent), "spatial")
    red_loops = [f for f in nest if id(f.loop_var) in reduce_vars and f.loop_var is not loop]
    red_iters = [IterVar(Var(f"v{f.loop_var.name}", f.loop_var.dtype), Range(f.min, f.extent), "reduce")
                 for f in red_loops]
    loop_to_iter = {loop: rf_iter.var, **{f.loop_var: iv.var for f, iv in zip(red_loops, red_iters)}}
    sp_iters, vmap, sp_values = [], {}, []
    for iv, val in zip(blk.iter_vars, realize.iter_values):
        if iv.iter_type == "spatial":
            fresh = _fresh_iter(iv)
            sp_iters.append(fresh)
            sp_values.append(val)
            vmap[iv.var] = fresh.var
        else:
            vmap[iv.var] = canonical(substitute(val, loop_to_iter))
    idx = tuple(substitute(i, vmap) for i in store.indices)
    rf_idx = idx[:axis] + (canonical(rf_iter.var - target.min),) + idx[axis:]
    rf_load = BufferLoad(rf_buf, rf_idx, buf.dtype)
    rf_rhs = substitute(rhs, vmap)
    if red_iters:  # still a reduction over the other loops
        rf_body = BufferStore(rf_buf, make_binary(op, rf_load, rf_rhs), rf_idx)
        rf_init = BufferStore(rf_buf, blk.init.value, rf_idx)
    else:  # every partial result is a single term
        rf_body, rf_init = BufferStore(rf_buf, rf_rhs, rf_idx), None
    rf_block = dc_replace(
        blk, name_hint=rf_name, iter_vars=(rf_iter, *sp_iters, *red_iters),
        reads=access_regions([rf_rhs]), writes=(_point(rf_buf, rf_idx),),
        body=rf_body, init=rf_init, alloc_buffers=())
    rf_realize = BlockRealize((loop, *sp_values, *(f.loop_var for f in red_loops)),
                              realize.predicate, rf_block)

    # --- the write-back block, in copies of the spatial loops and the rf loop
    kept = [f for f in nest if id(f.loop_var) in spatial_vars or f.loop_var is loop]
    copies = {f.loop_var: Var(f.loop_var.name, f.loop_var.dtype) for f in kept}
    wb_iters, wb_map = [], {}
    for iv in blk.iter_vars:
        if iv.iter_type == "spatial":
            fresh = _fresh_iter(iv)
            wb_iters.append(fresh)
            wb_map[iv.var] = fresh.var
    wb_red = IterVar(Var(f"v{loop.name}", loop.dtype), Range(target.min, target.extent), "reduce")
    wb_idx = tuple(substitute(i, wb_map) for i in store.indices)
    wb_rf_idx = wb_idx[:axis] + (canonical(wb_red.var - target.min),) + wb_idx[axis:]
    wb_load = BufferLoad(rf_buf, wb_rf_idx, buf.dtype)
    mins = {f.loop_var: f.min for f in nest if f.loop_var not in copies}
    wb_ranges = loop_ranges(n for n in loc.path if isinstance(n, For) and n.loop_var not in copies)
    wb_ranges.update({copies[f.loop_var]: Range(f.min, f.extent) for f in kept})
    wb_pred = simplify_predicate(substitute(substitute(realize.predicate, mins), copies), wb_ranges)
    # a part of the predicate on the rf loop (k_1 < n) would also keep the init from running
    # where every rf entry is left out (n = 0: the output untouched); it selects the entries
    # instead, the left-out ones adding the reduction's identity
    on_rf = [c for c in conjuncts(wb_pred) if uses_any(c, [copies[loop]])]
    if on_rf:
        wb_pred = and_all([c for c in conjuncts(wb_pred) if not uses_any(c, [copies[loop]])])
        wb_load = select(substitute(and_all(on_rf), {copies[loop]: wb_red.var}), wb_load,
                         _IDENTITY[op](buf.dtype))
    wb_block = dc_replace(
        blk, iter_vars=(*wb_iters, wb_red), reads=(_point(rf_buf, wb_rf_idx),),
        writes=tuple(substitute(w, wb_map) for w in blk.writes),
        body=BufferStore(buf, make_binary(op, BufferLoad(buf, wb_idx, buf.dtype), wb_load), wb_idx),
        init=substitute(blk.init, wb_map), alloc_buffers=())
    wb_values = [substitute(v, copies) for iv, v in zip(blk.iter_vars, realize.iter_values)
                 if iv.iter_type == "spatial"] + [copies[loop]]
    wb: object = BlockRealize(tuple(wb_values), wb_pred, wb_block)
    for f in reversed(kept):
        kind = "serial" if f.loop_var is loop else f.kind
        wb = For(copies[f.loop_var], f.min, f.extent, kind, wb,
                 f.thread_binding if kind == f.kind else None, f.annotations if kind == f.kind else ())

    func = replace(func, realize, rf_realize)
    top = find_loop(func, top.loop_var, prim).node
    func = replace(func, top, seq(top, wb))
    return add_alloc(func, rf_buf), rf_name


def _point(buf: Buffer, idx) -> BufferRegion:
    return BufferRegion(buf, tuple(Range(i, const(1)) for i in idx))


class ReductionPrimitives(ScheduleBase):

    @instruction
    def decompose_reduction(self, block, loop) -> BlockRV:
        """Split the ``T.init()`` of the reduction ``block`` into a block ``{name}_init``
        placed before ``loop``; the block becomes ``{name}_update`` (the handle
        follows it). Returns the init block.

        A block without an init, a loop not above it, a loop under ``loop`` that
        does not index the block, or a reduction iterator bound to a loop outside
        ``loop`` is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.row_sum(2, 4))
        >>> block = sch.get_block("B")
        >>> i, k = sch.get_loops(block)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 4), "float32"), B: T.Buffer((2,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i, k in T.grid(2, 4):
                with T.block("B"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    T.reads(A[vi, vk])
                    T.writes(B[vi])
                    with T.init():
                        B[vi] = T.float32(0)
                    B[vi] = B[vi] + A[vi, vk]
        >>> init = sch.decompose_reduction(block, k)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((2, 4), "float32"), B: T.Buffer((2,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(2):
                with T.block("B_init"):
                    vi = T.axis.spatial(2, i)
                    T.reads()
                    T.writes(B[vi])
                    B[vi] = T.float32(0)
                for k in range(4):
                    with T.block("B_update"):
                        vi, vk = T.axis.remap("SR", [i, k])
                        T.reads(B[vi], A[vi, vk])
                        T.writes(B[vi])
                        B[vi] = B[vi] + A[vi, vk]
        """
        fname, func, loc = self._block(block, "decompose_reduction")
        lname, _, lloc = self._loop(loop, "decompose_reduction")
        if lname != fname:
            raise schedule_error("decompose_reduction", "the block and the loop are in different functions")
        name = loc.node.block.name_hint
        new, init_name, update_name = decompose_reduction_ir(func, name, lloc.node.loop_var)
        self._commit(fname, new)
        self._rename_block(fname, name, update_name)
        return self._block_rv(fname, init_name)

    @instruction
    def rfactor(self, loop, factor_axis: int) -> BlockRV:
        """Factor the reduction over ``loop`` out: a new block ``{name}_rf`` computes
        partial results into ``{buffer}_rf`` (``loop`` becomes its dimension
        ``factor_axis``), and the original block reduces them. Returns the new block.

        A loop that is not a reduction loop of the single block under it, a loop
        feeding both spatial and reduction iterators, a block that is not
        ``Y[i] = Y[i] op value``, or ``factor_axis`` out of range is a
        :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.row_sum(1, 8))
        >>> i, k = sch.get_loops(sch.get_block("B"))
        >>> k0, k1 = sch.split(k, factors=[2, 4])
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((1, 8), "float32"), B: T.Buffer((1,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i, k_0, k_1 in T.grid(1, 2, 4):
                with T.block("B"):
                    vi = T.axis.spatial(1, i)
                    vk = T.axis.reduce(8, k_0 * 4 + k_1)
                    T.reads(A[vi, vk])
                    T.writes(B[vi])
                    with T.init():
                        B[vi] = T.float32(0)
                    B[vi] = B[vi] + A[vi, vk]
        >>> rf = sch.rfactor(k1, 0)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((1, 8), "float32"), B: T.Buffer((1,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B_rf = T.alloc_buffer((4, 1))
            for i, k_0, k_1 in T.grid(1, 2, 4):
                with T.block("B_rf"):
                    vk_1, vi, vk_0 = T.axis.remap("SSR", [k_1, i, k_0])
                    T.reads(A[vi, vk_0 * 4 + vk_1])
                    T.writes(B_rf[vk_1, vi])
                    with T.init():
                        B_rf[vk_1, vi] = T.float32(0)
                    B_rf[vk_1, vi] = B_rf[vk_1, vi] + A[vi, vk_0 * 4 + vk_1]
            for i, k_1 in T.grid(1, 4):
                with T.block("B"):
                    vi, vk_1 = T.axis.remap("SR", [i, k_1])
                    T.reads(B_rf[vk_1, vi])
                    T.writes(B[vi])
                    with T.init():
                        B[vi] = T.float32(0)
                    B[vi] = B[vi] + B_rf[vk_1, vi]
        """
        fname, func, lloc = self._loop(loop, "rfactor")
        new, rf_name = rfactor_ir(func, lloc.node.loop_var, factor_axis)
        self._commit(fname, new)
        return self._block_rv(fname, rf_name)
