"""insert_thread_sync: a ``__syncthreads()`` wherever a thread may read (or overwrite)
a ``shared`` element that another thread of its block wrote (or read) since the
last barrier (TVM's ThreadSync pass for shared memory).

The barrier is the statement ``Evaluate(Call("syncthreads", (), "int32"))``
(:func:`syncthreads`); the CUDA codegen renders it as ``__syncthreads();`` and
the emulator runs it as a barrier of the block.

The pass walks each kernel (an outermost thread-bound loop) as sequences of
statements that every thread of a block runs: the kernel's body, the bodies
of thread loops, of ``Allocate`` and of serial or unrolled loops whose bounds
no thread index changes. Inside such a sequence a statement whose shared
accesses conflict with those since the last barrier (a read of a written
buffer, a write of a read or written one) gets a barrier before it; a loop
whose next iteration would conflict with the end of the previous gets one at
the end of its body. Other statements (``if`` on a thread index, vectorized
loops, loops of thread-dependent length) are never entered: a barrier there
could be reached by only some threads. Conflicts are decided per buffer,
which can add a barrier two disjoint accesses did not need, never miss one.
The emulator (:mod:`mlc.backends.cuda.emulator`) checks the result: it raises
on any race between barriers.

Asynchronous copies (:mod:`.async_copy`) land at a ``cp_async_wait``, not where
they are issued: a wait counts as a write of every buffer an async scope of
the function fetches into, so a read after it gets a barrier between (their
overwrite of what other threads read is ordered where they are issued).
"""
from __future__ import annotations

from dataclasses import replace

from ...ir.arith import uses_any
from ...ir.expr import BufferLoad, Call
from ...ir.functor import pre_order_nodes
from ...ir.tir import Allocate, BufferStore, Evaluate, For, PrimFunc, SeqStmt, Stmt, seq
from .async_copy import is_async_scope, wait_count

__all__ = ["SYNC_THREADS", "MANUAL_BARRIERS", "syncthreads", "is_sync", "insert_thread_sync"]

#: The attribute of a function whose kernels place their own barriers (a pipeline whose
#: stages the per-buffer conflicts here cannot tell apart); the pass leaves it as it is and
#: the emulator still refuses any race.
MANUAL_BARRIERS = "mlc.manual_barriers"
#: The Call op of a block-wide barrier (CUDA's ``__syncthreads()``).
SYNC_THREADS = "syncthreads"


def syncthreads() -> Evaluate:
    """The barrier statement: every thread of the block waits for all others."""
    return Evaluate(Call(SYNC_THREADS, (), "int32"))


def is_sync(stmt) -> bool:
    return isinstance(stmt, Evaluate) and isinstance(stmt.value, Call) and stmt.value.op == SYNC_THREADS


class _Pending:
    """Shared buffers (by id) read, and written (by which stores), since the last barrier."""

    __slots__ = ("reads", "writes", "landed")

    def __init__(self, reads=(), writes=None, landed=()):
        self.reads: set[int] = set(reads)
        self.writes: dict[int, set[int]] = {k: set(v) for k, v in (writes or {}).items()}
        self.landed: set[int] = set(landed)  # buffers asynchronous copies wrote at a wait

    def conflicts(self, other: _Pending) -> bool:
        """Would ``other``, run after these accesses, need a barrier between? A read after a
        write, a write after a read, and a write after another store's write. The same
        store again (iterations of one cooperative fetch) needs none."""
        if other.reads & self.writes.keys() or other.writes.keys() & self.reads or other.reads & self.landed:
            return True
        return any(len(self.writes[b] | other.writes[b]) > 1 for b in other.writes.keys() & self.writes.keys())

    def union(self, other: _Pending) -> _Pending:
        out = _Pending(self.reads | other.reads, self.writes, self.landed | other.landed)
        for b, stores in other.writes.items():
            out.writes.setdefault(b, set()).update(stores)
        return out

    def add(self, node) -> None:
        if isinstance(node, BufferStore) and node.buffer.scope == "shared":
            self.writes.setdefault(id(node.buffer), set()).add(id(node))
        elif isinstance(node, BufferLoad) and node.buffer.scope == "shared":
            self.reads.add(id(node.buffer))


