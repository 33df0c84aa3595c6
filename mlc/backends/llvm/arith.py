"""Binary operations and casts with exactly NumPy's semantics (docs/ir-semantics.md).

Nothing emitted here can trap or produce poison on any input: integer
division guards its divisor (zero gives 0, ``INT_MIN // -1`` wraps), shifts
guard their amount (NumPy's results for shifts past the bit width), float
floordiv/floormod follow NumPy's ``npy_divmod`` step by step, and min/max
propagate NaN like ``np.minimum``/``np.maximum``.

Operands arrive in their compute type (float16 already widened to float32);
``dtype`` names it.
"""
from __future__ import annotations

from llvmlite import ir

from ...errors import CompileError
from ...ir import dtype as dt
from .intrinsics import call_intrinsic
from .types import int_constant, reg_type

__all__ = ["binary", "compare", "cast", "logical", "REDUCTION_FLAGS"]

#: Fast-math flags on the float add/mul of a reduction update, and nowhere else
#: (a product added by the update gets ``contract`` alone).
REDUCTION_FLAGS = ("reassoc", "contract")

_CMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def binary(b: ir.IRBuilder, op: str, x: ir.Value, y: ir.Value, dtype: str,
           flags: tuple[str, ...] = ()) -> ir.Value:
    """``x <op> y`` for an arithmetic or bitwise op of :mod:`mlc.ir.expr`.

    ``flags`` (float add/mul only) are fast-math flags such as ``reassoc``.
    """
    if dt.is_float(dtype):
        return _float_binary(b, op, x, y, flags)
    if dtype == "bool":
        return _bool_binary(b, op, x, y)
    return _int_binary(b, op, x, y, dtype)


def compare(b: ir.IRBuilder, op: str, x: ir.Value, y: ir.Value, dtype: str) -> ir.Value:
    """IEEE comparisons for floats (``ne`` is true on NaN), signed/unsigned for ints."""
    sym = _CMP[op]
    if dt.is_float(dtype):
        return b.fcmp_unordered(sym, x, y) if op == "ne" else b.fcmp_ordered(sym, x, y)
    if dt.is_signed(dtype):
        return b.icmp_signed(sym, x, y)
    return b.icmp_unsigned(sym, x, y)  # unsigned ints and bool (False < True)


def logical(b: ir.IRBuilder, op: str, x: ir.Value, y: ir.Value) -> ir.Value:
    """``and``/``or`` of two i1 values (both sides are evaluated)."""
    return b.and_(x, y) if op == "and" else b.or_(x, y)


# ------------------------------------------------------------------ floats

def _float_binary(b, op, x, y, flags):
    if op == "add":
        return b.fadd(x, y, flags=flags)
    if op == "sub":
        return b.fsub(x, y)
    if op == "mul":
        return b.fmul(x, y, flags=flags)
    if op == "div":
        return b.fdiv(x, y)
    if op in ("floordiv", "floormod"):
        quotient, remainder = _float_divmod(b, x, y)
        return quotient if op == "floordiv" else remainder
    if op in ("min", "max"):
        return _float_min_max(b, op, x, y)
    if op == "truncdiv":  # C semantics: the quotient rounded toward zero, as np.trunc(x / y)
        return call_intrinsic(b, "trunc", b.fdiv(x, y))
    if op == "truncmod":  # C fmod, as np.fmod
        return b.frem(x, y)
    raise CompileError(f"{op} is not defined for floats")


def _float_min_max(b, op, x, y):
    """NumPy's ``(x >= y || isnan(x)) ? x : y`` for max (``<=`` for min): NaN wins."""
    keep_x = b.fcmp_ordered(">=" if op == "max" else "<=", x, y)
    keep_x = b.or_(keep_x, b.fcmp_unordered("uno", x, x))
    return b.select(keep_x, x, y)


