"""Which functions the default rules may schedule: those nobody has scheduled yet.

A function is left alone when it carries the ``"mlc.scheduled"`` attribute
(set by :func:`mlc.build` after a user schedule or the default rules ran), or
when it is no longer in the form :func:`mlc.te.create_prim_func` gives: a
sequence of perfect serial loop nests, one block each, whose iterators are
bound one to one, in order, to the loops above them and which write their
outputs at exactly their spatial iterators. Any split, fuse, reorder,
compute_at, loop kind, predicate, cache into another scope or layout change
breaks that form, so a hand-scheduled ``sch.mod`` passed to ``mlc.build``
is built as written.

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((8, 8), "float32", "A")
>>> B = te.compute((8, 8), lambda i, j: A[i, j] + 1, "B")
>>> mod = mlc.IRModule({"main": te.create_prim_func([A, B])})
>>> is_unscheduled(mod["main"])
True
>>> sch = mlc.Schedule(mod)
>>> _ = sch.split(sch.get_loops(sch.get_block("B"))[1], [None, 4])
>>> is_unscheduled(sch.mod["main"])
False
"""
from __future__ import annotations

from ...ir.analysis.census import contains
from ...ir.expr import IntImm
from ...ir.tir import BlockRealize, For, PrimFunc
from ..edit import body_items

__all__ = ["SCHEDULED_ATTR", "is_unscheduled"]

#: Function attribute marking a function as scheduled (by a user or the default rules).
SCHEDULED_ATTR = "mlc.scheduled"


def is_unscheduled(func: PrimFunc) -> bool:
    """True when ``func`` is in te's canonical, unscheduled form (see the module docstring)."""
    if func.attr(SCHEDULED_ATTR):
        return False
    root = func.body
    if not isinstance(root, BlockRealize) or func.root_block is None:
        return False
    if any(b.scope != "global" or b.strides for b in func.root_block.alloc_buffers):
        return False
    return all(_canonical_nest(item) for item in body_items(root.block.body))


def _canonical_nest(stmt) -> bool:
    loops = []
    while isinstance(stmt, For):
        if stmt.kind != "serial" or stmt.annotations or not _is_zero(stmt.min):
            return False
        loops.append(stmt)
        stmt = stmt.body
    if not isinstance(stmt, BlockRealize):
        return False
    block = stmt.block
    if not (isinstance(stmt.predicate, IntImm) and stmt.predicate.value):
        return False
    if block.alloc_buffers or block.annotations or _has_nested_block(block):
        return False
    if len(stmt.iter_values) != len(loops):
        return False
    if any(v is not f.loop_var for v, f in zip(stmt.iter_values, loops)):
        return False
    spatial = [iv.var for iv in block.iter_vars if iv.iter_type == "spatial"]
    for region in block.writes:
        if len(region.region) != len(spatial):
            return False
        for r, v in zip(region.region, spatial):
            if r.min is not v or not _is_one(r.extent):
                return False
    return True


def _has_nested_block(block) -> bool:
    return contains(block.body, BlockRealize)


def _is_zero(e) -> bool:
    return isinstance(e, IntImm) and e.value == 0


def _is_one(e) -> bool:
    return isinstance(e, IntImm) and e.value == 1


