"""Writing into a traced array the way NumPy's in-place functions do (``np.put_along_axis``,
``np.add.at``): the array object's traced value is replaced by the new one, so every name
bound to that array sees it, as ``x += 1`` does, and so do its views, the array it is a view
of and, for an argument of the jitted function, the caller's array.

>>> import numpy as np, mlc
>>> @mlc.jit
... def f(x):
...     y = x.copy()
...     np.add.at(y, [0, 0], 1)
...     return y
>>> f(np.zeros(2))
array([2., 0.])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..tracer.source import describe_location, user_location
from ..tracer.state import write
from ..tracer.tracer import Tracer
from .elementwise import astype
from .updates import update_slice

__all__ = ["rebind", "writable"]


def rebind(what: str, target: Tracer, result: Tracer) -> None:
    """Make ``target`` (an array NumPy's ``what`` writes into) hold ``result`` from now on, cast
    to its dtype, as an in-place operator does: every name of it, its views, the array it is a
    view of and (for an argument of the jitted function) the caller's array see the write."""
    where = describe_location(user_location())
    if target.weak:
        raise TraceError(f"{what} writes into a Python scalar, which NumPy cannot write into; pass an "
                         f"array{where}")
    if tuple(result.shape) != tuple(target.shape):
        raise ShapeError(f"{what}: the result's shape {tuple(result.shape)} differs from the array's "
                         f"{tuple(target.shape)}{where}")
    write(target, result if result.dtype == target.dtype else astype(result, target.dtype), update_slice)


def writable(what: str, arr) -> Tracer:
    """``arr`` if it is a traced array ``what`` can write into; a NumPy array is a constant."""
    if not isinstance(arr, Tracer):
        raise TraceError(f"{what} into the NumPy array {np.asarray(arr).dtype}{list(np.shape(arr))} cannot hold "
                         f"traced values: a NumPy array inside a traced function is a constant. Make the "
                         f"array from the traced ones (np.zeros_like(x)){describe_location(user_location())}")
    return arr
