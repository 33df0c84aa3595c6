"""One-dimensional signal functions: ``convolve``, ``correlate``, ``interp`` and ``unwrap``.

``correlate`` gathers the windows of the zero-padded signal with a constant
index matrix and multiplies them by the kernel (one ``take``, one
``matmul``); ``convolve`` is ``correlate`` with the kernel reversed.
``interp`` finds each point's interval with ``searchsorted``. ``unwrap`` adds the running
sum of the corrections of the jumps larger than ``discont``, as NumPy's does.

>>> import numpy as np, mlc
>>> mlc.numpy.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
array([0. , 1. , 2.5, 4. , 1.5])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..tracer.operands import as_tracer, as_tracers
from ..tracer.source import describe_location, user_location
from ._api import numpy_function
from ..ops.library import normalize_axis
from .cumulative import cumsum, diff
from .elementwise import absolute, clip, isnan, remainder, where
from .shapes import concatenate
from .indexing import take
from .shapes import pad, reshape
from .sorting import searchsorted

__all__ = ["correlate", "convolve", "interp", "unwrap"]


def _where() -> str:
    return describe_location(user_location())


def _full_correlation(a, v):
    """``c[i] = sum_j a_padded[i + j] * conj(v[j])`` for the ``N + M - 1`` shifts."""
    n, m = a.shape[0], v.shape[0]
    padded = pad(a, ((m - 1, m - 1),))
    length = n + m - 1
    windows = np.arange(length)[:, None] + np.arange(m)[None, :]
    gathered = reshape(take(padded, windows.reshape(-1), axis=0), (length, m))
    kernel = v.conj() if v.dtype.kind == "c" else v
    return gathered @ kernel


def _mode_slice(full, n: int, m: int, mode: str, name: str):
    if mode == "full":
        return full
    if mode == "same":
        start = (m - 1) // 2 if n >= m else n // 2
        return full[start:start + max(n, m)]
    if mode == "valid":
        start = min(n, m) - 1
        return full[start:start + max(n, m) - min(n, m) + 1]
    raise ShapeError(f"np.{name}: mode must be 'valid', 'same' or 'full', got {mode!r}{_where()}")


def _vectors(name: str, a, v):
    x, y = as_tracers([a, v], op=name)
    if x.ndim != 1 or y.ndim != 1:
        raise ShapeError(f"np.{name}: needs two 1-D arrays, got shapes {tuple(x.shape)} and {tuple(y.shape)}{_where()}")
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ShapeError(f"np.{name}: {'a' if x.shape[0] == 0 else 'v'} cannot be empty{_where()}")
    return x, y


@numpy_function("a", "v")
def correlate(a, v, mode="valid"):
    """``np.correlate``: ``c[k] = sum_n a[n + k] * conj(v[n])`` over the shifts ``mode`` keeps."""
    x, y = _vectors("correlate", a, v)
    return _mode_slice(_full_correlation(x, y), x.shape[0], y.shape[0], mode, "correlate")


@numpy_function("a", "v")
def convolve(a, v, mode="full"):
    """``np.convolve``: the discrete linear convolution (``correlate`` with ``v`` reversed)."""
    x, y = _vectors("convolve", a, v)
    if y.shape[0] > x.shape[0]:
        x, y = y, x
    kernel = y[::-1]
    full = _full_correlation(x, kernel.conj() if kernel.dtype.kind == "c" else kernel)
    return _mode_slice(full, x.shape[0], y.shape[0], mode, "convolve")


@numpy_function("x", "xp", "fp", "left", "right")
def interp(x, xp, fp, left=None, right=None, period=None):
    """``np.interp``: the piecewise-linear interpolant through (``xp``, ``fp``) at ``x``
    (``xp`` increasing); ``left``/``right`` (``fp[0]``/``fp[-1]`` by default) outside."""
    if period is not None:
        raise TraceError(f"np.interp(period=...) is not supported inside @mlc.jit; wrap x into one period "
                         f"(np.mod) and extend xp and fp by one point at each end{_where()}")
    points = as_tracer(x)
    xs = reshape(points if points.dtype == np.float64 else points.astype("float64"), (-1,))
    knots = as_tracer(xp).astype("float64")
    values = as_tracer(fp)
    if values.dtype.kind == "c":
        raise TraceError(f"np.interp of complex fp is not supported inside @mlc.jit; interpolate the real "
                         f"and imaginary parts apart{_where()}")
    values = values.astype("float64")
    if knots.ndim != 1 or values.ndim != 1 or knots.shape[0] != values.shape[0] or not knots.shape[0]:
        raise ShapeError(f"np.interp: xp and fp must be 1-D sequences of the same, nonzero length, got "
                         f"{tuple(knots.shape)} and {tuple(values.shape)}{_where()}")
    n = knots.shape[0]
    low = values[0] if left is None else as_tracer(left).astype("float64")
    high = values[-1] if right is None else as_tracer(right).astype("float64")
    if n == 1:
        return reshape(where(xs < knots[0], low, where(xs > knots[0], high, values[0])), points.shape)
    j = clip(searchsorted(knots, xs, side="right") - 1, 0, n - 2)
    x0, x1 = take(knots, j), take(knots, j + 1)
    y0, y1 = take(values, j), take(values, j + 1)
    slope = (y1 - y0) / (x1 - x0)
    inside = slope * (xs - x0) + y0
    again = slope * (xs - x1) + y1  # NumPy's second try where the first is NaN
    inside = where(isnan(inside), where(isnan(again) & (y0 == y1), y0, again), inside)
    inside = where(xs == x0, y0, inside)
    out = where(xs == knots[-1], values[-1], inside)
    return reshape(where(xs < knots[0], low, where(xs > knots[-1], high, out)), points.shape)


@numpy_function("p")
def unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    """``np.unwrap``: each jump along ``axis`` larger than ``discont`` (``period / 2`` by default)
    replaced by its equivalent modulo ``period``, the corrections summed along the axis."""
    t = as_tracer(p)
    axis = normalize_axis("np.unwrap", axis, t.ndim)
    if t.dtype.kind not in "fiu" or (t.dtype.kind in "iu" and isinstance(period, (int, np.integer))):
        raise TraceError(f"np.unwrap of {t.dtype} with period {period!r} is not supported inside @mlc.jit; "
                         f"pass float phases (or a float period){_where()}")
    if t.shape[axis] < 2:
        return t.astype(np.result_type(t.dtype, period))
    dd = diff(t, axis=axis)
    discont = period / 2 if discont is None else discont
    high = period / 2
    ddmod = remainder(dd + high, period) - high
    ddmod = where((ddmod == -high) & (dd > 0), high, ddmod)
    correction = where(absolute(dd) < discont, 0, ddmod - dd)
    key = [slice(None)] * t.ndim
    key[axis] = slice(0, 1)
    first = t[tuple(key)]
    key[axis] = slice(1, None)
    rest = t[tuple(key)] + cumsum(correction, axis=axis)
    return concatenate([first.astype(rest.dtype), rest], axis=axis)
