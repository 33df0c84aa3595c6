"""The scalar-op table (mlc.ir.ops) against every stage that reads it.

For every op of the table and every dtype it accepts: integer constant
folding, the op's NumPy implementation, the reference interpreter and the llvm
backend agree on boundary values (Hypothesis); the printer writes every op
and the TVMScript parser reads it back; every math call has a te builder and
an llvm lowering; a math call a backend has no lowering for is a clear
CompileError.
"""
import functools
import math

import numpy as np
import pytest
import scipy.special
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc import te
from mlc.backends.intrinsics import (intrinsic_lowering, lowered_ops, register_intrinsic_lowering,
                                     unregister_intrinsic_lowering)
from mlc.backends.registry import get_backend
from mlc.errors import CompileError, DTypeError, IRError, MLCError
from mlc.ir import dtype as dt
from mlc.ir import expr as E
from mlc.passes.tir.lower_complex import COMPLEX_MATH
from mlc.passes.tir.lower_math import ROUTINE_DTYPES as MATH_ROUTINE_DTYPES
from mlc.passes.tir.lower_threefry import OP as THREEFRY
from mlc.ir.ops import BINARY_OPS, MATH_CALLS, SCALAR_OPS
from mlc.ir.structural import assert_structural_equal
from tests.cuda.programs_complex import assert_division_agrees

N = 24
#: The most operands an op of the table takes (threefry2x32's four words).
MAX_ARITY = max(op.arity for op in SCALAR_OPS.values())


def accepts(op, dtype) -> bool:
    try:
        op.check(dtype)
    except DTypeError:
        return False
    return True


def dtypes_of(op):
    return [d for d in dt.SUPPORTED if accepts(op, d)]


CASES = [(name, d) for name, op in SCALAR_OPS.items() for d in dtypes_of(op)]


def build_expr(name, args, fold=True):
    if not fold and name in MATH_CALLS:  # the Call node itself, even where the builder simplifies
        return E.Call(name, tuple(args), MATH_CALLS[name].result_dtype(args[0].dtype))
    if name == "not":
        return E.logical_not(args[0])
    if name in BINARY_OPS:
        return E.make_binary(name, *args)
    return E.call(name, *args)


def elementwise(name, dtype, fold=True):
    """``C[i] = name(X0[i], ...)`` over (N,) inputs of ``dtype``."""
    inputs = [te.placeholder((N,), dtype, f"X{n}") for n in range(SCALAR_OPS[name].arity)]
    out = te.compute((N,), lambda i: build_expr(name, [x[i] for x in inputs], fold), "C")
    return te.create_prim_func(inputs + [out])


@functools.lru_cache(maxsize=None)
def libraries(dtype):
    """One llvm and one reference module holding every op ``dtype`` takes."""
    mod = mlc.IRModule({name: elementwise(name, d) for name, d in CASES if d == dtype})
    return mlc.build(mod, "llvm"), mlc.build(mod, "reference")


def boundary_values(dtype):
    if dtype == "bool":
        return [False, True]
    if dt.is_int(dtype):
        info = np.iinfo(dtype)
        edges = [int(info.min), int(info.min) + 1, -7, -2, -1, 0, 1, 2, 3, 7, int(info.max) - 1,
                 int(info.max)]
        return [v for v in edges if info.min <= v <= info.max]
    info = np.finfo(dtype)
    return [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, 0.1, 10.0, 30.0, -30.0, 88.5,
            -104.0, float(info.max), -float(info.max), float(info.tiny), -float(info.tiny),
            float(info.smallest_subnormal), math.inf, -math.inf, math.nan]


def values(dtype):
    """Arrays of ``dtype`` mixing boundary values and anything else ``dtype`` holds (complex:
    each part one of its float dtype's)."""
    if dt.is_complex(dtype):
        part = dt.component(dtype)
        parts = st.one_of(st.sampled_from(boundary_values(part)), st.floats(width=dt.bits(part)))
        return hnp.arrays(dtype, (N,), elements=st.builds(complex, parts, parts))
    edge = st.sampled_from(boundary_values(dtype))
    if dtype == "bool":
        anything = st.booleans()
    elif dt.is_int(dtype):
        info = np.iinfo(dtype)
        anything = st.integers(int(info.min), int(info.max))
    else:
        anything = st.floats(width=dt.bits(dtype))
    with np.errstate(over="ignore"):
        return hnp.arrays(dtype, (N,), elements=st.one_of(edge, anything))


