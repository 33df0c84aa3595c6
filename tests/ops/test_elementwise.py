"""Elementwise ops against NumPy's ufuncs: dtype rules, broadcasting, values incl. inf/nan."""
import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given, settings, strategies as st

import mlc
import mlc.testing as mt
from mlc import DTypeError, ShapeError
from mlc.ops import TensorType, get_op, list_ops

from ._harness import ALL, FLOATS, INTS, TARGETS, arrays, broadcast_pair, check_op, numpy_call, run_op, shapes

BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "floor_divide": np.floor_divide, "remainder": np.remainder, "power": np.power,
    "maximum": np.maximum, "minimum": np.minimum, "equal": np.equal, "not_equal": np.not_equal,
    "less": np.less, "less_equal": np.less_equal, "greater": np.greater,
    "greater_equal": np.greater_equal, "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_xor": np.logical_xor, "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor, "left_shift": np.left_shift, "right_shift": np.right_shift,
    "arctan2": np.arctan2, "hypot": np.hypot, "copysign": np.copysign, "nextafter": np.nextafter,
    "logaddexp": np.logaddexp,
    "logaddexp2": np.logaddexp2, "fmax": np.fmax, "fmin": np.fmin, "heaviside": np.heaviside,
    "float_power": np.float_power, "fmod": np.fmod, "ldexp": np.ldexp,
}

UNARY = {
    "negative": np.negative, "absolute": np.absolute, "sign": np.sign, "exp": np.exp,
    "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt, "square": np.square,
    "reciprocal": np.reciprocal, "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "floor": np.floor,
    "ceil": np.ceil, "trunc": np.trunc, "rint": np.rint, "positive": np.positive,
    "logical_not": np.logical_not, "invert": np.invert, "isnan": np.isnan,
    "isfinite": np.isfinite, "isinf": np.isinf, "tan": np.tan, "arcsin": np.arcsin,
    "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "log2": np.log2,
    "log10": np.log10, "signbit": np.signbit, "exp2": np.exp2, "fabs": np.fabs,
    "deg2rad": np.deg2rad, "rad2deg": np.rad2deg, "cbrt": np.cbrt, "spacing": np.spacing,
    "stop_gradient": np.array,  # the value itself, of every dtype
}


def _scipy_float(fn):
    """erf / sigmoid have no NumPy ufunc: SciPy's, in the float dtype np.exp would use."""
    def call(x):
        out = np.exp(np.zeros((), x.dtype)).dtype
        return np.asarray(fn(x.astype(out))).astype(out)
    return call


SCIPY = {"erf": _scipy_float(scipy.special.erf), "sigmoid": _scipy_float(scipy.special.expit)}


def _numpy_dtype_error(fn, *dtypes) -> bool:
    try:
        numpy_call(fn, *(np.zeros((), d) for d in dtypes))
    except (TypeError, ValueError):
        return True
    return False


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=12)
@given(data=st.data(), dtypes=st.tuples(st.sampled_from(ALL), st.sampled_from(ALL)), pair=broadcast_pair())
def test_binary_matches_numpy(name, data, dtypes, pair):
    fn = BINARY[name]
    if _numpy_dtype_error(fn, *dtypes):
        with pytest.raises(DTypeError, match=name):
            get_op(name).infer(*(TensorType(s, d) for s, d in zip(pair, dtypes)))
        return
    a = data.draw(arrays(dtypes[0], pair[0]), label="a")
    # NumPy raises for negative integer powers; everything else is drawn from the full range.
    b_floor = 0 if name == "power" and dtypes[1] in INTS else None
    b = data.draw(arrays(dtypes[1], pair[1], min_value=b_floor), label="b")
    check_op(name, [a, b], numpy_call(fn, a, b))


@pytest.mark.parametrize("name", sorted(UNARY) + sorted(SCIPY))
@settings(max_examples=12)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes())
def test_unary_matches_numpy(name, data, dtype, shape):
    fn = UNARY.get(name) or SCIPY[name]
    if _numpy_dtype_error(UNARY.get(name, np.exp), dtype):
        with pytest.raises(DTypeError, match=name):
            get_op(name).infer(TensorType(shape, dtype))
        return
    x = data.draw(arrays(dtype, shape), label="x")
    if name == "reciprocal" and dtype not in FLOATS:
        assume(np.all(x != 0))  # integer 1/0 is undefined behaviour in NumPy's C loop
    check_op(name, [x], numpy_call(fn, x))


