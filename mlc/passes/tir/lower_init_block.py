"""lower_init_block: a reduction block's ``init`` becomes a guarded statement.

Before::

    with T.block("Y"):
        vi, vk = T.axis.remap("SR", [i, k])
        with T.init():
            Y[vi] = 0
        Y[vi] = Y[vi] + A[vi, vk]

After::

    with T.block("Y"):
        vi, vk = T.axis.remap("SR", [i, k])
        if vk == 0:
            Y[vi] = 0
        Y[vi] = Y[vi] + A[vi, vk]

The guard is "every reduce iterator equals the minimum of its domain"
(docs/ir-semantics.md); a block with an init but no reduce iterator runs its
init unconditionally.
"""
from __future__ import annotations

from dataclasses import replace

from ...ir.expr import PrimExpr, cast, make_binary
from ...ir.functor import Mutator
from ...ir.tir import Block, IfThenElse, PrimFunc, seq
from .remembered import remembered

__all__ = ["lower_init_block", "init_condition"]


def init_condition(block: Block) -> PrimExpr | None:
    """``vk0 == min0 and vk1 == min1 ...`` over the reduce iterators; None when there are none."""
    cond = None
    for iv in block.iter_vars:
        if iv.iter_type == "reduce":
            at_min = make_binary("eq", iv.var, cast(iv.dom.min, iv.var.dtype))
            cond = at_min if cond is None else make_binary("and", cond, at_min)
    return cond


class _LowerInit(Mutator):
    def visit_Block(self, block: Block):
        block = self.generic_visit(block)  # nested blocks first
        if block.init is None:
            return block
        cond = init_condition(block)
        init = block.init if cond is None else IfThenElse(cond, block.init)
        return replace(block, body=seq(init, block.body), init=None)


@remembered
def lower_init_block(func: PrimFunc) -> PrimFunc:
    """Replace every block's ``init`` by an ``IfThenElse`` in front of its body."""
    body = _LowerInit().visit(func.body)
    return func if body is func.body else func.with_body(body)
