"""The scalar ops of the IR, each defined once: the table every stage reads.

One :class:`ScalarOp` per operator of a ``Binary`` node (arithmetic,
comparison, logic, bitwise), the ``Not`` node, and every math ``Call``. An
entry says the op's name and arity, which operand dtypes it accepts and its
result dtype, its meaning as a NumPy function (docs/ir-semantics.md,
"Scalars"), its exact value on Python integers where the IR folds it, how
the printer writes it, and, for math calls, the float dtypes allowed and the
error budget backends get against the NumPy implementation.

Who reads it: the expression builders and constant folding
(:mod:`mlc.ir.expr`), the printer, the TVMScript and index-map parsers, the
integer analyses, the reference interpreter (which *is* the NumPy column),
the error budgets of :mod:`mlc.testing.tolerance`, and the backends, which
lower each math call through :mod:`mlc.backends.intrinsics`.

>>> SCALAR_OPS["floordiv"].symbol, SCALAR_OPS["floordiv"].precedence
('//', 10)
>>> import numpy as np
>>> SCALAR_OPS["floormod"].numpy(np.int32(-7), np.int32(2)), SCALAR_OPS["truncmod"].exact(-7, 2)
(np.int32(1), -1)
>>> SCALAR_OPS["erfc"].float_dtypes
('float32', 'float64')
"""
from __future__ import annotations

import ast
import builtins
import math
from fractions import Fraction
from collections.abc import Callable

import numpy as np

from ..errors import DTypeError
from ..frozen import frozen
from . import dtype as dt
from .erfinv import erfinv
from .threefry import threefry2x32_packed

__all__ = ["ScalarOp", "SCALAR_OPS", "BINARY_OPS", "MATH_CALLS", "NEG_PRECEDENCE",
           "ops_of_kind", "python_operators"]

#: Kinds of ops: the node they appear in is Binary, except "not" (Not) and "math" (Call).
KINDS = ("arith", "compare", "logic", "bitwise", "math")

#: Which operand dtypes an op accepts.
#: "number": no bool; "ordered": no complex (NumPy orders complex numbers lexicographically, the
#: Array API not at all); "real": int or float; "inexact": float or complex; "complex": complex only.
_OPERANDS = ("any", "number", "float", "bool", "int", "int_or_bool", "ordered", "real", "inexact",
             "complex", "uint32")
#: "uint32": uint32 only (the counter-based generator's words).
#: Result dtypes: the operands' ("same"), "bool", the parts' float dtype ("real": abs, real, imag
#: of a complex operand), the complex dtype with float parts of the operands' dtype ("complex"),
#: or "uint64" (two uint32 words, the first in the high half).
_RESULTS = ("same", "bool", "real", "complex", "uint64")
#: The floating operand rules: the test an operand dtype passes and the words for what it is.
_FLOATING_RULES = {"inexact": (dt.is_inexact, "float or complex"), "float": (dt.is_float, "float")}


