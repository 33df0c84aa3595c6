"""sin, cos and tan of whole vectors of doubles, as vector code.

libm's ``sin`` is a scalar call: a loop calling it stays scalar, some 8 ns an
element (NumPy's float64 ``np.sin`` calls it too). A vector of doubles that the llvm
backend's vectorize pass makes of such a loop goes through :func:`vector_trig64`
instead: every lane with ``|x| < FAST_LIMIT64`` is reduced and evaluated in vector
arithmetic (some 4 times libm's speed on a Zen 4 core), within 0.8 ulp of the exact
value (tan: 0.95); a vector holding a larger, infinite or NaN lane is computed by
libm lane by lane, out of line.

* **reduction** (Cody-Waite in four parts): ``k = round(|x| 2/pi)``, below 2^20,
  and pi/2 = ``P1 + P2 + P3 + P4``, the first three 33 significant bits each so
  that ``k P1``, ``k P2`` and ``k P3`` are exact, ``P4`` the next 53 (about 2^-152
  left out). ``|x| - k P1`` is exact (Sterbenz), the next two subtractions keep their
  rounding errors (TwoSum), and ``r = r_hi + r_lo`` in [-pi/4, pi/4] comes out as two
  doubles, some 2^-100 relative where r is not itself near 0, and where it is (a
  double close to a multiple of pi/2: the subtractions then cancel exactly) only
  ``k P4``'s rounding, some 2^-130, is lost;
* **polynomials** (Taylor's, of the reduced range: the remainders are below 2^-62
  relative): ``sin r = r_hi + (r_hi z S(z) + r_lo (1 - z/2))`` and ``cos r = w +
  (((1 - w) - z/2) - e/2 + z^2 C(z) - r_hi r_lo)``, ``z = r_hi^2`` rounded with its
  error ``e`` (an FMA), ``w = 1 - z/2`` rounded (``(1 - w) - z/2`` is that rounding,
  exactly): the last addition is the only rounding of consequence;
* **quadrants** as the float32 routines choose them (:func:`.trig.combine_quadrants`):
  sin r, cos r, -sin r, -cos r for sin; cos r, -sin r, -cos r, sin r for cos; tan is
  ``sin r / cos r`` in even quadrants and ``-cos r / sin r`` in odd ones, each side kept
  as two doubles and the quotient (one division: the denominator's reciprocal) corrected
  once by its residual.

sin and tan are odd (computed on |x|, the sign put back, so zeros keep theirs), cos even.
Measured against exact values over 25 million doubles (``np.longdouble``): within 0.74
ulp (sin), 0.75 (cos) and 0.89 (tan), where libm's are within 0.51; the tests hold the
stated bounds against Decimal at ordinary arguments, near pi/4 and at the doubles
closest to multiples of pi/2 (the closest below 2^21, 45.553093477052, lies 2^-60.5
from 29 pi/2: the reduction's fourth part is what keeps it right).
"""
from __future__ import annotations

from math import factorial

from llvmlite import ir

from .emitter import FORMATS, FloatOps
from .trig import combine_quadrants, pio2_parts, quadrant_bit, unless_slow_lanes

__all__ = ["vector_trig64", "FAST_LIMIT64", "PIO2_PARTS"]

#: The magnitude below which a lane is reduced in vector code: its quadrant count ``k``
#: then has at most 20 bits, and ``k`` times each 33-bit part of pi/2 is exact.
FAST_LIMIT64 = 2.0 ** 20
_SIN = tuple((-1) ** n / factorial(2 * n + 1) for n in range(1, 9))  # -1/3!, 1/5!, ..., 1/17!
_COS = tuple((-1) ** n / factorial(2 * n) for n in range(2, 10))  # 1/4!, -1/6!, ..., -1/18!
_TWO_OVER_PI = 0.6366197723675814


#: pi/2 in four parts: three of 33 significant bits, then the next 53 (:func:`.trig.pio2_parts`).
PIO2_PARTS = pio2_parts(33, 33, 33)


