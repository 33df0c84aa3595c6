"""The default matmul rules as named decisions: plan_matmul's choices for a shape, read
without scheduling, hold the rules' promises, and the schedule built from them computes
NumPy's product."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.schedules.default.matmul import (PACK_MIN_ROWS, STREAM_MAX_ROWS, WIDE_TILE_K_UNROLL, WIDE_TILE_REGISTERS,
                                          MatmulShape, plan_matmul)
from mlc.schedules.default.steps import CpuInfo

AVX512 = CpuInfo(vector_bits=512, cores=2)
AVX2 = CpuInfo(vector_bits=256, cores=1)


def _shape(m, n, k, lanes, batch=(), b_contiguous=True, rows_symbolic=False):
    return MatmulShape(m=m, n=n, k=k, lanes=lanes, has_rows=m > 1, batch_extents=tuple(batch),
                       rows_symbolic=rows_symbolic, b_contiguous=b_contiguous, b_batched=True,
                       a_bytes=4 * m * k, b_bytes=4 * n * k, work=int(np.prod(batch or [1])) * m * n * k)


def test_a_large_matmul_on_avx512_packs_b_for_the_wide_tile():
    plan = plan_matmul(None, _shape(1024, 1024, 1024, 16), AVX512)
    assert plan.pack and not plan.pack_a and plan.nr == 4 * 16 and plan.mr == 6
    assert plan.depth >= 1 and plan.k_unroll == WIDE_TILE_K_UNROLL and not plan.ragged
    assert plan_matmul(None, _shape(1024, 1024, 1022, 16), AVX512).k_unroll == 2  # the most that divides k
    assert plan_matmul(None, _shape(128, 64, 256, 8), AVX2).k_unroll == 1  # not an AVX2 tile on B as stored


@pytest.mark.parametrize("m, k, l2, rows", [(1024, 1024, 256 << 10, 174), (2048, 2048, 256 << 10, 210),
                                            (1000, 1000, 1 << 20, 252), (4096, 1024, 2 << 20, 228)])
def test_a_large_avx2_matmul_blocks_its_rows_for_the_l2_cache(m, k, l2, rows):
    """16 registers, B packed: blocks of rows whose rows of A fill about half the L2, at
    least MIN_BLOCK_ROWS (256; 1024 rows of 4 KiB in 2 MiB: 42 tiles of 6), as many row
    tiles in each, an even number of blocks for the 2 cores (1024 rows: 6 blocks of 29
    tiles, not 5 of 35; 4096: 18 of 38, not 17 of 41), A as stored, the reduction unrolled."""
    cpu = CpuInfo(vector_bits=256, cores=2, caches=(32 << 10, l2, 8 << 20))
    plan = plan_matmul(None, _shape(m, 1024, k, 8), cpu)
    assert plan.pack and not plan.pack_a and (plan.nr, plan.mr) == (16, 6) and plan.k_block == 0
    assert plan.block_rows == rows and plan.row_blocks == -(-m // rows) and plan.k_unroll == WIDE_TILE_K_UNROLL
    assert plan.depth >= 1 and not plan.pack_in_panel


def test_a_small_matmul_runs_on_b_as_stored():
    plan = plan_matmul(None, _shape(64, 48, 80, 8), AVX2)
    assert not plan.pack and plan.nr in (8, 16, 48) and plan.depth == 0


def test_a_b_in_l2_is_packed_for_the_wide_tile_each_panel_by_its_thread():
    plan = plan_matmul(None, _shape(128, 128, 128, 16), AVX512)  # SMALL_PACK_MIN_ROWS rows
    assert plan.pack and plan.small_pack and plan.nr == 64 and plan.depth <= 1
    assert not plan_matmul(None, _shape(64, 128, 128, 16), AVX512).pack  # fewer rows: as stored


def test_ragged_columns_of_a_packed_matmul_keep_the_full_tile():
    plan = plan_matmul(None, _shape(1000, 1000, 1000, 16), AVX512)
    assert plan.pack and plan.ragged and plan.nr == 64 and plan.depth <= 1


def test_a_b_stored_across_its_columns_must_be_packed():
    plan = plan_matmul(None, _shape(PACK_MIN_ROWS, 64, 64, 8, b_contiguous=False), AVX2)
    assert plan.pack


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 300), n=st.integers(1, 300), k=st.integers(1, 300),
       lanes=st.sampled_from([4, 8, 16]), cores=st.sampled_from([1, 2, 8]))
def test_every_plan_keeps_the_rules_promises(m, n, k, lanes, cores):
    cpu = CpuInfo(vector_bits=lanes * 32, cores=cores)
    plan = plan_matmul(None, _shape(m, n, k, lanes), cpu)
    assert 1 <= plan.mr <= m and 1 <= plan.nr and plan.wide >= 1
    assert plan.nr * plan.wide <= max(n, plan.nr)
    assert not plan.pack_a or plan.pack  # A is packed only beside a packed B
    assert not plan.ragged or (plan.pack and n % plan.nr)
    assert plan.nr == 4 * lanes or not (plan.pack and cpu.vector_registers >= WIDE_TILE_REGISTERS
                                        and not plan.ragged and n % (4 * lanes) == 0)
    assert plan.row_blocks >= 1 and plan.col_block == 0 and plan.k_block == 0  # the default point
    assert plan.depth == 0 or m * n * k >= 1 << 19


@settings(max_examples=8, deadline=None)
@given(m=st.sampled_from([1, 5, 17, 64]), n=st.sampled_from([1, 10, 33, 64]), k=st.sampled_from([1, 7, 32]))
def test_the_planned_schedule_computes_numpys_product(m, n, k):
    A = te.placeholder((m, k), "float32", "A")
    B = te.placeholder((k, n), "float32", "B")
    r = te.reduce_axis((0, k), "r")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), "C")
    lib = mlc.build(mlc.IRModule({"main": te.create_prim_func([A, B, C])}), "llvm")
    rng = np.random.default_rng(m * 100 + n)
    a, b = rng.standard_normal((m, k), "float32"), rng.standard_normal((k, n), "float32")
    c = np.empty((m, n), "float32")
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)


def test_few_rows_of_a_large_b_stream_b_along_its_rows():
    """Few rows (one row tile) and a B beyond its L2 share: blocks of the reduction, the column
    panels inside them (STREAM_K_STEPS, the most steps up to it that divide k); not for a B
    in L2, nor for rows enough to pack B (STREAM_MAX_ROWS)."""
    assert plan_matmul(None, _shape(8, 2000, 2000, 16), AVX512).stream == 25
    assert plan_matmul(None, _shape(1, 2048, 4096, 16), AVX512).stream == 32  # a vector-matrix product
    assert plan_matmul(None, _shape(4, 2000, 30000, 8), AVX2).stream == 30
    assert plan_matmul(None, _shape(8, 256, 256, 16), AVX512).stream == 0  # B in L2
    assert plan_matmul(None, _shape(STREAM_MAX_ROWS, 2048, 2048, 16), AVX512).stream == 0  # B packed


@pytest.mark.parametrize("m", [2, 5, 8, 13, PACK_MIN_ROWS, 24, STREAM_MAX_ROWS - 1])
def test_rows_of_several_register_tiles_stream_a_large_b_too(m):
    """Rows too few to pack B but more than one AVX2 register tile holds (4 to 6 rows of two
    vectors): B is streamed all the same, the row tiles inside each block of a panel (an
    8 x 30000 by 30000 x 2000 layer walked each column panel down B, once per row tile)."""
    plan = plan_matmul(None, _shape(m, 2000, 30000, 8), CpuInfo(vector_bits=256, cores=2))
    assert plan.stream == 30 and not plan.pack and plan.depth >= 1
    assert plan.mr < m or m <= 6


ZEN3 = CpuInfo(vector_bits=256, cores=2, caches=(32 << 10, 512 << 10, 32 << 20), l1_ways=8)


@pytest.mark.parametrize("m, n, k, steps, lines", [(1, 2000, 30000, 30, 4), (8, 2000, 30000, 30, 4),
                                                   (13, 30000, 2000, 25, 5), (16, 4096, 4096, 32, 4),
                                                   (24, 4096, 4096, 32, 4), (31, 2048, 8192, 32, 4)])
def test_a_streamed_b_is_read_as_stored_and_prefetched_along_its_rows(m, n, k, steps, lines):
    """Fewer than STREAM_MAX_ROWS rows of a B beyond its L2 share (and from PACK_MIN_ROWS rows,
    beyond the L3), its columns contiguous: B is
    streamed, not packed (from PACK_MIN_ROWS rows it was packed: a copy of B written and read
    again), and the reduction loop asks for each row of the block's lines ahead: as many lines
    as keep the block's rows' lines within a quarter of the L1 (STREAM_PREFETCH_L1_SHARE):
    4 for 30 or 32 rows in 32 KiB, 5 for 25; 6 and 7 in 48 KiB."""
    plan = plan_matmul(None, _shape(m, n, k, 8), ZEN3)
    assert not plan.pack and plan.stream == steps and plan.depth >= 1
    assert plan.prefetch == lines * 64
    wide_l1 = CpuInfo(vector_bits=256, cores=2, caches=(48 << 10, 512 << 10, 32 << 20))
    assert plan_matmul(None, _shape(m, n, k, 8), wide_l1).prefetch == (12288 // (64 * steps)) * 64


def test_rows_enough_or_a_b_stored_across_its_columns_still_pack_b():
    assert plan_matmul(None, _shape(STREAM_MAX_ROWS, 4096, 4096, 8), ZEN3).pack
    assert plan_matmul(None, _shape(64, 2000, 30000, 8), ZEN3).pack
    assert plan_matmul(None, _shape(PACK_MIN_ROWS, 4096, 4096, 8, b_contiguous=False), ZEN3).pack
    assert plan_matmul(None, _shape(PACK_MIN_ROWS, 4004, 4096, 8), ZEN3).pack  # no two vectors divide n: no stream
    assert plan_matmul(None, _shape(PACK_MIN_ROWS, 96, 96, 8), ZEN3).stream == 0  # B in L2: as stored
    assert plan_matmul(None, _shape(PACK_MIN_ROWS, 1024, 1024, 8), ZEN3).pack  # B in L3: packed from there


def test_the_streamed_schedule_annotates_the_block_loop_for_a_pinned_target():
    """The default rules for a named CPU (its caches, not the host's) put the prefetch
    distance on the reduction loop inside the column panels, which prefetch_streams reads."""
    from mlc.ir.tir import For
    from mlc.ir.functor import pre_order_nodes
    from mlc.passes.tir.prefetch import PREFETCH_BYTES
    from mlc.schedules.default import default_schedule
    from mlc.target import Target
    A = te.placeholder((16, 4096), "float32", "A")
    B = te.placeholder((4096, 1024), "float32", "B")
    r = te.reduce_axis((0, 4096), "r")
    C = te.compute((16, 1024), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), "C")
    sch = default_schedule(mlc.IRModule({"main": te.create_prim_func([A, B, C])}), Target("llvm", "znver3"))
    loops = [n for n in pre_order_nodes(sch.mod["main"].body) if isinstance(n, For)]
    ahead = [(int(n.extent.value), dict(n.annotations)[PREFETCH_BYTES]) for n in loops
             if PREFETCH_BYTES in dict(n.annotations)]
    assert [(steps, int(d)) for steps, d in ahead] == [(32, 256)]
    assert "B_global" not in sch.mod["main"].script()  # B read as stored


@pytest.mark.parametrize("m, n, k, caches, ways, packed", [
    (1024, 1024, 1024, (32 << 10, 512 << 10, 32 << 20), 8, True),    # Zen 3: 6 rows 4 KiB apart, one set of 8 ways
    (2048, 2048, 2048, (32 << 10, 512 << 10, 32 << 20), 8, True),    # 8 KiB apart: the same
    (1024, 1024, 1024, (48 << 10, 2 << 20, 32 << 20), 12, False),    # 12 ways: 6 rows fill half of a set
    (1024, 1024, 1024, (32 << 10, 512 << 10, 32 << 20), 0, False),   # associativity unknown (a named CPU)
    (4096, 4096, 256, (32 << 10, 512 << 10, 32 << 20), 8, False),    # 1 KiB apart: 2 rows a set
    (512, 512, 512, (32 << 10, 512 << 10, 32 << 20), 8, False),      # 2 KiB apart: 3 rows a set
    (1000, 1024, 1000, (32 << 10, 512 << 10, 32 << 20), 8, False),   # 4000 bytes apart: a set each
    (1024, 32, 4096, (32 << 10, 512 << 10, 32 << 20), 8, False),     # 2 column panels: too few to repay the copy
])
def test_an_avx2_a_whose_tile_rows_share_an_l1_set_is_packed(m, n, k, caches, ways, packed):
    """Blocks of rows of a packed B on 16 registers read A as stored, unless the 6 rows of
    the register tile fall into one set of the L1 cache more often than half its ways
    (SET_ROWS_WAYS_SHARE): then A is packed into row panels, the blocks of rows kept."""
    cpu = CpuInfo(vector_bits=256, cores=2, caches=caches, l1_ways=ways)
    shape = _shape(m, n, k, 8)
    plan = plan_matmul(None, MatmulShape(**{**shape.__dict__, "a_row_stride": 4 * k}), cpu)
    assert plan.pack and (plan.nr, plan.mr) == (16, 6) and plan.pack_a == packed
    assert plan.row_blocks > 1 and plan.k_unroll == WIDE_TILE_K_UNROLL
    assert plan_matmul(None, shape, cpu).pack_a is False  # the stride unknown: as stored
    assert plan_matmul(None, MatmulShape(**{**shape.__dict__, "a_row_stride": 4 * k}),
                       CpuInfo(512, 2, caches=caches, l1_ways=ways)).pack_a is False  # not the wide tile's
