"""Counting into bins of a length known while tracing: ``histogram`` (an int number of bins or
an array of edges), ``histogram_bin_edges``, ``histogramdd`` and ``histogram2d`` (each
dimension's bins so), ``bincount`` (a static ``minlength``) and ``digitize``.

Each element's bin is computed elementwise (NumPy's formula for equal bins,
comparisons with the edges otherwise); the counts are a compiled loop adding
each element into its bin, or for a few bins (:data:`ONE_HOT_BINS`) a sum over
a one-hot comparison with the bin numbers (``O(size * bins)`` vector work). ``np.bincount``'s length is ``max(x) + 1``, known only from the
values: inside ``@mlc.jit`` it is ``minlength``, and the compiled function
checks at every call that each value is below it (ShapeError otherwise).

>>> import numpy as np, mlc
>>> f = mlc.jit(lambda x: np.bincount(x, minlength=4))
>>> f(np.array([0, 1, 1, 3]))
array([1, 2, 0, 1])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ..tracer.trace import BELOW, is_tracing
from ..tracer.tracer import Tracer
from ._api import numpy_function
from ..tracer.control_flow import fori_loop
from .creation import arange, zeros
from .elementwise import clip, where
from .indexing import unchecked_take as take  # (indices clipped into the edges)
from .reductions import max as _max, min as _min, sum as _sum
from .shapes import concatenate, reshape
from .sorting import searchsorted

__all__ = ["histogram", "histogram_bin_edges", "histogramdd", "histogram2d", "bincount", "digitize"]


def _where() -> str:
    return describe_location(user_location())


#: above this many bins a count is a compiled loop of scattered adds, below it a sum over a
#: one-hot comparison (vector work of size * bins, no loop-carried dependence)
ONE_HOT_BINS = 16


def _one_hot_sum(bins, n: int, keep=None, weights=None, dtype="int64"):
    """``out[k]`` = the number (the sum of ``weights``) of elements of the 1-D int ``bins`` equal
    to ``k`` (and ``keep``), for k < n."""
    if n > ONE_HOT_BINS:
        return _scattered_sum(bins, n, keep, weights, dtype)
    hit = reshape(bins, (-1, 1)) == reshape(arange(n, dtype=bins.dtype), (1, -1))
    if keep is not None:
        hit = hit & reshape(keep, (-1, 1))
    if weights is None:
        return _sum(hit, axis=0, dtype=dtype)
    w = reshape(weights, (-1, 1))
    return _sum(where(hit, w, w.dtype.type(0)), axis=0, dtype=dtype)


def _scattered_sum(bins, n: int, keep, weights, dtype: str):
    """:func:`_one_hot_sum` as a loop adding each element into its bin (elements not kept go
    to a bin past the last, dropped at the end)."""
    index = bins.astype("int64") if keep is None else where(keep, bins.astype("int64"), n)
    ones = weights is None
    values = weights.astype(dtype) if not ones else None

    def add(i, counts):  # (the bin is in range by construction: clipped, no check inside the loop)
        return counts.at[clip(index[i], 0, n)].add(1 if ones else values[i])

    counts = fori_loop(0, index.shape[0], add, zeros(n + 1, dtype))
    return counts[:n]


def _edges_and_type(t, bins, range):  # noqa: A002 - NumPy's name
    """(``bin_edges`` (a Tracer or constant), the number of equal bins or None, first, last)."""
    if isinstance(bins, str):
        raise TraceError(f"np.histogram(bins={bins!r}): the number of bins of an estimator depends on the "
                         f"values; give an int or the edges{_where()}")
    if not isinstance(bins, (int, np.integer)):
        edges = as_tracer(bins)
        if edges.ndim != 1 or edges.shape[0] < 2:
            raise ShapeError(f"np.histogram: bins must be an int or a 1-D array of at least 2 edges{_where()}")
        return edges, None, None, None
    n = int(bins)
    if n < 1:
        raise ShapeError(f"np.histogram: `bins` must be positive, when an integer{_where()}")
    if range is not None:
        first, last = (float(v) for v in range)
        if first > last:
            raise ShapeError(f"np.histogram: max must be larger than min in range parameter{_where()}")
        if not (np.isfinite(first) and np.isfinite(last)):
            raise ShapeError(f"np.histogram: supplied range of [{first}, {last}] is not finite{_where()}")
        if first == last:
            first, last = first - 0.5, last + 0.5
        kind = np.result_type(first, last, t.dtype)
        kind = np.result_type(kind, float) if kind.kind in "biu" else kind
        return as_tracer(np.linspace(first, last, n + 1, endpoint=True, dtype=kind), t._ctx), n, first, last
    kind = np.result_type(t.dtype, float) if t.dtype.kind in "biu" else t.dtype
    if t.size == 0:
        return as_tracer(np.linspace(0, 1, n + 1, dtype=kind), t._ctx), n, 0, 1
    first, last = _min(t), _max(t)
    same = first == last
    first = where(same, first.astype(kind) - 0.5, first.astype(kind))
    last = where(same, last.astype(kind) + 0.5, last.astype(kind))
    step = (last - first) / kind.type(n)  # np.linspace in the edges' dtype
    edges = arange(n + 1, dtype=kind) * step + first
    edges = concatenate([edges[:n], reshape(last, (1,))]) if n else edges
    return edges, n, first, last


def _bin_numbers(t, edges, n, first, last):
    """(each element's bin in [0, n), whether it falls in the range) with NumPy's arithmetic."""
    keep = (t >= first) & (t <= last)
    x = t.astype(edges.dtype)
    scaled = (x - first) / (last - first) * n
    index = clip(scaled.astype("int64"), 0, n - 1)
    index = where(x < take(edges, index, 0), index - 1, index)
    index = where((x >= take(edges, clip(index + 1, 0, n), 0)) & (index != n - 1), index + 1, index)
    return clip(index, 0, n - 1), keep


@numpy_function("a", "bins", "weights")
def histogram(a, bins=10, range=None, density=None, weights=None):  # noqa: A002 - NumPy's name
    """``np.histogram``: (counts, edges) for ``bins`` equal bins over ``range`` (the data's
    minimum and maximum when None) or between the edges ``bins``; the last bin includes its
    right edge. ``weights`` sum instead of counting; ``density`` divides by the total and the
    bin widths."""
    t = reshape(as_tracer(a), (-1,))
    w = None if weights is None else reshape(as_tracer(weights), (-1,))
    if w is not None and w.shape != t.shape:
        raise ShapeError(f"np.histogram: weights should have the same shape as a{_where()}")
    edges, n, first, last = _edges_and_type(t, bins, range)
    dtype = "int64" if w is None else w.dtype.name
    if n is not None:
        index, keep = _bin_numbers(t, edges, n, first, last)
        counts = _one_hot_sum(index, n, keep, w, dtype)
    else:
        x = reshape(t, (-1, 1))
        lo, hi = reshape(edges[:-1], (1, -1)), reshape(edges[1:], (1, -1))
        last_bin = np.arange(edges.shape[0] - 1) == edges.shape[0] - 2
        hit = (x >= lo) & ((x < hi) | (last_bin & (x <= hi)))
        counts = _sum(hit if w is None else where(hit, reshape(w, (-1, 1)), w.dtype.type(0)), axis=0, dtype=dtype)
    if density:
        widths = (edges[1:] - edges[:-1]).astype("float64")
        counts = counts / widths / _sum(counts)
    return counts, edges


@numpy_function("a", "bins", "weights")
def histogram_bin_edges(a, bins=10, range=None, weights=None):  # noqa: A002 - NumPy's name
    """``np.histogram_bin_edges``: the edges :func:`histogram` would use."""
    return _edges_and_type(reshape(as_tracer(a), (-1,)), bins, range)[0]


def _dimensions(sample) -> list:
    """The coordinates of ``histogramdd``'s sample, one 1-D array per dimension."""
    if isinstance(sample, (list, tuple)):
        return [reshape(as_tracer(s), (-1,)) for s in sample]
    t = as_tracer(sample)
    if t.ndim == 1:
        return [t]
    if t.ndim != 2:
        raise ShapeError(f"np.histogramdd: sample must be (N, D) or a sequence of D arrays, got shape "
                         f"{tuple(t.shape)}{_where()}")
    return [t[:, d] for d in range(t.shape[1])]


@numpy_function("sample", "bins", "weights")
def histogramdd(sample, bins=10, range=None, density=None, weights=None):  # noqa: A002 - NumPy's name
    """``np.histogramdd``: (the float counts of a D-dimensional grid of bins, the D arrays of
    edges); each dimension's ``bins`` is an int (equal bins over its ``range``, or the data's
    extent) or its edges, and a value on a dimension's last edge counts in its last bin."""
    coords = _dimensions(sample)
    dims = len(coords)
    per_dim = list(bins) if isinstance(bins, (list, tuple)) else [bins] * dims
    if len(per_dim) != dims:
        raise ShapeError(f"np.histogramdd: the dimension of bins ({len(per_dim)}) must equal the dimension "
                         f"of the sample ({dims}){_where()}")
    ranges = [None] * dims if range is None else list(range)
    w = None if weights is None else reshape(as_tracer(weights), (-1,)).astype("float64")
    flat, keep, sizes, all_edges = None, None, [], []
    for x, b, r in zip(coords, per_dim, ranges):
        if x.shape != coords[0].shape:
            raise ShapeError(f"np.histogramdd: every dimension needs the same number of values{_where()}")
        if r is not None and isinstance(b, (int, np.integer)):  # np.linspace of the range: float64
            first, last = _edges_and_type(as_tracer(np.zeros(0), x._ctx), b, r)[2:]
            edges = as_tracer(np.linspace(first, last, int(b) + 1), x._ctx)
        else:
            edges = _edges_and_type(x, b, r)[0]
        n = edges.shape[0] - 1
        position = searchsorted(edges, x, side="right")
        position = where(x == edges[-1], position - 1, position)  # the last edge closes the last bin
        inside = (position >= 1) & (position <= n)
        index = clip(position - 1, 0, n - 1)
        flat = index if flat is None else flat * n + index
        keep = inside if keep is None else keep & inside
        sizes.append(n)
        all_edges.append(edges)
    total = int(np.prod(sizes))
    counts = _one_hot_sum(flat, total, keep, w, "float64")
    hist = reshape(counts, tuple(sizes))
    if density:
        whole = _sum(hist)
        for d, edges in enumerate(all_edges):
            shape = [1] * dims
            shape[d] = sizes[d]
            hist = hist / reshape((edges[1:] - edges[:-1]).astype("float64"), tuple(shape))
        hist = hist / whole
    return hist, all_edges


@numpy_function("x", "y", "bins", "weights")
def histogram2d(x, y, bins=10, range=None, density=None, weights=None):  # noqa: A002 - NumPy's name
    """``np.histogram2d``: :func:`histogramdd` of the points ``(x, y)``, as (counts, x edges,
    y edges)."""
    if not isinstance(bins, (int, np.integer)) and len(bins) not in (1, 2):
        bins = [bins, bins]  # one array of edges for both
    hist, edges = histogramdd([x, y], bins, range, density, weights)
    return hist, edges[0], edges[1]


@numpy_function("x", "weights")
def bincount(x, weights=None, minlength=0):
    """``np.bincount``: how many times each of 0, 1, ... occurs in the 1-D non-negative int ``x``
    (the sum of ``weights`` there). Traced, the length is ``minlength`` (a Python int), and each
    call checks that every value is below it; where ``x`` is known while tracing (a NumPy array,
    the weights traced) the length is NumPy's, ``max(x) + 1`` or ``minlength``."""
    known = None if isinstance(x, Tracer) else np.asarray(x)
    fits = (known is not None and known.ndim == 1 and known.dtype.kind in "biu"
            and (not known.size or known.min() >= 0))
    if fits:
        minlength = max(int(minlength), int(known.max()) + 1 if known.size else 0)
        if minlength == 0:  # (empty, as NumPy's)
            return zeros((0,), "int64" if weights is None else "float64")
    t = as_tracer(x)
    if t.ndim != 1:
        raise ShapeError(f"np.bincount: x must be 1-D, got shape {tuple(t.shape)}{_where()}")
    if t.dtype.kind not in "biu":
        raise TraceError(f"np.bincount: x must hold integers, got {t.dtype}{_where()}")
    if not isinstance(minlength, (int, np.integer)) or minlength < 1:
        raise TraceError(f"np.bincount's length is max(x) + 1, known only from the values, so inside "
                         f"@mlc.jit it is minlength: pass minlength=n with every value below n (got "
                         f"minlength={minlength!r}); the compiled function checks that at every call{_where()}")
    n = int(minlength)
    if t.shape[0] and is_tracing() and not fits:  # (known values below the length need no check)
        low, high = _min(t).astype("int64"), _max(t).astype("int64")
        t._ctx.check_range(where(low < 0, low, high), BELOW, f"np.bincount(minlength={n})", n)
    w = None if weights is None else as_tracer(weights).astype("float64")
    if w is not None and w.shape != t.shape:
        raise ShapeError(f"np.bincount: weights of shape {tuple(w.shape)} differ from x's {tuple(t.shape)}{_where()}")
    return _one_hot_sum(t.astype("int64"), n, weights=w, dtype="int64" if w is None else "float64")


@numpy_function("x", "bins")
def digitize(x, bins, right=False):
    """``np.digitize``: the index of the bin of ``bins`` (increasing edges) each ``x`` falls in."""
    edges = as_tracer(bins)
    if edges.ndim != 1:
        raise ShapeError(f"np.digitize: bins must be 1-D, got shape {tuple(edges.shape)}{_where()}")
    return searchsorted(edges, x, side="left" if right else "right")
