"""The llvm backend against NumPy: every op, call and cast for every dtype,
reductions, intermediate buffers on stack and heap, guarded loads, loop
kinds, sources, timing and errors.

Kernels are compiled once per (dtype, shape) and cached, so Hypothesis
examples mostly reuse a build.
"""
import dataclasses
import functools
import gc
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc import te
from mlc.backends.llvm.jit import compile_ir
from mlc.backends.llvm.module import generate_ir
from mlc.ir import dtype as dt
from mlc.ir.functor import Mutator
from mlc.passes.tir import lower

SHAPES = [(0,), (1,), (7,), (3, 5)]
FLOAT_OPS = ["add", "sub", "mul", "div", "floordiv", "floormod", "min", "max"]
INT_OPS = ["add", "sub", "mul", "floordiv", "floormod", "truncdiv", "truncmod", "min", "max",
           "bitand", "bitor", "bitxor", "shl", "shr"]
BOOL_OPS = ["min", "max", "bitand", "bitor", "bitxor", "and", "or"]
COMPARE_OPS = ["lt", "le", "eq", "ne", "gt", "ge"]

TE_BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "floordiv": lambda a, b: a // b, "floormod": lambda a, b: a % b,
    "truncdiv": te.truncdiv, "truncmod": te.truncmod, "min": te.min, "max": te.max,
    "bitand": lambda a, b: a & b, "bitor": lambda a, b: a | b, "bitxor": lambda a, b: a ^ b,
    "shl": lambda a, b: a << b, "shr": lambda a, b: a >> b,
    "and": mlc.ir.expr.logical_and, "or": mlc.ir.expr.logical_or,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b, "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}


def _trunc_divmod(a, b):
    """C division on integer arrays, with NumPy's 0 for a zero divisor."""
    q = np.zeros_like(a)
    r = np.zeros_like(a)
    for n, (x, y) in enumerate(zip(a.reshape(-1).tolist(), b.reshape(-1).tolist())):
        if y != 0:
            t = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)
            q.reshape(-1)[n] = np.array(t).astype(a.dtype)  # INT_MIN / -1 wraps
            r.reshape(-1)[n] = np.array(x - t * y).astype(a.dtype)
    return q, r


NP_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "floordiv": np.floor_divide, "floormod": np.mod, "min": np.minimum, "max": np.maximum,
    "truncdiv": lambda a, b: _trunc_divmod(a, b)[0], "truncmod": lambda a, b: _trunc_divmod(a, b)[1],
    "bitand": np.bitwise_and, "bitor": np.bitwise_or, "bitxor": np.bitwise_xor,
    "shl": np.left_shift, "shr": np.right_shift, "and": np.logical_and, "or": np.logical_or,
    "lt": np.less, "le": np.less_equal, "eq": np.equal, "ne": np.not_equal, "gt": np.greater,
    "ge": np.greater_equal,
}


def ops_for(dtype):
    if dtype == "bool":
        return BOOL_OPS + COMPARE_OPS
    if dt.is_complex(dtype):  # no ordering, no floor division
        return ("add", "sub", "mul", "div", "eq", "ne")
    return (FLOAT_OPS if dt.is_float(dtype) else INT_OPS) + COMPARE_OPS


def build(funcs):
    return mlc.build(mlc.IRModule(funcs), "llvm")


def elementwise(shape, dtypes, fn, out_name="C"):
    """PrimFunc ``C[idx] = fn(*(X[idx] for X in inputs))`` over inputs of ``dtypes``."""
    inputs = [te.placeholder(shape, d, f"X{n}") for n, d in enumerate(dtypes)]
    out = te.compute(shape, lambda *idx: fn(*(x[idx] for x in inputs)), out_name)
    return te.create_prim_func(inputs + [out])


@functools.lru_cache(maxsize=None)
def binary_lib(dtype, shape):
    return build({op: elementwise(shape, [dtype, dtype], TE_BINARY[op]) for op in ops_for(dtype)})


