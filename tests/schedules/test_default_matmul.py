"""The default matmul rule's small-size paths against NumPy: few or ragged columns (a
batch's vectors down the rows, else the usual tile with rows outside), column panels of B packed inside the loop over panels, and the thread
threshold. Each schedule is built for a fixed two-core CPU and run on LLVM."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.schedules import Schedule
from mlc.schedules.default import matmul as matmul_rule
from mlc.schedules.default.matmul import schedule_matmul
from mlc.schedules.default.steps import CpuInfo

TWO_CORES = CpuInfo(256, 2)


def matmul(m, n, k, batch=0, transpose_b=False, epilogue="none", dtype="float32", shared_b=False):
    """``C = A @ B`` (``B`` stored ``(n, k)`` when ``transpose_b``; one ``B`` for every batch
    when ``shared_b``), then ``epilogue``; returns the module and the NumPy function."""
    bshape = (batch,) if batch else ()
    A = te.placeholder(bshape + (m, k), dtype, name="A")
    B = te.placeholder(((() if shared_b else bshape) + ((n, k) if transpose_b else (k, n))), dtype, name="B")
    r = te.reduce_axis((0, k), name="k")

    def b_at(idx, kk, j):
        idx = () if shared_b else idx
        return B[idx + ((j, kk) if transpose_b else (kk, j))]

    if batch:
        Y = te.compute(bshape + (m, n), lambda b, i, j: te.sum(A[b, i, r] * b_at((b,), r, j), axis=r), name="Y")
    else:
        Y = te.compute((m, n), lambda i, j: te.sum(A[i, r] * b_at((), r, j), axis=r), name="Y")
    tensors = [A, B]
    if epilogue == "relu":
        Y = te.compute(Y.shape, lambda *idx: te.max(Y[idx], 0), name="C")
    elif epilogue in ("bias", "bias_relu"):
        bias = te.placeholder((n,), dtype, name="bias")
        tensors.append(bias)
        relu = epilogue == "bias_relu"
        Y = te.compute(Y.shape, lambda *idx: te.max(Y[idx] + bias[idx[-1]], 0) if relu else Y[idx] + bias[idx[-1]],
                       name="C")
    mod = mlc.IRModule({"main": te.create_prim_func(tensors + [Y])})

    def reference(a, b, *bias):
        out = a @ (np.swapaxes(b, -1, -2) if transpose_b else b)
        if epilogue == "relu":
            out = np.maximum(out, 0)
        out = out + bias[0] if bias else out
        return np.maximum(out, 0) if epilogue == "bias_relu" else out
    return mod, reference


def scheduled(mod, cpu=TWO_CORES) -> Schedule:
    """The rule applied to block Y (a schedule left as it was where the rule declines)."""
    sch = Schedule(mod)
    schedule_matmul(sch, "main", "Y", cpu)
    return sch


def check(mod, reference, cpu=TWO_CORES, seed=0):
    """The rule's schedule for ``cpu``, built on LLVM, agrees with NumPy."""
    sch = scheduled(mod, cpu)
    func = mod["main"]
    rng = np.random.default_rng(seed)
    dtype = func.params[0].dtype
    if dtype.startswith("int"):
        args = [rng.integers(-5, 5, p.static_shape()).astype(dtype) for p in func.params]
    else:
        args = [rng.uniform(-2, 2, p.static_shape()).astype(dtype) for p in func.params]
    mlc.build(sch.mod, "llvm")["main"](*args)
    want = reference(*args[:-1])
    if dtype.startswith("int"):
        np.testing.assert_array_equal(args[-1], want)
    else:
        np.testing.assert_allclose(args[-1], want, rtol=1e-4, atol=1e-4)
    return sch.mod["main"].script()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([1, 4, 8, 12, 16, 24, 64, 13]), st.integers(1, 30), st.sampled_from([1, 2, 7, 64, 131]),
       st.sampled_from([0, 0, 3]), st.booleans(), st.sampled_from(["none", "relu", "bias"]),
       st.sampled_from(["float32", "float32", "float64", "int32"]), st.sampled_from([256, 512]))