def _float_divmod(b, a, d):
    """(floor_divide, remainder) as NumPy's ``npy_floor_divide``/``npy_remainder``.

    mod = fmod(a, d); div = (a - mod) / d; if mod != 0 and sign(mod) != sign(d):
    mod += d, div -= 1; a zero mod takes d's sign; div is snapped to the
    nearest integer (a zero quotient keeps the sign of a / d). A zero divisor
    gives a / d and fmod(a, d).
    """
    ty = a.type
    zero, one, half = ir.Constant(ty, 0.0), ir.Constant(ty, 1.0), ir.Constant(ty, 0.5)
    mod = b.frem(a, d)
    true_quotient = b.fdiv(a, d)
    div = b.fdiv(b.fsub(a, mod), d)
    mod_nonzero = b.fcmp_unordered("!=", mod, zero)  # C truthiness: NaN is true
    signs_differ = b.xor(b.fcmp_ordered("<", d, zero), b.fcmp_ordered("<", mod, zero))
    adjust = b.and_(mod_nonzero, signs_differ)
    mod_adj = b.select(adjust, b.fadd(mod, d), mod)
    div = b.select(adjust, b.fsub(div, one), div)
    mod_out = b.select(mod_nonzero, mod_adj, call_intrinsic(b, "copysign", zero, d))
    floor = call_intrinsic(b, "floor", div)
    snapped = b.select(b.fcmp_ordered(">", b.fsub(div, floor), half), b.fadd(floor, one), floor)
    div_nonzero = b.fcmp_unordered("!=", div, zero)
    div_out = b.select(div_nonzero, snapped, call_intrinsic(b, "copysign", zero, true_quotient))
    d_zero = b.fcmp_ordered("==", d, zero)
    return b.select(d_zero, true_quotient, div_out), b.select(d_zero, mod, mod_out)


# ---------------------------------------------------------------- integers

def _bool_binary(b, op, x, y):
    table = {"min": b.and_, "max": b.or_, "bitand": b.and_, "bitor": b.or_, "bitxor": b.xor}
    if op not in table:
        raise CompileError(f"{op} is not defined for bool operands")
    return table[op](x, y)


def _int_binary(b, op, x, y, dtype):
    signed = dt.is_signed(dtype)
    simple = {"add": b.add, "sub": b.sub, "mul": b.mul, "bitand": b.and_, "bitor": b.or_,
              "bitxor": b.xor}
    if op in simple:
        return simple[op](x, y)  # two's complement wrap-around, as NumPy
    if op in ("floordiv", "floormod", "truncdiv", "truncmod"):
        return _int_divmod(b, op, x, y, dtype)
    if op in ("min", "max"):
        cmp = b.icmp_signed if signed else b.icmp_unsigned
        return b.select(cmp("<" if op == "min" else ">", x, y), x, y)
    if op in ("shl", "shr"):
        return _shift(b, op, x, y, dtype)
    raise CompileError(f"{op} is not defined for {dtype}")


def _int_divmod(b, op, x, y, dtype):
    """Division that never traps: a zero divisor gives 0 and ``INT_MIN // -1`` wraps."""
    divisor = _positive_constant(y)
    if divisor is not None:
        return _divmod_by_constant(b, op, x, divisor, dtype)
    ty = x.type
    zero, one = ir.Constant(ty, 0), ir.Constant(ty, 1)
    y_zero = b.icmp_unsigned("==", y, zero)
    unsafe = y_zero
    if dt.is_signed(dtype):
        int_min = ir.Constant(ty, -(1 << (dt.bits(dtype) - 1)))
        overflow = b.and_(b.icmp_signed("==", x, int_min), b.icmp_signed("==", y, ir.Constant(ty, -1)))
        unsafe = b.or_(y_zero, overflow)
    divisor = b.select(unsafe, one, y)  # x / 1 is INT_MIN, the wrapped quotient; x % 1 is 0
    if not dt.is_signed(dtype):
        result = b.udiv(x, divisor) if op in ("floordiv", "truncdiv") else b.urem(x, divisor)
        return b.select(y_zero, zero, result)
    quotient, remainder = b.sdiv(x, divisor), b.srem(x, divisor)
    if op.startswith("floor"):
        # round toward -inf: the remainder must take the divisor's sign
        fix = b.and_(b.icmp_signed("!=", remainder, zero),
                     b.icmp_signed("<", b.xor(remainder, divisor), zero))
        quotient = b.sub(quotient, b.zext(fix, ty))
        remainder = b.add(remainder, b.select(fix, divisor, zero))
    result = quotient if op.endswith("div") else remainder
    return b.select(y_zero, zero, result)


