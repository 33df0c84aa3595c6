"""lower_cross_thread_reduction: a reduction loop bound to ``threadIdx`` becomes a
tree reduction through shared memory (TVM's LowerCrossThreadReduction).

A schedule may bind a loop that drives a reduce iterator to a thread axis:
the threads of a block then share one output element. This pass runs on
block-level TIR (before ``lower_init_block``) and rewrites the thread loop
``tx`` around such a block::

    for tx in T.thread_binding(32, "threadIdx.x"):       for tx in T.thread_binding(32, "threadIdx.x"):
        for k_0 in range(3):                                 S_red_local[0] = 0                 # identity
            with T.block("S"):                                for k_0 in range(3):              # in-thread part
                vk = T.axis.reduce(70, k_0 * 32 + tx)  ->        with T.block("S"):
                T.where(k_0 * 32 + tx < 70)                          S_red_local[0] += A[vi, vk]
                with T.init(): S[vi] = 0                      S_red_shared[tx] = S_red_local[0]
                S[vi] = S[vi] + A[vi, vk]                     sync
                                                              if tx < 16: S_red_shared[tx] += S_red_shared[tx + 16]
                                                              sync ... (8, 4, 2, 1)
                                                              if tx == 0: S[vi] = 0 + S_red_shared[0]
                                                              sync

The barriers are ``Evaluate(syncthreads())`` (:mod:`.thread_sync`). What it
needs: one block under the thread loop, a reduction ``Y[idx] = op(Y[idx],
rhs)`` (op: add, mul, min, max) with an init, and an output index that no
loop under the thread loop changes (all threads meet on one element).
Anything else is a :class:`~mlc.errors.CompileError` that says how to
schedule it (rfactor first, or bind a spatial loop).
"""
from __future__ import annotations

from dataclasses import replace

from ...errors import CompileError
from ...ir.analysis import blocks_under
from ...ir.arith import expr_key, free_vars, uses_any
from ...ir.buffer import Buffer
from ...ir.expr import Binary, BufferLoad, IntImm, const, make_binary, select
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.te import highest, lowest
from ...ir.tir import (Allocate, BlockRealize, BufferStore, For, IfThenElse, PrimFunc, seq)
from .thread_sync import syncthreads

__all__ = ["lower_cross_thread_reduction"]

_IDENTITY = {"add": lambda d: const(0, d), "mul": lambda d: const(1, d), "max": lowest, "min": highest}


def _thread_reduction(loop: For):
    """The reduction block under thread loop ``loop`` whose reduce iterator it drives, or None."""
    if loop.kind != "thread_binding" or not (loop.thread_binding or "").startswith("threadIdx"):
        return None
    for realize in blocks_under(loop.body):
        for iv, value in zip(realize.block.iter_vars, realize.iter_values):
            if iv.iter_type != "spatial" and uses_any(value, [loop.loop_var]):
                return realize
    return None


def _reducer(realize: BlockRealize, where: str):
    block = realize.block
    body, init = block.body, block.init
    ok = isinstance(body, BufferStore) and isinstance(init, BufferStore) and \
        isinstance(body.value, Binary) and body.value.op in _IDENTITY and init.buffer is body.buffer
    if ok:
        key = expr_key(body.indices)
        for acc, rhs in ((body.value.a, body.value.b), (body.value.b, body.value.a)):
            if isinstance(acc, BufferLoad) and acc.buffer is body.buffer and expr_key(acc.indices) == key \
                    and expr_key(init.indices) == key and \
                    not any(isinstance(n, BufferLoad) and n.buffer is body.buffer for n in pre_order_nodes(rhs)):
                return body.value.op, body, init, rhs
    raise CompileError(f"{where}: block {block.name_hint!r} reduces across threads but is not "
                       "'Y[idx] = op(Y[idx], value)' with op add, mul, min or max and an init; "
                       "rfactor the reduction first, or bind a spatial loop to the thread axis")


