"""Neural-network functions: each records one ``nn.*`` registry op.

Like :mod:`mlc.numpy`, they trace inside ``@mlc.jit`` and compile their op
when called eagerly on arrays. Layouts follow PyTorch (NCHW input, OIHW
weight).

>>> import numpy as np, mlc
>>> mlc.nn.relu(np.array([-1.0, 2.0], "float32"))
array([0., 2.], dtype=float32)
"""
from __future__ import annotations

from ..numpy._api import emit, hashable, numpy_function
from ..tracer.operands import as_tracer, as_tracers

__all__ = ["relu", "gelu", "silu", "sigmoid", "softmax", "log_softmax", "layer_norm", "conv2d",
           "max_pool2d", "avg_pool2d", "dense"]


@numpy_function("x")
def relu(x):
    """``max(x, 0)``."""
    return emit("nn.relu", [as_tracer(x)])


@numpy_function("x")
def gelu(x, approximate="none"):
    """GELU: ``x * Phi(x)``; ``approximate="tanh"`` uses the tanh formula."""
    return emit("nn.gelu", [as_tracer(x)], approximate=approximate)


@numpy_function("x")
def silu(x):
    """SiLU (swish): ``x * sigmoid(x)``."""
    return emit("nn.silu", [as_tracer(x)])


@numpy_function("x")
def sigmoid(x):
    """``1 / (1 + exp(-x))``."""
    return emit("sigmoid", [as_tracer(x)])


@numpy_function("x")
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x), axis)``, computed stably."""
    return emit("nn.softmax", [as_tracer(x)], axis=hashable(axis))


@numpy_function("x")
def log_softmax(x, axis=-1):
    """``log(softmax(x, axis))``, computed stably."""
    return emit("nn.log_softmax", [as_tracer(x)], axis=hashable(axis))


@numpy_function("x", "gamma", "beta")
def layer_norm(x, gamma, beta, axis=-1, eps=1e-5):
    """``(x - mean) / sqrt(var + eps) * gamma + beta`` over ``axis``."""
    return emit("nn.layer_norm", as_tracers([x, gamma, beta]), axis=hashable(axis), eps=eps)


@numpy_function("x", "weight")
def conv2d(x, weight, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution, NCHW input and OIHW weight."""
    return emit("nn.conv2d", as_tracers([x, weight]), stride=hashable(stride),
                padding=hashable(padding), dilation=hashable(dilation), groups=groups)


@numpy_function("x")
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """2-D max pooling over NCHW windows (``stride`` defaults to the kernel size)."""
    return emit("nn.max_pool2d", [as_tracer(x)], kernel=hashable(kernel_size), stride=hashable(stride),
                padding=hashable(padding), dilation=hashable(dilation))


@numpy_function("x")
def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """2-D average pooling over NCHW windows."""
    return emit("nn.avg_pool2d", [as_tracer(x)], kernel=hashable(kernel_size), stride=hashable(stride),
                padding=hashable(padding), count_include_pad=count_include_pad)


@numpy_function("x", "weight")
def dense(x, weight):
    """``x @ weight.T`` (weight is (out_features, in_features))."""
    return emit("nn.dense", as_tracers([x, weight]))
