"""Symbolic integer sets: the values an index expression takes while some loops run.

Schedule primitives that move a block (``compute_at``, ``reverse_compute_at``,
``cache_read``, ``blockize``) need the region of a buffer that a block touches
during one iteration of a loop. That region is the access index *relaxed*
over the loops inside that iteration: each relaxed variable ranges over its
interval, every other variable stays symbolic.

An :class:`IntSet` is a closed interval ``[min, max]`` whose endpoints are
expressions in the variables that were not relaxed (``None`` for an unknown
side). Affine expressions are handled exactly through a linear normal form
(:func:`linear`, :func:`canonical`); ``floordiv``/``floormod`` by constants,
``min``/``max`` and ``select`` are bounded soundly.

>>> from mlc.ir.expr import Var
>>> j0, j1 = Var("j_0"), Var("j_1")
>>> s = relax(j0 * 4 + j1, {j1: IntSet.from_extent(4)})
>>> s.min, s.max, s.extent()
(j_0 * 4, j_0 * 4 + 3, 4)
>>> const_bounds(j0 * 4 + j1, {j0: (0, 31), j1: (0, 3)})
(0, 127)
"""
from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import dtype as dt
from .buffer import Buffer
from .expr import (Binary, Cast, IntImm, PrimExpr, Range, Select, Var, const, make_binary)

__all__ = [
    "IntSet", "Linear", "linear", "canonical", "expr_key", "free_vars", "uses_any",
    "relax", "relax_region", "union_regions", "const_bounds", "can_prove", "constant_difference",
    "enumerated_bounds",
]


# ----------------------------------------------------------------- identity keys

def expr_key(e) -> tuple:
    """A hashable key equal for exactly-equal expressions (variables by identity).

    Unlike :func:`mlc.ir.structural.structural_equal`, free variables are not
    renamed: ``i + j`` and ``k + l`` have different keys.
    """
    if isinstance(e, Var):
        return ("var", id(e))
    if isinstance(e, IntImm):
        return ("int", e.value, e.dtype)
    if isinstance(e, Buffer):
        return ("buf", id(e))
    if isinstance(e, PrimExpr):
        from .functor import node_fields
        return (type(e).__name__,) + tuple(expr_key(v) for _, v in node_fields(e))
    if isinstance(e, tuple):
        return ("tuple",) + tuple(expr_key(v) for v in e)
    return ("value", e)


def free_vars(e) -> list[Var]:
    """The variables of ``e`` in order of first appearance (each once)."""
    from .functor import pre_order_nodes
    seen, out = set(), []
    for node in pre_order_nodes(e):
        if isinstance(node, Var) and id(node) not in seen:
            seen.add(id(node))
            out.append(node)
    return out


def uses_any(e, variables) -> bool:
    """True when ``e`` mentions any of ``variables`` (compared by identity)."""
    ids = {id(v) for v in variables}
    return builtins.any(id(v) in ids for v in free_vars(e))


# ------------------------------------------------------------ linear normal form

class Linear:
    """``sum(coef * atom) + const`` with integer coefficients; atoms keep first-seen order.

    Atoms are variables or non-affine sub-expressions (already canonical).
    """

    __slots__ = ("terms", "const", "dtype")

    def __init__(self, terms=None, const_: int = 0, dtype: str = dt.INDEX):
        self.terms: dict[tuple, list] = dict(terms or {})  # key -> [atom, coef]
        self.const = const_
        self.dtype = dtype

    def copy(self) -> Linear:
        return Linear({k: [a, c] for k, (a, c) in self.terms.items()}, self.const, self.dtype)

    def add(self, other: Linear, scale: int = 1) -> Linear:
        out = self.copy()
        for key, (atom, coef) in other.terms.items():
            if key in out.terms:
                out.terms[key][1] += coef * scale
                if out.terms[key][1] == 0:
                    del out.terms[key]
            elif coef * scale:
                out.terms[key] = [atom, coef * scale]
        out.const += other.const * scale
        return out

    def scale(self, factor: int) -> Linear:
        if factor == 0:
            return Linear(dtype=self.dtype)
        return Linear({k: [a, c * factor] for k, (a, c) in self.terms.items()}, self.const * factor, self.dtype)

    def is_const(self) -> bool:
        return not self.terms

    def to_expr(self) -> PrimExpr:
        """The expression, positive terms first: ``j_0 * 4 + j_1 - k + 3``."""
        out: PrimExpr | None = None
        items = list(self.terms.values())
        for atom, coef in [x for x in items if x[1] > 0] + [x for x in items if x[1] < 0]:
            mag = builtins.abs(coef)
            term = atom if mag == 1 else make_binary("mul", atom, const(mag, self.dtype))
            if out is None:
                out = term if coef > 0 else make_binary("sub", const(0, self.dtype), term)
            else:
                out = make_binary("add" if coef > 0 else "sub", out, term)
        if out is None:
            return const(self.const, self.dtype)
        if self.const > 0:
            return make_binary("add", out, const(self.const, self.dtype))
        if self.const < 0:
            return make_binary("sub", out, const(-self.const, self.dtype))
        return out


