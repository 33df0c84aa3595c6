"""Turn the operands of a traced NumPy call into Tracers, following NumPy 2 / NEP 50.

Typed operands (Tracers, NumPy arrays and NumPy scalars) are *strong*: they
promote with ``np.result_type``. Python scalars (and Tracers of Python
scalars passed to a jitted function) are *weak*: they take the dtype of the
strong operands when their kind fits (an int next to floats or ints, a float
next to floats), and otherwise the default dtype of their kind (``int64``,
``float64``). So ``x_f32 * 2.0`` stays float32 and ``x_i32 * 0.5`` is float64,
exactly as NumPy 2 computes them.

>>> from mlc.ir.dtype import canonical
>>> weak_dtype(2.0, "float32"), weak_dtype(2.0, "int32"), weak_dtype(7, "uint8"), weak_dtype(True, None)
('float32', 'float64', 'uint8', 'bool')
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError, TraceError
from ..ir import dtype as dt
from ..runtime.ndarray import is_masked_array, subclass_refusal
from .intervals import atom_interval
from .source import describe_location, user_location
from .trace import TraceContext, current_trace
from .tracer import Tracer

__all__ = ["weak_dtype", "as_tracers", "as_tracer", "is_weak_scalar", "scalar_kind", "trace_of", "numpy_on_overflow",
           "holds_tracer"]

_KIND_DEFAULT = {bool: "bool", int: "int64", float: "float64", complex: "complex128"}


def is_weak_scalar(value) -> bool:
    """A Python bool, int, float or complex (not a NumPy scalar, which is typed)."""
    return type(value) in _KIND_DEFAULT


def scalar_kind(value) -> type:
    """The Python type a weak operand stands for (a weak Tracer by its dtype)."""
    if isinstance(value, Tracer):
        return {"bool": bool, "float64": float, "complex128": complex}.get(value._atom.type.dtype, int)
    return type(value)


def weak_dtype(value, strong: str | None) -> str:
    """The dtype a weak scalar of ``value``'s kind takes next to dtype ``strong``."""
    kind = scalar_kind(value)
    if strong is None:
        return _KIND_DEFAULT[kind]
    if kind is bool:
        return strong
    if kind is int:
        return "int64" if strong == "bool" else strong
    if kind is float:
        return strong if dt.is_inexact(strong) else "float64"
    return dt.complex_of(strong) if dt.is_inexact(strong) else "complex128"


#: Ops that compare a Python int with the array exactly, whatever its value (NumPy 2).
COMPARISONS = frozenset({"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"})
#: Ops whose loop converts a Python int to bool (``logical_and(x_i8, 256)`` is ``x_i8 != 0``).
_BOOL_LOOP = frozenset({"logical_and", "logical_or", "logical_xor"})


def numpy_on_overflow(op: str | None) -> str:
    """What NumPy 2 does with a Python int its operand's dtype cannot hold, for ``op``."""
    return ("NumPy 2 keeps its low bits silently there, which mlc refuses" if op == "where" else
            "NumPy 2 raises OverflowError here")


def _out_of_range(value: int, dtype: str, op: str | None) -> DTypeError:
    info = np.iinfo(dtype)
    return DTypeError(f"{op or 'operation'}: Python integer {value} is out of bounds for {dtype} ({numpy_on_overflow(op)}; "
                      f"the int takes the array's dtype, in [{info.min}, {info.max}]); cast the array to "
                      "a wider dtype first" + describe_location(user_location()))


def _weak_int_constant(ctx: TraceContext, value: int, target: str, op: str | None):
    """A Python int literal next to arrays: NumPy 2's conversion for ``op``, or its error."""
    if not dt.is_int(target):
        return ctx.scalar(value, target)
    if op in _BOOL_LOOP:  # NumPy reads the int as a C long, then as bool
        wide = np.iinfo("int64")
        if not wide.min <= value <= wide.max:
            raise _out_of_range(value, "int64", op)
        return ctx.scalar(bool(value), "bool")
    info = np.iinfo(target)
    if info.min <= value <= info.max:
        return ctx.scalar(value, target)
    if op in COMPARISONS:  # exact: compare in a dtype that holds the value (inf beyond 64 bits)
        for wide in ("int64", "uint64"):
            wide_info = np.iinfo(wide)
            if wide_info.min <= value <= wide_info.max:
                return ctx.scalar(value, wide)
        return ctx.scalar(np.inf if value > 0 else -np.inf, "float64")
    raise _out_of_range(value, target, op)


def _weak_int_tracer(ctx: TraceContext, v: Tracer, target: str, op: str | None):
    """A traced Python int (int64, value known only when the function runs) as ``op``'s operand."""
    if op in COMPARISONS and dt.is_int(target):
        return v.strong()  # compared exactly in int64 (or int64 against uint64)
    if op in _BOOL_LOOP:
        target = "bool"
    if dt.is_int(target) and target != "int64" and not _fits(v, target):
        ctx.check_range(v, target, op or "operation")
    return (ctx.emit("astype", [v], {"dtype": target}) if target != v._atom.type.dtype else v).strong()


