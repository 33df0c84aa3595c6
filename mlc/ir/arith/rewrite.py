"""The rewrite simplifier: integer expressions to :class:`Linear` form, then rule tables.

One engine, :class:`Rewriter`, walks an expression bottom-up. Integer parts
become linear forms (like terms merged, constants folded); ``//`` and ``%``
by positive constants go through :data:`FLOORDIV_RULES` and
:data:`FLOORMOD_RULES`, tried in order after the multiples of the divisor
have moved out; sums go through :data:`MERGE_RULES` (undoing fusion);
comparisons are decided by :data:`COMPARE_RULES` on the bounds of their
difference. Every rule that needs a value range asks
:func:`~mlc.ir.arith.bounds.linear_bound` with the variables' bounds the
engine was given, so without bounds only range-free rules fire.

:func:`linear` and :func:`canonical` are the engine without bounds: the one
canonical form of the analyzer.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from .. import dtype as dt
from ..expr import Binary, IntImm, Not, PrimExpr, Var, const, logical_not, make_binary
from ..functor import Mutator
from .bounds import ConstIntBound, linear_bound
from .linear import Linear, expr_key

__all__ = ["Rewriter", "linear", "canonical", "constant_difference", "difference", "FLOORDIV_RULES",
           "FLOORMOD_RULES", "MERGE_RULES", "COMPARE_RULES"]


def _is_index(e: PrimExpr) -> bool:
    return dt.is_int(e.dtype)


def _by_const(e: PrimExpr, op: str) -> bool:
    """``e`` is ``x <op> c`` with a positive constant ``c``."""
    return isinstance(e, Binary) and e.op == op and isinstance(e.b, IntImm) and e.b.value > 0


def _single_atom(s: Linear, op: str) -> Binary | None:
    """``s`` when it is exactly ``x <op> c`` with a positive constant ``c``."""
    if s.const or len(s.terms) != 1:
        return None
    ((atom, coeff),) = s.terms.values()
    if coeff == 1 and _by_const(atom, op):
        return atom
    return None


# ------------------------------------------------------------- rule tables
#
# A division rule takes (engine, rest, c): ``rest`` is the dividend after the
# multiples of ``c`` moved out (no coefficient divisible by ``c``, ``c > 1``).
# It returns the rewritten quotient/remainder as a Linear, or None when it
# does not apply; the first rule that applies wins.

def _block_index(rw: Rewriter, rest: Linear, c: int) -> int | None:
    """The ``k`` with every value of ``rest`` in ``[k*c, (k+1)*c)``, or None (no such ``k``
    or unknown bounds)."""
    bounds = rw.bounds(rest)
    if bounds.is_known() and bounds[0] // c == bounds[1] // c:
        return bounds[0] // c
    return None


def _div_same_quotient(rw: Rewriter, rest: Linear, c: int) -> Linear | None:
    """``x // c == k`` when every value of ``x`` lies in ``[k*c, (k+1)*c)``."""
    k = _block_index(rw, rest, c)
    return None if k is None else Linear(const_=k, dtype=rest.dtype)