def operands(name, dtype, arrays):
    if name in ("shl", "shr"):  # a shift by the bit width or more is unspecified
        return [arrays[0], np.remainder(arrays[1], dt.bits(dtype)).astype(dtype)]
    return arrays


#: Math calls that are exact on every backend (no rounding of their own).
EXACT_CALLS = {"abs", "floor", "ceil", "round", "isnan", "isfinite", "isinf", "sqrt", "copysign",
               "nextafter"}


#: Ops on complex operands whose result rounds differently in NumPy's SIMD loops (host-dependent).
COMPLEX_ROUNDING = {"exp", "log", "sqrt", "abs", "sinh", "cosh", "tanh", "expm1", "log1p", "sin", "cos",
                    "tan", "asin", "acos", "atan", "asinh", "acosh", "atanh", "log2", "log10"}


def assert_agree_complex(got, want, op, dtype, what):
    """Each part within ``ulps`` of the modulus of NumPy's result (the usual normwise bound of
    complex functions), NaN where NumPy's part is NaN, infinities and zeros exactly (signs
    included)."""
    ulps = max(op.ulps or 0, 4) + 1
    with np.errstate(all="ignore"):
        modulus = np.abs(want).astype(dt.component(dtype))
    got, want = got.astype(dtype), want.astype(dtype)  # abs: real parts only
    for part in (np.real, np.imag):
        g, w = part(got).astype("float64"), part(want).astype("float64")
        # the modulus, or the part itself where the other part is infinite
        scale = np.where(np.isfinite(modulus), modulus, np.abs(part(want)))
        with np.errstate(all="ignore"):
            close = np.abs(g - w) <= ulps * np.spacing(scale).astype("float64")
            exact = (g == w) & (np.signbit(g) == np.signbit(w))
            ok = (np.isnan(g) & np.isnan(w)) | exact | (close & np.isfinite(w) & ((g != 0) | (w != 0)))
        assert ok.all(), f"{op.name} {dtype} {what}: got {got[~ok][:4]}, want {want[~ok][:4]}"


def assert_agree(got, want, op, dtype, what):
    assert got.dtype == want.dtype, f"{op.name} {dtype} {what}: dtype {got.dtype}, want {want.dtype}"
    if dt.is_complex(dtype) and op.name in COMPLEX_ROUNDING:
        assert_agree_complex(got, want, op, dtype, what)
        return
    if op.kind != "math" or op.name in EXACT_CALLS or want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want, err_msg=f"{op.name} {dtype} {what}")
        return
    # The op's budget (at least 4: NumPy's own SIMD/SVML routines, which depend on the host
    # CPU, are up to 4 ulps from the exact value) plus one rounding; float16 computes in
    # float32 on both sides and rounds once.
    ulps = 1 if dtype == "float16" else max(op.ulps or 0, 4) + 1
    g, w = got.astype("float64"), want.astype("float64")
    with np.errstate(all="ignore"):
        scale = np.maximum(np.abs(w), 1.0) if op.bounded else np.abs(w)
        ok = (np.isnan(g) & np.isnan(w)) | (g == w) | (np.abs(g - w) <= ulps * np.spacing(
            scale.astype(want.dtype)).astype("float64"))
    assert ok.all(), f"{op.name} {dtype} {what}: got {got[~ok][:4]}, want {want[~ok][:4]}"


def run(lib, name, out_dtype, arrays):
    out = np.zeros((N,), out_dtype)
    lib[name](*arrays, out)
    return out


@pytest.mark.parametrize("dtype", dt.SUPPORTED)
# float16 arrays reject drawn floats that do not round-trip through float16: that filter is
# Hypothesis's own, and how much it filters depends on the draws
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(data=st.data())
def test_numpy_reference_and_llvm_agree_on_every_op(dtype, data):
    llvm, reference = libraries(dtype)
    arrays = [data.draw(values(dtype), label=f"x{n}") for n in range(MAX_ARITY)]
    for name, d in CASES:
        if d != dtype:
            continue
        op = SCALAR_OPS[name]
        args = operands(name, dtype, arrays[:op.arity])
        with np.errstate(all="ignore"):
            want = np.asarray(op.numpy(*args))
        assert want.dtype == op.result_dtype(dtype), name
        for target, lib in (("reference", reference), ("llvm", llvm)):
            got = run(lib, name, want.dtype, args)
            if name == "div" and dt.is_complex(dtype):  # Smith's, scaled where NumPy's overflows
                assert_division_agrees(got, *args, f"div {dtype} {target}")
            else:
                assert_agree(got, want, op, dtype, target)


