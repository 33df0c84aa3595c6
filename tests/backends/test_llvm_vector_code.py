"""Vectorized loops of constant extent emitted as vector code (mlc.passes.tir.vectorize_loops
makes vector IR, the llvm codegen renders it).

Each program is a row loop around one vectorized loop ``j`` of ``width``
lanes, built for the llvm target and checked against the reference
interpreter, which runs every loop one iteration at a time. The IR shows
which path the loop took: vector code, or LLVM loop metadata (the loop
vectorizer's path, taken whenever lanes might see each other's writes or
the body has no vector form here).
"""
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import mlc
from mlc.backends.llvm import LLVM_TIR_PASSES, compile_sources
from mlc.backends.llvm.module import generate_ir
from mlc.passes.tir.vectorize import MAX_LANES
from mlc.ir import expr as E
from mlc.ir.analysis import lane_stride
from mlc.ir.buffer import Buffer
from mlc.ir.expr import BufferLoad, Var, const
from mlc.ir.tir import BufferStore, For, IfThenElse, PrimFunc, seq
from mlc.passes.tir import lower, run_passes
from mlc.schedules.apply import as_written
from tests.targets import AVX2, AVX512

TARGET = AVX2  # the IR as generated, before any CPU-specific optimisation
FLOATS = ("float32", "float64")
WIDTHS = st.sampled_from([2, 3, 4, 7, 8, 10, 16, 17, 32, MAX_LANES])
ROWS = st.integers(1, 5)


def program(rows, width, dtype, body, buffers):
    """``for i in range(rows): for j in T.vectorized(width): body(i, j, *buffers)``."""
    i, j = Var("i", "int32"), Var("j", "int32")
    inner = For(j, const(0), const(width), "vectorized", body(i, j, *buffers))
    return PrimFunc(tuple(buffers), For(i, const(0), const(rows), "serial", inner))


def buf(name, n, dtype):
    return Buffer(name, (const(n),), dtype)


def load(b, index):
    return BufferLoad(b, (index,), b.dtype)


def store(b, index, value):
    return BufferStore(b, value, (index,))


def vector_code(func) -> bool:
    """Whether the vectorized loop became vector code (else it carries LLVM loop metadata)."""
    text = generate_ir({"f": lower(func)}, TARGET)
    return "llvm.loop.vectorize.enable" not in text


def run_both(func, arrays):
    """The outputs of ``func`` on copies of ``arrays``: llvm build, then reference."""
    outs = []
    for target in ("llvm", "reference"):
        lib = mlc.build(mlc.IRModule({"f": func}), target, schedule=as_written)
        copies = [a.copy() for a in arrays]
        lib["f"](*copies)
        outs.append(copies)
    return outs


def values(rng, n, dtype):
    if dtype in FLOATS:
        return rng.standard_normal(n).astype(dtype) * 10
    return rng.integers(-1000, 1000, n).astype(dtype)


def check(func, arrays, vectorized):
    assert vector_code(func) == vectorized
    got, want = run_both(func, arrays)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=15, deadline=None)
@given(rows=ROWS, width=WIDTHS, dtype=st.sampled_from(FLOATS + ("int32", "int64")), seed=st.integers(0, 99))
def test_contiguous_rows_with_a_broadcast_operand(rows, width, dtype, seed):
    n = rows * width

    def body(i, j, A, bias, B):
        x = load(A, i * width + j)
        return store(B, i * width + j, E.max(x * const(3, dtype) - load(bias, i), x))

    bufs = [buf("A", n, dtype), buf("bias", rows, dtype), buf("B", n, dtype)]
    rng = np.random.default_rng(seed)
    check(program(rows, width, dtype, body, bufs),
          [values(rng, n, dtype), values(rng, rows, dtype), np.zeros(n, dtype)], True)


@settings(max_examples=15, deadline=None)
@given(rows=ROWS, width=WIDTHS, dtype=st.sampled_from(FLOATS + ("int32",)), seed=st.integers(0, 99))
def test_transposed_store_is_a_scatter_and_transposed_load_a_gather(rows, width, dtype, seed):
    n = rows * width

    def body(i, j, A, B, C):
        return seq(store(B, j * rows + i, load(A, i * width + j) + const(1, dtype)),  # scatter
                   store(C, i * width + j, load(A, ((width - 1 - j) * rows + i) % n) * const(2, dtype)))  # gather

    bufs = [buf("A", n, dtype), buf("B", n, dtype), buf("C", n, dtype)]
    rng = np.random.default_rng(seed)
    check(program(rows, width, dtype, body, bufs), [values(rng, n, dtype), np.zeros(n, dtype),
                                                    np.zeros(n, dtype)], True)