def test_few_columns_of_any_size_and_type(m, n, k, batch, transpose_b, epilogue, dtype, bits):
    mod, reference = matmul(m, n, k, batch, transpose_b, epilogue, dtype)
    check(mod, reference, CpuInfo(bits, 2))


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([16, 20, 64]), st.sampled_from([24, 40, 128, 100]), st.sampled_from([300, 784]),
       st.sampled_from([0, 2]), st.booleans(), st.booleans())
def test_panels_packed_in_the_panel_loop(m, n, k, batch, transpose_b, shared_b):
    mod, reference = matmul(m, n, k, batch, transpose_b, "bias", shared_b=shared_b)
    check(mod, reference)


def test_few_columns_of_a_batch_run_vectors_down_the_rows():
    mod, reference = matmul(64, 10, 128, batch=2, epilogue="bias")
    text = check(mod, reference)
    assert "A_global = T.alloc_buffer((2, 8, 128, 8))" in text  # A in 8-row panels,
    assert text.index("for b, i_0 in T.grid(2, 8):") < text.index('with T.block("A_global")')  # each packed in its tile
    assert "for ax1_1 in T.vectorized(8):\n                for ax0 in T.unroll(8):" in text  # rows interleaved
    assert "Y_local = T.alloc_buffer((2, 10, 64), scope=\"local\")" in text  # one vector per column
    assert "for j in T.unroll(10):" in text and "for i_1 in T.vectorized(8):" in text
    assert "T.where" not in text and "parallel" not in text  # 164k multiply-adds: one thread


@pytest.mark.parametrize("m, n, k", [(64, 10, 128), (64, 97, 40), (100, 100, 24), (300, 52, 300)])
def test_columns_no_vector_divides_keep_the_register_tile_rows_outside(m, n, k):
    """Without a batch: the usual tile of two vectors (no half vectors, no vectors down the
    rows), the row tiles outside the column tiles, so that partition_tiles peels the ragged
    column tile off the column loop of each row tile (which vectorize_loops then runs in
    narrower vectors); threads, where there are any, split the rows."""
    mod, reference = matmul(m, n, k, epilogue="bias")
    text = check(mod, reference)
    tile = 16 if n >= 16 else 8  # two vectors of 8 lanes, or one
    assert f"T.vectorized({tile})" in text and "A_global" not in text
    loops = [line.strip() for line in text.splitlines() if line.strip().startswith("for ")]
    assert loops[0].startswith(("for i_0, j_0 in", "for i_0_j_0_fused", "for i_0 in")), loops
    assert "i_0_j_0_fused" not in text


@pytest.mark.parametrize("n", [3, 10, 15])
def test_fewer_columns_than_a_vector_make_one_short_vector_per_row(n):
    """With 16 lanes the 10 classes fit one vector: the usual register tile, each row one
    short vector (no transposed copies of A and C, no predicate)."""
    mod, reference = matmul(64, n, 128, epilogue="bias")
    text = check(mod, reference, CpuInfo(512, 2))
    assert f"for j in T.vectorized({n}):" in text
    assert "A_global" not in text and f'Y_local = T.alloc_buffer((64, {n}), scope="local")' in text
    assert "T.where" not in text


def test_ragged_columns_of_a_batch_in_tiles_of_a_divisor_or_with_a_ragged_unrolled_tile():
    text = check(*matmul(64, 100, 40, batch=2))  # 10 tiles of 10 columns
    assert "for j_0 in range(10):" in text and "for j_1 in T.unroll(10):" in text
    assert "T.where" not in text
    text = check(*matmul(64, 97, 40, batch=2))  # 9 tiles of 11 columns (99: the least waste), the last ragged
    assert "for j_1 in T.unroll(11):" in text and "T.where(j_0 * 11 + j_1 < 97)" in text
    assert "T.vectorized(8)" in text


