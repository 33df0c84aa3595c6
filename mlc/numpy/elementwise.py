"""Elementwise functions: NumPy's ufuncs, ``where``, ``clip``, ``astype``.

Operands may be traced arrays, NumPy arrays or scalars; Python scalars follow
NEP 50 (``x_f32 * 2.0`` is float32). Each function records one registry op.

>>> import numpy as np, mlc
>>> mlc.numpy.maximum(np.array([-1.0, 2.0], "float32"), 0)
array([0., 2.], dtype=float32)
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import TraceError
from ..ir import dtype as dt
from ..ops.registry import get_op, list_aliases, list_ops
from ..tracer.operands import as_tracer, as_tracers
from ..tracer.trace import is_tracing
from ..tracer.tracer import Tracer
from ._api import emit, numpy_function
from .devices import device_of, normalize, place
from .loops import apply_ufunc, loop_dtypes, refuse_out


def _registry_ufuncs() -> tuple[list[str], list[str]]:
    """(unary, binary): the registry's elementwise ops that are NumPy ufuncs, by name.

    This is the one list: every such op is an ``mlc.numpy`` function (and
    ``np.<name>`` on a traced value reaches it), so an op added to the
    registry needs no second entry here.
    """
    unary, binary = [], []
    for name in list_ops():
        ufunc = getattr(np, name, None)
        if (isinstance(ufunc, np.ufunc) and ufunc.nout == 1 and ufunc.nin in (1, 2)
                and get_op(name).pattern in ("elemwise", "broadcast")):
            (unary if ufunc.nin == 1 else binary).append(name)
    return unary, binary


#: NumPy's order of complex numbers: by real part, then imaginary part (a NaN imaginary part
#: makes "by real part" false); (real-part test, imaginary-part test) of each comparison
_COMPLEX_ORDER = {"less": ("less", "less"), "less_equal": ("less", "less_equal"),
                  "greater": ("greater", "greater"), "greater_equal": ("greater", "greater_equal")}


def _complex_operands(x1, x2) -> bool:
    return any(isinstance(x, (Tracer, np.ndarray, np.generic, complex)) and np.asarray(
        x.dtype.type(0) if isinstance(x, Tracer) else x).dtype.kind == "c" for x in (x1, x2))


def _complex_compare(op: str, x1, x2):
    """``x1 < x2`` (and ``<=``, ``>``, ``>=``) of complex values as NumPy orders them:
    ``(xr < yr and xi, yi not NaN) or (xr == yr and xi < yi)``; NumPy's tutorial Mandelbrot
    tests ``z * np.conj(z) > 4`` so."""
    by_real, by_imag = _COMPLEX_ORDER[op]
    a, b = as_tracer(x1), as_tracer(x2)
    ar, ai, br, bi = real(a), imag(a), real(b), imag(b)
    numbers = _GENERATED["logical_not"](_GENERATED["logical_or"](_GENERATED["isnan"](ai), _GENERATED["isnan"](bi)))
    first = _GENERATED["logical_and"](_GENERATED[by_real](ar, br), numbers)
    tie = _GENERATED["logical_and"](_GENERATED["equal"](ar, br), _GENERATED[by_imag](ai, bi))
    return _GENERATED["logical_or"](first, tie)


def _binary(op: str):
    @numpy_function("x1", "x2", "out")
    def fn(x1, x2, /, out=None, *, dtype=None, casting="same_kind"):
        if op in _COMPLEX_ORDER and out is None and dtype is None and _complex_operands(x1, x2):
            return _complex_compare(op, x1, x2)
        return apply_ufunc(op, [x1, x2], out, dtype, casting)
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = (f"``np.{op}(x1, x2)`` elementwise, broadcasting (registry op ``{op}``); ``dtype`` "
                  "picks the dtype it computes in, as NumPy's does (:mod:`.loops`).")
    return fn


def _unary(op: str):
    @numpy_function("x", "out")
    def fn(x, /, out=None, *, dtype=None, casting="same_kind"):
        return apply_ufunc(op, [x], out, dtype, casting)
    fn.__name__ = fn.__qualname__ = op
    fn.__doc__ = (f"``np.{op}(x)`` elementwise (registry op ``{op}``); ``dtype`` picks the dtype it "
                  "computes in, as NumPy's does (:mod:`.loops`).")
    return fn


_UNARY_NAMES, _BINARY_NAMES = _registry_ufuncs()
_GENERATED = {name: _unary(name) for name in _UNARY_NAMES}
_GENERATED.update((name, _binary(name)) for name in _BINARY_NAMES)
# NumPy's other spellings (true_divide, mod, abs, bitwise_not, bitwise_invert)
_GENERATED.update((alias, _GENERATED[name]) for alias, name in list_aliases().items()
                  if name in _GENERATED and hasattr(np, alias))
globals().update(_GENERATED)


@numpy_function("x", "out")
def positive(x, /, out=None, *, dtype=None, casting="same_kind"):
    """``+x``: the operand's value, as a new array object (NumPy copies)."""
    refuse_out("positive", out)
    t = as_tracer(x)
    if t.dtype == bool:
        raise TraceError("positive (+x) is not defined for bool arrays, as in NumPy")
    if dtype is None:
        return t.fresh()
    (loop,), result = loop_dtypes("positive", [x], dtype, casting)
    t = t if t._atom.type.dtype == loop else emit("astype", [t], dtype=loop)
    return t if loop == result else emit("astype", [t], dtype=result)


