"""log2, log10, sinh, cosh, asinh, acosh, atanh and erfinv built from exp, expm1, log and log1p.

No polynomial of their own: each is a few operations around the routines of
:mod:`.exp_log`, so they vectorise as those do (libm's ``sinhf``, ``log10f``...
are scalar calls, and kept a loop calling them scalar: 4 to 20 times slower than
NumPy's SIMD loops on an AVX-512 machine).

* log2, log10: ``x = 2^k (1 + f)`` as for log, ``log(1 + f)`` kept as two words
  ``hi + lo`` (``hi = f - f^2/2`` rounded, ``lo`` what that rounding and the rest of
  the series add), multiplied by ``1/ln 2`` (``1/ln 10``) held as two words, with the
  product's rounding error recovered by an FMA, then ``k`` (``k log10 2``, also two
  words) added last: exact at powers of 2 (and ``log10(10^n) = n`` for every power
  of ten a float holds exactly);
  (``fast_math`` float32: ``k + L / ln 2`` and ``k log10(2) + L / ln 10`` with ``L =
  log(1 + f)`` of fast log's reduction, no second words: within 1e-6 relative, exact at
  powers of 2);
* cosh: ``h + 1/(4h)`` with ``h = e^|x| / 2`` computed as exp does, its scale
  lowered by one (so it overflows where cosh does, not where e^x does);
* sinh: ``(2t - t^2/(t + 1)) / 2`` with ``t = expm1(|x|)`` below ``|x| = 1``, else
  ``h - 1/(4h)``, both from one reduction of |x|; the sign of x put back;
* asinh: ``log1p(|x| + x^2 / (1 + sqrt(1 + x^2)))`` up to 2,
  ``log(2|x| + 1 / (sqrt(x^2 + 1) + |x|))`` up to ``2^((mant + 3) / 2)`` (where
  the second term no longer matters), ``log|x| + ln 2`` above; the sign put back;
* acosh: ``log1p(t + sqrt(2t + t^2))`` with ``t = x - 1`` (exact) up to 2, then as
  asinh: ``log(2x - 1 / (x + sqrt(x^2 - 1)))``, ``log x + ln 2``; nan below 1;
* atanh: ``log1p(2a + 2a^2 / (1 - a)) / 2`` below ``a = |x| = 1/2``, else
  ``log1p(2a / (1 - a)) / 2``; the sign put back (inf at 1, nan beyond).

The three logarithms of asinh and acosh are one log1p of an argument chosen per
element (``log v = log1p(v - 1)``, and ``v - 1`` is exact or loses less than the
logarithm keeps), so each routine inlines one logarithm, not three.
"""
from __future__ import annotations

from decimal import Decimal, localcontext

from ....ir.erfinv import BRANCHES as ERFINV_BRANCHES
from .float_ops import FloatOps
from .exp_log import _reduce, fast_log, fast_log1p_f, log, log1p, log_reduce, log_specials

__all__ = ["log2", "log10", "sinh", "cosh", "asinh", "acosh", "atanh", "erfinv", "COMPOSITE_ROUTINES"]


def _words(o: FloatOps, value: Decimal) -> tuple[float, float]:
    """(hi, lo): ``value`` rounded to the format, and the rest rounded again."""
    hi = o.fmt.round(float(value))
    return hi, o.fmt.round(float(value - Decimal(hi)))


