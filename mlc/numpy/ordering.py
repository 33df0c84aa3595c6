"""Orders beyond ``sort``: ``partition``, ``argpartition``, ``lexsort``, ``sort_complex``, and the NaN-ignoring
positions and order statistics ``nanargmax``, ``nanargmin``, ``nanmedian``, ``nanquantile``,
``nanpercentile``.

NumPy's ``partition`` guarantees only that the ``kth`` element is where a sort would put it,
with no greater one before it and no smaller one after: a full (stable) sort is such an
arrangement, and is what these return. ``lexsort`` is stable argsorts by each key in turn,
the last key last. The NaN-ignoring order statistics sort along the axis (NaNs last) and
gather at the positions the count of numbers in each slice gives (a traced position per
slice), NumPy's interpolation after; a slice of NaNs only gives NaN.

>>> import numpy as np, mlc
>>> mlc.numpy.nanmedian(np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]]), axis=1)
array([2., 2.])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from ._api import numpy_function
from .elementwise import ceil, floor, isnan, logical_not, maximum, minimum, rint, where
from .indexing import take_along_axis
from .nan_functions import nanmax, nanmin
from .kinds import raise_where
from .reductions import _no_out, all as _all, any as _any, argmax, argmin, sum as _sum
from .shapes import reshape, squeeze
from .sorting import argsort, sort
from .statistics import METHODS, _lerp, _to_front, median, percentile, quantile

__all__ = ["partition", "argpartition", "lexsort", "sort_complex", "nanargmax", "nanargmin", "nanmedian", "nanquantile",
           "nanpercentile"]


def _where() -> str:
    return describe_location(user_location())


def _kth(name: str, t, kth, axis):
    if isinstance(kth, Tracer):
        raise TraceError(f"np.{name}: kth must be a constant (a Python int or a list of them){_where()}")
    n = t.size if axis is None else t.shape[normalize_axis(f"np.{name}", axis, t.ndim)]
    for k in np.atleast_1d(np.asarray(kth)).tolist():
        if not isinstance(k, int) or not -n <= k < n:
            raise ShapeError(f"np.{name}: kth(={k}) out of bounds ({n}){_where()}")


def _sorted_along(name: str, by, a, kth, axis, order):
    """``by`` (sort or argsort) of ``a`` along ``axis`` (flattened for None), after checking
    ``kth``: a full sort partitions at every ``kth``."""
    t = as_tracer(a)
    _kth(name, t, kth, axis)
    return by(reshape(t, (-1,)) if axis is None else t, axis=-1 if axis is None else axis, order=order)


@numpy_function("a")
def partition(a, kth, axis=-1, kind="introselect", order=None):
    """``np.partition``: ``a`` sorted along ``axis`` (a sorted array is partitioned at every
    ``kth``)."""
    return _sorted_along("partition", sort, a, kth, axis, order)


@numpy_function("a")
def argpartition(a, kth, axis=-1, kind="introselect", order=None):
    """``np.argpartition``: the indices that sort ``a`` along ``axis`` (they partition it at every
    ``kth``)."""
    return _sorted_along("argpartition", argsort, a, kth, axis, order)


@numpy_function("keys")
def lexsort(keys, axis=-1):
    """``np.lexsort``: the indices that sort by the last key, ties by the one before it, and so
    on (stable argsorts by each key from the first)."""
    ts = [as_tracer(k) for k in keys] if isinstance(keys, (list, tuple)) else \
        [as_tracer(keys)[i] for i in range(as_tracer(keys).shape[0])]
    if not ts:
        raise TraceError(f"np.lexsort: need sequence of keys with len > 0{_where()}")
    shape = ts[0].shape
    if any(k.shape != shape for k in ts):
        raise ShapeError(f"np.lexsort: all keys need to be the same shape, got "
                         f"{[tuple(k.shape) for k in ts]}{_where()}")
    if len(shape) == 0:
        return as_tracer(np.int64(0), ts[0]._ctx)
    axis = normalize_axis("np.lexsort", axis, len(shape))
    order = argsort(ts[0], axis=axis)
    for key in ts[1:]:
        ranked = argsort(take_along_axis(key, order, axis=axis), axis=axis)
        order = take_along_axis(order, ranked, axis=axis)
    return order


@numpy_function("a")
def sort_complex(a):
    """``np.sort_complex``: ``a`` sorted along its last axis by real part, then imaginary part,
    as a complex array (complex64 for 8- and 16-bit integers, complex128 for other real types)."""
    t = as_tracer(a)
    kind = t.dtype if t.dtype.kind == "c" else np.dtype("complex64" if t.dtype.char in "bBhH" else "complex128")
    return sort(t.astype(kind) if t.dtype != kind else t, axis=-1)


def _nan_position(name: str, a, axis, keepdims, extreme):
    t = as_tracer(a)
    if t.dtype.kind == "c":
        raise TraceError(f"np.{name} of complex values is not supported inside @mlc.jit{_where()}")
    if t.dtype.kind != "f":  # no NaN
        return (argmax if name == "nanargmax" else argmin)(t, axis=axis, keepdims=keepdims)
    nan = isnan(t)
    raise_where(_any(_all(nan, axis=axis)), "ValueError", "All-NaN slice encountered")
    target = extreme(t, axis=axis, keepdims=True)
    hits = where(nan, False, t == target)
    return argmax(hits, axis=axis, keepdims=keepdims)


@numpy_function("a", "out")
def nanargmax(a, axis=None, out=None, *, keepdims=False):
    """``np.nanargmax``: the position of the first largest element that is not NaN (ValueError at
    the call when a slice holds NaNs only, as NumPy's)."""
    _no_out("nanargmax", out)
    return _nan_position("nanargmax", a, axis, keepdims, nanmax)


@numpy_function("a", "out")
def nanargmin(a, axis=None, out=None, *, keepdims=False):
    """``np.nanargmin``: the position of the first smallest element that is not NaN (ValueError at
    the call when a slice holds NaNs only)."""
    _no_out("nanargmin", out)
    return _nan_position("nanargmin", a, axis, keepdims, nanmin)


def _nan_order(name: str, a, axis):
    """(sorted slices along axis 0, the count of numbers of each, the result's shape without and
    with ``keepdims``)."""
    flat, rest, kept = _to_front(as_tracer(a), axis)
    if flat.shape[0] == 0:
        raise ShapeError(f"np.{name}: cannot take it of an empty axis{_where()}")
    count = _sum(logical_not(isnan(flat)), axis=0, dtype="int64")
    return sort(flat, axis=0), count, rest, kept


def _at(ordered, positions):
    """``ordered`` (sorted along axis 0) at the traced int ``positions`` of shape ``(m, *rest)``."""
    return take_along_axis(ordered, positions, axis=0)


def _nanquantile(name: str, a, q, axis, method: str, keepdims: bool, weak: bool):
    if method not in METHODS:
        raise TraceError(f"np.{name}(method={method!r}) is not supported inside @mlc.jit; use one of "
                         f"{', '.join(METHODS)}{_where()}")
    if not isinstance(q, (int, float, np.ndarray, np.generic, list, tuple)):
        raise TraceError(f"np.{name}: q must be a constant (a Python number, a list or a NumPy array){_where()}")
    qs = np.asarray(q, dtype=np.float64)
    if np.any((qs < 0) | (qs > 1)) or np.any(np.isnan(qs)):
        raise ShapeError(f"np.{name}: quantiles must be in the range [0, 1] (percentiles in [0, 100]){_where()}")
    ordered, count, rest, kept = _nan_order(name, a, axis)
    last = reshape(count - 1, (1, *rest))
    virtual = last * as_tracer(qs.reshape(-1, *(1,) * len(rest)), ordered._ctx)
    if method == "lower":
        virtual = floor(virtual)
    elif method == "higher":
        virtual = ceil(virtual)
    elif method == "nearest":
        virtual = rint(virtual)
    elif method == "midpoint":
        virtual = 0.5 * (floor(virtual) + ceil(virtual))
    top = maximum(last, 0)
    previous = minimum(maximum(floor(virtual).astype("int64"), 0), top)
    following = where(virtual >= last, top, minimum(previous + 1, top))
    lower = _at(ordered, previous)
    if method in ("lower", "higher", "nearest"):
        result = lower
    else:
        gamma = virtual - previous  # float64, as NumPy's, unless q is a Python number (weak)
        result = _lerp(lower, _at(ordered, following), gamma.astype(ordered.dtype) if weak else gamma)
    result = where(reshape(count, (1, *rest)) == 0, np.nan, result)
    result = reshape(result, qs.shape + rest)
    return reshape(result, qs.shape + kept) if keepdims else result


def _floats_without_weights(name: str, a, out, weights) -> bool:
    """Refuse ``out=`` and ``weights=`` of ``np.<name>``; whether ``a`` holds floats (only
    they can be NaN: other dtypes take the plain quantile)."""
    _no_out(name, out)
    if weights is not None:
        raise TraceError(f"np.{name}: weights= is not supported inside @mlc.jit{_where()}")
    return as_tracer(a).dtype.kind == "f"


@numpy_function("a", "out")
def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                weights=None):
    """``np.nanquantile``: :func:`quantile` of the elements that are not NaN, slice by slice."""
    if not _floats_without_weights("nanquantile", a, out, weights):
        return quantile(a, q, axis, method=method, keepdims=keepdims)
    return _nanquantile("nanquantile", a, q, axis, method, keepdims, weak=type(q) in (int, float))


