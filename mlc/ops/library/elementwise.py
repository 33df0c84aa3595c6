"""Elementwise ops: NumPy's ufuncs as one te.compute each.

Every op here broadcasts its tensor inputs the NumPy way and computes in the
dtypes NumPy's own ufunc loop would pick (``ufunc.resolve_dtypes``), so
``exp`` of int32 is float64 and ``add`` of uint8 and int8 is int16. The
lowering casts each operand to its loop dtype, applies the scalar rule, and
writes one output element per point:

>>> from mlc import te
>>> from mlc.ops import get_op
>>> x = te.placeholder((4, 1), "int8", "x"); y = te.placeholder((3,), "uint8", "y")
>>> z = get_op("add").lower(x, y)
>>> z.shape, z.dtype
((4, 3), 'int16')
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ...ir.erfinv import erfinv
from ..registry import TensorType, register_alias, register_op
from ._common import (np_erf, np_sigmoid, bind_scalar, broadcast_indices, broadcast_shapes, canonical_dtype,
                      constant_value,
                      result_type, ufunc_dtypes, weak_result_type)

__all__: list[str] = []

Rule = Callable[[tuple[str, ...]], tuple[tuple[str, ...], str]]


def _check_arity(op: str, args, nin: int) -> None:
    if len(args) != nin:
        raise ShapeError(f"{op}: takes {nin} tensor input(s), got {len(args)}; pass Python "
                         "scalars as 0-d tensors")


def elementwise_op(name: str, nin: int, scalar: Callable, rule: Rule, reference: Callable,
                   doc: str = "", pattern: str | None = None):
    """Register an elementwise op from its scalar rule.

    ``rule(dtypes)`` returns the loop dtypes of the inputs and the output
    dtype; ``scalar(*exprs)`` builds the output element from operands
    already cast to the loop dtypes.
    """
    def infer(*types: TensorType) -> TensorType:
        _check_arity(name, types, nin)
        ins, out = rule(tuple(t.dtype for t in types))
        if any(dt.is_complex(d) for d in ins):  # NumPy's loop exists; the scalar rule may refuse it
            try:
                scalar(*(_e.Var(f"x{n}", d) for n, d in enumerate(ins)))
            except DTypeError as err:
                raise DTypeError(f"{name}: {err}") from None
        return TensorType(broadcast_shapes(*(t.shape for t in types), op=name), out)

    def lower(*tensors):
        _check_arity(name, tensors, nin)
        in_dtypes, out = rule(tuple(t.dtype for t in tensors))
        shape = broadcast_shapes(*(t.shape for t in tensors), op=name)

        def element(*idx):
            args = [_e.cast(t[broadcast_indices(t.shape, idx)], d) for t, d in zip(tensors, in_dtypes)]
            return _e.cast(scalar(*args), out)

        return te.compute(shape, element, name=f"T_{name}")

    def ref(*arrays):
        _check_arity(name, arrays, nin)
        return np.asarray(reference(*arrays))

    pattern = pattern or ("elemwise" if nin == 1 else "broadcast")
    return register_op(name, pattern=pattern, infer=infer, lower=lower, reference=ref,
                       doc=doc or f"NumPy's ``{name}``, elementwise with broadcasting.")


def ufunc_rule(name: str, ufunc: np.ufunc) -> Rule:
    """Loop dtypes as NumPy's ``ufunc`` picks them."""
    return lambda dtypes: ufunc_dtypes(name, ufunc, *dtypes)


def _float_rule(name: str) -> Rule:
    """Float math without a NumPy ufunc (erf, sigmoid): compute like ``np.exp`` does."""
    def rule(dtypes):
        (d,), out = ufunc_dtypes(name, np.exp, *dtypes)
        return (d,), out
    return rule


# ------------------------------------------------------------------ scalar rules

def _add(a, b):
    return _e.logical_or(a, b) if a.dtype == "bool" else a + b


def _multiply(a, b):
    return _e.logical_and(a, b) if a.dtype == "bool" else a * b


def _complex_sign(z):
    """NumPy's ``z / |z|``: 0 for 0, NaN for a NaN part; with an infinite part, the sign of
    that part (NaN when both are infinite)."""
    re, im = _e.real(z), _e.imag(z)
    h = _e.hypot(re, im)
    one, zero, nan = (_e.const(v, re.dtype) for v in (1.0, 0.0, float("nan")))

    def unit(v):
        return _e.select(v > zero, one, -one)

    inf_re, inf_im = _e.isinf(re), _e.isinf(im)
    at_inf_re = _e.select(inf_re, _e.select(inf_im, nan, unit(re)), zero)
    at_inf_im = _e.select(inf_re, _e.select(inf_im, nan, zero), unit(im))
    parts = []
    for v, at_inf in ((re, at_inf_re), (im, at_inf_im)):
        finite = _e.select(h == zero, zero, v / h)
        parts.append(_e.select(_e.isnan(h), nan, _e.select(_e.isinf(h), at_inf, finite)))
    return _e.complex(*parts)


