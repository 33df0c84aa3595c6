"""What every ONNX converter shares: the importer's state, the node, the converter table.

A converter is registered for op types with :func:`_converter` (the inputs it
takes and its attributes with ONNX's defaults) and maps an ONNX node onto
registry ops; :mod:`mlc.frontend.onnx` drives the import.

>>> from mlc.frontend.onnx_base import _CONVERTERS
>>> import mlc.frontend.onnx  # (its import registers every converter)
>>> "Relu" in _CONVERTERS
True
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import ShapeError
from ..graph import BlockBuilder, Constant, Tensor, Var, constant, op
from ..ir import dtype as dt
from .common import FrontendError, Namer, UnsupportedAttributeError

__all__ = ["InputValueNeeded"]


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


def _ceil_pads(node: _Node, sizes, kernels, strides, dilations, pads) -> tuple:
    """``pads`` with the end pads grown so that floor-mode pooling gives ceil mode's windows:
    one more window where the last would start inside the input (or its begin padding);
    ONNX drops a window that would start in the end padding."""
    ends = list(pads[2:])
    for i, (size, k, s, d, lo, hi) in enumerate(zip(sizes, kernels, strides, dilations, pads[:2], pads[2:])):
        span = size + lo + hi - (k - 1) * d - 1
        out = -(-span // s) + 1
        if (out - 1) * s >= size + lo:  # the last window would start in the end padding
            out -= 1
        ends[i] = hi + max((out - 1) * s + (k - 1) * d + 1 - (size + lo + hi), 0)
        if ends[i] > k // 2:
            raise _refuse(node, "ceil_mode", 1, f"0, or 1 where the last window needs at most half the "
                          f"kernel of end padding (here {ends[i]} past a kernel of {k})")
    return (*pads[:2], *ends)


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
