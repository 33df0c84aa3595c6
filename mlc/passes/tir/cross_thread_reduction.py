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

That shared-memory tree is the fallback. Where the reduction's thread loop is
``threadIdx.x`` with an extent that is a power of two up to 32 or a multiple
of 32, the threads of one element are aligned lanes of warps, and the partials
meet by warp shuffles instead (TVM's allreduce lowering,
:mod:`.warp_shuffle`): ``S_red_local[0] += shfl_down(S_red_local[0], 16)``,
8, 4, 2, 1 within each warp; with several warps, lane 0 of each writes
``S_red_shared[row, warp]``, a barrier, and the first warp shuffles those.
One warp or less needs no shared memory and no barrier. The threads of other
rows (enclosing ``threadIdx.y``/``z`` loops) have their own row of the shared
buffer.

The barriers are ``Evaluate(syncthreads())`` (:mod:`.thread_sync`). What it
needs: one block under the thread loop, a reduction ``Y[idx] = op(Y[idx],
rhs)`` (op: add, mul, min, max; or and and, combined across threads as max and min of
booleans) with an init, and an output index that no
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
from .warp_shuffle import WARP_SIZE, shfl_down

__all__ = ["lower_cross_thread_reduction", "cross_thread_reducible"]

_IDENTITY = {"add": lambda d: const(0, d), "mul": lambda d: const(1, d), "max": lowest, "min": highest}
#: Logical reductions (any, all) combine across threads as max and min of booleans: ``a ||
#: shfl_down(a)`` would skip the shuffle in the lanes whose ``a`` is true (C's short
#: circuit), and a shuffle needs every lane of its group.
_LOGICAL = {"or": "max", "and": "min"}


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
        isinstance(body.value, Binary) and (body.value.op in _IDENTITY or body.value.op in _LOGICAL) and \
        init.buffer is body.buffer
    if ok:
        key = expr_key(body.indices)
        for acc, rhs in ((body.value.a, body.value.b), (body.value.b, body.value.a)):
            if isinstance(acc, BufferLoad) and acc.buffer is body.buffer and expr_key(acc.indices) == key \
                    and expr_key(init.indices) == key and \
                    not any(isinstance(n, BufferLoad) and n.buffer is body.buffer for n in pre_order_nodes(rhs)):
                return _LOGICAL.get(body.value.op, body.value.op), body, init, rhs
    raise CompileError(f"{where}: block {block.name_hint!r} reduces across threads but is not "
                       "'Y[idx] = op(Y[idx], value)' with op add, mul, min, max, or, and and an init; "
                       "rfactor the reduction first, or bind a spatial loop to the thread axis")


def cross_thread_reducible(realize: BlockRealize) -> bool:
    """The reduction block of ``realize`` has the form this pass combines across threads
    (``Y[idx] = op(Y[idx], value)`` with op add, mul, min or max, and an init)."""
    try:
        _reducer(realize, "")
    except CompileError:
        return False
    return True


def _row_of(outer: list[For], where: str):
    """(the index of the calling thread's row among the block's rows, how many rows): the
    enclosing threadIdx loops tell the rows apart, each reducing its own element."""
    row, rows = const(0), 1
    for f in outer:
        if not isinstance(f.extent, IntImm):
            raise CompileError(f"{where}: the enclosing thread loop {f.loop_var.name} has a symbolic "
                               f"extent {f.extent!r}")
        row = make_binary("add", make_binary("mul", row, const(f.extent.value, f.loop_var.dtype)), f.loop_var) \
            if rows > 1 else f.loop_var
        rows *= f.extent.value
    return row, rows


