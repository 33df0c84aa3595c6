"""The default CPU schedule of matmul-like blocks: register tiles, packed panels, threads.

For ``C[b, i, j] += A[b, i, k] * B[b, k, j]`` (any layout of A and B, any
number of batch axes, i optional) :func:`schedule_matmul` builds::

    B_global[b, j // NR, k, j % NR] = B[b, k, j]    # pack B into column panels (when it pays)
    A_global[b, i // MR, k, i % MR] = A[b, i, k]    # and A into row panels (when it pays)
    for b, i_c, j_0 in T.parallel(...):               # outer tiles, fused, on threads
        for i_0 in range(ROW_BLOCK / MR):             # (i_c: blocks of rows, for large M)
            C_local[MR x NR] = 0                      # init: vectorized, rows unrolled
            for k in range(K):                        # the reduction, between the tiles
                for i_1 in T.unroll(MR):              # register tile: MR x NR accumulators
                    for j_1 in T.vectorized(NR):
                        C_local[i, j] += A_global[i // MR, k, i % MR] * B_global[j // NR, k, j % NR]
            C[tile] = epilogue(C_local[tile])         # write back, relu/bias fused in

The column tile NR is two vectors (16 float32 lanes with AVX2) or one where
two do not divide the columns, and the row tile MR has as many rows as make
eight vector accumulators (4 or 8): enough to hide the FMA latency, few
enough to stay in registers. Sizes that the tiles do not divide get the
split's ``T.where`` predicate. Packing copies each NR-wide column panel of B
into consecutive memory, so the inner loop streams it from one place instead
of jumping a whole row of B per step; it pays once A has enough rows to reuse
each panel and B is larger than the L1 cache, or when B is stored with j not
contiguous. Packing A the same way makes the MR values broadcast per step
adjacent too (one stream instead of MR rows a whole row of A apart).
"""
from __future__ import annotations

import math

from ...ir import dtype as dt
from ...ir.expr import IntImm
from .patterns import match_matmul, view
from .steps import (CpuInfo, attempt, finish_tile, fuse_epilogue, parallel_tiles,
                    vector_split)

__all__ = ["schedule_matmul", "ACCUMULATORS", "PACK_MIN_ROWS", "PACK_MIN_BYTES", "PACK_A_MIN_BYTES",
           "PACK_A_MIN_PANELS", "ROW_BLOCK", "ROW_BLOCKS_FROM"]

#: Vector registers of accumulators in the register tile: FMA latency (4 cycles) times
#: the FMA units (2), so every unit always has an independent accumulator to update.
ACCUMULATORS = 8
#: Packing B needs at least this many rows of A to reuse each panel.
PACK_MIN_ROWS = 16
#: ... and a B bigger than this (L1-resident B gains nothing from packing).
PACK_MIN_BYTES = 32 * 1024
#: A is packed into MR-row panels too when it does not fit the L2 cache and each of
#: its panels serves at least this many column panels of B.
PACK_A_MIN_BYTES = 512 * 1024
PACK_A_MIN_PANELS = 4
#: With packed A, rows go in blocks of ROW_BLOCK when there are ROW_BLOCKS_FROM
#: blocks or more: a block of A (ROW_BLOCK x K) stays in the L2/L3 caches while
#: every column panel of B passes over it.
ROW_BLOCK = 256
ROW_BLOCKS_FROM = 4


def _column_tile(n: int, lanes: int) -> int:
    width = vector_split(n, lanes)
    return n if width is None else width