@settings(max_examples=15)
@given(data=st.data(), dtypes=st.tuples(*[st.sampled_from(ALL)] * 3),
       shapes3=mt.broadcastable(3, max_dims=3, max_side=4))
def test_where(data, dtypes, shapes3):
    c, x, y = (data.draw(arrays(d, s)) for d, s in zip(dtypes, shapes3))
    check_op("where", [c, x, y], np.where(c, x, y))


_bounds = st.one_of(st.none(), st.integers(-300, 300), st.floats(-1e3, 1e3))


@settings(max_examples=25)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes(), a_min=_bounds, a_max=_bounds)
def test_clip(data, dtype, shape, a_min, a_max):
    assume(a_min is not None or a_max is not None)
    # a_min > a_max is left to the implementation by the Array API; NumPy's answer then depends on
    # the bounds' types (int8 0 clipped to (128.0, 127) is 128.0, float 0.0 to (128.0, 127.0) is 127.0)
    assume(a_min is None or a_max is None or a_min <= a_max)
    x = data.draw(arrays(dtype, shape))
    try:
        expected = numpy_call(np.clip, x, a_min, a_max)
    except OverflowError:  # a lower bound above the dtype's range (or upper below it)
        with pytest.raises(DTypeError, match="out of bounds"):
            get_op("clip").infer(TensorType(shape, dtype), a_min=a_min, a_max=a_max)
        return
    check_op("clip", [x], expected, a_min=a_min, a_max=a_max)


@settings(max_examples=30)
@given(data=st.data(), src=st.sampled_from(ALL), dst=st.sampled_from(ALL), shape=shapes())
def test_astype(data, src, dst, shape):
    # Out-of-range and NaN float-to-int casts are unspecified; draw values every target holds.
    if src in FLOATS and dst not in FLOATS:
        x = data.draw(arrays(src, shape, special=False, bound=100.0,
                             min_value=0.0 if dst.startswith("u") else None))
    else:
        x = data.draw(arrays(src, shape))
    with np.errstate(over="ignore"):  # a float too large for a narrower float is inf, as expected
        want = x.astype(dst)
    check_op("astype", [x], want, dtype=dst)


def test_integer_math_promotes_like_numpy():
    exp = get_op("exp")
    for dtype, want in [("int8", "float16"), ("uint8", "float16"), ("int16", "float32"),
                        ("uint16", "float32"), ("int32", "float64"), ("int64", "float64"), ("bool", "float16")]:
        assert exp.infer(TensorType((2,), dtype)).dtype == want
        assert get_op("erf").infer(TensorType((2,), dtype)).dtype == want
    assert get_op("divide").infer(TensorType((2,), "int8"), TensorType((), "int8")).dtype == "float64"


def test_aliases_resolve():
    assert get_op("true_divide") is get_op("divide")
    assert get_op("mod") is get_op("remainder")
    assert get_op("abs") is get_op("absolute")
    assert "true_divide" not in list_ops()


def test_int_power_wraps_and_handles_big_exponents():
    a = np.array([3, -3, 2, 7, 0, 1], "int64")
    b = np.array([40, 41, 63, 0, 5, 2**62], "int64")
    check_op("power", [a, b], np.power(a, b))


POWER_DTYPES = ["float16", "float32", "float64"]
POWER_EXPONENTS = [0.5, -1.0, 0.0, 1.0, 2.0, 1.5]
POWER_EXPONENT_SHAPES = [(), (1, 1), (3, 1), (3, 4)]


def _power_base(dtype):
    return np.array([[-np.inf, -0.0, 0.0, np.inf], [4.0, 3.0, np.nan, 0.1], [-2.0, 1e-3, -1.0, 7.0]], dtype)


@pytest.mark.parametrize("dtype", POWER_DTYPES)
@pytest.mark.parametrize("exponent", POWER_EXPONENTS)
@pytest.mark.parametrize("exponent_shape", POWER_EXPONENT_SHAPES)
def test_float_power_follows_numpy_for_a_scalar_exponent(dtype, exponent, exponent_shape):
    """NumPy's float32/float64 power loop takes sqrt for an exponent of 0.5 that is one
    number for the whole array: (-inf) ** 0.5 is NaN and (-0) ** 0.5 is -0 there, where pow
    (an exponent array, or float16) gives +inf and +0. The op, on the default targets."""
    base = _power_base(dtype)
    b = np.full(exponent_shape, exponent, dtype)
    with np.errstate(all="ignore"):
        expected = np.power(base, b)
    check_op("power", [base, b], expected)


