"""Array creation: constants of a traced program.

Creating an array computes nothing, so these build NumPy arrays (constants
when used in a trace); ``*_like`` functions read only the shape and dtype of
a traced value. ``asarray`` of a traced value is the value itself.

>>> import mlc
>>> mlc.numpy.zeros((2,), "int32")
array([0, 0], dtype=int32)
"""
from __future__ import annotations

import numpy as np

from ..ir import dtype as dt
from ..tracer.tracer import Tracer
from .elementwise import astype
from .shapes import broadcast_to

__all__ = ["asarray", "array", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like",
           "empty", "empty_like", "arange", "eye"]


def asarray(a, dtype=None):
    """``a`` as an array: a traced value stays traced (cast to ``dtype`` if given)."""
    if isinstance(a, Tracer):
        return a if dtype is None else astype(a, dtype)
    return np.asarray(a, dtype=dtype)


def array(a, dtype=None, copy=True):
    """Like :func:`asarray` (traced values are immutable, so no copy is needed)."""
    if isinstance(a, Tracer):
        return asarray(a, dtype)
    return np.array(a, dtype=dtype, copy=copy)


def zeros(shape, dtype=float):
    return np.zeros(shape, dtype=dt.canonical(dtype))


def ones(shape, dtype=float):
    return np.ones(shape, dtype=dt.canonical(dtype))


empty = zeros


def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value`` (which may be a traced 0-d value)."""
    if isinstance(fill_value, Tracer):
        value = fill_value if dtype is None else astype(fill_value, dtype)
        return broadcast_to(value, tuple(shape) if isinstance(shape, (tuple, list)) else (shape,))
    return np.full(shape, fill_value, dtype=None if dtype is None else dt.canonical(dtype))


def _like(a, dtype):
    return a.shape, dt.canonical(a.dtype if dtype is None else dtype)


def zeros_like(a, dtype=None):
    return np.zeros(*_like(a, dtype))


def ones_like(a, dtype=None):
    return np.ones(*_like(a, dtype))


empty_like = zeros_like


def full_like(a, fill_value, dtype=None):
    shape, dtype = _like(a, dtype)
    return full(shape, fill_value, dtype)


def arange(start, stop=None, step=1, dtype=None):
    return np.arange(start, stop, step, dtype=None if dtype is None else dt.canonical(dtype))


def eye(N, M=None, k=0, dtype=float):  # noqa: N803 - NumPy's names
    return np.eye(N, M, k, dtype=dt.canonical(dtype))