def _is_index_int(e: PrimExpr) -> bool:
    return dt.is_int(e.dtype)


def linear(e: PrimExpr) -> Linear:
    """The linear normal form of an integer expression (non-affine parts become atoms)."""
    if isinstance(e, IntImm):
        return Linear(const_=e.value, dtype=e.dtype)
    if isinstance(e, Binary) and _is_index_int(e):
        if e.op in ("add", "sub"):
            return linear(e.a).add(linear(e.b), 1 if e.op == "add" else -1)
        if e.op == "mul":
            la, lb = linear(e.a), linear(e.b)
            if lb.is_const():
                return la.scale(lb.const)
            if la.is_const():
                return lb.scale(la.const)
            return _atom(make_binary("mul", la.to_expr(), lb.to_expr()))
        if e.op in ("floordiv", "floormod"):
            return _div_mod(e.op, linear(e.a), linear(e.b), e.dtype)
        if e.op in ("min", "max"):
            a, b = canonical(e.a), canonical(e.b)
            d = constant_difference(a, b)
            if d is not None:
                pick = a if (d >= 0) == (e.op == "min") else b  # d = b - a
                return linear(pick)
            return _atom(make_binary(e.op, a, b))
    if isinstance(e, Var) or not _is_index_int(e):
        return _atom(e)
    return _atom(_canonical_children(e))


def _atom(e: PrimExpr) -> Linear:
    if isinstance(e, IntImm):
        return Linear(const_=e.value, dtype=e.dtype)
    return Linear({expr_key(e): [e, 1]}, 0, e.dtype)


