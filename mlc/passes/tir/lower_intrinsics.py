"""lower_intrinsics: rewrite math calls into cheaper, vectorisable arithmetic.

``pow(x, n)`` with a constant integer exponent becomes multiplications (``1 / (...)``
for negative ``n``), as NumPy's own fast paths do for squares and reciprocals: a
``pow`` costs a logarithm and an exponential (float32's in double, some 15 times three
products), and a scalar ``powf`` call would keep a loop from vectorising. A float64
``x`` with ``|n| <= 4`` is multiplied in float64 (up to ``|n| - 1`` roundings, within 2
ulps; not further, nor by squaring, which doubles an error at every step: x^8 so came out
5 ulps off, beyond pow's budget of 4). A
float32 or float16 ``x`` with ``|n| <= 8`` is widened to float64, raised by squaring
and multiplying there (at most 4 products, each within 2^-53; the largest float32 to
the 8th, 1e307, stays finite) and rounded once: the double is within 2^-50 of ``x^n``,
so the result is within half an ulp and a hair, as correctly rounded as pow's (C99's
values at zeros, infinities and NaN come out of the arithmetic: ``(-0)^3 = -0``,
``(-0)^-3 = -inf``, ``(-inf)^-3 = -0``). A float32 or float16 ``x`` to a constant
half-integer ``m/2`` with ``|m/2| <= 8`` (``x ** -0.5``, ``x ** 1.5``) is the square
root in float64 raised to ``m`` the same way, rounded once (within half an ulp and a
hair too): -0 and -inf are taken as +0 and +inf there, since pow's value at them for an
exponent that is no odd integer is that of their magnitude, and a negative ``x`` gives
NaN. ``pow(x, 0)`` is 1 even for NaN, like ``np.power``. An integer ``pow`` is
multiplications for a constant exponent up to 8, else a loop of squarings before its
statement (:mod:`.integer_power`).

>>> from mlc.ir.expr import Var, pow
>>> x, y = Var("x", "float32"), Var("y", "float64")
>>> lower_pow(pow(y, 3.0))
y * y * y
>>> lower_pow(pow(y, -2.0))
T.float64(1) / (y * y)
>>> lower_pow(pow(x, -3.0))
T.Cast("float32", T.float64(1) / (T.Cast("float64", x) * (T.Cast("float64", x) * T.Cast("float64", x))))
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.expr import Call, Cast, FloatImm, IntImm, PrimExpr, const, make_binary, select, sqrt
from ...ir.expr import abs as expr_abs
from ...ir.functor import Mutator
from ...ir.tir import PrimFunc
from .integer_power import expand_integer_powers, is_integer_power, unrolled_power

__all__ = ["lower_intrinsics", "lower_pow", "MAX_EXPONENT", "MAX_NARROW_EXPONENT"]

#: |n| up to which a float64 ``pow(x, n)`` multiplies (in float64: up to |n| - 1 roundings).
MAX_EXPONENT = 4
#: |n| up to which a float32 or float16 ``pow(x, n)`` multiplies, in float64 (within 2^-50).
MAX_NARROW_EXPONENT = 8


def _integer_exponent(e: PrimExpr, limit: int) -> int | None:
    if isinstance(e, (FloatImm, IntImm)) and float(e.value).is_integer() and abs(e.value) <= limit:
        return int(e.value)
    return None


def lower_pow(call: PrimExpr) -> PrimExpr:
    """``pow(x, n)`` for a small constant integer ``n`` as multiplications (see the module
    docstring); other calls unchanged."""
    if not (isinstance(call, Call) and call.op == "pow" and dt.is_float(call.dtype)):
        return call
    narrow = call.dtype in ("float32", "float16")
    x, n = call.args[0], _integer_exponent(call.args[1], MAX_NARROW_EXPONENT if narrow else MAX_EXPONENT)
    if n is None:
        half = _half_integer_exponent(call.args[1]) if narrow else None
        if half is None:
            return call
        return Cast(call.dtype, _power_by_squaring(sqrt(_magnitude_at_signed_ends(x)), half))
    if n == 0:
        return const(1, call.dtype)
    if n == 1:
        return x
    if narrow:
        wide = Cast("float64", x)
        return Cast(call.dtype, _power_by_squaring(wide, n))
    product = x
    for _ in range(abs(n) - 1):
        product = make_binary("mul", product, x)
    return product if n > 0 else make_binary("div", const(1, call.dtype), product)


def _half_integer_exponent(e: PrimExpr) -> int | None:
    """``m`` where ``e`` is the constant ``m / 2``, ``m`` odd, ``|m / 2| <= MAX_NARROW_EXPONENT``."""
    if isinstance(e, FloatImm) and (2 * e.value).is_integer() and not float(e.value).is_integer() \
            and abs(e.value) <= MAX_NARROW_EXPONENT:
        return int(2 * e.value)
    return None


def _magnitude_at_signed_ends(x: PrimExpr) -> PrimExpr:
    """``x`` widened to float64, with -0 and -inf made +0 and +inf."""
    wide = Cast("float64", x)
    ends = make_binary("or", make_binary("eq", wide, const(0.0, "float64")),
                       make_binary("eq", wide, const(float("-inf"), "float64")))
    return select(ends, expr_abs(wide), wide)


def _power_by_squaring(x: PrimExpr, n: int) -> PrimExpr:
    """``x ** n`` (``n`` a nonzero integer) by squaring and multiplying, ``1 / x ** -n`` below 0."""
    result, square, k = None, x, abs(n)
    while k:
        if k & 1:
            result = square if result is None else make_binary("mul", result, square)
        k >>= 1
        if k:
            square = make_binary("mul", square, square)
    return result if n > 0 else make_binary("div", const(1, x.dtype), result)


class _LowerIntrinsics(Mutator):
    def visit_Call(self, node: Call):
        node = self.generic_visit(node)
        if is_integer_power(node):
            unrolled = unrolled_power(node)
            return node if unrolled is None else unrolled
        return lower_pow(node)


def lower_intrinsics(func: PrimFunc) -> PrimFunc:
    """Apply :func:`lower_pow` to every call in ``func``, and give each integer ``pow`` a
    loop of its own (:mod:`.integer_power`), unless a small constant exponent makes it
    multiplications."""
    body = expand_integer_powers(_LowerIntrinsics().visit(func.body))
    return func if body is func.body else func.with_body(body)
