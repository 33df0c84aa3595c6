"""share_vector_windows: in a vector statement loading one buffer at three or more
contiguous vectors a few elements apart (a stencil's ``x[i:i+16]``, ``x[i+1:i+17]``,
``x[i+2:i+18]``), the vectors between the first and the last become windows of those two
(``vector_window``, :data:`~mlc.ir.expr.VECTOR_WINDOW`)::

    Y[T.Ramp(i, 1, 16)] = X[T.Ramp(i, 1, 16)] + X[T.Ramp(i + 1, 1, 16)] + X[T.Ramp(i + 2, 1, 16)]
 ->
    Y[T.Ramp(i, 1, 16)] = X[T.Ramp(i, 1, 16)]
        + T.vector_window(X[T.Ramp(i, 1, 16)], X[T.Ramp(i + 2, 1, 16)], 1, 2)
        + X[T.Ramp(i + 2, 1, 16)]

Every element is then loaded once, the window a shuffle of two loads a backend makes
anyway (a load of three on a NumPy array 16 bytes past a cache line is one line-crossing
load for three). :func:`plan_windows` decides, per stored vector value, which loads go:
loads of one buffer, of the same lanes, whose bases differ by constants spanning at most
those lanes, three or more of them. Only loads outside a Select's sides define the first
and the last (they are always made, so the window reads nothing the statement did not);
any load between them is replaced, wherever it is in the value.

>>> from mlc.ir.buffer import Buffer
>>> from mlc.ir.expr import BufferLoad, Ramp, Var
>>> X, Y = Buffer("X", (const(40),), "float32"), Buffer("Y", (const(40),), "float32")
>>> i = Var("i", "int32")
>>> x = lambda d: BufferLoad(X, (Ramp(i + d, 1, 8),), "float32x8")
>>> store = BufferStore(Y, x(0) + x(1) + x(2), (Ramp(i, 1, 8),))
>>> print(share_vector_windows(PrimFunc((X, Y), store)).body.value)
X[T.Ramp(i, 1, 8)] + T.vector_window(X[T.Ramp(i, 1, 8)], X[T.Ramp(i + 2, 1, 8)], 1, 2) + X[T.Ramp(i + 2, 1, 8)]
"""
from __future__ import annotations

from ...ir.arith import linear
from ...ir import dtype as dt
from ...ir.analysis.census import labels
from ...ir.buffer import Buffer
from ...ir.expr import VECTOR_WINDOW, BufferLoad, Call, PrimExpr, Ramp, Select, const
from ...ir.functor import Mutator, pre_order_nodes
from ...ir.tir import BufferStore, PrimFunc

__all__ = ["share_vector_windows", "plan_windows", "vector_window", "VECTOR_WINDOW"]


def vector_window(lo: BufferLoad, hi: BufferLoad, offset: int, span: int) -> Call:
    """The ``vector_window`` call: the vector ``offset`` elements past ``lo``, where ``hi``
    is the one ``span`` elements past it."""
    return Call(VECTOR_WINDOW, (lo, hi, const(offset, "int32"), const(span, "int32")), lo.dtype)


def share_vector_windows(func: PrimFunc) -> PrimFunc:
    """Each vector store's value with the loads :func:`plan_windows` plans made windows
    (module docstring); ``func`` itself where there are none."""
    if not any(dt.is_vector(d) for d in labels(func.body, BufferStore)):  # the stored values' dtypes
        return func
    body = _Windows().visit(func.body)
    return func if body is func.body else func.with_body(body)


class _Windows(Mutator):
    def visit_BufferStore(self, node: BufferStore):
        if not dt.is_vector(node.value.dtype):
            return node
        plan = plan_windows(node.value)
        if not plan:
            return node
        value = _Replace(plan).visit(node.value)
        return node if value is node.value else BufferStore(node.buffer, value, node.indices)


class _Replace(Mutator):
    """The loads of a plan replaced by their windows."""

    def __init__(self, plan: dict[tuple, tuple[BufferLoad, BufferLoad, int, int]]):
        self.plan = plan

    def visit_BufferLoad(self, node: BufferLoad):
        keyed = _window_key(node.buffer, node.indices[0]) if len(node.indices) == 1 else None
        window = None if keyed is None else self.plan.get((*keyed[0], keyed[1]))
        if window is None:
            return self.generic_visit(node)
        return vector_window(*window)


def plan_windows(value: PrimExpr) -> dict[tuple, tuple[BufferLoad, BufferLoad, int, int]]:
    """The loads of ``value`` to make windows of two others of its loads.

    Maps (buffer id, lanes, the base's terms, offset) to (the first load, the last load,
    offset - first, last - first).

    >>> from mlc.ir.buffer import Buffer
    >>> from mlc.ir.expr import Var
    >>> X = Buffer("X", (const(40),), "float32")
    >>> i = Var("i", "int32")
    >>> x = lambda d: BufferLoad(X, (Ramp(i + d, 1, 8),), "float32x8")
    >>> [(lo.indices[0].base, hi.indices[0].base, offset, span)
    ...  for lo, hi, offset, span in plan_windows(x(3) * x(5) + x(4)).values()]
    [(i + 3, i + 5, 1, 2)]
    """
    nodes = list(pre_order_nodes(value))
    # the contiguous vector loads, by buffer and lanes: only three or more of one buffer and
    # width can make a window (a register tile's update has one of each: no linear forms)
    candidates: dict[tuple, list[BufferLoad]] = {}
    for node in nodes:
        if type(node) is BufferLoad and len(node.indices) == 1 and type(node.indices[0]) is Ramp \
                and node.indices[0].stride == 1 and node.buffer.dtype != "bool":
            candidates.setdefault((id(node.buffer), node.indices[0].lanes), []).append(node)
    if all(len(loads) < 3 for loads in candidates.values()):
        return {}
    skip = {id(n) for sel in nodes if type(sel) is Select
            for side in (sel.true_value, sel.false_value) for n in pre_order_nodes(side)}
    groups: dict[tuple, dict[int, BufferLoad]] = {}
    for loads in candidates.values():
        if len(loads) < 3:
            continue
        for node in loads:
            if id(node) in skip:
                continue
            keyed = _window_key(node.buffer, node.indices[0])
            if keyed is not None:
                groups.setdefault(keyed[0], {}).setdefault(keyed[1], node)
    plan = {}
    for key, loads in groups.items():
        lo, hi, lanes = min(loads), max(loads), key[1]
        if len(loads) < 3 or hi - lo > lanes:
            continue
        for offset in loads:
            if lo < offset < hi:
                plan[(*key, offset)] = (loads[lo], loads[hi], offset - lo, hi - lo)
    return plan


def _window_key(buffer: Buffer, index: PrimExpr) -> tuple[tuple, int] | None:
    """(buffer id, lanes, the base's terms) and the base's constant of a contiguous vector
    access at ``index``: accesses of one key differ by constants. None for other indices."""
    if type(index) is not Ramp or index.stride != 1:
        return None
    form = linear(index.base)
    if not isinstance(form.const, int):
        return None
    return (id(buffer), index.lanes, tuple(sorted((k, c) for k, (_, c) in form.terms.items()))), form.const
