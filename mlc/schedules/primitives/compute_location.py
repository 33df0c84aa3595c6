"""compute_at, reverse_compute_at and sample_compute_location.

``compute_at(block, loop)`` moves a producer under a loop of its consumers so
that each iteration computes exactly the region the consumers read during that
iteration; ``reverse_compute_at(block, loop)`` moves a consumer under a loop of
its producers so that each iteration consumes what was just produced.

Before (``Y`` then ``C``, ``Y``'s ``j`` split by 4 and reordered)::

    for i, j_0 in T.grid(128, 32):
        for k, j_1 in T.grid(128, 4):
            with T.block("Y"): ...   # writes Y[i, j_0 * 4 + j_1]
    for i, j in T.grid(128, 128):
        with T.block("C"): ...       # C[vi, vj] = T.max(Y[vi, vj], 0)

``reverse_compute_at(C, j_0)``::

    for i, j_0 in T.grid(128, 32):
        for k, j_1 in T.grid(128, 4):
            with T.block("Y"): ...
        for ax0 in range(4):
            with T.block("C"):
                vi = T.axis.spatial(128, i)
                vj = T.axis.spatial(128, j_0 * 4 + ax0)
                ...

reverse_compute_at also moves a reduction consumer (softmax's sum after the
exp), which then runs in pieces: each piece once, the piece with its init
first, and each output within one iteration of every non-serial loop. A
spatial consumer may go under its producer's reduction loop, as in TVM: it is
recomputed in every iteration that updates what it reads, so its last
computation sees the final values (a reduction consumer there is refused).

New loops are named ``ax0, ax1, ...``; a unit loop is left out unless
``preserve_unit_loops``. Where the region may run past the block's iteration
domain (a split that does not divide), a ``T.where`` predicate clips it.
"""
from __future__ import annotations

import itertools

import numpy as np

from ...errors import ScheduleError
from ...ir.expr import Binary, IntImm, PrimExpr, Range, Var, const, floordiv, floormod, make_binary
from ...ir.arith import Analyzer, IntSet, canonical, constant_difference, eval_int, free_vars, linear, same_expr
from ...ir.functor import Mutator, substitute
from ...ir.tir import BlockRealize, For, PrimFunc
from ..analysis import (block_order, buffer_ids, conjuncts, is_param, loop_ranges,
                        loops_below, point_pattern, relaxed_access, stmt_blocks)
from ..base import LoopRV, ScheduleBase, instruction, schedule_error
from ..edit import body_items, index_var, insert_at, make_loops, remove_block
from ..state import Location, all_blocks, all_loops, find_block, find_loop, parent_block, replace

__all__ = ["ComputeLocationPrimitives", "compute_at_ir", "reverse_compute_at_ir"]


def compute_at_ir(func: PrimFunc, block: str, loop: Var, preserve_unit_loops: bool = False) -> PrimFunc:
    """Move producer ``block`` under the loop whose variable is ``loop``."""
    return _Move(func, block, loop, preserve_unit_loops, reverse=False).run()


def reverse_compute_at_ir(func: PrimFunc, block: str, loop: Var, preserve_unit_loops: bool = False) -> PrimFunc:
    """Move consumer ``block`` under the loop whose variable is ``loop``."""
    return _Move(func, block, loop, preserve_unit_loops, reverse=True).run()


