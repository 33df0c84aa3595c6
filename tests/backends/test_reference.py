"""The NumPy reference interpreter: differential tests against NumPy on te programs
and on hand-built TensorIR (scheduled-looking and lowered forms)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import MLCError, te
from mlc.backends.reference import Program, run
from mlc.ir import dtype as dt
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import (BufferLoad, IterVar, Range, Reduce, Var, const, floordiv, floormod,
                         select, truncdiv, truncmod)
from mlc.ir.tir import (Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse,
                        PrimFunc, seq)
from tests.programs import mm_relu_func

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------ builders

def loop(name, extent, body, kind="serial", thread=None, lo=0):
    """``for name in range(lo, lo + extent): body(var)``."""
    v = Var(name)
    return For(v, const(lo), const(extent) if isinstance(extent, int) else extent, kind, body(v), thread)


def block(name, iters, body, init=None, allocs=(), predicate=True):
    """A BlockRealize: ``iters`` are (kind "S"/"R", extent, bound value) triples;
    ``body``/``init`` get the block iterator vars."""
    ivs = tuple(IterVar(Var("v" + name + str(n)), Range.from_extent(e), "reduce" if k == "R" else "spatial")
                for n, (k, e, _) in enumerate(iters))
    vars_ = [iv.var for iv in ivs]
    blk = Block(name, ivs, (), (), body(*vars_), init(*vars_) if init else None, tuple(allocs))
    return BlockRealize(tuple(v for _, _, v in iters), const(predicate, "bool") if isinstance(predicate, bool)
                        else predicate, blk)


def prim_func(params, body, allocs=()):
    root = Block("root", (), (), (), body, None, tuple(allocs))
    return PrimFunc(tuple(params), BlockRealize((), const(True, "bool"), root))


def rand(shape, dtype="float32"):
    if dt.is_float(dtype):
        return RNG.uniform(-2, 2, shape).astype(dtype)
    if dtype == "bool":
        return RNG.integers(0, 2, shape).astype(bool)
    info = np.iinfo(dtype)
    return RNG.integers(max(info.min, -100), min(info.max, 100), shape).astype(dtype)


def mm_relu(n, m=None, k_=None):
    return mm_relu_func(n, m, k_)


# ------------------------------------------------------------ te programs

def test_matmul_relu_course_program_through_build():
    lib = mlc.build(mlc.IRModule({"mm_relu": mm_relu(128)}), "reference")
    a, b = rand((128, 128)), rand((128, 128))
    c = np.empty((128, 128), "float32")
    lib["mm_relu"](a, b, c)
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-4, atol=1e-4)
    assert lib.function_names == ["mm_relu"]


@settings(max_examples=15)
@given(st.sampled_from([1, 2, 3, 7, 16]), st.sampled_from([1, 5, 8]), st.sampled_from([1, 3, 9]))
def test_matmul_relu_odd_and_unit_shapes(n, m, k):
    a, b = rand((n, k)), rand((k, m))
    c = np.empty((n, m), "float32")
    run(mm_relu(n, m, k), [a, b, c])
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)


UNARY = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "sin": np.sin, "cos": np.cos,
    "abs": np.abs, "floor": np.floor, "ceil": np.ceil, "round": np.round, "expm1": np.expm1,
    "log1p": np.log1p, "isnan": np.isnan, "isfinite": np.isfinite, "isinf": np.isinf,
    "rsqrt": lambda x: (1 / np.sqrt(x.astype("float64"))),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x.astype("float64"))),
    "erf": lambda x: np.vectorize(math.erf)(x.astype("float64")),
}


@pytest.mark.parametrize("dtype", dt.FLOATS)
@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_math_every_float_dtype(op, dtype):
    x = np.array([-3.5, -1, -0.5, 0, 0.25, 0.5, 1.5, 2.5, 7, np.nan, np.inf, -np.inf], dtype)
    A = te.placeholder(x.shape, dtype, "A")
    B = te.compute(x.shape, lambda i: getattr(te, op)(A[i]), "B")
    out = np.empty(x.shape, B.dtype)
    run(te.create_prim_func([A, B]), [x, out])
    with np.errstate(all="ignore"):
        want = np.asarray(UNARY[op](x)).astype(B.dtype)
    tol = {"float16": 1e-3, "float32": 1e-6, "float64": 1e-12}[dtype]
    np.testing.assert_allclose(out.astype("float64"), want.astype("float64"), rtol=tol, atol=tol)


def test_float16_is_rounded_after_every_operation():
    x = np.array([0.1, 100.5, 3.3, -7.7], "float16")
    A = te.placeholder((4,), "float16", "A")
    B = te.compute((4,), lambda i: (A[i] * A[i] + A[i]) / te.const(3, "float16") - te.const(0.1, "float16"), "B")
    out = np.empty(4, "float16")
    run(te.create_prim_func([A, B]), [x, out])
    np.testing.assert_array_equal(out, (x * x + x) / np.float16(3) - np.float16(0.1))


def test_float32_math_rounds_like_float32():
    x = np.array([1e8, 1.0, 3.0], "float32")
    A = te.placeholder((3,), "float32", "A")
    B = te.compute((3,), lambda i: (A[i] + 1.0) - A[i], "B")  # 0 for 1e8 in float32
    out = np.empty(3, "float32")
    run(te.create_prim_func([A, B]), [x, out])
    np.testing.assert_array_equal(out, (x + np.float32(1)) - x)


INT_BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "floordiv": floordiv, "floormod": floormod, "truncdiv": truncdiv, "truncmod": truncmod,
    "min": te.min, "max": te.max, "bitand": lambda a, b: a & b, "bitor": lambda a, b: a | b,
    "bitxor": lambda a, b: a ^ b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _c_div(a, b):
    """C (truncating) division and remainder, zero divisor giving 0, in Python ints."""
    if b == 0:
        return 0, 0
    q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
    return q, a - q * b


def _expected_int(op, a, b, dtype):
    with np.errstate(all="ignore"):
        if op in ("truncdiv", "truncmod"):
            pairs = [_c_div(int(x), int(y)) for x, y in zip(a, b)]
            out = [p[0] if op == "truncdiv" else p[1] for p in pairs]
            bits = np.iinfo(dtype).bits
            lo = np.iinfo(dtype).min
            return np.array([(v - lo) % 2**bits + lo for v in out]).astype(dtype)  # INT_MIN / -1 wraps
        table = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "floordiv": np.floor_divide,
                 "floormod": np.mod, "min": np.minimum, "max": np.maximum, "bitand": np.bitwise_and,
                 "bitor": np.bitwise_or, "bitxor": np.bitwise_xor, "lt": np.less, "le": np.less_equal,
                 "eq": np.equal, "ne": np.not_equal, "gt": np.greater, "ge": np.greater_equal}
        return table[op](a, b)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "uint32"])
@pytest.mark.parametrize("op", sorted(INT_BINARY))
def test_integer_binary_ops_wrap_and_never_trap(op, dtype):
    info = np.iinfo(dtype)
    a = np.array([7, -7, 7, -7, info.min, info.max, info.min, 5, 0, info.max], "int64")
    b = np.array([2, 2, -2, -2, -1, 1, 0, 0, 3, info.max], "int64")
    if dt.is_unsigned(dtype):
        a, b = np.abs(a) % (info.max + 1), np.abs(b) % (info.max + 1)
    a, b = a.astype(dtype), b.astype(dtype)
    A, B = te.placeholder(a.shape, dtype, "A"), te.placeholder(b.shape, dtype, "B")
    C = te.compute(a.shape, lambda i: INT_BINARY[op](A[i], B[i]), "C")
    out = np.empty(a.shape, C.dtype)
    run(te.create_prim_func([A, B, C]), [a, b, out])
    np.testing.assert_array_equal(out, _expected_int(op, a, b, dtype))


FLOAT_BINARY = {
    "add": (lambda a, b: a + b, np.add), "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply), "div": (lambda a, b: a / b, np.true_divide),
    "min": (te.min, np.minimum), "max": (te.max, np.maximum), "pow": (te.pow, np.power),
    "floordiv": (floordiv, np.floor_divide), "floormod": (floormod, np.mod),
    "truncdiv": (truncdiv, lambda a, b: np.trunc(a / b)), "truncmod": (truncmod, np.fmod),
    "lt": (lambda a, b: a < b, np.less), "ne": (lambda a, b: a != b, np.not_equal),
    "eq": (lambda a, b: a == b, np.equal), "ge": (lambda a, b: a >= b, np.greater_equal),
}


@pytest.mark.parametrize("dtype", dt.FLOATS)
@pytest.mark.parametrize("op", sorted(FLOAT_BINARY))
def test_float_binary_ops_with_nan_inf_and_zero(op, dtype):
    a = np.array([1.5, -2.5, 7, -7, 0, np.nan, np.inf, 3, -0.0, 2], dtype)
    b = np.array([2, 2, -2, 0, 0, 1, 2, np.nan, 1, np.inf], dtype)
    build, ref = FLOAT_BINARY[op]
    A, B = te.placeholder(a.shape, dtype, "A"), te.placeholder(b.shape, dtype, "B")
    C = te.compute(a.shape, lambda i: build(A[i], B[i]), "C")
    out = np.empty(a.shape, C.dtype)
    run(te.create_prim_func([A, B, C]), [a, b, out])
    with np.errstate(all="ignore"):
        want = np.asarray(ref(a, b)).astype(C.dtype)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("src,dst", [("float32", "int32"), ("float64", "int8"), ("int32", "float16"),
                                     ("bool", "float32"), ("int64", "bool"), ("float32", "bool"),
                                     ("float64", "float16"), ("int32", "uint8"), ("uint8", "int8")])
def test_casts_follow_astype(src, dst):
    x = {"bool": np.array([True, False, True, True]),
         "float32": np.array([-2.7, 0.0, 3.9, np.nan if dst == "bool" else 100.5], "float32"),
         "float64": np.array([-2.7, 0.5, 3.9, 65519.0 if dst == "float16" else 100.0]),
         "int32": np.array([-300, 0, 255, 70000], "int32"), "int64": np.array([0, -1, 2, 2**40]),
         "uint8": np.array([0, 127, 128, 255], "uint8")}[src]
    A = te.placeholder(x.shape, src, "A")
    B = te.compute(x.shape, lambda i: A[i].astype(dst), "B")
    out = np.empty(x.shape, dst)
    run(te.create_prim_func([A, B]), [x, out])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out, x.astype(dst))


def test_bool_logic_min_max_and_not():
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    A, B = te.placeholder((4,), "bool", "A"), te.placeholder((4,), "bool", "B")
    outs = te.compute((4,), lambda i: (A[i] & B[i], A[i] | B[i], ~A[i], te.min(A[i], B[i]),
                                       te.max(A[i], B[i]), A[i] ^ B[i]), "outs")
    bufs = [np.empty(4, bool) for _ in outs]
    run(te.create_prim_func([A, B, *outs]), [a, b, *bufs])
    for got, want in zip(bufs, [a & b, a | b, ~a, a & b, a | b, a ^ b]):
        np.testing.assert_array_equal(got, want)


def test_shifts_bool_logic_casts_and_float_division():
    a = np.array([1, -8, 100, 3], "int32")
    b = np.array([2, 1, 3, 0], "int32")
    x = np.array([1.7, -2.5, np.inf, 0.0], "float32")
    A, B, X = te.placeholder((4,), "int32", "A"), te.placeholder((4,), "int32", "B"), te.placeholder((4,), "float32", "X")
    outs = te.compute((4,), lambda i: (
        A[i] << B[i], A[i] >> B[i], te.all(A[i] > 0, B[i] > 0) | ~(A[i] == 3),
        X[i].astype("int32") * 0 + te.if_then_else(te.isinf(X[i]), 0, X[i].astype("int32")),
        X[i].astype("bool"), A[i].astype("float16") / te.const(3, "float16"), floordiv(X[i], 0.5)), "outs")
    bufs = [np.empty(4, t.dtype) for t in outs]
    run(te.create_prim_func([A, B, X, *outs]), [a, b, x, *bufs])
    with np.errstate(all="ignore"):
        want = [a << b, a >> b, ((a > 0) & (b > 0)) | ~(a == 3),
                np.where(np.isinf(x), 0, np.where(np.isinf(x), 0, x).astype("int32")),
                x.astype(bool), a.astype("float16") / np.float16(3), np.floor_divide(x, np.float32(0.5))]
    for got, exp in zip(bufs, want):
        np.testing.assert_array_equal(got, exp)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "int8", "uint8"])
@pytest.mark.parametrize("reducer", ["sum", "max", "min"])
def test_reductions_with_init(reducer, dtype):
    a = rand((5, 7), dtype)
    if dt.is_float(dtype):
        a[1, 3] = np.nan  # max/min propagate NaN, like np.maximum
    A = te.placeholder(a.shape, dtype, "A")
    k = te.reduce_axis((0, 7), "k")
    S = te.compute((5,), lambda i: getattr(te, reducer)(A[i, k], axis=k), "S")
    out = np.empty(5, dtype)
    run(te.create_prim_func([A, S]), [a, out])
    with np.errstate(all="ignore"):
        want = {"sum": lambda: a.sum(axis=1, dtype=dtype), "max": lambda: np.maximum.reduce(a, axis=1),
                "min": lambda: np.minimum.reduce(a, axis=1)}[reducer]()
    tol = 1e-2 if dtype == "float16" else 1e-5
    np.testing.assert_allclose(out.astype("float64"), want.astype("float64"), rtol=tol, atol=tol)


@settings(max_examples=20)
@given(st.lists(st.sampled_from([1, 2, 3, 5, 8]), min_size=1, max_size=3), st.integers(1, 9))
def test_sum_over_last_axis_of_any_shape(shape, k_extent):
    a = rand(tuple(shape) + (k_extent,), "float64")
    A = te.placeholder(a.shape, "float64", "A")
    k = te.reduce_axis((0, k_extent), "k")
    S = te.compute(tuple(shape), lambda *idx: te.sum(A[idx + (k,)] * 2, axis=k), "S")
    out = np.empty(shape, "float64")
    run(te.create_prim_func([A, S]), [a, out])
    np.testing.assert_allclose(out, (a * 2).sum(axis=-1), rtol=1e-12, atol=1e-12)


def test_reduction_with_where_condition():
    a = rand((4, 10), "int32")
    A = te.placeholder(a.shape, "int32", "A")
    k = te.reduce_axis((2, 9), "k")
    S = te.compute((4,), lambda i: te.sum(A[i, k], axis=k, where=k % 3 != 0), "S")
    out = np.empty(4, "int32")
    run(te.create_prim_func([A, S]), [a, out])
    np.testing.assert_array_equal(out, a[:, [2, 4, 5, 7, 8]].sum(axis=1))


def test_custom_comm_reducers():
    a = rand((6, 5), "int32")
    bit_or = te.comm_reducer(lambda x, y: x | y, lambda t: te.const(0, t), name="bit_or")
    prod = te.comm_reducer(lambda x, y: x * y, lambda t: te.const(1, t), name="prod")
    A = te.placeholder(a.shape, "int32", "A")
    k1, k2 = te.reduce_axis((0, 5), "k1"), te.reduce_axis((0, 5), "k2")
    O = te.compute((6,), lambda i: bit_or(A[i, k1], axis=k1), "O")
    P = te.compute((6,), lambda i: prod(A[i, k2], axis=k2), "P")
    o, p = np.empty(6, "int32"), np.empty(6, "int32")
    prog = Program(te.create_prim_func([A, O, P]))
    prog.run([a, o, p])
    np.testing.assert_array_equal(o, np.bitwise_or.reduce(a, axis=1))
    np.testing.assert_array_equal(p, np.multiply.reduce(a, axis=1, dtype="int32"))
    assert not prog.serial_loops  # the reduce loop runs slice by slice, the rest as lanes


def test_custom_float_reducer_combines_in_serial_order():
    """A combiner that is not associative in floating point gives serial order's result."""
    a = rand((4, 6), "float32")
    avg = te.comm_reducer(lambda x, y: (x + y) * te.const(0.5, "float32"), lambda t: te.const(0, t), "avg")
    A = te.placeholder(a.shape, "float32", "A")
    k = te.reduce_axis((0, 6), "k")
    M = te.compute((4,), lambda i: avg(A[i, k], axis=k), "M")
    m = np.empty(4, "float32")
    run(te.create_prim_func([A, M]), [a, m])
    want = np.zeros(4, "float32")
    for col in a.T:
        want = (want + col) * np.float32(0.5)
    np.testing.assert_array_equal(m, want)


