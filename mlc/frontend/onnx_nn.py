"""ONNX converters for the neural-network ops: normalizations, pooling, LogSoftmax, TopK, Einsum.

Registered into :mod:`mlc.frontend.onnx`'s table when it is imported.
Normalizations are written in registry ops (mean, variance, rsqrt, scale and
shift with the channel axis broadcast), inference mode only:

>>> import numpy as np, onnx, mlc
>>> from onnx import TensorProto, helper
>>> ones = [helper.make_tensor(n, TensorProto.FLOAT, [2], [1, 1]) for n in ("s", "m")]
>>> zeros = [helper.make_tensor(n, TensorProto.FLOAT, [2], [0, 0]) for n in ("b", "mu")]
>>> graph = helper.make_graph(
...     [helper.make_node("BatchNormalization", ["x", "s", "b", "mu", "m"], ["y"], epsilon=0.0)],
...     "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 1, 1])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 1, 1])], ones + zeros)
>>> lib = mlc.build(mlc.frontend.from_onnx(helper.make_model(graph)), "llvm")
>>> lib["main"](np.full((1, 2, 1, 1), 3, "float32")).ravel()
array([3., 3.], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..graph import op
from .common import UnsupportedAttributeError
from .onnx_base import _as_2d, _axis, _ceil_pads, _converter, _Importer, _Node, _onnx, _refuse, _window
from .onnx_math import _c, _cast, _x
from .onnx_shape import _static_shape

__all__: list[str] = []


def _channel(value, ndim: int, axis: int = 1):
    """A per-channel vector shaped to broadcast along ``axis`` of a rank-``ndim`` value."""
    shape = [1] * ndim
    shape[axis] = -1
    return op("reshape", value, newshape=tuple(shape))


def _normalize(x, axes, eps, d):
    """(x - mean) / sqrt(var + eps) over ``axes`` (kept)."""
    mean = op("mean", x, axis=axes, keepdims=True)
    centred = op("subtract", x, mean)
    var = op("mean", op("multiply", centred, centred), axis=axes, keepdims=True)
    return op("divide", centred, op("sqrt", op("add", var, _c(eps, d))))


@_converter("BatchNormalization", inputs=(5, 5), epsilon=1e-5, momentum=0.9, training_mode=0, spatial=1,
            is_test=0, consumed_inputs=None)
def _batch_norm(im: _Importer, node: _Node):
    if node.attrs["training_mode"] or any(node.outputs[1:]):
        raise _refuse(node, "training_mode", 1, "0 (inference, one output)")
    x = _x(im, node)
    d, nd = x.type.dtype, x.type.ndim
    scale, bias, mean, var = (_channel(_x(im, node, i), nd) for i in range(1, 5))
    inv = op("divide", scale, op("sqrt", op("add", var, _c(node.attrs["epsilon"], d))))
    return op("add", op("multiply", op("subtract", x, mean), inv), bias)


@_converter("InstanceNormalization", inputs=(3, 3), epsilon=1e-5)
def _instance_norm(im: _Importer, node: _Node):
    x = _x(im, node)
    d, nd = x.type.dtype, x.type.ndim
    y = _normalize(x, tuple(range(2, nd)), node.attrs["epsilon"], d)
    return op("add", op("multiply", y, _channel(_x(im, node, 1), nd)), _channel(_x(im, node, 2), nd))


@_converter("GroupNormalization", inputs=(3, 3), epsilon=1e-5, num_groups=None, stash_type=1)
def _group_norm(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    d, g = x.type.dtype, node.attrs["num_groups"]
    n, c = shape[:2]
    grouped = op("reshape", x, newshape=(n, g, -1))
    y = op("reshape", _normalize(grouped, (2,), node.attrs["epsilon"], d), newshape=shape)
    scale, bias = _x(im, node, 1), _x(im, node, 2)
    if scale.type.shape[0] != c:  # opset 18: one scale per group
        scale = op("reshape", op("broadcast_to", op("reshape", scale, newshape=(g, 1)), shape=(g, c // g)),
                   newshape=(c,))
        bias = op("reshape", op("broadcast_to", op("reshape", bias, newshape=(g, 1)), shape=(g, c // g)),
                  newshape=(c,))
    return op("add", op("multiply", y, _channel(scale, len(shape))), _channel(bias, len(shape)))


@_converter("MeanVarianceNormalization", axes=(0, 2, 3))
def _mvn(im: _Importer, node: _Node):
    x = _x(im, node)
    axes = tuple(sorted(_axis(node, a, x.type.ndim) for a in node.attrs["axes"]))
    return _normalize(x, axes, 0.0, x.type.dtype)


@_converter("RMSNormalization", inputs=(2, 2), axis=-1, epsilon=1e-5, stash_type=1)
def _rms_norm(im: _Importer, node: _Node):
    x = _x(im, node)
    d = x.type.dtype
    axis = _axis(node, node.attrs["axis"], x.type.ndim)
    axes = tuple(range(axis, x.type.ndim))
    work = _cast(im, x, "float32") if d != "float64" else x
    ms = op("mean", op("multiply", work, work), axis=axes, keepdims=True)
    y = op("divide", work, op("sqrt", op("add", ms, _c(node.attrs["epsilon"], work.type.dtype))))
    return op("multiply", _cast(im, y, d), _x(im, node, 1))


@_converter("LpNormalization", axis=-1, p=2)
def _lp_norm(im: _Importer, node: _Node):
    x = _x(im, node)
    axis = _axis(node, node.attrs["axis"], x.type.ndim)
    p = node.attrs["p"]
    if p == 1:
        norm = op("sum", op("absolute", x), axis=axis, keepdims=True)
    elif p == 2:
        norm = op("sqrt", op("sum", op("multiply", x, x), axis=axis, keepdims=True))
    else:
        raise _refuse(node, "p", p, "1, 2")
    norm = im.emit(norm)
    zero = op("equal", norm, _c(0, x.type.dtype))
    return op("where", zero, _c(0, x.type.dtype), op("divide", x, op("where", zero, _c(1, x.type.dtype), norm)))


@_converter("LogSoftmax", axis=None)
def _log_softmax(im: _Importer, node: _Node):
    x = _x(im, node)
    if node.opset >= 13:
        return op("nn.log_softmax", x, axis=_axis(node, -1 if node.attrs["axis"] is None else node.attrs["axis"],
                                                  x.type.ndim))
    axis = _axis(node, 1 if node.attrs["axis"] is None else node.attrs["axis"], x.type.ndim)
    return op("nn.log_softmax", x, axis=tuple(range(axis, x.type.ndim)))


@_converter("Hardmax", axis=None)
def _hardmax(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    if node.opset < 13:
        axis = _axis(node, 1 if node.attrs["axis"] is None else node.attrs["axis"], len(shape))
        flat = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
        y = op("reshape", x, newshape=flat)
        hot = op("equal", op("argmax", y, axis=1, keepdims=True), np.arange(flat[1], dtype=np.int64))
        return op("reshape", op("astype", hot, dtype=x.type.dtype), newshape=shape)
    axis = _axis(node, -1 if node.attrs["axis"] is None else node.attrs["axis"], len(shape))
    rng = np.arange(shape[axis], dtype=np.int64).reshape([-1 if i == axis else 1 for i in range(len(shape))])
    hot = op("equal", op("argmax", x, axis=axis, keepdims=True), rng)
    return op("astype", hot, dtype=x.type.dtype)


@_converter("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(im: _Importer, node: _Node):
    x = _x(im, node)
    axes = tuple(range(2, x.type.ndim))
    return op("mean" if node.op_type == "GlobalAveragePool" else "max", x, axis=axes, keepdims=True)


@_converter("AveragePool", auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
            kernel_shape=None, pads=None, strides=None)
def _average_pool(im: _Importer, node: _Node):
    at = node.attrs
    x = _x(im, node)
    if x.type.ndim == 3 and not node.two_d:  # 1-D: 2-D pooling over a height of 1
        y = im.emit(_average_pool(im, _as_2d(node, x)))
        return op("reshape", y, newshape=tuple(d for i, d in enumerate(y.type.shape) if i != 2))
    if x.type.ndim != 4 or at["kernel_shape"] is None or len(at["kernel_shape"]) != 2:
        raise UnsupportedAttributeError(f"{node.where()}: 2-D pooling (NCHW input, 2 kernel sizes) is "
                                        f"supported only; the input has shape {x.type.shape}")
    if at["dilations"] and tuple(at["dilations"]) != (1, 1):
        raise _refuse(node, "dilations", at["dilations"], "[1, 1]")
    kernels = tuple(at["kernel_shape"])
    strides, _, pads = _window(node, at, x.type.shape[2:], kernels)
    if at["ceil_mode"]:
        grown = _ceil_pads(node, x.type.shape[2:], kernels, strides, (1, 1), pads)
        if grown != pads and at["count_include_pad"]:  # the extension is no padding ONNX counts
            raise _refuse(node, "ceil_mode", 1, "0, or 1 with count_include_pad=0 (or windows that tile "
                          "the padded input)")
        pads = grown
    return op("nn.avg_pool2d", x, kernel=kernels, stride=strides, padding=pads,
              count_include_pad=bool(at["count_include_pad"]))


@_converter("Einsum", inputs=(1, 1 << 30), equation=None)
def _einsum(im: _Importer, node: _Node):
    eq = node.attrs["equation"].replace(" ", "")
    if "..." in eq:
        raise _refuse(node, "equation", eq, "equations without an ellipsis")
    if "->" not in eq:  # implicit output: the letters seen once, sorted
        letters = eq.replace(",", "")
        eq += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    values = [_x(im, node, i) for i in range(len(node.inputs))]
    return op("einsum", *values, subscripts=eq)


@_converter("TopK", inputs=(2, 2), axis=-1, largest=1, sorted=1)
def _top_k(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    axis = _axis(node, node.attrs["axis"], len(shape))
    k = int(np.asarray(im.constant_input(node.inputs[1], node, "K input")).reshape(-1)[0])
    last = len(shape) - 1
    moved = x if axis == last else op("moveaxis", x, source=axis, destination=last)
    order = im.emit(op("argsort", moved, descending=bool(node.attrs["largest"])))
    starts = (0,) * len(shape)
    idx = op("slice", order, starts=starts, stops=tuple(order.type.shape[:-1]) + (k,),
             steps=(1,) * len(shape))
    idx = im.emit(idx)
    values = op("take_along_axis", moved, idx, axis=last)
    if axis != last:
        values = op("moveaxis", values, source=last, destination=axis)
        idx = op("moveaxis", idx, source=last, destination=axis)
    return values, idx


@_converter("Det")
def _det(im: _Importer, node: _Node):
    x = _x(im, node)
    if x.type.ndim < 2:
        raise ShapeError(f"{node.where()}: expected square matrices, got shape {x.type.shape}")
    return op("det", x)


def _nll(im: _Importer, node: _Node, logp, target, weight):
    """NegativeLogLikelihoodLoss of log-probabilities ``logp`` (N, C, ...) at ``target`` (N, ...)."""
    d, shape = logp.type.dtype, _static_shape(node, logp)
    classes = shape[1]
    target = im.emit(op("astype", target, dtype="int64"))
    rng = np.arange(classes, dtype=np.int64).reshape((1, classes) + (1,) * (len(shape) - 2))
    hot = op("equal", op("expand_dims", target, axis=1), rng)
    picked = op("sum", op("where", hot, logp, _c(0, d)), axis=1)
    ignore = node.attrs["ignore_index"]
    kept = None if ignore is None else op("not_equal", target, _c(ignore, "int64"))
    if weight is not None:
        flat = op("reshape", target, newshape=(int(np.prod(target.type.shape)),))
        wt = op("reshape", op("take", weight, flat, axis=0), newshape=target.type.shape)
        wt = wt if kept is None else op("where", kept, wt, _c(0, d))
    else:
        wt = op("astype", kept, dtype=d) if kept is not None else None
    loss = op("negative", picked) if wt is None else op("negative", op("multiply", picked, wt))
    reduction = node.attrs["reduction"]
    if reduction == "none":
        return loss
    if reduction == "sum":
        return op("sum", loss)
    if reduction != "mean":
        raise _refuse(node, "reduction", reduction, "'none', 'sum', 'mean'")
    if wt is None:
        return op("mean", loss)
    return op("divide", op("sum", loss), op("sum", wt))


@_converter("NegativeLogLikelihoodLoss", inputs=(2, 3), ignore_index=None, reduction="mean")
def _nll_loss(im: _Importer, node: _Node):
    return _nll(im, node, _x(im, node), _x(im, node, 1), im.optional(node, 2, "weight"))


@_converter("SoftmaxCrossEntropyLoss", inputs=(2, 3), ignore_index=None, reduction="mean")
def _softmax_ce(im: _Importer, node: _Node):
    scores = _x(im, node)
    logp = im.emit(op("nn.log_softmax", scores, axis=1))
    loss = _nll(im, node, logp, _x(im, node, 1), im.optional(node, 2, "weights"))
    return (loss, logp) if len(node.outputs) > 1 and node.outputs[1] else loss


def _crop_or_pad(im: _Importer, x, widths):
    """``x`` with ``widths`` (begin, end) per axis: positive pads with zeros, negative crops."""
    shape = x.type.shape
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        x = im.emit(op("slice", x, starts=tuple(max(-lo, 0) for lo, _ in widths),
                       stops=tuple(n - max(-hi, 0) for n, (_, hi) in zip(shape, widths)),
                       steps=(1,) * len(shape)))
    grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in widths)
    return im.emit(op("pad", x, pad_width=grow, constant_values=0)) if any(any(g) for g in grow) else x


@_converter("ConvTranspose", inputs=(2, 3), auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
            output_padding=None, output_shape=None, pads=None, strides=None)
def _conv_transpose(im: _Importer, node: _Node):
    at = node.attrs
    x, w = _x(im, node), _x(im, node, 1)
    if x.type.ndim == 3 and not node.two_d:  # 1-D: 2-D over a height of 1
        y = im.emit(_conv_transpose(im, _as_2d(node, x)))
        return op("reshape", y, newshape=tuple(d for i, d in enumerate(y.type.shape) if i != 2))
    if x.type.ndim != 4:
        raise UnsupportedAttributeError(f"{node.where()}: 1-D and 2-D ConvTranspose are supported; the "
                                        f"input has shape {x.type.shape}")
    n, cin, *sizes = _static_shape(node, x)
    _, cout_g, *kernels = _static_shape(node, w)
    g = at["group"]
    strides = list(at["strides"] or [1, 1])
    dil = list(at["dilations"] or [1, 1])
    out_pad = list(at["output_padding"] or [0, 0])
    spans = [(k - 1) * d + 1 for k, d in zip(kernels, dil)]
    if at["output_shape"] is not None or at["auto_pad"] in ("SAME_UPPER", "SAME_LOWER"):
        target = list(at["output_shape"])[-2:] if at["output_shape"] is not None else \
            [i * s for i, s in zip(sizes, strides)]
        begins, ends = [], []
        for i, s, o, span, t in zip(sizes, strides, out_pad, spans, target):
            total = s * (i - 1) + o + span - t
            small, large = total // 2, total - total // 2
            lower = at["auto_pad"] == "SAME_LOWER"
            begins.append(large if lower else small)
            ends.append(small if lower else large)
        pads = begins + ends
    elif at["auto_pad"] in ("NOTSET", "VALID"):
        pads = list(at["pads"] or [0, 0, 0, 0]) if at["auto_pad"] == "NOTSET" else [0, 0, 0, 0]
    else:
        raise _refuse(node, "auto_pad", at["auto_pad"], "NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    # the input spread by the strides (zeros between elements)
    h, wd = sizes
    sh, sw = strides
    y = x
    if sh > 1 or sw > 1:
        y = op("reshape", x, newshape=(n, cin, h, 1, wd, 1))
        y = op("pad", y, pad_width=((0, 0), (0, 0), (0, 0), (0, sh - 1), (0, 0), (0, sw - 1)), constant_values=0)
        y = op("reshape", y, newshape=(n, cin, h * sh, wd * sw))
        y = im.emit(op("slice", y, starts=(0, 0, 0, 0), stops=(n, cin, (h - 1) * sh + 1, (wd - 1) * sw + 1),
                       steps=(1, 1, 1, 1)))
    widths = [(0, 0), (0, 0)] + [(span - 1 - pads[i], span - 1 - pads[i + 2] + out_pad[i])
                                 for i, span in enumerate(spans)]
    y = _crop_or_pad(im, im.emit(y), widths)
    # the kernel: flipped, input and output channels swapped within each group
    kh, kw = kernels
    k = op("flip", w, axis=(2, 3))
    k = op("reshape", k, newshape=(g, cin // g, cout_g, kh, kw))
    k = op("reshape", op("transpose", k, axes=(0, 2, 1, 3, 4)), newshape=(g * cout_g, cin // g, kh, kw))
    out = op("nn.conv2d", y, k, stride=(1, 1), padding=(0, 0, 0, 0), dilation=tuple(dil), groups=g)
    bias = im.optional(node, 2, "bias B")
    return out if bias is None else op("add", out, op("reshape", bias, newshape=(1, -1, 1, 1)))


@_converter("SwiGLU", inputs=(2, 2), alpha=1.0)
def _swiglu(im: _Importer, node: _Node):
    a, b = _x(im, node), _x(im, node, 1)
    gate = op("sigmoid", op("multiply", a, _c(node.attrs["alpha"], a.type.dtype)))
    return op("multiply", op("multiply", a, gate), b)


@_converter("RotaryEmbedding", inputs=(3, 4), interleaved=0, num_heads=None, rotary_embedding_dim=0)
def _rotary(im: _Importer, node: _Node):
    at = node.attrs
    x = _x(im, node)
    shape = _static_shape(node, x)
    cos, sin = _x(im, node, 1), _x(im, node, 2)
    positions = im.optional(node, 3, "position_ids")
    if positions is not None:  # the caches' rows at each position: (B, S, rd/2)
        pshape = _static_shape(node, positions)
        flat = op("reshape", positions, newshape=(int(np.prod(pshape)),))
        cos = op("reshape", op("take", cos, flat, axis=0), newshape=tuple(pshape) + (cos.type.shape[-1],))
        sin = op("reshape", op("take", sin, flat, axis=0), newshape=tuple(pshape) + (sin.type.shape[-1],))
    if len(shape) == 3:  # (B, S, H*D) -> (B, H, S, D)
        h = at["num_heads"]
        if not h:
            raise _refuse(node, "num_heads", h, "the head count for 3-D inputs")
        x = op("transpose", op("reshape", x, newshape=(shape[0], shape[1], h, shape[2] // h)), axes=(0, 2, 1, 3))
        x = im.emit(x)
    bsz, heads, seq, head = x.type.shape
    rd = at["rotary_embedding_dim"] or head
    half = rd // 2
    cos = op("expand_dims", cos, axis=1)
    sin = op("expand_dims", sin, axis=1)
    full = (0, 0, 0)

    def part(start, stop, step=1):
        return op("slice", x, starts=full + (start,), stops=(bsz, heads, seq, stop), steps=(1, 1, 1, step))

    x1, x2 = (part(0, rd, 2), part(1, rd, 2)) if at["interleaved"] else (part(0, half), part(half, rd))
    r1 = op("subtract", op("multiply", x1, cos), op("multiply", x2, sin))
    r2 = op("add", op("multiply", x2, cos), op("multiply", x1, sin))
    if at["interleaved"]:
        rot = op("reshape", op("stack", r1, r2, axis=4), newshape=(bsz, heads, seq, rd))
    else:
        rot = op("concatenate", r1, r2, axis=3)
    y = rot if rd == head else op("concatenate", rot, part(rd, head), axis=3)
    if len(shape) == 3:
        y = op("reshape", op("transpose", y, axes=(0, 2, 1, 3)), newshape=shape)
    return y


def _per_axis(node: _Node, param, x, block: int):
    """A scale or zero point laid out to broadcast against ``x``: one value (per tensor), one
    per index of ``axis`` (per axis) or one per ``block`` indices of it (blocked)."""
    if param is None:
        return None
    nd = x.type.ndim
    if param.type.ndim == 1 and nd > 1 and param.type.shape[0] > 1:  # per axis
        return _reshape_axis(param, nd, _axis(node, node.attrs["axis"], nd))
    if param.type.ndim == nd and nd and param.type.shape != x.type.shape:  # blocked
        axis = _axis(node, node.attrs["axis"], nd)
        index = np.repeat(np.arange(param.type.shape[axis], dtype=np.int64), block)[:x.type.shape[axis]]
        return op("take", param, index, axis=axis)
    return param


@_converter("DequantizeLinear", inputs=(2, 3), axis=1, block_size=0, output_dtype=0, precision=0)
def _dequantize(im: _Importer, node: _Node):
    x, scale = _x(im, node), _x(im, node, 1)
    d = scale.type.dtype
    scale = _per_axis(node, scale, x, node.attrs["block_size"])
    zero = _per_axis(node, im.optional(node, 2, "zero point"), x, node.attrs["block_size"])
    centred = op("astype", x, dtype="int32") if zero is None else \
        op("subtract", op("astype", x, dtype="int32"), op("astype", zero, dtype="int32"))
    return op("multiply", op("astype", centred, dtype=d), scale)


def _saturate(value, dtype: str):
    """``value`` (float) rounded half to even, clamped to ``dtype``'s range, as ``dtype``."""
    info = np.iinfo(dtype)
    clamped = op("minimum", op("maximum", op("rint", value), np.array(info.min, "float32")),
                 np.array(info.max, "float32"))
    return op("astype", clamped, dtype=dtype)