@frozen
class ScalarOp:
    """One scalar op of the IR.

    ``numpy(*operands)`` takes NumPy scalars or arrays of the operand dtype and
    returns the result dtype's values with the IR's semantics (run it inside
    ``np.errstate(all="ignore")``). ``exact(x, y)`` is the value on Python ints
    (no wrap-around; a zero divisor gives 0, as in NumPy), for folding and the
    integer analyses, or None when the IR never folds the op. ``symbol`` and
    ``precedence`` (Python's, loosest first) print an infix op; ``function``
    is the printed name of the others. ``float_dtypes`` are the float dtypes a
    math call takes; ``ulps`` is how far (in ulps, beyond the final rounding)
    a backend's result may be from ``numpy``, and ``bounded`` marks results
    in [-1, 1], whose error counts in ulps of 1.
    """
    name: str
    kind: str
    arity: int
    numpy: Callable
    operands: str = "any"
    result: str = "same"
    symbol: str | None = None
    precedence: int | None = None
    function: str | None = None
    exact: Callable[[int, int], int] | None = None
    float_dtypes: tuple[str, ...] = dt.FLOATS
    ulps: int | None = None
    bounded: bool = False

    def __post_init__(self):
        if self.kind not in KINDS or self.operands not in _OPERANDS or self.result not in _RESULTS:
            raise ValueError(f"malformed scalar op entry {self.name!r}")

    def result_dtype(self, dtype: str) -> str:
        """The result dtype for operands of ``dtype``."""
        if self.result == "bool":
            return "bool"
        if self.result == "real":
            return dt.component(dtype)
        if self.result == "complex":
            return dt.complex_of(dtype)
        if self.result == "uint64":
            return "uint64"
        return dtype

    def check(self, dtype: str) -> None:
        """Raise DTypeError when ``dtype`` is not an operand dtype of this op."""
        op, rule = self.name, self.operands
        if rule == "bool" and dtype != "bool":
            raise DTypeError(f"logical {op} needs bool operands, got {dtype}")
        if rule == "int" and not dt.is_int(dtype) or rule == "int_or_bool" and not (
                dt.is_int(dtype) or dtype == "bool"):
            raise DTypeError(f"{op} needs integer operands, got {dtype}")
        if rule in ("number", "real") and dtype == "bool":
            raise DTypeError(f"{op} is not defined for bool operands; cast to an integer dtype")
        if rule in ("ordered", "real", "float") and dt.is_complex(dtype):
            raise DTypeError(f"{op} is not defined for complex operands ({dtype}); apply it to "
                             f"their parts, e.g. {op}(real(x)), or to abs(x)")
        if rule == "uint32" and dtype != "uint32":
            raise DTypeError(f"{op} needs uint32 operands, got {dtype}; cast them first, e.g. "
                             f"x.astype('uint32')")
        if rule == "complex" and not dt.is_complex(dtype):
            raise DTypeError(f"{op} needs a complex operand, got {dtype}; e.g. "
                             f"{op}(x.astype('complex64'))")
        if rule in _FLOATING_RULES and not _FLOATING_RULES[rule][0](dtype):
            raise DTypeError(self._needs_floating(dtype, _FLOATING_RULES[rule][1]))
        if self.kind == "math" and self.operands in ("float", "inexact") and dt.is_float(
                dtype) and dtype not in self.float_dtypes:
            raise DTypeError(f"{op} is defined for {', '.join(self.float_dtypes)}, got {dtype}; "
                             f"cast it first, e.g. {op}(x.astype('{self.float_dtypes[0]}'))")

    def _needs_floating(self, dtype: str, what: str) -> str:
        """The message for a ``dtype`` operand where this op needs ``what`` ("float")."""
        if self.kind == "arith":  # div
            return (f"true division needs {what} operands, got {dtype}; use // for integer "
                    "division or cast to a float dtype")
        return (f"{self.name} needs a {what} operand, got {dtype}; cast it first, "
                f"e.g. {self.name}(x.astype('float32'))")


# ---------------------------------------------------------------- NumPy semantics

def _via_float64(fn: Callable[[float], float]) -> Callable:
    """A NumPy function from a float64 scalar function (``math.erf``): the result is
    computed in float64 and rounded once to the operand's dtype."""
    elementwise = np.frompyfunc(fn, 1, 1)

    def apply(x):
        dtype = np.result_type(x)
        out = np.asarray(elementwise(np.asarray(x, dtype="float64")), dtype="float64").astype(dtype)
        return out[()] if np.ndim(x) == 0 else out
    apply.__name__ = fn.__name__
    return apply


def _in_float32(fn: Callable) -> Callable:
    """A function of several NumPy steps that float16 computes in float32, rounding once."""
    def apply(*args):
        if np.result_type(args[0]) == np.float16:
            return fn(*(np.asarray(a).astype("float32")[()] if np.ndim(a) == 0 else a.astype("float32")
                        for a in args)).astype("float16")
        return fn(*args)
    apply.__name__ = fn.__name__
    return apply


@_in_float32
def _truncdiv(a, b):
    """C division: round toward zero; an integer zero divisor gives 0 (float16: computed
    in float32, rounded once)."""
    if np.dtype(np.result_type(a)).kind == "f":
        return np.trunc(np.true_divide(a, b))
    # a - fmod(a, b) is an exact multiple of b, so floor division is exact there.
    return np.floor_divide(np.subtract(a, np.fmod(a, b)), b)


def _float_only(fn: Callable) -> Callable:
    """A rounding function that is the identity on integers and bools (NumPy's would
    return floats; the IR keeps the operand's dtype)."""
    def apply(x):
        return fn(x) if np.result_type(x).kind == "f" else x
    apply.__name__ = fn.__name__
    return apply


@_in_float32
def _rsqrt(x):
    return np.true_divide(np.result_type(x).type(1), np.sqrt(x))


