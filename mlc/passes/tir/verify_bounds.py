"""verify_bounds: refuse a PrimFunc with a buffer access it can prove out of bounds.

Every backend builds only functions this check accepts (``mlc.build`` runs
it), so ``A[i + 10**9]`` is a CompileError at build time instead of a crash
(llvm) or an IndexError (reference) at run time.

It refuses only what it proves. It looks at the function with its blocks
turned into loops (:func:`convert_blocks_to_loops`, block predicates become
``if``) and checks every access that runs on *every* iteration of the loops
around it: one under no ``if`` and no ``select``/``if_then_else`` branch
(guarded accesses and padded stages are legal however their index ranges).
Each loop variable must have a constant range. An index whose sound interval
bounds (:meth:`mlc.ir.arith.Analyzer.const_int_bound`) lie inside its dimension is
fine; any other is refused only on its *exact* range over the loops: from
the linear normal form when the index is affine in the loop variables
(:func:`mlc.ir.arith.linear`), else by enumerating at most 4096 points
(:meth:`mlc.ir.arith.Analyzer.enumerated_bounds`). Any access for which that is not
possible is left alone (the ``check_bounds`` build mode checks those at run
time). With symbolic shapes (``n = te.var("n")``) an affine index is refused
when its largest value reaches the extent (or its smallest is negative) by a
constant, so for every size: ``A[i + 1]`` for ``i`` in ``[0, n)`` with ``A`` of
extent ``n``.

>>> from mlc import te
>>> A = te.placeholder((4,), "float32", "A")
>>> B = te.compute((4,), lambda i: A[i + 10], "B")
>>> verify_bounds(te.create_prim_func([A, B]))
Traceback (most recent call last):
...
mlc.errors.CompileError: function main reads buffer A out of bounds: index i + 10 (dimension 0) takes the values 10 to 13 for i in [0, 4), but A has extent 4 there; fix the index, or guard the access (te.if_then_else, T.where)
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import CompileError
from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad, IntImm, PrimExpr, Select, Var, const
from ...ir.functor import node_fields
from ...ir.arith import Analyzer, canonical, expr_key, free_vars, linear
from ...ir.printer import expr_to_str
from ...ir.calls import is_graph_main
from ...ir.tir import Allocate, BufferStore, For, IfThenElse, PrimFunc, SeqStmt, Stmt
from .convert_blocks import convert_blocks_to_loops
from .lower_init_block import lower_init_block

__all__ = ["verify_bounds", "ENUMERATION_LIMIT"]

#: Non-affine indices are bounded exactly by enumeration over at most this many points.
ENUMERATION_LIMIT = 4096


def verify_bounds(func: PrimFunc) -> PrimFunc:
    """Return ``func`` unchanged, or raise CompileError naming the first buffer access
    that is out of bounds on some iteration of the loops around it. A graph's ``main``
    only calls functions (:mod:`mlc.ir.calls`): nothing to verify."""
    if is_graph_main(func):
        return func
    loops = convert_blocks_to_loops(lower_init_block(func))
    _Walker(func.attr("global_symbol", "main")).stmt(loops.body, {})
    return func


@dataclass(frozen=True)
class _Access:
    buffer: Buffer
    indices: tuple[PrimExpr, ...]
    kind: str  # "reads" or "writes"


class _Walker:
    def __init__(self, name: str):
        self.name = name
        # id(ranges) -> (ranges, {(key of an index, key of its extent)}): the dimensions found
        # in bounds under those loop ranges. The same index in another access (a value read
        # by several statements, a load shared by several expressions) is not checked again:
        # the outcome depends only on the index, the extent and the ranges.
        self.checked: dict[int, tuple] = {}

    def stmt(self, s: Stmt, ranges: dict[Var, tuple[int, int] | None]) -> None:
        """Check ``s``'s unconditional accesses; ``ranges`` holds the enclosing loops'
        inclusive constant ranges (None: not constant)."""
        stack = [(s, ranges)]
        while stack:
            s, ranges = stack.pop()
            if isinstance(s, SeqStmt):
                stack.extend((c, ranges) for c in reversed(s.seq))
            elif isinstance(s, For):
                self.expr(s.min, ranges)
                self.expr(s.extent, ranges)
                lo, n = s.min, s.extent
                if not isinstance(n, IntImm):  # symbolic: checked for every size that runs it
                    stack.append((s.body, {**ranges, s.loop_var: _Symbolic(lo, n)}))
                    continue
                if n.value <= 0:
                    continue  # runs no iteration at all: nothing inside is sure to run
                known = isinstance(lo, IntImm)
                stack.append((s.body, {**ranges, s.loop_var: (lo.value, lo.value + n.value - 1) if known else None}))
            elif isinstance(s, IfThenElse):
                self.expr(s.condition, ranges)  # the branches run on some iterations only
            elif isinstance(s, BufferStore):
                self.access(_Access(s.buffer, s.indices, "writes"), ranges)
                for e in (*s.indices, s.value):
                    self.expr(e, ranges)
            elif isinstance(s, Allocate):
                stack.append((s.body, ranges))
            # Evaluate and anything else: no memory access the backends perform

    def expr(self, e: PrimExpr, ranges) -> None:
        """Check the loads ``e`` performs whenever it is evaluated (not those under a
        ``select`` branch, which may be the untaken one)."""
        stack = [e]
        while stack:
            node = stack.pop()
            if isinstance(node, Select):
                stack.append(node.cond)
                continue
            if isinstance(node, BufferLoad):
                self.access(_Access(node.buffer, node.indices, "reads"), ranges)
            if isinstance(node, PrimExpr):
                stack.extend(v for _, v in node_fields(node) if isinstance(v, PrimExpr))
                stack.extend(x for _, v in node_fields(node) if isinstance(v, tuple)
                             for x in v if isinstance(x, PrimExpr))

    def access(self, a: _Access, ranges) -> None:
        entry = self.checked.get(id(ranges))
        if entry is None or entry[0] is not ranges:
            entry = self.checked[id(ranges)] = (ranges, set())
        for dim, (index, extent) in enumerate(zip(a.indices, a.buffer.shape)):
            key = (expr_key(index), expr_key(extent))
            if key in entry[1]:
                continue
            self.check(a, dim, index, extent, ranges)
            entry[1].add(key)

    def check(self, a: _Access, dim: int, index: PrimExpr, extent: PrimExpr, ranges) -> None:
        """Raise CompileError if dimension ``dim``'s ``index`` is out of bounds on some iteration."""
        if not isinstance(extent, IntImm) or any(isinstance(ranges.get(v), _Symbolic)
                                             for v in free_vars(index)):
            self.symbolic_access(a, dim, index, extent, ranges)
            return
        if _surely_inside(index, extent.value, ranges):
            return
        bounds = exact_bounds(index, ranges)
        if bounds is None or (0 <= bounds[0] and bounds[1] < extent.value):
            return
        variables = free_vars(index)
        over = ", ".join(f"{v.name} in [{ranges[v][0]}, {ranges[v][1] + 1})" for v in variables)
        values = f"the value {bounds[0]}" if bounds[0] == bounds[1] else f"the values {bounds[0]} to {bounds[1]}"
        raise CompileError(
            f"function {self.name} {a.kind} buffer {a.buffer.name} out of bounds: index "
            f"{expr_to_str(index)} (dimension {dim}) takes {values}"
            f"{' for ' + over if over else ''}, but {a.buffer.name} has extent {extent.value} "
            "there; fix the index, or guard the access (te.if_then_else, T.where)")

    def symbolic_access(self, a: _Access, dim: int, index: PrimExpr, extent: PrimExpr, ranges) -> None:
        """An index or extent with shape variables (``n = te.var("n")``): refused when its
        largest value reaches the extent, or its smallest is negative, by a constant that
        holds for every size (``A[i + 1]`` for ``i`` in ``[0, n)`` of ``A`` of extent ``n``)."""
        bounds = _symbolic_bounds(index, ranges)
        if bounds is None:
            return
        lo, hi = bounds
        over, under = canonical(hi - extent), canonical(lo)
        if isinstance(over, IntImm) and over.value >= 0:
            what = f"reaches {expr_to_str(hi)}"
        elif isinstance(under, IntImm) and under.value < 0:
            what = f"goes down to {under.value}"
        else:
            return
        loops = ", ".join(f"{v.name} in [{expr_to_str(r.min)}, {expr_to_str(canonical(r.min + r.extent))})"
                          for v in free_vars(index) if isinstance((r := ranges.get(v)), _Symbolic))
        raise CompileError(
            f"function {self.name} {a.kind} buffer {a.buffer.name} out of bounds: index "
            f"{expr_to_str(index)} (dimension {dim}) {what}{' for ' + loops if loops else ''}, but "
            f"{a.buffer.name} has extent {expr_to_str(extent)} there, for every size; fix the index, "
            "or guard the access (te.if_then_else, T.where)")


