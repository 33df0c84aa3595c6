"""partition_tiles: the full tiles of a symbolic split run without the tail guard."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir import te
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For, IfThenElse
from mlc.passes.tir import (compact_buffers, convert_blocks_to_loops, lower_init_block, partition_tiles,
                            run_passes, simplify)
from mlc.schedules import Schedule
from tests.programs import double_plus_one_in_place


def _tiled(n, factor=4, rows=6):
    A = te.placeholder((n, rows), "float32", "A")
    B = te.compute((n, rows), lambda i, j: A[i, j] + 1, name="B")
    sch = Schedule(te.create_prim_func([A, B]))
    i, _ = sch.get_loops(sch.get_block("B"))
    sch.split(i, [None, factor])
    return sch.mod["main"]


def _loops(func):
    return run_passes(func, [lower_init_block, convert_blocks_to_loops, simplify])


def test_a_symbolic_tile_loop_gets_a_guard_free_body_for_its_full_tiles():
    partitioned = partition_tiles(_loops(_tiled(te.var("n"))))
    assert partition_tiles(partitioned) is partitioned  # nothing left to partition
    out = partitioned.script()
    assert "for i_0 in range((n + 3) // 4):" in out
    assert "if i_0 * 4 + 4 <= n:" in out
    fast, rest = out.split("else:")
    assert "i_0 * 4 + i_1 < n" not in fast
    assert "if i_0 * 4 + i_1 < n:" in rest


def test_a_constant_tile_loop_runs_its_full_tiles_in_a_loop_of_their_own():
    """A tile that writes its rows of a buffer it does not read moves its last, ragged tile
    back to end at the bound: one loop, no guard, rows 6..9 computed twice."""
    out = partition_tiles(_loops(_tiled(30))).script()
    assert "for i_0, i_1, j in T.grid(8, 4, 6):" in out and "<" not in out.split("T.grid")[1]
    assert "B[i_1 + T.min(i_0 * 4, 26), j] = A[i_1 + T.min(i_0 * 4, 26), j]" in out


def test_a_ragged_tile_that_would_compute_much_twice_runs_on_its_own():
    """10 rows in tiles of 4: an overlapping last tile would compute 2 of the 10 rows twice
    (more than OVERLAP_MAX_SHARE allows); the full tiles get a loop of their own and the
    ragged one keeps its guard."""
    out = partition_tiles(_loops(_tiled(10))).script()
    full, rest = out.split("for i_1, j in T.grid(4, 6):")
    assert "for i_0, i_1, j in T.grid(2, 4, 6):" in full and "< 10" not in full  # 2 full tiles of 4
    assert "if 8 + i_1 < 10:" in rest and "T.min" not in out


def test_a_ragged_tile_that_may_not_overlap_the_one_before_runs_on_its_own():
    """Where the buffers may alias (``tir.noalias`` False), a row computed twice could read
    what the first pass wrote: the full tiles get a loop of their own and the ragged one
    keeps its guard."""
    out = partition_tiles(_loops(_tiled(30).with_attr("tir.noalias", False))).script()
    full, rest = out.split("for i_1, j in T.grid(4, 6):")
    assert "for i_0, i_1, j in T.grid(7, 4, 6):" in full and "< 30" not in full  # 7 full tiles of 4
    assert "if 28 + i_1 < 30:" in rest  # the last tile, its one iteration simplified away
    assert "T.min" not in out


def _compacted(func):
    """Lowered as the pipeline has it when it partitions: a tile's local buffer inside it."""
    return run_passes(func, [lower_init_block, convert_blocks_to_loops, compact_buffers, simplify])


