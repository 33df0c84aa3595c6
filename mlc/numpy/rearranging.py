"""Rotations, flips, vector products and sliding windows: ``rot90``, ``flipud``, ``fliplr``,
``cross`` and ``sliding_window_view``, written with flips, transposes and gathers as NumPy
defines them, so they trace inside ``@mlc.jit``.

>>> import numpy as np, mlc
>>> mlc.numpy.rot90(np.array([[1, 2], [3, 4]]))
array([[2, 4],
       [1, 3]])
>>> mlc.numpy.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
array([0., 0., 1.])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer, as_tracers
from ..tracer.source import describe_location, user_location
from ._api import emit, numpy_function
from .elementwise import multiply, subtract
from .shapes import flip, getitem, moveaxis, reshape, stack, transpose

__all__ = ["rot90", "flipud", "fliplr", "cross", "sliding_window_view"]


def _where() -> str:
    return describe_location(user_location())


@numpy_function("m")
def rot90(m, k=1, axes=(0, 1)):
    """``m`` rotated by 90 degrees ``k`` times in the plane of ``axes`` (NumPy's ``np.rot90``:
    from the first axis towards the second)."""
    t = as_tracer(m)
    if len(axes) != 2 or t.ndim < 2:
        raise ShapeError(f"np.rot90: needs an array of at least 2 dimensions and 2 axes, got shape "
                         f"{tuple(t.shape)} and axes {axes}{_where()}")
    a0, a1 = (normalize_axis("np.rot90", a, t.ndim) for a in axes)
    if a0 == a1:
        raise ShapeError(f"np.rot90: the axes must be different, got {axes}{_where()}")
    k %= 4
    if k == 0:
        return t.fresh()
    if k == 2:
        return flip(flip(t, a0), a1)
    order = list(range(t.ndim))
    order[a0], order[a1] = order[a1], order[a0]
    if k == 1:
        return transpose(flip(t, a1), tuple(order))
    return flip(transpose(t, tuple(order)), a1)


def _flip_axis(name: str, m, axis: int):
    """``m`` reversed along ``axis``, which ``np.<name>`` requires it to have."""
    t = as_tracer(m)
    if t.ndim <= axis:
        dims = "1 dimension" if axis == 0 else f"{axis + 1} dimensions"
        raise ShapeError(f"np.{name}: needs an array of at least {dims}{_where()}")
    return flip(t, axis)


@numpy_function("m")
def flipud(m):
    """``m`` with its rows in reverse order (``m[::-1]``)."""
    return _flip_axis("flipud", m, 0)


@numpy_function("m")
def fliplr(m):
    """``m`` with its columns in reverse order (``m[:, ::-1]``)."""
    return _flip_axis("fliplr", m, 1)


@numpy_function("a", "b")
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of vectors of 3 (or 2) components along the last axes of ``a`` and
    ``b``, broadcasting the others, as NumPy's ``np.cross`` computes it; two 2-vectors give the
    z component only."""
    x, y = as_tracers([a, b], op="cross")
    if axis is not None:
        axisa = axisb = axisc = axis
    x, y = moveaxis(x, axisa, -1), moveaxis(y, axisb, -1)
    if x.shape[-1] not in (2, 3) or y.shape[-1] not in (2, 3):
        raise ShapeError(f"np.cross: incompatible dimensions for cross product (dimension must be 2 or 3), "
                         f"got {x.shape[-1]} and {y.shape[-1]}{_where()}")
    if x.shape[-1] != y.shape[-1]:
        raise TraceError(f"np.cross of a 2-vector and a 3-vector does not trace; give both 3 components "
                         f"(a zero z){_where()}")

    def c(v, i):
        return getitem(v, (Ellipsis, i))

    if x.shape[-1] == 2:
        return subtract(multiply(c(x, 0), c(y, 1)), multiply(c(x, 1), c(y, 0)))
    parts = [subtract(multiply(c(x, 1), c(y, 2)), multiply(c(x, 2), c(y, 1))),
             subtract(multiply(c(x, 2), c(y, 0)), multiply(c(x, 0), c(y, 2))),
             subtract(multiply(c(x, 0), c(y, 1)), multiply(c(x, 1), c(y, 0)))]
    return moveaxis(stack(parts, axis=-1), -1, axisc)


@numpy_function("x")
def sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    """Every window of ``window_shape`` elements along ``axis`` (all axes by default), the window
    axes appended last, as NumPy's ``sliding_window_view``; here a copy gathered at static
    positions (reading it is all NumPy allows)."""
    t = as_tracer(x)
    shape = (window_shape,) if isinstance(window_shape, (int, np.integer)) else tuple(window_shape)
    axes = tuple(range(t.ndim)) if axis is None else (
        (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis))
    if len(shape) != len(axes):
        raise ShapeError(f"sliding_window_view: {len(shape)} window sizes for {len(axes)} axes{_where()}")
    axes = tuple(normalize_axis("sliding_window_view", ax, t.ndim) for ax in axes)
    if writeable:
        raise TraceError(f"sliding_window_view(writeable=True) does not trace: its windows share "
                         f"elements; write into the array itself{_where()}")
    for ax, w in zip(axes, shape):
        n = t.shape[ax]
        if not 0 <= w <= n:
            raise ShapeError(f"sliding_window_view: window shape cannot be larger than input array shape "
                             f"({w} > {n} along axis {ax}){_where()}")
        positions = (np.arange(n - w + 1)[:, None] + np.arange(w)[None, :]).reshape(-1).astype(np.int64)
        gathered = emit("take", [t, as_tracer(positions, t._ctx)], axis=ax)
        split = tuple(t.shape[:ax]) + (n - w + 1, w) + tuple(t.shape[ax + 1:])
        t = moveaxis(reshape(gathered, split), ax + 1, -1)
    return t
