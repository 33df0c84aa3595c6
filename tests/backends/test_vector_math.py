"""Accuracy of the math routines (mlc/passes/tir/math, written out as TIR).

The documented max-ulp bounds are asserted over the whole float32 range
(every 1021st bit pattern: 4.2 million values of both signs, all exponents,
subnormals included) plus special values, over float64 values spread over
the exponent range, and over every float16. Errors are measured against
NumPy in float64 (SciPy's erf) for float32 and float16, and for float64 against NumPy's
functions of long double where its significand is wider (x86's 64 bits: the exact value to
within 2^-11 ulp; libm's erf), in ulps of the result's format. (NumPy's own float64
functions differ by host: on an AVX2 host they are glibc's, whose cbrt is 3 ulps off and
log10 1.5, so an oracle in float64 would measure libm as much as mlc.)
The sweeps run the host's code and, on a machine with 512-bit vectors, the AVX2 CPU's
as well (``each_runnable_target``): each vector width's code is tested on either kind
of host.
"""
import functools
import math
import re
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

import mlc
from mlc import te
from mlc.ir.ops import MATH_CALLS

from tests.targets import each_runnable_target

OPS = ["exp", "expm1", "log", "log1p", "tanh", "sigmoid", "erf",
       "log2", "log10", "sinh", "cosh", "asinh", "acosh", "atanh", "sin", "cos", "tan",
       "atan", "asin", "acos", "cbrt"]

#: The bounds stated in the docstrings of mlc.passes.tir.math (written once as TIR).
MAX_ULPS = {
    "float32": {"exp": 1, "expm1": 1.5, "log": 1, "log1p": 1.5, "tanh": 2.5, "sigmoid": 2.5, "erf": 1.5,
                "log2": 1, "log10": 1, "sinh": 2, "cosh": 1.5, "asinh": 2, "acosh": 2, "atanh": 2,
                "sin": 0.51, "cos": 0.51, "tan": 0.51, "atan": 0.51, "asin": 0.51, "acos": 0.51,
                "cbrt": 0.51},
    # (float64: ulps of the exact value, erf's of libm's)
    "float64": {"exp": 1, "expm1": 2, "log": 1, "log1p": 1.5, "tanh": 1.5, "sigmoid": 2.5, "erf": 1,
                "log2": 1, "log10": 1, "sinh": 2.5, "cosh": 1.5, "asinh": 2, "acosh": 2, "atanh": 2,
                "sin": 1, "cos": 1, "tan": 1, "atan": 2.5, "asin": 2.5, "acos": 2.5, "cbrt": 1},
    "float16": {op: 0.51 for op in OPS},
}

SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0]


_MATH_ERF = np.frompyfunc(math.erf, 1, 1)


#: The float64 oracle's type: long double where its significand is wider than double's.
WIDE = np.longdouble if np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant else np.float64


def reference(op, x):
    """``op`` in float64 (the oracle); of float64 ``x``, in :data:`WIDE`. For float64 erf it
    is libm's (``math.erf``, within 1 ulp): SciPy's erf is itself up to 3 ulps off in float64."""
    wide = x.dtype == np.float64
    with np.errstate(all="ignore"):  # (a signalling NaN's cast is "invalid")
        x = x.astype(WIDE if wide and op != "erf" else "float64")
    with np.errstate(all="ignore"):
        if op == "sigmoid":
            e = np.exp(-np.abs(x))  # exp(-x) where x >= 0, exp(x) where not
            return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        if op == "erf":
            return _MATH_ERF(x).astype("float64") if wide else special.erf(x)
        return getattr(np, op)(x)


def ulp_errors(got, want64, dtype):
    """|got - want| in ulps of ``want`` rounded to ``dtype`` (0 where both are NaN or equal);
    ``want64``: float64 or :data:`WIDE`, computed in its type."""
    wide = want64.dtype if want64.dtype == WIDE else np.dtype("float64")
    with np.errstate(all="ignore"):
        rounded = want64.astype(dtype)
        # (most results are the rounded value: only the others are measured in ``wide``)
        measured = np.flatnonzero(got != rounded)
        g, want, rounded = got[measured].astype(wide), want64[measured], rounded[measured]
        same = (np.isnan(g) & np.isnan(want)) | (g == rounded.astype(wide))
        spacing = np.spacing(np.abs(rounded)).astype(wide)
        out = np.zeros(got.shape, "float64")
        out[measured] = np.where(same, 0.0, np.abs(g - want) / spacing)
        return out


def build_ops(dtype, n, target="llvm"):
    funcs = {}
    for op in OPS:
        X = te.placeholder((n,), dtype, "X")
        fn = getattr(te, op)
        funcs[op] = te.create_prim_func([X, te.compute((n,), lambda i: fn(X[i]), "Y")])
    return mlc.build(mlc.IRModule(funcs), target)


#: The length of the kernels :func:`apply` runs every sweep through (whole vectors and a ragged
#: end): one build of the routines per dtype and target serves every sweep, whatever its length.
CHUNK = 65_539

_LIBS: dict = {}


