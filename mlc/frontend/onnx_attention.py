"""ONNX's ``Attention`` (opset 23+): scaled dot-product attention with masks, a KV cache and GQA.

Written in registry ops as ONNX defines it: Q and K each scaled by
``sqrt(scale)``, ``Q @ K^T``, the optional softcap, the additive bias (the
attention mask, the causal and sliding-window masks, the padding of
``nonpad_kv_seqlen``, the last three computed at import from the shapes),
softmax over the keys (a row with every key masked gives zeros), ``@ V``.
3-D inputs are split into heads (``q_num_heads``/``kv_num_heads``); a KV
head serves ``q_num_heads // kv_num_heads`` query heads (grouped-query attention).
``past_key``/``past_value`` are prepended to K and V, which are returned as
``present_key``/``present_value``.

>>> import numpy as np, onnx, mlc
>>> from onnx import TensorProto, helper
>>> info = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 1, 2, 4])
>>> graph = helper.make_graph([helper.make_node("Attention", ["q", "k", "v"], ["y"])], "attn",
...                           [info("q"), info("k"), info("v")], [info("y")])
>>> model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
>>> mlc.frontend.from_onnx(model)["main"].outputs[0].type.shape
(1, 1, 2, 4)
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..graph import op
from .onnx_base import _converter, _Importer, _Node, _onnx, _refuse
from .onnx_math import _c, _cast, _x
from .onnx_shape import _static_shape

__all__: list[str] = []


def _heads(x, shape, heads: int):
    """(B, S, H*D) -> (B, H, S, D)."""
    b, s, hidden = shape
    if hidden % heads:
        raise ShapeError(f"Attention: hidden size {hidden} is not a multiple of {heads} heads")
    return op("transpose", op("reshape", x, newshape=(b, s, heads, hidden // heads)), axes=(0, 2, 1, 3))


def _static_bias(q_len: int, kv_len: int, batch: int, causal: bool, left: int, right: int, offset,
                 nonpad) -> np.ndarray | None:
    """The additive bias (0 or -inf) of the causal, sliding-window and padding masks."""
    i = np.arange(q_len).reshape(q_len, 1)
    j = np.arange(kv_len).reshape(1, kv_len)
    per_batch = np.ndim(offset) > 0
    pos = i + (np.reshape(offset, (-1, 1, 1)) if per_batch else int(offset))
    allowed = np.ones(np.broadcast_shapes(pos.shape, j.shape), dtype=bool)
    used = False
    if causal:
        allowed &= j <= pos
        used = True
    if left >= 0:
        allowed &= (pos - j) <= left
        used = True
    if right >= 0:
        allowed &= (j - pos) <= right
        used = True
    if per_batch:
        allowed = allowed.reshape(batch, 1, q_len, kv_len)
    if nonpad is not None:
        pad = (np.arange(kv_len) < np.asarray(nonpad).reshape(-1, 1)).reshape(batch, 1, 1, kv_len)
        allowed = allowed & pad
        used = True
    return np.where(allowed, 0.0, -np.inf) if used else None


@_converter("Attention", inputs=(3, 7), is_causal=0, kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0,
            scale=None, softcap=0.0, softmax_precision=None, left_window_size=-1, right_window_size=-1)
def _attention(im: _Importer, node: _Node):
    at = node.attrs
    q, k, v = _x(im, node), _x(im, node, 1), _x(im, node, 2)
    d = q.type.dtype
    mask = im.optional(node, 3, "attn_mask")
    past_k, past_v = im.optional(node, 4, "past_key"), im.optional(node, 5, "past_value")
    nonpad = im.optional_constant(node, 6, "nonpad_kv_seqlen")
    three_d = q.type.ndim == 3
    if three_d:
        if at["q_num_heads"] is None or at["kv_num_heads"] is None:
            raise _refuse(node, "q_num_heads", at["q_num_heads"], "both head counts for 3-D inputs")
        q = im.emit(_heads(q, _static_shape(node, q), at["q_num_heads"]))
        k = im.emit(_heads(k, _static_shape(node, k), at["kv_num_heads"]))
        v = im.emit(_heads(v, _static_shape(node, v), at["kv_num_heads"]))
    batch, q_heads, q_len, head = _static_shape(node, q)
    scale = at["scale"] if at["scale"] is not None else 1 / np.sqrt(head)
    root = np.array(np.sqrt(scale), dtype=d)
    if past_k is not None:
        k = im.emit(op("concatenate", past_k, k, axis=2))
        v = im.emit(op("concatenate", past_v, v, axis=2))
    present_k, present_v = k, v
    kv_heads, kv_len = k.type.shape[1], k.type.shape[2]
    offset = past_k.type.shape[2] if past_k is not None else (
        np.asarray(nonpad).reshape(-1) - q_len if nonpad is not None else 0)
    # the bias: the attention mask (bool: False is -inf), padded to the keys, plus the static masks
    bias = None
    if mask is not None:
        if mask.type.dtype == "bool":
            mask = op("where", mask, _c(0, d), _c(-np.inf, d))
        mask = im.emit(mask)
        short = kv_len - mask.type.shape[-1]
        if short > 0:
            mask = im.emit(op("pad", mask, pad_width=((0, 0),) * (mask.type.ndim - 1) + ((0, short),),
                              constant_values=float("-inf")))
        bias = mask
    static = _static_bias(q_len, kv_len, batch, bool(at["is_causal"]), at["left_window_size"],
                          at["right_window_size"], offset, nonpad)
    if static is not None:
        static = static.astype(d)
        bias = static if bias is None else im.emit(op("add", bias, static))
    if q_heads != kv_heads:  # grouped-query attention: each KV head repeated for its group
        reps = q_heads // kv_heads
        index = np.repeat(np.arange(kv_heads, dtype=np.int64), reps)
        k = im.emit(op("take", k, index, axis=1))
        v = im.emit(op("take", v, index, axis=1))
    scores = im.emit(op("matmul", op("multiply", q, root),
                        op("transpose", op("multiply", k, root), axes=(0, 1, 3, 2))))
    if at["softcap"] and at["softcap"] > 0:
        cap = _c(at["softcap"], d)
        scores = im.emit(op("multiply", op("tanh", op("divide", scores, cap)), cap))
    qk_out = scores
    biased = scores if bias is None else im.emit(op("add", scores, bias))
    if at["qk_matmul_output_mode"] == 2:
        qk_out = biased
    work = biased
    if at["softmax_precision"] is not None:
        precision = np.dtype(_onnx().helper.tensor_dtype_to_np_dtype(at["softmax_precision"])).name
        work = _cast(im, biased, precision)
    probs = op("nn.softmax", work, axis=3)
    if bias is not None:  # a row with every key masked attends to nothing: zeros, not NaN
        bias_value = im.emit(bias) if isinstance(bias, np.ndarray) else bias
        dead = op("equal", op("max", bias_value, axis=-1, keepdims=True), _c(-np.inf, d))
        probs = op("where", dead, _c(0, im.emit(probs).type.dtype), probs)
    probs = _cast(im, probs, d)
    if at["qk_matmul_output_mode"] == 3:
        qk_out = probs
    y = op("matmul", probs, v)
    if three_d:
        b, h, s, dv = im.emit(y).type.shape
        y = op("reshape", op("transpose", y, axes=(0, 2, 1, 3)), newshape=(b, s, h * dv))
    outputs = [y, present_k, present_v, qk_out]
    return tuple(outputs[:len(node.outputs)])