def reduce64(d: FloatOps, a):
    """(k, r_hi, r_lo): ``a = k pi/2 + r_hi + r_lo`` for ``0 <= a < FAST_LIMIT64``, ``k`` a
    double holding an integer."""
    p1, p2, p3, p4 = PIO2_PARTS
    k = d.roundeven(d.mul(a, _TWO_OVER_PI))
    t = d.fma(d.neg(k), p1, a)  # exact
    s, e1 = d.two_sum(t, d.mul(d.neg(k), p2))  # (k P2 exact)
    s, e2 = d.two_sum(s, d.mul(d.neg(k), p3))  # (k P3 exact)
    lo = d.fma(d.neg(k), p4, d.add(e1, e2))
    r_hi, r_lo = d.fast_two_sum(s, lo)
    return k, r_hi, r_lo


def sin_cos64(d: FloatOps, r_hi, r_lo):
    """((sin hi, sin lo), (cos hi, cos lo)) of ``r_hi + r_lo`` in [-pi/4, pi/4]."""
    z = d.mul(r_hi, r_hi)
    z_error = d.fma(r_hi, r_hi, d.neg(z))
    hz = d.mul(z, 0.5)
    t = d.fma(d.mul(r_hi, z), d.horner(z, _SIN), d.mul(r_lo, d.sub(1.0, hz)))
    sin = d.fast_two_sum(r_hi, t)
    w = d.sub(1.0, hz)
    tail = d.sub(d.sub(1.0, w), hz)  # exact: 1 - hz's rounding error
    tail = d.add(tail, d.fma(d.mul(z, z), d.horner(z, _COS), d.fma(z_error, -0.5, d.neg(d.mul(r_hi, r_lo)))))
    cos = d.fast_two_sum(w, tail)
    return sin, cos


def _quotient(d: FloatOps, num, den):
    """``(num_hi + num_lo) / (den_hi + den_lo)``: ``num_hi`` times the reciprocal of ``den_hi``
    (within an ulp or two), corrected once by its residual (exact by an FMA) times the
    same reciprocal: one division."""
    inverse = d.div(1.0, den[0])
    q = d.mul(num[0], inverse)
    residual = d.sub(d.add(d.fma(d.neg(q), den[0], num[0]), num[1]), d.mul(q, den[1]))
    return d.fma(residual, inverse, q)


def _combine64(op: str, d: FloatOps, q, sin, cos, negative):
    """``op``'s value from the quadrant ``q`` (an int vector), sin r and cos r (each as two
    doubles) and x's sign: sin and cos as the float32 routines choose them
    (:func:`.trig.combine_quadrants`, the high parts); tan the quotient of the pairs."""
    if op != "tan":
        return combine_quadrants(op, d, q, sin[0], cos[0], negative, d.ci)
    odd = quadrant_bit(d.b, q, 1, d.ci)
    num = tuple(d.select(odd, c, s) for s, c in zip(sin, cos))
    den = tuple(d.select(odd, s, c) for s, c in zip(sin, cos))
    y = _quotient(d, num, den)
    return d.select(d.b.xor(odd, negative), d.neg(y), y)


def vector_trig64(builder: ir.IRBuilder, op: str, x: ir.Value, lane_by_lane: ir.Function) -> ir.Value:
    """``op(x)`` (sin, cos or tan) of every lane of the double vector ``x``: lanes with
    ``|x| < FAST_LIMIT64`` as the module docstring says; where any lane is larger, infinite
    or NaN, a branch LLVM is told is rarely taken computes the vector by ``lane_by_lane``
    (libm's function on each lane in turn, out of line: ``@__mlc_math.sin.f64.lanes.v8``)::

        %slow = fcmp uge <8 x double> %ax, splat (double 0x4130000000000000)
        ...                                   ; reduction and polynomials
        %any = icmp ne i8 (bitcast %slow), 0
        br i1 %any, label %sin.lanes, label %sin.join   ; !prof: unlikely
    """
    b = builder
    d = FloatOps(b, FORMATS["float64"], lanes=x.type.count)
    ax = d.abs(x)
    slow = b.fcmp_unordered(">=", ax, d.c(FAST_LIMIT64))
    a = d.select(slow, 0.0, ax)  # (slow lanes reduce 0: no out-of-range conversion)
    k, r_hi, r_lo = reduce64(d, a)
    sin, cos = sin_cos64(d, r_hi, r_lo)
    q = b.and_(d.to_int(k), d.ci(3))
    negative = b.icmp_signed("<", d.bits(x), d.ci(0))
    fast = _combine64(op, d, q, sin, cos, negative)
    return unless_slow_lanes(b, op, slow, fast, x, lane_by_lane)
