"""NumPy's polynomials as coefficient arrays (highest power first): ``polyadd``, ``polysub``,
``polymul``, ``polyder``, ``polyint``, ``poly`` (of 1-D roots) and ``polyfit`` (least
squares by the pseudo-inverse, NumPy's column scaling first), written as NumPy writes them
with ``mlc.numpy``'s functions; ``np.polyval`` is in :mod:`.calculus`. Each result's length
follows from the operands' shapes, so it is known while tracing.

>>> import numpy as np, mlc
>>> mlc.jit(lambda p: np.polyder(np.polymul(p, p)))(np.array([1.0, 2.0]))
array([2., 4.])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TraceError
from ..tracer.operands import as_tracer, as_tracers
from ..tracer.source import describe_location, user_location
from ..tracer.tracer import Tracer
from ._api import numpy_function
from .elementwise import sqrt
from .kinds import raise_where
from .matrices import vander
from .numpy_linalg import pinv
from .reductions import sum as _sum
from .shapes import concatenate, pad, reshape
from .signal import convolve

__all__ = ["polyadd", "polysub", "polymul", "polyder", "polyint", "poly", "polyfit"]


def _where() -> str:
    return describe_location(user_location())


def _coefficients(name: str, p):
    t = as_tracer(p)
    if t.ndim > 1:
        raise ShapeError(f"np.{name}: the coefficients must be 1-D, got shape {tuple(t.shape)}{_where()}")
    return reshape(t, (1,)) if t.ndim == 0 else t


def _aligned(name: str, a1, a2):
    x, y = (_coefficients(name, a) for a in as_tracers([a1, a2], op=name))
    n = max(x.shape[0], y.shape[0])
    return tuple(t if t.shape[0] == n else pad(t, ((n - t.shape[0], 0),)) for t in (x, y))


@numpy_function("a1", "a2")
def polyadd(a1, a2):
    """``np.polyadd``: the sum, the shorter polynomial padded with leading zeros."""
    x, y = _aligned("polyadd", a1, a2)
    return x + y


@numpy_function("a1", "a2")
def polysub(a1, a2):
    """``np.polysub``: the difference ``a1 - a2``."""
    x, y = _aligned("polysub", a1, a2)
    return x - y


@numpy_function("a1", "a2")
def polymul(a1, a2):
    """``np.polymul``: the product, the convolution of the coefficients. NumPy drops leading zero
    coefficients first (the product's length then depends on the values): each call raises
    ValueError when a leading coefficient is zero."""
    x, y = (_coefficients("polymul", a) for a in as_tracers([a1, a2], op="polymul"))
    leading = [t[0] == 0 for t in (x, y) if t.shape[0] > 1]
    if leading:
        raise_where(leading[0] | leading[-1], "ValueError",
                    "np.polymul inside @mlc.jit: a leading coefficient is zero, which NumPy drops (its result "
                    "would be shorter); drop leading zeros before the call")
    return convolve(x, y)


def _order(name: str, m) -> int:
    if isinstance(m, Tracer) or int(m) != m or m < 0:
        raise TraceError(f"np.{name}: the order m must be a non-negative Python int, got {m!r}{_where()}")
    return int(m)


@numpy_function("p")
def polyder(p, m=1):
    """``np.polyder``: the ``m``-th derivative."""
    m = _order("polyder", m)
    t = _coefficients("polyder", p)
    for _ in range(m):
        n = t.shape[0] - 1
        t = t[:-1] * np.arange(n, 0, -1)
    return t


@numpy_function("p", "k")
def polyint(p, m=1, k=None):
    """``np.polyint``: the ``m``-th antiderivative, its integration constants ``k`` (zeros by
    default; one value, or ``m`` of them)."""
    m = _order("polyint", m)
    t = _coefficients("polyint", p)
    if m == 0:
        return t
    ks = as_tracer(np.zeros(m) if k is None else k, t._ctx)
    if ks.ndim == 0 or (ks.ndim == 1 and ks.shape[0] == 1 and m > 1):  # one constant for every step
        ks = reshape(ks, (1,)) * np.ones(m)
    if ks.ndim != 1 or ks.shape[0] < m:
        raise ShapeError(f"np.polyint: k must be a scalar or a rank-1 array of length 1 or > m ({m}){_where()}")
    for i in range(m):
        t = concatenate([t / np.arange(t.shape[0], 0, -1), ks[i:i + 1]])
    return t


@numpy_function("seq_of_zeros")
def poly(seq_of_zeros):
    """``np.poly`` of 1-D real roots: the monic polynomial with those roots (of a complex
    sequence NumPy's dtype depends on whether the roots pair up as conjugates, and of a matrix it
    needs the eigenvalues of a general matrix: both refused)."""
    t = as_tracer(seq_of_zeros)
    if t.ndim != 1:
        raise TraceError(f"np.poly of a {t.ndim}-d array cannot be traced inside @mlc.jit: it takes the "
                         f"eigenvalues of a general matrix, which have no kernel here; pass the roots as a "
                         f"1-D array{_where()}")
    if t.dtype.kind == "c":
        raise TraceError(f"np.poly of complex roots cannot be traced inside @mlc.jit: NumPy's result is real "
                         f"or complex depending on whether the roots pair up as conjugates; multiply out "
                         f"the (x - r) factors with np.convolve instead{_where()}")
    dtype = t.dtype if t.dtype in (np.float32, np.float64) else np.dtype("float64")  # NumPy's mintypecode
    a = as_tracer(np.ones(1, dtype), t._ctx)
    one = as_tracer(np.ones(1, dtype), t._ctx)
    for i in range(t.shape[0]):
        a = convolve(a, concatenate([one, reshape(-t[i:i + 1].astype(dtype), (1,))]))
    return a


@numpy_function("x", "y", "w")
def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """``np.polyfit``: the least-squares polynomial of degree ``deg`` through the points (the
    columns of the Vandermonde matrix scaled to unit norm, then solved with the pseudo-inverse,
    singular values below ``rcond`` of the largest dropped, as NumPy's ``lstsq``)."""
    if full or cov:
        raise TraceError(f"np.polyfit(full=True / cov=...) is not supported inside @mlc.jit: the rank it "
                         f"reports is known only from the values; fit with the default and compute the "
                         f"residuals as np.sum((np.polyval(p, x) - y) ** 2){_where()}")
    order = int(deg) + 1
    xt, yt = as_tracer(x), as_tracer(y)
    xt, yt = xt + 0.0, yt + 0.0
    if deg < 0:
        raise ShapeError(f"np.polyfit: expected deg >= 0{_where()}")
    if xt.ndim != 1 or xt.shape[0] == 0:
        raise ShapeError(f"np.polyfit: expected a non-empty 1-D vector for x, got shape {tuple(xt.shape)}{_where()}")
    if yt.ndim not in (1, 2) or yt.shape[0] != xt.shape[0]:
        raise ShapeError(f"np.polyfit: expected y 1-D or 2-D with x's length {xt.shape[0]}, got shape "
                         f"{tuple(yt.shape)}{_where()}")
    rcond = xt.shape[0] * np.finfo(xt.dtype).eps if rcond is None else rcond
    lhs, rhs = vander(xt, order), yt
    if w is not None:
        wt = as_tracer(w) + 0.0
        if wt.ndim != 1 or wt.shape[0] != yt.shape[0]:
            raise ShapeError(f"np.polyfit: expected a 1-D w with y's length, got shape {tuple(wt.shape)}{_where()}")
        lhs = lhs * reshape(wt, (-1, 1))
        rhs = rhs * (reshape(wt, (-1, 1)) if rhs.ndim == 2 else wt)
    scale = sqrt(_sum(lhs * lhs, axis=0))
    c = pinv(lhs / scale, rcond=rcond) @ rhs
    return c / (reshape(scale, (-1, 1)) if c.ndim == 2 else scale)