@_in_float32
def _sigmoid(x):
    one = np.result_type(x).type(1)
    return np.true_divide(one, np.add(one, np.exp(np.negative(x))))


def _make_complex(re, im):
    """The complex numbers ``re + im j`` of float parts (inf and NaN parts kept as they
    are: ``re + 1j * im`` would turn ``1j * inf`` into ``nan + inf j``)."""
    dtype = np.result_type(np.complex64, re)
    out = np.empty(np.broadcast_shapes(np.shape(re), np.shape(im)), dtype)
    out.real, out.imag = re, im
    return out[()] if out.ndim == 0 else out


def _fma(x, y, z):
    """``x * y + z`` rounded once (C's ``fma``; NumPy has none), by Boldo and Melquiond's
    emulation: the exact product ``x * y = p + e`` (Dekker's, float32's in float64 outright),
    the exact sum ``p + z = s + t`` (Knuth's), then ``s + (t + e)`` with the inner sum rounded
    to odd. float64 operands out of the range where those steps are exact (infinities,
    products that overflow or lose digits below the normal range) are computed in rationals."""
    dtype = np.result_type(x, y, z)
    with np.errstate(all="ignore"):
        if dtype != np.float64:  # float32's product is exact in float64; its sum rounded to odd
            p, z = np.multiply(np.float64(x), np.float64(y)), np.float64(z)
            return np.asarray(_odd(*_two_sum(p, z))).astype(dtype)[()]
        x, y, z = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (x, y, z)))
        (xh, xl), (yh, yl) = _halves(x), _halves(y)
        p = x * y
        e = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
        s, t = _two_sum(p, z)
        out = _odd(*_two_sum(t, e))
        out = np.where(out == 0, s, s + out)  # (s's zero keeps its sign)
        safe = (_in_range(x, 450) & _in_range(y, 450) & _in_range(z, 900) & _in_range(out, 960)
                & np.isfinite(out))
        if not safe.all():
            out = np.array(out, np.float64)
            out[~safe] = [_fma_exact(*v) for v in zip(x[~safe], y[~safe], z[~safe])]
        return out[()]


def _in_range(v, k: int):
    """Zero, or finite with a magnitude in [2**-k, 2**k]."""
    a = np.abs(v)
    return (a == 0) | (a >= 2.0 ** -k) & (a <= 2.0 ** k)


def _fma_exact(x: float, y: float, z: float) -> float:
    """``fma`` of Python floats in rationals (the rare operands :func:`_fma` cannot split)."""
    if not (math.isfinite(x) and math.isfinite(y)):
        return x * y + z  # an infinite or NaN factor: the IEEE product and sum are exact
    if not math.isfinite(z):
        return z  # (a finite product, however large, does not overflow inside an fma)
    exact = Fraction(x) * Fraction(y) + Fraction(z)
    if exact == 0:  # an exact zero: -0 only when both terms are -0 (round to nearest)
        return (x * y) + z if x * y == 0 else 0.0
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def _halves(v):
    """Dekker's split of float64 ``v`` into two halves of 26 bits: ``v = high + low`` exactly."""
    big = v * np.float64(134217729.0)  # 2**27 + 1
    high = big - (big - v)
    return high, v - high


def _two_sum(a, b):
    """(s, t): ``s = a + b`` rounded, ``t`` its error (``a + b = s + t`` exactly)."""
    s = a + b
    back = s - a
    return s, (a - (s - back)) + (b - back)


def _odd(s, t):
    """``s + t`` (``s`` its rounding) rounded to odd: ``s``, or its neighbour towards ``t`` where
    ``t`` is not zero and ``s``'s last bit is even."""
    even = (np.asarray(s, np.float64).view(np.int64) & 1) == 0
    return np.where((t != 0) & even & np.isfinite(s), np.nextafter(s, np.where(t > 0, np.inf, -np.inf)), s)


def _power(x, y):
    """``x ** y`` as the IR's ``pow`` means it: NumPy's ``power`` for floats; for integers
    NumPy's too (squaring and multiplying, wrapping on overflow), where a negative ``y``
    (which NumPy refuses) gives ``1 // x ** -y`` truncated: 1 for ``x == 1``, ``(-1) ** y``
    for ``x == -1``, else 0 (:mod:`mlc.passes.tir.integer_power`)."""
    dtype = np.result_type(x, y)
    if dtype.kind not in "iu":
        return np.power(x, y)
    x, y = np.asarray(x, dtype), np.asarray(y, dtype)
    negative = y < 0
    with np.errstate(over="ignore"):
        out = np.power(x, np.where(negative, 0, y))
    odd = np.where(y % 2 == 1, -1, 1).astype(dtype) if dtype.kind == "i" else out
    unit = np.where(x == 1, dtype.type(1), np.where(x == dtype.type(-1) if dtype.kind == "i" else False, odd, 0))
    out = np.where(negative, unit, out).astype(dtype)
    return out[()] if out.ndim == 0 else out