def _sign(a):
    if dt.is_complex(a.dtype):
        return _complex_sign(a)
    one, zero = _e.const(1, a.dtype), _e.const(0, a.dtype)
    if dt.is_unsigned(a.dtype):
        return _e.select(a > zero, one, zero)
    inner = _e.select(a < zero, _e.const(-1, a.dtype), zero)
    if dt.is_float(a.dtype):
        inner = _e.select(a < zero, _e.const(-1, a.dtype), _e.select(a == zero, zero, a))  # NaN stays
    return _e.select(a > zero, one, inner)


def _trunc(a):
    if not dt.is_float(a.dtype):
        return a
    return _e.select(a < _e.const(0, a.dtype), _e.ceil(a), _e.floor(a))


def _complex_reciprocal(z):
    """NumPy's complex reciprocal: with r the ratio of the smaller part to the larger and d the
    larger part plus the smaller times r, 1/d - r/d j or r/d - 1/d j."""
    re, im = _e.real(z), _e.imag(z)
    one = _e.const(1, re.dtype)
    real_big = _e.abs(im) <= _e.abs(re)
    r = _e.select(real_big, im / re, re / im)
    d = _e.select(real_big, re + im * r, re * r + im)
    return _e.complex(_e.select(real_big, one / d, r / d), _e.select(real_big, -r / d, -one / d))


def _reciprocal(a):
    if dt.is_complex(a.dtype):
        return _complex_reciprocal(a)
    if dt.is_float(a.dtype):
        return _e.const(1, a.dtype) / a
    # NumPy's integer loop is C's ``1.0 / x`` converted back: 1, -1 or 0, and for 0 the
    # conversion of inf (the lowest int64 or int32, 0 for narrower types, as mlc casts)
    return _e.cast(_e.const(1.0, "float64") / _e.cast(a, "float64"), a.dtype)


def _shift_in_range(b):
    bits = _e.const(dt.bits(b.dtype), b.dtype)
    in_range = b < bits
    return _e.logical_and(b >= _e.const(0, b.dtype), in_range) if dt.is_signed(b.dtype) else in_range


def _left_shift(a, b):
    """NumPy's ``a << b``: a shift by the bit width or more (or negative) gives 0."""
    return _e.select(_shift_in_range(b), a << b, _e.const(0, a.dtype))


def _right_shift(a, b):
    """NumPy's ``a >> b``: a shift past the width gives 0, or -1 for negative signed ``a``."""
    zero = _e.const(0, a.dtype)
    overflow = _e.select(a < zero, _e.const(-1, a.dtype), zero) if dt.is_signed(a.dtype) else zero
    return _e.select(_shift_in_range(b), a >> b, overflow)


def _comparison(op: str):
    """``a <op> b``; signed vs unsigned 64-bit operands compare exactly, as in NumPy."""
    def scalar(a, b):
        if a.dtype == b.dtype:
            return _e.make_binary(op, a, b)
        if dt.is_signed(a.dtype) and dt.is_unsigned(b.dtype):
            negative_result = op in ("lt", "le", "ne")
            return _e.select(a < _e.const(0, a.dtype), _e.const(negative_result, "bool"),
                             _e.make_binary(op, _e.cast(a, b.dtype), b))
        if dt.is_unsigned(a.dtype) and dt.is_signed(b.dtype):
            negative_result = op in ("gt", "ge", "ne")
            return _e.select(b < _e.const(0, b.dtype), _e.const(negative_result, "bool"),
                             _e.make_binary(op, a, _e.cast(b, a.dtype)))
        raise DTypeError(f"cannot compare {a.dtype} with {b.dtype}")
    return scalar


def _logical(fn):
    return lambda *args: fn(*(_e.cast(a, "bool") for a in args))


def _signbit(a):
    """Whether the sign bit is set: -0.0 and NaNs with the sign bit set count (``copysign(1, a) < 0``)."""
    return _e.copysign(_e.const(1, a.dtype), a) < _e.const(0, a.dtype)


def _logaddexp(a, b):
    """``log(exp(a) + exp(b))`` without overflow, as NumPy's loop computes it: ``a + log(2)``
    when equal (infinities included), else the larger plus ``log1p(exp(-|a - b|))``; NaN stays.

    float16 operands are computed in float32 and rounded once, as NumPy's float16 loop does
    (each step rounded to float16 would lose up to hundreds of ulps near ``a == -b``)."""
    if a.dtype == "float16":
        a, b = _e.cast(a, "float32"), _e.cast(b, "float32")
    d = a - b
    zero = _e.const(0, a.dtype)
    larger = _e.select(d > zero, a + _e.log1p(_e.exp(-d)), b + _e.log1p(_e.exp(d)))
    return _e.select(a == b, a + _e.const(np.log(2.0), a.dtype), _e.select(d == d, larger, d))


def _logaddexp2(a, b):
    """``log2(2**a + 2**b)``, as NumPy's loop computes it: ``a + 1`` when equal, else the larger
    plus ``log2(1 + 2**-|a - b|)``; NaN stays; float16 in float32, rounded once."""
    if a.dtype == "float16":
        a, b = _e.cast(a, "float32"), _e.cast(b, "float32")
    d = a - b
    zero, log2_e = _e.const(0, a.dtype), _e.const(np.log2(np.e), a.dtype)
    # 2**-|d| as a power of two, exact where |d| is an integer (exp(-|d| * ln2) rounded the
    # product first: 4e-6 off at |d| = 104), and log2(1 + x) as NumPy's log1p(x) * log2(e)
    # (near a == -b the sum cancels, and a quotient by ln 2 rounded differently: 128 ulps)
    low = _e.log1p(_e.pow(_e.const(2, a.dtype), -_e.abs(d))) * log2_e
    larger = _e.select(d > zero, a, b) + low
    return _e.select(a == b, a + _e.const(1, a.dtype), _e.select(d == d, larger, d))


