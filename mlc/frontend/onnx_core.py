"""ONNX converters for the ops of the course's models: Gemm, MatMul, Conv, MaxPool, Reshape...

Registered into the table of :mod:`mlc.frontend.onnx_base` when imported.

>>> from mlc.frontend.onnx_base import _CONVERTERS
>>> import mlc.frontend.onnx_core
>>> sorted(t for t in ("Gemm", "Conv", "MatMul") if t in _CONVERTERS)
['Conv', 'Gemm', 'MatMul']
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..graph import op
from ..ir import dtype as dt
from .common import UnsupportedAttributeError
from .onnx_base import _as_2d, _axis, _ceil_pads, _converter, _Importer, _Node, _onnx, _rank, _refuse, _scalar, _window

__all__: list[str] = []


_UNARY = {"Relu": "nn.relu", "Sqrt": "sqrt", "Tanh": "tanh", "Sigmoid": "sigmoid", "Erf": "erf",
          "Exp": "exp", "Log": "log", "Neg": "negative", "Abs": "absolute", "Reciprocal": "reciprocal"}
_BINARY = {"Add": "add", "Sub": "subtract", "Mul": "multiply", "Div": "divide", "Pow": "power"}


@_converter(*_UNARY)
def _unary(im: _Importer, node: _Node):
    return op(_UNARY[node.op_type], im.value(node.inputs[0], node, "input"))


@_converter(*_BINARY, inputs=(2, 2))
def _binary(im: _Importer, node: _Node):
    a, b = (im.value(n, node, f"input {i}") for i, n in enumerate(node.inputs[:2]))
    if node.op_type == "Div" and not dt.is_float(a.type.dtype):  # truncates toward zero, exactly
        q = op("floor_divide", a, b)
        if dt.is_unsigned(a.type.dtype):
            return q
        zero = np.array(0, a.type.dtype)
        inexact = op("not_equal", op("remainder", a, b), zero)
        opposite = op("logical_xor", op("less", a, zero), op("less", b, zero))
        return op("where", op("logical_and", inexact, opposite), op("add", q, np.array(1, a.type.dtype)), q)
    y = op(_BINARY[node.op_type], a, b)
    if node.op_type == "Pow" and np.result_type(a.type.dtype, b.type.dtype) != a.type.dtype:
        y = op("astype", y, dtype=a.type.dtype)  # ONNX: the base's type, not NumPy's promotion
    return y


@_converter("Identity")
def _identity(im: _Importer, node: _Node):
    return im.value(node.inputs[0], node, "input")


@_converter("Dropout", inputs=(1, 3), seed=0)
def _dropout(im: _Importer, node: _Node):
    x = im.value(node.inputs[0], node, "input")
    if len(node.inputs) > 2 and node.inputs[2]:
        if bool(np.asarray(im.constant_input(node.inputs[2], node, "training_mode")).item()):
            ratio = im.optional_constant(node, 1, "ratio")
            if ratio is None or float(np.asarray(ratio).reshape(-1)[0]) != 0.0:
                raise _refuse(node, "training_mode", True, "False (inference: Dropout is the identity), "
                              "or True with ratio 0")
    if len(node.outputs) > 1 and node.outputs[1]:  # inference keeps every element
        return x, np.ones(x.type.shape, dtype=bool)
    return x


@_converter("Constant", inputs=(0, 0), value=None, value_float=None, value_floats=None, value_int=None, value_ints=None)
def _constant(im: _Importer, node: _Node):
    given = {k: v for k, v in node.attrs.items() if v is not None}
    if len(given) != 1:
        raise UnsupportedAttributeError(f"{node.where()}: expected exactly one of value, value_float, "
                                        f"value_floats, value_int, value_ints, got {sorted(given)}")
    (kind, v), = given.items()
    if kind == "value":
        array = _onnx().numpy_helper.to_array(v)
    else:
        array = np.array(v, dtype=np.float32 if "float" in kind else np.int64)
    im.static[node.outputs[0]] = np.asarray(array, order="C")  # (0-d stays 0-d)
    return None


@_converter("Gemm", inputs=(2, 3), alpha=1.0, beta=1.0, transA=0, transB=0)
def _gemm(im: _Importer, node: _Node):
    at = node.attrs
    a = im.value(node.inputs[0], node, "input A")
    b = im.value(node.inputs[1], node, "input B")
    _rank(node, a, "A", (2,))
    _rank(node, b, "B", (2,))
    if at["transA"]:
        a = op("transpose", a, axes=(1, 0))
    y = op("nn.dense", a, b) if at["transB"] else op("matmul", a, b)  # dense is x @ w.T
    dtype = b.type.dtype  # (ONNX's Gemm takes A, B and C of one type)
    c = im.value(node.inputs[2], node, "input C") if len(node.inputs) > 2 and node.inputs[2] else None
    # integers scaled by a fraction: alpha * A @ B + beta * C in float64, truncated once at the
    # end (as ONNX's reference computes it), where the factor itself would truncate to 0
    widen = not dt.is_float(dtype) and any(f != int(f) for f in (at["alpha"], at["beta"] if c else 1.0))
    work = "float64" if widen else dtype
    if widen:
        y = op("astype", y, dtype=work)
    if at["alpha"] != 1.0:
        y = op("multiply", y, _scalar(at["alpha"], work))
    if c is not None:
        if widen:
            c = op("astype", c, dtype=work)
        if at["beta"] != 1.0:
            c = op("multiply", c, _scalar(at["beta"], work if widen else c.type.dtype))
        y = op("add", y, c)
    return op("astype", y, dtype=dtype) if widen else y


@_converter("MatMul", inputs=(2, 2))
def _matmul(im: _Importer, node: _Node):
    return op("matmul", im.value(node.inputs[0], node, "input A"), im.value(node.inputs[1], node, "input B"))



@_converter("Conv", inputs=(2, 3), auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
            strides=None)
def _conv(im: _Importer, node: _Node):
    at = node.attrs
    x = im.value(node.inputs[0], node, "input X")
    w = im.value(node.inputs[1], node, "weight W")
    if x.type.ndim == 3 and w.type.ndim == 3:  # 1-D: a 2-D convolution of height 1
        y = _conv(im, _as_2d(node, x))
        return op("reshape", y, newshape=tuple(d for i, d in enumerate(im.emit(y).type.shape) if i != 2))
    _rank(node, x, "X", (4,))
    _rank(node, w, "W", (4,))
    kernels = tuple(w.type.shape[2:])
    if at["kernel_shape"] is not None and tuple(at["kernel_shape"]) != kernels:
        raise ShapeError(f"{node.where()}: kernel_shape={list(at['kernel_shape'])} disagrees with the "
                         f"weight's spatial shape {list(kernels)}")
    strides, dilations, pads = _window(node, at, x.type.shape[2:], kernels)
    y = op("nn.conv2d", x, w, stride=strides, padding=pads, dilation=dilations, groups=at["group"])
    if len(node.inputs) > 2 and node.inputs[2]:
        bias = im.value(node.inputs[2], node, "bias B")
        y = op("add", y, op("reshape", bias, newshape=(1, -1, 1, 1)))
    return y



@_converter("MaxPool", auto_pad="NOTSET", ceil_mode=0, dilations=None, kernel_shape=None, pads=None,
            storage_order=0, strides=None)
def _max_pool(im: _Importer, node: _Node):
    at = node.attrs
    if len(node.outputs) > 1 and node.outputs[1]:
        raise UnsupportedAttributeError(f"{node.where()}: its Indices output {node.outputs[1]!r} is not "
                                        "supported; supported: the values output only")
    if at["storage_order"] != 0:
        raise _refuse(node, "storage_order", at["storage_order"], "0 (row major)")
    x = im.value(node.inputs[0], node, "input X")
    if x.type.ndim == 3 and not node.two_d:  # 1-D: 2-D pooling over a height of 1
        y = im.emit(_max_pool(im, _as_2d(node, x)))
        return op("reshape", y, newshape=tuple(d for i, d in enumerate(y.type.shape) if i != 2))
    _rank(node, x, "X", (4,))
    if at["kernel_shape"] is None or len(at["kernel_shape"]) != 2:
        raise ShapeError(f"{node.where()}: kernel_shape must be given with 2 values, got {at['kernel_shape']}")
    kernels = tuple(at["kernel_shape"])
    strides, dilations, pads = _window(node, at, x.type.shape[2:], kernels)
    if at["ceil_mode"]:  # the last, partial window: the end padded further (with -inf, as all pads)
        pads = _ceil_pads(node, x.type.shape[2:], kernels, strides, dilations, pads)
    return op("nn.max_pool2d", x, kernel=kernels, stride=strides, padding=pads, dilation=dilations)


@_converter("Flatten", axis=1)
def _flatten(im: _Importer, node: _Node):
    at = node.attrs
    x = im.value(node.inputs[0], node, "input")
    shape = x.type.shape
    axis = _axis(node, at["axis"], len(shape), inclusive_end=True)
    head, tail = shape[:axis], shape[axis:]
    if all(isinstance(d, int) for d in tail) and not all(isinstance(d, int) for d in head):
        return op("reshape", x, newshape=(-1, math.prod(tail)))  # a dynamic batch stays dynamic
    return op("reshape", x, newshape=(math.prod(head), math.prod(tail)))


@_converter("Reshape", inputs=(2, 2), allowzero=0)
def _reshape(im: _Importer, node: _Node):
    at = node.attrs
    x = im.value(node.inputs[0], node, "input data")
    target = im.constant_input(node.inputs[1], node, "shape input").reshape(-1)
    dims = []
    for i, d in enumerate(int(v) for v in target):
        if d == 0 and not at["allowzero"]:
            if i >= x.type.ndim:
                raise ShapeError(f"{node.where()}: shape {target.tolist()} copies dimension {i} (a 0) "
                                 f"but the input {x.type.shape} has only {x.type.ndim}")
            d = x.type.shape[i]
        dims.append(d)
    return op("reshape", x, newshape=tuple(dims))


@_converter("Transpose", perm=None)
def _transpose(im: _Importer, node: _Node):
    at = node.attrs
    x = im.value(node.inputs[0], node, "input")
    return op("transpose", x, axes=None if at["perm"] is None else tuple(at["perm"]))


@_converter("Concat", inputs=(1, 1 << 30), axis=None)
def _concat(im: _Importer, node: _Node):
    at = node.attrs
    if at["axis"] is None:
        raise ShapeError(f"{node.where()}: the axis attribute is required")
    values = [im.value(n, node, f"input {i}") for i, n in enumerate(node.inputs)]
    return op("concatenate", *values, axis=_axis(node, at["axis"], values[0].type.ndim))


@_converter("Softmax", axis=None)
def _softmax(im: _Importer, node: _Node):
    at = node.attrs
    x = im.value(node.inputs[0], node, "input")
    if node.opset >= 13:  # one axis (default -1)
        return op("nn.softmax", x, axis=_axis(node, -1 if at["axis"] is None else at["axis"], x.type.ndim))
    # opsets 1-12: the input is seen as 2-D, [:axis] by [axis:]; softmax over the second
    axis = _axis(node, 1 if at["axis"] is None else at["axis"], x.type.ndim)
    return op("nn.softmax", x, axis=tuple(range(axis, x.type.ndim)))


@_converter("LayerNormalization", inputs=(2, 3), axis=-1, epsilon=1e-5, stash_type=1)
def _layer_norm(im: _Importer, node: _Node):
    at = node.attrs
    if at["stash_type"] != 1:
        raise _refuse(node, "stash_type", at["stash_type"], "1 (float32 statistics)")
    x = im.value(node.inputs[0], node, "input X")
    axis = _axis(node, at["axis"], x.type.ndim)
    if any(node.outputs[1:]):  # Mean and InvStdDev too: the normalisation spelled out
        return _layer_norm_with_stats(im, node, x, axis)
    norm_shape = tuple(x.type.shape[axis:])
    scale = im.value(node.inputs[1], node, "Scale")
    if len(node.inputs) > 2 and node.inputs[2]:
        bias = im.value(node.inputs[2], node, "bias B")
    else:
        bias = np.zeros(norm_shape, dtype=x.type.dtype)
    scale, bias = ((v if isinstance(v, np.ndarray) or v.type.shape == norm_shape
                    else op("broadcast_to", v, shape=norm_shape)) for v in (scale, bias))
    return op("nn.layer_norm", x, scale, bias, axis=tuple(range(axis, x.type.ndim)),
              eps=float(at["epsilon"]))


def _layer_norm_with_stats(im: _Importer, node: _Node, x, axis: int):
    d = x.type.dtype
    axes = tuple(range(axis, x.type.ndim))
    work = op("astype", x, dtype="float32") if d != "float32" else x
    mean = im.emit(op("mean", work, axis=axes, keepdims=True))
    centred = im.emit(op("subtract", work, mean))
    var = op("mean", op("multiply", centred, centred), axis=axes, keepdims=True)
    inv = im.emit(op("divide", np.array(1, "float32"),
                     op("sqrt", op("add", var, np.array(node.attrs["epsilon"], "float32")))))
    y = op("multiply", centred, inv)
    y = op("astype", y, dtype=d) if d != "float32" else y
    y = op("multiply", y, im.value(node.inputs[1], node, "Scale"))
    if len(node.inputs) > 2 and node.inputs[2]:
        y = op("add", y, im.value(node.inputs[2], node, "bias B"))
    return y, mean, inv


@_converter("Gelu", approximate="none")
def _gelu(im: _Importer, node: _Node):
    at = node.attrs
    if at["approximate"] not in ("none", "tanh"):
        raise _refuse(node, "approximate", at["approximate"], "'none', 'tanh'")
    return op("nn.gelu", im.value(node.inputs[0], node, "input"), approximate=at["approximate"])
