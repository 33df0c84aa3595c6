"""compute_inline and reverse_compute_inline.

``compute_inline(B)`` replaces every read of ``B``'s output by the expression
``B`` computes, then removes ``B`` and its buffer::

    for i, j in T.grid(8, 8):                         for i, j in T.grid(8, 8):
        with T.block("B"):                                with T.block("C"):
            B[vi, vj] = A[vi, vj] * T.float32(2)   ->         C[vi, vj] = A[vi, vj] * T.float32(2) + T.float32(1)
    for i, j in T.grid(8, 8):
        with T.block("C"):
            C[vi, vj] = B[vi, vj] + T.float32(1)

``reverse_compute_inline(C)`` folds a consumer into its producer: the producer
stores the consumer's result directly (``B`` disappears) — the right side of
the picture above again, now with the producer's loops and block name.
"""
from __future__ import annotations

from dataclasses import replace as dc_replace

from ...ir.buffer import BufferRegion
from ...ir.expr import BufferLoad, IntImm, PrimExpr, Var
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.arith import IntSet, expr_key, same_expr
from ...ir.tir import BlockRealize, BufferStore, PrimFunc
from ..analysis import block_order, buffer_ids, is_param, merge_regions, relax_regions
from ..base import ScheduleBase, instruction, schedule_error
from ..edit import remove_alloc, remove_block
from ..state import all_blocks, find_block, replace

__all__ = ["InlinePrimitives", "compute_inline_ir", "reverse_compute_inline_ir"]


def _single_store(prim, func, realize, target: str, role: str) -> BufferStore:
    """The block's one BufferStore, checking the block is injective and init-free.

    ``target`` names the block the primitive was called on, ``role`` the block
    checked (``"the block"``, ``"its producer 'Y'"``).
    """
    blk = realize.block
    where = f"block {target!r}: {role}"
    if blk.is_reduction or blk.init is not None:
        raise schedule_error(prim, f"{where} is a reduction, not an injective computation; its "
                             "values are final only after every reduction step", func, realize)
    if blk.alloc_buffers:
        raise schedule_error(prim, f"{where} allocates buffers of its own", func, realize)
    if not isinstance(blk.body, BufferStore):
        raise schedule_error(prim, f"{where} must be a single store `buf[...] = value`; it has "
                             "several statements or control flow", func, realize)
    return blk.body


def _iterator_indices(indices, iter_vars) -> bool:
    """True when ``indices`` are exactly the block iterators, each once."""
    ids = [id(iv.var) for iv in iter_vars]
    got = [id(i) for i in indices if isinstance(i, Var)]
    return len(got) == len(indices) == len(ids) and sorted(got) == sorted(ids)


class _InlineLoads(Mutator):
    """Replace loads of ``buffer`` with ``value`` (iterators bound to the load's indices).
    Loads at the same index nodes share one substituted value (the IR is immutable: a
    formula reading an input twice, as elementwise consumers do, walks ``value`` once), and
    a load at the iterators themselves is ``value`` as it is."""

    shares_rewrites = True  # (a load's rewrite depends on the load alone: a shared value stays shared)

    def __init__(self, buffer, iter_vars, value):
        self.buffer, self.iter_vars, self.value = buffer, iter_vars, value
        self._substituted: dict[tuple[int, ...], tuple[tuple, PrimExpr]] = {}

    def visit_BufferLoad(self, node: BufferLoad):
        node = self.generic_visit(node)
        if node.buffer is not self.buffer:
            return node
        key = tuple(map(id, node.indices))
        got = self._substituted.get(key)
        if got is None:
            if all(i is v for i, v in zip(node.indices, self.iter_vars)):
                value = self.value
            else:
                value = substitute(self.value, dict(zip(self.iter_vars, node.indices)))
            got = self._substituted[key] = (node.indices, value)  # (the indices kept: their ids stay theirs)
        return got[1]


def _between(func: PrimFunc, first: BlockRealize, last: BlockRealize) -> list[BlockRealize]:
    order = block_order(func)
    a = next(k for k, r in enumerate(order) if r is first)
    b = next(k for k, r in enumerate(order) if r is last)
    return order[a + 1:b]


