"""NumPy's questions about an array's kind and its conversions, answered while tracing:
``iscomplexobj``, ``isrealobj``, ``isfortran``, ``isscalar``, ``iterable`` (static Python
values: a traced array's dtype and shape are known), ``iscomplex``, ``isreal``,
``real_if_close`` (decided by the dtype), and ``asanyarray``, ``ascontiguousarray``,
``asfortranarray``, ``require`` (a traced array has no memory layout: each is its value, in
the dtype asked for); ``asarray_chkfinite`` checks at every call (NumPy's ValueError).

>>> import numpy as np, mlc
>>> @mlc.jit
... def f(x):
...     return x.real if np.iscomplexobj(x) else np.ascontiguousarray(x, dtype=np.float32)
>>> f(np.arange(2))
array([0., 1.], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from ..tracer.trace import RAISES
from ..tracer.tracer import Tracer
from ._api import numpy_function
from .creation import asarray
from .elementwise import equal, imag, isfinite, not_equal
from .reductions import all as _all
from .shapes import reshape

__all__ = ["iscomplexobj", "isrealobj", "isfortran", "isscalar", "iterable", "iscomplex", "isreal",
           "real_if_close", "asanyarray", "ascontiguousarray", "asfortranarray", "require", "asarray_chkfinite"]


def _where() -> str:
    return describe_location(user_location())


def _dtype_of(x) -> np.dtype:
    return x.dtype if isinstance(x, Tracer) else np.asarray(x).dtype


def iscomplexobj(x) -> bool:
    """``np.iscomplexobj``: whether ``x``'s dtype is complex (a Python bool, known while tracing)."""
    return _dtype_of(x).kind == "c"


def isrealobj(x) -> bool:
    """``np.isrealobj``: whether ``x``'s dtype is not complex."""
    return not iscomplexobj(x)


def isfortran(a) -> bool:
    """``np.isfortran``: False for a traced array (a value with no memory layout; NumPy's answer
    for any C-ordered array)."""
    return False if isinstance(a, Tracer) else bool(np.isfortran(a))


def isscalar(element) -> bool:
    """``np.isscalar``: False for a traced array (even 0-d, as for NumPy's 0-d arrays)."""
    return False if isinstance(element, Tracer) else bool(np.isscalar(element))


def iterable(y) -> bool:
    """``np.iterable``: whether ``y`` can be iterated (a traced array of at least 1 dimension)."""
    return y.ndim > 0 if isinstance(y, Tracer) else bool(np.iterable(y))


@numpy_function("x")
def iscomplex(x):
    """``np.iscomplex``: where the imaginary part is not zero (all False for a real dtype)."""
    t = as_tracer(x)
    return not_equal(imag(t), 0)


@numpy_function("x")
def isreal(x):
    """``np.isreal``: where the imaginary part is zero (all True for a real dtype)."""
    t = as_tracer(x)
    return equal(imag(t), 0)


@numpy_function("a")
def real_if_close(a, tol=100):
    """``np.real_if_close`` of a real array: the array itself. For a complex one NumPy's result
    dtype depends on the values, which a compiled function does not know when it is traced."""
    t = as_tracer(a)
    if t.dtype.kind == "c":
        raise TraceError(f"np.real_if_close of a complex array cannot be traced inside @mlc.jit: whether it "
                         f"returns a real or a complex array depends on the values. Write a.real where the "
                         f"imaginary parts are known to be negligible, or keep a complex{_where()}")
    return t.fresh()


def asanyarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    """``np.asanyarray``: :func:`asarray` (mlc has no ndarray subclasses)."""
    return asarray(a, dtype, device=device, copy=copy)


def _at_least_1d(a, dtype):
    t = asarray(a, dtype)
    return reshape(t, (1,)) if isinstance(t, Tracer) and t.ndim == 0 else t


def ascontiguousarray(a, dtype=None, *, like=None):
    """``np.ascontiguousarray``: ``a`` as an array of at least 1 dimension (a traced array's
    layout is the compiler's)."""
    if not isinstance(a, Tracer):
        return np.ascontiguousarray(a, dtype)
    return _at_least_1d(a, dtype)


def asfortranarray(a, dtype=None, *, like=None):
    """``np.asfortranarray``: ``a`` as an array of at least 1 dimension (its values; a traced
    array has no memory order)."""
    if not isinstance(a, Tracer):
        return np.asfortranarray(a, dtype)
    return _at_least_1d(a, dtype)


_REQUIREMENTS = set("CFAWOE") | {"C_CONTIGUOUS", "CONTIGUOUS", "F_CONTIGUOUS", "FORTRAN", "ALIGNED",
                                 "WRITEABLE", "OWNDATA", "ENSUREARRAY"}


def require(a, dtype=None, requirements=None, *, like=None):
    """``np.require``: ``a`` in ``dtype``; the layout requirements hold for a traced array (its
    layout is the compiler's), and a new array is what a write makes anyway."""
    if not isinstance(a, Tracer):
        return np.require(a, dtype, requirements)
    wanted = list(requirements or ())  # a string is its letters, as for NumPy
    unknown = [r for r in wanted if str(r).upper() not in _REQUIREMENTS]
    if unknown:
        raise TraceError(f"np.require: unknown requirements {unknown}; use C, F, A, W, O, E{_where()}")
    return asarray(a, dtype)


def raise_where(flag, error: str, message: str) -> None:
    """Raise ``error`` (a builtin exception's name) with ``message`` when the traced bool ``flag``
    is true at a call of the compiled function."""
    flag._ctx.check_range(flag.astype("int64"), RAISES, f"{error}\x00{message}{_where()}")


def asarray_chkfinite(a, dtype=None, order=None):
    """``np.asarray_chkfinite``: :func:`asarray`; each call of the compiled function raises
    ValueError, as NumPy does, when the array holds an infinity or a NaN."""
    if not isinstance(a, Tracer):
        return np.asarray_chkfinite(a, dtype, order)
    t = asarray(a, dtype)
    if t.dtype.kind in "fc":
        raise_where(~_all(isfinite(t)), "ValueError", "array must not contain infs or NaNs")
    return t
