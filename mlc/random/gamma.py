"""Gamma numbers, and the beta and Dirichlet numbers made of them.

Marsaglia and Tsang's method ("A simple method for generating gamma variables",
ACM TOMS 2000), the op ``random.gamma`` (:mod:`mlc.ops.library.random`): for
shape ``a >= 1``, with ``d = a - 1/3`` and ``c = 1 / sqrt(9d)``, draw a normal
``x`` and a uniform ``u`` and accept ``d v``, ``v = (1 + c x)^3``, when ``v > 0``
and ``log(1 - u) < x^2 / 2 + d - d v + d log v``; for ``a < 1``, draw for
``a + 1`` and multiply by ``w^(1/a)``. An attempt succeeds with probability at
least 0.95 (a = 1 is the worst case). A loop until acceptance would be
data-dependent control flow, so each element makes ``GAMMA_ATTEMPTS`` (10)
attempts side by side, each on streams of its own, and keeps the first
accepted: all of them fail with probability below 0.049^10 < 1e-13, and then
the last candidate is kept. The result is one elementwise kernel.

>>> import mlc.random as mr
>>> x = mr.gamma(mr.key(0), 2.0, (10000,))
>>> round(float(x.mean()), 1)
2.0
"""
from __future__ import annotations


from .. import numpy as mnp
from ..errors import ShapeError
from ..numpy._api import emit
from ..ops.library.random import GAMMA_ATTEMPTS, GAMMA_STREAM
from ..tracer.operands import as_tracer
from ._api import float_sampler_args, normalize_shape, parameters_shape, random_function

__all__ = ["gamma", "beta", "dirichlet"]

#: The streams one gamma draw takes (beta's second draw starts after them).
_GAMMA_STREAMS = 2 * GAMMA_ATTEMPTS + 1


def standard_gamma(key, a, shape, dtype: str, stream: int = GAMMA_STREAM):
    """Gamma(a, 1) numbers of compute dtype ``dtype``, ``a`` broadcast to ``shape``."""
    return emit("random.gamma", [key, mnp.broadcast_to(a, shape)], stream=stream)


def _shape_parameter(a, dtype: str):
    t = as_tracer(a)
    return t.astype(dtype) if t.dtype != dtype else t


def _check_broadcast(have, shape, name: str, where: str) -> None:
    have = tuple(have)
    if len(have) > len(shape) or any(h not in (1, s) for h, s in zip(reversed(have), reversed(shape))):
        raise ShapeError(f"{where}: {name} of shape {have} does not broadcast to shape {tuple(shape)}")


@random_function("key", "a")
def gamma(key, a, shape=None, dtype="float32"):
    """Gamma numbers of shape ``a`` (> 0) and scale 1 (mean and variance ``a``); ``shape``
    defaults to ``a``'s.

    >>> import mlc.random as mr
    >>> mr.gamma(mr.key(0), [0.5, 1.0, 4.0]).shape
    (3,)
    """
    where = "mlc.random.gamma"
    key, dtype, c = float_sampler_args(key, dtype, where)
    a = _shape_parameter(a, c)
    shape = parameters_shape(shape, where, a)
    _check_broadcast(a.shape, shape, "a", where)
    return standard_gamma(key, a, shape, c).astype(dtype)


@random_function("key", "a", "b")
def beta(key, a, b, shape=None, dtype="float32"):
    """Beta(a, b) numbers in [0, 1]: ``x / (x + y)`` of gamma numbers of shapes ``a`` and ``b``.

    >>> import mlc.random as mr
    >>> round(float(mr.beta(mr.key(0), 2.0, 6.0, (10000,)).mean()), 2)
    0.25
    """
    where = "mlc.random.beta"
    key, dtype, c = float_sampler_args(key, dtype, where)
    a, b = _shape_parameter(a, c), _shape_parameter(b, c)
    shape = parameters_shape(shape, where, a, b)
    _check_broadcast(a.shape, shape, "a", where)
    _check_broadcast(b.shape, shape, "b", where)
    x = standard_gamma(key, a, shape, c)
    y = standard_gamma(key, b, shape, c, GAMMA_STREAM + _GAMMA_STREAMS)
    return (x / (x + y)).astype(dtype)


@random_function("key", "alpha")
def dirichlet(key, alpha, shape=None, dtype="float32"):
    """Dirichlet(alpha) vectors along the last axis (each sums to 1): normalised gamma numbers.
    ``shape`` is the batch shape (default: ``alpha``'s but its last axis).

    >>> import mlc.random as mr
    >>> x = mr.dirichlet(mr.key(0), [1.0, 2.0, 3.0], (4,))
    >>> x.shape, bool(abs(x.sum(axis=-1) - 1).max() < 1e-6)
    ((4, 3), True)
    """
    where = "mlc.random.dirichlet"
    key, dtype, c = float_sampler_args(key, dtype, where)
    alpha = _shape_parameter(alpha, c)
    if alpha.ndim == 0:
        raise ShapeError(f"{where}: alpha must have at least one axis (the categories), got a 0-d array")
    batch = tuple(alpha.shape[:-1]) if shape is None else normalize_shape(shape, where)
    full = (*batch, alpha.shape[-1])
    _check_broadcast(alpha.shape, full, "alpha", where)
    g = standard_gamma(key, alpha, full, c)
    return (g / g.sum(axis=-1, keepdims=True)).astype(dtype)