def _c_truncdiv(x: int, y: int) -> int:
    if y == 0:
        return 0
    q = builtins.abs(x) // builtins.abs(y)
    return q if (x >= 0) == (y >= 0) else -q


# ---------------------------------------------------------------- the table

def _binary(name, kind, numpy, operands, exact=None, symbol=None, precedence=None, function=None):
    result = "bool" if kind in ("compare", "logic") else "same"
    return ScalarOp(name, kind, 2, numpy, operands, result, symbol, precedence, function, exact)


def _call(name, numpy, arity=1, operands="float", result="same", ulps=None, bounded=False,
          float_dtypes=dt.FLOATS):
    return ScalarOp(name, "math", arity, numpy, operands, result, function=f"T.{name}",
                    float_dtypes=float_dtypes, ulps=ulps, bounded=bounded)


_TABLE = (
    # name, kind, NumPy, operands, exact on ints, symbol, Python precedence, printed function
    _binary("add", "arith", np.add, "number", lambda x, y: x + y, "+", 9),
    _binary("sub", "arith", np.subtract, "number", lambda x, y: x - y, "-", 9),
    _binary("mul", "arith", np.multiply, "number", lambda x, y: x * y, "*", 10),
    _binary("div", "arith", np.true_divide, "inexact", None, "/", 10),
    _binary("floordiv", "arith", np.floor_divide, "real", lambda x, y: x // y if y else 0, "//", 10),
    _binary("floormod", "arith", np.remainder, "real", lambda x, y: x % y if y else 0, "%", 10),
    _binary("truncdiv", "arith", _truncdiv, "real", _c_truncdiv, function="T.truncdiv"),
    _binary("truncmod", "arith", np.fmod, "real", lambda x, y: x - _c_truncdiv(x, y) * y if y else 0,
            function="T.truncmod"),
    _binary("min", "arith", np.minimum, "ordered", builtins.min, function="T.min"),
    _binary("max", "arith", np.maximum, "ordered", builtins.max, function="T.max"),
    _binary("eq", "compare", np.equal, "any", lambda x, y: x == y, "==", 4),
    _binary("ne", "compare", np.not_equal, "any", lambda x, y: x != y, "!=", 4),
    _binary("lt", "compare", np.less, "ordered", lambda x, y: x < y, "<", 4),
    _binary("le", "compare", np.less_equal, "ordered", lambda x, y: x <= y, "<=", 4),
    _binary("gt", "compare", np.greater, "ordered", lambda x, y: x > y, ">", 4),
    _binary("ge", "compare", np.greater_equal, "ordered", lambda x, y: x >= y, ">=", 4),
    _binary("and", "logic", np.logical_and, "bool", lambda x, y: x and y, "and", 2),
    _binary("or", "logic", np.logical_or, "bool", lambda x, y: x or y, "or", 1),
    _binary("bitand", "bitwise", np.bitwise_and, "int_or_bool", lambda x, y: x & y, "&", 7),
    _binary("bitor", "bitwise", np.bitwise_or, "int_or_bool", lambda x, y: x | y, "|", 5),
    _binary("bitxor", "bitwise", np.bitwise_xor, "int_or_bool", lambda x, y: x ^ y, "^", 6),
    _binary("shl", "bitwise", np.left_shift, "int", None, "<<", 8),
    _binary("shr", "bitwise", np.right_shift, "int", None, ">>", 8),
    ScalarOp("not", "logic", 1, np.logical_not, "bool", "bool", "not", 3),
    # math calls: name, NumPy, arity, operands, result, ulps, bounded
    _call("exp", np.exp, operands="inexact", ulps=2),
    _call("log", np.log, operands="inexact", ulps=2),
    _call("sqrt", np.sqrt, operands="inexact", ulps=1),
    _call("rsqrt", _rsqrt, ulps=2),
    _call("tanh", np.tanh, operands="inexact", ulps=4, bounded=True),
    _call("sigmoid", _sigmoid, ulps=4, bounded=True),
    _call("erf", _via_float64(math.erf), ulps=4, bounded=True),
    _call("sin", np.sin, operands="inexact", ulps=2, bounded=True),
    _call("cos", np.cos, operands="inexact", ulps=2, bounded=True),
    _call("abs", np.abs, operands="any", result="real"),
    _call("pow", _power, 2, operands="real", ulps=4),  # (integers: lowered to a loop, see _power)
    _call("floor", _float_only(np.floor), operands="ordered"),
    _call("ceil", _float_only(np.ceil), operands="ordered"),
    _call("round", _float_only(np.round), operands="ordered"),
    _call("expm1", np.expm1, operands="inexact", ulps=2),
    _call("log1p", np.log1p, operands="inexact", ulps=2),
    _call("isnan", np.isnan, operands="any", result="bool"),
    _call("isfinite", np.isfinite, operands="any", result="bool"),
    _call("isinf", np.isinf, operands="any", result="bool"),
    _call("tan", np.tan, operands="inexact"),
    _call("asin", np.arcsin, operands="inexact"),
    _call("acos", np.arccos, operands="inexact"),
    _call("atan", np.arctan, operands="inexact"),
    _call("sinh", np.sinh, operands="inexact"),
    _call("cosh", np.cosh, operands="inexact"),
    _call("asinh", np.arcsinh, operands="inexact"),
    _call("acosh", np.arccosh, operands="inexact"),
    _call("atanh", np.arctanh, operands="inexact"),
    _call("log2", np.log2, operands="inexact"),
    _call("log10", np.log10, operands="inexact"),
    _call("cbrt", np.cbrt),
    _call("atan2", np.arctan2, 2),
    _call("hypot", np.hypot, 2),
    _call("copysign", np.copysign, 2),
    _call("nextafter", np.nextafter, 2, float_dtypes=("float32", "float64")),  # no half nextafter
    _call("erfc", _via_float64(math.erfc), ulps=4, float_dtypes=("float32", "float64")),
    _call("fma", _fma, 3, ulps=1, float_dtypes=("float32", "float64")),  # x * y + z, rounded once
    # complex numbers: made of two float parts, taken apart, conjugated
    _call("complex", _make_complex, 2, result="complex", float_dtypes=("float32", "float64")),
    _call("real", np.real, operands="complex", result="real", float_dtypes=()),
    _call("imag", np.imag, operands="complex", result="real", float_dtypes=()),
    _call("conj", np.conjugate, operands="complex", float_dtypes=()),
    # Giles' polynomials (mlc/ir/erfinv.py); NaN outside [-1, 1], +-inf at +-1
    _call("erfinv", erfinv, ulps=8),
    # threefry2x32(k0, k1, c0, c1): the counter-based generator's two words, x0 << 32 | x1
    _call("threefry2x32", threefry2x32_packed, 4, operands="uint32", result="uint64", float_dtypes=()),
)

#: name -> ScalarOp, every scalar op of the IR.
SCALAR_OPS: dict[str, ScalarOp] = {op.name: op for op in _TABLE}
#: The ops of Binary nodes.
BINARY_OPS: dict[str, ScalarOp] = {op.name: op for op in _TABLE if op.kind != "math" and op.arity == 2}
#: The math intrinsics of Call nodes.
MATH_CALLS: dict[str, ScalarOp] = {op.name: op for op in _TABLE if op.kind == "math"}
#: The printed precedence of unary minus (``-x``, the Binary ``0 - x``).
NEG_PRECEDENCE = 11


def ops_of_kind(kind: str) -> tuple[str, ...]:
    """The names of the Binary ops of ``kind`` ("arith", "compare", "logic", "bitwise")."""
    return tuple(name for name, op in BINARY_OPS.items() if op.kind == kind)


def python_operators() -> dict[type, str]:
    """Python's operator node classes (``ast.Add``, ``ast.Lt``, ``ast.And``, ``ast.Not``)
    -> the op each spells, for every op printed with a symbol."""
    out: dict[type, str] = {}
    for op in _TABLE:
        if op.symbol is None:
            continue
        node = ast.parse(f"{op.symbol} x" if op.arity == 1 else f"x {op.symbol} y", mode="eval").body
        operator = node.ops[0] if isinstance(node, ast.Compare) else node.op
        out[type(operator)] = op.name
    return out
