"""Dead code elimination: drop bindings none of whose results is used.

>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var
>>> t = TensorType((2,), "float32")
>>> x, a, b = Var("x", t), Var("a", t), Var("b", t)
>>> g = Graph((x,), (Binding((a,), "exp", (x,)), Binding((b,), "log", (x,))), (b,))
>>> dead_code_elimination(g).ops()
['log']
"""
from __future__ import annotations

from ...ir.graph import Graph
from .nested import nested

__all__ = ["dead_code_elimination"]


@nested
def dead_code_elimination(graph: Graph) -> Graph:
    """Keep only the bindings the outputs depend on (ops are pure)."""
    live = {id(a) for a in graph.outputs}
    kept = []
    for b in reversed(graph.bindings):
        if any(id(v) in live for v in b.outputs):
            kept.append(b)
            live.update(id(a) for a in b.args)
    if len(kept) == len(graph.bindings):
        return graph
    return graph.with_bindings(reversed(kept))