@settings(max_examples=10, deadline=None)
@given(rows=ROWS, width=WIDTHS, seed=st.integers(0, 99))
def test_a_later_statement_reads_what_an_earlier_one_wrote_at_the_same_index(rows, width, seed):
    n = rows * width

    def body(i, j, A, B, C):
        k = i * width + j
        return seq(store(B, k, load(A, k) - const(1.0, "float32")),
                   store(B, k, load(B, k) * load(B, k)),
                   store(C, k, E.min(load(B, k), load(A, k) * const(0.5, "float32"))))

    bufs = [buf("A", n, "float32"), buf("B", n, "float32"), buf("C", n, "float32")]
    rng = np.random.default_rng(seed)
    check(program(rows, width, "float32", body, bufs),
          [values(rng, n, "float32"), np.zeros(n, "float32"), np.zeros(n, "float32")], True)


@settings(max_examples=10, deadline=None)
@given(rows=ROWS, width=WIDTHS, seed=st.integers(0, 99))
def test_lane_variable_comparisons_and_selects(rows, width, seed):
    n = rows * width

    def body(i, j, A, B):
        k = i * width + j
        lane_bonus = E.select(j < 3, const(100, "int32"), j * 7 - i)
        flag = E.select(E.logical_and(load(A, k) > const(0, "int32"), j > i),
                        const(1, "int32"), const(-1, "int32"))
        return store(B, k, load(A, k) + lane_bonus + flag + j)

    bufs = [buf("A", n, "int32"), buf("B", n, "int32")]
    rng = np.random.default_rng(seed)
    check(program(rows, width, "int32", body, bufs), [values(rng, n, "int32"), np.zeros(n, "int32")], True)


def test_nan_propagation_of_max_matches_numpy():
    def body(i, j, A, B):
        return store(B, i * 8 + j, E.max(load(A, i * 8 + j), const(0.0, "float32")))

    bufs = [buf("A", 16, "float32"), buf("B", 16, "float32")]
    a = np.array([np.nan, -1, 2, -np.inf, np.inf, 0, -0.0, 3] * 2, "float32")
    func = program(2, 8, "float32", body, bufs)
    assert vector_code(func)
    lib = mlc.build(mlc.IRModule({"f": func}), "llvm", schedule=as_written)
    b = np.zeros(16, "float32")
    lib["f"](a, b)
    np.testing.assert_array_equal(b, np.maximum(a, 0))


# ------------------------------------------------- loops left to LLVM's vectorizer

@settings(max_examples=8, deadline=None)
@given(rows=ROWS, width=WIDTHS, seed=st.integers(0, 99))
def test_all_lanes_writing_one_element_is_left_to_llvm(rows, width, seed):
    def body(i, j, A, S):  # a sum over j: every lane writes S[i]
        return store(S, i, load(S, i) + load(A, i * width + j))

    bufs = [buf("A", rows * width, "float32"), buf("S", rows, "float32")]
    rng = np.random.default_rng(seed)
    func = program(rows, width, "float32", body, bufs)
    assert not vector_code(func)
    got, want = run_both(func, [values(rng, rows * width, "float32"), np.zeros(rows, "float32")])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-4)


@settings(max_examples=8, deadline=None)
@given(rows=ROWS, width=WIDTHS, seed=st.integers(0, 99))
def test_reading_another_lanes_write_is_left_to_llvm(rows, width, seed):
    n = rows * width

    def body(i, j, A, B, C):  # lane j reads B[width - 1 - j], which lane width - 1 - j writes
        return seq(store(B, i * width + j, load(A, i * width + j) * const(2.0, "float32")),
                   store(C, i * width + j, load(B, i * width + (width - 1 - j))))

    bufs = [buf("A", n, "float32"), buf("B", n, "float32"), buf("C", n, "float32")]
    rng = np.random.default_rng(seed)
    check(program(rows, width, "float32", body, bufs),
          [values(rng, n, "float32"), np.full(n, -7.0, "float32"), np.zeros(n, "float32")], False)


