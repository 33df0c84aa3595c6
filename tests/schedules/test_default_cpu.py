"""The default CPU schedule: every rule keeps results equal to the reference interpreter.

Hypothesis draws te programs (matmuls of any size incl. 1 and primes, with
batch axes, transposed operands and epilogues; elementwise chains with
broadcasts; reductions over any axis; conv-like padded windows; multi-output
blocks). Each is scheduled by the CPU rules, run on the reference interpreter
and built with LLVM, and compared with the unscheduled program on the
reference interpreter.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import MLCError, te
from mlc.schedules import Schedule, Trace, as_written, default_schedule
from mlc.schedules.default import SCHEDULED_ATTR, is_unscheduled
from mlc.schedules.default.cpu import inline_injective, schedule_reduction, schedule_spatial
from mlc.schedules.default import matmul as matmul_rule
from mlc.schedules.default.matmul import schedule_matmul
from mlc.schedules.default.steps import CpuInfo, attempt
from tests.programs import mm_relu_func
from tests.targets import each_pinned_target, each_runnable_target, pinned_threads

SIZES = [1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 33]
TWO_CORES = CpuInfo(256, 2)


def module(*tensors) -> mlc.IRModule:
    return mlc.IRModule({"main": te.create_prim_func(list(tensors))})


def random_args(func, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, p.static_shape()).astype(p.dtype) for p in func.params]


def run(mod, target, args, schedule=None):
    out = [a.copy() for a in args]
    mlc.build(mod, target, schedule=schedule)["main"](*out)
    return out


def check(mod, rtol=1e-5, atol=1e-5):
    """Default-scheduled ``mod`` equals ``mod`` on the reference, scheduled and on LLVM."""
    args = random_args(mod["main"])
    want = run(mod, "reference", args)
    scheduled = default_schedule(mod, "llvm").mod
    assert scheduled["main"].attr(SCHEDULED_ATTR) == "default"
    got_ref = run(scheduled, "reference", args)
    got_llvm = run(mod, "llvm", args)  # build applies the same default schedule
    for p, w, r, g in zip(mod["main"].params, want, got_ref, got_llvm):
        np.testing.assert_allclose(r, w, rtol=rtol, atol=atol, err_msg=f"reference, {p.name}")
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"llvm, {p.name}")
    return scheduled


def kinds(sch):
    return [inst.kind for inst in sch.trace]


# ----------------------------------------------------------------- programs

def matmul(m, n, k, batch=0, transpose_b=False, epilogue="none", dtype="float32"):
    bshape = (batch,) if batch else ()
    A = te.placeholder(bshape + (m, k), dtype, name="A")
    B = te.placeholder(bshape + ((n, k) if transpose_b else (k, n)), dtype, name="B")
    r = te.reduce_axis((0, k), name="k")

    def b_at(idx, kk, j):
        return B[idx + ((j, kk) if transpose_b else (kk, j))]

    if batch:
        Y = te.compute(bshape + (m, n), lambda b, i, j: te.sum(A[b, i, r] * b_at((b,), r, j), axis=r), name="Y")
    else:
        Y = te.compute((m, n), lambda i, j: te.sum(A[i, r] * b_at((), r, j), axis=r), name="Y")
    if epilogue == "none":
        return module(A, B, Y)
    if epilogue == "relu":
        C = te.compute(Y.shape, lambda *idx: te.max(Y[idx], 0), name="C")
        return module(A, B, C)
    bias = te.placeholder((n,), dtype, name="bias")
    C = te.compute(Y.shape, lambda *idx: Y[idx] + bias[idx[-1]], name="C")
    return module(A, B, bias, C)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(SIZES), st.sampled_from(SIZES + [40, 64]), st.sampled_from(SIZES),
       st.sampled_from([0, 0, 2]), st.booleans(), st.sampled_from(["none", "relu", "bias"]))
def test_matmuls_of_any_size(m, n, k, batch, transpose_b, epilogue):
    check(matmul(m, n, k, batch, transpose_b, epilogue))


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1, 3, 7, 16, 33, 100]), st.sampled_from([1, 5, 8, 17, 64]),
       st.lists(st.sampled_from(["add", "mul", "exp", "relu", "bias", "square"]), min_size=1, max_size=4))
def test_elementwise_chains(n, m, ops):
    A = te.placeholder((n, m), "float32", name="A")
    bias = te.placeholder((m,), "float32", name="bias")
    t = A
    for s, op in enumerate(ops):
        prev = t
        body = {"add": lambda i, j: prev[i, j] + 1.5,
                "mul": lambda i, j: prev[i, j] * A[i, j],
                "exp": lambda i, j: te.exp(prev[i, j] * 0.25),
                "relu": lambda i, j: te.max(prev[i, j], 0),
                "bias": lambda i, j: prev[i, j] + bias[j],
                "square": lambda i, j: prev[i, j] * prev[i, j]}[op]
        t = te.compute((n, m), body, name=f"T{s}")
    scheduled = check(module(A, bias, t))
    # every intermediate is inlined: a consumer reading it twice (square) reads one element
    assert not scheduled["main"].root_block.alloc_buffers


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1, 2, 5, 16, 37]), st.sampled_from([1, 3, 8, 19, 64]),
       st.sampled_from(["sum0", "sum1", "max1", "mean1", "all"]))
def test_reductions_over_any_axis(n, m, kind):
    A = te.placeholder((n, m), "float32", name="A")
    if kind == "sum0":
        k = te.reduce_axis((0, n), name="k")
        out = te.compute((m,), lambda j: te.sum(A[k, j], axis=k), name="S")
    elif kind in ("sum1", "mean1"):
        k = te.reduce_axis((0, m), name="k")
        out = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), name="S")
        if kind == "mean1":
            out = te.compute((n,), lambda i: out[i] / m, name="M")
    elif kind == "max1":
        k = te.reduce_axis((0, m), name="k")
        out = te.compute((n,), lambda i: te.max(A[i, k], axis=k), name="S")
    else:
        k0, k1 = te.reduce_axis((0, n), name="k0"), te.reduce_axis((0, m), name="k1")
        out = te.compute((), lambda: te.sum(A[k0, k1], axis=[k0, k1]), name="S")
    check(module(A, out), rtol=1e-4, atol=1e-4)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([1, 3, 8]), st.sampled_from([1, 4, 9, 20]), st.sampled_from([1, 3]),
       st.sampled_from([1, 2, 5]))
def test_conv_like_padded_windows(c_in, width, ksize, c_out):
    """1-d convolution with zero padding: the pad stage stays a stage of its own, so the
    convolution's inner loop loads without conditions."""
    pad = ksize // 2
    X = te.placeholder((c_in, width), "float32", name="X")
    W = te.placeholder((c_out, c_in, ksize), "float32", name="W")
    P = te.compute((c_in, width + 2 * pad),
                   lambda c, i: te.if_then_else(te.all(i >= pad, i < width + pad), X[c, i - pad], 0.0), name="P")
    rc, rk = te.reduce_axis((0, c_in), name="rc"), te.reduce_axis((0, ksize), name="rk")
    Y = te.compute((c_out, width), lambda o, i: te.sum(P[rc, i + rk] * W[o, rc, rk], axis=[rc, rk]), name="Y")
    scheduled = check(module(X, W, Y), rtol=1e-4, atol=1e-4)
    assert "P" in {b.name for b in scheduled["main"].root_block.alloc_buffers}  # padding kept