@numpy_function("condition", "x", "y")
def where(condition, x=None, y=None):
    """``x`` where ``condition`` else ``y``, broadcasting all three (``np.where``)."""
    if x is None or y is None:
        raise TraceError("where(condition) with one argument (nonzero indices) has a data-dependent "
                         "shape and cannot be traced; pass x and y: where(condition, x, y)")
    cond = as_tracer(condition)
    x, y = as_tracers([x, y], cond._ctx, op="where")
    return emit("where", [cond, x, y])


@numpy_function("a", "min", "max", "out", "a_min", "a_max")
def clip(a, min=None, max=None, out=None, *, a_min=None, a_max=None):  # noqa: A002 - the Array API's names
    """``minimum(maximum(a, min), max)``; either bound may be None, a scalar or an array.

    The bounds are ``min``/``max`` (the Array API's names, positional as in
    NumPy) or NumPy's keywords ``a_min``/``a_max``; with neither, ``x`` itself.

    As NumPy 2's ``np.clip``: on an integer array a Python int bound beyond the
    dtype's range is no bound at all (``clip(x_u32, -2, 3)`` clips at 3 only),
    while a lower bound above the dtype's maximum (or an upper one below its
    minimum) is refused.
    """
    refuse_out("clip", out)
    if (min is not None and a_min is not None) or (max is not None and a_max is not None):
        raise TraceError("clip: give each bound once (min or a_min, max or a_max)")
    a_min = min if a_min is None else a_min
    a_max = max if a_max is None else a_max
    out = as_tracer(a)
    if a_min is None and a_max is None:
        return out.fresh()  # no bounds: x's values, as a new array (the Array API's clip(x); NumPy 2 agrees)
    dtype = out._atom.type.dtype
    if dt.is_int(dtype):
        a_min, a_max = _int_bound(a_min, dtype, lower=True), _int_bound(a_max, dtype, lower=False)
    if a_min is not None:
        out = emit("maximum", as_tracers([out, a_min], op="maximum"))
    if a_max is not None:
        out = emit("minimum", as_tracers([out, a_max], op="minimum"))
    return out


def _int_bound(bound, dtype: str, lower: bool):
    """A clip bound on an integer array: a Python int past the dtype's range on its own side
    drops out (None); a traced one is clamped there (in int64) and stays a Python int."""
    info, wide = np.iinfo(dtype), np.iinfo("int64")
    if type(bound) is int:
        return None if (bound <= info.min if lower else bound >= info.max) else bound
    if isinstance(bound, Tracer) and bound.weak and bound._atom.type.dtype == "int64":
        edge = as_tracer(np.int64(max(int(info.min), int(wide.min)) if lower else min(int(info.max), int(wide.max))),
                         bound._ctx)
        return emit("maximum" if lower else "minimum", [bound.strong(), edge]).weak_copy()
    return bound


def astype(x, dtype, /, *, copy=True, device=None):
    """``x.astype(dtype)``; no op when the dtype already matches (then ``x`` itself where
    ``copy=False``, the same value as a new array object otherwise). ``device`` (see :mod:`.devices`) moves an eager result there;
    a traced value lives where its function runs. A complex ``x`` cast to a real dtype keeps its
    real part with NumPy's ComplexWarning (the Array API leaves this cast out: cast ``real(x)``
    or ``imag(x)`` instead)."""
    if is_tracing() or isinstance(x, Tracer):
        normalize("astype", device)
        out = _astype(x, dtype)
        if out is x:
            return out.fresh() if copy is not False else out
        if isinstance(x, Tracer) and isinstance(out, Tracer):  # an array's cast is an array, a scalar's a scalar
            out.array0d = x.array0d
        return out
    return place(_astype(x, dtype), normalize("astype", device, default=device_of(x)))


