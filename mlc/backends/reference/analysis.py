"""Static facts that decide how the reference interpreter may vectorise a loop.

A *region* is a loop whose whole subtree the interpreter runs as lanes (every
loop inside becomes an array axis). Its shape must be a *chain* of single-child
wrappers (loops, blocks, ifs without else, allocations) ending either in one
*unit* or in a branch point (a SeqStmt, an if with an else, a block whose init
is not a plain reduction) whose children are units, or branch points in turn under
wrappers with no loop (the scalars a lowering allocates before the statements that use
them). A unit is a chain ending in
one store, or in a reduction block with an init (``Y[i] = 0`` then
``Y[i] = Y[i] + ...``).

Inside a unit, the stored buffer may be read only by the update's own load
(``Y[i]`` in ``Y[i] = Y[i] + A[i, k]``) or, for a plain store, at exactly the
stored indices; a buffer allocated inside the region (every lane has its own copy:
the local scalars :mod:`mlc.passes.tir.statement_scalars` computes) anywhere. Orderings between units are checked while the region runs
(see ``interpreter.Recorder``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...ir import dtype as dt
from ...ir.analysis import reads_only_written_points
from ...ir.arith import same_expr
from ...ir.buffer import Buffer
from ...ir.expr import Binary, BufferLoad, IntImm, PrimExpr
from ...ir.functor import pre_order_nodes
from ...ir.tir import (Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse,
                       SeqStmt, Stmt)
from .values import REDUCTIONS

__all__ = ["Analysis", "StoreKind", "InitReduction", "RegionPlan", "is_lockstep"]


def is_lockstep(loop: For) -> bool:
    """GPU thread axes run in lockstep; blockIdx loops are independent, like parallel loops."""
    return loop.kind == "thread_binding" and not (loop.thread_binding or "").startswith("blockIdx")


def loads_of(node, buffer: Buffer) -> list[BufferLoad]:
    """Every load of ``buffer`` under ``node`` (an expression or statement)."""
    return [n for n in pre_order_nodes(node) if isinstance(n, BufferLoad) and n.buffer is buffer]


@dataclass(frozen=True)
class StoreKind:
    """How a store relates to its own buffer.

    kind: "plain" (never reads it), "self" (reads it only at the stored
    indices), "reduce" (``X[idx] = combine(X[idx], rest)`` with ``rest`` not
    reading X; ``ufunc`` combines) or "other".
    ``own_loads`` are the loads of X the kind accounts for.
    """
    kind: str
    ufunc: Any = None
    rest: PrimExpr | None = None
    own_loads: tuple[BufferLoad, ...] = ()


@dataclass(frozen=True)
class InitReduction:
    """A block ``init: X[..] = v0; body: [if cond:] X[idx] = combine(X[idx], rest)``."""
    init: BufferStore
    update: BufferStore
    condition: PrimExpr | None
    kind: StoreKind


@dataclass(frozen=True)
class RegionPlan:
    """How to run a loop as a region.

    inner_lanes: lanes per iteration of the loop; weights: id(For) -> weight of
    the chain's serial loops (a lane's region position is sum(coordinate *
    weight)); written: ids of the buffers stored to; multi_unit: whether units
    must be checked against each other while running.
    """
    inner_lanes: int
    weights: dict
    written: frozenset
    multi_unit: bool


class Analysis:
    """Caches the static facts about one PrimFunc's statements (keyed by node id)."""

    def __init__(self):
        self._stores: dict[int, StoreKind] = {}
        self._blocks: dict[int, InitReduction | None] = {}
        self._regions: dict[int, RegionPlan | None] = {}

    # ------------------------------------------------------------- stores

    def store_kind(self, store: BufferStore) -> StoreKind:
        kind = self._stores.get(id(store))
        if kind is None:
            kind = self._stores[id(store)] = _classify_store(store)
        return kind

    def init_reduction(self, block: Block) -> InitReduction | None:
        """The block as an init + reduction update, or None when it is not one."""
        if id(block) not in self._blocks:
            self._blocks[id(block)] = self._match_init_reduction(block)
        return self._blocks[id(block)]

    def _match_init_reduction(self, block: Block) -> InitReduction | None:
        init, body, cond = block.init, block.body, None
        if isinstance(body, IfThenElse) and body.else_case is None:
            cond, body = body.condition, body.then_case
        if not (isinstance(init, BufferStore) and isinstance(body, BufferStore) and init.buffer is body.buffer):
            return None
        kind = self.store_kind(body)
        buffer = init.buffer
        if kind.kind != "reduce" or loads_of(init, buffer) or (cond is not None and loads_of(cond, buffer)):
            return None
        return InitReduction(init, body, cond, kind)

    # ------------------------------------------------------------ regions

    def region_plan(self, loop: For) -> RegionPlan | None:
        """How to run ``loop`` as a region, or None when it must run serially."""
        if id(loop) not in self._regions:
            self._regions[id(loop)] = self._plan(loop)
        return self._regions[id(loop)]

    def _plan(self, loop: For) -> RegionPlan | None:
        chain, end = self._descend(loop.body)
        if chain is None:
            return None
        children = self._branches(end)
        if children is None:
            units, inner = [(loop, end)], 1
        else:
            units, inner = [], 1
            pending = list(children)
            while pending:
                child = pending.pop(0)
                sub, leaf = self._descend(child)
                if sub is None:
                    return None
                nested = self._branches(leaf)
                if nested is not None:
                    if sub:
                        return None  # a loop around several units: they would not run unit by unit
                    # a branch point under loop-free wrappers (a lowering's scalars allocated
                    # before the statements that use them): its children are units of this region
                    pending[:0] = nested
                    continue
                units.append((child, leaf))
                inner = max(inner, _product(sub))
        private = _lane_private(loop.body)
        if not all(self._unit_ok(scope, leaf, private) for scope, leaf in units):
            return None
        weights, w = {}, 1
        for node in reversed([loop] + [l for l in chain if not is_lockstep(l)]):
            weights[id(node)] = w
            if node is not loop:
                w *= node.extent.value
        written = frozenset(id(n.buffer) for n in pre_order_nodes(loop) if isinstance(n, BufferStore))
        return RegionPlan(max(1, _product(chain) * inner), weights, written, children is not None)

    def _descend(self, stmt: Stmt):
        """(loops passed, end node) down a chain of single-child wrappers; loops None
        when a loop extent is not a constant."""
        loops = []
        node = stmt
        while True:
            if isinstance(node, For):
                if not isinstance(node.extent, IntImm):
                    return None, node
                loops.append(node)
                node = node.body
            elif isinstance(node, BlockRealize) and node.block.init is None:
                node = node.block.body
            elif isinstance(node, IfThenElse) and node.else_case is None:
                node = node.then_case
            elif isinstance(node, Allocate):
                node = node.body
            else:
                return loops, node

    def _branches(self, end: Stmt) -> list[Stmt] | None:
        """The children of a branch point, or None when ``end`` is a unit's end."""
        if isinstance(end, SeqStmt):
            return list(end.seq)
        if isinstance(end, IfThenElse):
            return [end.then_case, end.else_case]
        if isinstance(end, BlockRealize) and self.init_reduction(end.block) is None:
            return [end.block.init, end.block.body]
        return None

    def _unit_ok(self, scope: Stmt, end: Stmt, private: frozenset = frozenset()) -> bool:
        """Whether a unit may run as lanes: it ends in one store, and reads the
        stored buffer only where its kind allows (anywhere, for a buffer allocated inside
        the region, of which every lane has its own copy: ``private``, their ids)."""
        if isinstance(end, Evaluate):
            return True
        if isinstance(end, BufferStore) and id(end.buffer) in private and not dt.is_vector(end.value.dtype):
            return True
        if isinstance(end, BlockRealize):
            pattern = self.init_reduction(end.block)
            buffer, allowed = pattern.init.buffer, pattern.kind.own_loads
        elif isinstance(end, BufferStore):
            if dt.is_vector(end.value.dtype):
                return False  # a vector store's lanes are an axis of their own (see interpreter)
            kind = self.store_kind(end)
            if kind.kind == "other":
                return False
            buffer, allowed = end.buffer, kind.own_loads
        else:
            return False
        allowed_ids = {id(n) for n in allowed}
        return all(id(n) in allowed_ids for n in loads_of(scope, buffer))


