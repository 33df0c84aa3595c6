"""``np.linalg`` as NumPy spells it, over :mod:`mlc.numpy.linalg` (the Array API's extension).

Inside ``@mlc.jit`` a call ``np.linalg.f(t)`` reaches the function that
:data:`FUNCTIONS` maps NumPy's ``np.linalg.f`` object to. Most take the same
parameters as the Array API's; the rest are NumPy's spellings here
(``eigh(a, UPLO)``, ``svd(a, full_matrices, compute_uv)``, ``matrix_rank(A,
tol)``, ``pinv(a, rcond)``, ``norm``, ``cond``, ``multi_dot``, ``tensorinv``,
``tensorsolve``). ``np.linalg.trace`` sums over the last two axes: it is
never ``np.trace``, which takes the first two.

>>> import numpy as np, mlc
>>> f = mlc.jit(lambda x: np.linalg.trace(x))
>>> f(np.arange(18.0).reshape(2, 3, 3))
array([12., 39.])
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError, TraceError
from ..tracer.operands import as_tracer
from ..tracer.source import describe_location, user_location
from . import linalg
from .elementwise import conj, divide, greater, not_equal
from .manipulation import permute_dims
from .reductions import any as _any, max as _max, min as _min, sum as _sum
from .shapes import moveaxis, reshape

__all__ = ["FUNCTIONS", "REFUSED"]


def _where() -> str:
    return describe_location(user_location())


def _hermitian_lower(name: str, a, uplo: str):
    """``a`` with the triangle ``uplo`` names as its lower one (the kernels read the lower)."""
    if uplo not in ("L", "U"):
        raise ShapeError(f"np.linalg.{name}: UPLO must be 'L' or 'U', got {uplo!r}{_where()}")
    t = as_tracer(a)
    return t if uplo == "L" else linalg.matrix_transpose(conj(t) if t.dtype.kind == "c" else t)


def eigh(a, UPLO="L"):  # noqa: N803 - NumPy's name
    """``np.linalg.eigh(a, UPLO)``: ``UPLO='U'`` reads the upper triangle."""
    return linalg.eigh(_hermitian_lower("eigh", a, UPLO))


def eigvalsh(a, UPLO="L"):  # noqa: N803 - NumPy's name
    """``np.linalg.eigvalsh(a, UPLO)``."""
    return linalg.eigvalsh(_hermitian_lower("eigvalsh", a, UPLO))


def qr(a, mode="reduced"):
    """``np.linalg.qr(a, mode)``: 'reduced', 'complete' or 'r' (R alone)."""
    if mode == "r":
        return linalg.qr(a, mode="reduced").R
    if mode not in ("reduced", "complete"):
        raise TraceError(f"np.linalg.qr(mode={mode!r}) is not supported inside @mlc.jit (LAPACK's raw "
                         f"Householder form); use mode='reduced', 'complete' or 'r'{_where()}")
    return linalg.qr(a, mode=mode)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """``np.linalg.svd(a, full_matrices, compute_uv, hermitian)``: ``compute_uv=False`` is the
    singular values alone; ``hermitian`` only allows NumPy's faster method there."""
    if not compute_uv:
        return linalg.svdvals(a)
    return linalg.svd(a, full_matrices=full_matrices)


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):  # noqa: N803 - NumPy's name
    """``np.linalg.matrix_rank``: singular values above ``tol`` (absolute) or ``rtol * max(S)``."""
    t = as_tracer(A)
    if tol is not None and rtol is not None:
        raise ShapeError(f"np.linalg.matrix_rank: `tol` and `rtol` can't be both set{_where()}")
    if t.ndim < 2:
        return _any(not_equal(t, t.dtype.type(0))).astype("int64")  # NumPy's int(not all(A == 0))
    if tol is None:
        return linalg.matrix_rank(t, rtol=rtol)
    s = linalg.svdvals(t)
    tol = as_tracer(tol, t._ctx).astype(s.dtype)
    above = greater(s, reshape(tol, tol.shape + (1,)))
    return _sum(above.astype("int64"), axis=-1)


_NO_VALUE = object()