def _nan_ignoring(pick):
    """``np.fmax``/``np.fmin``: ``pick`` (the NaN-propagating max or min), but a NaN operand
    gives the other operand (NaN only when both are)."""
    def scalar(a, b):
        if not dt.is_float(a.dtype):
            return pick(a, b)
        return _e.select(_e.isnan(b), a, _e.select(_e.isnan(a), b, pick(a, b)))
    return scalar


def _heaviside(x, h0):
    """``np.heaviside``: 0 below zero, ``h0`` at zero, 1 above, NaN for NaN."""
    zero, one = _e.const(0, x.dtype), _e.const(1, x.dtype)
    return _e.select(x < zero, zero, _e.select(x > zero, one, _e.select(x == zero, h0, x)))


def _nextafter(a, b):
    """``np.nextafter``: the backends' call, or for float16 (which they compute in float32,
    whose step is not float16's) a step of one on the half's bits."""
    return _half_nextafter(a, b) if a.dtype == "float16" else _e.nextafter(a, b)


def _half_nextafter(x, y):
    """The float16 next to ``x`` toward ``y``: its bits (sign and magnitude) one up or down;
    from either zero, the smallest subnormal of ``y``'s sign; ``x`` where they are equal
    (NumPy's half ``nextafter(-0, 0)`` is -0, where C's float one gives ``y``), NaN where
    either is."""
    zero = _e.const(0.0, "float16")
    bits = _e.reinterpret(x, "int16")
    one = _e.const(1, "int16")
    away = _e.logical_or(_e.logical_and(y > x, x > zero), _e.logical_and(y < x, x < zero))
    stepped = _e.reinterpret(_e.select(away, bits + one, bits - one), "float16")
    tiny = _e.reinterpret(_e.select(y > zero, one, _e.const(-0x7FFF, "int16")), "float16")  # 0x0001, 0x8001
    return _e.select(_e.logical_or(_e.isnan(x), _e.isnan(y)), x + y,
                     _e.select(x == y, x, _e.select(x == zero, tiny, stepped)))


def _spacing(x):
    """``np.spacing``: the step to the next float away from zero (toward +inf from either
    zero), ``nextafter(x, ±inf) - x``: NaN for infinities, inf past the largest float. For
    float16, NumPy's own rule (its half spacing is never negative, and from a negative power
    of two it is the smaller step, toward zero)."""
    inf = _e.const(float("inf"), x.dtype)
    if x.dtype == "float16":  # NumPy's half spacing: the (positive) step to the next half toward zero
        zero = _e.const(0.0, x.dtype)  # from a negative x, away from zero otherwise
        step = _half_nextafter(x, _e.select(x < zero, zero, inf)) - x
        return _e.select(_e.isinf(x), _e.const(float("nan"), x.dtype), step)
    return _nextafter(x, _e.select(x < _e.const(0, x.dtype), -inf, inf)) - x


def _float_layout(dtype: str) -> tuple[str, int, int, int]:
    """(the integer of ``dtype``'s width, its largest exponent, its smallest normal
    exponent, its fraction bits): what :func:`_ldexp` builds powers of two from.

    >>> _float_layout("float32")
    ('int32', 127, -126, 23)
    """
    info = np.finfo(dtype)
    return f"int{info.bits}", info.maxexp - 1, info.minexp, info.nmant


def _power_of_two(n, dtype: str):
    """2**n as ``dtype`` for an integer ``n`` of its normal exponents, from its bits."""
    int_type, emax, _, fraction = _float_layout(dtype)
    biased = _e.cast(n, int_type) + _e.const(emax, int_type)
    return _e.reinterpret(biased << _e.const(fraction, int_type), dtype)


def _ldexp(x, n):
    """``np.ldexp``: ``x * 2**n`` rounded once, for every integer ``n`` (float16 computed in
    float32, where it is exact, then rounded). As C's ``scalbn``: ``n`` beyond where the
    result is 0 or inf is clamped; at most two exact steps by the largest power of two
    (or by ``2**(emin - fraction - 1)`` downward, which can only round a value whose final
    result rounds to zero) bring ``n`` into the normal exponents, and one last product by
    ``2**n`` rounds."""
    out = x.dtype
    if out == "float16":
        return _e.cast(_ldexp(_e.cast(x, "float32"), n), "float16")
    _, emax, emin, fraction = _float_layout(out)
    limit = emax - emin + fraction + 2
    wide = "int64"
    n = _e.max(_e.min(_e.cast(n, wide), _e.const(limit, wide)), _e.const(-limit, wide))
    down = emin + fraction + 1  # scaling by 2**down keeps every result that does not round to 0 exact
    up_factor = _e.const(2.0 ** emax, out)
    down_factor = _e.const(2.0 ** down, out)
    for _ in range(2):
        high, low = n > _e.const(emax, wide), n < _e.const(emin, wide)
        x = _e.select(high, x * up_factor, _e.select(low, x * down_factor, x))
        n = _e.select(high, n - _e.const(emax, wide), _e.select(low, n - _e.const(down, wide), n))
    return x * _power_of_two(n, out)