def test_multi_output_compute_and_chained_stages():
    a = rand((3, 4))
    A = te.placeholder(a.shape, "float32", "A")
    lo, hi = te.compute(a.shape, lambda i, j: (A[i, j] - 1, A[i, j] * 2), "bounds")
    D = te.compute(a.shape, lambda i, j: hi[i, j] - lo[i, 3 - j], "D")
    outs = [np.empty(a.shape, "float32") for _ in range(2)]
    run(te.create_prim_func([A, lo, D]), [a, *outs])
    np.testing.assert_allclose(outs[0], a - 1)
    np.testing.assert_allclose(outs[1], a * 2 - (a - 1)[:, ::-1], rtol=1e-6)


def test_select_with_out_of_bounds_untaken_branch_pads():
    a = rand((5, 6))
    A = te.placeholder(a.shape, "float32", "A")
    P = te.compute((7, 8), lambda i, j: te.if_then_else(
        te.all(i >= 1, i < 6, j >= 1, j < 7), A[i - 1, j - 1], te.const(0, "float32")), "P")
    out = np.empty((7, 8), "float32")
    run(te.create_prim_func([A, P]), [a, out])
    np.testing.assert_array_equal(out, np.pad(a, 1))


def test_out_of_bounds_active_access_raises_index_error():
    A = te.placeholder((5,), "float32", "A")
    B = te.compute((5,), lambda i: A[i + 1], "B")
    with pytest.raises(IndexError, match=r"buffer A: index \(5,\) is out of bounds for shape \(5,\)"):
        run(te.create_prim_func([A, B]), [rand(5), np.empty(5, "float32")])