class _Move:
    """One compute_at / reverse_compute_at: checks, then the rewrite."""

    def __init__(self, func, block_name, loop_var, preserve_unit_loops, reverse):
        self.func, self.reverse, self.preserve = func, reverse, bool(preserve_unit_loops)
        self.prim = "reverse_compute_at" if reverse else "compute_at"
        self.loc = find_block(func, block_name, self.prim)
        self.lloc = find_loop(func, loop_var, self.prim)
        self.realize: BlockRealize = self.loc.node
        self.block = self.realize.block
        self.loop: For = self.lloc.node

    def error(self, why: str, node=None):
        where = f"block {self.block.name_hint!r}, loop {self.loop.loop_var.name!r}: "
        return schedule_error(self.prim, where + why, self.func, node if node is not None else self.loop)

    # ---------------------------------------------------------------- checks
    def _check_position(self) -> None:
        if any(n is self.loop for n in self.loc.path):
            raise self.error("the block is already inside this loop")
        if any(n is self.realize for n in self.lloc.path):
            raise self.error("the loop is inside the block")
        if parent_block(self.loc) is not parent_block(self.lloc):
            raise self.error("the block and the loop are in different block scopes")

    def _under_loop(self) -> list[Location]:
        """Blocks directly under the loop (not nested in another block)."""
        out = []
        for loc in all_blocks(self.func):
            path = loc.path
            if any(n is self.loop for n in path):
                tail = path[next(k for k, n in enumerate(path) if n is self.loop) + 1:]
                if not any(isinstance(n, BlockRealize) for n in tail):
                    out.append(loc)
        return out

    def _related(self, under: list[Location]) -> list[Location]:
        if self.reverse:
            ins = buffer_ids(self.block.reads)
            related = [l for l in under if buffer_ids(l.node.block.writes) & ins]
            if not related:
                raise self.error("no block under the loop produces a buffer this block reads")
            return related
        outs = buffer_ids(self.block.writes)
        related = [l for l in under if buffer_ids(l.node.block.reads) & outs]
        if not related:
            raise self.error("no block under the loop reads what this block writes, so the "
                             "loop does not cover any use of it")
        for w in self.block.writes:
            if is_param(self.func, w.buffer):
                raise self.error(f"it writes the function parameter {w.buffer.name}, which must be "
                                 "computed in full, not only where consumers under the loop read it",
                                 self.realize)
        for loc in all_blocks(self.func):
            other = loc.node
            if other is self.realize or any(n is self.loop for n in loc.path):
                continue
            if buffer_ids(other.block.reads) & outs:
                raise self.error(f"block {other.block.name_hint!r} also reads what this block writes "
                                 "but is not under the loop; it would miss the values computed "
                                 "only for the consumers under the loop", other)
        return related

    def _check_finality(self, related: list[Location]) -> set[int]:
        """reverse_compute_at: the buffers whose values are not final inside one iteration.

        A producer that reduces across iterations of the loop (the loop is, or
        is inside, its reduction loop) leaves partial values there. A spatial
        consumer may still move under the loop, as in TVM: it is recomputed in
        every iteration that updates what it reads, so its last computation
        sees final values (:meth:`_check_coverage` checks that it is). A
        reduction consumer would add partial values up: refused.
        """
        partial: set[int] = set()
        for loc in related:
            inner = {id(f.loop_var) for f in loops_below(loc, self.loop)}
            producer = loc.node
            for iv, value in zip(producer.block.iter_vars, producer.iter_values):
                if iv.iter_type != "spatial":
                    outer = [v for v in _vars(value) if id(v) not in inner]
                    if outer and self.block.is_reduction:
                        raise self.error(
                            f"producer {producer.block.name_hint!r} reduces over {iv.var.name} "
                            f"across iterations of loop {outer[0].name!r}, so its output is not "
                            "final inside one iteration, and this reduction would add up its "
                            "partial values", producer)
                    if outer:
                        partial |= buffer_ids(producer.block.writes)
        return partial

    def _check_dependences(self, items, idx: int) -> None:
        order = block_order(self.func)
        pos = next(k for k, r in enumerate(order) if r is self.realize)
        before = [r for item in items[:idx] for r in stmt_blocks(item)]
        after = [r for item in items[idx:] for r in stmt_blocks(item)]
        first_in_loop = next(k for k, r in enumerate(order) if r is (before + after)[0])
        ins = first_in_loop + len(before)
        passed = order[pos + 1:ins] if pos < ins else order[ins:pos]
        x_reads, x_writes = buffer_ids(self.block.reads), buffer_ids(self.block.writes)
        for other in passed:
            if other is self.realize:
                continue
            clash = _clash(other, x_reads, x_writes)
            if clash:
                raise self.error(f"moving it past block {other.block.name_hint!r} would break a "
                                 f"dependence: {clash}", other)
        # Blocks under the loop that now run between two iterations of the moved block.
        for other in (before if self.reverse else after):
            o_reads, o_writes = buffer_ids(other.block.reads), buffer_ids(other.block.writes)
            bad = o_writes & x_writes or (o_reads & x_writes if self.reverse else o_writes & x_reads)
            if bad:
                raise self.error(f"block {other.block.name_hint!r} under the loop would interleave "
                                 "with it on a buffer both use", other)

    # ------------------------------------------------------------- domains
    def _domains(self, related, partial: set[int] = frozenset()) -> tuple[dict[int, IntSet], list]:
        """The iteration interval of each of the block's iterators, by id(var); and, for each
        region the block reads of a ``partial`` buffer, the intervals that region alone needs."""
        if self.reverse:
            regions = [r for r in self.block.reads]
            kind = "writes"
        else:
            regions = list(self.block.writes)
            kind = "reads"
        targets = {id(r.buffer) for loc in related for r in getattr(loc.node.block, kind)}
        regions = [r for r in regions if id(r.buffer) in targets]
        needed: dict[int, list[IntSet]] = {}
        scopes = {id(r.buffer): r.buffer.scope for r in regions}
        for loc in related:
            found = {}
            for scope in set(scopes.values()):
                group = {key for key in targets if scopes.get(key) == scope}
                found.update(relaxed_access(loc, self.loop, kind, group, self._shared_over(scope)))
            for key, sets in found.items():
                needed[key] = sets if key not in needed else [a.union(b) for a, b in zip(needed[key], sets)]
        doms: dict[int, IntSet] = {}
        per_region: list[dict[int, IntSet]] = []
        what = "reads" if self.reverse else "writes"
        for region in regions:
            pattern = point_pattern(region, self.block.iter_vars)
            if pattern is not None:
                pattern = [(var, offset, s) for (var, offset), s in zip(pattern, needed[id(region.buffer)])]
            elif self.reverse:
                pattern = self._fused_points(region, needed[id(region.buffer)])
            if pattern is None:
                raise self.error(f"the block {what} {region!r}, not one point per block iterator "
                                 f"(like {region.buffer.name}[vi, vj]); cannot derive its domain",
                                 self.realize)
            own: dict[int, IntSet] = {}
            for var, offset, s in pattern:
                shifted = IntSet(None if s.min is None else canonical(s.min - offset),
                                 None if s.max is None else canonical(s.max - offset))
                own[id(var)] = shifted if id(var) not in own else own[id(var)].intersect(shifted)
                old = doms.get(id(var))
                if old is None:
                    doms[id(var)] = shifted
                else:
                    doms[id(var)] = old.intersect(shifted) if self.reverse else old.union(shifted)
            if id(region.buffer) in partial:
                per_region.append((region, own))
        return doms, per_region

    def _fused_points(self, region, needed: list[IntSet]):
        """reverse_compute_at: a read of one point per iterator, or of two iterators fused
        (``stats[vp * 256 + vq]``, ``vq`` running over 0..255: a row of a part of 256 rows),
        where what the loop produces of that dimension is one point ``e`` per iteration, or a
        run ``e .. e + w`` inside one part (the rows of a group of rows: ``e = p * 256 + g * 4``,
        ``w = 3``): ``(iterator, offset, needed set)`` for each iterator read, the fused pair's
        sets the point ``e // 256`` and the run ``e % 256 .. e % 256 + w`` (simplified by the
        loops' ranges: ``p`` and ``g * 4 .. g * 4 + 3``). A run is taken only where ``e // 256``
        and ``(e + w) // 256`` simplify to one expression (it does not cross into the next
        part). None for any other read."""
        ids = {id(iv.var): iv for iv in self.block.iter_vars}
        outer = [n for n in self.lloc.path if isinstance(n, For)] + [self.loop]
        ana = Analyzer(loop_ranges(outer))
        out, seen = [], set()
        for r, s in zip(region.region, needed):
            if not (isinstance(r.extent, IntImm) and r.extent.value == 1):
                return None
            lin = linear(r.min)
            terms = [(atom, coef) for atom, coef in lin.terms.values()]
            if any(not isinstance(a, Var) or id(a) not in ids or id(a) in seen for a, _ in terms) \
                    or len({id(a) for a, _ in terms}) != len(terms):
                return None
            if len(terms) == 1 and terms[0][1] == 1:
                out.append((terms[0][0], lin.const, s))
                seen.add(id(terms[0][0]))
                continue
            if len(terms) != 2 or s.min is None or s.max is None:
                return None
            (outer_var, size), (inner_var, one) = sorted(terms, key=lambda t: -t[1])
            dom = ids[id(inner_var)].dom
            if one != 1 or not (isinstance(dom.min, IntImm) and dom.min.value == 0 and isinstance(dom.extent, IntImm)
                                and dom.extent.value == size):
                return None
            first, last = s.min - lin.const, s.max - lin.const
            # the outer iterator's share: one point, the same for the first and the last needed
            # points (a run of rows inside one part), proved by simplifying both to one value
            whole = ana.simplify(floordiv(first, size))
            if not same_expr(s.min, s.max) and not same_expr(whole, ana.simplify(floordiv(last, size))):
                return None
            width = ana.simplify(last - first)
            if not isinstance(width, IntImm) or width.value < 0:
                return None
            start = ana.simplify(floormod(first, size))
            out.append((outer_var, const(0), IntSet(whole, whole)))
            out.append((inner_var, const(0), IntSet(start, ana.simplify(start + width))))
            seen.update((id(outer_var), id(inner_var)))
        return out

    def _shared_over(self, scope: str) -> list[For]:
        """The thread-bound loops around the target loop (itself included) whose threads
        share a buffer of ``scope``: a ``shared`` buffer is shared by the threads of a block,
        so its region is relaxed over the ``threadIdx`` loops, as in TVM; the region
        computed at the loop is then what all those threads need, and they can fetch it
        together (bind the new loop to ``threadIdx``) instead of each its own part. Other
        scopes keep each thread's own region (a ``global`` one too: unlike TVM, which
        would have every thread compute the whole region, racing on it)."""
        if scope != "shared":
            return []
        loops = [n for n in self.lloc.path if isinstance(n, For)] + [self.loop]
        return [f for f in loops if f.kind == "thread_binding" and (f.thread_binding or "").startswith("threadIdx")]

    def _check_coverage(self, doms, partial_reads=()) -> None:
        """reverse_compute_at: every iteration of the consumer must still run.

        The consumer's new loops cover, per iteration of the target loop, the
        points that read what that iteration produced. Points that read none
        of it (``j = 0`` of ``out[j] = j >= 1 ? in[j - 1] : 1``) would be
        dropped, so the windows over all iterations must cover the whole
        domain. Checked exactly by enumeration; refused when too large to check.
        """
        outer = [n for n in self.lloc.path if isinstance(n, For)] + [self.loop]
        ranges = loop_ranges(outer)
        if not partial_reads and self._loops_run_once(doms, outer):
            return
        if not all(isinstance(e, IntImm) for iv in self.block.iter_vars
                   for e in (iv.dom.min, iv.dom.extent)):
            self._check_symbolic_coverage(doms, partial_reads, outer, ranges)
            return
        if not partial_reads and all(iv.iter_type == "spatial" for iv in self.block.iter_vars) and \
                self._symbolic_coverage_problem(doms, outer, ranges) is None:
            # a spatial consumer of whole values needs only its windows to tile the domain:
            # proven without visiting every iteration (which costs one window per point, 49152
            # of them for a 2048^3 matmul's write-back); what the proof cannot show is enumerated
            return
        bounds, shape = self._box(doms, lambda iv: f"cannot check that every {iv.var.name} is still "
                                                   "computed: its domain is not constant")
        spans = self._spans(outer)
        points = 1
        for r in spans:
            points *= len(r) if r is not None else 1 << 30
        if points > 1 << 16 or int(np.prod(shape)) > 1 << 22:
            if not partial_reads and all(iv.iter_type == "spatial" for iv in self.block.iter_vars):
                # a spatial consumer of whole values only needs its windows to tile the
                # domain: proven, as for symbolic domains, instead of enumerated
                self._check_symbolic_coverage(doms, partial_reads, outer, ranges)
                return
            raise self.error("cannot check that every iteration of the block is still computed "
                             "(too many points to verify); move it under an inner loop", self.realize)
        counts = np.zeros(shape, dtype=np.int64)
        reduce_dims = [d for d, iv in enumerate(self.block.iter_vars) if iv.iter_type != "spatial"]
        started = np.zeros(shape, dtype=bool)  # reduction: the init of these points has run
        # A reduction in pieces, or a consumer recomputed as partial values change, must keep
        # each output in one iteration of every loop that does not run serially.
        concurrent = [n for n, f in enumerate(outer) if f.kind not in ("serial", "unrolled")]
        owner, keys = None, {}
        if concurrent and (reduce_dims or partial_reads):
            owner = np.full([1 if d in reduce_dims else n for d, n in enumerate(shape)], -1, np.int64)
        for point, env, window in self._windows(outer, spans, bounds, shape):
            for region, own in partial_reads:
                self._check_recomputed(region, own, window, bounds, shape, env)
            if reduce_dims:
                self._check_reduction_order(window, reduce_dims, started, counts)
            if owner is not None:
                key = keys.setdefault(tuple(point[n] for n in concurrent), len(keys))
                self._check_one_owner(owner, window, reduce_dims, key, [outer[n] for n in concurrent])
            counts[window] += 1
        covered = counts > 0
        if reduce_dims and (counts > 1).any():
            twice = tuple(int(x[0]) for x in np.nonzero(counts > 1))
            names = ", ".join(f"{iv.var.name}={m + b[2]}" for iv, m, b in zip(self.block.iter_vars, twice, bounds))
            raise self.error(f"the reduction's iteration {names} would run in several iterations of "
                             "the loop and be added more than once", self.realize)
        if not covered.all():
            missing = tuple(int(x[0]) for x in np.nonzero(~covered))
            names = ", ".join(f"{iv.var.name}={m + b[2]}" for iv, m, b in zip(self.block.iter_vars, missing, bounds))
            raise self.error(f"the consumer's iteration {names} reads nothing produced under the "
                             "loop, so it would never run there; keep the block where it is",
                             self.realize)

    def _not_idempotent(self) -> bool:
        """Whether running one of the block's iterations twice changes the result: it reads
        a buffer it writes and has no init (an in-place update, a decomposed reduction's
        update, a scan), or has an opaque iterator (whose order the block relies on)."""
        if any(iv.iter_type == "opaque" for iv in self.block.iter_vars):
            return True
        return self.block.init is None and bool(buffer_ids(self.block.reads) & buffer_ids(self.block.writes))

    def _ordered(self) -> bool:
        """Whether the block's iterations must also keep their order: it has an opaque
        iterator, or reads a buffer it writes elsewhere than where it writes it."""
        if any(iv.iter_type == "opaque" for iv in self.block.iter_vars):
            return True
        writes = {id(w.buffer): w for w in self.block.writes}
        return any(id(r.buffer) in writes and not same_expr(r.region, writes[id(r.buffer)].region)
                   for r in self.block.reads)

    def _check_computed_once(self, doms) -> None:
        """compute_at of a block that is not idempotent (:meth:`_not_idempotent`): unlike a
        pure producer, which may be recomputed wherever consumers need it, each of its
        iterations must run in exactly one iteration of the loops around the new place,
        and, where :meth:`_ordered`, in the order they ran before. Checked by enumeration
        (constant domains only)."""
        outer = [n for n in self.lloc.path if isinstance(n, For)] + [self.loop]
        why = ("it updates what it reads and has no init" if not any(
            iv.iter_type == "opaque" for iv in self.block.iter_vars) else "it has an opaque iterator")
        bounds, shape = self._box(doms, lambda iv: f"cannot check that each iteration of the block runs "
                                                   f"once under the loop ({why}): the domain of {iv.var.name} "
                                                   "is not constant")
        spans = self._spans(outer)
        for f, r in zip(outer, spans):
            if r is None:
                raise self.error(f"cannot check that each iteration of the block runs once under the "
                                 f"loop ({why}): loop {f.loop_var.name} has no constant range", self.realize)
        if int(np.prod([len(r) for r in spans])) > 1 << 16 or int(np.prod(shape)) > 1 << 22:
            raise self.error(f"cannot check that each iteration of the block runs once under the loop "
                             f"({why}): too many points to verify; move it under an inner loop", self.realize)
        ordered = self._ordered()
        if ordered:
            concurrent = [f for f in outer if f.kind not in ("serial", "unrolled")]
            if concurrent:
                raise self.error(f"its iterations must run in order ({why}), but loop "
                                 f"{concurrent[0].loop_var.name} ({concurrent[0].kind}) around the new "
                                 "place does not run its iterations one after another", self.realize)
        counts = np.zeros(shape, dtype=np.int64)
        last = -1  # the row-major position of the last iteration run so far
        for _, _, window in self._windows(outer, spans, bounds, shape):
            if any(w.stop <= w.start for w in window):
                continue
            if counts[window].any():
                twice = tuple(int(x[0]) + w.start for x, w in zip(np.nonzero(counts[window]), window))
                names = ", ".join(f"{iv.var.name}={m + b[2]}" for iv, m, b in zip(self.block.iter_vars, twice, bounds))
                raise self.error(f"its iteration {names} would run in several iterations of the loop, "
                                 f"and running it again changes the result ({why})", self.realize)
            counts[window] = 1
            if ordered:
                first = int(np.ravel_multi_index([w.start for w in window], shape))
                if first < last:
                    names = ", ".join(f"{iv.var.name}={w.start + b[2]}"
                                      for iv, w, b in zip(self.block.iter_vars, window, bounds))
                    raise self.error(f"its iteration {names} would run after later ones: the loops "
                                     f"around the new place visit its iterations out of order ({why})",
                                     self.realize)
                last = int(np.ravel_multi_index([w.stop - 1 for w in window], shape))

    def _loops_run_once(self, doms, outer: list[For]) -> bool:
        """Whether the windows provably run every iteration of the block once, in order, without
        visiting them: each iterator's window is its whole domain or the one point a loop of
        ``outer`` is, every loop of ``outer`` one iterator's, over that iterator's domain; a
        reduce iterator's loop serial (its pieces in order, the first, with the init, first).
        (A point may be several loops fused, ``p * 256 + q``, whose values run over the domain
        once.) Each output then belongs to one iteration of the non-serial loops, and a reduction of
        a part of 256 rows moved under the rows' loop (a column sum of each part, added up a
        row at a time) needs no enumeration of its 4096 windows of 1024 points."""
        loop_by_var = {id(f.loop_var): f for f in outer}
        used: set[int] = set()
        for iv in self.block.iter_vars:
            full, lo, hi = _window(iv, doms)
            if same_expr(lo, full.min) and same_expr(hi, full.max):
                continue
            run = constant_difference(lo, hi)  # a run of points (a group of rows: g * 4 .. g * 4 + 3)
            loops = _radix_loops(lo, iv.dom, loop_by_var, run + 1) if run is not None and run >= 0 else None
            if loops is None or any(id(f.loop_var) in used for f in loops):
                return False
            if iv.iter_type != "spatial" and any(f.kind not in ("serial", "unrolled") for f in loops):
                return False
            used.update(id(f.loop_var) for f in loops)
        return len(used) == len(outer)

    def _check_symbolic_coverage(self, doms, partial_reads, outer, ranges) -> None:
        """:meth:`_check_coverage` for a domain of symbolic extent (``n = te.var("n")``), or one
        too large to enumerate, proven instead of enumerated, for a spatial consumer reading
        whole values: each
        iterator's window ``[lo(x), hi(x)]`` moves with at most one of the loops ``x``
        (a different loop per iterator), starts at or below the domain's start, leaves no
        gap from one ``x`` to the next (``lo(x + 1) <= hi(x) + 1``) and reaches the
        domain's end at the last ``x``. Anything else is refused."""
        if partial_reads or any(iv.iter_type != "spatial" for iv in self.block.iter_vars):
            raise self.error("cannot check that every iteration of the block is still computed: "
                             "its domain is symbolic and it reduces or reads partial values",
                             self.realize)
        problem = self._symbolic_coverage_problem(doms, outer, ranges)
        if problem is not None:
            raise self.error(problem, self.realize)

    def _symbolic_coverage_problem(self, doms, outer, ranges) -> str | None:
        """Why the proof of :meth:`_check_symbolic_coverage` fails for this spatial consumer
        of whole values, or None when its windows are proven to cover its domain."""
        ana = Analyzer(ranges)
        loop_by_var = {id(f.loop_var): f for f in outer}
        used: set[int] = set()
        for iv in self.block.iter_vars:
            full, lo, hi = _window(iv, doms)
            moving = [v for v in free_vars(lo) + free_vars(hi) if id(v) in loop_by_var]
            moving = list({id(v): v for v in moving}.values())
            if len(moving) > 1:  # a window of a multi-level tiling (i_0 * 32 + i_1 * 4)
                ok = not any(id(v) in used for v in moving) and \
                    self._tiles_cover(ana, lo, hi, full, [loop_by_var[id(v)] for v in moving])
                used.update(id(v) for v in moving)
                if ok:
                    continue
                return (f"cannot check that every {iv.var.name} is still computed: its "
                        f"domain is symbolic or too large to enumerate, and its window "
                        f"[{lo!r}, {hi!r}] under the loops is not a tiling mlc can prove covers it")
            ok = len(moving) <= 1 and not (moving and id(moving[0]) in used)
            if ok and not moving:
                ok = _proven_ge(ana, full.min, lo) and _proven_ge(ana, hi, full.max)
            elif ok:
                x = moving[0]
                used.add(id(x))
                f = loop_by_var[id(x)]
                first, last = f.min, f.min + f.extent - 1
                ok = (_proven_ge(ana, full.min, substitute(lo, {x: first}))
                      and _proven_ge(ana, substitute(hi, {x: last}), full.max)
                      and _proven_ge(ana, hi + 1, substitute(lo, {x: x + 1})))
            if not ok:
                return (f"cannot check that every {iv.var.name} is still computed: its "
                        f"domain is symbolic or too large to enumerate, and its window "
                        f"[{lo!r}, {hi!r}] under the loop is not a tiling mlc can prove covers it")
        return None

    @staticmethod
    def _tiles_cover(ana: Analyzer, lo, hi, full: IntSet, loops: list[For]) -> bool:
        """Whether the windows ``[lo, hi]``, moved by several loops of constant extent (a
        multi-level tiling, ``lo = base + sum(c_k * x_k)``, ``hi = lo + w - 1``), cover the
        domain ``full`` with no gap: taken from the smallest step up, each loop's step
        ``c_k`` is at most the span the loops inside it cover (``w`` at first, then
        ``c_k * (extent_k - 1)`` more per loop); the first window starts at or below the
        domain's start and the last one reaches its end."""
        width = constant_difference(lo, hi)
        if width is None or width < 0 or \
                not all(isinstance(f.min, IntImm) and isinstance(f.extent, IntImm) for f in loops):
            return False
        steps = []
        for f in loops:
            step = constant_difference(lo, substitute(lo, {f.loop_var: f.loop_var + 1}))
            if step is None or step <= 0:
                return False
            steps.append((step, f.extent.value, f))
        span = width + 1
        for step, extent, _ in sorted(steps, key=lambda t: t[0]):
            if step > span:
                return False
            span += step * (extent - 1)
        first = {f.loop_var: f.min for f in loops}
        last = {f.loop_var: f.min + f.extent - 1 for f in loops}
        return _proven_ge(ana, full.min, substitute(lo, first)) and \
            _proven_ge(ana, substitute(hi, last), full.max)

    def _box(self, doms, not_constant) -> tuple[list, list[int]]:
        """For each of the block's iterators: its window's ``(lo, hi, domain start)`` (from
        ``doms``, else the whole domain) and its domain's size; an error saying
        ``not_constant(iv)`` where a domain is not constant."""
        bounds, shape = [], []
        for iv in self.block.iter_vars:
            full = IntSet.from_range(iv.dom)
            s = doms.get(id(iv.var), full)
            if not (isinstance(full.min, IntImm) and isinstance(full.max, IntImm)):
                raise self.error(not_constant(iv), self.realize)
            bounds.append((full.min if s.min is None else s.min, full.max if s.max is None else s.max,
                           full.min.value))
            shape.append(full.max.value - full.min.value + 1)
        return bounds, shape

    @staticmethod
    def _spans(outer: list[For]) -> list[range | None]:
        """The values of each loop of ``outer`` (None where they are not constant)."""
        ana = Analyzer(loop_ranges(outer))
        spans = []
        for f in outer:
            lo, hi = ana.const_int_bound(f.loop_var)
            spans.append(range(lo, hi + 1) if lo is not None and hi is not None else None)
        return spans

    def _windows(self, outer: list[For], spans, bounds, shape):
        """``(point, env, window)`` for each iteration of the loops ``outer`` in serial order:
        the loops' values, every variable's value by id, and the block's window (slices of
        its domain) there. The iterators of the blocks around the loop (a blockized block's
        ``vi_o``), bound to the loops above them, take their bindings' values."""
        scopes = [(iv.var, value) for n in self.lloc.path if isinstance(n, BlockRealize)
                  for iv, value in zip(n.block.iter_vars, n.iter_values)]
        for point in itertools.product(*spans):
            env = {id(f.loop_var): x for f, x in zip(outer, point)}
            for var, value in scopes:
                env[id(var)] = eval_int(value, env)
            yield point, env, tuple(self._window(bounds, shape, env))

    @staticmethod
    def _window(bounds, shape, env):
        for (lo, hi, base), size in zip(bounds, shape):
            a = max(eval_int(lo, env) - base, 0)
            b = min(eval_int(hi, env) - base, size - 1)
            yield slice(a, b + 1) if a <= b else slice(0, 0)

    def _check_recomputed(self, region, own, window, bounds, shape, env) -> None:
        """A consumer of partial values must be recomputed in every iteration that updates
        them: every point reading ``region`` where this iteration writes must be in ``window``."""
        for d, iv in enumerate(self.block.iter_vars):
            s = own.get(id(iv.var))
            lo, hi, base = bounds[d]
            if s is None:
                need = slice(0, shape[d])  # every value of vi reads the updated elements
            else:
                a = max(eval_int(lo if s.min is None else s.min, env) - base, 0)
                b = min(eval_int(hi if s.max is None else s.max, env) - base, shape[d] - 1)
                need = slice(a, b + 1) if a <= b else slice(0, 0)
            if need.stop > need.start and not (window[d].start <= need.start and need.stop <= window[d].stop):
                raise self.error(
                    f"{region.buffer.name} is still being reduced inside the loop, so the block must "
                    f"be recomputed in every iteration that updates it; but its iterations "
                    f"{iv.var.name}={need.start + base}..{need.stop - 1 + base}, which read "
                    f"{region!r}, are not all computed in the same iteration; move it under an inner "
                    "loop or after the reduction", self.realize)

    def _check_one_owner(self, owner, window, reduce_dims, key, loops) -> None:
        """Outputs touched in this iteration must not be touched in another iteration of the
        non-serial ``loops`` (``key`` numbers this iteration's values of them)."""
        if any(w.stop <= w.start for w in window):
            return
        code = key
        spatial = tuple(slice(None) if d in reduce_dims else window[d] for d in range(len(window)))
        mine = owner[spatial]
        if ((mine != -1) & (mine != code)).any():
            names = ", ".join(f"{f.loop_var.name} ({f.kind})" for f in loops)
            raise self.error(f"the same output would be updated in different iterations of {names}, "
                             "which do not run one after another", self.realize)
        owner[spatial] = code

    def _check_reduction_order(self, window, reduce_dims, started, counts) -> None:
        """A reduction moved in pieces must start each output with its init: the piece holding
        the first reduce iteration must run before the others of the same output."""
        if any(window[d].stop <= window[d].start for d in range(len(window))):
            return
        first = all(window[d].start == 0 for d in reduce_dims)
        spatial = tuple(slice(None) if d in reduce_dims else window[d] for d in range(len(window)))
        if not first and not started[spatial].all():
            raise self.error("the pieces of the reduction would run in an order where an output is "
                             "updated before its init runs (the loop does not visit the reduction's "
                             "first iteration first)", self.realize)
        if first:
            started[spatial] = True

    # ---------------------------------------------------------------- build
    def _new_nest(self, doms):
        ranges = loop_ranges([n for n in self.lloc.path if isinstance(n, For)] + [self.loop])
        ana = Analyzer(ranges)
        loops, values, conds = [], [], []
        for iv in self.block.iter_vars:
            full = IntSet.from_range(iv.dom)
            s = doms.get(id(iv.var), full)
            s = IntSet(full.min if s.min is None else s.min, full.max if s.max is None else s.max)
            extent = s.extent()
            if not isinstance(extent, IntImm):  # the loop ranges may decide divisions
                extent = ana.simplify(extent)
            exact = isinstance(extent, IntImm)
            if exact:
                size = extent.value
            else:
                exact_bounds = ana.enumerated_bounds(extent)
                size = exact_bounds[1] if exact_bounds else ana.const_int_bound(extent).max
                if size is None:
                    raise self.error(f"cannot bound the number of values of {iv.var.name} "
                                     f"needed per iteration ({extent!r})", self.realize)
            if size <= 0:
                raise self.error(f"the region of {iv.var.name} needed per iteration is empty", self.realize)
            if size == 1 and not self.preserve:
                value = s.min
            else:
                ax = index_var(f"ax{len(loops)}")
                loops.append((ax, const(0), const(size)))
                ana.bind(ax, _range(size))
                value = canonical(s.min + ax)
            values.append(value)
            if not exact:
                conds.append(value <= s.max)
            for cond in (value >= full.min, value <= full.max):
                if not ana.can_prove(cond):
                    conds.append(_pretty_bound(cond))
        conds += self._carried_predicate(values)
        pred = conds[0] if conds else const(True, "bool")
        for c in conds[1:]:
            pred = make_binary("and", pred, c)
        realize = BlockRealize(tuple(values), pred, self.block)
        return make_loops(loops, realize)

    def _carried_predicate(self, values) -> list[PrimExpr]:
        """The block's own predicate, rewritten from old loops to its new bindings."""
        out = []
        for cond in conjuncts(self.realize.predicate):
            new = None
            if isinstance(cond, Binary) and cond.op in ("lt", "le", "gt", "ge"):
                for old_val, new_val in zip(self.realize.iter_values, values):
                    for side in ("a", "b"):
                        expr, other = getattr(cond, side), getattr(cond, "b" if side == "a" else "a")
                        d = constant_difference(old_val, expr)
                        if d is not None and isinstance(canonical(other), IntImm):
                            lhs = canonical(new_val + d)
                            args = (lhs, other) if side == "a" else (other, lhs)
                            new = make_binary(cond.op, *args)
                            break
                    if new is not None:
                        break
            if new is None:
                raise self.error(f"its predicate {cond!r} is not a bound on one block iterator, so "
                                 "it cannot be carried to the new loops", self.realize)
            out.append(new)
        return out

    def run(self) -> PrimFunc:
        self._check_position()
        under = self._under_loop()
        related = self._related(under)
        partial = self._check_finality(related) if self.reverse else set()
        items = body_items(self.loop.body)
        holders = [k for k, item in enumerate(items)
                   if any(r is l.node for r in stmt_blocks(item) for l in related)]
        idx = holders[-1] + 1 if self.reverse else holders[0]
        self._check_dependences(items, idx)
        doms, partial_reads = self._domains(related, partial)
        if self.reverse:
            self._check_coverage(doms, partial_reads)
        elif self._not_idempotent():
            self._check_computed_once(doms)
        nest = self._new_nest(doms)
        func = remove_block(self.func, self.loc)
        loop = find_loop(func, self.loop.loop_var, self.prim).node
        return replace(func, loop, insert_at(loop, nest, idx))


