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
the new place) are disjoint, which it reads off the corners' linear form where
each loop moves a corner of its own by whole boxes, and otherwise checks by
enumerating the boxes' corners; otherwise it tries a shallower loop, and leaves
the allocation as it is when no loop qualifies.
A loop of symbolic extent cannot be enumerated; it qualifies when it moves
the box by whole boxes along a dimension no other loop moves (a row tile
``i_0 * 8 + i_1`` of ``n`` rows). Vectorized and thread-bound loops are never entered, and ``shared`` or
tensor-core buffers keep their shape (threads share them).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...ir.analysis import evaluate_index
from ...ir.analysis.census import contains
from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad, IntImm, PrimExpr, const
from ...ir.extern import AddressOf
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.arith import IntSet, canonical, free_vars, linear, relax
from ...ir.tir import Allocate, BufferStore, For, IfThenElse, PrimFunc, SeqStmt

__all__ = ["compact_buffers", "buffer_accesses", "AccessIndex", "loops_around_all", "rebase", "MAX_ENUMERATED_ITERATIONS"]

#: Moving an allocation into loops with more iterations than this is not checked (nor done).
MAX_ENUMERATED_ITERATIONS = 1 << 20
_SCOPES = ("global", "local")
_ENTERABLE = ("serial", "parallel", "unrolled")


def buffer_accesses(buffer: Buffer, body) -> list[tuple[tuple[PrimExpr, ...], tuple[For, ...], tuple]]:
    """Every (indices, enclosing loops, conditions of the ifs around it) access of ``buffer``
    in ``body`` (thread-bound loops included)."""
    return _all_accesses(frozenset({id(buffer)}), body).get(id(buffer), [])


def _all_accesses(wanted: frozenset[int], body) -> dict[int, list]:
    """Per buffer id of ``wanted``: its accesses in ``body`` as :func:`buffer_accesses` gives
    them, found in one walk."""
    out: dict[int, list] = {}
    stack = [(body, (), ())]
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
            if id(node.buffer) in wanted:
                out.setdefault(id(node.buffer), []).append((node.indices, loops, conds))
            exprs = [node.value, *node.indices]
        else:
            exprs = [node]
        for e in exprs:
            for n in pre_order_nodes(e):
                if isinstance(n, BufferLoad) and id(n.buffer) in wanted:
                    out.setdefault(id(n.buffer), []).append((n.indices, loops, conds))
    return out


class AccessIndex:
    """Every buffer's accesses in a statement, as :func:`buffer_accesses` gives them, each
    statement walked once for as long as the index lives: a statement's accesses are kept
    (relative to it) and those of a statement around it are made from its children's, so a
    pass that asks again about a body in which it rebuilt some statements walks only those.
    (Allocations nested in allocations would otherwise walk the inner bodies once per
    allocation around them.)"""

    def __init__(self):
        self._found: dict[int, tuple] = {}  # id(stmt) -> (stmt, {id(buffer): [access, ...]})
        self._loads: dict[int, tuple] = {}  # id(expr) -> (expr, [its loads]): a statement rebuilt
        # around the same expressions (another buffer's accesses re-indexed) finds them here

    def accesses(self, buffer: Buffer, body) -> list[tuple[tuple[PrimExpr, ...], tuple[For, ...], tuple]]:
        return self._of(body).get(id(buffer), [])

    def _of(self, root) -> dict[int, list]:
        found = self._found
        stack = [(root, False)]
        while stack:
            node, ready = stack.pop()
            hit = found.get(id(node))
            if hit is not None and hit[0] is node:
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((c, False) for c in _statements_in(node))
                continue
            found[id(node)] = (node, self._combine(node))
        return found[id(root)][1]

    def _combine(self, node) -> dict[int, list]:
        """``node``'s accesses, in the order of :func:`_all_accesses`'s walk: its own
        expressions' first, then its children's (the last child first, as the walk's stack
        pops them)."""
        out: dict[int, list] = {}

        def own(exprs):
            for e in exprs:
                for n in self._loads_in(e):
                    out.setdefault(id(n.buffer), []).append((n.indices, (), ()))

        def inner(stmt, loop=(), cond=()):
            for key, found in self._found[id(stmt)][1].items():
                out.setdefault(key, []).extend((i, loop + ls, cond + cs) for i, ls, cs in found)

        if isinstance(node, For):
            own([node.min, node.extent])
            inner(node.body, loop=(node,))
        elif isinstance(node, SeqStmt):
            for s in reversed(node.seq):
                inner(s)
        elif isinstance(node, IfThenElse):
            own([node.condition])
            if node.else_case is not None:
                inner(node.else_case)
            inner(node.then_case, cond=(node.condition,))
        elif isinstance(node, Allocate):
            inner(node.body)
        elif isinstance(node, BufferStore):
            out.setdefault(id(node.buffer), []).append((node.indices, (), ()))
            own([node.value, *node.indices])
        else:
            own([node])
        return out

    def _loads_in(self, e) -> list[BufferLoad]:
        hit = self._loads.get(id(e))
        if hit is None or hit[0] is not e:
            hit = self._loads[id(e)] = (e, [n for n in pre_order_nodes(e) if isinstance(n, BufferLoad)])
        return hit[1]


