"""Elementwise functions: NumPy's ufuncs, ``where``, ``clip``, ``astype``.

Operands may be traced arrays, NumPy arrays or scalars; Python scalars follow
NEP 50 (``x_f32 * 2.0`` is float32). Each function records one registry op.

>>> import numpy as np, mlc
>>> mlc.numpy.maximum(np.array([-1.0, 2.0], "float32"), 0)
array([0., 2.], dtype=float32)
"""
from __future__ import annotations

from ..errors import TraceError
from ..ir import dtype as dt
from ..tracer.operands import as_tracer, as_tracers
from ._api import emit, numpy_function

__all__ = [
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "remainder", "mod",
    "power", "maximum", "minimum", "equal", "not_equal", "less", "less_equal", "greater",
    "greater_equal", "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
    "bitwise_xor", "left_shift", "right_shift", "negative", "positive", "absolute", "abs", "sign",
    "exp", "expm1", "log", "log1p", "sqrt", "square", "reciprocal", "tanh", "sin", "cos", "floor",
    "ceil", "logical_not", "invert", "bitwise_not", "isnan", "isfinite", "isinf", "where", "clip",
    "astype", "UFUNCS",
]

def _binary(op: str):
    @numpy_function("x1", "x2")
    def fn(x1, x2):
        return emit(op, as_tracers([x1, x2]))
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = f"``np.{op}(x1, x2)`` elementwise, broadcasting (registry op ``{op}``)."
    return fn


def _unary(op: str):
    @numpy_function("x")
    def fn(x):
        return emit(op, [as_tracer(x)])
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = f"``np.{op}(x)`` elementwise (registry op ``{op}``)."
    return fn


(add, subtract, multiply, divide, floor_divide, remainder, power, maximum, minimum, equal, not_equal,
 less, less_equal, greater, greater_equal, logical_and, logical_or, logical_xor, bitwise_and,
 bitwise_or, bitwise_xor, left_shift, right_shift) = (_binary(name) for name in (
    "add", "subtract", "multiply", "divide", "floor_divide", "remainder", "power", "maximum",
    "minimum", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
    "left_shift", "right_shift"))

(negative, absolute, sign, exp, expm1, log, log1p, sqrt, square, reciprocal, tanh, sin, cos, floor,
 ceil, logical_not, invert, isnan, isfinite, isinf) = (_unary(name) for name in (
    "negative", "absolute", "sign", "exp", "expm1", "log", "log1p", "sqrt", "square", "reciprocal",
    "tanh", "sin", "cos", "floor", "ceil", "logical_not", "invert", "isnan", "isfinite", "isinf"))

# NumPy's other spellings
true_divide, mod, abs, bitwise_not = divide, remainder, absolute, invert  # noqa: A001


@numpy_function("x")
def positive(x):
    """``+x``: the operand itself (NumPy copies; a traced value is immutable)."""
    t = as_tracer(x)
    if t.dtype == bool:
        raise TraceError("positive (+x) is not defined for bool arrays, as in NumPy")
    return t


@numpy_function("condition", "x", "y")
def where(condition, x=None, y=None):
    """``x`` where ``condition`` else ``y``, broadcasting all three (``np.where``)."""
    if x is None or y is None:
        raise TraceError("where(condition) with one argument (nonzero indices) has a data-dependent "
                         "shape and cannot be traced; pass x and y: where(condition, x, y)")
    cond = as_tracer(condition)
    x, y = as_tracers([x, y], cond._ctx)
    return emit("where", [cond, x, y])


@numpy_function("a", "a_min", "a_max")
def clip(a, a_min=None, a_max=None):
    """``minimum(maximum(a, a_min), a_max)``; either bound may be None, a scalar or an array."""
    if a_min is None and a_max is None:
        raise TraceError("clip: give a_min, a_max or both")
    out = as_tracer(a)
    if a_min is not None:
        out = emit("maximum", as_tracers([out, a_min]))
    if a_max is not None:
        out = emit("minimum", as_tracers([out, a_max]))
    return out


@numpy_function("x")
def astype(x, dtype):
    """``x.astype(dtype)``; a no-op when the dtype already matches."""
    t = as_tracer(x)
    dtype = dt.canonical(dtype)
    return t if t._atom.type.dtype == dtype else emit("astype", [t], dtype=dtype)


#: NumPy ufunc name -> the function implementing it here (``__array_ufunc__``).
UFUNCS = {name: globals()[name] for name in __all__ if name not in ("where", "clip", "astype", "UFUNCS")}