def _row_sums(rows, cols, factor, local=False, depth=5, parallel=False, vectorized=False):
    """``B[i, j] = sum_k A[i, k] * W[k, j]``, rows in tiles of ``factor`` (on threads:
    ``parallel``); ``local``: each tile accumulates in a buffer of its own and writes B
    once (cache_write); ``vectorized``: the columns inside the reduction, in vectors."""
    A = te.placeholder((rows, depth), "float32", "A")
    W = te.placeholder((depth, cols), "float32", "W")
    k = te.reduce_axis((0, depth), "k")
    B = te.compute((rows, cols), lambda i, j: te.sum(A[i, k] * W[k, j], axis=k), name="B")
    sch = Schedule(te.create_prim_func([A, W, B]))
    block = sch.get_block("B")
    i, j, kk = sch.get_loops(block)
    outer, _ = sch.split(i, [None, factor])
    if parallel:
        sch.parallel(outer)
    if vectorized:
        sch.reorder(kk, j)
        sch.vectorize(j)
    if local:
        copy = sch.cache_write(block, 0, "local")
        sch.reverse_compute_at(copy, outer)
    return sch.mod["main"]


def test_a_tile_that_reads_what_it_writes_keeps_its_ragged_copy():
    """Accumulating into B itself (no local buffer), a row computed twice would be summed
    twice: the ragged tile stays a guarded copy of its own; with the accumulators in a
    local buffer of the tile, the last tile overlaps the one before."""
    rmw = partition_tiles(_compacted(_row_sums(30, 3, 4, local=False))).script()
    assert "T.min" not in rmw and "28 + " in rmw
    local = partition_tiles(_compacted(_row_sums(30, 3, 4, local=True))).script()
    assert "T.min(i_0 * 4, 26)" in local and "< 30" not in local


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 120), factor=st.integers(2, 13), cols=st.sampled_from([1, 3, 16, 19]),
       local=st.booleans(), seed=st.integers(0, 99))
def test_a_serial_tile_loop_of_any_size_computes_what_numpy_does(rows, factor, cols, local, seed):
    """Whether the last tile overlaps the one before (rows computed twice) or runs as a
    guarded copy, every element is NumPy's, on the CPU and in the interpreter."""
    func = _row_sums(rows, cols, factor, local)
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, (rows, 5)).astype("float32")  # exact sums: any order agrees
    w = rng.integers(-4, 5, (5, cols)).astype("float32")
    for target in ("llvm", "reference"):
        b = np.full((rows, cols), np.nan, "float32")
        mlc.build(func, target=target, schedule=mlc.schedules.as_written)["main"](a, w, b)
        np.testing.assert_array_equal(b, a @ w)


def _parallel_tiled(n, factor):
    func = _tiled(n, factor)
    sch = Schedule(func)
    sch.parallel(sch.get_loops(sch.get_block("B"))[0])
    return sch.mod["main"]


@pytest.mark.parametrize("n, factor, full", [(12, 4, 3), (4 * 64 + 1, 4, 64), (8 * 70 + 3, 8, 70)])
def test_a_parallel_loop_with_few_ragged_tiles_runs_its_full_tiles_in_a_parallel_loop_of_their_own(
        n, factor, full):
    out = partition_tiles(_loops(_parallel_tiled(n, factor)))
    loops = [s for s in pre_order_nodes(out.body) if isinstance(s, For) and s.kind == "parallel"]
    parts = [(s.min.value, s.extent.value) for s in loops]
    assert parts == [(0, full)]  # the full tiles, on the team
    if full * factor == n:  # every tile full: no guard left
        assert not any(isinstance(s, IfThenElse) for s in pre_order_nodes(out.body))
    else:  # the ragged tile after them, one iteration, left as its body
        assert f"{full * factor} + i_1 < {n}" in out.script()
    assert partition_tiles(out) is out  # nothing left to partition