def _fits(v: Tracer, target: str) -> bool:
    """Whether the traced int ``v`` is known to fit ``target`` (``crc & 1`` fits uint8)."""
    span = atom_interval(v._ctx, v._atom)
    info = np.iinfo(target)
    return span is not None and info.min <= span[0] and span[1] <= info.max


def _loop_dtypes(op: str | None, values) -> list[str | None] | None:
    """The dtypes NumPy 2's ufunc ``op`` converts ``values`` to (its loop's inputs, where a
    Python int or float is weak), or None where ``op`` is no ufunc or NumPy finds no loop.

    A weak number takes the *loop's* dtype, which is not always the strong operand's:
    ``divide(x_i8, 300)`` computes in float64, ``arctan2(x_i8, 300)`` in float16 (no int8
    overflow: NumPy gives a value), and ``ldexp(2, n_i16)`` in float16 with an int32 exponent.

    >>> _loop_dtypes("ldexp", [2, np.zeros(2, "int16")]), _loop_dtypes("add", [np.int8(1), 2])
    (['float16', 'int32'], ['int8', 'int8'])
    """
    ufunc = getattr(np, op, None) if op in _WEAK_LOOP_UFUNCS else None
    if not isinstance(ufunc, np.ufunc) or ufunc.nin != len(values) or ufunc.nout != 1:
        return None
    dtypes = []
    for v in values:
        if isinstance(v, Tracer):
            kind = scalar_kind(v) if v.weak else None
            dtypes.append(kind if kind in (int, float, complex) else v.dtype)
        elif type(v) in (int, float, complex):
            dtypes.append(type(v))
        elif type(v) is bool:
            dtypes.append(np.dtype("bool"))
        elif v is None or isinstance(v, (str, bytes)):
            return None
        else:
            dtypes.append(np.asarray(v).dtype)
    try:
        resolved = ufunc.resolve_dtypes(tuple(dtypes) + (None,))
    except (TypeError, ValueError):  # no loop: the op's own rule gives the error
        return None
    return [d.name if d.kind in "biufc" else None for d in resolved[:-1]]


#: Ufuncs whose weak operands take :func:`_loop_dtypes` (comparisons and the logical ops have
#: NumPy's own special rules for Python ints, below).
_WEAK_LOOP_UFUNCS = frozenset(name for name, value in vars(np).items()  # (no getattr: it loads np.ma, np.testing)
                              if isinstance(value, np.ufunc) and value.nin == 2) - COMPARISONS - _BOOL_LOOP


def trace_of(values) -> TraceContext:
    """The trace the first Tracer among ``values`` belongs to (else the active one). Operands
    are made in the capturing trace running inside it, if one is (:func:`_innermost`)."""
    for v in values:
        if isinstance(v, Tracer):
            return v._ctx
    ctx = current_trace()
    if ctx is None:
        raise TraceError("no trace is active; mlc.numpy functions trace only inside @mlc.jit")
    return ctx


def _strong_dtype(values) -> str | None:
    dtypes = []
    for v in values:
        if isinstance(v, Tracer):
            if not v.weak:
                dtypes.append(v._atom.type.dtype)
        elif isinstance(v, (np.ndarray, np.generic)):
            dtypes.append(dt.canonical(v.dtype))
        elif isinstance(v, (list, tuple)):
            dtypes.append(dt.canonical(np.asarray(v).dtype))
    if not dtypes:
        return None
    return dtypes[0] if len(dtypes) == 1 else dt.canonical(np.result_type(*dtypes))


def _innermost(ctx: TraceContext) -> TraceContext:
    """The trace operands are made in: ``ctx``, or the capturing trace running inside it (a
    loop's body reading an array of the function around it at the loop's index: the array is
    captured there, as :meth:`TraceContext.emit` records the op there)."""
    inner = current_trace()
    if inner is not None and inner is not ctx and inner.captures and ctx.is_active():
        return inner
    return ctx