def _angle_scale(numerator: float, denominator: float):
    """``x * (numerator / denominator)``, the factor rounded as NumPy's loops round it: in
    double for float64, in float for float32 and float16 (``NPY_PIf / 180.0f``)."""
    def scalar(a):
        if a.dtype == "float64":
            factor = numerator / denominator
        else:
            factor = float(np.float32(numerator) / np.float32(denominator))
        return a * _e.const(factor, a.dtype)
    return scalar


def _real_only(name: str, rule: Rule) -> Rule:
    """``rule``, refusing complex operands (exp2, fmax, fmin, float_power of complex numbers
    are not implemented)."""
    def checked(dtypes):
        ins, out = rule(dtypes)
        if dt.is_complex(out):
            raise DTypeError(f"{name}: complex operands are not supported; pass real arrays")
        return ins, out
    return checked


def _te_named(*names: str) -> list[tuple]:
    """Table rows of the ops whose scalar rule is the ``te`` function of the same name."""
    return [(name, getattr(_e, name)) for name in names]


_BINARY = [
    # name (NumPy's ufunc of that name), scalar rule
    ("add", _add),
    ("subtract", lambda a, b: a - b),
    ("multiply", _multiply),
    ("divide", lambda a, b: a / b),
    ("floor_divide", _e.floordiv),
    ("remainder", _e.floormod),
    ("maximum", _e.max),
    ("minimum", _e.min),
    ("equal", _comparison("eq")),
    ("not_equal", _comparison("ne")),
    ("less", _comparison("lt")),
    ("less_equal", _comparison("le")),
    ("greater", _comparison("gt")),
    ("greater_equal", _comparison("ge")),
    ("logical_and", _logical(_e.logical_and)),
    ("logical_or", _logical(_e.logical_or)),
    ("logical_xor", _logical(lambda a, b: a != b)),
    ("bitwise_and", lambda a, b: a & b),
    ("bitwise_or", lambda a, b: a | b),
    ("bitwise_xor", lambda a, b: a ^ b),
    ("left_shift", _left_shift),
    ("right_shift", _right_shift),
    ("arctan2", _e.atan2),
    *_te_named("hypot", "copysign"),
    ("nextafter", _nextafter),
    ("logaddexp", _logaddexp),
    ("logaddexp2", _logaddexp2),
    ("fmax", _nan_ignoring(_e.max)),
    ("fmin", _nan_ignoring(_e.min)),
    ("heaviside", _heaviside),
    ("float_power", _e.pow),
    ("fmod", _e.truncmod),
    ("ldexp", _ldexp),
]

def _rint(a):
    """Round half to even; a complex operand's parts each (``np.rint``, the Array API's ``round``)."""
    if dt.is_complex(a.dtype):
        return _e.complex(_e.round(_e.real(a)), _e.round(_e.imag(a)))
    return _e.round(a)


_UNARY = [
    ("negative", lambda a: -a),
    ("absolute", _e.abs),
    ("sign", _sign),
    *_te_named("exp", "expm1", "log", "log1p", "sqrt"),
    ("square", lambda a: _e.logical_and(a, a) if a.dtype == "bool" else a * a),
    ("reciprocal", _reciprocal),
    *_te_named("tanh", "sin", "cos", "floor", "ceil"),
    ("trunc", _trunc),
    ("rint", _rint),
    ("positive", lambda a: a),
    ("logical_not", _logical(_e.logical_not)),
    ("invert", lambda a: ~a),
    *_te_named("isnan", "isfinite", "isinf", "tan"),
    ("arcsin", _e.asin),
    ("arccos", _e.acos),
    ("arctan", _e.atan),
    *_te_named("sinh", "cosh"),
    ("arcsinh", _e.asinh),
    ("arccosh", _e.acosh),
    ("arctanh", _e.atanh),
    *_te_named("log2", "log10"),
    ("signbit", _signbit),
    ("exp2", lambda a: _e.pow(_e.const(2, a.dtype), a)),
    ("cbrt", _e.cbrt),
    ("fabs", _e.abs),
    ("deg2rad", _angle_scale(np.pi, 180.0)),
    ("rad2deg", _angle_scale(180.0, np.pi)),
    ("spacing", _spacing),
]

#: Ops whose complex operands are refused (NumPy computes them; mlc does not yet).
_REAL_ONLY = frozenset({"exp2", "fmax", "fmin", "float_power"})
for _arity, _table in ((2, _BINARY), (1, _UNARY)):
    for _name, _scalar in _table:
        _ufunc = getattr(np, _name)
        _rule = ufunc_rule(_name, _ufunc)
        _rule = _real_only(_name, _rule) if _name in _REAL_ONLY else _rule
        elementwise_op(_name, _arity, _scalar, _rule, _ufunc)


def _erf_reference(x):
    (d,), out = _float_rule("erf")((x.dtype.name,))
    return np_erf(x.astype(d)).astype(out)


