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

import re
from collections.abc import Mapping

import numpy as np

from ..errors import MLCError
from ..graph import BlockBuilder, Tensor, Var
from ..graph.builder import shape_var
from ..graph.module import GraphModule
from ..ir import dtype as dt
from . import onnx_attention, onnx_core, onnx_math, onnx_nn, onnx_resize, onnx_shape  # noqa: F401 - converters
from .common import FrontendError, UnsupportedAttributeError, UnsupportedOpError
from .onnx_base import _ARITY, _CONVERTERS, _DEFAULT_DOMAINS, InputValueNeeded, _check_attrs, _Importer, _Node, _onnx

__all__ = ["from_onnx", "SUPPORTED_OPS", "InputValueNeeded"]

#: the ONNX op types (default domain) :func:`from_onnx` converts
SUPPORTED_OPS = tuple(sorted(_CONVERTERS))


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
    for i, d in enumerate(ttype.shape.dim):
        if d.HasField("dim_value"):
            dims.append(d.dim_value)
        else:  # a dynamic dimension: symbolic (inputs naming one symbol share its size)
            symbol = re.sub(r"\W", "_", d.dim_param) if d.dim_param else f"{name}_dim{i}"
            dims.append(shape_var(symbol if symbol.isidentifier() else f"d_{symbol}"))
    return tuple(dims), dt.canonical(dtype)


def from_onnx(model, shape_dict: Mapping[str, tuple] | None = None, dtype="float32",
              keep_params_in_input: bool = False, input_values: Mapping[str, np.ndarray] | None = None,
              ) -> GraphModule | tuple[GraphModule, dict[str, np.ndarray]]:
    """``main`` of a GraphModule computing ONNX ``model`` (a ModelProto or a file path).

    Dynamic dimensions (``dim_param`` "N", or none given) import as symbolic
    dimensions: one build runs every size (inputs naming one symbol must agree
    on it). ``shape_dict`` fixes inputs' shapes instead (static, as ints);
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
