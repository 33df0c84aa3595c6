"""The default CPU schedule: an explicit list of rules, each a function of one block.

:func:`schedule_cpu` runs :data:`FUNCTION_RULES` once, in order, then
visits the blocks in program order and applies the first of
:data:`BLOCK_RULES` that takes the block (blocks a function rule scheduled
are left alone):

1. ``inline_injective`` — inline elementwise/injective intermediate blocks
   into their consumers (only data movement into reductions, so nothing
   expensive is recomputed per reduction step; into a stencil only plain
   arithmetic that costs little to recompute per element it reads; a
   consumer loading one element several times computes it once);
2. ``schedule_rows`` (:mod:`.rows`) — a kernel of row reductions and their
   elementwise neighbours (softmax, layer_norm) runs one row at a time:
   every stage under the row loop, reductions with vector accumulators,
   rows in parallel;

then per block:

0. ``schedule_columns`` (:mod:`.columns`) — a reduction down the columns of a
   tall, large matrix (``a.sum(axis=0)``, ``x @ A``): the rows cut into parts
   summed in parallel (rfactor), each row read whole, then the parts added (on
   one thread, a sum's rows swept in order into the output);
1. ``schedule_matmul`` (:mod:`.matmul`) — register tiling of
   ``C[...] += A[...] * B[...]`` with B packed into panels, the reduction
   between the outer tiles and the register tile, a local accumulator,
   vectorized columns, unrolled rows, parallel outer tiles and the epilogue
   fused;
2. ``schedule_row_reduction`` (:mod:`.rows`) — a reduction along a
   contiguous axis: vector accumulators (rfactor), parallel outer loops;
3. ``schedule_reduction`` — other reductions: move the reduction outside a
   contiguous spatial loop so that loop can be vectorized, parallelize the
   outer spatial loops;
4. ``schedule_spatial`` — everything else: vectorize the innermost
   contiguous loop (split by two vector widths, four where the block computes
   float32 tanh, sigmoid, erf or expm1: :data:`.steps.ROUTINE_VECTORS`; a predicate guards ragged
   sizes), parallelize fused outer loops.

A rule that does not apply returns None; one whose primitive refuses is
undone (:func:`.steps.attempt`). Either way the function stays correct: every
change is made by a checked schedule primitive.
"""
from __future__ import annotations

from ...ir.expr import Binary, BufferLoad, Call, Cast, IntImm, Not, Select
from ...ir.functor import pre_order_nodes
from ...ir.arith import same_expr
from ..analysis import is_param
from ..state import all_blocks
from .columns import schedule_columns
from .conv import pads_conv, schedule_conv
from .matmul import schedule_matmul
from .patterns import contiguous_along, is_canonical, is_data_movement, is_injective, view, view_by_name
from .rows import schedule_row_parts, schedule_row_reduction, schedule_rows
from .steps import ROUTINE_VECTORS, CpuInfo, attempt, parallelize_outer, vectorize_innermost

__all__ = ["schedule_cpu", "FUNCTION_RULES", "BLOCK_RULES", "inline_injective", "STENCIL_RECOMPUTE_OPS",
           "schedule_reduction", "schedule_spatial"]


def _writes_nothing(sch, func_name: str, name: str) -> bool:
    """The block's spatial domain is empty (an output with a zero-size dimension)."""
    blk = view_by_name(sch.mod[func_name], name).block
    return any(iv.iter_type == "spatial" and isinstance(iv.dom.extent, IntImm) and iv.dom.extent.value == 0
               for iv in blk.iter_vars)


def _block_names(sch, func_name: str) -> list[str]:
    return [loc.node.block.name_hint for loc in all_blocks(sch.mod[func_name])]


# ------------------------------------------------------------------ inlining

def _readers(func, buffer) -> list:
    return [loc.node for loc in all_blocks(func)
            if any(r.buffer is buffer for r in loc.node.block.reads)]


#: A stencil reading an inlined producer at k different elements computes it k times
#: per point, where a stage of its own costs a store and a load of every element (and a
#: second loop nest). A producer of plain arithmetic (no math calls) is inlined into a
#: stencil while the extra work is at most this many operations per point.
STENCIL_RECOMPUTE_OPS = 16


def _arith_ops(value) -> int | None:
    """The operations computing ``value``; None when it calls a (costly) math function."""
    ops = 0
    for n in pre_order_nodes(value):
        if isinstance(n, Call):
            return None
        if isinstance(n, (Binary, Cast, Not, Select)):
            ops += 1
    return ops


def _stencil_pays(value, loads) -> bool:
    """Whether loading a producer of ``value`` at each of ``loads`` (a reader's loads)
    may recompute it per load: one element loaded (LLVM computes it once), or cheap
    arithmetic (:data:`STENCIL_RECOMPUTE_OPS`)."""
    points = []
    for n in loads:
        if not any(same_expr(tuple(n.indices), p) for p in points):
            points.append(tuple(n.indices))
    if len(points) <= 1:
        return True
    ops = _arith_ops(value)
    return ops is not None and ops * (len(points) - 1) <= STENCIL_RECOMPUTE_OPS


