"""How a ufunc call picks the dtypes it computes in: ``dtype=``, ``casting=``, ``out=``, objects.

NumPy's ``np.exp(x_f32, dtype=np.float64)`` does not compute in float32 and
cast the result: ``dtype`` fixes the loop's output, NumPy picks the loop
(``ufunc.resolve_dtypes`` with that signature), casts every input to the
loop's dtype, refusing a cast that ``casting`` ("same_kind" by default) does
not allow, and computes there. :func:`apply_ufunc` does the same for the
registry op of a ufunc. ``out=`` cannot be written into (traced functions
return new arrays), and an operand that is a Python object (``None``, a
string) compares unequal to every element, as NumPy's object comparison
does, and is refused by every other ufunc.

>>> import numpy as np
>>> loop_dtypes("exp", [np.zeros(2, "float32")], np.float64, "same_kind")
(('float64',), 'float64')
>>> loop_dtypes("divide", [np.zeros(2, "float32"), 3], np.float64, "same_kind")
(('float64', 'float64'), 'float64')
>>> try:
...     loop_dtypes("multiply", [np.zeros(2, "float32"), 3], np.int16, "same_kind")
... except TypeError as err:  # a DTypeError, as NumPy's UFuncTypeError is a TypeError
...     print(type(err).__name__, str(err)[:64])
DTypeError np.multiply(..., dtype=int16): input 0 is float32, which casting
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError, TraceError
from ..ir import dtype as dt
from ..tracer.operands import as_tracer, as_tracers, is_weak_scalar, scalar_kind
from ..tracer.source import describe_location, user_location
from ..tracer.trace import EXPONENT
from ..tracer.tracer import Tracer
from ._api import emit

__all__ = ["CASTINGS", "loop_dtypes", "refuse_out", "is_object_operand", "object_comparison", "apply_ufunc",
           "OPERATORS"]

#: NumPy's casting rules, strictest first.
CASTINGS = ("no", "equiv", "safe", "same_kind", "unsafe")

#: ufunc name -> the Python operator that calls it (named in error messages).
OPERATORS = {
    "add": "+", "subtract": "-", "multiply": "*", "divide": "/", "floor_divide": "//",
    "remainder": "%", "power": "**", "matmul": "@", "bitwise_and": "&", "bitwise_or": "|",
    "bitwise_xor": "^", "left_shift": "<<", "right_shift": ">>", "less": "<", "less_equal": "<=",
    "greater": ">", "greater_equal": ">=", "equal": "==", "not_equal": "!=",
}


def _where() -> str:
    return describe_location(user_location())


def refuse_out(name: str, out) -> None:
    """TraceError unless ``out`` is None (or a tuple of Nones, as NumPy normalises it)."""
    outs = out if isinstance(out, tuple) else (out,)
    if any(o is not None for o in outs):
        raise TraceError(f"np.{name}(..., out=...) cannot write into this array while tracing: out= is "
                         f"supported for ufuncs writing into traced arrays (arguments, arrays the function "
                         f"made). Drop out= and assign the result instead (x[...] = np.{name}(...)){_where()}")


def _resolvable(value):
    """``value``'s dtype as ``ufunc.resolve_dtypes`` takes it: Python int, float and complex
    (and traced ones) as their types, which are weak (NEP 50); everything else a NumPy dtype."""
    if isinstance(value, Tracer):
        kind = scalar_kind(value) if value.weak else None
        return kind if kind in (int, float, complex) else value.dtype
    if is_weak_scalar(value):
        return type(value) if type(value) is not bool else np.dtype("bool")
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    return np.asarray(value).dtype


def loop_dtypes(name: str, values, dtype, casting: str) -> tuple[tuple[str, ...], str]:
    """The input and output dtypes NumPy's ufunc ``name`` computes ``values`` in when called
    with ``dtype=`` and ``casting=``; DTypeError (NumPy's UFuncTypeError) when an input may not
    be cast to its loop dtype under ``casting`` or no loop gives ``dtype``."""
    if casting not in CASTINGS:
        raise DTypeError(f"np.{name}: casting must be one of {', '.join(map(repr, CASTINGS))}, got "
                         f"{casting!r}{_where()}")
    ufunc = getattr(np, name)
    want = np.dtype(dtype)
    try:
        resolved = ufunc.resolve_dtypes(tuple(_resolvable(v) for v in values) + (None,) * ufunc.nout,
                                        signature=(None,) * ufunc.nin + (want,) * ufunc.nout, casting=casting)
    except TypeError as err:
        if hasattr(err, "in_i"):  # numpy's _UFuncInputCastingError
            raise DTypeError(
                f"np.{name}(..., dtype={want.name}): input {err.in_i} is {err.from_.name}, which "
                f"casting={casting!r} does not allow casting to the loop dtype {err.to.name} (NumPy "
                f"raises UFuncTypeError). Cast it explicitly first (x.astype(np.{err.to.name})), or "
                f"pass casting='unsafe'{_where()}") from None
        given = ", ".join(getattr(d, "name", getattr(d, "__name__", str(d))) for d in map(_resolvable, values))
        raise DTypeError(f"np.{name}(..., dtype={want.name}): NumPy's {name} has no loop giving "
                         f"{want.name} from inputs of dtype {given} under casting={casting!r}; pass "
                         f"a dtype the ufunc computes in, or cast the result with "
                         f".astype(np.{want.name}){_where()}") from None
    names = tuple(d.name for d in resolved)
    for n in names:
        dt.canonical(n)
    return names[:ufunc.nin], names[ufunc.nin]


def is_object_operand(value) -> bool:
    """Whether NumPy takes ``value`` as an opaque Python object (``None``, a string, a dict...),
    not as numbers: anything but traced values, arrays, NumPy and Python scalars, sequences
    and objects exposing array data."""
    if isinstance(value, (Tracer, np.ndarray, np.generic, list, tuple)) or is_weak_scalar(value):
        return False
    return not any(hasattr(value, a) for a in ("__array__", "__array_interface__", "__dlpack__"))


def object_comparison(name: str, value):
    """``value == obj`` (``name`` "equal") or ``value != obj`` ("not_equal") for a Python object
    ``obj``: no element equals it, so all False / all True in ``value``'s shape (NumPy's object
    comparison; its ``==`` operator answers so for any object, strings included)."""
    t = as_tracer(value)
    answer = as_tracer(np.bool_(name == "not_equal"), t._ctx)
    return emit("broadcast_to", [answer], shape=t.shape)


def _object_operands(name: str, values):
    """``equal``/``not_equal`` with an object operand (not a string, which NumPy's ufuncs take
    as text and refuse): :func:`object_comparison`; any other ufunc: DTypeError naming the
    operator and the object's type."""
    objects = [v for v in values if is_object_operand(v)]
    arrays = [v for v in values if not is_object_operand(v)]
    if name in ("equal", "not_equal") and arrays and not any(isinstance(v, (str, bytes)) for v in objects):
        return object_comparison(name, arrays[0])
    kind = type(objects[0]).__name__
    symbol = f" ({OPERATORS[name]})" if name in OPERATORS else ""
    raise DTypeError(f"np.{name}{symbol}: unsupported operand of type {kind} ({objects[0]!r:.40}); expected "
                     f"an array, a Python or NumPy scalar, or a traced value (NumPy raises TypeError "
                     f"too). Replace the {kind} with a number or array; for missing values choose "
                     f"one with np.where(mask, x, fill){_where()}")