@_converter("QuantizeLinear", inputs=(2, 3), axis=1, block_size=0, output_dtype=0, precision=0, saturate=1)
def _quantize(im: _Importer, node: _Node):
    x, scale = _x(im, node), _x(im, node, 1)
    zero = im.optional(node, 2, "zero point")
    if zero is not None:
        out = zero.type.dtype
    elif node.attrs["output_dtype"]:
        out = np.dtype(_onnx().helper.tensor_dtype_to_np_dtype(node.attrs["output_dtype"])).name
    else:
        out = "uint8"
    if out not in ("int8", "uint8", "int16", "uint16", "int32", "uint32"):
        raise _refuse(node, "the output type", out, "int8, uint8, int16, uint16, int32, uint32")
    block = node.attrs["block_size"]
    scale = _cast(im, _per_axis(node, scale, x, block), "float32")
    y = op("rint", op("divide", _cast(im, x, "float32"), scale))
    zero = _per_axis(node, zero, x, block)
    if zero is not None:
        y = op("add", y, op("astype", zero, dtype="float32"))
    return _saturate(y, out)


@_converter("DynamicQuantizeLinear")
def _dynamic_quantize(im: _Importer, node: _Node):
    """uint8 quantization with the scale and zero point of ``x``'s range (0 included)."""
    x = _cast(im, _x(im, node), "float32")
    hi = op("maximum", op("max", x), np.array(0, "float32"))
    lo = op("minimum", op("min", x), np.array(0, "float32"))
    scale = im.emit(op("divide", op("subtract", hi, lo), np.array(255, "float32")))
    zero = im.emit(_saturate(op("divide", op("negative", lo), scale), "uint8"))
    y = _saturate(op("add", op("rint", op("divide", x, scale)), op("astype", zero, dtype="float32")), "uint8")
    return y, scale, zero


