"""Import an ONNX model as a :class:`~mlc.graph.GraphModule` (the course's chapter 6).

Each ONNX node becomes one or a few registry ops emitted by a
:class:`~mlc.graph.BlockBuilder` in ``main``'s dataflow block; initializers
become bound constants (or, with ``keep_params_in_input=True``, parameters
of ``main`` after the model's inputs). Values the importer must know while
importing (Reshape's shape, a Constant node) are kept as NumPy arrays and
become graph constants only where an op reads them as data.

>>> import numpy as np, onnx
>>> from onnx import TensorProto, helper
>>> import mlc
>>> graph = helper.make_graph(
...     [helper.make_node("Relu", ["x"], ["y"])], "relu",
...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
>>> mod = mlc.frontend.from_onnx(helper.make_model(graph))
>>> print(mod["main"].script())
@R.function
def main(x: R.Tensor((2, 3), "float32")):
    with R.dataflow():
        gv = R.nn.relu(x)
        R.output(gv)
    return gv

Supported ops (ONNX's default domain; see :data:`SUPPORTED_OPS`): Gemm,
MatMul, Add, Sub, Mul, Div, Pow, Relu, Sqrt, Tanh, Sigmoid, Erf, Exp, Log,
Neg, Abs, Reciprocal, Gelu, Conv (2-D), MaxPool (2-D), Flatten, Reshape,
Transpose, Concat, Softmax, LayerNormalization, Identity, Dropout
(inference), Constant. Any other op, or an attribute value these do not
handle, raises :class:`UnsupportedOpError` / :class:`UnsupportedAttributeError`
naming the node.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import MLCError, ShapeError
from ..graph import BlockBuilder, Constant, Tensor, Var, constant, op
from ..graph.module import GraphModule
from ..ir import dtype as dt
from .common import FrontendError, Namer, UnsupportedAttributeError, UnsupportedOpError

__all__ = ["from_onnx", "SUPPORTED_OPS", "InputValueNeeded"]


class InputValueNeeded(UnsupportedAttributeError):
    """A node reads a model input as a value the import needs (a Reshape's shape, a Slice's
    starts): give it with ``from_onnx(..., input_values={name: array})``. ``input_name`` names it."""

    def __init__(self, input_name: str, message: str):
        super().__init__(message)
        self.input_name = input_name

_DEFAULT_DOMAINS = ("", "ai.onnx")


def _onnx():
    try:
        import onnx  # an optional dependency: `import mlc` never loads it
    except ImportError:
        raise FrontendError("mlc.frontend.from_onnx needs the onnx package; install it with "
                            "`pip install onnx`") from None
    return onnx


# ------------------------------------------------------------------ the import

@dataclass
class _Node:
    """One ONNX node as the converters see it."""
    name: str
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict
    opset: int
    two_d: bool = False  # a 1-D node seen as 2-D: its inputs get a height of 1

    def where(self) -> str:
        return f"ONNX node {self.name!r} ({self.op_type})"


@dataclass
class _Importer:
    bb: BlockBuilder
    keep_params: bool
    static: dict[str, np.ndarray] = field(default_factory=dict)   # known at import time
    values: dict[str, object] = field(default_factory=dict)       # graph values (Var, Constant)
    initializers: set[str] = field(default_factory=set)
    params: dict[str, tuple[Var, np.ndarray]] = field(default_factory=dict)
    namer: Namer = field(default_factory=Namer)
    graph_inputs: set[str] = field(default_factory=set)

    def value(self, name: str, node: _Node, what: str):
        """The graph value ONNX value ``name`` stands for (an initializer used as data
        becomes a Constant, or a parameter with ``keep_params_in_input``)."""
        v = self._value(name, node, what)
        if node.two_d and v.type.ndim == 3:
            shape = v.type.shape
            return self.emit(op("reshape", v, newshape=(shape[0], shape[1], 1, shape[2])))
        return v

    def _value(self, name: str, node: _Node, what: str):
        if name in self.values:
            return self.values[name]
        if name in self.static:
            array = self.static[name]
            if self.keep_params and name in self.initializers:
                var = Var(self.namer(name, "p"), Tensor(array.shape, dt.canonical(array.dtype)))
                self.params[name] = (var, array)
                value = var
            else:
                value = constant(array, self.namer(name, "c"))
            self.values[name] = value
            return value
        raise FrontendError(f"{node.where()}: its {what} {name!r} is neither a graph input, an "
                            "initializer nor the output of an earlier node (nodes must be in "
                            "topological order)")

    def emit(self, expr):
        """``expr`` bound in ``main`` (a value as it is): its Var, or Vars for several results."""
        if isinstance(expr, (Var, Constant, tuple)):
            return expr
        if isinstance(expr, np.ndarray):
            return constant(expr, self.namer("c", "c"))
        return self.bb.emit(expr)

    def optional(self, node: _Node, i: int, what: str):
        """Input ``i``'s graph value, or None where the node leaves it out."""
        if len(node.inputs) > i and node.inputs[i]:
            return self.value(node.inputs[i], node, what)
        return None

    def optional_constant(self, node: _Node, i: int, what: str) -> np.ndarray | None:
        """Input ``i``'s value known at import time, or None where the node leaves it out."""
        if len(node.inputs) > i and node.inputs[i]:
            return self.constant_input(node.inputs[i], node, what)
        return None

    def constant_input(self, name: str, node: _Node, what: str) -> np.ndarray:
        """The value of input ``name`` known at import time (an initializer or a Constant)."""
        if name in self.static:
            return self.static[name]
        if name in self.graph_inputs:
            raise InputValueNeeded(name, f"{node.where()}: its {what} is the model input {name!r}, "
                                   "whose value must be known when the model is imported; give it "
                                   f"with from_onnx(..., input_values={{{name!r}: array}})")
        raise UnsupportedAttributeError(
            f"{node.where()}: its {what} ({name!r}) must be known when the model is imported (an "
            "initializer or a Constant node's output); it is computed while the model runs, "
            "which mlc's static shapes cannot express")