def pinv(a, rcond=None, hermitian=False, *, rtol=_NO_VALUE):
    """``np.linalg.pinv(a, rcond, hermitian, rtol=)``: NumPy 2's defaults (``rcond`` 1e-15 when
    neither is given; ``rtol=None`` is max(M, N) * eps)."""
    if rcond is None:
        rcond = 1e-15 if rtol is _NO_VALUE else rtol
    elif rtol is not _NO_VALUE:
        raise ShapeError(f"np.linalg.pinv: `rtol` and `rcond` can't be both set{_where()}")
    return linalg.pinv(a, rtol=rcond)


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - NumPy's name
    """``np.linalg.norm``: a vector norm over one axis (or of a 1-D array), a matrix norm over
    two (or of a 2-D array), the Frobenius norm of the flattened array when ``ord`` and
    ``axis`` are None."""
    t = as_tracer(x)
    if t.dtype.kind not in "fc":
        t = t.astype("float64")
    if axis is None:
        if ord is None:
            return linalg.vector_norm(t, axis=None, keepdims=keepdims)
        if t.ndim not in (1, 2):
            raise ShapeError(f"np.linalg.norm: improper number of dimensions to norm ({t.ndim}){_where()}")
        axis = tuple(range(t.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(axes) == 1:
        return linalg.vector_norm(t, axis=axes[0], keepdims=keepdims, ord=2 if ord is None else ord)
    if len(axes) != 2:
        raise ShapeError(f"np.linalg.norm: improper number of dimensions to norm ({len(axes)}){_where()}")
    rows, cols = (a % t.ndim for a in axes)
    moved = moveaxis(t, (rows, cols), (-2, -1))
    out = linalg.matrix_norm(moved, ord="fro" if ord is None else ord)
    if keepdims:
        shape = list(t.shape)
        shape[rows] = shape[cols] = 1
        out = reshape(out, tuple(shape))
    return out


def cond(x, p=None):
    """``np.linalg.cond``: the ratio of the largest to the smallest singular value (``p`` None,
    2, -2), or ``norm(x, p) * norm(inv(x), p)``."""
    t = as_tracer(x)
    if p in (None, 2, -2):
        s = linalg.svdvals(t)
        big, small = _max(s, axis=-1), _min(s, axis=-1)
        return divide(small, big) if p == -2 else divide(big, small)
    return linalg.matrix_norm(t, ord=p) * linalg.matrix_norm(linalg.inv(t), ord=p)


def multi_dot(arrays, *, out=None):
    """``np.linalg.multi_dot``: the matrix product of ``arrays``, left to right (a 1-D first
    array is a row, a 1-D last one a column, as NumPy's)."""
    if out is not None:
        raise TraceError(f"np.linalg.multi_dot(..., out=...) cannot write into an array while "
                         f"tracing; use the result{_where()}")
    ts = [as_tracer(a) for a in arrays]
    if len(ts) < 2:
        raise ShapeError(f"np.linalg.multi_dot: expecting at least two arrays{_where()}")
    result = ts[0]
    for t in ts[1:]:
        result = linalg.matmul(result, t)
    return result


def tensorinv(a, ind=2):
    """``np.linalg.tensorinv``: the inverse of ``a`` seen as a matrix of its first ``ind`` axes
    by the rest."""
    t = as_tracer(a)
    rows, cols = t.shape[:ind], t.shape[ind:]
    n = math.prod(rows)
    if n != math.prod(cols):
        raise ShapeError(f"np.linalg.tensorinv: a's first {ind} axes {rows} and the rest {cols} must "
                         f"hold as many elements{_where()}")
    return reshape(linalg.inv(reshape(t, (n, n))), cols + rows)


def tensorsolve(a, b, axes=None):
    """``np.linalg.tensorsolve``: ``x`` with ``tensordot(a, x, x.ndim) == b``."""
    t, r = as_tracer(a), as_tracer(b)
    if axes is not None:
        order = [i for i in range(t.ndim) if i not in [x % t.ndim for x in axes]]
        t = permute_dims(t, tuple(order) + tuple(x % t.ndim for x in axes))
    shape = t.shape[r.ndim:]
    n = math.prod(shape)
    if math.prod(t.shape[:r.ndim]) != n:
        raise ShapeError(f"np.linalg.tensorsolve: a's shape {t.shape} is not square for b's {r.shape}{_where()}")
    x = linalg.solve(reshape(t, (n, n)), reshape(r, (n,)))
    return reshape(x, shape)


#: NumPy's ``np.linalg`` function objects -> the functions that trace them.
FUNCTIONS = {
    getattr(np.linalg, name): getattr(linalg, name)
    for name in ("cholesky", "cross", "det", "diagonal", "inv", "matmul", "matrix_norm", "matrix_power",
                 "matrix_transpose", "outer", "slogdet", "solve", "svdvals", "tensordot", "trace", "vecdot",
                 "vector_norm")
    if hasattr(np.linalg, name)
}
FUNCTIONS.update({
    getattr(np.linalg, fn.__name__): fn
    for fn in (eigh, eigvalsh, qr, svd, matrix_rank, pinv, norm, cond, multi_dot, tensorinv, tensorsolve)
})

#: ``np.linalg`` functions refused by design, and what to write instead.
REFUSED = {
    "eig": "the eigenvalues of a general matrix have no kernel here; for a symmetric (Hermitian) "
           "matrix use np.linalg.eigh",
    "eigvals": "the eigenvalues of a general matrix have no kernel here; for a symmetric (Hermitian) "
               "matrix use np.linalg.eigvalsh",
    "lstsq": "the length of its residuals depends on the rank, known only from the values; write "
             "np.linalg.pinv(a) @ b (the same solution) and the residuals as a sum of squares",
}
