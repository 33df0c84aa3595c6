"""partition_selects: split a loop where a select's condition flips, so each part computes one side.

A concatenation fused with what it concatenates picks each element with
``select(j < 64, A, B)``, and both sides are computed: a select's sides may be
evaluated, and vector lanes whose loads differ are chosen lane by lane. Where
the condition is ``v * F + r + c < N`` over a loop ``v`` of constant bounds (``r`` a
sum over the loops inside ``v`` whose constant ranges bound it to ``[lo, hi]``, ``c``
and ``N`` constants), it holds in every iteration ``v < T1`` and in none from
``T2`` on, so the loop becomes up to three loops, the first with the select's true
side only, the last with its false side only, the middle one (where the condition
changes inside an iteration) as it was::

    for j0 in range(4):                              for j0 in range(2):
        for j1 in T.vectorized(32):                      for j1 in T.vectorized(32):
            out[j0 * 32 + j1] = T.if_then_else(   ->         out[j0 * 32 + j1] = A
                j0 * 32 + j1 < 64, A, B)                 for j0_rest in range(2, 4):
                                                             for j1 in T.vectorized(32):
                                                                 out[j0_rest * 32 + j1] = B

Serial and parallel loops are split (each part of a parallel loop stays parallel: two
launches, each computing one side); a loop of any kind (a vector tail) whose condition
holds in all its iterations, or in none, keeps one side without a split. Only the
first such condition found in a loop's body splits it; other selects stay as they are.

A select whose condition is a conjunction of bounds, ``a >= N`` and ``a < N`` (``<=``, ``>``)
of ``a = v * F + r + c`` as above (``F > 0``), with conjuncts over other loops besides, is
what an in-place update of a slice fuses to (``u[1:-1, 1:-1] = ...`` keeps ``u`` outside
the slice: ``select(0 <= i - 1 and i - 1 <= 509 and 0 <= j - 1 and j - 1 <= 509, ..., u)``):
where no single ``lt`` condition splits a loop, the first such select's bounds on ``v``
cut it where each of them starts or stops holding in every iteration, and each part has the
conjuncts known there replaced by their value (the interior, every bound true, computes
the update alone; loads through clamped indices there simplify to plain ones, so the vector
loop needs no masked loads). A serial loop becomes its parts; a parallel loop stays one
launch, its body ``if`` its largest part's range ``then`` that part's body ``else`` as it was.
"""
from __future__ import annotations

from dataclasses import replace

from ...ir.analysis.census import contains
from ...ir.arith import canonical, expr_key, free_vars, linear
from ...ir.expr import Binary, IntImm, Not, Select, Var, and_all, conjuncts, const, logical_and
from ...ir.functor import Mutator, substitute
from ...ir.range_mutator import RangeMutator
from ...ir.tir import For, IfThenElse, PrimFunc, seq
from .simplify import simplify

__all__ = ["partition_selects"]


def partition_selects(func: PrimFunc) -> PrimFunc:
    """Split each constant serial loop at the iterations where a select's condition
    becomes false for good (see the module docstring)."""
    if not contains(func.body, Select):
        return func  # (most kernels)
    partition = _Partition()
    body = partition.visit(func.body)
    if body is func.body:
        return func
    # the parts' clamped indices (``max(min(j - 1, 509), 0)``) are plain ones in their ranges
    return simplify(func.with_body(body)) if partition.bounds_split else func.with_body(body)


