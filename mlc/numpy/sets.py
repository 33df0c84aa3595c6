"""The Array API's set functions: ``unique_values``, ``unique_counts``, ``unique_inverse``,
``unique_all``; and NumPy's ``isin``.

Their output length is the number of distinct values, known only from the
values, so they run eagerly only (TraceError inside ``@mlc.jit``, as for
``nonzero``). Every step is a compiled kernel: a stable sort of the
flattened array, a mask of where a new value starts (each NaN is its own
value, as the standard asks), the positions of those starts, and gathers:

>>> import numpy as np, mlc
>>> mlc.numpy.unique_counts(np.array([3, 1, 3, 3], "int32"))
UniqueCountsResult(values=array([1, 3], dtype=int32), counts=array([1, 3]))

``isin`` keeps its element's shape, so it traces: each element compared with every test
element (``O(size * tests)``), then ``any``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import TraceError
from ..tracer.operands import as_tracers
from ._api import numpy_function
from .creation import asarray
from .reductions import any as _any
from .cumulative import cumsum, diff
from .elementwise import not_equal, subtract
from .indexing import take
from .manipulation import concat
from .searching import _eager_only, _flat_positions
from .shapes import getitem, reshape
from .sorting import argsort

__all__ = ["unique_values", "unique_counts", "unique_inverse", "unique_all", "isin"]


class UniqueAllResult(NamedTuple):
    values: np.ndarray
    indices: np.ndarray
    inverse_indices: np.ndarray
    counts: np.ndarray


class UniqueCountsResult(NamedTuple):
    values: np.ndarray
    counts: np.ndarray


class UniqueInverseResult(NamedTuple):
    values: np.ndarray
    inverse_indices: np.ndarray


def _unique(name: str, x):
    """(values, first index of each, inverse indices in x's shape, counts), all from kernels."""
    _eager_only(name)
    x = asarray(x)
    flat = reshape(x, (-1,))
    n = flat.shape[0]
    if n == 0:
        empty = np.zeros(0, "int64")
        return flat, empty, reshape(empty, x.shape), empty
    order = argsort(flat)                                        # stable: ties keep their order
    ordered = take(flat, order)
    fresh = concat([np.ones(1, bool), not_equal(getitem(ordered, slice(1, None)),
                                                getitem(ordered, slice(None, -1)))])
    starts = _flat_positions(fresh)                              # where each value begins
    values = take(ordered, starts)
    first = take(order, starts)                                  # its first index in x
    counts = diff(concat([starts, np.array([n], "int64")]))
    group = subtract(cumsum(fresh, axis=0, dtype="int64"), 1)     # value number, in sorted order
    inverse = take(group, argsort(order))                        # back in x's order
    return values, first, reshape(inverse, x.shape), counts


def unique_values(x, /):
    """The distinct values of ``x``, sorted, 1-D; each NaN is distinct (eager only)."""
    return _unique("unique_values", x)[0]


def unique_counts(x, /):
    """The distinct values of ``x`` and how often each occurs (eager only)."""
    values, _, _, counts = _unique("unique_counts", x)
    return UniqueCountsResult(values, counts)


def unique_inverse(x, /):
    """The distinct values of ``x`` and, for each element of ``x``, the index of its value
    (shaped like ``x``; eager only)."""
    values, _, inverse, _ = _unique("unique_inverse", x)
    return UniqueInverseResult(values, inverse)


def unique_all(x, /):
    """Distinct values, the first index of each in ``x`` (flattened), inverse indices and counts
    (eager only)."""
    return UniqueAllResult(*_unique("unique_all", x))


@numpy_function("element", "test_elements")
def isin(element, test_elements, assume_unique=False, invert=False, *, kind=None):
    """``np.isin``: where each of ``element`` equals one of ``test_elements`` (flattened), shaped
    like ``element`` (``invert``: where none does)."""
    if kind not in (None, "sort", "table"):
        raise TraceError(f"np.isin: kind must be None, 'sort' or 'table', got {kind!r}")
    x, tests = as_tracers([element, test_elements], op="isin")
    flat = reshape(tests, (-1,))
    if flat.shape[0] == 0:
        hit = not_equal(x, x) & False
    else:
        hit = _any(reshape(x, tuple(x.shape) + (1,)) == flat, axis=-1)
    return ~hit if invert else hit
