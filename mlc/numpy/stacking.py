"""NumPy's stacking functions: ``atleast_1d/2d/3d``, ``hstack``, ``vstack``, ``dstack``,
``column_stack`` and ``block``, each a ``concatenate`` of reshaped operands.

>>> import numpy as np, mlc
>>> mlc.numpy.vstack([np.array([1, 2]), np.array([3, 4])])
array([[1, 2],
       [3, 4]])
"""
from __future__ import annotations

from ..errors import ShapeError
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ._api import numpy_function
from .shapes import concatenate, reshape

__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "dstack", "column_stack", "block"]


def _at_least(t, ndim: int):
    """``t`` with NumPy's ``atleast_{ndim}d`` shape: a 0-d array (1, ...), 1-D (1, n) or
    (1, n, 1), 2-D (m, n, 1)."""
    shape = tuple(t.shape)
    if len(shape) >= ndim:
        return t
    if ndim == 1:
        return reshape(t, (1,))
    if ndim == 2:
        return reshape(t, (1,) * (2 - len(shape)) + shape)
    new = {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[len(shape)]
    return reshape(t, new)


def _atleast(ndim: int):
    @numpy_function()
    def fn(*arys):
        out = [_at_least(as_tracer(a), ndim) for a in arys]
        return out[0] if len(out) == 1 else tuple(out)
    name = f"atleast_{ndim}d"
    fn.__mlc_impl__.__name__ = fn.__mlc_impl__.__qualname__ = fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = fn.__mlc_impl__.__doc__ = f"``np.{name}(*arys)``: each array with at least {ndim} dimensions."
    return fn


atleast_1d, atleast_2d, atleast_3d = _atleast(1), _atleast(2), _atleast(3)


def _arrays(name: str, tup) -> list:
    if not isinstance(tup, (list, tuple)) or not tup:
        raise ShapeError(f"np.{name}: takes a non-empty sequence of arrays, got {type(tup).__name__}"
                         f"{describe_location(user_location())}")
    return [as_tracer(a) for a in tup]


def _cast(ts: list, dtype):
    return ts if dtype is None else [t.astype(dtype) for t in ts]


@numpy_function("tup")
def hstack(tup, *, dtype=None, casting="same_kind"):
    """``np.hstack``: along the second axis (the first for 1-D arrays)."""
    ts = _cast([_at_least(t, 1) for t in _arrays("hstack", tup)], dtype)
    return concatenate(ts, axis=0 if ts[0].ndim == 1 else 1)


@numpy_function("tup")
def vstack(tup, *, dtype=None, casting="same_kind"):
    """``np.vstack``: along the first axis, 1-D arrays as rows."""
    return concatenate(_cast([_at_least(t, 2) for t in _arrays("vstack", tup)], dtype), axis=0)


@numpy_function("tup")
def dstack(tup):
    """``np.dstack``: along the third axis (``atleast_3d`` first)."""
    return concatenate([_at_least(t, 3) for t in _arrays("dstack", tup)], axis=2)


@numpy_function("tup")
def column_stack(tup):
    """``np.column_stack``: 1-D arrays as columns, 2-D ones as they are, along the second axis."""
    ts = [reshape(t, (t.shape[0], 1)) if t.ndim < 2 else t
          for t in (_at_least(t, 1) for t in _arrays("column_stack", tup))]
    return concatenate(ts, axis=1)


def _block_depth(arrays) -> int:
    """How deep the lists of ``np.block``'s argument nest (all leaves at one depth)."""
    if isinstance(arrays, tuple):
        raise ShapeError(f"np.block: takes nested lists, not tuples{describe_location(user_location())}")
    if not isinstance(arrays, list):
        return 0
    if not arrays:
        raise ShapeError(f"np.block: lists cannot be empty{describe_location(user_location())}")
    depths = {_block_depth(a) for a in arrays}
    if len(depths) != 1:
        raise ShapeError(f"np.block: list depths are mismatched{describe_location(user_location())}")
    return depths.pop() + 1


@numpy_function("arrays")
def block(arrays):
    """``np.block``: the innermost lists concatenate along the last axis, the next ones along the
    one before, and so on (each array first given at least as many dimensions as lists nest)."""
    depth = _block_depth(arrays)
    leaves = []

    def ndim_of(a):
        if isinstance(a, list):
            return max(ndim_of(x) for x in a)
        leaves.append(a)
        return as_tracer(a).ndim
    ndim = max(ndim_of(arrays), depth)

    def assemble(a, level: int):
        if not isinstance(a, list):
            t = as_tracer(a)
            return reshape(t, (1,) * (ndim - t.ndim) + tuple(t.shape)) if t.ndim < ndim else t
        parts = [assemble(x, level + 1) for x in a]
        return parts[0] if len(parts) == 1 else concatenate(parts, axis=ndim - depth + level)
    return assemble(arrays, 0)
