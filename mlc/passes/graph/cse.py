"""Common subexpression elimination: one binding per distinct ``op(args, attrs)``.

Equal small constants (same dtype, shape and bytes) are merged first, so
``x * 2`` written twice is computed once.

>>> import numpy as np
>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var, constant
>>> t = TensorType((2,), "float32")
>>> x, a, b, c = Var("x", t), Var("a", t), Var("b", t), Var("c", t)
>>> two, two_again = constant(np.float32(2)), constant(np.float32(2))
>>> g = Graph((x,), (Binding((a,), "multiply", (x, two)), Binding((b,), "multiply", (x, two_again)),
...                  Binding((c,), "add", (a, b))), (c,))
>>> print(common_subexpression_elimination(g).script())
@R.function
def main(x: R.Tensor((2,), "float32")):
    lv0 = R.multiply(x, R.const(2.0, "float32"))
    lv1 = R.add(lv0, lv0)
    return lv1
"""
from __future__ import annotations

from ...ir.graph import Binding, Constant, Graph
from .nested import nested

__all__ = ["common_subexpression_elimination", "MAX_MERGED_CONSTANT"]

#: Constants up to this many elements are compared by value; larger ones by identity.
MAX_MERGED_CONSTANT = 64


def _constant_key(c: Constant):
    if c.data.size <= MAX_MERGED_CONSTANT:
        return ("const", c.dtype, c.shape, c.data.tobytes())
    return ("const", id(c))


@nested
def common_subexpression_elimination(graph: Graph) -> Graph:
    """Replace each repeated computation by the first binding that computed it."""
    subst: dict[int, object] = {}
    constants: dict[tuple, Constant] = {}
    seen: dict[tuple, Binding] = {}
    kept: list[Binding] = []
    changed = False

    def resolve(atom):
        if isinstance(atom, Constant):
            return constants.setdefault(_constant_key(atom), atom)
        return subst.get(id(atom), atom)

    for b in graph.bindings:
        args = tuple(resolve(a) for a in b.args)
        try:
            key = (b.op, tuple(id(a) for a in args), b.attrs)
            hash(key)
        except TypeError:  # an unhashable attribute: keep the binding as it is
            key = None
        earlier = seen.get(key) if key is not None else None
        if earlier is not None and len(earlier.outputs) == len(b.outputs):
            for old, new in zip(b.outputs, earlier.outputs):
                subst[id(old)] = new
            changed = True
            continue
        if any(x is not y for x, y in zip(args, b.args)):
            b = Binding(b.outputs, b.op, args, b.attrs, b.loc)
            changed = True
        if key is not None:
            seen[key] = b
        kept.append(b)
    outputs = tuple(resolve(a) for a in graph.outputs)
    if not changed and all(x is y for x, y in zip(outputs, graph.outputs)):
        return graph
    return graph.with_bindings(kept, outputs)
