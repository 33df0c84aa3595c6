"""partition_tiles: run the full tiles of a symbolic loop without their tail guards.

A loop split by a constant factor ``F`` over a symbolic extent ``n`` (``split``
of ``n = te.var("n")``) guards every block below with ``v * F + r < n``, ``r``
in ``[0, F)``. Every tile but the last is full, and there the guard always
holds; left in a register tile it costs a compare and a branch per row per
reduction step, and keeps LLVM from holding the accumulators in registers.
This pass gives such a loop two bodies (TVM's loop partitioning)::

    for v in range((n + 7) // 8):               for v in range((n + 7) // 8):
        for k, r:                        ->          if v * 8 + 8 <= n:        # a full tile
            if v * 8 + r < n: S                          for k, r: S
                                                     else:
                                                         for k, r:
                                                             if v * 8 + r < n: S

A guard conjunct is dropped from the full-tile body only when it is
``a < N`` (or ``a <= N - 1``, or ``a >= 0``) with ``a = v * F + r + o``, ``r``
a sum over loops inside ``v`` that the constant ranges bound by ``F - 1`` (and
below by 0), ``o`` and ``N`` free of ``v`` and the loops inside it (``o`` is 0
for ``a >= 0``); the full-tile test is ``v * F + F <= N - o`` for each distinct
``(F, N - o)``. An ``o`` over the loops outside ``v`` is where a split of a split
puts the outer tile: blocks of 57 row tiles of 6 over 1024 rows guard each row
with ``b * 342 + t * 6 + r < 1024``, and the tile loop ``t`` tests
``t * 6 + 6 <= 1024 - b * 342`` once per tile instead of once per row per
reduction step.

A loop of constant extent ``E`` whose bounds ``N`` are constants knows where its
full tiles end, ``K = min(N // F)``: it becomes two loops of its kind, the full
tiles without guards and the rest as it was (in a split, one ragged tile), so
that no full tile pays a test per iteration either (serial and parallel loops;
vectorized and unrolled ones are left whole; a bound over outer loops takes the
test per iteration above)::

    for v in range(4):                          for v in range(3):
        for r:                           ->          for r: S
            if v * 8 + r < 30: S                 for v2 in range(3, 4):
                                                     for r:
                                                         if v2 * 8 + r < 30: S

Where that rest is one ragged tile of a serial loop, and the tile writes each of its rows
to buffers it does not read (its accumulators in a buffer of its own), the last tile moves
back instead, to end at the bound, overlapping the tile before it: the rows it shares with
that tile (at most an eighth of the loop's, :data:`OVERLAP_MAX_SHARE`) are computed twice,
to the same values, and the loop keeps one body, guard-free (no second copy of a matmul's
micro-kernel to compile)::

    for v in range(8):                          for v in range(8):
        for r:                           ->          for r:
            if v * 8 + r < 62:                           B[min(v * 8, 54) + r] = A[min(v * 8, 54) + r]
                B[v * 8 + r] = A[v * 8 + r]

The second loop of a parallel one would run after the first one's team, on the
calling thread alone: a parallel loop is split so only where its full tiles are at
least PARALLEL_SPLIT_MIN_RATIO times the rest, and otherwise tests each tile as a
symbolic loop does (``T.parallel(4)`` above: the ragged tile runs beside the full
ones).
"""
from __future__ import annotations

import math
from dataclasses import replace

from ...ir.arith import canonical, expr_key, free_vars, linear
from ...ir.calls import MAY_ALIAS
from ...ir.expr import Binary, BufferLoad, IntImm, PrimExpr, Ramp, Range, Var, conjuncts, const, logical_and
from ...ir.expr import min as expr_min
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.range_mutator import RangeMutator
from ...ir.tir import Allocate, BufferStore, For, IfThenElse, PrimFunc, SeqStmt, Stmt, seq
from .simplify import simplify

__all__ = ["partition_tiles", "PARALLEL_SPLIT_MIN_RATIO", "OVERLAP_MAX_SHARE"]


