"""ONNX's ``Resize`` (nearest, linear, cubic) as gathers with weights computed at import.

Every resized axis is independent: for each output position the importer
computes, in NumPy, the input positions it reads (1 for nearest, 2 for linear,
4 for cubic) and their weights, following ONNX's coordinate transformation
modes; the graph then gathers those rows (``take``) and sums them weighted,
one axis after another. Shapes, scales and sizes must be known at import.

>>> import numpy as np, onnx, mlc
>>> from onnx import TensorProto, helper
>>> graph = helper.make_graph(
...     [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")], "resize",
...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 2])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 4])],
...     [helper.make_tensor("s", TensorProto.FLOAT, [4], [1, 1, 1, 2])])
>>> lib = mlc.build(mlc.frontend.from_onnx(helper.make_model(graph)), "llvm")
>>> lib["main"](np.array([[[[1, 2]]]], "float32")).ravel()
array([1., 1., 2., 2.], dtype=float32)
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..graph import op
from .onnx_base import _axis, _converter, _Importer, _Node, _refuse
from .onnx_math import _c, _x
from .onnx_shape import _static_shape

__all__ = ["resize_taps"]


def _source(x, n_in: int, n_out: int, scale: float, mode: str, roi: tuple[float, float]):
    """Input coordinates of output positions ``x`` (ONNX's coordinate_transformation_mode)."""
    length = n_in * scale  # the output's length before rounding
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        adjustment = n_out / length
        offset = n_in / 2 * (1 - adjustment)
        return offset + (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if length > 1 else np.zeros_like(x)
    if mode == "align_corners":
        return x * (n_in - 1) / (length - 1) if length > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if length > 1:
            return start * (n_in - 1) + x * (end - start) * (n_in - 1) / (length - 1)
        return np.full_like(x, 0.5 * (start + end) * (n_in - 1))
    raise ValueError(mode)


def _cubic_weights(t, a: float):
    d = np.stack([1 + t, t, 1 - t, 2 - t], axis=1)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, far)


def resize_taps(n_in: int, n_out: int, scale: float, at: dict, roi=(0.0, 1.0)):
    """(indices, weights, outside) for one axis: int64 (n_out, taps), float64 (n_out, taps),
    and a bool (n_out,) marking positions outside the input (tf_crop_and_resize)."""
    x = _source(np.arange(n_out, dtype=np.float64), n_in, n_out, scale,
                at["coordinate_transformation_mode"], roi)
    outside = (x < 0) | (x > n_in - 1)
    mode = at["mode"]
    if mode == "nearest":
        nearest = at["nearest_mode"]
        if nearest == "round_prefer_floor":
            i = np.where(x == np.floor(x) + 0.5, np.floor(x), np.round(x))
        elif nearest == "round_prefer_ceil":
            i = np.floor(x + 0.5)
        elif nearest == "floor":
            i = np.floor(x)
        else:
            i = np.ceil(x)
        idx = np.clip(i, 0, n_in - 1).astype(np.int64)[:, None]
        return idx, np.ones((n_out, 1)), outside
    base = np.floor(x)
    t = x - base
    if mode == "linear":
        offsets = np.array([0, 1])
        weights = np.stack([1 - t, t], axis=1)
    else:
        offsets = np.array([-1, 0, 1, 2])
        weights = _cubic_weights(t, at["cubic_coeff_a"])
    raw = base[:, None].astype(np.int64) + offsets[None, :]
    if at["exclude_outside"]:
        weights = np.where((raw < 0) | (raw > n_in - 1), 0.0, weights)
        weights = weights / weights.sum(axis=1, keepdims=True)
    return np.clip(raw, 0, n_in - 1), weights, outside


@_converter("Resize", inputs=(1, 4), antialias=0, axes=None, coordinate_transformation_mode="half_pixel",
            cubic_coeff_a=-0.75, exclude_outside=0, extrapolation_value=0.0, keep_aspect_ratio_policy="stretch",
            mode="nearest", nearest_mode="round_prefer_floor")
def _resize(im: _Importer, node: _Node):
    at = node.attrs
    x = _x(im, node)
    shape = _static_shape(node, x)
    ndim = len(shape)
    if at["antialias"]:
        raise _refuse(node, "antialias", 1, "0")
    if at["mode"] not in ("nearest", "linear", "cubic"):
        raise _refuse(node, "mode", at["mode"], "'nearest', 'linear', 'cubic'")
    if node.opset < 11:
        roi, scales, sizes = None, im.constant_input(node.inputs[1], node, "scales input"), None
    else:
        roi = im.optional_constant(node, 1, "roi input")
        scales = im.optional_constant(node, 2, "scales input")
        sizes = im.optional_constant(node, 3, "sizes input")
    axes = list(range(ndim)) if at["axes"] is None else [_axis(node, a, ndim) for a in at["axes"]]
    if scales is not None and scales.size:
        scale = [float(s) for s in scales.reshape(-1)]
        out = [int(math.floor(shape[a] * s)) for a, s in zip(axes, scale)]
    elif sizes is not None and sizes.size:
        out = [int(s) for s in sizes.reshape(-1)]
        scale = [o / shape[a] for a, o in zip(axes, out)]
        policy = at["keep_aspect_ratio_policy"]
        if policy != "stretch":
            s = (min if policy == "not_larger" else max)(scale)
            scale = [s] * len(axes)
            out = [int(math.floor(s * shape[a] + 0.5)) for a in axes]
    else:
        raise ShapeError(f"{node.where()}: give either scales or sizes")
    rois = [(0.0, 1.0)] * len(axes)
    if roi is not None and roi.size:
        r = roi.reshape(-1).astype(np.float64)
        rois = [(r[i], r[i + len(axes)]) for i in range(len(axes))]
    d = x.type.dtype
    y, outside_mask, out_shape = x, None, list(shape)
    for a, n_out, s, r in zip(axes, out, scale, rois):
        if n_out == shape[a] and s == 1.0 and at["coordinate_transformation_mode"] != "tf_crop_and_resize":
            continue
        idx, w, outside = resize_taps(shape[a], n_out, s, at, r)
        bshape = [1] * ndim
        bshape[a] = n_out
        acc = None
        for t in range(idx.shape[1]):
            term = op("take", y, idx[:, t].copy(), axis=a)
            if at["mode"] != "nearest":
                term = op("multiply", term, w[:, t].astype(d).reshape(bshape))
            acc = term if acc is None else op("add", acc, term)
        y = im.emit(acc)
        out_shape[a] = n_out
        if at["coordinate_transformation_mode"] == "tf_crop_and_resize" and outside.any():
            m = outside.reshape(bshape)
            outside_mask = m if outside_mask is None else (outside_mask | m)
    if outside_mask is not None:
        y = op("where", np.broadcast_to(outside_mask, out_shape).copy(), _c(at["extrapolation_value"], d), y)
    return y if y is not x else op("astype", x, dtype=d)
