"""Constant folding: evaluate ops whose inputs are all constants, with the op's reference.

The result replaces the op as a Constant. Folding never grows the program's
constants much: an op whose result is larger than its inputs (a broadcast of
a scalar, say) and larger than :data:`SMALL_CONSTANT` elements stays an op.

>>> import numpy as np
>>> from mlc.ops.registry import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var, constant
>>> t = TensorType((2,), "float32")
>>> x, a, b = Var("x", t), Var("a", t), Var("b", t)
>>> w = constant(np.array([1.0, 4.0], "float32"))
>>> g = Graph((x,), (Binding((a,), "sqrt", (w,)), Binding((b,), "add", (x, a))), (b,))
>>> folded = fold_constants(g)
>>> folded.ops(), folded.bindings[0].args[1].data
(['add'], array([1., 2.], dtype=float32))
"""
from __future__ import annotations

import numpy as np

from ...ir.control import CONTROL_OPS
from ...ir.graph import Binding, Constant, Graph, constant
from ...ops.registry import get_op
from .nested import nested

__all__ = ["fold_constants", "SMALL_CONSTANT"]

#: Results up to this many elements are always folded.
SMALL_CONSTANT = 1024

_NOT_OPS = ("fused", "call_tir", "call_dps_packed", "view", *CONTROL_OPS)


def _evaluate(b: Binding) -> list[Constant] | None:
    inputs = [a.data for a in b.args]
    if not all(isinstance(n, int) for v in b.outputs for n in v.shape):  # a dynamic axis: sized at run time
        return None
    out_size = sum(v.type.size for v in b.outputs)
    if out_size > max(SMALL_CONSTANT, sum(a.size for a in inputs)):
        return None
    try:
        with np.errstate(all="ignore"):
            result = get_op(b.op).reference(*inputs, **dict(b.attrs))
    except Exception:  # noqa: BLE001 - a reference that cannot take these values: the kernel computes them
        return None
    results = result if isinstance(result, (tuple, list)) else (result,)
    if len(results) != len(b.outputs):
        return None
    out = []
    for value, var in zip(results, b.outputs):
        array = np.asarray(value)
        if array.shape != var.shape:
            return None
        out.append(constant(array.astype(var.dtype, copy=False), var.name))
    return out


@nested
def fold_constants(graph: Graph) -> Graph:
    """Replace bindings of constant arguments by their values."""
    subst: dict[int, Constant] = {}
    kept: list[Binding] = []
    changed = False
    for b in graph.bindings:
        args = tuple(subst.get(id(a), a) for a in b.args)
        if any(x is not y for x, y in zip(args, b.args)):
            b = Binding(b.outputs, b.op, args, b.attrs, b.loc)
        if b.op not in _NOT_OPS and all(isinstance(a, Constant) for a in args):
            values = _evaluate(b)
            if values is not None:
                subst.update((id(v), c) for v, c in zip(b.outputs, values))
                changed = True
                continue
        kept.append(b)
    if not changed:
        return graph
    return graph.with_bindings(kept, tuple(subst.get(id(a), a) for a in graph.outputs))