def test_out_of_bounds_store_raises_index_error():
    A = decl_buffer((4, 3), "int32", "A")
    body = loop("i", 4, lambda i: loop("j", 3, lambda j: BufferStore(A, const(1), (i, j * 2))))
    with pytest.raises(IndexError, match=r"buffer A: index \(0, 4\)"):
        run(PrimFunc((A,), body), [np.zeros((4, 3), "int32")])


def test_zero_size_and_unit_dims():
    A = te.placeholder((0, 3), "float32", "A")
    B = te.compute((0, 3), lambda i, j: A[i, j] + 1, "B")
    k = te.reduce_axis((0, 0), "k")
    E = te.placeholder((2, 0), "float32", "E")
    S = te.compute((2,), lambda i: te.sum(E[i, k], axis=k), "S")
    b, s = np.empty((0, 3), "float32"), np.full(2, 5, "float32")
    run(te.create_prim_func([A, B, E, S]), [np.empty((0, 3), "float32"), b, np.empty((2, 0), "float32"), s])
    # A reduction over an empty domain still runs its init (docs/ir-semantics.md):
    # the sum of nothing is 0, as in NumPy.
    np.testing.assert_array_equal(s, [0, 0])
    one = te.placeholder((1, 1, 1), "int64", "one")
    T = te.compute((1, 1, 1), lambda i, j, l: one[i, j, l] * 3, "T")
    t = np.empty((1, 1, 1), "int64")
    run(te.create_prim_func([one, T]), [np.full((1, 1, 1), 7, "int64"), t])
    assert t.item() == 21


