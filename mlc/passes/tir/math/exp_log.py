"""exp, expm1, log, log1p, tanh, sigmoid and erf as branch-free polynomial code.

Each routine takes and returns a value of one :class:`~.emitter.Format`,
handles NaN, infinities, zeros and subnormals the way NumPy does, and uses
only operations every backend has on vectors too, so a loop calling it becomes SIMD code.
Coefficients come from :mod:`.coefficients` (fitted by ``tools/fit_vecmath.py``).

Algorithms (``r``, ``k`` from the Cody-Waite reduction ``x = k ln2 + r``,
``|r| <= ln2 / 2``, with ``ln2_hi`` short enough that ``k * ln2_hi`` is exact; ``k``
rounded by adding ``1.5 2^mant`` in the FMA by log2(e), which leaves it in the low bits):

* exp:     ``2^k (1 + t)``, ``t = r + r^2 q(r)`` ~ expm1(r), scaled in two steps
           (gradual underflow rounds once, overflow gives inf);
* expm1:   ``fma(2^k, t, 2^k - 1)``; exp's result once ``k > mant + 1``;
* log:     ``x = 2^k m``, ``m`` in [sqrt(1/2), sqrt 2) (subnormals pre-scaled),
           ``f = m - 1``, ``s = f / (2 + f)``,
           ``log = k ln2_hi + (f - (f^2/2 - (s (f^2/2 + s^2 q(s^2)) + k ln2_lo)))``;
* log1p:   ``log(u) + (x - (u - 1)) / u`` with ``u = 1 + x`` rounded (the quotient
           restores what the rounding of ``u`` lost);
* tanh:    ``sign(x) e / (e + 1)``, ``e = (e^(2|x|) - 1) / 2 = fma(2^k, t, (2^k - 1) / 2)``
           (2|x| reduced as for exp, halved), |x| clamped where tanh rounds to 1; for
           double, ``x + x^3 p(x^2)`` below ``|x| = 1/2`` (float: e is accurate
           enough there too, and one formula is a fifth cheaper);
* sigmoid: ``(x >= 0 ? 1 : e) / (1 + e)``, ``e = exp(-|x|)`` (never overflows);
* erf:     ``x p(x^2)`` for ``|x| < 1``; ``1 - exp(-x^2) g((|x| - 3) / (|x| + 3))``
           up to where erf rounds to 1 (4 for float, 6 for double).
"""
from __future__ import annotations

from collections.abc import Callable

from .coefficients import COEFFICIENTS, ERF_LARGE_END, TANH_SMALL_END
from .float_ops import FloatOps
from .fast import FAST_COEFFICIENTS, FAST_LOG_LOW, TANH_RATIONAL_END

__all__ = ["EXP_LOG_ROUTINES", "exp", "expm1", "log", "log1p", "tanh", "sigmoid", "erf", "log_split", "log_reduce",
           "tanh_step_denominator", "TANH_STEP_RANGE",
           "fast_log", "fast_log1p_f",
           "LOG2E", "EXP_RANGE"]

LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453

#: Arguments outside [lo, hi] give exp's overflow (inf) or underflow (0) anyway.
EXP_RANGE = {"float32": (-104.0, 89.0), "float64": (-746.0, 710.0)}
# |x| from which tanh(x) rounds to +-1.
_TANH_ONE = {"float32": 10.0, "float64": 20.0}
#: (lo, hi): :func:`tanh_step_denominator`'s clamp of ``sign z``. At lo, k (the integer
#: nearest -2 lo log2(e)) makes the scale 2^(k - 2) (2^(k - 1) for the whole 1 + e^(-2z))
#: infinite (float32: -2 lo = 90 = 129.8 ln 2, k = 130; float64: k = 1026), and so d is, as it
#: is where (1 + e^(-2z)) / 2 passes the largest float; above hi, e^(-2z) / 2 is below half an
#: ulp of 1/2 (and k stays in the normal range).
TANH_STEP_RANGE = {"float32": (-45.0, 10.0), "float64": (-355.5, 20.0)}
# (the whole denominator: k one less at the low end)
_TANH_STEP_WHOLE_LO = {"float32": -44.75, "float64": -355.25}
#: exp_q of :func:`tanh_step_denominator`'s polynomial, per format. float32: one degree below
#: exp's: its relative error (2^-22.9 of q, at most 2^-26 of e^r: r^2 q <= 0.07) moves the
#: quotient's by about 0.1 ulp, and each lane is one FMA and one live constant shorter.
_TANH_STEP_Q = {"float32": "exp_q_step", "float64": "exp_q"}