def _div_mod(op: str, num: Linear, den: Linear, dtype: str) -> Linear:
    """``floordiv``/``floormod`` by a constant: multiples of the divisor move out exactly."""
    if not den.is_const() or den.const == 0:
        return _atom(make_binary(op, num.to_expr(), den.to_expr()))
    c = den.const
    if num.is_const():
        value = num.const // c if op == "floordiv" else num.const % c
        return Linear(const_=value, dtype=dtype)
    if c == 1:
        return num if op == "floordiv" else Linear(dtype=dtype)
    multiple, rest = Linear(dtype=dtype), Linear(dtype=dtype)
    for key, (atom, coef) in num.terms.items():
        target = multiple if coef % c == 0 else rest
        target.terms[key] = [atom, coef]
    multiple.const, rest.const = num.const - num.const % c, num.const % c
    if op == "floormod":
        if rest.is_const():
            return Linear(const_=rest.const % c, dtype=dtype)
        return _atom(make_binary("floormod", rest.to_expr(), const(c, dtype)))
    quotient = multiple.scale(1)
    quotient.terms = {k: [a, co // c] for k, (a, co) in multiple.terms.items()}
    quotient.const = multiple.const // c
    if rest.is_const():
        return quotient.add(Linear(const_=rest.const // c, dtype=dtype))
    return quotient.add(_atom(make_binary("floordiv", rest.to_expr(), const(c, dtype))))


def _canonical_children(e: PrimExpr) -> PrimExpr:
    from .functor import Mutator

    class _Children(Mutator):
        def visit(self, node):
            if node is e:
                return super().generic_visit(node)
            if isinstance(node, PrimExpr) and _is_index_int(node) and not isinstance(node, Var):
                return canonical(node)
            return super().visit(node)

    return _Children().visit(e)


def canonical(e: PrimExpr) -> PrimExpr:
    """``e`` with affine parts normalised: ``(i + 1) * 4 - i * 4`` -> ``4``.

    Non-integer expressions are returned unchanged.
    """
    if not isinstance(e, PrimExpr) or not _is_index_int(e):
        return e
    return linear(e).to_expr()


def constant_difference(a: PrimExpr, b: PrimExpr) -> int | None:
    """``b - a`` when it is a constant, else None."""
    diff = linear(b).add(linear(a), -1)
    return diff.const if diff.is_const() else None


# ----------------------------------------------------------------------- IntSet

@dataclass(frozen=True, slots=True, eq=False)
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
            from ..errors import IRError
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


# ------------------------------------------------------------------- constants

def _const_dom(ranges: Mapping[Var, object]) -> dict[Var, IntSet]:
    dom = {}
    for v, r in ranges.items():
        if isinstance(r, Range):
            dom[v] = IntSet.from_range(r)
        elif isinstance(r, IntSet):
            dom[v] = r
        else:
            lo, hi = r
            dom[v] = IntSet(const(lo), const(hi))
    return dom


def const_bounds(e: PrimExpr, ranges: Mapping[Var, object]) -> tuple[int | None, int | None]:
    """Constant lower and upper bounds of ``e`` (None where unknown).

    ``ranges`` maps each variable to a :class:`Range`, an ``IntSet`` or an
    inclusive ``(lo, hi)`` pair.
    """
    s = relax(e, _const_dom(ranges))
    return _as_int(s.min), _as_int(s.max)


def can_prove(cond: PrimExpr, ranges: Mapping[Var, object]) -> bool:
    """True when the comparison ``cond`` holds for every value in ``ranges``.

    Handles ``lt/le/gt/ge/eq`` of integers and ``and`` of those; anything else
    is "not proven".
    """
    if isinstance(cond, IntImm):
        return bool(cond.value)
    if not isinstance(cond, Binary):
        return False
    if cond.op == "and":
        return can_prove(cond.a, ranges) and can_prove(cond.b, ranges)
    if not dt.is_int(cond.a.dtype):
        return False
    if cond.op in ("lt", "le", "gt", "ge"):
        gap = cond.b - cond.a if cond.op in ("lt", "le") else cond.a - cond.b
        need = 1 if cond.op in ("lt", "gt") else 0
        lo, _ = const_bounds(gap, ranges)
        if lo is None or lo < need:  # interval analysis is loose on correlated terms
            exact = enumerated_bounds(canonical(gap), ranges)
            lo = exact[0] if exact else lo
        return lo is not None and lo >= need
    if cond.op == "eq":
        return constant_difference(cond.a, cond.b) == 0
    return False


_EVAL = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a // b if b else 0, "floormod": lambda a, b: a % b if b else 0,
    "min": builtins.min, "max": builtins.max,
}


def _eval_int(e: PrimExpr, env: dict[int, int]) -> int:
    if isinstance(e, IntImm):
        return e.value
    if isinstance(e, Var):
        return env[id(e)]
    if isinstance(e, Binary) and e.op in _EVAL:
        return _EVAL[e.op](_eval_int(e.a, env), _eval_int(e.b, env))
    raise KeyError(e)


def enumerated_bounds(e: PrimExpr, ranges: Mapping[Var, object], limit: int = 4096) -> tuple[int, int] | None:
    """Exact ``(min, max)`` of ``e`` by trying every value of its variables, when
    they all have constant ranges whose product is at most ``limit``; else None.

    >>> i = Var("i")
    >>> enumerated_bounds((i * 4 + 3) // 5 - i * 4 // 5 + 1, {i: (0, 4)})
    (1, 2)
    """
    import itertools
    dom = _const_dom(ranges)
    variables = free_vars(e)
    spans = []
    for v in variables:
        s = dom.get(v)
        lo, hi = (None, None) if s is None else (_as_int(s.min), _as_int(s.max))
        if lo is None or hi is None or hi < lo:
            return None
        spans.append(range(lo, hi + 1))
    count = 1
    for r in spans:
        count *= len(r)
    if count > limit:
        return None
    try:
        values = [_eval_int(e, {id(v): x for v, x in zip(variables, point)})
                  for point in itertools.product(*spans)]
    except KeyError:
        return None
    return builtins.min(values), builtins.max(values)
