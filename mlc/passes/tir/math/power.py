"""pow(x, y) and cbrt(x) as branch-free code: |x|^y = e^(y log|x|), then C99's special
values (cbrt: :func:`cbrt`).

libm's ``pow`` and ``powf`` are scalar calls (a loop calling them stays scalar: 4 times
slower than NumPy's SIMD loop on an AVX-512 machine). An error d in ``y log|x|`` is a
relative error d in the result, and ``|y log|x||`` reaches 104 (float) or 745 (double)
before the result overflows or underflows, so the logarithm needs more than the format's
precision:

* float32: computed in double (:func:`_magnitude_via_double`: a logarithm to 2^-44 and
  an exponential to 2^-37, shortened from the double routines to what float needs) and
  rounded once to float: within 0.5002 ulp over 16 million pairs, integer powers exact
  (faster than with the double routines whole: benchmarks/results/decisions.md);
* float64: the logarithm as two doubles to some 2^-64 (:func:`_log_double_double`), ``y``
  times it as two doubles, and the exponential of that pair (:func:`_exp_double_double`),
  its last addition the only rounding of weight: within 0.61 ulp of the exact value,
  ``|y log|x||`` up to the overflow included (measured over 8 million pairs; libm's,
  here NumPy's SIMD pow, 0.71); integer powers a double holds come out
  exact (its speed against libm's: benchmarks/results/decisions.md, "LLVM backend").

Special values (NumPy's, from C99): ``pow(x, +-0) = 1`` and ``pow(1, y) = 1`` even for
NaN; otherwise NaN in, NaN out; a negative x gives NaN unless y is an integer (then the
sign of ``(-1)^y``); ``pow(+-0, y)`` and ``pow(+-inf, y)`` are 0 or inf by the signs of
y and of the exponent's effect, negative for a negative x and odd integer y;
``pow(x, +-inf)`` is 0, 1 or inf by whether ``|x|`` is below, at or above 1.
"""
from __future__ import annotations

from math import factorial

from .coefficients import COEFFICIENTS
from .exp_log import EXP_RANGE, LOG2E, log_split
from .float_ops import FloatOps

__all__ = ["pow", "cbrt", "POWER_ROUTINES"]


#: 2 / (2n + 1) for n = 1..7: log m = 2s + s^3 R(s^2), to some 2^-44 of log m for |s| <= 0.1716.
_ATANH_FLOAT = tuple(2.0 / (2 * n + 1) for n in range(1, 8))
#: 1 / n! for n = 2..9: e^r = 1 + r + r^2 Q(r), to some 2^-37 for |r| <= ln2 / 2.
_EXP_FLOAT = tuple(1.0 / factorial(n) for n in range(2, 10))
#: fast_math's (within 1e-6 relative): log m to some 2^-29, e^r to degree 7 (5e-9).
_ATANH_FLOAT_FAST, _EXP_FLOAT_FAST = _ATANH_FLOAT[:4], _EXP_FLOAT[:6]
#: |y log x| beyond which a float32 result is 0 or inf (2^-150 and 2^128 with a margin).
_FLOAT_EXP_RANGE = (-110.0, 95.0)


def _magnitude_via_double(o: FloatOps, ax, y):
    """|x|^y for float ``ax`` > 0 and ``y``, both finite: ``e^(y log ax)`` in double, rounded
    once to float. float's result needs ``y log ax`` to some 2^-34 (it is at most 110 before
    the result is 0 or inf), so the double logarithm and exponential here are shortened
    from the double routines': ``ax`` widened is a normal double (no subnormal path), ``log
    m = 2s + s^3 R(s^2)`` to 2^-44, ``e^r`` by Taylor to degree 9 (2^-37), and ``2^n`` always a
    normal double (|n| < 160), one exact product."""
    d = o.with_format("float64")
    k, f = log_split(d, o.widen(ax, d.dtype), subnormals=False)
    s = d.div(f, d.add(f, 2.0))
    z = d.mul(s, s)
    log_m = d.fma(d.mul(s, z), d.horner(z, _ATANH_FLOAT_FAST if o.fast else _ATANH_FLOAT), d.add(s, s))
    ln2_hi, ln2_lo = d.fmt.ln2_split()
    log_x = d.fma(k, ln2_hi, d.fma(k, ln2_lo, log_m))
    v = d.clamp(d.mul(log_x, o.widen(y, d.dtype)), *_FLOAT_EXP_RANGE)
    n = d.roundeven(d.mul(v, LOG2E))
    r = d.fma(d.neg(n), ln2_lo, d.fma(d.neg(n), ln2_hi, v))
    e = d.fma(d.mul(r, r), d.horner(r, _EXP_FLOAT_FAST if o.fast else _EXP_FLOAT), d.add(r, 1.0))
    return o.narrow(d.mul(e, d.pow2(d.to_int(n))))


