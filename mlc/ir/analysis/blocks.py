"""Well-formed blocks: unique names, and iterators bound inside their domains.

A function's blocks are looked up by name, so two blocks of one name make
``get_block`` ambiguous. A block iterator ``v = T.axis.spatial(4, i)`` promises
that ``v`` stays in ``[0, 4)``; every analysis of regions and dependences
relies on it, so a binding that provably leaves the domain is malformed.

:func:`block_problem` finds the first such problem (the block and a message),
which the parser reports at the block's line (a ParseError) and ``Schedule(...)``
with the block marked (a ScheduleError).

The binding check is conservative: it reports a binding only when some
iteration is sure to leave the domain. A block under a predicate or an ``if``
is not checked (``T.where(i0 * 4 + i1 < 10)`` keeps a split's extra
iterations out of the domain), nor is one under an empty loop, and neither is a binding whose exact range the
loop ranges do not give.

>>> from mlc.ir.expr import IterVar, Range, Var, const
>>> from mlc.ir.tir import Block, BlockRealize, BufferStore, Evaluate, For, PrimFunc
>>> i, vi = Var("i"), Var("vi")
>>> block = Block("B", (IterVar(vi, Range(const(0), const(4)), "spatial"),), (), (), Evaluate(const(0)))
>>> loop = For(i, const(0), const(8), "serial", BlockRealize((i,), const(True, "bool"), block))
>>> print(block_problem(PrimFunc((), loop))[1])
block 'B': iterator vi is bound to `i`, which takes the values 0 to 7 under the loops, outside its domain [0, 4); bind it to an expression inside the domain, declare the domain it needs, or guard the block with T.where
"""
from __future__ import annotations

import numpy as np

from ..arith import Analyzer, IntSet, linear, relax, same_expr
from ..expr import IntImm, PrimExpr, Range, Var, const
from ..functor import pre_order_nodes, substitute
from ..tir import BlockRealize, For, IfThenElse, PrimFunc, Stmt
from .dependence import evaluate_index, stmt_children

__all__ = ["block_problem", "binding_outside_domain", "ENUMERATED_POINTS"]

#: Bindings that are not affine are checked by evaluating them over the loops, when
#: the loops they use have constant ranges and at most this many points together.
ENUMERATED_POINTS = 1 << 16


def block_problem(func: PrimFunc) -> tuple[BlockRealize, str] | None:
    """The first block of ``func`` that is malformed, with why, or None.

    Walks the statements with an explicit stack, keeping the ranges of the
    loops around each block and the bindings of the blocks around it (an inner
    block bound to an outer block's iterator is checked in loop variables).
    """
    seen: dict[str, BlockRealize] = {}
    stack: list[tuple[Stmt, dict, dict, bool]] = [(func.body, {}, {}, False)]
    while stack:
        node, ranges, vmap, guarded = stack.pop()
        if isinstance(node, For):
            lo, extent = substitute(node.min, vmap), substitute(node.extent, vmap)
            ranges = {**ranges, node.loop_var: Range(lo, extent)}
            guarded = guarded or _never_runs(extent)
        elif isinstance(node, IfThenElse):
            guarded = True
        elif isinstance(node, BlockRealize):
            name = node.block.name_hint
            if node is not func.body:  # the root block names no block a schedule can ask for
                if name in seen:
                    return node, (f"two blocks are named {name!r}; block names must be unique in a "
                                  "function (rename one of them)")
                seen[name] = node
            guarded = guarded or not _is_true(node.predicate)
            values = [substitute(v, vmap) for v in node.iter_values]
            if not guarded:
                for iv, value in zip(node.block.iter_vars, values):
                    span = binding_outside_domain(value, iv.dom, ranges)
                    if span is not None:
                        return node, (
                            f"block {name!r}: iterator {iv.var.name} is bound to `{value!r}`, which takes "
                            f"the values {span[0]} to {span[1]} under the loops, outside its domain "
                            f"{_interval(iv.dom)}; bind it to an expression inside the domain, declare "
                            "the domain it needs, or guard the block with T.where")
            vmap = {**vmap, **{iv.var: v for iv, v in zip(node.block.iter_vars, values)}}
        stack.extend((child, ranges, vmap, guarded) for child in reversed(stmt_children(node)))
    return None