def _radix_loops(point: PrimExpr, dom: Range, loop_by_var: dict[int, For], run: int = 1) -> list[For] | None:
    """The loops whose values ``point`` takes as digits of a mixed radix number running over
    ``dom`` once (``p * 256 + q`` with ``q`` over 0..255 and ``p`` over 0..15 for a domain of
    4096), innermost first; or, for windows of ``run`` points from ``point``, running over
    ``dom`` once in steps of ``run`` (``p * 256 + g * 4``, ``g`` over 0..63, runs of 4); None
    where it is no such number."""
    lin = linear(point)
    if not isinstance(dom.min, IntImm) or not isinstance(dom.extent, IntImm) or lin.const != dom.min.value:
        return None
    terms = sorted(lin.terms.values(), key=lambda t: t[1])
    loops, step = [], run
    for atom, coef in terms:
        f = loop_by_var.get(id(atom)) if isinstance(atom, Var) else None
        if f is None or coef != step or not (isinstance(f.min, IntImm) and f.min.value == 0
                                             and isinstance(f.extent, IntImm)):
            return None
        loops.append(f)
        step *= f.extent.value
    return loops if loops and step == dom.extent.value else None


def _vars(e) -> list[Var]:
    return free_vars(e)


def _range(size: int):
    return Range(const(0), const(size))