@pytest.mark.parametrize("dtype", POWER_DTYPES)
@pytest.mark.parametrize("exponent", POWER_EXPONENTS)
@pytest.mark.parametrize("exponent_shape", POWER_EXPONENT_SHAPES)
def test_jitted_float_power_follows_numpy_for_a_scalar_exponent(dtype, exponent, exponent_shape):
    """The same through ``mlc.jit`` (its own target, whatever the default targets are): ``**``
    of two arrays, and of an array and a Python number folded into the kernel."""
    base = _power_base(dtype)
    b = np.full(exponent_shape, exponent, dtype)
    with np.errstate(all="ignore"):
        expected = np.power(base, b)
    got = mlc.jit(lambda x, y: x ** y)(base, b)
    _assert_power_matches(got, expected)
    if exponent_shape == ():  # a Python number, folded into the kernel
        with np.errstate(all="ignore"):
            expected = base ** exponent
        got = mlc.jit(lambda x: x ** exponent)(base)
        _assert_power_matches(got, expected)


@pytest.mark.parametrize("base_shape, exponent_shape", [
    ((), (1,)), ((1,), (1,)), ((2,), (1,)), ((), ()), ((1,), ()), ((1, 1), (1,)), ((1,), (1, 1)),
    ((1, 1), (1, 1)), ((3, 1), (1, 1)), ((), (1, 1)), ((1, 1, 1), (1, 1, 1)), ((2, 1, 1), (1,))])
@pytest.mark.parametrize("dtypes", [("float32", "float32"), ("float64", "float32"), ("float32", "float64")])
def test_a_one_element_exponent_is_one_number_where_numpys_loop_sees_one(base_shape, exponent_shape, dtypes):
    """NumPy's power loop takes sqrt for 0.5 where the exponent's stride is 0: a 0-d exponent,
    or a one-element one broadcast or cast in NumPy's iterator; where its trivial loop runs
    (every operand 0-d or of the output's shape, a cast one at most 1-d), ``pow``. The two
    differ at -inf (NaN against +inf) and -0 (-0 against +0)."""
    power = mlc.jit(lambda x, y: x ** y)
    for value in (-np.inf, -0.0):
        base = np.full(base_shape, value, dtypes[0])
        exponent = np.full(exponent_shape, 0.5, dtypes[1])
        with np.errstate(all="ignore"):
            expected = np.power(base, exponent)
        got = power(base, exponent)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


def _assert_power_matches(got, expected):
    """Special values (infinities, zeros, NaN) and their signs exactly; finite nonzero ones
    within 4 ulp: NumPy's SIMD ``pow`` on AVX-512 hosts is itself 1-2 ulp from the rounded
    result (3 ** 1.5 in float32), where on AVX2 hosts it rounds correctly."""
    special = ~np.isfinite(expected) | (expected == 0)
    np.testing.assert_array_equal(got[special], expected[special])
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
    assert np.all(mt.ulp_distance(got[~special], expected[~special]) <= 4), (got, expected)


@pytest.mark.parametrize("dtype, exponent", [
    (d, e) for d in ("float16", "float32", "float64", "complex64", "complex128", "int32")
    for e in (0.5, 2, -1, 3, 2.0) if not (d == "int32" and e == -1)])  # (NumPy raises for that one)
def test_power_operator_takes_numpys_fast_path(dtype, exponent):
    """``a ** 0.5``, ``a ** 2`` and ``a ** -1`` with a Python number are sqrt, square and
    reciprocal on float and complex arrays, as NumPy's ndarray computes them."""
    values = [-np.inf, -0.0, 0.0, np.inf, 4.0, 3.0, np.nan, -2.0, 0.1] if dtype != "int32" else [-3, 0, 2, 7]
    a = np.array(values, dtype)
    if dtype.startswith("complex"):
        a = a + np.array([1j, -0j, 0j, 2j, -1j, 0j, 0j, 4j, np.inf * 1j], dtype)
    with np.errstate(all="ignore"):
        expected = a ** exponent
        got = mlc.jit(lambda x: x ** exponent)(a)
    assert got.dtype == expected.dtype
    if dtype.startswith("complex"):  # special values exactly, the rest within rounding
        np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(dtype).eps)
    else:
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


