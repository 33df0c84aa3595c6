"""atan, asin, acos and atan2 as branch-free float TIR (float32 computed in double).

libm's ``atanf``, ``asin``... are scalar calls (a loop calling them stays scalar,
3 to 11 times slower than NumPy's SIMD loops on an AVX-512 machine); this code has
no branch, so LLVM's loop vectorizer widens a loop computing it. A float
argument is widened, everything runs in double and the result is rounded once, so
it is all but correctly rounded; double runs the same steps with more terms:

* atan(n / m) (one division whatever the case): ``n > m`` is taken as
  ``pi/2 - atan(m / n)``, then ``t > tan(pi/12)`` as
  ``pi/6 + atan((t sqrt 3 - 1) / (t + sqrt 3))``, leaving ``|u| <= tan(pi/12)``
  where the Taylor series ``u - u^3/3 + u^5/5 ...`` to degree 17 (double: 29) is
  within 3e-12 (2e-19) relative. The angle is ``k pi/6 +- atan(u)`` (k in 0..6),
  added once, pi/6 held in two words. atan(x) is that of |x| / 1, the sign of x put
  back;
* asin: ``atan(|x| / sqrt(1 - x^2))``, the sign put back; acos: ``atan(sqrt(1 - x^2)
  / |x|)``, pi minus it for a negative x (``1 - x^2`` by an FMA, so neither loses
  bits near 1): +-pi/2, 0 and pi at +-1, nan beyond;
* atan2(y, x): ``atan(|y| / |x|)`` (both scaled by a power of two where their sums
  could overflow or become subnormal), pi minus it for a negative x (-0 included),
  with the sign of y: C99's values at every zero and infinity.

Errors: float32 (and float16) within half an ulp plus the final rounding; double
within 2.5 ulps of the exact value.

``fast_math`` float32 runs the same steps in float itself (16 lanes where double has
8, float's division and square root instead of double's, the series to degree 9),
within 1e-6 relative (2.4e-7 measured), at about three
times the speed (benchmarks/results/decisions.md, "LLVM backend").
"""
from __future__ import annotations

from fractions import Fraction
from math import floor, pi, sqrt

from .float_ops import FloatOps, pi_fixed

__all__ = ["atan", "asin", "acos", "atan2", "INVERSE_TRIG_ROUTINES"]

#: The key of fast_math float32's series (computed in float, not double).
FAST = "fast"

#: Taylor coefficients of atan(u) / u in u^2 past the constant 1: -1/3, 1/5, ... to degree
#: 16 for float results (remainder under 3e-12 relative), to degree 28 for double ones
#: (under 2e-19).
_ATAN = {32: tuple((-1) ** n / (2 * n + 1) for n in range(1, 9)),
         64: tuple((-1) ** n / (2 * n + 1) for n in range(1, 15)),
         # fast_math float32, in float: to degree 10 (remainder under 1e-8 relative)
         FAST: tuple((-1) ** n / (2 * n + 1) for n in range(1, 6))}
_TAN_PI_12 = 2 - sqrt(3)


def _sixth_of_pi(d: FloatOps) -> tuple[float, float]:
    """pi / 6 as (hi, lo) for ``d``'s format: hi cut to 3 bits fewer than its significand
    (48 for double, 21 for float: ``k hi`` is exact for k <= 6; pi/6 is in [1/2, 1)), lo
    the rest rounded."""
    sixth = Fraction(pi_fixed(160), 6 << 160)
    bits = d.fmt.mant + 1 - 3
    hi = floor(sixth * 2 ** bits) / 2 ** bits
    return hi, d.fmt.round(float(sixth - Fraction(hi)))


def _arithmetic(o: FloatOps):
    """(d, widen, narrow, series): the arithmetic a routine of ``o``'s format runs in
    (double; float itself for fast_math float32), the conversions to it and back
    (identities where it is ``o``'s), and the key of its atan series in :data:`_ATAN`."""
    if o.fmt.bits == 64:
        return o, (lambda v: v), (lambda v: v), 64
    if o.fast:
        return o, (lambda v: v), (lambda v: v), FAST
    d = o.with_format("float64")
    return d, (lambda v: o.widen(v, d.dtype)), o.narrow, 32


