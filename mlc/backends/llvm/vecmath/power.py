"""float32 pow(x, y), and cbrt(x), as branch-free code: |x|^y = e^(y log|x|), then C99's
special values (cbrt: :func:`cbrt`, for both formats).

libm's ``powf`` is a scalar call (a loop calling it stays scalar: 4 times slower than
NumPy's SIMD loop on an AVX-512 machine). The exponential's argument needs more than
float's precision (an error d in ``y log|x|`` is a relative error d in the result, and
``|y log|x||`` reaches 104 before the result overflows or underflows), so it is computed
in double with the double routines of :mod:`.functions` and the result rounded once to
float: their error, 2^-52 of an argument below 104, is far below float's half ulp.
float64 pow stays libm's: the same method would need log|x| to some 2^-66, beyond what
the double log routine keeps.

Special values (NumPy's, from C99): ``pow(x, +-0) = 1`` and ``pow(1, y) = 1`` even for
NaN; otherwise NaN in, NaN out; a negative x gives NaN unless y is an integer (then the
sign of ``(-1)^y``); ``pow(+-0, y)`` and ``pow(+-inf, y)`` are 0 or inf by the signs of
y and of the exponent's effect, negative for a negative x and odd integer y;
``pow(x, +-inf)`` is 0, 1 or inf by whether ``|x|`` is below, at or above 1.
"""
from __future__ import annotations

from llvmlite import ir

from .emitter import FORMATS, FloatOps
from .functions import exp, log

__all__ = ["pow", "cbrt", "POWER_ROUTINES"]


def _magnitude_via_double(o: FloatOps, ax, y):
    """|x|^y for float ``ax`` > 0 and ``y``, both finite: in double, rounded to float
    (``y`` a float value, or a Python number taken as a double)."""
    d = FloatOps(o.b, FORMATS["float64"], o.fast, o.flags)
    wide = ir.DoubleType()
    v = d.mul(log(d, o.b.fpext(ax, wide)), d.c(y) if isinstance(y, float) else o.b.fpext(y, wide))
    return o.b.fptrunc(exp(d, v), o.ty)


def pow(o: FloatOps, x, y):
    """x ** y with NumPy's (C99's) special values."""
    b = o.b
    inf = float("inf")
    ax, ay = o.abs(x), o.abs(y)
    finite_x = o.lt(ax, inf)
    finite_y = o.lt(ay, inf)
    usable = b.and_(finite_x, o.gt(ax, 0.0))  # (false for NaN)
    sx = o.select(usable, ax, 1.0)
    sy = o.select(finite_y, y, 0.0)
    magnitude = _magnitude_via_double(o, sx, sy)
    half = o.floor(o.mul(sy, 0.5))
    integer = b.and_(finite_y, o.eq(o.floor(sy), sy))
    odd = b.and_(integer, o.eq(o.sub(sy, o.mul(half, 2.0)), 1.0))
    negative_x = b.icmp_signed("<", o.bits(x), o.ci(0))  # (-0 and -inf too)
    signed = o.select(odd, o.neg(magnitude), magnitude)
    # the NaN an invalid operation gives on x86 (sign bit set), as libm's and NumPy's
    invalid = o.from_bits(o.ci(-(1 << (o.fmt.mant - 1))))
    r = o.select(o.lt(x, 0.0), o.select(integer, signed, invalid), magnitude)
    # x = +-0 or +-inf: 0 or inf, negative for a negative x and an odd integer y
    zero_or_inf = o.select(b.xor(o.eq(ax, inf), o.gt(y, 0.0)), 0.0, inf)
    zero_or_inf = o.select(b.and_(negative_x, odd), o.neg(zero_or_inf), zero_or_inf)
    r = o.select(b.or_(o.eq(ax, 0.0), o.eq(ax, inf)), zero_or_inf, r)
    # y = +-inf: 0, 1 or inf by |x| against 1
    by_size = o.select(b.xor(o.gt(ax, 1.0), o.gt(y, 0.0)), 0.0, inf)
    r = o.select(o.eq(ay, inf), o.select(o.eq(ax, 1.0), 1.0, by_size), r)
    r = o.select(b.or_(o.isnan(x), o.isnan(y)), o.add(x, y), r)  # (a NaN operand, quieted)
    return o.select(b.or_(o.eq(y, 0.0), o.eq(x, 1.0)), 1.0, r)