def _refuse_negative_int_powers(values) -> None:
    """NumPy's ValueError for an integer array raised to a negative integer power known
    while tracing (a Python int, a NumPy int or a constant array)."""
    if len(values) != 2:
        return
    base, exponent = values
    base_kind = np.dtype(base.dtype).kind if isinstance(base, (Tracer, np.ndarray, np.generic)) else None
    if base_kind not in ("b", "i", "u"):  # (bool ** -1 computes in int64: refused too)
        return
    if isinstance(exponent, Tracer):
        if exponent.weak and exponent.dtype.kind in "iu":  # a Python int, known when the function runs
            exponent._ctx.check_range(exponent, EXPONENT, "np.power (**)")
            return
        data = getattr(exponent._atom, "data", None)  # a Constant's value
        exponent = data if data is not None else None
    if isinstance(exponent, (bool, np.bool_)) or exponent is None:
        return
    if isinstance(exponent, (int, np.integer, np.ndarray)) and np.asarray(exponent).dtype.kind in "iu" \
            and (np.asarray(exponent) < 0).any():
        raise ShapeError(f"np.power (**): integers to negative integer powers are not allowed, as in NumPy "
                         f"(ValueError); use a float base (x.astype(float) ** n){_where()}")


def apply_ufunc(name: str, values, out=None, dtype=None, casting: str = "same_kind"):
    """Record the registry op of ufunc ``name`` on ``values`` as NumPy computes
    ``np.<name>(*values, out=out, dtype=dtype, casting=casting)`` (see the module docstring)."""
    refuse_out(name, out)
    if any(is_object_operand(v) for v in values):
        return _object_operands(name, values)
    if name == "power":
        _refuse_negative_int_powers(values)
    if dtype is None:
        if casting not in CASTINGS:
            loop_dtypes(name, values, "float64", casting)  # the same error
        return emit(name, as_tracers(list(values), op=name))
    ins, result = loop_dtypes(name, values, dtype, casting)
    strong = [v if is_weak_scalar(v) or (isinstance(v, Tracer) and v.weak) else as_tracer(v) for v in values]
    strong = [v if not isinstance(v, Tracer) or v.weak or v._atom.type.dtype == d
              else emit("astype", [v], dtype=d) for v, d in zip(strong, ins)]
    operands = [t if t._atom.type.dtype == d else emit("astype", [t], dtype=d)
                for t, d in zip(as_tracers(strong, op=name), ins)]
    out = emit(name, operands)
    return out if out._atom.type.dtype == result else emit("astype", [out], dtype=result)
