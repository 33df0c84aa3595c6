"""Ops on complex64 and complex128 arrays against NumPy, on every target: arithmetic (Smith's
division), abs, exp, log, sqrt, sinh, cosh, tanh with their special values (C99 Annex G: signed
zeros, infinities, NaNs), expm1, log1p, log2, log10, reciprocal and sign as NumPy computes them,
the trigonometric functions and their inverses (libm's, as NumPy's), conjugate/real/imag, ==/!=,
casts, promotion with real dtypes, sum, prod, mean, matmul, power (NumPy's loop: exact special
cases, multiplication for small integral exponents, exp(w log z) with C's product otherwise); and
the ops complex numbers do not have (ordering, floor division) refuse them with a DTypeError when
inferred."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import mlc.testing as mt
from mlc import DTypeError
from mlc.ops import TensorType, get_op
from mlc.target import Target

from ._harness import TARGETS, arrays, assert_close, broadcast_pair, check_op, numpy_call, run_op, shapes

COMPLEX = mt.COMPLEX

BINARY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
          "equal": np.equal, "not_equal": np.not_equal}
UNARY = {"negative": np.negative, "absolute": np.absolute, "exp": np.exp, "log": np.log,
         "sqrt": np.sqrt, "square": np.square, "conjugate": np.conjugate, "real": np.real,
         "imag": np.imag, "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
         "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "expm1": np.expm1, "log1p": np.log1p,
         "sign": np.sign, "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin,
         "arccos": np.arccos, "arctan": np.arctan, "arcsinh": np.arcsinh, "arccosh": np.arccosh,
         "arctanh": np.arctanh, "log2": np.log2, "log10": np.log10, "reciprocal": np.reciprocal,
         "rint": np.rint}
#: The ops whose results round differently in NumPy's SIMD loops and libm: compared to a few
#: ulps of the modulus (the others are compared exactly: NaNs, infinities and signed zeros too).
ROUNDING = {"absolute", "exp", "log", "sqrt", "sinh", "cosh", "tanh", "expm1", "log1p", "sign", "sin", "cos",
            "tan", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "log2", "log10", "reciprocal"}

#: Every pair of these parts: the special values the Array API specifies for complex arguments.
SPECIAL_PARTS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -3.0, math.pi / 2, 1e30, -1e-30, math.inf, -math.inf, -math.nan,
                 math.nan]


def special_values(dtype):
    return np.array([complex(a, b) for a, b in itertools.product(SPECIAL_PARTS, repeat=2)], dtype)


def expect(fn, *arrays):
    return numpy_call(fn, *arrays)


def rounding_rtol(dtype):
    """A few ulps of the parts' dtype (relative to the modulus of NumPy's result)."""
    return 8 * float(np.finfo(np.dtype(dtype)).eps)


def check(name, arrays, rounding, targets=TARGETS):
    want = expect(BINARY.get(name) or UNARY[name], *arrays)
    check_op(name, arrays, want, rtol=rounding_rtol(arrays[0].dtype) if rounding else 0.0, targets=targets)


def _exactly(got, want):
    """Equal, NaN where NumPy has NaN, and zeros with NumPy's signs."""
    got, want = np.asarray(got), np.asarray(want)
    for part in (np.real, np.imag):
        g, w = part(got), part(want)
        same = (g == w) & (np.signbit(g) == np.signbit(w)) | np.isnan(g) & np.isnan(w)
        assert same.all(), f"got {got[~same][:6]}, want {want[~same][:6]}"


#: The shapes test_unary_ops_match_numpy checks each op on: a 0-d kernel (no loop), one element
#: (a vector of one valid lane), and two rows of five (a whole vector and a ragged end in each
#: row, for either complex dtype). An elementwise kernel's loop is the same for every op, so these
#: three builds take the drawn values instead of a new shape (a new build) per example; the loops
#: over drawn and broadcast shapes of complex kernels are
#: test_binary_ops_match_numpy_with_broadcasting's.
UNARY_SHAPES = ((), (1,), (2, 5))

#: The shape whose kernel runs on every target. The other two shapes are about the vector code
#: LLVM makes of a loop of one lane or of none, and run on llvm only: the reference interpreter
#: and the GPU emulator evaluate the same element computation (the op's TIR, the same for every
#: shape) at every shape, and their 0-d and one-element kernels (no loop; one thread) are no
#: op's own (test_binary_ops_match_numpy_with_broadcasting draws complex shapes from 0-d up, on
#: every target), so there the op runs on the two rows only.
EVERY_TARGET_SHAPE = (2, 5)

