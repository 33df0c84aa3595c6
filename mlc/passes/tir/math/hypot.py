"""hypot(x, y) = sqrt(x^2 + y^2) as branch-free code, without overflow or underflow
on the way (what ``np.hypot`` and a complex number's ``abs`` compute).

libm's ``hypot`` is a scalar call: a loop calling it stays scalar, where NumPy's complex
``abs`` is a SIMD loop (benchmarks/results/hypot-routine-amd-epyc-zen3-2cores-2026-11-28.md).

* float32 (float16 widened to it): in double, where neither square can overflow,
  underflow or round: ``sqrt(fma(x, x, y * y))`` rounded once to float, so the result is
  the exact value correctly rounded but for the double rounding (within 0.51 ulp);
* float64: the larger magnitude ``a`` and the smaller ``b``, both scaled by 2^-600
  where ``a`` is above 2^511 and by 2^600 where it is below 2^-450 (exact powers of two,
  undone at the end), so the squares neither overflow nor lose digits to gradual
  underflow; ``a^2 + b^2`` is kept as a double and its error (each square's rounding
  error by an FMA, the sum's by Fast2Sum, as ``a^2 >= b^2``), and the square root ``h``
  of the double corrected by one Newton step on the pair,
  ``h + (a^2 + b^2 - h^2) / 2h``: within 0.51 ulp of the exact value.

Special values (C99's, NumPy's): an infinite operand gives inf, even beside a NaN;
otherwise a NaN gives NaN; ``hypot(0, 0) = 0``.
"""
from __future__ import annotations

from .float_ops import FloatOps

__all__ = ["hypot", "HYPOT_ROUTINES"]

#: Larger magnitudes above TOP are scaled down by 2^-SHIFT, those below BOTTOM up by 2^SHIFT.
_TOP, _BOTTOM, _SHIFT = 2.0 ** 511, 2.0 ** -450, 600


def _either_infinite(o: FloatOps, ax, ay):
    inf = float("inf")
    return o.or_(o.eq(ax, inf), o.eq(ay, inf))


def hypot(o: FloatOps, x, y):
    """sqrt(x^2 + y^2), within 0.51 ulp, C99's special values."""
    if o.fmt.bits == 32:
        d = o.with_format("float64")
        wx, wy = o.widen(x, "float64"), o.widen(y, "float64")
        h = d.sqrt(d.fma(wx, wx, d.mul(wy, wy)))
        return o.narrow(d.select(_either_infinite(d, d.abs(wx), d.abs(wy)), float("inf"), h))
    ax, ay = o.abs(x), o.abs(y)
    x_larger = o.ge(ax, ay)  # (false where either is NaN: then b or a is the NaN, which goes through)
    big, small = o.select(x_larger, ax, ay), o.select(x_larger, ay, ax)
    scale = o.select(o.gt(big, _TOP), 2.0 ** -_SHIFT, o.select(o.lt(big, _BOTTOM), 2.0 ** _SHIFT, 1.0))
    a, b = o.mul(big, scale), o.mul(small, scale)
    aa, bb = o.mul(a, a), o.mul(b, b)
    s = o.add(aa, bb)
    low = o.add(o.add(o.sub(aa, s), bb), o.add(o.fma(a, a, o.neg(aa)), o.fma(b, b, o.neg(bb))))
    h = o.sqrt(s)
    twice = o.select(o.gt(h, 0.0), o.add(h, h), 1.0)  # (h = 0 only where s = 0: no step)
    h = o.add(h, o.div(o.add(o.fma(o.neg(h), h, s), low), twice))
    unscale = o.select(o.gt(big, _TOP), 2.0 ** _SHIFT, o.select(o.lt(big, _BOTTOM), 2.0 ** -_SHIFT, 1.0))
    return o.select(_either_infinite(o, ax, ay), float("inf"), o.mul(h, unscale))


#: op name -> routine(FloatOps, *operands)
HYPOT_ROUTINES = {"hypot": hypot}
