"""Array creation: new arrays, traced inside ``@mlc.jit``.

Outside a trace these build NumPy arrays. Inside one, ``zeros``, ``ones``,
``empty``, ``full``, their ``*_like`` forms, ``arange``, ``eye`` and ``copy``
return traced arrays (a scalar broadcast, or a constant), which the function
may write into (``y = np.empty_like(x); y[0] = ...``; :mod:`.updates`); NumPy's
own functions of those names called from the traced function do the same
(:mod:`mlc.tracer.numpy_creation`). ``*_like`` functions read only the shape
and dtype of a traced value. ``asarray`` of a traced value is the value itself.

Every function takes the Array API's ``device=`` keyword (``"cpu"``, ``"cuda"``
where a GPU is usable, or None; see :mod:`.devices`): outside a trace the array
is made on the host and copied to a GPU when asked (``*_like`` default to their
input's device); ``linspace``, ``meshgrid``, ``tril`` and ``triu`` are the
Array API's (``meshgrid``, ``tril`` and ``triu`` trace: they broadcast and
select).

>>> import mlc
>>> mlc.numpy.zeros((2,), "int32")
array([0, 0], dtype=int32)
"""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from ..ir import dtype as dt
from ..runtime import ndarray as nd
from ..runtime.memory import dlpack_memory_kind
from ..tracer.operands import as_tracer, as_tracers, holds_tracer
from ..tracer.trace import current_trace
from ..tracer.tracer import Tracer
from ._api import numpy_function
from .devices import device_of, normalize, place
from .elementwise import astype, where
from .shapes import broadcast_to, reshape

__all__ = ["asarray", "array", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like",
           "empty", "empty_like", "arange", "eye", "linspace", "meshgrid", "tril", "triu", "from_dlpack", "copy"]


def _made(function: str, device, make):
    """``make()`` (a host array) on ``device``, which is checked first; inside a trace, a new
    traced array holding it (a constant)."""
    device = normalize(function, device)
    ctx = current_trace()
    if ctx is not None:
        return as_tracer(make(), ctx).new_array()
    return place(make(), device)


def _filled(function: str, shape, value, dtype: str, device):
    """A new array of ``shape`` filled with ``value``: inside a trace, a traced scalar
    broadcast (a new array object the function may write into), else a NumPy array."""
    ctx = current_trace()
    if ctx is None:
        return _made(function, device, lambda: np.full(shape, value, dtype=dtype))
    normalize(function, device)
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    shape = tuple(int(n) if isinstance(n, (int, np.integer)) else n for n in shape)
    scalar = ctx.scalar(np.array(value, dtype).item(), dtype)
    if not shape:
        return scalar.new_array()
    return ctx.emit("broadcast_to", [scalar], {"shape": shape}, view=False)


def _dtype(dtype):
    """A creation dtype: the op library's, or a complex one (creating an array computes nothing)."""
    if dtype is None:
        return None
    name = np.dtype(dtype).name if not isinstance(dtype, str) or dtype not in dt.SUPPORTED else dtype
    return name if name in ("complex64", "complex128") else dt.canonical(dtype)


def asarray(a, dtype=None, *, device=None, copy=None):
    """``a`` as an array: a traced value stays traced (cast to ``dtype`` if given).

    ``copy=False`` refuses to copy (a NumPy error when a copy is needed);
    ``copy=True`` always copies; traced values are immutable, so neither matters there.
    """
    if isinstance(a, Tracer):
        normalize("asarray", device)
        if a.is_scalar:  # np.asarray of a NumPy scalar is a new 0-d array
            a = a.new_array()
        return a if dtype is None else astype(a, dtype)
    if isinstance(a, (list, tuple)) and current_trace() is not None and holds_tracer(a):
        # np.array([s[1] - s[0], s[0] * s[2]]) of traced scalars: one traced array, as NumPy's
        normalize("asarray", device)
        out = as_tracer(a).fresh()
        return out if dtype is None else astype(out, dtype)
    target = normalize("asarray", device, default=device_of(a))
    if device_of(a) != "cpu":
        if target == "cpu":
            a = place(a, "cpu")
        elif dtype is None and not copy:
            return a
        else:
            return a.astype(_dtype(dtype) or a.dtype, copy=bool(copy) or dtype is not None)
    if copy is None:
        return place(np.asarray(a, dtype=_dtype(dtype)), target)
    return place(np.array(a, dtype=_dtype(dtype), copy=copy), target)


def array(a, dtype=None, copy=True, *, device=None):
    """Like :func:`asarray`, a copy by default: a traced value as a new array object (an
    in-place operator on it leaves ``a`` alone)."""
    if isinstance(a, Tracer):
        out = asarray(a, dtype, device=device)
        return out.new_array() if out is a and copy else out
    return asarray(a, dtype, device=device, copy=copy)


def zeros(shape, dtype=None, *, device=None):
    return _filled("zeros", shape, 0, _dtype(dtype) or "float64", device)


def ones(shape, dtype=None, *, device=None):
    return _filled("ones", shape, 1, _dtype(dtype) or "float64", device)


def empty(shape, dtype=None, *, device=None):
    """Zeros (uninitialised memory is never handed out)."""
    return _filled("empty", shape, 0, _dtype(dtype) or "float64", device)


