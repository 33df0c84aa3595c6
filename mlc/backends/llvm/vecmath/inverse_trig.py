"""float32 atan, asin, acos and atan2 as branch-free code, computed in double.

libm's ``atanf``, ``asinf``... are scalar calls (a loop calling them stays scalar, some
11 times slower than NumPy's SIMD loops on an AVX-512 machine). Here the float
argument is widened, everything runs in double and the result is rounded once, so
it is all but correctly rounded:

* atan(n / m) (one division whatever the case): ``n > m`` is taken as
  ``pi/2 - atan(m / n)``, then ``t > tan(pi/12)`` as
  ``pi/6 + atan((t sqrt 3 - 1) / (t + sqrt 3))``, leaving ``|u| <= tan(pi/12)``
  where the Taylor series ``u - u^3/3 + u^5/5 ...`` to degree 17 is within 3e-12
  (relative); atan(x) is that of |x| / 1, the sign of x put back;
* asin: ``atan(|x| / sqrt(1 - x^2))`` (``x^2`` is exact in double; +-pi/2 at +-1, nan
  beyond), the sign put back; acos: ``pi/2 - asin(x)`` (the subtraction loses at
  most 12 bits of double's 53, near x = 1);
* atan2(y, x): ``atan(|y| / |x|)`` (0 when both are 0, pi/4 when both are
  infinite), ``pi`` minus it for a negative x (-0 included), with the sign of y:
  C99's values at every zero and infinity.
"""
from __future__ import annotations

from math import pi, sqrt

from llvmlite import ir

from .emitter import FORMATS, FloatOps

__all__ = ["atan", "asin", "acos", "atan2", "INVERSE_TRIG_ROUTINES"]

#: Taylor coefficients of atan(u) / u in u^2, to degree 16: 1, -1/3, 1/5, ...
_ATAN = tuple((-1) ** n / (2 * n + 1) for n in range(9))
_TAN_PI_12 = 2 - sqrt(3)


def _double(o: FloatOps):
    return FloatOps(o.b, FORMATS["float64"], o.fast, o.flags)


def _widen(o: FloatOps, x):
    return o.b.fpext(x, ir.DoubleType())


def _atan_ratio(d: FloatOps, n, m):
    """atan(n / m) for doubles ``n, m >= 0`` with one division: the smaller over the larger
    (``pi/2`` minus the angle when n is the larger), shifted by pi/6 past tan(pi/12):
    ``(t sqrt 3 - 1) / (t + sqrt 3)`` with ``t = num / den`` is
    ``(num sqrt 3 - den) / (num + den sqrt 3)``. NaN where n / m is 0 / 0 or inf / inf."""
    inverted = d.gt(n, m)
    num, den = d.select(inverted, m, n), d.select(inverted, n, m)
    shifted = d.gt(num, d.mul(den, _TAN_PI_12))
    u = d.div(d.select(shifted, d.fma(num, sqrt(3), d.neg(den)), num),
              d.select(shifted, d.fma(den, sqrt(3), num), den))
    z = d.mul(u, u)
    y = d.mul(u, d.horner(z, _ATAN))
    y = d.select(shifted, d.add(y, pi / 6), y)
    return d.select(inverted, d.sub(pi / 2, y), y)


def atan(o: FloatOps, x):
    """atan(x): +-pi/2 at +-inf, zeros keep their sign, NaN gives NaN."""
    d = _double(o)
    wide = _widen(o, x)
    return o.b.fptrunc(d.copysign(_atan_ratio(d, d.abs(wide), d.c(1.0)), wide), o.ty)


def _asin_double(o: FloatOps, x):
    d = _double(o)
    wide = _widen(o, x)
    a = d.abs(wide)
    cosine = d.sqrt(d.fma(d.neg(a), a, 1.0))  # 0 at 1, nan beyond
    return d, d.copysign(_atan_ratio(d, a, cosine), wide)


def asin(o: FloatOps, x):
    """asin(x): +-pi/2 at +-1, nan beyond, zeros keep their sign."""
    _, y = _asin_double(o, x)
    return o.b.fptrunc(y, o.ty)


def acos(o: FloatOps, x):
    """acos(x) = pi/2 - asin(x): 0 at 1, pi at -1, nan beyond."""
    d, y = _asin_double(o, x)
    return o.b.fptrunc(d.sub(pi / 2, y), o.ty)


def atan2(o: FloatOps, y, x):
    """The angle of the point (x, y): atan(y / x) in the right half plane, moved by pi
    in the left one (x < 0 or x = -0); C99's values at zeros and infinities."""
    d = _double(o)
    b = o.b
    wy, wx = _widen(o, y), _widen(o, x)
    ay, ax = d.abs(wy), d.abs(wx)
    t = _atan_ratio(d, ay, ax)
    inf = float("inf")
    t = d.select(b.and_(d.eq(ay, 0.0), d.eq(ax, 0.0)), 0.0, t)
    t = d.select(b.and_(d.eq(ay, inf), d.eq(ax, inf)), pi / 4, t)
    left = b.icmp_signed("<", o.bits(x), o.ci(0))
    t = d.select(left, d.sub(pi, t), t)
    t = d.copysign(t, wy)
    t = d.select(b.or_(d.isnan(wx), d.isnan(wy)), d.add(wx, wy), t)
    return o.b.fptrunc(t, o.ty)


#: op name -> routine(FloatOps, *operands), float32 only (float64 keeps libm's)
INVERSE_TRIG_ROUTINES = {"atan": atan, "asin": asin, "acos": acos, "atan2": atan2}