@_converter("MatMulInteger", inputs=(2, 4))
def _matmul_integer(im: _Importer, node: _Node):
    a, b = (op("astype", _x(im, node, i), dtype="int32") for i in (0, 1))
    za, zb = im.optional(node, 2, "a_zero_point"), im.optional(node, 3, "b_zero_point")
    if za is not None:
        a = op("subtract", a, op("astype", za, dtype="int32") if za.type.ndim == 0 or za.type.shape == (1,)
               else op("reshape", op("astype", za, dtype="int32"), newshape=(-1, 1)))
    if zb is not None:
        b = op("subtract", b, op("astype", zb, dtype="int32"))
    return op("matmul", a, b)


@_converter("QLinearMatMul", inputs=(8, 8))
def _qlinear_matmul(im: _Importer, node: _Node):
    a, sa, za, b, sb, zb, sy, zy = (_x(im, node, i) for i in range(8))

    def real(q, scale, zero):
        centred = op("subtract", op("astype", q, dtype="float32"), op("astype", zero, dtype="float32"))
        return op("multiply", centred, _cast(im, scale, "float32"))
    y = op("matmul", real(a, sa, za), real(b, sb, zb))
    y = op("add", op("rint", op("divide", y, _cast(im, sy, "float32"))), op("astype", zy, dtype="float32"))
    return _saturate(y, zy.type.dtype)


