"""bind_params: turn a graph function's weight parameters into constants.

>>> import numpy as np
>>> from mlc.graph import BlockBuilder, Tensor, Var, op
>>> x, w = Var("x", Tensor((2,), "float32")), Var("w", Tensor((2,), "float32"))
>>> bb = BlockBuilder()
>>> with bb.function("main", [x, w]):
...     _ = bb.emit_func_output(bb.emit(op("add", x, w)))
>>> mod = bind_params(bb.get(), {"w": np.ones(2, "float32")})
>>> [v.name for v in mod["main"].inputs]
['x']
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from ..errors import DTypeError, IRError, ShapeError
from ..ir.graph import Binding, Constant, Graph, constant
from .module import GraphModule

__all__ = ["bind_params"]


def _as_array(value) -> np.ndarray:
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def bind_graph(graph: Graph, params: Mapping[str, object]) -> Graph:
    """``graph`` with each input named in ``params`` replaced by a Constant of its value."""
    by_name = {v.name: v for v in graph.inputs}
    subst: dict[int, Constant] = {}
    for name, value in params.items():
        if not isinstance(name, str):
            given = getattr(name, "name", None)
            raise IRError(f"bind_params: the keys of params are parameter names (strings), got "
                          f"{type(name).__name__} {name!r}"
                          + (f"; use {given!r}" if isinstance(given, str) else ""))
        var = by_name.get(name)
        if var is None:
            raise IRError(f"bind_params: function {graph.name!r} has no parameter {name!r}; its "
                          f"parameters are {list(by_name)}")
        array = _as_array(value)
        if array.shape != var.shape:
            raise ShapeError(f"bind_params: parameter {name!r} of {graph.name!r} has shape "
                             f"{var.shape}, got an array of shape {array.shape}")
        if array.dtype != np.dtype(var.dtype):
            raise DTypeError(f"bind_params: parameter {name!r} of {graph.name!r} has dtype "
                             f"{var.dtype}, got {array.dtype}; convert it with .astype('{var.dtype}')")
        subst[id(var)] = constant(array, name)
    bindings = []
    for b in graph.bindings:
        args = tuple(subst.get(id(a), a) for a in b.args)
        bindings.append(b if all(x is y for x, y in zip(args, b.args))
                        else Binding(b.outputs, b.op, args, b.attrs, b.loc))
    outputs = tuple(subst.get(id(a), a) for a in graph.outputs)
    inputs = tuple(v for v in graph.inputs if id(v) not in subst)
    return replace(graph, inputs=inputs, bindings=tuple(bindings), outputs=outputs)


def bind_params(mod, params: Mapping[str, object], func_name: str = "main"):
    """Bind ``params`` (name -> array) in graph function ``func_name`` of ``mod``
    (a GraphModule, or a Graph); the result no longer takes those parameters."""
    if isinstance(mod, Graph):
        return bind_graph(mod, params)
    if not isinstance(mod, GraphModule):
        raise IRError(f"bind_params: expected a GraphModule or Graph, got {type(mod).__name__}")
    graph = mod[func_name]
    if not isinstance(graph, Graph):
        raise IRError(f"bind_params: {func_name!r} is a PrimFunc, not a graph function")
    return mod.with_function(func_name, bind_graph(graph, params))
