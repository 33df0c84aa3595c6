"""Order statistics and moments as NumPy computes them: ``median``, ``quantile``,
``percentile``, ``average``, ``ptp``, ``cov``, ``corrcoef``.

The order statistics sort along the axis (NaNs last, as NumPy's partition
puts them) and gather at positions known from the shape and the static
``q``; NumPy's interpolation formula follows (``_lerp``: from the lower
neighbour below a weight of 0.5, from the upper one above). A slice holding a
NaN gives NaN.

>>> import numpy as np, mlc
>>> mlc.numpy.median(np.array([3.0, 1.0, 2.0, 10.0]))
array(2.5)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError, TraceError
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ._api import numpy_function
from .elementwise import clip, isnan, sqrt, where
from .indexing import take
from .reductions import _no_out, max as _max, mean, min as _min, sum as _sum
from .shapes import broadcast_to, concatenate, moveaxis, reshape
from .sorting import sort

__all__ = ["median", "quantile", "percentile", "average", "ptp", "cov", "corrcoef"]

#: The interpolation methods supported, by NumPy's name.
METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _where() -> str:
    return describe_location(user_location())


def _to_front(t, axis):
    """(``t`` with the ``axis`` elements along its first axis, the shape of the rest, the
    keepdims shape): ``axis`` None flattens; a tuple of axes is merged into one."""
    if axis is None:
        return reshape(t, (-1,)), (), (1,) * t.ndim
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(sorted(normalize_axis("quantile", int(a), t.ndim) for a in axes))
    rest = tuple(n for i, n in enumerate(t.shape) if i not in axes)
    kept = tuple(1 if i in axes else n for i, n in enumerate(t.shape))
    moved = moveaxis(t, axes, tuple(range(len(axes))))
    return reshape(moved, (math.prod(t.shape[a] for a in axes),) + rest), rest, kept


def _nan_slices(ordered):
    """Where a slice of the sorted ``ordered`` (along axis 0) holds a NaN (it sorts last)."""
    return isnan(ordered[-1]) if ordered.dtype.kind in "fc" and ordered.shape[0] else None


def _lerp(a, b, t):
    """NumPy's ``_lerp``: ``a + (b - a) * t`` below t = 0.5, ``b - (b - a) * (1 - t)`` from there."""
    diff = b - a
    low, high = a + diff * t, b - diff * (1 - t)
    if isinstance(t, float):
        return high if t >= 0.5 else low
    return where(t >= 0.5, high, low).astype(low.dtype)


def _quantile(name: str, a, q, axis, method: str, keepdims: bool, weak: bool):
    t = as_tracer(a)
    if t.dtype.kind == "c":
        raise TraceError(f"np.{name}: a must be an array of real numbers{_where()}")
    if method not in METHODS:
        raise TraceError(f"np.{name}(method={method!r}) is not supported inside @mlc.jit; use one of "
                         f"{', '.join(METHODS)}{_where()}")
    if not isinstance(q, (int, float, np.ndarray, np.generic, list, tuple)):
        raise TraceError(f"np.{name}: q must be a constant (a Python number, a list or a NumPy array), not a "
                         f"traced value: the positions it picks are computed while tracing{_where()}")
    qs = np.asarray(q, dtype=np.float64)
    if np.any((qs < 0) | (qs > 1)) or np.any(np.isnan(qs)):
        raise ShapeError(f"np.{name}: quantiles must be in the range [0, 1] (percentiles in [0, 100]){_where()}")
    flat, rest, kept = _to_front(t, axis)
    n = flat.shape[0]
    if n == 0:
        raise ShapeError(f"np.{name}: cannot take a quantile of an empty axis{_where()}")
    ordered = sort(flat, axis=0)
    virtual = (n - 1) * qs
    if method == "lower":
        virtual = np.floor(virtual)
    elif method == "higher":
        virtual = np.ceil(virtual)
    elif method == "nearest":
        virtual = np.around(virtual)
    elif method == "midpoint":
        virtual = 0.5 * (np.floor(virtual) + np.ceil(virtual))
    previous = np.clip(np.floor(virtual), 0, n - 1).astype(np.int64)
    following = np.clip(previous + 1, 0, n - 1).astype(np.int64)
    following = np.where(virtual >= n - 1, n - 1, following)
    lower = take(ordered, previous.reshape(-1), axis=0)
    if method in ("lower", "higher", "nearest"):
        result = lower
    else:
        upper = take(ordered, following.reshape(-1), axis=0)
        gamma = virtual - previous
        gamma = float(gamma) if weak else gamma.reshape(-1, *(1,) * len(rest))
        result = _lerp(lower, upper, gamma)
    result = reshape(result, qs.shape + rest)
    nans = _nan_slices(ordered)
    if nans is not None:
        result = where(nans, np.nan, result)
    if keepdims:
        result = reshape(result, qs.shape + kept)
    return result


def _plain_quantile_call(name: str, out, weights, interpolation) -> None:
    """Refuse what ``np.<name>`` takes that mlc does not: ``out=``, ``weights=``, ``interpolation=``."""
    _no_out(name, out)
    if weights is not None or interpolation is not None:
        raise TraceError(f"np.{name}: weights= and interpolation= are not supported inside @mlc.jit; "
                         f"use method={_where()}")


@numpy_function("a", "out")
def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
             weights=None, interpolation=None):
    """``np.quantile(a, q, axis, method=..., keepdims=...)`` for a constant ``q`` (a number or an
    array: its shape leads the result's)."""
    _plain_quantile_call("quantile", out, weights, interpolation)
    return _quantile("quantile", a, q, axis, method, keepdims, weak=type(q) in (int, float))