def _reshape_axis(value, ndim: int, axis: int):
    shape = [1] * ndim
    shape[axis] = -1
    return op("reshape", value, newshape=tuple(shape))


@_converter("LRN", alpha=1e-4, beta=0.75, bias=1.0, size=None)
def _lrn(im: _Importer, node: _Node):
    """``x / (bias + alpha / size * sum of x^2 over the size channels around c) ** beta``."""
    at = node.attrs
    x = _x(im, node)
    shape = _static_shape(node, x)
    d, c, size = x.type.dtype, shape[1], at["size"]
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    squares = im.emit(op("pad", op("multiply", x, x), pad_width=((0, 0), (lo, hi)) + ((0, 0),) * (len(shape) - 2),
                         constant_values=0))
    window = None
    for k in range(size):
        part = op("slice", squares, starts=(0, k) + (0,) * (len(shape) - 2),
                  stops=(shape[0], k + c) + tuple(shape[2:]), steps=(1,) * len(shape))
        window = part if window is None else op("add", window, part)
    scale = op("add", op("multiply", window, _c(at["alpha"] / size, d)), _c(at["bias"], d))
    return op("divide", x, op("power", scale, _c(at["beta"], d)))


@_converter("ConvInteger", inputs=(2, 4), auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
            pads=None, strides=None)
def _conv_integer(im: _Importer, node: _Node):
    """Conv of (x - x_zero_point) and (w - w_zero_point) in int32."""
    x, w = (op("astype", _x(im, node, i), dtype="int32") for i in (0, 1))
    zx, zw = im.optional(node, 2, "x_zero_point"), im.optional(node, 3, "w_zero_point")
    if zx is not None:
        x = op("subtract", x, op("astype", zx, dtype="int32"))
    if zw is not None:
        zw = op("astype", zw, dtype="int32")
        w = op("subtract", w, zw if im.emit(zw).type.ndim == 0 or im.emit(zw).type.shape == (1,)
               else op("reshape", zw, newshape=(-1, 1, 1, 1)))
    x, w = im.emit(x), im.emit(w)
    at = node.attrs
    strides, dilations, pads = _window(node, at, x.type.shape[2:], tuple(w.type.shape[2:]))
    return op("nn.conv2d", x, w, stride=strides, padding=pads, dilation=dilations, groups=at["group"])