def test_the_course_mm_relu_and_multi_output_blocks():
    check(mlc.IRModule({"main": mm_relu_func(128)}), rtol=1e-4, atol=1e-4)
    A = te.placeholder((9, 40), "float32", name="A")
    lo, hi = te.compute((9, 40), lambda i, j: (te.min(A[i, j], 0), te.max(A[i, j], 0)), name="split")
    check(module(A, lo, hi))


#: (columns, packed B, packed A, row tiles per block) of a large ragged matmul: A packs
#: only with 4 column panels or more, a panel is two vectors (16 floats) with AVX2 and a
#: row tile of packed A 6 rows (the fewest tiles; the last panel of A padded by one row):
#: three blocks of 29 of its 86 row tiles (about 256 rows each, none empty). With AVX-512
#: a panel is four vectors (64 floats) and the row tile 6 rows of them (the wide tile),
#: which streams A as it is stored: no panels of A, no blocks of rows; the threads take the
#: 4 panels' 86 row tiles each, fused.
LARGE_MATMUL = {"avx2": (64, "B_global = T.alloc_buffer((4, 40, 16))", "A_global = T.alloc_buffer((86, 40, 6))",
                         "for i_1 in range(29):"),
                "avx512": (256, "B_global = T.alloc_buffer((4, 40, 64))", None, "T.parallel(344)")}


