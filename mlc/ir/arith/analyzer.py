"""The :class:`Analyzer`: integer facts about index expressions under known variable ranges.

It is the one entry point lowering, schedules and codegen use: bind the
ranges of the loop variables, then :meth:`~Analyzer.simplify`,
:meth:`~Analyzer.can_prove` and :meth:`~Analyzer.const_int_bound` under them.

>>> from mlc.ir.expr import Range, Var
>>> j0, j1 = Var("j_0"), Var("j_1")
>>> ana = Analyzer({j0: Range.from_extent(32), j1: Range.from_extent(4)})
>>> ana.simplify((j0 * 4 + j1) // 4), ana.simplify((j0 * 4 + j1) % 4)
(j_0, j_1)
>>> ana.const_int_bound(j0 * 4 + j1), ana.const_int_bound(j1 - j1)
(ConstIntBound(min=0, max=127), ConstIntBound(min=0, max=0))
>>> ana.can_prove(j0 * 4 + j1 < 128), ana.can_prove(j0 * 4 + j1 < 127)
(True, False)
"""
from __future__ import annotations

import builtins
import itertools
from collections.abc import Mapping

import numpy as np

from .. import dtype as dt
from ..expr import Binary, IntImm, PrimExpr, Var
from ..ops import BINARY_OPS
from .bounds import ConstIntBound, linear_bound, var_bounds
from .linear import free_vars
from .rewrite import Rewriter, canonical, constant_difference, linear

__all__ = ["Analyzer", "eval_int"]


class Analyzer:
    """Simplification, proofs and constant bounds under the bound variables' ranges.

    ``ranges`` (and :meth:`bind`) map each variable to a
    :class:`~mlc.ir.expr.Range`, an :class:`~mlc.ir.arith.int_set.IntSet` or
    an inclusive ``(lo, hi)`` pair; only constant ranges are kept (a range
    with a non-constant end or a non-positive extent bounds nothing).
    """

    __slots__ = ("_bounds", "_rewriter")

    def __init__(self, ranges: Mapping[Var, object] | None = None):
        self._bounds: dict[Var, tuple[int, int]] = var_bounds(ranges)
        self._rewriter: Rewriter | None = None

    def bind(self, var: Var, rng) -> Analyzer:
        """Give ``var`` the values of ``rng`` (replacing an earlier binding); returns self."""
        self._rewriter = None
        self._bounds.pop(var, None)
        self._bounds.update(var_bounds({var: rng}))
        return self

    def bounds_of(self, var: Var) -> tuple[int, int] | None:
        """The inclusive constant bounds bound to ``var``, or None."""
        return self._bounds.get(var)

    # ------------------------------------------------------------ queries
    def simplify(self, expr: PrimExpr) -> PrimExpr:
        """A canonical, simpler form of ``expr`` under the bound ranges.

        Integer expressions become linear sums (like terms merged, constants
        folded, larger coefficients first, constant last) with ``//`` and ``%``
        by positive constants reduced where the ranges prove it exact.
        Comparisons whose outcome the bounds decide become constants. Float
        expressions keep their shape; only their integer parts are simplified.

        >>> from mlc.ir.expr import Range, Var
        >>> i, j, f = Var("i"), Var("j"), Var("f")
        >>> Analyzer().simplify(j + i * 2 + 3 - j + i)
        i * 3 + 3
        >>> ana = Analyzer({f: Range.from_extent(128 * 64)})
        >>> ana.simplify(f // 64 // 2), ana.simplify(f % 64 % 8)
        (f // 128, f % 8)
        >>> f0, f1 = Var("f0"), Var("f1")
        >>> ana = Analyzer({f0: Range.from_extent(64), f1: Range.from_extent(32)})
        >>> ana.simplify((f0 * 32 + f1) // 64), ana.simplify((f0 * 32 + f1) % 64)
        (f0 // 2, f0 % 2 * 32 + f1)
        >>> ana.simplify(f // 64 * 64 + f % 64), ana.simplify(f // 8 % 4 * 8 + f % 8)
        (f, f % 32)
        >>> ana.simplify(f0 * 32 + f1 < 2048), ana.simplify(f0 * 32 + f1 < 2000)
        (T.bool(True), f0 * 32 + f1 < 2000)
        """
        if self._rewriter is None:
            self._rewriter = Rewriter(self._bounds)
        return self._rewriter.simplify(expr)

    def const_int_bound(self, expr: PrimExpr) -> ConstIntBound:
        """Inclusive constant bounds of the integer ``expr`` (``None`` on an unknown side).

        The expression is put in linear form first, so ``i - i`` is ``(0, 0)``.
        """
        if isinstance(expr, IntImm):
            return ConstIntBound(expr.value, expr.value)
        return linear_bound(linear(expr), self._bounds)

    def can_prove(self, cond: PrimExpr) -> bool:
        """True when the comparison ``cond`` holds for every value of the bound ranges.

        Handles ``lt/le/gt/ge/eq`` of integers and ``and`` of those; anything
        else is "not proven". Where the interval bounds are too loose (on
        correlated terms), the variables' values are enumerated (at most 4096
        points).
        """
        if isinstance(cond, IntImm):
            return bool(cond.value)
        if not isinstance(cond, Binary):
            return False
        if cond.op == "and":
            return self.can_prove(cond.a) and self.can_prove(cond.b)
        if not dt.is_int(cond.a.dtype):
            return False
        if cond.op in ("lt", "le", "gt", "ge"):
            gap = cond.b - cond.a if cond.op in ("lt", "le") else cond.a - cond.b
            need = 1 if cond.op in ("lt", "gt") else 0
            lo = self.const_int_bound(gap).min
            if lo is None or lo < need:  # interval analysis is loose on correlated terms
                exact = self.enumerated_bounds(canonical(gap))
                lo = exact[0] if exact else lo
            return lo is not None and lo >= need
        if cond.op == "eq":
            return constant_difference(cond.a, cond.b) == 0
        return False

    def enumerated_bounds(self, expr: PrimExpr, limit: int = 4096) -> tuple[int, int] | None:
        """Exact ``(min, max)`` of ``expr`` by trying every value of its variables, when
        they all have bound ranges whose product is at most ``limit``; else None.

        >>> i = Var("i")
        >>> Analyzer({i: (0, 4)}).enumerated_bounds((i * 4 + 3) // 5 - i * 4 // 5 + 1)
        (1, 2)
        """
        variables = free_vars(expr)
        spans = []
        for v in variables:
            b = self._bounds.get(v)
            if b is None or b[1] < b[0]:
                return None
            spans.append(range(b[0], b[1] + 1))
        count = 1
        for r in spans:
            count *= len(r)
        if count > limit:
            return None
        try:
            return _grid_bounds(expr, variables, spans)
        except _Overflow:  # values int64 might not hold: one point at a time, in Python ints
            pass
        except KeyError:
            return None
        try:
            values = [eval_int(expr, {id(v): x for v, x in zip(variables, point)})
                      for point in itertools.product(*spans)]
        except KeyError:
            return None
        return builtins.min(values), builtins.max(values)