def _check_attrs(node: _Node, defaults: Mapping[str, object]) -> dict:
    unknown = sorted(set(node.attrs) - set(defaults))
    if unknown:
        raise UnsupportedAttributeError(
            f"{node.where()}: attribute(s) {unknown} are not supported; {node.op_type} supports "
            f"{sorted(defaults) or 'no attributes'}")
    return {**defaults, **node.attrs}


def _refuse(node: _Node, attr: str, value, supported: str) -> UnsupportedAttributeError:
    return UnsupportedAttributeError(f"{node.where()}: {attr}={value!r} is not supported; "
                                     f"supported: {supported}")


def _scalar(value: float, dtype: str) -> np.ndarray:
    """A 0-d array of ``dtype``: a Gemm factor that keeps the product's dtype."""
    return np.array(value, dtype=dtype)


def _rank(node: _Node, value, what: str, allowed: tuple[int, ...]) -> None:
    if value.type.ndim not in allowed:
        raise UnsupportedAttributeError(
            f"{node.where()}: {what} has shape {value.type.shape} (rank {value.type.ndim}); "
            f"{node.op_type} is supported for rank {' or '.join(map(str, allowed))} only")


def _axis(node: _Node, axis: int, ndim: int, inclusive_end: bool = False) -> int:
    """``axis`` in ``[0, ndim)`` (``[0, ndim]`` for Flatten's split point)."""
    top = ndim + 1 if inclusive_end else ndim
    if not -ndim <= axis < top:
        raise ShapeError(f"{node.where()}: axis={axis} is out of range for a rank-{ndim} input "
                         f"(expected {-ndim} <= axis < {top})")
    return axis + ndim if axis < 0 else axis


# ------------------------------------------------------------------ converters

Converter = Callable[[_Importer, _Node], object]
_CONVERTERS: dict[str, tuple[Converter, dict]] = {}


_ARITY: dict[str, tuple[int, int]] = {}


def _converter(*op_types: str, inputs: tuple[int, int] = (1, 1), **defaults):
    """Register ``fn`` for ``op_types``, taking ``inputs`` = (fewest, most) inputs and the
    attributes named in ``defaults`` (with ONNX's default values)."""
    def register(fn: Converter) -> Converter:
        for t in op_types:
            _CONVERTERS[t] = (fn, defaults)
            _ARITY[t] = inputs
        return fn
    return register


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