#: 2 / (2n + 1) for n = 3..13: log m = 2s + 2s^3/3 + 2s^5/5 + s^7 R(s^2) with R(z) = sum 2
#: z^(n-3) / (2n + 1), the remainder below 2^-66 of log m for |s| <= 0.1716 (m in
#: [sqrt(1/2), sqrt 2)).
_ATANH_TAIL = tuple(2.0 / (2 * n + 1) for n in range(3, 14))
_TWO_THIRDS_HI, _TWO_THIRDS_LO = 2.0 / 3.0, float.fromhex("0x1.5555555555555p-55")  # 2/3, to 2^-107
_TWO_FIFTHS_HI, _TWO_FIFTHS_LO = 0.4, float.fromhex("-0x1.999999999999ap-56")  # 2/5, to 2^-108


def _product(d: FloatOps, x, y):
    """``(x_hi + x_lo)(y_hi + y_lo)`` as two doubles: the high parts' product, and its
    rounding error (an FMA) plus the cross terms (``x_lo y_lo`` left out). An operand's
    parts may be Python floats (a constant held as two doubles)."""
    (x_hi, x_lo), (y_hi, y_lo) = x, y
    p = d.mul(x_hi, y_hi)
    return p, d.add(d.fma(x_hi, y_hi, d.neg(p)), d.fma(x_lo, y_hi, d.mul(x_hi, y_lo)))


def _log_double_double(d: FloatOps, ax):
    """log(ax) as (hi, lo), some 2^-64 relative, for a double ``ax`` > 0, finite: ``ax = 2^k
    m`` with m in [sqrt(1/2), sqrt 2) (subnormals pre-scaled), ``f = m - 1`` (exact), ``s =
    f / (2 + f)`` as two doubles (one division, of 1: the residual of ``f (1/u)`` is exact
    by an FMA, and the reciprocal scales it well enough), ``log m = 2s
    + 2s^3/3 + 2s^5/5 + s^7 R(s^2)`` with the first three terms as two doubles, ``k ln 2`` as
    ``k ln2_hi`` (exact) plus ``k ln2_lo``."""
    k, f = log_split(d, ax)
    u = d.add(f, 2.0)
    u_lo = d.add(d.sub(2.0, u), f)  # (exact: |2| >= |f|)
    inverse = d.div(1.0, u)
    s = d.mul(f, inverse)  # (within an ulp or two of f / u: s_lo makes up the rest)
    s_lo = d.mul(d.sub(d.fma(d.neg(s), u, f), d.mul(s, u_lo)), inverse)  # (f - s (u + u_lo)) / u
    square = _product(d, (s, s_lo), (s, s_lo))
    cube = _product(d, square, (s, s_lo))
    fifth_power = _product(d, cube, square)
    third, third_lo = _product(d, cube, (_TWO_THIRDS_HI, _TWO_THIRDS_LO))  # 2s^3/3
    fifth, fifth_lo = _product(d, fifth_power, (_TWO_FIFTHS_HI, _TWO_FIFTHS_LO))  # 2s^5/5
    z, s5 = square[0], fifth_power[0]
    rest = d.mul(d.mul(s5, z), d.horner(z, _ATANH_TAIL))
    ln2_hi, ln2_lo = d.fmt.ln2_split()
    hi, e1 = d.two_sum(d.mul(k, ln2_hi), d.add(s, s))  # (k ln2_hi exact: 11 + 32 bits)
    hi, e2 = d.two_sum(hi, third)  # (terms reaching 2^-60 of log m join hi, not lo)
    hi, e3 = d.two_sum(hi, fifth)
    small = d.add(third_lo, d.add(fifth_lo, d.fma(k, ln2_lo, rest)))
    lo = d.add(d.add(e1, d.add(e2, e3)), d.add(d.add(s_lo, s_lo), small))
    return d.fast_two_sum(hi, lo)