def apply(op, x, target="llvm"):
    """``op`` of each element of the 1-d ``x``, by the kernels of :data:`CHUNK` elements, chunk
    by chunk. A shorter last chunk is repeated to the kernel's length (so its values also run
    in the kernel's ragged end), and every copy of a value must give the same result."""
    key = (x.dtype.name, repr(target))
    if key not in _LIBS:
        _LIBS[key] = build_ops(x.dtype.name, CHUNK, target)
    kernel = _LIBS[key][op]
    y = np.empty_like(x)
    out = np.empty(CHUNK, x.dtype)
    for start in range(0, x.size, CHUNK):
        part = x[start:start + CHUNK]
        kernel(np.resize(part, CHUNK), out)
        y[start:start + part.size] = out[:part.size]
        if part.size < CHUNK:
            copies, nan = np.resize(out[:part.size], CHUNK), np.isnan(out)
            np.testing.assert_array_equal(np.isnan(copies), nan, err_msg=f"{op} {x.dtype}: copies differ")
            np.testing.assert_array_equal(copies[~nan], out[~nan], err_msg=f"{op} {x.dtype}: copies differ")
    return y


def check(dtype, x, target="llvm"):
    for op in OPS:
        y = apply(op, x, target)
        err = ulp_errors(y, reference(op, x), dtype)
        worst = int(np.argmax(err))
        assert err[worst] <= MAX_ULPS[dtype][op], (
            f"{op} {dtype}: {err[worst]:.3f} ulp at x={x[worst]!r}: got {y[worst]!r}, "
            f"want {reference(op, x[worst:worst + 1])[0]!r}")


def float32_sweep():
    bits = np.arange(0, 2**32, 1021, dtype="uint64").astype("uint32")
    subnormal = np.random.default_rng(0).integers(1, 2**23, 20_000).astype("uint32")
    edges = np.array([1, 2**23 - 1, 2**23, 0x7F7FFFFF], "uint32")  # subnormal ends, min/max normal
    x = np.concatenate([bits.view("float32"), subnormal.view("float32"), edges.view("float32")])
    return np.concatenate([x, -x, np.array(SPECIALS, "float32")])


@each_runnable_target
def test_float32_over_the_whole_range(target):
    check("float32", float32_sweep(), target)


@each_runnable_target
def test_float64_over_the_exponent_range(target):
    rng = np.random.default_rng(1)
    n = 400_000
    x = rng.uniform(1, 2, n) * np.exp2(rng.integers(-1074, 1024, n).astype("float64"))
    near = rng.standard_normal(n) * np.exp2(rng.integers(-12, 10, n).astype("float64"))
    x = np.concatenate([x, -x, near, rng.uniform(-800, 800, 100_000), np.array(SPECIALS)])
    check("float64", x, target)


@each_runnable_target
def test_float32_logarithms_near_one(target):
    """Every 8th float32 in [1/2, 2): where a logarithm's ``k ln 2`` (``k``, ``k log10 2``)
    and the logarithm of the reduced argument nearly cancel, its errors are largest (the
    whole-range sweep's every 1021st pattern can miss a bound exceeded there)."""
    bits = np.arange(np.float32(0.5).view("uint32"), np.float32(2.0).view("uint32"), 8, dtype="uint32")
    x = bits.view("float32")
    for op in ("log", "log2", "log10", "log1p"):
        y = apply(op, x, target)
        err = ulp_errors(y, reference(op, x), "float32")
        assert err.max() <= MAX_ULPS["float32"][op], (op, x[int(np.argmax(err))], err.max())


@each_runnable_target
def test_every_float16(target):
    check("float16", np.arange(2**16, dtype="uint16").view("float16").copy(), target)


@each_runnable_target
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_special_values_like_numpy(dtype, target):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e30, -1e30, 1e-40, 800.0, -800.0], dtype)
    for op in OPS:
        y = apply(op, x, target)
        with np.errstate(all="ignore"):
            want = reference(op, x).astype(dtype)
        zeros = want[3:5] == 0  # (acosh(+-0) is nan, whose sign means nothing)
        np.testing.assert_array_equal(np.signbit(y[3:5][zeros]), np.signbit(want[3:5][zeros]), err_msg=op)
        finite = np.isfinite(want)
        np.testing.assert_array_equal(y[~finite], want[~finite], err_msg=f"{op} {dtype}")
        np.testing.assert_allclose(y[finite], want[finite], rtol=1e-6, atol=1e-44,
                                   err_msg=f"{op} {dtype}")


#: pi to 110 significant digits.
PI = Decimal("3.1415926535897932384626433832795028841971693993751058209749445923078164062862"
             "089986280348253421170679821480865")


