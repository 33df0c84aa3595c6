"""Draws of vectors and matrices: multivariate normal vectors and orthogonal matrices.

- ``multivariate_normal``: ``mean + L z`` with ``L`` the Cholesky factor of ``cov``
  (``mlc.numpy.linalg.cholesky``) and ``z`` standard normal (a covariance that is not
  positive definite gives NaN, as the factor does);
- ``orthogonal``: ``Q`` of the QR factorization of a matrix of standard normal numbers,
  its columns' signs fixed by ``R``'s diagonal, which makes it uniform (Haar) over the
  orthogonal matrices (Mezzadri, "How to generate random matrices from the classical
  compact groups", 2007).

>>> import numpy as np, mlc.random as mr
>>> q = mr.orthogonal(mr.key(0), 3)
>>> bool(np.allclose(q @ q.T, np.eye(3), atol=1e-5))
True
"""
from __future__ import annotations

import numpy as np

from .. import numpy as mnp
from ..errors import ShapeError
from ..ops.library._common import check_int_attr
from ..tracer.operands import as_tracer
from ._api import float_sampler_args, normalize_shape, random_function
from .continuous import standard_normal

__all__ = ["multivariate_normal", "orthogonal"]


@random_function("key", "mean", "cov")
def multivariate_normal(key, mean, cov, shape=None, dtype="float32", method="cholesky"):
    """Normal vectors of mean ``mean`` (..., n) and covariance ``cov`` (..., n, n); ``shape`` is
    the batch shape (default: the broadcast of ``mean``'s and ``cov``'s), the result
    ``shape + (n,)``. ``method`` is "cholesky" (the one there is).

    >>> import numpy as np, mlc.random as mr
    >>> x = mr.multivariate_normal(mr.key(0), np.zeros(2), np.array([[1.0, 0.9], [0.9, 1.0]]), (20000,))
    >>> x.shape, round(float(np.corrcoef(x.T)[0, 1]), 1)
    ((20000, 2), 0.9)
    """
    where = "mlc.random.multivariate_normal"
    key, dtype, c = float_sampler_args(key, dtype, where)
    if method != "cholesky":
        raise ShapeError(f"{where}: method must be 'cholesky', got {method!r}")
    mean, cov = as_tracer(mean), as_tracer(cov)
    mean, cov = mean.astype(c) if mean.dtype != c else mean, cov.astype(c) if cov.dtype != c else cov
    if mean.ndim < 1 or cov.ndim < 2 or cov.shape[-1] != cov.shape[-2] or cov.shape[-1] != mean.shape[-1]:
        raise ShapeError(f"{where}: mean must be (..., n) and cov (..., n, n) with the same n, got mean "
                         f"{tuple(mean.shape)} and cov {tuple(cov.shape)}")
    n = mean.shape[-1]
    batch = np.broadcast_shapes(tuple(mean.shape[:-1]), tuple(cov.shape[:-2]))
    shape = batch if shape is None else normalize_shape(shape, where)
    if np.broadcast_shapes(shape, batch) != shape:
        raise ShapeError(f"{where}: shape {shape} must be one mean's and cov's batch shape {batch} "
                         "broadcast to")
    factor = mnp.linalg.cholesky(cov)
    z = standard_normal(key, (*shape, n), c)
    return (mean + mnp.matmul(factor, z[..., None])[..., 0]).astype(dtype)


@random_function("key")
def orthogonal(key, n, shape=(), dtype="float32"):
    """Orthogonal ``n`` x ``n`` matrices (a batch of ``shape``), uniform over the group."""
    where = "mlc.random.orthogonal"
    key, dtype, c = float_sampler_args(key, dtype, where)
    n = check_int_attr(where, "n", n, minimum=0)
    shape = normalize_shape(shape, where)
    q, r = mnp.linalg.qr(standard_normal(key, (*shape, n, n), c))
    signs = mnp.where(mnp.diagonal(r, axis1=-2, axis2=-1) < 0, -1.0, 1.0).astype(c)
    return (q * mnp.expand_dims(signs, -2)).astype(dtype)
