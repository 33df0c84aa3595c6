"""Parameter initialisers drawing from a key (:mod:`mlc.random`), as ``torch.nn.init``'s.

>>> import mlc.random as mr
>>> w = kaiming_uniform(mr.key(0), (64, 256))       # a 64 -> 256 layer used as x @ w
>>> w.shape, w.dtype, bool(abs(w).max() <= 1 / 8)
((64, 256), dtype('float32'), True)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..random import normal, uniform

__all__ = ["fan_in", "kaiming_uniform", "kaiming_normal", "glorot_uniform", "zeros"]


def fan_in(shape) -> int:
    """Inputs per output of a weight: ``shape[0]`` for a matrix used as ``x @ w`` (in, out);
    ``prod(shape[1:])`` for a convolution's OIHW weight (3 or more axes)."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ShapeError(f"mlc.nn.init: a weight has at least 2 axes, got shape {shape}; "
                         "initialise biases with zeros(shape)")
    return shape[0] if len(shape) == 2 else math.prod(shape[1:])


def _fan_out(shape) -> int:
    return shape[1] if len(shape) == 2 else shape[0] * math.prod(shape[2:])


def kaiming_uniform(key, shape, dtype="float32", fan=None):
    """Uniform in ``±1/sqrt(fan_in)``: PyTorch's default for ``Linear`` and ``Conv2d`` weights
    (``kaiming_uniform_`` with ``a=sqrt(5)``)."""
    bound = 1.0 / math.sqrt(fan if fan is not None else fan_in(shape))
    return uniform(key, tuple(shape), dtype, -bound, bound)


def kaiming_normal(key, shape, dtype="float32", fan=None):
    """Normal with standard deviation ``sqrt(2 / fan_in)`` (He et al., for ReLU networks)."""
    std = math.sqrt(2.0 / (fan if fan is not None else fan_in(shape)))
    return (normal(key, tuple(shape), dtype) * np.asarray(std, dtype)).astype(dtype)


def glorot_uniform(key, shape, dtype="float32"):
    """Uniform in ``±sqrt(6 / (fan_in + fan_out))`` (Glorot and Bengio)."""
    bound = math.sqrt(6.0 / (fan_in(shape) + _fan_out(tuple(shape))))
    return uniform(key, tuple(shape), dtype, -bound, bound)


def zeros(shape, dtype="float32"):
    """Zeros: biases, and batch norm's ``beta``."""
    return np.zeros(tuple(shape), dtype)
