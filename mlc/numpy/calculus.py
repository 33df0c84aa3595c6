"""Index arithmetic, polynomials and finite-difference calculus: ``unravel_index``,
``ravel_multi_index``, ``polyval``, ``trapezoid`` and ``gradient``, written as NumPy writes
them (Horner's rule, the trapezoid sum, second-order central differences) with
``mlc.numpy``'s functions, so they trace inside ``@mlc.jit`` and compile eagerly.

>>> import numpy as np, mlc
>>> mlc.numpy.unravel_index(np.array([5, 7]), (3, 4))
(array([1, 1]), array([1, 3]))
>>> float(mlc.numpy.polyval(np.array([1.0, 0.0, -2.0]), 3.0))
7.0
>>> mlc.numpy.gradient(np.array([1.0, 2.0, 4.0, 7.0]))
array([1. , 1.5, 2.5, 3. ])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..ops.library import normalize_axis
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ._api import numpy_function
from .creation import zeros_like
from .cumulative import diff
from .elementwise import add, floor_divide, multiply, remainder, subtract, true_divide
from .reductions import sum as _sum
from .shapes import concatenate, getitem, reshape

__all__ = ["unravel_index", "ravel_multi_index", "polyval", "trapezoid", "gradient"]


def _where() -> str:
    return describe_location(user_location())


def _strides(shape, order: str, name: str) -> list[int]:
    if order not in ("C", "F"):
        raise TraceError(f"np.{name}: order must be 'C' or 'F', got {order!r}{_where()}")
    dims = [int(d) for d in shape]
    strides, step = [0] * len(dims), 1
    for k in (range(len(dims) - 1, -1, -1) if order == "C" else range(len(dims))):
        strides[k], step = step, step * dims[k]
    return strides


@numpy_function("indices")
def unravel_index(indices, shape, order="C"):
    """The coordinates, one int64 array per axis of ``shape``, of the flat ``indices`` (NumPy's
    ``np.unravel_index``; the indices must lie in ``[0, prod(shape))``)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    flat = as_tracer(indices)
    if flat.dtype.kind not in "iu":
        raise TraceError(f"np.unravel_index: indices must be integers, got {flat.dtype}{_where()}")
    flat = flat.astype("int64")
    strides = _strides(shape, order, "unravel_index")
    return tuple(remainder(floor_divide(flat, s), int(d)) for s, d in zip(strides, shape))


@numpy_function("multi_index")
def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """The flat indices of the coordinates ``multi_index`` (a sequence of integer arrays) in an
    array of shape ``dims`` (NumPy's ``np.ravel_multi_index``, mode ``"raise"`` or ``"wrap"``)."""
    dims = tuple(dims)
    if len(multi_index) != len(dims):
        raise ShapeError(f"np.ravel_multi_index: {len(multi_index)} index arrays for {len(dims)} "
                         f"dimensions{_where()}")
    if mode not in ("raise", "wrap"):
        raise TraceError(f"np.ravel_multi_index: mode {mode!r} does not trace; use 'raise' or 'wrap'{_where()}")
    flat = None
    for index, s, d in zip(multi_index, _strides(dims, order, "ravel_multi_index"), dims):
        index = as_tracer(index).astype("int64")
        if mode == "wrap":
            index = remainder(index, int(d))
        term = multiply(index, s)
        flat = term if flat is None else add(flat, term)
    return flat


@numpy_function("p", "x")
def polyval(p, x):
    """``p[0] * x**(n-1) + ... + p[n-1]`` by Horner's rule, as NumPy's ``np.polyval`` computes it
    (so with its rounding and its result dtype)."""
    p, x = as_tracer(p), as_tracer(x)
    if p.ndim != 1:
        raise ShapeError(f"np.polyval: p must be 1-D, got shape {tuple(p.shape)}{_where()}")
    y = zeros_like(x)
    for k in range(p.shape[0]):
        y = add(multiply(y, x), getitem(p, k))
    return y


def _axis_slice(ndim: int, axis: int, piece) -> tuple:
    key = [slice(None)] * ndim
    key[axis] = piece
    return tuple(key)


@numpy_function("y", "x")
def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of ``y`` along ``axis`` by the trapezoid rule, at the points ``x`` or
    spacing ``dx`` (NumPy's ``np.trapezoid``, formerly ``np.trapz``)."""
    y = as_tracer(y)
    axis = normalize_axis("np.trapezoid", axis, y.ndim)
    if x is None:
        d = dx
    else:
        x = as_tracer(x)
        if x.ndim == 1:
            d = diff(x)
            shape = [1] * y.ndim
            shape[axis] = d.shape[0]
            d = reshape(d, tuple(shape))
        else:
            d = diff(x, axis=axis)
    upper = getitem(y, _axis_slice(y.ndim, axis, slice(1, None)))
    lower = getitem(y, _axis_slice(y.ndim, axis, slice(None, -1)))
    return _sum(true_divide(multiply(d, add(upper, lower)), 2.0), axis=axis)


def _derivative(f, axis: int, h, edge_order: int):
    n = f.ndim

    def at(piece):
        return getitem(f, _axis_slice(n, axis, piece))

    interior = true_divide(subtract(at(slice(2, None)), at(slice(None, -2))), 2.0 * h)
    if edge_order == 1:
        first = true_divide(subtract(at(slice(1, 2)), at(slice(0, 1))), h)
        last = true_divide(subtract(at(slice(-1, None)), at(slice(-2, -1))), h)
    else:
        # NumPy's coefficients, divided first (its rounding)
        first = add(add(multiply(at(slice(0, 1)), -1.5 / h), multiply(at(slice(1, 2)), 2.0 / h)),
                    multiply(at(slice(2, 3)), -0.5 / h))
        last = add(add(multiply(at(slice(-3, -2)), 0.5 / h), multiply(at(slice(-2, -1)), -2.0 / h)),
                   multiply(at(slice(-1, None)), 1.5 / h))
    return concatenate([first, interior, last], axis=axis)


@numpy_function("f")
def gradient(f, *varargs, axis=None, edge_order=1):
    """NumPy's ``np.gradient`` at uniform spacing: second-order central differences inside,
    first- or second-order (``edge_order``) one-sided ones at the ends; one array per axis
    (a tuple of them for several axes). Spacings are Python numbers, one for every axis or
    one per axis; coordinate arrays do not trace here (pass the spacing when the points are
    evenly spaced)."""
    f = as_tracer(f)
    axes = tuple(range(f.ndim)) if axis is None else tuple(
        normalize_axis("np.gradient", a, f.ndim) for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis))
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes) and all(np.ndim(v) == 0 for v in varargs):
        spacing = list(varargs)
    else:
        raise TraceError("np.gradient with coordinate arrays does not trace; pass the spacing as a "
                         f"number per axis (np.gradient(f, dx)) when the points are evenly spaced{_where()}")
    if any(isinstance(h, type(f)) for h in spacing):
        raise TraceError(f"np.gradient: the spacing must be a Python number here{_where()}")
    if edge_order not in (1, 2):
        raise ShapeError(f"np.gradient: edge_order must be 1 or 2, got {edge_order}{_where()}")
    if f.dtype.kind in "biu":
        f = f.astype("float64")
    for a in axes:
        if f.shape[a] < edge_order + 1:
            raise ShapeError(f"np.gradient: shape of array too small to calculate a numerical gradient, "
                             f"at least (edge_order + 1) elements are required along axis {a}{_where()}")
    out = tuple(_derivative(f, a, h, edge_order) for a, h in zip(axes, spacing))
    return out[0] if len(out) == 1 else out