def _inline_pays(func, name: str) -> bool:
    """Inline ``name`` only where it cannot multiply expensive work: not into a
    reduction, and into a reader that loads several of its elements (a stencil) only
    when it is cheap arithmetic (:func:`_stencil_pays`)."""
    v = view_by_name(func, name)
    if not is_injective(v) or len(v.block.writes) != 1:
        return False
    out = v.block.writes[0].buffer
    if is_param(func, out):
        return False
    if is_data_movement(v.block.body.value):
        return not pads_conv(func, v)
    for reader in _readers(func, out):
        if reader.block.is_reduction:
            return False
        loads = [n for n in pre_order_nodes(reader.block.body)
                 if isinstance(n, BufferLoad) and n.buffer is out]
        if not _stencil_pays(v.block.body.value, loads):
            return False
    return True


def inline_injective(sch, func_name: str, cpu: CpuInfo) -> set[str]:
    """compute_inline every intermediate elementwise/injective block where it pays."""
    inlined = set()
    for name in _block_names(sch, func_name):
        if not _inline_pays(sch.mod[func_name], name):
            continue
        if attempt(sch, lambda s: s.compute_inline(s.get_block(name, func_name)) or True):
            inlined.add(name)
    return inlined


# --------------------------------------------------------------- reductions

def schedule_reduction(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """A reduction that is not a matmul: vectorize a contiguous spatial loop moved
    inside the reduction loops when there is one, parallelize outer spatial loops."""
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    if not v.block.is_reduction:
        return None
    kinds = [iv.iter_type for iv in v.block.iter_vars]
    loops = sch.get_loops(block)
    if not is_canonical(v):
        return None
    spatial = [n for n, kind in enumerate(kinds) if kind == "spatial"]
    if spatial and spatial[-1] < len(kinds) - 1:
        last = v.block.iter_vars[spatial[-1]].var
        write_last = all(w.region and w.region[-1].min is last for w in v.block.writes)
        if write_last and contiguous_along(last, v.block.reads):
            order = [loops[n] for n in spatial[:-1]] + [loops[n] for n in range(len(kinds))
                                                        if kinds[n] != "spatial"] + [loops[spatial[-1]]]
            if attempt(sch, lambda s: s.reorder(*order) or True):
                attempt(sch, vectorize_innermost, block, cpu.lanes(v.block.writes[0].buffer.dtype))
    attempt(sch, parallelize_outer, block, cpu)
    return {name}


# ------------------------------------------------------------------ spatial

def schedule_spatial(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """A spatial block: vectorize the innermost loop where it writes contiguously,
    parallelize the fused outer loops. A stencil along that loop (``x[i] + x[i + 1] +
    x[i + 2]``) loads each shifted point as a vector of its own, most of them across two
    cache lines: in order, with the stores in order (:func:`~mlc.backends.llvm.vectorize.store_pieces`),
    that streams as fast as LLVM's vectorizer splicing one load per vector into the others."""
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    if v.block.is_reduction:
        return None
    if v.loops and v.block.writes:
        inner = v.loops[-1].loop_var
        binding = [iv.var for iv, val in zip(v.block.iter_vars, v.realize.iter_values) if val is inner]
        if len(binding) == 1 and all(w.region and w.region[-1].min is binding[0] for w in v.block.writes):
            attempt(sch, vectorize_innermost, block, cpu.lanes(v.block.writes[0].buffer.dtype), False,
                    _vectors(v.block.body))
    attempt(sch, parallelize_outer, block, cpu)
    return {name}


def _vectors(body) -> int:
    """Vectors per step of a spatial loop computing ``body``: two, or more where it calls a
    float math routine of :data:`.steps.ROUTINE_VECTORS`."""
    return max([ROUTINE_VECTORS.get((e.op, e.dtype), 2) for e in pre_order_nodes(body) if isinstance(e, Call)],
               default=2)


#: Rules run once per function, in order; each returns the names of the blocks it
#: scheduled (which the block rules then leave alone), or None when it did not apply.
FUNCTION_RULES = (inline_injective, schedule_row_parts, schedule_rows)
#: Rules tried on each block in order; the first that applies schedules it.
BLOCK_RULES = (schedule_columns, schedule_matmul, schedule_conv, schedule_row_reduction, schedule_reduction,
               schedule_spatial)


def schedule_cpu(sch, func_name: str, cpu: CpuInfo) -> None:
    """Apply the CPU rules to function ``func_name`` of ``sch`` (in place)."""
    done: set[str] = set()
    for rule in FUNCTION_RULES:
        done |= attempt(sch, rule, func_name, cpu) or set()
    for name in _block_names(sch, func_name):
        if name in done or name not in _block_names(sch, func_name):
            continue
        if _writes_nothing(sch, func_name, name):
            continue  # an empty output: nothing to tile, its loops run zero times
        for rule in BLOCK_RULES:
            handled = attempt(sch, rule, func_name, name, cpu)
            if handled is not None:
                done |= handled
                break