def _same_pads(node: _Node, sizes, kernels, strides, dilations, mode: str) -> tuple[int, int, int, int]:
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernels, strides, dilations):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if mode == "SAME_UPPER" else large)
        ends.append(large if mode == "SAME_UPPER" else small)
    return (*begins, *ends)


def _window(node: _Node, at: dict, sizes, kernels) -> tuple[tuple, tuple, tuple]:
    """(strides, dilations, pads as (top, left, bottom, right)) of a 2-D Conv or MaxPool."""
    strides = tuple(at["strides"] or (1, 1))
    dilations = tuple(at["dilations"] or (1, 1))
    for name, v in (("strides", strides), ("dilations", dilations)):
        if len(v) != 2:
            raise ShapeError(f"{node.where()}: {name}={list(v)} must have 2 values (one per spatial axis)")
    mode = at["auto_pad"]
    if mode == "NOTSET":
        pads = tuple(at["pads"] or (0, 0, 0, 0))
        if len(pads) != 4:
            raise ShapeError(f"{node.where()}: pads={list(pads)} must have 4 values "
                             "(h_begin, w_begin, h_end, w_end)")
    elif mode == "VALID":
        pads = (0, 0, 0, 0)
    elif mode in ("SAME_UPPER", "SAME_LOWER"):
        pads = _same_pads(node, sizes, kernels, strides, dilations, mode)
    else:
        raise _refuse(node, "auto_pad", mode, "NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    return strides, dilations, pads  # ONNX's pad order is mlc's (top, left, bottom, right)


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


def _as_2d(node: _Node, x) -> _Node:
    """A 1-D Conv node as a 2-D one over inputs of height 1 (its inputs reshaped, named anew)."""
    at = dict(node.attrs)
    for key in ("strides", "dilations", "kernel_shape"):
        if at.get(key):
            at[key] = [1, *at[key]]
    if at.get("pads"):
        at["pads"] = [0, at["pads"][0], 0, at["pads"][1]]
    if at.get("output_padding"):
        at["output_padding"] = [0, *at["output_padding"]]
    if at.get("output_shape"):
        at["output_shape"] = [1, *at["output_shape"]]
    return _Node(node.name, node.op_type, node.inputs, node.outputs, at, node.opset, two_d=True)


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
    if at["ceil_mode"]:
        for size, k, s, d, lo, hi in zip(x.type.shape[2:], kernels, strides, dilations, pads[:2], pads[2:]):
            span = size + lo + hi - (k - 1) * d - 1
            if span % s:
                raise _refuse(node, "ceil_mode", 1, "0, or 1 where the windows tile the padded input "
                              "exactly (then both modes agree)")
    return op("nn.max_pool2d", x, kernel=kernels, stride=strides, padding=pads, dilation=dilations)


@_converter("Flatten", axis=1)
def _flatten(im: _Importer, node: _Node):
    at = node.attrs
    x = im.value(node.inputs[0], node, "input")
    shape = x.type.shape
    axis = _axis(node, at["axis"], len(shape), inclusive_end=True)
    return op("reshape", x, newshape=(math.prod(shape[:axis]), math.prod(shape[axis:])))


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




# ------------------------------------------------------------------ driver

def _attributes(onnx, proto) -> dict:
    attrs = {}
    for a in proto.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list):
            v = [x.decode() if isinstance(x, bytes) else x for x in v]
        attrs[a.name] = v
    return attrs