def _constant(name: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        two, ten = Decimal(2), Decimal(10)
        return {"1/ln2": 1 / two.ln(), "1/ln10": 1 / ten.ln(), "log10(2)": two.log10(),
                "ln2": two.ln()}[name]


def _log_words(o: FloatOps, x):
    """(k as a float, hi, lo) with log(x) = k ln 2 + hi + lo, ``hi`` the rounded
    ``f - f^2/2`` (:func:`~.exp_log.log_reduce`) and ``lo`` its rounding error (exact,
    as |f| > f^2/2), the rounding error of f^2/2 (an FMA) and the series' remaining
    terms; for positive finite ``x``."""
    kf, f, s, hfsq, r = log_reduce(o, x)
    hi = o.sub(f, hfsq)
    hfsq_error = o.fma(o.mul(f, 0.5), f, o.neg(hfsq))  # f^2/2 - hfsq, exactly
    lo = o.sub(o.fma(s, o.add(hfsq, r), o.sub(o.sub(f, hi), hfsq)), hfsq_error)
    return kf, hi, lo


def _times(o: FloatOps, hi, lo, constant: Decimal):
    """(p, q): ``(hi + lo) * constant ~ p + q``, ``p`` the rounded ``hi * c_hi`` and ``q``
    its rounding error (an FMA) plus the cross terms."""
    c_hi, c_lo = _words(o, constant)
    p = o.mul(hi, c_hi)
    q = o.add(o.fma(hi, c_hi, o.neg(p)), o.fma(hi, c_lo, o.mul(lo, c_hi)))
    return p, q


def log2(o: FloatOps, x):
    """Base-2 logarithm: ``k + (hi + lo) / ln 2`` (special values as log's)."""
    if fast_log(o):
        kf, ln = fast_log1p_f(o, x)
        return log_specials(o, x, o.fma(ln, float(_constant("1/ln2")), kf))
    kf, hi, lo = _log_words(o, x)
    p, q = _times(o, hi, lo, _constant("1/ln2"))
    w = o.add(kf, p)  # |k| >= 1 > |p|, or k = 0 and w = p: (k - w) + p is w's rounding error
    y = o.add(w, o.add(o.add(o.sub(kf, w), p), q))
    return log_specials(o, x, y)


def log10(o: FloatOps, x):
    """Base-10 logarithm: ``k log10(2) + (hi + lo) / ln 10`` (special values as log's)."""
    if fast_log(o):
        kf, ln = fast_log1p_f(o, x)
        a_hi, a_lo = _words(o, _constant("log10(2)"))
        return log_specials(o, x, o.fma(kf, a_hi, o.fma(ln, float(_constant("1/ln10")), o.mul(kf, a_lo))))
    kf, hi, lo = _log_words(o, x)
    p, q = _times(o, hi, lo, _constant("1/ln10"))
    a_hi, a_lo = _words(o, _constant("log10(2)"))
    kh = o.mul(kf, a_hi)
    ke = o.fma(kf, a_hi, o.neg(kh))  # k log10(2)_hi's rounding error
    w = o.add(kh, p)  # |k log10 2| >= 0.30 > 0.16 >= |p| unless k = 0: (kh - w) + p is exact
    rest = o.add(o.add(o.sub(kh, w), p), o.add(q, o.fma(kf, a_lo, ke)))
    return log_specials(o, x, o.add(w, rest))


# |x| past which e^|x| / 2 overflows (the clamp keeps the reduction's k in range)
_HALF_EXP_TOP = {"float32": 90.0, "float64": 711.0}


def _half_exp(o: FloatOps, a):
    """e^a / 2 for ``a >= 0`` (NaN and inf give inf: they are clamped to where it overflows)."""
    top = _HALF_EXP_TOP[o.fmt.dtype]
    k, t = _reduce(o, o.select(o.lt(a, top), a, top))
    return o.scale(o.add(t, 1.0), o.isub(k, 1))


def cosh(o: FloatOps, x):
    """cosh(x) = h + 1/(4h), ``h = e^|x| / 2``; inf at +-inf, NaN from NaN."""
    h = _half_exp(o, o.abs(x))
    y = o.add(h, o.div(0.25, h))
    return o.select(o.isnan(x), x, y)


def sinh(o: FloatOps, x):
    """sinh(x): ``(2t - t^2/(t + 1)) / 2`` with ``t = expm1(|x|)`` below |x| = 1, ``h -
    1/(4h)`` above, both from one reduction of |x| (expm1's near-zero form: there ``k``
    is 0 or 1); zeros keep their sign, NaN gives NaN."""
    a = o.abs(x)
    top = _HALF_EXP_TOP[o.fmt.dtype]
    k, t = _reduce(o, o.select(o.lt(a, top), a, top))
    s = o.pow2(o.select(o.igt(k, 1), o.ci(1), k))  # (k > 1: unused)
    m1 = o.fma(s, t, o.sub(s, 1.0))  # e^|x| - 1 for |x| < 1
    h = o.scale(o.add(t, 1.0), o.isub(k, 1))
    below = o.lt(a, 1.0)
    # one division for both forms: m1^2 / (m1 + 1) below 1, 1/4 / h above
    q = o.div(o.select(below, o.mul(m1, m1), 0.25), o.select(below, o.add(m1, 1.0), h))
    small = o.mul(o.sub(o.mul(m1, 2.0), q), 0.5)
    large = o.sub(h, q)
    y = o.copysign(o.select(below, small, large), x)
    return o.select(o.isnan(x), x, y)


def _big(o: FloatOps) -> float:
    """|x| from which asinh(x) = log 2|x| and acosh(x) = log 2x to the format's precision."""
    return 2.0 ** ((o.fmt.mant + 3) // 2)


def asinh(o: FloatOps, x):
    """asinh(x) as one log1p of an argument chosen by |x| (see the module docstring)."""
    a = o.abs(x)
    big = _big(o)
    t = o.mul(a, a)
    root = o.sqrt(o.add(t, 1.0))
    over2 = o.gt(a, 2.0)  # one division for both forms: t / (root + 1), 1 / (root + a)
    q = o.div(o.select(over2, 1.0, t), o.add(root, o.select(over2, a, 1.0)))
    small = o.add(a, q)  # a <= 2
    mid = o.sub(o.add(o.mul(a, 2.0), q), 1.0)  # log v = log1p(v - 1)
    huge = o.sub(a, 1.0)
    arg = o.select(o.gt(a, 2.0), o.select(o.gt(a, big), huge, mid), small)
    y = log1p(o, arg)
    y = o.select(o.gt(a, big), o.add(y, float(_constant("ln2"))), y)
    y = o.copysign(y, x)
    return o.select(o.isnan(x), x, y)


def acosh(o: FloatOps, x):
    """acosh(x) for x >= 1 as one log1p (see the module docstring); nan below 1."""
    big = _big(o)
    t = o.sub(x, 1.0)  # exact for x in [1, 2]
    small = o.add(t, o.sqrt(o.fma(t, t, o.mul(t, 2.0))))
    mid = o.sub(o.sub(o.mul(x, 2.0), o.div(1.0, o.add(x, o.sqrt(o.fma(x, x, -1.0))))), 1.0)
    arg = o.select(o.gt(x, 2.0), o.select(o.gt(x, big), t, mid), small)
    y = log1p(o, arg)
    y = o.select(o.gt(x, big), o.add(y, float(_constant("ln2"))), y)
    y = o.select(o.lt(x, 1.0), float("nan"), y)
    return o.select(o.isnan(x), x, y)


def atanh(o: FloatOps, x):
    """atanh(x) = log1p(2a / (1 - a)) / 2 for a = |x| (a small-argument form below 1/2),
    the sign put back: +-inf at +-1, nan beyond."""
    a = o.abs(x)
    one_minus = o.sub(1.0, a)
    twice = o.mul(a, 2.0)
    below = o.lt(a, 0.5)  # one division for both forms: 2a^2 / (1 - a), 2a / (1 - a)
    q = o.div(o.select(below, o.mul(twice, a), twice), one_minus)
    y = o.mul(log1p(o, o.select(below, o.add(twice, q), q)), 0.5)
    return o.copysign(y, x)


#: op name -> routine(FloatOps, x)
def erfinv(o: FloatOps, x):
    """The inverse error function by Giles' polynomials in ``w = -log((1 - x)(1 + x))``
    (:mod:`mlc.ir.erfinv`, the same operations in the same order, not fused): every
    polynomial computed, the one of w's range chosen; +-inf at +-1, NaN beyond."""
    w = o.neg(log(o, o.mul(o.sub(1.0, x), o.add(1.0, x))))
    root = o.sqrt(w)
    p = None
    for bound, of_root, centre, coefficients in reversed(ERFINV_BRANCHES[o.fmt.dtype]):
        t = o.sub(root if of_root else w, centre)
        q = o.c(coefficients[0])
        for c in coefficients[1:]:
            q = o.add(c, o.mul(q, t))
        p = q if p is None else o.select(o.lt(w, bound), q, p)
    return o.select(o.eq(o.abs(x), 1.0), o.copysign(o.c(float("inf")), x), o.mul(p, x))


COMPOSITE_ROUTINES = {"log2": log2, "log10": log10, "sinh": sinh, "cosh": cosh, "asinh": asinh,
                      "acosh": acosh, "atanh": atanh, "erfinv": erfinv}