def as_tracers(values, ctx: TraceContext | None = None, op: str | None = None) -> list:
    """Tracers for ``values`` (Tracers, arrays, NumPy or Python scalars), promoted together.

    Weak operands (Python scalars, weak Tracers) are given the dtype NEP 50
    assigns next to the strong ones; ``None`` entries stay None. A Python int
    that the dtype cannot hold is handled as NumPy 2's ufunc ``op`` handles
    it: compared exactly, converted to bool or float64 where ``op``'s loop
    computes in those, refused otherwise (DTypeError; for a traced int, when
    the compiled function runs).
    """
    ctx = _innermost(ctx or trace_of(values))
    values = [as_tracer(v, ctx) if isinstance(v, (list, tuple)) and holds_tracer(v) else v for v in values]
    strong = _strong_dtype(values)
    if strong is None:  # all weak: the widest kind wins (bool < int < float < complex)
        kinds = [scalar_kind(v) for v in values if v is not None]
        strong_kind = next((k for k in (complex, float, int) if k in kinds), bool)
        strong = _KIND_DEFAULT[strong_kind] if kinds else None
    loop = _loop_dtypes(op, values) if any(is_weak_scalar(v) or (isinstance(v, Tracer) and v.weak)
                                          for v in values) else None
    out = []
    for n, v in enumerate(values):
        if v is None:
            out.append(None)
        elif isinstance(v, Tracer):
            if not ctx.accepts(v):
                raise TraceError("a traced value from another (finished) trace was used; a traced "
                                 "value escaped its function" + describe_location(user_location()))
            if v.weak:
                target = _weak_target(v, strong, loop, n)
                if scalar_kind(v) is int:
                    v = _weak_int_tracer(ctx, v, target, op)
                else:
                    v = ctx.emit("astype", [v], {"dtype": target}) if target != v._atom.type.dtype else v
                    v = v.strong()
            out.append(v)
        elif is_weak_scalar(v):
            target = _weak_target(v, strong, loop, n)
            out.append(_weak_int_constant(ctx, v, target, op) if type(v) is int else ctx.scalar(v, target))
        else:
            out.append(as_tracer(v, ctx))
    return out


def _weak_target(value, strong: str | None, loop: list | None, n: int) -> str:
    """The dtype weak operand ``n`` takes: its ufunc loop's where NumPy gives one, else
    NEP 50's (:func:`weak_dtype`)."""
    if loop is not None and loop[n] is not None:
        return loop[n]
    return weak_dtype(value, strong)


def as_tracer(value, ctx: TraceContext | None = None):
    """One operand as a Tracer with its own dtype (Python scalars: int64/float64/bool)."""
    if isinstance(value, Tracer):
        return as_tracers([value], ctx)[0]
    ctx = _innermost(ctx or trace_of([value]))
    if is_weak_scalar(value):
        return ctx.scalar(value, _KIND_DEFAULT[type(value)])
    if isinstance(value, np.generic):
        return ctx.scalar(value.item(), dt.canonical(value.dtype))
    if is_masked_array(value):
        raise DTypeError("cannot use a masked array in a traced function; its mask would be ignored. "
                         "Pass plain data (np.ma.getdata(x), x.filled(value)) and the mask as a bool "
                         "array combined with mlc.numpy.where" + describe_location(user_location()))
    refusal = subclass_refusal(value)
    if refusal is not None:
        raise DTypeError(f"cannot use an array in a traced function that is {refusal}"
                         + describe_location(user_location()))
    if isinstance(value, (list, tuple)) and holds_tracer(value):
        return _sequence_tracer(value, ctx)
    if isinstance(value, (np.ndarray, list, tuple)):
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            raise DTypeError(f"cannot use an array of dtype {array.dtype} in a traced function; "
                             "expected bool, int, float or complex data"
                             + describe_location(user_location()))
        return ctx.array(array)
    refusal = getattr(value, "mlc_refusal", None)  # a value with no array meaning here says why
    if refusal is not None:
        raise refusal()
    raise DTypeError(f"cannot use {value!r} of type {type(value).__name__} as an array operand in "
                     "a traced function; expected an array, a Python or NumPy scalar, or a traced "
                     "value" + describe_location(user_location()))


def holds_tracer(value) -> bool:
    return any(isinstance(v, Tracer) or (isinstance(v, (list, tuple)) and holds_tracer(v)) for v in value)


def _sequence_tracer(value, ctx: TraceContext) -> Tracer:
    """A list or tuple holding traced values (the Python numbers of an eager ``mlc.numpy``
    call are traced too) as one array, as ``np.asarray`` builds it: elements of one shape,
    each Python number of its default dtype, all converted to their common dtype."""
    parts = [_sequence_tracer(v, ctx) if isinstance(v, (list, tuple)) else as_tracer(v, ctx) for v in value]
    parts = [p.strong() if p.weak else p for p in parts]
    if not parts:
        return ctx.array(np.asarray(value))
    shapes = {tuple(p.shape) for p in parts}
    if len(shapes) > 1:
        raise ShapeError(f"cannot make one array of a sequence whose elements have the shapes "
                         f"{sorted(shapes)} (NumPy's inhomogeneous-shape error); give every element "
                         f"the same shape" + describe_location(user_location()))
    dtype = dt.canonical(np.result_type(*[p._atom.type.dtype for p in parts]))
    (shape,) = shapes
    rows = [ctx.emit("reshape", [p if p._atom.type.dtype == dtype else ctx.emit("astype", [p], {"dtype": dtype})],
                     {"newshape": (1, *shape)}) for p in parts]
    return rows[0] if len(rows) == 1 else ctx.emit("concatenate", rows, {"axis": 0})