def test_math_calls_and_casts_are_left_to_llvm():
    def exp_body(i, j, A, B):  # (sin: a routine of the llvm backend's own)
        return store(B, i * 8 + j, E.call("sin", load(A, i * 8 + j)))

    def cast_body(i, j, A, B):
        return store(B, i * 8 + j, load(A, i * 8 + j) + j.astype("float32"))

    for body in (exp_body, cast_body):
        func = program(3, 8, "float32", body, [buf("A", 24, "float32"), buf("B", 24, "float32")])
        a = np.linspace(-2, 2, 24, dtype="float32")
        assert not vector_code(func)
        got, want = run_both(func, [a, np.zeros(24, "float32")])
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6)


def test_lane_stride():
    i, j, n = Var("i", "int32"), Var("j", "int32"), Var("n", "int32")
    assert lane_stride(i * 16 + j, j) == 1
    assert lane_stride(j * 10 + i * 3 - 2, j) == 10
    assert lane_stride(i * 16 + 4, j) == 0
    assert lane_stride((8 - j) * 2, j) == -2
    assert lane_stride(j * n, j) is None  # not a constant step
    assert lane_stride(E.floordiv(j, 2), j) is None
    assert lane_stride(E.floordiv(i, 2) + j, j) == 1


# ------------------------------------------------- a predicate on the lanes (ragged splits)

def vector_types(func, width) -> bool:
    """Whether the IR of ``func`` computes on ``<width x T>`` vectors."""
    return f"<{width} x " in generate_ir({"f": lower(func)}, TARGET)


GUARDS = {
    # the ragged end of a split: lanes up to n
    "below": lambda k, j, n, lo: k < n,
    "at most": lambda k, j, n, lo: k <= n - 1,
    # the bound on the left, lanes moving down, a window from both sides
    "above": lambda k, j, n, lo: const(n, "int32") > k,
    "reversed": lambda k, j, n, lo: (const(n - 1, "int32") - k) >= lo,
    "window": lambda k, j, n, lo: E.logical_and(k >= lo, k < n),
}
#: The same guards on Python integers: which lanes run.
RUNS = {"below": lambda k, n, lo: k < n, "at most": lambda k, n, lo: k <= n - 1,
        "above": lambda k, n, lo: n > k, "reversed": lambda k, n, lo: n - 1 - k >= lo,
        "window": lambda k, n, lo: lo <= k < n}


@settings(max_examples=20, deadline=None)
@given(rows=ROWS, width=WIDTHS, guard=st.sampled_from(sorted(GUARDS)), cut=st.integers(0, 40),
       offset=st.integers(0, 3), dtype=st.sampled_from(FLOATS + ("int32",)), seed=st.integers(0, 99))
@example(rows=1, width=3, guard="above", cut=0, offset=0, dtype="float32", seed=0)  # every lane of one row
def test_a_guard_monotone_in_the_lane_runs_whole_vectors_unguarded(rows, width, guard, cut, offset,
                                                                  dtype, seed):
    """``if k < n: B[k] = A[k] + A[k + offset]`` in a vectorized loop: whole vectors run as
    vector code without the predicate, the rest guarded; every lane as the reference."""
    size = rows * width
    n = max(size - cut, 0)
    lo = min(cut // 3, size)

    def body(i, j, A, B):
        k = i * width + j
        return IfThenElse(GUARDS[guard](k, j, n, lo), store(B, k, load(A, k) + load(A, k + offset)))

    bufs = [buf("A", size + offset, dtype), buf("B", size, dtype)]
    func = program(rows, width, dtype, body, bufs)
    whole = any(all(RUNS[guard](i * width + j, n, lo) for j in range(width)) for i in range(rows))
    if whole:  # (with none, the code generator folds the guards of a single row away)
        assert vector_types(func, width)
    rng = np.random.default_rng(seed)
    got, want = run_both(func, [values(rng, size + offset, dtype), np.zeros(size, dtype)])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=8, deadline=None)
