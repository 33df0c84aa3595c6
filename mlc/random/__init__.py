"""``mlc.random``: reproducible random numbers from explicit keys, as JAX's ``jax.random``.

A key (``key(seed)``, a uint32 array of shape (2,)) names an infinite array of
random bits; a sampler reads the bits of each element at its index
(Threefry-2x32-20, the counter-based generator of Random123 and JAX), so the
numbers depend on the key and the shape only: the same on every backend
(llvm, cuda, the reference interpreter and the CUDA emulator give the same
bits, and the same numbers up to their math functions' last-digit rounding),
however the kernel is scheduled, and inside or outside ``@mlc.jit``. Keys are
arrays: pass them to jitted functions as arguments, and split them to get new
ones; a key drawn from twice gives the same numbers twice.

>>> import mlc, mlc.random as mr
>>> key = mr.key(42)
>>> key, init_key = mr.split(key)
>>> w = mr.normal(init_key, (784, 256)) * 0.01          # one fused kernel
>>> @mlc.jit
... def dropout(key, x, rate=0.5):
...     keep = mr.bernoulli(key, 1.0 - rate, x.shape)
...     return mlc.numpy.where(keep, x / (1.0 - rate), 0.0)
>>> dropout(key, w).shape
(784, 256)

Keys: ``key``/``PRNGKey``, ``split``, ``fold_in``. Bits: ``bits``. Continuous: ``uniform``,
``normal``, ``truncated_normal``, ``exponential``, ``gumbel``, ``logistic``,
``laplace``, ``cauchy``, ``gamma``, ``beta``, ``dirichlet``. Discrete:
``bernoulli``, ``rademacher``, ``randint``, ``categorical``, ``choice``,
``permutation``. Vectors and matrices: ``multivariate_normal``, ``orthogonal``.
Float dtypes default to float32 and integers to int32 (JAX's defaults).
NumPy's own ``np.random`` functions inside a jitted function: see
:mod:`.numpy_compat`.
"""
from .continuous import (cauchy, exponential, gumbel, laplace, logistic, normal, truncated_normal,  # noqa: F401
                         uniform)
from .discrete import bernoulli, bits, categorical, choice, permutation, rademacher, randint  # noqa: F401
from .gamma import beta, dirichlet, gamma  # noqa: F401
from .keys import PRNGKey, fold_in, key, split  # noqa: F401
from .multivariate import multivariate_normal, orthogonal  # noqa: F401

__all__ = ["key", "PRNGKey", "split", "fold_in", "bits", "uniform", "normal", "truncated_normal", "exponential", "gumbel",
           "logistic", "laplace", "cauchy", "gamma", "beta", "dirichlet", "bernoulli", "rademacher", "randint",
           "categorical", "choice", "permutation", "multivariate_normal", "orthogonal"]