def _exp_double_double(d: FloatOps, v, v_lo):
    """e^(v + v_lo) for a double ``v`` (its result finite, zero or infinite by its size) and
    ``v_lo`` below some 2^-44 |v|: ``v = n ln2 + r``, ``n ln2_hi`` exact, the rest of the
    reduction and ``v_lo`` kept beside ``r`` as ``r_lo``, then ``2^n ((1 + r) + c + r_lo
    (1 + r + c))`` with ``c = r^2 q(r)`` of exp's polynomial and ``1 + r`` as two doubles,
    so that the last addition is the one rounding of weight; scaled in two steps."""
    lo_end, hi_end = EXP_RANGE["float64"]
    out = d.or_(d.lt(v, lo_end), d.gt(v, hi_end))
    v_lo = d.select(out, 0.0, v_lo)
    v = d.clamp(v, lo_end, hi_end)
    ln2_hi, ln2_lo = d.fmt.ln2_split()
    n = d.roundeven(d.mul(v, LOG2E))
    r = d.fma(d.neg(n), ln2_hi, v)  # exact (Sterbenz)
    r, r_lo = d.two_sum(r, d.mul(d.neg(n), ln2_lo))
    r_lo = d.add(r_lo, v_lo)
    c = d.mul(d.mul(r, r), d.horner(r, COEFFICIENTS["exp_q", "float64"]))  # e^r = 1 + r + c
    p, e = d.fast_two_sum(1.0, r)
    tail = d.add(e, d.add(c, d.fma(r_lo, d.add(r, c), r_lo)))  # (e^(r + r_lo) = e^r (1 + r_lo))
    return d.scale(d.add(p, tail), d.to_int(n))


def _magnitude64(d: FloatOps, ax, y):
    """|x|^y for double ``ax`` > 0 and ``y``, both finite: ``e^(y log ax)``, the logarithm as
    two doubles (:func:`_log_double_double`), ``y`` times it as two doubles (an FMA gives
    the product's rounding error), then :func:`_exp_double_double`: within 1 ulp."""
    hi, lo = _log_double_double(d, ax)
    v = d.mul(y, hi)
    v_lo = d.fma(y, lo, d.fma(y, hi, d.neg(v)))
    return _exp_double_double(d, v, v_lo)


