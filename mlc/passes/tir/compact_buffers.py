"""compact_buffers: allocate each intermediate only as large, and only where, it is used.

A schedule's caches keep the shape of the buffer they copy: after
``cache_write`` and ``reverse_compute_at`` a register tile still allocates
the whole matrix at the function's root. This pass (TVM's
CompactBufferAllocation, run on loops after ``convert_blocks_to_loops``)
moves each ``Allocate`` of a global or local buffer into the innermost loop
that encloses every access, and shrinks it to the box the accesses touch
during one iteration of that loop, re-indexed from the box's corner.

Before::

    Allocate(C_local: float32[1024, 1024]):
        for j_0, i_0:
            for i_1, j_1: C_local[i_0 * 4 + i_1, j_0 * 16 + j_1] = 0
            for k, i_1, j_1: C_local[i_0 * 4 + i_1, j_0 * 16 + j_1] += ...
            for ax0, ax1: C[...] = C_local[i_0 * 4 + ax0, j_0 * 16 + ax1]

After::

    for j_0, i_0:
        Allocate(C_local: float32[4, 16]):
            for i_1, j_1: C_local[i_1, j_1] = 0
            ...

Moving an allocation into a loop gives every iteration a fresh buffer, which
is only right when no iteration reads what another wrote. The pass moves it
only when the boxes of different iterations (of every loop between the old and
the new place) are disjoint, which it checks by enumerating the boxes'
corners; otherwise it tries a shallower loop, and leaves the allocation as
it is when no loop qualifies.
A loop of symbolic extent cannot be enumerated; it qualifies when it moves
the box by whole boxes along a dimension no other loop moves (a row tile
``i_0 * 8 + i_1`` of ``n`` rows). Vectorized and thread-bound loops are never entered, and ``shared`` or
tensor-core buffers keep their shape (threads share them).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...ir.analysis import evaluate_index
from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad, IntImm, PrimExpr, const
from ...ir.extern import AddressOf
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.arith import IntSet, canonical, free_vars, linear, relax
from ...ir.tir import Allocate, BufferStore, For, IfThenElse, PrimFunc, SeqStmt

__all__ = ["compact_buffers", "buffer_accesses", "loops_around_all", "MAX_ENUMERATED_ITERATIONS"]

#: Moving an allocation into loops with more iterations than this is not checked (nor done).
MAX_ENUMERATED_ITERATIONS = 1 << 20
_SCOPES = ("global", "local")
_ENTERABLE = ("serial", "parallel", "unrolled")


def buffer_accesses(buffer: Buffer, body) -> list[tuple[tuple[PrimExpr, ...], tuple[For, ...], tuple]]:
    """Every (indices, enclosing loops, conditions of the ifs around it) access of ``buffer``
    in ``body`` (thread-bound loops included)."""
    out, stack = [], [(body, (), ())]
    while stack:
        node, loops, conds = stack.pop()
        exprs = []
        if isinstance(node, For):
            stack.append((node.body, loops + (node,), conds))
            exprs = [node.min, node.extent]
        elif isinstance(node, SeqStmt):
            stack.extend((s, loops, conds) for s in node.seq)
        elif isinstance(node, IfThenElse):
            stack.append((node.then_case, loops, conds + (node.condition,)))
            if node.else_case is not None:
                stack.append((node.else_case, loops, conds))
            exprs = [node.condition]
        elif isinstance(node, Allocate):
            stack.append((node.body, loops, conds))
        elif isinstance(node, BufferStore):
            if node.buffer is buffer:
                out.append((node.indices, loops, conds))
            exprs = [node.value, *node.indices]
        else:
            exprs = [node]
        for e in exprs:
            for n in pre_order_nodes(e):
                if isinstance(n, BufferLoad) and n.buffer is buffer:
                    out.append((n.indices, loops, conds))
    return out


def _accesses(buffer: Buffer, body) -> list[tuple[tuple[PrimExpr, ...], tuple[For, ...]]] | None:
    """Every (indices, enclosing loops) access of ``buffer`` in ``body``; None when a
    thread-bound loop encloses one (GPU buffers are shared by threads)."""
    found = buffer_accesses(buffer, body)
    if any(f.kind == "thread_binding" for _, loops, _ in found for f in loops):
        return None
    return [(indices, loops) for indices, loops, _ in found]


def loops_around_all(accesses) -> list[For]:
    """The loops enclosing every one of ``accesses`` (each ``(indices, loops, ...)``),
    outermost first."""
    first = list(accesses[0][1])
    for access in accesses[1:]:
        loops = access[1]
        n = 0
        while n < len(first) and n < len(loops) and first[n] is loops[n]:
            n += 1
        first = first[:n]
    return first


def _common_loops(accesses) -> list[For]:
    out = []
    for f in loops_around_all(accesses):
        if f.kind not in _ENTERABLE:
            break
        out.append(f)
    return out


def _box(buffer: Buffer, accesses, prefix: list[For]) -> list[tuple[PrimExpr, int | PrimExpr]]:
    """Per dimension, (corner, extent) of what one iteration of ``prefix`` touches;
    a dimension whose box extent is not constant keeps the whole buffer (corner 0, its
    extent possibly symbolic)."""
    inside = {id(f) for f in prefix}
    sets: list[IntSet] | None = None
    for indices, loops in accesses:
        dom = {f.loop_var: IntSet(f.min, canonical(f.min + f.extent - 1)) for f in loops if id(f) not in inside}
        relaxed = [relax(i, dom) for i in indices]
        sets = relaxed if sets is None else [a.union(b) for a, b in zip(sets, relaxed)]
    out = []
    for s, size in zip(sets, buffer.shape):
        extent = s.extent()
        constant = isinstance(extent, IntImm) and extent.value > 0
        if constant and (not isinstance(size, IntImm) or extent.value < size.value):  # (symbolic size: any constant box)
            out.append((s.min, extent.value))
        else:
            out.append((const(0, size.dtype), size.value if isinstance(size, IntImm) else size))
    return out


def _disjoint(prefix: list[For], box) -> bool:
    """Different iterations of ``prefix`` touch disjoint boxes: their corners are distinct
    and each dimension's corners agree modulo its extent."""
    if not prefix:
        return True
    if any(not isinstance(extent, int) for _, extent in box):
        return False  # a whole symbolic dimension: every iteration touches all of it
    if any(extent == 0 for _, extent in box):
        return True  # an empty buffer: no iteration touches anything
    symbolic = [f for f in prefix if not (isinstance(f.min, IntImm) and isinstance(f.extent, IntImm))]
    if symbolic:
        if not _symbolic_loops_separate(symbolic, prefix, box):
            return False
        fixed = {f.loop_var: f.min for f in symbolic}
        box = [(substitute(lo, fixed), extent) for lo, extent in box]
        prefix = [f for f in prefix if f not in symbolic]
        if not prefix:
            return True
    extents = []
    for f in prefix:
        if not (isinstance(f.min, IntImm) and isinstance(f.extent, IntImm)):
            return False
        extents.append(f.extent.value)
    count = int(np.prod(extents, dtype=np.int64))
    if count == 0:  # no iterations: nothing to overlap
        return True
    if count > MAX_ENUMERATED_ITERATIONS:
        return False
    grids = np.meshgrid(*[np.arange(f.min.value, f.min.value + e) for f, e in zip(prefix, extents)],
                        indexing="ij")
    env = {f.loop_var: g.reshape(-1) for f, g in zip(prefix, grids)}
    corners = []
    for lo, extent in box:
        values = evaluate_index(lo, env)
        if values is None:
            return False
        values = np.broadcast_to(values, (count,))
        if np.any((values - values[0]) % extent):
            return False
        corners.append(values // extent)
    return _distinct_rows(np.stack(corners, axis=1))


def _symbolic_loops_separate(symbolic: list[For], prefix: list[For], box) -> bool:
    """Loops of symbolic extent keep the boxes of their iterations apart: each moves every
    corner by whole boxes (its coefficient a multiple of the box extent), appears only
    linearly, and has a dimension whose corner no other loop of ``prefix`` moves. Then
    iterations differing in a symbolic loop touch disjoint boxes, and the others are
    decided by enumerating the constant loops with the symbolic ones at their start."""
    loop_ids = {id(f.loop_var) for f in prefix}
    for f in symbolic:
        own_dim = False
        for lo, extent in box:
            form = linear(lo)
            coef, others = 0, False
            for atom, c in form.terms.values():
                if atom is f.loop_var:
                    coef = c
                elif any(id(v) == id(f.loop_var) for v in free_vars(atom)):
                    return False  # non-linear in the symbolic loop
                elif any(id(v) in loop_ids for v in free_vars(atom)):
                    others = True
            if coef % extent:
                return False
            own_dim = own_dim or (coef != 0 and not others)
        if not own_dim:
            return False
    return True


def _distinct_rows(rows: np.ndarray) -> bool:
    """No two rows of ``rows`` are equal (sorted lexicographically, neighbours differ;
    ``np.unique(axis=0)`` would import numpy.ma on the first compile)."""
    if len(rows) < 2:
        return True
    ordered = rows[np.lexsort(rows.T[::-1])]
    return not np.any(np.all(ordered[1:] == ordered[:-1], axis=1))


def _plan(buffer: Buffer, body, addressed: frozenset[int]):
    """(loop to allocate in, box) for ``buffer``, or None to leave it where and as it is.
    ``addressed``: the ids of the buffers whose address an external function takes."""
    if buffer.scope not in _SCOPES or buffer.strides:
        return None
    if id(buffer) in addressed:
        return None  # an external function reads a region from its address: keep the layout
    accesses = _accesses(buffer, body)
    if not accesses:
        return None
    prefix = _common_loops(accesses)
    for depth in range(len(prefix), 0, -1):
        box = _box(buffer, accesses, prefix[:depth])
        if _disjoint(prefix[:depth], box):
            return prefix[depth - 1], box
    return None


class _Rebase(Mutator):
    """Accesses of ``old`` become accesses of ``new`` relative to the box corner; the
    allocation wraps the body of loop ``home``."""

    def __init__(self, old: Buffer, new: Buffer, corner, home: For):
        self.old, self.new, self.corner, self.home = old, new, corner, home

    def _shift(self, indices):
        return tuple(canonical(i - lo) for i, lo in zip(indices, self.corner))

    def visit_BufferLoad(self, node: BufferLoad):
        node = self.generic_visit(node)
        if node.buffer is not self.old:
            return node
        return BufferLoad(self.new, self._shift(node.indices), node.dtype)

    def visit_BufferStore(self, node: BufferStore):
        node = self.generic_visit(node)
        if node.buffer is not self.old:
            return node
        return BufferStore(self.new, node.value, self._shift(node.indices))

    def visit_For(self, node: For):
        out = self.generic_visit(node)
        if node is self.home:
            out = replace(out, body=Allocate(self.new, out.body))
        return out


class _Compact(Mutator):
    def __init__(self, addressed: frozenset[int]):
        self.addressed = addressed

    def visit_Allocate(self, node: Allocate):
        body = self.visit(node.body)
        plan = _plan(node.buffer, body, self.addressed)
        if plan is None:
            return node if body is node.body else Allocate(node.buffer, body)
        home, box = plan
        buf = node.buffer
        new = Buffer(buf.name, tuple(const(e, s.dtype) if isinstance(e, int) else e
                                     for (_, e), s in zip(box, buf.shape)), buf.dtype, buf.scope)
        return _Rebase(buf, new, [lo for lo, _ in box], home).visit(body)


def compact_buffers(func: PrimFunc) -> PrimFunc:
    """Move and shrink every Allocate as the module docstring describes."""
    # Which buffers have their address taken is found once: moving and shrinking a buffer
    # (never one of those) leaves the others' AddressOf nodes as they are.
    addressed = frozenset(id(n.load.buffer) for n in pre_order_nodes(func.body) if isinstance(n, AddressOf))
    body = _Compact(addressed).visit(func.body)
    return func if body is func.body else func.with_body(body)
