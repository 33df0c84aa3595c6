"""Sibling stages of a row in one pass over it: the row rules' loop merging.

Under a row loop, each stage of the row rules (:mod:`.rows`) is a loop over the row's
elements: a reduction's vector accumulators (``for k_0 in range(16)``: 64 elements a step)
or a vectorized spatial stage. Stages that do not depend on one another (the sums of
``ct * gamma`` and of ``ct * gamma * (x - mean)`` in layer_norm's gradient, and the squares
of ``x - mean`` beside them) would each read the row again; here they become one loop
(:meth:`~mlc.Schedule.merge`) whose step reads the row's elements once for all of them::

    for i in T.parallel(4096):
        ... sum of the row, its mean ...
        for k_0 in range(16):                    # one pass: three reductions
            for k_1_0 in T.unroll(4):
                for k_1_1 in T.vectorized(16): g_rf[...] += ct[i, k] * gamma[k]
            for ... : gd_rf[...] += ct[i, k] * gamma[k] * (x[i, k] - mean[i])
            for ... : sq_rf[...] += (x[i, k] - mean[i]) * (x[i, k] - mean[i])
        ... combine the accumulators, rstd ...
        for j_0 in range(16):                    # one pass: dx and the column sums' terms
            ...

A pass joins the earlier pass that reads the most of the same buffers (the sum of
``ct * gamma`` joins the pass of ``ct * gamma * (x - mean)``, which reads ct and gamma too,
rather than the sum of ``x``): each element of those buffers is then loaded, and
``ct * gamma`` computed, once for both, the sum of ``x`` alone reading only ``x``.
Where :data:`ASK_AHEAD` is on, the first pass is annotated :data:`~mlc.passes.tir.row_prefetch.ROW_PREFETCH`: it asks the
cache for the lines of the buffers only later passes read (ct above), which then arrive while
it streams x; the last pass :data:`~mlc.passes.tir.row_prefetch.ROW_PREFETCH_NEXT`
(:func:`mark_last_pass`): it asks for the next row's lines of what it reads while the first
passes' work keeps the row in the cache, so that the next row's first pass finds them there.
A spatial stage is split first so that its outer loop runs the steps the reductions' do
(:func:`align_to_steps`). Only the passes over the row are merged (not the loops combining a
reduction's accumulators), and :meth:`~mlc.Schedule.merge` refuses a stage that
depends on one before it (dx needs rstd, which needs the squares' sum), so those stay apart.
"""
from __future__ import annotations

from collections import Counter

from ...ir.expr import IntImm
from ...ir.functor import pre_order_nodes
from ...ir.tir import For
from ..analysis import stmt_blocks
from ..edit import body_items
from ...passes.tir.row_prefetch import ROW_PREFETCH, ROW_PREFETCH_NEXT
from ..primitives.loop_merge import accessed_buffers
from .patterns import view
from .steps import attempt

__all__ = ["reduction_steps", "align_to_steps", "merge_row_passes", "mark_last_pass", "ASK_AHEAD",
           "ASK_AHEAD_PARTS"]

#: Whether the rules mark the passes that ask the cache ahead (ROW_PREFETCH, ROW_PREFETCH_NEXT):
#: off, as measured on layer_norm (benchmarks/results/decisions.md): its forward gained nothing
#: beyond noise and its gradient lost (the prefetched lines, then asked into the L1, evicted the
#: row the later passes read). A schedule can still annotate a loop by hand; prefetch_row_streams
#: then asks for its lines.
ASK_AHEAD = False
#: Whether the row-parts rule (:func:`~.rows.schedule_row_parts`: layer_norm's gradient) marks
#: its last pass ROW_PREFETCH_NEXT whatever ASK_AHEAD says: the pass over a group of rows that
#: writes dx asks for the next group's lines of x and ct into the L2 and for the lines of dx it
#: is about to write (benchmarks/results/decisions.md, "The gradient's last pass asking ahead").
ASK_AHEAD_PARTS = True


def reduction_steps(sch, func_name: str, rfs) -> int | None:
    """The most common constant extent of the outer (reduction) loops of the rfactor blocks
    ``rfs`` once their accumulators are innermost: the steps a pass over the row takes."""
    extents = Counter()
    for name in rfs:
        loops = view(sch, sch.get_block(name, func_name)).loops
        if len(loops) >= 2 and isinstance(loops[-2].extent, IntImm):
            extents[loops[-2].extent.value] += 1
    return extents.most_common(1)[0][0] if extents else None


