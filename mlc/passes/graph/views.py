"""Reshapes as views: a fused group that only reshapes becomes a ``view`` binding, no kernel.

Reshaping row-major data moves nothing, so a group made only of reshape,
squeeze and expand_dims ops (a flatten between a conv and a dense layer,
say) needs no copy: its result is the same memory seen with another shape.
A view that the graph returns stays a kernel, since every result is a
fresh array. Memory planning keeps a viewed storage alive while any view of
it is (:mod:`.plan`); the executor passes the same buffer on.

>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var
>>> from mlc.passes.graph.fuse import fuse_ops
>>> x = Var("x", TensorType((2, 3), "float32"))
>>> f, s = Var("f", TensorType((6,), "float32")), Var("s", TensorType((6,), "float32"))
>>> g = Graph((x,), (Binding((f,), "reshape", (x,), (("newshape", (6,)),)),
...                  Binding((s,), "nn.softmax", (f,))), (s,))
>>> reshape_to_view(fuse_ops(g)).ops()
['view', 'fused']
"""
from __future__ import annotations

from ...ir.graph import Binding, Graph
from .nested import nested

__all__ = ["reshape_to_view", "VIEW_OPS"]

#: Ops whose result is their (row-major) input seen with another shape.
VIEW_OPS = frozenset({"reshape", "squeeze", "expand_dims"})


def _is_view_group(b: Binding, returned: set[int]) -> bool:
    if b.op != "fused" or len(b.outputs) != 1 or id(b.outputs[0]) in returned or len(b.args) != 1:
        return False
    body = b.attr("body")
    return all(m.op in VIEW_OPS and len(m.args) == 1 for m in body.bindings)


@nested
def reshape_to_view(graph: Graph) -> Graph:
    """Replace reshape-only fused groups whose result is not returned by ``view`` bindings."""
    returned = {id(a) for a in graph.outputs}
    if not any(_is_view_group(b, returned) for b in graph.bindings):
        return graph
    bindings = [Binding(b.outputs, "view", b.args, (("shape", b.outputs[0].shape),), b.loc)
                if _is_view_group(b, returned) else b for b in graph.bindings]
    return graph.with_bindings(bindings)