def test_shift_past_width_follows_numpy():
    a = np.array([1, -8, 5, -1], "int8")
    b = np.array([8, 9, -1, 100], "int8")
    check_op("left_shift", [a, b], np.left_shift(a, b))
    check_op("right_shift", [a, b], np.right_shift(a, b))


def test_mixed_sign_64_bit_comparison_is_exact():
    a = np.array([-1, 2**62, -(2**63)], "int64")
    b = np.array([2**64 - 1, 2**62, 0], "uint64")
    for name in ("less", "less_equal", "equal", "not_equal", "greater", "greater_equal"):
        check_op(name, [a, b], BINARY[name](a, b))


# ------------------------------------------------------------------ errors

def test_binary_shape_mismatch_names_op_and_dims():
    with pytest.raises(ShapeError, match=r"add: shapes \(3, 4\), \(5,\) cannot be broadcast"):
        get_op("add").infer(TensorType((3, 4), "float32"), TensorType((5,), "float32"))


def test_wrong_number_of_inputs():
    with pytest.raises(ShapeError, match="takes 2 tensor input"):
        get_op("multiply").infer(TensorType((3,), "float32"))
    with pytest.raises(ShapeError, match="takes 1 tensor input"):
        get_op("exp").infer(TensorType((3,), "float32"), TensorType((3,), "float32"))


def test_bad_dtypes_are_dtype_errors():
    with pytest.raises(DTypeError, match="left_shift.*float32"):
        get_op("left_shift").infer(TensorType((3,), "float32"), TensorType((3,), "int32"))
    with pytest.raises(DTypeError, match="negative"):
        get_op("negative").infer(TensorType((3,), "bool"))
    with pytest.raises(DTypeError, match="astype"):
        get_op("astype").infer(TensorType((3,), "float32"), dtype="str")
    with pytest.raises(DTypeError, match="maximum.*complex"):
        get_op("maximum").infer(TensorType((3,), "float32"), TensorType((3,), "complex64"))


def test_clip_needs_a_bound_and_scalar_bounds():
    with pytest.raises(ShapeError, match="a_min, a_max"):
        get_op("clip").infer(TensorType((3,), "float32"))
    with pytest.raises(DTypeError, match="a_min"):
        get_op("clip").infer(TensorType((3,), "float32"), a_min="0", a_max=1)


@pytest.mark.parametrize("dtype", FLOATS)
def test_negative_flips_the_sign_of_zero(dtype):
    """IEEE negation: -(+0.0) is -0.0 and -(-0.0) is +0.0 (``0 - x`` would give +0.0 for both)."""
    x = np.array([0.0, -0.0, 1.5, -np.inf, np.nan], dtype)
    for target in ("reference", "llvm"):
        (got,) = run_op("negative", [x], target)
        # (a NaN's sign is left to the implementation)
        np.testing.assert_array_equal(np.signbit(got[:4]), np.signbit(np.negative(x[:4])))
        np.testing.assert_array_equal(got, np.negative(x))


@pytest.mark.parametrize("fn", [lambda a: a ** -1, lambda a: np.power(a, -2), lambda a: a ** np.array([1, -1, 2]),
                                lambda a: a ** np.int8(-1)])
def test_an_integer_power_with_a_negative_exponent_known_when_tracing_is_numpys_value_error(fn):
    x = np.array([0, 1, 2], np.int32)
    with pytest.raises(ValueError, match="Integers to negative integer powers are not allowed"):
        fn(x)
    with pytest.raises(ShapeError, match=r"integers to negative integer powers are not allowed, as in NumPy"):
        mlc.jit(fn)(x)


def test_an_integer_power_with_a_negative_python_int_is_refused_when_it_runs():
    f = mlc.jit(lambda a, n: a ** n)
    x = np.array([0, 1, 2], np.int32)
    np.testing.assert_array_equal(f(x, 3), x ** 3)
    with pytest.raises(ShapeError, match=r"the exponent is -3"):
        f(x, -3)
    with pytest.raises(ShapeError, match=r"the exponent is -1"):
        mlc.numpy.power(x, -1)
    with np.errstate(divide="ignore"):  # 1 / 0 is inf, in NumPy's reference as in mlc
        expected = np.float32(1) / x
    np.testing.assert_array_equal(f(x.astype(np.float32), -1), expected)


