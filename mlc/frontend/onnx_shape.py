"""ONNX converters that move, select and make data: Cast, Shape, Slice, Gather, Expand, Pad...

Registered into :mod:`mlc.frontend.onnx`'s table when it is imported. Values
such an op needs while importing (a Slice's starts, an Expand's shape) come
from initializers, Constant nodes or import-time arithmetic on them (the
importer folds nodes whose inputs are all known); a model input used that
way is given with ``from_onnx(..., input_values=...)``.

>>> import numpy as np, onnx, mlc
>>> from onnx import TensorProto, helper
>>> graph = helper.make_graph(
...     [helper.make_node("Unsqueeze", ["x", "axes"], ["y"])], "unsqueeze",
...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
...     [helper.make_tensor("axes", TensorProto.INT64, [1], [0])])
>>> mlc.frontend.from_onnx(helper.make_model(graph))["main"].outputs[0].type.shape
(1, 3)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..graph import op
from ..ir import dtype as dt
from .common import UnsupportedAttributeError
from .onnx_base import _axis, _converter, _Importer, _Node, _onnx, _refuse
from .onnx_math import _c, _cast, _x

__all__: list[str] = []


def _np_dtype(node: _Node, to: int) -> str:
    onnx = _onnx()
    try:
        name = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(to)).name
    except Exception:  # noqa: BLE001 - an ONNX type NumPy has no name for
        name = str(to)
    if name not in dt.SUPPORTED:
        raise _refuse(node, "to", name, "bool, integer and float16/32/64 types")
    return name


def _static_shape(node: _Node, value) -> tuple[int, ...]:
    shape = value.type.shape
    if not all(isinstance(d, (int, np.integer)) for d in shape):
        raise UnsupportedAttributeError(f"{node.where()}: needs the static shape of its input, which "
                                        f"is {shape}")
    return tuple(int(d) for d in shape)


@_converter("Cast", to=None, saturate=1, round_mode="up")
def _cast_node(im: _Importer, node: _Node):
    x = _x(im, node)
    to = _np_dtype(node, node.attrs["to"])
    return op("astype", x, dtype=dt.canonical(to))


@_converter("CastLike", inputs=(2, 2), saturate=1, round_mode="up")
def _cast_like(im: _Importer, node: _Node):
    if node.inputs[0] in im.static:  # a known value: known in the other input's dtype too
        target = im.value(node.inputs[1], node, "input 1").type.dtype
        im.static[node.outputs[0]] = im.static[node.inputs[0]].astype(target)
        return None
    return op("astype", _x(im, node), dtype=_x(im, node, 1).type.dtype)


@_converter("Shape", start=0, end=None)
def _shape(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    im.static[node.outputs[0]] = np.array(shape[node.attrs["start"]:node.attrs["end"]], dtype=np.int64)
    return None


@_converter("Size")
def _size(im: _Importer, node: _Node):
    im.static[node.outputs[0]] = np.array(math.prod(_static_shape(node, _x(im, node))), dtype=np.int64)
    return None


@_converter("ConstantOfShape", value=None)
def _constant_of_shape(im: _Importer, node: _Node):
    shape = im.constant_input(node.inputs[0], node, "shape input").reshape(-1)
    value = node.attrs["value"]
    fill = np.zeros(1, np.float32) if value is None else _onnx().numpy_helper.to_array(value).reshape(-1)
    im.static[node.outputs[0]] = np.full(tuple(int(d) for d in shape), fill[0], dtype=fill.dtype)
    return None


def _axes_of(im: _Importer, node: _Node, ndim: int, opset_input: int):
    axes = im.optional_constant(node, 1, "axes input") if node.opset >= opset_input else node.attrs["axes"]
    if axes is None:
        return None
    return sorted(_axis(node, int(a), ndim) for a in np.asarray(axes).reshape(-1))


@_converter("Unsqueeze", inputs=(1, 2), axes=None)
def _unsqueeze(im: _Importer, node: _Node):
    x = _x(im, node)
    raw = im.optional_constant(node, 1, "axes input") if node.opset >= 13 else node.attrs["axes"]
    if raw is None:
        raise ShapeError(f"{node.where()}: axes are required")
    raw = [int(a) for a in np.asarray(raw).reshape(-1)]
    ndim = x.type.ndim + len(raw)
    axes = sorted(_axis(node, a, ndim) for a in raw)
    shape, it = [], iter(x.type.shape)
    for i in range(ndim):
        shape.append(1 if i in axes else next(it))
    return op("reshape", x, newshape=tuple(shape))


@_converter("Squeeze", inputs=(1, 2), axes=None)
def _squeeze(im: _Importer, node: _Node):
    x = _x(im, node)
    axes = _axes_of(im, node, x.type.ndim, 13)
    shape = x.type.shape
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    for a in axes:
        if shape[a] != 1:
            raise ShapeError(f"{node.where()}: axis {a} has size {shape[a]}, not 1")
    return op("reshape", x, newshape=tuple(d for i, d in enumerate(shape) if i not in axes))


@_converter("Expand", inputs=(2, 2))
def _expand(im: _Importer, node: _Node):
    x = _x(im, node)
    target = tuple(int(d) for d in im.constant_input(node.inputs[1], node, "shape input").reshape(-1))
    try:
        shape = np.broadcast_shapes(tuple(x.type.shape), target)
    except ValueError:
        raise ShapeError(f"{node.where()}: shape {target} does not broadcast with the input's "
                         f"{x.type.shape}") from None
    return op("broadcast_to", x, shape=tuple(shape)) if shape != x.type.shape else op("astype", x, dtype=x.type.dtype)


@_converter("Tile", inputs=(2, 2))
def _tile(im: _Importer, node: _Node):
    x = _x(im, node)
    reps = [int(r) for r in im.constant_input(node.inputs[1], node, "repeats input").reshape(-1)]
    shape = _static_shape(node, x)
    if len(reps) != len(shape):
        raise ShapeError(f"{node.where()}: repeats {reps} must have one entry per dimension of {shape}")
    inner = tuple(v for d in shape for v in (1, d))
    wide = tuple(v for r, d in zip(reps, shape) for v in (r, d))
    y = op("broadcast_to", op("reshape", x, newshape=inner), shape=wide)
    return op("reshape", y, newshape=tuple(r * d for r, d in zip(reps, shape)))


def _slice_call(x, shape, ranges):
    """``x[lo:hi:step, ...]`` from per-axis normalised (lo, hi, step)."""
    starts, stops, steps = [], [], []
    for n, (lo, hi, step) in zip(shape, ranges):
        starts.append(lo)
        stops.append(None if hi < 0 else hi)  # (a negative step ending before index 0)
        steps.append(step)
    return op("slice", x, starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))


@_converter("Slice", inputs=(1, 5), starts=None, ends=None, axes=None)
def _slice(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    if node.opset >= 10:
        starts = im.constant_input(node.inputs[1], node, "starts input")
        ends = im.constant_input(node.inputs[2], node, "ends input")
        axes = im.optional_constant(node, 3, "axes input")
        steps = im.optional_constant(node, 4, "steps input")
    else:
        starts, ends, axes, steps = node.attrs["starts"], node.attrs["ends"], node.attrs["axes"], None
    starts = [int(v) for v in np.asarray(starts).reshape(-1)]
    ends = [int(v) for v in np.asarray(ends).reshape(-1)]
    axes = list(range(len(starts))) if axes is None else [_axis(node, int(a), len(shape))
                                                         for a in np.asarray(axes).reshape(-1)]
    steps = [1] * len(starts) if steps is None else [int(s) for s in np.asarray(steps).reshape(-1)]
    ranges = [(0, n, 1) for n in shape]
    for a, lo, hi, step in zip(axes, starts, ends, steps):
        if step == 0:
            raise ShapeError(f"{node.where()}: a step of 0")
        ranges[a] = _onnx_range(lo, hi, step, shape[a])
    return _slice_call(x, shape, ranges)


def _onnx_range(start: int, end: int, step: int, n: int) -> tuple[int, int, int]:
    """(start, end, step) normalised as ONNX's Slice does: negative values count from the end,
    then starts and ends are clamped to [0, n] (positive steps) or start to [0, n - 1] and end
    to [-1, n - 1] (negative steps). Python's slice differs: it empties ``x[-5::-1]`` of a
    shorter axis, which ONNX clamps to start at 0."""
    if n == 0:
        return (0, 0, 1)
    start = start + n if start < 0 else start
    end = end + n if end < 0 else end
    if step > 0:
        return (min(max(start, 0), n), min(max(end, 0), n), step)
    return (min(max(start, 0), n - 1), min(max(end, -1), n - 1), step)


def _take(x, shape, indices, axis):
    """``np.take(x, indices, axis)`` for indices of any rank."""
    idx_shape = indices.type.shape
    flat = op("reshape", indices, newshape=(math.prod(idx_shape),)) if len(idx_shape) != 1 else indices
    y = op("take", x, flat, axis=axis)
    out = tuple(shape[:axis]) + tuple(idx_shape) + tuple(shape[axis + 1:])
    return y if len(idx_shape) == 1 else op("reshape", y, newshape=out)


@_converter("Gather", inputs=(2, 2), axis=0)
def _gather(im: _Importer, node: _Node):
    x, idx = _x(im, node), _x(im, node, 1)
    shape = _static_shape(node, x)
    return _take(x, shape, idx, _axis(node, node.attrs["axis"], len(shape)))


@_converter("GatherElements", inputs=(2, 2), axis=0)
def _gather_elements(im: _Importer, node: _Node):
    x, idx = _x(im, node), _x(im, node, 1)
    return op("take_along_axis", x, idx, axis=_axis(node, node.attrs["axis"], x.type.ndim))


@_converter("Split", inputs=(1, 2), axis=0, split=None, num_outputs=None)
def _split(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    axis = _axis(node, node.attrs["axis"], len(shape))
    sizes = im.optional_constant(node, 1, "split input") if node.opset >= 13 else node.attrs["split"]
    count = len([o for o in node.outputs])
    n = shape[axis]
    if sizes is None:
        parts = node.attrs["num_outputs"] or count
        size = -(-n // parts)
        sizes = [min(size, n - i * size) for i in range(parts)]
    sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
    if sum(sizes) != n:
        raise ShapeError(f"{node.where()}: split sizes {sizes} do not add up to the axis' size {n}")
    out, lo = [], 0
    for s in sizes:
        ranges = [(0, d, 1) for d in shape]
        ranges[axis] = (lo, lo + s, 1)
        out.append(_slice_call(x, shape, ranges))
        lo += s
    return tuple(out)


@_converter("Pad", inputs=(1, 4), mode="constant", pads=None, value=0.0)
def _pad(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    ndim = len(shape)
    at = node.attrs
    if node.opset >= 11:
        pads = im.constant_input(node.inputs[1], node, "pads input")
        value = im.optional_constant(node, 2, "constant_value input")
        axes = im.optional_constant(node, 3, "axes input")
    else:
        pads, value, axes = at["pads"], at["value"], None
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    axes = list(range(ndim)) if axes is None else [_axis(node, int(a), ndim) for a in np.asarray(axes).reshape(-1)]
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"{node.where()}: pads {pads} must have two entries per padded axis {axes}")
    widths = [[0, 0] for _ in range(ndim)]
    for i, a in enumerate(axes):
        widths[a] = [pads[i], pads[i + len(axes)]]
    mode = at["mode"]
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise _refuse(node, "mode", mode, "'constant', 'reflect', 'edge', 'wrap'")
    # negative widths crop first
    ranges = [(max(-lo, 0), n - max(-hi, 0), 1) for n, (lo, hi) in zip(shape, widths)]
    y = x
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        y = im.emit(_slice_call(x, shape, ranges))
        shape = tuple(r[1] - r[0] for r in ranges)
        widths = [[max(lo, 0), max(hi, 0)] for lo, hi in widths]
    if mode == "constant":
        fill = 0 if value is None else np.asarray(value).reshape(-1)[0].item()
        return op("pad", y, pad_width=tuple(tuple(w) for w in widths), constant_values=fill)
    for a, (lo, hi) in enumerate(widths):
        if lo or hi:
            idx = np.pad(np.arange(shape[a]), (lo, hi), mode={"edge": "edge", "reflect": "reflect",
                                                            "wrap": "wrap"}[mode]).astype(np.int64)
            y = op("take", y, idx, axis=a)
            shape = tuple(len(idx) if i == a else d for i, d in enumerate(shape))
    return y


@_converter("Trilu", inputs=(1, 2), upper=1)
def _trilu(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    k = im.optional_constant(node, 1, "k input")
    k = 0 if k is None else int(np.asarray(k).reshape(-1)[0])
    ones = np.ones(shape[-2:], dtype=bool)
    mask = np.triu(ones, k) if node.attrs["upper"] else np.tril(ones, k)
    return op("where", mask, x, _c(0, x.type.dtype))


@_converter("CumSum", "CumProd", inputs=(2, 2), exclusive=0, reverse=0)
def _cumsum(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    axis = _axis(node, int(np.asarray(im.constant_input(node.inputs[1], node, "axis input")).reshape(-1)[0]),
                 len(shape))
    y = op("flip", x, axis=(axis,)) if node.attrs["reverse"] else x
    product = node.op_type == "CumProd"
    y = _cast(im, op("cumprod" if product else "cumsum", y, axis=axis), x.type.dtype)
    if node.attrs["exclusive"]:
        widths = tuple((1, 0) if i == axis else (0, 0) for i in range(len(shape)))
        ranges = [(0, d, 1) for d in shape]
        ranges[axis] = (0, shape[axis] - 1, 1) if shape[axis] else (0, 0, 1)
        y = op("pad", _slice_call(y, shape, ranges), pad_width=widths, constant_values=1 if product else 0)
    return op("flip", y, axis=(axis,)) if node.attrs["reverse"] else y


@_converter("Range", inputs=(3, 3))
def _range(im: _Importer, node: _Node):
    start, limit, delta = (np.asarray(im.constant_input(n, node, w)) for n, w in
                           zip(node.inputs, ("start", "limit", "delta")))
    im.static[node.outputs[0]] = np.arange(start.item(), limit.item(), delta.item()).astype(start.dtype)
    return None


@_converter("EyeLike", dtype=None, k=0)
def _eye_like(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    dtype = x.type.dtype if node.attrs["dtype"] is None else _np_dtype(node, node.attrs["dtype"])
    im.static[node.outputs[0]] = np.eye(shape[0], shape[1], k=node.attrs["k"], dtype=dtype)
    return None


@_converter("OneHot", inputs=(3, 3), axis=-1)
def _one_hot(im: _Importer, node: _Node):
    idx = _x(im, node)
    depth = int(np.asarray(im.constant_input(node.inputs[1], node, "depth input")).reshape(-1)[0])
    values = _x(im, node, 2)
    ndim = idx.type.ndim + 1
    axis = _axis(node, node.attrs["axis"], ndim)
    idx = op("astype", idx, dtype="int64")
    idx = op("where", op("less", idx, _c(0, "int64")), op("add", idx, _c(depth, "int64")), idx)
    shape = [1] * ndim
    shape[axis] = depth
    hot = op("equal", op("expand_dims", idx, axis=axis), np.arange(depth, dtype=np.int64).reshape(shape))
    off = op("take", values, np.array([0], np.int64), axis=0)
    on = op("take", values, np.array([1], np.int64), axis=0)
    return op("where", hot, on, off)


@_converter("DepthToSpace", blocksize=None, mode="DCR")
def _depth_to_space(im: _Importer, node: _Node):
    x = _x(im, node)
    n, c, h, w = _static_shape(node, x)
    b = node.attrs["blocksize"]
    if node.attrs["mode"] == "DCR":
        y = op("reshape", x, newshape=(n, b, b, c // b // b, h, w))
        y = op("transpose", y, axes=(0, 3, 4, 1, 5, 2))
    else:
        y = op("reshape", x, newshape=(n, c // b // b, b, b, h, w))
        y = op("transpose", y, axes=(0, 1, 4, 2, 5, 3))
    return op("reshape", y, newshape=(n, c // b // b, h * b, w * b))


@_converter("SpaceToDepth", blocksize=None)
def _space_to_depth(im: _Importer, node: _Node):
    x = _x(im, node)
    n, c, h, w = _static_shape(node, x)
    b = node.attrs["blocksize"]
    y = op("reshape", x, newshape=(n, c, h // b, b, w // b, b))
    y = op("transpose", y, axes=(0, 3, 5, 1, 2, 4))
    return op("reshape", y, newshape=(n, c * b * b, h // b, w // b))


@_converter("CenterCropPad", inputs=(2, 2), axes=None)
def _center_crop_pad(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    target = [int(t) for t in im.constant_input(node.inputs[1], node, "shape input").reshape(-1)]
    axes = list(range(len(shape))) if node.attrs["axes"] is None else \
        [_axis(node, a, len(shape)) for a in node.attrs["axes"]]
    ranges, widths = [(0, n, 1) for n in shape], [(0, 0)] * len(shape)
    for a, t in zip(axes, target):
        n = shape[a]
        if t < n:  # crop the middle
            lo = (n - t) // 2
            ranges[a] = (lo, lo + t, 1)
        elif t > n:  # pad around
            lo = (t - n) // 2
            widths[a] = (lo, t - n - lo)
    y = im.emit(_slice_call(x, shape, ranges))
    return op("pad", y, pad_width=tuple(widths), constant_values=0) if any(any(w) for w in widths) else y


@_converter("GatherND", inputs=(2, 2), batch_dims=0)
def _gather_nd(im: _Importer, node: _Node):
    x, idx = _x(im, node), _x(im, node, 1)
    shape, ishape = _static_shape(node, x), _static_shape(node, idx)
    b, k = node.attrs["batch_dims"], ishape[-1]
    dims = shape[b:b + k]
    idx = im.emit(op("astype", idx, dtype="int64"))
    idx = op("where", op("less", idx, _c(0, "int64")), op("add", idx, np.array(dims, np.int64)), idx)
    strides = np.array([math.prod(dims[i + 1:]) for i in range(k)], dtype=np.int64)
    linear = op("sum", op("multiply", idx, strides), axis=-1)
    batch = math.prod(shape[:b])
    if b:
        base = (np.arange(batch, dtype=np.int64) * math.prod(dims)).reshape(
            tuple(shape[:b]) + (1,) * (len(ishape) - 1 - b))
        linear = op("add", linear, base)
    linear = im.emit(linear)
    flat = op("reshape", x, newshape=(batch * math.prod(dims),) + tuple(shape[b + k:]))
    out = tuple(ishape[:-1]) + tuple(shape[b + k:])
    y = op("take", flat, op("reshape", linear, newshape=(math.prod(ishape[:-1]),)), axis=0)
    return op("reshape", y, newshape=out)


def _scatter_combine(im: _Importer, node: _Node, data, hot, upd, axis: int, reduction: str, pad_widths):
    """``data`` with ``upd`` scattered where ``hot`` (upd's shape with the target axis one-hot)
    says, combined by ``reduction``; the hit mask and values summed over ``axis``, then padded
    by ``pad_widths`` to data's shape."""
    d = data.type.dtype
    if dt.is_float(d):
        low, high = -np.inf, np.inf
    elif d == "bool":
        low, high = False, True
    else:
        low, high = np.iinfo(d).min, np.iinfo(d).max
    fill = {"none": 0, "add": 0, "mul": 1, "max": low, "min": high}
    if reduction not in fill:
        raise _refuse(node, "reduction", reduction, "'none', 'add', 'mul', 'max', 'min'")
    picked = op("where", hot, upd, _c(fill[reduction], d))
    combine = {"none": "sum", "add": "sum", "mul": "prod", "max": "max", "min": "min"}[reduction]
    value = _cast(im, op(combine, picked, axis=axis), d)
    hit = op("any", hot, axis=axis)
    if any(any(w) for w in pad_widths):
        pad_value = fill[reduction]
        value = op("pad", value, pad_width=pad_widths,
                   constant_values=int(pad_value) if isinstance(pad_value, (bool, np.integer)) else pad_value)
        hit = op("pad", hit, pad_width=pad_widths, constant_values=0)
    if reduction == "none":
        return op("where", hit, value, data)
    merged = {"add": "add", "mul": "multiply", "max": "maximum", "min": "minimum"}[reduction]
    return op("where", hit, op(merged, data, value), data)


@_converter("ScatterElements", "Scatter", inputs=(3, 3), axis=0, reduction="none")
def _scatter_elements(im: _Importer, node: _Node):
    data, idx, upd = _x(im, node), _x(im, node, 1), _x(im, node, 2)
    shape, ishape = _static_shape(node, data), _static_shape(node, idx)
    axis = _axis(node, node.attrs["axis"], len(shape))
    n = shape[axis]
    idx = im.emit(op("astype", idx, dtype="int64"))
    idx = op("where", op("less", idx, _c(0, "int64")), op("add", idx, _c(n, "int64")), idx)
    rng = np.arange(n, dtype=np.int64).reshape((n,) + (1,) * (len(shape) - axis - 1))
    hot = op("equal", op("expand_dims", idx, axis=axis + 1), rng)  # (..., I[axis], n, ...)
    upd = op("expand_dims", upd, axis=axis + 1)
    widths = tuple((0, 0) if b == axis else (0, shape[b] - ishape[b]) for b in range(len(shape)))
    return _scatter_combine(im, node, data, hot, upd, axis, node.attrs["reduction"], widths)


@_converter("ScatterND", inputs=(3, 3), reduction="none")
def _scatter_nd(im: _Importer, node: _Node):
    data, idx, upd = _x(im, node), _x(im, node, 1), _x(im, node, 2)
    shape, ishape = _static_shape(node, data), _static_shape(node, idx)
    k = ishape[-1]
    rows, rest = math.prod(shape[:k]), tuple(shape[k:])
    m = math.prod(ishape[:-1])
    idx = im.emit(op("astype", idx, dtype="int64"))
    idx = op("where", op("less", idx, _c(0, "int64")), op("add", idx, np.array(shape[:k], np.int64)), idx)
    strides = np.array([math.prod(shape[i + 1:k]) for i in range(k)], dtype=np.int64)
    linear = op("reshape", op("sum", op("multiply", idx, strides), axis=-1), newshape=(m, 1) + (1,) * len(rest))
    hot = op("equal", linear, np.arange(rows, dtype=np.int64).reshape((1, rows) + (1,) * len(rest)))
    upd = op("reshape", upd, newshape=(m, 1) + rest)
    flat = op("reshape", data, newshape=(rows,) + rest)
    out = _scatter_combine(im, node, im.emit(flat), hot, upd, 0, node.attrs["reduction"],
                           ((0, 0),) * (1 + len(rest)))
    return op("reshape", out, newshape=shape)


@_converter("Compress", inputs=(2, 2), axis=None)
def _compress(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    keep = np.flatnonzero(np.asarray(im.constant_input(node.inputs[1], node, "condition input")).reshape(-1))
    if node.attrs["axis"] is None:
        x, shape, axis = op("reshape", x, newshape=(math.prod(shape),)), (math.prod(shape),), 0
    else:
        axis = _axis(node, node.attrs["axis"], len(shape))
    keep = keep[keep < shape[axis]].astype(np.int64)
    return op("take", x, keep, axis=axis)


@_converter("ReverseSequence", inputs=(2, 2), batch_axis=1, time_axis=0)
def _reverse_sequence(im: _Importer, node: _Node):
    x = _x(im, node)
    shape = _static_shape(node, x)
    lens = np.asarray(im.constant_input(node.inputs[1], node, "sequence_lens input")).reshape(-1)
    b, t = node.attrs["batch_axis"], node.attrs["time_axis"]
    index = np.tile(np.arange(shape[t], dtype=np.int64), (shape[b], 1))  # (batch, time)
    for row, n in enumerate(lens):
        index[row, :n] = np.arange(n - 1, -1, -1)
    full = [1] * len(shape)
    full[b], full[t] = shape[b], shape[t]
    index = np.transpose(index, (0, 1) if b < t else (1, 0)).reshape(full)  # (laid along b and t)
    return op("take_along_axis", x, np.ascontiguousarray(np.broadcast_to(index, shape)), axis=t)
