"""sin, cos and tan of float32 as branch-free code, exact argument reduction included.

libm's ``sinf`` is a scalar call, and a loop calling it stays scalar (7 times
slower than NumPy's SIMD loop on an AVX-512 machine, ``tanf`` 16 times). Here the
float32 argument is reduced and the polynomials evaluated in double, so the result,
rounded once to float, is within a hair of correctly rounded:

* reduction (Payne-Hanek, for every finite float): ``|x| = M 2^s`` with ``M`` the
  24-bit integer significand, and ``|x| 2/pi mod 4 = M y_s mod 4`` with
  ``y_s = 2^s 2/pi mod 4`` read from a table by the exponent (254 rows of three
  doubles: 29, 29 and 53 bits of ``y_s``, so that ``M`` times either of the first
  two is exact). ``k = round(M y_s mod 4)`` is the quadrant and
  ``r = (M y_s mod 4 - k) pi/2`` in [-pi/4, pi/4], about 86 bits below the
  quadrant's scale: enough for the float32 closest to a multiple of pi/2;
* ``sin r = r + r^3 S(r^2)`` (Taylor to degree 11: the remainder is under 1e-11
  relative on [-pi/4, pi/4]) and ``cos r = 1 - r^2/2 + r^4 C(r^2)`` (to degree
  10, under 2e-10), both in double, swapped and negated by the quadrant; tan is
  their quotient; the sign of x put back for sin and tan.

NaN and +-inf give NaN; sin and tan keep the sign of zero. The table is one
internal constant per LLVM module (``@__mlc_math.two_over_pi``); in a loop LLVM's
vectorizer widens, it gathers from it (three gathers per 8 lanes, most of the time).
A whole vector of float32 lanes (what the llvm backend's vectorize pass makes of a
loop calling them) instead goes through :func:`vector_trig`: the same polynomials,
the reduction of every lane below 2^20 made without the table (about three times the
speed: benchmarks/results/decisions.md, "LLVM backend"), the rare vector holding
a larger, infinite or NaN lane through the scalar routine, lane by lane.
"""
from __future__ import annotations

from functools import lru_cache
from math import factorial

from llvmlite import ir

from .emitter import FAST_FLAGS, FORMATS, FloatOps, pi_fixed

__all__ = ["sin", "cos", "tan", "TRIG_ROUTINES", "reduction_table", "vector_trig", "unless_slow_lanes",
           "pio2_parts", "combine_quadrants", "quadrant_bit", "FAST_LIMIT"]

_TABLE = "__mlc_math.two_over_pi"
#: float32 biased exponents of finite numbers (subnormals read row 1, as their scale is 2^-149).
_ROWS = 254
#: Fractional bits of the fixed-point 2/pi multiples the table is cut from (the smallest
#: scale, 2^-149, leaves 300 - 149 - 2 = 149 bits below its leading bit, over the 111 kept).
_FRACTION = 300
_SIN = tuple((-1) ** (n + 1) / factorial(2 * n + 3) for n in range(5))  # -1/3!, 1/5!, ... -1/11!
_COS = tuple((-1) ** n / factorial(2 * n + 4) for n in range(4))  # 1/4!, -1/6!, ... -1/10!
_PI_2 = 1.5707963267948966


def _split(value: int, scale: int) -> tuple[float, float, float]:
    """``value / 2^scale`` (an integer in fixed point) as (hi, mid, lo): hi and mid its
    next 29 significant bits each, lo the rest rounded to a double."""
    if value == 0:
        return 0.0, 0.0, 0.0
    top = value.bit_length()
    hi = value >> max(top - 29, 0) << max(top - 29, 0)
    rest = value - hi
    mid = rest >> max(top - 58, 0) << max(top - 58, 0)
    lo = rest - mid
    return hi / 2 ** scale, mid / 2 ** scale, lo / 2 ** scale  # (int / int: correctly rounded)