#: The targets of the other shapes: those making vector code of the loop.
VECTOR_CODE_TARGETS = tuple(t for t in TARGETS if Target.from_str(t).kind == "llvm")


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", sorted(UNARY))
# every example of one (name, dtype, shape) runs the same kernel on each target: 4 per shape
# draw 12 arrays of values per op and dtype (there were 8, each of a drawn shape and its builds)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_unary_ops_match_numpy(name, dtype, shape, data):
    x = data.draw(arrays(dtype, shape), label="x")
    targets = TARGETS if shape == EVERY_TARGET_SHAPE else VECTOR_CODE_TARGETS
    check(name, [x], name in ROUNDING, targets)


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_binary_ops_match_numpy_with_broadcasting(name, dtype, data):
    sa, sb = data.draw(broadcast_pair(max_dims=2))
    a, b = data.draw(arrays(dtype, sa), label="a"), data.draw(arrays(dtype, sb), label="b")
    assume(_numpy_agrees_with_itself(BINARY[name], a, b))
    assume(name != "divide" or not (_reciprocal_overflows(b) or _reciprocal_is_subnormal(b)))
    check(name, [a, b], False)


def _reciprocal_overflows(b) -> bool:
    """Whether NumPy's complex division by some element of ``b`` multiplies by an infinite
    reciprocal (``1 / (c + d r)`` of a subnormal divisor): it leaves NaN where the quotient
    tends to a number, which mlc's scaled division gives (the test below)."""
    larger = np.maximum(np.abs(b.real), np.abs(b.imag))
    with np.errstate(divide="ignore", over="ignore"):
        return bool(np.any((larger > 0) & np.isinf(np.reciprocal(larger))))


def _reciprocal_is_subnormal(b) -> bool:
    """Whether NumPy's complex division by some element of ``b`` multiplies by a subnormal
    reciprocal (``1 / c`` of a divisor part past ``1 / tiny``): the reciprocal keeps fewer
    bits, and NumPy's quotient lands ulps from the true one, where mlc's division of the
    scaled operands rounds as a normal one does (the test below)."""
    larger = np.maximum(np.abs(b.real), np.abs(b.imag))
    with np.errstate(divide="ignore", over="ignore"):
        r = np.reciprocal(larger)
    return bool(np.any((r > 0) & (r < np.finfo(r.dtype).tiny)))


@pytest.mark.parametrize("dtype", COMPLEX)
def test_division_by_a_huge_divisor_is_as_close_as_a_normal_one(dtype):
    """a / b where NumPy's reciprocal of ``b`` is subnormal: NumPy's quotient is ulps off the
    true one; mlc's (its operands scaled by powers of two) is no farther, within two roundings."""
    huge = 3.3733381e38 if dtype == "complex64" else 1.5e308
    a, b = np.array([8.516787e7j], dtype), np.array([complex(0, huge)], dtype)
    assert _reciprocal_is_subnormal(b)
    true = float(Fraction(float(a.imag[0])) / Fraction(float(b.imag[0])))  # the exact quotient, rounded
    part = np.finfo(dtype).dtype.type
    ulp = float(np.spacing(part(true)))
    numpys = abs(float((a / b).real[0]) - true)
    for target in mt.default_targets():
        (got,) = run_op("divide", [a, b], target)
        error = abs(float(got.real[0]) - true)
        assert got.imag[0] == 0 and error <= min(2 * ulp, numpys), (target, got, true, numpys / ulp)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_division_by_a_subnormal_divisor_is_its_limit(dtype):
    """a / b where 1 / |b| overflows: the quotient's finite parts (0 / (tiny j) = 0, NumPy's
    NaN) and its infinite ones (1 / (tiny j) = -inf j, as NumPy's), by the scaled division."""
    tiny = float(np.finfo(dtype).smallest_subnormal)
    a = np.array([0, 1, 2j, 4 * tiny], dtype)
    b = np.array([complex(0, tiny), complex(0, tiny), complex(-tiny, 0), complex(0, 2 * tiny)], dtype)
    assert _reciprocal_overflows(b)
    want = np.array([0, complex(0, -math.inf), complex(0, -math.inf), complex(0, -2)], dtype)
    for target in mt.default_targets():
        (got,) = run_op("divide", [a, b], target)
        np.testing.assert_array_equal(got, want)