def _pretty_bound(cond: PrimExpr) -> PrimExpr:
    """``x <= c`` as ``x < c + 1`` for constants, matching TVM's predicates (a bound that
    folded to a constant stays as it is)."""
    if isinstance(cond, Binary) and cond.op == "le" and isinstance(cond.b, IntImm):
        return cond.a < cond.b.value + 1
    return cond


def _clash(other: BlockRealize, x_reads: set[int], x_writes: set[int]) -> str:
    o_reads, o_writes = buffer_ids(other.block.reads), buffer_ids(other.block.writes)
    names = {id(r.buffer): r.buffer.name for r in other.block.reads + other.block.writes}
    for ids, text in ((o_writes & x_reads, "it writes {} which the block reads"),
                      (o_reads & x_writes, "it reads {} which the block writes"),
                      (o_writes & x_writes, "both write {}")):
        if ids:
            return text.format(", ".join(sorted(names[i] for i in ids)))
    return ""


def legal_compute_at_loops(func: PrimFunc, block: str) -> list[Var]:
    """The loop variables ``compute_at(block, loop)`` accepts, in program order."""
    out = []
    for loc in all_loops(func):
        try:
            compute_at_ir(func, block, loc.node.loop_var)
        except Exception as err:  # noqa: BLE001 - any refusal means "not a candidate"
            if not isinstance(err, ScheduleError):
                raise
            continue
        out.append(loc.node.loop_var)
    return out