FOLDED = [(name, d) for name, d in CASES
          if name in BINARY_OPS and BINARY_OPS[name].exact is not None and not dt.is_inexact(d)]


@pytest.mark.parametrize("name,dtype", FOLDED)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_integer_folding_matches_numpy(name, dtype, data):
    x, y = (data.draw(st.one_of(st.sampled_from(boundary_values(dtype)),
                                hnp.from_dtype(np.dtype(dtype))), label=n) for n in "xy")
    op = BINARY_OPS[name]
    folded = E.make_binary(name, E.const(x, dtype), E.const(y, dtype))
    if name in ("floordiv", "floormod", "truncdiv", "truncmod") and y == 0:
        assert isinstance(folded, E.Binary)  # kept: the program divides by zero itself
        return
    assert isinstance(folded, E.IntImm) and folded.dtype == op.result_dtype(dtype)
    with np.errstate(all="ignore"):
        want = op.numpy(np.asarray(x, dtype), np.asarray(y, dtype))
    assert folded.value == int(want), f"{name}({x}, {y}) on {dtype}"


@pytest.mark.parametrize("name,dtype", [(n, d) for n, d in CASES if d in ("int32", "float32", "bool", "complex64")]
                         + [(n, next(d for d in ("float64", "complex128", *dt.SUPPORTED) if accepts(op, d)))
                            for n, op in MATH_CALLS.items()])
def test_printer_prints_every_op_and_the_parser_reads_it_back(name, dtype):
    op = SCALAR_OPS[name]
    func = elementwise(name, dtype, fold=False)
    text = func.script("f")
    if op.function is not None:
        assert f"{op.function}(X0[vi]" in text
    else:
        assert f"{op.symbol} X" in text  # "X0[vi] + X1[vi]", "not X0[vi]"
    assert_structural_equal(mlc.parse(text), func)


def test_tables_derived_from_the_op_table():
    assert E.MATH_OPS == {name: op.arity for name, op in MATH_CALLS.items()}
    assert set(E.ARITH_OPS + E.COMPARE_OPS + E.LOGIC_OPS + E.BITWISE_OPS) == set(BINARY_OPS)
    for name in MATH_CALLS:
        assert getattr(te, name) is getattr(E, name), f"te.{name}"
        assert name in te.__all__ and name in E.__all__


@pytest.mark.parametrize("name", sorted(MATH_CALLS))
def test_llvm_lowers_every_math_call_on_every_float_dtype_it_takes(name):
    get_backend("llvm")  # its lowerings are registered as it loads (on a first build, elsewhere)
    op = MATH_CALLS[name]
    for dtype in op.float_dtypes:  # a native lowering (an LLVM intrinsic, libm's), else lower_math's routine
        compute = "float32" if dtype == "float16" else dtype
        if compute not in MATH_ROUTINE_DTYPES.get(name, ()):
            assert callable(intrinsic_lowering("llvm", name, compute))
    for dtype in dt.COMPLEX:  # a native lowering (libm's csin, ...), else lower_complex's formula
        if accepts(op, dtype) and name not in COMPLEX_MATH:
            assert callable(intrinsic_lowering("llvm", name, dtype))
    if not any(accepts(op, d) for d in op.float_dtypes) and name in COMPLEX_MATH:
        return  # (complex operands only: conj)
    assert name in lowered_ops("llvm") or name in MATH_ROUTINE_DTYPES or name == THREEFRY  # (lower_threefry's)


def test_erfc_matches_scipy():
    for dtype, rtol in (("float32", 2e-6), ("float64", 1e-13)):
        x = np.linspace(-6, 9 if dtype == "float32" else 26, N).astype(dtype)
        want = scipy.special.erfc(x.astype("float64"))
        for lib in libraries(dtype):
            np.testing.assert_allclose(run(lib, "erfc", dtype, [x]), want, rtol=rtol, err_msg=dtype)