def _numpy_agrees_with_itself(fn, a, b) -> bool:
    """Whether NumPy gives the same on ``a`` and ``b`` as on their contiguous broadcast copies.
    Its vector loop (contiguous operands) fuses a complex product's multiply-adds, as mlc
    does; its loop for a broadcast stride rounds each product first. The two part at the
    overflow boundary: (2.4714691e16 - inf j)(1.3768425e22 - 1 j), whose a c is just past
    the largest float32, is -inf - inf j in the first and nan - inf j in the second. There
    is no one NumPy answer to match there."""
    copies = (np.ascontiguousarray(x) for x in np.broadcast_arrays(a, b))
    return np.array_equal(expect(fn, a, b), expect(fn, *copies), equal_nan=True)


def test_numpy_parts_on_a_complex_product_at_the_overflow_boundary():
    """The example above, pinned: NumPy's two loops differ, mlc gives the vector loop's."""
    a = np.array([[0x5AAF9BC3, 0xFF800000]], np.uint32).view(np.complex64)  # (1, 1)
    b = np.array([0x643A98D2, 0xBF800000], np.uint32).view(np.complex64)  # (1,)
    assert not _numpy_agrees_with_itself(np.multiply, a, b)
    vector_loop = expect(np.multiply, *(np.ascontiguousarray(x) for x in np.broadcast_arrays(a, b)))
    for target in mt.default_targets():
        _exactly(run_op("multiply", [a, b], target)[0], vector_loop)


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "equal", "not_equal"])
def test_binary_ops_on_every_pair_of_special_values(name, dtype):
    """Every pair of special values against every other: Smith's division's zero and NaN
    divisors, the fused products' infinities, == and != on NaN parts."""
    values = special_values(dtype)
    a, b = np.repeat(values, len(values)), np.tile(values, len(values))
    want = expect(BINARY[name], a, b)
    # infer and the op's reference against NumPy; then each target's lowering, run once on the
    # 38416 pairs (the reference interpreter's run is most of the time), against both
    check_op(name, [a, b], want, rtol=0.0, targets=())
    for target in TARGETS:
        (got,) = run_op(name, [a, b], target)
        assert_close(got, want, rtol=0.0, what=f"{name} on {target} vs NumPy")
        _exactly(got, want)  # and the signs of zero parts


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_on_special_values(name, dtype):
    """The special cases of the standard (exp(-inf + inf j) is +-0 +-0 j, log(-0 + 0 j) is
    -inf + pi j, sqrt(x + inf j) is +inf + inf j, ...), as NumPy gives them."""
    x = special_values(dtype)
    want = expect(UNARY[name], x)
    for target in mt.default_targets():
        (got,) = run_op(name, [x], target)
        if name not in ROUNDING:
            _exactly(got, want)
            continue
        scale = np.abs(want).astype("float64")
        pairs = [(got, want)] if want.dtype.kind != "c" else [(got.real, want.real), (got.imag, want.imag)]
        for g, w in pairs:
            special = ~np.isfinite(w) | (w == 0)
            _exactly(g[special], w[special])  # infinities, NaNs and zeros exactly, signs included
            error = np.abs(g[~special].astype("float64") - w[~special])
            # the modulus, or the part itself where the other part is infinite or NaN
            bound = np.where(np.isfinite(scale), scale, np.abs(w))[~special]
            assert (error <= rounding_rtol(dtype) * bound).all(), f"{name} on {target}"


