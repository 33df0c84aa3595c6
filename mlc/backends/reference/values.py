"""Scalar semantics of the IR on NumPy values (docs/ir-semantics.md, "Scalars").

Every function here takes NumPy scalars or arrays whose dtype is the node's
dtype and returns values of the result dtype, so float32 math rounds like
float32 and integers wrap around. Callers run inside ``np.errstate(all="ignore")``.

>>> import numpy as np
>>> with np.errstate(all="ignore"):
...     binary("floordiv", np.int32(-7), np.int32(2)), binary("truncdiv", np.int32(-7), np.int32(2))
(np.int32(-4), np.int32(-3))
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import MLCError
from ...ir.expr import REINTERPRET

__all__ = ["binary", "call", "cast", "constant", "poison", "REDUCTIONS", "identity"]


def constant(value, dtype: str):
    """The NumPy scalar of ``dtype`` holding ``value``."""
    return np.dtype(dtype).type(value)


def _truncdiv(a, b):
    """C division: round toward zero; a zero divisor gives 0."""
    if np.dtype(np.result_type(a)).kind == "f":
        return np.trunc(np.true_divide(a, b))
    # a - fmod(a, b) is an exact multiple of b, so floor division is exact there.
    return np.floor_divide(np.subtract(a, np.fmod(a, b)), b)


# NumPy's floor_divide/remainder already give 0 for a zero integer divisor and wrap
# INT_MIN // -1, as the semantics ask.
_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "floordiv": np.floor_divide, "floormod": np.remainder, "truncdiv": _truncdiv, "truncmod": np.fmod,
    "min": np.minimum, "max": np.maximum,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal,
    "and": np.logical_and, "or": np.logical_or,
    "bitand": np.bitwise_and, "bitor": np.bitwise_or, "bitxor": np.bitwise_xor,
    "shl": np.left_shift, "shr": np.right_shift,
}


def binary(op: str, a, b):
    """``a <op> b`` with NumPy semantics; both operands share one dtype."""
    fn = _BINARY.get(op)
    if fn is None:
        raise MLCError(f"reference interpreter: unknown binary op {op!r}")
    return fn(a, b)


_erf = np.frompyfunc(math.erf, 1, 1)


def _erf64(x):
    out = _erf(np.asarray(x, dtype="float64"))
    return np.asarray(out, dtype="float64")[()] if np.ndim(out) == 0 else out.astype("float64")


def _rsqrt(x):
    return np.true_divide(x.dtype.type(1), np.sqrt(x))


def _sigmoid(x):
    one = x.dtype.type(1)
    return np.true_divide(one, np.add(one, np.exp(np.negative(x))))


_CALLS = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "sin": np.sin,
    "cos": np.cos, "abs": np.abs, "pow": np.power, "floor": np.floor, "ceil": np.ceil,
    "round": np.round, "expm1": np.expm1, "log1p": np.log1p, "isnan": np.isnan,
    "isfinite": np.isfinite, "isinf": np.isinf, "rsqrt": _rsqrt, "sigmoid": _sigmoid,
    "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh,
    "cosh": np.cosh, "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "log2": np.log2,
    "log10": np.log10, "atan2": np.arctan2, "hypot": np.hypot, "copysign": np.copysign,
    "nextafter": np.nextafter,
}
#: Intrinsics made of several NumPy operations: float16 computes them in float32, once.
_COMPOSITE = frozenset({"rsqrt", "sigmoid"})


def call(op: str, args: list, dtype: str):
    """The math intrinsic ``op(*args)``; ``dtype`` is the Call node's result dtype."""
    if op == REINTERPRET:
        return np.asarray(args[0]).view(dtype)[()] if np.ndim(args[0]) == 0 else args[0].view(dtype)
    if op == "erf":
        return cast(_erf64(args[0]), dtype)
    fn = _CALLS.get(op)
    if fn is None:
        raise MLCError(f"reference interpreter: unknown math op {op!r}")
    if op in _COMPOSITE and dtype == "float16":
        return cast(fn(*(cast(a, "float32") for a in args)), "float16")
    return fn(*args)


def cast(value, dtype: str):
    """``value.astype(dtype)`` for NumPy scalars and arrays alike."""
    if value.dtype == dtype:
        return value
    return value.astype(dtype)


def poison(dtype: str):
    """The value fresh allocations are filled with, so reads before writes show up."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return dt.type(np.nan)
    if dt.kind == "b":
        return np.True_
    return np.iinfo(dt).max


#: Binary ops a reduction update may combine with: op -> ufunc.
REDUCTIONS = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}


def identity(ufunc, dtype: str):
    """The neutral element of ``ufunc`` (one of REDUCTIONS) in ``dtype``."""
    dt = np.dtype(dtype)
    if ufunc is np.add:
        return dt.type(0)
    if ufunc is np.multiply:
        return dt.type(1)
    if dt.kind == "f":
        return dt.type(np.inf if ufunc is np.minimum else -np.inf)
    if dt.kind == "b":
        return np.bool_(ufunc is np.minimum)
    info = np.iinfo(dt)
    return dt.type(info.max if ufunc is np.minimum else info.min)