def _div_common_factor(rw: Rewriter, rest: Linear, c: int) -> Linear | None:
    """``(g*x + y) // c == x // (c/g)`` when ``0 <= y < g`` and ``g | c``."""
    scaled = rw.common_factor(rest, c)
    if scaled is None:
        return None
    big, g = scaled
    return rw.floordiv(big, c // g)


def _div_of_div(rw: Rewriter, rest: Linear, c: int) -> Linear | None:
    """``(x // c1) // c == x // (c1 * c)``."""
    inner = _single_atom(rest, "floordiv")
    if inner is None:
        return None
    return rw.floordiv(rw.sum(inner.a), inner.b.value * c)


def _mod_same_block(rw: Rewriter, rest: Linear, c: int) -> Linear | None:
    """``x % c == x - k*c`` when every value of ``x`` lies in ``[k*c, (k+1)*c)``."""
    k = _block_index(rw, rest, c)
    return None if k is None else rest.add(Linear(const_=k * c, dtype=rest.dtype), -1)


def _mod_common_factor(rw: Rewriter, rest: Linear, c: int) -> Linear | None:
    """``(g*x + y) % c == (x % (c/g)) * g + y`` when ``0 <= y < g`` and ``g | c``."""
    scaled = rw.common_factor(rest, c)
    if scaled is None:
        return None
    big, g = scaled
    small = rest.add(big.scale(g), -1)
    return rw.floormod(big, c // g).scale(g).add(small)


def _mod_of_mod(rw: Rewriter, rest: Linear, c: int) -> Linear | None:
    """``(x % (k*c)) % c == x % c``."""
    inner = _single_atom(rest, "floormod")
    if inner is not None and inner.b.value % c == 0:
        return rw.floormod(rw.sum(inner.a), c)
    return None


FLOORDIV_RULES = (_div_same_quotient, _div_common_factor, _div_of_div)
FLOORMOD_RULES = (_mod_same_block, _mod_common_factor, _mod_of_mod)


# A merge rule takes (engine, x, k, coeff, atom): ``atom`` appears with
# coefficient ``coeff`` in a sum that also holds ``x % k`` with coefficient
# ``coeff / k``. It returns what the pair merges into per unit, or None.

def _merge_div(rw: Rewriter, x: PrimExpr, k: int, atom: PrimExpr) -> Linear | None:
    """``x // k * k + x % k -> x``."""
    if _by_const(atom, "floordiv") and atom.b.value == k and expr_key(atom.a) == expr_key(x):
        return rw.sum(x)
    return None


def _merge_div_mod(rw: Rewriter, x: PrimExpr, k: int, atom: PrimExpr) -> Linear | None:
    """``x // k % m * k + x % k -> x % (k*m)``."""
    if _by_const(atom, "floormod") and _by_const(atom.a, "floordiv") and \
            atom.a.b.value == k and expr_key(atom.a.a) == expr_key(x):
        return rw.floormod(rw.sum(x), k * atom.b.value)
    return None


def _merge_shifted_div_mod(rw: Rewriter, x: PrimExpr, k: int, atom: PrimExpr) -> Linear | None:
    """``(y + x // k) % m * k + x % k -> (k*y + x) % (k*m)``: the fused index ``k*y + x``
    whose division by ``k`` was split into ``y + x // k`` (``(32 * f0 + f1) // 2 % 3`` is
    written ``(16 * f0 + f1 // 2) % 3``)."""
    if not _by_const(atom, "floormod"):
        return None
    inner = rw.sum(atom.a)
    key = expr_key(make_binary("floordiv", x, const(k, x.dtype)))
    entry = inner.terms.get(key)
    if entry is None or entry[1] != 1:
        return None
    shifted = inner.copy()
    del shifted.terms[key]
    return rw.floormod(shifted.scale(k).add(rw.sum(x)), k * atom.b.value)


def _merge_mod_div(rw: Rewriter, x: PrimExpr, k: int, atom: PrimExpr) -> Linear | None:
    """``x % (k*m) // k * k + x % k -> x % (k*m)`` (the middle index of three fused loops:
    ``(x % (k*m)) % k`` is ``x % k``)."""
    if _by_const(atom, "floordiv") and atom.b.value == k and _by_const(atom.a, "floormod") and \
            atom.a.b.value % k == 0 and expr_key(atom.a.a) == expr_key(x):
        return rw.floormod(rw.sum(x), atom.a.b.value)
    return None


MERGE_RULES = (_merge_div, _merge_div_mod, _merge_mod_div, _merge_shifted_div_mod)


# ``diff <op> 0`` given bounds (lo, hi) of ``diff``: (proven true, proven false).
COMPARE_RULES = {
    "lt": lambda lo, hi: (hi < 0, lo >= 0),
    "le": lambda lo, hi: (hi <= 0, lo > 0),
    "gt": lambda lo, hi: (lo > 0, hi <= 0),
    "ge": lambda lo, hi: (lo >= 0, hi < 0),
    "eq": lambda lo, hi: (lo == hi == 0, lo > 0 or hi < 0),
    "ne": lambda lo, hi: (lo > 0 or hi < 0, lo == hi == 0),
}


# ----------------------------------------------------------------- engine

class Rewriter(Mutator):
    """Rewrites expressions bottom-up; integer ones go through :class:`Linear`.

    ``bounds`` maps variables to inclusive constant ``(lo, hi)`` bounds.
    """

    def __init__(self, bounds: Mapping[Var, tuple[int, int]] | None = None):
        self.var_bounds = bounds if bounds is not None else {}

    def visit(self, node):
        if isinstance(node, PrimExpr):
            return self.expr(node)
        return super().visit(node)

    def simplify(self, e: PrimExpr) -> PrimExpr:
        """``e`` rewritten: integer parts in linear form with every applicable rule applied."""
        return self.visit(e)

    # ---------------------------------------------------------- entry
    def expr(self, e: PrimExpr) -> PrimExpr:
        if _is_index(e):
            return self.sum(e).to_expr()
        if isinstance(e, Binary) and e.dtype == "bool":
            return self.logic(e)
        if isinstance(e, Not):
            a = self.expr(e.a)
            return logical_not(a) if isinstance(a, IntImm) else (e if a is e.a else Not(a))
        return self.generic_visit(e)

    def logic(self, e: Binary) -> PrimExpr:
        a, b = self.expr(e.a), self.expr(e.b)
        if e.op in COMPARE_RULES and _is_index(a):
            verdict = self.decide(e.op, self.sum(a).add(self.sum(b), -1))
            if verdict is not None:
                return const(verdict, "bool")
        if e.op in ("and", "or"):
            for x, y in ((a, b), (b, a)):
                if isinstance(x, IntImm):
                    keep = bool(x.value) == (e.op == "and")
                    return y if keep else x
        return e if a is e.a and b is e.b else make_binary(e.op, a, b)

    def decide(self, op: str, diff: Linear) -> bool | None:
        """The truth of ``diff <op> 0`` when the bounds of ``diff`` settle it."""
        bounds = self.bounds(diff)
        if not bounds.is_known():
            return None
        true, false = COMPARE_RULES[op](*bounds)
        return True if true else False if false else None

    # ---------------------------------------------------------- sums
    def sum(self, e: PrimExpr) -> Linear:
        """The linear form of an integer expression (rules applied)."""
        if isinstance(e, IntImm):
            return Linear(const_=e.value, dtype=e.dtype)
        if not isinstance(e, Binary):
            return Linear.atom(e if isinstance(e, Var) else self.generic_visit(e))
        if e.op in ("add", "sub"):
            return self.merge(self.sum(e.a).add(self.sum(e.b), 1 if e.op == "add" else -1))
        if e.op == "mul":
            a, b = self.sum(e.a), self.sum(e.b)
            if b.is_const():
                return a.scale(b.const)
            if a.is_const():
                return b.scale(a.const)
            return Linear.atom(make_binary("mul", a.to_expr(), b.to_expr()))
        if e.op in ("floordiv", "floormod", "truncdiv", "truncmod"):
            return self.division(e)
        if e.op in ("min", "max"):
            return self.min_max(e)
        return Linear.atom(self.generic_visit(e))

    def division(self, e: Binary) -> Linear:
        a, b = self.sum(e.a), self.sum(e.b)
        op = e.op
        if op.startswith("trunc") and b.is_const() and b.const > 0:
            bounds = self.bounds(a)
            if bounds.min is not None and bounds.min >= 0:  # truncation equals flooring here
                op = op.replace("trunc", "floor")
        if op.startswith("floor") and b.is_const() and b.const > 0:
            return self.floordiv(a, b.const) if op == "floordiv" else self.floormod(a, b.const)
        return Linear.atom(make_binary(op, a.to_expr(), b.to_expr()))

    def floordiv(self, a: Linear, c: int) -> Linear:
        """``a // c`` for ``c > 0``: multiples of ``c`` leave exactly, the rest divides."""
        quotient = Linear(const_=a.const // c, dtype=a.dtype)
        rest = Linear(const_=a.const % c, dtype=a.dtype)
        for atom, coeff in a.terms.values():
            if coeff % c == 0:
                quotient.add_term(atom, coeff // c)
            else:
                rest.add_term(atom, coeff)
        if c == 1:
            return quotient.add(rest)
        for rule in FLOORDIV_RULES:
            out = rule(self, rest, c)
            if out is not None:
                return quotient.add(out)
        return quotient.add(Linear.atom(make_binary("floordiv", rest.to_expr(), const(c, rest.dtype))))

    def floormod(self, a: Linear, c: int) -> Linear:
        """``a % c`` for ``c > 0``: multiples of ``c`` vanish; bounded rests stay."""
        rest = Linear(const_=a.const % c, dtype=a.dtype)
        for atom, coeff in a.terms.values():
            if coeff % c:
                rest.add_term(atom, coeff)
        if c == 1:
            return Linear(dtype=a.dtype)
        for rule in FLOORMOD_RULES:
            out = rule(self, rest, c)
            if out is not None:
                return out
        return Linear.atom(make_binary("floormod", rest.to_expr(), const(c, rest.dtype)))

    def common_factor(self, rest: Linear, c: int) -> tuple[Linear, int] | None:
        """Split ``rest`` as ``g * big + small`` with ``g | c``, ``g > 1``, ``0 <= small < g``.

        Tries the largest-coefficient terms as ``big``; returns (big, g).
        """
        items = sorted(rest.terms.values(), key=lambda t: -abs(t[1]))
        for n in range(1, len(items) + 1):
            g = c
            for _, coeff in items[:n]:
                g = math.gcd(g, coeff)
            if g <= 1:
                break
            small = Linear(const_=rest.const, dtype=rest.dtype)
            for atom, coeff in items[n:]:
                small.add_term(atom, coeff)
            bounds = self.bounds(small)
            if bounds.is_known() and 0 <= bounds[0] and bounds[1] < g:
                big = Linear(dtype=rest.dtype)
                for atom, coeff in items[:n]:
                    big.add_term(atom, coeff // g)
                return big, g
        return None

    def merge(self, s: Linear) -> Linear:
        """Undo fusion with :data:`MERGE_RULES` until none applies."""
        changed = True
        while changed:
            changed = False
            for key, (atom, c) in s.terms.items():
                if not _by_const(atom, "floormod"):
                    continue
                x, k = atom.a, atom.b.value
                partner = self._partner(s, x, k, c * k)
                if partner is not None:
                    pkey, merged = partner
                    s = s.copy()
                    del s.terms[key], s.terms[pkey]
                    s = s.add(merged.scale(c))
                    changed = True
                    break
        return s

    def _partner(self, s: Linear, x: PrimExpr, k: int, coeff: int):
        """A term pairing with ``x % k``: (its key, what the pair merges into, per unit)."""
        for key, (atom, c) in s.terms.items():
            if c != coeff:
                continue
            for rule in MERGE_RULES:
                merged = rule(self, x, k, atom)
                if merged is not None:
                    return key, merged
        return None

    def min_max(self, e: Binary) -> Linear:
        a, b = self.sum(e.a), self.sum(e.b)
        bounds = self.bounds(a.add(b, -1))
        if bounds.is_known():
            a_smaller, b_smaller = bounds[1] <= 0, bounds[0] >= 0
            if a_smaller or b_smaller:
                return a if a_smaller == (e.op == "min") else b
        return Linear.atom(make_binary(e.op, a.to_expr(), b.to_expr()))

    def bounds(self, s: Linear) -> ConstIntBound:
        return linear_bound(s, self.var_bounds)


class _Canonical(Rewriter):
    """The engine without variable ranges. Its linear form of an expression depends on the
    expression alone, so each distinct one (by :func:`expr_key`, at every level of a nested
    expression) is built once and handed out as a copy: a growing ``min(min(...), x)`` or an
    index that every statement of a loop nest rebuilds is not taken apart again each time."""

    def sum(self, e: PrimExpr) -> Linear:
        if not isinstance(e, Binary):
            return super().sum(e)
        key = expr_key(e)
        hit = _FORMS.get(key)
        if hit is None:
            if len(_FORMS) >= _FORMS_KEPT:
                _FORMS.clear()
            hit = _FORMS[key] = (e, super().sum(e))  # (e kept: its variables' ids stay theirs)
        return hit[1].copy()


#: expr_key -> (the expression, its linear form without ranges); at most _FORMS_KEPT entries.
_FORMS: dict[tuple, tuple[PrimExpr, Linear]] = {}
_FORMS_KEPT = 1 << 15

_CANONICAL = _Canonical()


def linear(e: PrimExpr) -> Linear:
    """The linear form of an integer expression, without variable ranges
    (non-affine parts become atoms; a non-integer expression is one atom)."""
    if not _is_index(e):
        return Linear.atom(e)
    return _CANONICAL.sum(e)


def canonical(e: PrimExpr) -> PrimExpr:
    """``e`` with affine parts normalised: ``(i + 1) * 4 - i * 4`` -> ``4``.

    Non-integer expressions are returned unchanged.
    """
    if not isinstance(e, PrimExpr) or not _is_index(e):
        return e
    return linear(e).to_expr()


def constant_difference(a: PrimExpr, b: PrimExpr) -> int | None:
    """``b - a`` when it is a constant, else None."""
    diff = linear(b).add(linear(a), -1)
    return diff.const if diff.is_const() else None


def difference(lo: PrimExpr, hi: PrimExpr) -> PrimExpr:
    """``hi - lo``, folded to a constant when the two differ by one."""
    value = constant_difference(lo, hi)
    return const(value, lo.dtype) if value is not None else hi - lo