@numpy_function("x")
def _astype(x, dtype):
    t = as_tracer(x)
    dtype = dt.canonical(dtype)
    if dt.is_complex(t._atom.type.dtype) and not dt.is_complex(dtype):
        warnings.warn("Casting complex values to real discards the imaginary part; cast real(x) or "
                      "imag(x) to say which", np.exceptions.ComplexWarning, stacklevel=2)
    return t if t._atom.type.dtype == dtype else emit("astype", [t], dtype=dtype)


@numpy_function("x", "out")
def round(x, decimals=0, out=None):  # noqa: A001 - NumPy's name
    """Round to the nearest integer, ties to even (``np.round``); integers keep their values (a new
    array, as NumPy's)."""
    refuse_out("round", out)
    t = as_tracer(x)  # (bool: NumPy's round is rint there, whose loop is float16)
    if decimals != 0:  # NumPy's way: scaled by a power of ten (a Python float), rounded, scaled back
        kind = np.dtype(t.dtype).kind
        if kind in "iu" and decimals > 0:
            return t.fresh()
        if kind != "f":
            raise TraceError(f"round: decimals={decimals!r} is supported for real floating arrays (and "
                             f"positive decimals for integers), got {t.dtype}")
        scale = 10.0 ** (decimals if decimals > 0 else -decimals)  # (this module's abs is the ufunc)
        if decimals > 0:
            return _GENERATED["true_divide"](emit("rint", [_GENERATED["multiply"](t, scale)]), scale)
        return _GENERATED["multiply"](emit("rint", [_GENERATED["true_divide"](t, scale)]), scale)
    return t.fresh() if dt.is_int(t._atom.type.dtype) else emit("rint", [t])


@numpy_function("x")
def conj(x):
    """The complex conjugate (``np.conj``, the ufunc ``np.conjugate``): real operands keep their
    values, as a new array of the ufunc's dtype (bool becomes int8, as in NumPy).

    >>> import numpy as np, mlc
    >>> mlc.numpy.conj(np.array([True, False]))
    array([1, 0], dtype=int8)
    """
    t = as_tracer(x)
    d = t._atom.type.dtype
    return emit("conjugate", [t]) if dt.is_complex(d) or get_op("conjugate").infer(t._atom.type).dtype != d \
        else t.fresh()


@numpy_function("x")
def real(x):
    """The real part (its float dtype for complex operands): real operands are returned as they are."""
    t = as_tracer(x)
    return emit("real", [t]) if dt.is_complex(t._atom.type.dtype) else t


@numpy_function("x")
def imag(x):
    """The imaginary part (its float dtype for complex operands): zeros of ``x``'s dtype for real
    operands."""
    t = as_tracer(x)
    if dt.is_complex(t._atom.type.dtype):
        return emit("imag", [t])
    return emit("broadcast_to", [as_tracer(np.zeros((), t.dtype), t._ctx)], shape=t.shape)


@numpy_function("z")
def angle(z, deg=False):
    """The angle of each element from the positive real axis, ``arctan2(z.imag, z.real)``, in
    radians (degrees with ``deg=True``), as ``np.angle``: for a real ``z``, ``arctan2(0, z)``
    (0, or pi for negative values and -0).

    >>> import mlc
    >>> mlc.jit(lambda z: np.angle(z, deg=True))(np.array([1j, -1, 1 + 1j], "complex64"))
    array([ 90., 180.,  45.], dtype=float32)
    """
    t = as_tracer(z)
    if dt.is_complex(t._atom.type.dtype):
        a = _GENERATED["arctan2"](imag(t), real(t))
    else:
        a = _GENERATED["arctan2"](0, t)
    return a * (180 / np.pi) if deg else a


_GENERATED["positive"] = positive

#: NumPy ufunc name -> the function implementing it here (``__array_ufunc__``).
UFUNCS = dict(sorted(_GENERATED.items()))

__all__ = [*UFUNCS, "where", "clip", "astype", "round", "conj", "real", "imag", "angle", "UFUNCS"]
