"""NumPy's matrix builders: ``diag``, ``diagflat``, ``outer``, ``kron``, ``vander``, ``copy``.

Each places elements at positions known from the shapes alone, so it is a
``where`` over a constant mask, a broadcast product, or a gather:

>>> import numpy as np, mlc
>>> mlc.numpy.diag(np.array([1, 2]))
array([[1, 0],
       [0, 2]])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ._api import numpy_function
from .diagonals import diagonal
from .creation import ones_like
from .cumulative import cumprod
from .elementwise import multiply, where
from .indexing import take
from .shapes import concatenate, reshape

__all__ = ["diag", "diagflat", "outer", "kron", "vander", "copy"]


def _where() -> str:
    return describe_location(user_location())


def _on_diagonal(v, k: int):
    """The square matrix with the 1-D ``v`` on its ``k``-th diagonal, zeros elsewhere."""
    n = v.shape[0]
    size = n + abs(k)
    rows, cols = np.indices((size, size))
    source = np.where(k >= 0, rows, cols)  # the element of v each position takes
    mask = (cols - rows) == k
    gathered = take(v, np.clip(source, 0, max(n - 1, 0)).reshape(-1), axis=0) if n else v
    gathered = reshape(gathered, (size, size)) if n else reshape(v, (0, 0))
    return where(mask, gathered, np.zeros((), v.dtype)) if n else gathered


@numpy_function("v")
def diag(v, k=0):
    """``np.diag``: the ``k``-th diagonal of a 2-D array, or a 2-D array with the 1-D ``v`` on it."""
    t = as_tracer(v)
    if t.ndim == 1:
        return _on_diagonal(t, int(k))
    if t.ndim == 2:
        return diagonal(t, int(k))
    raise ShapeError(f"np.diag: input must be 1-d or 2-d, got shape {tuple(t.shape)}{_where()}")


@numpy_function("v")
def diagflat(v, k=0):
    """``np.diagflat``: the flattened ``v`` on the ``k``-th diagonal of a square array."""
    t = as_tracer(v)
    return _on_diagonal(reshape(t, (-1,)), int(k))


@numpy_function("a", "b", "out")
def outer(a, b, out=None):
    """``np.outer``: ``a.ravel()[:, None] * b.ravel()[None, :]``."""
    if out is not None:
        raise ShapeError(f"np.outer(out=...) cannot write into an array while tracing{_where()}")
    x, y = reshape(as_tracer(a), (-1, 1)), reshape(as_tracer(b), (1, -1))
    return multiply(x, y)


@numpy_function("a", "b")
def kron(a, b):
    """``np.kron``: the Kronecker product, ``a``'s and ``b``'s shapes padded with leading ones to
    the same length, each element of ``a`` scaling a block of ``b``."""
    x, y = as_tracer(a), as_tracer(b)
    ndim = max(x.ndim, y.ndim)
    sa = (1,) * (ndim - x.ndim) + tuple(x.shape)
    sb = (1,) * (ndim - y.ndim) + tuple(y.shape)
    xa = reshape(x, tuple(d for s in sa for d in (s, 1)))
    yb = reshape(y, tuple(d for s in sb for d in (1, s)))
    return reshape(multiply(xa, yb), tuple(p * q for p, q in zip(sa, sb)))


@numpy_function("x")
def vander(x, N=None, increasing=False):  # noqa: N803 - NumPy's name
    """``np.vander``: the powers of the 1-D ``x`` as columns (decreasing unless ``increasing``)."""
    t = as_tracer(x)
    if t.ndim != 1:
        raise ShapeError(f"np.vander: x must be a one-dimensional array, got shape {tuple(t.shape)}{_where()}")
    n = t.shape[0] if N is None else int(N)
    dtype = np.promote_types(t.dtype, int)  # as NumPy's: float32 gives float64
    column = reshape(t.astype(dtype), (-1, 1))
    if n == 0:
        return column[:, :0]
    columns = concatenate([ones_like(column)] + [column] * (n - 1), axis=1)
    powers = cumprod(columns, axis=1)  # NumPy multiplies up, as multiply.accumulate
    return powers if increasing else powers[:, ::-1]


@numpy_function("a")
def copy(a, order="K", subok=False):
    """``np.copy``: the same values as a new array (an in-place change to it leaves ``a`` alone)."""
    return as_tracer(a).new_array()
