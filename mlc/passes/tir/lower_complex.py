"""lower_complex: complex arithmetic and math written once, as float TIR.

Every operation on complex values becomes arithmetic on their float parts, so
a backend needs only the storage of a complex value (a ``{re, im}`` pair, as
NumPy stores it) and three primitives: ``T.complex(re, im)``, ``T.real(z)``
and ``T.imag(z)``. What comes out:

* ``+``, ``-``; ``*`` as NumPy's array loop, ``fma(xr, yr, -xi yi) + fma(xr, yi,
  xi yr) j`` (no infinity recovery); ``/`` by Smith's algorithm, step by step
  as NumPy's, on operands scaled by powers of two where they are huge or tiny
  (NumPy's gives inf or NaN for a subnormal divisor; this one the quotient);
  ``==`` (both parts equal) and ``!=``; selects part by part;
* casts: a real value becomes the real part (imaginary +0), a complex one keeps
  its real part as a real dtype and is true as a bool when a part is nonzero;
* ``abs`` (``hypot``), ``exp``, ``log``, ``sqrt``, ``sinh``, ``cosh``,
  ``tanh``, ``asinh``, ``acos``, ``acosh`` and ``atanh`` with C99 Annex G's
  special values (infinities, NaNs, signed zeros: what NumPy's libm calls
  give), complex64's computed in float64 and rounded once; ``sin``, ``cos``,
  ``tan``, ``asin`` and ``atan`` by Annex G's definitions (``csin(z) = -j
  csinh(jz)``, ...); the inverse functions are Hull, Fairgrieve and Tang's
  arcsine and arccosine and Kahan's ``atanh``;
* ``expm1``, ``log1p``, ``log2`` and ``log10`` as NumPy's own formulas, in the
  parts' dtype; ``conj``, ``isnan``, ``isinf``, ``isfinite`` part by part.

A backend with a native routine for a complex math call (the llvm backend's
libm ``csin``, ``cacos``, ...: what NumPy itself calls) registers it with
:func:`mlc.backends.intrinsics.register_intrinsic_lowering` for the complex
dtype, and :func:`complex_lowering_for` keeps that call; everything else is
expanded here, so a new backend gets complex numbers for free and the
reference interpreter runs the very algorithm the backends run.

>>> from mlc.ir.expr import Var
>>> z, w = Var("z", "complex128"), Var("w", "complex128")
>>> lower_complex_expr(z + w)
T.complex(T.real(z) + T.real(w), T.imag(z) + T.imag(w))
>>> lower_complex_expr((z == w))
T.real(z) == T.real(w) and T.imag(z) == T.imag(w)
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from ...ir import dtype as dt
from ...ir.analysis.census import dtypes
from ...ir.expr import Binary, BufferLoad, Call, Cast, PrimExpr, Select, call, cast, const, select
from ...ir.functor import pre_order_nodes
from ...ir.tir import PrimFunc
from .statement_scalars import StatementScalars, memoized, small

__all__ = ["lower_complex", "complex_lowering_for", "lower_complex_expr", "COMPLEX_MATH", "ROUNDED_PRODUCTS"]

Pair = tuple[PrimExpr, PrimExpr]

#: The attribute of a function whose complex values this pass wrote out: its formulas round
#: each float product before any sum, as NumPy's loops do, so a backend that would fuse a
#: product into an add (CUDA C's default contraction) must round its products on their own;
#: only the formulas' explicit ``fma`` calls are fused.
ROUNDED_PRODUCTS = "mlc.rounded_products"

#: Above this x, exp(x) overflows (1023 ln 2): :func:`_exp_times` scales the factors first.
EXP_EDGE = 1023 * math.log(2.0)
#: Parts beyond 2**+-EDGE are scaled by 2**-+SHIFT (exactly) before hypot or a square root.
EDGE, SHIFT = 1000, 600
_LN2 = math.log(2.0)
_HALF_PI, _PI = math.pi / 2, math.pi
_INF, _NAN = math.inf, math.nan


# ---------------------------------------------------------------- helpers on parts

def _k(value: float, like: PrimExpr) -> PrimExpr:
    return const(value, like.dtype)


def _first(cases: list[tuple[PrimExpr, Pair]], default: Pair) -> Pair:
    """The pair of the first case whose condition holds, else ``default`` (C's early returns)."""
    re, im = default
    for cond, (r, i) in reversed(cases):
        re, im = select(cond, r, re), select(cond, i, im)
    return re, im


# The float intrinsics the formulas call, by name.
_isinf = functools.partial(call, "isinf")
_isfinite = functools.partial(call, "isfinite")
_isnan = functools.partial(call, "isnan")
_abs = functools.partial(call, "abs")
_copysign = functools.partial(call, "copysign")


def _neg(v):
    """``v`` with its sign bit flipped, a NaN's too (Annex G takes an infinity's sign from a
    NaN's in ``acos``, and NumPy's sign needs the flip)."""
    return _copysign(v, -_copysign(_k(1.0, v), v))


def _times_j(z: Pair) -> Pair:
    return _neg(z[1]), z[0]


def _times_minus_j(z: Pair) -> Pair:
    return z[1], _neg(z[0])


def _scaled(x, y):
    """(x 2**k, y 2**k, k): k = -SHIFT for huge parts, SHIFT for tiny ones, else 0 (exact), so
    that hypot and sqrt neither overflow nor lose a subnormal's digits."""
    ax, ay = _abs(x), _abs(y)
    big = select(ax >= ay, ax, ay)
    huge, tiny = big > _k(2.0 ** EDGE, x), big < _k(2.0 ** -EDGE, x)
    k = select(huge, _k(-SHIFT, x), select(tiny, _k(SHIFT, x), _k(0.0, x)))
    factor = select(huge, _k(2.0 ** -SHIFT, x), select(tiny, _k(2.0 ** SHIFT, x), _k(1.0, x)))
    return x * factor, y * factor, k


def _exp_times(x, c, s, half: bool) -> Pair:
    """exp(x) (c + s j), halved with ``half``, where exp(x) alone may overflow and the product
    not: above EXP_EDGE, c and s are scaled by exp(EXP_EDGE) (twice at most; halved the first
    time) before exp takes the rest of x, as glibc's cexp does."""
    h = _k(0.5 if half else 1.0, x)
    edge = _k(EXP_EDGE, x)
    for _ in range(2):
        big = x > edge
        factor = _k(math.exp(EXP_EDGE), x) * h
        c, s = select(big, c * factor, c), select(big, s * factor, s)
        x, h = select(big, x - edge, x), select(big, _k(1.0, x), h)
    r = call("exp", x) * h
    return r * c, r * s


# ---------------------------------------------------------------- the functions (float64 parts)

def _exp(x, y) -> Pair:
    """exp(x) (cos y + j sin y); y == 0 gives exp(x) + y j; an infinite x with a non-finite y
    gives (inf, NaN) for +inf, (0, +-0) for -inf."""
    pos = x > _k(0.0, x)
    return _first([(y == _k(0.0, y), (call("exp", x), y)),
                   (_isinf(x) & ~_isfinite(y), (select(pos, x, _k(0.0, x)),
                                                 select(pos, _k(_NAN, x), _copysign(_k(0.0, y), y))))],
                  _exp_times(x, call("cos", y), call("sin", y), False))


def _log(x, y) -> Pair:
    """log|z| + j atan2(y, x); where the larger part a is in [0.5, 2], log|z| is
    log1p((a - 1)(a + 1) + c^2) / 2 with c the smaller part (a - 1 is exact there)."""
    ax, ay = _abs(x), _abs(y)
    a, c = select(ax >= ay, ax, ay), select(ax >= ay, ay, ax)
    one = _k(1.0, x)
    near = call("log1p", (a - one) * (a + one) + c * c) * _k(0.5, x)
    sx, sy, k = _scaled(x, y)  # log|z| = log|z 2**k| - k log 2
    far = call("log", call("hypot", sx, sy)) - k * _k(_LN2, x)
    return select((a >= _k(0.5, x)) & (a <= _k(2.0, x)), near, far), call("atan2", y, x)


def _sqrt(x, y) -> Pair:
    """The principal root: t = sqrt((|x| + |z|) / 2); x >= 0 gives t + j y / 2t, x < 0 gives
    |y| / 2t + j copysign(t, y); a zero z gives +0 + y j, an infinite y +inf + y j."""
    sx, sy, k = _scaled(x, y)  # sqrt(z) = sqrt(z 2**k) 2**(-k/2)
    h = call("hypot", sx, sy)
    nonneg = sx >= _k(0.0, x)
    t = call("sqrt", (select(nonneg, sx, -sx) + h) * _k(0.5, x))
    over = select(nonneg, sy, _abs(sy)) / (_k(2.0, x) * t)
    unscale = select(k > _k(0.0, x), _k(2.0 ** (-SHIFT // 2), x),
                     select(k < _k(0.0, x), _k(2.0 ** (SHIFT // 2), x), _k(1.0, x)))
    return _first([((x == _k(0.0, x)) & (y == _k(0.0, y)), (_k(0.0, x), y)),
                   (_isinf(y), (_k(_INF, x), y))],
                  (select(nonneg, t, over) * unscale, select(nonneg, over, _copysign(t, sy)) * unscale))


def _sinh(x, y) -> Pair:
    """sinh x cos y + j cosh x sin y; y == 0 gives sinh x + y j; a zero or infinite x with a
    non-finite y gives (x, NaN) or (+inf, NaN); beyond |x| = EXP_EDGE, where cosh x overflows
    before cos y or sin y scales it, e^|x| / 2 (cos y + j sin y)."""
    wr, wi = _exp_times(_abs(x), call("cos", y), call("sin", y), True)
    return _first([(y == _k(0.0, y), (call("sinh", x), y)),
                   (((x == _k(0.0, x)) | _isinf(x)) & ~_isfinite(y), (select(_isinf(x), _abs(x), x), y - y)),
                   (_abs(x) > _k(EXP_EDGE, x), (_copysign(_k(1.0, x), x) * wr, wi))],
                  (call("sinh", x) * call("cos", y), call("cosh", x) * call("sin", y)))


def _cosh(x, y) -> Pair:
    """cosh x cos y + j sinh x sin y; y == 0 gives cosh x + (y sign x) j (y j for a NaN x); a
    zero x with a non-finite y gives (NaN, 0), an infinite one (+inf, NaN); a large |x| as sinh."""
    wr, wi = _exp_times(_abs(x), call("cos", y), call("sin", y), True)
    signed = select(_isnan(x), y, y * _copysign(_k(1.0, x), x))
    return _first([(y == _k(0.0, y), (call("cosh", x), signed)),
                   ((x == _k(0.0, x)) & ~_isfinite(y), (y - y, _k(0.0, x))),
                   (_isinf(x) & ~_isfinite(y), (x * x, y - y)),
                   (_abs(x) > _k(EXP_EDGE, x), (wr, _copysign(_k(1.0, x), x) * wi))],
                  (call("cosh", x) * call("cos", y), call("sinh", x) * call("sin", y)))


#: Beyond this |x|, tanh(x + yj) is sign(x) + 4 sin y cos y e^(-2|x|) j in double precision.
_TANH_FAR = 22.0


def _tanh(x, y) -> Pair:
    """Kahan's formula: t = tan y, s = sinh x, rho = sqrt(1 + s^2), beta = 1 + t^2 give
    (beta rho s + t j) / (1 + beta s^2); beyond |x| = 22 (or an infinite x) sign(x) + 4 sin y
    cos y e^(-2|x|) j (a zero of y's sign for a non-finite y); y == 0 gives tanh x + y j; a
    zero x with a non-finite y gives (x, NaN)."""
    one = _k(1.0, x)
    tail = select(_isfinite(y), _k(4.0, x) * (call("sin", y) * call("cos", y)) * call("exp", _k(-2.0, x) * _abs(x)),
                  _copysign(_k(0.0, y), y))
    t, s = call("tan", y), call("sinh", x)
    beta, rho = one + t * t, call("sqrt", one + s * s)
    den = one + beta * (s * s)
    return _first([(y == _k(0.0, y), (call("tanh", x), y)),
                   ((x == _k(0.0, x)) & ~_isfinite(y), (x, y - y)),
                   ((_abs(x) > _k(_TANH_FAR, x)) & (_isfinite(y) | _isinf(x)), (_copysign(one, x), tail))],
                  (beta * rho * s / den, t / den))


def _asin_first(a, b, cosine: bool) -> Pair:
    """asin(a + b j) for finite a, b >= 0 (Hull, Fairgrieve and Tang): its real part (acos's
    with ``cosine``) and its imaginary part acosh(A), A = (|z + 1| + |z - 1|) / 2, B = a / A."""
    one, half = _k(1.0, a), _k(0.5, a)
    sa, sb, k = _scaled(a, b)  # far out, -j log(2jz): the rest is below double's precision
    far = (call("atan2", b, a) if cosine else call("atan2", a, b),
           call("log", call("hypot", sa, sb)) - k * _k(_LN2, a) + _k(_LN2, a))
    r, s = call("hypot", a + one, b), call("hypot", a - one, b)
    big_a = half * (r + s)
    sine = a / big_a
    d = select(a <= one, call("sqrt", half * (big_a + a) * (b * b / (r + (a + one)) + (s + (one - a)))),
               b * call("sqrt", half * ((big_a + a) / (r + (a + one)) + (big_a + a) / (s + (a - one)))))
    near_one = call("atan2", d, a) if cosine else call("atan2", a, d)
    angle = select(sine <= _k(0.6417, a), call("acos" if cosine else "asin", sine), near_one)
    twice_am1 = select(a < one, b * b / (r + (a + one)) + b * b / (s + (one - a)),
                       b * b / (r + (a + one)) + (s + (a - one)))
    im = select(big_a > _k(1.5, a), call("log", big_a + call("sqrt", (big_a - one) * (big_a + one))),
                select((a < one) & (b < _k(2.0 ** -500, a)), b / call("sqrt", (one - a) * (one + a)),
                       call("log1p", half * twice_am1 + call("sqrt", twice_am1 * (half * (big_a + one))))))
    return _first([((a > _k(2.0 ** 28, a)) | (b > _k(2.0 ** 28, a)), far)], (angle, im))


def _asinh(x, y) -> Pair:
    inf = _k(_INF, x)
    w_angle, w_im = _asin_first(_abs(y), _abs(x), False)
    return _first([
        (_isinf(x) | _isinf(y),
         _first([(_isnan(x), (_copysign(inf, x), x)),
                 (_isinf(x), (x, select(_isnan(y), y, _copysign(select(_isinf(y), _k(_PI / 4, x), _k(0.0, x)), y))))],
                (_copysign(inf, x), _copysign(_k(_HALF_PI, x), y)))),
        (_isnan(x) | _isnan(y), (x + y, select(_isnan(x) & (y == _k(0.0, y)), y, x + y)))],
        (_copysign(w_im, x), _copysign(w_angle, y)))


def _acos(x, y) -> Pair:
    inf_y_re = select(_isnan(x), x, select(_isinf(x), select(x > _k(0.0, x), _k(_PI / 4, x), _k(3 * _PI / 4, x)),
                                           _k(_HALF_PI, x)))
    w_angle, w_im = _asin_first(_abs(x), _abs(y), True)
    return _first([
        (_isinf(y), (inf_y_re, -y)),
        (_isinf(x), (select(_isnan(y), y, select(x > _k(0.0, x), _k(0.0, x), _k(_PI, x))),
                     _copysign(_k(_INF, x), _neg(y)))),
        (_isnan(x) | _isnan(y), (select(x == _k(0.0, x), _k(_HALF_PI, x), x + y), x + y))],
        (select(_copysign(_k(1.0, x), x) < _k(0.0, x), _k(_PI, x) - w_angle, w_angle), _copysign(w_im, -y)))


def _acosh(x, y) -> Pair:
    """|Im acos z| + j copysign(Re acos z, y) (a NaN y gives the positive angle, as glibc's)."""
    re, im = _acos(x, y)
    return _abs(im), select(_isnan(y), re, _copysign(re, y))


def _atanh(x, y) -> Pair:
    """Kahan's: log1p(4a / ((1 - a)^2 + b^2)) / 4 + j atan2(2b, (1 - a)(1 + a) - b^2) / 2 for
    a, b >= 0; beyond 2**500, Re(1 / z) + j pi/2."""
    a, b, one = _abs(x), _abs(y), _k(1.0, x)
    half_pi = _k(_HALF_PI, x)
    h = call("hypot", a, b)
    d = (one - a) * (one - a) + b * b
    near = select(d > _k(2.0 ** -1000, x), _k(0.25, x) * call("log1p", _k(4.0, x) * a / d),
                  _k(0.5, x) * (call("log", call("hypot", one + a, b)) - call("log", call("hypot", one - a, b))))
    huge = (a > _k(2.0 ** 500, x)) | (b > _k(2.0 ** 500, x))
    re = select(huge, a / h / h, near)
    im = select(huge, half_pi, _k(0.5, x) * call("atan2", _k(2.0, x) * b, (one - a) * (one + a) - b * b))
    return _first([(_isinf(y), (_copysign(_k(0.0, x), x), _copysign(half_pi, y))),
                   (_isinf(x), (_copysign(_k(0.0, x), x), select(_isnan(y), y, _copysign(half_pi, y)))),
                   (_isnan(x) | _isnan(y), (select(x == _k(0.0, x), x, x + y), x + y))],
                  (_copysign(re, x), _copysign(im, y)))


def _sin(x, y) -> Pair:
    """-j sinh(jz); where Annex G leaves the sign of an infinite imaginary part open (a
    non-finite x with an infinite y) it is +inf, glibc's csin's."""
    re, im = _times_minus_j(_sinh(*_times_j((x, y))))
    return re, select(_isinf(y) & ~_isfinite(x), _k(_INF, x), im)


def _rotated(fn: Callable[..., Pair], after: Callable[[Pair], Pair]) -> Callable[..., Pair]:
    return lambda x, y: after(fn(*_times_j((x, y))))


#: In float64 for complex64 operands (rounded once): op -> (x, y) -> (re, im) of float64 parts.
_IN_DOUBLE: dict[str, Callable[..., Pair]] = {
    "exp": _exp, "log": _log, "sqrt": _sqrt, "sinh": _sinh, "cosh": _cosh, "tanh": _tanh,
    "asinh": _asinh, "acos": _acos, "acosh": _acosh, "atanh": _atanh, "sin": _sin,
    "cos": _rotated(_cosh, lambda w: w), "tan": _rotated(_tanh, _times_minus_j),
    "asin": _rotated(_asinh, _times_minus_j), "atan": _rotated(_atanh, _times_minus_j)}


def _expm1(x, y) -> Pair:
    """NumPy's nc_expm1: expm1(x) cos y - 2 sin^2(y / 2) + j exp(x) sin y."""
    h = call("sin", y * _k(0.5, y))
    return call("expm1", x) * call("cos", y) - _k(2.0, x) * (h * h), call("exp", x) * call("sin", y)


def _log1p(x, y) -> Pair:
    """NumPy's nc_log1p: log(hypot(1 + x, y)) + j atan2(y, 1 + x)."""
    u = x + _k(1.0, x)
    return call("log", call("hypot", u, y)), call("atan2", y, u)


def _log_base(scale: float) -> Callable[..., Pair]:
    """NumPy's log2 / log10: the parts of log z times log2(e) / log10(e), in the parts' dtype."""
    def fn(x, y):
        re, im = _widened(_log, x, y)
        return re * _k(scale, re), im * _k(scale, im)
    return fn


#: In the parts' own dtype.
_OWN_DTYPE: dict[str, Callable[..., Pair]] = {
    "expm1": _expm1, "log1p": _log1p, "log2": _log_base(1 / math.log(2.0)),
    "log10": _log_base(1 / math.log(10.0)), "conj": lambda x, y: (x, -y)}

#: Every complex math call this pass writes out (a complex result).
COMPLEX_MATH = frozenset(_IN_DOUBLE) | frozenset(_OWN_DTYPE) | {"abs", "isnan", "isinf", "isfinite"}


def _widened(fn, x, y) -> Pair:
    """``fn`` on float64 parts, rounded back to ``x``'s dtype once."""
    if x.dtype == "float64":
        return fn(x, y)
    re, im = fn(cast(x, "float64"), cast(y, "float64"))
    return cast(re, x.dtype), cast(im, x.dtype)


# ---------------------------------------------------------------- the rewrite

def _parts(z: PrimExpr) -> Pair:
    """(real, imaginary) of the complex scalar ``z``, taken apart where it was put together."""
    if isinstance(z, Call) and z.op == "complex":
        return z.args
    if isinstance(z, Select):
        (tr, ti), (fr, fi) = _parts(z.true_value), _parts(z.false_value)
        return select(z.cond, tr, fr), select(z.cond, ti, fi)
    part = dt.component(z.dtype)
    return Call("real", (z,), part), Call("imag", (z,), part)


def _make(pair: Pair) -> PrimExpr:
    return Call("complex", tuple(pair), dt.complex_of(pair[0].dtype))


def _binary(op: str, x: PrimExpr, y: PrimExpr) -> PrimExpr:
    (xr, xi), (yr, yi) = _parts(x), _parts(y)
    if op == "add":
        return _make((xr + yr, xi + yi))
    if op == "sub":
        return _make((xr - yr, xi - yi))
    if op == "mul":
        return _make((call("fma", xr, yr, -(xi * yi)), call("fma", xr, yi, xi * yr)))
    if op == "div":
        return _make(_divide(xr, xi, yr, yi))
    if op == "eq":
        return (xr == yr) & (xi == yi)
    if op == "ne":
        return (xr != yr) | (xi != yi)
    return None


def _larger(x, y):
    ax, ay = _abs(x), _abs(y)
    return select(ax >= ay, ax, ay)


def _power_of_two_scale(x, y) -> Pair:
    """(factor, undo): ``factor`` (a power of two; 1 in the range where Smith's algorithm
    neither overflows nor underflows) halves ``x + y j`` when its larger part is at least half
    the largest float and lifts it by 2 / eps**2 when that part is below 2 / eps times the
    smallest normal one (the bounds of Baudin and Smith's robust division); ``undo`` is
    1 / factor. NaN parts compare false: factor 1."""
    info = np.finfo(np.dtype(x.dtype))
    eps, tiny, big = float(info.eps), float(info.tiny), float(info.max)
    lift = 2.0 / (eps * eps)
    m = _larger(x, y)
    huge, small = m >= _k(big / 2, x), m < _k(tiny * 2 / eps, x)
    return (select(huge, _k(0.5, x), select(small, _k(lift, x), _k(1.0, x))),
            select(huge, _k(2.0, x), select(small, _k(1 / lift, x), _k(1.0, x))))


def _divide(ar, ai, br, bi) -> Pair:
    """Smith's algorithm, step by step as NumPy's complex division (scale by the larger part of
    the divisor), on operands first scaled by powers of two where they are huge or tiny, the
    quotient scaled back: where NumPy's ratio or denominator overflows or underflows (a
    subnormal divisor gives it inf or NaN), the quotient comes out finite and accurate;
    elsewhere the scales are 1 and the result is NumPy's bit for bit. A zero divisor divides
    each part by +0 (inf or NaN parts, NumPy's ``x / |br|``).

    Smith's two cases are one computation on swapped parts (two divisions, not four): with
    ``c`` the divisor's larger part, ``d`` the other and ``x``, ``y`` the dividend's parts in
    the same order, ``r = d / c``, ``t = 1 / (c + d r)``, the real part is ``(x + y r) t`` and
    the imaginary part ``(y - x r) t`` (``(x r - y) t`` when the parts are swapped).

    >>> from mlc.ir.expr import Var
    >>> re, im = _divide(*(Var(n, "float64") for n in ("ar", "ai", "br", "bi")))
    >>> str(re).startswith('T.if_then_else(br == T.float64(0) and bi == T.float64(0), ar * T.float64("inf")')
    True
    >>> "T.float64(4.056481920730334e+31)" in str(re)   # a tiny operand's lift, 2 / eps**2
    True
    """
    fa, undo_a = _power_of_two_scale(ar, ai)
    fb, undo_b = _power_of_two_scale(br, bi)
    sar, sai, sbr, sbi = ar * fa, ai * fa, br * fb, bi * fb
    real_larger = _abs(br) >= _abs(bi)
    c, d = select(real_larger, sbr, sbi), select(real_larger, sbi, sbr)
    x, y = select(real_larger, sar, sai), select(real_larger, sai, sar)
    r = d / c
    t = _k(1.0, ar) / (c + d * r)
    xr = x * r
    undo = undo_a * fb  # a / b = (a fa) / (b fb) * fb / fa
    re = (x + y * r) * t * undo
    im = (select(real_larger, y, xr) - select(real_larger, xr, y)) * t * undo
    zero, inf = _k(0.0, ar), _k(_INF, ar)
    return _first([((br == zero) & (bi == zero), (ar * inf, ai * inf))], (re, im))


def _cast(e: Cast) -> PrimExpr:
    src, dst = e.value.dtype, e.dtype
    if dt.is_complex(src) and dt.is_complex(dst):
        if src == dst:
            return e.value
        return _make(tuple(cast(p, dt.component(dst)) for p in _parts(e.value)))
    if dt.is_complex(dst):
        re = cast(e.value, dt.component(dst))
        return _make((re, _k(0.0, re)))
    re, im = _parts(e.value)
    if dst == "bool":
        return (re != _k(0.0, re)) | (im != _k(0.0, im))
    return cast(re, dst)


def _math(op: str, z: PrimExpr) -> PrimExpr | None:
    x, y = _parts(z)
    if op == "real":
        return x
    if op == "imag":
        return y
    if op == "abs":
        return cast(call("hypot", *(cast(p, "float64") for p in (x, y))), x.dtype)
    if op in ("isnan", "isinf", "isfinite"):
        a, b = call(op, x), call(op, y)
        return a & b if op == "isfinite" else a | b
    if op in _IN_DOUBLE:
        return _make(_widened(_IN_DOUBLE[op], x, y))
    if op in _OWN_DTYPE:
        return _make(_OWN_DTYPE[op](x, y))
    return None


#: The ops whose formulas use each part of an operand more than once.
_REUSING = frozenset({"mul", "div"}) | frozenset(_IN_DOUBLE) | frozenset(_OWN_DTYPE) - {"conj"}


class _LowerComplex(StatementScalars):
    """The rewrite; a store's complex operands that a formula would repeat (a product's, a
    quotient's, a math call's), when they are not small, are computed once into a local
    one-element buffer just before the store (:class:`~.statement_scalars.StatementScalars`):
    a formula repeats its operand's parts (log's in exp's ten times: ``z ** w`` is exp(w log
    z)), and without the scalar each repetition is the whole expression again, for every
    pass, the codegen and the interpreters to walk."""

    def __init__(self, native: Callable[[str, str], bool]):
        super().__init__("complex_values")
        self.native = native

    def _once(self, z: PrimExpr, loads_too: bool = False) -> PrimExpr:
        """``z``, or a load of the local scalar it is computed into (see the class docstring);
        with ``loads_too``, also a small ``z`` that loads memory: a formula's selects then read
        only the scalar, which a backend may compute on both sides (a load of memory under a
        select is a branch, the other side's load may be out of bounds)."""
        if self.pending is None or isinstance(z, BufferLoad) and z.buffer.scope == "local":
            return z
        if small(z) and not (loads_too and any(isinstance(n, BufferLoad) for n in pre_order_nodes(z))):
            return z
        return self.slot(z)

    def guard_load(self, load: PrimExpr, cond: PrimExpr) -> PrimExpr:
        """A complex ``load`` under a select's condition, part by part (no complex select is
        left after this pass)."""
        if not dt.is_complex(load.dtype):
            return super().guard_load(load, cond)
        zero = const(0.0, dt.component(load.dtype))
        re, im = _parts(load)
        return _make((select(cond, re, zero), select(cond, im, zero)))

    @memoized
    def visit_Binary(self, e: Binary):
        e = self.generic_visit(e)
        if isinstance(e, Binary) and dt.is_complex(e.a.dtype) and not dt.is_vector(e.a.dtype):
            a, b = (self._once(e.a, e.op == "div"), self._once(e.b, e.op == "div")) if e.op in _REUSING else (e.a, e.b)
            out = self.shared(_binary(e.op, a, b)) if e.op in _REUSING else _binary(e.op, a, b)
            if out is not None:
                return out
        return e

    @memoized
    def visit_Cast(self, e: Cast):
        e = self.generic_visit(e)
        if (isinstance(e, Cast) and (dt.is_complex(e.dtype) or dt.is_complex(e.value.dtype))
                and not dt.is_vector(e.dtype)):
            return _cast(e)
        return e

    @memoized
    def visit_Select(self, e: Select):
        e = self.visit_operands(e)
        if isinstance(e, Select) and dt.is_complex(e.dtype) and not dt.is_vector(e.dtype):
            return _make(_parts(e))
        return e

    @memoized
    def visit_Call(self, e: Call):
        e = self.visit_operands(e)
        if (isinstance(e, Call) and e.args and dt.is_complex(e.args[0].dtype)
                and not dt.is_vector(e.args[0].dtype) and not self.native(e.op, e.args[0].dtype)):
            out = _math(e.op, self._once(e.args[0], True) if e.op in _REUSING else e.args[0])
            out = self.shared(out) if e.op in _REUSING and out is not None else out
            if out is not None:
                return out
        return e


def lower_complex_expr(e: PrimExpr, native: Callable[[str, str], bool] = lambda op, dtype: False) -> PrimExpr:
    """``e`` with its complex operations written out in float parts (see the module docstring);
    ``native(op, dtype)`` says which complex math calls to keep."""
    return _LowerComplex(native).visit(e)


def _has_complex(func: PrimFunc) -> bool:
    """Whether any value of ``func`` is complex (its census: counted on an explicit stack, so a
    real function's expression thousands of operations deep is never recursed into)."""
    return any(dt.is_complex(d) for d in dtypes(func.body))


def lower_complex(func: PrimFunc) -> PrimFunc:
    """Every complex operation of ``func`` as float arithmetic on the parts; only loads, stores,
    ``T.complex``, ``T.real`` and ``T.imag`` handle complex values after it."""
    if not _has_complex(func):
        return func
    return _LowerComplex(lambda op, dtype: False).visit(func).with_attr(ROUNDED_PRODUCTS, True)


def complex_lowering_for(native: Callable[[str, str], bool]) -> Callable[[PrimFunc], PrimFunc]:
    """:func:`lower_complex` keeping the complex math calls ``native(op, dtype)`` says the
    backend computes itself (a backend's pipeline passes what it registered in
    :mod:`mlc.backends.intrinsics`, as llvm's libm ``csin``)."""
    def keeps(op: str, dtype: str) -> bool:
        return op in COMPLEX_MATH and native(op, dtype)

    def lower_complex_natively(func: PrimFunc) -> PrimFunc:
        if not _has_complex(func):
            return func
        return _LowerComplex(keeps).visit(func).with_attr(ROUNDED_PRODUCTS, True)
    return lower_complex_natively