def _row_tile(nr: int, lanes: int) -> int:
    """Rows for ACCUMULATORS vector registers: 4 rows of two vectors, 8 rows of one."""
    return max(1, ACCUMULATORS // max(1, -(-nr // lanes)))


def _pack(sch, block, read: int, dims: tuple[int, ...], tiled: int, k: int, tile: int,
          cpu: CpuInfo) -> str:
    """Copy the ``read``-th input of ``block`` into panels ``[other dims..., t // tile, k,
    t % tile]``, ``t`` being its dimension indexed by iterator ``tiled``; returns the
    copy block's name. The copy writes each panel contiguously, on all cores."""
    copy = sch.cache_read(block, read, "global")
    ndim = len(dims)
    pt, pk = dims.index(tiled), dims.index(k)
    names = [f"d{d}" for d in range(ndim)]
    results = [names[d] for d in range(ndim) if d not in (pt, pk)]
    results += [f"{names[pt]} // {tile}", names[pk], f"{names[pt]} % {tile}"]
    sch.transform_layout(block, ("read", read), f"lambda {', '.join(names)}: ({', '.join(results)})")
    name = view(sch, copy).name
    loops = sch.get_loops(copy)
    outer, inner = sch.split(loops[pt], [None, tile])
    order = [loops[d] for d in range(ndim) if d not in (pt, pk)] + [outer, loops[pk], inner]
    sch.reorder(*order)
    lanes = cpu.lanes(view(sch, copy).block.writes[0].buffer.dtype)
    kind = (lambda s: s.vectorize(inner)) if tile >= lanes else (lambda s: s.unroll(inner))
    attempt(sch, lambda s: kind(s) or True)
    if cpu.cores > 1:
        par = order[:-2]
        attempt(sch, lambda s: s.parallel(par[0] if len(par) == 1 else s.fuse(*par)) or True)
    return name


def schedule_matmul(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """Register-tile a matmul-like block (see the module docstring); None if it is not one."""
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    pat = match_matmul(v)
    if pat is None or len(v.loops) != len(v.block.iter_vars):
        return None
    if any(val is not f.loop_var for val, f in zip(v.realize.iter_values, v.loops)):
        return None
    if not all(isinstance(iv.dom.extent, IntImm) for iv in v.block.iter_vars):
        return None
    ext = [iv.dom.extent.value for iv in v.block.iter_vars]
    out = v.block.writes[0].buffer
    lanes = cpu.lanes(out.dtype)
    m = ext[pat.i] if pat.i is not None else 1
    n, k = ext[pat.j], ext[pat.k]
    b_bytes = n * k * dt.bits(v.block.reads[pat.b_read].buffer.dtype) // 8
    pack = m >= PACK_MIN_ROWS and (b_bytes > PACK_MIN_BYTES or not pat.b_contiguous())
    if not pack and not pat.b_contiguous():
        return None
    nr = _column_tile(n, lanes)
    mr = min(_row_tile(nr, lanes), m)
    a_bytes = m * k * dt.bits(v.block.reads[pat.a_read].buffer.dtype) // 8
    pack_a = pack and pat.i is not None and mr > 1 and n >= PACK_A_MIN_PANELS * nr and a_bytes > PACK_A_MIN_BYTES
    handled = {name}
    if pack:
        handled.add(_pack(sch, block, pat.b_read, pat.b_dims, pat.j, pat.k, nr, cpu))
    if pack_a:
        handled.add(_pack(sch, block, pat.a_read, pat.a_dims, pat.i, pat.k, mr, cpu))
    loops = sch.get_loops(block)
    j0, j1 = sch.split(loops[pat.j], [None, nr]) if nr < n else (None, loops[pat.j])
    ic, row_blocks = None, 1
    if pack_a and m >= ROW_BLOCKS_FROM * ROW_BLOCK:
        ic, i0, i1 = sch.split(loops[pat.i], [None, ROW_BLOCK // mr, mr])
        row_blocks = -(-m // ROW_BLOCK)
    elif pat.i is not None and mr < m:
        i0, i1 = sch.split(loops[pat.i], [None, mr])
    else:
        i0, i1 = None, (loops[pat.i] if pat.i is not None else None)
    batch = [loops[b] for b in pat.batch]
    outer = [rv for rv in batch + [ic, j0, i0] if rv is not None]
    inner = [rv for rv in (i1, j1) if rv is not None]
    sch.reorder(*outer, loops[pat.k], *inner)
    if outer:
        anchor = outer[-1]
        copy = sch.cache_write(block, 0, "local")
        sch.reverse_compute_at(copy, anchor)
        handled.add(view(sch, copy).name)
        init = sch.decompose_reduction(block, loops[pat.k])
        finish_tile(sch, init, len(outer))
        finish_tile(sch, copy, len(outer))
        handled |= fuse_epilogue(sch, copy, anchor, len(outer))
    finish_tile(sch, block, len(outer) + 1)
    outer_extents = [ext[b] for b in pat.batch] + ([row_blocks] if ic is not None else []) + \
        ([-(-n // nr)] if j0 is not None else []) + \
        ([-(-min(m, ROW_BLOCK if ic is not None else m) // mr)] if i0 is not None else [])
    parallel_tiles(sch, outer, outer_extents, cpu, math.prod(ext))
    return handled