def _positive_constant(y: ir.Value) -> int | None:
    """The value of ``y`` when it is an integer constant above zero (loop tiling's divisors)."""
    value = int_constant(y)
    return value if value is not None and value > 0 else None


def _divmod_by_constant(b, op, x, d: int, dtype):
    """``x // d`` or ``x % d`` (floor or trunc) for a constant ``d > 0``: nothing can trap,
    so no guards. For signed ``x`` and a power of two, floor division is an arithmetic
    shift and floor modulo a mask; otherwise the remainder is corrected toward -inf."""
    ty = x.type
    if d == 1:
        return x if op.endswith("div") else ir.Constant(ty, 0)
    if not dt.is_signed(dtype):  # floor and trunc agree on unsigned operands
        return b.udiv(x, ir.Constant(ty, d)) if op.endswith("div") else b.urem(x, ir.Constant(ty, d))
    if op.startswith("floor") and d & (d - 1) == 0:
        shift = d.bit_length() - 1
        return b.ashr(x, ir.Constant(ty, shift)) if op == "floordiv" else b.and_(x, ir.Constant(ty, d - 1))
    quotient, remainder = b.sdiv(x, ir.Constant(ty, d)), b.srem(x, ir.Constant(ty, d))
    if op.startswith("trunc"):
        return quotient if op == "truncdiv" else remainder
    negative = b.icmp_signed("<", remainder, ir.Constant(ty, 0))  # d > 0: signs differ iff rem < 0
    if op == "floordiv":
        return b.sub(quotient, b.zext(negative, ty))
    return b.add(remainder, b.select(negative, ir.Constant(ty, d), ir.Constant(ty, 0)))


def _shift(b, op, x, y, dtype):
    """NumPy shifts: an amount outside [0, bits) shifts everything out (on scalars or vectors);
    a scalar constant amount inside is the shift alone (the generator's rotations)."""
    bits = dt.bits(dtype)
    amount = int_constant(y, is_signed=False)
    if amount is not None and amount < bits:
        return b.shl(x, y) if op == "shl" else b.ashr(x, y) if dt.is_signed(dtype) else b.lshr(x, y)

    def c(value: int) -> ir.Constant:
        if isinstance(x.type, ir.VectorType):
            return ir.Constant(x.type, [ir.Constant(x.type.element, value)] * x.type.count)
        return ir.Constant(x.type, value)
    in_range = b.icmp_unsigned("<", y, c(bits))
    if op == "shr" and dt.is_signed(dtype):
        return b.ashr(x, b.select(in_range, y, c(bits - 1)))
    amount = b.select(in_range, y, c(0))
    shifted = b.shl(x, amount) if op == "shl" else b.lshr(x, amount)
    return b.select(in_range, shifted, c(0))


# ------------------------------------------------------------------- casts

def _truncated(b: ir.IRBuilder, v: ir.Value, it: ir.IntType) -> ir.Value:
    """x86's ``cvttss2si``/``cvttsd2si`` into ``it``: float ``v`` truncated toward zero, or the
    "integer indefinite" value (the lowest int of ``it``) for NaN and values out of range.
    (LLVM's ``fptosi`` of those is poison, which the optimiser may turn into anything: a
    narrowing it drops, a clamp once vectorised. The select keeps it out of the result.)"""
    half = 2.0 ** (it.width - 1)
    inside = b.and_(b.fcmp_ordered(">=", v, ir.Constant(v.type, -half)),
                    b.fcmp_ordered("<", v, ir.Constant(v.type, half)))
    return b.select(inside, b.fptosi(v, it), ir.Constant(it, -(1 << (it.width - 1))))