def _coeffs(o: FloatOps, name: str):
    key = (name, o.fmt.dtype)
    if o.fast and key in FAST_COEFFICIENTS:
        return FAST_COEFFICIENTS[key]
    return COEFFICIENTS[key]


def _reduce_shifted(o: FloatOps, x, times: int = 1, bias: int = 0, words: int = 2):
    """(shifted, t) with e^(times x) = 2^k (1 + times t), ``k`` the integer nearest ``times x
    log2(e)`` held in ``shifted``: ``x times log2(e) + 1.5 2^mant + bias`` rounded by one FMA
    to an integer, whose bits are the shifter's plus ``k + bias`` (no separate rounding and
    conversion). ``times``, a power of 2, is folded into the constants, exactly: ``r = times
    x - k ln2`` is ``times`` times the ``x - k ln2 / times`` computed, and the polynomial's
    coefficients are scaled to give ``t`` for it, so both are the values times 1 would give of
    ``times x``, divided by ``times``. ``words``: ln 2 in two words (Cody-Waite), or in one,
    the format's nearest, where ``k`` stays small enough that k times its error is below the
    result's rounding (tanh's k <= 29). ``x`` finite and in range."""
    ln2_hi, ln2_lo = o.fmt.ln2_split()
    shifter = 1.5 * 2.0 ** o.fmt.mant + bias
    shifted = o.fma(x, times * LOG2E, shifter)
    k = o.sub(shifted, shifter)
    if words == 1:
        return shifted, _expm1_poly(o, o.fma(o.neg(k), o.fmt.round(_LN2) / times, x), times)
    r = o.fma(o.neg(k), ln2_hi / times, x)  # exact (Sterbenz)
    r = o.fma(o.neg(k), ln2_lo / times, r)
    return shifted, _expm1_poly(o, r, times)


def _expm1_poly(o: FloatOps, r, times: int):
    """expm1(times r) / times: exp's polynomial with its coefficients scaled (exactly)."""
    q = [c * times ** (i + 1) for i, c in enumerate(_coeffs(o, "exp_q"))]
    return o.fma(o.mul(r, r), o.horner(r, q), r)


def _reduce(o: FloatOps, x):
    """(k as an integer, t ~ expm1(r)) with e^x = 2^k (1 + t); ``x`` finite and in range."""
    shifted, t = _reduce_shifted(o, x)
    return o.isub(o.bits(shifted), o.bits_of(1.5 * 2.0 ** o.fmt.mant)), t


def _exp_finite(o: FloatOps, x):
    lo, hi = EXP_RANGE[o.fmt.dtype]
    k, t = _reduce(o, o.clamp(x, lo, hi))
    return o.scale(o.add(t, 1.0), k)


def exp(o: FloatOps, x):
    """e^x; exp(inf) = inf, exp(-inf) = 0 (bounds: the table in :mod:`mlc.passes.tir.math`)."""
    return o.select(o.isnan(x), x, _exp_finite(o, o.finite_or_zero(x)))


def _expm1_finite(o: FloatOps, x):
    mant = o.fmt.mant
    _, hi = EXP_RANGE[o.fmt.dtype]
    lo = -float(mant + 3) * 0.6931471805599453  # below, e^x < ulp(1) / 4: the result rounds to -1
    k, t = _reduce(o, o.clamp(x, lo, hi))
    exact_k = o.select(o.igt(k, mant + 1), o.ci(mant + 1), k)
    s = o.pow2(exact_k)
    near = o.fma(s, t, o.sub(s, 1.0))
    far = o.scale(o.add(t, 1.0), k)
    return o.select(o.igt(k, mant + 1), far, near)


def expm1(o: FloatOps, x):
    """e^x - 1, accurate near 0 (zeros keep their sign)."""
    y = _expm1_finite(o, o.finite_or_zero(x))
    y = o.select(o.eq(x, 0.0), x, y)
    return o.select(o.isnan(x), x, y)