def _shared_accesses(stmt) -> _Pending:
    out = _Pending()
    for node in pre_order_nodes(stmt):
        out.add(node)
    return out


class _Sync:
    def __init__(self, fetched: set[int] = frozenset()):
        self.threads: list = []  # the variables of the enclosing threadIdx loops
        self.fetched = fetched  # the shared buffers async scopes fetch into

    def _uniform(self, e) -> bool:
        return not uses_any(e, self.threads)

    def sequence(self, stmts: list[Stmt], pending: _Pending) -> tuple[list[Stmt], _Pending]:
        out: list[Stmt] = []
        for s in stmts:
            if is_sync(s):
                out.append(s)
                pending = _Pending()
                continue
            inner = self._enterable(s)
            if inner is not None:
                if pending.conflicts(_shared_accesses(s)):  # a barrier before it, not in every iteration
                    out.append(syncthreads())
                    pending = _Pending()
                new, pending = self.enter(s, inner, pending)
                out.append(new)
                continue
            acc = _shared_accesses(s) if wait_count(s) is None else _Pending(landed=self.fetched)
            if pending.conflicts(acc):
                out.append(syncthreads())
                pending = _Pending()
            out.append(s)
            pending = pending.union(acc)
        return out, pending

    def _enterable(self, s):
        """The body of ``s`` when every thread of the block runs it as one sequence, else None."""
        if isinstance(s, SeqStmt):
            return s
        if isinstance(s, Allocate):
            return s.body
        if isinstance(s, For):
            if s.kind == "thread_binding":
                return s.body
            if s.kind in ("serial", "unrolled") and self._uniform(s.min) and self._uniform(s.extent):
                return s.body
        return None

    def enter(self, s, body, pending: _Pending):
        if isinstance(s, SeqStmt):
            new, pending = self.sequence(list(s.seq), pending)
            return seq(*new), pending
        pushed = isinstance(s, For) and s.kind == "thread_binding" and s.thread_binding.startswith("threadIdx")
        if pushed:
            self.threads.append(s.loop_var)
        try:
            items = list(body.seq) if isinstance(body, SeqStmt) else [body]
            if isinstance(s, For) and s.kind != "thread_binding":
                # the next iteration starts with what this one left pending
                _, carried = self.sequence(items, _Pending())
                new, end = self.sequence(items, pending.union(carried))
                if carried.conflicts(_first_accesses(new)):
                    new.append(syncthreads())
                    end = _Pending()
                pending = end.union(pending)  # the loop may run no iteration
            else:
                new, pending = self.sequence(items, pending)
        finally:
            if pushed:
                self.threads.pop()
        return replace(s, body=seq(*new)), pending


def _first_accesses(stmts: list[Stmt]) -> _Pending:
    """The shared accesses before the first barrier of ``stmts``."""
    out = _Pending()
    for s in stmts:
        for node in pre_order_nodes(s):
            if is_sync(node):
                return out
            out.add(node)
    return out


def insert_thread_sync(func: PrimFunc) -> PrimFunc:
    """Insert the barriers the module docstring describes into every kernel of ``func``
    (none into a function marked :data:`MANUAL_BARRIERS`)."""
    if func.attr(MANUAL_BARRIERS, False):
        return func
    if not any(isinstance(n, BufferStore) and n.buffer.scope == "shared" for n in pre_order_nodes(func.body)):
        return func
    fetched = {id(n.buffer) for scope in pre_order_nodes(func.body) if is_async_scope(scope)
               for n in pre_order_nodes(scope) if isinstance(n, BufferStore) and n.buffer.scope == "shared"}
    new, _ = _Sync(fetched).sequence([func.body], _Pending())
    return func.with_body(seq(*new))
