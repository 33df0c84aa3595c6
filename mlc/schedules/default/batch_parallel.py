"""batch_parallel: a hand-written function's batch loops, one GPU thread per iteration.

An op's hand-written PrimFunc (:mod:`mlc.ops.hand_written`) is a serial loop
nest written for the CPU: a factorization per matrix of a stack, a scan per
line, a sort per row. Its batch loops (annotated ``"mlc.batch"``) have
independent iterations, each using the root block's scratch buffers afresh.
For the GPU each batch nest becomes one kernel:

- the batch loops are fused into one index, split into blocks of 128
  threads and bound to ``blockIdx.x`` x ``threadIdx.x``, with a guard where
  the threads outnumber the iterations (:func:`~mlc.ops.hand_written.thread_loops`);
- each scratch buffer is privatised: one of at most :data:`LOCAL_MAX`
  elements becomes a per-thread ``local`` array (registers), a larger one
  gains a trailing dimension of the batch size, indexed by the fused index
  (trailing, so that the threads of a warp touching one element of their
  copies touch consecutive addresses);
- a buffer the iteration allocates itself becomes ``local``, and a
  ``parallel`` loop inside (a CPU thread pool's) runs serially in its thread.

The statements between batch nests run as a kernel of one thread, in their
place in the sequence; a function whose scratch buffers such a statement
shares with a batch nest runs whole as one thread, and so does a function
without batch loops. Nothing here knows an op: it reads the annotations only.

Before (the cumsum of a (3, 4) array along its last axis)::

    acc = T.alloc_buffer((1,))
    for b0 in T.serial(3, annotations={"mlc.batch": True}):
        acc[0] = T.float32(-0.0)
        for i in range(4):
            acc[0] = acc[0] + x[b0, i]
            out[b0, i] = acc[0]

After ``batch_parallel(func)``::

    for bx in T.thread_binding(1, thread="blockIdx.x"):
        for tx in T.thread_binding(3, thread="threadIdx.x"):
            acc = T.allocate([1], "float32", "local")
            acc[0] = T.float32(-0.0)
            for i in range(4):
                acc[0] = acc[0] + x[tx, i]
                out[tx, i] = acc[0]

A larger scratch buffer, ``w = T.alloc_buffer((64,))`` under a batch nest of
300 iterations, stays at the root as ``w = T.alloc_buffer((64, 300))``, and
its ``w[k]`` becomes ``w[k, bx * 128 + tx]``.

>>> from mlc.ops import TensorType
>>> from mlc.ops.hand_written import hand_written
>>> f = batch_parallel(hand_written("cumsum", [TensorType((3, 4), "float32")], {"axis": 1}))
>>> print("\\n".join(f.script().splitlines()[3:6]))
    for bx in T.thread_binding(1, thread="blockIdx.x"):
        for tx in T.thread_binding(3, thread="threadIdx.x"):
            acc = T.allocate([1], "float32", "local")
"""
from __future__ import annotations

import dataclasses
import math

from ...ir import dtype as dt
from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad, IntImm, PrimExpr, const
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.tir import Allocate, Block, BlockRealize, BufferStore, For, PrimFunc, Stmt, seq
from ...ops.hand_written import BATCH, HAND_WRITTEN_GPU, THREADS, is_bound_to_threads, thread_loops
from ..edit import body_items
from .canonical import SCHEDULED_ATTR

__all__ = ["batch_parallel", "batch_nest", "LOCAL_MAX"]

#: Scratch buffers of at most this many elements become per-thread ``local`` arrays.
LOCAL_MAX = 16


def batch_nest(stmt: Stmt) -> tuple[list[For], Stmt] | None:
    """(the batch loops, outermost first, and the body under them) when ``stmt`` is a nest of
    ``"mlc.batch"`` loops from 0 over constant extents; None otherwise."""
    loops = []
    while isinstance(stmt, For) and dict(stmt.annotations).get(BATCH) and stmt.kind == "serial" \
            and isinstance(stmt.extent, IntImm) and isinstance(stmt.min, IntImm) and stmt.min.value == 0:
        loops.append(stmt)
        stmt = stmt.body
    return (loops, stmt) if loops else None


def batch_parallel(func: PrimFunc) -> PrimFunc:
    """``func``, a hand-written function, with its batch loops bound to GPU threads (see the
    module docstring), marked ``"hand-written-gpu"``; a function with thread-bound loops
    already is returned as it is."""
    if is_bound_to_threads(func):
        return func
    return _batch_parallel(func).with_attr(SCHEDULED_ATTR, HAND_WRITTEN_GPU)


