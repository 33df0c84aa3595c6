"""The Array API's manipulation functions, built from the registry's shape ops.

Each is a composition of ``reshape``, ``broadcast_to``, ``slice``,
``concatenate`` and ``transpose`` records, so it traces inside ``@mlc.jit``
and compiles (one kernel after fusion) when called eagerly:

>>> import numpy as np, mlc
>>> mlc.numpy.tile(np.array([1, 2], "int32"), (2, 2))
array([[1, 2, 1, 2],
       [1, 2, 1, 2]], dtype=int32)
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ops.library import broadcast_shapes, normalize_axis
from ..tracer.operands import as_tracer, as_tracers
from ._api import emit, hashable, numpy_function
from .searching import repeat_counts
from .shapes import broadcast_to, concatenate, getitem, reshape

__all__ = ["concat", "permute_dims", "matrix_transpose", "broadcast_arrays", "unstack", "tile",
           "repeat", "roll"]


@numpy_function("arrays", "out")
def concat(arrays, /, axis=0, out=None):
    """The Array API's ``concat``: ``np.concatenate(arrays, axis)``; ``axis=None`` flattens first."""
    return concatenate(arrays, axis=axis, out=out)


@numpy_function("x")
def permute_dims(x, /, axes):
    """``x`` with its axes in the order ``axes`` (``np.transpose(x, axes)``)."""
    t = as_tracer(x)
    axes = hashable(axes)
    if sorted(a % t.ndim if t.ndim else a for a in axes) != list(range(t.ndim)):
        raise ShapeError(f"permute_dims: axes {axes} is not a permutation of the {t.ndim} axes")
    return t if axes == tuple(range(t.ndim)) else emit("transpose", [t], axes=axes)


@numpy_function("x")
def matrix_transpose(x, /):
    """The last two axes of ``x`` swapped (a stack of matrices, each transposed)."""
    t = as_tracer(x)
    if t.ndim < 2:
        raise ShapeError(f"matrix_transpose: needs at least 2 dimensions, got shape {t.shape}")
    axes = tuple(range(t.ndim - 2)) + (t.ndim - 1, t.ndim - 2)
    return emit("transpose", [t], axes=axes)


@numpy_function()
def broadcast_arrays(*arrays):
    """``arrays`` broadcast to their common shape (a list)."""
    ts = as_tracers(list(arrays), op="broadcast_arrays")
    shape = broadcast_shapes(*(t.shape for t in ts), op="broadcast_arrays")
    return [broadcast_to(t, shape) for t in ts]


@numpy_function("x")
def unstack(x, /, *, axis=0):
    """The slices of ``x`` along ``axis``, as a tuple of arrays of one dimension fewer."""
    t = as_tracer(x)
    if t.ndim == 0:
        raise ShapeError("unstack: needs an array of at least 1 dimension, got a 0-d array")
    axis = normalize_axis("unstack", axis, t.ndim)
    lead = (slice(None),) * axis
    return tuple(getitem(t, lead + (i,)) for i in range(t.shape[axis]))


@numpy_function("x")
def tile(x, /, repetitions):  # NumPy's reps
    """``x`` repeated ``repetitions[d]`` times along each axis (``np.tile``)."""
    t = as_tracer(x)
    reps = tuple(hashable(repetitions if isinstance(repetitions, (tuple, list)) else (repetitions,)))
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile: repetitions must be non-negative, got {reps}")
    ndim = max(len(reps), t.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - t.ndim) + t.shape
    # x as (1, d0, 1, d1, ...), broadcast to (r0, d0, r1, d1, ...), then merged pairwise
    paired = reshape(t, tuple(v for d in shape for v in (1, d)))
    spread = broadcast_to(paired, tuple(v for r, d in zip(reps, shape) for v in (r, d)))
    return reshape(spread, tuple(r * d for r, d in zip(reps, shape)))


def repeat(x, /, repeats, axis=None):
    """Each element of ``x`` repeated ``repeats`` times along ``axis`` (flattened when None).

    ``repeats`` is an int (traced and compiled) or an array of per-element counts,
    whose output shape depends on the values: eager only, a TraceError inside
    ``@mlc.jit`` (as for ``nonzero``).
    """
    if isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        return _repeat(x, int(repeats), axis=axis)
    if isinstance(repeats, bool):
        raise ShapeError("repeat: repeats must be an int or an integer array, got a bool")
    return repeat_counts(x, repeats, axis)


@numpy_function("x")
def _repeat(x, /, repeats, *, axis=None):
    """``repeat`` with an int count."""
    t = as_tracer(x)
    if repeats < 0:
        raise ShapeError(f"repeat: repeats must be non-negative, got {repeats}")
    if axis is None:
        t, axis = reshape(t, (-1,)), 0
    axis = normalize_axis("repeat", axis, t.ndim)
    shape = t.shape
    expanded = reshape(t, shape[:axis + 1] + (1,) + shape[axis + 1:])
    spread = broadcast_to(expanded, shape[:axis + 1] + (repeats,) + shape[axis + 1:])
    return reshape(spread, shape[:axis] + (shape[axis] * repeats,) + shape[axis + 1:])


_repeat.__mlc_impl__.__name__ = _repeat.__mlc_impl__.__qualname__ = "repeat"  # as errors name it


@numpy_function("x")
def roll(x, /, shift, axis=None):
    """``x`` shifted by ``shift`` along ``axis`` (elements wrap around; flattened when None)."""
    t = as_tracer(x)
    if axis is None:
        return reshape(roll(reshape(t, (-1,)), shift, axis=0), t.shape)
    shifts = tuple(hashable(shift)) if isinstance(shift, (tuple, list)) else (hashable(shift),)
    axes = tuple(hashable(axis)) if isinstance(axis, (tuple, list)) else (hashable(axis),)
    if len(shifts) != len(axes):
        if len(shifts) != 1:
            raise ShapeError(f"roll: shift {shifts} and axis {axes} have different lengths")
        shifts = shifts * len(axes)
    for s, a in zip(shifts, axes):
        a = normalize_axis("roll", a, t.ndim)
        n = t.shape[a]
        if n == 0 or s % n == 0:
            continue
        s %= n
        lead = (slice(None),) * a
        t = concatenate([getitem(t, lead + (slice(n - s, None),)), getitem(t, lead + (slice(0, n - s),))],
                        axis=a)
    return t

