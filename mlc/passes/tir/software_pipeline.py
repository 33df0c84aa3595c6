"""inject_software_pipeline: overlap the stages of a loop's iterations (TVM's
``software_pipeline_stage`` / ``software_pipeline_order`` loop annotations).

A serial loop annotated with one stage per statement of its body runs
statement ``i`` of iteration ``k`` at step ``k + stage[i]``: with stages
``[0, 0, 1]`` the shared-memory fetches of iteration ``k + 1`` are issued in
the same step as the compute of iteration ``k``. The buffers allocated in the
loop body (the staging tiles) get one copy per stage, iteration ``k`` using
copy ``k % stages`` (each copy starting at a multiple of 128 bytes), so a
fetch never overwrites a tile still to be read.
``software_pipeline_order`` (optional) orders the statements within a step.
``software_pipeline_async_stages`` (optional) names stages whose statements
are fetches from global into shared memory to issue as asynchronous copies
(``cp.async``, :mod:`.async_copy`): each step commits its copies as one group,
and before the first statement of a step that reads a fetched tile the
threads wait until the group that fetched it is complete
(``cp.async.wait_group``); ``insert_thread_sync`` then puts the barrier between
the wait and the read. The fetch of step ``k + stages - 1`` then runs while
the tensor cores work on step ``k``, which ordinary loads (whose registers
must arrive before the store to shared memory) do not allow.

Before (flattened, one 512-element tile fetched and consumed per step)::

    for k in range(4):                       # stage [0, 1]
        A_shared = T.allocate([512], "float16", "shared")
        fetch(A_shared[...], k)
        compute(A_shared[...], k)

After::

    A_shared = T.allocate([1024], "float16", "shared")      # two copies of 512
    fetch(A_shared[0 + ...], 0)                               # prologue
    for k in range(3):
        fetch(A_shared[(k + 1) % 2 * 512 + ...], k + 1)
        compute(A_shared[k % 2 * 512 + ...], k)
    compute(A_shared[3 % 2 * 512 + ...], 3)                  # epilogue

Runs on flattened buffers, before ``insert_thread_sync`` places the barriers
the overlapped steps need. A loop shorter than its stages runs as written.
"""
from __future__ import annotations

import numpy as np

from ...errors import CompileError
from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad, IntImm, const
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.tir import Allocate, BufferStore, Evaluate, For, PrimFunc, SeqStmt, Stmt, seq
from .async_copy import async_copy_source, async_scope, commit, wait

__all__ = ["inject_software_pipeline", "STAGE", "ORDER", "ASYNC_STAGES"]

#: Where each copy of a pipelined buffer starts: a multiple of 128 bytes, as aligned as the
#: buffer itself for the wide loads (ldmatrix, load_matrix_sync, vectors) that read it.
_COPY_ALIGN = 128

STAGE = "software_pipeline_stage"
ORDER = "software_pipeline_order"
ASYNC_STAGES = "software_pipeline_async_stages"


class _Version(Mutator):
    """Accesses of the versioned buffers go to copy ``version`` of ``size`` elements each."""

    def __init__(self, copies: dict, version):
        super().__init__()
        self.copies, self.version = copies, version  # id(old buffer) -> (new buffer, size)

    def _moved(self, buffer: Buffer, indices):
        new, size = self.copies[id(buffer)]
        return new, (indices[0] + self.version * const(size, indices[0].dtype),)

    def visit_BufferLoad(self, node: BufferLoad):
        node = self.generic_visit(node)
        if id(node.buffer) not in self.copies:
            return node
        buf, idx = self._moved(node.buffer, node.indices)
        return BufferLoad(buf, idx, node.dtype)

    def visit_BufferStore(self, node: BufferStore):
        node = self.generic_visit(node)
        if id(node.buffer) not in self.copies:
            return node
        buf, idx = self._moved(node.buffer, node.indices)
        return BufferStore(buf, node.value, idx)