@numpy_function("a", "out")
def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                  weights=None):
    """``np.nanpercentile``: :func:`nanquantile` of ``q / 100``."""
    if not _floats_without_weights("nanpercentile", a, out, weights):
        return percentile(a, q, axis, method=method, keepdims=keepdims)
    weak = type(q) in (int, float)
    fraction = np.true_divide(np.asarray(q, dtype=np.float64) if not weak else q, 100)
    return _nanquantile("nanpercentile", a, float(fraction) if weak else fraction, axis, method, keepdims, weak)


@numpy_function("a", "out")
def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """``np.nanmedian``: the mean of the one or two middle numbers of each slice, NaNs left out
    (NaN for a slice of NaNs only)."""
    _no_out("nanmedian", out)
    t = as_tracer(a)
    if t.dtype.kind != "f":
        return median(t, axis=axis, keepdims=keepdims)
    ordered, count, rest, kept = _nan_order("nanmedian", t, axis)
    low = reshape(maximum(count - 1, 0) // 2, (1, *rest))
    high = reshape(count // 2, (1, *rest))
    lo, hi = _at(ordered, low), _at(ordered, minimum(high, ordered.shape[0] - 1))
    result = squeeze((lo + hi) / 2, 0).astype(t.dtype)
    result = where(count == 0, np.nan, result)
    return reshape(result, kept) if keepdims else result