@lru_cache(maxsize=1)
def reduction_table() -> tuple[float, ...]:
    """Row ``e - 1`` for float32 biased exponent ``e`` (1..254): ``2^s 2/pi mod 4`` as
    (hi, mid, lo), ``s = e - 150`` the scale of the float's 24-bit integer significand."""
    top = _FRACTION + 128  # 2/pi to this many fractional bits covers every row
    two_over_pi = (1 << (2 * top + 1)) // pi_fixed(top)  # floor(2/pi 2^top)
    rows = []
    for e in range(1, _ROWS + 1):
        s = e - 150
        y = two_over_pi >> (top - _FRACTION - s)  # floor(2^s 2/pi 2^FRACTION)
        rows.extend(_split(y % (4 << _FRACTION), _FRACTION))
    return tuple(rows)


def _table(module: ir.Module) -> ir.GlobalVariable:
    table = module.globals.get(_TABLE)
    if table is None:
        values = reduction_table()
        ty = ir.ArrayType(ir.DoubleType(), len(values))
        table = ir.GlobalVariable(module, ty, name=_TABLE)
        table.linkage = "internal"
        table.global_constant = True
        table.initializer = ir.Constant(ty, list(values))
    return table


def _reduce(o: FloatOps, x):
    """(d, quadrant, sin r, cos r, negative, finite) for float ``x``: ``d`` emits double
    arithmetic, the quadrant is an i32 in 0..3 and ``r`` in [-pi/4, pi/4] with
    |x| = (4n + quadrant) pi/2 + r; i1s for x's sign and finiteness."""
    b = o.b
    i32 = ir.IntType(32)
    d = FloatOps(b, FORMATS["float64"], o.fast, o.flags)
    bits = b.and_(o.bits(x), o.ci(0x7FFFFFFF))
    e = b.lshr(bits, o.ci(23))
    mant = b.and_(bits, o.ci(0x7FFFFF))
    subnormal = b.icmp_unsigned("==", e, o.ci(0))
    m = d.b.sitofp(b.select(subnormal, mant, b.or_(mant, o.ci(0x800000))), d.ty)
    row = b.select(subnormal, o.ci(1), b.select(b.icmp_unsigned(">", e, o.ci(_ROWS)), o.ci(_ROWS), e))
    base = b.mul(b.sub(row, o.ci(1)), o.ci(3))
    table = _table(b.module)

    def entry(n):
        ptr = b.gep(table, [ir.Constant(i32, 0), b.add(base, o.ci(n))], inbounds=True)
        return b.load(ptr, typ=d.ty)

    hi, mid, lo = entry(0), entry(1), entry(2)
    t = d.mul(m, hi)  # exact: 24 x 29 bits
    t = d.sub(t, d.mul(d.floor(d.mul(t, 0.25)), 4.0))  # mod 4, exact
    u = d.mul(m, mid)  # exact
    k = d.roundeven(d.add(t, u))
    f = d.fma(m, lo, d.add(d.sub(t, k), u))  # t - k exact
    sin_r, cos_r = _sin_cos(d, d.mul(f, _PI_2))
    quadrant = b.and_(d.b.fptosi(k, i32), ir.Constant(i32, 3))
    negative = b.icmp_signed("<", o.bits(x), o.ci(0))
    finite = b.icmp_unsigned("<", e, o.ci(255))
    return d, quadrant, sin_r, cos_r, negative, finite


def _sin_cos(p: FloatOps, r, sin_terms=_SIN):
    """(sin r, cos r) for ``r`` in [-pi/4, pi/4] in ``p``'s arithmetic: ``r + r^3 S(r^2)`` with
    ``sin_terms`` of S and ``1 - r^2/2 + r^4 C(r^2)``."""
    z = p.mul(r, r)
    return (p.fma(p.mul(r, z), p.horner(z, sin_terms), r),
            p.fma(p.mul(z, z), p.horner(z, _COS), p.fma(z, -0.5, 1.0)))