def _erfinv_reference(x):
    (d,), out = _float_rule("erfinv")((x.dtype.name,))
    return np.asarray(erfinv(x.astype(d))).astype(out)


def _sigmoid_reference(x):
    (d,), out = _float_rule("sigmoid")((x.dtype.name,))
    return np_sigmoid(x.astype(d)).astype(out)


def _same_dtype_rule(dtypes):
    """stop_gradient: the operand's dtype, whatever it is."""
    (d,) = dtypes
    return (d,), d


def _part_rule(dtypes):
    (d,) = dtypes
    return (d,), dt.component(d)


elementwise_op("conjugate", 1, lambda a: _e.conj(a) if dt.is_complex(a.dtype) else a,
               ufunc_rule("conjugate", np.conjugate), np.conjugate,
               "The complex conjugate ``re - im j`` (real operands keep their values, in the ufunc's dtype: "
               "bool becomes int8, as NumPy's ``np.conjugate`` gives).")
elementwise_op("real", 1, lambda a: _e.real(a) if dt.is_complex(a.dtype) else a, _part_rule,
               np.real, "The real part of a complex operand (real operands as they are).")
elementwise_op("imag", 1, lambda a: _e.imag(a) if dt.is_complex(a.dtype) else _e.const(0, a.dtype),
               _part_rule, np.imag, "The imaginary part of a complex operand (zeros for real ones).")
elementwise_op("stop_gradient", 1, lambda a: a, _same_dtype_rule, lambda x: x,
               "``x`` itself, a constant to the transformations: zero tangents and cotangents "
               "(``mlc.stop_gradient``).")
elementwise_op("erf", 1, _e.erf, _float_rule("erf"), _erf_reference, "The error function (float math).")
elementwise_op("erfinv", 1, _e.erfinv, _float_rule("erfinv"), _erfinv_reference,
               "The inverse error function (SciPy's ``erfinv``, by Giles' polynomials; float math).")
elementwise_op("sigmoid", 1, _e.sigmoid, _float_rule("sigmoid"), _sigmoid_reference,
               "``1 / (1 + exp(-x))`` (float math).")

for _alias, _target in [("true_divide", "divide"), ("mod", "remainder"), ("abs", "absolute"),
                        ("bitwise_not", "invert"), ("bitwise_invert", "invert"),
                        # the Array API's spellings (NumPy 2 has them too)
                        ("acos", "arccos"), ("acosh", "arccosh"), ("asin", "arcsin"), ("asinh", "arcsinh"),
                        ("atan", "arctan"), ("atanh", "arctanh"), ("atan2", "arctan2"),
                        ("bitwise_left_shift", "left_shift"), ("bitwise_right_shift", "right_shift"),
                        ("radians", "deg2rad"), ("degrees", "rad2deg")]:
    register_alias(_alias, _target)


# --------------------------------------------------------------------- power

def _power_lower(a, b):
    """``a ** b``: ``pow`` for floats (NumPy's cases first for a float32/float64 exponent that
    is one number: :func:`_scalar_exponent_power`); exponentiation by squaring for integers.

    The integer form is one stage of an integer ``pow`` call, which every TIR pipeline
    computes by squaring and multiplying in a loop (:mod:`mlc.passes.tir.integer_power`),
    wrapping on overflow exactly like NumPy. A negative integer exponent gives ``1 // a **
    -b`` truncated (0 unless ``a`` is 1 or -1); NumPy raises (and so does mlc where the
    exponent is known when tracing).
    """
    (da, db), out = ufunc_dtypes("power", np.power, a.dtype, b.dtype)
    shape = broadcast_shapes(a.shape, b.shape, op="power")

    def load(t, d, idx):
        return _e.cast(t[broadcast_indices(t.shape, idx)], d)

    if dt.is_complex(out):
        exponent = constant_value(b)
        if exponent is not None:
            return _constant_complex_power(shape, lambda i: load(a, out, i), complex(exponent), out)
        return _complex_power(shape, lambda i: load(a, out, i), lambda i: load(b, out, i), out)
    if dt.is_float(out):
        if out in _SCALAR_EXPONENT_LOOPS and _exponent_is_one_number(a, b, da, db, shape):
            return te.compute(shape, lambda *i: _scalar_exponent_power(load(a, da, i), load(b, db, i)),
                              name="T_power")
        return te.compute(shape, lambda *i: _e.pow(load(a, da, i), load(b, db, i)), name="T_power")
    # integers: one stage; lower_intrinsics gives the call its loop of squarings (one step a
    # bit of the exponent, wrapping as NumPy's), after the schedule (mlc.passes.tir.integer_power)
    return te.compute(shape, lambda *i: _e.pow(load(a, out, i), load(b, out, i)), name="T_power")


#: The float loops of NumPy's ``power`` that compute a scalar exponent's common values
#: (the exponent the same for every element: a Python number, a 0-d array, a size-1 one
#: broadcast, :func:`_exponent_is_one_number`) without ``pow``; the float16 loop has no such
#: paths.
_SCALAR_EXPONENT_LOOPS = ("float32", "float64")