def array_strategy(dtype, shape):
    if dt.is_complex(dtype):
        part = st.floats(width=dt.bits(dt.component(dtype)), allow_nan=True, allow_infinity=True)
        return hnp.arrays(dtype, shape, elements=st.builds(complex, part, part))
    if dt.is_float(dtype):
        elements = st.floats(width=dt.bits(dtype), allow_nan=True, allow_infinity=True)
        return hnp.arrays(dtype, shape, elements=elements)
    return hnp.arrays(dtype, shape)


def assert_same(actual, expected, what):
    assert actual.dtype == expected.dtype, what
    if actual.dtype.kind == "f":
        np.testing.assert_array_equal(actual, expected, err_msg=what)  # NaN == NaN here
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def run(lib, name, out_dtype, *arrays, shape=None):
    shape = arrays[0].shape if shape is None else shape
    out = np.zeros(shape, out_dtype)
    lib[name](*arrays, out)
    return out


# ------------------------------------------------------------------ course program

def test_course_mm_relu_matches_numpy():
    A = te.placeholder((128, 128), "float32", name="A")
    B = te.placeholder((128, 128), "float32", name="B")
    k = te.reduce_axis((0, 128), name="k")
    Y = te.compute((128, 128), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="Y")
    C = te.compute((128, 128), lambda i, j: te.max(Y[i, j], 0), name="C")
    mod = mlc.IRModule({"mm_relu": te.create_prim_func([A, B, C])})
    lib = mlc.build(mod, target="llvm")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 128, 128)).astype("float32")
    c = np.empty((128, 128), "float32")
    lib["mm_relu"](a, b, c)
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-4, atol=1e-4)
    assert lib.time_evaluator("mm_relu", number=2, repeat=2)(a, b, c).mean > 0


# ------------------------------------------------------------------ binary ops

@settings(max_examples=60)
@given(st.sampled_from(dt.SUPPORTED), st.sampled_from(SHAPES), st.data())
def test_binary_ops_match_numpy(dtype, shape, data):
    a = data.draw(array_strategy(dtype, shape), label="a")
    b = data.draw(array_strategy(dtype, shape), label="b")
    lib = binary_lib(dtype, shape)
    for op in ops_for(dtype):
        x, y = a, b
        if op in ("shl", "shr"):  # shifts past the bit width are unspecified
            y = (b.astype("int64") % dt.bits(dtype)).astype(dtype)
        with np.errstate(all="ignore"):
            want = np.asarray(NP_BINARY[op](x, y))
        got = run(lib, op, want.dtype, x, y)
        assert_same(got, want, f"{op} on {dtype}\na={x!r}\nb={y!r}")


@pytest.mark.parametrize("dtype", dt.INTS)
def test_integer_division_never_traps(dtype):
    info = np.iinfo(dtype)
    a = np.array([info.min, info.min, info.max, 7, -7 if info.min else 7, 0, info.min, 5], dtype)
    b = np.array([-1 if info.min else 3, 0, 0, 0, 2, 0, 1, -2 if info.min else 2], dtype)
    lib = binary_lib(dtype, (8,))
    with np.errstate(all="ignore"):
        for op in ("floordiv", "floormod", "truncdiv", "truncmod"):
            assert_same(run(lib, op, dtype, a, b), NP_BINARY[op](a, b), f"{op} {dtype}")
    if info.min:  # INT_MIN // -1 wraps to INT_MIN, INT_MIN % -1 is 0
        assert run(lib, "floordiv", dtype, a, b)[0] == info.min
        assert run(lib, "floormod", dtype, a, b)[0] == 0


CONSTANT_DIVISORS = [1, 2, 3, 7, 8, 16, 100, 127]


@functools.lru_cache(maxsize=None)
def constant_divisor_lib(dtype):
    """``X // d``, ``X % d``, truncdiv and truncmod for each constant divisor ``d``."""
    ops = {"floordiv": lambda a, d: a // d, "floormod": lambda a, d: a % d,
           "truncdiv": te.truncdiv, "truncmod": te.truncmod}
    return build({f"{op}_{d}": elementwise((9,), [dtype], lambda a, f=f, d=d: f(a, mlc.ir.expr.const(d, dtype)))
                  for op, f in ops.items() for d in CONSTANT_DIVISORS})


