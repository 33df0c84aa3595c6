"""ONNX converters for elementwise math, comparisons, logic and the reductions.

Registered into :mod:`mlc.frontend.onnx`'s table when it is imported. Each
converter maps one ONNX node onto registry ops, keeping ONNX's result dtype
(NumPy would promote an int32 sum to int64; ONNX keeps int32):

>>> import numpy as np, onnx, mlc
>>> from onnx import TensorProto, helper
>>> graph = helper.make_graph(
...     [helper.make_node("Cos", ["x"], ["y"])], "cos",
...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
>>> lib = mlc.build(mlc.frontend.from_onnx(helper.make_model(graph)), "llvm")
>>> lib["main"](np.array([0.0, np.pi], "float32"))
array([ 1., -1.], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from ..graph import op
from ..ir import dtype as dt
from .onnx_base import _axis, _converter, _Importer, _Node, _refuse

__all__: list[str] = []


def _c(value, dtype) -> np.ndarray:
    """A 0-d constant of ``dtype``."""
    return np.array(value, dtype=dtype)


def _cast(im: _Importer, value, dtype: str):
    """``value`` as ``dtype`` (no cast where it already is)."""
    v = im.emit(value)
    return v if v.type.dtype == dt.canonical(dtype) else im.emit(op("astype", v, dtype=dt.canonical(dtype)))


def _x(im: _Importer, node: _Node, i: int = 0):
    return im.value(node.inputs[i], node, f"input {i}")


# ------------------------------------------------------------------ unary

_UNARY = {"Cos": "cos", "Sin": "sin", "Tan": "tan", "Acos": "arccos", "Asin": "arcsin", "Atan": "arctan",
          "Cosh": "cosh", "Sinh": "sinh", "Acosh": "arccosh", "Asinh": "arcsinh", "Atanh": "arctanh",
          "Ceil": "ceil", "Floor": "floor", "Round": "rint", "Sign": "sign", "IsNaN": "isnan",
          "Not": "logical_not", "BitwiseNot": "invert"}


@_converter(*_UNARY)
def _unary(im: _Importer, node: _Node):
    x = _x(im, node)
    return _cast(im, op(_UNARY[node.op_type], x), x.type.dtype) if node.op_type == "Sign" else \
        op(_UNARY[node.op_type], x)


@_converter("IsInf", detect_negative=1, detect_positive=1)
def _isinf(im: _Importer, node: _Node):
    at, x = node.attrs, _x(im, node)
    inf = op("isinf", x)
    if at["detect_negative"] and at["detect_positive"]:
        return inf
    if not at["detect_negative"] and not at["detect_positive"]:
        return op("logical_and", inf, np.array(False))
    sign = op("greater", x, _c(0, x.type.dtype)) if at["detect_positive"] else op("less", x, _c(0, x.type.dtype))
    return op("logical_and", inf, sign)


def _scalar_attr_act(name, **defaults):
    return _converter(name, **defaults)


@_converter("LeakyRelu", alpha=0.01)
def _leaky_relu(im: _Importer, node: _Node):
    x = _x(im, node)
    d = x.type.dtype
    return op("where", op("less", x, _c(0, d)), op("multiply", x, _c(node.attrs["alpha"], d)), x)


@_converter("PRelu", inputs=(2, 2))
def _prelu(im: _Importer, node: _Node):
    x, slope = _x(im, node), _x(im, node, 1)
    return op("where", op("less", x, _c(0, x.type.dtype)), op("multiply", x, slope), x)


@_converter("Elu", alpha=1.0)
def _elu(im: _Importer, node: _Node):
    x = _x(im, node)
    d = x.type.dtype
    neg = op("multiply", op("expm1", x), _c(node.attrs["alpha"], d))
    return op("where", op("less", x, _c(0, d)), neg, x)


@_converter("Celu", alpha=1.0)
def _celu(im: _Importer, node: _Node):
    x = _x(im, node)
    d, a = x.type.dtype, node.attrs["alpha"]
    neg = op("multiply", op("expm1", op("divide", x, _c(a, d))), _c(a, d))
    return op("add", op("maximum", x, _c(0, d)), op("minimum", neg, _c(0, d)))


@_converter("Selu", alpha=1.67326319217681884765625, gamma=1.05070102214813232421875)
def _selu(im: _Importer, node: _Node):
    x = _x(im, node)
    d, at = x.type.dtype, node.attrs
    neg = op("multiply", op("expm1", x), _c(at["alpha"], d))
    return op("multiply", op("where", op("greater", x, _c(0, d)), x, neg), _c(at["gamma"], d))


@_converter("ThresholdedRelu", alpha=1.0)
def _thresholded_relu(im: _Importer, node: _Node):
    x = _x(im, node)
    d = x.type.dtype
    return op("where", op("greater", x, _c(node.attrs["alpha"], d)), x, _c(0, d))


@_converter("HardSigmoid", alpha=0.2, beta=0.5)
def _hard_sigmoid(im: _Importer, node: _Node):
    x = _x(im, node)
    d, at = x.type.dtype, node.attrs
    y = op("add", op("multiply", x, _c(at["alpha"], d)), _c(at["beta"], d))
    return op("minimum", op("maximum", y, _c(0, d)), _c(1, d))


@_converter("HardSwish")
def _hard_swish(im: _Importer, node: _Node):
    x = _x(im, node)
    d = x.type.dtype
    y = op("add", op("multiply", x, _c(1 / 6, d)), _c(0.5, d))
    return op("multiply", x, op("minimum", op("maximum", y, _c(0, d)), _c(1, d)))


@_converter("Softplus")
def _softplus(im: _Importer, node: _Node):
    x = _x(im, node)
    return op("logaddexp", x, _c(0, x.type.dtype))


@_converter("Softsign")
def _softsign(im: _Importer, node: _Node):
    x = _x(im, node)
    return op("divide", x, op("add", op("absolute", x), _c(1, x.type.dtype)))


@_converter("Mish")
def _mish(im: _Importer, node: _Node):
    x = _x(im, node)
    return op("multiply", x, op("tanh", op("logaddexp", x, _c(0, x.type.dtype))))


@_converter("Swish", alpha=1.0)
def _swish(im: _Importer, node: _Node):
    x = _x(im, node)
    return op("multiply", x, op("sigmoid", op("multiply", x, _c(node.attrs["alpha"], x.type.dtype))))


@_converter("Shrink", bias=0.0, lambd=0.5)
def _shrink(im: _Importer, node: _Node):
    x = _x(im, node)
    d, at = x.type.dtype, node.attrs
    lo = op("add", x, _c(at["bias"], d))
    hi = op("subtract", x, _c(at["bias"], d))
    return op("where", op("less", x, _c(-at["lambd"], d)), lo,
              op("where", op("greater", x, _c(at["lambd"], d)), hi, _c(0, d)))


@_converter("Clip", inputs=(1, 3), min=None, max=None)
def _clip(im: _Importer, node: _Node):
    x = _x(im, node)
    d = x.type.dtype
    lo, hi = im.optional(node, 1, "min"), im.optional(node, 2, "max")
    if node.opset < 11:
        lo = None if node.attrs["min"] is None else _c(node.attrs["min"], d)
        hi = None if node.attrs["max"] is None else _c(node.attrs["max"], d)
    y = x
    if lo is not None:
        y = op("maximum", y, lo)
    if hi is not None:
        y = op("minimum", y, hi)
    return y if y is not x else op("astype", x, dtype=d)


# ------------------------------------------------------------------ binary and variadic

_COMPARE = {"Equal": "equal", "Greater": "greater", "Less": "less", "GreaterOrEqual": "greater_equal",
            "LessOrEqual": "less_equal", "And": "logical_and", "Or": "logical_or", "Xor": "logical_xor",
            "BitwiseAnd": "bitwise_and", "BitwiseOr": "bitwise_or", "BitwiseXor": "bitwise_xor"}


@_converter(*_COMPARE, inputs=(2, 2))
def _compare(im: _Importer, node: _Node):
    return op(_COMPARE[node.op_type], _x(im, node), _x(im, node, 1))


@_converter("Mod", inputs=(2, 2), fmod=0)
def _mod(im: _Importer, node: _Node):
    a, b = _x(im, node), _x(im, node, 1)  # fmod=0: the divisor's sign, as Python's %
    return op("fmod" if node.attrs["fmod"] else "remainder", a, b)


@_converter("BitShift", inputs=(2, 2), direction=None)
def _bit_shift(im: _Importer, node: _Node):
    direction = node.attrs["direction"]
    if direction not in ("LEFT", "RIGHT"):
        raise _refuse(node, "direction", direction, "'LEFT', 'RIGHT'")
    return op("left_shift" if direction == "LEFT" else "right_shift", _x(im, node), _x(im, node, 1))


_VARIADIC = {"Max": "maximum", "Min": "minimum", "Sum": "add", "Mean": "add"}


@_converter(*_VARIADIC, inputs=(1, 1 << 30))
def _variadic(im: _Importer, node: _Node):
    values = [_x(im, node, i) for i in range(len(node.inputs))]
    y = values[0]
    for v in values[1:]:
        y = op(_VARIADIC[node.op_type], y, v)
    if node.op_type == "Mean":
        y = op("divide", y, _c(len(values), values[0].type.dtype))
    if len(values) == 1:
        y = op("astype", y, dtype=values[0].type.dtype)
    return y


@_converter("Where", inputs=(3, 3))
def _where(im: _Importer, node: _Node):
    return op("where", _x(im, node), _x(im, node, 1), _x(im, node, 2))


# ------------------------------------------------------------------ reductions

_REDUCE = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
           "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")


def _reduce_axes(im: _Importer, node: _Node, ndim: int, axes_from_input: bool):
    """The axes to reduce (a tuple), or None for every axis, or () for none."""
    if axes_from_input:
        axes = im.optional_constant(node, 1, "axes input")
    else:
        axes = node.attrs["axes"]
    if axes is None or len(np.asarray(axes).reshape(-1)) == 0:
        return () if node.attrs["noop_with_empty_axes"] else None
    return tuple(sorted(_axis(node, int(a), ndim) for a in np.asarray(axes).reshape(-1)))


@_converter(*_REDUCE, inputs=(1, 2), axes=None, keepdims=1, noop_with_empty_axes=0)
def _reduce(im: _Importer, node: _Node):
    x = _x(im, node)
    d = x.type.dtype
    from_input = node.opset >= (13 if node.op_type == "ReduceSum" else 18)
    axes = _reduce_axes(im, node, x.type.ndim, from_input)
    keep = bool(node.attrs["keepdims"])
    kind = node.op_type[len("Reduce"):]
    if axes == ():  # noop_with_empty_axes with no axes: the input as it is
        if kind in ("L1",):
            return op("absolute", x)
        if kind == "SumSquare":
            return op("multiply", x, x)
        return op("astype", x, dtype=d)
    if any(x.type.shape[a] == 0 for a in (axes or range(x.type.ndim))):  # an empty reduction: its identity
        every = axes or tuple(range(x.type.ndim))
        out = tuple(1 if i in every else n for i, n in enumerate(x.type.shape) if keep or i not in every)
        identity = {"Sum": 0, "Mean": np.nan, "Prod": 1, "L1": 0, "L2": 0, "SumSquare": 0,
                    "LogSum": -np.inf, "LogSumExp": -np.inf}
        if kind in ("Max", "Min"):
            if d == "bool":
                value = kind == "Min"
            elif dt.is_float(d):
                value = -np.inf if kind == "Max" else np.inf
            else:
                info = np.iinfo(d)
                value = info.min if kind == "Max" else info.max
        else:
            value = identity[kind]
        im.static[node.outputs[0]] = np.full(out, value, dtype=d)
        return None
    red = dict(axis=axes, keepdims=keep)
    if kind == "Sum":
        y = op("sum", x, **red)
    elif kind == "Mean":
        y = op("mean", x, **red)
    elif kind == "Max":
        y = op("max", x, **red)
    elif kind == "Min":
        y = op("min", x, **red)
    elif kind == "Prod":
        y = op("prod", x, **red)
    elif kind == "L1":
        y = op("sum", op("absolute", x), **red)
    elif kind == "L2":
        y = op("sqrt", _cast(im, op("sum", op("multiply", x, x), **red), d))
    elif kind == "SumSquare":
        y = op("sum", op("multiply", x, x), **red)
    elif kind == "LogSum":
        y = op("log", _cast(im, op("sum", x, **red), d))
    else:  # LogSumExp
        y = op("logsumexp", x, **red)
    return _cast(im, y, d)


@_converter("ArgMax", "ArgMin", axis=0, keepdims=1, select_last_index=0)
def _arg_reduce(im: _Importer, node: _Node):
    x = _x(im, node)
    at = node.attrs
    axis = _axis(node, at["axis"], x.type.ndim)
    name = "argmax" if node.op_type == "ArgMax" else "argmin"
    keep = bool(at["keepdims"])
    if not at["select_last_index"]:
        return _cast(im, op(name, x, axis=axis, keepdims=keep), "int64")
    idx = _cast(im, op(name, op("flip", x, axis=(axis,)), axis=axis, keepdims=keep), "int64")
    return op("subtract", _c(x.type.shape[axis] - 1, "int64"), idx)
