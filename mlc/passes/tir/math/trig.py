"""sin, cos and tan as float TIR: a branch-free reduction by pi/2 for ordinary arguments,
the backend's own function of double for the rare large ones.

libm's ``sin`` is a scalar call, and a loop calling it stays scalar (some 8 ns an element);
this code is arithmetic and selects, so a loop computing it becomes vector code (a
backend's vectorize pass makes its local scalars vector ``Let``s). Every lane with
``|x| < 2^20`` is reduced here, exactly enough that the result rounds as if the reduction
were exact; a lane that is larger, infinite or NaN takes ``op`` of double, the call the
backend has natively (libm's, NumPy's in the reference interpreter), under a ``Select``
that a backend may compute only where a lane needs it: the llvm codegen branches on "any
lane large", a branch that is all but never taken, in a vectorized loop and in a serial
one, whose call LLVM's loop vectorizer widens to a masked vector form of it
(:func:`mlc.backends.llvm.selects.call_out_of_line`). (float32's large lanes reduced here,
by every part of 2/pi and no table, cost some 60 operations of double that LLVM's loop
vectorizer computed on every lane: benchmarks/results/decisions.md.)

* **float32** (computed in double, rounded once): ``k = round(|x| 2/pi)`` and ``r = |x| -
  k hi - k lo`` (pi/2 = hi + lo, hi of 33 bits: ``k hi`` is exact for ``k < 2^20``, the
  first difference too); the reduction's error, some 2^-66, is far below the smallest
  ``|r|`` a float that small leaves. ``sin r = r + r^3 S(r^2)`` (Taylor to degree 11, under
  1e-11 relative on [-pi/4, pi/4]) and ``cos r = 1 - r^2/2 + r^4 C(r^2)`` (to degree 10,
  under 2e-10). A large lane is double's ``sin`` of the widened float, rounded to float:
  within 0.5 ulp plus 2^-29. ``fast_math``: the polynomials and quadrants in float
  (within 1e-6 relative: :data:`.fast.FAST_BOUNDS`), the reduction staying double's.
* **float64** (Cody-Waite in four parts): pi/2 = ``P1 + P2 + P3 + P4``, the first three of
  33 significant bits so that ``k P1``, ``k P2`` and ``k P3`` are exact, ``P4`` the next 53.
  ``|x| - k P1`` is exact (Sterbenz), the next two subtractions keep their rounding errors
  (TwoSum), and ``r = r_hi + r_lo`` comes out as two doubles, some 2^-100 relative (where r
  is near 0, a double close to a multiple of pi/2, only ``k P4``'s rounding, some 2^-130, is
  lost). ``sin r = r_hi + (r_hi z S(z) + r_lo (1 - z/2))`` and ``cos r = w + (((1 - w) -
  z/2) - e/2 + z^2 C(z) - r_hi r_lo)``, ``z = r_hi^2`` with its error ``e`` (an FMA), ``w =
  1 - z/2`` rounded (Taylor's to degrees 17 and 18, under 2^-62 relative); tan is the
  quotient of the two pairs, corrected once by its residual (one division).
* **quadrants** ``q = k mod 4``: sin r, cos r, -sin r, -cos r for sin; cos r, -sin r,
  -cos r, sin r for cos; ``sin r / cos r`` in even quadrants and ``-cos r / sin r`` in odd
  ones for tan. sin and tan are odd (computed on ``|x|``, the sign put back: zeros keep
  theirs), cos even. sin, cos and tan of +-inf are NaN, NaN propagates.

Max errors, in ulps of the exact value (tests/backends/test_vector_trig.py and
test_vector_math.py): float32 and float16 0.51 (sin, cos, tan); float64 sin and cos 0.8,
tan 0.95 (0.74, 0.75 and 0.89 measured over 25 million doubles), lanes of 2^20 or more
libm's.

>>> from mlc.passes.tir.math.float_ops import FORMATS
>>> x = Var("x", "float32")
>>> str(sin(FloatOps(FORMATS["float32"]), x)).count('T.sin(T.Cast("float64", x))')
1
"""
from __future__ import annotations

from math import factorial

from ....ir.expr import PrimExpr, Var, call, const, make_binary
from .float_ops import FloatOps, pi_fixed