@settings(max_examples=30)
@given(st.sampled_from(dt.INTS), st.data())
def test_division_by_a_positive_constant_matches_numpy(dtype, data):
    """Tiled loops divide by constants; that path skips the zero/overflow guards and uses
    shifts and masks for powers of two, and must still round toward -inf like NumPy."""
    info = np.iinfo(dtype)
    a = data.draw(hnp.arrays(dtype, (9,), elements=st.integers(int(info.min), int(info.max))))
    a[:3] = [info.min, info.max, -1 if info.min else 1]
    lib = constant_divisor_lib(dtype)
    for d in CONSTANT_DIVISORS:
        if d > info.max:
            continue
        divisor = np.full_like(a, d)
        for op in ("floordiv", "floormod", "truncdiv", "truncmod"):
            assert_same(run(lib, f"{op}_{d}", dtype, a), NP_BINARY[op](a, divisor), f"{op} {d} {dtype}\na={a!r}")


def test_division_by_a_power_of_two_constant_is_a_shift():
    func = elementwise((16,), ["int32"], lambda a: a // 8 + a % 8)
    ll = generate_ir({"f": lower(func)}, mlc.Target.from_str("llvm"))
    assert "sdiv" not in ll and "srem" not in ll and "select" not in ll and "ashr" in ll


# ------------------------------------------------------------------ math calls

UNARY_CALLS = ["exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "erf", "sin", "cos", "abs",
               "floor", "ceil", "round", "expm1", "log1p", "isnan", "isfinite", "isinf"]
EXACT_CALLS = {"sqrt", "abs", "floor", "ceil", "round", "isnan", "isfinite", "isinf"}


def np_call(op, x):
    with np.errstate(all="ignore"):
        if op == "rsqrt":
            return (1 / np.sqrt(x)).astype(x.dtype)
        if op == "sigmoid":
            return (1 / (1 + np.exp(-x.astype("float64")))).astype(x.dtype)
        if op == "erf":
            return np.array([math.erf(v) for v in x.reshape(-1).astype("float64").tolist()]
                            ).astype(x.dtype).reshape(x.shape)
        return getattr(np, {"abs": "abs", "round": "round"}.get(op, op))(x)


@functools.lru_cache(maxsize=None)
def math_lib(dtype, shape):
    funcs = {op: elementwise(shape, [dtype], getattr(te, op)) for op in UNARY_CALLS}
    funcs["pow"] = elementwise(shape, [dtype, dtype], te.pow)
    return build(funcs)


def assert_ulp_close(got, want, ulps, what):
    """|got - want| within ``ulps`` units in the last place of ``want`` (NaN and inf exact)."""
    g, w = got.astype("float64"), want.astype("float64")
    with np.errstate(invalid="ignore"):
        same_special = (np.isnan(g) & np.isnan(w)) | (g == w)
        tol = ulps * np.spacing(np.abs(want)).astype("float64")
        ok = same_special | (np.abs(g - w) <= tol)
    assert ok.all(), f"{what}: got {got[~ok][:5]}, want {want[~ok][:5]}"


MATH_ULPS = {"float16": 1, "float32": 4, "float64": 4}


@settings(max_examples=40)
@given(st.sampled_from(dt.FLOATS), st.sampled_from(SHAPES), st.data())
def test_math_calls_match_numpy(dtype, shape, data):
    x = data.draw(array_strategy(dtype, shape), label="x")
    lib = math_lib(dtype, shape)
    for op in UNARY_CALLS:
        want = np_call(op, x)
        got = run(lib, op, want.dtype, x)
        if op in EXACT_CALLS:
            assert_same(got, want, f"{op} {dtype} x={x!r}")
        else:
            assert_ulp_close(got, want, MATH_ULPS[dtype], f"{op} {dtype}")
    y = data.draw(array_strategy(dtype, shape), label="y")
    with np.errstate(all="ignore"):
        want = np.power(x, y)
    assert_ulp_close(run(lib, "pow", dtype, x, y), want, MATH_ULPS[dtype], f"pow {dtype}")


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16", "bool"])
def test_integer_math_calls(dtype):
    info_min = np.iinfo(dtype).min if dt.is_int(dtype) else 0
    x = np.array([info_min, -3 if info_min else 3, 0, 1, 5], dtype)
    funcs = {op: elementwise((5,), [dtype], getattr(te, op))
             for op in ("abs", "floor", "ceil", "round", "isnan", "isfinite", "isinf")}
    lib = build(funcs)
    for op in funcs:
        if op in ("floor", "ceil", "round"):
            want = x  # identity on integers and bools (NumPy would give float16 for bool)
        else:
            want = np.asarray(getattr(np, op)(x))
        assert_same(run(lib, op, want.dtype, x), want, f"{op} {dtype}")


# ------------------------------------------------------------------------ casts

@functools.lru_cache(maxsize=None)
def cast_lib(src):
    return build({f"to_{dst}": elementwise((16,), [src], lambda x, d=dst: x.astype(d))
                  for dst in dt.SUPPORTED if dst != src})


def castable(x, dst):
    """Replace values whose float -> int cast is unspecified (NaN, out of range) by 0 (complex
    values: their real part decides)."""
    if x.dtype.kind not in "fc" or not dt.is_int(dst):
        return x
    info = np.iinfo(dst)
    with np.errstate(all="ignore"):
        t = np.trunc(np.real(x).astype("float64"))
        ok = np.isfinite(t) & (t >= info.min) & (t <= info.max)
    return np.where(ok, x, 0).astype(x.dtype)


@settings(max_examples=30)
@given(st.sampled_from(dt.SUPPORTED), st.data())
def test_casts_between_all_dtypes_match_astype(src, data):
    x = data.draw(array_strategy(src, (16,)), label="x")
    lib = cast_lib(src)
    for dst in dt.SUPPORTED:
        if dst == src:
            continue
        xs = castable(x, dst)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            want = xs.astype(dst)
        assert_same(run(lib, f"to_{dst}", dst, xs), want, f"{src} -> {dst}: {xs!r}")


def test_float64_to_float16_rounds_once_like_numpy():
    # 1 + 2**-11 + 2**-40 rounds up in one step, but to 1.0 through float32
    x = np.resize(np.array([1 + 2.0**-11 + 2.0**-40, 65519.99, 65520.0, 2.0**-25 + 2.0**-50], "float64"), 16)
    lib = cast_lib("float64")
    with np.errstate(over="ignore"):
        assert_same(run(lib, "to_float16", "float16", x), x.astype("float16"), "f64 -> f16")


# --------------------------------------------------------------------- float16

def test_float16_rounds_after_every_operation():
    rng = np.random.default_rng(3)
    a, b, c = (rng.uniform(-100, 100, 257).astype("float16") for _ in range(3))
    lib = build({"f": elementwise((257,), ["float16"] * 3, lambda x, y, z: (x * y + z) / (y - 0.1))})
    want = (a * b + c) / (b - np.float16(0.1))
    assert_same(run(lib, "f", "float16", a, b, c), want, "float16 chain")


# ------------------------------------------------------------------ reductions

@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int32", "uint8", "int64"])
def test_sum_max_min_reductions_with_init(dtype):
    n, m = 5, 37
    A = te.placeholder((n, m), dtype, "A")
    funcs = {}
    for name, reducer in (("sum", te.sum), ("max", te.max), ("min", te.min)):
        k = te.reduce_axis((0, m), "k")
        funcs[name] = te.create_prim_func([A, te.compute((n,), lambda i: reducer(A[i, k], axis=k), "R")])
    k2 = te.reduce_axis((3, m), "k")
    funcs["sum_from_3_even"] = te.create_prim_func(
        [A, te.compute((n,), lambda i: te.sum(A[i, k2], axis=k2, where=k2 % 2 == 0), "R")])
    # float16 sums are checked step by step in the loop order te wrote, so the loops stay as
    # written (the default rules split a row into vector-lane partial sums where the host's
    # vectors are short enough for 37 columns: another order, rounded otherwise)
    lib = mlc.build(mlc.IRModule(funcs), "llvm", schedule=(lambda sch: None) if dtype == "float16" else None)
    rng = np.random.default_rng(4)
    a = (rng.uniform(-4, 4, (n, m)) if dt.is_float(dtype) else rng.integers(0, 100, (n, m))).astype(dtype)
    with np.errstate(all="ignore"):
        want = {"sum": a.sum(axis=1, dtype=dtype), "max": a.max(axis=1), "min": a.min(axis=1),
                "sum_from_3_even": a[:, 4::2].sum(axis=1, dtype=dtype)}
    for name, w in want.items():
        got = run(lib, name, dtype, a, shape=(n,))
        if dtype in ("float32", "float64"):
            np.testing.assert_allclose(got, w, rtol=1e-5, err_msg=name)
        elif dtype == "float16":  # float16 sums round after every step, in loop order
            acc = np.zeros(n, "float16")
            cols = range(m) if name == "sum" else range(4, m, 2)
            if name.startswith("sum"):
                for j in cols:
                    acc = acc + a[:, j]
                w = acc
            assert_same(got, w, name)
        else:
            assert_same(got, w, name)


def test_max_reduction_propagates_nan():
    A = te.placeholder((2, 4), "float32", "A")
    k = te.reduce_axis((0, 4), "k")
    lib = build({"m": te.create_prim_func([A, te.compute((2,), lambda i: te.max(A[i, k], axis=k), "M")])})
    a = np.array([[1, np.nan, 3, 2], [np.inf, 1, 2, 3]], "float32")
    assert_same(run(lib, "m", "float32", a, shape=(2,)), np.max(a, axis=1), "max with nan")


def test_custom_comm_reducer():
    prod = te.comm_reducer(lambda x, y: x * y, lambda t: te.const(1, t), name="prod")
    absmax = te.comm_reducer(lambda x, y: te.max(te.abs(x), te.abs(y)), lambda t: te.const(0, t), name="absmax")
    A = te.placeholder((6, 9), "float64", "A")
    k1, k2 = te.reduce_axis((0, 9), "k"), te.reduce_axis((0, 9), "k")
    lib = build({
        "prod": te.create_prim_func([A, te.compute((6,), lambda i: prod(A[i, k1], axis=k1), "P")]),
        "absmax": te.create_prim_func([A, te.compute((6,), lambda i: absmax(A[i, k2], axis=k2), "M")]),
    })
    a = np.random.default_rng(5).uniform(-2, 2, (6, 9))
    np.testing.assert_allclose(run(lib, "prod", "float64", a, shape=(6,)), a.prod(axis=1), rtol=1e-12)
    assert_same(run(lib, "absmax", "float64", a, shape=(6,)), np.abs(a).max(axis=1), "absmax")


def test_reduction_update_alone_carries_reassoc_and_no_unsafe_flags():
    A = te.placeholder((8, 8), "float32", "A")
    k = te.reduce_axis((0, 8), "k")
    S = te.compute((8,), lambda i: te.sum(A[i, k] * 2.0 + 1.0, axis=k), "S")
    text = generate_ir({"s": lower(te.create_prim_func([A, S]))}, mlc.Target.from_str("llvm"))
    assert text.count("reassoc contract") == 1
    assert "fadd reassoc contract" in text
    assert "fmul contract" not in text  # the inner mul of A * 2 + 1 is not the summed product
    k2 = te.reduce_axis((0, 8), "k")
    dot = te.compute((8,), lambda i: te.sum(A[i, k2] * A[k2, i], axis=k2), "D")
    text_dot = generate_ir({"d": lower(te.create_prim_func([A, dot]))}, mlc.Target.from_str("llvm"))
    assert text_dot.count("fmul contract") == 1  # the summed product may become an FMA
    for unsafe in ("nnan", "ninf", " fast ", "afn", "arcp", "nsz"):
        assert unsafe not in text
    X = te.placeholder((8,), "float32", "X")
    plain = te.compute((8,), lambda i: X[i] * 2.0 + X[i], "P")
    text = generate_ir({"p": lower(te.create_prim_func([X, plain]))}, mlc.Target.from_str("llvm"))
    assert "contract" not in text and "reassoc" not in text


# --------------------------------------------------------- intermediate buffers

@pytest.mark.parametrize("n, where", [(20, "alloca"), (300, "malloc")])
def test_multi_stage_with_intermediate_buffers(n, where):
    A = te.placeholder((n, n), "float32", "A")
    T1 = te.compute((n, n), lambda i, j: A[i, j] * 2, "T1")
    T2 = te.compute((n, n), lambda i, j: T1[j, i] + 1, "T2")
    k = te.reduce_axis((0, n), "k")
    R = te.compute((n,), lambda i: te.sum(T2[i, k], axis=k), "R")
    lib = build({"f": te.create_prim_func([A, R])})
    assert where in lib.get_source("ll")
    if where == "malloc":
        assert "@free" in lib.get_source("ll")
    a = np.random.default_rng(6).uniform(-1, 1, (n, n)).astype("float32")
    np.testing.assert_allclose(run(lib, "f", "float32", a, shape=(n,)), ((a * 2).T + 1).sum(axis=1),
                               rtol=1e-4, atol=1e-3)


def test_zero_size_buffers():
    A = te.placeholder((3, 0), "float32", "A")
    T = te.compute((3, 0), lambda i, j: A[i, j] + 1, "T")
    k = te.reduce_axis((0, 0), "k")
    S = te.compute((3,), lambda i: te.sum(T[i, k], axis=k), "S")
    E = te.compute((0,), lambda i: te.const(1.0, "float32"), "E")
    lib = build({"s": te.create_prim_func([A, S]), "e": te.create_prim_func([E])})
    s = np.full(3, 7, "float32")
    lib["s"](np.zeros((3, 0), "float32"), s)
    # a reduction over an empty domain still runs its init (docs/ir-semantics.md)
    assert_same(s, np.zeros(3, "float32"), "empty reduction")
    lib["e"](np.zeros(0, "float32"))


# ---------------------------------------------------------------- guarded loads

def test_select_guarded_out_of_bounds_load_is_never_executed():
    n = 513
    A = te.placeholder((n,), "float32", "A")
    pad = te.compute((n,), lambda i: te.if_then_else(i >= 1, A[i - 1], 0.0), "P")
    far = te.compute((n,), lambda i: te.if_then_else(i < n, A[i], A[i + 100_000_000]), "F")
    neg = te.compute((n,), lambda i: te.if_then_else(i >= n, A[i - 100_000_000], A[i] * 3), "N")
    lib = build({"pad": te.create_prim_func([A, pad]), "far": te.create_prim_func([A, far]),
                 "neg": te.create_prim_func([A, neg])})
    a = np.random.default_rng(7).standard_normal(n).astype("float32")
    assert_same(run(lib, "pad", "float32", a), np.concatenate([[0], a[:-1]]).astype("float32"), "pad")
    assert_same(run(lib, "far", "float32", a), a, "far")
    assert_same(run(lib, "neg", "float32", a), a * 3, "neg")


def test_bool_buffers_round_trip():
    lib = build({"f": elementwise((9,), ["bool", "int32"], lambda p, x: te.if_then_else(p, x > 2, p))})
    p = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1], bool)
    x = np.arange(9, dtype="int32")
    assert_same(run(lib, "f", "bool", p, x), np.where(p, x > 2, p), "bool")