def _cbrt_double(d: FloatOps, ax):
    """The cube root of a double ``ax`` > 0, finite: :func:`_cbrt_halley` (within some
    2^-47), then one Newton step whose residual ``y^3 - ax`` is computed with FMAs from the
    exact errors of ``y^2`` and ``y^3``: the step squares the first error away, and what is
    left is its own rounding, within an ulp. ``ax`` beyond 2^+-900 is scaled by 2^-+999
    first (a cube, so the root scales by 2^-+333) so that y^3 stays finite and normal.
    (The first guess was ``e^(log ax / 3)``, within 2^-44, at twice the time.)"""
    big, tiny = d.gt(ax, 2.0 ** 900), d.lt(ax, 2.0 ** -900)
    a = d.mul(ax, d.select(big, 2.0 ** -999, d.select(tiny, 2.0 ** 999, 1.0)))
    y = _cbrt_halley(d, a)
    y2 = d.mul(y, y)
    y2_error = d.fma(y, y, d.neg(y2))
    y3 = d.mul(y2, y)
    residual = d.add(d.sub(y3, a), d.fma(y2_error, y, d.fma(y2, y, d.neg(y3))))  # y^3 - a
    y = d.sub(y, d.div(residual, d.mul(y2, 3.0)))
    return d.mul(y, d.select(big, 2.0 ** 333, d.select(tiny, 2.0 ** -333, 1.0)))


#: The cube root's first guess from a double's high word ``h``: ``h / 3 + _CBRT_BIAS`` (the
#: exponent divided by 3, the bias put back, less a shift that centres the guess's error).
_CBRT_BIAS = 715094163  # (1023 - 1023/3 - 0.03306235651) 2^20


def _cbrt_halley(d: FloatOps, a):
    """The cube root of a normal double ``a`` > 0 to some 47 bits: a first guess from the
    bits (the high word divided by 3, within some 5 bits), then two Halley steps
    ``t (2a + t^3) / (a + 2 t^3)`` (cubic: to 16, then 47 bits)."""
    b = d.b
    words = FloatOps(b, FORMATS["float32"], lanes=d.lanes)  # (its ints: the 32-bit high words)
    high = b.trunc(b.lshr(d.bits(a), d.ci(32)), words.ity)
    guess = b.add(b.udiv(high, words.ci(3)), words.ci(_CBRT_BIAS))
    t = d.from_bits(b.shl(b.zext(guess, d.ity), d.ci(32)))
    for _ in range(2):
        t3 = d.mul(d.mul(t, t), t)
        t = d.mul(t, d.div(d.add(d.add(a, a), t3), d.add(a, d.add(t3, t3))))
    return t


def _cbrt_float_via_double(o: FloatOps, ax):
    """The cube root of a float ``ax`` > 0, finite: :func:`_cbrt_halley` of it widened to
    double (a subnormal float is a normal double), rounded once: the error far below float's
    half ulp (a cube's root comes out exact). Some 3 times the speed of ``e^(log ax / 3)``
    in double, the way this was computed first."""
    d = FloatOps(o.b, FORMATS["float64"], o.fast, o.flags, o.lanes)
    return o.b.fptrunc(_cbrt_halley(d, o.b.fpext(ax, d.ty)), o.ty)


def cbrt(o: FloatOps, x):
    """The cube root with the sign of x: two Halley steps in double from a guess made of the
    bits (:func:`_cbrt_halley`), for float rounded once (:func:`_cbrt_float_via_double`), for
    double refined by a Newton step (:func:`_cbrt_double`); zeros, infinities and NaN as
    they are."""
    ax = o.abs(x)
    usable = o.b.and_(o.lt(ax, float("inf")), o.gt(ax, 0.0))  # (false for NaN)
    safe = o.select(usable, ax, 1.0)
    root = _cbrt_double(o, safe) if o.fmt.bits == 64 else _cbrt_float_via_double(o, safe)
    return o.select(usable, o.copysign(root, x), x)


#: op name -> routine(FloatOps, *operands) (pow: float32 only)
POWER_ROUTINES = {"pow": pow, "cbrt": cbrt}
