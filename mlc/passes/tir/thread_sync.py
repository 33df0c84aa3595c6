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
from ...ir.functor import child_nodes, post_order_dag, pre_order_nodes
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


    def key(self) -> tuple:
        """These accesses as a hashable value."""
        return (frozenset(self.reads), frozenset((b, frozenset(s)) for b, s in self.writes.items()),
                frozenset(self.landed))

    def merge(self, other: _Pending) -> None:
        """Add ``other``'s reads and writes to these (in place)."""
        self.reads |= other.reads
        for b, stores in other.writes.items():
            self.writes.setdefault(b, set()).update(stores)


class _Sync:
    def __init__(self, fetched: set[int] = frozenset()):
        self.threads: list = []  # the variables of the enclosing threadIdx loops
        self.fetched = fetched  # the shared buffers async scopes fetch into
        self._accesses: dict = {}  # the memo of _summary for _shared_accesses
        self._first: dict = {}  # and for _first_accesses
        self._entered: dict = {}  # the memo of enter

    def _shared_accesses(self, stmt: Stmt) -> _Pending:
        """The shared accesses anywhere under ``stmt``."""
        return _summary(stmt, self._accesses, False)[0]

    def _first_accesses(self, stmts: list[Stmt]) -> _Pending:
        """The shared accesses before the first barrier of ``stmts``."""
        out = _Pending()
        for s in stmts:
            found, stopped = _summary(s, self._first, True)
            out.merge(found)
            if stopped:
                break
        return out

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
                if pending.conflicts(self._shared_accesses(s)):  # a barrier before it, not in every iteration
                    out.append(syncthreads())
                    pending = _Pending()
                new, pending = self.enter(s, inner, pending)
                out.append(new)
                continue
            acc = self._shared_accesses(s) if wait_count(s) is None else _Pending(landed=self.fetched)
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
        """(``s`` with its barriers, what is pending after it). A loop's body is run through
        twice (from nothing, for what one iteration leaves pending; then for real), so a
        nest of loops would run its innermost body once per path of those runs: each result
        is kept for the same statement, pending accesses and threads (a pure function of them)."""
        key = (id(s), pending.key(), tuple(id(v) for v in self.threads))
        hit = self._entered.get(key)
        if hit is None:
            hit = self._entered[key] = (s, *self._enter(s, body, pending))
        return hit[1], hit[2]

    def _enter(self, s, body, pending: _Pending):
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
                if carried.conflicts(self._first_accesses(new)):
                    new.append(syncthreads())
                    end = _Pending()
                pending = end.union(pending)  # the loop may run no iteration
            else:
                new, pending = self.sequence(items, pending)
        finally:
            if pushed:
                self.threads.pop()
        return replace(s, body=seq(*new)), pending


def _summary(stmt: Stmt, memo: dict, to_barrier: bool) -> tuple[_Pending, bool]:
    """(the shared accesses under ``stmt``, whether a barrier ends them): all of them, or
    with ``to_barrier`` those before its first barrier in pre-order. Each statement's are
    found once, from its own expressions and the summaries of the statements directly under
    it, and kept in ``memo`` (id -> (statement, kept so that the id stays its own; accesses;
    stopped)): a sequence asks for those of its statements at every depth it is entered."""
    hit = memo.get(id(stmt))
    if hit is None:
        def children(node):
            return () if id(node) in memo else [c for c in child_nodes(node) if isinstance(c, Stmt)]

        for node in post_order_dag([stmt], children):
            if id(node) in memo:
                continue
            out, stopped = _Pending(), False
            if to_barrier and is_sync(node):
                stopped = True
            else:
                out.add(node)
                for child in child_nodes(node):
                    if isinstance(child, Stmt):
                        _, found, stopped = memo[id(child)]
                        out.merge(found)
                        if stopped:
                            break
                    else:  # expressions hold no statement
                        for n in pre_order_nodes(child):
                            out.add(n)
            memo[id(node)] = (node, out, stopped)
        hit = memo[id(stmt)]
    return hit[1], hit[2]


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
