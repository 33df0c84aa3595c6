"""The default CPU schedule of convolution-like reductions: register tiles of output
channels x output columns.

For ``Y[n, co, oh, ow] += X(n, ci, oh, ow, kh, kw) * W[co, ci, kh, kw]`` (``X`` any
expression of the input reading along ``ow``; any number of spatial and reduce
iterators) :func:`schedule_conv` vectorizes the output channels when a vector of them
(or two) divides ``CO``, as in TVM's NCHWc x86 convolutions::

    W_global[co // CR, ci, kh, kw, co % CR] = W[co, ci, kh, kw]   # pack: CR channels adjacent
    for n, co_0, oh in T.parallel(...):          # outer tiles, fused, on threads
        for ow_0 in range(OW / OR):
            Y_local[OR x CR] = 0                  # accumulators, channels last
            for ci, kh, kw in T.grid(...):        # the reduction, between the tiles
                for ow_1 in T.unroll(OR):         # register tile: OR x CR / lanes accumulators
                    for co_1 in T.vectorized(CR):
                        Y_local[ow_1, co_1] += X(...) * W_global[co_0, ci, kh, kw, co_1]
            for co_1 in range(CR):                # write back (epilogue fused), a transpose:
                for ow_1 in T.vectorized(OR): Y[..., co_1, ow_1] = Y_local[ow_1, co_1]

so each step of the reduction is one or two vector loads of packed weights, ``OR``
broadcasts of input values and ``OR x CR / lanes`` FMAs, whatever the stride and
dilation. ``OR x CR / lanes`` is :data:`ACCUMULATORS`, ``OR`` a divisor of ``OW``
where one is large enough (a predicate on the register tile halves its speed).
Otherwise (fewer channels than a vector, or a ``CO`` no vector divides) the columns
are vectorized instead, ``W`` broadcast::

    for n, co_0, oh in T.parallel(...):
        for ow_0 in range(OW / OR):
            for ci, kh, kw in T.grid(...):
                for co_1 in T.unroll(CR):
                    for ow_1 in T.vectorized(OR):
                        Y_local[co_1, ow_1] += X(...) * W[co, ci, kh, kw]

``W`` is the factor of the product that does not depend on ``ow`` and is read at
plain iterators; ``co`` is a spatial iterator that indexes ``W`` only. Padding is a
stage of its own (:func:`pads_conv`), so ``X`` loads carry no conditions. Sizes the
tiles do not divide get the split's predicate. Every change is a checked schedule
primitive, so any block the rule takes stays correct.
"""
from __future__ import annotations

import math

from ...ir.expr import Binary, BufferLoad, Cast, IntImm, Select, Var
from ...ir.functor import pre_order_nodes, uses_var
from ...ir.tir import BufferStore
from ..state import all_blocks
from .patterns import is_canonical, match_matmul, view, view_by_name
from .steps import (MIN_PARALLEL_WORK, REGISTERS_FREE, CpuInfo, attempt, choose, finish_tile, fuse_epilogue,
                    parallel_tiles, row_tile_options, vector_split)

__all__ = ["schedule_conv", "match_conv", "pads_conv", "channel_tiles", "ACCUMULATORS"]

#: Vector registers a register tile accumulates in.
ACCUMULATORS = 8


def _strip_cast(e):
    return e.value if isinstance(e, Cast) else e


def match_conv(v) -> tuple[int, int] | None:
    """``(co, ow)``: positions of the output-channel and output-column iterators of a
    convolution-like block (see the module docstring), or None."""
    found = _match(v)
    return None if found is None else found[:2]


def _match(v) -> tuple[int, int, BufferLoad] | None:
    """``(co, ow, W)``: :func:`match_conv` and the load of ``W``."""
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
        if not isinstance(w, BufferLoad) or uses_var(w, ow_var) or not uses_var(x, ow_var):
            continue
        if not all(isinstance(i, Var) and id(i) in ids for i in w.indices):
            continue
        w_iters = {ids[id(i)] for i in w.indices}
        if not any(kinds[n] == "reduce" for n in w_iters):
            continue
        channels = [n for n in out[:-1] if n in w_iters and not uses_var(x, blk.iter_vars[n].var)]
        if channels:
            return channels[-1], ow, w
    return None