@numpy_function("a", "out")
def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
               weights=None, interpolation=None):
    """``np.percentile``: :func:`quantile` of ``q / 100``."""
    _plain_quantile_call("percentile", out, weights, interpolation)
    weak = type(q) in (int, float)
    fraction = np.true_divide(np.asarray(q, dtype=np.float64) if not weak else q, 100)
    return _quantile("percentile", a, float(fraction) if weak else fraction, axis, method, keepdims, weak)


@numpy_function("a", "out")
def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``np.median``: the mean of the one or two middle elements of each sorted slice (NaN where
    a slice holds a NaN)."""
    _no_out("median", out)
    t = as_tracer(a)
    flat, rest, kept = _to_front(t, axis)
    n = flat.shape[0]
    if n == 0:
        raise ShapeError(f"np.median: cannot take the median of an empty axis{_where()}")
    ordered = sort(flat, axis=0)
    middle = ordered[(n - 1) // 2:n // 2 + 1]
    result = mean(middle, axis=0)
    nans = _nan_slices(ordered)
    if nans is not None:
        result = where(nans, np.nan, result)
    return reshape(result, kept) if keepdims else result


@numpy_function("a", "weights")
def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """``np.average``: the mean, or with ``weights`` ``sum(a * w) / sum(w)`` (``returned``: the
    pair with ``sum(w)``)."""
    t = as_tracer(a)
    if weights is None:
        avg = mean(t, axis=axis, keepdims=keepdims)
        if not returned:
            return avg
        count = avg.dtype.type(t.size / max(avg.size, 1))
        return avg, broadcast_to(as_tracer(count, t._ctx), avg.shape)
    w = as_tracer(weights)
    dtype = np.result_type(t.dtype, w.dtype, *((np.float64,) if t.dtype.kind in "biu" else ()))
    if w.shape != t.shape:
        if axis is None or w.ndim != 1:
            raise ShapeError(f"np.average: weights of shape {tuple(w.shape)} differ from a's "
                             f"{tuple(t.shape)}; 1-D weights need an axis{_where()}")
        view = [1] * t.ndim
        view[normalize_axis("average", axis, t.ndim)] = w.shape[0]
        w = reshape(w, tuple(view))
    w = w.astype(dtype)
    total = _sum(w, axis=axis, keepdims=keepdims)
    avg = _sum(t.astype(dtype) * w, axis=axis, keepdims=keepdims) / total
    if not returned:
        return avg
    return avg, (total if total.shape == avg.shape else broadcast_to(total, avg.shape))


@numpy_function("a", "out")
def ptp(a, axis=None, out=None, keepdims=False):
    """``np.ptp``: the maximum minus the minimum."""
    _no_out("ptp", out)
    return _max(a, axis=axis, keepdims=keepdims) - _min(a, axis=axis, keepdims=keepdims)


def _rows(name: str, m, dtype):
    t = as_tracer(m)
    if t.ndim > 2:
        raise ShapeError(f"np.{name}: m has more than 2 dimensions ({tuple(t.shape)}){_where()}")
    t = t.astype(dtype)
    return reshape(t, (1, -1)) if t.ndim < 2 else t


@numpy_function("m", "y", "fweights", "aweights")
def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None):
    """``np.cov``: the covariance of the variables in ``m``'s rows (columns when not ``rowvar``),
    ``y``'s after them; ``fweights`` (counts) and ``aweights`` weigh the observations."""
    mt = as_tracer(m)
    yt = None if y is None else as_tracer(y)
    if dtype is None:
        dtype = np.result_type(mt.dtype, *(() if yt is None else (yt.dtype,)), np.float64)
    x = _rows("cov", mt, dtype)
    if not rowvar and mt.ndim != 1:
        x = x.T
    if y is not None:
        yr = _rows("cov", yt, dtype)
        if not rowvar and yr.shape[0] != 1:
            yr = yr.T
        x = concatenate([x, yr], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = x.shape[1]
    w = None
    for weights in (fweights, aweights):
        if weights is not None:
            wt = as_tracer(weights).astype("float64")
            if wt.ndim != 1 or wt.shape[0] != n:
                raise ShapeError(f"np.cov: weights must be 1-D with one weight per observation ({n}), got "
                                 f"shape {tuple(wt.shape)}{_where()}")
            w = wt if w is None else w * wt
    if w is None:
        avg = mean(x, axis=1)
        fact = n - ddof
        scale = 1.0 / fact if fact > 0 else np.inf  # NumPy: 1 / 0.0 where fact <= 0
    else:
        w_sum = _sum(w)
        avg = _sum(x * w, axis=1) / w_sum
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * _sum(w * as_tracer(aweights).astype("float64")) / w_sum
        scale = 1.0 / where(fact <= 0, 0.0, fact)
    x = x - reshape(avg.astype(x.dtype), (-1, 1))
    xt = (x if w is None else (x * w).astype(x.dtype)).T
    c = x @ (xt.conj() if xt.dtype.kind == "c" else xt)
    c = (c * scale).astype(c.dtype)  # NumPy scales in place: c keeps its dtype
    return reshape(c, tuple(s for s in c.shape if s != 1))


@numpy_function("x", "y")
def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """``np.corrcoef``: the covariance scaled by the standard deviations, clipped to [-1, 1]."""
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    d = c.diagonal()
    stddev = sqrt(d.real if d.dtype.kind == "c" else d)
    c = c / reshape(stddev, (-1, 1))
    c = c / reshape(stddev, (1, -1))
    if c.dtype.kind == "c":
        return clip(c.real, -1, 1) + clip(c.imag, -1, 1) * c.dtype.type(1j)
    return clip(c, -1, 1)