def align_to_steps(sch, func_name: str, name: str, row_loop, steps: int, lanes: int) -> bool | None:
    """Split the innermost loop of spatial block ``name``, below ``row_loop``, into ``steps``
    outer iterations where its constant extent is ``steps`` times a multiple of ``lanes``
    (the inner part is then vectorized as before); None where it is not."""
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    row_var = sch._loop(row_loop, "default schedule")[2].node.loop_var
    if not v.loops or v.loops[-1].kind != "serial" or not isinstance(v.loops[-1].extent, IntImm) \
            or v.loops[-1].loop_var is row_var or all(f.loop_var is not row_var for f in v.loops):
        return None
    extent = v.loops[-1].extent.value
    inner = v.loops[-1].loop_var
    if any(iv.iter_type != "spatial" and any(n is inner for n in pre_order_nodes(value))
           for iv, value in zip(v.block.iter_vars, v.realize.iter_values)):
        return None
    if extent % steps or (extent // steps) % lanes or extent == steps:
        return None
    sch.split(sch.get_loops(block)[-1], [steps, None])
    return True


def merge_row_passes(sch, func_name: str, row_loop, steps: int, stages, registers: dict[str, int],
                     budget: int) -> int:
    """Merge the loops of ``steps`` iterations directly under ``row_loop`` that hold one of the
    blocks ``stages`` (a pass over the row: a reduction's first accumulators or a spatial stage,
    not the combining of accumulators), each into the group before it that
    :meth:`~mlc.Schedule.merge` allows, whose vector accumulators (``registers`` of a block, 0
    where absent) stay within ``budget`` registers and which reads the most of the buffers it
    reads (the earliest of those); returns how many loops merged. Where more than one pass is
    left, the first is annotated :data:`ROW_PREFETCH`."""
    fname, func, loc = sch._loop(row_loop, "default schedule")
    stages = set(stages)
    candidates = []  # (loop var, registers, buffers read)
    for item in body_items(loc.node.body):
        names = [r.block.name_hint for r in stmt_blocks(item)] if isinstance(item, For) else []
        if names and item.kind == "serial" and isinstance(item.extent, IntImm) and item.extent.value == steps \
                and any(n in stages for n in names):
            reads, writes = accessed_buffers(item)
            candidates.append((item.loop_var, sum(registers.get(n, 0) for n in names), reads - writes))
    merged, heads = 0, []  # [handle, registers of its group, buffers it reads]
    for var, need, reads in candidates:
        rv = sch._loop_rv(fname, var)
        for head in sorted(heads, key=lambda h: -len(reads & h[2])):  # (stable: the earliest first)
            if head[1] + need <= budget and attempt(sch, lambda s: s.merge(head[0], rv)) is not None:
                head[1] += need
                head[2] |= reads
                merged += 1
                break
        else:
            heads.append([rv, need, set(reads)])
    if ASK_AHEAD and len(heads) > 1:  # the first pass asks for what only the later ones read (prefetch_row_streams)
        sch.annotate(heads[0][0], ROW_PREFETCH, True)
    return merged


def mark_last_pass(sch, func_name: str, name: str, outer, ask: bool | None = None) -> bool:
    """Annotate the loop directly under ``outer`` (a row's loop, or a group of rows') that holds
    block ``name`` (the row's output: its last pass) :data:`ROW_PREFETCH_NEXT`, where it is a
    serial loop of constant extent; whether it was (never where ``ask`` is false; None:
    :data:`ASK_AHEAD`)."""
    if not (ASK_AHEAD if ask is None else ask):
        return False
    fname, _, loc = sch._loop(outer, "default schedule")
    for item in body_items(loc.node.body):
        if isinstance(item, For) and item.kind == "serial" and isinstance(item.extent, IntImm) \
                and any(r.block.name_hint == name for r in stmt_blocks(item)):
            sch.annotate(sch._loop_rv(fname, item.loop_var), ROW_PREFETCH_NEXT, True)
            return True
    return False