def near_half_pi_multiples(seed: int, below: int, small: int, large: int):
    """The float32 values closest to ``small`` multiples of pi/2 from 1 to ``below`` of
    them and ``large`` ones up to 2^120 (the finite ones), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    counts = [int(c) for c in rng.integers(1, below, small)] + [int(rng.integers(1, 2**62)) << int(e)
                                                               for e in rng.integers(0, 60, large)]
    with localcontext() as ctx:
        ctx.prec = 150
        x = np.array([float(n * PI / 2) for n in counts], "float64").astype("float32")
    return x[np.isfinite(x)]


@each_runnable_target
def test_float32_trig_near_multiples_of_half_pi(target):
    """The float32 arguments closest to multiples of pi/2, from 1 to 2^120 of them: where
    the reduction cancels most (sin, cos and tan take their argument mod pi/2 exactly)."""
    x = near_half_pi_multiples(seed=2, below=2**20, small=300, large=700)
    for op in ("sin", "cos", "tan"):
        y = apply(op, x, target)
        err = ulp_errors(y, reference(op, x), "float32")
        assert err.max() <= MAX_ULPS["float32"][op], (op, x[int(np.argmax(err))])


def build_pow(dtype, n, target="llvm", fast_math=False):
    X, Y = te.placeholder((n,), dtype, "X"), te.placeholder((n,), dtype, "Y")
    return mlc.build(te.create_prim_func([X, Y, te.compute((n,), lambda i: te.pow(X[i], Y[i]), "Z")]), target,
                     fast_math=fast_math)


@each_runnable_target
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_pow_over_the_exponent_range(dtype, target):
    """float32 pow (float16 widened to it) within half an ulp of float64 pow (plus the
    double rounding): |x| over every exponent, y up to where the result overflows, a
    fifth of them integers, a third of the x negative."""
    rng = np.random.default_rng(5)
    n = 1_000_000
    info = np.finfo(dtype)
    x = np.exp2(rng.uniform(np.log2(float(info.tiny)) - (10 if dtype == "float32" else 0), np.log2(float(info.max)), n))
    y = rng.uniform(-1, 1, n) * np.log(float(info.max)) * 1.05 / np.maximum(np.abs(np.log(x)), 1e-3)
    y = np.where(rng.random(n) < 0.2, np.round(y), y)
    x = np.where(rng.random(n) < 0.3, -x, x).astype(dtype)
    y = y.astype(dtype)
    z = np.empty_like(x)
    build_pow(dtype, n, target)["main"](x, y, z)
    with np.errstate(all="ignore"):
        want = np.power(x.astype("float64"), y.astype("float64"))
    err = ulp_errors(z, want, dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= 0.51, (x[worst], y[worst], z[worst], want[worst])


@each_runnable_target
def test_float64_pow_over_the_exponent_range(target):
    """float64 pow within 1 ulp of NumPy's (libm's or its SIMD pow, within 0.71 of the exact
    value): |x| over every exponent, y up to where the result overflows or underflows, a
    fifth of them integers, a third of the x negative."""
    rng = np.random.default_rng(7)
    n = 1_000_000
    x = np.exp2(rng.uniform(-1074, 1024, n))
    y = rng.uniform(-1, 1, n) * 745 / np.maximum(np.abs(np.log(x)), 1e-3)
    y = np.where(rng.random(n) < 0.2, np.round(y), y)
    x = np.where(rng.random(n) < 0.3, -x, x)
    z = np.empty_like(x)
    build_pow("float64", n, target)["main"](x, y, z)
    with np.errstate(all="ignore"):
        want = np.power(x, y)
    err = ulp_errors(z, want, "float64")
    worst = int(np.argmax(err))
    assert err[worst] <= 1, (x[worst], y[worst], z[worst], want[worst])


@each_runnable_target
def test_float64_pow_is_within_its_bound_of_the_exact_value(target):
    """Against Decimal's power (correctly rounded at 50 digits): within 0.62 ulp (the power
    module measured 0.61 over 8 million pairs, |y log x| up to the overflow), for x near 1
    with large y, x over the exponent range, and results near the ends of the range;
    integer powers a double holds exactly come out exact."""
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.uniform(0.01, 10, 600), 1 + rng.uniform(-0.01, 0.01, 300),
                        np.exp2(rng.uniform(-1000, 1000, 300)), rng.uniform(0.5, 2, 600)])
    y = np.concatenate([rng.uniform(-20, 20, 600), rng.uniform(-5e4, 5e4, 300), rng.uniform(-1, 1, 300),
                        rng.uniform(-1000, 1000, 600)])
    z = np.empty_like(x)
    build_pow("float64", x.size, target)["main"](x, y, z)
    with localcontext() as ctx:
        ctx.prec = 50
        for a, b, got in zip(x, y, z):
            want = Decimal(float(a)) ** Decimal(float(b))
            if not (Decimal("2.3e-308") < want < Decimal("1.7e308")):
                continue  # (subnormal, overflowing: the special-value tests)
            ulp = Decimal(float(np.spacing(float(want))))
            assert abs(Decimal(float(got)) - want) / ulp <= Decimal("0.62"), (a, b, got, want)
    base, exponent = (a.ravel() for a in np.meshgrid(np.arange(1, 60.0), np.arange(0, 12.0)))
    exact = base ** exponent < 2.0 ** 53
    z = np.empty_like(base)
    build_pow("float64", base.size, target)["main"](base, exponent, z)
    assert all(int(c) == int(a) ** int(b) for a, b, c in zip(base[exact], exponent[exact], z[exact]))


_POW_DOUBLES = st.one_of(st.floats(-1e3, 1e3), st.floats(), st.integers(-60, 60).map(float),
                         st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 5e-324, 1.7e308, 1 + 2 ** -52]))


#: The length of the one float64 pow kernel the drawn pairs run through: whole vectors (of 4 or
#: 8 lanes) and a ragged end of 3.
POW_PAIRS = 43


@functools.cache
def _pow_pairs_kernel():
    return build_pow("float64", POW_PAIRS)["main"]


@settings(max_examples=40, deadline=None)
@given(pairs=st.lists(st.tuples(_POW_DOUBLES, _POW_DOUBLES), min_size=1, max_size=40))
def test_float64_pow_of_any_pairs_is_within_an_ulp_of_numpy(pairs):
    """Any doubles (NaN and infinities too), any count: within 1 ulp of NumPy's pow (an
    ulp either side of the overflow and the underflow included), and where an operand is
    a zero, an infinity or NaN, C99's value exactly, sign included. The pairs, repeated to
    :data:`POW_PAIRS`, run through one kernel (a build per count of pairs drawn made each
    example a compile), in whole vectors and in its ragged end."""
    x, y = (np.resize(np.array(v, "float64"), POW_PAIRS) for v in zip(*pairs))
    z = np.empty_like(x)
    _pow_pairs_kernel()(x, y, z)
    with np.errstate(all="ignore"):
        want = np.power(x, y)
        near = np.where(np.isinf(want), np.copysign(np.finfo("float64").max, want), want)
    err = np.fmin(ulp_errors(z, want, "float64"), ulp_errors(z, near, "float64"))
    assert err.max() <= 1, list(zip(x, y, z, want))
    exact = (x == 0) | (y == 0) | ~np.isfinite(x) | ~np.isfinite(y)
    np.testing.assert_array_equal(z[exact], want[exact])
    signed = exact & ~np.isnan(want)  # (a NaN's sign is unspecified: NumPy's pow(-nan, 1) is +nan here)
    np.testing.assert_array_equal(np.signbit(z[signed]), np.signbit(want[signed]))


@each_runnable_target
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_pow_special_values_like_numpy(dtype, target):
    """Every pair of zeros, ones, halves, twos, threes of both signs, infinities, NaN,
    tiny and huge numbers: NumPy's (C99's) result, signed zeros and infinities included."""
    big = float(np.finfo(dtype).max) / 2
    values = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, np.inf, -np.inf, np.nan,
                       1 / big, big, -big], dtype)
    x, y = (a.ravel().copy() for a in np.meshgrid(values, values))
    z = np.empty_like(x)
    build_pow(dtype, x.size, target)["main"](x, y, z)
    with np.errstate(all="ignore"):
        want = np.power(x.astype("float64"), y.astype("float64")).astype(dtype)
    same = (z == want) & (np.signbit(z) == np.signbit(want)) | (np.isnan(z) & np.isnan(want))
    assert same.all(), [(a, b, c, d) for a, b, c, d in zip(x[~same], y[~same], z[~same], want[~same])]


def build_atan2(dtype, n, target="llvm", fast_math=False):
    Y, X = te.placeholder((n,), dtype, "Y"), te.placeholder((n,), dtype, "X")
    return mlc.build(te.create_prim_func([Y, X, te.compute((n,), lambda i: te.atan2(Y[i], X[i]), "Z")]),
                     target, fast_math=fast_math)


@each_runnable_target
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_atan2_in_every_direction(dtype, target):
    """float32 atan2 (float16 widened to it) within half an ulp of float64 atan2, float64
    atan2 within 2 ulps of libm's, for points at every angle and over the exponent range
    of both coordinates."""
    rng = np.random.default_rng(6)
    n = 1_000_000
    info = np.finfo(dtype)
    lo, hi = np.log2(float(info.tiny)), np.log2(float(info.max))
    y = np.exp2(rng.uniform(lo, hi, n)) * rng.choice([-1, 1], n)
    with np.errstate(over="ignore"):  # (x past the format's range: infinities, also wanted)
        x = np.where(rng.random(n) < 0.5, y * np.tan(rng.uniform(-3.2, 3.2, n)), np.exp2(rng.uniform(lo, hi, n)))
        x = (x * rng.choice([-1, 1], n)).astype(dtype)
    y = y.astype(dtype)
    z = np.empty_like(x)
    build_atan2(dtype, n, target)["main"](y, x, z)
    err = ulp_errors(z, np.arctan2(y.astype("float64"), x.astype("float64")), dtype)
    worst = int(np.argmax(err))
    assert err[worst] <= (2 if dtype == "float64" else 0.51), (y[worst], x[worst], z[worst])


@each_runnable_target
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_atan2_special_values_like_numpy(dtype, target):
    """Every pair of signed zeros, ones, threes, infinities and NaN: C99's angles, signs
    included, exactly NumPy's where a coordinate is zero, infinite or NaN or the two are
    equal in size; the other pairs (3, -1) within the sweep's bound of the exact angle
    (libm's own float64 atan2 rounds differently on different hosts)."""
    values = np.array([0.0, -0.0, 1.0, -1.0, 3.0, -3.0, np.inf, -np.inf, np.nan], dtype)
    y, x = (a.ravel().copy() for a in np.meshgrid(values, values))
    z = np.empty_like(x)
    build_atan2(dtype, x.size, target)["main"](y, x, z)
    wide = np.arctan2(y.astype(WIDE), x.astype(WIDE))
    want = wide.astype(dtype)
    same = (z == want) & (np.signbit(z) == np.signbit(want)) | (np.isnan(z) & np.isnan(want))
    with np.errstate(invalid="ignore"):
        special = (y == 0) | (x == 0) | ~np.isfinite(y) | ~np.isfinite(x) | (np.abs(y) == np.abs(x))
    assert same[special].all(), [(a, b, c, d) for a, b, c, d in
                                 zip(y[~same & special], x[~same & special], z[~same & special], want[~same & special])]
    err = ulp_errors(z[~special], wide[~special], dtype)
    assert (err <= (2 if dtype == "float64" else 0.51)).all() and (np.sign(z) == np.sign(want))[~special].all()
    assert (~special).sum() == 8  # (y = +-1 with x = +-3, and y = +-3 with x = +-1)


def build_hypot(dtype, n, target="llvm"):
    X, Y = te.placeholder((n,), dtype, "X"), te.placeholder((n,), dtype, "Y")
    return mlc.build(te.create_prim_func([X, Y, te.compute((n,), lambda i: te.hypot(X[i], Y[i]), "Z")]), target)


@each_runnable_target
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_hypot_over_the_exponent_range(dtype, target):
    """hypot within 0.51 ulp of the exact value (float64: of long double's hypot; float32 and
    float16: of double's), and within an ulp where a float64 result is subnormal, for pairs
    over the whole exponent range (subnormals, overflowing sums) and pairs of close size
    (where the squares' rounding errors matter most)."""
    rng = np.random.default_rng(9)
    n = 1_000_000
    info = np.finfo(dtype)
    lo, hi = np.log2(float(info.smallest_subnormal)), np.log2(float(info.max))
    x = np.exp2(rng.uniform(lo, hi, n)) * rng.choice([-1, 1], n)
    with np.errstate(over="ignore"):
        near = x * np.exp2(rng.uniform(-30, 0.5, n)) * rng.choice([-1, 1], n)
        y = np.where(rng.random(n) < 0.5, near, np.exp2(rng.uniform(lo, hi, n))).astype(dtype)
        x = x.astype(dtype)
    z = np.empty_like(x)
    build_hypot(dtype, n, target)["main"](x, y, z)
    wide = WIDE if dtype == "float64" else np.float64
    want = np.hypot(x.astype(wide), y.astype(wide))
    err = ulp_errors(z, want, dtype)
    bound = np.where(np.abs(want) < float(info.tiny), 1.0, 0.51) if dtype == "float64" else 0.51
    worst = int(np.argmax(err - bound))
    assert (err <= bound).all(), (x[worst], y[worst], z[worst], err[worst])


@each_runnable_target
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_hypot_special_values_like_numpy(dtype, target):
    """Every pair of signed zeros, ones, infinities, NaN, the largest and the smallest numbers:
    NumPy's hypot exactly (inf beside a NaN; overflow to inf only where the result does)."""
    info = np.finfo(dtype)
    values = np.array([0.0, -0.0, 1.0, -3.0, np.inf, -np.inf, np.nan, info.max, -info.max,
                       info.smallest_subnormal, info.tiny], dtype)
    x, y = (a.ravel().copy() for a in np.meshgrid(values, values))
    z = np.empty_like(x)
    build_hypot(dtype, x.size, target)["main"](x, y, z)
    with np.errstate(over="ignore"):
        want = np.hypot(x.astype(WIDE), y.astype(WIDE)).astype(dtype)
    same = (z == want) | (np.isnan(z) & np.isnan(want))
    assert same.all(), [(a, b, c, d) for a, b, c, d in zip(x[~same], y[~same], z[~same], want[~same])]


@functools.cache
def _loop_sources(op, dtype, target_name):
    """The code of ``Y[i] = op(X[i])`` (``op(X[i], X[i])`` for two operands) for the pinned
    target ``target_name`` of tests.targets: one loop of 4096 elements, vectorized by the
    vectorize pass (lower_math's routines) or by LLVM's loop vectorizer (the others).
    Generated once: one test reads its optimised IR, another its assembly."""
    from mlc.backends.llvm import compile_sources
    from tests import targets
    X = te.placeholder((4096,), dtype, "X")
    fn = getattr(te, op)
    Y = te.compute((4096,), lambda i: fn(*[X[i]] * MATH_CALLS[op].arity), "Y")
    return compile_sources(mlc.IRModule({"main": te.create_prim_func([X, Y])}), getattr(targets, target_name))


def _loop_ir(op, dtype, target_name):
    """The optimised IR of :func:`_loop_sources`."""
    return _loop_sources(op, dtype, target_name)["ll"]


def routine_dtypes():
    """op -> the compute dtypes it has a branch-free routine for (lower_math's, which the llvm
    backend writes out as TIR)."""
    from mlc.passes.tir.lower_math import ROUTINE_DTYPES
    return dict(ROUTINE_DTYPES)


_LIBM_INTRINSICS = {"sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "pow",
                    "exp", "exp2", "exp10", "log", "log2", "log10"}


@pytest.mark.parametrize("target_name", ["AVX2", "AVX512"])
def test_every_routine_vectorises_without_a_libm_call(target_name):
    """Each vector math routine, for each dtype it serves, leaves a loop of vector
    arithmetic and no call (libm's scalar sinf, pow... were what kept loops scalar), LLVM's
    loop vectorizer widening the serial loop. sin, cos and tan call libm's function of
    double on their rare large lanes, only in functions of their own, out of line
    (``__mlc_lanes.*``): the loop branches to a masked vector form's lanes loop where a lane
    is large (tests/backends/test_vector_trig.py)."""
    for op, dtypes in routine_dtypes().items():
        for dtype in dtypes:
            ir = _loop_ir(op, dtype, target_name)
            defined = set(re.findall(r'define [^@]*@"?([\w.]+)', ir))
            out_of_line = re.findall(r'define internal [^@]*@"?__mlc_lanes\.[^{]*\{.*?\n\}', ir, re.S)
            loop_ir = functools.reduce(lambda text, fn: text.replace(fn, ""), out_of_line, ir)
            called = set(re.findall(r'call [^@]*@"?([\w.]+)', loop_ir))
            # (LLVM's sin, pow, log2... intrinsics on scalars are libm calls too)
            external = {name for name in called - defined
                        if not name.startswith("llvm.") or name.split(".")[1] in _LIBM_INTRINSICS}
            assert not external, f"{op} {dtype} calls {sorted(external)}"
            if op in ("sin", "cos", "tan"):
                assert re.search(rf"call [^\n]*@__mlc_lanes\.{op}\.m\d+f64\.lanes\(<", loop_ir), f"{op} {dtype}"
            lanes = r"<(4|8|16) x (float|double)>"
            assert re.search(rf"f(mul|add|div) [a-z ]*{lanes}", ir), f"{op} {dtype} is not vectorised"


@each_runnable_target
@pytest.mark.parametrize("fast_math, n", [(False, 3075), (True, 13)])
def test_written_out_routines_on_vectors_round_as_on_scalars(fast_math, n, target):
    """A routine lower_math writes out, in a loop the vectorize pass makes vector statements
    of (its local scalars vector Lets), gives bit for bit the results of the same loop
    built as written, a serial loop of scalars: whole vectors and a ragged end (3075), fewer
    elements than a vector (13). Each routine is a function of its own (one kernel each, as
    built alone), the functions of one dtype built in one module per schedule."""
    from mlc.passes.tir.lower_math import ROUTINE_DTYPES, ROUTINES
    from mlc.schedules import as_written
    rng = np.random.default_rng(7)
    specials = [0.5, 1e300, -1e300, 1e-310, -1e-310, np.nan, -np.inf, np.inf, -1.0, 1.0, -0.0, 0.0, 2.0, -3.0, 7.5]
    inputs = {}  # dtype -> op -> the routine's operands
    for op in ROUTINES:
        for dtype in ROUTINE_DTYPES[op]:
            with np.errstate(over="ignore"):  # (10^30 is inf in float32)
                x = np.concatenate([rng.uniform(-30, 30, 1020), rng.uniform(0.5, 1.5, 1020),
                                    10.0 ** rng.uniform(-30, 30, 1020), specials]).astype(dtype)[-n:]
            inputs.setdefault(dtype, {})[op] = [x, x[::-1].copy()][:MATH_CALLS[op].arity]
    for dtype, operands in inputs.items():
        funcs = {}
        for op, xs in operands.items():
            X = [te.placeholder((n,), dtype, f"X{k}") for k in range(len(xs))]
            Y = te.compute((n,), lambda i: getattr(te, op)(*[a[i] for a in X]), "Y")
            funcs[op] = te.create_prim_func([*X, Y])
        mod = mlc.IRModule(funcs)
        vectors = mlc.build(mod, target, fast_math=fast_math)
        scalars = mlc.build(mod, target, schedule=as_written, fast_math=fast_math)
        bits = f"u{np.dtype(dtype).itemsize}"
        for op, xs in operands.items():
            vector, scalar = np.empty_like(xs[0]), np.empty_like(xs[0])
            with np.errstate(all="ignore"):
                vectors[op](*xs, vector)
                scalars[op](*xs, scalar)
            nan = np.isnan(scalar)  # (a NaN's sign and payload are unspecified)
            np.testing.assert_array_equal(np.isnan(vector), nan, err_msg=f"{op} {dtype}")
            np.testing.assert_array_equal(vector[~nan].view(bits), scalar[~nan].view(bits), err_msg=f"{op} {dtype}")


@pytest.mark.parametrize("dtype, largest", [("float32", 255), ("float64", 208063)])
def test_cbrt_of_a_perfect_cube_is_exact(dtype, largest):
    """cbrt(n^3) == n for every n whose cube the format holds exactly (and -n for -n^3)."""
    n = np.arange(1, largest + 1, dtype="float64")
    x = np.concatenate([n ** 3, -(n ** 3)]).astype(dtype)
    y = apply("cbrt", x)
    np.testing.assert_array_equal(y, np.concatenate([n, -n]).astype(dtype))


#: Scalar conversions between a float and an integer register (``vcvttsd2si``, ``cvtsi2sd``...).
_SCALAR_CONVERSION = re.compile(r"\tv?cvtt?s[sd]2si\w*|\tv?cvtsi2s[sd]\w*")


@pytest.mark.parametrize("target_name", ["AVX2", "AVX512"])
def test_no_routine_converts_lane_by_lane(target_name):
    """No routine's loop converts between double and int64 through scalar registers: AVX2
    has no vector instruction for it (LLVM would extract each lane), so the routines written
    out as TIR go through a double's bits on every target (AVX-512 converts whole vectors: ``vcvttpd2qq``)."""
    from mlc.backends.llvm.cpus import converts_int64_vectors
    from tests import targets
    target = getattr(targets, target_name)
    assert converts_int64_vectors(target.cpu, target.features) == (target_name == "AVX512")
    vector_conversions = 0
    for op, dtypes in routine_dtypes().items():
        for dtype in dtypes:
            asm = _loop_sources(op, dtype, target_name)["asm"]  # (the loop the test above reads the IR of)
            assert not _SCALAR_CONVERSION.search(asm), f"{op} {dtype}: {_SCALAR_CONVERSION.search(asm)[0]}"
            vector_conversions += len(re.findall(r"vcvttpd2qq|vcvtqq2pd", asm))
    assert vector_conversions == 0 or target_name == "AVX512"


def test_float32_tanh_is_one_formula_without_rounding_or_nan_select():
    """float32 tanh's vector loop (AVX2 pinned) is one formula: the FMA with the shifter
    rounds k (no ``roundeven`` and conversion), NaN carries through the arithmetic (one
    compare: the clamp; no select putting NaN back), 2|x| folded into the constants, ln 2
    in one word, one division: at most 15 float operations in all."""
    ir = _loop_ir("tanh", "float32", "AVX2")
    vector = r"<8 x float>"
    assert "roundeven" not in ir and "llvm.round." not in ir
    assert len(re.findall(rf"= fcmp \w+ {vector}", ir)) == 1
    assert len(re.findall(rf"= fdiv [a-z ]*{vector}", ir)) == 1
    arithmetic = re.findall(rf"= (?:f(?:add|sub|mul|div|neg) [a-z ]*{vector}|(?:tail )?call [a-z ]*{vector} "
                            rf"@llvm\.fma\.)", ir)
    assert len(arithmetic) <= 15, len(arithmetic)



def _vector_counts(ir):
    """(float arithmetic, divisions) on 8-lane vectors in optimised IR (FMAs counted)."""
    vector = r"<8 x float>"
    arithmetic = re.findall(rf"= (?:f(?:add|sub|mul|div|neg) [a-z ]*{vector}|(?:tail )?call [a-z ]*{vector} "
                            rf"@llvm\.fma\.)", ir)
    return len(arithmetic), len(re.findall(rf"= fdiv [a-z ]*{vector}", ir))


def _elementwise_ir(f, target):
    from mlc.backends.llvm import compile_sources
    X = te.placeholder((4096,), "float32", "X")
    Y = te.compute((4096,), lambda i: f(X[i]), "Y")
    return compile_sources(mlc.IRModule({"main": te.create_prim_func([X, Y])}), target)["ll"]


def test_tanh_gelu_is_one_quotient_without_tanh():
    """The tanh GELU's float32 AVX2 loop: x over lower_math's 2d = 1 + e^(-2z) (no tanh, no
    sum, no product, no halving; the exp-like polynomial one degree below exp's): 18 vector
    operations a division, against tanh's routine's plus the halving, the sum and the product
    (23); a tanh the statement uses outside ``1 + tanh(z)`` too is kept, and so is the sum
    (one division: tanh's)."""
    from tests import targets
    gelu = _elementwise_ir(lambda x: 0.5 * x * (1.0 + te.tanh(0.7978845608 * (x + 0.044715 * x * x * x))),
                           targets.AVX2)
    arithmetic, divisions = _vector_counts(gelu)
    assert divisions and arithmetic <= 18 * divisions, (arithmetic, divisions)
    tanh = _vector_counts(_elementwise_ir(te.tanh, targets.AVX2))
    both = _vector_counts(_elementwise_ir(lambda x: te.tanh(x) * (1.0 + te.tanh(x)), targets.AVX2))
    assert both == (tanh[0] + 2, tanh[1]), (both, tanh)

# ---------------------------------------------------------------- 1 + tanh(z) as 1 / d
#: Ulps of the exact value of ``1 + tanh(z)``, ``1 - tanh(z)`` (lower_math's ``1 / d``) and of
#: ``a (1 + tanh(z))`` (``a / d``: half an ulp more), where the step ``1 +- tanh(z)`` is a normal
#: number; where it is smaller (z below -43.7 in float32), within ``|a|`` times the smallest
#: normal of the exact value (the sum form's ``1 + tanh(z)`` is 0 from z = -9 on in float32).
STEP_ULPS = {"float32": 2.5, "float64": 2.5}

#: name -> (sign, the factor of a: None for no product, the expression of A[i] and Z[i])
_STEPS = {"1 + tanh(z)": (1, None, lambda a, z: 1.0 + te.tanh(z)),
          "1 - tanh(z)": (-1, None, lambda a, z: 1.0 - te.tanh(z)),
          "a (tanh(z) + 1)": (1, 1.0, lambda a, z: a * (te.tanh(z) + 1.0)),
          "(1 - tanh(z)) a": (-1, 1.0, lambda a, z: (1.0 - te.tanh(z)) * a),
          "0.5 a (1 + tanh(z))": (1, 0.5, lambda a, z: 0.5 * a * (1.0 + te.tanh(z))),
          "(1 - tanh(z)) (a 0.5)": (-1, 0.5, lambda a, z: (1.0 - te.tanh(z)) * (a * 0.5))}


def build_steps(dtype, n, target="llvm"):
    funcs = {}
    for k, (name, (_, _, f)) in enumerate(_STEPS.items()):
        A, Z = te.placeholder((n,), dtype, "A"), te.placeholder((n,), dtype, "Z")
        funcs[f"step{k}"] = te.create_prim_func([A, Z, te.compute((n,), lambda i: f(A[i], Z[i]), "Y")])
    return mlc.build(mlc.IRModule(funcs), target)


def step_exact(sign, z):
    """``1 + sign tanh(z)`` as ``2 / (1 + e^(-2 sign z))`` (no cancellation), in float64 for
    float32 ``z``, in :data:`WIDE` for float64."""
    with np.errstate(all="ignore"):
        z = z.astype(WIDE if z.dtype == np.float64 else np.float64)
        return 2 / (1 + np.exp(-2 * sign * z))


def check_steps(dtype, a_all, z_all, target):
    """Each of :data:`_STEPS` of ``a_all`` and ``z_all`` (``1 - tanh`` ones of every fifth: 1 -
    tanh(z) is the same formula as 1 + tanh(-z), bit for bit, with other constants)."""
    lib = build_steps(dtype, z_all.size, target)
    tiny = np.finfo(dtype).tiny
    steps = {1: step_exact(1, z_all), -1: step_exact(-1, z_all[::5])}
    for k, (name, (sign, factor, _)) in enumerate(_STEPS.items()):
        y = np.empty_like(z_all)
        lib[f"step{k}"](a_all, z_all, y)
        a, z, y = (a_all, z_all, y) if sign > 0 else (a_all[::5], z_all[::5], y[::5])
        step = steps[sign]
        product = factor is not None
        with np.errstate(all="ignore"):
            a = factor * a.astype(step.dtype) if product else a  # (0.5 a: exact in the wider type)
            want = a * step if product else step
            assert (np.isnan(y) == np.isnan(want)).all(), name
            normal = (step >= tiny) & ~np.isnan(want)
            bound = STEP_ULPS[dtype] + (0.5 if product else 0)
            got, wanted = y[normal].astype(step.dtype), want[normal]
            ok = np.abs(got - wanted) <= bound * np.spacing(np.abs(wanted.astype(dtype))).astype(step.dtype)
            if not ok.all():
                err = ulp_errors(y[normal], wanted, dtype)
                worst = int(np.argmax(err))
                raise AssertionError(f"{name} {dtype}: {err[worst]:.3f} ulp at z={z[normal][worst]!r}, "
                                     f"a={a[normal][worst]!r}: got {y[normal][worst]!r}")
            small = ~normal & ~np.isnan(want)
            scale = np.abs(a[small]).astype(step.dtype) if product else 1
            assert (np.abs(y[small].astype(step.dtype) - want[small]) <= scale * tiny).all(), name


@each_runnable_target
def test_one_plus_tanh_over_the_whole_float32_range(target):
    """``1 +- tanh(z)`` and its products, written as a quotient (lower_math): within
    :data:`STEP_ULPS` of the exact value over the whole float32 range, where the sum of 1
    and a rounded tanh near -1 cancels (z = -5: 2.5 ulps of tanh are 0.16% of the sum)."""
    z = float32_sweep()
    a = np.random.default_rng(3).standard_normal(z.size).astype("float32") * 4
    check_steps("float32", a, z, target)


@each_runnable_target
def test_one_plus_tanh_over_the_float64_exponent_range(target):
    rng = np.random.default_rng(4)
    n = 150_000
    z = np.concatenate([rng.uniform(1, 2, n) * np.exp2(rng.integers(-1074, 1024, n).astype("float64")),
                        rng.uniform(-400, 400, n), rng.standard_normal(n) * 8])
    z = np.concatenate([z, -z, np.array(SPECIALS)])
    a = rng.standard_normal(z.size) * 4
    check_steps("float64", a, z, target)


@each_runnable_target
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_plus_tanh_special_values(dtype, target):
    """Every pair of special a and z: the exact value's (NaN where it is inf * 0: a = +-inf
    with z = -inf), zeros with their signs."""
    vals = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -1.5, 20.0, -20.0], dtype)
    a, z = (g.ravel().copy() for g in np.meshgrid(vals, vals))
    lib = build_steps(dtype, z.size, target)
    for k, (name, (sign, factor, _)) in enumerate(_STEPS.items()):
        y = np.empty_like(z)
        lib[f"step{k}"](a, z, y)
        with np.errstate(all="ignore"):
            step = step_exact(sign, z)
            want = (factor * a.astype(step.dtype) * step if factor is not None else step).astype(dtype)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(want), err_msg=name)
        exact = np.isnan(want) | np.isinf(want) | (want == 0)
        np.testing.assert_array_equal(y[exact], want[exact], err_msg=name)
        np.testing.assert_array_equal(np.signbit(y[exact & (want == 0)]), np.signbit(want[exact & (want == 0)]),
                                      err_msg=name)
        np.testing.assert_allclose(y[~exact], want[~exact], rtol=4 * np.finfo(dtype).eps, err_msg=name)
