"""Pytrees: nested tuples, lists, dicts and namedtuples of leaves, flattened and rebuilt.

A tree definition is a hashable nested tuple, cheap to compare, so it can be
part of a compile-cache key. ``None`` is an empty node (it holds no leaf).

>>> leaves, treedef = flatten({"w": (1, 2), "b": [3, None]})
>>> leaves
[1, 2, 3]
>>> unflatten(treedef, ["a", "b", "c"])
{'w': ('a', 'b'), 'b': ['c', None]}
>>> flatten(5)
([5], '*')
"""
from __future__ import annotations

from typing import Any

__all__ = ["LEAF", "flatten", "unflatten", "num_leaves"]

#: The tree definition of a single leaf.
LEAF = "*"
_NONE = ("None", None, ())


def _children(node) -> tuple[str, Any, list] | None:
    """(kind, metadata, children) for a container node, None for a leaf."""
    t = type(node)
    if t is tuple:
        return "tuple", None, list(node)
    if t is list:
        return "list", None, list(node)
    if t is dict:  # the keys' types too: 1 == True, yet {True: x} is not {1: x}
        keys = tuple(node)
        return "dict", (keys, tuple(type(k) for k in keys)), [node[k] for k in keys]
    if isinstance(node, tuple) and hasattr(t, "_fields"):
        return "namedtuple", t, list(node)
    return None


def _fold(tree, expand, build):
    """What ``tree`` becomes, walked depth first without recursion (deep trees do not hit the
    recursion limit): ``expand(node)`` is ``(kind, metadata, children)`` for an inner node, or
    ``(None, value, None)`` for a node that becomes ``value``; an inner node becomes
    ``build(kind, metadata, what its children became)``."""
    root: list = []
    # Each frame: kind, metadata, children still to visit (last first), what they became.
    stack = [(None, None, [tree], root)]
    while stack:
        kind, meta, todo, built = stack[-1]
        if not todo:
            stack.pop()
            if kind is not None:
                stack[-1][3].append(build(kind, meta, built))
            continue
        kind, meta, children = expand(todo.pop())
        if kind is None:
            built.append(meta)
        else:
            stack.append((kind, meta, children[::-1], []))
    return root[0]


def _definition(kind: str, meta, children: list) -> tuple:
    return kind, meta, tuple(children)


def flatten(tree) -> tuple[list, Any]:
    """The leaves of ``tree`` in order, and its tree definition."""
    leaves: list = []

    def expand(node):
        if node is None:
            return None, _NONE, None
        container = _children(node)
        if container is None:
            leaves.append(node)
            return None, LEAF, None
        return container

    return leaves, _fold(tree, expand, _definition)


def _build(kind: str, meta, children: list):
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    if kind == "dict":
        return dict(zip(meta[0], children))
    if kind == "namedtuple":
        return meta(*children)
    return None


def unflatten(treedef, leaves):
    """Rebuild the tree ``treedef`` describes with ``leaves`` in order."""
    if type(treedef) is str:
        return leaves[0]
    it = iter(leaves)

    def expand(d):
        if type(d) is str:
            return None, next(it), None
        return d[0], d[1], list(d[2])

    return _fold(treedef, expand, _build)


def num_leaves(treedef) -> int:
    """How many leaves a tree with definition ``treedef`` holds."""
    count, stack = 0, [treedef]
    while stack:
        d = stack.pop()
        if type(d) is str:
            count += 1
        else:
            stack.extend(d[2])
    return count