def _exponent_is_one_number(a, b, da: str, db: str, shape) -> bool:
    """Whether NumPy's float ``power`` loop sees the exponent ``b`` as one number for the whole
    array (its inner-loop stride 0), where it takes the paths of :func:`_scalar_exponent_power`:
    ``b`` holds one element and is 0-d, or NumPy iterates over the operands instead of running
    its trivial loop, which steps through an exponent of the output's own shape element by
    element. The trivial loop runs where every operand is 0-d or of the output's shape and no
    operand it must cast (``a`` to ``da``, ``b`` to ``db``) has more than one dimension. So
    ``(-inf) ** b`` with ``b = [0.5]`` is NaN for a base of shape (2,) or (1, 1) (sqrt), and
    +inf for one of shape (1,) or () (pow), as in NumPy."""
    if not all(isinstance(n, int) and n == 1 for n in b.shape):
        return False
    if not b.shape:
        return True

    def of_output(t) -> bool:
        return not t.shape or (len(t.shape) == len(shape) and all(
            isinstance(m, int) and isinstance(n, int) and m == n for m, n in zip(t.shape, shape)))

    trivial = of_output(a) and of_output(b) and all(
        len(t.shape) <= 1 for t, d in ((a, da), (b, db)) if t.dtype != d)
    return not trivial


def _scalar_exponent_power(x, y):
    """``x ** y`` for an exponent that is one number for the whole array, as NumPy's float
    loop computes it: ``1 / x``, ``1``, ``sqrt(x)``, ``x`` and ``x * x`` for ``y`` = -1, 0,
    0.5, 1 and 2, ``pow`` otherwise. Only 0.5 differs from ``pow`` beyond rounding:
    ``(-0) ** 0.5`` is -0 and ``(-inf) ** 0.5`` NaN (``sqrt``), where ``pow`` gives +0 and
    +inf. A constant exponent leaves one of the cases (the selects fold)."""
    one = _e.const(1.0, x.dtype)
    cases = ((-1.0, one / x), (0.0, one), (0.5, _e.sqrt(x)), (1.0, x), (2.0, x * x))
    out = _e.pow(x, y)
    for exponent, value in reversed(cases):  # the first case checked first
        out = _e.select(y == _e.const(exponent, y.dtype), value, out)
    return out


#: Complex ``z ** n`` with an integral real ``n``, ``|n| <`` this, multiplies (as NumPy's loop).
_COMPLEX_POWER_LOOP = 100


def _plain_product(z, w):
    """``z * w`` by the textbook formula, each product rounded (NumPy's ``nc_prod``, which its
    power loop multiplies with; its array loops fuse one product per part)."""
    a, b, c, d = _e.real(z), _e.imag(z), _e.real(w), _e.imag(w)
    return _e.complex(a * c - b * d, a * d + b * c)


def _c99_product(z, w):
    """``z * w`` as C's complex multiplication computes it (C99 Annex G, ``_Cmultd``): the
    textbook product, recomputed from infinities made unit and NaNs made zero where both parts
    came out NaN from an infinite operand or product (so an infinite times a finite nonzero
    number stays infinite). libm's ``cpow`` multiplies ``w * log(z)`` this way."""
    a, b, c, d = _e.real(z), _e.imag(z), _e.real(w), _e.imag(w)
    zero, one, inf = (_e.const(v, a.dtype) for v in (0.0, 1.0, math.inf))
    x, y = a * c - b * d, a * d + b * c

    def unit(v):  # +-1 for an infinity, +-0 otherwise
        return _e.copysign(_e.select(_e.isinf(v), one, zero), v)

    def unnan(v):
        return _e.select(_e.isnan(v), _e.copysign(zero, v), v)

    z_inf = _e.logical_or(_e.isinf(a), _e.isinf(b))
    a1, b1 = _e.select(z_inf, unit(a), a), _e.select(z_inf, unit(b), b)
    c1, d1 = _e.select(z_inf, unnan(c), c), _e.select(z_inf, unnan(d), d)
    w_inf = _e.logical_or(_e.isinf(c1), _e.isinf(d1))
    c2, d2 = _e.select(w_inf, unit(c1), c1), _e.select(w_inf, unit(d1), d1)
    a2, b2 = _e.select(w_inf, unnan(a1), a1), _e.select(w_inf, unnan(b1), b1)
    products_inf = _e.logical_or(_e.logical_or(_e.isinf(a * c), _e.isinf(b * d)),
                                 _e.logical_or(_e.isinf(a * d), _e.isinf(b * c)))
    big = _e.logical_and(_e.logical_not(_e.logical_or(z_inf, w_inf)), products_inf)
    a3, b3, c3, d3 = (_e.select(big, unnan(v), v) for v in (a2, b2, c2, d2))
    recalc = _e.logical_and(_e.logical_and(_e.isnan(x), _e.isnan(y)),
                            _e.logical_or(_e.logical_or(z_inf, w_inf), big))
    return _e.complex(_e.select(recalc, inf * (a3 * c3 - b3 * d3), x),
                      _e.select(recalc, inf * (a3 * d3 + b3 * c3), y))


