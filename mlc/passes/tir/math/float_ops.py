"""Float building blocks of the math routines, as TIR expressions.

:class:`FloatOps` builds the expressions of one IEEE format (float32 or float64)
out of the operations every backend has: arithmetic, ``fma``, ``abs``, ``sqrt``,
``copysign``, ``round`` (half to even) and ``floor``, compares, selects, casts and
``reinterpret`` (a value's bits). Nothing here can produce an undefined value:
float -> int conversions only ever see finite, in-range values (callers clamp first).
A routine builds a DAG (a value used twice is one Python node);
:mod:`..lower_math` computes each value used more than once into a scalar before
the statement that needs it.

>>> o = FloatOps(FORMATS["float32"])
>>> o.fma(o.c(2.0), 3.0, 1.0)
T.fma(T.float32(2), T.float32(3), T.float32(1))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ....ir.expr import PrimExpr, call, cast, const, logical_and, logical_or, make_binary, reinterpret, select

__all__ = ["Format", "FORMATS", "FloatOps", "CompoundOps", "pi_fixed"]

#: ln 2 to 40 digits, times 10**40 (the Cody-Waite split below needs more than a double holds).
_LN2_E40 = 6931471805599453094172321214581765680755


def pi_fixed(bits: int) -> int:
    """floor(pi 2^bits) (Machin's formula in integers, with guard bits).

    >>> pi_fixed(10), round(3.14159265 * 2 ** 10 - 0.5)
    (3216, 3216)
    """
    guard = bits + 32

    def arctan_inverse(n: int) -> int:  # arctan(1/n) 2^guard
        total, term, k, sign = 0, (1 << guard) // n, 1, 1
        while term:
            total += sign * (term // k)
            term //= n * n
            k += 2
            sign = -sign
        return total

    return (16 * arctan_inverse(5) - 4 * arctan_inverse(239)) >> 32


@dataclass(frozen=True)
class Format:
    """An IEEE binary format: its dtype, widths and the constants the routines share."""
    dtype: str
    bits: int
    mant: int  # explicit mantissa bits
    bias: int
    ln2_hi_bits: int  # significant bits of ln2_hi: k * ln2_hi is exact for the k exp/log see

    @property
    def int_dtype(self) -> str:
        return f"int{self.bits}"

    def ln2_split(self) -> tuple[float, float]:
        """(hi, lo): hi has ``ln2_hi_bits`` significant bits, hi + lo = ln 2 to 2 * mant bits."""
        scale, unit = 1 << self.ln2_hi_bits, 10 ** 40
        hi = _LN2_E40 * scale // unit  # ln 2 * scale, rounded down
        lo = _LN2_E40 * scale - hi * unit  # (ln 2 - hi / scale) * scale * unit, exactly
        return hi / scale, self.round(lo / (scale * unit))  # int / int rounds correctly

    def round(self, value: float) -> float:
        """``value`` rounded to this format (as a Python float)."""
        return float(np.array(value, "float64").astype(self.dtype))


FORMATS = {
    "float32": Format("float32", 32, 23, 127, 16),
    "float64": Format("float64", 64, 52, 1023, 32),
}


class CompoundOps:
    """The steps built of a format's operations (``add``, ``sub``, ``fma``, ``c``, ``lt``,
    ``gt``, ``select`` of the class it is mixed into): the same for the TIR of
    :class:`FloatOps` and for a backend's own emitter of the same operations."""

    def two_sum(self, a, b):
        """(s, e): ``a + b`` rounded and its rounding error, exactly (Knuth's TwoSum)."""
        s = self.add(a, b)
        bb = self.sub(s, a)
        return s, self.add(self.sub(a, self.sub(s, bb)), self.sub(b, bb))

    def fast_two_sum(self, a, b):
        """(s, e) as :meth:`two_sum`, in three operations, for ``|a| >= |b|`` or ``a = 0``."""
        s = self.add(a, b)
        return s, self.add(self.sub(a, s), b)

    def horner(self, t, coeffs) -> PrimExpr:
        """sum(coeffs[k] * t**k), highest degree first, with FMAs."""
        acc = self.c(coeffs[-1])
        for c in reversed(coeffs[:-1]):
            acc = self.fma(acc, t, c)
        return acc

    def clamp(self, x, lo: float, hi: float):
        """``x`` limited to [lo, hi]; NaN passes through (both compares are false)."""
        x = self.select(self.lt(x, lo), lo, x)
        return self.select(self.gt(x, hi), hi, x)