def quadrant_bit(b: ir.IRBuilder, quadrant, n: int, const=None):
    """Whether bit ``n`` (a mask) of the integer ``quadrant`` is set; ``const(v)`` makes the
    constant ``v`` of its type (a splat for a vector)."""
    const = const or (lambda v: ir.Constant(quadrant.type, v))
    return b.icmp_unsigned("!=", b.and_(quadrant, const(n)), const(0))


def combine_quadrants(op: str, d: FloatOps, q, s, c, negative, const=None):
    """``op``'s value (of ``d``'s format: double, float for fast_math's vector form) from the quadrant ``q``, sin r and cos r, and x's sign:
    sin by quadrant sin r, cos r, -sin r, -cos r, odd in x (zeros keep their sign); cos
    cos r, -sin r, -cos r, sin r, even in x; tan sin r / cos r in even quadrants, -cos r /
    sin r in odd ones, odd in x. ``const(v)``: the integer constant ``v`` of ``q``'s type."""
    b = d.b
    if op == "sin":
        y = d.select(quadrant_bit(b, q, 1, const), c, s)
        return d.select(b.xor(quadrant_bit(b, q, 2, const), negative), d.neg(y), y)
    if op == "cos":
        y = d.select(quadrant_bit(b, q, 1, const), s, c)
        one = const(1) if const else ir.Constant(q.type, 1)
        flip = quadrant_bit(b, b.add(q, one), 2, const)  # quadrants 1, 2
        return d.select(flip, d.neg(y), y)
    odd = quadrant_bit(b, q, 1, const)
    y = d.div(d.select(odd, d.neg(c), s), d.select(odd, s, c))
    return d.select(negative, d.neg(y), y)


def _finish(o: FloatOps, y, finite):
    """``y`` (double) rounded to float; NaN where x is NaN or infinite (not ``finite``)."""
    return o.select(finite, o.b.fptrunc(y, o.ty), float("nan"))


def sin(o: FloatOps, x):
    """sin(x): by quadrant sin r, cos r, -sin r, -cos r; odd in x (zeros keep their sign)."""
    d, q, s, c, negative, finite = _reduce(o, x)
    return _finish(o, combine_quadrants("sin", d, q, s, c, negative), finite)


def cos(o: FloatOps, x):
    """cos(x): by quadrant cos r, -sin r, -cos r, sin r; even in x."""
    d, q, s, c, negative, finite = _reduce(o, x)
    return _finish(o, combine_quadrants("cos", d, q, s, c, negative), finite)


def tan(o: FloatOps, x):
    """tan(x): sin r / cos r in even quadrants, -cos r / sin r in odd ones; odd in x."""
    d, q, s, c, negative, finite = _reduce(o, x)
    return _finish(o, combine_quadrants("tan", d, q, s, c, negative), finite)


#: The magnitude below which :func:`vector_trig` reduces a lane without the table: its
#: quadrant count ``k`` then has at most 20 bits, and ``k`` times :data:`_PIO2_HI` is exact.
FAST_LIMIT = 2.0 ** 20


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


#: pi/2 as hi + lo: hi of 33 bits, lo the rest rounded (about 2^-86 relative left out).
_PIO2_HI, _PIO2_LO = pio2_parts(33)
_TWO_OVER_PI = 0.6366197723675814


#: fast_math's sin polynomial in :func:`vector_trig` (in float): to degree 9 (remainder under
#: 2e-9 relative on [-pi/4, pi/4]); cos keeps its degree 10 (under 3e-9).
_SIN_FAST = _SIN[:4]


