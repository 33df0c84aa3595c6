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
two do not divide the columns (four, 6 rows high, for a matmul large enough to pack
B on a CPU of 32 vector registers: :data:`WIDE_TILE_REGISTERS`), and the row tile MR
has as many rows as the
register file holds accumulators for: with 16 vector registers (AVX2) 8 to 12
accumulators (4 to 6 rows of two vectors, 8 to 13 of one: the fewest row tiles),
enough to hide the FMA latency, few enough to stay in registers; with 32
(AVX-512) up to 28, in the 4 to 14 rows that pad the
rows least (8 rows of two zmm vectors for powers of two); with fewer rows
than that (a matrix-vector product) the tile takes several NR-wide column
tiles instead, unrolled. Sizes that the tiles do not divide get the split's
``T.where`` predicate. Packing copies each NR-wide column panel of B into
consecutive memory, so the inner loop streams it from one place instead of
jumping a whole row of B per step; it pays once A has enough rows to reuse
each panel and B does not fit in half the L2 cache, or when B is stored with j
not contiguous; small problems (B in L2) run the register tile on B as it
is. Where the threads split the work by column panels (or it runs on one
thread), each panel is packed inside its iteration of ``j_0``, by the thread
that then uses it while it is in cache, instead of in a pass of its own. Packing A the same way makes the MR values broadcast per step adjacent
too (one stream instead of MR rows a whole row of A apart); it pays only for an A
larger than the L3 cache can hold beside B (the target's cache sizes, the host's
for the host, :attr:`~mlc.target.Target.caches`), and not for the wide register tile
of a CPU of 32 vector registers (:data:`PACK_A_L3_SHARE`).

Matmuls with more columns than a vector but not a multiple of one keep the
usual tile, its last column tile ragged: the row tiles go outside the column
tiles (threads split the rows), or for a large matmul the column panels alone
run on threads, so that :func:`~mlc.passes.tir.partition_tiles` peels the
ragged tile off its loop and :func:`~mlc.passes.tir.vectorize_loops` runs its
lanes in narrower vectors (300x52x300 on AVX-512: 37 us, NumPy 48; 1000^3:
5.8 ms, NumPy 5.8). A batch or a symbolic number of rows leaves no loop to
peel: there :func:`_schedule_narrow` turns the tile around, one accumulator
per column, each a vector of rows. Fewer columns than a vector need no
predicate: the register tile's row is one short vector (the 10 classes with
16 lanes: an MLP's last layer, 64x128 by 128x10, runs in 4.4 us against 6.3 us
turned around, and LLVM compiles it in 12 ms against 43: the turned-around
tile transposes A and C through scalar stores). Threads wake only for
PARALLEL_MIN_MACS multiply-adds or more.

