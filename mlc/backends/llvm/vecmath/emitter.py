"""Branch-free float building blocks for the vector math routines.

:class:`FloatOps` emits scalar LLVM IR for one float format (float or double)
using only instructions LLVM's loop vectorizer widens one to one: arithmetic,
``llvm.fma``/``fabs``/``roundeven``/``floor``, selects and bitcasts (what :mod:`.trig` and
:mod:`.double_trig` are built of; the math written once as TIR has its own,
:class:`mlc.passes.tir.math.float_ops.FloatOps`). Nothing here can produce poison: float -> int conversions
only ever see finite, in-range values (callers clamp first).
"""
from __future__ import annotations

from llvmlite import ir

from ....passes.tir.math.float_ops import FORMATS, CompoundOps, Format, pi_fixed
from ..intrinsics import call_intrinsic
from ..targeting import converts_int64
from ..vectorize import splat

__all__ = ["Format", "FORMATS", "FloatOps", "pi_fixed", "float_type", "int_type", "FAST_FLAGS"]

#: Fast-math flags on the arithmetic of the fast routines.
FAST_FLAGS = ("contract", "afn")

#: 1.5 * 2^52 and its bits: a double integer k with |k| < 2^51 added to it lands in [2^52, 2^53),
#: where doubles are the integers, and the sum's bits are the shifter's plus k.
_SHIFTER64 = 6755399441055744.0
_SHIFTER64_BITS = 0x4338000000000000


def float_type(fmt: Format) -> ir.Type:
    """The LLVM type of ``fmt``'s values."""
    return ir.FloatType() if fmt.bits == 32 else ir.DoubleType()


def int_type(fmt: Format) -> ir.IntType:
    """The LLVM integer type of ``fmt``'s bits."""
    return ir.IntType(fmt.bits)


class FloatOps(CompoundOps):
    """Emit float operations of one :class:`Format` at ``builder``'s position, on scalars or,
    with ``lanes`` > 1, on vectors of that many lanes (``<8 x double>``: constants are
    splats, intrinsics their vector overloads)."""

    def __init__(self, builder: ir.IRBuilder, fmt: Format, fast: bool = False,
                 flags: tuple[str, ...] = (), lanes: int = 1):
        self.b, self.fmt, self.lanes = builder, fmt, lanes
        self.ty, self.ity = float_type(fmt), int_type(fmt)
        if lanes > 1:
            self.ty, self.ity = ir.VectorType(self.ty, lanes), ir.VectorType(self.ity, lanes)
        self.fast = fast  # the fast_math variant (see .fast): its coefficients are used
        self.flags = flags  # fast-math flags on add, sub, mul and div

    # ---------------------------------------------------------- constants
    def c(self, value: float) -> ir.Constant:
        return self._splat(ir.Constant(float_type(self.fmt), self.fmt.round(value)))

    def ci(self, value: int) -> ir.Constant:
        return self._splat(ir.Constant(int_type(self.fmt), value))

    def _splat(self, scalar: ir.Constant) -> ir.Constant:
        return scalar if self.lanes == 1 else splat(self.b, scalar, self.lanes)

    def _f(self, v):
        return self.c(v) if isinstance(v, (int, float)) else v

    # --------------------------------------------------------- arithmetic
    def add(self, x, y):
        return self.b.fadd(self._f(x), self._f(y), flags=self.flags)

    def sub(self, x, y):
        return self.b.fsub(self._f(x), self._f(y), flags=self.flags)

    def mul(self, x, y):
        return self.b.fmul(self._f(x), self._f(y), flags=self.flags)

    def div(self, x, y):
        return self.b.fdiv(self._f(x), self._f(y), flags=self.flags)

    def neg(self, x):
        return self.b.fneg(x)

    def fma(self, x, y, z):
        """x * y + z with one rounding."""
        return call_intrinsic(self.b, "fma", self._f(x), self._f(y), self._f(z))

    def abs(self, x):
        return call_intrinsic(self.b, "fabs", x)

    def roundeven(self, x):
        return call_intrinsic(self.b, "roundeven", x)

    def floor(self, x):
        return call_intrinsic(self.b, "floor", x)

    # ------------------------------------------------- compares and selects
    def select(self, cond, x, y):
        return self.b.select(cond, self._f(x), self._f(y))

    # ----------------------------------------------------- bits and powers
    def to_int(self, x):
        """A finite, integral, in-range float as a signed integer (a double of magnitude
        below 2^51). Where the module's target has no vector conversion between double
        and int64 (:func:`converts_int64`: AVX2, whose lanes LLVM would convert one by one
        through scalar registers), through the bits of ``x + 1.5 * 2^52``, whose
        significand's low bits then hold ``x``."""
        if self.fmt.bits != 64 or converts_int64(self.b.module):
            return self.b.fptosi(x, self.ity)
        shifted = self.bits(self.b.fadd(x, self.c(_SHIFTER64)))  # exact: 2^52 <= |sum| < 2^53
        return self.b.sub(shifted, self.ci(_SHIFTER64_BITS))

    def bits(self, x):
        return self.b.bitcast(x, self.ity)