class _Partition(Mutator):
    def __init__(self):
        self.bounds_split = 0

    def visit_For(self, node: For):
        if not contains(node.body, Select):
            return node  # what it finds is in selects' conditions (both finders read them only)
        node = self.generic_visit(node)  # inner loops first: each keeps its own selects
        if not (isinstance(node.min, IntImm) and isinstance(node.extent, IntImm)):
            return node
        found = _FirstSplit(node.loop_var).find(node.body)
        if found is None:
            return self._split_bounds(node)
        key, always, never = found
        first, end = node.min.value, node.min.value + node.extent.value
        always, never = max(first, min(end, always)), max(first, min(end, never))
        if always == end or never == first:  # one side in every iteration: any kind of loop
            return replace(node, body=_Choose(key, always == end).visit(node.body))
        if node.kind not in ("serial", "parallel"):
            return node
        parts = []
        for start, stop, side in ((first, always, True), (always, never, None), (never, end, False)):
            if stop <= start:
                continue
            body = node.body if side is None else _Choose(key, side).visit(node.body)
            var = node.loop_var if not parts else Var(f"{node.loop_var.name}_rest", node.loop_var.dtype)
            if var is not node.loop_var:
                body = substitute(body, {node.loop_var: var})
            parts.append(replace(node, loop_var=var, min=const(start, node.min.dtype),
                                 extent=const(stop - start, node.extent.dtype), body=body))
        return parts[0] if len(parts) == 1 else seq(*parts)


    def _split_bounds(self, node: For):
        """``node`` cut where the first conjunction of bounds on its variable changes (see
        the module docstring); ``node`` where there is none."""
        bounds = _Bounds(node.loop_var).find(node.body)
        if not bounds:
            return node
        first, end = node.min.value, node.min.value + node.extent.value
        cuts = sorted({first, end} | {max(first, min(end, t)) for b in bounds.values() for t in b})
        parts = []  # (start, stop, {key: value}) with neighbours of equal knowledge merged
        for start, stop in zip(cuts, cuts[1:]):
            known = {}
            for key, (true_from, true_to, maybe_from, maybe_to) in bounds.items():
                if true_from <= start and stop <= true_to:
                    known[key] = True
                elif stop <= maybe_from or maybe_to <= start:
                    known[key] = False
            if parts and parts[-1][2] == known:
                parts[-1] = (parts[-1][0], stop, known)
            else:
                parts.append((start, stop, known))
        if not any(known for _, _, known in parts):
            return node
        if len(parts) == 1:  # one knowledge in every iteration: any kind of loop
            return replace(node, body=_Assume(parts[0][2]).visit(node.body))
        if node.kind == "parallel":
            start, stop, known = max(parts, key=lambda p: p[1] - p[0])
            if not known:
                return node
            var = node.loop_var
            inside = logical_and(var >= const(start, var.dtype), var < const(stop, var.dtype))
            self.bounds_split += 1
            return replace(node, body=IfThenElse(inside, _Assume(known).visit(node.body), node.body))
        if node.kind != "serial":
            return node
        loops = []
        for start, stop, known in parts:
            body = _Assume(known).visit(node.body) if known else node.body
            var = node.loop_var if not loops else Var(f"{node.loop_var.name}_rest", node.loop_var.dtype)
            if var is not node.loop_var:
                body = substitute(body, {node.loop_var: var})
            loops.append(replace(node, loop_var=var, min=const(start, node.min.dtype),
                                 extent=const(stop - start, node.extent.dtype), body=body))
        self.bounds_split += 1
        return seq(*loops)


class _FirstSelect(RangeMutator):
    """What a subclass's ``read(cond)`` finds in the condition of the first select under a loop
    over ``var`` (None where it finds nothing there; loops of symbolic extent inside are not
    entered); ``_span`` reads a side of a bound."""

    def __init__(self, var: Var):
        super().__init__()
        self.var = var
        self.found = None

    def find(self, body):
        self.visit(body)
        return self.found

    def visit_For(self, node: For):
        if not (isinstance(node.min, IntImm) and isinstance(node.extent, IntImm)):
            return node  # a symbolic loop inside bounds nothing
        if self.found is not None or not contains(node.body, Select):
            return node  # nothing (more) to read there
        return super().visit_For(node)

    def visit_Select(self, node: Select):
        if self.found is None:
            self.found = self.read(node.cond)
        return self.generic_visit(node)

    def _span(self, a):
        """(F, lo, hi) of ``a = var * F + r + c`` with ``F > 0`` and ``c + r`` in ``[lo, hi]``
        over the loops inside; None where ``a`` is not of that form (an outer loop's variable
        or a load in ``r``: not this loop's split)."""
        form = linear(a)
        factor, rest = 0, const(0, a.dtype)
        for atom, coef in form.terms.values():
            if atom is self.var:
                factor = coef
                continue
            if not all(v in self.ranges for v in free_vars(atom)):
                return None
            rest = rest + atom * coef
        if factor <= 0:
            return None
        lo, hi = self.analyzer.const_int_bound(canonical(rest))
        if lo is None or hi is None:
            return None
        return factor, form.const + lo, form.const + hi


