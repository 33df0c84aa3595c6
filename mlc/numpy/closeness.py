"""Elementwise closeness and whole-array equality: ``isclose``, ``allclose``, ``array_equal``,
``array_equiv``, written with NumPy's formula (``|a - b| <= atol + rtol * |b|``, ``b`` made
inexact first; infinities close only to themselves; NaNs with ``equal_nan``).

>>> import numpy as np, mlc
>>> mlc.numpy.isclose(np.array([1.0, 1.1]), 1.0)
array([ True, False])
"""
from __future__ import annotations

import numpy as np

from ..ops.library import broadcast_shapes
from ..tracer.operands import as_tracer
from ._api import numpy_function
from .elementwise import absolute, isfinite, isnan
from .reductions import all as _all

__all__ = ["isclose", "allclose", "array_equal", "array_equiv"]


def _operand(v):
    return v if isinstance(v, (int, float, complex)) and not isinstance(v, bool) else as_tracer(v)


@numpy_function("a", "b", "rtol", "atol")
def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``np.isclose``: ``|a - b| <= atol + rtol * |b|`` where ``b`` is finite, or ``a == b``."""
    x, y = _operand(a), _operand(b)
    rtol, atol = _operand(rtol), _operand(atol)
    if isinstance(y, int):
        y = float(y)
    elif not isinstance(y, (float, complex)):
        y = y.astype(np.result_type(y.dtype, 1.0))
    result = (absolute(x - y) <= atol + rtol * absolute(y)) & isfinite(y) | (x == y)
    if equal_nan:
        result = result | (isnan(x) & isnan(y))
    return result


@numpy_function("a", "b", "rtol", "atol")
def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``np.allclose``: every element :func:`isclose` (a 0-d bool array)."""
    return _all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


@numpy_function("a1", "a2")
def array_equal(a1, a2, equal_nan=False):
    """``np.array_equal``: the same shape and elements (shapes differing: a constant False)."""
    x, y = as_tracer(a1), as_tracer(a2)
    if tuple(x.shape) != tuple(y.shape):
        return as_tracer(False, x._ctx)
    same = x == y
    if equal_nan and x.dtype.kind in "fc" and y.dtype.kind in "fc":
        same = same | (isnan(x) & isnan(y))
    return _all(same)


@numpy_function("a1", "a2")
def array_equiv(a1, a2):
    """``np.array_equiv``: the shapes broadcast and the elements agree."""
    x, y = as_tracer(a1), as_tracer(a2)
    try:
        broadcast_shapes(tuple(x.shape), tuple(y.shape), op="array_equiv")
    except ValueError:
        return as_tracer(False, x._ctx)
    return _all(x == y)