def _ints(loop: For, key: str, value, count: int) -> list[int]:
    name = loop.loop_var.name
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and v >= 0 for v in value):
        raise CompileError(f"loop {name}: annotation {key} must be a list of non-negative ints, got {value!r}")
    if len(value) != count:
        raise CompileError(f"loop {name}: annotation {key} has {len(value)} entries but the loop body has "
                           f"{count} statements; give one per statement")
    return list(value)


class _Pipeline(Mutator):
    def visit_For(self, node: For):
        node = self.generic_visit(node)
        ann = dict(node.annotations)
        if STAGE not in ann:
            return node
        rest = tuple((k, v) for k, v in node.annotations if k not in (STAGE, ORDER, ASYNC_STAGES))
        body, allocs = node.body, []
        while isinstance(body, Allocate):
            allocs.append(body.buffer)
            body = body.body
        stmts = list(body.seq) if isinstance(body, SeqStmt) else [body]
        stages = _ints(node, STAGE, ann[STAGE], len(stmts))
        order = _ints(node, ORDER, ann.get(ORDER, list(range(len(stmts)))), len(stmts))
        if sorted(order) != list(range(len(stmts))):
            raise CompileError(f"loop {node.loop_var.name}: {ORDER} {order!r} must list each statement once")
        if node.kind != "serial":
            raise CompileError(f"loop {node.loop_var.name} is {node.kind}; only a serial loop is pipelined")
        _check_stage_order(node, stmts, stages, order)
        async_stages = ann.get(ASYNC_STAGES, [])
        if not isinstance(async_stages, (list, tuple)) or not all(isinstance(v, int) for v in async_stages):
            raise CompileError(f"loop {node.loop_var.name}: {ASYNC_STAGES} must be a list of stages, got "
                               f"{async_stages!r}")
        is_async = [stages[i] in async_stages for i in range(len(stmts))]
        for i in range(len(stmts)):
            if is_async[i]:
                _check_async(node, i, stmts[i])
        copies = max(stages) + 1
        n = node.extent.value if isinstance(node.extent, IntImm) else None
        if n is None or copies == 1 or n < copies:
            return For(node.loop_var, node.min, node.extent, node.kind, node.body, node.thread_binding, rest)
        for b in allocs:
            if b.ndim != 1 or not isinstance(b.shape[0], IntImm):
                raise CompileError(f"loop {node.loop_var.name}: {b.name} must be flat and of constant size "
                                   "to be pipelined (run after flatten_buffers)")
        moved = {}
        for b in allocs:  # each copy starts at a multiple of _COPY_ALIGN bytes
            per = _COPY_ALIGN // np.dtype(b.dtype).itemsize
            size = -(-b.shape[0].value // per) * per
            moved[id(b)] = (Buffer(b.name, (const(size * copies, b.shape[0].dtype),), b.dtype, b.scope), size)
        var = node.loop_var

        def run(i: int, k) -> Stmt:
            """Statement i of iteration k (an expression of the loop's dtype)."""
            at = substitute(stmts[i], {var: node.min + k})
            version = (k % const(copies, var.dtype)) if not isinstance(k, IntImm) else const(k.value % copies, var.dtype)
            return _Version(moved, version).visit(at)

        waits = _waits(stmts, stages, order, is_async) if any(is_async) else {}
        last_async = max((r for r, i in enumerate(order) if is_async[i]), default=None)

        def step(t, valid) -> list[Stmt]:
            out, waited = [], None
            for r, i in enumerate(order):
                if valid(i):
                    if i in waits and (waited is None or waits[i] < waited):
                        out.append(wait(waits[i]))
                        waited = waits[i]
                    s = run(i, t - const(stages[i], var.dtype) if not isinstance(t, IntImm)
                            else const(t.value - stages[i], var.dtype))
                    out.append(async_scope(s) if is_async[i] else s)
                if r == last_async:  # one group a step (empty ones too: a wait counts steps)
                    out.append(commit())
            return out

        prologue = [s for t in range(copies - 1)
                    for s in step(const(t, var.dtype), lambda i, t=t: stages[i] <= t)]
        steady_var = var.__class__(var.name, var.dtype)
        steady = For(steady_var, const(0, var.dtype), const(n - copies + 1, var.dtype), "serial",
                     seq(*step(steady_var + const(copies - 1, var.dtype), lambda i: True)), None, rest)
        epilogue = [s for t in range(n, n + copies - 1)
                    for s in step(const(t, var.dtype), lambda i, t=t: t - stages[i] < n)]
        out = seq(*prologue, steady, *epilogue)
        for b in reversed(allocs):
            out = Allocate(moved[id(b)][0], out)
        return out


def _check_stage_order(loop: For, stmts: list[Stmt], stages: list[int], order: list[int]) -> None:
    """A statement reading what an earlier one of the same iteration writes must run at the same
    step or later: in a later stage, or in the same one after it (``order``). (A fetch put a
    stage after the compute reading it would leave the compute an unwritten tile.)"""
    writes = [{id(n.buffer) for n in pre_order_nodes(s) if isinstance(n, BufferStore)} for s in stmts]
    reads = [{id(n.buffer) for n in pre_order_nodes(s) if isinstance(n, BufferLoad)} for s in stmts]
    rank = {i: r for r, i in enumerate(order)}
    for j in range(len(stmts)):
        for i in range(j):
            if not writes[i] & reads[j]:
                continue
            if stages[i] > stages[j] or (stages[i] == stages[j] and rank[i] > rank[j]):
                raise CompileError(
                    f"loop {loop.loop_var.name}: statement {j} (stage {stages[j]}) reads what statement {i} "
                    f"(stage {stages[i]}) writes in the same iteration, so it must not run before it; give "
                    f"statement {i} a stage no later than {stages[j]} in {STAGE} (e.g. the fetches 0, the "
                    "compute 1)")


def _check_async(loop: For, i: int, stmt: Stmt) -> None:
    """Statement ``i`` of an async stage must only copy global memory into shared memory."""
    for n in pre_order_nodes(stmt):
        bad = None
        if isinstance(n, BufferStore) and async_copy_source(n) is None:
            bad = f"stores {n.buffer.name} ({n.buffer.scope}) = {n.value!r}"
        elif isinstance(n, Evaluate) and not isinstance(n.value, IntImm):
            bad = f"evaluates {n.value!r}"
        if bad is not None:
            raise CompileError(f"loop {loop.loop_var.name}: statement {i} is in an asynchronous stage "
                               f"({ASYNC_STAGES}) but {bad}; only copies of a global buffer's elements into a "
                               "shared buffer of the same type can be asynchronous (cp.async): leave the "
                               "stage of this statement out of the annotation")


def _waits(stmts: list[Stmt], stages: list[int], order: list[int], is_async: list[bool]) -> dict[int, int]:
    """statement -> n of the ``cp.async.wait_group n`` it needs before it: for a statement ``j``
    reading what async statement ``i`` fetched, with one group committed a step after the
    last async statement, the group of its iteration is ``stages[j] - stages[i]`` groups old
    (one fewer where ``j`` runs before that step's commit)."""
    writes = [{id(n.buffer) for n in pre_order_nodes(s) if isinstance(n, BufferStore)} for s in stmts]
    reads = [{id(n.buffer) for n in pre_order_nodes(s) if isinstance(n, BufferLoad)} for s in stmts]
    rank = {i: r for r, i in enumerate(order)}
    commit_rank = max(rank[i] for i in range(len(stmts)) if is_async[i])
    out: dict[int, int] = {}
    for j in range(len(stmts)):
        for i in range(len(stmts)):
            if not is_async[i] or is_async[j] or not writes[i] & reads[j]:
                continue
            n = stages[j] - stages[i] - (rank[j] < commit_rank)
            if n < 0:
                raise CompileError(f"statement {j} reads what asynchronous statement {i} fetches in the same "
                                   "step but runs before that step's copies are committed; order the fetches "
                                   f"first ({ORDER}) or give statement {j} a later stage")
            out[j] = min(out.get(j, n), n)
    return out


def inject_software_pipeline(func: PrimFunc) -> PrimFunc:
    """Pipeline every loop annotated with ``software_pipeline_stage`` (module docstring)."""
    body = _Pipeline().visit(func.body)
    return func if body is func.body else func.with_body(body)