_EVAL = {name: BINARY_OPS[name].exact for name in ("add", "sub", "mul", "floordiv", "floormod", "min", "max")}


class _Overflow(Exception):
    """An intermediate value of :func:`_grid_values` might not fit in int64."""


#: The int64 magnitude below which :func:`_grid_values` computes (sums and products of
#: such values stay inside int64).
_GRID_LIMIT = 1 << 62

#: NumPy's elementwise form of each operation of :func:`eval_int` (``//`` and ``%`` by
#: zero are 0 there as in the IR's exact arithmetic), and the largest magnitude of its
#: result given its operands' largest magnitudes.
_GRID_OPS = {
    "add": (np.add, lambda a, b: a + b),
    "sub": (np.subtract, lambda a, b: a + b),
    "mul": (np.multiply, lambda a, b: a * b),
    "floordiv": (np.floor_divide, lambda a, b: a),
    "floormod": (np.remainder, lambda a, b: b),
    "min": (np.minimum, builtins.max),
    "max": (np.maximum, builtins.max),
}


def _grid_bounds(expr: PrimExpr, variables, spans) -> tuple[int, int]:
    """Exact ``(min, max)`` of ``expr`` over every point of ``spans`` (one range per
    variable), evaluated on the whole grid at once with NumPy: what evaluating each point
    with :func:`eval_int` gives, some hundred times sooner. KeyError for an expression
    :func:`eval_int` cannot evaluate; :class:`_Overflow` where int64 might not hold it."""
    axes = np.meshgrid(*[np.arange(r.start, r.stop, dtype=np.int64) for r in spans], indexing="ij", sparse=True)
    env = {id(v): (axis, builtins.max(abs(r.start), abs(r.stop - 1))) for v, axis, r in zip(variables, axes, spans)}
    with np.errstate(all="ignore"):  # (// and % by zero: 0, as in eval_int)
        values, _ = _grid_values(expr, env)
    values = np.asarray(values)
    return int(values.min()), int(values.max())


def _grid_values(e: PrimExpr, env: dict[int, tuple[np.ndarray, int]]) -> tuple[np.ndarray | int, int]:
    """(values of ``e`` on the grid, their largest possible magnitude) for :func:`_grid_bounds`."""
    if isinstance(e, IntImm):
        if abs(e.value) >= _GRID_LIMIT:
            raise _Overflow
        return e.value, abs(e.value)
    if isinstance(e, Var):
        return env[id(e)]
    if isinstance(e, Binary) and e.op in _GRID_OPS:
        (a, a_max), (b, b_max) = _grid_values(e.a, env), _grid_values(e.b, env)
        apply, magnitude = _GRID_OPS[e.op]
        bound = magnitude(a_max, b_max)
        if bound >= _GRID_LIMIT:
            raise _Overflow
        return apply(a, b), bound
    raise KeyError(e)


def eval_int(e: PrimExpr, env: dict[int, int]) -> int:
    """The value of an integer expression of ``+ - * // % min max`` with each
    variable's value in ``env`` (keyed by ``id``); KeyError for anything else."""
    if isinstance(e, IntImm):
        return e.value
    if isinstance(e, Var):
        return env[id(e)]
    if isinstance(e, Binary) and e.op in _EVAL:
        return _EVAL[e.op](eval_int(e.a, env), eval_int(e.b, env))
    raise KeyError(e)