def log_split(o: FloatOps, x, subnormals: bool = True, low: float = 0.7071067811865476):
    """(k as a float, f) with ``x = 2^k (1 + f)``, ``1 + f`` in [low, 2 low) (by default
    [sqrt(1/2), sqrt 2)) and ``f`` exact, for ``x`` positive and finite; a subnormal ``x``
    is scaled into the normal range first, unless the caller knows there is none
    (``subnormals=False``: a float widened to double)."""
    fmt = o.fmt
    if subnormals:
        subnormal = o.lt(x, 2.0 ** (1 - fmt.bias))
        x = o.select(subnormal, o.mul(x, 2.0 ** fmt.mant), x)
    offset = o.bits(o.c(low))  # bits of low: m lands in [low, 2 low)
    ix = o.isub(o.bits(x), offset)
    k = o.ishr(ix, fmt.mant)
    if subnormals:
        k = o.iadd(k, o.select(subnormal, o.ci(-fmt.mant), o.ci(0)))
    kf = o.to_float(k)
    m = o.from_bits(o.iadd(o.iand(ix, (1 << fmt.mant) - 1), offset))
    return kf, o.sub(m, 1.0)


def log_reduce(o: FloatOps, x):
    """(k as a float, f, s, hfsq, r) with ``x = 2^k (1 + f)`` (:func:`log_split`), ``s = f /
    (2 + f)``, ``hfsq = f^2 / 2`` and ``log(1 + f) = f - (hfsq - s (hfsq + r))``; for ``x``
    positive and finite (other inputs give values :func:`log_specials` replaces)."""
    kf, f = log_split(o, x)
    s = o.div(f, o.add(f, 2.0))
    z = o.mul(s, s)
    r = o.mul(z, o.horner(z, _coeffs(o, "log_q")))
    hfsq = o.mul(o.mul(f, f), 0.5)
    return kf, f, s, hfsq, r


def log_specials(o: FloatOps, x, y):
    """``y`` (a logarithm of ``x`` computed for positive finite ``x``) with the special
    values: -inf at 0, nan below 0, inf at inf, NaN from NaN."""
    y = o.select(o.eq(x, float("inf")), x, y)
    y = o.select(o.eq(x, 0.0), float("-inf"), y)
    y = o.select(o.lt(x, 0.0), float("nan"), y)
    return o.select(o.isnan(x), x, y)


def fast_log1p_f(o: FloatOps, x):
    """(k as a float, log(1 + f)) with ``x = 2^k (1 + f)``, ``1 + f`` in [2/3, 4/3):
    fast_math float32's reduction (``f + f^2 P(f)``, no division; positive finite ``x``)."""
    kf, f = log_split(o, x, low=FAST_LOG_LOW)
    return kf, o.fma(o.mul(f, f), o.horner(f, FAST_COEFFICIENTS["log_p", "float32"]), f)


def fast_log(o: FloatOps) -> bool:
    """Whether ``o`` emits fast_math float32's logarithms (:func:`fast_log1p_f`)."""
    return o.fast and o.fmt.bits == 32


def log(o: FloatOps, x):
    """Natural logarithm: log(0) = -inf, log(x < 0) = nan, log(inf) = inf."""
    ln2_hi, ln2_lo = o.fmt.ln2_split()
    if fast_log(o):
        kf, ln = fast_log1p_f(o, x)
        return log_specials(o, x, o.fma(kf, ln2_hi, o.fma(kf, ln2_lo, ln)))
    kf, f, s, hfsq, r = log_reduce(o, x)
    y = o.fma(kf, ln2_hi, o.sub(f, o.sub(hfsq, o.fma(s, o.add(hfsq, r), o.mul(kf, ln2_lo)))))
    return log_specials(o, x, y)


def log1p(o: FloatOps, x):
    """log(1 + x), accurate near 0: ``u = 1 + x`` rounded, then ``log(u)`` corrected by
    the rounding error ``x - (u - 1)`` over ``u`` (log1p(-1) = -inf, below -1 nan, zeros
    keep their sign, log1p(inf) = inf)."""
    u = o.add(x, 1.0)
    lost = o.div(o.sub(x, o.sub(u, 1.0)), u)  # 0 where u is exact; nan at u = 0 or inf
    no_correction = o.or_(o.eq(u, 0.0), o.eq(u, float("inf")))
    y = o.add(log(o, u), o.select(no_correction, 0.0, lost))
    y = o.select(o.eq(x, 0.0), x, y)
    return o.select(o.isnan(x), x, y)