def _atan_ratio(d: FloatOps, n, m, series, left=None):
    """atan(n / m) for ``n, m >= 0`` of ``d``'s format (``pi`` minus it where the bool ``left``)
    with one division: the smaller over the larger (``pi/2`` minus the angle when n is the
    larger), shifted by pi/6 past tan(pi/12): ``(t sqrt 3 - 1) / (t + sqrt 3)`` with
    ``t = num / den`` is ``(num sqrt 3 - den) / (num + den sqrt 3)``. The angle is then
    ``k pi/6 +- atan(u)``, k in 0..6, added once with pi/6 in two words. NaN where
    n / m is 0 / 0 or inf / inf."""
    inverted = d.gt(n, m)
    num, den = d.select(inverted, m, n), d.select(inverted, n, m)
    shifted = d.gt(num, d.mul(den, _TAN_PI_12))
    u = d.div(d.select(shifted, d.fma(num, sqrt(3), d.neg(den)), num),
              d.select(shifted, d.fma(den, sqrt(3), num), den))
    z = d.mul(u, u)
    p = d.fma(d.mul(u, z), d.horner(z, _ATAN[series]), u)
    k = d.select(shifted, 1.0, 0.0)
    k = d.select(inverted, d.sub(3.0, k), k)
    negate = inverted
    if left is not None:
        k = d.select(left, d.sub(6.0, k), k)
        negate = d.xor(negate, left)
    sixth_hi, sixth_lo = _sixth_of_pi(d)
    return d.fma(k, sixth_hi, d.fma(k, sixth_lo, d.select(negate, d.neg(p), p)))


def atan(o: FloatOps, x):
    """atan(x): +-pi/2 at +-inf, zeros keep their sign, NaN gives NaN."""
    d, widen, narrow, series = _arithmetic(o)
    wide = widen(x)
    return narrow(d.copysign(_atan_ratio(d, d.abs(wide), d.c(1.0), series), wide))


def asin(o: FloatOps, x):
    """asin(x) = atan(|x| / sqrt(1 - x^2)) with the sign of x: +-pi/2 at +-1, nan beyond."""
    d, widen, narrow, series = _arithmetic(o)
    wide = widen(x)
    a = d.abs(wide)
    cosine = d.sqrt(d.fma(d.neg(a), a, 1.0))  # 0 at 1, nan beyond
    return narrow(d.copysign(_atan_ratio(d, a, cosine, series), wide))


def acos(o: FloatOps, x):
    """acos(x) = atan(sqrt(1 - x^2) / |x|), or pi minus it for a negative x: no
    cancellation near 1; 0 at 1, pi at -1, nan beyond."""
    d, widen, narrow, series = _arithmetic(o)
    wide = widen(x)
    a = d.abs(wide)
    return narrow(_atan_ratio(d, d.sqrt(d.fma(d.neg(a), a, 1.0)), a, series, d.lt(wide, 0.0)))


#: atan2 scales both operands by 2^-64 above the first, by 2^64 below the second (by the
#: bits of the arithmetic: float for fast_math float32, double otherwise).
_SCALED_FROM = {64: (2.0 ** 1000, 2.0 ** -960), 32: (2.0 ** 120, 2.0 ** -60)}


def atan2(o: FloatOps, y, x):
    """The angle of the point (x, y): atan(|y| / |x|), pi minus it in the left half plane
    (x < 0 or x = -0), the sign of y; C99's values at zeros and infinities."""
    d, widen, narrow, series = _arithmetic(o)
    wy, wx = widen(y), widen(x)
    ay, ax = d.abs(wy), d.abs(wx)
    # both scaled alike where their sums could overflow or lose bits to gradual underflow
    larger = d.select(d.gt(ay, ax), ay, ax)
    top, bottom = _SCALED_FROM[d.fmt.bits]
    scale = d.select(d.gt(larger, top), 2.0 ** -64, d.select(d.lt(larger, bottom), 2.0 ** 64, 1.0))
    left = o.sign_bit(x)
    t = _atan_ratio(d, d.mul(ay, scale), d.mul(ax, scale), series, left)
    inf = float("inf")
    t = d.select(d.and_(d.eq(ay, 0.0), d.eq(ax, 0.0)), d.select(left, pi, 0.0), t)
    t = d.select(d.and_(d.eq(ay, inf), d.eq(ax, inf)), d.select(left, 3 * pi / 4, pi / 4), t)
    t = d.copysign(t, wy)
    return narrow(d.select(d.or_(d.isnan(wx), d.isnan(wy)), d.add(wx, wy), t))


#: op name -> routine(FloatOps, *operands)
INVERSE_TRIG_ROUTINES = {"atan": atan, "asin": asin, "acos": acos, "atan2": atan2}