@each_pinned_target
def test_large_ragged_matmul_with_row_blocks_and_both_operands_packed(monkeypatch, isa, target):
    """The thresholds scaled down so that a test-sized matmul takes the large-matrix path."""
    monkeypatch.setattr(matmul_rule, "PACK_A_L3_SHARE", 1 / 1024)  # A (80 KiB) > 8 or 16 KiB
    monkeypatch.setattr(matmul_rule, "ROW_BLOCK", 256)
    monkeypatch.setattr(matmul_rule, "ROW_BLOCKS_FROM", 2)
    monkeypatch.setattr(matmul_rule, "_cache_blocked", lambda *_: False)  # AVX2: A packed (a design space's)
    columns, packed_b, packed_a, row_tiles = LARGE_MATMUL[isa]
    mod = matmul(515, columns, 40, transpose_b=True)
    with pinned_threads():
        text = default_schedule(mod, target).mod["main"].script()
    assert packed_b in text and (packed_a in text if packed_a else "A_global" not in text)
    assert row_tiles in text  # AVX2: blocks of 174 rows, not two of 252 and one of 11
    check(mod, rtol=1e-4, atol=1e-4)  # and whatever the host's tiles, the same results


@each_runnable_target
@pytest.mark.parametrize("m", [515, 516, 517])
def test_large_matmul_with_packed_a_runs_right_on_each_vector_width(monkeypatch, target, m):
    """The large-matrix path run (the thresholds scaled down as above), for the host and, on
    an AVX-512 machine, the AVX2 CPU too: row tiles of 6 over 515, 516 and 517 rows leave
    the last panel of A ragged by 1, 0 and 5 rows (its padding rows are computed, never
    written back)."""
    monkeypatch.setattr(matmul_rule, "PACK_A_L3_SHARE", 1 / 1024)
    monkeypatch.setattr(matmul_rule, "ROW_BLOCK", 256)
    monkeypatch.setattr(matmul_rule, "_cache_blocked", lambda *_: False)
    mod = matmul(m, 64, 40, transpose_b=True)
    args = random_args(mod["main"])
    want, = run(mod, "reference", args)[-1:]
    got, = run(mod, target, args)[-1:]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_integer_and_double_matmuls():
    check(matmul(5, 24, 7, dtype="float64"))
    A = te.placeholder((6, 9), "int32", name="A")
    B = te.placeholder((9, 20), "int32", name="B")
    k = te.reduce_axis((0, 9), name="k")
    check(module(A, B, te.compute((6, 20), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")))


# -------------------------------------------------------- what the rules do

def test_matmul_rule_builds_the_register_tiled_schedule():
    sch = Schedule(matmul(64, 64, 1024, epilogue="relu"))  # B (256 KiB) > half the L2 (256 KiB)
    handled = schedule_matmul(sch, "main", "Y", TWO_CORES)
    assert handled == {"Y", "B_global", "Y_local", "C"}
    assert kinds(sch) == [
        "get_block", "cache_read", "transform_layout", "get_loops", "split", "split", "reorder", "vectorize",
        "parallel", "get_loops", "split", "split", "split", "reorder", "annotate", "cache_write",
        "reverse_compute_at", "decompose_reduction", "get_loops", "vectorize", "unroll", "get_loops", "vectorize",
        "unroll", "get_consumers", "reverse_compute_inline", "get_loops", "vectorize", "unroll", "unroll", "fuse",
        "parallel"]
    text = sch.mod.script()
    assert "B_global = T.alloc_buffer((4, 1024, 16))" in text and "A_global" not in text  # A fits L3
    assert "for j_0 in T.parallel(4):" not in text  # 4 column tiles < 4 per core: fused with rows
    assert "T.parallel(44)" in text  # 4 column x 11 row tiles
    assert 'for k_0 in T.serial(256, annotations={"mlc.prefetch_bytes": 1024}):' in text  # the panel prefetched
    assert "for k_1 in T.unroll(4):" in text  # B packed, 16 registers: the reduction unrolled
    assert "C[v0, v1] = T.max(Y_local[v0, v1], T.float32(0))" in text


def test_small_or_vector_matmuls_are_not_packed():
    sch = Schedule(matmul(8, 16, 8))
    schedule_matmul(sch, "main", "Y", TWO_CORES)
    assert "cache_read" not in kinds(sch)
    for l2, packed in ((256 << 10, False), (64 << 10, True)):  # B of 64 KiB, in half the L2 or not
        sch = Schedule(matmul(64, 64, 256))
        schedule_matmul(sch, "main", "Y", CpuInfo(256, 2, caches=(32 << 10, l2, 8 << 20)))
        assert ("cache_read" in kinds(sch)) == packed
    sch = Schedule(matmul(1, 40, 300, transpose_b=True))  # one row: packing never pays, B strided
    assert schedule_matmul(sch, "main", "Y", TWO_CORES) is None


def test_reduction_rule_vectorizes_columns_of_an_axis_0_sum():
    A = te.placeholder((64, 256), "float32", name="A")
    k = te.reduce_axis((0, 64), name="k")
    S = te.compute((256,), lambda j: te.sum(A[k, j], axis=k), name="S")
    sch = Schedule(module(A, S))
    assert schedule_reduction(sch, "main", "S", TWO_CORES) == {"S"}
    assert kinds(sch)[:5] == ["get_block", "get_loops", "reorder", "get_loops", "split"]
    assert "for j_1 in T.vectorized(16):" in sch.mod.script()


def test_spatial_rule_vectorizes_and_parallelizes_with_a_ragged_tail():
    A = te.placeholder((300, 100), "float32", name="A")
    B = te.compute((300, 100), lambda i, j: A[i, j] * 2, name="B")
    sch = Schedule(module(A, B))
    schedule_spatial(sch, "main", "B", TWO_CORES)
    text = sch.mod.script()
    assert "for i in T.parallel(300):" in text and "for j_1 in T.vectorized(16):" in text
    assert "T.where(j_0 * 16 + j_1 < 100)" in text


@pytest.mark.parametrize("op, dtype, width", [("tanh", "float32", 32), ("sigmoid", "float32", 32),
                                              ("erf", "float32", 32), ("expm1", "float32", 32),
                                              ("exp", "float32", 16), ("log", "float32", 16),
                                              ("none", "float32", 16), ("tanh", "float64", 8)])
def test_spatial_rule_keeps_four_vectors_of_a_long_routine_in_flight(op, dtype, width):
    """A block computing float32 tanh, sigmoid, erf or expm1 (a dependent chain ending in a
    division) is split by four vectors (steps.ROUTINE_VECTORS), fewer where four do not
    divide its extent and fewer do; exp, log, plain arithmetic and float64 by two."""
    for n, want in ((4096, width), (48, min(width, 16)), (100, width if dtype == "float32" else 4)):
        A = te.placeholder((n,), dtype, name="A")
        f = (lambda v: v * 2) if op == "none" else getattr(te, op)
        B = te.compute((n,), lambda i: 0.5 * A[i] * (1.0 + f(A[i] * 0.75)), name="B")
        sch = Schedule(module(A, B))
        schedule_spatial(sch, "main", "B", TWO_CORES)
        assert f"T.vectorized({want})" in sch.mod.script(), (n, sch.mod.script())


@settings(max_examples=6, deadline=None)
@given(st.sampled_from([1, 3, 7, 31, 33, 48, 100, 257]), st.sampled_from([1, 5, 40]),
       st.sampled_from(["tanh", "sigmoid", "erf", "expm1"]))
def test_routines_split_by_four_vectors_at_any_size(n, m, op):
    """The tanh GELU and routines of steps.ROUTINE_VECTORS at ragged sizes: the default
    schedule's wider vector loop (its guarded tail) gives the unscheduled program's values."""
    A = te.placeholder((n, m), "float32", name="A")
    f = getattr(te, op)
    B = te.compute((n, m), lambda i, j: 0.5 * A[i, j] * (1.0 + f(0.79788456 * (A[i, j] + 0.044715 * A[i, j]
                                                                                * A[i, j] * A[i, j]))), name="B")
    check(module(A, B))


def test_small_nests_stay_serial_and_one_core_never_goes_parallel():
    A = te.placeholder((4, 8), "float32", name="A")
    B = te.compute((4, 8), lambda i, j: A[i, j] * 2, name="B")
    sch = Schedule(module(A, B))
    schedule_spatial(sch, "main", "B", TWO_CORES)
    assert "parallel" not in kinds(sch)
    big = te.placeholder((256, 256), "float32", name="A")
    sch = Schedule(module(big, te.compute((256, 256), lambda i, j: big[i, j] + 1, name="B")))
    schedule_spatial(sch, "main", "B", CpuInfo(256, 1))
    assert "parallel" not in kinds(sch)


def test_inline_keeps_expensive_producers_out_of_reductions():
    A = te.placeholder((8, 8), "float32", name="A")
    E = te.compute((8, 8), lambda i, j: te.exp(A[i, j]), name="E")
    T = te.compute((8, 8), lambda i, j: A[j, i], name="T")
    k = te.reduce_axis((0, 8), name="k")
    Y = te.compute((8, 8), lambda i, j: te.sum(E[i, k] * T[k, j], axis=k), name="Y")
    sch = Schedule(module(A, Y))
    assert inline_injective(sch, "main", TWO_CORES) == {"T"}  # the transpose, not the exp


def test_inline_into_readers_of_one_element_many_times_but_not_stencils():
    """A value loaded several times at the same point is computed once (LLVM CSE), so it
    is inlined: Black-Scholes' d1 (log, sqrt, division) feeds both erf terms, each
    reading it many times; materialising it made every other stage recompute it. A
    stencil reading two elements of an exp stays a stage."""
    A = te.placeholder((64,), "float64", name="A")
    D = te.compute((64,), lambda i: te.log(A[i]) / te.sqrt(A[i]), name="D")
    R = te.compute((64,), lambda i: 1.0 / (1.0 + te.abs(D[i])), name="R")
    P = te.compute((64,), lambda i: (R[i] * 0.5 + 0.25) * R[i] * te.exp(-D[i] * D[i]), name="P")
    Y = te.compute((64,), lambda i: te.if_then_else(D[i] < 0, -P[i], P[i]) + R[i], name="Y")
    sch = Schedule(module(A, Y))
    assert inline_injective(sch, "main", TWO_CORES) == {"D", "R", "P"}
    E = te.compute((64,), lambda i: te.exp(A[i]), name="E")
    W = te.compute((63,), lambda i: E[i] + E[i + 1], name="W")
    assert inline_injective(Schedule(module(A, W)), "main", TWO_CORES) == set()


def test_attempt_undoes_a_refused_step_trace_included():
    sch = Schedule(matmul(8, 8, 8))
    before = (sch.mod, len(sch.trace))

    def bad(s):
        s.split(s.get_loops(s.get_block("Y"))[0], [None, 2])
        s.vectorize(s.get_loops(s.get_block("Y"))[-1])  # the reduction loop: refused
        return True

    assert attempt(sch, bad) is None
    assert sch.mod is before[0] and len(sch.trace) == before[1]


# ---------------------------------------------- build: user schedule or default

def test_build_applies_a_user_schedule_and_marks_it():
    def tile(sch):
        block = sch.get_block("Y")
        i, j, k = sch.get_loops(block)
        sch.split(j, [None, 4])

    mod = mlc.IRModule({"main": mm_relu_func(8)})
    lib = mlc.build(mod, "llvm", schedule=tile)
    expected = Schedule(mod)
    tile(expected)
    built = lib["main"].func
    assert built.attr(SCHEDULED_ATTR) == "user"
    mlc.assert_structural_equal(built.with_attr(SCHEDULED_ATTR, None).body, expected.mod["main"].body)
    a, b = random_args(mod["main"])[:2]
    c = np.empty((8, 8), "float32")
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)
    # the trace is the same schedule: replaying it builds the same function
    replayed = mlc.build(mod, "llvm", schedule=Trace.from_json(expected.trace.to_json()))
    mlc.assert_structural_equal(replayed["main"].func, built)


def test_a_hand_scheduled_module_is_built_as_written():
    sch = Schedule(mlc.IRModule({"main": mm_relu_func(16)}))
    i, j, k = sch.get_loops(sch.get_block("Y"))
    sch.reorder(i, k, j)
    assert not is_unscheduled(sch.mod["main"])
    lib = mlc.build(sch.mod, "llvm")
    mlc.assert_structural_equal(lib["main"].func, sch.mod["main"])
    plain = mlc.build(mlc.IRModule({"main": mm_relu_func(16)}), "llvm", schedule=as_written)
    assert "parallel" not in plain["main"].func.script() and "vectorized" not in plain["main"].func.script()


def test_the_reference_target_runs_functions_as_written():
    mod = mlc.IRModule({"main": mm_relu_func(16)})
    assert mlc.build(mod, "reference")["main"].func is mod["main"]


def test_schedule_argument_errors():
    mod = mlc.IRModule({"main": mm_relu_func(8)})
    with pytest.raises(MLCError, match="schedule must be a function f\\(sch\\)"):
        mlc.build(mod, "llvm", schedule=3)
    with pytest.raises(MLCError, match="returned int"):
        mlc.build(mod, "llvm", schedule=lambda sch: 3)


@each_pinned_target
@settings(max_examples=12, deadline=None)
@given(m=st.integers(16, 40), n=st.sampled_from([70, 77, 80, 88, 96, 100, 135]), k=st.integers(1, 24))
def test_large_matmul_with_columns_no_vector_divides_keeps_the_register_tile(isa, target, m, n, k):
    """With the thresholds scaled down so that B counts as large, columns that the full
    register tile (4 vectors wide on AVX-512, 2 with AVX2) does not divide: that tile, not
    vectors down the rows nor narrower tiles; its last panel ragged, peeled off on the
    host's threads and run in narrower vectors; same results."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matmul_rule, "PACK_B_L2_SHARE", 1 / (1 << 20))
        mod = matmul(m, n, k)
        with pinned_threads():
            text = default_schedule(mod, target).mod["main"].script()
        lanes = 16 if isa == "avx512" else 8
        panel = 4 * lanes if isa == "avx512" else 2 * lanes
        if n % panel:  # (80 float32 columns with AVX-512: five vectors, but panels of four)
            assert f"T.vectorized({panel})" in text and "B_global" in text, text
        check(mod, rtol=1e-4, atol=1e-4)