A symbolic number of rows or batch (``n = te.var("n")``) is tiled like
SYMBOLIC_EXTENT_ESTIMATE rows, its row tiles guarded (``T.where``) and its
outer loop on threads; the columns and the reduction must be constant.
"""
from __future__ import annotations

import math

from ...ir import dtype as dt
from ...ir.expr import IntImm
from ...ir.functor import pre_order_nodes
from .int8 import schedule_int8_vnni
from .patterns import match_matmul, view
from .steps import (CpuInfo, attempt, choose, estimated_extent, finish_tile, fuse_epilogue, parallel_depth,
                    parallel_loops, parallel_tiles, register_rows, row_tile_options, vector_split)

__all__ = ["schedule_matmul", "ACCUMULATORS", "PACK_MIN_ROWS", "PACK_B_L2_SHARE", "SMALL_PACK_MIN_ROWS", "PACK_A_L3_SHARE",
           "PACK_A_MIN_PANELS", "ROW_BLOCK", "ROW_BLOCK_OPTIONS", "K_UNROLL_OPTIONS", "K_BLOCK_OPTIONS",
           "COL_BLOCK_OPTIONS",
           "ROW_BLOCKS_FROM", "PARALLEL_MIN_MACS", "MAX_NARROW_COLUMNS", "WIDE_TILE_REGISTERS",
           "RAGGED_MIN_VECTORS"]

#: Vector registers of accumulators in the register tile: FMA latency (4 cycles) times
#: the FMA units (2), so every unit always has an independent accumulator to update.
ACCUMULATORS = 8
#: Packing B needs at least this many rows of A to reuse each panel.
PACK_MIN_ROWS = 16
#: ... and a B bigger than this share of the L2 cache: the rows of a B that stays in L2
#: stream into the kernel as fast as a packed panel (mm_relu 128^3 with AVX-512 on two
#: cores: 13 us unpacked, 26 us with its packing pass), and small problems skip the copy.
PACK_B_L2_SHARE = 0.5
#: On a CPU of WIDE_TILE_REGISTERS vector registers, a B that fits in the L2 cache is packed
#: too, for the wide register tile, each column panel by the thread that computes it, when A
#: has at least this many rows and the threads share the panels evenly: the packed panel is
#: aligned where NumPy's arrays are not (16 or 32 bytes past a cache line, so that every
#: 64-byte load of B straddles two lines) and the wide tile loads less an FMA. Medians of 9
#: interleaved rounds on two AVX-512 cores (Sapphire Rapids): mm_relu 128^3 18.2-18.9 ->
#: 16.6-16.9 us, 128x256x128 32.0 -> 26.8, 256^3 99.8 -> 92.9, 512^3 1010 -> 813 us; with
#: fewer rows the copy does not pay (64x64x256: 11.7 -> 12.9 us, 32x512x256: 33 -> 39),
#: nor with panels the threads share unevenly (300x200x192, 3 panels: 67 -> 83 us). An
#: output C that is itself misaligned (a caller's NumPy array; mlc's own outputs of 64 KiB
#: and more are aligned) has a cache line across every panel boundary of every row, which
#: both threads write at the same time: mm_relu 128^3 into such a C took 21.7 us against
#: 19.1 with B unpacked (16.5 into an aligned C).
SMALL_PACK_MIN_ROWS = 128
#: A is packed into MR-row panels too when A and B together are larger than this share
#: of the L3 cache and each of A's panels serves at least PACK_A_MIN_PANELS column panels
#: of B. Below that, the hardware prefetchers stream the MR rows of a tile from the caches
#: as fast as from a panel, and the copy costs a pass over A (1024^3 float32 with AVX-512:
#: 8%); above it, every column panel would stream all of A from memory again (2048^3 on
#: Zen 3, 32 MiB of L3: 99 ms unpacked, 94 packed in blocks of rows). Not for the wide
#: register tile of a CPU of WIDE_TILE_REGISTERS registers: its 6 rows stream as fast
#: from A as stored, and a packed A costs a pass over A, a copy of the micro-kernel for
#: the ragged last row tile of a padded panel, and the code of the copy loops. sgemm on two
#: Zen 5 cores (32 MiB of L3), medians of 7 interleaved rounds, packed -> unpacked:
#: 2048^3 39.1 -> 37.4 ms and 44.5 -> 41.1 (two runs), 4096^3 343.8 -> 342.3, 4096 x 1024 x 1024
#: 20.5 -> 17.5, 3000 x 1536 x 1536 30.4 -> 28.6; the first call of a jitted 2048^3 matmul
#: (compile and run) 200-250 -> 95-105 ms.
PACK_A_L3_SHARE = 0.5
PACK_A_MIN_PANELS = 4
#: With packed A, rows go in blocks of about ROW_BLOCK when there are ROW_BLOCKS_FROM
#: blocks or more: a block of A (ROW_BLOCK x K) stays in the L2/L3 caches while
#: every column panel of B passes over it; B streams past once per block (2048^3 on
#: Zen 3, medians of 15: 93.7 ms in blocks of 512 rows, 95.7 in blocks of 256).
ROW_BLOCK = 512
ROW_BLOCKS_FROM = 2
#: A matmul runs on threads from this many multiply-adds (about 10 us on one core):
#: below that, waking the thread pool costs more than the work.
PARALLEL_MIN_MACS = 1 << 19
#: Blocks of rows a design space may take (besides none), rounded down to whole row tiles.
ROW_BLOCK_OPTIONS = (64, 128, 256, 512)
#: Unroll factors of the reduction loop a design space may take (the default: 1, see
#: WIDE_TILE_REGISTERS).
K_UNROLL_OPTIONS = (1, 2, 4)
#: Blocks of the reduction a design space may take (the default: none).
K_BLOCK_OPTIONS = (64, 128, 256, 512)
#: Column panels per group a design space may take with blocks of rows (the default: none).
COL_BLOCK_OPTIONS = (2, 4, 8, 16)
#: Matmuls whose columns no vector divides get one accumulator per column with vectors
#: down the rows, in tiles of up to this many columns.
MAX_NARROW_COLUMNS = 12
#: A matmul large enough to pack B gets a register tile four vectors wide and as many rows
#: as the registers hold (6 rows, 24 accumulators with 32 registers) on CPUs with at least
#: this many vector registers: each step of the reduction loads 4 vectors of B and
#: broadcasts 6 values of A for 24 FMAs (0.42 loads an FMA, against 0.63 for 8 rows of 2
#: vectors). sgemm 1024^3 on a 2-core AVX-512 Xeon (Sapphire Rapids), medians of 11
#: interleaved rounds: 6.69 ms in 8 x 2 vectors, 6.27 with k unrolled by 4, 5.91 in 6 x 4
#: vectors unrolled by 4 (NumPy's OpenBLAS 6.27); 2048^3: 55.2, 49.1, 48.0 ms (NumPy 49.0).
#: No default tile unrolls its reduction loop (a design space may: K_UNROLL_OPTIONS). The
#: 6 x 4 tile's step of 24 FMAs and 10 loads is 37 instructions, issued at one cycle per two
#: FMAs whether unrolled by 1, 2 or 4 (llvm-mca's Skylake-X and Ice Lake server models:
#: 1.006, 1.003 and 1.002 cycles per two FMAs), and on two Zen 5 cores it ran as fast
#: (1024^3 4.28-4.36 ms against 4.31-4.44 unrolled by 4, 2048^3 34.4-35.1 against
#: 35.0-37.3), while the unrolled loop cost a jitted sgemm's first call 8-10 ms of IR
#: generation and LLVM (1024^3 44-53 -> 53-55 ms). A B in L2 (mm_relu 128^3) ran as fast
#: unrolled or not too, and compiled in 43 ms, not 58.
WIDE_TILE_REGISTERS = 32
#: A large matmul whose columns no vector divides keeps the usual register tile, its last
#: panel ragged, from this many vectors of columns (fewer: vectors down the rows).
RAGGED_MIN_VECTORS = 4


def _column_tile(n: int, lanes: int, wide: bool = False, peeled: bool = False) -> int:
    """Two vectors or one, or half a vector where that divides ``n`` and they do not (a
    ragged vector tile needs a predicate, which leaves its loop scalar) unless the ragged
    tile is ``peeled`` off its loop (then it runs in narrower vectors); ``wide``: four
    vectors where they divide ``n`` (:data:`WIDE_TILE_REGISTERS`)."""
    if wide and n % (4 * lanes) == 0:
        return 4 * lanes
    width = vector_split(n, lanes)
    if width is None:
        return n
    if n % width and lanes >= 4 and n % (lanes // 2) == 0 and not peeled:
        return lanes // 2
    return width


def _row_tile(nr: int, lanes: int, m: int, cpu: CpuInfo) -> int:
    """Rows of the register tile, between the ACCUMULATORS of them and as many rows as fit
    in the registers left after the NR/lanes vectors of B and REGISTERS_FREE more
    (:func:`~.steps.register_rows`).

    With 16 vector registers (AVX2, up to 6 rows of two vectors): the fewest row tiles,
    then the least padding of ``m``, then the more rows. Exactly ACCUMULATORS accumulators
    leave the FMA latency no slack: an AVX2 tile of 4 rows of two vectors runs at 86% of the
    8-lane FMA peak in cache, one of 6 rows at 98%. The same holds with A packed into row
    panels, whose last panel a ragged tile pads: AVX2 code on two Zen 5 cores (NumPy with
    OpenBLAS's Haswell kernels beside it, medians of 7 interleaved batches), 2048^3 in tiles
    of 6 rows 72.5-72.9 ms against 80.6-80.7 in tiles of 4 (NumPy 70.3-71.2), 4096^3 608
    against 720 (NumPy 555), one core 2048^3 139 against 156 (NumPy 135). With 32 (AVX-512,
    4 to 14 rows of two vectors): the one that pads ``m`` least (a ragged row tile puts a
    predicate on every row), the larger on a tie."""
    vectors = max(1, -(-nr // lanes))
    least = max(1, ACCUMULATORS // vectors)
    most = max(least, register_rows(vectors, cpu))
    if vectors >= 4:  # the wide tile of a large matmul: every row the registers hold
        return min(m, most)
    if cpu.vector_registers < 32:
        return min(range(least, most + 1), key=lambda r: (-(-m // r), -(-m // r) * r - m, -r))
    if m <= most:
        return m
    return min(range(least, most + 1), key=lambda r: (-(-m // r) * r - m, -r))


def _row_block(m: int, mr: int) -> int:
    """Rows per block of rows: whole row tiles, about ROW_BLOCK rows, as many tiles in every
    block as the tiles of ``m`` rows allow (1024 rows in tiles of 6: three blocks of 57
    tiles, not two of 85 and one of 1 whose other 84 tiles are empty)."""
    mr = max(1, mr)
    tiles = -(-m // mr)
    blocks = -(-tiles // max(1, ROW_BLOCK // mr))
    return -(-tiles // blocks) * mr


def _column_options(n: int, lanes: int) -> list[int]:
    """Column tiles a design space may take: one to four vectors, those that divide ``n``
    (a ragged vector tile leaves its loop scalar)."""
    return [w for w in (lanes, 2 * lanes, 3 * lanes, 4 * lanes) if w <= n and n % w == 0]


def _wide_columns(n: int, nr: int, mr: int, lanes: int) -> int:
    """Column tiles per register tile: 1, or where too few rows leave accumulators unused
    (a matrix-vector product), as many NR-wide tiles as fill them and divide the columns."""
    vectors = -(-nr // lanes)
    room = ACCUMULATORS // (max(1, mr) * vectors)
    if room < 2 or n % nr:
        return 1
    return max(d for d in range(1, room + 1) if (n // nr) % d == 0)


def _transpose_panel(sch, k, inner, extent: int, lanes: int):
    """Copy loops ``k, inner`` of a panel whose source is contiguous along ``k``: vectors of
    ``lanes`` k values are read, and the unrolled ``inner`` loop interleaves them (LLVM turns
    the strided stores into shuffles)."""
    if extent % lanes == 0 and extent > lanes:
        _, k = sch.split(k, [None, lanes])
        sch.reorder(k, inner)
    sch.vectorize(k)
    sch.unroll(inner)
    return True


def _panel_layout(sch, block, read: int, dims: tuple[int, ...], tiled: int, k: int, tile: int):
    """Make ``block`` read its ``read``-th input (the cache) as panels ``[other dims...,
    t // tile, k, t % tile]``; returns the positions of ``t`` and ``k`` in ``dims``."""
    ndim = len(dims)
    pt, pk = dims.index(tiled), dims.index(k)
    names = [f"d{d}" for d in range(ndim)]
    results = [names[d] for d in range(ndim) if d not in (pt, pk)]
    results += [f"{names[pt]} // {tile}", names[pk], f"{names[pt]} % {tile}"]
    sch.transform_layout(block, ("read", read), f"lambda {', '.join(names)}: ({', '.join(results)})",
                         pad_value=0)  # ragged panels: the padding is never read
    return pt, pk


def _pack_panel_at(sch, block, read: int, dims: tuple[int, ...], tiled: int, k: int, tile: int,
                   cpu: CpuInfo, loop) -> str:
    """Like :func:`_pack`, but each iteration of ``loop`` (a loop over the panels) copies
    the one panel it uses, right before using it."""
    copy = sch.cache_read(block, read, "global")
    sch.compute_at(copy, loop)
    ndim = len(dims)
    pt, pk = _panel_layout(sch, block, read, dims, tiled, k, tile)
    v = view(sch, copy)
    loops = sch.get_loops(copy)
    k_loop, t_loop = (_loop_of(v, loops, v.realize.iter_values[d]) for d in (pk, pt))
    lanes = cpu.lanes(v.block.writes[0].buffer.dtype)
    if k_loop is None or t_loop is None or {k_loop, t_loop} != set(loops[-2:]):
        return v.name  # a panel one row or column long: left as a plain copy
    sch.reorder(k_loop, t_loop)
    k_extent = v.block.iter_vars[pk].dom.extent.value
    if pk == ndim - 1 and tile <= 2 * lanes:
        attempt(sch, _transpose_panel, k_loop, t_loop, k_extent, lanes)
    else:
        kind = (lambda s: s.vectorize(t_loop)) if tile >= lanes else (lambda s: s.unroll(t_loop))
        attempt(sch, lambda s: kind(s) or True)
    return v.name


def _loop_of(v, loops, value):
    """The innermost of ``loops`` whose variable the binding ``value`` uses (None if none)."""
    used = {id(n) for n in pre_order_nodes(value)}
    found = [rv for rv, f in zip(loops, v.loops) if id(f.loop_var) in used]
    return found[-1] if found else None


def _pack(sch, block, read: int, dims: tuple[int, ...], tiled: int, k: int, tile: int,
          cpu: CpuInfo, threads: bool = True) -> str:
    """Copy the ``read``-th input of ``block`` into panels ``[other dims..., t // tile, k,
    t % tile]``, ``t`` being its dimension indexed by iterator ``tiled``; returns the
    copy block's name. The copy writes each panel contiguously, on all cores."""
    copy = sch.cache_read(block, read, "global")
    ndim = len(dims)
    pt, pk = _panel_layout(sch, block, read, dims, tiled, k, tile)
    name = view(sch, copy).name
    loops = sch.get_loops(copy)
    outer, inner = sch.split(loops[pt], [None, tile])
    order = [loops[d] for d in range(ndim) if d not in (pt, pk)] + [outer, loops[pk], inner]
    sch.reorder(*order)
    lanes = cpu.lanes(view(sch, copy).block.writes[0].buffer.dtype)
    k_extent = view(sch, copy).block.iter_vars[pk].dom.extent
    if pk == ndim - 1 and tile <= 2 * lanes and isinstance(k_extent, IntImm):
        attempt(sch, _transpose_panel, loops[pk], inner, k_extent.value, lanes)
    else:
        kind = (lambda s: s.vectorize(inner)) if tile >= lanes else (lambda s: s.unroll(inner))
        attempt(sch, lambda s: kind(s) or True)
    if threads and cpu.cores > 1:
        par = order[:-2]
        attempt(sch, lambda s: s.parallel(par[0] if len(par) == 1 else s.fuse(*par)) or True)
    return name


def schedule_matmul(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """Register-tile a matmul-like block (see the module docstring); None if it is not one."""
    vnni = schedule_int8_vnni(sch, func_name, name, cpu)
    if vnni is not None:
        return vnni
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    pat = match_matmul(v)
    if pat is None or len(v.loops) != len(v.block.iter_vars):
        return None
    if any(val is not f.loop_var for val, f in zip(v.realize.iter_values, v.loops)):
        return None
    # symbolic extents (a batch known at call time) are allowed on the rows and batch axes:
    # the tiles are chosen for SYMBOLIC_EXTENT_ESTIMATE rows, the row tiles guarded
    symbolic = {d for d, iv in enumerate(v.block.iter_vars) if not isinstance(iv.dom.extent, IntImm)}
    if symbolic - {pat.i, *pat.batch}:
        return None
    ext = [estimated_extent(iv.dom.extent) for iv in v.block.iter_vars]
    rows_symbolic = pat.i in symbolic
    out = v.block.writes[0].buffer
    lanes = cpu.lanes(out.dtype)
    m = ext[pat.i] if pat.i is not None else 1
    n, k = ext[pat.j], ext[pat.k]
    b_bytes = n * k * dt.bits(v.block.reads[pat.b_read].buffer.dtype) // 8
    # vectors down the rows: a whole vector, or half of one, that divides the rows
    row_lanes = None if rows_symbolic else \
        next((w for w in (lanes, lanes // 2) if w >= 2 and m % w == 0), None)
    # Other columns that no vector divides keep the usual tile too where the column loop can
    # be peeled (no batch, constant rows or none: see rows_first below): vectors down the
    # rows only for batches and symbolic rows (300x50x300 on AVX-512: 34 us, against 71 down
    # the rows; x @ A of 1000 x 1000 with a 1-d x: 116 us in two-vector tiles, 219 in halves).
    peel = not pat.batch and not rows_symbolic
    nc = _narrow_columns(n, lanes) if pat.i is not None and row_lanes and not peel else None
    if nc is not None:
        return _schedule_narrow(sch, block, pat, ext, cpu, row_lanes, nc, math.prod(ext) >= PARALLEL_MIN_MACS)
    pack = m >= PACK_MIN_ROWS and (b_bytes > PACK_B_L2_SHARE * cpu.l2_bytes or not pat.b_contiguous())
    # a B that fits in L2, packed for the wide register tile, each panel by its thread
    small_pack = not pack and pat.i is not None and not pat.batch and not rows_symbolic and pat.b_contiguous() \
        and cpu.vector_registers >= WIDE_TILE_REGISTERS and m >= SMALL_PACK_MIN_ROWS \
        and n % (4 * lanes) == 0 and n // (4 * lanes) % max(cpu.cores, 1) == 0
    pack = pack or small_pack
    pack = bool(choose(sch, cpu, "matmul.pack_b", [1, 0] if pat.b_contiguous() else [1], int(pack)))
    if not pack and not pat.b_contiguous():
        return None
    wide_tile = pack and pat.i is not None and not rows_symbolic and \
        cpu.vector_registers >= WIDE_TILE_REGISTERS
    tile_width = (4 if wide_tile else 2) * lanes
    # a packed matmul whose columns the full register tile does not divide keeps that tile:
    # partition_tiles peels its last, ragged column panel off the panel loop (threads split
    # the panels only) and vectorize_loops runs that panel in narrower vectors (1000^3 on
    # AVX-512: 5.9 ms, against 28 with vectors down the rows; float64: 13.6 ms, against
    # 19.2 in one-vector tiles; AVX2 code: 11.4 ms, against 15.3)
    ragged = pack and peel and pat.i is not None and pat.b_contiguous() and bool(n % tile_width) \
        and n >= RAGGED_MIN_VECTORS * lanes
    nr = tile_width if ragged else _column_tile(n, lanes, wide_tile, peel and not pack)
    nr = choose(sch, cpu, "matmul.nr", _column_options(n, lanes), nr)
    mr = min(_row_tile(nr, lanes, m, cpu), m)
    a_bytes = m * k * dt.bits(v.block.reads[pat.a_read].buffer.dtype) // 8
    pack_a = pack and pat.i is not None and mr > 1 and n >= PACK_A_MIN_PANELS * nr and not wide_tile and \
        a_bytes + b_bytes > PACK_A_L3_SHARE * cpu.caches[2] and not rows_symbolic
    if pat.i is not None and not rows_symbolic:
        mr = choose(sch, cpu, "matmul.mr", row_tile_options(-(-nr // lanes), m, cpu), mr)
    wide = 1 if pack else _wide_columns(n, nr, mr, lanes)
    pack_a = pack_a and not ragged  # (its loops fused on threads: no panel to peel)
    if pat.i is not None and mr > 1 and not rows_symbolic and not ragged:
        pack_a = bool(choose(sch, cpu, "matmul.pack_a", [0, 1], int(pack_a)))
    block_rows = _row_block(m, mr)
    row_blocks = -(-m // block_rows) if pack_a and m >= ROW_BLOCKS_FROM * ROW_BLOCK else 1
    if pat.i is not None and not rows_symbolic:  # a design space: blocks of rows of any size
        options = [0] + [r // mr * mr for r in ROW_BLOCK_OPTIONS if mr <= r // mr * mr < m]
        block_rows = choose(sch, cpu, "matmul.row_block", options, block_rows if row_blocks > 1 else 0) or m
        row_blocks = -(-m // block_rows)
    # Columns that no tile divides, B not packed: the row tiles go outside the column tiles
    # and threads split the rows alone, so that partition_tiles peels the ragged column tile
    # off each row tile's column loop (a loop fused with the rows has no tile to peel).
    rows_first = rows_symbolic or (not pack and pat.i is not None and not pat.batch and wide == 1
                                   and nr < n and n % nr and mr < m and row_blocks == 1)
    outer_extents = [ext[b] for b in pat.batch] + ([row_blocks] if row_blocks > 1 else []) + \
        ([-(-n // (nr * wide))] if nr * wide < n else []) + \
        ([-(-min(m, block_rows if row_blocks > 1 else m) // mr)]
         if pat.i is not None and (mr < m or rows_symbolic) else [])
    if rows_first:  # the row tiles outside the column tiles: threads split the rows
        row_tiles = outer_extents.pop()
        outer_extents.insert(len(pat.batch), row_tiles)
    # With blocks of rows, a design space may group the column panels too (NC): every block
    # of rows passes over one group of panels of B (kept in cache) before the next group.
    col_block = 0
    n_panels = -(-n // nr) if nr < n and wide == 1 else 0
    if row_blocks > 1 and n_panels >= 4:
        col_block = choose(sch, cpu, "matmul.col_block",
                           [0] + [g for g in COL_BLOCK_OPTIONS if g < n_panels and n_panels % g == 0], 0)
    if col_block:  # batch, column groups, row blocks, panels of a group, row tiles
        at = len(pat.batch)
        outer_extents[at:at + 2] = [n_panels // col_block, row_blocks, col_block]
    # A design space may block the reduction too (KC): the loop over its blocks goes between
    # the column panels and the row tiles, and the accumulators of a whole panel of C live
    # in a local buffer above it (each tile's accumulators in registers for one block).
    k_block = 0
    if pat.i is not None and not rows_first and wide == 1 and nr < n and mr < m:
        k_block = choose(sch, cpu, "matmul.k_block", [0] + [c for c in K_BLOCK_OPTIONS if c < k and k % c == 0], 0)
    if k_block:
        outer_extents = outer_extents[:-1]  # the row tiles are inside the reduction's blocks
    work = math.prod(ext)
    depth = parallel_depth(outer_extents, cpu, work) if work >= PARALLEL_MIN_MACS else 0
    if ragged or (rows_first and not rows_symbolic):
        depth = min(depth, 1)  # threads over the column panels, or the row tiles, alone
    elif cpu.cores > 1:
        if small_pack and pack:  # threads over the panels, each packing its own
            depth = min(depth, len(pat.batch) + 1)
        depth = choose(sch, cpu, "parallel_depth", range(len(outer_extents) + 1), depth)
    # Each column panel of B is packed inside its own iteration of the panel loop (on the
    # thread that uses it, while it is hot in cache) when the threads split no finer
    # than panels and no row blocks or batch axes B lacks would pack it again.
    panels = len(pat.batch) + 1
    pack_in_panel = pack and nr < n and row_blocks == 1 and depth <= panels and \
        all(b in pat.b_dims for b in pat.batch) and not rows_symbolic
    if pack_in_panel:
        pack_in_panel = bool(choose(sch, cpu, "matmul.pack_in_panel", [1, 0], 1))
    k_inner = k_block or k
    k_unroll = choose(sch, cpu, "matmul.k_unroll",
                      [u for u in K_UNROLL_OPTIONS if k_inner % u == 0 and u < k_inner], 1)
    handled = {name}
    if pack and not pack_in_panel:
        handled.add(_pack(sch, block, pat.b_read, pat.b_dims, pat.j, pat.k, nr, cpu, threads=depth > 0))
    if pack_a:
        handled.add(_pack(sch, block, pat.a_read, pat.a_dims, pat.i, pat.k, mr, cpu, threads=depth > 0))
    loops = sch.get_loops(block)
    j0, ju, j1 = None, None, loops[pat.j]
    if wide > 1 and nr * wide < n:
        j0, ju, j1 = sch.split(loops[pat.j], [None, wide, nr])
    elif wide > 1:
        ju, j1 = sch.split(loops[pat.j], [wide, nr])
    elif nr < n:
        j0, j1 = sch.split(loops[pat.j], [None, nr])
    jc = None
    if col_block:
        jc, j0 = sch.split(j0, [None, col_block])
    ic = None
    if row_blocks > 1:
        ic, i0, i1 = sch.split(loops[pat.i], [None, block_rows // mr, mr])
    elif pat.i is not None and (mr < m or rows_symbolic):
        i0, i1 = sch.split(loops[pat.i], [None, mr])
    else:
        i0, i1 = None, (loops[pat.i] if pat.i is not None else None)
    batch = [loops[b] for b in pat.batch]
    outer = [rv for rv in batch + ([i0, j0] if rows_first else [jc, ic, j0, i0]) if rv is not None]
    inner = [rv for rv in (i1, ju, j1) if rv is not None]
    k_loops = [loops[pat.k]]
    if k_block:
        k_loops = list(sch.split(loops[pat.k], [None, k_block]))
    if k_unroll > 1:
        k_loops[-1:] = sch.split(k_loops[-1], [None, k_unroll])
    if k_block:
        return handled | _blocked_reduction(sch, block, outer, k_loops, inner, depth, pack_in_panel, pat, nr, cpu)
    sch.reorder(*outer, *k_loops, *inner)
    if pack_in_panel:
        handled.add(_pack_panel_at(sch, block, pat.b_read, pat.b_dims, pat.j, pat.k, nr, cpu, j0))
    if outer:
        anchor = outer[-1]
        copy = sch.cache_write(block, 0, "local")
        sch.reverse_compute_at(copy, anchor)
        handled.add(view(sch, copy).name)
        init = sch.decompose_reduction(block, k_loops[0])
        finish_tile(sch, init, len(outer))
        finish_tile(sch, copy, len(outer))
        handled |= fuse_epilogue(sch, copy, anchor, len(outer))
    finish_tile(sch, block, len(outer) + len(k_loops))
    if ju is not None and i1 is not None:
        attempt(sch, lambda s: s.unroll(i1) or True)
    if len(k_loops) > 1:
        attempt(sch, lambda s: s.unroll(k_loops[1]) or True)
    parallel_loops(sch, outer[:depth])
    return handled


def _blocked_reduction(sch, block, outer, k_loops, inner, depth: int, pack_in_panel: bool, pat, nr: int,
                       cpu: CpuInfo) -> set[str]:
    """The loops of a matmul whose reduction is blocked (``k_loops``: the blocks, the steps
    of one, and their unrolled part): ``outer[:-1]`` (batch, row blocks, column panels),
    the blocks of the reduction, the row tiles ``outer[-1]``, the steps, the register tile
    ``inner``. The accumulators of a column panel are a local buffer initialised and
    written back around the blocks (vectorized, not unrolled: a panel has many rows)."""
    above, row_tiles = outer[:-1], outer[-1]
    sch.reorder(*above, k_loops[0], row_tiles, *k_loops[1:], *inner)
    handled = set()
    if pack_in_panel:
        handled.add(_pack_panel_at(sch, block, pat.b_read, pat.b_dims, pat.j, pat.k, nr, cpu, above[-1]))
    anchor = above[-1]
    copy = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(copy, anchor)
    handled.add(view(sch, copy).name)
    init = sch.decompose_reduction(block, k_loops[0])
    finish_tile(sch, init, len(above) + 1)
    finish_tile(sch, copy, len(above) + 1)
    handled |= fuse_epilogue(sch, copy, anchor, len(above) + 1)
    finish_tile(sch, block, len(above) + 1 + len(k_loops))
    if len(k_loops) > 2:
        attempt(sch, lambda s: s.unroll(k_loops[2]) or True)
    parallel_loops(sch, above[:depth])
    return handled


def _output_dims(v, pat) -> tuple[int, int]:
    """Positions of the i and j dimensions in the output buffer of the block."""
    ids = {id(iv.var): n for n, iv in enumerate(v.block.iter_vars)}
    dims = [ids.get(id(r.min)) for r in v.block.writes[0].region]
    return dims.index(pat.i), dims.index(pat.j)


def _narrow_columns(n: int, lanes: int) -> int | None:
    """Columns per tile of :func:`_schedule_narrow` for ``n`` columns, more than a vector,
    that no vector divides: all of them when few, else the largest divisor of ``n`` that
    keeps the accumulators in registers (at least 4: fewer would starve the FMA units),
    else the fewest tiles, the last one ragged (its predicate is on the unrolled column
    loop, not on a vector). None otherwise: the usual register tile."""
    if n % lanes == 0 or n < lanes:
        return None
    if n <= MAX_NARROW_COLUMNS:
        return n
    sizes = range(MAX_NARROW_COLUMNS, 3, -1)
    divisor = next((d for d in sizes if n % d == 0), None)
    return divisor or min(sizes, key=lambda d: (-(-n // d), -(-n // d) * d - n))


def _schedule_narrow(sch, block, pat, ext, cpu: CpuInfo, lanes: int, nc: int, parallel: bool) -> set[str]:
    """Columns that no vector divides: vectors run down the rows instead, one accumulator
    per column of a tile of NC columns (NC divides the columns, so no tile is ragged)::

        for b, i_0 in (T.parallel)(...):
            A_global[b, i_0, k, i_1] = A[b, i, k]          # this row panel (unless A is stored
                                                           # with i contiguous)
            for j_0 in range(N / NC):
                C_local[j, i] = 0                          # accumulators laid out column-major
                for k in range(K):
                    for j_1 in T.unroll(NC):               # NC vector accumulators
                        for i_1 in T.vectorized(L):
                            C_local[j, i] += A_global[i // L, k, i % L] * B[k, j]   # B[k, j] broadcast
                C[tile] = epilogue(C_local[tile])
    """
    v = view(sch, block)
    name = v.name
    handled = {name}
    row, col = _output_dims(v, pat)
    pack = pat.a_dims[-1] != pat.i
    pack_in_panel = pack and all(b in pat.a_dims for b in pat.batch)
    if pack and not pack_in_panel:
        handled.add(_pack(sch, block, pat.a_read, pat.a_dims, pat.i, pat.k, lanes, cpu, threads=parallel))
    loops = sch.get_loops(block)
    i0, i1 = sch.split(loops[pat.i], [None, lanes])
    j0, j1 = sch.split(loops[pat.j], [None, nc]) if nc < ext[pat.j] else (None, loops[pat.j])
    rows = [loops[b] for b in pat.batch] + [i0]
    outer = rows + ([j0] if j0 is not None else [])
    sch.reorder(*outer, loops[pat.k], j1, i1)
    if pack_in_panel:
        handled.add(_pack_panel_at(sch, block, pat.a_read, pat.a_dims, pat.i, pat.k, lanes, cpu, i0))
    copy = sch.cache_write(block, 0, "local")
    ndim = len(v.block.writes[0].region)
    names = [f"d{d}" for d in range(ndim)]
    swapped = list(names)
    swapped[row], swapped[col] = names[col], names[row]
    sch.transform_layout(block, ("write", 0), f"lambda {', '.join(names)}: ({', '.join(swapped)})")
    sch.reverse_compute_at(copy, outer[-1])
    handled.add(view(sch, copy).name)
    init = sch.decompose_reduction(block, loops[pat.k])
    finish_tile(sch, init, len(outer))
    finish_tile(sch, block, len(outer) + 1)
    i_loop, j_loop = sch.get_loops(copy)[-2:] if row < col else sch.get_loops(copy)[:-3:-1]
    sch.reorder(j_loop, i_loop)
    handled |= fuse_epilogue(sch, copy, outer[-1], len(outer))
    finish_tile(sch, copy, len(outer))
    if parallel:  # over rows only: the row panel of A is packed once per row tile
        parallel_tiles(sch, rows, [ext[b] for b in pat.batch] + [ext[pat.i] // lanes], cpu, math.prod(ext))
    return handled