def pow(o: FloatOps, x, y):
    """x ** y with NumPy's (C99's) special values: float in double (:func:`_magnitude_via_double`),
    double by :func:`_magnitude64`."""
    inf = float("inf")
    ax, ay = o.abs(x), o.abs(y)
    finite_x = o.lt(ax, inf)
    finite_y = o.lt(ay, inf)
    usable = o.and_(finite_x, o.gt(ax, 0.0))  # (false for NaN)
    sx = o.select(usable, ax, 1.0)
    sy = o.select(finite_y, y, 0.0)
    magnitude = _magnitude64(o, sx, sy) if o.fmt.bits == 64 else _magnitude_via_double(o, sx, sy)
    half = o.floor(o.mul(sy, 0.5))
    integer = o.and_(finite_y, o.eq(o.floor(sy), sy))
    odd = o.and_(integer, o.eq(o.sub(sy, o.mul(half, 2.0)), 1.0))
    negative_x = o.sign_bit(x)  # (-0 and -inf too)
    signed = o.select(odd, o.neg(magnitude), magnitude)
    # the NaN an invalid operation gives on x86 (sign bit set), as libm's and NumPy's
    invalid = o.from_bits(o.ci(-(1 << (o.fmt.mant - 1))))
    r = o.select(o.lt(x, 0.0), o.select(integer, signed, invalid), magnitude)
    # x = +-0 or +-inf: 0 or inf, negative for a negative x and an odd integer y
    zero_or_inf = o.select(o.xor(o.eq(ax, inf), o.gt(y, 0.0)), 0.0, inf)
    zero_or_inf = o.select(o.and_(negative_x, odd), o.neg(zero_or_inf), zero_or_inf)
    r = o.select(o.or_(o.eq(ax, 0.0), o.eq(ax, inf)), zero_or_inf, r)
    # y = +-inf: 0, 1 or inf by |x| against 1
    by_size = o.select(o.xor(o.gt(ax, 1.0), o.gt(y, 0.0)), 0.0, inf)
    r = o.select(o.eq(ay, inf), o.select(o.eq(ax, 1.0), 1.0, by_size), r)
    r = o.select(o.or_(o.isnan(x), o.isnan(y)), o.add(x, y), r)  # (a NaN operand, quieted)
    return o.select(o.or_(o.eq(y, 0.0), o.eq(x, 1.0)), 1.0, r)


def _cube_residual(o: FloatOps, y, a):
    """(``y^3 - a``, ``y^2`` rounded) for ``y`` within 2^-22 of ``a^(1/3)``: the rounding errors
    of ``y^2`` and ``y^3`` recovered by FMAs and ``y^3 - a`` exact (the two that close), so
    the residual is all but exact."""
    y2 = o.mul(y, y)
    y2_error = o.fma(y, y, o.neg(y2))
    y3 = o.mul(y2, y)
    return o.add(o.sub(y3, a), o.fma(y2_error, y, o.fma(y2, y, o.neg(y3)))), y2


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
    residual, y2 = _cube_residual(d, y, a)
    y = d.sub(y, d.div(residual, d.mul(y2, 3.0)))
    return d.mul(y, d.select(big, 2.0 ** 333, d.select(tiny, 2.0 ** -333, 1.0)))


#: The cube root's first guess from a double's high word ``h``: ``h / 3 + _CBRT_BIAS`` (the
#: exponent divided by 3, the bias put back, less a shift that centres the guess's error).
_CBRT_BIAS = 715094163  # (1023 - 1023/3 - 0.03306235651) 2^20


def _cbrt_halley(d: FloatOps, a):
    """The cube root of a normal double ``a`` > 0 to some 47 bits: a first guess from the
    bits (the high word divided by 3, within some 5 bits), then two Halley steps
    ``t (2a + t^3) / (a + 2 t^3)`` (cubic: to 16, then 47 bits)."""
    high = d.ishr(d.bits(a), 32)  # (a > 0: the high word, below 2^31)
    guess = d.iadd(_third(d, high), _CBRT_BIAS)
    t = d.from_bits(d.ishl(guess, 32))
    for _ in range(2):
        t3 = d.mul(d.mul(t, t), t)
        t = d.mul(t, d.div(d.add(d.add(a, a), t3), d.add(a, d.add(t3, t3))))
    return t


def _third(w: FloatOps, i):
    """``i // 3`` for an integer ``0 <= i < 2^32`` of ``w``'s 64-bit integers: ``(i ceil(2^33 /
    3)) >> 33``, exact over that range (no division: every backend multiplies vectors)."""
    return w.ishr(w.imul(i, 0xAAAAAAAB), 33)


#: fast_math float32's first guess of a^(-1/3) from the bits of a float ``a``: ``K - bits / 3``
#: (within 3.5% for every normal a; a search over the constant with NumPy).
_RCBRT_FLOAT = 0x54A232A4


