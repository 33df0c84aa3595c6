"""unroll_loops: an ``unrolled`` loop of a constant extent becomes its body once per
iteration, the loop variable a constant in each copy, the copies' constants folded
(:mod:`.fold_constants`).

A register tile's unrolled rows become straight-line code whose index arithmetic is
constant and whose guards the constants decide, so no backend keeps or folds a loop::

    for i in T.unroll(2):                         B[0] = A[0] + 1.0
        B[i] = A[i] + 1.0               ->        B[1] = A[1] + 1.0

Nested unrolled loops are written out while the copies of the innermost body stay at most
``max_copies`` (:data:`MAX_UNROLL`); a longer one stays an ``unrolled`` loop (the llvm
backend asks LLVM to unroll it fully). The count starts again inside a ``parallel`` loop,
whose body a CPU backend outlines into a function of its own.

>>> from mlc.ir.buffer import Buffer
>>> from mlc.ir.expr import BufferLoad, Var, const
>>> from mlc.ir.tir import BufferStore, For
>>> A, B = Buffer("A", (const(2),), "float32"), Buffer("B", (const(2),), "float32")
>>> i = Var("i", "int32")
>>> loop = For(i, const(0), const(2), "unrolled", BufferStore(B, BufferLoad(A, (i,), "float32") + 1.0, (i,)))
>>> print(unroll_loops(PrimFunc((A, B), loop)).body)
B[0] = A[0] + T.float32(1)
B[1] = A[1] + T.float32(1)
"""
from __future__ import annotations

from ...ir.analysis.census import contains
from ...ir.expr import IntImm, const, make_binary
from ...ir.functor import Mutator
from ...ir.tir import For, PrimFunc, seq
from .fold_constants import fold_constants_stmt

__all__ = ["unroll_loops", "MAX_UNROLL"]

#: ``unrolled`` loops are written out while their innermost body's copies stay at most this.
MAX_UNROLL = 64


def unroll_loops(func: PrimFunc, max_copies: int = MAX_UNROLL) -> PrimFunc:
    """Write out the ``unrolled`` loops of ``func`` (see the module docstring)."""
    if not contains(func.body, For, "unrolled"):
        return func
    body = _Unroll(max_copies).visit(func.body)
    return func if body is func.body else func.with_body(body)


class _Unroll(Mutator):
    def __init__(self, max_copies: int):
        self.max_copies = max_copies
        self.copies = 1  # copies of the current code the unrolled loops around it made
        self.in_parallel = False

    def visit_For(self, node: For):
        if node.kind == "parallel" and not self.in_parallel:
            outer = self.copies
            self.copies, self.in_parallel = 1, True
            try:
                return self.generic_visit(node)
            finally:
                self.copies, self.in_parallel = outer, False
        if not (node.kind == "unrolled" and isinstance(node.extent, IntImm)
                and self.copies * node.extent.value <= self.max_copies):
            return self.generic_visit(node)
        n, var = node.extent.value, node.loop_var
        self.copies *= max(n, 1)
        try:
            return seq(*(self.visit(fold_constants_stmt(node.body, {var: self._index(node, k)}))
                         for k in range(n)))
        finally:
            self.copies //= max(n, 1)

    @staticmethod
    def _index(node: For, k: int):
        if isinstance(node.min, IntImm):
            return const(node.min.value + k, node.loop_var.dtype)
        return make_binary("add", node.min, const(k, node.loop_var.dtype))
