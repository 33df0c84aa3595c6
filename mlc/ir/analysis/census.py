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

A node's census (:func:`~mlc.ir.functor.census_mask`, counted where the generic walks are, which
pass by the subtrees holding no node they visit) is its own facts joined with its children's,
a bit mask over the facts seen so far, kept in the node's ``_census`` slot (statements and expressions have one; nodes are
immutable, so it never goes stale and dies with the node). A rewrite shares unchanged
subtrees, so after the first question about a function the next pass's question only counts
the nodes that pass built.

>>> from mlc.ir.expr import Call, Var, call
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

from ..functor import census_bit, census_facts, census_mask
from ..tir import For

__all__ = ["contains", "labels", "dtypes", "annotated", "census_mask"]


def contains(root, cls: type, label=None) -> bool:
    """Whether a node of exactly class ``cls`` is under ``root`` (itself included); with a
    ``label``, one with that label (a loop's kind, a call's ``(op, dtype)``, an extern call's
    name, a store's value dtype)."""
    mask = census_mask(root)  # first: it gives bits to the facts it meets
    return bool(mask & census_bit(cls if label is None else (cls, label)))


def annotated(root, key: str) -> bool:
    """Whether a :class:`~mlc.ir.tir.For` under ``root`` has annotation ``key`` (any value)."""
    mask = census_mask(root)
    return bool(mask & census_bit((For, "annotation", key)))


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
    for fact in census_facts(mask):
        if isinstance(fact, str):
            out.setdefault(str, set()).add(fact)
        elif isinstance(fact, tuple) and len(fact) == 2:
            out.setdefault(fact[0], set()).add(fact[1])
    return {k: frozenset(v) for k, v in out.items()}
