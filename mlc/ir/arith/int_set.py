"""Symbolic integer sets: the values an index expression takes while some loops run.

Schedule primitives that move a block (``compute_at``, ``reverse_compute_at``,
``cache_read``, ``blockize``) need the region of a buffer that a block touches
during one iteration of a loop. That region is the access index *relaxed*
over the loops inside that iteration: each relaxed variable ranges over its
interval, every other variable stays symbolic.

An :class:`IntSet` is a closed interval ``[min, max]`` whose endpoints are
expressions in the variables that were not relaxed (``None`` for an unknown
side). Affine expressions are handled exactly through the linear form
(:func:`~mlc.ir.arith.rewrite.linear`); ``floordiv``/``floormod`` by
constants, ``min``/``max`` and ``select`` are bounded soundly.

>>> from mlc.ir.expr import Var
>>> j0, j1 = Var("j_0"), Var("j_1")
>>> s = relax(j0 * 4 + j1, {j1: IntSet.from_extent(4)})
>>> s.min, s.max, s.extent()
(j_0 * 4, j_0 * 4 + 3, 4)
"""
from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence

from .. import dtype as dt
from ...errors import IRError
from ..expr import Binary, Cast, IntImm, PrimExpr, Range, Select, Var, const, make_binary
from ..node import node
from .linear import Linear, uses_any
from .rewrite import canonical, constant_difference, linear

__all__ = ["IntSet", "relax", "relax_region", "union_regions"]


# ----------------------------------------------------------------------- IntSet

@node(repr=True)
class IntSet:
    """The closed interval ``[min, max]``; ``None`` marks an unknown side."""
    min: PrimExpr | None
    max: PrimExpr | None

    @staticmethod
    def point(e: PrimExpr) -> IntSet:
        return IntSet(e, e)

    @staticmethod
    def from_range(r: Range) -> IntSet:
        """``[r.min, r.min + r.extent - 1]``."""
        return IntSet(canonical(r.min), canonical(r.min + r.extent - 1))

    @staticmethod
    def from_extent(extent: int, start: int = 0) -> IntSet:
        return IntSet(const(start), const(start + extent - 1))

    @staticmethod
    def everything() -> IntSet:
        return IntSet(None, None)

    def is_bounded(self) -> bool:
        return self.min is not None and self.max is not None

    def is_point(self) -> bool:
        return self.is_bounded() and constant_difference(self.min, self.max) == 0

    def extent(self) -> PrimExpr | None:
        """``max - min + 1`` (canonical), or None when unbounded."""
        if not self.is_bounded():
            return None
        return canonical(self.max - self.min + 1)

    def to_range(self) -> Range:
        extent = self.extent()
        if extent is None:
            raise IRError("an unbounded integer set has no range")
        return Range(self.min, extent)

    def union(self, other: IntSet) -> IntSet:
        """The smallest interval holding both."""
        lo = None if self.min is None or other.min is None else _sym(self.min, other.min, "min")
        hi = None if self.max is None or other.max is None else _sym(self.max, other.max, "max")
        return IntSet(lo, hi)

    def intersect(self, other: IntSet) -> IntSet:
        lo = other.min if self.min is None else self.min if other.min is None else _sym(self.min, other.min, "max")
        hi = other.max if self.max is None else self.max if other.max is None else _sym(self.max, other.max, "min")
        return IntSet(lo, hi)

    def __repr__(self) -> str:
        return f"IntSet[{self.min!r}, {self.max!r}]"


def _sym(a: PrimExpr, b: PrimExpr, op: str) -> PrimExpr:
    """``min(a, b)``/``max(a, b)``, decided statically when ``b - a`` is constant."""
    d = constant_difference(a, b)
    if d is not None:
        return a if (d >= 0) == (op == "min") else b
    return make_binary(op, a, b)


# ------------------------------------------------------------------------ relax