@pytest.mark.parametrize("n, factor", [(2 * 4 + 1, 4), (17, 8), (4 * 63 + 1, 4)])
def test_a_parallel_loop_whose_ragged_tile_is_a_large_share_keeps_it_on_the_team(n, factor):
    """Split off, the ragged tile would run after the team, on one thread: with two tiles,
    the whole loop would (PARALLEL_SPLIT_MIN_RATIO)."""
    out = partition_tiles(_loops(_parallel_tiled(n, factor)))
    loops = [s for s in pre_order_nodes(out.body) if isinstance(s, For) and s.kind == "parallel"]
    tiles = -(-n // factor)
    assert [(s.min.value, s.extent.value) for s in loops] == [(0, tiles)]
    script = out.script()
    assert f"if i_0 * {factor} + {factor} <= {n}:" in script  # each tile tests whether it is full
    fast, rest = script.split("else:")
    full = n // factor
    assert f"+ i_1 < {n}" not in fast  # the full tiles run guard-free
    assert f"if {full * factor} + i_1 < {n}:" in rest  # the ragged one, its index a constant
    assert partition_tiles(out) is out


def test_vectorized_and_unrolled_constant_loops_are_left_whole():
    for kind in ("vectorize", "unroll"):
        func = _tiled(10)
        sch = Schedule(func)
        i0, i1, _ = sch.get_loops(sch.get_block("B"))
        getattr(sch, kind)(i0)
        lowered = _loops(sch.mod["main"])
        assert partition_tiles(lowered) is lowered


@pytest.mark.parametrize("target", ["llvm", "reference"])
@pytest.mark.parametrize("rows", [1, 7, 8, 9, 33])
def test_partitioned_constant_tiles_compute_every_element(target, rows):
    lib = mlc.build(_parallel_tiled(rows, 8), target=target, schedule=mlc.schedules.as_written)
    a = np.random.default_rng(rows).standard_normal((rows, 6)).astype("float32")
    b = np.full_like(a, np.nan)
    lib["main"](a, b)
    np.testing.assert_array_equal(b, a + 1)


def test_guards_it_cannot_prove_are_left_alone():
    n = te.var("n")
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] + 1, name="B")
    sch = Schedule(te.create_prim_func([A, B]))
    (i,) = sch.get_loops(sch.get_block("B"))
    i0, i1 = sch.split(i, [None, 4])
    sch.reorder(i1, i0)  # the tile loop is now the inner, symbolic one: its guard holds per i1
    func = _loops(sch.mod["main"])
    out = partition_tiles(func)
    ifs = [s for s in pre_order_nodes(out.body) if isinstance(s, IfThenElse)]
    assert any("< n" in repr(s.condition) for s in ifs)


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_partitioned_tiles_compute_every_size(target):
    func = _tiled(te.var("n"), factor=8)
    lib = mlc.build(func, target=target)
    for rows in (0, 1, 7, 8, 9, 17, 64):
        a = np.random.default_rng(rows).standard_normal((rows, 6)).astype("float32")
        b = np.full_like(a, np.nan)
        lib["main"](a, b)
        np.testing.assert_array_equal(b, a + 1)
    assert any(isinstance(s, For) for s in pre_order_nodes(func.body))


def _split_twice(rows, factors):
    A = te.placeholder((rows, 6), "float32", "A")
    B = te.compute((rows, 6), lambda i, j: A[i, j] + 1, name="B")
    sch = Schedule(te.create_prim_func([A, B]))
    i, _ = sch.get_loops(sch.get_block("B"))
    sch.split(i, [None, *factors])
    return sch.mod["main"]


def test_a_tile_loop_inside_blocks_of_tiles_tests_each_tile_once():
    """Blocks of 3 tiles of 4 rows over 30 rows, the blocks fused with the columns (as a
    matmul's row blocks with its column panels): ``f // 6 * 12 + t * 4 + r < 30``. No
    loop can split off the ragged block; the tile loop ``t`` takes the block's offset
    into a test per tile, and its full tiles run unguarded."""
    sch = Schedule(_split_twice(30, [3, 4]))
    i0, i1, i2, j = sch.get_loops(sch.get_block("B"))
    sch.reorder(i0, j, i1, i2)
    sch.fuse(i0, j)
    out = partition_tiles(_loops(sch.mod["main"])).script()
    test = re.search(r"if (.*):\n", out).group(1)
    assert "i_1 * 4 + 4" in test and "i_0_j_fused // 6 * 12" in test and "30" in test
    fast, rest = out.split("else:")
    assert "< 30" not in fast and "i_0_j_fused // 6 * 12 + i_1 * 4 + i_2 < 30" in rest