def _statements_in(node) -> list:
    """The statements :func:`_all_accesses` walks into from ``node``."""
    if isinstance(node, (For, Allocate)):
        return [node.body]
    if isinstance(node, SeqStmt):
        return list(node.seq)
    if isinstance(node, IfThenElse):
        return [node.then_case] if node.else_case is None else [node.then_case, node.else_case]
    return []


def _accesses(found) -> list[tuple[tuple[PrimExpr, ...], tuple[For, ...]]] | None:
    """(indices, enclosing loops) of each of ``found`` (a buffer's accesses,
    :func:`buffer_accesses`); None when a thread-bound loop encloses one (GPU buffers are
    shared by threads)."""
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
    separating = {id(f) for f in prefix if _separates(f, prefix, box)}
    if len(separating) == len(prefix):
        return True  # every loop moves a corner of its own by whole boxes: nothing to enumerate
    symbolic = [f for f in prefix if not (isinstance(f.min, IntImm) and isinstance(f.extent, IntImm))]
    if symbolic:
        if any(id(f) not in separating for f in symbolic):
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
    if not corners:  # a 0-d buffer: every iteration has its one element
        return count <= 1
    return _distinct_rows(np.stack(corners, axis=1))


def _separates(f: For, prefix: list[For], box) -> bool:
    """Loop ``f`` (of ``prefix``) keeps the boxes of its iterations apart: it moves every
    corner by whole boxes (its coefficient a multiple of the box extent), appears only
    linearly, and has a dimension whose corner no other loop of ``prefix`` moves. Then
    iterations differing in ``f`` touch disjoint boxes. Where every loop of ``prefix`` does
    (a row loop ``i`` and a one-row box at ``i``), nothing is left to enumerate; where those
    of symbolic extent do, the others are decided by enumerating the constant loops with
    the symbolic ones at their start."""
    loop_ids = {id(g.loop_var) for g in prefix}
    own_dim = False
    for lo, extent in box:
        coef, others = 0, False
        for atom, c in linear(lo).terms.values():
            if atom is f.loop_var:
                coef = c
            elif any(id(v) == id(f.loop_var) for v in free_vars(atom)):
                return False  # non-linear in the loop
            elif any(id(v) in loop_ids for v in free_vars(atom)):
                others = True
        if coef % extent:
            return False
        own_dim = own_dim or (coef != 0 and not others)
    return own_dim


def _distinct_rows(rows: np.ndarray) -> bool:
    """No two rows of ``rows`` are equal (sorted lexicographically, neighbours differ;
    ``np.unique(axis=0)`` would import numpy.ma on the first compile)."""
    if len(rows) < 2:
        return True
    ordered = rows[np.lexsort(rows.T[::-1])]
    return not np.any(np.all(ordered[1:] == ordered[:-1], axis=1))


def _plan(buffer: Buffer, found):
    """(loop to allocate in, box) for ``buffer``, whose accesses are ``found`` (each with
    the loops around it inside the buffer's Allocate), or None to leave it where and as
    it is."""
    if buffer.scope not in _SCOPES or buffer.strides:
        return None
    accesses = _accesses(found)
    if not accesses:
        return None
    prefix = _common_loops(accesses)
    for depth in range(len(prefix), 0, -1):
        box = _box(buffer, accesses, prefix[:depth])
        if _disjoint(prefix[:depth], box):
            return prefix[depth - 1], box
    return None