def test_ragged_rows_and_columns_of_a_batch_use_half_vectors():
    text = check(*matmul(100, 100, 24, batch=2))  # vectors of 4 rows
    assert "for i_1 in T.vectorized(4):" in text and "T.where" not in text
    text = check(*matmul(101, 100, 24, batch=2))  # odd rows: column tiles of 4
    assert "for j_1 in T.vectorized(4):" in text


def test_few_columns_with_odd_rows_keep_the_column_tile():
    mod, reference = matmul(13, 10, 16)
    text = check(mod, reference)
    assert "A_global" not in text and "Y_local = T.alloc_buffer((13, 10)" in text


def test_the_mlp_layer_packs_each_panel_on_the_thread_that_uses_it():
    mod, reference = matmul(64, 128, 784, epilogue="relu")
    text = check(mod, reference)
    parallel = text.index("for j_0 in T.parallel(8):")
    assert parallel < text.index('with T.block("B_global")') < text.index("for i_0 in range(11):")
    assert text.count("T.parallel") == 1


def test_small_matmuls_stay_on_one_thread(monkeypatch):
    mod, reference = matmul(64, 64, 64)
    assert "parallel" not in check(mod, reference)  # 262k multiply-adds
    monkeypatch.setattr(matmul_rule, "PARALLEL_MIN_MACS", 1)
    assert "parallel" in check(mod, reference)
    assert "parallel" not in check(mod, reference, cpu=CpuInfo(256, 1))


def test_few_rows_take_more_column_vectors():
    text = check(*matmul(1, 1024, 64, epilogue="bias"))  # 1 x 64: 4 tiles of 2 vectors
    assert "for j_1 in T.unroll(4):" in text and "for j_2 in T.vectorized(16):" in text
    assert "for j_0 in range(16):" in text
    text = check(*matmul(2, 96, 64))  # 2 x 32: of the 4 tiles 2 rows leave room for, 2 divide 6
    assert "for i in T.unroll(2):" in text and "for j_1 in T.unroll(2):" in text


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.sampled_from([8, 16, 32, 48, 64, 96, 128, 1024]), st.sampled_from([1, 9, 64]),
       st.sampled_from([0, 2]), st.booleans(), st.sampled_from(["float32", "float64", "int32"]))
def test_few_rows_of_any_size_and_type(m, n, k, batch, transpose_b, dtype):
    check(*matmul(m, n, k, batch, transpose_b, "bias", dtype))


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 10, 5), (9, 1, 3), (8, 3, 1), (1, 128, 784)])
def test_size_one_shapes(shape):
    mod, reference = matmul(*shape, epilogue="bias")
    check(mod, reference)


#: AVX-512 register files: caches as on the pinned CPU, or scaled down so that test-sized
#: operands take the packed paths (B over half the L2, A over half the L3).
WIDE_CPUS = [CpuInfo(512, 2), CpuInfo(512, 1), CpuInfo(512, 2, caches=(32 << 10, 8 << 10, 16 << 10))]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 2, 5, 13, 16, 33, 100, 128]), st.sampled_from([16, 32, 48, 64, 96, 160]),
       st.sampled_from([1, 7, 64, 200]), st.sampled_from([0, 2]), st.booleans(),
       st.sampled_from(["none", "relu", "bias"]), st.sampled_from(WIDE_CPUS))
def test_avx512_register_tiles_of_any_size(m, n, k, batch, transpose_b, epilogue, cpu):
    """Row tiles of 4 to 14 rows (ragged ones padded by a predicate), packed or unpacked B
    and A, on one thread or two: whatever the host runs the 16-lane code on, NumPy's result."""
    check(*matmul(m, n, k, batch=batch, transpose_b=transpose_b, epilogue=epilogue), cpu=cpu)


