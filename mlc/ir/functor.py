"""Generic traversal of IR nodes: visit, rewrite and substitute.

Every node is a dataclass, so one generic walker serves them all; a rewrite
overrides ``visit_<ClassName>`` for the nodes it cares about and returns new
nodes, sharing every unchanged subtree.

>>> from mlc.ir.expr import Var
>>> i, j = Var("i"), Var("j")
>>> substitute(i * 2 + 1, {i: j + 3})
(j + 3) * 2 + 1
"""
from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .buffer import Buffer, BufferRegion
from .expr import CommReducer, IterVar, PrimExpr, Range, Var
from .tir import Stmt

__all__ = ["Mutator", "post_order_visit", "pre_order_nodes", "substitute", "NODE_TYPES"]

NODE_TYPES = (PrimExpr, Stmt, IterVar, Range, BufferRegion, CommReducer)


@lru_cache(maxsize=None)
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@lru_cache(maxsize=None)
def _field_values(cls) -> Callable[[Any], tuple]:
    """``getter(node)``: the values of ``cls``'s fields, as a tuple, in declaration order."""
    names = _field_names(cls)
    if len(names) == 1:
        name = names[0]
        return lambda node: (getattr(node, name),)
    return operator.attrgetter(*names) if names else (lambda node: ())


def node_fields(node) -> tuple[tuple[str, Any], ...]:
    cls = type(node)
    return tuple(zip(_field_names(cls), _field_values(cls)(node)))


# What a field's value is to a walk, by its exact type (looked up once per type):
_LEAF, _NODE, _BUFFER, _TUPLE = range(4)
_KINDS: dict[type, int] = {}


def _kind(cls: type) -> int:
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _KINDS[cls] = (_NODE if issubclass(cls, NODE_TYPES) else _BUFFER if issubclass(cls, Buffer)
                              else _TUPLE if issubclass(cls, tuple) else _LEAF)
    return kind


#: (mutator class, node class) -> the mutator's ``visit_<NodeClass>`` method, or None.
_METHODS: dict[tuple[type, type], Callable | None] = {}


class Mutator:
    """Rebuilds an IR tree bottom-up; override ``visit_<ClassName>`` to rewrite.

    Buffers are leaves: override :meth:`visit_buffer` to replace them.
    """

    def visit(self, node):
        key = (type(self), type(node))
        try:
            method = _METHODS[key]
        except KeyError:
            method = _METHODS[key] = getattr(key[0], "visit_" + key[1].__name__, None)
        return method(self, node) if method is not None else self.generic_visit(node)

    def visit_buffer(self, buffer: Buffer) -> Buffer:
        return buffer

    def generic_visit(self, node):
        cls = type(node)
        values = _field_values(cls)(node)
        changes = None
        for n, value in enumerate(values):
            kind = _kind(type(value))
            if kind == _LEAF:
                continue
            new = self._visit_value(value, kind)
            if new is not value:
                if changes is None:
                    changes = {}
                changes[_field_names(cls)[n]] = new
        return dataclasses.replace(node, **changes) if changes else node

    def _visit_value(self, value, kind: int | None = None):
        if kind is None:
            kind = _kind(type(value))
        if kind == _NODE:
            return self.visit(value)
        if kind == _BUFFER:
            return self.visit_buffer(value)
        if kind == _TUPLE and value and not isinstance(value[0], (str, tuple)):
            new = tuple(self._visit_value(v) for v in value)
            return value if all(a is b for a, b in zip(new, value)) else new
        return value


def pre_order_nodes(root):
    """Yield every IR node under ``root`` (itself included), parents first.

    Walks with an explicit stack; buffers and their shapes are not entered.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        kids = []
        for value in _field_values(type(node))(node):
            kind = _kind(type(value))
            if kind == _NODE:
                kids.append(value)
            elif kind == _TUPLE:
                kids.extend(v for v in value if _kind(type(v)) == _NODE)
        stack.extend(reversed(kids))


def post_order_visit(root, fn: Callable[[Any], None]) -> None:
    """Call ``fn`` on every node under ``root``, children before parents."""
    for node in reversed(list(pre_order_nodes(root))):
        fn(node)


class _Substitute(Mutator):
    def __init__(self, vmap):
        self.vmap = vmap

    def visit_Var(self, var: Var):
        return self.vmap.get(var, var)


def substitute(node, vmap: dict[Var, PrimExpr]):
    """Replace free occurrences of the variables in ``vmap`` (keys compared by identity)."""
    if not vmap:
        return node
    return _Substitute(vmap).visit(node)
