"""simplify: small, always-valid clean-ups of lowered programs.

* buffer indices and loop bounds go through :meth:`mlc.ir.arith.Analyzer.simplify`
  with the ranges of the enclosing loops: ``(i + 2) + 3 -> i + 5``,
  ``(f0 * 32 + f1) // 64 -> f0 // 2`` when ``f1 < 32``;
* other expressions are rebuilt through the expression builders, which fold
  integer constants; ``True and c -> c``, ``False or c -> c``; float
  expressions are never reassociated;
* ``Select``/``IfThenElse`` with a constant condition keep the taken side;
* a ``Let`` of a constant or a variable is inlined, one whose variable is unused dropped;
* loops of extent 0 disappear, loops of extent 1 become their body with the
  loop variable replaced by the loop's minimum (but for the unit loop that marks
  asynchronous copies, :func:`~mlc.passes.tir.async_copy.async_scope`).

Canonical integer forms (reassociation, splitting ``//`` and ``%``) are used
for indices only: they assume no wrap-around, which holds for the offsets of
in-bounds accesses but not for arbitrary integer data.

>>> from mlc.ir.expr import Var
>>> i = Var("i")
>>> simplify_expr((i + 2) + 3)
i + 5
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace

from ...ir.arith import expr_key
from ...ir import dtype as dt
from ...ir.expr import (Binary, BufferLoad, Cast, FloatImm, IntImm, Let, Not, PrimExpr, Range, Select, Var,
                        cast, const, logical_not, make_binary)
from ...ir.functor import substitute, uses_var
from ...ir.range_mutator import RangeMutator
from ...ir.tir import BufferStore, Evaluate, For, IfThenElse, PrimFunc, SeqStmt, seq
from .async_copy import is_async_scope

__all__ = ["simplify", "simplify_expr"]


def _int_const(e: PrimExpr) -> int | None:
    return e.value if isinstance(e, IntImm) and dt.is_int(e.dtype) else None


def _bool_const(e: PrimExpr) -> bool | None:
    return bool(e.value) if isinstance(e, IntImm) and e.dtype == "bool" else None


class _Simplify(RangeMutator):
    """The rewrite; each expression node is simplified once per scope of loop ranges (an
    expression shared by many uses, as a long complex expression's parts are, is not
    simplified again at each use): ``_memo`` maps its id to (node, result), and a loop's
    body starts a memo of its own (:meth:`bound`). Indices alike in a scope (the same
    index of a buffer written in several statements, built anew in each) are put in
    canonical form once: ``_indices`` maps an index's key (:func:`~mlc.ir.arith.expr_key`)
    to (the index, its canonical form), the analyzer's answer depending only on them and
    on the ranges."""

    def __init__(self, ranges=None):
        super().__init__(ranges)
        self._memo: dict[int, tuple] = {}
        self._indices: dict[tuple, tuple] = {}

    @contextmanager
    def bound(self, bindings):
        saved = self._memo, self._indices
        self._memo, self._indices = {}, {}
        try:
            with super().bound(bindings):
                yield
        finally:
            self._memo, self._indices = saved

    def visit(self, node):
        if isinstance(node, PrimExpr):
            if dt.is_vector(node.dtype):
                return node  # vector IR (from vectorize_loops, the last pass) is left as it is
            hit = self._memo.get(id(node))
            if hit is not None and hit[0] is node:
                return hit[1]
            result = super().visit(node)
            self._memo[id(node)] = (node, result)
            return result
        return super().visit(node)

    def index(self, e: PrimExpr) -> PrimExpr:
        """An index or loop bound, in canonical form under the enclosing loops' ranges."""
        if dt.is_vector(e.dtype) or type(e) is IntImm:
            return e  # (a constant is its own canonical form: the statement stays itself)
        e = self.visit(e)
        key = expr_key(e)
        hit = self._indices.get(key)
        if hit is None:
            simpler = self.analyzer.simplify(e)
            if expr_key(simpler) == key:  # (its canonical form, built anew: ``e`` is kept)
                simpler = e
            hit = self._indices[key] = (e, simpler)
        if hit[1] is hit[0]:
            return e  # in canonical form already: this one is kept (its statement unchanged)
        return hit[1]

    # ------------------------------------------------------------ expressions
    def visit_Binary(self, node: Binary):
        """The operands first, every nested scalar Binary on an explicit stack (a sum of
        thousands of terms is the user's, and no deeper to Python for it)."""
        memo = self._memo
        order, stack = [], [node]
        while stack:
            n = stack.pop()
            order.append(n)
            stack.extend(c for c in (n.a, n.b) if isinstance(c, Binary) and not dt.is_vector(c.dtype)
                         and id(c) not in memo)
        done: dict[int, PrimExpr] = {}
        for n in reversed(order):  # (children before their parents)
            if id(n) not in done:
                a, b = (done[id(c)] if id(c) in done else self.visit(c) for c in (n.a, n.b))
                done[id(n)] = result = self._binary(n, a, b)
                memo[id(n)] = (n, result)
        return done[id(node)]

    def _binary(self, node: Binary, a: PrimExpr, b: PrimExpr) -> PrimExpr:
        if a.dtype == "bool" and node.op in ("and", "or"):
            for x, y in ((a, b), (b, a)):
                c = _bool_const(x)
                if c is not None:
                    return y if c == (node.op == "and") else x
        if a is node.a and b is node.b and not (isinstance(a, IntImm) and isinstance(b, IntImm)):
            return node
        return make_binary(node.op, a, b)

    def visit_Cast(self, node: Cast):
        value = self.visit(node.value)
        return node if value is node.value else cast(value, node.dtype)

    def visit_Not(self, node: Not):
        a = self.visit(node.a)
        return node if a is node.a else logical_not(a)

    def visit_Select(self, node: Select):
        cond = self.visit(node.cond)
        c = _bool_const(cond)
        if c is not None:
            return self.visit(node.true_value if c else node.false_value)
        return self.generic_visit(node)

    def visit_Let(self, node: Let):
        """A let of a constant or a variable is inlined; one whose variable is unused goes."""
        value = self.visit(node.value)
        if isinstance(value, (IntImm, FloatImm, Var)):
            return self.visit(substitute(node.body, {node.var: value}))
        body = self.visit(node.body)
        if not uses_var(body, node.var):
            return body
        if value is node.value and body is node.body:
            return node
        return Let(node.var, value, body, body.dtype)

    def visit_BufferLoad(self, node: BufferLoad):
        indices = tuple(self.index(i) for i in node.indices)
        if all(a is b for a, b in zip(indices, node.indices)):
            return node
        return replace(node, indices=indices)

    # ------------------------------------------------------------- statements
    def visit_BufferStore(self, node: BufferStore):
        value = self.visit(node.value)
        indices = tuple(self.index(i) for i in node.indices)
        if value is node.value and all(a is b for a, b in zip(indices, node.indices)):
            return node
        return BufferStore(node.buffer, value, indices)

    def visit_IfThenElse(self, node: IfThenElse):
        cond = self.visit(node.condition)
        c = _bool_const(cond)
        if c is not None:
            taken = node.then_case if c else node.else_case
            return self.visit(taken) if taken is not None else _NOP
        then_case = self.visit(node.then_case)
        else_case = None if node.else_case is None else self.visit(node.else_case)
        if _is_nop(then_case) and (else_case is None or _is_nop(else_case)):
            return _NOP
        if cond is node.condition and then_case is node.then_case and else_case is node.else_case:
            return node
        return IfThenElse(cond, then_case, else_case)

    def visit_For(self, node: For):
        begin, extent = self.index(node.min), self.index(node.extent)
        n = _int_const(extent)
        if n is not None and n <= 0:
            return _NOP
        if n == 1 and node.kind != "thread_binding" and not is_async_scope(node):
            return self.visit(substitute(node.body, {node.loop_var: cast(begin, node.loop_var.dtype)}))
        with self.bound({node.loop_var: Range(begin, extent)}):
            body = self.visit(node.body)
        if _is_nop(body):
            return _NOP
        if begin is node.min and extent is node.extent and body is node.body:
            return node
        return replace(node, min=begin, extent=extent, body=body)

    def visit_SeqStmt(self, node: SeqStmt):
        stmts = [self.visit(s) for s in node.seq]
        if all(a is b for a, b in zip(stmts, node.seq)):
            return node
        return seq(*(s for s in stmts if not _is_nop(s)))


_NOP = Evaluate(const(0))


def _is_nop(stmt) -> bool:
    return isinstance(stmt, Evaluate) and isinstance(stmt.value, IntImm)


def simplify_expr(e: PrimExpr, ranges: dict[Var, Range] | None = None) -> PrimExpr:
    """Simplify one expression; an integer one is treated as an index (canonical form)."""
    s = _Simplify(ranges)
    return s.index(e) if dt.is_int(e.dtype) else s.visit(e)


def simplify(func: PrimFunc) -> PrimFunc:
    """Simplify every expression and statement of ``func`` (see the module docstring)."""
    body = _Simplify().visit(func.body)
    return func if body is func.body else func.with_body(body)