def _cbrt_float_scaled(o: FloatOps, ax):
    """(y, t, a, unscale) for a float ``ax`` > 0, finite, in float: ``a`` is ``ax`` scaled
    by 2^-+102 where it lies beyond 2^+-100 (so that ``t^3`` below stays normal), ``unscale``
    the root's factor back (2^+-34); ``t ~ a^(-1/3)`` from the bits and two Newton steps ``t
    (4 - a t^3) / 3`` (no division: 3.5% -> 5e-3 -> 2e-5), ``y = a t^2`` and one
    correction ``y - (y^3 - a) t^2 / 3`` (which squares the error): ``y`` within 8e-8 of
    ``a^(1/3)``."""
    big, tiny = o.gt(ax, 2.0 ** 100), o.lt(ax, 2.0 ** -100)
    a = o.mul(ax, o.select(big, 2.0 ** -102, o.select(tiny, 2.0 ** 102, 1.0)))
    words = o.with_format("float64")  # (its ints: the quotient of 32-bit bits by 3 in 64)
    third = words.narrow_int(_third(words, words.widen_int(o.bits(a))), o.fmt.int_dtype)
    t = o.from_bits(o.isub(_RCBRT_FLOAT, third))
    for _ in range(2):  # (a t and t^2 side by side: a shorter chain)
        t = o.mul(t, o.fma(o.mul(o.mul(a, t), o.mul(t, t)), -1.0 / 3.0, 4.0 / 3.0))
    y = o.mul(o.mul(a, t), t)
    y = o.fma(o.neg(o.fma(o.mul(y, y), y, o.neg(a))), o.mul(o.mul(t, t), 1.0 / 3.0), y)
    return y, t, a, o.select(big, 2.0 ** 34, o.select(tiny, 2.0 ** -34, 1.0))


def _cbrt_float_fast(o: FloatOps, ax):
    """fast_math's cube root of a float ``ax`` > 0, finite: :func:`_cbrt_float_scaled`'s
    root, in float throughout (within 8e-8 relative)."""
    y, _, _, unscale = _cbrt_float_scaled(o, ax)
    return o.mul(y, unscale)


def _cbrt_float(o: FloatOps, ax):
    """The cube root of a float ``ax`` > 0, finite: :func:`_cbrt_float_scaled`'s root (within
    8e-8), then one more correction ``y - (y^3 - a) t^2 / 3`` whose residual ``y^3 - a`` is
    exact (the errors of ``y^2`` and ``y^3`` from FMAs; ``y^3 - a`` itself is exact, the
    two within 2^-22 of each other) and whose ``t^2 / 3`` stands for ``1 / (3 y^2)`` to 2e-5
    (no division): the correction is then within some 2e-12 of the root's, and the one
    FMA that applies it rounds once: within a hair of half an ulp (a cube's root comes
    out exact), all in float, faster than Halley steps in double (four divisions) or this
    with the last step in double (its conversions)."""
    y, t, a, unscale = _cbrt_float_scaled(o, ax)
    residual, _ = _cube_residual(o, y, a)
    y = o.fma(o.neg(residual), o.mul(o.mul(t, t), 1.0 / 3.0), y)
    return o.mul(y, unscale)


def cbrt(o: FloatOps, x):
    """The cube root with the sign of x: two Halley steps in double from a guess made of the
    bits (:func:`_cbrt_halley`) refined by a Newton step for double (:func:`_cbrt_double`);
    for float Newton steps in float, the last with an exact residual
    (:func:`_cbrt_float`; fast_math: :func:`_cbrt_float_fast`, without it);
    zeros, infinities and NaN as they are."""
    ax = o.abs(x)
    usable = o.and_(o.lt(ax, float("inf")), o.gt(ax, 0.0))  # (false for NaN)
    safe = o.select(usable, ax, 1.0)
    if o.fmt.bits == 64:
        root = _cbrt_double(o, safe)
    else:
        root = (_cbrt_float_fast if o.fast else _cbrt_float)(o, safe)
    return o.select(usable, o.copysign(root, x), x)


#: op name -> routine(FloatOps, *operands)
POWER_ROUTINES = {"pow": pow, "cbrt": cbrt}