class FloatOps(CompoundOps):
    """Build float expressions of one :class:`Format`; ``fast``: the routine's ``fast_math``
    variant is wanted (its coefficients, its arithmetic). A select's side calling a library
    function is computed only where a lane needs it, in a loop of any kind (a routine may
    leave its rare lanes to such a call: :mod:`.trig`)."""

    def __init__(self, fmt: Format, fast: bool = False, rare: list | None = None):
        self.fmt, self.fast = fmt, fast
        self.dtype = fmt.dtype
        #: the values :meth:`only_where` marked, (condition, values) a call, for the pass
        #: writing the routine out (None: nobody asks, the values are computed everywhere)
        self.rare = rare

    def with_format(self, dtype: str) -> FloatOps:
        """The same builder for the format of ``dtype`` (a float32 routine's double steps)."""
        return FloatOps(FORMATS[dtype], self.fast, self.rare)

    def only_where(self, cond, *values):
        """``values``, which the routine reads only where ``cond`` holds (behind selects on
        it): the pass writing the routine out may compute them, and what only they use, under
        ``if cond`` (:meth:`mlc.passes.tir.statement_scalars.StatementScalars.shared`), so
        that a scalar loop branches around a rare lane's long steps, and LLVM's loop
        vectorizer, widening the loop, makes selects of the branch again."""
        if self.rare is not None:
            self.rare.append((cond, values))
        return values

    # ---------------------------------------------------------- constants
    def c(self, value: float) -> PrimExpr:
        return const(self.fmt.round(value), self.dtype)

    def ci(self, value: int) -> PrimExpr:
        return const(value, self.fmt.int_dtype)

    def _f(self, v) -> PrimExpr:
        return self.c(v) if isinstance(v, (int, float)) else v

    # --------------------------------------------------------- arithmetic
    # add, sub, mul, div, lt, gt, ge, eq(x, y): the binary operations (after the class)

    def neg(self, x):
        """IEEE negation (``-0.0 - x``: the sign of a zero flips too)."""
        return -x

    def fma(self, x, y, z):
        """x * y + z with one rounding."""
        return call("fma", self._f(x), self._f(y), self._f(z))

    def abs(self, x):
        return call("abs", x)

    def sqrt(self, x):
        """The correctly rounded square root."""
        return call("sqrt", x)

    def copysign(self, magnitude, sign):
        return call("copysign", self._f(magnitude), sign)

    def roundeven(self, x):
        return call("round", x)

    def floor(self, x):
        return call("floor", x)

    def widen(self, x, dtype: str):
        """``x`` converted to the wider float ``dtype`` (exact)."""
        return cast(x, dtype)

    def narrow(self, x):
        """``x`` (a wider float) rounded to this format."""
        return cast(x, self.dtype)

    # ------------------------------------------------- compares and selects
    def isnan(self, x):
        return call("isnan", x)

    def and_(self, p, q):
        return logical_and(p, q)

    def or_(self, p, q):
        return logical_or(p, q)

    def xor(self, p, q):
        return make_binary("ne", p, q)

    def select(self, cond, x, y):
        return select(cond, self._f(x), self._f(y))

    # ----------------------------------------------------- bits
    def bits(self, x):
        """``x``'s bits as a signed integer."""
        return reinterpret(x, self.fmt.int_dtype)

    def sign_bit(self, x):
        """Whether ``x``'s sign bit is set (-0 and negative NaN included)."""
        return make_binary("lt", self.bits(x), self.ci(0))

    def from_bits(self, i):
        return reinterpret(i, self.dtype)

    # ------------------------------------------- integers of the format's width
    # iadd, isub, imul, iand, ior, ishl, ishr (arithmetic), igt, ilt(i, j): the integer operations
    # (after the class; a Python int is a constant of the format's integer dtype)

    def _i(self, v) -> PrimExpr:
        return self.ci(v) if isinstance(v, int) else v

    def finite_or_zero(self, x):
        """``x`` with NaN replaced by 0, so later conversions to int stay defined."""
        return self.select(self.isnan(x), 0.0, x)

    def to_int(self, x):
        """A finite, integral float of magnitude below 2^(mant - 1) as a signed integer, exactly:
        the bits of ``x + 1.5 * 2^mant`` (whose significand's low bits then hold ``x``) less
        the shifter's bits. No float -> int conversion: every backend's vector code has the
        addition (AVX2 has no vector conversion of double to int64)."""
        shifter = 1.5 * 2.0 ** self.fmt.mant
        return make_binary("sub", self.bits(self.add(x, shifter)), self.ci(self.bits_of(shifter)))

    def to_float(self, k):
        """A signed integer of magnitude below 2^(mant - 1) as a float, exactly (the reverse of
        :meth:`to_int`: float32 converts, float64 goes through the shifter's bits, which
        AVX2's vectors can)."""
        if self.fmt.bits == 32:
            return cast(k, self.dtype)
        shifter = 1.5 * 2.0 ** self.fmt.mant
        return self.sub(self.from_bits(make_binary("add", k, self.ci(self.bits_of(shifter)))), shifter)

    def widen_int(self, i):
        """A narrower signed integer as one of this format's width."""
        return cast(i, self.fmt.int_dtype)

    def narrow_int(self, i, dtype: str):
        """An integer of this format's width that ``dtype`` holds, as a ``dtype``."""
        return cast(i, dtype)

    def bits_of(self, value: float) -> int:
        """The bits of the constant ``value`` of this format, as a signed integer."""
        return int(np.array(value, self.dtype).view(self.fmt.int_dtype))

    def pow2(self, k):
        """2**k for an integer ``k`` in the normal exponent range."""
        return self.from_bits(self.ishl(self.iadd(k, self.fmt.bias), self.fmt.mant))

    def scale(self, p, k):
        """p * 2**k in two exact-then-rounded steps, so results that overflow give inf and
        results in the subnormal range round once, as they should (``|k| <= 2 * (bias - 1)``)."""
        half = self.ishr(k, 1)
        return self.mul(self.mul(p, self.pow2(half)), self.pow2(self.isub(k, half)))


def _binary(op: str):
    def method(self, x, y):
        return make_binary(op, self._f(x), self._f(y))
    method.__name__ = method.__qualname__ = op
    method.__doc__ = f"``x {op} y`` (a Python number is a constant of the format)."
    return method


for _op in ("add", "sub", "mul", "div", "lt", "gt", "ge", "eq"):
    setattr(FloatOps, _op, _binary(_op))


def _integer(op: str):
    def method(self, i, j):
        return make_binary(op, self._i(i), self._i(j))
    method.__name__ = method.__qualname__ = "i" + op
    method.__doc__ = f"Integer ``i {op} j`` (a Python int is a constant of the format's integer dtype)."
    return method


for _op, _name in (("add", "iadd"), ("sub", "isub"), ("mul", "imul"), ("bitand", "iand"), ("bitor", "ior"), ("shl", "ishl"),
                   ("shr", "ishr"), ("gt", "igt"), ("lt", "ilt")):
    setattr(FloatOps, _name, _integer(_op))
