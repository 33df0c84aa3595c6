"""Python scalars of traced values in a converted function: ``float(x)``, ``int(x)``,
``np.float32(x)``, ``math.sqrt(x)``, ``x.item()``.

NumPy code turns 0-d results into Python or NumPy scalars all the time (``err =
float(np.max(np.abs(r)))``, ``i = int(np.argmax(x))``, ``s = math.sqrt(x @ x)``). Python
requires ``__float__`` to return a real ``float``, which a traced value cannot be; so
:mod:`.autograph` rewrites these calls into :func:`builtin_scalar` and :func:`scalar_call`,
which call the function as it is on Python values and, on a traced one, return a traced
0-d value that stands for the scalar: a weak one (it adopts the dtype of the arrays it
meets, as a Python ``float`` does) for the builtins and ``math``, a strong one of the
type's dtype for NumPy's scalar types.

On Python values they are the calls themselves:

>>> builtin_scalar(int, 2.7), scalar_call(math.sqrt, 4.0), scalar_call(np.float32, 1.5)
(2, 2.0, np.float32(1.5))
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import TraceError
from .source import describe_location, user_location
from .tracer import Tracer

__all__ = ["builtin_scalar", "scalar_call", "item", "SCALAR_ATTRIBUTES"]

#: Python's builtin -> the dtype of the scalar it makes
_BUILTINS = {float: "float64", int: "int64", bool: "bool", complex: "complex128"}

#: ``math`` functions -> NumPy's, on a traced value (their result is a Python float, or an int
#: for floor, ceil and trunc)
_MATH = {
    math.sqrt: np.sqrt, math.exp: np.exp, math.log: np.log, math.log10: np.log10, math.log2: np.log2,
    math.log1p: np.log1p, math.expm1: np.expm1, math.sin: np.sin, math.cos: np.cos, math.tan: np.tan,
    math.asin: np.arcsin, math.acos: np.arccos, math.atan: np.arctan, math.sinh: np.sinh,
    math.cosh: np.cosh, math.tanh: np.tanh, math.fabs: np.abs, math.atan2: np.arctan2,
    math.hypot: np.hypot, math.pow: np.power, math.copysign: np.copysign, math.isnan: np.isnan,
    math.isinf: np.isinf, math.isfinite: np.isfinite,
}
_MATH_TO_INT = {math.floor: np.floor, math.ceil: np.ceil, math.trunc: np.trunc}

#: the attribute names whose calls :mod:`.autograph` sends through :func:`scalar_call`
SCALAR_ATTRIBUTES = frozenset(
    {t.__name__ for t in _MATH} | {t.__name__ for t in _MATH_TO_INT}
    | {"float16", "float32", "float64", "double", "single", "half", "longdouble", "int8", "int16", "int32",
       "int64", "intp", "uint8", "uint16", "uint32", "uint64", "uintp", "bool_", "complex64", "complex128",
       "cdouble", "csingle", "byte", "ubyte", "short", "ushort", "intc", "uintc", "longlong", "ulonglong"})


def _traced(value) -> bool:
    return isinstance(value, Tracer)


def _one_element(x: Tracer, what: str) -> Tracer:
    if x.size != 1:
        raise TraceError(f"{what} of a traced array of shape {tuple(x.shape)}: only an array of one "
                         f"element converts to a scalar (as in NumPy); index the element first, "
                         f"x[i] or x.item(i){describe_location(user_location(3))}")
    return x.reshape(())


def builtin_scalar(fn, *args):
    """``float(x)``, ``int(x)``, ``bool(x)``, ``complex(x)``: Python's on Python values; on a
    traced value of one element, that element as a traced Python scalar (``int`` truncates
    toward zero, as Python's does)."""
    if len(args) != 1 or not _traced(args[0]) or fn not in _BUILTINS:
        return fn(*args)
    x = _one_element(args[0], f"{fn.__name__}()")
    if x.dtype.kind == "c" and fn is not complex:
        raise TraceError(f"{fn.__name__}() of a complex traced value: Python cannot convert a complex "
                         f"number to {fn.__name__}; take x.real or abs(x) first"
                         + describe_location(user_location(2)))
    return x.astype(_BUILTINS[fn]).weak_copy()


def scalar_call(fn, *args, **kwargs):
    """``np.float32(x)``, ``math.sqrt(x)`` and their kin (:data:`SCALAR_ATTRIBUTES`): the call as
    it is unless an argument is traced; then NumPy's cast (``x.astype(np.float32)``, a strong
    value as NumPy's scalar is) or NumPy's function of the same name, as a traced Python float."""
    if not any(_traced(a) for a in args) or kwargs:
        return fn(*args, **kwargs)
    if isinstance(fn, type) and issubclass(fn, np.generic) and len(args) == 1:
        return args[0].astype(fn)
    if fn in _MATH or fn in _MATH_TO_INT:
        xs = [_one_element(a, f"math.{fn.__name__}()") if _traced(a) else a for a in args]
        if fn in _MATH_TO_INT:
            return _MATH_TO_INT[fn](xs[0]).astype("int64").weak_copy()
        xs = [a.astype("float64") if _traced(a) and a.dtype.kind != "f" else a for a in xs]
        out = _MATH[fn](*xs)
        return (out if out.dtype == np.bool_ else out.astype("float64")).weak_copy()
    return fn(*args)


def item(self, *args):
    """``x.item()``: the one element of ``x`` as a traced Python scalar (weak: it adopts the
    dtype of the arrays it meets); ``x.item(i)`` the element at flat index ``i``,
    ``x.item(i, j)`` the one at ``(i, j)``."""
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    x = self.reshape(-1)[args[0]] if len(args) == 1 else self[args] if args else \
        _one_element(self, "x.item()")
    kind = {"b": "bool", "i": "int64", "u": "int64", "f": "float64", "c": "complex128"}[x.dtype.kind]
    return x.astype(kind).weak_copy()