class ComputeLocationPrimitives(ScheduleBase):

    def _block_and_loop(self, block, loop, prim):
        fname, func, bloc = self._block(block, prim)
        lname, _, lloc = self._loop(loop, prim)
        if lname != fname:
            raise schedule_error(prim, f"the block is in function {fname!r} but the loop in {lname!r}")
        return fname, func, bloc.node.block.name_hint, lloc.node.loop_var

    @instruction
    def compute_at(self, block, loop, preserve_unit_loops: bool = False) -> None:
        """Move the producer ``block`` under ``loop``, computing in each iteration the
        part its consumers under ``loop`` read (new loops ``ax0, ax1, ...``; a loop of
        extent 1 is dropped unless ``preserve_unit_loops``).

        A loop in another block scope, no consumer under ``loop``, an output that is
        a function parameter or is also read outside ``loop``, or a move that would
        break a dependence or leave iterations uncomputed is a
        :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(8))
        >>> (i,) = sch.get_loops(sch.get_block("C"))
        >>> i0, i1 = sch.split(i, factors=[2, 4])
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((8,))
            for i in range(8):
                with T.block("B"):
                    vi = T.axis.spatial(8, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i_0, i_1 in T.grid(2, 4):
                with T.block("C"):
                    vi = T.axis.spatial(8, i_0 * 4 + i_1)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> sch.compute_at(sch.get_block("B"), i0)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((8,))
            for i_0 in range(2):
                for ax0 in range(4):
                    with T.block("B"):
                        vi = T.axis.spatial(8, i_0 * 4 + ax0)
                        T.reads(A[vi])
                        T.writes(B[vi])
                        B[vi] = A[vi] * T.float32(2)
                for i_1 in range(4):
                    with T.block("C"):
                        vi = T.axis.spatial(8, i_0 * 4 + i_1)
                        T.reads(B[vi])
                        T.writes(C[vi])
                        C[vi] = B[vi] + T.float32(1)
        """
        fname, func, name, var = self._block_and_loop(block, loop, "compute_at")
        self._commit(fname, compute_at_ir(func, name, var, preserve_unit_loops))

    @instruction
    def reverse_compute_at(self, block, loop, preserve_unit_loops: bool = False) -> None:
        """Move the consumer ``block`` under ``loop``, consuming in each iteration what
        the producers under ``loop`` wrote (new loops ``ax0, ax1, ...``; a loop of
        extent 1 is dropped unless ``preserve_unit_loops``).

        A loop in another block scope, no producer under ``loop``, or a move that
        would read values before they are final, add a reduction's iteration twice
        or leave iterations unrun is a :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(8))
        >>> (i,) = sch.get_loops(sch.get_block("B"))
        >>> i0, i1 = sch.split(i, factors=[2, 4])
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((8,))
            for i_0, i_1 in T.grid(2, 4):
                with T.block("B"):
                    vi = T.axis.spatial(8, i_0 * 4 + i_1)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i in range(8):
                with T.block("C"):
                    vi = T.axis.spatial(8, i)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> sch.reverse_compute_at(sch.get_block("C"), i0)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((8,))
            for i_0 in range(2):
                for i_1 in range(4):
                    with T.block("B"):
                        vi = T.axis.spatial(8, i_0 * 4 + i_1)
                        T.reads(A[vi])
                        T.writes(B[vi])
                        B[vi] = A[vi] * T.float32(2)
                for ax0 in range(4):
                    with T.block("C"):
                        vi = T.axis.spatial(8, i_0 * 4 + ax0)
                        T.reads(B[vi])
                        T.writes(C[vi])
                        C[vi] = B[vi] + T.float32(1)
        """
        fname, func, name, var = self._block_and_loop(block, loop, "reverse_compute_at")
        self._commit(fname, reverse_compute_at_ir(func, name, var, preserve_unit_loops))

    @instruction
    def sample_compute_location(self, block, decision: int | None = None) -> LoopRV:
        """A loop where ``compute_at(block, loop)`` is legal, drawn with the schedule's
        random generator; ``decision`` (an index into the legal loops, in program
        order) replays an earlier choice.

        A block with no legal location, or a decision out of range, is a
        :class:`~mlc.ScheduleError`.

        >>> from mlc.schedules import Schedule, examples
        >>> sch = Schedule(examples.two_stage(8))
        >>> (i,) = sch.get_loops(sch.get_block("C"))
        >>> i0, i1 = sch.split(i, factors=[2, 4])
        >>> block = sch.get_block("B")
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((8,))
            for i in range(8):
                with T.block("B"):
                    vi = T.axis.spatial(8, i)
                    T.reads(A[vi])
                    T.writes(B[vi])
                    B[vi] = A[vi] * T.float32(2)
            for i_0, i_1 in T.grid(2, 4):
                with T.block("C"):
                    vi = T.axis.spatial(8, i_0 * 4 + i_1)
                    T.reads(B[vi])
                    T.writes(C[vi])
                    C[vi] = B[vi] + T.float32(1)
        >>> loop = sch.sample_compute_location(block, decision=0)
        >>> sch.compute_at(block, loop)
        >>> print(sch.mod["main"].script())
        @T.prim_func
        def main(A: T.Buffer((8,), "float32"), C: T.Buffer((8,), "float32")):
            T.func_attr({"global_symbol": "main", "tir.noalias": True})
            B = T.alloc_buffer((8,))
            for i_0 in range(2):
                for ax0 in range(4):
                    with T.block("B"):
                        vi = T.axis.spatial(8, i_0 * 4 + ax0)
                        T.reads(A[vi])
                        T.writes(B[vi])
                        B[vi] = A[vi] * T.float32(2)
                for i_1 in range(4):
                    with T.block("C"):
                        vi = T.axis.spatial(8, i_0 * 4 + i_1)
                        T.reads(B[vi])
                        T.writes(C[vi])
                        C[vi] = B[vi] + T.float32(1)
        """
        fname, func, bloc = self._block(block, "sample_compute_location")
        name = bloc.node.block.name_hint
        candidates = legal_compute_at_loops(func, name)
        if not candidates:
            raise schedule_error("sample_compute_location",
                                 f"block {name!r} has no loop where compute_at is legal", func, bloc.node)
        if decision is None:
            decision = self._sample().randrange(len(candidates))
        elif not isinstance(decision, int) or not 0 <= decision < len(candidates):
            raise schedule_error("sample_compute_location",
                                 f"decision {decision!r} is out of range: block {name!r} has "
                                 f"{len(candidates)} legal location(s)")
        self._last_decision = int(decision)
        return self._loop_rv(fname, candidates[decision])