def _input_type(onnx, info, shape_dict, dtype) -> tuple[tuple[int, ...], str]:
    name = info.name
    ttype = info.type.tensor_type
    if ttype.elem_type:  # the model's own type wins; `dtype` fills in where it declares none
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(ttype.elem_type)).name
    elif isinstance(dtype, Mapping):
        dtype = dtype.get(name)
    if dtype is None:
        raise FrontendError(f"from_onnx: input {name!r} has no element type; give it with "
                            f"dtype={{'{name}': 'float32'}}")
    if shape_dict and name in shape_dict:
        return tuple(int(d) for d in shape_dict[name]), dt.canonical(dtype)
    if not ttype.HasField("shape"):
        raise FrontendError(f"from_onnx: input {name!r} has no shape; give it with "
                            f"shape_dict={{'{name}': (...)}}")
    dims = []
    for d in ttype.shape.dim:
        if not d.HasField("dim_value"):
            symbol = d.dim_param or "?"
            raise FrontendError(f"from_onnx: input {name!r} has a dynamic dimension {symbol!r}; mlc "
                                f"compiles static shapes: give them with shape_dict={{'{name}': (...)}}")
        dims.append(d.dim_value)
    return tuple(dims), dt.canonical(dtype)


def from_onnx(model, shape_dict: Mapping[str, tuple] | None = None, dtype="float32",
              keep_params_in_input: bool = False, input_values: Mapping[str, np.ndarray] | None = None,
              ) -> GraphModule | tuple[GraphModule, dict[str, np.ndarray]]:
    """``main`` of a GraphModule computing ONNX ``model`` (a ModelProto or a file path).

    ``shape_dict`` gives static shapes to inputs (required for dynamic ones);
    ``dtype`` is the element type of inputs that declare none (a str, or a
    dict by input name). Initializers become bound constants; with
    ``keep_params_in_input=True`` they are parameters of ``main`` after the
    inputs and the call returns ``(mod, params)``, ``params`` mapping each
    such parameter's name to its array (``mlc.graph.bind_params(mod, params)``
    binds them back). ``input_values`` fixes the value of model inputs that
    the import must know (a Reshape's shape, a Slice's bounds, given as inputs):
    they become constants, not parameters of ``main``. Raises :class:`UnsupportedOpError` for an op outside
    :data:`SUPPORTED_OPS`, :class:`UnsupportedAttributeError` for an attribute
    value a converter does not handle; both name the node.
    """
    onnx = _onnx()
    if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
        model = onnx.load(model)
    if not isinstance(model, onnx.ModelProto):
        raise FrontendError(f"from_onnx: expected an onnx.ModelProto or a path, got {type(model).__name__}")
    opsets = {o.domain: o.version for o in model.opset_import}
    opset = opsets.get("", opsets.get("ai.onnx", onnx.defs.onnx_opset_version()))
    graph = model.graph
    im = _Importer(BlockBuilder(), keep_params_in_input)
    for init in graph.initializer:
        im.static[init.name] = np.asarray(onnx.numpy_helper.to_array(init), order="C")  # (0-d stays 0-d)
        im.initializers.add(init.name)
    inputs = []
    for name, array in (input_values or {}).items():
        if name not in {i.name for i in graph.input}:
            raise FrontendError(f"from_onnx: input_values names {name!r}, which is not an input of "
                                f"the model; its inputs are {[i.name for i in graph.input]}")
        im.static[name] = np.asarray(array)
    for info in graph.input:
        if info.name in im.initializers or info.name in im.static:
            continue  # (older exporters list initializers as inputs too)
        im.graph_inputs.add(info.name)
        shape, ty = _input_type(onnx, info, shape_dict, dtype)
        var = Var(im.namer(info.name, "x"), Tensor(shape, ty))
        im.values[info.name] = var
        inputs.append(var)
    known = {i.name for i in graph.input}
    if shape_dict:
        extra = sorted(set(shape_dict) - known)
        if extra:
            raise FrontendError(f"from_onnx: shape_dict names {extra}, which are not inputs of the "
                                f"model; its inputs are {sorted(known - im.initializers)}")
    bb = im.bb
    with bb.function("main"):
        with bb.dataflow():
            for i, proto in enumerate(graph.node):
                node = _Node(proto.name or f"{proto.op_type}_{i}", proto.op_type, list(proto.input),
                             list(proto.output), _attributes(onnx, proto), opset)
                _convert(im, node, proto.domain)
            outputs = []
            for info in graph.output:
                value = im.value(info.name, _Node("<graph output>", "output", [], [], {}, opset), "output")
                outputs.append(bb.emit_output(value))
        out = outputs[0] if len(outputs) == 1 else tuple(outputs)
        params = inputs + [v for v, _ in im.params.values()]
        bb.emit_func_output(out, params)
    mod = bb.get()
    if keep_params_in_input:
        return mod, {var.name: array for var, array in im.params.values()}
    return mod


