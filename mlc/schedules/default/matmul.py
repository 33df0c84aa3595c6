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
of a CPU of 32 vector registers (:data:`PACK_A_L3_SHARE`). On a CPU of 16 (AVX2), a
matmul that packs B goes in blocks of rows whose rows of A fill half the L2 cache instead,
A read as stored, the reduction unrolled (:data:`CACHE_BLOCK_SHARE`); A is packed there only
where the rows of a register tile, as stored, crowd one set of the L1 cache (the CPU's
associativity: :data:`SET_ROWS_WAYS_SHARE`). B is packed in
blocks of PACK_ROWS of its rows, each copied into every panel in turn.

Matmuls with more columns than a vector but not a multiple of one keep the
usual tile, its last column tile ragged: the row tiles go outside the column
tiles (threads split the rows), or for a large matmul the column panels alone
run on threads, so that :func:`~mlc.passes.tir.partition_tiles` peels the
ragged tile off its loop and :func:`~mlc.passes.tir.vectorize_loops` runs its
lanes in narrower vectors. A batch or a symbolic number of rows leaves no loop to
peel: there :func:`_schedule_narrow` turns the tile around, one accumulator
per column, each a vector of rows. Fewer columns than a vector need no
predicate: the register tile's row is one short vector (turned around, the
tile would transpose A and C through scalar stores). Threads wake only for
PARALLEL_MIN_MACS multiply-adds or more. What each choice was measured to gain
is in ``benchmarks/results/decisions.md`` (section "CPU matmul"), by the name
of its constant or decision function.

A symbolic number of rows or batch (``n = te.var("n")``) is tiled like
SYMBOLIC_EXTENT_ESTIMATE rows, its row tiles guarded (``T.where``) and its
outer loop on threads; the columns and the reduction must be constant.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ...ir import dtype as dt
from ...ir.expr import IntImm
from ...ir.functor import pre_order_nodes
from ...passes.tir.prefetch import PREFETCH_BYTES
from .int8 import schedule_int8_vnni
from .patterns import is_canonical, match_matmul, view
from .steps import (CACHE_LINE, CpuInfo, attempt, choose, estimated_extent, finish_tile, fuse_epilogue, parallel_depth,
                    parallel_loops, parallel_tiles, register_rows, row_tile_options, vector_split)

__all__ = ["schedule_matmul", "plan_matmul", "MatmulShape", "MatmulPlan", "ACCUMULATORS", "PACK_MIN_ROWS", "PACK_B_L2_SHARE", "SMALL_PACK_MIN_ROWS", "PACK_A_L3_SHARE",
           "PACK_A_MIN_PANELS", "ROW_BLOCK", "ROW_BLOCK_OPTIONS", "K_UNROLL_OPTIONS", "K_BLOCK_OPTIONS",
           "COL_BLOCK_OPTIONS",
           "ROW_BLOCKS_FROM", "PARALLEL_MIN_MACS", "MAX_NARROW_COLUMNS", "WIDE_TILE_REGISTERS",
           "RAGGED_MIN_VECTORS", "STREAM_K_STEPS", "WIDE_TILE_K_UNROLL", "CACHE_BLOCK_SHARE", "MIN_BLOCK_ROWS", "PACK_ROWS",
           "PANEL_PREFETCH_BYTES", "SET_ROWS_WAYS_SHARE", "STREAM_MAX_ROWS", "STREAM_PREFETCH_L1_SHARE"]

