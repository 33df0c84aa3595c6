"""The default CPU schedule of convolution-like reductions: register tiles of output
channels x output columns.

For ``Y[n, co, oh, ow] += X(n, ci, oh, ow, kh, kw) * W[co, ci, kh, kw]`` (``X`` any
expression of the input reading along ``ow``, padding selects included; any number
of spatial and reduce iterators) :func:`schedule_conv` builds::

    for n, co_0, oh in T.parallel(...):          # outer tiles, fused, on threads
        for ow_0 in range(OW / OR):
            Y_local[CR x OR] = 0
            for ci, kh, kw in T.grid(...):        # the reduction, between the tiles
                for co_1 in T.unroll(CR):         # register tile: CR x OR accumulators
                    for ow_1 in T.vectorized(OR):
                        Y_local[co_1, ow_1] += X(...) * W[co, ci, kh, kw]
            Y[tile] = Y_local[tile]                # write back (epilogue fused)

``W`` is the factor of the product that does not depend on ``ow`` and is read at
plain iterators; ``co`` is a spatial iterator that indexes ``W`` only. ``OR`` is one
or two vectors, ``CR`` as many channels as make eight vector accumulators; sizes the
tiles do not divide get the split's predicate. Every change is a checked schedule
primitive, so any block the rule takes stays correct.
"""
from __future__ import annotations

import math

from ...ir.expr import Binary, BufferLoad, Cast, IntImm, Var
from ...ir.functor import pre_order_nodes
from ...ir.tir import BufferStore
from .patterns import match_matmul, view
from .steps import (CpuInfo, finish_tile, fuse_epilogue, parallel_tiles,
                    vector_split)

__all__ = ["schedule_conv", "match_conv", "ACCUMULATORS"]

#: Vector registers a register tile accumulates in.
ACCUMULATORS = 8


def _strip_cast(e):
    return e.value if isinstance(e, Cast) else e


def _uses(expr, var: Var) -> bool:
    return any(n is var for n in pre_order_nodes(expr))


def match_conv(v) -> tuple[int, int] | None:
    """``(co, ow)``: positions of the output-channel and output-column iterators of a
    convolution-like block (see the module docstring), or None."""
    blk = v.block
    body = blk.body
    if not (blk.is_reduction and isinstance(body, BufferStore) and isinstance(blk.init, BufferStore)):
        return None
    if len(blk.writes) != 1 or match_matmul(v) is not None:
        return None
    ids = {id(iv.var): n for n, iv in enumerate(blk.iter_vars)}
    kinds = [iv.iter_type for iv in blk.iter_vars]
    if not body.indices or not all(isinstance(i, Var) and id(i) in ids for i in body.indices):
        return None
    out = [ids[id(i)] for i in body.indices]
    if any(kinds[n] != "spatial" for n in out) or sorted(out) != [n for n, k in enumerate(kinds) if k == "spatial"]:
        return None
    value = body.value
    if not (isinstance(value, Binary) and value.op == "add"):
        return None
    acc, prod = value.a, _strip_cast(value.b)
    if not (isinstance(acc, BufferLoad) and acc.buffer is body.buffer
            and all(a is b for a, b in zip(acc.indices, body.indices))):
        return None
    if not (isinstance(prod, Binary) and prod.op == "mul"):
        return None
    ow = out[-1]
    ow_var = blk.iter_vars[ow].var
    for x, w in ((prod.a, prod.b), (prod.b, prod.a)):
        w = _strip_cast(w)
        if not isinstance(w, BufferLoad) or _uses(w, ow_var) or not _uses(x, ow_var):
            continue
        if not all(isinstance(i, Var) and id(i) in ids for i in w.indices):
            continue
        w_iters = {ids[id(i)] for i in w.indices}
        if not any(kinds[n] == "reduce" for n in w_iters):
            continue
        channels = [n for n in out[:-1] if n in w_iters and not _uses(x, blk.iter_vars[n].var)]
        if channels:
            return channels[-1], ow
    return None


def schedule_conv(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """Register-tile a convolution-like block (see the module docstring); None if it is not one."""
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    if len(v.loops) != len(v.block.iter_vars):
        return None
    if any(val is not f.loop_var for val, f in zip(v.realize.iter_values, v.loops)):
        return None
    if not all(isinstance(iv.dom.extent, IntImm) for iv in v.block.iter_vars):
        return None
    found = match_conv(v)
    if found is None:
        return None
    co, ow = found
    ext = [iv.dom.extent.value for iv in v.block.iter_vars]
    kinds = [iv.iter_type for iv in v.block.iter_vars]
    lanes = cpu.lanes(v.block.writes[0].buffer.dtype)
    width = vector_split(ext[ow], lanes)
    if width is None:
        return None
    cr = min(ext[co], max(1, ACCUMULATORS // max(1, -(-width // lanes))))
    loops = sch.get_loops(block)
    ow0, ow1 = sch.split(loops[ow], [None, width]) if width < ext[ow] else (None, loops[ow])
    co0, co1 = sch.split(loops[co], [None, cr]) if cr < ext[co] else (None, loops[co])
    spatial = [n for n, k in enumerate(kinds) if k == "spatial" and n not in (co, ow)]
    reduce = [loops[n] for n, k in enumerate(kinds) if k == "reduce"]
    # batch-like axes first, then the channel tiles, then the rows.
    before = [n for n in spatial if n < co]
    after = [n for n in spatial if n > co]
    outer = [loops[n] for n in before] + ([co0] if co0 is not None else []) + [loops[n] for n in after]
    outer += [ow0] if ow0 is not None else []
    sch.reorder(*outer, *reduce, co1, ow1)
    handled = {name}
    if outer:
        anchor = outer[-1]
        copy = sch.cache_write(block, 0, "local")
        sch.reverse_compute_at(copy, anchor)
        handled.add(view(sch, copy).name)
        init = sch.decompose_reduction(block, reduce[0])
        finish_tile(sch, init, len(outer))
        finish_tile(sch, copy, len(outer))
        handled |= fuse_epilogue(sch, copy, anchor, len(outer))
    finish_tile(sch, block, len(outer) + len(reduce))
    par = outer[:-1] if ow0 is not None else outer
    par_ext = [ext[n] for n in before] + ([-(-ext[co] // cr)] if co0 is not None else []) + [ext[n] for n in after]
    parallel_tiles(sch, par, par_ext, cpu, math.prod(ext))
    return handled
