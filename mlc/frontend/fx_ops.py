"""PyTorch's layers and activations in registry ops, as ``torch.nn`` defines them (inference).

:mod:`mlc.frontend.fx` calls these for the modules and functions of a traced
model; each takes graph values (and NumPy arrays for weights) and returns a
:class:`~mlc.graph.Call` to emit. They need no torch, so they are tested
against NumPy spellings of PyTorch's formulas everywhere:

>>> import numpy as np, mlc
>>> from mlc.graph import BlockBuilder, Tensor, Var
>>> bb = BlockBuilder(); x = Var("x", Tensor((4,), "float32"))
>>> with bb.function("main", [x]):
...     with bb.dataflow():
...         gv = bb.emit_output(hardtanh(x, 0.0, 6.0))  # ReLU6
...     bb.emit_func_output(gv)
>>> mlc.build(bb.get(), "llvm")["main"](np.array([-1, 3, 6.5, 9], "float32"))
array([0., 3., 6., 6.], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..graph import op

__all__ = ["batch_norm", "embedding", "leaky_relu", "elu", "silu", "hardswish", "hardsigmoid", "hardtanh",
           "softplus", "mish", "log_softmax"]


def _c(value, x) -> np.ndarray:
    return np.array(value, dtype=x.type.dtype)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, eps: float = 1e-5):
    """``BatchNorm{1,2,3}d`` in eval mode: ``(x - mean) / sqrt(var + eps) * weight + bias`` with the
    statistics per channel (axis 1)."""
    if x.type.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input (N, C, ...), got shape {x.type.shape}")
    shape = (1, -1) + (1,) * (x.type.ndim - 2)
    scale = 1.0 / np.sqrt(np.asarray(running_var, np.float64) + eps)
    if weight is not None:
        scale = scale * np.asarray(weight, np.float64)
    shift = -np.asarray(running_mean, np.float64) * scale
    if bias is not None:
        shift = shift + np.asarray(bias, np.float64)
    dtype = x.type.dtype
    return op("add", op("multiply", x, scale.astype(dtype).reshape(shape)), shift.astype(dtype).reshape(shape))


def embedding(indices, weight):
    """``Embedding``: the rows of ``weight`` (num_embeddings, dim) at ``indices`` (any shape)."""
    shape = indices.type.shape
    flat = op("reshape", indices, newshape=(math.prod(shape),))
    rows = op("take", weight, flat, axis=0)
    dim = weight.shape[1] if isinstance(weight, np.ndarray) else weight.type.shape[1]
    return op("reshape", rows, newshape=tuple(shape) + (dim,))


def leaky_relu(x, negative_slope: float = 0.01):
    return op("where", op("less", x, _c(0, x)), op("multiply", x, _c(negative_slope, x)), x)


def elu(x, alpha: float = 1.0):
    return op("where", op("greater", x, _c(0, x)), x, op("multiply", op("expm1", x), _c(alpha, x)))


def silu(x):
    return op("multiply", x, op("sigmoid", x))


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0):
    """``Hardtanh`` (``ReLU6`` is ``hardtanh(x, 0, 6)``): ``x`` clamped to [min_val, max_val]."""
    return op("minimum", op("maximum", x, _c(min_val, x)), _c(max_val, x))


def hardsigmoid(x):
    y = op("add", op("divide", x, _c(6, x)), _c(0.5, x))
    return op("minimum", op("maximum", y, _c(0, x)), _c(1, x))


def hardswish(x):
    return op("multiply", x, hardsigmoid(x))


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``."""
    bx = op("multiply", x, _c(beta, x))
    soft = op("divide", op("logaddexp", bx, _c(0, x)), _c(beta, x))
    return op("where", op("greater", bx, _c(threshold, x)), x, soft)


def mish(x):
    return op("multiply", x, op("tanh", softplus(x)))


def log_softmax(x, dim: int):
    return op("nn.log_softmax", x, axis=dim)
