"""Small integer arithmetic helpers for index expressions.

>>> from mlc.ir.expr import Var
>>> i = Var("i")
>>> split_offset(i + 3)
(i, 3)
>>> extent_between(i + 1, i + 4)
3
"""
from __future__ import annotations

from .expr import Binary, IntImm, PrimExpr, const
from .structural import structural_equal

__all__ = ["split_offset", "extent_between", "difference"]


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
            base_lo is not None and base_hi is not None and structural_equal(base_lo, base_hi)):
        return off_hi - off_lo
    return None


def difference(lo: PrimExpr, hi: PrimExpr) -> PrimExpr:
    """``hi - lo``, folded to a constant when the two differ by one."""
    value = extent_between(lo, hi)
    return const(value, lo.dtype) if value is not None else hi - lo