#: Vector registers of accumulators in the register tile: FMA latency (4 cycles) times
#: the FMA units (2), so every unit always has an independent accumulator to update.
ACCUMULATORS = 8
#: Packing B needs at least this many rows of A to reuse each panel.
PACK_MIN_ROWS = 16
#: ... and a B bigger than this share of the L2 cache: the rows of a B that stays in L2
#: stream into the kernel as fast as a packed panel, and small problems skip the copy.
PACK_B_L2_SHARE = 0.5
#: On a CPU of WIDE_TILE_REGISTERS vector registers, a B that fits in the L2 cache is packed
#: too, for the wide register tile, each column panel by the thread that computes it, when A
#: has at least this many rows and the threads share the panels evenly: the packed panel is
#: aligned where NumPy's arrays are not (16 or 32 bytes past a cache line, so that every
#: 64-byte load of B straddles two lines) and the wide tile loads less an FMA. With fewer
#: rows the copy does not pay, nor with panels the threads share unevenly. An output C
#: that is itself misaligned (a caller's NumPy array; mlc's own outputs of 64 KiB and more
#: are aligned) has a cache line across every panel boundary of every row, which both
#: threads write at the same time, and loses a little of the gain.
SMALL_PACK_MIN_ROWS = 128
#: A is packed into MR-row panels too when A and B together are larger than this share
#: of the L3 cache and each of A's panels serves at least PACK_A_MIN_PANELS column panels
#: of B. Below that, the hardware prefetchers stream the MR rows of a tile from the caches
#: as fast as from a panel, and the copy costs a pass over A; above it, every column panel
#: would stream all of A from memory again. Not for the wide register tile of a CPU of
#: WIDE_TILE_REGISTERS registers: its 6 rows stream as fast from A as stored, and a packed
#: A costs a pass over A, a copy of the micro-kernel for the ragged last row tile of a
#: padded panel, the code of the copy loops, and compile time.
PACK_A_L3_SHARE = 0.5
PACK_A_MIN_PANELS = 4
#: With packed A, rows go in blocks of about ROW_BLOCK when there are ROW_BLOCKS_FROM
#: blocks or more: a block of A (ROW_BLOCK x K) stays in the L2/L3 caches while
#: every column panel of B passes over it; B streams past once per block.
ROW_BLOCK = 512
ROW_BLOCKS_FROM = 2
#: A B stored with its columns contiguous is packed in blocks of this many of its rows,
#: each copied into every column panel in turn, instead of one column panel at a time
#: down all its rows: those read a cache line of every row, a row apart (a new page each,
#: that no prefetcher follows); 1024 x 1024 float32 took 4-5% of its AVX2 sgemm so.
PACK_ROWS = 8
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
#: A matmul of few rows whose B (unpacked) is larger than its L2 share reads B in blocks of
#: about this many of its rows, each block along its rows, column panel after column panel
#: (:func:`_streamed`): walking down one column panel, every step of the reduction is a row of
#: B apart, a new page that no prefetcher follows (8 x 4000 by 4000 x 2000 on one AVX-512
#: core: 3.5x faster, 1.9x NumPy's OpenBLAS).
STREAM_K_STEPS = 32
#: ... and a B larger than the L3 cache is streamed so, read as stored, instead of packed, up
#: to this many rows (fewer than): the matmul is bound by reading B from memory, and a pack
#: would write B and read it again; from 32 rows on (six AVX2 row tiles reusing each block of
#: a panel) the packed kernel's larger tiles win on some shapes, and so they do on a B that
#: the L3 holds, which the pack reads from there (benchmarks/results: the skinny matmul rows).
STREAM_MAX_ROWS = 32
#: ... and its reduction loop prefetches each row of B's block ahead along the row: as many
#: cache lines as keep the lines asked for of all the block's rows (one stream each, more
#: than the hardware prefetchers follow, each a row of B apart, a new page every 4 KiB)
#: within this share of the L1 data cache. Without the hints the streams wait on memory
#: (benchmarks/results: the skinny matmul prefetch rows).
STREAM_PREFETCH_L1_SHARE = 0.25
#: Matmuls whose columns no vector divides get one accumulator per column with vectors
#: down the rows, in tiles of up to this many columns.
MAX_NARROW_COLUMNS = 12
#: A matmul large enough to pack B gets a register tile four vectors wide and as many rows
#: as the registers hold (6 rows, 24 accumulators with 32 registers) on CPUs with at least
#: this many vector registers: each step of the reduction loads 4 vectors of B and
#: broadcasts 6 values of A for 24 FMAs (0.42 loads an FMA, against 0.63 for 8 rows of 2
#: vectors). Its reduction loop is unrolled by WIDE_TILE_K_UNROLL where that divides it:
#: llvm-mca has the step issue at one cycle per two FMAs either way, but on Intel's AVX-512
#: cores the loop's own instructions cost 7-13% (on Zen 5 nothing); the other tiles are not
#: unrolled (a design space may: K_UNROLL_OPTIONS), the unrolled loop costing compile time.
WIDE_TILE_REGISTERS = 32
WIDE_TILE_K_UNROLL = 4
#: A large matmul whose columns no vector divides keeps the usual register tile, its last
#: panel ragged, from this many vectors of columns (fewer: vectors down the rows).
RAGGED_MIN_VECTORS = 4
#: On a CPU of fewer than WIDE_TILE_REGISTERS vector registers (AVX2's 6 x 16 tile), a
#: matmul that packs B goes in blocks of rows (:func:`_cache_rows`) whose block of A (the
#: rows by all of K) fills about this share of the L2 cache: it stays there while every
#: column panel of B passes over it, each panel staying in L2 while every row tile of the
#: block passes over it. The rows stream from A as it is stored (A is not packed: from L2
#: its 6 rows stream as fast as a packed panel, and the copy costs a pass over A; but see
#: SET_ROWS_WAYS_SHARE), and the
#: reduction loop is unrolled WIDE_TILE_K_UNROLL times (measured: benchmarks/results/decisions.md).
CACHE_BLOCK_SHARE = 0.5
#: ... in blocks of at least this many rows (rounded down to whole row tiles): each block
#: streams every column panel of B from L3 or memory again, the panel's first row tile
#: waiting on it: small blocks (half of a 256 KiB L2 holds 60 rows) measured slower
#: (benchmarks/results/decisions.md).
MIN_BLOCK_ROWS = 256
#: ... and the reduction loop prefetches the packed panel of B this many bytes ahead (16
#: steps of a 16-float panel; :mod:`mlc.passes.tir.prefetch`): from L2, the hardware
#: prefetchers fetch its lines too late now and then.
PANEL_PREFETCH_BYTES = 1024
#: ... but A is packed into MR-row panels after all where the MR rows of the register tile,
#: as A stores them, fall into one set of the L1 data cache more often than this share of
#: its ways (:func:`_rows_share_l1_sets`; the CPU's associativity, :attr:`CpuInfo.l1_ways`):
#: rows a multiple of the L1's way (its size over its ways: 4 KiB on 8-way 32 KiB and 12-way
#: 48 KiB caches alike) apart, as a 1024- or 2048-column float32 A's are, put their lines of
#: every step in one set, beside the lines the prefetchers bring and those of the panel of B;
#: 6 rows overflow half of an 8-way L1 (Zen 3, Haswell to Skylake) and not half of a 12-way
#: one (Ice Lake and later), where A as stored measured faster.
SET_ROWS_WAYS_SHARE = 0.5


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
    panels, whose last panel a ragged tile pads. With 32 (AVX-512,
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


def _cache_rows(s: MatmulShape, mr: int, cpu: CpuInfo) -> int:
    """Rows per block of a matmul that packs B on a CPU of fewer than WIDE_TILE_REGISTERS
    registers: whole row tiles, about as many as fill the L2 share (CACHE_BLOCK_SHARE) with
    their rows of A, at least MIN_BLOCK_ROWS, as many tiles in every block, a multiple of
    the cores' blocks (threads that take whole blocks take as many each; 0: one block, for
    fewer than ROW_BLOCKS_FROM blocks' rows).

    >>> s = MatmulShape(1024, 1024, 1024, 8, True, (), False, True, True, 1 << 22, 1 << 22, 1 << 30)
    >>> _cache_rows(s, 6, CpuInfo(256, 1, caches=(48 << 10, 2 << 20, 0)))  # 2 MiB of L2: 5 blocks of 35 tiles
    210
    >>> _cache_rows(s, 6, CpuInfo(256, 1))  # 256 KiB: 32 rows' worth, 256 at least: 5 blocks of 35 tiles
    210
    """
    row_bytes = max(1, s.a_bytes // max(1, s.m))
    rows = max(int(CACHE_BLOCK_SHARE * cpu.l2_bytes) // row_bytes, MIN_BLOCK_ROWS) // mr * mr
    if s.m < ROW_BLOCKS_FROM * rows or rows < mr:
        return 0
    tiles = -(-s.m // mr)
    blocks = -(-tiles // (rows // mr))
    blocks = -(-blocks // max(1, cpu.cores)) * max(1, cpu.cores)  # the threads' even shares of blocks
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
    copy block's name. The copy writes each panel contiguously, on all cores; a source
    stored with ``t`` contiguous is read PACK_ROWS rows at a time (:data:`PACK_ROWS`)."""
    copy = sch.cache_read(block, read, "global")
    ndim = len(dims)
    pt, pk = _panel_layout(sch, block, read, dims, tiled, k, tile)
    name = view(sch, copy).name
    loops = sch.get_loops(copy)
    outer, inner = sch.split(loops[pt], [None, tile])
    others = [loops[d] for d in range(ndim) if d not in (pt, pk)]
    order = others + [outer, loops[pk], inner]
    lanes = cpu.lanes(view(sch, copy).block.writes[0].buffer.dtype)
    k_extent = view(sch, copy).block.iter_vars[pk].dom.extent
    rows = PACK_ROWS if pt == ndim - 1 and isinstance(k_extent, IntImm) and k_extent.value > PACK_ROWS \
        and k_extent.value % PACK_ROWS == 0 else 0
    if rows:  # blocks of rows of the source, each copied panel after panel
        k_outer, k_inner = sch.split(loops[pk], [None, rows])
        order = others + [k_outer, outer, k_inner, inner]
    sch.reorder(*order)
    if pk == ndim - 1 and tile <= 2 * lanes and isinstance(k_extent, IntImm):
        attempt(sch, _transpose_panel, loops[pk], inner, k_extent.value, lanes)
    else:
        kind = (lambda s: s.vectorize(inner)) if tile >= lanes else (lambda s: s.unroll(inner))
        attempt(sch, lambda s: kind(s) or True)
    if threads and cpu.cores > 1:
        par = order[:-3] if rows else order[:-2]
        attempt(sch, lambda s: s.parallel(par[0] if len(par) == 1 else s.fuse(*par)) or True)
    return name


@dataclass(frozen=True)
class MatmulShape:
    """What the decisions read of a matmul-like block (extents estimated where symbolic)."""
    m: int  #: rows (1 without a row axis)
    n: int  #: columns
    k: int  #: reduction length
    lanes: int  #: vector lanes of the output dtype
    has_rows: bool  #: whether the block has a row axis (not a vector-matrix product)
    batch_extents: tuple[int, ...]  #: the batch axes' extents
    rows_symbolic: bool  #: the rows known only at call time
    b_contiguous: bool  #: B stored with its columns contiguous
    b_batched: bool  #: every batch axis indexes B (packing B per panel packs each batch's own)
    a_bytes: int
    b_bytes: int
    work: int  #: multiply-adds
    a_row_stride: int = 0  #: bytes from one row of A to the next as stored (0: not constant)

    @property
    def batch(self) -> bool:
        return bool(self.batch_extents)

    @property
    def peel(self) -> bool:
        """Whether a ragged column tile can be peeled off its loop (no batch, constant rows)."""
        return not self.batch and not self.rows_symbolic


@dataclass(frozen=True)
class MatmulPlan:
    """The choices of the default rules (or of a design space) for one matmul, each named;
    :func:`plan_matmul` makes them, :func:`_apply_plan` schedules them."""
    pack: bool  #: B packed into NR-wide column panels
    small_pack: bool  #: ... a B that fits in L2, for the wide tile (SMALL_PACK_MIN_ROWS)
    ragged: bool  #: the last column panel ragged, peeled off its loop (RAGGED_MIN_VECTORS)
    nr: int  #: columns of the register tile
    mr: int  #: rows of the register tile
    wide: int  #: NR-wide column tiles per register tile (a matrix-vector product's)
    pack_a: bool  #: A packed into MR-row panels (PACK_A_L3_SHARE)
    block_rows: int  #: rows per block of rows
    row_blocks: int  #: blocks of rows (1: none; ROW_BLOCK)
    rows_first: bool  #: the row tiles outside the column tiles, threads over the rows
    col_block: int  #: column panels per group (0: no groups; a design space's)
    k_block: int  #: reduction steps per block (0: not blocked; a design space's)
    depth: int  #: outer loops fused onto threads
    pack_in_panel: bool  #: each panel of B packed inside its iteration of the panel loop
    k_unroll: int  #: unroll factor of the reduction loop
    stream: int = 0  #: reduction steps per block with the column panels inside (0: none; STREAM_K_STEPS)
    prefetch: int = 0  #: bytes ahead the reduction loop prefetches B: the packed panel (PANEL_PREFETCH_BYTES), or
    #: a streamed block's rows (STREAM_PREFETCH_L1_SHARE); 0: none


def _default_pack(s: MatmulShape, cpu: CpuInfo) -> tuple[bool, bool]:
    """(pack B, whether only for the wide tile): B larger than its L2 share, or stored with
    its columns strided (PACK_MIN_ROWS, PACK_B_L2_SHARE); else, on a CPU of
    WIDE_TILE_REGISTERS registers, a B in L2 that the threads' panels share evenly."""
    pack = s.m >= PACK_MIN_ROWS and (s.b_bytes > PACK_B_L2_SHARE * cpu.l2_bytes or not s.b_contiguous) \
        and not (s.m < STREAM_MAX_ROWS and s.b_bytes > cpu.caches[2] and _streamable(s, cpu))
    small_pack = not pack and s.has_rows and s.peel and s.b_contiguous \
        and cpu.vector_registers >= WIDE_TILE_REGISTERS and s.m >= SMALL_PACK_MIN_ROWS \
        and s.n % (4 * s.lanes) == 0 and s.n // (4 * s.lanes) % max(cpu.cores, 1) == 0
    return pack or small_pack, small_pack


def _wide_tile(s: MatmulShape, pack: bool, cpu: CpuInfo) -> bool:
    """The register tile four vectors wide (WIDE_TILE_REGISTERS)."""
    return pack and s.has_rows and not s.rows_symbolic and cpu.vector_registers >= WIDE_TILE_REGISTERS


def _ragged(s: MatmulShape, pack: bool, tile_width: int) -> bool:
    """A packed matmul whose columns the full register tile does not divide keeps that tile:
    partition_tiles peels its last, ragged column panel off the panel loop (threads split
    the panels only) and vectorize_loops runs that panel in narrower vectors."""
    return pack and s.peel and s.has_rows and s.b_contiguous and bool(s.n % tile_width) \
        and s.n >= RAGGED_MIN_VECTORS * s.lanes


def _cache_blocked(s: MatmulShape, pack: bool, wide_tile: bool, nr: int, mr: int, cpu: CpuInfo) -> bool:
    """Whether the default blocks the rows for the L2 cache, A unpacked, the reduction
    unrolled (:data:`CACHE_BLOCK_SHARE`): B packed, a CPU of fewer than WIDE_TILE_REGISTERS
    registers, no batch, known rows, more than one column panel and row tile."""
    return pack and not wide_tile and cpu.vector_registers < WIDE_TILE_REGISTERS and s.has_rows and \
        not s.rows_symbolic and not s.batch and nr < s.n and mr < s.m


def _rows_share_l1_sets(s: MatmulShape, mr: int, cpu: CpuInfo) -> bool:
    """Whether the ``mr`` rows of A that a register tile broadcasts from, ``s.a_row_stride``
    bytes apart as stored, fall into one set of the L1 data cache more often than
    SET_ROWS_WAYS_SHARE of its ways (False where the associativity or the stride is unknown).

    >>> s = MatmulShape(1024, 1024, 1024, 8, True, (), False, True, True, 1 << 22, 1 << 22, 1 << 30, 4096)
    >>> _rows_share_l1_sets(s, 6, CpuInfo(256, 1, caches=(32 << 10, 512 << 10, 32 << 20), l1_ways=8))
    True
    >>> _rows_share_l1_sets(s, 6, CpuInfo(256, 1, caches=(48 << 10, 2 << 20, 32 << 20), l1_ways=12))
    False
    """
    if cpu.l1_ways <= 0 or s.a_row_stride <= 0 or mr < 2:
        return False
    return cpu.l1_set_lines(mr, [s.a_row_stride]) > SET_ROWS_WAYS_SHARE * cpu.l1_ways


def _default_pack_a(s: MatmulShape, pack: bool, mr: int, nr: int, wide_tile: bool, cpu: CpuInfo) -> bool:
    """Pack A too: A and B beyond their L3 share, each row panel serving enough column
    panels, not for the wide tile (PACK_A_L3_SHARE, PACK_A_MIN_PANELS)."""
    return pack and s.has_rows and mr > 1 and s.n >= PACK_A_MIN_PANELS * nr and not wide_tile and \
        s.a_bytes + s.b_bytes > PACK_A_L3_SHARE * cpu.caches[2] and not s.rows_symbolic


def _rows_first(s: MatmulShape, pack: bool, wide: int, nr: int, mr: int, row_blocks: int) -> bool:
    """Columns that no tile divides, B not packed: the row tiles go outside the column tiles
    and threads split the rows alone, so that partition_tiles peels the ragged column tile
    off each row tile's column loop (a loop fused with the rows has no tile to peel)."""
    return s.rows_symbolic or (not pack and s.has_rows and not s.batch and wide == 1
                               and nr < s.n and s.n % nr != 0 and mr < s.m and row_blocks == 1)


def _outer_extents(s: MatmulShape, nr: int, mr: int, wide: int, block_rows: int, row_blocks: int,
                   rows_first: bool) -> list[int]:
    """The extents of the loops outside the reduction, outermost first: batch, row blocks,
    column panels, row tiles (the row tiles before the panels where ``rows_first``)."""
    outer = list(s.batch_extents) + ([row_blocks] if row_blocks > 1 else []) + \
        ([-(-s.n // (nr * wide))] if nr * wide < s.n else []) + \
        ([-(-min(s.m, block_rows if row_blocks > 1 else s.m) // mr)]
         if s.has_rows and (mr < s.m or s.rows_symbolic) else [])
    if rows_first:
        row_tiles = outer.pop()
        outer.insert(len(s.batch_extents), row_tiles)
    return outer


def plan_matmul(sch, s: MatmulShape, cpu: CpuInfo) -> MatmulPlan | None:
    """The choices for a matmul of shape ``s``: the default rules', or where ``cpu.knobs`` is
    set, a design space's (each open choice through :func:`~.steps.choose`, in this order).
    None where B must be packed but may not be (a design space's)."""
    rows_known = s.has_rows and not s.rows_symbolic
    pack, small_pack = _default_pack(s, cpu)
    pack = bool(choose(sch, cpu, "matmul.pack_b", [1, 0] if s.b_contiguous else [1], int(pack)))
    if not pack and not s.b_contiguous:
        return None
    wide_tile = _wide_tile(s, pack, cpu)
    tile_width = (4 if wide_tile else 2) * s.lanes
    ragged = _ragged(s, pack, tile_width)
    nr = tile_width if ragged else _column_tile(s.n, s.lanes, wide_tile, s.peel and not pack)
    nr = choose(sch, cpu, "matmul.nr", _column_options(s.n, s.lanes), nr)
    mr = min(_row_tile(nr, s.lanes, s.m, cpu), s.m)
    pack_a = _default_pack_a(s, pack, mr, nr, wide_tile, cpu)
    if rows_known:
        mr = choose(sch, cpu, "matmul.mr", row_tile_options(-(-nr // s.lanes), s.m, cpu), mr)
    wide = 1 if pack else _wide_columns(s.n, nr, mr, s.lanes)
    blocked = _cache_blocked(s, pack, wide_tile, nr, mr, cpu)
    # (ragged: its loops fused on threads, no panel to peel); a blocked A is packed only where
    # the rows of a tile, as stored, crowd one set of the L1 cache (SET_ROWS_WAYS_SHARE)
    pack_a = not ragged and (_rows_share_l1_sets(s, mr, cpu) and s.n >= PACK_A_MIN_PANELS * nr if blocked
                             else pack_a)
    if rows_known and mr > 1 and not ragged:
        pack_a = bool(choose(sch, cpu, "matmul.pack_a", [0, 1], int(pack_a)))
    block_rows = _row_block(s.m, mr)
    row_blocks = -(-s.m // block_rows) if pack_a and s.m >= ROW_BLOCKS_FROM * ROW_BLOCK else 1
    cache_rows = _cache_rows(s, mr, cpu) if blocked else 0
    if cache_rows:
        block_rows, row_blocks = cache_rows, -(-s.m // cache_rows)
    if rows_known:  # a design space: blocks of rows of any size
        options = [0] + [r // mr * mr for r in ROW_BLOCK_OPTIONS if mr <= r // mr * mr < s.m]
        block_rows = choose(sch, cpu, "matmul.row_block", options, block_rows if row_blocks > 1 else 0) or s.m
        row_blocks = -(-s.m // block_rows)
    rows_first = _rows_first(s, pack, wide, nr, mr, row_blocks)
    outer_extents = _outer_extents(s, nr, mr, wide, block_rows, row_blocks, rows_first)
    # With blocks of rows, a design space may group the column panels too (NC): every block
    # of rows passes over one group of panels of B (kept in cache) before the next group.
    col_block = 0
    n_panels = -(-s.n // nr) if nr < s.n and wide == 1 else 0
    if row_blocks > 1 and n_panels >= 4:
        col_block = choose(sch, cpu, "matmul.col_block",
                           [0] + [g for g in COL_BLOCK_OPTIONS if g < n_panels and n_panels % g == 0], 0)
    if col_block:  # batch, column groups, row blocks, panels of a group, row tiles
        at = len(s.batch_extents)
        outer_extents[at:at + 2] = [n_panels // col_block, row_blocks, col_block]
    # A design space may block the reduction too (KC): the loop over its blocks goes between
    # the column panels and the row tiles, and the accumulators of a whole panel of C live
    # in a local buffer above it (each tile's accumulators in registers for one block).
    k_block = 0
    if s.has_rows and not rows_first and wide == 1 and nr < s.n and mr < s.m:
        k_block = choose(sch, cpu, "matmul.k_block", [0] + [c for c in K_BLOCK_OPTIONS if c < s.k and s.k % c == 0], 0)
    if k_block:
        outer_extents = outer_extents[:-1]  # the row tiles are inside the reduction's blocks
    depth = parallel_depth(outer_extents, cpu, s.work) if s.work >= PARALLEL_MIN_MACS else 0
    if ragged or (rows_first and not s.rows_symbolic):
        depth = min(depth, 1)  # threads over the column panels, or the row tiles, alone
    elif cpu.cores > 1:
        if small_pack and pack:  # threads over the panels, each packing its own
            depth = min(depth, len(s.batch_extents) + 1)
        depth = choose(sch, cpu, "parallel_depth", range(len(outer_extents) + 1), depth)
    # Each column panel of B is packed inside its own iteration of the panel loop (on the
    # thread that uses it, while it is hot in cache) when the threads split no finer
    # than panels and no row blocks or batch axes B lacks would pack it again.
    pack_in_panel = pack and nr < s.n and row_blocks == 1 and depth <= len(s.batch_extents) + 1 and \
        s.b_batched and not s.rows_symbolic
    if pack_in_panel:
        pack_in_panel = bool(choose(sch, cpu, "matmul.pack_in_panel", [1, 0], 1))
    k_inner = k_block or s.k
    unrolls = [u for u in K_UNROLL_OPTIONS if k_inner % u == 0 and u < k_inner]
    k_unroll = max((u for u in unrolls if u <= WIDE_TILE_K_UNROLL), default=1) if wide_tile or blocked else 1
    k_unroll = choose(sch, cpu, "matmul.k_unroll", unrolls, k_unroll)
    stream = 0
    if _streams_b(s, pack, ragged, nr, wide, mr, row_blocks, rows_first, col_block, k_block, cpu):
        stream = choose(sch, cpu, "matmul.stream", [0, *(c for c in K_BLOCK_OPTIONS if c < s.k)],
                        _stream_steps(s.k))
        k_unroll = 1 if stream else k_unroll
    if stream:  # each row of B's block prefetched along the row (STREAM_PREFETCH_L1_SHARE)
        ahead = _stream_prefetch(stream, cpu)
        prefetch = choose(sch, cpu, "matmul.prefetch", [0, ahead], ahead)
    else:
        prefetch = choose(sch, cpu, "matmul.prefetch", [0, PANEL_PREFETCH_BYTES], PANEL_PREFETCH_BYTES if blocked else 0)
    return MatmulPlan(pack=pack, small_pack=small_pack, ragged=ragged, nr=nr, mr=mr, wide=wide, pack_a=pack_a,
                      block_rows=block_rows, row_blocks=row_blocks, rows_first=rows_first, col_block=col_block,
                      k_block=k_block, depth=depth, pack_in_panel=pack_in_panel, k_unroll=k_unroll, stream=stream,
                      prefetch=prefetch)


def _stream_shape(s: MatmulShape, cpu: CpuInfo) -> bool:
    """What :func:`_streams_b` asks of the shape: one matrix, known rows, B stored with its
    columns contiguous and larger than its L2 share, and a reduction of several blocks."""
    return (not s.rows_symbolic and not s.batch_extents and s.b_contiguous
            and s.b_bytes > PACK_B_L2_SHARE * cpu.l2_bytes and s.k >= 4 * STREAM_K_STEPS)


def _streamable(s: MatmulShape, cpu: CpuInfo) -> bool:
    """:func:`_stream_shape`, with columns that two vectors divide, more than one register
    tile of them: what :func:`_streams_b` asks before the plan's tiles are chosen."""
    return _stream_shape(s, cpu) and s.n % (2 * s.lanes) == 0 and s.n > 2 * s.lanes


def _stream_prefetch(steps: int, cpu: CpuInfo) -> int:
    """Bytes ahead along each row of B a streamed block of ``steps`` rows prefetches: whole
    cache lines, as many as keep all the rows' lines in flight within the L1 share
    (STREAM_PREFETCH_L1_SHARE), one at least.

    >>> _stream_prefetch(30, CpuInfo(256, 2, caches=(32 << 10, 512 << 10, 32 << 20)))
    256
    >>> _stream_prefetch(32, CpuInfo(512, 2, caches=(48 << 10, 2 << 20, 32 << 20)))
    384
    """
    lines = int(STREAM_PREFETCH_L1_SHARE * cpu.caches[0]) // (max(1, steps) * CACHE_LINE)
    return max(1, lines) * CACHE_LINE


def _streams_b(s: MatmulShape, pack: bool, ragged: bool, nr: int, wide: int, mr: int, row_blocks: int,
               rows_first: bool, col_block: int, k_block: int, cpu: CpuInfo) -> bool:
    """A matmul of few rows (too few to pack B: PACK_MIN_ROWS; or a vector-matrix product)
    whose B, unpacked, is larger than its L2 share: its column panels go inside blocks of the
    reduction (STREAM_K_STEPS), and the row tiles inside the panels, so that every row tile
    reuses the block of the panel from the L1 cache and B is read from memory once."""
    return (not pack and not ragged and s.n % nr == 0 and nr * wide < s.n and row_blocks == 1
            and not rows_first and not col_block and not k_block and _stream_shape(s, cpu))


def _stream_steps(k: int) -> int:
    """Reduction steps per block of a streamed B: the most up to STREAM_K_STEPS that divide
    ``k`` (a ragged block puts a predicate in the register tile), else STREAM_K_STEPS."""
    return next((d for d in range(STREAM_K_STEPS, STREAM_K_STEPS // 4 - 1, -1) if k % d == 0), STREAM_K_STEPS)


def _streamed(sch, block, name: str, pat, s: MatmulShape, plan: MatmulPlan, cpu: CpuInfo) -> set[str]:
    """Few rows, a large B read as it is stored: blocks of ``plan.stream`` rows of B, and in
    each the column panels one after another, so that B is read along its rows (a few
    streams, one per row of the block, that the prefetchers follow) instead of down each
    column panel (a row of B apart at every step: a new page, no prefetch)::

        for j_c in T.parallel(threads):            # the columns, split between the threads
            C_local[:, chunk] = 0
            for k_0 in range(K / KC):
                for j_0 in range(panels of the chunk):
                    for i_0 in range(M / MR):       # the row tiles (one where MR = M), each
                        for k_1 in range(KC):       # reading the block of the panel from L1,
                                                    # each row's line plan.prefetch bytes on asked for
                            for i_1 in T.unroll(MR):  # the register tile, its accumulators
                                for j_1 in T.vectorized(NR):  # loaded and stored once a block
                                    C_local[i, j] += A[i, k] * B[k, j]
            C[:, chunk] = epilogue(C_local[:, chunk])
    """
    handled = {name}
    copy = sch.cache_write(block, 0, "local")
    loops = sch.get_loops(block)
    i0, i1 = None, (loops[pat.i] if s.has_rows else None)
    if s.has_rows and plan.mr < s.m:
        i0, i1 = sch.split(i1, [None, plan.mr])
    ju = None
    if plan.wide > 1:
        j0, ju, j1 = sch.split(loops[pat.j], [None, plan.wide, plan.nr])
    else:
        j0, j1 = sch.split(loops[pat.j], [None, plan.nr])
    panels = -(-s.n // (plan.nr * plan.wide))
    threads = cpu.cores if plan.depth and panels >= 2 * cpu.cores else 1
    jc = None
    if threads > 1:
        jc, j0 = sch.split(j0, [threads, None])
    k0, k1 = sch.split(loops[pat.k], [None, plan.stream])
    if plan.prefetch:
        sch.annotate(k1, PREFETCH_BYTES, plan.prefetch)
    outer = [jc] if jc is not None else []
    tiles = [k0, j0] + ([i0] if i0 is not None else []) + [k1]
    sch.reorder(*outer, *tiles, *(rv for rv in (i1, ju, j1) if rv is not None))
    if outer:
        sch.reverse_compute_at(copy, outer[-1])
    handled.add(view(sch, copy).name)
    init = sch.decompose_reduction(block, k0)
    finish_tile(sch, init, len(outer))
    finish_tile(sch, copy, len(outer))
    handled |= fuse_epilogue(sch, copy, outer[-1], len(outer)) if outer else set()
    finish_tile(sch, block, len(outer) + len(tiles))
    if ju is not None and i1 is not None:
        attempt(sch, lambda sc: sc.unroll(i1) or True)
    parallel_loops(sch, outer)
    return handled


def schedule_matmul(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """Register-tile a matmul-like block (see the module docstring); None if it is not one."""
    vnni = schedule_int8_vnni(sch, func_name, name, cpu)
    if vnni is not None:
        return vnni
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    pat = match_matmul(v)
    if pat is None or not is_canonical(v):
        return None
    # symbolic extents (a batch known at call time) are allowed on the rows and batch axes:
    # the tiles are chosen for SYMBOLIC_EXTENT_ESTIMATE rows, the row tiles guarded
    symbolic = {d for d, iv in enumerate(v.block.iter_vars) if not isinstance(iv.dom.extent, IntImm)}
    if symbolic - {pat.i, *pat.batch}:
        return None
    ext = [estimated_extent(iv.dom.extent) for iv in v.block.iter_vars]
    lanes = cpu.lanes(v.block.writes[0].buffer.dtype)
    m = ext[pat.i] if pat.i is not None else 1
    n, k = ext[pat.j], ext[pat.k]
    s = MatmulShape(m=m, n=n, k=k, lanes=lanes, has_rows=pat.i is not None,
                    batch_extents=tuple(ext[b] for b in pat.batch), rows_symbolic=pat.i in symbolic,
                    b_contiguous=pat.b_contiguous(), b_batched=all(b in pat.b_dims for b in pat.batch),
                    a_bytes=m * k * dt.bits(v.block.reads[pat.a_read].buffer.dtype) // 8,
                    b_bytes=n * k * dt.bits(v.block.reads[pat.b_read].buffer.dtype) // 8, work=math.prod(ext),
                    a_row_stride=_row_stride(v.block.reads[pat.a_read].buffer, pat))
    # vectors down the rows: a whole vector, or half of one, that divides the rows
    row_lanes = None if s.rows_symbolic else \
        next((w for w in (lanes, lanes // 2) if w >= 2 and m % w == 0), None)
    # Other columns that no vector divides keep the usual tile too where the column loop can
    # be peeled (no batch, constant rows or none: see _rows_first): vectors down the rows
    # only for batches and symbolic rows (benchmarks/results/cpu_schedule_decisions.md).
    nc = _narrow_columns(n, lanes) if s.has_rows and row_lanes and not s.peel else None
    if nc is not None:
        return _schedule_narrow(sch, block, pat, ext, cpu, row_lanes, nc, math.prod(ext) >= PARALLEL_MIN_MACS)
    plan = plan_matmul(sch, s, cpu)
    return None if plan is None else _apply_plan(sch, block, name, pat, s, plan, cpu)


def _row_stride(buffer, pat) -> int:
    """Bytes from one row of A (``buffer``, indexed as ``pat.a_dims`` says) to the next as
    stored: the product of the extents after the row's dimension; 0 where A has no row
    dimension, an extent after it is not constant, or its layout is not dense."""
    if pat.i is None or pat.i not in pat.a_dims or getattr(buffer, "strides", None):
        return 0
    stride = dt.bits(buffer.dtype) // 8
    for extent in buffer.shape[pat.a_dims.index(pat.i) + 1:]:
        if not isinstance(extent, IntImm):
            return 0
        stride *= extent.value
    return stride


def _apply_plan(sch, block, name: str, pat, s: MatmulShape, plan: MatmulPlan, cpu: CpuInfo) -> set[str]:
    """Schedule the matmul ``block`` as ``plan`` says: packs, splits, order, threads."""
    nr, mr, wide, depth = plan.nr, plan.mr, plan.wide, plan.depth
    if plan.stream:
        return _streamed(sch, block, name, pat, s, plan, cpu)
    handled = {name}
    if plan.pack and not plan.pack_in_panel:
        handled.add(_pack(sch, block, pat.b_read, pat.b_dims, pat.j, pat.k, nr, cpu, threads=depth > 0))
    if plan.pack_a:
        handled.add(_pack(sch, block, pat.a_read, pat.a_dims, pat.i, pat.k, mr, cpu, threads=depth > 0))
    loops = sch.get_loops(block)
    j0, ju, j1 = None, None, loops[pat.j]
    if wide > 1 and nr * wide < s.n:
        j0, ju, j1 = sch.split(loops[pat.j], [None, wide, nr])
    elif wide > 1:
        ju, j1 = sch.split(loops[pat.j], [wide, nr])
    elif nr < s.n:
        j0, j1 = sch.split(loops[pat.j], [None, nr])
    jc = None
    if plan.col_block:
        jc, j0 = sch.split(j0, [None, plan.col_block])
    ic = None
    if plan.row_blocks > 1:
        ic, i0, i1 = sch.split(loops[pat.i], [None, plan.block_rows // mr, mr])
    elif s.has_rows and (mr < s.m or s.rows_symbolic):
        i0, i1 = sch.split(loops[pat.i], [None, mr])
    else:
        i0, i1 = None, (loops[pat.i] if s.has_rows else None)
    batch = [loops[b] for b in pat.batch]
    outer = [rv for rv in batch + ([i0, j0] if plan.rows_first else [jc, ic, j0, i0]) if rv is not None]
    inner = [rv for rv in (i1, ju, j1) if rv is not None]
    k_loops = [loops[pat.k]]
    if plan.k_block:
        k_loops = list(sch.split(loops[pat.k], [None, plan.k_block]))
    if plan.k_unroll > 1:
        k_loops[-1:] = sch.split(k_loops[-1], [None, plan.k_unroll])
    if plan.k_block:
        return handled | _blocked_reduction(sch, block, outer, k_loops, inner, depth, plan.pack_in_panel, pat, nr,
                                            cpu)
    sch.reorder(*outer, *k_loops, *inner)
    if plan.prefetch:
        sch.annotate(k_loops[0], PREFETCH_BYTES, plan.prefetch)
    if plan.pack_in_panel:
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
        attempt(sch, lambda sc: sc.unroll(i1) or True)
    if len(k_loops) > 1:
        attempt(sch, lambda sc: sc.unroll(k_loops[1]) or True)
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