@pytest.mark.parametrize("dtype", COMPLEX)
def test_division_follows_smiths_algorithm_where_the_textbook_formula_overflows(dtype):
    big = np.finfo(dtype).max / 4
    a = np.array([complex(big, big), complex(1, 1)], dtype)
    b = np.array([complex(big, big), complex(1e-30, 1e-30)], dtype)
    want = expect(np.divide, a, b)
    assert np.isfinite(want).all()
    check_op("divide", [a, b], want, rtol=0.0)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_log_and_sqrt_of_huge_and_tiny_parts_do_not_overflow(dtype):
    info = np.finfo(dtype)
    x = np.array([complex(info.max, info.max), complex(info.smallest_subnormal, info.smallest_subnormal),
                  complex(0, info.smallest_subnormal), complex(1, 1e-20), complex(0.6, 0.8)], dtype)
    for name, fn in (("log", np.log), ("sqrt", np.sqrt)):
        check_op(name, [x], expect(fn, x), rtol=rounding_rtol(dtype))


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("name", ["sinh", "cosh", "sin", "cos", "exp"])
def test_hyperbolics_past_where_cosh_overflows_keep_their_finite_parts(name, dtype):
    """Past |x| = 1023 ln 2 cosh x overflows, but cosh x sin y may not (sinh(710.6 + 0.1j) has a
    finite imaginary part): such parts stay finite, as NumPy's; the rest overflow as it does."""
    edge = math.log(np.finfo(dtype).max)
    re = [edge + d for d in (-0.5, 0.4, 0.6, 1.2)] + [-edge - 0.6, 3 * edge]
    im = [0.1, 0.01, -0.2, 1.5707963, 3.0]
    z = np.array([complex(a, b) for a in re for b in im], dtype)
    if name in ("sin", "cos"):
        z = z * np.asarray(1j, dtype)  # sin(j z) and cos(j z) are sinh and cosh turned
    want = expect(getattr(np, name), z)
    assert np.isfinite(want.imag).sum() > len(z) // 2
    for target in mt.default_targets():
        (got,) = run_op(name, [z], target)
        for g, w in ((got.real, want.real), (got.imag, want.imag)):
            _exactly(np.isfinite(g), np.isfinite(w))
            finite = np.isfinite(w)
            _exactly(g[~finite], w[~finite])
            error = np.abs(g[finite].astype("float64") - w[finite])
            assert (error <= rounding_rtol(dtype) * np.abs(w[finite])).all(), f"{name} on {target}"


@pytest.mark.parametrize("real", ["bool", "int8", "uint16", "int64", "float16", "float32", "float64"])
@pytest.mark.parametrize("dtype", COMPLEX)
def test_complex_promotes_with_real_dtypes_like_numpy(dtype, real):
    a = np.array([1 + 2j, -0.5 - 1j], dtype)
    b = np.array([1, 0], real)
    for name in ("add", "multiply", "divide"):
        check_op(name, [a, b], expect(BINARY[name], a, b), rtol=0.0)
        check_op(name, [b, a], expect(BINARY[name], b, a), rtol=0.0)


@pytest.mark.parametrize("src,dst", [(s, d) for s in ("bool", "int32", "uint64", "float16", "float32", "float64",
                                                      "complex64", "complex128")
                                     for d in ("complex64", "complex128")]
                         + [(s, d) for s in COMPLEX for d in ("bool", "float32", "float64", "int32")])
def test_astype_to_and_from_complex_as_numpy(src, dst):
    """Reals become the real part; complex to a real dtype keeps the real part (NumPy's
    ComplexWarning), to bool is ``!= 0`` on either part."""
    if src in COMPLEX:
        x = np.array([1.5 + 2j, -0.0 + 0j, 0 - 0.0j, 0 + 1j, np.nan + 0j, 3 - 7j], src)
    else:
        x = np.array([0, 1, 1, 0, 1, 1], src)
    check_op("astype", [x], numpy_call(lambda v: v.astype(dst), x), rtol=0.0, dtype=dst)


@pytest.mark.parametrize("dtype", COMPLEX)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_sum_prod_mean_and_matmul_of_complex(dtype, data):
    x = data.draw(arrays(dtype, shapes(min_dims=1, max_dims=2), special=False, bound=8.0), label="x")
    for name, fn in (("sum", np.sum), ("prod", np.prod), ("mean", np.mean)):
        check_op(name, [x], expect(fn, x), rtol=1e-4 if dtype == "complex64" else 1e-10, atol=1e-3)
    n = data.draw(st.integers(1, 5), label="n")
    a = data.draw(arrays(dtype, (3, n), special=False, bound=8.0), label="a")
    b = data.draw(arrays(dtype, (n, 2), special=False, bound=8.0), label="b")
    check_op("matmul", [a, b], expect(np.matmul, a, b), rtol=1e-4 if dtype == "complex64" else 1e-10,
             atol=1e-3)


@pytest.mark.parametrize("name", ["less", "greater_equal", "maximum", "minimum", "floor_divide",
                                  "remainder", "floor", "logaddexp", "logaddexp2", "arctan2"])