def pads_conv(func, v) -> bool:
    """True when block ``v`` pads (selects with a condition) a buffer that a
    convolution-like block reads: kept a stage of its own, the padding conditions stay
    out of the convolution's inner loop, whose loads become plain vector loads."""
    if not any(isinstance(n, Select) for n in pre_order_nodes(v.block.body.value)):
        return False
    out = v.block.writes[0].buffer
    for loc in all_blocks(func):
        reader = loc.node.block
        if reader.is_reduction and any(r.buffer is out for r in reader.reads):
            if match_conv(view_by_name(func, reader.name_hint)) is not None:
                return True
    return False


def _divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in range(1, min(n, limit) + 1) if n % d == 0)


def channel_tiles(channels: int, columns: int, lanes: int) -> tuple[int, int] | None:
    """``(CR, OR)`` of the channel-vectorized register tile, or None when no vector of
    channels divides ``channels``.

    ``CR`` is one vector or two, ``OR`` the columns that make :data:`ACCUMULATORS`
    vectors with it; a divisor of ``columns`` is preferred, a predicated ``OR`` taken
    only where every divisor would leave more than half the accumulators unused.

    >>> channel_tiles(64, 56, 8), channel_tiles(64, 28, 8), channel_tiles(32, 13, 8)
    ((8, 8), (16, 4), (8, 8))
    >>> channel_tiles(12, 56, 8) is None
    True
    """
    best, best_score = None, 0.0
    for vectors in (1, 2):
        cr = vectors * lanes
        if channels % cr:
            continue
        most = max(1, ACCUMULATORS // vectors)
        rows = _divisor_at_most(columns, most)
        score = float(vectors * rows)
        if columns > most and 2 * rows < most:
            rows, score = most, vectors * most / 2  # ragged: the predicate costs about half
        if score > best_score:
            best, best_score = (cr, rows), score
    return best


def _chosen_tiles(sch, cpu: CpuInfo, channels: int, columns: int, lanes: int, tiles):
    """``tiles`` (:func:`channel_tiles`), or in a design space a sampled ``(CR, OR)``: one,
    two or four vectors of channels that divide them, and any number of columns whose
    accumulators fit the register file (beside the CR channels of W and two more)."""
    if tiles is None:
        return None
    widths = [v * lanes for v in (1, 2, 4) if channels % (v * lanes) == 0]
    cr = choose(sch, cpu, "conv.cr", widths, tiles[0])
    vectors = cr // lanes
    rows = tiles[1] if cr == tiles[0] else min(columns, _divisor_at_most(columns, max(1, ACCUMULATORS // vectors)))
    return cr, choose(sch, cpu, "conv.rows", row_tile_options(vectors, columns, cpu), rows)


def _output_rows(sch, cpu: CpuInfo, v, ext, after, cr: int, width: int) -> int:
    """Output rows in the register tile: 1 (the default), or in a design space a sampled
    number that divides the rows and whose ``rows x width`` accumulators of ``cr`` channels
    fit the register file (beside the weights and two more)."""
    if not after:
        return 1
    vectors = max(1, -(-cr // cpu.lanes(v.block.writes[0].buffer.dtype)))
    room = (cpu.vector_registers - vectors - REGISTERS_FREE) // (vectors * width)
    return choose(sch, cpu, "conv.out_rows", [r for r in (2, 3, 4) if r <= room and ext[after[-1]] % r == 0], 1)


def _pack_weights(sch, block, read: int, w: BufferLoad, co_var, cr: int, cpu: CpuInfo) -> str:
    """Copy the weights (``read``-th input of ``block``) into ``[co // CR, other dims...,
    co % CR]``: the CR channels one vector loads are adjacent. Returns the copy's name."""
    copy = sch.cache_read(block, read, "global")
    ndim = len(w.indices)
    pc = next(d for d, i in enumerate(w.indices) if i is co_var)
    names = [f"d{d}" for d in range(ndim)]
    results = [f"{names[pc]} // {cr}"] + [names[d] for d in range(ndim) if d != pc] + [f"{names[pc]} % {cr}"]
    sch.transform_layout(block, ("read", read), f"lambda {', '.join(names)}: ({', '.join(results)})",
                         pad_value=0)  # ragged panels: the padding is never read
    name = view(sch, copy).name
    loops = sch.get_loops(copy)
    outer, inner = sch.split(loops[pc], [None, cr])
    sch.reorder(outer, *[loops[d] for d in range(ndim) if d != pc], inner)
    attempt(sch, lambda s: s.vectorize(inner) or True)
    if cpu.cores > 1 and math.prod(w.buffer.static_shape()) >= MIN_PARALLEL_WORK:
        attempt(sch, lambda s: s.parallel(outer) or True)
    return name


def _move_last(ndim: int, dim: int) -> str:
    """The index map that moves dimension ``dim`` of an ``ndim``-d buffer last."""
    names = [f"d{d}" for d in range(ndim)]
    results = [names[d] for d in range(ndim) if d != dim] + [names[dim]]
    return f"lambda {', '.join(names)}: ({', '.join(results)})"


def schedule_conv(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """Register-tile a convolution-like block (see the module docstring); None if it is not one."""
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    if not is_canonical(v):
        return None
    if not all(isinstance(iv.dom.extent, IntImm) for iv in v.block.iter_vars):
        return None
    found = _match(v)
    if found is None:
        return None
    co, ow, w = found
    ext = [iv.dom.extent.value for iv in v.block.iter_vars]
    lanes = cpu.lanes(v.block.writes[0].buffer.dtype)
    tiles = _chosen_tiles(sch, cpu, ext[co], ext[ow], lanes, channel_tiles(ext[co], ext[ow], lanes))
    if tiles is None and lanes >= 16 and vector_split(ext[ow], lanes) is None:
        # channels in half vectors where whole ones do not divide them and the columns are
        # fewer than a vector (8 channels of 4x4 images on AVX-512: a scalar reduction else)
        half = lanes // 2
        tiles = _chosen_tiles(sch, cpu, ext[co], ext[ow], half, channel_tiles(ext[co], ext[ow], half))
    if tiles is not None:
        handled = attempt(sch, _vector_channels, block, v, co, ow, w, tiles, cpu)
        if handled is not None:
            return handled
    width = vector_split(ext[ow], lanes)
    if width is None:
        return None
    most = max(1, ACCUMULATORS // max(1, -(-width // lanes)))
    cr = min(ext[co], most)
    divisor = _divisor_at_most(ext[co], most)
    if cr < ext[co] and 2 * divisor >= most:
        # channels in tiles that divide them where such tiles are not much smaller: a ragged
        # channel tile guards every row of the register tile where the batch and channel
        # loops fuse on threads (benchmarks/results/decisions.md, "CPU conv")
        cr = divisor
    return _register_tile(sch, block, v, co, ow, cr, width, False, cpu) | {name}


def _vector_channels(sch, block, v, co: int, ow: int, w: BufferLoad, tiles, cpu: CpuInfo) -> set[str]:
    """The channel-vectorized tile: weights packed (unless channels are already their
    contiguous dimension), accumulators stored channels last."""
    cr, rows = tiles
    handled = {v.name}
    co_var = v.block.iter_vars[co].var
    if w.indices[-1] is not co_var:
        read = next(n for n, r in enumerate(v.block.reads) if r.buffer is w.buffer)
        handled.add(_pack_weights(sch, block, read, w, co_var, cr, cpu))
    return handled | _register_tile(sch, block, v, co, ow, cr, rows, True, cpu)


def _register_tile(sch, block, v, co: int, ow: int, cr: int, width: int, channels_inner: bool,
                   cpu: CpuInfo) -> set[str]:
    """Split ``co`` by ``cr`` and ``ow`` by ``width``, put the reduction between the outer
    loops and the register tile (``ow_1, co_1`` with ``channels_inner``, else ``co_1,
    ow_1``), accumulate in a local buffer, vectorize, unroll and parallelize."""
    ext = [iv.dom.extent.value for iv in v.block.iter_vars]
    kinds = [iv.iter_type for iv in v.block.iter_vars]
    loops = sch.get_loops(block)
    ow0, ow1 = sch.split(loops[ow], [None, width]) if width < ext[ow] else (None, loops[ow])
    co0, co1 = sch.split(loops[co], [None, cr]) if cr < ext[co] else (None, loops[co])
    spatial = [n for n, k in enumerate(kinds) if k == "spatial" and n not in (co, ow)]
    reduce = [loops[n] for n, k in enumerate(kinds) if k == "reduce"]
    # batch-like axes first, then the channel tiles, then the rows.
    before = [n for n in spatial if n < co]
    after = [n for n in spatial if n > co]
    # a design space may take several output rows (the spatial axis before the columns)
    # into the register tile too: each vector of weights then serves rows x columns
    rows = _output_rows(sch, cpu, v, ext, after, cr, width) if channels_inner else 1
    row_loops = {n: loops[n] for n in after}
    row_tile = []
    if rows > 1:
        row_loops[after[-1]], inner_rows = sch.split(loops[after[-1]], [None, rows])
        row_tile = [inner_rows]
    outer = [loops[n] for n in before] + ([co0] if co0 is not None else []) + [row_loops[n] for n in after]
    outer += [ow0] if ow0 is not None else []
    sch.reorder(*outer, *reduce, *row_tile, *((ow1, co1) if channels_inner else (co1, ow1)))
    handled = set()
    if outer:
        anchor = outer[-1]
        copy = sch.cache_write(block, 0, "local")
        if channels_inner:
            co_var, indices = v.block.iter_vars[co].var, v.block.body.indices
            dim = next(d for d, i in enumerate(indices) if i is co_var)
            sch.transform_layout(block, ("write", 0), _move_last(len(indices), dim))
        sch.reverse_compute_at(copy, anchor)
        handled.add(view(sch, copy).name)
        init = sch.decompose_reduction(block, reduce[0])
        finish_tile(sch, init, len(outer))
        if channels_inner:
            # a transpose (channels last in registers, columns contiguous in the output): one
            # vector store of the columns per channel, its lanes gathered from the tile, in a
            # loop over the channels. As OR x CR scalar stores (every loop unrolled), LLVM
            # spent a third of conv2d's O3 on them; with the channel loop unrolled, most of
            # the kernel's compile time went on turning the gathers into shuffles (run times
            # the same: the tile's reduction dwarfs its write-back; benchmarks/results/
            # decisions.md, "CPU conv").
            tile = sch.get_loops(copy)[len(outer):]
            if attempt(sch, lambda s: s.vectorize(tile[-1]) or True) is None:
                attempt(sch, lambda s: s.unroll(tile[-1]) or True)  # (written out, as before)
        else:
            finish_tile(sch, copy, len(outer))
        handled |= fuse_epilogue(sch, copy, anchor, len(outer))
    finish_tile(sch, block, len(outer) + len(reduce) + len(row_tile))
    for loop in row_tile:
        attempt(sch, lambda s: s.unroll(loop) or True)
    par = outer[:-1] if ow0 is not None else outer
    par_ext = [ext[n] for n in before] + ([-(-ext[co] // cr)] if co0 is not None else []) + \
        [ext[n] // (rows if n == after[-1] else 1) for n in after]
    parallel_tiles(sch, par, par_ext, cpu, math.prod(ext))
    return handled