class _Rebase(Mutator):
    """Accesses of each planned buffer become accesses of its compacted copy, relative to
    its box corner; its Allocate moves to the body of its home loop.

    ``plans``: per old buffer id, (new buffer, box corner, home loop); ``order``: the old
    buffers' ids, outermost Allocate first (the order the moved Allocates keep when they
    share a home loop).
    """

    def __init__(self, plans: dict[int, tuple[Buffer, list, For]], order: list[int]):
        self.plans = plans
        self.homes: dict[int, list[int]] = {}
        for key in order:
            self.homes.setdefault(id(plans[key][2]), []).append(key)

    def _corner(self, key: int) -> list:
        """The box corner the accesses of buffer ``key`` are made relative to, here."""
        return self.plans[key][1]

    def _shift(self, key: int, indices):
        return tuple(canonical(i - lo) for i, lo in zip(indices, self._corner(key)))

    def visit_BufferLoad(self, node: BufferLoad):
        node = self.generic_visit(node)
        key = id(node.buffer)
        if key not in self.plans:
            return node
        return BufferLoad(self.plans[key][0], self._shift(key, node.indices), node.dtype)

    def visit_BufferStore(self, node: BufferStore):
        node = self.generic_visit(node)
        key = id(node.buffer)
        if key not in self.plans:
            return node
        return BufferStore(self.plans[key][0], node.value, self._shift(key, node.indices))

    def visit_Allocate(self, node: Allocate):
        if id(node.buffer) in self.plans:
            return self.visit(node.body)  # (allocated in its home loop instead)
        return self.generic_visit(node)

    def visit_For(self, node: For):
        out = self.generic_visit(node)
        keys = self.homes.get(id(node))
        if keys:
            body = out.body
            for key in reversed(keys):
                body = Allocate(self.plans[key][0], body)
            out = replace(out, body=body)
        return out


def rebase(body, old: Buffer, new: Buffer, corner, home: For | None):
    """``body`` with the accesses of ``old`` made accesses of ``new`` relative to ``corner``,
    and ``new`` allocated around the body of loop ``home`` (nowhere when None)."""
    return _Rebase({id(old): (new, corner, home)}, [id(old)]).visit(body)


def _allocations(body) -> list[tuple[Allocate, int]]:
    """Every Allocate under ``body``, outermost first, with the number of loops above it."""
    out, stack = [], [(body, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, For):
            stack.append((node.body, depth + 1))
        elif isinstance(node, SeqStmt):
            stack.extend((s, depth) for s in reversed(node.seq))
        elif isinstance(node, IfThenElse):
            if node.else_case is not None:
                stack.append((node.else_case, depth))
            stack.append((node.then_case, depth))
        elif isinstance(node, Allocate):
            out.append((node, depth))
            stack.append((node.body, depth))
    return out


def compact_buffers(func: PrimFunc) -> PrimFunc:
    """Move and shrink every Allocate as the module docstring describes.

    The accesses of every allocated buffer are found in one walk and every move is made in
    another: a plan depends only on the buffer's own accesses and the loops around them,
    which moving the other buffers leaves as they are.
    """
    allocations = _allocations(func.body)
    if not allocations:
        return func
    counts: dict[int, int] = {}
    for node, _ in allocations:
        counts[id(node.buffer)] = counts.get(id(node.buffer), 0) + 1
    # A buffer whose address an external function takes keeps its layout (it reads a
    # region from the address); one allocated twice is left as it is.
    addressed = {id(n.load.buffer) for n in pre_order_nodes(func.body)
                 if isinstance(n, AddressOf)} if contains(func.body, AddressOf) else set()
    candidates = [(node, depth) for node, depth in allocations
                  if counts[id(node.buffer)] == 1 and id(node.buffer) not in addressed]
    found = _all_accesses(frozenset(id(node.buffer) for node, _ in candidates), func.body)
    plans, order = {}, []
    for node, depth in candidates:
        buf = node.buffer
        inside = [(indices, loops[depth:], conds) for indices, loops, conds in found.get(id(buf), [])]
        plan = _plan(buf, inside)
        if plan is None:
            continue
        home, box = plan
        new = Buffer(buf.name, tuple(const(e, s.dtype) if isinstance(e, int) else e
                                     for (_, e), s in zip(box, buf.shape)), buf.dtype, buf.scope)
        plans[id(buf)] = (new, [lo for lo, _ in box], home)
        order.append(id(buf))
    if not plans:
        return func
    return func.with_body(_Rebase(plans, order).visit(func.body))