def _batch_parallel(func: PrimFunc) -> PrimFunc:
    root = func.root_block
    if root is None:
        return func.with_body(_one_thread(func.body))
    items = body_items(root.body)
    nests = [batch_nest(item) for item in items]
    users = _users(root.alloc_buffers, items)
    batched = {k for k, nest in enumerate(nests) if nest is not None}
    if not batched or any(len(ks & batched) and ks - batched for ks in users.values()):
        return _with_root(func, root, _one_thread(root.body), root.alloc_buffers)
    kept, private, local = [], {}, {}
    for buf in root.alloc_buffers:
        ks = users[id(buf)]
        if not ks & batched:
            kept.append(buf)
        elif len(ks) == 1 and _size(buf) <= LOCAL_MAX:
            local[id(buf)] = dataclasses.replace(buf, scope="local")
        else:
            copies = max(_batch_size(nests[k][0]) for k in ks)
            private[id(buf)] = dataclasses.replace(buf, shape=tuple(buf.shape) + (const(max(copies, 1), dt.INDEX),))
    stmts, serial = [], []
    for k, (item, nest) in enumerate(zip(items, nests)):
        if nest is None:
            serial.append(item)
            continue
        if serial:
            stmts.append(_one_thread(seq(*serial)))
            serial = []
        mine = [b for b in root.alloc_buffers if id(b) in local and k in users[id(b)]]
        stmts.append(_batch_kernel(*nest, private, local, mine))
    if serial:
        stmts.append(_one_thread(seq(*serial)))
    allocs = kept + [private[id(b)] for b in root.alloc_buffers if id(b) in private]
    return _with_root(func, root, seq(*stmts), allocs)


def _with_root(func: PrimFunc, root: Block, body: Stmt, allocs) -> PrimFunc:
    block = dataclasses.replace(root, body=body, alloc_buffers=tuple(allocs))
    return func.with_body(BlockRealize((), const(True, "bool"), block))


def _users(buffers, items) -> dict[int, set[int]]:
    """For each buffer, the indices of the ``items`` that load or store it."""
    users = {id(b): set() for b in buffers}
    for k, item in enumerate(items):
        for node in pre_order_nodes(item):
            if isinstance(node, (BufferLoad, BufferStore)) and id(node.buffer) in users:
                users[id(node.buffer)].add(k)
    return users


def _size(buf: Buffer) -> int:
    return math.prod(e.value if isinstance(e, IntImm) else LOCAL_MAX + 1 for e in buf.shape)


def _batch_size(loops: list[For]) -> int:
    return math.prod(f.extent.value for f in loops)


def _one_thread(stmt: Stmt) -> Stmt:
    """``stmt`` as a kernel of one thread (its own allocations ``local``, its loops serial)."""
    return thread_loops(1, lambda t: _ThreadBody({}, {}, None).visit(stmt))


def _batch_kernel(loops: list[For], body: Stmt, private: dict, local: dict, mine: list[Buffer]) -> Stmt:
    """The kernel running the iterations of ``loops`` (over ``body``) one per thread."""
    total = _batch_size(loops)

    def iteration(fused):
        vmap, stride = {}, total
        for f in loops:
            extent = f.extent.value
            stride //= extent
            index = fused // const(stride, dt.INDEX) if stride > 1 else fused
            vmap[f.loop_var] = index % const(extent, dt.INDEX) if f is not loops[0] else index
        stmt = _ThreadBody(private, local, fused).visit(substitute(body, vmap))
        for buf in reversed(mine):
            stmt = Allocate(local[id(buf)], stmt)
        return stmt
    return thread_loops(total, iteration, THREADS)


class _ThreadBody(Mutator):
    """One thread's share of a batch nest: ``private`` buffers (by the id of the buffer they
    replace) indexed by the thread's ``index`` in their last dimension, ``local`` ones as they
    are, the body's own allocations ``local``, parallel loops serial."""

    def __init__(self, private: dict[int, Buffer], local: dict[int, Buffer], index: PrimExpr | None):
        self.buffers = {**private, **local}
        self.private = {id(b) for b in private.values()}
        self.index = index

    def visit_Allocate(self, node: Allocate):
        if node.buffer.scope == "global" and id(node.buffer) not in self.buffers:
            self.buffers[id(node.buffer)] = dataclasses.replace(node.buffer, scope="local")
        return self.generic_visit(node)

    def visit_buffer(self, buffer: Buffer) -> Buffer:
        return self.buffers.get(id(buffer), buffer)

    def visit_BufferLoad(self, node: BufferLoad):
        node = self.generic_visit(node)
        if id(node.buffer) in self.private:
            return dataclasses.replace(node, indices=tuple(node.indices) + (self.index,))
        return node

    def visit_BufferStore(self, node: BufferStore):
        node = self.generic_visit(node)
        if id(node.buffer) in self.private:
            return dataclasses.replace(node, indices=tuple(node.indices) + (self.index,))
        return node

    def visit_For(self, node: For):
        node = self.generic_visit(node)
        return dataclasses.replace(node, kind="serial") if node.kind == "parallel" else node