def _float_to_int(b: ir.IRBuilder, v: ir.Value, src: str, dst: str) -> ir.Value:
    """Float ``v`` to the int type ``dst`` as NumPy converts on x86, where the value does not
    fit too: signed types and uint8/uint16 through a 32-bit (int64: 64-bit) truncation, whose
    low bits are kept (-5.0 as uint8 is 251, 300.0 as int8 is 44, NaN as int32 the lowest
    int32); uint32 and uint64 as C compilers convert to them, values from half their range on
    shifted down by it first (-5.0 as uint32 is 2^32 - 5; 2^32 and more give 0)."""
    if src == "float16":  # widened, its constants are plain
        v = b.fpext(v, ir.FloatType())
    bits = dt.bits(dst)
    through64 = bits == 64 or (src == "float16" and dst == "uint32")  # (NumPy's float16 -> uint32: 64-bit)
    if dt.is_signed(dst) or bits < 32 or src == "float16" and dst == "uint32":
        it = ir.IntType(64 if through64 else 32)
        out = _truncated(b, v, it)
        return b.trunc(out, ir.IntType(bits)) if bits < it.width else out
    it = ir.IntType(bits)
    half = 2.0 ** (bits - 1)
    low = _truncated(b, v, it)
    high = b.xor(_truncated(b, b.fsub(v, ir.Constant(v.type, half)), it), ir.Constant(it, 1 << (bits - 1)))
    return b.select(b.fcmp_ordered(">=", v, ir.Constant(v.type, half)), high, low)


#: The element dtypes whose vector casts are one instruction (:func:`whole_vector_cast`).
_VECTOR_CASTS = frozenset({"float32", "float64", "int32", "int64"})


def whole_vector_cast(src: str, dst: str) -> bool:
    """Whether a vector of ``src`` elements is cast to ``dst`` by one instruction, :func:`cast`
    of the vector (floats widened or narrowed, a signed int to a float or a width), not lane
    by lane (a float to an int: NumPy's out-of-range results, :func:`_float_to_int`)."""
    return src in _VECTOR_CASTS and dst in _VECTOR_CASTS and not (dt.is_float(src) and dt.is_int(dst))


def cast(b: ir.IRBuilder, v: ir.Value, src: str, dst: str, target: ir.Type | None = None) -> ir.Value:
    """``v.astype(dst)`` for a register value of dtype ``src`` (NumPy semantics); ``target``:
    the vector type of a :func:`whole_vector_cast`'s result.

    Float to int truncates toward zero; anything to bool is ``!= 0`` (NaN is
    true); bool to a number is 0 or 1.
    """
    if src == dst:
        return v
    target = target or reg_type(dst)
    if dst == "bool":
        if dt.is_float(src):
            return b.fcmp_unordered("!=", v, ir.Constant(v.type, 0.0))
        return b.icmp_unsigned("!=", v, ir.Constant(v.type, 0))
    if src == "bool":
        return b.uitofp(v, target) if dt.is_float(dst) else b.zext(v, target)
    if dt.is_float(src) and dt.is_float(dst):
        if dt.bits(src) < dt.bits(dst):
            return b.fpext(v, target)
        return b.fptrunc(v, target)
    if dt.is_float(src):
        return _float_to_int(b, v, src, dst)
    if dt.is_float(dst):
        return b.sitofp(v, target) if dt.is_signed(src) else b.uitofp(v, target)
    sb, db = dt.bits(src), dt.bits(dst)
    if db < sb:
        return b.trunc(v, target)
    if db > sb:
        return b.sext(v, target) if dt.is_signed(src) else b.zext(v, target)
    return v  # same width, other signedness: the same bits