def test_avx512_ragged_rows_take_the_tile_that_pads_least():
    text = check(*matmul(100, 64, 32), cpu=CpuInfo(512, 1))
    assert "for i_1 in T.unroll(10):" in text and "T.where" not in text
    text = check(*matmul(997, 32, 16), cpu=CpuInfo(512, 1))  # 997 = 9 * 111 - 2
    assert "for i_1 in T.unroll(9):" in text and "T.where" in text


@pytest.mark.parametrize("n", [100, 1001, 37])
def test_a_vector_matrix_product_with_ragged_columns_takes_whole_vectors(n):
    """``x @ B`` with a 1-d ``x`` (no row axis) and columns no vector divides: tiles of two
    vectors, the ragged last one peeled off the column loop, not tiles of half a vector."""
    x = te.placeholder((64,), "float32", name="x")
    B = te.placeholder((64, n), "float32", name="B")
    r = te.reduce_axis((0, 64), name="k")
    Y = te.compute((n,), lambda j: te.sum(x[r] * B[r, j], axis=r), name="Y")
    mod = mlc.IRModule({"main": te.create_prim_func([x, B, Y])})
    text = check(mod, lambda a, b: a @ b)
    assert "T.vectorized(16)" in text and "T.vectorized(4)" not in text, text


def test_a_b_in_l2_is_packed_for_the_wide_tile_on_the_thread_that_uses_each_panel():
    """With 32 vector registers, mm_relu 128^3 (B: 64 KiB, in L2) copies each 64-column panel
    of B, aligned, on the thread that computes it, for the 6 x 4-vector register tile."""
    text = check(*matmul(128, 128, 128, epilogue="relu"), cpu=CpuInfo(512, 2))
    parallel = text.index("for j_0 in T.parallel(2):")
    assert parallel < text.index('with T.block("B_global")') < text.index("for i_1 in T.unroll(6):")
    assert text.count("T.parallel") == 1 and "for j_1 in T.vectorized(64):" in text


@pytest.mark.parametrize("m, n, k, cpu", [
    (64, 256, 64, CpuInfo(512, 2)),     # too few rows to repay the copy
    (300, 192, 200, CpuInfo(512, 2)),   # 3 panels: two threads would share them unevenly
    (128, 128, 128, TWO_CORES),         # 16 registers: no wide tile
])
def test_a_b_in_l2_stays_as_it_is_elsewhere(m, n, k, cpu):
    assert "B_global" not in check(*matmul(m, n, k, epilogue="relu"), cpu=cpu)


def stacked_vector_products(b0, b1, k, n, dtype="float64", epilogue="none"):
    """``(b0, b1, 1, k) @ (k, n)``: a stack of vector-matrix products sharing one B (NPBench's
    doitgen writes ``reshape(A, (r, q, 1, p)) @ C4``), then ``epilogue``."""
    A = te.placeholder((b0, b1, 1, k), dtype, name="A")
    B = te.placeholder((k, n), dtype, name="B")
    r = te.reduce_axis((0, k), name="k")
    Y = te.compute((b0, b1, 1, n), lambda p, q, i, j: te.sum(A[p, q, i, r] * B[r, j], axis=r), name="Y")
    tensors = [A, B]
    if epilogue == "bias":
        bias = te.placeholder((n,), dtype, name="bias")
        tensors.append(bias)
        Y = te.compute(Y.shape, lambda *idx: Y[idx] + bias[idx[-1]], name="C")
    return mlc.IRModule({"main": te.create_prim_func(tensors + [Y])}), \
        lambda a, b, *bias: a @ b + (bias[0] if bias else 0)