__all__ = ["sin", "cos", "tan", "TRIG_ROUTINES", "FAST_LIMIT", "FAST_LIMIT64", "PIO2_PARTS", "pio2_parts"]

#: The magnitude below which a lane is reduced here (float32 and float64): its quadrant
#: count ``k`` then has at most 20 bits, and ``k`` times a 33-bit part of pi/2 is exact.
FAST_LIMIT = FAST_LIMIT64 = 2.0 ** 20
_TWO_OVER_PI = 0.6366197723675814
#: float32's polynomials (in double): -1/3!, 1/5!, ... -1/11! and 1/4!, -1/6!, ... -1/10!.
_SIN32 = tuple((-1) ** (n + 1) / factorial(2 * n + 3) for n in range(5))
_COS32 = tuple((-1) ** n / factorial(2 * n + 4) for n in range(4))
#: fast_math float32's sin polynomial (in float): to degree 9 (under 2e-9 relative).
_SIN_FAST = _SIN32[:4]
#: float64's: -1/3!, 1/5!, ..., 1/17! and 1/4!, -1/6!, ..., -1/18!.
_SIN64 = tuple((-1) ** n / factorial(2 * n + 1) for n in range(1, 9))
_COS64 = tuple((-1) ** n / factorial(2 * n) for n in range(2, 10))


def pio2_parts(*widths: int) -> tuple[float, ...]:
    """pi/2 as a sum of doubles: a part of each of ``widths`` significant bits in turn (a
    part of 33 bits times a ``k < 2^20`` is exact), then the rest rounded to a double.

    >>> pio2_parts(33)
    (1.5707963267341256, 6.077100506506192e-11)
    """
    bits = 300
    rest = pi_fixed(bits)  # floor(pi 2^bits): pi/2 = pi / 2^(bits + 1)
    parts, top = [], rest.bit_length()
    for width in widths:
        cut = top - width
        part = rest >> cut << cut
        parts.append(part / 2 ** (bits + 1))  # (exact: int / int rounds correctly)
        rest, top = rest - part, cut
    return (*parts, rest / 2 ** (bits + 1))


#: pi/2 as hi + lo (float32's reduction) and in four parts (float64's).
_PIO2_HI, _PIO2_LO = pio2_parts(33)
PIO2_PARTS = pio2_parts(33, 33, 33)


def _bit(q: PrimExpr, n: int) -> PrimExpr:
    """Whether the bit mask ``n`` of the integer ``q`` is set."""
    return make_binary("gt", make_binary("bitand", q, const(n, q.dtype)), const(0, q.dtype))


def _sin_cos(p: FloatOps, r, sin_terms, cos_terms):
    """(sin r, cos r) for ``r`` in [-pi/4, pi/4] in ``p``'s arithmetic."""
    z = p.mul(r, r)
    return (p.fma(p.mul(r, z), p.horner(z, sin_terms), r),
            p.fma(p.mul(z, z), p.horner(z, cos_terms), p.fma(z, -0.5, 1.0)))


def _combine(op: str, p: FloatOps, q, s, c, negative):
    """``op``'s value (of ``p``'s format) from the quadrant ``q`` (an integer), sin r, cos r
    and x's sign (a bool)."""
    odd = _bit(q, 1)
    if op == "sin":
        y = p.select(odd, c, s)
        return p.select(p.xor(_bit(q, 2), negative), p.neg(y), y)
    if op == "cos":
        y = p.select(odd, s, c)
        return p.select(_bit(make_binary("add", q, const(1, q.dtype)), 2), p.neg(y), y)  # quadrants 1, 2
    y = p.div(p.select(odd, p.neg(c), s), p.select(odd, s, c))
    return p.select(negative, p.neg(y), y)


def _quotient(d: FloatOps, num, den):
    """``(num_hi + num_lo) / (den_hi + den_lo)``: ``num_hi`` times the reciprocal of ``den_hi``,
    corrected once by its residual (exact by an FMA) times the same reciprocal."""
    inverse = d.div(1.0, den[0])
    q = d.mul(num[0], inverse)
    residual = d.sub(d.add(d.fma(d.neg(q), den[0], num[0]), num[1]), d.mul(q, den[1]))
    return d.fma(residual, inverse, q)