def full(shape, fill_value, dtype=None, *, device=None):
    """An array of ``shape`` filled with ``fill_value`` (which may be a traced 0-d value)."""
    if isinstance(fill_value, Tracer):
        normalize("full", device)
        value = fill_value if dtype is None else astype(fill_value, dtype)
        value = value.strong() if value.weak else value
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        return value.new_array() if tuple(value.shape) == shape else value._ctx.emit(
            "broadcast_to", [value], {"shape": shape}, view=False)
    if dtype is None and isinstance(fill_value, (bool, int, float, complex)):
        dtype = {bool: "bool", int: "int64", float: "float64", complex: "complex128"}[type(fill_value)]
    if current_trace() is not None and np.ndim(fill_value) == 0:
        dtype = _dtype(dtype) or dt.canonical(np.asarray(fill_value).dtype)
        return _filled("full", shape, fill_value, dtype, device)
    return _made("full", device, lambda: np.full(shape, fill_value, dtype=_dtype(dtype)))


def _like(a, dtype, device, function):
    """(shape, dtype, device) of an array like ``a``: by default on ``a``'s device."""
    device = normalize(function, device, default="cpu" if isinstance(a, Tracer) else device_of(a))
    return a.shape, _dtype(a.dtype if dtype is None else dtype), device


def zeros_like(a, dtype=None, *, device=None):
    shape, dtype, device = _like(a, dtype, device, "zeros_like")
    return _filled("zeros_like", shape, 0, dtype, device)


def ones_like(a, dtype=None, *, device=None):
    shape, dtype, device = _like(a, dtype, device, "ones_like")
    return _filled("ones_like", shape, 1, dtype, device)


def empty_like(a, dtype=None, *, device=None):
    shape, dtype, device = _like(a, dtype, device, "empty_like")
    return _filled("empty_like", shape, 0, dtype, device)


def copy(a, order="K", subok=False):
    """``np.copy(a)``: a new array with ``a``'s values (a traced one inside a trace)."""
    if isinstance(a, Tracer):
        return a.new_array()
    if current_trace() is not None:
        return as_tracer(np.array(a), current_trace()).new_array()
    return np.array(a, copy=True)


def full_like(a, fill_value, dtype=None, *, device=None):
    shape, dtype, device = _like(a, dtype, device, "full_like")
    return full(shape, fill_value, dtype, device=device)


def arange(start, stop=None, step=1, dtype=None, *, device=None):
    return _made("arange", device, lambda: np.arange(start, stop, step, dtype=_dtype(dtype)))


def eye(N, M=None, k=0, dtype=None, *, device=None):  # noqa: N803 - NumPy's names
    return _made("eye", device, lambda: np.eye(N, M, k, dtype=_dtype(dtype) or "float64"))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """``num`` evenly spaced values from ``start`` to ``stop`` (included when ``endpoint``); with
    ``retstep``, the pair (values, step), as ``np.linspace``."""
    if isinstance(start, Tracer) or isinstance(stop, Tracer):
        raise DTypeError("linspace: start and stop must be Python numbers (the values are constants)")
    values, step = np.linspace(start, stop, num, endpoint=endpoint, retstep=True, dtype=_dtype(dtype), axis=axis)
    values = _made("linspace", device, lambda: values)
    return (values, step) if retstep else values


@numpy_function()
def meshgrid(*arrays, indexing="xy"):
    """Coordinate grids from 1-D ``arrays``: ``"xy"`` (Cartesian) or ``"ij"`` (matrix) indexing."""
    if indexing not in ("xy", "ij"):
        raise ShapeError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ts = as_tracers(list(arrays), op="meshgrid") if arrays else []
    for n, t in enumerate(ts):
        if t.ndim != 1:
            raise ShapeError(f"meshgrid: array {n} must be 1-D, got shape {t.shape}")
    shape = [t.shape[0] for t in ts]
    if indexing == "xy" and len(ts) > 1:
        shape[0], shape[1] = shape[1], shape[0]
    grids = []
    for n, t in enumerate(ts):
        axis = n if indexing == "ij" or len(ts) < 2 else {0: 1, 1: 0}.get(n, n)
        view = [1] * len(ts)
        view[axis] = t.shape[0]
        grids.append(broadcast_to(reshape(t, tuple(view)), tuple(shape)))
    return grids


def _triangle(name: str, x, k, lower: bool):
    t = as_tracer(x)
    if t.ndim < 2:
        raise ShapeError(f"{name}: needs at least 2 dimensions, got shape {t.shape}")
    rows, cols = t.shape[-2:]
    keep = np.tri(rows, cols, k, dtype=bool) if lower else ~np.tri(rows, cols, k - 1, dtype=bool)
    return where(keep, t, np.zeros((), t.dtype))


@numpy_function("x")
def tril(x, /, k=0):
    """``x`` with the elements above the ``k``-th diagonal of its last two axes zeroed."""
    return _triangle("tril", x, k, lower=True)


@numpy_function("x")
def triu(x, /, k=0):
    """``x`` with the elements below the ``k``-th diagonal of its last two axes zeroed."""
    return _triangle("triu", x, k, lower=False)


def from_dlpack(x, /, *, device=None, copy=None):
    """An array sharing ``x``'s memory through DLPack: a NumPy array for host memory, a CuPy
    array for GPU memory (``device=`` copies it to the device asked for)."""
    kind = dlpack_memory_kind(x)
    if kind is not None:
        out = nd.to_device(x, nd.device(kind, int(x.__dlpack_device__()[1])))  # (the same memory)
    else:
        out = np.from_dlpack(x) if copy is None else np.from_dlpack(x, copy=copy)
    return place(out, normalize("from_dlpack", device, default=device_of(out)))