def compute_inline_ir(func: PrimFunc, block: str) -> PrimFunc:
    """Inline the injective block ``block`` into every reader of its output.

    :meth:`mlc.Schedule.compute_inline` shows the IR before and after.
    """
    prim = "compute_inline"
    loc = find_block(func, block, prim)
    realize, blk = loc.node, loc.node.block
    store = _single_store(prim, func, realize, block, "the block")
    buf = store.buffer
    if not _iterator_indices(store.indices, blk.iter_vars):
        raise schedule_error(prim, f"block {block!r}: its store indices {list(store.indices)!r} are not "
                             "exactly its spatial iterators, so a read cannot be mapped back to one "
                             "computation", func, realize)
    if is_param(func, buf):
        raise schedule_error(prim, f"block {block!r}: its output {buf.name} is a function parameter "
                             "and must stay materialised", func, realize)
    if any(n.buffer is buf for n in pre_order_nodes(store.value) if isinstance(n, BufferLoad)):
        raise schedule_error(prim, f"block {block!r}: it reads its own output {buf.name}", func, realize)
    store_vars = list(store.indices)  # B[v0, v1] is computed by the iterators in this order
    readers = []
    for other in block_order(func):
        if other is realize:
            continue
        if any(w.buffer is buf for w in other.block.writes):
            raise schedule_error(prim, f"block {block!r}: block {other.block.name_hint!r} also writes "
                                 f"{buf.name}", func, other)
        if any(r.buffer is buf for r in other.block.reads):
            readers.append(other)
    x_reads = buffer_ids(blk.reads)
    if readers:
        for other in _between(func, realize, readers[-1]):
            clash = buffer_ids(other.block.writes) & x_reads
            if clash:
                raise schedule_error(prim, f"block {block!r}: block {other.block.name_hint!r} writes "
                                     "a buffer it reads before the last reader of its output; "
                                     "inlining would read the new values", func, other)
    new = remove_alloc(remove_block(func, loc), buf)
    for reader in readers:
        old = next(l.node for l in all_blocks(new) if l.node.block.name_hint == reader.block.name_hint)
        new = replace(new, old, _inline_into(old, buf, store_vars, store.value, blk.reads))
    return new


def _inline_into(realize: BlockRealize, buf, store_vars, value, producer_reads) -> BlockRealize:
    blk = realize.block
    mutator = _InlineLoads(buf, store_vars, value)
    body = mutator.visit(blk.body)
    init = None if blk.init is None else mutator.visit(blk.init)
    reads = []
    for r in blk.reads:
        if r.buffer is not buf:
            reads.append(r)
            continue
        dom = {v: IntSet.from_range(x) for v, x in zip(store_vars, r.region)}
        reads.extend(relax_regions(producer_reads, dom))
    return dc_replace(realize, block=dc_replace(blk, body=body, init=init, reads=merge_regions(reads)))


