"""Losses on logits: cross-entropy and the negative log-likelihood, NumPy code that traces.

Written with NumPy's functions and :func:`~mlc.nn.log_softmax`, they run
eagerly on arrays and trace inside ``@mlc.jit``; their gradients come from
the rules of the ops they use.

>>> import numpy as np
>>> logits = np.array([[2.0, 0.0], [0.0, 0.0]], "float32")
>>> round(float(cross_entropy(logits, np.array([0, 1]))), 5)
0.41004
"""
from __future__ import annotations

import numpy as np

from ..errors import MLCError, ShapeError
from .functional import log_softmax

def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _dtype(x):
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype


def _ndim(x) -> int:
    return len(_shape(x))


__all__ = ["cross_entropy", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(losses, reduction: str, where: str):
    if reduction == "mean":
        return np.mean(losses)
    if reduction == "sum":
        return np.sum(losses)
    if reduction == "none":
        return losses
    raise MLCError(f"mlc.nn.{where}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def nll_loss(log_probs, labels, axis: int = 1, reduction: str = "mean"):
    """The negative log-likelihood of integer class ``labels`` under ``log_probs`` (classes
    along ``axis``; ``labels`` has the other axes), as ``torch.nn.functional.nll_loss``."""
    ndim = _ndim(log_probs)
    axis = axis + ndim if axis < 0 else axis
    if not 0 <= axis < ndim:
        raise ShapeError(f"mlc.nn.nll_loss: axis {axis} is out of range for log-probabilities "
                         f"of {ndim} dimensions")
    want = tuple(_shape(log_probs)[:axis] + _shape(log_probs)[axis + 1:])
    if tuple(_shape(labels)) != want:
        raise ShapeError(f"mlc.nn.nll_loss: labels of shape {tuple(_shape(labels))} where "
                         f"{want} was expected (log-probabilities {tuple(_shape(log_probs))}, "
                         f"classes along axis {axis}); pass one integer class per example")
    if not np.issubdtype(_dtype(labels), np.integer):
        raise MLCError(f"mlc.nn.nll_loss: labels must be integer class indices, got dtype {_dtype(labels)}; "
                       "for probabilities use cross_entropy(logits, targets)")
    picked = np.take_along_axis(log_probs, np.expand_dims(labels, axis), axis=axis)
    return _reduce(-np.squeeze(picked, axis=axis), reduction, "nll_loss")


def cross_entropy(logits, labels, axis: int = 1, reduction: str = "mean"):
    """Cross-entropy of ``logits`` (classes along ``axis``, default 1: ``(batch, classes)``)
    and ``labels``: integer class indices (the other axes' shape), or probabilities of the
    logits' shape (soft targets), as ``torch.nn.functional.cross_entropy``.

    ``reduction``: "mean" (default), "sum" or "none" (one loss per example).
    """
    log_probs = log_softmax(logits, axis=axis)
    if tuple(_shape(labels)) == tuple(_shape(logits)) and not np.issubdtype(_dtype(labels), np.integer):
        return _reduce(-np.sum(labels * log_probs, axis=axis), reduction, "cross_entropy")
    return nll_loss(log_probs, labels, axis=axis, reduction=reduction)
