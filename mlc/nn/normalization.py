"""Batch normalisation, functional: statistics of the batch, or running ones given.

>>> import numpy as np
>>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
>>> batch_norm(x, np.ones(2), np.zeros(2), eps=0.0)
array([[-1., -1.],
       [ 1.,  1.]])
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError

def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _ndim(x) -> int:
    return len(_shape(x))


__all__ = ["batch_norm", "batch_stats"]


def _channel_shape(x, axis: int, where: str) -> tuple[int, tuple[int, ...]]:
    ndim = _ndim(x)
    axis = axis + ndim if axis < 0 else axis
    if ndim < 2 or not 0 <= axis < ndim:
        raise ShapeError(f"mlc.nn.{where}: needs an input of at least 2 dimensions with the "
                         f"channels along axis {axis}, got shape {tuple(_shape(x))}")
    shape = [1] * ndim
    shape[axis] = _shape(x)[axis]
    return axis, tuple(shape)


def batch_stats(x, axis: int = 1):
    """The mean and (biased) variance of each channel of ``x`` (channels along ``axis``),
    over every other axis: what :func:`batch_norm` normalises with in training."""
    axis, _ = _channel_shape(x, axis, "batch_stats")
    others = tuple(a for a in range(_ndim(x)) if a != axis)
    mean = np.mean(x, axis=others)
    centered = x - np.expand_dims(mean, others)
    return mean, np.mean(centered * centered, axis=others)


def batch_norm(x, gamma, beta, running_mean=None, running_var=None, axis: int = 1, eps: float = 1e-5):
    """``(x - mean) / sqrt(var + eps) * gamma + beta`` per channel (channels along ``axis``:
    NCHW or (batch, features)), as ``torch.nn.functional.batch_norm``.

    In training (no running statistics) ``mean`` and ``var`` are the batch's
    (:func:`batch_stats`), and the gradient flows through them; with
    ``running_mean`` and ``running_var`` (evaluation) those are used.
    """
    axis, shape = _channel_shape(x, axis, "batch_norm")
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        if v is not None and tuple(_shape(v)) != (shape[axis],):
            raise ShapeError(f"mlc.nn.batch_norm: {name} of shape {tuple(_shape(v))} where "
                             f"{(shape[axis],)} was expected (one value per channel of axis {axis})")
    if (running_mean is None) != (running_var is None):
        raise ShapeError("mlc.nn.batch_norm: pass both running_mean and running_var, or neither")
    if running_mean is None:
        mean, var = batch_stats(x, axis)
    else:
        mean, var = running_mean, running_var
    scale = gamma / np.sqrt(var + eps)
    return (x - np.reshape(mean, shape)) * np.reshape(scale, shape) + np.reshape(beta, shape)