def test_reduce_node_in_a_primfunc_is_a_clear_error():
    A = decl_buffer((4,), "float32", "A")
    k = te.reduce_axis((0, 4), "k")
    red = te.sum(BufferLoad(A, (k.var,), "float32"), axis=k)
    assert isinstance(red, Reduce)
    func = PrimFunc((A,), BufferStore(A, red, (const(0),)))
    with pytest.raises(MLCError, match="te reduction"):
        run(func, [np.zeros(4, "float32")])


# ----------------------------------------------- scheduled TensorIR by hand

def test_split_loops_with_predicate_and_loop_kinds():
    n = 10
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    body = loop("i0", 3, lambda i0: loop("i1", 4, lambda i1: block(
        "B", [("S", n, i0 * 4 + i1)], lambda vi: BufferStore(B, BufferLoad(A, (vi,), "float32") * 3.0, (vi,)),
        predicate=i0 * 4 + i1 < n), kind="vectorized"), kind="parallel")
    a, b = rand(n), np.full(n, 9, "float32")
    run(prim_func([A, B], body), [a, b])
    np.testing.assert_allclose(b, a * 3)


def test_reordered_split_reduction_with_nested_init_block():
    """for i, k0, j, k1 with the update block bound to (i, j, k0*4+k1) under the
    init: the init must run once per (i, j), before its first update."""
    n, m, kk = 5, 3, 8
    A, S = decl_buffer((n, kk, m), "float32", "A"), decl_buffer((n, m), "float32", "S")

    def upd(vi, vj, vk):
        return BufferStore(S, BufferLoad(S, (vi, vj), "float32") + BufferLoad(A, (vi, vk, vj), "float32"), (vi, vj))

    body = loop("i", n, lambda i: loop("k0", 2, lambda k0: loop("j", m, lambda j: loop("k1", 4, lambda k1: block(
        "S", [("S", n, i), ("S", m, j), ("R", kk, k0 * 4 + k1)], upd,
        init=lambda vi, vj, vk: BufferStore(S, const(0.0, "float32"), (vi, vj)))), kind="unrolled")))
    a, s = rand((n, kk, m)), np.full((n, m), np.nan, "float32")
    run(prim_func([A, S], body), [a, s])
    np.testing.assert_allclose(s, a.sum(axis=1), rtol=1e-5, atol=1e-5)


def test_init_after_updates_in_serial_order_overwrites_them():
    """Binding the reduce iterator to 3 - k puts the init (vk == 0) last: serially,
    only the final update survives it."""
    A, S = decl_buffer((2, 4), "int32", "A"), decl_buffer((2,), "int32", "S")
    body = loop("i", 2, lambda i: loop("k", 4, lambda k: block(
        "S", [("S", 2, i), ("R", 4, 3 - k)],
        lambda vi, vk: BufferStore(S, BufferLoad(S, (vi,), "int32") + BufferLoad(A, (vi, vk), "int32"), (vi,)),
        init=lambda vi, vk: BufferStore(S, const(100), (vi,)))))
    a, s = rand((2, 4), "int32"), np.zeros(2, "int32")
    run(prim_func([A, S], body), [a, s])
    np.testing.assert_array_equal(s, 100 + a[:, 0])