@dataclass(frozen=True)
class _Symbolic:
    """The range of a loop of symbolic extent: ``[min, min + extent)``."""
    min: PrimExpr
    extent: PrimExpr


def _symbolic_bounds(index: PrimExpr, ranges) -> tuple[PrimExpr, PrimExpr] | None:
    """(smallest, largest) value of an index affine in the loops around it, as expressions
    of the shape variables; None when it is not affine or a loop's range is unknown."""
    form = linear(index)
    lo: PrimExpr = const(form.const, index.dtype)
    hi: PrimExpr = const(form.const, index.dtype)
    for atom, coef in form.terms.values():
        if not isinstance(atom, Var):
            return None
        r = ranges.get(atom, _FREE)
        if r is _FREE:  # a shape variable: the same value at both ends
            first = last = atom
        elif isinstance(r, _Symbolic):
            first, last = r.min, r.min + r.extent - 1
        elif r is None:
            return None
        else:
            first, last = const(r[0], index.dtype), const(r[1], index.dtype)
        lo = lo + (first if coef > 0 else last) * coef
        hi = hi + (last if coef > 0 else first) * coef
    return canonical(lo), canonical(hi)


_FREE = object()


def _surely_inside(index: PrimExpr, extent: int, ranges) -> bool:
    """Whether sound (possibly loose) interval bounds already put ``index`` in
    ``[0, extent)``: the cheap test that settles almost every access."""
    variables = free_vars(index)
    if any(not isinstance(ranges.get(v), tuple) for v in variables):
        return False
    lo, hi = Analyzer({v: ranges[v] for v in variables}).const_int_bound(index)
    return lo is not None and hi is not None and 0 <= lo and hi < extent


def exact_bounds(index: PrimExpr, ranges: dict[Var, tuple[int, int] | None]) -> tuple[int, int] | None:
    """The exact (min, max) of ``index`` over the constant ``ranges`` of its variables
    (each independent, each range non-empty), or None when it cannot be computed."""
    variables = free_vars(index)
    if any(not isinstance(ranges.get(v), tuple) for v in variables):
        return None
    ana = Analyzer({v: ranges[v] for v in variables})
    if all(isinstance(atom, Var) for atom, _ in linear(index).terms.values()):
        return tuple(ana.const_int_bound(index))  # exact: each variable appears once
    return ana.enumerated_bounds(index, limit=ENUMERATION_LIMIT)