def reverse_compute_inline_ir(func: PrimFunc, block: str) -> PrimFunc:
    """Fold the injective consumer ``block`` into the single producer it reads."""
    prim = "reverse_compute_inline"
    loc = find_block(func, block, prim)
    realize, blk = loc.node, loc.node.block
    store = _single_store(prim, func, realize, block, "the block")
    order = block_order(func)
    read_ids = buffer_ids(blk.reads)
    producers = [o for o in order if o is not realize and buffer_ids(o.block.writes) & read_ids]
    if not producers:
        raise schedule_error(prim, f"block {block!r}: no block produces a buffer it reads", func, realize)
    if len(producers) > 1:
        names = [p.block.name_hint for p in producers]
        raise schedule_error(prim, f"block {block!r}: it reads buffers of several producers {names}; "
                             "reverse_compute_inline needs exactly one", func, realize)
    producer = producers[0]
    p_store = _single_store(prim, func, producer, block, f"its producer {producer.block.name_hint!r}")
    buf = p_store.buffer
    if is_param(func, buf):
        raise schedule_error(prim, f"block {block!r}: the intermediate buffer {buf.name} is a "
                             "function parameter and must stay materialised", func, producer)
    loads = [n for n in pre_order_nodes(store.value) if isinstance(n, BufferLoad) and n.buffer is buf]
    if any(n.buffer is buf for i in store.indices for n in pre_order_nodes(i) if isinstance(n, BufferLoad)):
        raise schedule_error(prim, f"block {block!r}: it reads {buf.name} inside a store index", func, realize)
    keys = {expr_key(n.indices) for n in loads}
    if len(keys) != 1 or not _iterator_indices(loads[0].indices, blk.iter_vars):
        raise schedule_error(prim, f"block {block!r}: it reads more than the producer's point: each "
                             f"read of {buf.name} must be at exactly its iterators "
                             f"({buf.name}[vi, vj, ...]), once", func, realize)
    indices = loads[0].indices
    for iv, extent in zip((next(iv for iv in blk.iter_vars if iv.var is i) for i in indices), buf.shape):
        if not (isinstance(iv.dom.min, IntImm) and iv.dom.min.value == 0
                and (same_expr(iv.dom.extent, extent)  # (a symbolic extent: the same expression)
                     or isinstance(iv.dom.extent, IntImm) and isinstance(extent, IntImm)
                     and iv.dom.extent.value == extent.value)):
            raise schedule_error(prim, f"block {block!r}: iterator {iv.var.name} covers {iv.dom!r} "
                                 f"but {buf.name} has extent {extent!r}; the consumer must cover the "
                                 "whole producer output", func, realize)
    for other in order:
        if other is not realize and other is not producer and any(r.buffer is buf for r in other.block.reads):
            raise schedule_error(prim, f"block {block!r}: block {other.block.name_hint!r} also reads "
                                 f"{buf.name}", func, other)
    c_writes = buffer_ids(blk.writes)
    for other in _between(func, producer, realize):
        if buffer_ids(other.block.writes) & (read_ids - {id(buf)}) or \
                (buffer_ids(other.block.reads) | buffer_ids(other.block.writes)) & c_writes:
            raise schedule_error(prim, f"block {block!r}: block {other.block.name_hint!r} between the "
                                 "producer and the consumer uses the consumer's buffers", func, other)
    vmap = dict(zip(indices, p_store.indices))
    value = substitute(_InlineLoads(buf, list(indices), p_store.value).visit(store.value), vmap)
    new_store = BufferStore(store.buffer, value, tuple(substitute(i, vmap) for i in store.indices))
    other_reads = [BufferRegion(r.buffer, tuple(dc_replace(x, min=substitute(x.min, vmap)) for x in r.region))
                   for r in blk.reads if r.buffer is not buf]
    writes = tuple(BufferRegion(w.buffer, tuple(dc_replace(x, min=substitute(x.min, vmap)) for x in w.region))
                   for w in blk.writes)
    p_blk = producer.block
    new_block = dc_replace(p_blk, body=new_store, writes=writes,
                           reads=merge_regions(list(p_blk.reads) + other_reads))
    new = replace(func, producer, dc_replace(producer, block=new_block))
    new = remove_block(new, find_block(new, block, prim))
    return remove_alloc(new, buf)


class InlinePrimitives(ScheduleBase):

    @instruction
    def compute_inline(self, block) -> None:
        """Inline the injective ``block`` into every reader of its output and drop its
        buffer.

        A reduction, a block with more than one store or with indices that are not
        its iterators, an output that is a function parameter, or an output written
        by another block too is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), C: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((4,))
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i in range(4):
                with T.block("C"):
                    vi = T.axis.spatial(4, i)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> sch.compute_inline(sch.get_block("B"))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), C: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(4):
                with T.block("C"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(C[vi])
                    C[vi] = A[vi] * T.float32(2) + T.float32(1)
        """
        fname, func, loc = self._block(block, "compute_inline")
        self._commit(fname, compute_inline_ir(func, loc.node.block.name_hint))

    @instruction
    def reverse_compute_inline(self, block) -> None:
        """Fold the injective consumer ``block`` into the single producer it reads; the
        producer then writes the consumer's output.

        A reduction, a block reading several producers or more than the producer's
        point, an intermediate buffer that is a function parameter, or another reader
        of it is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(4))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), C: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((4,))
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i in range(4):
                with T.block("C"):
                    vi = T.axis.spatial(4, i)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> sch.reverse_compute_inline(sch.get_block("C"))
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((4,), "float32"), C: T.Buffer((4,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            for i in range(4):
                with T.block("B"):
                    vi = T.axis.spatial(4, i)
                    T.reads(A[vi])
                    T.writes(C[vi])
                    C[vi] = A[vi] * T.float32(2) + T.float32(1)
        """
        fname, func, loc = self._block(block, "reverse_compute_inline")
        self._commit(fname, reverse_compute_inline_ir(func, loc.node.block.name_hint))