def _tanh_rational(o: FloatOps, x):
    """fast_math's float32 tanh: x P(x^2) / Q(x^2), x clamped to [-9, 9] (where tanh
    rounds to +-1); the clamps let NaN through, P(0) = Q(0) = 1 keeps -0 and tiny x."""
    c = o.clamp(x, -TANH_RATIONAL_END, TANH_RATIONAL_END)
    z = o.mul(c, c)
    p = o.horner(z, FAST_COEFFICIENTS["tanh_rational_p", o.fmt.dtype])
    q = o.horner(z, FAST_COEFFICIENTS["tanh_rational_q", o.fmt.dtype])
    return o.div(o.mul(c, p), q)


def tanh(o: FloatOps, x):
    """tanh(x): e / (e + 1) with e = (e^2|x| - 1) / 2 = fma(2^k, t, (2^k - 1) / 2) from
    exp's reduction of 2|x| (expm1 without its large-k branch: |x| is clamped where tanh
    rounds to 1, 2^k stays normal), the sign of x put back; +-1 at +-inf, NaN from NaN.
    The factor 2 lives in the reduction's constants and the halved e (both exact), so
    float32 is one formula of 18 vector operations and a division: no rounding or
    conversion of k (the shifter's FMA), no doubling of |x|, no select for NaN, ln 2 in
    one word (k <= 29: 29 times float(ln 2)'s error of 1.9e-9 moves r by less than its
    rounding; measured: the same max error).

    Near 0, e is t itself (k = 0), accurate to 1.5 ulps, and the quotient adds two
    roundings: 2.5 ulps for float (measured 2.42). Double keeps within 1.5 ulps with
    |x| + |x|^3 p(x^2) below |x| = 1/2. fast_math float32: a rational function
    (:func:`_tanh_rational`)."""
    if o.fast and ("tanh_rational_p", o.fmt.dtype) in FAST_COEFFICIENTS:
        return _tanh_rational(o, x)
    a = o.abs(x)
    one = _TANH_ONE[o.fmt.dtype]
    # min(|x|, one_from) with NaN passed through (the compare is false): NaN then carries
    # through t, e and the quotient, and no select at the end has to put it back (k's bits
    # are integer operations of any value: no conversion of NaN to an integer)
    clamped = o.select(o.gt(a, one), one, a)
    # e^(2|x|) = 2^k (1 + 2 t), the format's exponent bias added to k in the shifter
    shifted, t = _reduce_shifted(o, clamped, times=2, bias=o.fmt.bias, words=1 if o.fmt.bits == 32 else 2)
    # 2^k: the bits of k + bias shifted into the exponent field (the shifter's own bits
    # shift out: 1.5 2^mant's lowest set bit is bit mant - 1)
    s = o.from_bits(o.ishl(o.bits(shifted), o.fmt.mant))
    # e = (e^(2|x|) - 1) / 2 = 2^k t + (2^k - 1) / 2, and tanh|x| = e / (e + 1): the values
    # of the e / (e + 2) of expm1(2|x|), halved exactly
    e = o.fma(s, t, o.fma(s, 0.5, -0.5))
    large = o.div(e, o.add(e, 1.0))
    if ("tanh_small", o.fmt.dtype) not in COEFFICIENTS:  # float32
        # large >= 0 (or NaN): x's sign bit or'ed in (one instruction fewer than copysign)
        return o.from_bits(o.ior(o.bits(large), o.iand(o.bits(x), -(1 << (o.fmt.bits - 1)))))
    z = o.mul(a, a)
    small = o.fma(o.mul(a, z), o.horner(z, _coeffs(o, "tanh_small")), a)
    # NaN picks the small branch (the compare is false), which carries it
    return o.copysign(o.select(o.ge(a, TANH_SMALL_END), large, small), x)


