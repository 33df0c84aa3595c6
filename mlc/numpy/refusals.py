"""NumPy functions refused inside ``@mlc.jit`` by design, each with why and what to write
instead (:data:`REFUSED`, by NumPy name; ``tools/numpy_coverage.py`` lists them too).

Most return an array whose shape depends on the values (``nonzero``,
``unique``, a boolean mask's elements): a compiled function's shapes are
fixed when it is traced. What to write keeps the shape: ``np.where(mask, x,
0).sum()`` sums the elements ``x[mask].sum()`` would. A boolean mask that is
a constant (a NumPy array, not traced) has a known count, and
``np.compress``/``np.extract`` with one do trace.

>>> import numpy as np, mlc
>>> try:
...     mlc.jit(lambda x: np.unique(x))(np.ones(2))
... except mlc.TraceError as err:
...     print(str(err).splitlines()[0][:59])
np.unique cannot be traced inside @mlc.jit: its result's sh
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from ._api import numpy_function
from .indexing import take
from .shapes import MASK_INSTEAD, reshape

__all__ = ["REFUSED", "compress", "extract"]

_SHAPE = "its result's shape depends on the values, which a compiled function does not know when it is traced"


_POSITIONS = (f"{_SHAPE}; compute with the mask itself (np.where(mask, x, y), np.count_nonzero(mask), "
              f"np.where(mask, x, 0).sum()), or call it outside @mlc.jit")

#: NumPy name -> why it is refused inside ``@mlc.jit`` and what to write instead.
REFUSED = {
    "nonzero": _POSITIONS,
    "argwhere": _POSITIONS,
    "flatnonzero": _POSITIONS,
    "trim_zeros": f"{_SHAPE}; mask the zeros with np.where instead, or call it outside @mlc.jit",
    "unique": (f"{_SHAPE} (the number of distinct values); sort (np.sort) and compare neighbours "
               "(s[1:] != s[:-1]) for a static-shape mask of the first occurrences, or call it outside "
               "@mlc.jit"),
    "unique_all": f"{_SHAPE} (the number of distinct values); call it outside @mlc.jit",
    "unique_counts": f"{_SHAPE} (the number of distinct values); call it outside @mlc.jit",
    "unique_inverse": f"{_SHAPE} (the number of distinct values); call it outside @mlc.jit",
    "unique_values": f"{_SHAPE} (the number of distinct values); call it outside @mlc.jit",
    "setdiff1d": f"{_SHAPE}; test membership with a static shape instead (np.isin-style comparisons "
                 "(a[:, None] == b).any(1))",
    "intersect1d": f"{_SHAPE}; compare with a static shape instead ((a[:, None] == b).any(1))",
    "union1d": f"{_SHAPE}; call it outside @mlc.jit",
    "setxor1d": f"{_SHAPE}; call it outside @mlc.jit",
    "loadtxt": "reads a file: call it outside @mlc.jit and pass the array in",
    "genfromtxt": "reads a file: call it outside @mlc.jit and pass the array in",
    "load": "reads a file: call it outside @mlc.jit and pass the array in",
    "fromfile": "reads a file: call it outside @mlc.jit and pass the array in",
    "save": "writes a file: return the array and save it outside @mlc.jit",
    "savez": "writes a file: return the arrays and save them outside @mlc.jit",
    "savetxt": "writes a file: return the array and save it outside @mlc.jit",
    "array2string": "formats the values, which are not known while tracing: return the array and print it outside",
    "array_repr": "formats the values, which are not known while tracing: return the array and print it outside",
    "array_str": "formats the values, which are not known while tracing: return the array and print it outside",
    "fromregex": "reads a file: call it outside @mlc.jit and pass the array in",
    "savez_compressed": "writes a file: return the arrays and save them outside @mlc.jit",
    "roots": (f"{_SHAPE} (leading and trailing zero coefficients are dropped), and the roots are the eigenvalues "
              "of a general (companion) matrix, which have no kernel here; call it outside @mlc.jit"),
    "polydiv": (f"{_SHAPE} (the remainder's leading zeros are dropped); call it outside @mlc.jit, or divide "
                "by a constant divisor with np.convolve-style updates of a fixed length"),
    "isnat": ("a traced array is never of a datetime64 or timedelta64 dtype (mlc has none), and NumPy's "
              "isnat refuses other dtypes; test NaN with np.isnan"),
    "shares_memory": "traced arrays have no memory while tracing; ask outside @mlc.jit",
    "may_share_memory": "traced arrays have no memory while tracing; ask outside @mlc.jit",
}


def _mask_error(name: str) -> TraceError:
    return TraceError(f"np.{name} with a traced condition cannot be traced inside @mlc.jit: {_SHAPE}; "
                      f"{MASK_INSTEAD}{describe_location(user_location())}")


@numpy_function("a")
def compress(condition, a, axis=None, out=None):
    """``np.compress`` with a constant ``condition`` (its count is known): a gather of the
    positions where it holds; a traced one is refused (its count depends on the values)."""
    if isinstance(condition, Tracer):
        raise _mask_error("compress")
    t = as_tracer(a)
    keep = np.flatnonzero(np.asarray(condition, dtype=bool))
    if axis is None:
        return take(reshape(t, (-1,)), keep, axis=0)
    return take(t, keep, axis=axis)


@numpy_function("arr")
def extract(condition, arr):
    """``np.extract`` with a constant ``condition``: the elements of the flattened ``arr`` where it
    holds; a traced one is refused."""
    if isinstance(condition, Tracer):
        raise _mask_error("extract")
    keep = np.flatnonzero(np.asarray(condition, dtype=bool))
    return take(reshape(as_tracer(arr), (-1,)), keep, axis=0)
