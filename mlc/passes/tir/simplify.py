"""simplify: small, always-valid clean-ups of lowered programs.

* integer constant folding through the expression builders, plus moving
  constants together: ``(x + 2) + 3 -> x + 5``, ``(x * 2) * 4 -> x * 8``,
  ``3 + x -> x + 3`` (integer arithmetic wraps, so reassociation is exact);
* ``Select``/``IfThenElse`` with a constant condition keep the taken side;
  ``True and c -> c``, ``False or c -> c``;
* loops of extent 0 disappear, loops of extent 1 become their body with the
  loop variable replaced by the loop's minimum.

Float expressions are never reassociated.

>>> from mlc.ir.expr import Var
>>> i = Var("i")
>>> simplify_expr((i + 2) + 3)
i + 5
"""
from __future__ import annotations

from dataclasses import replace

from ...ir import dtype as dt
from ...ir.expr import (Binary, Cast, IntImm, Not, PrimExpr, Select, cast, const, logical_not,
                        make_binary)
from ...ir.functor import Mutator, substitute
from ...ir.tir import Evaluate, For, IfThenElse, PrimFunc, SeqStmt, seq

__all__ = ["simplify", "simplify_expr"]

_COMMUTATIVE = ("add", "mul")


def _int_const(e: PrimExpr) -> int | None:
    return e.value if isinstance(e, IntImm) and dt.is_int(e.dtype) else None


def _bool_const(e: PrimExpr) -> bool | None:
    return bool(e.value) if isinstance(e, IntImm) and e.dtype == "bool" else None


def _rewrite_binary(op: str, a: PrimExpr, b: PrimExpr) -> PrimExpr:
    """``a op b`` with constants folded and gathered on the right."""
    if dt.is_int(a.dtype):
        if op in _COMMUTATIVE and _int_const(a) is not None and _int_const(b) is None:
            a, b = b, a
        cb = _int_const(b)
        if cb is not None and isinstance(a, Binary):
            ca = _int_const(a.b)
            if ca is not None:
                if op == "mul" and a.op == "mul":
                    return _rewrite_binary("mul", a.a, const(ca * cb, a.dtype))
                if op in ("add", "sub") and a.op in ("add", "sub"):
                    total = (ca if a.op == "add" else -ca) + (cb if op == "add" else -cb)
                    if total == 0:
                        return a.a
                    return make_binary("add" if total > 0 else "sub", a.a, const(abs(total), a.dtype))
    if a.dtype == "bool" and op in ("and", "or"):
        for x, y in ((a, b), (b, a)):
            c = _bool_const(x)
            if c is not None:
                return y if c == (op == "and") else x
    return make_binary(op, a, b)


class _Simplify(Mutator):
    def visit_Binary(self, node: Binary):
        a, b = self.visit(node.a), self.visit(node.b)
        out = _rewrite_binary(node.op, a, b)
        if isinstance(out, Binary) and out.op == node.op and out.a is node.a and out.b is node.b:
            return node
        return out

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
        return IfThenElse(cond, then_case, else_case)

    def visit_For(self, node: For):
        extent = self.visit(node.extent)
        n = _int_const(extent)
        if n is not None and n <= 0:
            return _NOP
        if n == 1 and node.kind != "thread_binding":
            return self.visit(substitute(node.body, {node.loop_var: cast(node.min, node.loop_var.dtype)}))
        body = self.visit(node.body)
        if _is_nop(body):
            return _NOP
        new_min = self.visit(node.min)
        if new_min is node.min and extent is node.extent and body is node.body:
            return node
        return replace(node, min=new_min, extent=extent, body=body)

    def visit_SeqStmt(self, node: SeqStmt):
        stmts = [self.visit(s) for s in node.seq]
        if all(a is b for a, b in zip(stmts, node.seq)):
            return node
        return seq(*(s for s in stmts if not _is_nop(s)))


_NOP = Evaluate(const(0))


def _is_nop(stmt) -> bool:
    return isinstance(stmt, Evaluate) and isinstance(stmt.value, IntImm)


def simplify_expr(e: PrimExpr) -> PrimExpr:
    """Simplify one expression (see the module docstring)."""
    return _Simplify().visit(e)


def simplify(func: PrimFunc) -> PrimFunc:
    """Simplify every expression and statement of ``func``."""
    body = _Simplify().visit(func.body)
    return func if body is func.body else func.with_body(body)