@pytest.mark.parametrize("target", ["llvm", "reference"])
@pytest.mark.parametrize("a, b, dtype", [
    (0.0, -104.0, "float32"),  # the result is 2**-104 / ln 2: 2**-104 must be exact
    (-1.4021300367540186, -0.6778613359950709, "float64"),  # the sum cancels to 0.005
    (-3.0, -3.0, "float32"),
])
def test_logaddexp2_is_numpys_where_one_power_of_two_is_tiny_or_the_sum_cancels(a, b, dtype, target):
    x, y = np.array([a], dtype), np.array([b], dtype)
    got = mlc.jit(lambda u, v: np.logaddexp2(u, v), target=target)(x, y)
    want = np.logaddexp2(x, y)
    assert np.abs(got - want) <= 2 * np.spacing(np.abs(want)), (got, want)


@pytest.mark.parametrize("name, arity", [("exp2", 1), ("fmax", 2), ("fmin", 2), ("float_power", 2)])
def test_complex_operands_of_the_real_only_ufuncs_are_refused(name, arity):
    with pytest.raises(DTypeError, match=f"{name}: complex operands are not supported"):
        get_op(name).infer(*[TensorType((3,), "complex64")] * arity)
    with pytest.raises(DTypeError, match=name):
        mlc.jit(lambda z: getattr(np, name)(*[z] * arity))(np.ones(3, "complex64"))


def test_cbrt_refuses_complex_operands_as_numpy_does():
    with pytest.raises(DTypeError, match="cbrt: not defined for inputs of dtype complex64"):
        get_op("cbrt").infer(TensorType((3,), "complex64"))
    with pytest.raises(DTypeError, match="cbrt"):
        mlc.jit(lambda z: np.cbrt(z))(np.ones(3, "complex64"))


def _same_bits(actual, expected):
    """Equal values, NaN where NaN, and equal signs (zeros included; a NaN's sign is not
    a value: x86 gives inf - inf a negative one, NumPy's spacing a positive one)."""
    nan = np.isnan(actual) & np.isnan(expected)
    return bool(np.all(nan | ((actual == expected) & (np.signbit(actual) == np.signbit(expected)))))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("exponents", ["int64", "int32"])
def test_ldexp_is_numpys_exactly_for_every_exponent(dtype, exponents):
    # every exponent that moves x between zero, the subnormals, the normals and inf, and far
    # beyond (clamped): x * 2**n rounded once, where stepping by powers of two could round twice
    fi = np.finfo(dtype)
    x = np.concatenate([np.array([1.5, -3.0, fi.tiny, -fi.tiny * 0.75, fi.smallest_subnormal,
                                  3 * fi.smallest_subnormal, fi.max, 0.0, -0.0, np.inf, -np.inf, np.nan,
                                  1.2345, 1 + fi.eps, 2 - fi.eps], dtype),
                        np.random.default_rng(0).standard_normal(24).astype(dtype)])
    limit = 2200 if exponents == "int64" else 400
    n = np.concatenate([np.arange(-limit, limit + 1), [np.iinfo(exponents).min, np.iinfo(exponents).max]])
    xs, ns = np.meshgrid(x, n.astype(exponents))
    expected = numpy_call(np.ldexp, xs, ns)
    for target in TARGETS:
        (actual,) = run_op("ldexp", [xs, ns], target)
        assert actual.dtype == expected.dtype and _same_bits(actual, expected), target


def test_spacing_and_fmod_at_their_edges():
    f = np.finfo("float32")
    x = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.0, f.max, -f.max, f.smallest_subnormal, np.inf, -np.inf,
                  np.nan, 3.5e-39], "float32")
    ints = np.array([7, -7, 7, -7, np.iinfo("int32").min, np.iinfo("int32").min, 5, 0], "int32")
    divisors = np.array([2, 2, -2, -2, -1, 7, 0, 0], "int32")
    floats = np.array([5.5, -5.5, 1e30, 0.0, np.inf, 3.0, -0.0, 1.0], "float32")
    float_divisors = np.array([2.0, 2.0, 3.0, 0.0, 2.0, np.inf, 1.0, -np.nan], "float32")
    for target in TARGETS:
        assert _same_bits(run_op("spacing", [x], target)[0], numpy_call(np.spacing, x)), target
        assert np.array_equal(run_op("fmod", [ints, divisors], target)[0], numpy_call(np.fmod, ints, divisors))
        assert _same_bits(run_op("fmod", [floats, float_divisors], target)[0],
                          numpy_call(np.fmod, floats, float_divisors)), target
