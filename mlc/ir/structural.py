"""Structural equality and hashing of IR, up to renaming of variables and buffers.

Two programs are equal when they have the same shape of nodes, the same
constants, dtypes, loop kinds and block names, and their variables and
buffers correspond one to one. Names of variables and buffers do not matter.
Graphs compare the same way: their values (graph ``Var``) correspond one to
one with equal types, constants hold equal data, and a binding's source
location does not matter. A graph inside another (a fused group's body) is a
function of its own inputs: it is compared on its own, without its ``module``
(the enclosing graph's module holds the PrimFuncs it calls). Modules (an IRModule, a GraphModule: any mapping
of names to functions but a plain dict) compare function by function, by name.

>>> from mlc.ir.expr import Var
>>> i, j = Var("i"), Var("j")
>>> structural_equal(i * 2 + 1, j * 2 + 1), structural_equal(i + j, i + i)
(True, False)
>>> structural_hash(i * 2 + 1) == structural_hash(j * 2 + 1)
True
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from .buffer import Buffer
from .expr import Var
from .graph import Binding, Constant, Graph
from .graph import Var as GraphVar

__all__ = ["structural_equal", "structural_hash", "assert_structural_equal"]


def _fields(node):
    from .functor import node_fields
    if isinstance(node, Binding):  # where it was traced is for error messages only
        return tuple((k, v) for k, v in node_fields(node) if k != "loc")
    return node_fields(node)


def _is_node(x) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def _module_items(x):
    """A module's (name, function) pairs, sorted by name; None for anything else."""
    return sorted(x.items(), key=lambda kv: kv[0]) if isinstance(x, Mapping) and not isinstance(x, dict) \
        else None


def _nested(graph: Graph) -> Graph:
    """A graph inside another (a fused group's body), as compared: its call_tir bindings name
    the PrimFuncs of the enclosing graph's module, so its own ``module`` field does not count."""
    return dataclasses.replace(graph, module=None) if graph.module is not None else graph


def _same_constant(x: Constant, y: Constant) -> bool:
    return x.type == y.type and x.data.tobytes() == y.data.tobytes()


def structural_equal(a, b) -> bool:
    """True when ``a`` and ``b`` are the same program up to variable/buffer renaming."""
    return _first_difference(a, b) is None


def _first_difference(a, b):
    """The first pair of differing sub-values, or None when equal."""
    fwd: dict[int, object] = {}
    bwd: dict[int, object] = {}
    keep = []  # keep mapped objects alive so their ids stay unique

    def bind(x, y) -> bool:
        if id(x) in fwd or id(y) in bwd:
            return fwd.get(id(x)) is y and bwd.get(id(y)) is x
        fwd[id(x)], bwd[id(y)] = y, x
        keep.append((x, y))
        return True

    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return x, y
        if isinstance(x, Graph) and x is not a:  # a closed function: its own variable mapping
            diff = _first_difference(_nested(x), _nested(y))
            if diff is not None:
                return diff
            continue
        if isinstance(x, Var):
            if x.dtype != y.dtype or not bind(x, y):
                return x, y
            continue
        if isinstance(x, GraphVar):
            if x.type != y.type or not bind(x, y):
                return x, y
            continue
        if isinstance(x, Constant):
            if not _same_constant(x, y):
                return x, y
            continue
        if isinstance(x, Buffer):
            if id(x) in fwd or id(y) in bwd:
                if not bind(x, y):
                    return x, y
                continue
            if x.dtype != y.dtype or x.scope != y.scope or not bind(x, y):
                return x, y
            stack.append((x.shape, y.shape))
            stack.append((x.strides, y.strides))
            continue
        items = _module_items(x)
        if items is not None:
            other = _module_items(y)
            if [k for k, _ in items] != [k for k, _ in other]:
                return x, y
            stack.extend(((fx, fy) for (_, fx), (_, fy) in zip(items, other)))
            continue
        if _is_node(x):
            for (_, vx), (_, vy) in zip(_fields(x), _fields(y)):
                stack.append((vx, vy))
            continue
        if isinstance(x, tuple):
            if len(x) != len(y):
                return x, y
            stack.extend(zip(x, y))
            continue
        if isinstance(x, float):
            if not (x == y or (math.isnan(x) and math.isnan(y))):
                return x, y
            continue
        if x != y:
            return x, y
    return None


def assert_structural_equal(a, b) -> None:
    """Raise AssertionError showing both programs and the first difference."""
    diff = _first_difference(a, b)
    if diff is not None:
        raise AssertionError(
            f"IR differs at:\n  {diff[0]!r}\nvs\n  {diff[1]!r}\n\n--- left\n{a!r}\n--- right\n{b!r}")


def structural_hash(node) -> int:
    """A hash consistent with :func:`structural_equal`."""
    numbering: dict[int, int] = {}
    keep = []
    tokens = []
    stack = [node]
    while stack:
        x = stack.pop()
        tokens.append(type(x).__name__)
        if isinstance(x, Graph) and x is not node:  # numbered on its own, as structural_equal compares it
            tokens.append(structural_hash(_nested(x)))
            continue
        if isinstance(x, (Var, Buffer)):
            if id(x) not in numbering:
                numbering[id(x)] = len(numbering)
                keep.append(x)
                if isinstance(x, Buffer):
                    tokens.append((x.dtype, x.scope))
                    stack.append(x.shape)
                    stack.append(x.strides)
            tokens.append((numbering[id(x)], x.dtype))
            continue
        if isinstance(x, GraphVar):
            if id(x) not in numbering:
                numbering[id(x)] = len(numbering)
                keep.append(x)
            tokens.append((numbering[id(x)], x.type))
            continue
        if isinstance(x, Constant):
            tokens.append((x.type, x.data.tobytes()))
            continue
        items = _module_items(x)
        if items is not None:
            tokens.append(tuple(k for k, _ in items))
            stack.extend(f for _, f in items)
            continue
        if _is_node(x):
            stack.extend(v for _, v in _fields(x))
            continue
        if isinstance(x, tuple):
            tokens.append(len(x))
            stack.extend(x)
            continue
        tokens.append(x)
    return hash(tuple(tokens))