def test_handwritten_tir_with_else_branches_and_allocations_inside_loops():
    """IfThenElse with an else, Evaluate, and per-iteration scratch on the stack and the heap."""
    from mlc.ir.buffer import decl_buffer
    from mlc.ir.expr import BufferLoad, Var, const
    from mlc.ir.tir import Allocate, BufferStore, Evaluate, For, IfThenElse, PrimFunc, seq

    n, big = 6, 20_000  # 20000 float32 = 80 KB: heap
    out = decl_buffer((n,), "float32", "O")
    small_buf = decl_buffer((3,), "float32", "small")
    big_buf = decl_buffer((big,), "float32", "big")
    i, j = Var("i"), Var("j")
    fill = For(j, const(0), const(big), "serial", BufferStore(big_buf, (i + j).astype("float32"), (j,)))
    body = seq(
        Evaluate(const(0)),
        Allocate(small_buf, Allocate(big_buf, seq(
            fill,
            BufferStore(small_buf, BufferLoad(big_buf, (const(big - 1),), "float32"), (const(0),)),
            IfThenElse(i % 2 == 0,
                       BufferStore(out, BufferLoad(small_buf, (const(0),), "float32"), (i,)),
                       BufferStore(out, const(-1.0, "float32"), (i,))),
        ))),
    )
    func = PrimFunc((out,), For(i, const(0), const(n), "serial", body))
    text = generate_ir({"f": lower(func)}, mlc.Target.from_str("llvm"))  # before LLVM elides them
    assert "call ptr @\"malloc\"" in text and "@\"free\"" in text and "alloca float, i64 3" in text
    lib = build({"f": func})
    o = np.zeros(n, "float32")
    lib["f"](o)
    assert_same(o, np.where(np.arange(n) % 2 == 0, np.arange(n) + big - 1.0, -1.0).astype("float32"), "tir")