def _convert(im: _Importer, node: _Node, domain: str) -> None:
    if domain not in _DEFAULT_DOMAINS:
        raise UnsupportedOpError(f"{node.where()}: ops of domain {domain!r} are not supported; "
                                 "supported: ONNX's default domain")
    entry = _CONVERTERS.get(node.op_type)
    if entry is None and _fold(im, node):
        return
    if entry is None:
        raise UnsupportedOpError(f"{node.where()}: op {node.op_type!r} is not supported; supported ops: "
                                 f"{', '.join(SUPPORTED_OPS)}")
    fn, defaults = entry
    if _fold(im, node):
        return
    fewest, most = _ARITY[node.op_type]
    if not fewest <= len(node.inputs) <= most or not all(node.inputs[:fewest]):
        expected = f"{fewest}" if fewest == most else f"{fewest} to {most}"
        raise FrontendError(f"{node.where()}: expected {expected} input(s), got {node.inputs}")
    node.attrs = _check_attrs(node, defaults)
    try:
        result = fn(im, node)
        if result is None:  # a value known at import time (im.static has it)
            return
        results = result if isinstance(result, (tuple, list)) else (result,)
        values = []
        for r in results:
            v = im.emit(r) if r is not None else None
            values.extend(v if isinstance(v, tuple) else (v,))
    except (UnsupportedOpError, UnsupportedAttributeError, FrontendError):
        raise
    except MLCError as err:
        if node.where() in str(err):
            raise
        raise type(err)(f"{node.where()}: {err}") from err
    for name, value in zip(node.outputs, values):
        if name and value is not None:
            im.values[name] = value
    missing = [n for n in node.outputs[len(values):] if n]
    if missing:
        raise UnsupportedAttributeError(f"{node.where()}: its output(s) {missing} are not supported; "
                                        f"supported: the first {len(values)}")


#: ops never evaluated at import time (their value differs from run to run)
_NOT_FOLDED = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                         "Bernoulli", "Multinomial", "Constant", "If", "Loop", "Scan"})


def _fold(im: _Importer, node: _Node) -> bool:
    """Evaluate ``node`` now (ONNX's reference evaluator) where every input is known at import
    time: shape arithmetic of exported models (Shape -> Gather -> Concat -> Reshape) stays
    static. Returns whether it did."""
    present = [n for n in node.inputs if n]
    if not present or node.op_type in _NOT_FOLDED or not all(n in im.static for n in present):
        return False
    if sum(im.static[n].size for n in present) > 1 << 16:
        return False
    onnx = _onnx()
    from onnx import helper
    from onnx.reference import ReferenceEvaluator
    proto = helper.make_node(node.op_type, node.inputs, node.outputs, **{
        k: v for k, v in node.attrs.items() if v is not None})
    infos = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(im.static[n].dtype),
                                           im.static[n].shape) for n in present]
    outs = [helper.make_empty_tensor_value_info(n) for n in node.outputs if n]
    model = helper.make_model(helper.make_graph([proto], "fold", infos, outs),
                              opset_imports=[helper.make_opsetid("", node.opset)])
    try:
        results = ReferenceEvaluator(model).run(None, {n: im.static[n] for n in present})
    except Exception:  # noqa: BLE001 - not foldable: the converter (or its refusal) decides
        return False
    if not all(isinstance(r, np.ndarray) for r in results):
        return False
    for name, r in zip([n for n in node.outputs if n], results):
        im.static[name] = np.asarray(r, order="C")
    return True


from . import onnx_attention, onnx_math, onnx_nn, onnx_resize, onnx_shape  # noqa: E402,F401 - their converters join the table

#: the ONNX op types (default domain) :func:`from_onnx` converts
SUPPORTED_OPS = tuple(sorted(_CONVERTERS))