class _RoundDownForm(Mutator):
    def visit_Binary(self, node: Binary):
        node = self.generic_visit(node)
        if node.op == "mul" and isinstance(node.b, IntImm) and node.b.value > 0:
            q = node.a
            if isinstance(q, Binary) and q.op == "floordiv" and isinstance(q.b, IntImm) \
                    and q.b.value == node.b.value:
                return q.a - make_binary("floormod", q.a, q.b)
        return node


def _round_down_form(e: PrimExpr) -> PrimExpr:
    """``e`` with each ``y // a * a`` (a > 0 constant) written ``y - y % a``, so that the
    linear form cancels ``y`` against the terms around it."""
    return _RoundDownForm().visit(canonical(e))


def _proven_ge(ana: Analyzer, a: PrimExpr, b: PrimExpr) -> bool:
    """``a >= b`` for every value of the loops and shape variables (shape variables
    are non-negative)."""
    gap = canonical(_round_down_form(a - b))
    lo = ana.const_int_bound(gap).min
    return (lo is not None and lo >= 0) or ana.can_prove(a >= b)


def _window(iv, doms) -> tuple[IntSet, PrimExpr, PrimExpr]:
    """(the domain of iterator ``iv``, the first and last points of its window in ``doms``,
    the domain's own where the window leaves them open)."""
    full = IntSet.from_range(iv.dom)
    w = doms.get(id(iv.var), full)
    return full, (full.min if w.min is None else w.min), (full.max if w.max is None else w.max)