@pytest.mark.parametrize("target", ["llvm", "reference"])
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("rows, factors", [(30, [3, 4]), (1, [2, 3]), (17, [2, 2, 3]), (24, [3, 4])])
def test_tiles_inside_blocks_compute_every_element(target, fused, rows, factors):
    sch = Schedule(_split_twice(rows, factors))
    if fused:  # the blocks fused with the columns, as above
        outer, *inner, j = sch.get_loops(sch.get_block("B"))
        sch.reorder(outer, j, *inner)
        sch.parallel(sch.fuse(outer, j))
    lib = mlc.build(sch.mod, target=target, schedule=mlc.schedules.as_written)
    a = np.random.default_rng(rows).standard_normal((rows, 6)).astype("float32")
    b = np.full_like(a, np.nan)
    lib["main"](a, b)
    np.testing.assert_array_equal(b, a + 1)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 200), factor=st.integers(2, 17), cols=st.sampled_from([1, 5, 16, 19]),
       vectorized=st.booleans(), seed=st.integers(0, 99))
def test_a_parallel_tile_loop_of_any_size_computes_what_the_interpreter_does(rows, factor, cols,
                                                                             vectorized, seed):
    """Row tiles on threads, a reduction inside each row (``B[i, j] = sum_k A[i, k] * W[k, j]``),
    the columns vectorized or not: whether the ragged tile is split off the parallel loop or
    tested in it (PARALLEL_SPLIT_MIN_RATIO), every element is the reference's."""
    depth = 7
    func = _row_sums(rows, cols, factor, depth=depth, parallel=True, vectorized=vectorized)
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, (rows, depth)).astype("float32")  # exact sums: any order agrees
    w = rng.integers(-4, 5, (depth, cols)).astype("float32")
    results = []
    for target in ("llvm", "reference"):
        b = np.full((rows, cols), np.nan, "float32")
        mlc.build(func, target=target, schedule=mlc.schedules.as_written)["main"](a, w, b)
        results.append(b)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], a @ w)


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 60), factor=st.integers(2, 9))
def test_a_tile_updated_in_place_is_updated_once(rows, factor):
    """``A[i] = A[i] * 2 + 1`` in tiles: the tile reads what it writes, so its last tile
    may not overlap the one before (that would double rows): each row is updated once."""
    func = double_plus_one_in_place(rows)
    sch = Schedule(func)
    (i,) = sch.get_loops(sch.get_block("B"))
    sch.split(i, [None, factor])
    assert "T.min" not in partition_tiles(_compacted(sch.mod["main"])).script()
    for target in ("llvm", "reference"):
        a = np.arange(rows, dtype="float32")
        mlc.build(sch.mod, target=target, schedule=mlc.schedules.as_written)["main"](a)
        np.testing.assert_array_equal(a, np.arange(rows, dtype="float32") * 2 + 1)


@pytest.mark.parametrize("target", ["llvm", "reference"])
@pytest.mark.parametrize("rows", [30, 31, 33])
def test_a_tile_whose_rows_share_a_buffer_slot_keeps_its_ragged_copy(target, rows):
    """Each row adds the tile's first row (through a buffer of the tile, slot 0): a row
    depends on which tile holds it, so the last tile may not overlap the one before (rows
    28 and 29 of 30 would add row 26 instead of row 28)."""
    func = mlc.parse(f'''
@T.prim_func
def main(A: T.Buffer(({rows},), "float32"), B: T.Buffer(({rows},), "float32")):
    T.func_attr({{"global_symbol": "main", "tir.noalias": True}})
    for v in range({-(-rows // 4)}):
        S = T.allocate([4], "float32", "local")
        for k in range(4):
            if v * 4 + k < {rows}:
                S[k] = A[v * 4 + k]
        for r in range(4):
            if v * 4 + r < {rows}:
                B[v * 4 + r] = A[v * 4 + r] + S[0]
''')
    assert "T.min" not in partition_tiles(func).script()
    a = np.arange(rows, dtype="float32")
    b = np.full(rows, np.nan, "float32")
    mlc.build(func, target=target, schedule=mlc.schedules.as_written)["main"](a, b)
    np.testing.assert_array_equal(b, a + a[np.arange(rows) // 4 * 4])
