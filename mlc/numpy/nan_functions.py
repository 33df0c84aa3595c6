"""NumPy's NaN-ignoring reductions (``nansum``, ``nanprod``, ``nanmean``, ``nanvar``,
``nanstd``, ``nanmax``, ``nanmin``, ``nancumsum``, ``nancumprod``) and ``nan_to_num``.

Each replaces the NaNs by the reduction's identity with ``where`` and reduces,
as NumPy's do: a slice of NaNs only is NaN for ``nanmean``, ``nanvar``,
``nanmax`` and ``nanmin`` (NumPy warns), 0 for ``nansum``; integer and bool
arrays have no NaN and reduce as they are.

>>> import numpy as np, mlc
>>> mlc.numpy.nanmean(np.array([1.0, np.nan, 3.0]))
array(2.)
"""
from __future__ import annotations

import numpy as np

from ..tracer.operands import as_tracer
from ._api import numpy_function
from .cumulative import cumprod, cumsum
from .elementwise import divide, isinf, isnan, logical_not, sqrt, where
from .reductions import _no_out, all as _all, max as _max, min as _min, prod, sum as _sum

__all__ = ["nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nancumsum",
           "nancumprod", "nan_to_num"]


def _replaced(a, value):
    """(``a`` with its NaNs replaced by ``value``, the NaN mask), or (``a``, None) when ``a``'s
    dtype has no NaN."""
    t = as_tracer(a)
    if t.dtype.kind not in "fc":
        return t, None
    mask = isnan(t)
    return where(mask, t.dtype.type(value), t), mask


@numpy_function("a", "out")
def nansum(a, axis=None, dtype=None, out=None, keepdims=False):
    """``np.nansum``: the sum with NaNs counted as zero."""
    _no_out("nansum", out)
    return _sum(_replaced(a, 0)[0], axis=axis, dtype=dtype, keepdims=keepdims)


@numpy_function("a", "out")
def nanprod(a, axis=None, dtype=None, out=None, keepdims=False):
    """``np.nanprod``: the product with NaNs counted as one."""
    _no_out("nanprod", out)
    return prod(_replaced(a, 1)[0], axis=axis, dtype=dtype, keepdims=keepdims)


@numpy_function("a", "out")
def nancumsum(a, axis=None, dtype=None, out=None):
    """``np.nancumsum``: the running sum with NaNs counted as zero."""
    _no_out("nancumsum", out)
    return cumsum(_replaced(a, 0)[0], axis=axis, dtype=dtype)


@numpy_function("a", "out")
def nancumprod(a, axis=None, dtype=None, out=None):
    """``np.nancumprod``: the running product with NaNs counted as one."""
    _no_out("nancumprod", out)
    return cumprod(_replaced(a, 1)[0], axis=axis, dtype=dtype)


def _count(mask, axis, keepdims):
    return _sum(logical_not(mask), axis=axis, dtype="int64", keepdims=keepdims)


def _by_count(total, count):
    """``total / count`` in ``total``'s dtype (NumPy divides into ``total``, casting unsafely)."""
    quotient = divide(total, count)
    return quotient if quotient.dtype == total.dtype else quotient.astype(total.dtype)


@numpy_function("a", "out")
def nanmean(a, axis=None, dtype=None, out=None, keepdims=False):
    """``np.nanmean``: the mean of the elements that are not NaN (NaN where there are none)."""
    _no_out("nanmean", out)
    t, mask = _replaced(a, 0)
    if mask is None:
        return t.mean(axis=axis, dtype=dtype, keepdims=keepdims)
    return _by_count(_sum(t, axis=axis, dtype=dtype, keepdims=keepdims), _count(mask, axis, keepdims))


@numpy_function("a", "out")
def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``np.nanvar``: the variance of the elements that are not NaN (NaN where fewer than
    ``ddof + 1``)."""
    _no_out("nanvar", out)
    t, mask = _replaced(a, 0)
    if mask is None:
        return t.var(axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    count = _count(mask, axis, True)
    mean = _by_count(_sum(t, axis=axis, dtype=dtype, keepdims=True), count)
    deviation = where(mask, t.dtype.type(0), (t - mean).astype(t.dtype))
    squares = (deviation * deviation.conj()).real if t.dtype.kind == "c" else deviation * deviation
    total = _sum(squares, axis=axis, dtype=dtype, keepdims=keepdims)
    dof = _count(mask, axis, keepdims) - ddof
    return where(dof <= 0, np.nan, _by_count(total, dof))


@numpy_function("a", "out")
def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``np.nanstd``: the square root of :func:`nanvar`."""
    _no_out("nanstd", out)
    return sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def _nan_extreme(name: str, reduce, fill: float):
    @numpy_function("a", "out")
    def fn(a, axis=None, out=None, keepdims=False):
        _no_out(name, out)
        t, mask = _replaced(a, fill)
        if mask is None:
            return reduce(t, axis=axis, keepdims=keepdims)
        return where(_all(mask, axis=axis, keepdims=keepdims), np.nan, reduce(t, axis=axis, keepdims=keepdims))
    fn.__mlc_impl__.__name__ = fn.__mlc_impl__.__qualname__ = fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = fn.__mlc_impl__.__doc__ = (f"``np.{name}``: the {name[3:]}imum ignoring NaNs (NaN where a "
                                            f"slice has only NaNs).")
    return fn


nanmax = _nan_extreme("nanmax", _max, -np.inf)
nanmin = _nan_extreme("nanmin", _min, np.inf)


@numpy_function("x")
def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``np.nan_to_num``: NaN to ``nan``, +inf to ``posinf`` and -inf to ``neginf`` (the dtype's
    largest and smallest finite values by default); complex parts each so."""
    t = as_tracer(x)
    if t.dtype.kind == "c":
        parts = [nan_to_num(p, nan=nan, posinf=posinf, neginf=neginf) for p in (t.real, t.imag)]
        return parts[0] + parts[1] * t.dtype.type(1j)
    if t.dtype.kind != "f":
        return t.fresh()
    info = np.finfo(t.dtype)
    big = info.max if posinf is None else posinf
    small = info.min if neginf is None else neginf
    kind = t.dtype.type
    out = where(isnan(t), kind(nan), t)
    infinite = isinf(t)
    return where(infinite & (t > 0), kind(big), where(infinite & (t < 0), kind(small), out))