def _lower(loop: For, realize: BlockRealize, outer: list[For] = (), read: set[int] | None = None) -> For:
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
    threads_inside = [f for f in pre_order_nodes(loop.body) if isinstance(f, For) and f.kind == "thread_binding"]
    if threads_inside:
        f = threads_inside[0]
        raise CompileError(f"{where}: loop {f.loop_var.name} inside it is bound to {f.thread_binding} too; a "
                           "reduction across threads combines the threads of one loop: fuse the two "
                           "loops (sch.fuse) and bind the fused loop")
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
    zero = const(0)

    def combine(a, b):
        return make_binary(op, a, b)

    # 1. each thread reduces its own iterations into a register
    partial = replace(realize, block=replace(
        block, init=None, body=BufferStore(red_local, combine(BufferLoad(red_local, (zero,), dtype), rhs), (zero,)),
        writes=(), reads=tuple(r for r in block.reads if r.buffer is not update.buffer)))
    in_thread = _swap(loop.body, realize, partial)
    stmts = [BufferStore(red_local, _IDENTITY[op](dtype), (zero,)), in_thread]
    # 2. the threads combine their partials: by warp shuffles where the threads of one element
    #    fill whole warps or groups of one warp, else pairwise through shared memory
    #    (threads of other rows, told apart by the enclosing threadIdx loops, have their own slots)
    row, rows = _row_of(list(outer), where)
    shuffles = _warp_plan(loop)
    if shuffles is None:
        red_shared = Buffer(f"{name}_red_shared", (const(rows), n), dtype, "shared")
        stmts += _tree_through_shared(tx, n.value, red_local, red_shared, combine, row)
        partial_sum = BufferLoad(red_shared, (row, zero), dtype)
    else:
        red_shared = Buffer(f"{name}_red_shared", (const(rows), const(max(n.value // WARP_SIZE, 1))), dtype,
                            "shared")
        stmts += _tree_through_shuffles(tx, n.value, red_local, red_shared, combine, _IDENTITY[op](dtype), row)
        partial_sum = BufferLoad(red_local, (zero,), dtype)
    # 3. thread 0 applies the init and writes the element (where the block's spatial predicate holds);
    #    with reduction loops outside the thread loop, the init only in their first iteration
    out_idx = tuple(substitute(i, spatial) for i in update.indices)
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
    if shuffles is not None and n.value <= WARP_SIZE:  # registers only
        if update.buffer.scope.startswith("local") or (read is not None and id(update.buffer) not in read):
            return replace(loop, body=Allocate(red_local, seq(*stmts)))
        # the element thread 0 wrote may be read by the block's other threads next (a row's max
        # subtracted from its row): they wait for it, as the shared-memory tree's end does
        return replace(loop, body=Allocate(red_local, seq(*stmts, syncthreads())))
    stmts.append(syncthreads())  # the next use of the shared buffer waits for its last read
    return replace(loop, body=Allocate(red_shared, Allocate(red_local, seq(*stmts))))


def _warp_plan(loop: For) -> bool | None:
    """True when the threads of one output element, the ``threadIdx.x`` loop ``loop``'s
    lanes, are whole warps (an extent that is a multiple of 32) or aligned groups inside one
    warp (a power of two up to 32: x is the fastest thread axis); None otherwise."""
    n = loop.extent.value
    if loop.thread_binding != "threadIdx.x":
        return None
    if n % WARP_SIZE == 0 or (n <= WARP_SIZE and n & (n - 1) == 0):
        return True
    return None


def _tree_through_shared(tx, n: int, red_local: Buffer, red_shared: Buffer, combine, row) -> list:
    """Every thread's partial into its row of ``red_shared``, then halving steps with a
    barrier each: the total ends in ``red_shared[row, 0]``."""
    dtype, zero = red_local.dtype, const(0)
    stmts = [BufferStore(red_shared, BufferLoad(red_local, (zero,), dtype), (row, tx)), syncthreads()]
    live = n
    while live > 1:
        half = (live + 1) // 2
        cond = make_binary("lt", tx, const(live - half, tx.dtype))
        stmts.append(IfThenElse(cond, BufferStore(red_shared, combine(
            BufferLoad(red_shared, (row, tx), dtype), BufferLoad(red_shared, (row, tx + half), dtype)),
            (row, tx))))
        stmts.append(syncthreads())
        live = half
    return stmts


def _shuffle_steps(red_local: Buffer, width: int, combine) -> list:
    """``red_local[0]`` combined down groups of ``width`` lanes: the group's total in its
    first lane (offsets width/2, ..., 1)."""
    dtype, zero = red_local.dtype, const(0)
    value = BufferLoad(red_local, (zero,), dtype)
    out, offset = [], width // 2
    while offset >= 1:
        out.append(BufferStore(red_local, combine(value, shfl_down(value, offset, width)), (zero,)))
        offset //= 2
    return out


def _tree_through_shuffles(tx, n: int, red_local: Buffer, red_shared: Buffer, combine, identity, row) -> list:
    """TVM's allreduce: each warp (or group of ``n`` < 32 lanes) shuffles its partials
    down to its first lane; with several warps, their totals meet in ``red_shared`` and the
    first warp shuffles them. The total ends in ``red_local[0]`` of thread 0."""
    if n <= WARP_SIZE:
        return _shuffle_steps(red_local, n, combine)
    dtype, zero, warps = red_local.dtype, const(0), n // WARP_SIZE
    lane0 = make_binary("eq", make_binary("floormod", tx, const(WARP_SIZE, tx.dtype)), const(0, tx.dtype))
    warp = make_binary("floordiv", tx, const(WARP_SIZE, tx.dtype))
    width = 1
    while width < warps:
        width *= 2
    second = [BufferStore(red_local, identity, (zero,)),
              IfThenElse(make_binary("lt", tx, const(warps, tx.dtype)),
                         BufferStore(red_local, BufferLoad(red_shared, (row, tx), dtype), (zero,)))]
    second += _shuffle_steps(red_local, width, combine)
    return [*_shuffle_steps(red_local, WARP_SIZE, combine),
            IfThenElse(lane0, BufferStore(red_shared, BufferLoad(red_local, (zero,), dtype), (row, warp))),
            syncthreads(),
            IfThenElse(make_binary("lt", tx, const(WARP_SIZE, tx.dtype)), seq(*second))]


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
    def __init__(self, read: set[int]):
        super().__init__()
        self.threads: list[For] = []  # the enclosing threadIdx loops
        self.read = read  # ids of the buffers some block reads without writing them

    def visit_For(self, node: For):
        realize = _thread_reduction(node)
        if realize is not None:
            return _lower(node, realize, self.threads, self.read)
        is_thread = node.kind == "thread_binding" and (node.thread_binding or "").startswith("threadIdx")
        if is_thread:
            self.threads.append(node)
        try:
            return self.generic_visit(node)
        finally:
            if is_thread:
                self.threads.pop()


def lower_cross_thread_reduction(func: PrimFunc) -> PrimFunc:
    """Rewrite every reduction across a threadIdx loop as the module docstring shows."""
    read = {id(r.buffer) for n in pre_order_nodes(func.body) if isinstance(n, BlockRealize)  # by consumers
            for r in n.block.reads if all(w.buffer is not r.buffer for w in n.block.writes)}
    body = _Lower(read).visit(func.body)
    return func if body is func.body else func.with_body(body)
