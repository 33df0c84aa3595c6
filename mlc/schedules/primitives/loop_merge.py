"""The pure transformation behind ``merge``: sibling loops of one range become one loop.

Loops that are statements of one sequence, with the same range, run as one loop whose
iteration ``k`` runs iteration ``k`` of each loop's body, in their order::

    for k in range(16):                  for k in range(16):
        S[0] += A[k]           merge          S[0] += A[k]
    T[0] = S[0] * 2           ------>         Q[0] += A[k] * A[k]
    for k in range(16):                  T[0] = S[0] * 2
        Q[0] += A[k] * A[k]

Statements between the loops move after the merged loop. A later loop's iterations then
run before an earlier loop's later iterations and before the statements that were between
them, so the request is refused unless those are independent: a later loop reads no buffer
that an earlier loop or a statement between writes, and writes none that they access.
Two reductions over the same rows (a row's sum and its sum of products) so read the rows
from memory once instead of twice.
"""
from __future__ import annotations

from collections.abc import Sequence

from ...ir.arith import same_expr
from ...ir.expr import BufferLoad, Range, Var
from ...ir.functor import pre_order_nodes
from ...ir.tir import BufferStore, For, PrimFunc, SeqStmt, Stmt, seq
from ..analysis import stmt_blocks
from ..base import schedule_error
from ..state import find_loop, replace
from .loop_transforms import outer_ranges, rebind

__all__ = ["merge_loops", "accessed_buffers"]


def accessed_buffers(stmt: Stmt) -> tuple[set[str], set[str]]:
    """(names of the buffers ``stmt`` reads, names of those it writes): the regions its
    blocks declare and every load and store under it (by name, which is conservative)."""
    reads, writes = set(), set()
    for realize in stmt_blocks(stmt):
        reads.update(r.buffer.name for r in realize.block.reads)
        writes.update(w.buffer.name for w in realize.block.writes)
    for node in pre_order_nodes(stmt):
        if isinstance(node, BufferLoad):
            reads.add(node.buffer.name)
        elif isinstance(node, BufferStore):
            writes.add(node.buffer.name)
    return reads, writes


def merge_loops(func: PrimFunc, loop_vars: Sequence[Var]) -> tuple[PrimFunc, Var]:
    """Merge sibling loops (statements of one sequence, same range and kind) into the first
    of them; returns (func, the merged loop's variable).

    :meth:`mlc.Schedule.merge` shows the IR before and after.
    """
    prim = "merge"
    if len(loop_vars) < 2:
        raise schedule_error(prim, f"merge needs two loops or more, got {len(loop_vars)}", func)
    if len({id(v) for v in loop_vars}) != len(loop_vars):
        raise schedule_error(prim, f"a loop is listed twice in {[v.name for v in loop_vars]}", func)
    locs = [find_loop(func, v, prim) for v in loop_vars]
    parent = locs[0].path[-1] if locs[0].path else None
    for loc in locs[1:]:
        if not loc.path or loc.path[-1] is not parent or not isinstance(parent, SeqStmt):
            raise schedule_error(
                prim, f"loops {locs[0].node.loop_var.name} and {loc.node.loop_var.name} are not "
                "statements of one sequence; merge takes sibling loops (move a block under a "
                "common loop first, with compute_at)", func, loc.node)
    items = list(parent.seq)
    position = {id(s): n for n, s in enumerate(items)}
    locs.sort(key=lambda loc: position[id(loc.node)])
    loops = [loc.node for loc in locs]
    first = loops[0]
    for f in loops[1:]:
        if not (same_expr(f.min, first.min) and same_expr(f.extent, first.extent)):
            raise schedule_error(
                prim, f"loop {f.loop_var.name} runs over [{f.min}, {f.min} + {f.extent}) and loop "
                f"{first.loop_var.name} over [{first.min}, {first.min} + {first.extent}); merged "
                "loops need one range (split them to match)", func, f)
        if f.kind != first.kind or f.annotations != first.annotations:
            raise schedule_error(
                prim, f"loop {f.loop_var.name} is {f.kind} and loop {first.loop_var.name} is "
                f"{first.kind} (or their annotations differ); merged loops need one kind", func, f)
    if first.kind == "thread_binding":
        raise schedule_error(prim, f"loop {first.loop_var.name} is bound to a thread; merge the "
                             "loops before binding them", func, first)
    _check_independent(func, items, loops, position)
    ranges = outer_ranges(locs[0])
    ranges[first.loop_var] = Range(first.min, first.extent)
    bodies = [first.body] + [rebind(f.body, {f.loop_var: first.loop_var}, ranges) for f in loops[1:]]
    merged = For(first.loop_var, first.min, first.extent, first.kind,
                 seq(*[s for b in bodies for s in (b.seq if isinstance(b, SeqStmt) else (b,))]),
                 first.thread_binding, first.annotations)
    start, end = position[id(first)], position[id(loops[-1])]
    merged_ids = {id(f) for f in loops}
    between = [s for s in items[start:end + 1] if id(s) not in merged_ids]
    new_seq = seq(*items[:start], merged, *between, *items[end + 1:])
    return replace(func, parent, new_seq), first.loop_var


def _check_independent(func: PrimFunc, items: list[Stmt], loops: list[For], position: dict) -> None:
    """Refuse when a later loop's iterations, run earlier by the merge, may see or change
    what an earlier loop or a statement between them accesses."""
    reads, writes = set(), set()
    prev = position[id(loops[0])]
    for f in loops:
        here = position[id(f)]
        for stmt in items[prev:here]:
            r, w = accessed_buffers(stmt)
            reads |= r
            writes |= w
        if f is not loops[0]:
            r, w = accessed_buffers(f)
            seen = sorted(r & writes)
            changed = sorted(w & (reads | writes))
            if seen or changed:
                buf = (seen or changed)[0]
                how = "reads" if seen else "writes"
                raise schedule_error(
                    "merge", f"loop {f.loop_var.name} {how} buffer {buf}, which an earlier loop or "
                    f"a statement between the loops {'writes' if seen else 'accesses'}; merged, "
                    "its iterations would run before those accesses, so it cannot move up to "
                    f"loop {loops[0].loop_var.name}", func, f)
        prev = here