def relax(e: PrimExpr, dom: Mapping[Var, IntSet]) -> IntSet:
    """The values of ``e`` when each variable in ``dom`` ranges over its set.

    Variables not in ``dom`` stay symbolic in the endpoints.
    """
    relaxed = [v for v in dom]
    if not uses_any(e, relaxed):
        c = canonical(e)
        return IntSet(c, c)
    lin = linear(e)
    lo, hi = Linear(const_=lin.const, dtype=lin.dtype), Linear(const_=lin.const, dtype=lin.dtype)
    for atom, coef in lin.terms.values():
        s = _relax_atom(atom, dom, relaxed)
        a_lo, a_hi = (s.min, s.max) if coef > 0 else (s.max, s.min)
        lo = None if lo is None or a_lo is None else lo.add(linear(a_lo), coef)
        hi = None if hi is None or a_hi is None else hi.add(linear(a_hi), coef)
    return IntSet(None if lo is None else lo.to_expr(), None if hi is None else hi.to_expr())


def _relax_atom(atom: PrimExpr, dom: Mapping[Var, IntSet], relaxed) -> IntSet:
    if not uses_any(atom, relaxed):
        return IntSet(atom, atom)
    if isinstance(atom, Var):
        return dom[atom]
    if isinstance(atom, Binary):
        if atom.op == "mul":
            return _relax_mul(relax(atom.a, dom), relax(atom.b, dom))
        if atom.op in ("floordiv", "floormod") and isinstance(atom.b, IntImm) and atom.b.value != 0:
            return _relax_div_mod(atom.op, relax(atom.a, dom), atom.b.value, atom.dtype)
        if atom.op in ("min", "max"):
            a, b = relax(atom.a, dom), relax(atom.b, dom)
            pick = (lambda x, y: _sym(x, y, atom.op))
            lo = _pick_side(a.min, b.min, pick, atom.op == "max")
            hi = _pick_side(a.max, b.max, pick, atom.op == "min")
            return IntSet(lo, hi)
    if isinstance(atom, Select):
        return relax(atom.true_value, dom).union(relax(atom.false_value, dom))
    if isinstance(atom, Cast) and dt.is_int(atom.value.dtype) and dt.bits(atom.value.dtype) <= dt.bits(atom.dtype):
        return relax(atom.value, dom)
    return IntSet.everything()


def _pick_side(x, y, pick, one_side_enough: bool):
    """Combine one side of two intervals; an unknown side is absorbing unless ``one_side_enough``."""
    if x is None or y is None:
        return (y if x is None else x) if one_side_enough else None
    return pick(x, y)


def _as_int(e: PrimExpr | None) -> int | None:
    return e.value if isinstance(e, IntImm) else None


def _relax_mul(a: IntSet, b: IntSet) -> IntSet:
    corners = [_as_int(x) for x in (a.min, a.max, b.min, b.max)]
    if any(c is None for c in corners):
        return IntSet.everything()
    products = [x * y for x in corners[:2] for y in corners[2:]]
    return IntSet(const(builtins.min(products)), const(builtins.max(products)))


def _relax_div_mod(op: str, a: IntSet, c: int, dtype: str) -> IntSet:
    if op == "floordiv":
        lo = None if a.min is None else canonical(make_binary("floordiv", a.min, const(c, dtype)))
        hi = None if a.max is None else canonical(make_binary("floordiv", a.max, const(c, dtype)))
        return IntSet(lo, hi) if c > 0 else IntSet(hi, lo)
    lo, hi = _as_int(a.min), _as_int(a.max)
    if c > 0 and lo is not None and hi is not None and lo // c == hi // c:
        return IntSet(const(lo % c, dtype), const(hi % c, dtype))
    span = (0, c - 1) if c > 0 else (c + 1, 0)
    return IntSet(const(span[0], dtype), const(span[1], dtype))


def relax_region(region: Sequence[Range], dom: Mapping[Var, IntSet]) -> list[IntSet]:
    """Each dimension ``[min, min + extent - 1]`` of a buffer region, relaxed over ``dom``."""
    out = []
    for r in region:
        lo = relax(r.min, dom).min
        hi = relax(r.min + r.extent - 1, dom).max
        out.append(IntSet(lo, hi))
    return out


def union_regions(a: Sequence[IntSet] | None, b: Sequence[IntSet]) -> list[IntSet]:
    """Dimension-wise hull of two regions (``a`` may be None: nothing yet)."""
    if a is None:
        return list(b)
    return [x.union(y) for x, y in zip(a, b)]
