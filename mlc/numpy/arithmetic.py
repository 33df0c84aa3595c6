"""NumPy's arithmetic beyond the registry's ufuncs, written with them: ``divmod``, ``modf``,
``frexp``, ``fix``, ``gcd``, ``lcm``, ``bitwise_count``, ``isneginf``, ``isposinf``,
``sinc`` and ``i0``.

``gcd`` is Euclid's algorithm unrolled as many steps as the integer width can need (the
worst case, consecutive Fibonacci numbers, takes fewer than 1.45 steps per bit), each step
an elementwise ``where``; ``bitwise_count`` adds the bits in parallel (pairs, nibbles,
bytes); ``frexp`` takes the exponent from ``log2`` and corrects it by one where rounding
missed; ``i0`` is NumPy's Chebyshev expansion (its coefficients read from NumPy).

>>> import numpy as np, mlc
>>> mlc.numpy.gcd(np.array([12, 7, 0], np.int8), np.array([18, 5, 4], np.int8))
array([6, 1, 4], dtype=int8)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import TraceError
from ..tracer.operands import as_tracer, as_tracers
from ..tracer.source import describe_location, user_location
from ._api import numpy_function
from .elementwise import (absolute, ceil, copysign, exp, floor, floor_divide, isinf, ldexp, log2,
                          remainder, signbit, sin, sqrt, trunc, where)
from .loops import refuse_out

__all__ = ["divmod", "modf", "frexp", "fix", "gcd", "lcm", "bitwise_count", "isneginf", "isposinf", "sinc",
           "i0"]


def _where() -> str:
    return describe_location(user_location())


def _floating(name: str, x):
    """``x`` as a traced float array (integers as float64, as NumPy's float loops take them)."""
    t = as_tracer(x)
    if t.dtype.kind == "c":
        raise TraceError(f"np.{name} is not defined for complex values{_where()}")
    return t if t.dtype.kind == "f" else t.astype("float64")


@numpy_function("x1", "x2", "out")
def divmod(x1, x2, /, out=None):  # noqa: A001 - NumPy's name
    """``np.divmod``: ``(x1 // x2, x1 % x2)``, NumPy's floor division and its remainder."""
    refuse_out("divmod", out)
    return floor_divide(x1, x2), remainder(x1, x2)


@numpy_function("x", "out")
def modf(x, /, out=None):
    """``np.modf``: (the fractional part, the integral part), both with ``x``'s sign (``-0.0``
    included; an infinity's fractional part is a zero)."""
    refuse_out("modf", out)
    t = _floating("modf", x)
    whole = trunc(t)
    fraction = where(isinf(t), t.dtype.type(0), t - whole)
    return copysign(fraction, t), whole


@numpy_function("x", "out")
def frexp(x, /, out=None):
    """``np.frexp``: (mantissa, exponent) with ``x == mantissa * 2**exponent`` and the mantissa's
    magnitude in [0.5, 1) (0, infinities and NaN: themselves and exponent 0); the exponent is
    int32."""
    refuse_out("frexp", out)
    t = _floating("frexp", x)
    magnitude = absolute(t)
    special = (magnitude == 0) | isinf(t) | (t != t)
    safe = where(special, t.dtype.type(1), magnitude)
    e = floor(log2(safe)).astype("int32") + 1
    for _ in range(2):  # log2 rounded across a power of two: one step either way
        m = _scaled(safe, -e)
        e = where(m >= 1, e + 1, where(m < 0.5, e - 1, e))
    mantissa = copysign(_scaled(safe, -e), t)
    return where(special, t, mantissa), where(special, np.int32(0), e)


def _scaled(x, e):
    """``x * 2**e`` in two halves, so that neither power overflows (subnormal ``x``)."""
    half = floor_divide(e, 2)
    return ldexp(ldexp(x, half), e - half)


@numpy_function("x", "out")
def fix(x, out=None):
    """``np.fix``: rounded towards zero (floor above zero, ceil below), in ``x``'s dtype."""
    refuse_out("fix", out)
    t = as_tracer(x)
    if t.dtype.kind in "iub":
        return t.fresh() if t.dtype.kind != "b" else t.astype("float16")
    return where(t >= 0, floor(t), ceil(t))


def _integers(name: str, x1, x2):
    a, b = as_tracers([x1, x2], op=name)
    dtype = np.result_type(a.dtype, b.dtype)
    if dtype.kind not in "iu":
        raise TraceError(f"np.{name} takes integer arrays, got {a.dtype} and {b.dtype}{_where()}")
    return a.astype(dtype), b.astype(dtype), dtype


def _gcd(a, b, dtype):
    a, b = absolute(a), absolute(b)
    zero, one = dtype.type(0), dtype.type(1)
    for _ in range(math.ceil(1.45 * 8 * dtype.itemsize) + 2):  # Euclid: a, b = b, a % b while b != 0
        done = b == zero
        a, b = where(done, a, b), where(done, zero, remainder(a, where(done, one, b)))
    return a


@numpy_function("x1", "x2", "out")
def gcd(x1, x2, /, out=None):
    """``np.gcd``: the greatest common divisor of the integers' magnitudes (``gcd(0, 0) == 0``)."""
    refuse_out("gcd", out)
    a, b, dtype = _integers("gcd", x1, x2)
    return _gcd(a, b, dtype)


@numpy_function("x1", "x2", "out")
def lcm(x1, x2, /, out=None):
    """``np.lcm``: the least common multiple of the magnitudes, ``|x1| // gcd * |x2|`` (0 where
    either is 0)."""
    refuse_out("lcm", out)
    a, b, dtype = _integers("lcm", x1, x2)
    g = _gcd(a, b, dtype)
    zero = g == dtype.type(0)
    # NumPy's order: magnitudes first, so an overflowing product wraps as NumPy's does
    return where(zero, dtype.type(0), floor_divide(absolute(a), where(zero, dtype.type(1), g)) * absolute(b))


@numpy_function("x", "out")
def bitwise_count(x, /, out=None):
    """``np.bitwise_count``: the number of 1 bits in each integer's magnitude, as uint8."""
    refuse_out("bitwise_count", out)
    t = as_tracer(x)
    if t.dtype.kind not in "iu":
        raise TraceError(f"np.bitwise_count takes integer arrays, got {t.dtype}{_where()}")
    bits = 8 * t.dtype.itemsize
    unsigned = np.dtype(f"uint{bits}")
    v = (absolute(t) if t.dtype.kind == "i" else t).astype(unsigned)
    mask = unsigned.type

    def repeated(byte: int):
        return mask(int.from_bytes(bytes([byte]) * t.dtype.itemsize, "little"))
    v = v - ((v >> mask(1)) & repeated(0x55))
    v = (v & repeated(0x33)) + ((v >> mask(2)) & repeated(0x33))
    v = (v + (v >> mask(4))) & repeated(0x0F)
    total = v
    for shift in range(8, bits, 8):
        total = total + (v >> mask(shift))
    return (total & mask(0xFF)).astype("uint8")


def _infinity(name: str, x, negative: bool):
    t = as_tracer(x)
    if t.dtype.kind == "c":
        raise TraceError(f"np.{name} is not defined for complex values{_where()}")
    if t.dtype.kind != "f":
        return t != t  # integers are finite
    sign = signbit(t)
    return isinf(t) & (sign if negative else ~sign)


@numpy_function("x", "out")
def isneginf(x, out=None):
    """``np.isneginf``: where ``x`` is negative infinity."""
    refuse_out("isneginf", out)
    return _infinity("isneginf", x, True)


@numpy_function("x", "out")
def isposinf(x, out=None):
    """``np.isposinf``: where ``x`` is positive infinity."""
    refuse_out("isposinf", out)
    return _infinity("isposinf", x, False)


@numpy_function("x")
def sinc(x):
    """``np.sinc``: ``sin(pi x) / (pi x)``, 1 at 0 (NumPy's formula: 0 replaced by 1e-20)."""
    t = as_tracer(x)
    if t.dtype.kind in "iub":
        t = t.astype("float64")
    y = np.pi * where(t == 0, t.dtype.type(1.0e-20), t)
    return sin(y) / y


def _chebyshev(x, coefficients):
    """Clenshaw's sum of the Chebyshev series ``coefficients`` at ``x`` (NumPy's ``_chbevl``)."""
    b0, b1 = coefficients[0] + 0 * x, 0 * x
    b2 = b1
    for c in coefficients[1:]:
        b2, b1 = b1, b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _i0_coefficients():
    from numpy.lib import _function_base_impl as impl  # NumPy's own Cephes coefficients
    return impl._i0A, impl._i0B


@numpy_function("x")
def i0(x):
    """``np.i0``: the modified Bessel function of the first kind, order 0 (NumPy's two Chebyshev
    expansions, on [0, 8] and beyond)."""
    t = _floating("i0", x)
    a = absolute(t)
    small, large = _i0_coefficients()
    inner = _chebyshev(a / 2.0 - 2, small)
    outer = _chebyshev(32.0 / where(a > 8.0, a, t.dtype.type(8)) - 2.0, large) / sqrt(where(a > 8.0, a, 1.0))
    return (exp(a) * where(a <= 8.0, inner, outer)).astype(t.dtype)
