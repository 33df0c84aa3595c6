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

from dataclasses import replace

from ...ir.expr import Binary, Broadcast, IntImm, Not, PrimExpr, Select, Var, const, make_binary
from ...ir.functor import Mutator, pre_order_nodes
from ...ir.tir import Evaluate, IfThenElse, PrimFunc, Stmt, seq

__all__ = ["fold_constants", "fold_constants_stmt"]


def fold_constants(func: PrimFunc) -> PrimFunc:
    """``func`` with its constant integer operations and constant branches folded (returned
    as it is, after one walk, where there are none: most functions)."""
    if not any(map(_foldable, pre_order_nodes(func.body))):
        return func
    body = fold_constants_stmt(func.body)
    return func if body is func.body else func.with_body(body)


def fold_constants_stmt(stmt: Stmt, values: dict[Var, PrimExpr] | None = None) -> Stmt:
    """:func:`fold_constants` of one statement; with ``values``, of the statement with those
    variables replaced (an unrolled copy, its loop variable a constant: one walk for both,
    which folds only what the replacement changed).

    >>> from mlc.ir.expr import Var
    >>> i = Var("i", "int32")
    >>> print(fold_constants_stmt(Evaluate(i * 4 + 1), {i: const(2)}).value)
    9
    """
    return _Fold(values).visit(stmt)


def _foldable(n) -> bool:
    cls = type(n)  # (none of these classes has subclasses)
    if cls is Binary:
        return _folds(n)
    if cls is Not:
        return _known(n.a) is not None
    if cls is Select:
        return _known(n.cond) is not None
    if cls is IfThenElse:
        return _known(n.condition) is not None
    return False


def _folds(e: Binary) -> bool:
    """Whether :func:`~mlc.ir.expr.make_binary` folds ``e``'s operation: two integer
    constants, or ``x + 0``, ``x - 0``, ``x * 1``, ``x * 0``, ``x // 1``, ``x % 1``."""
    a = e.a.value if isinstance(e.a, IntImm) else None
    b = e.b.value if isinstance(e.b, IntImm) else None
    if a is None and b is None or e.a.dtype == "bool" and (a is None or b is None):
        return False
    if a is not None and b is not None:
        return True
    op = e.op
    return (op in ("add", "sub") and b == 0 or op == "mul" and (0 in (a, b) or 1 in (a, b))
            or op == "add" and a == 0 or op in ("floordiv", "truncdiv", "floormod", "truncmod") and b == 1)


def _known(cond) -> bool | None:
    if isinstance(cond, Broadcast):
        cond = cond.value
    return bool(cond.value) if isinstance(cond, IntImm) else None


class _Fold(Mutator):
    def __init__(self, values: dict | None = None):
        self.values = values
        self.changed_only = values is not None  # the input was folded: only what changes can fold

    def visit_Var(self, node: Var):
        return self.values.get(node, node) if self.values else node

    def visit_Binary(self, node: Binary):
        new = self.generic_visit(node)
        if new is node and self.changed_only:
            return node
        return make_binary(new.op, new.a, new.b) if _folds(new) else new

    def visit_Not(self, node: Not):
        new = self.generic_visit(node)
        known = _known(new.a) if not isinstance(new.a, Broadcast) else None
        return new if known is None else const(not known, "bool")

    def visit_Select(self, node: Select):
        cond = self.visit(node.cond)
        known = _known(cond)
        if known is not None:
            return self.visit(node.true_value if known else node.false_value)
        t, f = self.visit(node.true_value), self.visit(node.false_value)
        if cond is node.cond and t is node.true_value and f is node.false_value:
            return node
        return replace(node, cond=cond, true_value=t, false_value=f)

    def visit_IfThenElse(self, node: IfThenElse):
        cond = self.visit(node.condition)
        known = _known(cond)
        if known is not None:
            taken = node.then_case if known else node.else_case
            return seq() if taken is None else self.visit(taken)
        then = self.visit(node.then_case)
        other = None if node.else_case is None else self.visit(node.else_case)
        if cond is node.condition and then is node.then_case and other is node.else_case:
            return node
        return replace(node, condition=cond, then_case=then, else_case=other)