def test_repeated_plain_store_keeps_the_serially_last_value():
    A, Y = decl_buffer((4, 6), "int32", "A"), decl_buffer((4,), "int32", "Y")
    body = loop("i", 4, lambda i: loop("k", 6, lambda k: BufferStore(Y, BufferLoad(A, (i, k), "int32"), (i,))))
    body2 = loop("t", 24, lambda t: BufferStore(Y, BufferLoad(A, (t % 4, t // 4), "int32"), (t % 4,)))
    a = rand((4, 6), "int32")
    for b in (body, body2):
        y = np.zeros(4, "int32")
        run(PrimFunc((A, Y), b), [a, y])
        np.testing.assert_array_equal(y, a[:, -1])


def decomposed_mm_relu(n):
    """for i: { for j: init Y[i, j]; for k, j: Y[i, j] += ...; for j: C[i, j] = relu(Y[i, j]) }"""
    A, B, C = (decl_buffer((n, n), "float32", x) for x in "ABC")
    Y = decl_buffer((n, n), "float32", "Y")

    def body(i):
        init = loop("j", n, lambda j: block("Y_init", [("S", n, i), ("S", n, j)],
                                            lambda vi, vj: BufferStore(Y, const(0.0, "float32"), (vi, vj))))
        update = loop("k", n, lambda k: loop("j", n, lambda j: block(
            "Y_update", [("S", n, i), ("S", n, j), ("R", n, k)],
            lambda vi, vj, vk: BufferStore(Y, BufferLoad(Y, (vi, vj), "float32") + BufferLoad(A, (vi, vk), "float32")
                                           * BufferLoad(B, (vk, vj), "float32"), (vi, vj)))))
        relu = loop("j", n, lambda j: block("C", [("S", n, i), ("S", n, j)], lambda vi, vj: BufferStore(
            C, te.max(BufferLoad(Y, (vi, vj), "float32"), const(0.0, "float32")), (vi, vj))))
        return seq(init, update, relu)

    return prim_func([A, B, C], loop("i", n, body), allocs=[Y])


def test_decomposed_reduction_and_compute_at_under_one_loop():
    n = 12
    prog = Program(decomposed_mm_relu(n))
    a, b, c = rand((n, n)), rand((n, n)), np.empty((n, n), "float32")
    prog.run([a, b, c])
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)
    assert not prog.serial_loops  # the i loop ran as lanes


def test_intermediate_reused_across_iterations_is_not_vectorised_wrongly():
    """for i: { T[0] = A[i] * 2; B[i] = T[0] + 1 } with T allocated once at the root."""
    n = 9
    A, B, T = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B"), decl_buffer((1,), "float32", "T", "local")
    body = loop("i", n, lambda i: seq(
        block("T", [("S", n, i)], lambda vi: BufferStore(T, BufferLoad(A, (vi,), "float32") * 2.0, (const(0),))),
        block("B", [("S", n, i)], lambda vi: BufferStore(B, BufferLoad(T, (const(0),), "float32") + 1.0, (vi,)))))
    prog = Program(prim_func([A, B], body, allocs=[T]))
    a, b = rand(n), np.empty(n, "float32")
    prog.run([a, b])
    np.testing.assert_allclose(b, a * 2 + 1)
    assert prog.serial_loops  # the lanes run was detected and undone


def test_block_local_allocation_is_private_to_each_iteration():
    n = 7
    A, B = decl_buffer((n,), "int32", "A"), decl_buffer((n,), "int32", "B")

    def inner(vi):
        T = decl_buffer((2,), "int32", "T")
        return Block("tmp", (), (), (), seq(
            BufferStore(T, BufferLoad(A, (vi,), "int32") + 1, (const(0),)),
            BufferStore(T, BufferLoad(A, (vi,), "int32") * 3, (const(1),)),
            BufferStore(B, BufferLoad(T, (const(0),), "int32") * BufferLoad(T, (const(1),), "int32"), (vi,))),
            alloc_buffers=(T,))

    body = loop("i", n, lambda i: block("B", [("S", n, i)], lambda vi: BlockRealize((), const(True, "bool"), inner(vi))))
    a, b = rand(n, "int32"), np.empty(n, "int32")
    run(prim_func([A, B], body), [a, b])
    np.testing.assert_array_equal(b, (a + 1) * (a * 3))


def test_cache_refilled_by_every_iteration_of_an_unused_loop_still_runs_as_lanes():
    """for i, j: { for c: S[i, c] = A[i, c]; for k: Y[i, j] += S[i, k] * B[k, j] }: every j
    rewrites the same values into S, so running all j at once is still serial order."""
    n = 6
    A, B, Y = decl_buffer((n, n), "float32", "A"), decl_buffer((n, n), "float32", "B"), decl_buffer((n, n), "float32", "Y")
    S = decl_buffer((n, n), "float32", "S", "shared")

    def body(i, j):
        fill = loop("c", n, lambda c: BufferStore(S, BufferLoad(A, (i, c), "float32"), (i, c)))
        init = BufferStore(Y, const(0.0, "float32"), (i, j))
        acc = loop("k", n, lambda k: BufferStore(Y, BufferLoad(Y, (i, j), "float32") + BufferLoad(
            S, (i, k), "float32") * BufferLoad(B, (k, j), "float32"), (i, j)))
        return seq(fill, init, acc)

    prog = Program(prim_func([A, B, Y], loop("i", n, lambda i: loop("j", n, lambda j: body(i, j))), allocs=[S]))
    a, b, y = rand((n, n)), rand((n, n)), np.empty((n, n), "float32")
    prog.run([a, b, y])
    np.testing.assert_allclose(y, a @ b, rtol=1e-5, atol=1e-5)
    assert not prog.serial_loops


def test_strided_parameter_buffer():
    from mlc.ir.buffer import Buffer
    A = Buffer("A", (const(3), const(2)), "int32", "global", (const(4), const(1)))
    B = decl_buffer((3, 2), "int32", "B")
    body = loop("i", 3, lambda i: loop("j", 2, lambda j: BufferStore(
        B, BufferLoad(A, (i, j), "int32") * 10, (i, j))))
    a = np.arange(12, dtype="int32")[:10]  # rows of 4, the last row only needs 2
    b = np.empty((3, 2), "int32")
    run(PrimFunc((A, B), body), [a, b])
    np.testing.assert_array_equal(b, np.arange(12).reshape(3, 4)[:, :2] * 10)


def test_prefix_sum_reading_previous_iteration_runs_serially():
    n = 10
    A, X = decl_buffer((n,), "int64", "A"), decl_buffer((n,), "int64", "X")
    body = seq(BufferStore(X, BufferLoad(A, (const(0),), "int64"), (const(0),)),
               loop("i", n - 1, lambda i: BufferStore(
                   X, BufferLoad(X, (i,), "int64") + BufferLoad(A, (i + 1,), "int64"), (i + 1,))))
    a, x = rand(n, "int64"), np.empty(n, "int64")
    run(PrimFunc((A, X), body), [a, x])
    np.testing.assert_array_equal(x, np.cumsum(a))


def test_in_place_update_with_repeated_index_is_serial():
    """X[i // 2] = X[i // 2] * 2 + 1 hits each element twice; each visit sees the last."""
    X = decl_buffer((3,), "int32", "X")
    body = loop("i", 6, lambda i: BufferStore(X, BufferLoad(X, (i // 2,), "int32") * 2 + 1, (i // 2,)))
    x = np.array([1, 2, 3], "int32")
    run(PrimFunc((X,), body), [x])
    np.testing.assert_array_equal(x, [(v * 2 + 1) * 2 + 1 for v in (1, 2, 3)])


def _triangular_sum(A, S, i, kind="serial", thread=None):
    """S[i] = 0; for j in range(i + 1): S[i] += A[i, j]"""
    j = Var("j")
    update = For(j, const(0), i + 1, kind, BufferStore(
        S, BufferLoad(S, (i,), "float64") + BufferLoad(A, (i, j), "float64"), (i,)), thread)
    return seq(BufferStore(S, const(0.0, "float64"), (i,)), update)


@pytest.mark.parametrize("outer,inner", [("serial", "serial"), ("threadIdx.x", "serial"),
                                         ("threadIdx.x", "threadIdx.y")])
def test_loop_extent_depending_on_an_outer_loop(outer, inner):
    """Serially, in a thread (bounds differ per lane) and as a thread axis of its own."""
    n = 6
    A, S = decl_buffer((n, n), "float64", "A"), decl_buffer((n,), "float64", "S")
    outer_kind = ("thread_binding", outer) if outer != "serial" else ("serial", None)
    inner_kind = ("thread_binding", inner) if inner != "serial" else ("serial", None)
    body = loop("i", n, lambda i: _triangular_sum(A, S, i, *inner_kind), *outer_kind)
    a, s = rand((n, n), "float64"), np.empty(n, "float64")
    run(PrimFunc((A, S), body), [a, s])
    np.testing.assert_allclose(s, [a[i, :i + 1].sum() for i in range(n)])


# --------------------------------------------------------------- GPU forms

def test_thread_binding_statements_run_in_lockstep():
    """Every thread writes S before any thread reads its neighbour's entry."""
    n = 8
    A, B, S = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B"), decl_buffer((n,), "float32", "S", "shared")
    body = loop("tx", n, lambda tx: seq(
        BufferStore(S, BufferLoad(A, (tx,), "float32") * 2.0, (tx,)),
        BufferStore(B, BufferLoad(S, ((tx + 1) % n,), "float32"), (tx,))), kind="thread_binding", thread="threadIdx.x")
    a, b = rand(n), np.empty(n, "float32")
    run(prim_func([A, B], body, allocs=[S]), [a, b])
    np.testing.assert_allclose(b, np.roll(a * 2, -1))


def test_gpu_matmul_with_shared_tiles_and_per_thread_local_accumulator():
    """blockIdx x threadIdx, a root-allocated shared tile reused by every block and
    k-step, and a one-element local accumulator that each thread owns."""
    n, t = 8, 4
    A, B, C = (decl_buffer((n, n), "float32", x) for x in "ABC")
    As = decl_buffer((t, n), "float32", "As", "shared")
    acc = decl_buffer((1,), "float32", "acc", "local")
    zero = const(0, "int32")

    def kernel(bx, tx):
        fetch = loop("c", n, lambda c: BufferStore(As, BufferLoad(A, (bx * t + tx, c), "float32"), (tx, c)))
        init = BufferStore(acc, const(0.0, "float32"), (zero,))
        row = bx * t + tx
        return loop("j", n, lambda j: seq(fetch, init, loop("k", n, lambda k: BufferStore(
            acc, BufferLoad(acc, (zero,), "float32") + BufferLoad(As, ((tx + 1) % t, k), "float32")
            * BufferLoad(B, (k, j), "float32"), (zero,))), BufferStore(C, BufferLoad(acc, (zero,), "float32"), (row, j))))

    body = loop("bx", n // t, lambda bx: loop("tx", t, lambda tx: kernel(bx, tx), kind="thread_binding",
                                                thread="threadIdx.x"), kind="thread_binding", thread="blockIdx.x")
    a, b, c = rand((n, n)), rand((n, n)), np.empty((n, n), "float32")
    run(prim_func([A, B, C], body, allocs=[As, acc]), [a, b, c])
    # thread tx of block bx reads the row its right neighbour fetched
    rows = [(r // t) * t + (r % t + 1) % t for r in range(n)]
    np.testing.assert_allclose(c, a[rows] @ b, rtol=1e-5, atol=1e-5)


def test_block_idx_loops_run_as_lanes_when_blocks_share_nothing():
    n, t = 12, 4
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    body = loop("bx", n // t, lambda bx: loop("tx", t, lambda tx: BufferStore(
        B, BufferLoad(A, (bx * t + tx,), "float32") + 1.0, (bx * t + tx,)), "thread_binding", "threadIdx.x"),
        "thread_binding", "blockIdx.x")
    prog = Program(PrimFunc((A, B), body))
    a, b = rand(n), np.empty(n, "float32")
    prog.run([a, b])
    np.testing.assert_allclose(b, a + 1)
    assert not prog.serial_loops


# ------------------------------------------------------------- lowered TIR

def test_lowered_form_with_allocate_and_flat_buffers():
    n, m = 4, 5
    A, C = decl_buffer((n * m,), "float32", "A"), decl_buffer((n,), "float32", "C")
    T = decl_buffer((n * m,), "float32", "T")
    acc = decl_buffer((1,), "float32", "acc", "local")
    zero = const(0)
    square = loop("i", n, lambda i: loop("j", m, lambda j: BufferStore(
        T, BufferLoad(A, (i * m + j,), "float32") * BufferLoad(A, (i * m + j,), "float32"), (i * m + j,))))
    rows = loop("i", n, lambda i: Allocate(acc, seq(
        BufferStore(acc, const(0.0, "float32"), (zero,)),
        loop("j", m, lambda j: IfThenElse(j % 2 == 0, BufferStore(
            acc, BufferLoad(acc, (zero,), "float32") + BufferLoad(T, (i * m + j,), "float32"), (zero,)))),
        BufferStore(C, BufferLoad(acc, (zero,), "float32"), (i,)),
        Evaluate(const(0)))))
    func = PrimFunc((A, C), Allocate(T, seq(square, rows)))
    a, c = rand(n * m), np.empty(n, "float32")
    prog = Program(func)
    prog.run([a, c])
    np.testing.assert_allclose(c, (a.reshape(n, m) ** 2)[:, ::2].sum(axis=1), rtol=1e-5)
    assert not prog.serial_loops  # acc is private per lane of i


@settings(max_examples=20)
@given(st.integers(1, 9), st.integers(0, 2), st.integers(0, 2**32 - 1))
def test_scalars_allocated_between_statements_run_as_lanes_in_serial_order(n, shift, seed):
    """for i: { T[0] = A[i] * 2; allocate U: { U[0] = T[0] + 1; X[i] = U[0] * T[0];
    Y[i] = X[(i + shift) % n] } } (the shape lower_math gives a routine: its scalars allocated
    just before the statements that use them): the nested statements are units of the i loop's
    region, which runs as lanes, or (Y reading an X a later iteration writes) falls back to
    serial order."""
    A, X, Y = (decl_buffer((n,), "int32", name) for name in "AXY")
    T, U = decl_buffer((1,), "int32", "T", "local"), decl_buffer((1,), "int32", "U", "local")
    zero = const(0)
    body = loop("i", n, lambda i: Allocate(T, seq(
        BufferStore(T, BufferLoad(A, (i,), "int32") * 2, (zero,)),
        Allocate(U, seq(
            BufferStore(U, BufferLoad(T, (zero,), "int32") + 1, (zero,)),
            BufferStore(X, BufferLoad(U, (zero,), "int32") * BufferLoad(T, (zero,), "int32"), (i,)),
            BufferStore(Y, BufferLoad(X, (floormod(i + shift, n),), "int32"), (i,)))))))
    func = PrimFunc((A, X, Y), body)
    rng = np.random.default_rng(seed)
    start = [rng.integers(-50, 50, n).astype("int32") for _ in range(3)]
    want, got = [a.copy() for a in start], [a.copy() for a in start]
    run_serially(func, want)
    prog = Program(func)
    prog.run(got)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)
    assert prog.analysis.region_plan(body) is not None
    a = start[0]
    np.testing.assert_array_equal(got[1], (a * 2 + 1) * (a * 2))
    assert bool(prog.serial_loops) == (shift % n != 0 and n > 1)


def test_a_region_checks_no_access_to_the_copies_each_lane_holds(monkeypatch):
    """for i: allocate T: { T[0] = A[i]; X[i] = T[0] + 1; Y[i] = X[i] * T[0] }: the recorder
    checks the accesses of X (shared between lanes), not those of T (one copy per lane)."""
    from mlc.backends.reference.regions import Recorder
    seen = []
    access = Recorder.access
    monkeypatch.setattr(Recorder, "access", lambda self, buffer, *a, **k: (seen.append(buffer.name),
                                                                         access(self, buffer, *a, **k))[1])
    n = 5
    A, X, Y = (decl_buffer((n,), "int32", name) for name in "AXY")
    T = decl_buffer((1,), "int32", "T", "local")
    zero = const(0)
    body = loop("i", n, lambda i: Allocate(T, seq(
        BufferStore(T, BufferLoad(A, (i,), "int32"), (zero,)),
        BufferStore(X, BufferLoad(T, (zero,), "int32") + 1, (i,)),
        BufferStore(Y, BufferLoad(X, (i,), "int32") * BufferLoad(T, (zero,), "int32"), (i,)))))
    prog = Program(PrimFunc((A, X, Y), body))
    a, x, y = np.arange(n, dtype="int32"), np.zeros(n, "int32"), np.zeros(n, "int32")
    prog.run([a, x, y])
    np.testing.assert_array_equal(y, (a + 1) * a)
    assert not prog.serial_loops
    assert "X" in seen and "T" not in seen


def test_allocations_start_poisoned():
    A, T = decl_buffer((3,), "float32", "A"), decl_buffer((3,), "float32", "T")
    I, U = decl_buffer((3,), "int32", "I"), decl_buffer((3,), "int32", "U")
    body = Allocate(T, Allocate(U, loop("i", 3, lambda i: seq(
        BufferStore(A, BufferLoad(T, (i,), "float32"), (i,)),
        BufferStore(I, BufferLoad(U, (i,), "int32"), (i,))))))
    a, i_ = np.zeros(3, "float32"), np.zeros(3, "int32")
    run(PrimFunc((A, I), body), [a, i_])
    assert np.isnan(a).all() and (i_ == np.iinfo("int32").max).all()


def test_unbound_variable_and_unknown_buffer_are_clear_errors():
    A, B = decl_buffer((2,), "int32", "A"), decl_buffer((2,), "int32", "B")
    with pytest.raises(MLCError, match="variable q"):
        run(PrimFunc((A,), BufferStore(A, Var("q"), (const(0),))), [np.zeros(2, "int32")])
    with pytest.raises(MLCError, match="buffer B is neither"):
        run(PrimFunc((A,), BufferStore(B, const(1), (const(0),))), [np.zeros(2, "int32")])


@pytest.mark.parametrize("limit", [1, 50, 700])
def test_long_loops_run_in_chunks_of_lanes(monkeypatch, limit):
    from mlc.backends.reference import interpreter
    monkeypatch.setattr(interpreter, "LANE_LIMIT", limit)
    a, b, c = rand((9, 11)), rand((11, 10)), np.empty((9, 10), "float32")
    run(mm_relu(9, 10, 11), [a, b, c])
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)
    c2 = np.empty((9, 9), "float32")
    run(decomposed_mm_relu(9), [a[:, :9], b[:9, :9].copy(), c2])
    np.testing.assert_allclose(c2, np.maximum(a[:, :9] @ b[:9, :9], 0), rtol=1e-5, atol=1e-5)
    A = te.placeholder((40, 30), "float32", "A")
    B = te.compute(A.shape, lambda i, j: A[i, j] * 2 + 1, "B")
    x, y = rand(A.shape), np.empty(A.shape, "float32")
    run(te.create_prim_func([A, B]), [x, y])
    np.testing.assert_allclose(y, x * 2 + 1)


# ------------------------------- lanes equal serial order on random programs

def run_serially(func, args):
    """The same interpreter with every loop run one iteration at a time."""
    Program(func, vectorize=False).run(args)


@st.composite
def random_loop_programs(draw):
    """Loops over sequences of int32 stores whose indices are affine in the loop
    variables (mod the buffer size): plain stores, accumulations, conditional
    stores and reduction blocks with init, reading each other's buffers."""
    size = draw(st.integers(1, 6))
    bufs = [decl_buffer((size,), "int32", name) for name in ("A", "X", "Y")]
    extents = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    outer = [Var(f"i{n}") for n in range(len(extents))]

    def index(vars_):
        terms = const(draw(st.integers(0, 5)))
        for v in vars_:
            terms = terms + v * draw(st.sampled_from([0, 1, 2, -1]))
        return floormod(terms, size)

    def value(vars_, depth=0):
        choice = draw(st.integers(0, 5 if depth < 2 else 2))
        if choice == 5:  # a guarded load whose index may be out of bounds where unused
            raw = const(draw(st.integers(-2, 2)))
            for v in vars_:
                raw = raw + v * draw(st.sampled_from([1, 2, -1]))
            return select(te.all(raw >= 0, raw < size),
                          BufferLoad(draw(st.sampled_from(bufs)), (raw,), "int32"), value(vars_, depth + 1))
        if choice == 0:
            return const(draw(st.integers(-3, 3)))
        if choice == 1:
            return draw(st.sampled_from(vars_)) if vars_ else const(1)
        if choice == 2:
            return BufferLoad(draw(st.sampled_from(bufs)), (index(vars_),), "int32")
        a, b = value(vars_, depth + 1), value(vars_, depth + 1)
        return draw(st.sampled_from([lambda: a + b, lambda: a - b, lambda: a ^ b,
                                     lambda: te.max(a, b), lambda: te.min(a, b)]))()

    def statement(vars_):
        target = draw(st.sampled_from(bufs[1:]))
        kind = draw(st.sampled_from(["plain", "accumulate", "if", "block"]))
        idx = index(vars_)
        if kind == "plain":
            return BufferStore(target, value(vars_), (idx,))
        if kind == "accumulate":
            return BufferStore(target, BufferLoad(target, (idx,), "int32") + value(vars_), (idx,))
        if kind == "if":
            cond = draw(st.sampled_from([lambda: floormod(vars_[-1], 2) == 0 if vars_ else const(True, "bool"),
                                         lambda: value(vars_) > 0]))()
            return IfThenElse(cond, BufferStore(target, value(vars_), (idx,)))
        red = draw(st.sampled_from(vars_)) if vars_ else const(0)
        rest = value(vars_)
        iters = [("S", size, idx), ("R", 8, floormod(red, 8))]
        return block("blk", iters,
                     lambda vs, vr: BufferStore(target, BufferLoad(target, (vs,), "int32") + rest, (vs,)),
                     init=lambda vs, vr: BufferStore(target, const(draw(st.integers(-2, 2))), (vs,)))

    def body(depth):
        vars_ = outer[:depth]
        stmts = []
        for _ in range(draw(st.integers(1, 3))):
            shape = draw(st.sampled_from(["plain", "loop", "loop of two"]))
            if shape == "plain":
                stmts.append(statement(vars_))
                continue
            v = Var(f"j{depth}_{len(stmts)}")
            inner = seq(*(statement(vars_ + [v]) for _ in range(1 if shape == "loop" else 2)))
            stmts.append(For(v, const(0), const(draw(st.integers(1, 3))), "serial", inner))
        return seq(*stmts)

    stmt = body(len(extents))
    for depth, (v, e) in reversed(list(enumerate(zip(outer, extents)))):
        kind = draw(st.sampled_from(["serial", "serial", "parallel", "thread"]))
        # nested thread loops bind distinct axes (one axis nested in itself is one index)
        stmt = For(v, const(0), const(e), "thread_binding" if kind == "thread" else kind, stmt,
                   f"threadIdx.{'xyz'[depth]}" if kind == "thread" else None)
    return PrimFunc(tuple(bufs), stmt), size


@settings(max_examples=100)
@given(random_loop_programs(), st.integers(0, 2**32 - 1))
def test_lanes_equal_serial_order_on_random_loop_programs(program, seed):
    func, size = program
    rng = np.random.default_rng(seed)
    start = [rng.integers(-5, 6, size).astype("int32") for _ in range(3)]
    want = [a.copy() for a in start]
    got = [a.copy() for a in start]
    run_serially(func, want)
    run(func, got)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)
