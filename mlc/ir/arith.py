"""Integer arithmetic on index expressions: offsets, bounds and simplification.

Schedules rewrite loop indices (``j -> j_0 * 4 + j_1``, ``i -> f // 128``)
and need the result short and readable again. :func:`simplify` puts integer
expressions into a canonical linear form and applies the division rules that
hold for the loop ranges it is given; :func:`const_bounds` is the interval
analysis those rules ask.

>>> from mlc.ir.expr import Range, Var
>>> i = Var("i")
>>> split_offset(i + 3)
(i, 3)
>>> extent_between(i + 1, i + 4)
3
>>> j0, j1 = Var("j_0"), Var("j_1")
>>> ranges = {j0: Range.from_extent(32), j1: Range.from_extent(4)}
>>> simplify((j0 * 4 + j1) // 4, ranges), simplify((j0 * 4 + j1) % 4, ranges)
(j_0, j_1)
>>> const_bounds(j0 * 4 + j1, ranges)
(0, 127)
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from . import dtype as dt
from .expr import (Binary, IntImm, Not, PrimExpr, Range, Select, Var, const, logical_not,
                   make_binary)
from .functor import Mutator, node_fields

__all__ = ["split_offset", "extent_between", "difference", "same_expr", "simplify", "const_bounds"]

Ranges = Mapping[Var, Range]


def split_offset(e: PrimExpr) -> tuple[PrimExpr | None, int]:
    """``e`` as (base, constant offset): ``i + 2`` -> (i, 2), ``3`` -> (None, 3)."""
    if isinstance(e, IntImm):
        return None, e.value
    if isinstance(e, Binary) and e.op in ("add", "sub") and isinstance(e.b, IntImm):
        base, off = split_offset(e.a)
        delta = e.b.value if e.op == "add" else -e.b.value
        return (base, off + delta) if base is not None else (None, off + delta)
    return e, 0


def extent_between(lo: PrimExpr, hi: PrimExpr) -> int | None:
    """``hi - lo`` when it is a constant, else None."""
    base_lo, off_lo = split_offset(lo)
    base_hi, off_hi = split_offset(hi)
    if base_lo is None and base_hi is None or (
            base_lo is not None and base_hi is not None and same_expr(base_lo, base_hi)):
        return off_hi - off_lo
    return None


def same_expr(a: PrimExpr, b: PrimExpr) -> bool:
    """True when ``a`` and ``b`` are the same expression over the same variables.

    Unlike :func:`~mlc.ir.structural.structural_equal`, free variables are
    compared by identity: ``i`` and ``j`` differ even though one renames to
    the other.

    >>> from mlc.ir.expr import Var
    >>> i, j = Var("i"), Var("j")
    >>> same_expr(i * 2 + 1, i * 2 + 1), same_expr(i, j)
    (True, False)
    """
    return _key(a) == _key(b)


def difference(lo: PrimExpr, hi: PrimExpr) -> PrimExpr:
    """``hi - lo``, folded to a constant when the two differ by one."""
    value = extent_between(lo, hi)
    return const(value, lo.dtype) if value is not None else hi - lo


# ------------------------------------------------------------------ bounds

def _is_index(e: PrimExpr) -> bool:
    return dt.is_int(e.dtype)


def _const_range(rng: Range) -> tuple[int, int] | None:
    if isinstance(rng.min, IntImm) and isinstance(rng.extent, IntImm) and rng.extent.value > 0:
        return rng.min.value, rng.min.value + rng.extent.value - 1
    return None


def const_bounds(expr: PrimExpr, ranges: Ranges | None = None) -> tuple[int, int] | None:
    """Inclusive constant bounds ``(lo, hi)`` of an integer expression, or None.

    Variables take their values from ``ranges`` (constant ``min`` and
    ``extent``); a variable without one makes the result None. This is plain
    interval analysis: ``i - i`` is bounded by ``(-3, 3)`` for ``i`` in
    ``[0, 4)``; :func:`simplify` first when correlations matter.

    >>> from mlc.ir.expr import Var
    >>> i = Var("i")
    >>> const_bounds(i // 4 * 3 - 1, {i: Range.from_extent(10)})
    (-1, 5)
    >>> const_bounds(i % 8, {i: Range.from_extent(100)}), const_bounds(i % 8) is None
    ((0, 7), True)
    """
    ranges = ranges or {}
    if isinstance(expr, IntImm):
        return expr.value, expr.value
    if isinstance(expr, Var):
        rng = ranges.get(expr)
        return _const_range(rng) if rng is not None else None
    if isinstance(expr, Select):
        t, f = const_bounds(expr.true_value, ranges), const_bounds(expr.false_value, ranges)
        return None if t is None or f is None else (min(t[0], f[0]), max(t[1], f[1]))
    if not isinstance(expr, Binary) or not _is_index(expr):
        return None
    a = const_bounds(expr.a, ranges)
    if expr.op in ("floordiv", "floormod", "truncdiv", "truncmod") and isinstance(expr.b, IntImm):
        return None if a is None else _div_bounds(expr.op, a, expr.b.value)
    b = const_bounds(expr.b, ranges)
    if a is None or b is None:
        return None
    if expr.op == "add":
        return a[0] + b[0], a[1] + b[1]
    if expr.op == "sub":
        return a[0] - b[1], a[1] - b[0]
    if expr.op == "mul":
        corners = [x * y for x in a for y in b]
        return min(corners), max(corners)
    if expr.op in ("min", "max"):
        pick = min if expr.op == "min" else max
        return pick(a[0], b[0]), pick(a[1], b[1])
    return None


def _div_bounds(op: str, a: tuple[int, int], c: int) -> tuple[int, int] | None:
    lo, hi = a
    if op.startswith("trunc"):
        if lo < 0 or c <= 0:
            return None
        op = op.replace("trunc", "floor")
    if op == "floordiv":
        if c == 0:
            return None
        corners = (lo // c, hi // c)
        return min(corners), max(corners)
    if c <= 0:
        return None
    if lo // c == hi // c:
        return lo % c, hi % c
    return 0, c - 1


# -------------------------------------------------------- linear sums

def _key(x):
    """A hashable key equal for equal expressions; variables and buffers by identity."""
    if isinstance(x, Var):
        return ("var", id(x))
    if isinstance(x, IntImm):
        return ("imm", x.value, x.dtype)
    if isinstance(x, tuple):
        return tuple(_key(v) for v in x)
    if hasattr(x, "__dataclass_fields__"):
        if type(x).__name__ == "Buffer":
            return ("buffer", id(x))
        return (type(x).__name__,) + tuple(_key(v) for _, v in node_fields(x))
    return x


def _by_const(e: PrimExpr, op: str) -> bool:
    """``e`` is ``x <op> c`` with a positive constant ``c``."""
    return isinstance(e, Binary) and e.op == op and isinstance(e.b, IntImm) and e.b.value > 0


class _Sum:
    """``sum(coeff * atom) + const``: terms keyed structurally, in first-seen order."""

    __slots__ = ("terms", "const", "dtype")

    def __init__(self, dtype: str, const_: int = 0):
        self.terms: dict = {}  # key -> [atom, coeff]
        self.const = const_
        self.dtype = dtype

    @staticmethod
    def atom(e: PrimExpr) -> _Sum:
        s = _Sum(e.dtype)
        s.add_term(e, 1)
        return s

    def add_term(self, atom: PrimExpr, coeff: int) -> None:
        key = _key(atom)
        entry = self.terms.get(key)
        if entry is None:
            self.terms[key] = [atom, coeff]
        else:
            entry[1] += coeff
        if self.terms[key][1] == 0:
            del self.terms[key]

    def plus(self, other: _Sum, sign: int = 1) -> _Sum:
        out = self.scaled(1)
        for atom, coeff in other.terms.values():
            out.add_term(atom, sign * coeff)
        out.const += sign * other.const
        return out

    def scaled(self, c: int) -> _Sum:
        out = _Sum(self.dtype, self.const * c)
        if c:
            out.terms = {k: [a, coeff * c] for k, (a, coeff) in self.terms.items()}
        return out

    def items(self) -> list[tuple[PrimExpr, int]]:
        """Terms by decreasing coefficient (stable), the order they print in."""
        return sorted(((a, c) for a, c in self.terms.values()), key=lambda t: -t[1])

    def is_const(self) -> bool:
        return not self.terms


class _Simplifier(Mutator):
    """Rewrites expressions bottom-up; integer ones go through :class:`_Sum`."""

    def __init__(self, ranges: Ranges):
        self.ranges = ranges

    def visit(self, node):
        if isinstance(node, PrimExpr):
            return self.expr(node)
        return super().visit(node)

    # ---------------------------------------------------------- entry
    def expr(self, e: PrimExpr) -> PrimExpr:
        if _is_index(e):
            return self.to_expr(self.sum(e))
        if isinstance(e, Binary) and e.dtype == "bool":
            return self.logic(e)
        if isinstance(e, Not):
            a = self.expr(e.a)
            return logical_not(a) if isinstance(a, IntImm) else (e if a is e.a else Not(a))
        return self.generic_visit(e)

    def logic(self, e: Binary) -> PrimExpr:
        a, b = self.expr(e.a), self.expr(e.b)
        if e.op in ("lt", "le", "gt", "ge", "eq", "ne") and _is_index(a):
            verdict = self.decide(e.op, self.sum(a).plus(self.sum(b), -1))
            if verdict is not None:
                return const(verdict, "bool")
        if e.op in ("and", "or"):
            for x, y in ((a, b), (b, a)):
                if isinstance(x, IntImm):
                    keep = bool(x.value) == (e.op == "and")
                    return y if keep else x
        return e if a is e.a and b is e.b else make_binary(e.op, a, b)

    def decide(self, op: str, diff: _Sum) -> bool | None:
        """The truth of ``diff <op> 0`` when the bounds of ``diff`` settle it."""
        bounds = self.bounds(diff)
        if bounds is None:
            return None
        lo, hi = bounds
        table = {"lt": (hi < 0, lo >= 0), "le": (hi <= 0, lo > 0), "gt": (lo > 0, hi <= 0),
                 "ge": (lo >= 0, hi < 0), "eq": (lo == hi == 0, lo > 0 or hi < 0),
                 "ne": (lo > 0 or hi < 0, lo == hi == 0)}
        true, false = table[op]
        return True if true else False if false else None

    # ---------------------------------------------------------- sums
    def sum(self, e: PrimExpr) -> _Sum:
        if isinstance(e, IntImm):
            return _Sum(e.dtype, e.value)
        if not isinstance(e, Binary):
            return _Sum.atom(e if isinstance(e, Var) else self.generic_visit(e))
        if e.op in ("add", "sub"):
            return self.merge_div_mod(self.sum(e.a).plus(self.sum(e.b), 1 if e.op == "add" else -1))
        if e.op == "mul":
            a, b = self.sum(e.a), self.sum(e.b)
            if b.is_const():
                return a.scaled(b.const)
            if a.is_const():
                return b.scaled(a.const)
            return _Sum.atom(make_binary("mul", self.to_expr(a), self.to_expr(b)))
        if e.op in ("floordiv", "floormod", "truncdiv", "truncmod"):
            return self.division(e)
        if e.op in ("min", "max"):
            return self.min_max(e)
        return _Sum.atom(self.generic_visit(e))

    def division(self, e: Binary) -> _Sum:
        a, b = self.sum(e.a), self.sum(e.b)
        op = e.op
        if op.startswith("trunc") and b.is_const() and b.const > 0:
            bounds = self.bounds(a)
            if bounds is not None and bounds[0] >= 0:  # truncation equals flooring here
                op = op.replace("trunc", "floor")
        if op.startswith("floor") and b.is_const() and b.const > 0:
            return self.floordiv(a, b.const) if op == "floordiv" else self.floormod(a, b.const)
        return _Sum.atom(make_binary(op, self.to_expr(a), self.to_expr(b)))

    def floordiv(self, a: _Sum, c: int) -> _Sum:
        """``a // c`` for ``c > 0``: multiples of ``c`` leave exactly, the rest divides."""
        quotient, rest = _Sum(a.dtype, a.const // c), _Sum(a.dtype, a.const % c)
        for atom, coeff in a.terms.values():
            if coeff % c == 0:
                quotient.add_term(atom, coeff // c)
            else:
                rest.add_term(atom, coeff)
        return quotient.plus(self._divide_rest(rest, c))

    def _divide_rest(self, rest: _Sum, c: int) -> _Sum:
        if c == 1:
            return rest
        bounds = self.bounds(rest)
        if bounds is not None and bounds[0] // c == bounds[1] // c:
            return _Sum(rest.dtype, bounds[0] // c)
        scaled = self._common_factor(rest, c)
        if scaled is not None:  # (g*x + y) // c == x // (c/g) when 0 <= y < g and g | c
            big, g = scaled
            return self.floordiv(big, c // g)
        inner = self._single_atom(rest, "floordiv")
        if inner is not None:  # (x // c1) // c == x // (c1 * c)
            return self.floordiv(self.sum(inner.a), inner.b.value * c)
        return _Sum.atom(make_binary("floordiv", self.to_expr(rest), const(c, rest.dtype)))

    def floormod(self, a: _Sum, c: int) -> _Sum:
        """``a % c`` for ``c > 0``: multiples of ``c`` vanish; bounded rests stay."""
        rest = _Sum(a.dtype, a.const % c)
        for atom, coeff in a.terms.values():
            if coeff % c:
                rest.add_term(atom, coeff)
        if c == 1:
            return _Sum(a.dtype, 0)
        bounds = self.bounds(rest)
        if bounds is not None and bounds[0] // c == bounds[1] // c:
            return rest.plus(_Sum(rest.dtype, bounds[0] // c * c), -1)
        scaled = self._common_factor(rest, c)
        if scaled is not None:  # (g*x + y) % c == (x % (c/g)) * g + y when 0 <= y < g, g | c
            big, g = scaled
            small = rest.plus(big.scaled(g), -1)
            return self.floormod(big, c // g).scaled(g).plus(small)
        inner = self._single_atom(rest, "floormod")
        if inner is not None and inner.b.value % c == 0:  # (x % (k*c)) % c == x % c
            return self.floormod(self.sum(inner.a), c)
        return _Sum.atom(make_binary("floormod", self.to_expr(rest), const(c, rest.dtype)))

    def _common_factor(self, rest: _Sum, c: int) -> tuple[_Sum, int] | None:
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
            small = _Sum(rest.dtype, rest.const)
            for atom, coeff in items[n:]:
                small.add_term(atom, coeff)
            bounds = self.bounds(small)
            if bounds is not None and 0 <= bounds[0] and bounds[1] < g:
                big = _Sum(rest.dtype)
                for atom, coeff in items[:n]:
                    big.add_term(atom, coeff // g)
                return big, g
        return None

    @staticmethod
    def _single_atom(s: _Sum, op: str) -> Binary | None:
        """``s`` when it is exactly ``x <op> c`` with a positive constant ``c``."""
        if s.const or len(s.terms) != 1:
            return None
        ((atom, coeff),) = s.terms.values()
        if coeff == 1 and _by_const(atom, op):
            return atom
        return None

    def merge_div_mod(self, s: _Sum) -> _Sum:
        """Undo fusion: ``x // k * k + x % k -> x`` and ``x // k % m * k + x % k -> x % (k*m)``."""
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
                    s = s.scaled(1)
                    del s.terms[key], s.terms[pkey]
                    s = s.plus(merged.scaled(c))
                    changed = True
                    break
        return s

    def _partner(self, s: _Sum, x: PrimExpr, k: int, coeff: int):
        """A term pairing with ``x % k``: (its key, what the pair merges into, per unit)."""
        xkey = _key(x)
        for key, (atom, c) in s.terms.items():
            if c != coeff:
                continue
            if _by_const(atom, "floordiv") and atom.b.value == k and _key(atom.a) == xkey:
                return key, self.sum(x)
            if _by_const(atom, "floormod") and _by_const(atom.a, "floordiv") and \
                    atom.a.b.value == k and _key(atom.a.a) == xkey:
                return key, self.floormod(self.sum(x), k * atom.b.value)
        return None

    def min_max(self, e: Binary) -> _Sum:
        a, b = self.sum(e.a), self.sum(e.b)
        bounds = self.bounds(a.plus(b, -1))
        if bounds is not None:
            a_smaller, b_smaller = bounds[1] <= 0, bounds[0] >= 0
            if a_smaller or b_smaller:
                return a if a_smaller == (e.op == "min") else b
        return _Sum.atom(make_binary(e.op, self.to_expr(a), self.to_expr(b)))

    def bounds(self, s: _Sum) -> tuple[int, int] | None:
        lo = hi = s.const
        for atom, coeff in s.terms.values():
            b = const_bounds(atom, self.ranges)
            if b is None:
                return None
            x, y = b[0] * coeff, b[1] * coeff
            lo, hi = lo + min(x, y), hi + max(x, y)
        return lo, hi

    # ---------------------------------------------------------- rebuild
    @staticmethod
    def to_expr(s: _Sum) -> PrimExpr:
        """The sum as an expression: terms by decreasing coefficient, constant last."""
        dtype, out, constant = s.dtype, None, s.const
        for atom, coeff in s.items():
            term = atom if abs(coeff) == 1 else make_binary("mul", atom, const(abs(coeff), dtype))
            if out is None:
                if coeff > 0:
                    out = term
                else:  # every coefficient is negative: lead with the constant
                    out = make_binary("sub", const(constant, dtype), term) if constant > 0 else \
                        Binary("sub", const(0, dtype), term, dtype)
                    constant = 0 if constant > 0 else constant
            else:
                out = make_binary("add" if coeff > 0 else "sub", out, term)
        if out is None:
            return const(constant, dtype)
        if constant:
            out = make_binary("add" if constant > 0 else "sub", out, const(abs(constant), dtype))
        return out


def simplify(expr: PrimExpr, ranges: Ranges | None = None) -> PrimExpr:
    """A canonical, simpler form of ``expr``; ``ranges`` bounds the variables.

    Integer expressions become linear sums (like terms merged, constants
    folded, larger coefficients first, constant last) with ``//`` and ``%`` by
    positive constants reduced where ``ranges`` proves it exact. Comparisons
    whose outcome the bounds decide become constants. Float expressions keep
    their shape; only their integer parts (indices) are simplified.

    >>> from mlc.ir.expr import Var
    >>> i, j, f = Var("i"), Var("j"), Var("f")
    >>> simplify(j + i * 2 + 3 - j + i)
    i * 3 + 3
    >>> r = {f: Range.from_extent(128 * 64)}
    >>> simplify(f // 64 // 2, r), simplify(f % 64 % 8, r)
    (f // 128, f % 8)
    >>> f0, f1 = Var("f0"), Var("f1")
    >>> r = {f0: Range.from_extent(64), f1: Range.from_extent(32)}
    >>> simplify((f0 * 32 + f1) // 64, r), simplify((f0 * 32 + f1) % 64, r)
    (f0 // 2, f0 % 2 * 32 + f1)
    >>> simplify(f // 64 * 64 + f % 64), simplify(f // 8 % 4 * 8 + f % 8)
    (f, f % 32)
    >>> simplify(f0 * 32 + f1 < 2048, r), simplify(f0 * 32 + f1 < 2000, r)
    (T.bool(True), f0 * 32 + f1 < 2000)
    """
    return _Simplifier(ranges or {}).visit(expr)
