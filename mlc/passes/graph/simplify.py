"""Algebraic simplification: a product with ones, or a quotient by ones, is its other operand.

A derivative often multiplies by a cotangent of ones (``grad`` starts
reverse mode from 1.0, which a sum's rule broadcasts back over its operand):
``broadcast_to(1.0) * w`` would be a kernel writing a copy of ``w``. Where the
result has the other operand's shape and dtype, the product *is* that
operand, bit for bit (``x * 1`` and ``x / 1`` are exact in IEEE arithmetic,
NaN, infinities and ``-0.0`` included; ``x + 0`` is not, ``-0.0 + 0`` being
``+0.0``, so sums are left alone). A value is one when it is a constant of
ones, or a broadcast or reshape of one.

>>> import numpy as np
>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var, constant
>>> t = TensorType((2, 3), "float32")
>>> w, ones, y = Var("w", t), Var("ones", t), Var("y", t)
>>> g = Graph((w,), (Binding((ones,), "broadcast_to", (constant(np.float32(1)),), (("shape", (2, 3)),)),
...                  Binding((y,), "multiply", (ones, w))), (y,))
>>> print(simplify_algebra(g).script())
@R.function
def main(w: R.Tensor((2, 3), "float32")):
    lv0 = R.broadcast_to(R.const(1.0, "float32"), shape=(2, 3))
    return w
"""
from __future__ import annotations

import numpy as np

from ...ir.graph import Binding, Constant, Graph
from .nested import nested

__all__ = ["simplify_algebra"]

#: ops that move a value's elements without changing them
_SHAPE_ONLY = ("broadcast_to", "reshape", "expand_dims", "squeeze", "transpose")


def _is_one(atom, ones: set[int]) -> bool:
    if isinstance(atom, Constant):
        return atom.data.size > 0 and bool(np.all(atom.data == 1))
    return id(atom) in ones


@nested
def simplify_algebra(graph: Graph) -> Graph:
    """Replace ``x * ones``, ``ones * x`` and ``x / ones`` by ``x`` where the result's type is ``x``'s."""
    ones: set[int] = set()
    subst: dict[int, object] = {}
    kept: list[Binding] = []
    changed = False
    for b in graph.bindings:
        args = tuple(subst.get(id(a), a) for a in b.args)
        if args != b.args:
            b = Binding(b.outputs, b.op, args, b.attrs, b.loc)
            changed = True
        (out, *rest) = b.outputs if b.outputs else (None,)
        if b.op in _SHAPE_ONLY and not rest and _is_one(args[0], ones):
            ones.add(id(out))
        elif b.op in ("multiply", "divide") and len(args) == 2 and not rest:
            keep = [a for n, a in enumerate(args) if not (_is_one(a, ones) and (n == 1 or b.op == "multiply"))]
            if len(keep) == 1 and keep[0].type == out.type:
                subst[id(out)] = keep[0]
                changed = True
                continue
        kept.append(b)
    if not changed:
        return graph
    return graph.with_bindings(kept, [subst.get(id(a), a) for a in graph.outputs])
