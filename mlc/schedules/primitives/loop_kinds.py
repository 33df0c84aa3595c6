"""Changing how a loop runs: parallel, vectorized, unrolled or bound to a GPU thread axis.

:func:`set_loop_kind` is the pure function behind ``parallel``, ``vectorize``,
``unroll`` and ``bind``. It refuses, before building anything, a loop that is
already of another kind, and for every kind whose iterations run at once
(all but ``unrolled``) a loop driving a reduction iterator or whose
iterations touch each other's data (see :mod:`mlc.ir.analysis.dependence`).

:meth:`mlc.Schedule.parallel` and its siblings show the IR before and after.
"""
from __future__ import annotations

from dataclasses import replace as dc_replace

from ...ir.analysis import blocks_under, iteration_conflict, reduction_binding, stmt_children
from ...ir.arith import same_expr, uses_any
from ...ir.expr import Var
from ...ir.tir import For, PrimFunc
from ..base import schedule_error
from ..state import all_blocks, find_loop, replace

__all__ = ["THREAD_AXES", "set_loop_kind"]

THREAD_AXES = tuple(f"{scope}.{axis}" for scope in ("blockIdx", "threadIdx", "vthread")
                    for axis in "xyz")

_PRIMITIVE = {"parallel": "parallel", "vectorized": "vectorize", "unrolled": "unroll",
              "thread_binding": "bind"}
# GPU memory whose sharing between threads follows thread semantics, not loop order.
_GPU_SCOPES = ("shared", "local", "wmma.matrix_a", "wmma.matrix_b", "wmma.accumulator")


def _describe(loop: For) -> str:
    if loop.kind == "thread_binding":
        return f"bound to {loop.thread_binding}"
    return loop.kind


def set_loop_kind(func: PrimFunc, loop_var: Var, kind: str, thread: str | None = None) -> PrimFunc:
    """``func`` with the loop of ``loop_var`` turned into a ``kind`` loop (checked)."""
    primitive = _PRIMITIVE[kind]
    loop: For = find_loop(func, loop_var, primitive).node
    name = loop_var.name
    if kind == "thread_binding":
        _check_thread_axis(func, loop, thread)
        _check_private(func, loop, thread)
    if loop.kind != "serial" and (loop.kind, loop.thread_binding) != (kind, thread):
        raise schedule_error(primitive, f"loop {name} is already {_describe(loop)}; {primitive} "
                             "needs a serial loop", func, loop)
    if kind != "unrolled":
        _check_independent(func, loop, primitive, kind, thread)
    return replace(func, loop, dc_replace(loop, kind=kind, thread_binding=thread))


def _check_thread_axis(func: PrimFunc, loop: For, thread) -> None:
    if thread not in THREAD_AXES:
        raise schedule_error("bind", f"unknown thread axis {thread!r}; expected one of "
                             f"{', '.join(THREAD_AXES)}", func, loop)
    loc = find_loop(func, loop.loop_var, "bind")
    nested = [f for f in loc.path if isinstance(f, For)] + list(_loops_under(loop))
    for other in nested:
        if other.kind != "thread_binding" or other.thread_binding != thread:
            continue
        if not same_expr(other.extent, loop.extent):
            raise schedule_error(
                "bind", f"loop {other.loop_var.name}, nested with loop {loop.loop_var.name}, is "
                f"bound to {thread} with extent {other.extent!r}; loops nested in one another "
                f"may share a thread axis only with the same extent (here {loop.extent!r})",
                func, other)
        outer, inner = (other, loop) if any(f is other for f in loc.path) else (loop, other)
        _check_same_index(func, outer, inner, thread)


def _check_private(func: PrimFunc, loop: For, thread: str) -> None:
    """Each GPU block has its own shared memory and each thread its own local memory: a buffer
    of such a scope written under a loop bound to a block (thread) axis must be read under
    that loop too, or the reader would see none of the writes."""
    scopes = ("shared", "local") if thread.startswith("blockIdx") else ("local",)
    under = {id(loc.node) for loc in all_blocks(func) if any(n is loop for n in loc.path)}
    written = {id(w.buffer) for loc in all_blocks(func) if id(loc.node) in under
               for w in loc.node.block.writes if w.buffer.scope in scopes}
    for loc in all_blocks(func):
        if id(loc.node) in under:
            continue
        for r in loc.node.block.reads:
            if id(r.buffer) in written:
                owner = "blocks" if thread.startswith("blockIdx") else "threads"
                raise schedule_error(
                    "bind", f"loop {loop.loop_var.name} writes the {r.buffer.scope} buffer {r.buffer.name}, "
                    f"which block {loc.node.block.name_hint!r} reads outside it; bound to {thread}, its "
                    f"iterations would be {owner}, each with its own {r.buffer.scope} memory, and the reader "
                    "would see none of their writes — bind a loop around both", func, loop)