@given(rows=ROWS, width=WIDTHS, seed=st.integers(0, 99))
def test_a_guard_not_monotone_in_the_lane_stays_on_every_lane(rows, width, seed):
    """``k % 3 != 0`` may hold at both ends and fail between: the loop keeps its guard."""
    size = rows * width

    def body(i, j, A, B):
        k = i * width + j
        return IfThenElse(E.Binary("ne", E.floormod(k, const(3, "int32")), const(0, "int32"), "bool"),
                          store(B, k, load(A, k) * const(2.0, "float32")))

    bufs = [buf("A", size, "float32"), buf("B", size, "float32")]
    func = program(rows, width, "float32", body, bufs)
    assert not vector_types(func, width)
    rng = np.random.default_rng(seed)
    got, want = run_both(func, [values(rng, size, "float32"), np.zeros(size, "float32")])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# ------------------------------------------------- bounds-checked builds

def test_checked_vector_accesses_are_checked_lane_by_lane():
    from mlc import te
    from mlc.errors import BoundsError
    X = te.placeholder((16,), "float32", "X")
    I = te.placeholder((8,), "int32", "I")
    Y = te.compute((8,), lambda i: X[I[i]] * 2, "Y")
    mod = mlc.IRModule({"gather": te.create_prim_func([X, I, Y])})

    def vectorized(sch):
        sch.vectorize(sch.get_loops(sch.get_block("Y"))[0])

    sch = mlc.Schedule(mod)
    vectorized(sch)
    assert "T.Ramp" in lower(sch.mod["gather"]).script()
    lib = mlc.build(mod, "llvm", vectorized, check_bounds=True)
    x, index, y = np.arange(16, dtype="float32"), np.arange(8, dtype="int32"), np.zeros(8, "float32")
    lib["gather"](x, index, y)
    np.testing.assert_array_equal(y, x[:8] * 2)
    index[5] = 99
    with pytest.raises(BoundsError, match=r"load from buffer X at element 99 \(index I\[5\]\) is outside \[0, 16\)"):
        lib["gather"](x, index, y)


def test_vector_ir_written_by_hand_runs_as_on_the_reference():
    """Forms the vectorize pass does not make but vector IR allows: a select whose untaken
    side would load out of bounds, a vector cast and math call, a repeated store index."""
    from mlc.ir.expr import Binary, Broadcast, Call, Cast, Ramp, Select
    A, I, B, C, D = buf("A", 4, "float32"), buf("I", 8, "int32"), buf("B", 8, "float32"), \
        buf("C", 8, "float32"), buf("D", 2, "float32")
    lanes = Ramp(const(0), 1, 8)
    in_a = Binary("lt", lanes, Broadcast(const(4), 8), "boolx8")
    body = seq(
        BufferStore(B, Select(in_a, BufferLoad(A, (lanes,), "float32x8"), Broadcast(const(-1.0, "float32"), 8),
                              "float32x8"), (lanes,)),
        BufferStore(C, Call("sin", (Cast("float32x8", BufferLoad(I, (lanes,), "int32x8")),), "float32x8"), (lanes,)),
        BufferStore(D, Cast("float32x8", lanes), (Ramp(const(0), 0, 8),)))  # every lane stores D[0]: lane 7 last
    func = PrimFunc((A, I, B, C, D), body)
    arrays = [np.arange(1, 5, dtype="float32"), np.arange(-4, 4, dtype="int32"), np.zeros(8, "float32"),
              np.zeros(8, "float32"), np.zeros(2, "float32")]
    got, want = run_both(func, arrays)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    np.testing.assert_array_equal(want[2], [1, 2, 3, 4, -1, -1, -1, -1])
    np.testing.assert_array_equal(want[4], [7, 0])


def test_broadcasts_and_gathers_write_whole_vector_constants_as_one_word():
    # llvmlite writes a vector constant lane by lane (<float undef, float undef, ...>): for
    # 64 lanes some 1,500 characters to build, print and have LLVM parse, per broadcast
    rows, width, dtype = 3, MAX_LANES, "float32"
    n = rows * width

    def body(i, j, A, bias, B):
        gathered = load(A, ((width - 1 - j) * rows + i) % n)
        return store(B, i * width + j, gathered * const(3, dtype) - load(bias, i))

    bufs = [buf("A", n, dtype), buf("bias", rows, dtype), buf("B", n, dtype)]
    func = program(rows, width, dtype, body, bufs)
    text = generate_ir({"f": lower(func)}, TARGET)
    assert f"shufflevector <{width} x float>" in text and f"<{width} x float> undef" in text
    assert f"<{width} x i32> zeroinitializer" in text
    assert "float undef," not in text and "i32 0, i32 0" not in text
    rng = np.random.default_rng(0)
    got, want = run_both(func, [values(rng, n, dtype), values(rng, rows, dtype), np.zeros(n, dtype)])
    np.testing.assert_array_equal(got[2], want[2])


