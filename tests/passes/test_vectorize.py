"""vectorize_loops: vectorized loops become vector IR (Ramp, Broadcast, vector loads and stores).

Golden before/after IR for each form the pass produces and for the loops it
leaves alone, and a differential test: random row-by-vector programs (odd
widths, width 1, ragged ends under a guard) run serially on the reference
interpreter, as vector IR on the reference interpreter, and built for LLVM.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.backends.reference import Program
from mlc.errors import IRError
from mlc.ir import dtype as dt
from mlc.ir import expr as E
from mlc.ir.buffer import Buffer
from mlc.ir.expr import Binary, Broadcast, BufferLoad, FloatImm, IntImm, Ramp, Var, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.structural import assert_structural_equal
from mlc.ir.tir import BufferStore, For, IfThenElse, PrimFunc, SeqStmt, seq
from mlc.passes.tir import LOWER_PIPELINE, lower, run_passes, vectorize_loops
from mlc.passes.tir.vectorize import hoist_invariant_guard
from mlc.passes.tir.verify import verify_lowered
from mlc.passes.tir.partition_tiles import OVERLAP_MAX_SHARE
from tests.programs import double_plus_one_in_place
from mlc.schedules.apply import as_written
from mlc.script import parse


def buf(name, n, dtype="float32"):
    return Buffer(name, (const(n),), dtype)


def load(b, index):
    return BufferLoad(b, (index,), b.dtype)


def vload(b, index):
    return BufferLoad(b, (index,), dt.vector(b.dtype, index.lanes))


def store(b, index, value):
    return BufferStore(b, value, (index,))


def rows_of(rows, width, body, buffers, guard=None):
    """``for i in range(rows): for j in T.vectorized(width): [if guard(i, j):] body(i, j)``."""
    i, j = Var("i"), Var("j")
    inner = body(i, j, *buffers)
    if guard is not None:
        inner = IfThenElse(guard(i, j), inner)
    return i, j, PrimFunc(tuple(buffers), For(i, const(0), const(rows), "serial",
                                              For(j, const(0), const(width), "vectorized", inner)))


# ------------------------------------------------------------------ IR nodes

def test_vector_dtypes_and_nodes():
    i = Var("i")
    assert (dt.vector("float32", 8), dt.lanes("int64x4"), dt.element("int64x4")) == ("float32x8", 4, "int64")
    assert dt.vector("float32", 1) == "float32" and not dt.is_vector("float32")
    r = Ramp(i * 4, 2, 8)
    assert r.dtype == "int32x8" and Broadcast(FloatImm(1.0, "float64"), 4).dtype == "float64x4"
    assert repr(r) == "T.Ramp(i * 4, 2, 8)"
    with pytest.raises(IRError, match="integer scalar base"):
        Ramp(FloatImm(1.0), 1, 4)
    with pytest.raises(IRError, match="at least 2 lanes"):
        Broadcast(i, 1)
    with pytest.raises(IRError, match="scalar value"):
        Broadcast(r, 2)


def test_vector_nodes_compare_structurally():
    from mlc.ir.structural import structural_equal, structural_hash
    i, k = Var("i"), Var("k")
    assert structural_equal(Ramp(i * 4, 1, 8), Ramp(k * 4, 1, 8))
    assert structural_hash(Ramp(i * 4, 1, 8)) == structural_hash(Ramp(k * 4, 1, 8))
    assert not structural_equal(Ramp(i * 4, 1, 8), Ramp(i * 4, 2, 8))
    assert not structural_equal(Ramp(i, 1, 8), Ramp(i, 1, 4))
    assert not structural_equal(Broadcast(i, 8), Broadcast(i, 4))


# ------------------------------------------------------------------ golden IR

def test_contiguous_rows_become_vector_loads_and_stores():
    A, bias, B = buf("A", 64), buf("bias", 4), buf("B", 64)
    i, j, func = rows_of(4, 16, lambda i, j, A, bias, B: store(B, i * 16 + j, load(A, i * 16 + j) * 2.0 + load(bias, i)),
                         [A, bias, B])
    ramp = Ramp(i * 16, 1, 16)
    want = For(i, const(0), const(4), "serial", store(B, ramp, Binary(
        "add", Binary("mul", vload(A, ramp), Broadcast(FloatImm(2.0), 16), "float32x16"),
        Broadcast(load(bias, i), 16), "float32x16")))
    got = vectorize_loops(func)
    assert_structural_equal(got.body, want)
    verify_lowered(got)


def test_strided_store_is_a_ramp_and_a_nonaffine_index_a_vector_of_lane_indices():
    A, B, C = buf("A", 32), buf("B", 32), buf("C", 32)
    i, j, func = rows_of(4, 8, lambda i, j, A, B, C: seq(
        store(B, j * 4 + i, load(A, i * 8 + j)),                    # scatter: stride 4
        store(C, i * 8 + j, load(A, (i * 8 + j) // 2))), [A, B, C])  # gather: floordiv
    got = vectorize_loops(func).body.body
    assert isinstance(got, SeqStmt)
    scatter, gather = got.seq
    assert_structural_equal(scatter.indices[0], Ramp(i, 4, 8))
    index = gather.value.indices[0]
    assert index.dtype == "int32x8" and isinstance(index, Binary) and index.op == "floordiv"
    assert_structural_equal(index, Binary("floordiv", Binary("add", Broadcast(i * 8, 8), Ramp(IntImm(0), 1, 8),
                                                              "int32x8"), Broadcast(IntImm(2), 8), "int32x8"))


def test_a_ragged_guard_splits_into_full_vectors_and_the_guarded_loop():
    A, B = buf("A", 30), buf("B", 30)
    i, j, func = rows_of(4, 8, lambda i, j, A, B: store(B, i * 8 + j, load(A, i * 8 + j) + 1.0), [A, B],
                         guard=lambda i, j: i * 8 + j < 30)
    got = vectorize_loops(func).body.body
    assert isinstance(got, IfThenElse)
    ramp = Ramp(i * 8, 1, 8)
    assert_structural_equal(got.then_case, store(B, ramp, Binary("add", vload(A, ramp), Broadcast(FloatImm(1.0), 8),
                                                                "float32x8")))
    assert got.else_case is func.body.body  # the loop as it was, for the last, partial vector


def test_a_lane_invariant_guard_is_one_test_around_the_vector():
    """A ragged register tile's row guard does not depend on the column lanes: the lanes
    run all or none, so the test goes around one vector store (no per-lane loop beside it)."""
    A, B = buf("A", 32), buf("B", 32)
    i, j, func = rows_of(4, 8, lambda i, j, A, B: store(B, i * 8 + j, load(A, i * 8 + j) + 1.0), [A, B],
                         guard=lambda i, j: i < 3)
    got = vectorize_loops(func).body.body
    ramp = Ramp(i * 8, 1, 8)
    assert isinstance(got, IfThenElse) and got.else_case is None
    assert_structural_equal(got.condition, i < 3)
    assert_structural_equal(got.then_case, store(B, ramp, Binary("add", vload(A, ramp), Broadcast(FloatImm(1.0), 8),
                                                                "float32x8")))


def test_a_mixed_guard_hoists_its_lane_invariant_part_and_splits_the_rest():
    A, B = buf("A", 32), buf("B", 32)
    i, j, func = rows_of(4, 8, lambda i, j, A, B: store(B, i * 8 + j, load(A, i * 8 + j) + 1.0), [A, B],
                         guard=lambda i, j: E.and_all([i < 3, i * 8 + j < 30]))
    got = vectorize_loops(func).body.body
    assert isinstance(got, IfThenElse) and got.else_case is None
    assert_structural_equal(got.condition, i < 3)
    inner = got.then_case
    assert isinstance(inner, IfThenElse) and isinstance(inner.then_case, BufferStore)  # the full vectors
    assert isinstance(inner.else_case, For) and inner.else_case.kind == "vectorized"  # the last, partial one
    assert_structural_equal(inner.else_case.body.condition, i * 8 + j < 30)


def test_a_guard_that_reads_memory_is_not_hoisted():
    A, B, C = buf("A", 32), buf("B", 32), buf("C", 4, "int32")
    i, j, func = rows_of(4, 8, lambda i, j, A, B, C: store(B, i * 8 + j, load(A, i * 8 + j) + 1.0), [A, B, C],
                         guard=lambda i, j: load(C, i) > 0)
    assert hoist_invariant_guard(func.body.body) is None  # (a store of the body might change it)
    got = vectorize_loops(func).body.body
    assert isinstance(got, IfThenElse) and got.else_case is func.body.body  # tested per lane, as before


@pytest.mark.parametrize("case", ["math call", "cast", "lanes conflict", "one element", "width 1", "too wide",
                                  "float16", "aliased"])
def test_loops_without_a_vector_form_are_left_as_they_are(case):
    width = {"width 1": 1, "too wide": 65}.get(case, 8)
    dtype = "float16" if case == "float16" else "float32"
    A, B = buf("A", 8 * width, dtype), buf("B", 8 * width, dtype)

    def body(i, j, A, B):
        k = i * width + j
        if case == "math call":
            return store(B, k, E.call("exp", load(A, k)))
        if case == "cast":
            return store(B, k, load(A, k) + j.astype("float32"))
        if case == "lanes conflict":  # lane j reads what lane width - 1 - j writes
            return seq(store(B, k, load(A, k)), store(A, k, load(B, i * width + (width - 1 - j))))
        if case == "one element":
            return store(B, i, load(B, i) + load(A, k))
        return store(B, k, load(A, k) + load(A, k))

    _, _, func = rows_of(8, width, body, [A, B])
    if case == "aliased":
        func = func.with_attr("tir.noalias", False)
    assert vectorize_loops(func) is func


def test_nested_vectorized_loops_vectorize_the_inner_one_only():
    A, B = buf("A", 64), buf("B", 64)
    i, j = Var("i"), Var("j")
    func = PrimFunc((A, B), For(i, const(0), const(8), "vectorized", For(
        j, const(0), const(8), "vectorized", store(B, i * 8 + j, load(A, i * 8 + j)))))
    got = vectorize_loops(func).body
    assert got.kind == "vectorized" and isinstance(got.body, BufferStore) and got.body.value.dtype == "float32x8"


def test_running_the_pass_again_changes_nothing():
    A, B = buf("A", 30), buf("B", 30)
    for guard in (None, lambda i, j: i * 8 + j < 30, lambda i, j: E.logical_and(i * 8 + j < 30, j > 0)):
        for body in (lambda i, j, A, B: store(B, i * 8 + j, load(A, i * 8 + j) + 1.0),
                     lambda i, j, A, B: store(B, i * 8 + j, E.call("exp", load(A, i * 8 + j)))):
            _, _, func = rows_of(4, 8, body, [A, B], guard=guard)
            once = vectorize_loops(func)
            assert vectorize_loops(once) is once


def test_lowering_vector_ir_again_changes_nothing():
    A, B, C = buf("A", 30), buf("B", 30), buf("C", 30)
    _, _, func = rows_of(4, 8, lambda i, j, A, B, C: seq(
        store(B, i * 8 + j, load(A, (i * 8 + j) // 2) + 1.0), store(C, j * 4 + i, load(B, i * 8 + j))),
        [A, B, C], guard=lambda i, j: i * 8 + j < 30)
    once = lower(func)
    assert any(isinstance(n, Ramp) for n in pre_order_nodes(once.body))
    assert_structural_equal(lower(once), once)


def test_the_pass_is_in_the_lowering_pipeline():
    assert vectorize_loops in LOWER_PIPELINE


# ------------------------------------------------------------------ differential

INDEX_KINDS = ("contiguous", "reversed", "row", "half", "wrap")


def index_of(kind, i, j, width, n):
    k = i * width + j
    return {"contiguous": k, "reversed": i * width + (width - 1 - j), "row": i,
            "half": k // 2, "wrap": (k * 3 + 1) % n}[kind]


def values_strategy(dtype):
    leaf = st.one_of(st.tuples(st.just("load"), st.sampled_from("AB"), st.sampled_from(INDEX_KINDS)),
                     st.tuples(st.just("const"), st.integers(-3, 3)))
    return st.recursive(leaf, lambda kids: st.one_of(
        st.tuples(st.sampled_from(["add", "sub", "mul", "max", "min"]), kids, kids),
        st.tuples(st.just("select"), st.sampled_from(["lt", "ge", "eq"]), kids, kids, kids, kids)), max_leaves=5)


def build_value(tree, i, j, width, n, bufs, dtype):
    kind = tree[0]
    if kind == "load":
        return load(bufs[tree[1]], index_of(tree[2], i, j, width, n))
    if kind == "const":
        return const(tree[1], dtype)
    sub = [build_value(t, i, j, width, n, bufs, dtype) for t in tree[1:] if isinstance(t, tuple)]
    if kind == "select":
        a, b, t, f = sub
        return E.select(Binary(tree[1], a, b, "bool"), t, f)
    return {"add": E.ExprOp.__add__, "sub": E.ExprOp.__sub__, "mul": E.ExprOp.__mul__,
            "max": E.max, "min": E.min}[kind](*sub)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 4), width=st.sampled_from([1, 2, 3, 5, 8, 16, 17]), dtype=st.sampled_from(["float32", "float64", "int32"]),
       tail=st.integers(0, 4), row_cut=st.integers(0, 2), update=st.booleans(), scatter=st.booleans(),
       data=st.data())
def test_vector_ir_runs_as_the_serial_loop_on_the_reference_and_on_llvm(rows, width, dtype, tail, row_cut, update,
                                                                          scatter, data):
    n = rows * width
    limit = max(n - tail, 1)
    tree = data.draw(values_strategy(dtype))
    bufs = {name: buf(name, n, dtype) for name in "ABC"}

    def body(i, j, A, B, C):
        k = j * rows + i if scatter else i * width + j
        value = build_value(tree, i, j, width, n, bufs, dtype)
        return store(C, k, load(C, k) + value if update else value)

    def guard(i, j):  # a ragged last vector (tail) and rows cut off (row_cut: a lane-invariant test)
        return E.and_all(([i * width + j < limit] if tail else []) + ([i < rows - row_cut] if row_cut else []))

    guard = guard if tail or row_cut else None
    _, _, func = rows_of(rows, width, body, list(bufs.values()), guard)
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    arrays = [rng.integers(-5, 6, n).astype(dtype) for _ in "ABC"]

    serial = run_passes(func, [p for p in LOWER_PIPELINE if p is not vectorize_loops])
    vector = lower(func)
    verify_lowered(vector)
    want = [a.copy() for a in arrays]
    Program(serial, vectorize=False).run(want)
    got = [a.copy() for a in arrays]
    Program(vector).run(got)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    native = [a.copy() for a in arrays]
    mlc.build(mlc.IRModule({"f": func}), "llvm", schedule=as_written)["f"](*native)
    for g, w in zip(native, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6 * max(1.0, float(np.abs(w).max())))


def test_vectorized_ir_holds_vector_nodes_for_a_vectorizable_program():
    A, B = buf("A", 24), buf("B", 24)
    _, _, func = rows_of(3, 8, lambda i, j, A, B: store(B, i * 8 + j, load(A, i * 8 + j) * 2.0), [A, B])
    nodes = list(pre_order_nodes(lower(func).body))
    assert any(isinstance(x, Ramp) for x in nodes) and not any(isinstance(x, For) and x.kind == "vectorized"
                                                                 for x in nodes)


def test_vector_ir_prints_as_tvmscript_that_parses_back():
    A, bias, B, C = buf("A", 64), buf("bias", 4), buf("B", 64), buf("C", 64)
    _, _, func = rows_of(4, 16, lambda i, j, A, bias, B, C: seq(
        store(B, i * 16 + j, E.select(load(A, i * 16 + j) > load(bias, i), const(2.0, "float32"), const(-1.0, "float32")) * load(A, i * 16 + j)),
        store(C, j * 4 + i, load(A, (i * 16 + j) // 2) - load(B, i * 16 + j))), [A, bias, B, C],
        guard=lambda i, j: i * 16 + j < 60)
    vector = vectorize_loops(func)
    text = vector.script()
    assert "T.Ramp(" in text and "T.Broadcast(" in text
    assert_structural_equal(parse(text), vector)


def test_hand_written_vector_ir_parses_back():
    from mlc.ir.expr import Call, Cast, Select
    A, I, B = buf("A", 8), buf("I", 8, "int32"), buf("B", 8)
    lanes = Ramp(const(0), 1, 8)
    value = Select(Binary("lt", lanes, Broadcast(const(4), 8), "boolx8"),
                   Call("exp", (Cast("float32x8", BufferLoad(I, (lanes,), "int32x8")),), "float32x8"),
                   vload(A, Ramp(const(7), -1, 8)), "float32x8")
    func = PrimFunc((A, I, B), store(B, lanes, value))
    assert_structural_equal(parse(func.script()), func)


def test_the_verifier_checks_vector_lanes():
    A, B = buf("A", 16), buf("B", 16)
    ramp = Ramp(const(0), 1, 8)
    ok = PrimFunc((A, B), store(B, ramp, vload(A, ramp)))
    verify_lowered(ok)
    bad = PrimFunc((A, B), store(B, ramp, BufferLoad(A, (ramp,), "float32x4")))
    with pytest.raises(IRError, match="a load of A has dtype float32x4"):
        verify_lowered(bad)
    with pytest.raises(IRError, match="the lanes differ"):
        verify_lowered(PrimFunc((A, B), store(B, Ramp(const(0), 1, 4), vload(A, ramp))))
    with pytest.raises(IRError, match="storing a float64x8 value into float32 buffer B"):
        store(B, ramp, Broadcast(FloatImm(1.0, "float64"), 8))


def _double_plus_one(n, inplace):
    """``B = A * 2 + 1``, or in place: ``A[i] = A[i] * 2 + 1``."""
    if not inplace:
        A = mlc.te.placeholder((n,), "float32", name="A")
        B = mlc.te.compute((n,), lambda i: A[i] * 2.0 + 1.0, name="B")
        return mlc.IRModule({"main": mlc.te.create_prim_func([A, B])})
    return mlc.IRModule({"main": double_plus_one_in_place(n)})


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 150), width=st.sampled_from([4, 16, 64]), inplace=st.booleans())
def test_the_ragged_tile_runs_in_vectors_of_a_power_of_two_lanes(n, width, inplace):
    """A split that does not divide the extent leaves a ragged tile. Updated in place (a row
    computed twice would be updated twice), partition_tiles peels it off and its lanes are
    constants, so it becomes vectors of 32, 16, ... lanes (no scalar loop, no guard), and so
    where the last tile would compute much twice (OVERLAP_MAX_SHARE); otherwise the last tile
    overlaps the one before and runs in whole vectors. All compute what NumPy does."""
    mod = _double_plus_one(n, inplace)

    def schedule(sch):
        (i,) = sch.get_loops(sch.get_block("B"))
        _, inner = sch.split(i, [None, width])
        sch.vectorize(inner)

    sch = mlc.Schedule(mod)
    schedule(sch)
    lowered = lower(sch.mod["main"])
    lib = mlc.build(mod, "llvm", schedule=schedule)
    a = np.random.default_rng(n).random(n, dtype="float32")
    expected = a * np.float32(2) + np.float32(1)
    b = a if inplace else np.empty(n, "float32")
    lib["main"](a) if inplace else lib["main"](a, b)
    np.testing.assert_array_equal(b, expected)
    if n % width and n > width:
        lanes = {node.lanes for node in pre_order_nodes(lowered.body) if isinstance(node, Ramp)}
        tail = n % width
        assert all(lane & (lane - 1) == 0 for lane in lanes), lanes
        if inplace or (width - tail) * OVERLAP_MAX_SHARE > n:
            assert tail == 1 or 1 << (tail.bit_length() - 1) in lanes, (lanes, tail)
        else:
            assert lanes == {width}, lanes
        assert not any(isinstance(node, IfThenElse) for node in pre_order_nodes(lowered.body)), lowered


@settings(max_examples=10, deadline=None)
@given(width=st.sampled_from([2, 3, 8, 16]), rows=st.integers(1, 3), dtype=st.sampled_from(["float32", "float64"]),
       op=st.sampled_from(["exp", "log1p", "tanh", "cbrt", "atan", "erf"]), data=st.data())
def test_local_scalars_become_vector_lets(width, rows, dtype, op, data):
    """A loop computing a routine lower_math wrote out (its values in local scalars before the
    store) becomes one vector store whose value binds them by Lets of vector variables, with
    ``vector_lets``; it runs on the reference interpreter as the serial loop does, bit for
    bit, and within the routine's bound of NumPy. Without ``vector_lets`` it stays a loop."""
    from mlc.ir.expr import Let
    from mlc.passes.tir.lower_math import lower_math
    n = rows * width
    A, B = buf("A", n, dtype), buf("B", n, dtype)
    _, _, func = rows_of(rows, width, lambda i, j, A, B: store(B, i * width + j, E.call(op, load(A, i * width + j))),
                         [A, B])
    written = lower_math(run_passes(func, LOWER_PIPELINE[:LOWER_PIPELINE.index(vectorize_loops)]))
    assert vectorize_loops(written, math_calls={"sin": ("float32",)}) is written
    vector = vectorize_loops(written, math_calls={"sin": ("float32",)}, vector_lets=True)
    lets = [x for x in pre_order_nodes(vector.body) if isinstance(x, Let)]
    assert lets and all(x.var.dtype == dt.vector(x.var.dtype.split("x")[0], width) or not dt.is_vector(x.var.dtype)
                        for x in lets)
    assert not any(isinstance(x, For) and x.kind == "vectorized" for x in pre_order_nodes(vector.body))
    x = data.draw(st.lists(st.floats(-4.0, 4.0, width=32), min_size=n, max_size=n))
    x = np.abs(np.array(x, dtype)) if op == "log1p" else np.array(x, dtype)
    want, got = [x, np.zeros(n, dtype)], [x, np.zeros(n, dtype)]
    Program(written, vectorize=False).run(want)
    Program(vector).run(got)
    np.testing.assert_array_equal(got[1], want[1])
    import scipy.special
    numpy = {"exp": np.exp, "log1p": np.log1p, "tanh": np.tanh, "cbrt": np.cbrt, "atan": np.arctan,
             "erf": scipy.special.erf}[op]
    tiny = 2 * float(np.finfo(dtype).smallest_subnormal)  # (a subnormal result: within an ulp or two)
    np.testing.assert_allclose(got[1], numpy(x.astype("float64")), rtol=4 * np.finfo(dtype).eps, atol=tiny)