# ------------------------------------------------------------------- loop kinds

class _SetKind(Mutator):
    def __init__(self, kind):
        self.kind = kind

    def visit_For(self, loop):
        loop = self.generic_visit(loop)
        axis = "threadIdx.x" if self.kind == "thread_binding" else None
        return dataclasses.replace(loop, kind=self.kind, thread_binding=axis)


def with_kind(func, kind):
    return func.with_body(_SetKind(kind).visit(func.body))


def test_loop_kinds_compute_the_same():
    A = te.placeholder((37, 16), "float32", "A")
    k = te.reduce_axis((0, 16), "k")
    func = te.create_prim_func([A, te.compute((37,), lambda i: te.sum(A[i, k] * A[i, k], axis=k), "S")])
    kinds = ["serial", "parallel", "vectorized", "unrolled"]
    lib = build({kind: with_kind(func, kind) for kind in kinds})
    a = np.random.default_rng(8).standard_normal((37, 16)).astype("float32")
    for kind in kinds:
        np.testing.assert_allclose(run(lib, kind, "float32", a, shape=(37,)), (a * a).sum(axis=1),
                                   rtol=1e-5, err_msg=kind)
    target = mlc.Target.from_str("llvm")
    assert "llvm.loop.vectorize.enable" in generate_ir({"v": lower(with_kind(func, "vectorized"))}, target)
    assert "llvm.loop.unroll.full" in generate_ir({"u": lower(with_kind(func, "unrolled"))}, target)