class _FirstSplit(_FirstSelect):
    """The first select under a loop over ``var`` whose condition is ``var * F + r + c < N``
    (``lt``; ``le`` is ``< N + 1``) with ``F > 0``: (its key, T1, T2) with the condition
    true in every iteration below T1 and false in every one from T2."""

    def read(self, cond):
        if not (isinstance(cond, Binary) and cond.op in ("lt", "le") and isinstance(cond.b, IntImm)):
            return None
        span = self._span(cond.a)
        if span is None:
            return None
        factor, lo, hi = span
        bound = cond.b.value + (cond.op == "le")
        # true for every r iff v F + c + hi < N; false for every r iff v F + c + lo >= N
        always = -((hi - bound) // factor)  # ceil((N - c - hi) / F)
        never = -((lo - bound) // factor)  # ceil((N - c - lo) / F)
        return expr_key(cond), always, never


class _Choose(Mutator):
    """Selects whose condition has ``key`` replaced by their true (``side``) or false side;
    those whose condition is its negation (a load guarded for the other side of the split
    select: ``select(not j < 64, q[j - 64], 0)``) by the other."""

    def __init__(self, key, side: bool):
        self.key, self.side = key, side

    def visit_Select(self, node: Select):
        node = self.generic_visit(node)
        cond, side = node.cond, self.side
        if type(cond) is Not:
            cond, side = cond.a, not side
        if expr_key(cond) != self.key:
            return node
        return node.true_value if side else node.false_value


class _Bounds(_FirstSelect):
    """The bounds on ``var`` among the conjuncts of the first select under a loop over
    ``var`` that has any: {conjunct's key: (T1, T2, M1, M2)}, the conjunct true in every
    iteration of ``[T1, T2)`` and in none outside ``[M1, M2)`` (a bound ``a < N`` or
    ``a <= N``, ``a >= N`` or ``a > N`` of ``a = var * F + r + c`` as in :class:`_FirstSplit`)."""

    def read(self, cond):
        bounds = {}
        for c in conjuncts(cond):
            b = self._bound(c)
            if b is not None:
                bounds[expr_key(c)] = b
        return bounds or None

    def _bound(self, cond):
        if not (isinstance(cond, Binary) and cond.op in ("lt", "le", "ge", "gt") and isinstance(cond.b, IntImm)):
            return None
        span = self._span(cond.a)
        if span is None:
            return None
        factor, lo, hi = span
        inf = float("inf")
        if cond.op in ("lt", "le"):  # var F + c + r < N
            bound = cond.b.value + (cond.op == "le")
            return -inf, -((hi - bound) // factor), -inf, -((lo - bound) // factor)
        bound = cond.b.value + (cond.op == "gt")  # var F + c + r >= N
        return -((lo - bound) // factor), inf, -((hi - bound) // factor), inf


class _Assume(Mutator):
    """Selects whose condition has conjuncts in ``known`` (key: value) with those replaced:
    a false one chooses the false side, and where all are true, the true side."""

    def __init__(self, known):
        self.known = known

    def visit_Select(self, node: Select):
        node = self.generic_visit(node)
        parts = conjuncts(node.cond)
        values = [self.known.get(expr_key(c)) for c in parts]
        if all(v is None for v in values):
            return node
        if any(v is False for v in values):
            return node.false_value
        rest = [c for c, v in zip(parts, values) if v is None]
        return node.true_value if not rest else replace(node, cond=and_all(rest))
