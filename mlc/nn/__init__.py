"""``mlc.nn``: neural-network functions (activations, softmax, normalisation, conv, pooling)."""
from .functional import (avg_pool2d, conv2d, dense, gelu, layer_norm, log_softmax, max_pool2d, relu,
                         sigmoid, silu, softmax)

__all__ = ["relu", "gelu", "silu", "sigmoid", "softmax", "log_softmax", "layer_norm", "conv2d",
           "max_pool2d", "avg_pool2d", "dense"]