def test_thread_binding_needs_the_cuda_target():
    func = with_kind(elementwise((8,), ["float32"], lambda x: x + 1), "thread_binding")
    with pytest.raises(mlc.CompileError, match="cuda"):
        build({"f": func})


# ------------------------------------------------------- sources, timing, errors

def test_sources_and_time_evaluator():
    lib = build({"double": elementwise((64,), ["float32"], lambda x: x * 2)})
    assert "define void @double" in lib.get_source("ll")
    asm = lib.get_source("asm")
    assert asm.strip() and "double" in asm
    x = np.arange(64, dtype="float32")
    y = np.empty(64, "float32")
    result = lib.time_evaluator("double", number=3, repeat=2)(x, y)
    assert len(result.results) == 2 and all(t > 0 for t in result.results)
    assert_same(y, x * 2, "double")


def test_functions_outlive_their_module():
    fn = build({"inc": elementwise((4,), ["int32"], lambda x: x + 1)})["inc"]
    gc.collect()
    y = np.empty(4, "int32")
    fn(np.arange(4, dtype="int32"), y)
    assert_same(y, np.arange(1, 5, dtype="int32"), "inc")


def test_functions_named_like_runtime_symbols():
    lib = build({"malloc": elementwise((3,), ["float32"], lambda x: x - 1),
                 "mlc_malloc": elementwise((3,), ["float32"], lambda x: x + 1),
                 "expf": elementwise((3,), ["float32"], te.exp)})
    one = np.ones(3, "float32")
    assert_same(run(lib, "malloc", "float32", one), np.zeros(3, "float32"), "malloc")
    assert_same(run(lib, "mlc_malloc", "float32", one), np.full(3, 2, "float32"), "mlc_malloc")
    np.testing.assert_allclose(run(lib, "expf", "float32", one), np.exp(one), rtol=1e-6)


