"""Complex numbers in LLVM: ``{float, float}`` values with NumPy's semantics.

A complex64 (complex128) value is the literal struct ``{float, float}``
(``{double, double}``) of its real and imaginary parts, in registers and in
memory alike: a buffer holds interleaved pairs, as NumPy stores them. Only
``==`` and ``!=`` compare.

* Arithmetic is NumPy's array loops': the product with one fused multiply-add
  per part, Smith's division.
* ``abs`` (``hypot``), ``exp``, ``log``, ``sqrt``, ``sinh``, ``cosh`` and
  ``tanh`` are computed here with C99 Annex G's special values (infinities,
  NaNs, signed zeros: what NumPy's libm calls give); complex64's in double,
  rounded once (no overflow of ``exp(x)`` before ``cos(y)`` scales it, no
  loss in ``log|z|`` near 1).
* ``expm1``, ``log1p``, ``log2`` and ``log10`` are NumPy's own formulas
  (``nc_expm1``, ``nc_log1p``, ...).
* The trigonometric functions and the inverse ones, circular and hyperbolic,
  call libm's ``csin``, ``cacos``, ``casinh``... (:data:`LIBM_COMPLEX_CALLS`),
  the functions NumPy calls.

The math calls register as the llvm lowerings of
:mod:`mlc.backends.intrinsics` for the complex dtypes.
"""
from __future__ import annotations

import math

from llvmlite import ir

from ...errors import CompileError
from ...ir import dtype as dt
from ..intrinsics import register_intrinsic_lowering
from .intrinsics import BACKEND, FLOAT_COMPUTE, call_intrinsic, declare, emit_math
from .types import I32
from . import arith

__all__ = ["parts", "make", "binary", "compare", "cast", "LIBM_COMPLEX_CALLS"]

#: Math calls on complex operands computed by libm's C99 complex functions (NumPy calls the
#: same ones): op -> (complex64's function, complex128's).
LIBM_COMPLEX_CALLS = {op: ("c" + name + "f", "c" + name) for op, name in (
    ("sin", "sin"), ("cos", "cos"), ("tan", "tan"), ("asin", "asin"), ("acos", "acos"),
    ("atan", "atan"), ("asinh", "asinh"), ("acosh", "acosh"), ("atanh", "atanh"))}