def _large(o: FloatOps, op: str, x64: PrimExpr) -> PrimExpr:
    """``op`` of the double ``x64`` by the backend's own function (libm's), in ``o``'s format."""
    y = call(op, x64)
    return y if o.fmt.bits == 64 else o.narrow(y)


def _quadrant(d: FloatOps, k):
    """``k mod 4`` (in the low bits) as an integer, for an integer-valued double ``0 <= k <
    2^51``: the bits of ``k + 1.5 2^52``, whose significand's low bits then hold ``k`` (the
    shifter's own low bits are 0; no conversion: AVX2 has none of double to int64)."""
    return d.iand(d.bits(d.add(k, 1.5 * 2.0 ** 52)), 3)


def _trig32(op: str, o: FloatOps, x):
    d = o.with_format("float64")
    ax = o.abs(x)
    ordinary = o.lt(ax, FAST_LIMIT)  # (false for inf and NaN)
    a = o.widen(o.select(ordinary, ax, 0.0), "float64")  # (large lanes reduce 0 here)
    k = d.roundeven(d.mul(a, _TWO_OVER_PI))
    r = d.fma(d.neg(k), _PIO2_LO, d.fma(d.neg(k), _PIO2_HI, a))
    q = _quadrant(d, k)
    negative = o.sign_bit(x)
    if o.fast:  # the polynomials and quadrants in float
        r32 = o.narrow(r)
        value = _combine(op, o, q, *_sin_cos(o, r32, _SIN_FAST, _COS32), negative)
    else:
        value = o.narrow(_combine(op, d, q, *_sin_cos(d, r, _SIN32, _COS32), negative))
    return o.select(ordinary, value, _large(o, op, o.widen(x, "float64")))


def _trig64(op: str, d: FloatOps, x):
    ax = d.abs(x)
    ordinary = d.lt(ax, FAST_LIMIT64)
    a = d.select(ordinary, ax, 0.0)
    p1, p2, p3, p4 = PIO2_PARTS
    k = d.roundeven(d.mul(a, _TWO_OVER_PI))
    t = d.fma(d.neg(k), p1, a)  # exact
    s, e1 = d.two_sum(t, d.mul(d.neg(k), p2))  # (k P2 exact)
    s, e2 = d.two_sum(s, d.mul(d.neg(k), p3))  # (k P3 exact)
    r_hi, r_lo = d.fast_two_sum(s, d.fma(d.neg(k), p4, d.add(e1, e2)))
    z = d.mul(r_hi, r_hi)
    z_error = d.fma(r_hi, r_hi, d.neg(z))
    hz = d.mul(z, 0.5)
    sin = d.fast_two_sum(r_hi, d.fma(d.mul(r_hi, z), d.horner(z, _SIN64), d.mul(r_lo, d.sub(1.0, hz))))
    w = d.sub(1.0, hz)
    tail = d.sub(d.sub(1.0, w), hz)  # exact: 1 - hz's rounding error
    tail = d.add(tail, d.fma(d.mul(z, z), d.horner(z, _COS64), d.fma(z_error, -0.5, d.neg(d.mul(r_hi, r_lo)))))
    cos = d.fast_two_sum(w, tail)
    q = _quadrant(d, k)
    negative = d.sign_bit(x)
    if op == "tan":
        odd = _bit(q, 1)
        y = _quotient(d, tuple(d.select(odd, c, s) for s, c in zip(sin, cos)),
                      tuple(d.select(odd, s, c) for s, c in zip(sin, cos)))
        value = d.select(d.xor(odd, negative), d.neg(y), y)
    else:
        value = _combine(op, d, q, sin[0], cos[0], negative)
    return d.select(ordinary, value, _large(d, op, x))


def _routine(op: str):
    def routine(o: FloatOps, x):
        return _trig64(op, o, x) if o.fmt.bits == 64 else _trig32(op, o, x)
    routine.__name__ = routine.__qualname__ = op
    routine.__doc__ = f"{op}(x) (see the module docstring)."
    return routine


sin, cos, tan = _routine("sin"), _routine("cos"), _routine("tan")

#: op name -> routine(FloatOps, x)
TRIG_ROUTINES = {"sin": sin, "cos": cos, "tan": tan}