def test_unknown_external_symbol_is_a_compile_error_not_a_crash():
    text = """
declare float @mystery_function(float)
define void @f(ptr %a) {
  %x = load float, ptr %a
  %y = call float @mystery_function(float %x)
  store float %y, ptr %a
  ret void
}"""
    with pytest.raises(mlc.CompileError, match="mystery_function") as info:
        compile_ir(text, mlc.Target.from_str("llvm"))
    assert "mystery_function" in info.value.source


def test_invalid_ir_is_a_compile_error_with_source():
    with pytest.raises(mlc.CompileError, match="LLVM rejected") as info:
        compile_ir("define void @f( {", mlc.Target.from_str("llvm"))
    assert info.value.source == "define void @f( {"


def test_arguments_are_checked_before_the_kernel_runs():
    lib = build({"f": elementwise((4,), ["float32"], lambda x: x + 1)})
    with pytest.raises(mlc.DTypeError):
        lib["f"](np.zeros(4, "float64"), np.zeros(4, "float32"))
    with pytest.raises(mlc.ShapeError):
        lib["f"](np.zeros(5, "float32"), np.zeros(4, "float32"))


def test_target_uses_the_host_cpu():
    from mlc.backends.llvm.cpus import host_cpu
    lib = build({"f": elementwise((4,), ["float32"], lambda x: x + 1)})
    assert (lib.target.cpu, lib.target.features) == host_cpu()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lib.get_source("asm")