def partition_tiles(func: PrimFunc) -> PrimFunc:
    """Split each tile loop into full tiles without guards and the guarded rest."""
    # (a last tile overlapping the one before computes some elements twice: not where the
    # output may be an input's memory, which the first computation changed: MAY_ALIAS)
    partition = _Partition(overlap=bool(func.attr("tir.noalias", True)) and not func.attr(MAY_ALIAS))
    body = partition.visit(func.body)
    if body is func.body:
        return func
    # a constant split leaves one-iteration loops and guards of constants: simplified here,
    # so that lowering lowered code changes nothing
    return simplify(func.with_body(body)) if partition.constant_splits else func.with_body(body)


class _Partition(Mutator):
    def __init__(self, overlap: bool = True):
        self.constant_splits = 0
        self.overlap = overlap  # the function's buffers do not alias: a last tile may overlap

    def visit_For(self, node: For):
        """Outer loops first: a tile loop takes every guard its full tiles make hold, and the
        loops inside partition what is left (the ragged tile's guards, symbolic loops)."""
        if not (isinstance(node.min, IntImm) and node.min.value == 0):
            return self.generic_visit(node)
        constant = isinstance(node.extent, IntImm)
        if constant and node.kind not in ("serial", "parallel"):
            return self.generic_visit(node)  # vector lanes are vectorize_loops' business, unrolled loops stay whole
        tiles = _Tiles(node.loop_var)
        guarded = node.body
        fast = tiles.visit(guarded)
        if not tiles.full:
            return self.generic_visit(node)
        full = None
        for factor, bound in tiles.full.values():
            test = node.loop_var * factor + factor <= bound
            full = test if full is None else logical_and(full, test)
        if isinstance(node.body, IfThenElse) and expr_key(node.body.condition) == expr_key(full):
            return self.generic_visit(node)  # partitioned already (this pass's own output)
        fast = self.visit(fast)
        node = self.generic_visit(node)
        if constant and all(isinstance(bound, IntImm) for _, bound in tiles.full.values()):
            shift = None
            if self.overlap and node.kind == "serial" and len(tiles.full) == 1:
                (factor, bound), = tiles.full.values()
                var, n = node.loop_var, bound.value
                if (factor - n % factor) * OVERLAP_MAX_SHARE <= n:
                    shift = lambda: _shifted_tile(guarded, fast, var, factor, n)  # noqa: E731
            split = _split_constant(node, fast, tiles.full.values(), full, shift)
            self.constant_splits += split is not node
            return split
        return replace(node, body=IfThenElse(full, fast, node.body))


#: The last tile of a loop overlaps the one before it (:func:`_shifted_tile`) only where the
#: iterations it computes twice are at most 1 / OVERLAP_MAX_SHARE of the loop's: 1024 rows in
#: tiles of 6 compute 2 rows twice, while 65 columns in tiles of 64 would compute 63 twice
#: (there a ragged tile of one column is cheaper to run, if not to compile).
OVERLAP_MAX_SHARE = 8

#: A parallel loop of constant extent is split into its full tiles and the rest (two loops,
#: the second one's iterations run after the first one's team) only where the full tiles are
#: at least this many times the rest; otherwise each iteration tests its tile, and the
#: ragged tile runs beside the full ones: split, a small parallel loop runs its halves one
#: after the other, the team's worker late and asleep at every launch behind the serial rest.
PARALLEL_SPLIT_MIN_RATIO = 64