@pytest.mark.parametrize("rows, kept", [(3, False), (7, False), (8, True), (16, True)])
def test_a_serial_loop_of_vector_statements_is_kept_from_eight_iterations(rows, kept):
    """LLVM does not unroll a serial loop whose body the schedule vectorized once it runs 8
    or more times (``llvm.loop.unroll.disable``); a shorter one, or one without vector
    statements, is LLVM's to unroll. The code computes the same either way."""
    A, B = buf("A", rows * 16, "float32"), buf("B", rows * 16, "float32")
    func = program(rows, 16, "float32", lambda i, j, a, b: store(b, i * 16 + j, load(a, i * 16 + j) * 2.0),
                   (A, B))
    assert vector_code(func)
    assert ("llvm.loop.unroll.disable" in generate_ir({"f": run_passes(func, LLVM_TIR_PASSES)}, TARGET)) == kept
    a = np.random.default_rng(rows).standard_normal(rows * 16).astype("float32")
    (_, llvm_out), (_, reference) = run_both(func, [a, np.zeros_like(a)])
    np.testing.assert_array_equal(llvm_out, reference)
    np.testing.assert_array_equal(llvm_out, a * 2)
    scalar = program(rows, 1, "float32", lambda i, j, a, b: store(b, i, load(a, i) * 2.0), (A, B))
    assert "llvm.loop.unroll.disable" not in generate_ir({"f": run_passes(scalar, LLVM_TIR_PASSES)}, TARGET)


def _math_loop(width, dtype, op="sin"):
    """Three rows of ``B[i, j] = op(A[i, j])`` over a vectorized ``j`` of ``width``."""
    n = 3 * width

    def body(i, j, A, B):
        return store(B, i * width + j, E.call(op, load(A, i * width + j)))
    return program(3, width, dtype, body, [buf("A", n, dtype), buf("B", n, dtype)]), n


@pytest.mark.parametrize("isa, target, dtype, width, lanes", [
    ("avx2", AVX2, "float32", 16, 8), ("avx2", AVX2, "float64", 32, 4),
    ("avx512", AVX512, "float32", 64, 16), ("avx512", AVX512, "float64", 16, 8)])
def test_a_math_loop_keeps_two_register_wide_vectors_in_flight(isa, target, dtype, width, lanes):
    """A vectorized loop calling a vector math routine (a long dependent chain per vector:
    LLVM's own choice is one vector an iteration) asks for register-wide vectors, two in
    flight (float32 exp on one Zen 4 core: 342 -> 309 us for 2^20 values; GELU 2^22 on
    two: 1.29 -> 1.05 ms). Where two such vectors do not divide the extent it asks for
    nothing (LLVM leaves a loop whose trip count is below one vector iteration scalar: a
    16-lane float64 loop, asked for 16-lane vectors twice, ran 7 times slower)."""
    func, _ = _math_loop(width, dtype)
    text = generate_ir({"f": lower(func)}, target)
    assert '!"llvm.loop.interleave.count", i32 2' in text
    assert f'!"llvm.loop.vectorize.width", i32 {lanes}' in text
    optimized = compile_sources(mlc.IRModule({"f": func}), target)["ll"]
    assert f"<{lanes} x {'float' if dtype == 'float32' else 'double'}>" in optimized  # still vector code
    ragged, _ = _math_loop(lanes * 2 + lanes // 2, dtype)
    assert "llvm.loop.interleave.count" not in generate_ir({"f": lower(ragged)}, target)
    plain = program(3, width, dtype, lambda i, j, A, B: store(B, i * width + j, load(A, i * width + j) * 2.0),
                    [buf("A", 3 * width, dtype), buf("B", 3 * width, dtype)])
    assert "llvm.loop.interleave.count" not in generate_ir({"f": lower(plain)}, target)


@pytest.mark.parametrize("dtype", FLOATS)
def test_an_interleaved_math_loop_computes_what_the_reference_does(dtype):
    func, n = _math_loop(64, dtype, "tanh")
    a = np.linspace(-5, 5, n).astype(dtype)
    got, want = run_both(func, [a, np.zeros(n, dtype)])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6 if dtype == "float32" else 1e-14)
