"""The pure transformation behind ``merge``: sibling loops of one range become one loop.

Loops that are statements of one sequence, with the same range, run as one loop whose
iteration ``k`` runs iteration ``k`` of each loop's body, in their order::

    for k in range(16):                  for k in range(16):
        S[0] += A[k]           merge          S[0] += A[k]
    T[0] = S[0] * 2           ------>         Q[0] += A[k] * A[k]
    for k in range(16):                  T[0] = S[0] * 2
        Q[0] += A[k] * A[k]

Statements between the loops move after the merged loop, or before it where a later loop
needs them (a row statistic that the next loop reads). A later loop's iterations then run
before an earlier loop's later iterations and before the statements left after, so the
request is refused unless those are independent: a later loop reads no buffer that an
earlier loop or a statement left after writes, and writes none that they access; and a
statement moved before needs nothing of the loops and statements it then precedes.
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
    before, after = _placed_between(func, items, loops, position)
    ranges = outer_ranges(locs[0])
    ranges[first.loop_var] = Range(first.min, first.extent)
    bodies = [first.body] + [rebind(f.body, {f.loop_var: first.loop_var}, ranges) for f in loops[1:]]
    merged = For(first.loop_var, first.min, first.extent, first.kind,
                 seq(*[s for b in bodies for s in (b.seq if isinstance(b, SeqStmt) else (b,))]),
                 first.thread_binding, first.annotations)
    start, end = position[id(first)], position[id(loops[-1])]
    new_seq = seq(*items[:start], *before, merged, *after, *items[end + 1:])
    return replace(func, parent, new_seq), first.loop_var


def _conflict(a: tuple[set, set], b: tuple[set, set]) -> str | None:
    """A buffer that one of two (reads, writes) access sets writes and the other accesses."""
    found = sorted((a[0] & b[1]) | (a[1] & (b[0] | b[1])))
    return found[0] if found else None


def _placed_between(func: PrimFunc, items: list[Stmt], loops: list[For], position: dict):
    """(the statements between the loops that move before the merged loop, those after it).

    The merged loop runs a later loop's iterations before an earlier loop's later ones and
    before the statements that were between them. A statement between that a later loop
    needs (it writes what the loop reads, or accesses what it writes) moves before the merged
    loop instead, which it may only where it needs nothing of the loops and statements it
    then precedes. Anything else is refused."""
    start, end = position[id(loops[0])], position[id(loops[-1])]
    merged_ids = {id(f) for f in loops}
    access = {id(s): accessed_buffers(s) for s in items[start:end + 1]}
    before, after = [], []
    passed = (set(), set())  # what runs, once merged, after the statements and loops still to come
    for n in range(start, end + 1):
        stmt = items[n]
        if id(stmt) in merged_ids:
            if stmt is not loops[0]:
                buf = _conflict(access[id(stmt)], passed)
                if buf is not None:
                    how = "reads" if buf in access[id(stmt)][0] and buf in passed[1] else "writes"
                    raise schedule_error(
                        "merge", f"loop {stmt.loop_var.name} {how} buffer {buf}, which an earlier loop or a "
                        f"statement between the loops {'writes' if how == 'reads' else 'accesses'}; merged, "
                        "its iterations would run before those accesses, so it cannot move up to loop "
                        f"{loops[0].loop_var.name}", func, stmt)
        else:
            later = [items[k] for k in range(n + 1, end + 1) if id(items[k]) in merged_ids]
            if any(_conflict(access[id(f)], access[id(stmt)]) for f in later):
                buf = _conflict(access[id(stmt)], passed)
                if buf is not None:
                    raise schedule_error(
                        "merge", f"a later loop needs a statement between the loops, which accesses buffer "
                        f"{buf} that an earlier loop or statement also accesses (one of them writing it), "
                        "so it can move neither before nor after the merged loop", func, stmt)
                before.append(stmt)
                continue
            after.append(stmt)
        passed[0].update(access[id(stmt)][0])
        passed[1].update(access[id(stmt)][1])
    return before, after