def _split_constant(node: For, fast, full, test: PrimExpr, shift=None) -> For:
    """``node`` (extent a constant) as its full tiles' loop, guard-free ``fast`` body, then
    the rest with the original body (every tile test's bound a constant), or where the
    rest is one ragged tile, one loop of ``shift()``, the full body whose last tile moves
    back to end where the bound does (:func:`_shifted_tile`), when that is not None. A parallel loop
    whose rest is too large a share to run after the team's (:data:`PARALLEL_SPLIT_MIN_RATIO`)
    stays one loop, ``test`` choosing between ``fast`` and the rest in each iteration (the
    rest's one iteration, where it has one, written with its index a constant)."""
    extent = node.extent.value
    count = min(extent, *(bound.value // factor for factor, bound in full))
    if count <= 0:
        return node
    var = node.loop_var
    if node.kind == "parallel" and count < extent and count < PARALLEL_SPLIT_MIN_RATIO * (extent - count):
        rest = node.body if extent - count > 1 else substitute(node.body, {var: const(count, var.dtype)})
        return replace(node, body=IfThenElse(test, fast, rest))
    head = replace(node, extent=const(count, node.extent.dtype), body=fast)
    if count == extent:
        return head
    moved = shift() if shift is not None and extent - count == 1 else None
    if moved is not None:
        return replace(node, body=moved)
    rest_var = Var(var.name + "_rest", var.dtype)
    rest = replace(node, loop_var=rest_var, min=const(count, node.min.dtype),
                   extent=const(extent - count, node.extent.dtype),
                   body=substitute(node.body, {var: rest_var}))
    return seq(head, rest)


class _Tiles(RangeMutator):
    """The body of a tile loop over ``var`` with its provable tail guards dropped; ``full``
    collects the (factor, bound) pairs whose full-tile test makes them hold."""

    def __init__(self, var: Var):
        super().__init__()
        self.var = var
        self.full: dict[tuple, tuple[int, PrimExpr]] = {}

    def visit_For(self, node: For):
        if not (isinstance(node.min, IntImm) and isinstance(node.extent, IntImm)):
            return node  # a symbolic loop inside: its own partition, not this one's
        return super().visit_For(node)

    def visit_IfThenElse(self, node: IfThenElse):
        then_case = self.visit(node.then_case)
        else_case = None if node.else_case is None else self.visit(node.else_case)
        kept = [c for c in conjuncts(node.condition) if not self._drops(c)]
        if not kept:
            return then_case
        cond = kept[0]
        for c in kept[1:]:
            cond = logical_and(cond, c)
        if cond is node.condition and then_case is node.then_case and else_case is node.else_case:
            return node
        return IfThenElse(cond, then_case, else_case)

    def _drops(self, cond: PrimExpr) -> bool:
        """Whether ``cond`` holds in every full tile (recording the tile test it needs)."""
        if not isinstance(cond, Binary) or cond.op not in ("lt", "le", "ge"):
            return False
        if cond.op == "ge":
            return _is_zero(cond.b) and self._offset(cond.a, lower_only=True) is not None
        bound = cond.b if cond.op == "lt" else canonical(cond.b + 1)
        if any(v is self.var or v in self.ranges for v in free_vars(bound)):
            return False
        offset = self._offset(cond.a)
        if offset is None:
            return False
        factor, outer = offset
        if outer is not None:
            if factor < 2:
                return False  # a tile of one iteration: the guard would only move up a loop
            bound = canonical(bound - outer)
        self.full.setdefault((factor, expr_key(bound)), (factor, bound))
        return True

    def _offset(self, a: PrimExpr, lower_only: bool = False) -> tuple[int, PrimExpr | None] | None:
        """``(F, o)`` when ``a = var * F + r + o`` with ``r`` over the inner loops in
        ``[0, F - 1]`` and ``o`` over the outer ones (None when there are none); with
        ``lower_only``, ``(F, None)`` when ``a = var * F + r``, ``r >= 0`` and ``F >= 0``;
        else None."""
        form = linear(a)
        factor, rest, outer = 0, const(form.const, a.dtype), None
        for atom, coef in form.terms.values():
            if atom is self.var:
                factor = coef
                continue
            names = free_vars(atom)
            if any(v is self.var for v in names):
                return None
            if any(v in self.ranges for v in names):
                if not all(v in self.ranges for v in names):
                    return None
                rest = rest + atom * coef
            elif lower_only:
                return None
            else:
                outer = atom * coef if outer is None else outer + atom * coef
        lo, hi = self.analyzer.const_int_bound(canonical(rest))
        if lo is None or lo < 0 or factor < 0:
            return None
        if lower_only:
            return factor, None
        return (factor, outer) if factor > 0 and hi is not None and hi <= factor - 1 else None


def _shifted_tile(guarded: Stmt, fast: Stmt, var: Var, factor: int, bound: int) -> Stmt | None:
    """The last tile of a loop over ``var`` whose tiles are the rows ``var * F + r`` (``r``
    a loop over ``[0, F)``) that guards ``var * F + r < N`` keep below ``N``: the full-tile
    body ``fast`` moved to the rows ``N - F .. N - 1``, so that it overlaps the tile before
    it instead of running a ragged copy of its own (no guards, and the code of one tile,
    not two). None where that could change a result: unless every store to a buffer the
    tile does not allocate writes one guarded row (``guarded`` is the body with its guards)
    and is never read in the tile, every access to such a buffer reads or writes a row as
    ``lambda * (var * F + r) + rest`` (the rows rewritten, ``rest`` kept), each store works
    on one row ``r`` with slots of its own in the buffers the tile allocates (which keep
    their indices), and ``var`` and the row loops appear nowhere else. Then every row is
    computed from its own inputs alone, as in any tile that holds it: the rows computed
    twice get the same values."""
    scan = _RowScan(var, factor, bound)
    scan.stmt(guarded, frozenset())
    if not scan.ok or not scan.rows:
        return None
    shift = _ShiftRows(var, factor, expr_min(var * factor, const(bound - factor, var.dtype)), scan.rows,
                       scan.scratch)
    body = shift.visit(fast)
    if not shift.ok or shift.written & shift.read:
        return None
    return body


class _RowScan:
    """Which loop variables are a tile's rows (``rows``: under a guard ``var * F + r < N``),
    whether every store to a buffer from outside the tile is under the guard of the row it
    writes (``ok``), and the buffers the tile allocates (``scratch``, by id)."""

    def __init__(self, var: Var, factor: int, bound: int):
        self.var, self.factor, self.bound = var, factor, bound
        self.loops: set[Var] = set()  # loops of [0, F) inside the tile
        self.rows: set[Var] = set()
        self.scratch: set[int] = set()
        self.ok = True

    def guard_row(self, cond: PrimExpr) -> Var | None:
        """``r`` when ``cond`` is ``var * F + r < N`` (or ``<= N - 1``) for a loop ``r`` of [0, F)."""
        if not isinstance(cond, Binary) or cond.op not in ("lt", "le") or not isinstance(cond.b, IntImm):
            return None
        if cond.b.value + (cond.op == "le") != self.bound:
            return None
        form = linear(cond.a)
        if form.const or len(form.terms) != 2:
            return None
        coefs = {id(atom): (atom, coef) for atom, coef in form.terms.values()}
        if coefs.pop(id(self.var), (None, 0))[1] != self.factor:
            return None
        (row, coef), = coefs.values()
        return row if coef == 1 and isinstance(row, Var) and row in self.loops else None

    def stmt(self, s: Stmt, guards: frozenset) -> None:
        if not self.ok:
            return
        if isinstance(s, SeqStmt):
            for part in s.seq:
                self.stmt(part, guards)
        elif isinstance(s, For):
            if isinstance(s.min, IntImm) and s.min.value == 0 and isinstance(s.extent, IntImm) \
                    and s.extent.value == self.factor:
                self.loops.add(s.loop_var)
            self.stmt(s.body, guards)
        elif isinstance(s, Allocate):
            self.scratch.add(id(s.buffer))
            self.stmt(s.body, guards)
        elif isinstance(s, IfThenElse):
            rows = {r for r in map(self.guard_row, conjuncts(s.condition)) if r is not None}
            self.rows |= rows
            self.stmt(s.then_case, guards | rows)
            if s.else_case is not None:
                self.stmt(s.else_case, guards)
        elif isinstance(s, BufferStore):
            if id(s.buffer) not in self.scratch:
                used = {v for i in s.indices for v in free_vars(i)}
                self.ok = any(r in used for r in guards)
        else:
            self.ok = False  # a call (Evaluate) or a statement this scan does not know


class _ShiftRows(RangeMutator):
    """``fast`` with the rows of every access to an outside buffer moved from
    ``var * F + r`` to ``base + r``; ``ok`` False where an access or expression does not
    allow it (see :func:`_shifted_tile`).

    Each store must work on one row: every row loop its accesses use is the same ``r``,
    and each access to one of the tile's own (scratch) buffers gives that row slots no
    other row's reach (:meth:`_own_slots`). So no row's values reach another row's, and
    a row computes the same in any tile that holds it."""

    def __init__(self, var: Var, factor: int, base: PrimExpr, rows: set[Var], scratch: set[int]):
        super().__init__()
        self.var, self.factor, self.base, self.rows, self.scratch = var, factor, base, rows, scratch
        self.ok = True
        self.written: set[int] = set()
        self.read: set[int] = set()
        self.used: set[Var] | None = None  # the row loops the store being visited uses
        self.own = False  # whether an index of the access being visited gives rows own slots

    def visit_Var(self, node: Var):
        if node is self.var or node in self.rows:
            self.ok = False  # outside an index: not a row this rewrite can move
        return node

    def visit_For(self, node: For):
        self.visit(node.min), self.visit(node.extent)
        with self.bound({node.loop_var: Range(node.min, node.extent)}):
            body = self.visit(node.body)
        return node if body is node.body else replace(node, body=body)

    def visit_Evaluate(self, node):
        self.ok = False
        return node

    def visit_BufferLoad(self, node):
        self.read.add(id(node.buffer))
        indices = self._indices(node.buffer, node.indices)
        return node if indices is node.indices else replace(node, indices=indices)

    def visit_BufferStore(self, node: BufferStore):
        if id(node.buffer) not in self.scratch:
            self.written.add(id(node.buffer))
        self.used = set()
        indices = self._indices(node.buffer, node.indices)
        value = self.visit(node.value)
        if len(self.used) != 1:
            self.ok = False  # no row, or values from several rows
        self.used = None
        if indices is node.indices and value is node.value:
            return node
        return replace(node, indices=indices, value=value)

    def _indices(self, buffer, indices: tuple) -> tuple:
        """The indices at the moved rows; a scratch buffer's unchanged, but at least one of
        them must give the row its own slots (:meth:`_own_slots`)."""
        scratch = id(buffer) in self.scratch
        self.own = False
        new = tuple(self._index(i, scratch) for i in indices)
        if scratch and not self.own:
            self.ok = False  # a slot that rows share: rows would pass values on
        return indices if all(a is b for a, b in zip(new, indices)) else new

    def _index(self, e: PrimExpr, scratch: bool, span: int = 0) -> PrimExpr:
        """The index ``e`` at the moved rows (a scratch buffer's unchanged); ``span``: how far
        the lanes of a vector index reach past ``e``."""
        if isinstance(e, Ramp):
            base = self._index(e.base, scratch, abs(e.stride) * (e.lanes - 1))
            return e if base is e.base else replace(e, base=base)
        if any(isinstance(n, BufferLoad) for n in pre_order_nodes(e)):
            self.ok = False  # an index read from memory
            return e
        form = linear(e)
        step, row = 0, []
        for atom, coef in form.terms.values():
            if atom is self.var:
                step = coef
            elif atom in self.rows:
                row.append((atom, coef))
            elif any(v is self.var or v in self.rows for v in free_vars(atom)):
                self.ok = False  # the row inside a non-linear term
                return e
        if not step and not row:
            return e  # the same for every row
        if len(row) != 1 or self.used is None:
            self.ok = False  # not one row's offset, or a row read outside a store
            return e
        (r, coef), = row
        self.used.add(r)
        if scratch:
            if step:
                self.ok = False  # a slot by tile
            self.own = self.own or self._own_slots(form, r, coef, span)
            return e
        if step != coef * self.factor:
            self.ok = False  # not one row's offset
            return e
        moved = form.copy()
        moved.add_term(self.var, -step)
        return moved.to_expr() + self.base * coef

    def _own_slots(self, form, r: Var, coef: int, span: int) -> bool:
        """Whether the index ``form`` (``coef * r + rest``, its lanes ``span`` further) gives
        every row ``r`` of ``[0, F)`` slots no other row's reach: ``rest`` within
        ``[0, |coef|)`` (``r`` the outer digit), or a multiple of a ``g`` larger than
        ``|coef| * (F - 1) + span`` (``r`` the inner one)."""
        rest = form.copy()
        rest.add_term(r, -coef)
        if not rest.terms or abs(coef) * (self.factor - 1) + span < math.gcd(*(c for _, c in rest.terms.values())):
            return True
        lo, hi = self.analyzer.const_int_bound(canonical(rest.to_expr()))
        return lo is not None and hi is not None and lo >= 0 and hi + span < abs(coef)


def _is_zero(e: PrimExpr) -> bool:
    return isinstance(e, IntImm) and e.value == 0

