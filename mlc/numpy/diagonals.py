"""NumPy's ``np.diagonal`` and ``np.trace``: over two axes of any array (0 and 1 by
default), where the Array API's ``linalg.diagonal``/``linalg.trace`` take the last two.

>>> import numpy as np, mlc
>>> mlc.numpy.trace(np.arange(24.0).reshape(2, 3, 4))
array([16., 18., 20., 22.])
"""
from __future__ import annotations

from ..tracer.operands import as_tracer
from . import linalg
from ._api import numpy_function
from .loops import refuse_out
from .shapes import moveaxis

__all__ = ["diagonal", "trace"]


@numpy_function("a")
def diagonal(a, offset=0, axis1=0, axis2=1):
    """``np.diagonal(a, offset, axis1, axis2)``: the diagonal over ``axis1`` and ``axis2``, as the
    last axis of the result."""
    return linalg.diagonal(moveaxis(as_tracer(a), (axis1, axis2), (-2, -1)), offset=offset)


@numpy_function("a", "out")
def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """``np.trace(a, offset, axis1, axis2, dtype)``: the sums of the diagonals over ``axis1`` and
    ``axis2``."""
    refuse_out("trace", out)
    return linalg.trace(moveaxis(as_tracer(a), (axis1, axis2), (-2, -1)), offset=offset, dtype=dtype)