def test_erfinv_matches_scipy():
    """Giles' polynomials (the NumPy column) and the llvm routine, against SciPy's erfinv:
    in [-1, 1] with points crowding at the ends, where the polynomial in sqrt(w) takes over."""
    for dtype, ulps in (("float32", 6), ("float64", 6)):
        tiny = np.finfo(dtype).eps / 2
        ends = 1 - np.geomspace(tiny, 0.5, 2000)
        x = np.concatenate([np.linspace(-1, 1, 4001), ends, -ends, [1.0, -1.0, 0.0]]).astype(dtype)
        X = te.placeholder(x.shape, dtype, "X")
        lib = mlc.build(te.create_prim_func([X, te.compute(x.shape, lambda i: te.erfinv(X[i]), "Y")]), "llvm")
        got = np.empty_like(x)
        lib["main"](x, got)
        want = scipy.special.erfinv(x.astype("float64"))
        for name, value in (("numpy", MATH_CALLS["erfinv"].numpy(x)), ("llvm", got)):
            finite = np.isfinite(want)
            assert (value[~finite] == want[~finite]).all(), name  # +-inf at +-1
            err = np.abs(value[finite] - want[finite]) / np.spacing(np.abs(want[finite]).astype(dtype))
            assert err.max() <= ulps, f"erfinv {dtype} {name}: {err.max():.1f} ulps at {x[finite][err.argmax()]!r}"


def test_threefry2x32_gives_random123s_known_answers_on_every_backend():
    """The generator's math call against the published test vectors of Random123, on the NumPy
    column, llvm and the reference interpreter (the CUDA emulator: tests/random)."""
    from mlc.ir.threefry import KNOWN_ANSWERS
    words = list(np.array([[*k, *c] for k, c, _ in KNOWN_ANSWERS], "uint32").T.copy())
    want = np.array([(x0 << 32) | x1 for _, _, (x0, x1) in KNOWN_ANSWERS], "uint64")
    np.testing.assert_array_equal(MATH_CALLS["threefry2x32"].numpy(*words), want)
    inputs = [te.placeholder((len(want),), "uint32", f"W{n}") for n in range(4)]
    out = te.compute((len(want),), lambda i: te.threefry2x32(*(w[i] for w in inputs)), "C")
    for target in ("llvm", "reference"):
        got = np.zeros_like(want)
        mlc.build(te.create_prim_func(inputs + [out]), target)["main"](*words, got)
        np.testing.assert_array_equal(got, want, err_msg=target)


def test_threefry2x32_refuses_other_dtypes():
    with pytest.raises(DTypeError, match="threefry2x32 needs uint32 operands, got int32"):
        te.threefry2x32(*(te.const(1, "int32") for _ in range(4)))
    with pytest.raises(DTypeError, match="one dtype"):
        te.threefry2x32(te.const(1, "uint32"), te.const(1, "int32"), 0, 0)
    with pytest.raises(IRError, match="takes 4 argument"):
        te.threefry2x32(te.const(1, "uint32"))


def test_erfc_refuses_float16_and_integers():
    with pytest.raises(DTypeError, match="erfc is defined for float32, float64, got float16"):
        te.erfc(te.placeholder((2,), "float16", "A")[0])
    with pytest.raises(DTypeError, match="erfc needs a float operand, got int32"):
        te.erfc(te.placeholder((2,), "int32", "A")[0])


def test_a_math_call_without_lowering_is_a_compile_error_naming_op_and_backend():
    removed = unregister_intrinsic_lowering("llvm", "erfc")
    assert removed
    try:
        with pytest.raises(CompileError, match="llvm backend has no lowering of math call erfc for float64"):
            mlc.build(mlc.IRModule({"f": elementwise("erfc", "float64")}), "llvm")
    finally:
        for dtypes, lowering in removed:
            register_intrinsic_lowering("llvm", "erfc", lowering, dtypes=dtypes)


def test_registry_refuses_unknown_ops_and_overlapping_lowerings():
    with pytest.raises(MLCError, match="'erfcx' is not a math call of the op table"):
        register_intrinsic_lowering("test-backend", "erfcx", lambda *a: None)
    register_intrinsic_lowering("test-backend", "exp", lambda *a: "f", dtypes=("float32",))
    try:
        register_intrinsic_lowering("test-backend", "exp", lambda *a: "d", dtypes=("float64",))
        assert intrinsic_lowering("test-backend", "exp", "float64")() == "d"
        with pytest.raises(MLCError, match="already has a lowering of math call exp for every dtype"):
            register_intrinsic_lowering("test-backend", "exp", lambda *a: None)
        with pytest.raises(CompileError, match="it lowers exp for float32, float64"):
            intrinsic_lowering("test-backend", "exp", "float16")
        with pytest.raises(CompileError, match=r"no lowering of math call log for float32 \(it lowers exp\)"):
            intrinsic_lowering("test-backend", "log", "float32")
    finally:
        unregister_intrinsic_lowering("test-backend", "exp")
