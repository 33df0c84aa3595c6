"""Constant integer bounds: interval analysis of index expressions.

One contract: :func:`const_int_bound` returns a :class:`ConstIntBound`
``(min, max)`` of inclusive constant bounds, either side ``None`` when it is
unknown. Variables take their bounds from a mapping ``Var -> (lo, hi)``
(inclusive constants; see :func:`var_bounds` for building one from loop
ranges); a variable without one is unbounded.

This is plain interval analysis over the tree: ``i - i`` is bounded by
``(-3, 3)`` for ``i`` in ``[0, 4)``. :meth:`mlc.ir.arith.Analyzer.const_int_bound`
first puts the expression in linear form, so correlated terms cancel.

>>> from mlc.ir.expr import Range, Var
>>> i = Var("i")
>>> b = var_bounds({i: Range.from_extent(10)})
>>> const_int_bound(i // 4 * 3 - 1, b), const_int_bound(i % 8, b)
(ConstIntBound(min=-1, max=5), ConstIntBound(min=0, max=7))
>>> const_int_bound(i % 8, {}), const_int_bound(i + 1, {})
(ConstIntBound(min=0, max=7), ConstIntBound(min=None, max=None))
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from .. import dtype as dt
from ..expr import Binary, Cast, IntImm, PrimExpr, Range, Select, Var

__all__ = ["ConstIntBound", "const_int_bound", "linear_bound", "var_bounds", "range_bounds"]

VarBounds = Mapping[Var, tuple[int, int]]


class ConstIntBound(NamedTuple):
    """Inclusive constant bounds; ``None`` marks an unknown side."""
    min: int | None
    max: int | None

    def is_known(self) -> bool:
        return self.min is not None and self.max is not None


UNKNOWN = ConstIntBound(None, None)


def range_bounds(rng: Range) -> tuple[int, int] | None:
    """``(min, min + extent - 1)`` of a non-empty constant range, else None."""
    if isinstance(rng.min, IntImm) and isinstance(rng.extent, IntImm) and rng.extent.value > 0:
        return rng.min.value, rng.min.value + rng.extent.value - 1
    return None


def var_bounds(ranges: Mapping[Var, object] | None) -> dict[Var, tuple[int, int]]:
    """Constant ``(lo, hi)`` bounds of the variables in ``ranges``.

    Each value is a :class:`~mlc.ir.expr.Range` (kept when its min and extent
    are constants and the extent is positive), an inclusive ``(lo, hi)`` pair,
    or anything with ``min``/``max`` expressions (an ``IntSet``; kept when both
    are constants). Variables whose range is not constant are left out.
    """
    out = {}
    for v, r in (ranges or {}).items():
        if isinstance(r, Range):
            b = range_bounds(r)
        elif isinstance(r, tuple):
            b = r
        else:
            lo, hi = getattr(r, "min", None), getattr(r, "max", None)
            b = (lo.value, hi.value) if isinstance(lo, IntImm) and isinstance(hi, IntImm) else None
        if b is not None:
            out[v] = b
    return out


def const_int_bound(expr: PrimExpr, bounds: VarBounds) -> ConstIntBound:
    """Inclusive constant bounds of an integer expression (``None`` where unknown)."""
    if isinstance(expr, IntImm):
        return ConstIntBound(expr.value, expr.value)
    if isinstance(expr, Var):
        b = bounds.get(expr)
        return UNKNOWN if b is None else ConstIntBound(*b)
    if isinstance(expr, Select):
        t, f = const_int_bound(expr.true_value, bounds), const_int_bound(expr.false_value, bounds)
        return ConstIntBound(_pick(min, t.min, f.min), _pick(max, t.max, f.max))
    if isinstance(expr, Cast):
        if dt.is_int(expr.dtype) and dt.is_int(expr.value.dtype) and \
                dt.bits(expr.value.dtype) <= dt.bits(expr.dtype):
            return const_int_bound(expr.value, bounds)
        return UNKNOWN
    if not isinstance(expr, Binary) or not dt.is_int(expr.dtype):
        return UNKNOWN
    a = const_int_bound(expr.a, bounds)
    if expr.op in ("floordiv", "floormod", "truncdiv", "truncmod") and isinstance(expr.b, IntImm):
        return _div_bounds(expr.op, a, expr.b.value)
    b = const_int_bound(expr.b, bounds)
    if expr.op == "add":
        return ConstIntBound(_sum(a.min, b.min), _sum(a.max, b.max))
    if expr.op == "sub":
        return ConstIntBound(_sub(a.min, b.max), _sub(a.max, b.min))
    if expr.op == "mul":
        if not (a.is_known() and b.is_known()):
            return UNKNOWN
        corners = [x * y for x in a for y in b]
        return ConstIntBound(min(corners), max(corners))
    if expr.op == "min":  # min(a, b) <= either upper bound
        return ConstIntBound(_pick(min, a.min, b.min), _either(min, a.max, b.max))
    if expr.op == "max":  # max(a, b) >= either lower bound
        return ConstIntBound(_either(max, a.min, b.min), _pick(max, a.max, b.max))
    return UNKNOWN


def linear_bound(lin, bounds: VarBounds) -> ConstIntBound:
    """Bounds of a :class:`~mlc.ir.arith.linear.Linear`: each atom bounded on its own."""
    lo = hi = lin.const
    for atom, coeff in lin.terms.values():
        b = const_int_bound(atom, bounds)
        x = None if b.min is None else b.min * coeff
        y = None if b.max is None else b.max * coeff
        if coeff < 0:
            x, y = y, x
        lo, hi = _sum(lo, x), _sum(hi, y)
        if lo is None and hi is None:
            break
    return ConstIntBound(lo, hi)


def _sum(x, y):
    return None if x is None or y is None else x + y


def _sub(x, y):
    return None if x is None or y is None else x - y


def _pick(f, x, y):
    """Both sides needed: ``f(x, y)``, or None when one is unknown."""
    return None if x is None or y is None else f(x, y)


def _either(f, x, y):
    """One side enough: ``f(x, y)``, or the known one."""
    if x is None or y is None:
        return y if x is None else x
    return f(x, y)


def _div_bounds(op: str, a: ConstIntBound, c: int) -> ConstIntBound:
    """Bounds of ``a <op> c`` for a constant ``c``: flooring or, on values known
    non-negative, truncating division and remainder."""
    lo, hi = a
    if op.startswith("trunc"):
        if lo is None or lo < 0 or c <= 0:
            return UNKNOWN
        op = op.replace("trunc", "floor")
    if op == "floordiv":
        if c == 0:
            return UNKNOWN
        if c < 0:  # decreasing in the dividend
            lo, hi = hi, lo
        return ConstIntBound(None if lo is None else lo // c, None if hi is None else hi // c)
    if c == 0:
        return UNKNOWN
    if c < 0:
        return ConstIntBound(c + 1, 0)
    if lo is not None and hi is not None:
        if lo // c == hi // c:
            return ConstIntBound(lo % c, hi % c)
    return ConstIntBound(0, c - 1)
