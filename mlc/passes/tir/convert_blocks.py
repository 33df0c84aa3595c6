"""convert_blocks_to_loops: remove blocks, keeping what they compute.

Each ``BlockRealize`` becomes its block's body with the block iterators
replaced by their bound values, wrapped in ``Allocate`` for the block's
``alloc_buffers`` (the root block's intermediates included) and in an
``IfThenElse`` when the predicate is not trivially true.

Before::

    for i in range(10):
        with T.block("B"):
            T.where(i < 9)
            vi = T.axis.spatial(10, i)
            B[vi] = A[vi] * 2

After::

    for i in range(10):
        if i < 9:
            B[i] = A[i] * 2

Reads/writes declarations are dropped (they are not executed). Blocks must
have had their ``init`` lowered first (:func:`lower_init_block`).
"""
from __future__ import annotations

from ...errors import IRError
from ...ir.expr import IntImm
from ...ir.functor import Mutator, substitute
from ...ir.tir import Allocate, Block, BlockRealize, IfThenElse, PrimFunc
from .remembered import remembered

__all__ = ["convert_blocks_to_loops"]


class _ConvertBlocks(Mutator):
    def visit_BlockRealize(self, realize: BlockRealize):
        block = realize.block
        if block.init is not None:
            raise IRError(f"convert_blocks_to_loops: block {block.name_hint!r} still has an init; "
                          "run lower_init_block first")
        body = self.visit(block.body)
        vmap = {iv.var: value for iv, value in zip(block.iter_vars, realize.iter_values)}
        body = substitute(body, vmap)
        for buffer in reversed(block.alloc_buffers):
            body = Allocate(buffer, body)
        predicate = realize.predicate
        if not (isinstance(predicate, IntImm) and predicate.value):
            body = IfThenElse(predicate, body)
        return body

    def visit_Block(self, block: Block):
        raise IRError(f"block {block.name_hint!r} is not inside a BlockRealize; "
                      "every block must be realized to be lowered")


@remembered
def convert_blocks_to_loops(func: PrimFunc) -> PrimFunc:
    """Replace blocks by their bodies: iterators substituted, buffers allocated."""
    body = _ConvertBlocks().visit(func.body)
    return func if body is func.body else func.with_body(body)
