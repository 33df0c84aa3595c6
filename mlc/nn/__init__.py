"""``mlc.nn``: neural-network functions (activations, softmax, normalisation, conv, pooling),
losses (``cross_entropy``, ``nll_loss``) and parameter initialisers (``mlc.nn.init``)."""
from . import init
from .functional import (avg_pool2d, conv2d, dense, gelu, layer_norm, log_softmax, max_pool2d, relu,
                         sigmoid, silu, softmax)
from .losses import cross_entropy, nll_loss
from .normalization import batch_norm, batch_stats

__all__ = ["relu", "gelu", "silu", "sigmoid", "softmax", "log_softmax", "layer_norm", "conv2d",
           "max_pool2d", "avg_pool2d", "dense", "cross_entropy", "nll_loss", "batch_norm", "batch_stats",
           "init"]