def test_a_stack_of_vector_matrix_products_takes_its_rows_from_the_batch():
    """The batch axis that B lacks is the register tile's rows: 12 rows of two AVX-512
    vectors, where one row of 2 vectors a product waited the FMA latency and reloaded all of
    B for every row (doitgen's 60 x 60 stack of 128 x 128 float64 products: 13-34 ms -> 1.6)."""
    text = check(*stacked_vector_products(6, 60, 128, 128), cpu=CpuInfo(512, 2))
    assert "for q_1 in T.unroll(12):" in text and "for j_1 in T.vectorized(16):" in text


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, 2, 3]), st.sampled_from([1, 2, 5, 13, 30]), st.sampled_from([1, 7, 64]),
       st.sampled_from([1, 8, 13, 48, 100]), st.sampled_from(["float32", "float64"]),
       st.sampled_from(["none", "bias"]), st.sampled_from([CpuInfo(256, 2), CpuInfo(512, 2), CpuInfo(512, 1)]))
def test_stacks_of_vector_matrix_products_of_any_size(b0, b1, k, n, dtype, epilogue, cpu):
    check(*stacked_vector_products(b0, b1, k, n, dtype, epilogue), cpu=cpu)


def vector_matrix(k, n, dtype="float32"):
    """``x @ B`` of a 1-d ``x``."""
    x = te.placeholder((k,), dtype, name="x")
    B = te.placeholder((k, n), dtype, name="B")
    r = te.reduce_axis((0, k), name="k")
    Y = te.compute((n,), lambda j: te.sum(x[r] * B[r, j], axis=r), name="Y")
    return mlc.IRModule({"main": te.create_prim_func([x, B, Y])}), lambda a, b: a @ b


#: A two-core AVX-512 CPU whose L2 holds 8 KiB: test-sized Bs go past its share.
SMALL_L2 = CpuInfo(512, 2, caches=(32 << 10, 8 << 10, 16 << 10))


def test_few_rows_read_a_large_b_along_its_rows():
    """8 rows by a B of 2000 x 2000 (an MLP's batch of 8): blocks of 25 rows of B, each
    column panel of the two threads' halves inside them (B a row apart at every step of a
    panel before: a new page the prefetchers do not follow; 20 ms -> 0.8)."""
    text = scheduled(matmul(8, 2000, 2000)[0], CpuInfo(512, 2)).mod["main"].script()
    assert "for j_0_0 in T.parallel(2):" in text
    assert "for k_0, j_0_1 in T.grid(80, 63):" in text
    assert 'for k_1 in T.serial(25, annotations={"mlc.prefetch_bytes": 320}):' in text  # 5 lines a row ahead
    assert "for i in T.unroll(8):" in text and "for j_1 in T.vectorized(16):" in text


def test_few_rows_of_several_register_tiles_read_a_large_b_along_its_rows():
    """8 rows on AVX2 (register tiles of 4 rows of two vectors) by a B of 2000 x 2000: the
    two row tiles go inside each block of a column panel, which they read from the L1 cache,
    so that B is read from memory once, along its rows (each row tile walked every column
    panel down B before)."""
    text = scheduled(matmul(8, 2000, 2000)[0], TWO_CORES).mod["main"].script()
    assert "for j_0_0 in T.parallel(2):" in text
    assert "for k_0, j_0_1, i_0 in T.grid(80, 63, 2):" in text
    assert 'for k_1 in T.serial(25, annotations={"mlc.prefetch_bytes": 320}):' in text
    assert "for i_1 in T.unroll(4):" in text and "for j_1 in T.vectorized(16):" in text


#: A two-core AVX2 CPU whose L2 holds 8 KiB: test-sized Bs go past its share.
SMALL_L2_AVX2 = CpuInfo(256, 2, caches=(32 << 10, 8 << 10, 16 << 10))


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 33), st.sampled_from([16, 48, 80, 96, 33, 161]), st.sampled_from([128, 129, 257]),
       st.sampled_from(["none", "relu", "bias", "bias_relu"]), st.sampled_from(["float32", "float64"]))
