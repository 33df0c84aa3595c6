"""fold_constants: integer operations of constants become constants, and a branch on a
constant condition becomes its taken side.

The unrolled copies of a loop (:mod:`.unroll`) give their loop variable constant values,
so a tile's index arithmetic and its predicate become constants (``60 + 3 < 64`` is
``True``) and the guard it decides goes; a backend never computes them::

    if 60 + 3 < 64:                     ->      B[63] = A[63] * 2.0
        B[60 + 3] = A[60 + 3] * 2.0

Integer and bool operations of two constants fold with the IR's wrapping arithmetic
(:func:`mlc.ir.expr.make_binary`, which also drops ``x + 0``, ``x * 1`` and ``x * 0``);
``not`` of a constant, a ``Select`` on a constant (or broadcast constant) condition and an
``IfThenElse`` on a constant condition are their taken sides. Floats are never folded
(a backend's rounding and NumPy's are the program's business).

>>> from mlc.ir.buffer import Buffer
>>> from mlc.ir.expr import BufferLoad, const
>>> from mlc.ir.tir import BufferStore, IfThenElse
>>> A = Buffer("A", (const(64),), "float32")
>>> i = const(60) + const(3)
>>> print(fold_constants_stmt(IfThenElse(i < 64, BufferStore(A, BufferLoad(A, (i,), "float32") * 2.0, (i,)))))
A[63] = A[63] * T.float32(2)
"""
from __future__ import annotations

from ...ir.expr import Binary, Broadcast, IntImm, Not, Select, const, make_binary
from ...ir.functor import Mutator
from ...ir.tir import IfThenElse, PrimFunc, Stmt, seq

__all__ = ["fold_constants", "fold_constants_stmt"]


def fold_constants(func: PrimFunc) -> PrimFunc:
    """``func`` with its constant integer operations and constant branches folded."""
    body = fold_constants_stmt(func.body)
    return func if body is func.body else func.with_body(body)


def fold_constants_stmt(stmt: Stmt) -> Stmt:
    """:func:`fold_constants` of one statement (an unrolled copy)."""
    return _Fold().visit(stmt)


def _known(cond) -> bool | None:
    if isinstance(cond, Broadcast):
        cond = cond.value
    return bool(cond.value) if isinstance(cond, IntImm) else None


class _Fold(Mutator):
    def visit_Binary(self, node: Binary):
        new = self.generic_visit(node)
        if isinstance(new.a, IntImm) or isinstance(new.b, IntImm):
            return make_binary(new.op, new.a, new.b)
        return new

    def visit_Not(self, node: Not):
        new = self.generic_visit(node)
        known = _known(new.a) if not isinstance(new.a, Broadcast) else None
        return new if known is None else const(not known, "bool")

    def visit_Select(self, node: Select):
        known = _known(self.visit(node.cond))
        if known is None:
            return self.generic_visit(node)
        return self.visit(node.true_value if known else node.false_value)

    def visit_IfThenElse(self, node: IfThenElse):
        known = _known(self.visit(node.condition))
        if known is None:
            return self.generic_visit(node)
        taken = node.then_case if known else node.else_case
        return seq() if taken is None else self.visit(taken)