def _complex_power(shape, z_at, w_at, out: str):
    """Complex ``z ** w`` as NumPy's loop computes it (``nc_pow``): 1 for ``w == 0``; for
    ``z == 0``, 0 when ``w.real > 0`` and NaN otherwise; for an integral real ``w = n`` with
    ``|n| < 100``, ``z``, ``z * z``, ``z * (z * z)`` for n = 1, 2, 3 and otherwise exponentiation
    by squaring from 1 (the reciprocal for n < 0); ``exp(w * log(z))`` for every other ``w``,
    its product C's (:func:`_c99_product`), as libm's ``cpow`` that NumPy calls.

    The squaring runs one stage per bit of ``|n|`` (7 bits), as integer powers do, with NumPy's
    unfused products (:func:`_plain_product`).
    """
    part = dt.component(out)
    zero, one, nan = (_e.const(v, part) for v in (0.0, 1.0, float("nan")))
    c_one = _e.complex(one, zero)
    steps = (_COMPLEX_POWER_LOOP - 1).bit_length()

    def exponent(i):
        """|n| as int32 where w is an integral real below the loop's bound, else 0."""
        w = w_at(i)
        wr, wi = _e.real(w), _e.imag(w)
        small = _e.logical_and(_e.logical_and(wi == zero, _e.floor(wr) == wr),
                               _e.abs(wr) < _e.const(_COMPLEX_POWER_LOOP, part))
        return _e.cast(_e.select(small, _e.abs(wr), zero), "int32"), small

    state = te.compute(shape, lambda *i: (c_one, z_at(i)), name="T_power_init")
    for k in range(steps):
        res, base = state

        def step(*i, res=res, base=base, k=k):
            m, _ = exponent(i)
            bit = ((m >> _e.const(k, "int32")) & _e.const(1, "int32")) != _e.const(0, "int32")
            return _e.select(bit, _plain_product(res[i], base[i]), res[i]), _plain_product(base[i], base[i])

        state = te.compute(shape, step, name=f"T_power_bit{k}")
    res = state[0]
    # w * log(z) in stages of their own: C's product reads each part several times
    log_z = te.compute(shape, lambda *i: _e.log(z_at(i)), name="T_power_log")
    w_log_z = te.compute(shape, lambda *i: _c99_product(w_at(i), log_z[i]), name="T_power_exponent")

    def finish(*i):
        z, w = z_at(i), w_at(i)
        wr, wi = _e.real(w), _e.imag(w)
        _, small = exponent(i)
        squared = _e.select(wr < zero, c_one / res[i], res[i])
        integral = _e.select(wr == one, z, _e.select(wr == _e.const(2, part), _plain_product(z, z), _e.select(
            wr == _e.const(3, part), _plain_product(z, _plain_product(z, z)), squared)))
        at_zero = _e.select(wr > zero, _e.complex(zero, zero), _e.complex(nan, nan))
        z_zero = _e.logical_and(_e.real(z) == zero, _e.imag(z) == zero)
        value = _e.select(small, integral, _e.exp(w_log_z[i]))
        return _e.select(_e.logical_and(wr == zero, wi == zero), c_one, _e.select(z_zero, at_zero, value))

    return te.compute(shape, finish, name="T_power")


def _constant_complex_power(shape, z_at, w: complex, out: str):
    """Complex ``z ** w`` for an exponent known when lowering (``np.power(z, 2.0)``, a Python
    number): the case of :func:`_complex_power` that ``w`` selects, chosen here, so that the
    kernel computes that case only: 1 for ``w == 0``; for an integral real ``w = n`` with
    ``|n| <`` :data:`_COMPLEX_POWER_LOOP`, ``z``, ``z * z`` or ``z * (z * z)`` for n = 1, 2, 3 and
    otherwise exponentiation by squaring, one stage per bit of ``|n|`` (the reciprocal for
    n < 0), each product NumPy's unfused one; else ``exp(w * log(z))``. ``z == 0`` gives 0 for
    ``w.real > 0`` and NaN otherwise, as in :func:`_complex_power`, whose kernel computes every
    case and selects one per element: thousands of operations however simple ``w`` is.

    >>> from mlc import te
    >>> z = te.placeholder((3,), "complex128", "z")
    >>> [t.op.name for t in (_constant_complex_power((3,), lambda i: z[i], complex(-5), "complex128"),)]
    ['T_power']
    """
    part = dt.component(out)
    zero, one, nan = (_e.const(v, part) for v in (0.0, 1.0, float("nan")))
    c_one = _e.complex(one, zero)
    if w == 0:
        return te.compute(shape, lambda *i: c_one, name="T_power")
    if w.imag != 0 or math.floor(w.real) != w.real or abs(w.real) >= _COMPLEX_POWER_LOOP:
        log_z = te.compute(shape, lambda *i: _e.log(z_at(i)), name="T_power_log")
        w_log_z = te.compute(shape, lambda *i: _c99_product(_e.const(w, out), log_z[i]), name="T_power_exponent")
        power = te.compute(shape, lambda *i: _e.exp(w_log_z[i]), name="T_power_general")
    elif w.real in (1.0, 2.0, 3.0):
        small = {1.0: lambda z: z, 2.0: lambda z: _plain_product(z, z),
                 3.0: lambda z: _plain_product(z, _plain_product(z, z))}[w.real]
        power = te.compute(shape, lambda *i: small(z_at(i)), name="T_power_integral")
    else:
        power = _squarings(shape, z_at, int(abs(w.real)), c_one)
        if w.real < 0:
            squared = power
            power = te.compute(shape, lambda *i: c_one / squared[i], name="T_power_reciprocal")
    at_zero = _e.complex(zero, zero) if w.real > 0 else _e.complex(nan, nan)

    def finish(*i):
        z = z_at(i)
        return _e.select(_e.logical_and(_e.real(z) == zero, _e.imag(z) == zero), at_zero, power[i])

    return te.compute(shape, finish, name="T_power")


