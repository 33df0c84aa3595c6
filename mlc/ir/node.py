"""``node``: the class decorator of every immutable IR node.

A node is a frozen, slotted dataclass (:func:`mlc.frozen.frozen`) compared
structurally through :mod:`mlc.ir.structural`, never by a generated ``__eq__``:
two nodes are equal as Python objects only when they are the same object, and hash
by identity. Its field annotations are read: the walks (:mod:`mlc.ir.functor`) never
enter a field annotated ``str``, ``int``, ``float`` or ``bool`` (or one of them
``| None``), so a field that may hold a node, a buffer or a tuple of them is
annotated as what it holds::

    >>> import dataclasses
    >>> @node
    ... class Pair:
    ...     a: int
    ...     b: int = 0
    >>> Pair(1) == Pair(1), dataclasses.replace(Pair(1), b=2).b
    (False, 2)
"""
from __future__ import annotations

from ..frozen import frozen

__all__ = ["node"]


def node(cls=None, /, *, repr: bool = False):
    """Make ``cls`` an immutable IR node; ``repr=True`` also gives it a field-wise
    ``__repr__`` (otherwise it has its base class's, usually the IR printer)."""
    return frozen(cls, eq=False, repr=repr)