def _lower(loop: For, realize: BlockRealize) -> For:
    tx, n = loop.loop_var, loop.extent
    where = f"cross-thread reduction over loop {tx.name} ({loop.thread_binding})"
    if not isinstance(n, IntImm):
        raise CompileError(f"{where}: the thread loop's extent {n!r} must be a constant")
    if len(blocks_under(loop.body)) != 1:
        raise CompileError(f"{where}: the thread loop holds {len(blocks_under(loop.body))} blocks; a "
                           "reduction across threads needs its thread loop to itself (compute the "
                           "other blocks outside it)")
    op, update, init, rhs = _reducer(realize, where)
    block = realize.block
    inner = [f.loop_var for f in pre_order_nodes(loop.body) if isinstance(f, For)] + [tx]
    spatial = {iv.var: v for iv, v in zip(block.iter_vars, realize.iter_values) if iv.iter_type == "spatial"}
    for iv, value in zip(block.iter_vars, realize.iter_values):
        if iv.iter_type == "spatial" and uses_any(value, inner):
            raise CompileError(f"{where}: the spatial iterator {iv.var.name} of block "
                               f"{block.name_hint!r} changes under the thread loop ({value!r}), so the "
                               "threads do not meet on one element; bind only reduction loops under it")
    dtype = update.buffer.dtype
    name = update.buffer.name
    red_local = Buffer(f"{name}_red_local", (const(1),), dtype, "local")
    red_shared = Buffer(f"{name}_red_shared", (n,), dtype, "shared")
    zero = const(0)

    def combine(a, b):
        return make_binary(op, a, b)

    # 1. each thread reduces its own iterations into a register
    partial = replace(realize, block=replace(
        block, init=None, body=BufferStore(red_local, combine(BufferLoad(red_local, (zero,), dtype), rhs), (zero,)),
        writes=(), reads=tuple(r for r in block.reads if r.buffer is not update.buffer)))
    in_thread = _swap(loop.body, realize, partial)
    stmts = [BufferStore(red_local, _IDENTITY[op](dtype), (zero,)), in_thread,
             BufferStore(red_shared, BufferLoad(red_local, (zero,), dtype), (tx,)), syncthreads()]
    # 2. the block's threads combine their partials pairwise, halving the live count each step
    live = n.value
    while live > 1:
        half = (live + 1) // 2
        cond = make_binary("lt", tx, const(live - half, tx.dtype))
        stmts.append(IfThenElse(cond, BufferStore(red_shared, combine(
            BufferLoad(red_shared, (tx,), dtype), BufferLoad(red_shared, (tx + half,), dtype)), (tx,))))
        stmts.append(syncthreads())
        live = half
    # 3. thread 0 applies the init and writes the element (where the block's spatial predicate holds);
    #    with reduction loops outside the thread loop, the init only in their first iteration
    out_idx = tuple(substitute(i, spatial) for i in update.indices)
    partial_sum = BufferLoad(red_shared, (zero,), dtype)
    first = _first_outer_iteration(realize, loop, inner)
    start = substitute(init.value, spatial)
    if first is not None:
        start = select(first, start, BufferLoad(update.buffer, out_idx, dtype))
    total = combine(start, partial_sum)
    cond = make_binary("eq", tx, const(0, tx.dtype))
    for c in _conjuncts(realize.predicate):
        if not uses_any(c, inner):
            cond = make_binary("and", cond, c)
    stmts.append(IfThenElse(cond, BufferStore(update.buffer, total, out_idx)))
    stmts.append(syncthreads())  # the next use of the shared buffer waits for thread 0's read
    return replace(loop, body=Allocate(red_shared, Allocate(red_local, seq(*stmts))))


def _first_outer_iteration(realize: BlockRealize, loop: For, inner) -> object | None:
    """None when no reduction loop encloses the thread loop; else the condition under which
    the enclosing reduction loops are at the block's first reduction step (where its init
    runs): every reduce iterator, with the loops under the thread loop at their start, at
    its minimum."""
    mins = {f.loop_var: f.min for f in pre_order_nodes(loop) if isinstance(f, For)}
    cond = None
    for iv, value in zip(realize.block.iter_vars, realize.iter_values):
        if iv.iter_type == "spatial" or all(_in(v, inner) for v in free_vars(value)):
            continue
        at = make_binary("eq", substitute(value, mins), iv.dom.min)
        cond = at if cond is None else make_binary("and", cond, at)
    return cond


def _in(v, variables) -> bool:
    return any(v is w for w in variables)


def _conjuncts(cond):
    if isinstance(cond, IntImm):
        return []
    if isinstance(cond, Binary) and cond.op == "and":
        return _conjuncts(cond.a) + _conjuncts(cond.b)
    return [cond]


def _swap(stmt, old, new):
    class _Swap(Mutator):
        def visit_BlockRealize(self, node):
            return new if node is old else self.generic_visit(node)
    return _Swap().visit(stmt)


class _Lower(Mutator):
    def visit_For(self, node: For):
        realize = _thread_reduction(node)
        if realize is not None:
            return _lower(node, realize)
        return self.generic_visit(node)


def lower_cross_thread_reduction(func: PrimFunc) -> PrimFunc:
    """Rewrite every reduction across a threadIdx loop as the module docstring shows."""
    body = _Lower().visit(func.body)
    return func if body is func.body else func.with_body(body)