def _check_same_index(func: PrimFunc, outer: For, inner: For, thread: str) -> None:
    """Nested loops of one thread axis are one index (TVM's meaning): the inner loop runs
    only where it equals the outer. That keeps every iteration only when the blocks under
    the inner loop do not depend on the outer one (a cooperative fetch under the compute's
    threadIdx loop: every thread fetched everything, now each fetches its share)."""
    for realize in blocks_under(inner.body):
        if any(uses_any(v, [outer.loop_var]) for v in (*realize.iter_values, realize.predicate)):
            raise schedule_error(
                "bind", f"loops {outer.loop_var.name} and {inner.loop_var.name} would both be {thread}, "
                f"one index on a GPU, so the inner one would run only where it equals the outer, and "
                f"block {realize.block.name_hint!r}, which depends on {outer.loop_var.name}, would skip "
                "iterations; bind one of them to another axis, or fuse them first", func, inner)


def _loops_under(loop: For):
    stack = [loop.body]
    while stack:
        node = stack.pop()
        if isinstance(node, For):
            yield node
        stack.extend(stmt_children(node))


def _check_cross_thread(func: PrimFunc, loop: For, block: str) -> None:
    """A threadIdx loop driving a reduction must drive only reductions: its threads then meet
    on the same output elements (as in TVM, where such a loop is a reduction loop)."""
    for realize in blocks_under(loop.body):
        for iv, value in zip(realize.block.iter_vars, realize.iter_values):
            if iv.iter_type == "spatial" and uses_any(value, [loop.loop_var]):
                raise schedule_error(
                    "bind", f"loop {loop.loop_var.name} drives a reduce iterator of block {block!r} and "
                    f"the spatial iterator {iv.var.name} of block {realize.block.name_hint!r}; a loop "
                    "reducing across threads must drive reduce iterators only — split the fused loop "
                    "apart, or bind a loop of the reduction alone", func, loop)


def _check_independent(func: PrimFunc, loop: For, primitive: str, kind: str,
                       thread: str | None = None) -> None:
    name = loop.loop_var.name
    found = reduction_binding(loop)
    if (found is not None and found[1].iter_type == "reduce" and kind == "thread_binding"
            and thread.startswith("threadIdx")):
        _check_cross_thread(func, loop, found[0].block.name_hint)
        return  # a cross-thread reduction (TVM's semantics), lowered for the GPU by a TIR pass
    if found is not None:
        realize, iv = found
        block = realize.block.name_hint
        if iv.iter_type == "opaque":
            why = (f"loop {name} drives the opaque iterator {iv.var.name} of block {block!r}, whose "
                   f"iterations must run one after another in order; they cannot run at once")
        elif kind == "thread_binding":
            why = (f"loop {name} drives the {iv.iter_type} iterator {iv.var.name} of block "
                   f"{block!r}; only threadIdx loops may reduce across threads (the threads of "
                   "a block combine their partial values) — bind it to threadIdx, bind a spatial "
                   "loop, or rfactor the reduction first")
        else:
            why = (f"loop {name} drives the {iv.iter_type} iterator {iv.var.name} of block "
                   f"{block!r}; its iterations accumulate into the same elements, so they cannot "
                   f"run at once — {primitive} a spatial loop instead")
        raise schedule_error(primitive, why, func, loop)
    skip = _GPU_SCOPES if kind == "thread_binding" else ()
    conflict = iteration_conflict(loop, skip)
    if conflict is not None:
        buf, access = conflict
        who = f" by block {access.realize.block.name_hint!r}" if access.realize is not None else ""
        raise schedule_error(
            primitive, f"iterations of loop {name} may depend on each other: buffer {buf.name} is "
            f"written under the loop and accessed{who} at elements another iteration may write "
            f"(no dimension of {buf.name} is indexed by {name} one-to-one in every access)",
            func, loop)