def tanh_step_denominator(o: FloatOps, z, sign: int = 1, whole: bool = False):
    """d = (1 + e^(-2 sign z)) / 2, the denominator of ``1 + sign tanh(z) = 1 / d`` (the
    exact identity ``1 + tanh(z) = 2 sigmoid(2z)``): a product ``a (1 + tanh(z))`` is
    ``a / d``, without the cancellation of ``1 + tanh(z)`` for negative z, where tanh is
    near -1 (the sum's absolute error is tanh's, up to e^(2z) times the quotient's relative
    one). ``whole``: 2d = 1 + e^(-2 sign z), the denominator of ``(a / 2) (1 + tanh(z))``.

    ``z`` clamped to :data:`TANH_STEP_RANGE` (NaN passes), then exp's reduction of -2 sign z
    (the factor folded into the constants, exactly, as tanh's), with the format's bias less
    two in the shifter, so that its bits shifted into the exponent field are 2^(k - 2):
    ``d = fma(2^(k - 2), P(r'), 1/2)``, ``r'`` the reduced argument and ``P(r') = 2 e^(r')`` exp's
    polynomial with its constant and linear terms, by Horner's rule (one FMA less than exp's
    ``1 + (r + r^2 q(r))``, measured within the same bound; float32's of degree 6, one below
    exp's: :data:`_TANH_STEP_Q`), one rounding of a product that
    overflows to inf only where d does. d is infinite at the clamp's low end too (2^(k - 2)
    is), where ``a / d`` is 0 of a's sign (NaN for an infinite a, as the sum form's ``inf *
    0``): +-inf and NaN need no select. 14 operations: two clamps, the shifter's FMA, k, two
    Cody-Waite FMAs, the polynomial (6 FMAs), the shift, the last FMA."""
    lo, hi = TANH_STEP_RANGE[o.fmt.dtype]
    if whole:
        lo = _TANH_STEP_WHOLE_LO[o.fmt.dtype]
    c = o.clamp(z, lo, hi) if sign > 0 else o.clamp(z, -hi, -lo)
    times = -2 * sign
    ln2_hi, ln2_lo = o.fmt.ln2_split()
    shifter = 1.5 * 2.0 ** o.fmt.mant + o.fmt.bias - (1 if whole else 2)
    # e^(times c) = 2^k e^(times r), the shifter holding k + bias - 2 (or - 1)
    shifted = o.fma(c, times * LOG2E, shifter)
    k = o.sub(shifted, shifter)
    r = o.fma(o.neg(k), ln2_hi / times, c)  # exact (Sterbenz)
    r = o.fma(o.neg(k), ln2_lo / times, r)
    # 2 e^(times r) = 2 + 2 times r + 2 sum q_i (times r)^(i + 2): each coefficient exact
    q = _coeffs(o, "exp_q" if o.fast else _TANH_STEP_Q[o.fmt.dtype])
    poly = [2.0, 2.0 * times] + [2.0 * c_i * times ** (i + 2) for i, c_i in enumerate(q)]
    scale = o.from_bits(o.ishl(o.bits(shifted), o.fmt.mant))  # 2^(k - 2) (or 2^(k - 1))
    return o.fma(scale, o.horner(r, poly), 1.0 if whole else 0.5)


def sigmoid(o: FloatOps, x):
    """1 / (1 + e^-x), as e^x / (1 + e^x) for x < 0 so small results keep their precision."""
    xs = o.finite_or_zero(x)
    e = _exp_finite(o, o.neg(o.abs(xs)))
    y = o.div(o.select(o.ge(xs, 0.0), 1.0, e), o.add(e, 1.0))
    return o.select(o.isnan(x), x, y)


def erf(o: FloatOps, x):
    """erf(x): a polynomial below |x| = 1, 1 - exp(-x^2) g(u) above; +-1 at +-inf."""
    a = o.abs(o.finite_or_zero(x))
    hi, lo, *rest = _coeffs(o, "erf_small")  # the constant term is hi + lo
    z = o.mul(a, a)
    small = o.fma(a, hi, o.mul(a, o.fma(z, o.horner(z, rest), lo)))
    c = o.clamp(a, 1.0, float(ERF_LARGE_END[o.fmt.dtype]))
    g = o.horner(o.div(o.sub(c, 3.0), o.add(c, 3.0)), _coeffs(o, "erfc_large"))
    large = o.fma(o.neg(_exp_finite(o, o.neg(o.mul(c, c)))), g, 1.0)
    y = o.copysign(o.select(o.lt(a, 1.0), small, large), x)
    return o.select(o.isnan(x), x, y)


#: op name -> routine(FloatOps, x)
EXP_LOG_ROUTINES: dict[str, Callable] = {"exp": exp, "expm1": expm1, "log": log, "log1p": log1p, "tanh": tanh,
                                 "sigmoid": sigmoid, "erf": erf}