def test_ops_complex_numbers_do_not_have_are_dtype_errors(name):
    """Refused when the op is inferred (while tracing), not later when it is lowered."""
    op = get_op(name)
    with pytest.raises(DTypeError, match="complex"):
        op.infer(*[TensorType((2,), "complex64")] * getattr(np, name).nin)


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
def test_reductions_that_order_refuse_complex(name):
    with pytest.raises(DTypeError, match="not ordered"):
        get_op(name).infer(TensorType((2, 3), "complex128"), axis=1)


#: Exponents of each of power's paths: w == 0, integral reals (1, 2, 3 unrolled; |n| < 100 by
#: squaring, the reciprocal below 0; 100 by exp and log) and the others (exp(w * log(z))).
POWER_EXPONENTS = [0j, complex(-0.0, 0.0), 1, 2, 3, 5, -1, -2, -3, 7, -13, 99, -99, 100, 0.5, -2.5, 1j, 1 + 1j,
                   complex(math.nan, 0), complex(0, math.nan), complex(math.inf, 0), complex(-math.inf, 1)]


def _power_close(got, want, rtol):
    """Exactly where NumPy's parts are NaN, infinite or zero (signs included); elsewhere within
    ``rtol`` (a number or one per element) of the modulus, or of the part itself where the
    other part is infinite or NaN, plus the dtype's smallest normal number."""
    got, want = np.asarray(got), np.asarray(want)
    with np.errstate(all="ignore"):
        modulus = np.abs(want.astype("complex128"))
    rtol = np.broadcast_to(rtol, want.shape)
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        special = ~np.isfinite(w) | (w == 0)
        _exactly(g[special], w[special])
        scale = np.where(np.isfinite(modulus), modulus, np.abs(w))[~special]
        error = np.abs(g[~special].astype("float64") - w[~special])
        # below the normal range a part has fewer bits than rtol assumes (and a GPU's exp may
        # flush it): there it is compared to the smallest normal number
        bad = error > rtol[~special] * scale + float(np.finfo(w.dtype).tiny)
        assert not bad.any(), f"got {g[~special][bad][:4]}, want {w[~special][bad][:4]}"


def _power_rtol(z, w):
    """64 ulps, times the size of ``w * log(z)`` (exp's argument carries its rounding)."""
    with np.errstate(all="ignore"):
        size = np.abs(w.astype("complex128")) * (np.abs(np.log(np.abs(z.astype("complex128")))) + math.pi)
    return 64 * float(np.finfo(z.dtype).eps) * (1 + np.where(np.isfinite(size), size, 0))


@pytest.mark.parametrize("dtype", COMPLEX)
def test_power_on_special_values_as_numpy(dtype):
    """0 ** w (0 when w.real > 0, else NaN), z ** 0 (1, NaN bases too), integral exponents on
    infinities and NaNs (the unrolled products and the loop's from 1, unfused as NumPy's, so
    overflow lands as NumPy's does), and exp(w * log(z)) on infinite and NaN parts (C's product
    keeps an infinity where the textbook one gives NaN)."""
    z = np.repeat(special_values(dtype), len(POWER_EXPONENTS))
    w = np.tile(np.array(POWER_EXPONENTS, dtype), len(special_values(dtype)))
    want = expect(np.power, z, w)
    # where exp(w log z) overflows, the signs of its infinities are those of cos and sin of
    # w.real * arg(z): rounding decides them for z ** 100 in complex64
    keep = np.isfinite(want) | np.isin(w, [100]) & ~np.isfinite(z) | ~np.isin(w, [100]) | (dtype != "complex64")
    z, w, want = z[keep], w[keep], want[keep]
    for target in mt.default_targets():
        (got,) = run_op("power", [z, w], target)
        _power_close(got, want, _power_rtol(z, w))