def _lane_private(body: Stmt) -> frozenset:
    """The ids of the buffers allocated inside ``body``: one copy per lane when it runs as a
    region (the scalars a lowering pass computes before a statement, a block's own buffers)."""
    ids = set()
    for n in pre_order_nodes(body):
        if isinstance(n, Allocate):
            ids.add(id(n.buffer))
        elif isinstance(n, Block):
            ids.update(id(b) for b in n.alloc_buffers)
    return frozenset(ids)


def _product(loops: list[For]) -> int:
    n = 1
    for loop in loops:
        n *= max(loop.extent.value, 1)
    return n


def _classify_store(store: BufferStore) -> StoreKind:
    buffer, value = store.buffer, store.value
    if any(loads_of(i, buffer) for i in store.indices):
        return StoreKind("other")
    if isinstance(value, Binary) and value.op in REDUCTIONS:
        for own, rest in ((value.a, value.b), (value.b, value.a)):
            if (isinstance(own, BufferLoad) and own.buffer is buffer
                    and same_expr(own.indices, store.indices) and not loads_of(rest, buffer)):
                return StoreKind("reduce", REDUCTIONS[value.op], rest, (own,))
    own = loads_of(value, buffer)
    if not own:
        return StoreKind("plain")
    if reads_only_written_points((value,), {buffer: store.indices}):  # each lane reads its own element
        return StoreKind("self", own_loads=tuple(own))
    return StoreKind("other")
