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

A reduce iterator whose extent is symbolic (a dynamic axis: ``n`` rows summed)
may be empty on one call and not on the next. Its block then keeps its loops, and
the outermost loop that binds only its reduce iterators is guarded by a test made
when the kernel runs: where the domain is empty, the expanded form above runs
instead (``B[vj] = 0`` for each ``vj``), else the loops as scheduled::

    if n <= 0:
        for j in range(3):
            with T.block("B"):
                vj = T.axis.spatial(3, j)
                B[vj] = T.float32(0)
    else:
        for k, j in T.grid(n, 3):
            with T.block("B"): ...

Both the LLVM lowering and the reference interpreter run it first, so every
backend agrees on what an empty reduction computes.
"""
from __future__ import annotations

from dataclasses import replace

from ...ir.analysis import blocks_under
from ...ir.analysis.census import contains
from ...ir.arith import Analyzer
from ...ir.expr import Binary, IntImm, PrimExpr, Range, Var, cast, const, logical_and, logical_or
from ...ir.functor import Mutator, pre_order_nodes, pre_order_statements, substitute, uses_var
from ...ir.range_mutator import RangeMutator
from ...ir.arith import same_expr
from ...ir.te import access_regions
from ...ir.tir import Block, BlockRealize, For, IfThenElse, PrimFunc

__all__ = ["expand_empty_reductions", "has_empty_reduce_domain", "maybe_empty_reduce_extents"]


def has_empty_reduce_domain(block: Block) -> bool:
    """True for a block with an init and a reduce iterator of constant extent 0."""
    return block.init is not None and any(
        iv.iter_type == "reduce" and isinstance(iv.dom.extent, IntImm) and iv.dom.extent.value == 0
        for iv in block.iter_vars)


def maybe_empty_reduce_extents(block: Block, analyzer: Analyzer | None = None) -> list[PrimExpr]:
    """The symbolic extents of ``block``'s reduce iterators that may be 0 when it runs (none
    proven positive), for a block with an init; [] for any other block."""
    if block.init is None:
        return []
    ana = analyzer or Analyzer()
    return [iv.dom.extent for iv in block.iter_vars
            if iv.iter_type == "reduce" and not isinstance(iv.dom.extent, IntImm)
            and not ana.can_prove(iv.dom.extent > 0)]


def _emptied(block: Block) -> Block:
    """``block`` with its first symbolic reduce extent 0: what it is on a call where it is."""
    ivs = list(block.iter_vars)
    n = next(n for n, iv in enumerate(ivs) if iv.iter_type == "reduce" and not isinstance(iv.dom.extent, IntImm))
    ivs[n] = replace(ivs[n], dom=Range(ivs[n].dom.min, const(0, ivs[n].dom.extent.dtype)))
    return replace(block, iter_vars=tuple(ivs))


class _Empty(Mutator):
    """The one block under a loop nest replaced by :func:`_emptied`'s (not the blocks in it)."""

    def visit_BlockRealize(self, node: BlockRealize):
        return replace(node, block=_emptied(node.block))


def _terms(expr: PrimExpr, op: str) -> list[PrimExpr]:
    """The operands of a chain of ``op`` ("and": conjuncts, "or": disjuncts), in order."""
    out, stack = [], [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, Binary) and e.op == op:
            stack += [e.b, e.a]
        else:
            out.append(e)
    return out


class _Expand(RangeMutator):
    def __init__(self):
        super().__init__()  # the enclosing loops' ranges, to simplify predicates
        self.removed: set[int] = set()  # ids of the loop variables dropped so far
        self.positive: list[PrimExpr] = []  # extents an enclosing guard found positive

    def visit_IfThenElse(self, node: IfThenElse):
        """In the else branch of a guard ``e <= 0 or ...``, each such ``e`` is positive."""
        then_case = self.visit(node.then_case)
        known = [c.a for c in _terms(node.condition, "or")
                 if isinstance(c, Binary) and c.op == "le" and isinstance(c.b, IntImm) and c.b.value == 0]
        self.positive += known
        try:
            else_case = None if node.else_case is None else self.visit(node.else_case)
        finally:
            del self.positive[len(self.positive) - len(known):]
        if then_case is node.then_case and else_case is node.else_case:
            return node
        return IfThenElse(node.condition, then_case, else_case)

    def visit_For(self, node: For):
        under = blocks_under(node.body)
        if len(under) == 1:
            realize = under[0]
            spatial = [v for v, iv in zip(realize.iter_values, realize.block.iter_vars)
                       if iv.iter_type != "reduce"]
            if not uses_var(spatial, node.loop_var):  # the loop binds only reduce iterators
                if has_empty_reduce_domain(realize.block):
                    self.removed.add(id(node.loop_var))
                    body = self.visit(node.body)
                    return substitute(body, {node.loop_var: node.min})
                extents = [e for e in maybe_empty_reduce_extents(realize.block, self.analyzer)
                           if not any(same_expr(e, p) for p in self.positive)]
                if extents:  # empty on some calls: decided when the kernel runs
                    empty = self.visit(_Empty().visit(node))
                    cond = extents[0] <= 0
                    for e in extents[1:]:
                        cond = logical_or(cond, e <= 0)
                    return IfThenElse(cond, empty, node)
        return super().visit_For(node)

    def visit_BlockRealize(self, node: BlockRealize):
        node = self.generic_visit(node)
        block = node.block
        if not has_empty_reduce_domain(block):
            return node
        kept = [(v, iv) for v, iv in zip(node.iter_values, block.iter_vars) if iv.iter_type != "reduce"]
        # The predicate keeps the conditions on the spatial loops; a condition on a dropped loop,
        # or one a split folded to a constant (``k_0 * 4 + k_1 < 0``), guarded the empty reduce
        # domain. The spatial iterators stay inside their domains explicitly.
        conds = [c for c in _terms(node.predicate, "and") if not isinstance(c, IntImm) and
                 not any(isinstance(n, Var) and id(n) in self.removed for n in pre_order_nodes(c))]
        for value, iv in kept:
            lo = cast(iv.dom.min, value.dtype)
            conds += [lo <= value, value < lo + cast(iv.dom.extent, value.dtype)]
        predicate, seen = const(True, "bool"), []
        ana = self.analyzer
        for c in (ana.simplify(c) for c in conds):
            if not any(same_expr(c, d) for d in seen):
                seen.append(c)
                predicate = logical_and(predicate, c)
        predicate = ana.simplify(predicate)
        loads = list(pre_order_nodes(block.init))
        new_block = replace(block, iter_vars=tuple(iv for _, iv in kept), body=block.init, init=None,
                            reads=access_regions(loads))
        return BlockRealize(tuple(v for v, _ in kept), predicate, new_block)


def expand_empty_reductions(func: PrimFunc) -> PrimFunc:
    """``func`` with every empty reduction turned into its init over the spatial domain, and
    every one that may be empty (a symbolic extent) guarded by that form where it is."""
    # (blocks are statements: the search does not enter the expressions)
    if not contains(func.body, Block) or not any(isinstance(n, Block) and (has_empty_reduce_domain(n) or maybe_empty_reduce_extents(n))
                                                 for n in pre_order_statements(func.body)):
        return func
    return func.with_body(_Expand().visit(func.body))