def binding_outside_domain(value: PrimExpr, dom: Range, ranges: dict[Var, Range]) -> tuple | None:
    """(smallest, largest) value of ``value`` over the loops of ``ranges`` when some
    iteration is sure to fall outside ``dom``; None when it stays inside or is unknown.

    >>> from mlc.ir.expr import Var, const
    >>> i = Var("i")
    >>> binding_outside_domain(i + 1, Range(const(0), const(8)), {i: Range(const(0), const(8))})
    (1, 8)
    >>> binding_outside_domain(i, Range(const(0), const(8)), {i: Range(const(0), const(8))}) is None
    True
    """
    if isinstance(value, Var) and value in ranges and _same_range(ranges[value], dom):
        return None  # the usual binding: a loop over exactly the domain
    span = _exact_span(value, ranges)
    if span is None:
        span = _enumerated_span(value, ranges)
    if span is None:
        return None
    lo, hi = span
    end = dom.min + dom.extent
    ana = Analyzer()
    if ana.can_prove(hi >= end) or ana.can_prove(lo < dom.min):
        return ana.simplify(lo), ana.simplify(hi)
    return None


def _exact_span(value: PrimExpr, ranges: dict[Var, Range]) -> tuple[PrimExpr, PrimExpr] | None:
    """The least and greatest value of an affine ``value`` over the loops, or None.

    Independent loops (ranges that use no other loop) that run at least once
    reach every corner of their box, so the extremes :func:`relax` gives are attained.
    """
    dom = {}
    for atom, _ in linear(value).terms.values():
        if not isinstance(atom, Var):
            return None
        rng = ranges.get(atom)
        if rng is None:  # a shape variable: the same in every iteration
            continue
        if any(isinstance(n, Var) and n in ranges for e in (rng.min, rng.extent) for n in pre_order_nodes(e)):
            return None
        if not Analyzer().can_prove(rng.extent >= 1):
            return None
        dom[atom] = IntSet.from_range(rng)
    span = relax(value, dom)
    return span.min, span.max


def _enumerated_span(value: PrimExpr, ranges: dict[Var, Range]) -> tuple[PrimExpr, PrimExpr] | None:
    """(least, greatest) of ``value`` evaluated at every point of the constant loops it uses."""
    used = {id(n): n for n in pre_order_nodes(value) if isinstance(n, Var)}
    grids, size = {}, 1
    for n, var in enumerate(used.values()):
        rng = ranges.get(var)
        if rng is None or not isinstance(rng.min, IntImm) or not isinstance(rng.extent, IntImm) \
                or rng.extent.value < 1:
            return None
        size *= rng.extent.value
        if size > ENUMERATED_POINTS:
            return None
        shape = [1] * len(used)
        shape[n] = rng.extent.value
        grids[var] = np.arange(rng.min.value, rng.min.value + rng.extent.value, dtype=np.int64).reshape(shape)
    values = evaluate_index(value, grids)
    if values is None:
        return None
    return const(int(np.min(values)), value.dtype), const(int(np.max(values)), value.dtype)


def _never_runs(extent: PrimExpr) -> bool:
    """A loop of no iteration runs no block: any binding under it is vacuous."""
    return isinstance(extent, IntImm) and extent.value <= 0


def _same_range(a: Range, b: Range) -> bool:
    return same_expr(a.min, b.min) and same_expr(a.extent, b.extent)


def _is_true(cond: PrimExpr) -> bool:
    return isinstance(cond, IntImm) and cond.value == 1


def _interval(dom: Range) -> str:
    if isinstance(dom.min, IntImm) and isinstance(dom.extent, IntImm):
        return f"[{dom.min.value}, {dom.min.value + dom.extent.value})"
    return f"[{dom.min!r}, {dom.min!r} + {dom.extent!r})"
