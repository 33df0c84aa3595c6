"""What a statement or expression contains, counted once per node: the census behind the
early-outs of passes ("does this function have an unrolled loop, a threefry call, a complex
value?") that would otherwise each walk the whole function.

The census of a node covers the nodes :func:`~mlc.ir.functor.pre_order_nodes` yields from it
(buffers and their shapes are not entered). It records *facts*, each present or not:

* every node's class;
* ``(cls, label)`` for the classes with a label: a :class:`~mlc.ir.tir.For` loop's kind, a
  :class:`~mlc.ir.expr.Call`'s ``(op, dtype)``, a :class:`~mlc.ir.extern.CallExtern`'s name,
  a :class:`~mlc.ir.tir.BufferStore`'s value dtype;
* ``(For, "annotation", key)`` for each annotation key of a loop;
* each node's ``dtype``.

A node's census is its own facts joined with its children's, a bit mask over the facts seen
so far, kept in the node's ``_census`` slot (statements and expressions have one; nodes are
immutable, so it never goes stale and dies with the node). A rewrite shares unchanged
subtrees, so after the first question about a function the next pass's question only counts
the nodes that pass built.

>>> from mlc.ir.expr import Var, call
>>> from mlc.ir.tir import For, Evaluate
>>> x = Var("x", "float32")
>>> loop = For(Var("i"), 0, 4, "unrolled", Evaluate(call("exp", x)))
>>> contains(loop, For, "unrolled"), contains(loop, For, "serial"), contains(loop.body, For)
(True, False, False)
>>> sorted(labels(loop, Call)), "float32" in dtypes(loop)
([('exp', 'float32')], True)
"""
from __future__ import annotations

from functools import lru_cache

from ..expr import Call
from ..extern import CallExtern
from ..functor import _EXPR, _KINDS, _TUPLE, _getter, _kind
from ..tir import BufferStore, For

__all__ = ["contains", "labels", "dtypes", "annotated"]

#: fact -> its bit in a census mask; facts get bits as they are first seen.
_BITS: dict = {}
#: bit -> fact
_FACTS: list = []
#: a node's own key (class, label, dtype, annotation keys) -> the mask of its own facts
_OWN: dict[tuple, int] = {}
#: class -> whether its nodes have a ``_census`` slot to keep their mask in
_SLOTTED: dict[type, bool] = {}


def _bit(fact) -> int:
    bit = _BITS.get(fact)
    if bit is None:
        bit = _BITS[fact] = 1 << len(_FACTS)
        _FACTS.append(fact)
    return bit


def _own_key(node) -> tuple:
    cls = type(node)
    dtype = getattr(node, "dtype", None)
    if cls is For:
        return cls, node.kind, dtype, tuple(k for k, _ in node.annotations)
    if cls is Call:
        return cls, (node.op, node.dtype), dtype, ()
    if cls is CallExtern:
        return cls, node.name, dtype, ()
    if cls is BufferStore:
        return cls, node.value.dtype, dtype, ()
    return cls, None, dtype, ()


def _own_mask(key: tuple) -> int:
    cls, label, dtype, annotations = key
    mask = _bit(cls)
    if label is not None:
        mask |= _bit((cls, label))
    if isinstance(dtype, str):
        mask |= _bit(dtype)
    for name in annotations:
        mask |= _bit((cls, "annotation", name))
    _OWN[key] = mask
    return mask


def _slotted(cls: type) -> bool:
    slotted = _SLOTTED.get(cls)
    if slotted is None:
        slotted = _SLOTTED[cls] = hasattr(cls, "_census")
    return slotted


def census_mask(root) -> int:
    """The bit mask of the facts under ``root`` (counted once per node, kept on it)."""
    mask = getattr(root, "_census", None)
    if mask is not None:
        return mask
    kinds, getters_kind = _KINDS, _kind
    memo: dict[int, int] = {}  # masks of this walk's nodes that have no slot to keep them
    stack = [root]
    while stack:
        node = stack[-1]
        if id(node) in memo:
            stack.pop()
            continue
        cls = type(node)
        key = _own_key(node)
        mask = _OWN.get(key)
        if mask is None:
            mask = _own_mask(key)
        missing = False
        for value in _getter(cls)(node):
            kind = kinds.get(type(value)) or getters_kind(type(value))
            if kind <= _EXPR:
                items = (value,)
            elif kind == _TUPLE:
                items = value
            else:
                continue
            for item in items:
                if (kinds.get(type(item)) or getters_kind(type(item))) > _EXPR:
                    continue
                m = getattr(item, "_census", None)
                if m is None:
                    m = memo.get(id(item))
                    if m is None:
                        stack.append(item)
                        missing = True
                        continue
                mask |= m
        if missing:
            continue
        stack.pop()
        if _slotted(cls):
            object.__setattr__(node, "_census", mask)
        else:
            memo[id(node)] = mask
        if not stack:
            return mask
    return memo[id(root)]


def contains(root, cls: type, label=None) -> bool:
    """Whether a node of exactly class ``cls`` is under ``root`` (itself included); with a
    ``label``, one with that label (a loop's kind, a call's ``(op, dtype)``, an extern call's
    name, a store's value dtype)."""
    mask = census_mask(root)  # first: it gives bits to the facts it meets
    bit = _BITS.get(cls if label is None else (cls, label))
    return bit is not None and bool(mask & bit)


def annotated(root, key: str) -> bool:
    """Whether a :class:`~mlc.ir.tir.For` under ``root`` has annotation ``key`` (any value)."""
    mask = census_mask(root)
    bit = _BITS.get((For, "annotation", key))
    return bit is not None and bool(mask & bit)


def labels(root, cls: type) -> frozenset:
    """The labels of the ``cls`` nodes under ``root`` (see :func:`contains`)."""
    return _decoded(census_mask(root)).get(cls, frozenset())


def dtypes(root) -> frozenset[str]:
    """The dtypes of the nodes under ``root``."""
    return _decoded(census_mask(root)).get(str, frozenset())


@lru_cache(maxsize=1024)
def _decoded(mask: int) -> dict:
    """class -> the labels in ``mask``, and ``str`` -> its dtypes."""
    out: dict = {}
    n = 0
    while mask:
        if mask & 1:
            fact = _FACTS[n]
            if isinstance(fact, str):
                out.setdefault(str, set()).add(fact)
            elif isinstance(fact, tuple) and len(fact) == 2:
                out.setdefault(fact[0], set()).add(fact[1])
        mask >>= 1
        n += 1
    return {k: frozenset(v) for k, v in out.items()}