@pytest.mark.parametrize("dtype", COMPLEX)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_power_matches_numpy(dtype, data):
    """Random bases against small integral, real and complex exponents, broadcast (one pair of
    shapes: a compile per target, the squaring's stages make it a slow one)."""
    sa, sb = (3, 4), (4,)
    z = data.draw(arrays(dtype, sa, special=False, bound=4.0), label="z")
    kind = data.draw(st.sampled_from(["integral", "real", "complex"]), label="kind")
    if kind == "integral":
        w = data.draw(arrays("int8", sb, bound=12.0), label="n").astype(dtype)
    else:
        w = data.draw(arrays(dtype, sb, special=False, bound=4.0), label="w")
        w = w.real.astype(dtype) if kind == "real" else w
    want = expect(np.power, z, w)
    zb, wb = np.broadcast_arrays(z, w)
    # a negative integral power of a tiny base whose reciprocal overflows: NumPy's division
    # multiplies by 1 / |z| = inf and leaves NaN in the part that tends to 0, which mlc's
    # scaled division keeps (1 / 1e-45j: NumPy's nan - inf j, mlc's 0 - inf j)
    overflowed = np.isnan(want.real) & np.isinf(want.imag) | np.isinf(want.real) & np.isnan(want.imag)
    for target in mt.default_targets():
        (got,) = run_op("power", [z, w], target)
        _power_close(got[~overflowed], want[~overflowed], _power_rtol(zb, wb)[~overflowed])
        for g, want_part in ((got.real, want.real), (got.imag, want.imag)):
            inf = overflowed & np.isinf(want_part)
            np.testing.assert_array_equal(g[inf], want_part[inf])  # the overflowing part as NumPy's
            nan = overflowed & np.isnan(want_part)
            assert (np.isnan(g[nan]) | (np.abs(g[nan]) <= 1)).all(), f"{target}: {got[nan]}"


@pytest.mark.parametrize("dtype", COMPLEX)
def test_a_negative_power_of_a_tiny_base_overflows_to_the_limit(dtype):
    """z ** -1 where 1 / |z| overflows: the infinite part as NumPy's; the other part, which
    NumPy's division leaves NaN (0 times inf), is its limit 0 (Baudin and Smith's scaling)."""
    tiny = float(np.finfo(dtype).smallest_subnormal)
    z = np.array([complex(0, tiny), complex(-tiny, 0), complex(0, 4 * tiny)], dtype)
    w = np.array([-1, -1, 1], dtype)
    want = np.array([complex(0, -math.inf), complex(-math.inf, -0.0), complex(0, 4 * tiny)], dtype)
    for target in mt.default_targets():
        (got,) = run_op("power", [z, w], target)
        _exactly(got, want)


@pytest.mark.parametrize("pair", [("complex64", "float64"), ("float32", "complex64"), ("int16", "complex128")])
def test_power_promotes_real_and_complex_like_numpy(pair):
    a = np.array([1.5 + 0j, -2, 0.25, 3], pair[0]) if pair[0] in COMPLEX else np.array([1, 2, 0, 3], pair[0])
    b = np.array([2 - 1j, 0.5, 3, -1], pair[1]) if pair[1] in COMPLEX else np.array([2, 0.5, 3, 1], pair[1])
    want = expect(np.power, a, b)
    for target in mt.default_targets():
        (got,) = run_op("power", [a, b], target)
        assert got.dtype == want.dtype
        _power_close(got, want, _power_rtol(*np.broadcast_arrays(a.astype(want.dtype), b.astype(want.dtype))))


def test_exp_of_a_real_part_past_overflow_keeps_a_part_that_does_not_overflow():
    """exp(710 + 1j): exp(710) overflows, exp(710) cos(1) does not (NumPy's 1.2e308 + inf j)."""
    x = np.array([710 + 1j, 709.9 - 2j, 1000 + 0j, 750 + 3.1j, -800 + 1j], "complex128")
    want = expect(np.exp, x)
    for target in mt.default_targets():
        (got,) = run_op("exp", [x], target)
        _power_close(got, want, rounding_rtol("complex128"))


@pytest.mark.parametrize("dtype", COMPLEX)
def test_power_by_a_constant_exponent_computes_only_its_case(dtype):
    """``z ** n`` for a Python number ``n`` (``np.power(z, 1.0 - k)`` in a loop): the kernel
    computes the case ``n`` selects, not every case and a select (a kernel of 60k operations
    after complex lowering, minutes of LLVM), with NumPy's values on every special base."""
    import mlc

    z = special_values(dtype)
    for n in (0.0, 1.0, 2.0, 3.0, -1.0, -3.0, 6.0, -13.0, 99.0):
        f = mlc.jit(lambda z, n=n: np.power(z, n))
        kernels = [fn.script() for name, fn in f.lower(z).mod.items() if name != "main"]
        assert sum(len(text) for text in kernels) < 6000, n
        assert not any("T_power_log" in text for text in kernels)
        want = expect(lambda z: np.power(z, n), z)
        _power_close(f(z), want, _power_rtol(z, np.full_like(z, n)))
