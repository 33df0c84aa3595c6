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

__all__ = ["batch_norm", "embedding", "multi_head_attention", "leaky_relu", "elu", "silu", "hardswish", "hardsigmoid", "hardtanh",
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


def multi_head_attention(query, key, value, num_heads: int, in_weights, in_biases, out_weight, out_bias=None,
                         batch_first: bool = False, attn_mask=None, key_padding_mask=None,
                         need_weights: bool = True, average_attn_weights: bool = True):
    """``nn.MultiheadAttention`` in eval mode: ``(output, weights)`` as Calls (weights None
    where ``need_weights`` is False).

    ``query`` (L, N, E) (``batch_first``: (N, L, E); unbatched: (L, E)), ``key``/``value``
    (S, N, E_k/E_v) likewise; ``in_weights`` the three projections ``(W_q, W_k, W_v)``
    (E, E_*) and ``in_biases`` theirs (or None); ``out_weight`` (E, E). Each head ``h``
    of ``E // num_heads`` features: ``softmax(q_h k_h^T / sqrt(d) + mask) v_h``, the heads
    concatenated and projected. ``attn_mask``: (L, S) or (N * num_heads, L, S), bool (True:
    not attended) or float (added); ``key_padding_mask``: (N, S) (unbatched: (S,)), bool or
    float. The weights are averaged over the heads (``average_attn_weights``) or not.
    """
    qshape, kshape, dtype = tuple(query.type.shape), tuple(key.type.shape), query.type.dtype
    batched = len(qshape) == 3
    if len(qshape) not in (2, 3) or len(kshape) != len(qshape) or len(value.type.shape) != len(qshape):
        raise ShapeError(f"multi_head_attention: expected query, key and value of 3 dimensions (or 2, unbatched), "
                         f"got {qshape}, {kshape}, {tuple(value.type.shape)}")
    if not batched:
        query, key, value = (op("expand_dims", t, axis=0) for t in (query, key, value))
        lq, n, e = qshape[0], 1, qshape[1]
        s_len = kshape[0]
    elif batch_first:
        n, lq, e = qshape
        s_len = kshape[1]
    else:
        lq, n, e = qshape
        s_len = kshape[0]
        query, key, value = (op("transpose", t, axes=(1, 0, 2)) for t in (query, key, value))
    if e % num_heads:
        raise ShapeError(f"multi_head_attention: embed_dim {e} is not divisible by num_heads {num_heads}")
    d = e // num_heads

    def project(x, w, b, length):
        y = op("nn.dense", x, w)
        y = y if b is None else op("add", y, b)
        return op("transpose", op("reshape", y, newshape=(n, length, num_heads, d)), axes=(0, 2, 1, 3))

    (wq, wk, wv), (bq, bk, bv) = in_weights, in_biases if in_biases is not None else (None, None, None)
    q = op("multiply", project(query, wq, bq, lq), np.array(1.0 / math.sqrt(d), dtype))
    k = project(key, wk, bk, s_len)
    v = project(value, wv, bv, s_len)
    scores = op("matmul", q, op("transpose", k, axes=(0, 1, 3, 2)))  # (n, heads, L, S)
    for mask, shape in ((attn_mask, None), (key_padding_mask, "padding")):
        if mask is None:
            continue
        mshape = tuple(mask.shape if isinstance(mask, np.ndarray) else mask.type.shape)
        mdtype = mask.dtype.name if isinstance(mask, np.ndarray) else mask.type.dtype
        if shape == "padding":  # (N, S) -> (N, 1, 1, S)
            target = (n, 1, 1, s_len)
            expected = (n, s_len) if batched else (s_len,)
            if mshape != expected:
                raise ShapeError(f"multi_head_attention: key_padding_mask must have shape {expected}, got {mshape}")
        elif mshape == (lq, s_len):
            target = (1, 1, lq, s_len)
        elif mshape == (n * num_heads, lq, s_len):
            target = (n, num_heads, lq, s_len)
        else:
            raise ShapeError(f"multi_head_attention: attn_mask must have shape {(lq, s_len)} or "
                             f"{(n * num_heads, lq, s_len)}, got {mshape}")
        mask = op("reshape", mask, newshape=target)
        if mdtype == "bool":
            scores = op("where", mask, np.array(-np.inf, dtype), scores)
        else:
            scores = op("add", scores, mask if mdtype == dtype else op("astype", mask, dtype=dtype))
    attn = op("nn.softmax", scores, axis=-1)
    heads = op("matmul", attn, v)  # (n, heads, L, d)
    out = op("reshape", op("transpose", heads, axes=(0, 2, 1, 3)), newshape=(n, lq, e))
    out = op("nn.dense", out, out_weight)
    out = out if out_bias is None else op("add", out, out_bias)
    if not batched:
        out = op("reshape", out, newshape=(lq, e))
    elif not batch_first:
        out = op("transpose", out, axes=(1, 0, 2))
    if not need_weights:
        return out, None
    weights = op("mean", attn, axis=1) if average_attn_weights else attn
    if not batched:
        weights = op("reshape", weights, newshape=(lq, s_len) if average_attn_weights else (num_heads, lq, s_len))
    return out, weights