def test_few_rows_of_several_register_tiles_of_any_size(m, n, k, epilogue, dtype):
    """1 to 33 rows (streamed below STREAM_MAX_ROWS, B's rows prefetched; packed from it),
    columns and reductions that no tile or block divides, fused epilogues, against NumPy."""
    check(*matmul(m, n, k, epilogue=epilogue, dtype=dtype), cpu=SMALL_L2_AVX2)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, 2, 3, 8, 13]), st.sampled_from([16, 48, 64, 96, 160, 320]),
       st.sampled_from([128, 129, 250, 257]), st.sampled_from(["none", "relu", "bias"]),
       st.sampled_from(["float32", "float64"]), st.sampled_from([SMALL_L2, CpuInfo(256, 1, caches=(32 << 10, 8 << 10, 16 << 10))]))
def test_few_rows_of_a_large_b_of_any_size(m, n, k, epilogue, dtype, cpu):
    check(*matmul(m, n, k, epilogue=epilogue, dtype=dtype), cpu=cpu)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([1, 16, 64, 100, 320]), st.sampled_from([128, 131, 256]), st.sampled_from(["float32", "float64"]))
def test_a_vector_matrix_product_of_a_large_b(n, k, dtype):
    check(*vector_matrix(k, n, dtype), cpu=SMALL_L2)


#: An AVX2 CPU of caches small enough that test-sized matmuls pack B and block their rows.
SMALL_CACHES = CpuInfo(256, 2, caches=(4 << 10, 8 << 10, 64 << 10))


@settings(max_examples=5, deadline=None)
@given(m=st.integers(121, 190), n=st.sampled_from([40, 48, 64, 72]), k=st.sampled_from([33, 64, 97]),
       epilogue=st.sampled_from(["none", "relu", "bias"]))
def test_avx2_blocks_of_rows_compute_numpys_product(m, n, k, epilogue):
    """16 registers, B packed (in blocks of PACK_ROWS of its rows where they divide K): blocks
    of MIN_BLOCK_ROWS rows, each row tile streaming A as stored, the reduction unrolled where
    4 or 2 divide it; rows, columns (ragged: 40, 72) and K that no tile divides."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matmul_rule, "MIN_BLOCK_ROWS", 64)  # blocks of 60 rows: test-sized
        text = check(*matmul(m, n, k, epilogue=epilogue), cpu=SMALL_CACHES, seed=m + n + k)
    tiles = -(-m // 6)
    blocks = -(-tiles // 10) + (-(-tiles // 10)) % 2  # of at most 10 tiles of 6, an even number (2 cores)
    rows = -(-tiles // blocks) * 6  # as many tiles in each
    assert "B_global" in text and "A_global" not in text and f" * {rows} + " in text
    assert ("T.unroll(4)" in text) == (k % 4 == 0)


#: ... and an 8-way L1 of 8 sets (512-byte ways): rows of A 128 or 130 float32 apart share a set.
SMALL_CACHES_8_WAYS = CpuInfo(256, 2, caches=(4 << 10, 8 << 10, 64 << 10), l1_ways=8)


@settings(max_examples=4, deadline=None)
@given(m=st.integers(121, 190), n=st.sampled_from([64, 96, 128]), k=st.sampled_from([128, 130, 384]),
       epilogue=st.sampled_from(["none", "relu", "bias"]))
def test_avx2_blocks_of_rows_of_a_packed_a_compute_numpys_product(m, n, k, epilogue):
    """The rows of a register tile in one L1 set (SET_ROWS_WAYS_SHARE): A packed into row
    panels (the last one ragged), blocks of rows, the reduction unrolled by 4 or 2."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matmul_rule, "MIN_BLOCK_ROWS", 64)
        text = check(*matmul(m, n, k, epilogue=epilogue), cpu=SMALL_CACHES_8_WAYS, seed=m + n + k)
    assert "B_global" in text and "A_global" in text
    assert ("T.unroll(4)" in text) == (k % 4 == 0)