def parts(b: ir.IRBuilder, z: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(real, imaginary) of the complex value ``z``."""
    return b.extract_value(z, 0), b.extract_value(z, 1)


def make(b: ir.IRBuilder, re: ir.Value, im: ir.Value) -> ir.Value:
    """The complex value ``re + im j`` of two float values of one type."""
    ty = ir.LiteralStructType([re.type, re.type])
    return b.insert_value(b.insert_value(ir.Constant(ty, ir.Undefined), re, 0), im, 1)


def _c(ty: ir.Type, value: float) -> ir.Constant:
    return ir.Constant(ty, value)


def binary(b: ir.IRBuilder, op: str, x: ir.Value, y: ir.Value, dtype: str) -> ir.Value:
    """``x <op> y`` for add, sub, mul, div of two complex values."""
    (xr, xi), (yr, yi) = parts(b, x), parts(b, y)
    if op == "add":
        return make(b, b.fadd(xr, yr), b.fadd(xi, yi))
    if op == "sub":
        return make(b, b.fsub(xr, yr), b.fsub(xi, yi))
    if op == "mul":  # NumPy's array loop: fma(xr, yr, -xi yi) + fma(xr, yi, xi yr) j, no inf recovery
        return make(b, call_intrinsic(b, "fma", xr, yr, b.fneg(b.fmul(xi, yi))),
                    call_intrinsic(b, "fma", xr, yi, b.fmul(xi, yr)))
    if op == "div":
        return _divide(b, xr, xi, yr, yi)
    raise CompileError(f"{op} is not defined for {dtype} operands")


def _divide(b, ar, ai, br, bi):
    """Smith's algorithm, step by step as NumPy's complex division: scale by the larger
    part of the divisor; a zero divisor divides each part by |br| (inf or NaN parts)."""
    ty = ar.type
    abs_br, abs_bi = call_intrinsic(b, "fabs", br), call_intrinsic(b, "fabs", bi)
    one = _c(ty, 1.0)
    # |br| >= |bi|: rat = bi / br, scl = 1 / (br + bi * rat)
    rat = b.fdiv(bi, br)
    scl = b.fdiv(one, b.fadd(br, b.fmul(bi, rat)))
    real_big = (b.fmul(b.fadd(ar, b.fmul(ai, rat)), scl), b.fmul(b.fsub(ai, b.fmul(ar, rat)), scl))
    # both parts zero: each part of the dividend over |br|
    zero = (b.fdiv(ar, abs_br), b.fdiv(ai, abs_br))
    # otherwise (|br| < |bi|, or a NaN part): rat = br / bi, scl = 1 / (bi + br * rat)
    rat2 = b.fdiv(br, bi)
    scl2 = b.fdiv(one, b.fadd(bi, b.fmul(br, rat2)))
    imag_big = (b.fmul(b.fadd(b.fmul(ar, rat2), ai), scl2), b.fmul(b.fsub(b.fmul(ai, rat2), ar), scl2))
    use_real = b.fcmp_ordered(">=", abs_br, abs_bi)
    both_zero = b.and_(b.fcmp_ordered("==", abs_br, _c(ty, 0.0)), b.fcmp_ordered("==", abs_bi, _c(ty, 0.0)))
    out = []
    for k in range(2):
        first = b.select(both_zero, zero[k], real_big[k])
        out.append(b.select(use_real, first, imag_big[k]))
    return make(b, *out)


def compare(b: ir.IRBuilder, op: str, x: ir.Value, y: ir.Value, dtype: str) -> ir.Value:
    """``==`` (both parts equal) and ``!=`` (either part differs, or is NaN)."""
    (xr, xi), (yr, yi) = parts(b, x), parts(b, y)
    if op == "eq":
        return b.and_(b.fcmp_ordered("==", xr, yr), b.fcmp_ordered("==", xi, yi))
    if op == "ne":
        return b.or_(b.fcmp_unordered("!=", xr, yr), b.fcmp_unordered("!=", xi, yi))
    raise CompileError(f"{dtype} values are not ordered; only == and != compare them")


def cast(b: ir.IRBuilder, v: ir.Value, src: str, dst: str) -> ir.Value:
    """``v.astype(dst)`` where ``src`` or ``dst`` is complex (NumPy semantics): a real value
    becomes the real part (imaginary +0); a complex one keeps its real part when cast to a
    real dtype (NumPy discards the imaginary part) and is true as a bool when either part is
    nonzero."""
    if dt.is_complex(src) and dt.is_complex(dst):
        re, im = parts(b, v)
        return make(b, *(arith.cast(b, p, dt.component(src), dt.component(dst)) for p in (re, im)))
    if dt.is_complex(dst):
        re = arith.cast(b, _widened(b, v, src), _compute(src), dt.component(dst))
        return make(b, re, _c(re.type, 0.0))
    re, im = parts(b, v)
    if dst == "bool":
        return b.or_(b.fcmp_unordered("!=", re, _c(re.type, 0.0)), b.fcmp_unordered("!=", im, _c(im.type, 0.0)))
    out = arith.cast(b, re, dt.component(src), _compute(dst))
    return b.fptrunc(out, ir.HalfType()) if dst == "float16" else out


def _compute(dtype: str) -> str:
    return "float32" if dtype == "float16" else dtype


def _widened(b, v, dtype):
    return b.fpext(v, ir.FloatType()) if dtype == "float16" else v


# ------------------------------------------------------------------ math calls

def _math(b, op, *args):
    dtype = "float32" if isinstance(args[0].type, ir.FloatType) else "float64"
    return emit_math(b, op, list(args), dtype)


def _in_double(fn):
    """A lowering of float parts computed in double when the parts are float, its parts
    (or its one real result) rounded back to float once."""
    def lowering(b, z):
        re, im = parts(b, z)
        if not isinstance(re.type, ir.FloatType):
            return fn(b, re, im)
        out = fn(b, b.fpext(re, ir.DoubleType()), b.fpext(im, ir.DoubleType()))
        if isinstance(out.type, ir.DoubleType):
            return b.fptrunc(out, ir.FloatType())
        return make(b, *(b.fptrunc(p, ir.FloatType()) for p in parts(b, out)))
    lowering.__name__ = fn.__name__
    return lowering


@_in_double
def _abs(b, x, y):
    return _math(b, "hypot", x, y)


@_in_double
def _exp(b, x, y):
    """exp(x) (cos y + j sin y); y == 0 gives exp(x) + y j (also for a NaN x); an infinite x
    with a non-finite y gives (inf, NaN) for +inf and (0, 0) for -inf. Where exp(x) alone
    overflows a part may not: as glibc's cexp, an x above t = 1023 ln 2 scales cos y and
    sin y by exp(t) (twice at most) and exp takes what is left of x."""
    ty = x.type
    r = _math(b, "exp", x)
    re, im = _exp_times(b, x, _math(b, "cos", y), _math(b, "sin", y))
    x_inf = b.fcmp_ordered("==", call_intrinsic(b, "fabs", x), _c(ty, math.inf))
    y_finite = b.fcmp_ordered("<", call_intrinsic(b, "fabs", y), _c(ty, math.inf))
    special = b.and_(x_inf, b.not_(y_finite))
    x_pos = b.fcmp_ordered(">", x, _c(ty, 0.0))
    re = b.select(special, b.select(x_pos, _c(ty, math.inf), _c(ty, 0.0)), re)
    zero_im = call_intrinsic(b, "copysign", _c(ty, 0.0), y)
    im = b.select(special, b.select(x_pos, _c(ty, math.nan), zero_im), im)
    y_zero = b.fcmp_ordered("==", y, _c(ty, 0.0))
    return make(b, b.select(y_zero, r, re), b.select(y_zero, y, im))


#: Above this x, exp(x) overflows (1023 ln 2): _exp_times scales the factors first.
EXP_EDGE = 1023 * math.log(2.0)


def _exp_times(b, x, cos, sin, half: bool = False):
    """(exp(x) cos, exp(x) sin) where exp(x) alone may overflow and the products not: as
    glibc's cexp, an x above EXP_EDGE scales ``cos`` and ``sin`` by exp(EXP_EDGE) (twice at
    most) and exp takes what is left of x. ``half``: exp(x) / 2, the halving folded into the
    first scaling (exp(EXP_EDGE) / 2 is a normal number, so a subnormal ``sin`` keeps its
    digits), or into exp(x) when x needs none."""
    ty = x.type
    r = _math(b, "exp", x)
    if half:
        r = b.fmul(r, _c(ty, 0.5))
    re, im = b.fmul(r, cos), b.fmul(r, sin)
    t = _c(ty, EXP_EDGE)
    exp_t = _math(b, "exp", t)
    rest = x
    for k in range(2):  # (a second scaling only follows a first)
        factor = b.fmul(exp_t, _c(ty, 0.5)) if half and k == 0 else exp_t
        big = b.fcmp_ordered(">", rest, t)
        cos, sin = b.select(big, b.fmul(cos, factor), cos), b.select(big, b.fmul(sin, factor), sin)
        rest = b.select(big, b.fsub(rest, t), rest)
    reduced = b.fcmp_ordered(">", x, t)
    r_rest = _math(b, "exp", rest)
    return b.select(reduced, b.fmul(r_rest, cos), re), b.select(reduced, b.fmul(r_rest, sin), im)


def _half_exp_abs(b, x, y):
    """(e^|x| / 2) (cos y + j sin y) without overflowing early, and whether |x| is past
    EXP_EDGE, where it is cosh x and |sinh x| to the last bit and cosh x alone overflows."""
    ty = x.type
    ax = call_intrinsic(b, "fabs", x)
    w = _exp_times(b, ax, _math(b, "cos", y), _math(b, "sin", y), half=True)
    return w, b.fcmp_ordered(">", ax, _c(ty, EXP_EDGE))


#: Parts beyond 2**±EDGE are scaled by 2**∓SHIFT (exactly) before hypot or a square root, so
#: neither overflows nor loses the digits of subnormals (complex128; complex64 computes in double).
EDGE, SHIFT = 1000, 600


def _scaled(b, x, y):
    """(x * 2**k, y * 2**k, k) with k = -SHIFT for huge parts, SHIFT for tiny ones, else 0."""
    ty = x.type
    a = b.fcmp_ordered(">=", call_intrinsic(b, "fabs", x), call_intrinsic(b, "fabs", y))
    big = b.select(a, call_intrinsic(b, "fabs", x), call_intrinsic(b, "fabs", y))
    huge = b.fcmp_ordered(">", big, _c(ty, 2.0 ** EDGE))
    tiny = b.fcmp_ordered("<", big, _c(ty, 2.0 ** -EDGE))
    k = b.select(huge, _c(ty, -SHIFT), b.select(tiny, _c(ty, SHIFT), _c(ty, 0.0)))
    factor = b.select(huge, _c(ty, 2.0 ** -SHIFT), b.select(tiny, _c(ty, 2.0 ** SHIFT), _c(ty, 1.0)))
    return b.fmul(x, factor), b.fmul(y, factor), k


@_in_double
def _log(b, x, y):
    """log|z| + j atan2(y, x): hypot and atan2 give every special value of C99's clog. Where
    the larger part ``a`` is in [0.5, 2] (|z| may be near 1, log|z| near 0), the real part is
    ``log1p((a - 1)(a + 1) + c^2) / 2`` with ``c`` the smaller part: a - 1 is exact there."""
    ty = x.type
    ax, ay = call_intrinsic(b, "fabs", x), call_intrinsic(b, "fabs", y)
    big = b.fcmp_ordered(">=", ax, ay)
    a, c = b.select(big, ax, ay), b.select(big, ay, ax)
    near_one = b.and_(b.fcmp_ordered(">=", a, _c(ty, 0.5)), b.fcmp_ordered("<=", a, _c(ty, 2.0)))
    one = _c(ty, 1.0)
    small = b.fadd(b.fmul(b.fsub(a, one), b.fadd(a, one)), b.fmul(c, c))
    near = b.fmul(_math(b, "log1p", small), _c(ty, 0.5))
    sx, sy, k = _scaled(b, x, y)  # log|z| = log|z 2**k| - k log 2
    far = b.fsub(_math(b, "log", _math(b, "hypot", sx, sy)), b.fmul(k, _c(ty, math.log(2.0))))
    return make(b, b.select(near_one, near, far), _math(b, "atan2", y, x))


@_in_double
def _sqrt(b, x, y):
    """The principal square root: for x >= 0, t = sqrt((x + |z|) / 2) and sqrt(z) = t + j y / 2t;
    for x < 0, |y| / 2t + j copysign(t, y) with t = sqrt((|z| - x) / 2). A zero z gives
    +0 + y j, an infinite y gives +inf + y j (C99 csqrt)."""
    ty = x.type
    half, two = _c(ty, 0.5), _c(ty, 2.0)
    x0, y0 = x, y
    x, y, k = _scaled(b, x, y)  # sqrt(z) = sqrt(z 2**k) 2**(-k/2), k even
    h = _math(b, "hypot", x, y)
    nonneg = b.fcmp_ordered(">=", x, _c(ty, 0.0))
    t = _math(b, "sqrt", b.fmul(b.fadd(b.select(nonneg, x, b.fneg(x)), h), half))
    over = b.fdiv(b.select(nonneg, y, call_intrinsic(b, "fabs", y)), b.fmul(two, t))
    unscale = b.select(b.fcmp_ordered(">", k, _c(ty, 0.0)), _c(ty, 2.0 ** (-SHIFT // 2)),
                       b.select(b.fcmp_ordered("<", k, _c(ty, 0.0)), _c(ty, 2.0 ** (SHIFT // 2)), _c(ty, 1.0)))
    re = b.fmul(b.select(nonneg, t, over), unscale)
    im = b.fmul(b.select(nonneg, over, call_intrinsic(b, "copysign", t, y)), unscale)
    x, y = x0, y0
    zero = b.and_(b.fcmp_ordered("==", x, _c(ty, 0.0)), b.fcmp_ordered("==", y, _c(ty, 0.0)))
    y_inf = b.fcmp_ordered("==", call_intrinsic(b, "fabs", y), _c(ty, math.inf))
    re = b.select(zero, _c(ty, 0.0), b.select(y_inf, _c(ty, math.inf), re))
    im = b.select(b.or_(zero, y_inf), y, im)
    return make(b, re, im)


def _finite(b, v):
    return b.fcmp_ordered("<", call_intrinsic(b, "fabs", v), _c(v.type, math.inf))


def _is_inf(b, v):
    return b.fcmp_ordered("==", call_intrinsic(b, "fabs", v), _c(v.type, math.inf))


def _nan_of(b, v):
    """``v - v``: NaN for an infinite or NaN ``v``."""
    return b.fsub(v, v)


@_in_double
def _sinh(b, x, y):
    """sinh x cos y + j cosh x sin y; y == 0 gives sinh x + y j; a zero x with a non-finite y
    gives x + NaN j, an infinite one +inf + NaN j (C99 csinh). Past |x| = EXP_EDGE, where
    cosh x overflows before sin y scales it down, sign(x) e^|x| / 2 (cos y + j sin y)."""
    ty = x.type
    re = b.fmul(_math(b, "sinh", x), _math(b, "cos", y))
    im = b.fmul(_math(b, "cosh", x), _math(b, "sin", y))
    (w_re, w_im), large = _half_exp_abs(b, x, y)
    re = b.select(large, b.fmul(call_intrinsic(b, "copysign", _c(ty, 1.0), x), w_re), re)
    im = b.select(large, w_im, im)
    edge = b.and_(b.or_(b.fcmp_ordered("==", x, _c(ty, 0.0)), _is_inf(b, x)), b.not_(_finite(b, y)))
    edge_re = b.select(_is_inf(b, x), call_intrinsic(b, "fabs", x), x)
    re, im = b.select(edge, edge_re, re), b.select(edge, _nan_of(b, y), im)
    y_zero = b.fcmp_ordered("==", y, _c(ty, 0.0))
    return make(b, b.select(y_zero, _math(b, "sinh", x), re), b.select(y_zero, y, im))


@_in_double
def _cosh(b, x, y):
    """cosh x cos y + j sinh x sin y; y == 0 gives cosh x + (y sign x) j (y j for a NaN x);
    a zero x with a non-finite y gives NaN + 0 j, an infinite one +inf + NaN j (C99 ccosh);
    past |x| = EXP_EDGE, e^|x| / 2 (cos y + j sign(x) sin y), as for sinh."""
    ty = x.type
    re = b.fmul(_math(b, "cosh", x), _math(b, "cos", y))
    im = b.fmul(_math(b, "sinh", x), _math(b, "sin", y))
    (w_re, w_im), large = _half_exp_abs(b, x, y)
    re = b.select(large, w_re, re)
    im = b.select(large, b.fmul(call_intrinsic(b, "copysign", _c(ty, 1.0), x), w_im), im)
    not_finite_y = b.not_(_finite(b, y))
    zero_x = b.and_(b.fcmp_ordered("==", x, _c(ty, 0.0)), not_finite_y)
    inf_x = b.and_(_is_inf(b, x), not_finite_y)
    re = b.select(zero_x, _nan_of(b, y), b.select(inf_x, b.fmul(x, x), re))
    im = b.select(zero_x, _c(ty, 0.0), b.select(inf_x, _nan_of(b, y), im))
    y_zero = b.fcmp_ordered("==", y, _c(ty, 0.0))
    signed = b.select(b.fcmp_unordered("uno", x, x), y,  # a NaN x keeps y (glibc's ccosh)
                      b.fmul(y, call_intrinsic(b, "copysign", _c(ty, 1.0), x)))
    return make(b, b.select(y_zero, _math(b, "cosh", x), re), b.select(y_zero, signed, im))


#: Beyond this |x|, tanh(x + yj) is sign(x) + 4 sin y cos y e^(-2|x|) j in double precision.
_TANH_FAR = 22.0


@_in_double
def _tanh(b, x, y):
    """Kahan's formula: with t = tan y, s = sinh x, rho = sqrt(1 + s^2), beta = 1 + t^2,
    tanh z = (beta rho s + t j) / (1 + beta s^2); far from zero (|x| > 22) and at an infinite
    x it is sign(x) + 4 sin y cos y e^(-2|x|) j (a zero of sin 2y's sign for a non-finite y);
    y == 0 gives tanh x + y j; a zero x with a non-finite y gives x + NaN j (C99 ctanh); another
    finite x with a non-finite y, NaN + NaN j."""
    ty = x.type
    one = _c(ty, 1.0)
    t, s = _math(b, "tan", y), _math(b, "sinh", x)
    beta = b.fadd(one, b.fmul(t, t))
    rho = _math(b, "sqrt", b.fadd(one, b.fmul(s, s)))
    den = b.fadd(one, b.fmul(beta, b.fmul(s, s)))
    re, im = b.fdiv(b.fmul(b.fmul(beta, rho), s), den), b.fdiv(t, den)
    ax = call_intrinsic(b, "fabs", x)
    far = b.and_(b.fcmp_ordered(">", ax, _c(ty, _TANH_FAR)), b.or_(_finite(b, y), _is_inf(b, x)))
    sin, cos = _math(b, "sin", y), _math(b, "cos", y)
    tail = b.fmul(b.fmul(_c(ty, 4.0), b.fmul(sin, cos)), _math(b, "exp", b.fmul(_c(ty, -2.0), ax)))
    tail = b.select(_finite(b, y), tail, call_intrinsic(b, "copysign", _c(ty, 0.0), y))
    re = b.select(far, call_intrinsic(b, "copysign", one, x), re)
    im = b.select(far, tail, im)
    edge = b.and_(b.fcmp_ordered("==", x, _c(ty, 0.0)), b.not_(_finite(b, y)))
    re, im = b.select(edge, x, re), b.select(edge, _nan_of(b, y), im)
    y_zero = b.fcmp_ordered("==", y, _c(ty, 0.0))
    return make(b, b.select(y_zero, _math(b, "tanh", x), re), b.select(y_zero, y, im))


def _expm1(b, z):
    """NumPy's ``nc_expm1``, in the parts' own dtype: expm1(x) cos y - 2 sin^2(y / 2) +
    j exp(x) sin y (no special values of its own: NumPy's results, which differ from C99's
    on infinities)."""
    x, y = parts(b, z)
    half = _math(b, "sin", b.fmul(y, _c(y.type, 0.5)))
    re = b.fsub(b.fmul(_math(b, "expm1", x), _math(b, "cos", y)), b.fmul(_c(y.type, 2.0), b.fmul(half, half)))
    return make(b, re, b.fmul(_math(b, "exp", x), _math(b, "sin", y)))


def _log_base(scale: float):
    """NumPy's complex log2 / log10: the parts of log z times log2(e) / log10(e), multiplied in
    the parts' dtype."""
    def lowering(b, z):
        re, im = parts(b, _log(b, z))
        factor = _c(re.type, scale)
        return make(b, b.fmul(re, factor), b.fmul(im, factor))
    return lowering


def _log1p(b, z):
    """NumPy's ``nc_log1p``, in the parts' own dtype: log(hypot(1 + x, y)) + j atan2(y, 1 + x)
    (its rounding and overflow included)."""
    x, y = parts(b, z)
    u = b.fadd(x, _c(x.type, 1.0))
    return make(b, _math(b, "log", _math(b, "hypot", u, y)), _math(b, "atan2", y, u))


def _libm_complex(b, names, z):
    """``names[0](z)`` (float complex) or ``names[1](z)`` (double complex) through the x86-64
    System V ABI, as C compilers call them: ``<2 x float>`` in and out for float complex, two
    doubles in and ``{double, double}`` out for double complex."""
    triple = b.module.triple or ""
    if not triple.startswith("x86_64"):
        raise CompileError(f"{names[1]}: the llvm backend calls libm's complex functions on x86-64 "
                           f"only, not on {triple or 'this target'}")
    re, im = parts(b, z)
    if isinstance(re.type, ir.FloatType):
        vec = ir.VectorType(re.type, 2)
        fn = declare(b.module, names[0], ir.FunctionType(vec, [vec]))
        arg = b.insert_element(b.insert_element(ir.Constant(vec, ir.Undefined), re, ir.Constant(I32, 0)),
                               im, ir.Constant(I32, 1))
        out = b.call(fn, [arg])
        return make(b, b.extract_element(out, ir.Constant(I32, 0)), b.extract_element(out, ir.Constant(I32, 1)))
    fn = declare(b.module, names[1], ir.FunctionType(z.type, [re.type, re.type]))
    return b.call(fn, [re, im])


def _conj(b, z):
    re, im = parts(b, z)
    return make(b, re, b.fneg(im))


def _isnan(b, z):
    re, im = parts(b, z)
    return b.or_(b.fcmp_unordered("uno", re, re), b.fcmp_unordered("uno", im, im))


def _isinf(b, z):
    re, im = parts(b, z)
    inf = _c(re.type, math.inf)
    return b.or_(b.fcmp_ordered("==", call_intrinsic(b, "fabs", re), inf),
                 b.fcmp_ordered("==", call_intrinsic(b, "fabs", im), inf))


def _isfinite(b, z):
    re, im = parts(b, z)
    inf = _c(re.type, math.inf)
    return b.and_(b.fcmp_ordered("<", call_intrinsic(b, "fabs", re), inf),
                  b.fcmp_ordered("<", call_intrinsic(b, "fabs", im), inf))


_COMPLEX_CALLS = {"abs": _abs, "exp": _exp, "log": _log, "sqrt": _sqrt, "conj": _conj, "sinh": _sinh,
                  "cosh": _cosh, "tanh": _tanh, "expm1": _expm1, "log1p": _log1p,
                  "log2": _log_base(1 / math.log(2.0)), "log10": _log_base(1 / math.log(10.0)),
                  "real": lambda b, z: parts(b, z)[0], "imag": lambda b, z: parts(b, z)[1],
                  "isnan": _isnan, "isinf": _isinf, "isfinite": _isfinite}


def _register() -> None:
    for op, fn in _COMPLEX_CALLS.items():
        register_intrinsic_lowering(BACKEND, op, lambda b, args, dtype, fast, fn=fn: fn(b, args[0]),
                                    dtypes=dt.COMPLEX)
    for op, names in LIBM_COMPLEX_CALLS.items():
        register_intrinsic_lowering(BACKEND, op, lambda b, args, dtype, fast, names=names:
                                    _libm_complex(b, names, args[0]), dtypes=dt.COMPLEX)
    register_intrinsic_lowering(BACKEND, "complex", lambda b, args, dtype, fast: make(b, *args),
                                dtypes=FLOAT_COMPUTE)


_register()