def vector_trig(builder: ir.IRBuilder, op: str, x: ir.Value, lane_by_lane: ir.Function,
                fast: bool = False) -> ir.Value:
    """``op(x)`` (sin, cos or tan) of every lane of the float vector ``x``, as vector code.

    A lane with ``|x| < FAST_LIMIT`` is reduced without the table: in double, ``k =
    round(|x| 2/pi)`` and ``r = |x| - k hi - k lo`` (pi/2 = hi + lo, :func:`pio2_parts`;
    the first product exact, the first difference exact), then the polynomials and
    quadrants of the scalar routines (:func:`combine_quadrants`). With ``k`` under 2^20 the
    reduction's error, some 2^-66, stays far below the smallest ``|r|`` a float that
    small leaves, so the result rounds as the table's does (within a hair of correctly
    rounded). The vector is then 8 lanes of double arithmetic with no gathers: on an
    AVX-512 host some 4 times the speed of the table's reduction, whose three gathers
    per 8 lanes are most of its time.

    ``fast`` (fast_math): ``r`` is rounded to float after the reduction and the polynomials,
    quadrants and tan's quotient run in float, 16 lanes where double has 8 (within
    :data:`mlc.passes.tir.math.fast.FAST_BOUNDS`, 1e-6 relative: the reduction stays double's).

    Where any lane is larger, infinite or NaN (``|x| >= FAST_LIMIT`` or unordered), a
    branch LLVM is told is rarely taken computes the vector by ``lane_by_lane`` instead (the
    scalar routine on each lane in turn, out of line: ``@__mlc_math.sin.f32.lanes.v16``)::

        %slow = fcmp uge <16 x float> %ax, splat (float 0x4130000000000000)
        ...                                   ; the reduction and polynomials in double
        %any = icmp ne i16 (bitcast %slow), 0
        br i1 %any, label %sin.lanes, label %sin.join   ; !prof: unlikely
    """
    n = x.type.count
    b = builder
    f = FloatOps(b, FORMATS["float32"], lanes=n)
    d = FloatOps(b, FORMATS["float64"], lanes=n)
    ax = f.abs(x)
    slow = b.fcmp_unordered(">=", ax, f.c(FAST_LIMIT))
    a = b.fpext(f.select(slow, 0.0, ax), d.ty)  # (slow lanes reduce 0: no out-of-range conversion)
    k = d.roundeven(d.mul(a, _TWO_OVER_PI))
    r = d.fma(d.neg(k), _PIO2_LO, d.fma(d.neg(k), _PIO2_HI, a))
    q = b.and_(b.fptosi(k, f.ity), f.ci(3))
    negative = b.icmp_signed("<", f.bits(x), f.ci(0))
    if fast:  # the polynomials and quadrants in float
        p = FloatOps(b, FORMATS["float32"], True, FAST_FLAGS, lanes=n)
        value = combine_quadrants(op, p, q, *_sin_cos(p, b.fptrunc(r, f.ty), _SIN_FAST), negative, f.ci)
    else:
        value = b.fptrunc(combine_quadrants(op, d, q, *_sin_cos(d, r), negative, f.ci), f.ty)
    return unless_slow_lanes(b, op, slow, value, x, lane_by_lane)


def unless_slow_lanes(b: ir.IRBuilder, op: str, slow: ir.Value, fast: ir.Value, x: ir.Value,
                      lane_by_lane: ir.Function) -> ir.Value:
    """``fast`` (the vector form's value of ``x``), or ``lane_by_lane(x)`` where a lane of the
    i1 vector ``slow`` is set, on a branch weighted as rarely taken; the builder continues
    in the join block (``<op>.join``)."""
    n = x.type.count
    any_slow = b.icmp_unsigned("!=", b.bitcast(slow, ir.IntType(n)), ir.Constant(ir.IntType(n), 0))
    before = b.block
    lanes_block = b.append_basic_block(f"{op}.lanes")
    join = b.append_basic_block(f"{op}.join")
    branch = b.cbranch(any_slow, lanes_block, join)
    branch.set_weights([1, 1 << 20])
    b.position_at_end(lanes_block)
    out = b.call(lane_by_lane, [x])
    lanes_end = b.block
    b.branch(join)
    b.position_at_end(join)
    result = b.phi(fast.type)
    result.add_incoming(fast, before)
    result.add_incoming(out, lanes_end)
    return result


#: op name -> routine(FloatOps, x), float32 only (a float64 scalar keeps libm's: :mod:`..intrinsics`;
#: a float64 vector: :mod:`.double_trig`)
TRIG_ROUTINES = {"sin": sin, "cos": cos, "tan": tan}