def test_target_with_features_the_host_lacks_is_refused(monkeypatch):
    from mlc.backends.llvm import module
    from mlc.backends.llvm.cpus import host_cpu
    cpu, features = host_cpu()
    flags = features.split(",")
    lacking = next((f[1:] for f in flags if f.startswith("-")), None)
    if lacking is None:  # a host with every feature: pretend it lacks one it has
        lacking = next(f[1:] for f in flags if f.startswith("+"))
        fake = ",".join("-" + f[1:] if f[1:] == lacking else f for f in flags)
        monkeypatch.setattr(module, "host_cpu", lambda: (cpu, fake))
    with pytest.raises(mlc.CompileError, match=lacking):
        mlc.build(mlc.IRModule({"f": elementwise((4,), ["float32"], lambda x: x + 1)}),
                  f"llvm -mattr=+{lacking}")


# ------------------------------------------------------------------ index arithmetic

@settings(max_examples=40)
@given(st.integers(1, 40), st.integers(-50, 50), st.integers(1, 9), st.integers(-7, 7), st.integers(1, 40))
def test_index_arithmetic_with_negative_steps_and_floor_division(n, offset, d, scale, m):
    """Indices are computed in 64 bits; floordiv/floormod by constants of negative
    intermediates must still round toward -inf, as the reference does."""
    A = te.placeholder((m,), "float32", "A")
    B = te.compute((n,), lambda i: A[((i * scale + offset) // d) % m], "B")
    func = te.create_prim_func([A, B])
    a = np.arange(m, dtype="float32")
    want = a[((np.arange(n) * scale + offset) // d) % m]
    np.testing.assert_array_equal(run(build({"f": func}), "f", "float32", a, shape=(n,)), want)


def test_index_arithmetic_is_computed_in_i64():
    """Sums and products of signed indices are i64 (constant terms fold into addresses),
    negative intermediate offsets included."""
    X = te.placeholder((6, 9), "float32", "X")
    Y = te.compute((4, 7), lambda i, j: X[i + 2, j - 1 + 2] * 2 + X[i * 1 + 1 - 1, j + 2 - 2], "Y")
    mod = mlc.IRModule({"main": te.create_prim_func([X, Y])})
    lib = mlc.build(mod, target="llvm")
    x = np.arange(54, dtype="float32").reshape(6, 9)
    y = np.zeros((4, 7), "float32")
    lib["main"](x, y)
    np.testing.assert_array_equal(y, x[2:6, 1:8] * 2 + x[0:4, 0:7])
    text = generate_ir({"main": lower(mod["main"])}, mlc.Target.from_str("llvm"))
    assert "add nsw i64" in text and "mul nsw i64" in text


def test_the_c_allocation_functions_llvm_may_introduce_are_provided():
    """LLVM's InstCombine turns malloc + memset(0) into calloc: generated code may call it."""
    from mlc.backends.llvm.symbols import register_symbols
    assert {"malloc", "calloc", "free", "memset", "memcpy", "memmove"} <= register_symbols()
