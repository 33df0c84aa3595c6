"""Scalar element loops as one kernel: a ``for_loop`` whose body is element code becomes ``element_loop``.

The loops a Numba user writes (``for i in range(n): for j in range(m): a[i, j] = b[i, j] * 2 +
a[i - 1, j]``) trace into graph loops whose bodies read and write single elements
(``element_get``, ``element_set``) and compute on 0-d values. Run as graph loops, each element
costs kernel launches. This pass replaces such a loop — the outermost one whose whole body,
nested loops and branches included, is element code — by one ``element_loop`` binding, the
same arguments and attributes, which lowers to a single hand-written kernel
(:mod:`mlc.ops.library.element_loop`). A loop that is not element code is kept, and the pass
looks inside its body.

>>> import numpy as np
>>> from mlc.ir.graph import Binding, Graph, Var, constant
>>> from mlc.ops.registry import TensorType
>>> t, s, k = TensorType((4,), "float32"), TensorType((), "float32"), TensorType((), "int64")
>>> i, a, v, w, a2 = Var("i", k), Var("a", t), Var("v", s), Var("w", s), Var("a2", t)
>>> body = Graph((i, a), (Binding((v,), "element_get", (a, i)), Binding((w,), "negative", (v,)),
...                       Binding((a2,), "element_set", (a, w, i))), (a2,))
>>> x, y = Var("x", t), Var("y", t)
>>> g = Graph((x,), (Binding((y,), "for_loop", (constant(np.int64(0)), constant(np.int64(4)), x),
...                          (("body", body), ("num_carry", 1))),), (y,))
>>> element_loops(g).ops()
['element_loop']
"""
from __future__ import annotations

from ...ir.control import is_control, map_bodies
from ...ir.graph import Binding, Constant, Graph
from ...ops.library.element_loop import NotElementCode, element_kernel

__all__ = ["element_loops", "is_element_loop"]


def is_element_loop(b: Binding) -> bool:
    """Whether ``b``, a ``for_loop`` binding, has a body of element code that writes or reads
    at least one array element (a loop on scalars alone stays a graph loop)."""
    if b.op != "for_loop" or not _touches_elements(b.attr("body")):
        return False
    try:
        element_kernel([a.type for a in b.args], b.attr("body"), b.attr("num_carry"))
    except NotElementCode:
        return False
    return True


def _touches_elements(g: Graph) -> bool:
    for b in g.bindings:
        if b.op in ("element_get", "element_set"):
            return True
        if is_control(b) and any(_touches_elements(x) for x in _bodies(b)):
            return True
    return False


def _bodies(b: Binding):
    out = []
    map_bodies(b, lambda g: out.append(g) or g)
    return out


def _constant_bounds(b: Binding) -> tuple:
    """``(("bounds", (lower, upper)),)`` when the loop's bounds are constants (the kernel then
    knows its index's range), else ()."""
    lower, upper = b.args[:2]
    if isinstance(lower, Constant) and isinstance(upper, Constant):
        return (("bounds", (int(lower.data), int(upper.data))),)
    return ()


def element_loops(graph: Graph) -> Graph:
    """``graph`` with each outermost element-code ``for_loop`` an ``element_loop`` (see the module)."""
    changed = False
    bindings = []
    for b in graph.bindings:
        new = b
        if is_element_loop(b):
            new = Binding(b.outputs, "element_loop", b.args, b.attrs + _constant_bounds(b), b.loc)
        elif is_control(b):
            new = map_bodies(b, element_loops)
        changed = changed or new is not b
        bindings.append(new)
    return graph.with_bindings(bindings) if changed else graph
