"""expand_empty_reductions: a reduction over an empty domain still runs its init.

A block whose reduce domain is empty (a reduce iterator's domain has the
constant extent 0) has no instances, yet its output must hold the
reduction's identity, as NumPy's ``np.sum(np.zeros((4, 0)), axis=1)`` does.
docs/ir-semantics.md: such a block runs its init once for each point of its
spatial domain. This pass writes that down as ordinary IR: the loops that
bind only the block's reduce iterators (and hold no other block) disappear,
and the block becomes a spatial block whose body is the init.

Before::

    for i, k in T.grid(4, 0):
        with T.block("B"):
            vi, vk = T.axis.remap("SR", [i, k])
            with T.init():
                B[vi] = T.float32(0)
            B[vi] = B[vi] + A[vi, vk]

After::

    for i in range(4):
        with T.block("B"):
            vi = T.axis.spatial(4, i)
            B[vi] = T.float32(0)

Both the LLVM lowering and the reference interpreter run it first, so every
backend agrees on what an empty reduction computes.
"""
from __future__ import annotations

from dataclasses import replace

from ...ir.analysis import blocks_under
from ...ir.arith import Analyzer
from ...ir.expr import Binary, IntImm, PrimExpr, Range, Var, cast, const, logical_and
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.structural import structural_equal
from ...ir.te import access_regions
from ...ir.tir import Block, BlockRealize, For, PrimFunc

__all__ = ["expand_empty_reductions", "has_empty_reduce_domain"]


def has_empty_reduce_domain(block: Block) -> bool:
    """True for a block with an init and a reduce iterator of constant extent 0."""
    return block.init is not None and any(
        iv.iter_type == "reduce" and isinstance(iv.dom.extent, IntImm) and iv.dom.extent.value == 0
        for iv in block.iter_vars)


def _uses(exprs, var: Var) -> bool:
    return any(n is var for e in exprs for n in pre_order_nodes(e))


def _conjuncts(expr: PrimExpr) -> list[PrimExpr]:
    out, stack = [], [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Binary) and e.op == "and":
            stack += [e.b, e.a]
        else:
            out.append(e)
    return out


class _Expand(Mutator):
    def __init__(self):
        self.removed: set[int] = set()  # ids of the loop variables dropped so far
        self.ranges: dict[Var, Range] = {}  # the enclosing loops, to simplify predicates

    def visit_For(self, node: For):
        under = blocks_under(node.body)
        if len(under) == 1 and has_empty_reduce_domain(under[0].block):
            realize = under[0]
            spatial = [v for v, iv in zip(realize.iter_values, realize.block.iter_vars)
                       if iv.iter_type != "reduce"]
            if not _uses(spatial, node.loop_var):  # the loop binds only reduce iterators
                self.removed.add(id(node.loop_var))
                body = self.visit(node.body)
                return substitute(body, {node.loop_var: node.min})
        self.ranges[node.loop_var] = Range(node.min, node.extent)
        try:
            return self.generic_visit(node)
        finally:
            del self.ranges[node.loop_var]

    def visit_BlockRealize(self, node: BlockRealize):
        node = self.generic_visit(node)
        block = node.block
        if not has_empty_reduce_domain(block):
            return node
        kept = [(v, iv) for v, iv in zip(node.iter_values, block.iter_vars) if iv.iter_type != "reduce"]
        # The predicate keeps the conditions on the spatial loops; a condition on a dropped loop,
        # or one a split folded to a constant (``k_0 * 4 + k_1 < 0``), guarded the empty reduce
        # domain. The spatial iterators stay inside their domains explicitly.
        conds = [c for c in _conjuncts(node.predicate) if not isinstance(c, IntImm) and
                 not any(isinstance(n, Var) and id(n) in self.removed for n in pre_order_nodes(c))]
        for value, iv in kept:
            lo = cast(iv.dom.min, value.dtype)
            conds += [lo <= value, value < lo + cast(iv.dom.extent, value.dtype)]
        predicate, seen = const(True, "bool"), []
        ana = Analyzer(self.ranges)
        for c in (ana.simplify(c) for c in conds):
            if not any(structural_equal(c, d) for d in seen):
                seen.append(c)
                predicate = logical_and(predicate, c)
        predicate = ana.simplify(predicate)
        loads = list(pre_order_nodes(block.init))
        new_block = replace(block, iter_vars=tuple(iv for _, iv in kept), body=block.init, init=None,
                            reads=access_regions(loads))
        return BlockRealize(tuple(v for v, _ in kept), predicate, new_block)


def expand_empty_reductions(func: PrimFunc) -> PrimFunc:
    """``func`` with every empty reduction turned into its init over the spatial domain."""
    if not any(isinstance(n, Block) and has_empty_reduce_domain(n) for n in pre_order_nodes(func.body)):
        return func
    return func.with_body(_Expand().visit(func.body))