def _squarings(shape, z_at, n: int, c_one):
    """``z ** n`` (n >= 1 a Python int) as NumPy's loop multiplies: from 1, times ``z ** 2 ** k``
    for each set bit ``k`` of ``n``, the squares ``z ** 2 ** k`` computed alongside; a stage per
    bit (a product reads each part of its operands twice)."""
    res, base = None, te.compute(shape, lambda *i: z_at(i), name="T_power_base")
    bits = n.bit_length()
    for k in range(bits):
        def step(*i, res=res, base=base, k=k):
            now = c_one if res is None else res[i]
            new = _plain_product(now, base[i]) if (n >> k) & 1 else now
            return new if k == bits - 1 else (new, _plain_product(base[i], base[i]))
        state = te.compute(shape, step, name=f"T_power_bit{k}")
        res, base = (state, None) if k == bits - 1 else state
    return res


def _power_infer(a: TensorType, b: TensorType) -> TensorType:
    _, out = ufunc_dtypes("power", np.power, a.dtype, b.dtype)
    return TensorType(broadcast_shapes(a.shape, b.shape, op="power"), out)


register_op("power", pattern="broadcast", infer=_power_infer, lower=_power_lower,
            reference=lambda a, b: np.asarray(np.power(a, b)),
            doc="``a ** b`` with NumPy's dtype rules (integer powers wrap on overflow) and, for "
                "a float32/float64 exponent that is one number for the whole array, NumPy's fast "
                "paths (``(-inf) ** 0.5`` is NaN there, as ``sqrt`` gives; the Array API says +inf).")
register_alias("pow", "power")


# ---------------------------------------------------------------- where, clip, astype

def _where_infer(cond: TensorType, x: TensorType, y: TensorType) -> TensorType:
    return TensorType(broadcast_shapes(cond.shape, x.shape, y.shape, op="where"),
                      result_type(x.dtype, y.dtype, op="where"))


def _where_lower(cond, x, y):
    out = _where_infer(cond, x, y)

    def element(*i):
        c = _e.cast(cond[broadcast_indices(cond.shape, i)], "bool")
        return _e.select(c, _e.cast(x[broadcast_indices(x.shape, i)], out.dtype),
                         _e.cast(y[broadcast_indices(y.shape, i)], out.dtype))

    return te.compute(out.shape, element, name="T_where")


register_op("where", pattern="broadcast", infer=_where_infer, lower=_where_lower,
            reference=lambda c, x, y: np.asarray(np.where(c, x, y)),
            doc="``x`` where ``cond`` (cast to bool) else ``y``, broadcasting all three.")


def _check_bound(name: str, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise DTypeError(f"clip: {name} must be a Python int, float or None, got {value!r}")


def _clip_infer(x: TensorType, *, a_min=None, a_max=None) -> TensorType:
    _check_bound("a_min", a_min)
    _check_bound("a_max", a_max)
    if a_min is None and a_max is None:
        raise ShapeError("clip: give a_min, a_max or both (at most one may be None)")
    out = weak_result_type(x.dtype, a_min, a_max)
    if dt.is_int(out):
        info = np.iinfo(out)
        for name, value, bad in (("a_min", a_min, lambda v: v > info.max), ("a_max", a_max, lambda v: v < info.min)):
            if isinstance(value, int) and bad(value):
                raise DTypeError(f"clip: {name}={value} is out of bounds for {out} (NumPy raises "
                                 f"OverflowError); cast x to a wider dtype first")
    return TensorType(x.shape, out)


def _clip_lower(x, *, a_min=None, a_max=None):
    out = _clip_infer(x, a_min=a_min, a_max=a_max).dtype

    def element(*i):
        v = _e.cast(x[i], out)
        if a_min is not None:
            v = _e.max(v, bind_scalar(a_min, out))
        if a_max is not None:
            v = _e.min(v, bind_scalar(a_max, out))
        return v

    return te.compute(x.shape, element, name="T_clip")


register_op("clip", pattern="elemwise", infer=_clip_infer, lower=_clip_lower,
            reference=lambda x, a_min=None, a_max=None: np.asarray(np.clip(x, a_min, a_max)),
            doc="``minimum(maximum(x, a_min), a_max)``; the bounds are Python scalars (NEP 50).")


def _astype_infer(x: TensorType, *, dtype) -> TensorType:
    return TensorType(x.shape, canonical_dtype("astype", dtype))


def _astype_lower(x, *, dtype):
    dtype = canonical_dtype("astype", dtype)
    return te.compute(x.shape, lambda *i: _e.cast(x[i], dtype), name="T_astype")


register_op("astype", pattern="elemwise", infer=_astype_infer, lower=_astype_lower,
            reference=lambda x, dtype: np.asarray(x).astype(dtype),
            doc="``x.astype(dtype)`` (float to int truncates toward zero).")
