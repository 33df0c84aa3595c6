"""temporal_blocking: a time-step loop over a row stencil, several steps per sweep over cache-sized tiles.

A loop ``for t in range(n): u = K(u)`` whose kernel ``K`` computes each row ``i`` of its
result from rows ``i - h .. i + h`` of its argument only (a Jacobi step of a stencil, as
``u[1:-1, 1:-1] += f(u[2:, 1:-1], u[:-2, 1:-1], ...)`` traces: the right-hand side reads
the old ``u``) streams the whole array through memory once per step. When the array is
larger than a core's cache, each step runs at the memory's bandwidth, not the core's.
Overlapped tiling runs ``T`` steps per sweep instead: each tile of rows ``[r, r + R)``
reads rows ``[r - T*h, r + R + T*h)`` once into two scratch buffers of its own (a tile's
working set fits a core's cache), runs the ``T`` steps there, the rows a step computes
shrinking by ``h`` on each side (what a row needs is always there), and writes its ``R``
rows of the result. The halo rows are computed by both neighbouring tiles (a few percent
more arithmetic); tiles are independent, so they run in parallel::

    for_loop(0, 1000, u, body: v = call_tir(K, (u,)))
        ->
    for_loop(0, 125, u, body: v = call_tir(K_blocked8, (u,)))   # 8 steps a call
    (then the 1000 % 8 steps left, with K itself, when there are any)

The rewrite is exact, not approximate: every element of a step is computed by ``K``'s
own expression from the same values. It applies only where that is proven: ``K`` (after
inlining its intermediate stages) is one block whose iterators are exactly the
indices it stores, reading only its one argument (no constants, no loop index), where
every read's row index is a function of the block's row iterator alone, inside the
array, read off for every row (:func:`find_stencil`). Each step of a tile computes
``h`` rows fewer on each side than the one before, ``h`` the least for which every row a
step computes reads only rows the step before computed, checked tile by tile
(:func:`covers`: a clamped boundary row may read further than the rows inside, and the
tiles at the edges hold it anyway). Anything else, a loop whose body does more than one
call, or a trip count that is not a constant, is left as it is, and so is a loop nested
in another's body. :func:`blocking_plan` decides whether it is worth it (an array larger
than a core's cache whose step does not stay in the target's L3 cache, two axes or more)
and the sizes (benchmarks/results/decisions.md, "Temporal blocking"). The pass runs for CPU
targets (:func:`~.pipeline.cpu_graph_pipeline`, :func:`blocking_pass` of the target's L3
size where its cores read it fast, :func:`resident_l3_bytes`): its kernels are loops for a
CPU's threads.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir import dtype as dt
from ...ir.buffer import Buffer, decl_buffer
from ...ir.expr import Binary, BufferLoad, IntImm, Not, Range, Select, Var, const, floordiv, floormod
from ...ir.expr import max as emax
from ...ir.expr import min as emin
from ...ir.functor import Mutator, pre_order_nodes, substitute
from ...ir.graph import Binding, Constant, Graph, constant
from ...ir.names import unique_name
from ...ir.range_mutator import RangeMutator
from ...ir.tir import Allocate, Block, BlockRealize, BufferStore, For, IRModule, PrimFunc, seq
from .stencils import Stencil, find_stencil, reach_along, static_shape

__all__ = ["temporal_blocking", "blocking_pass", "resident_l3_bytes", "find_stencil", "blocked_kernel",
           "blocking_plan", "covers", "Stencil", "Plan", "TEMPORAL_BLOCKED"]

#: The ``"mlc.scheduled"`` mark of a blocked kernel: written as loops, the schedules leave it.
TEMPORAL_BLOCKED = "temporal-blocked"

#: The scope of a tile's scratch buffers: global memory, allocated per tile.
SCRATCH_SCOPE = "global.tile"
#: An array smaller than this stays in a core's cache from one step to the next: no blocking.
MIN_ARRAY_BYTES = 1 << 21
#: A step whose input and output take at most this share of the L3 cache together stays
#: there from one step to the next, and a core reads it from there at the pace of its
#: arithmetic: the halo rows that the tiles compute twice would cost more than they save.
L3_SHARE = 0.5
#: CPUs (LLVM's names, by prefix) whose cores read their L3 cache that fast: AMD's Zen, whose
#: L3 belongs to a complex of a few cores. A server Xeon's L3 is the whole socket's, behind
#: its mesh (and reported whole, hundreds of MiB, to a VM of two of its cores): blocked there.
FAST_L3_CPUS = ("znver",)
#: One scratch buffer of a tile (two per tile): two of them and the rows read and written
#: stay within a core's L2 (1-2 MiB on current x86 and Arm server cores).
SCRATCH_BYTES = 1 << 19
#: Steps per sweep: memory traffic falls by this factor; the halo rows computed twice grow
#: with it. Even (the steps alternate between the two scratch buffers).
STEPS = 8
#: Where a tile would compute more than this fraction of its rows twice, fewer steps a sweep.
MAX_REDUNDANCY = 0.25
#: From this many tiles on, their number is a multiple of 4 (below it, of 2).
EVEN_TILES = 6
#: The widest vector a loop over a row is cut into (bytes).
VECTOR_BYTES = 64


@dataclass(frozen=True)
class Plan:
    """``steps`` time steps per sweep over tiles of ``rows`` output rows, each step computing
    ``halo`` rows fewer on each side than the one before."""
    steps: int
    rows: int
    halo: int = 1


def blocking_plan(shape: tuple[int, ...], itemsize: int, halo: int, trips: int,
                  min_bytes: int = MIN_ARRAY_BYTES, scratch_bytes: int = SCRATCH_BYTES,
                  steps: int = STEPS, redundancy: float = MAX_REDUNDANCY, l3_bytes: int = 0) -> Plan | None:
    """How to block ``trips`` steps of a stencil of ``halo`` rows on an array of ``shape``, or
    None where it does not pay: an array that fits a core's cache (``min_bytes``), a step whose
    input and output fit :data:`L3_SHARE` of an L3 cache of ``l3_bytes`` (0: unknown, no such
    test), rows too long for a tile of a few of them in ``scratch_bytes``, fewer than two steps.

    >>> blocking_plan((1024, 1024), 4, 1, 1000)
    Plan(steps=8, rows=86, halo=1)
    >>> blocking_plan((256, 256), 4, 1, 1000) is None   # 256 KiB: in cache anyway
    True
    >>> blocking_plan((1024, 1024), 4, 1, 1000, l3_bytes=32 << 20) is None   # 8 MiB a step in 32
    True
    >>> blocking_plan((2048, 2048), 4, 1, 1000, l3_bytes=32 << 20)
    Plan(steps=8, rows=47, halo=1)
    """
    row_bytes = itemsize * int(np.prod(shape[1:], dtype=np.int64))
    array_bytes = row_bytes * shape[0] if len(shape) >= 2 else 0
    if len(shape) < 2 or array_bytes < min_bytes or trips < 2 or row_bytes == 0 or \
            2 * array_bytes <= L3_SHARE * l3_bytes:
        return None
    scratch_rows = scratch_bytes // row_bytes
    steps -= steps % 2
    while steps >= 2:
        rows = min(scratch_rows - 2 * steps * halo, shape[0])
        if rows > 0 and steps * halo <= redundancy * rows and steps <= trips:
            return Plan(steps, _balanced(shape[0], rows), halo)
        steps -= 2
    return None


def _balanced(n: int, rows: int) -> int:
    """At most ``rows`` rows a tile, in a number of tiles that 2 and 4 threads share evenly
    (from :data:`EVEN_TILES` tiles on): 11 tiles on 2 cores take as long as 12 would."""
    tiles = -(-n // rows)
    if tiles < 2:
        return rows
    multiple = 4 if tiles >= EVEN_TILES else 2
    tiles = -(-tiles // multiple) * multiple
    return -(-n // tiles)


def covers(st: Stencil, plan: Plan) -> bool:
    """Whether every row each step of each tile of ``plan`` computes reads only rows the step
    before computed (the first step: rows of the array), checked tile by tile and step by step
    on ``st``'s reads of each row. A plan whose ``halo`` is the stencil's own always does; a
    smaller one may, where only the rows at the array's edges reach further (a clamped index
    of a boundary row: the tiles at the edges hold those rows anyway)."""
    n = len(st.first)
    for tile in range(-(-n // plan.rows)):
        start, before = tile * plan.rows, (0, n)
        for s in range(plan.steps):
            reach = (plan.steps - 1 - s) * plan.halo
            lo, hi = max(start - reach, 0), min(start + plan.rows + reach, n)
            if lo >= hi:
                break
            if st.first[lo:hi].min() < before[0] or st.last[lo:hi].max() >= before[1]:
                return False
            before = (lo, hi)
    return True


class _Reads(Mutator):
    """Loads of ``x`` at row ``e`` become loads of ``scratch`` at row ``e - base``."""

    def __init__(self, x: Buffer, scratch: Buffer, base):
        self.x, self.scratch, self.base = x, scratch, base

    def visit_BufferLoad(self, node: BufferLoad):
        node = self.generic_visit(node)
        if node.buffer is not self.x:
            return node
        first, *rest = node.indices
        return BufferLoad(self.scratch, (first - self.base, *rest), node.dtype)


class _Resolve(RangeMutator):
    """Indices and conditions simplified under known ranges of the iterators: in a region
    away from the array's edges, ``max(min(i - 1, n - 3), 0)`` is ``i - 1`` and an edge test
    is True, so the region's loop reads contiguous vectors. The values computed are left as
    they are (integer data may wrap around; indices of in-bounds reads do not)."""

    def _simplified(self, e):
        return self.analyzer.simplify(e) if _index_arithmetic(e) else e

    def visit_BufferLoad(self, node: BufferLoad):
        node = self.generic_visit(node)
        return BufferLoad(node.buffer, tuple(self._simplified(i) for i in node.indices), node.dtype)

    def visit_Select(self, node: Select):
        node = self.generic_visit(node)
        cond = self._simplified(node.cond)
        if isinstance(cond, IntImm):
            return node.true_value if cond.value else node.false_value
        return Select(cond, node.true_value, node.false_value, node.dtype)


def _index_arithmetic(expr) -> bool:
    """Whether ``expr`` is integer (or bool) arithmetic on iterators and constants alone."""
    return all(isinstance(n, (Var, IntImm, Binary, Not)) and (dt.is_int(n.dtype) or dt.is_bool(n.dtype))
               for n in pre_order_nodes(expr))


def _regions(size: int, edge: int) -> list[tuple[int, int]]:
    """``[0, size)`` cut into the ``edge`` first indices, the middle, the ``edge`` last ones
    (the empty ones left out)."""
    a = min(edge, size)
    b = max(a, size - edge)
    return [(lo, hi) for lo, hi in ((0, a), (a, b), (b, size)) if hi > lo]


def blocked_kernel(st: Stencil, plan: Plan) -> PrimFunc:
    """The kernel running ``plan.steps`` steps of ``st`` (see the module docstring): tiles of
    ``plan.rows`` rows in parallel, each with two scratch buffers of its own. Each step's rows
    and each row's last axis are cut where the stencil reaches past the array's edges, so the
    middle regions run without the edge tests."""
    n, *rest = static_shape(st.x)
    rest = tuple(rest)
    idx = st.iters[0].dtype  # the index type of the kernel's own iterators
    steps, rows, h = plan.steps, plan.rows, plan.halo
    x, y = decl_buffer(static_shape(st.x), st.x.dtype, "x"), decl_buffer(static_shape(st.y), st.y.dtype, "y")
    span = rows + 2 * (steps - 1) * h  # the rows of the first step's result
    # (a tagged scope: compact_buffers, which would shrink them to what one tile touches,
    # leaves them as they are: they are that already)
    a, b = (decl_buffer((span, *rest), st.x.dtype, name, SCRATCH_SCOPE) for name in ("a", "b"))
    tile = Var("tile", idx)
    start = tile * const(rows, idx)
    base = start - const((steps - 1) * h, idx)  # the row of the scratch buffers' row 0
    col_regions = [_regions(extent, reach_along(st, axis) or 0)
                   for axis, extent in enumerate(rest, start=1)]

    row_regions = _regions(n, st.halo)
    inner_rows = row_regions[len(row_regions) // 2]
    resolved: dict[tuple, object] = {}

    def simplified(bounds: tuple) -> object:
        """``st.value`` where each axis's iterator is in ``bounds[axis]`` (once per region)."""
        if bounds not in resolved:
            ranges = {v: Range(const(lo, idx), const(end - lo, idx)) for v, (lo, end) in zip(st.iters, bounds)}
            resolved[bounds] = _Resolve(ranges).visit(st.value)
        return resolved[bounds]

    def step(src: Buffer, dst: Buffer, reach, name: str):
        """One step: rows [start - reach, start + rows + reach) of the array, read from src."""
        lo = emax(start - reach, const(0, idx))
        hi = emin(start + const(rows, idx) + reach, const(n, idx))
        reads = _Reads(st.x, x if src is st.x else src, const(0, idx) if src is st.x else base)
        parts = []
        for k, (first, end) in enumerate(row_regions):
            g = Var(f"{name}_{k}", idx)
            begin, stop = emax(lo, const(first, idx)), emin(hi, const(end, idx))
            cols = [Var(f"{name}_{k}_c{j}", idx) for j in range(len(rest))]
            names = {st.iters[0]: g, **dict(zip(st.iters[1:], cols))}

            def value_at(bounds, names=names):
                return reads.visit(substitute(simplified(bounds), names))
            where = (g - base,) if dst is not y else (g,)
            # the edge rows (a few of the array's) in one region each way: less code to compile
            regions = col_regions if (first, end) == inner_rows else [[(0, e)] for e in rest]
            body = _row_loops(dst, where, cols, regions, ((first, end),), st.x.dtype, value_at)
            parts.append(For(g, begin, emax(stop - begin, const(0, idx)), "serial", body))
        return seq(*parts)

    def reach(s):  # the rows beyond the tile that step s (0-based) computes, each side
        return s * const(-h, idx) + const((steps - 1) * h, idx)

    pair = Var("pair", idx)
    middle = For(pair, const(0, idx), const((steps - 2) // 2, idx), "serial",
                 seq(step(a, b, reach(pair * const(2, idx) + const(1, idx)), "r1"),
                     step(b, a, reach(pair * const(2, idx) + const(2, idx)), "r2")))
    body = seq(step(st.x, a, reach(const(0, idx)), "r0"), middle, step(a, y, const(0, idx), "r3"))
    tiles = -(-n // rows)
    loop = For(tile, const(0, idx), const(tiles, idx), "parallel", Allocate(a, Allocate(b, body)))
    root = Block("root", (), (), (), loop)
    return PrimFunc((x, y), BlockRealize((), const(True, "bool"), root),
                    (("global_symbol", "main"), ("mlc.scheduled", TEMPORAL_BLOCKED), ("tir.noalias", True)))


def _row_loops(dst: Buffer, where: tuple, cols: list[Var], col_regions: list[list[tuple[int, int]]],
               bounds: tuple, dtype: str, value_at, axis: int = 0):
    """The loops over a row's elements storing into ``dst``: serial, each axis from ``axis`` on
    cut into its ``col_regions``, each region storing ``value_at(bounds)`` (``bounds``: each
    axis's region so far), the middle region of the last axis in vectors (the last vector
    ending at the region's end)."""
    if not cols:
        return BufferStore(dst, value_at(bounds), where)
    var = cols[axis]
    idx = var.dtype
    parts = []
    if axis < len(cols) - 1:
        for k, (first, end) in enumerate(col_regions[axis]):
            inner = _row_loops(dst, where, cols, col_regions, bounds + ((first, end),), dtype, value_at, axis + 1)
            own = Var(f"{var.name}_{k}", idx)
            parts.append(For(own, const(first, idx), const(end - first, idx), "serial", substitute(inner, {var: own})))
        return seq(*parts)
    lanes = max(1, VECTOR_BYTES * 8 // max(8, dt.bits(dtype)))
    regions = col_regions[axis]
    for k, (first, end) in enumerate(regions):
        store = BufferStore(dst, value_at(bounds + ((first, end),)), (*where, *cols))
        width = end - first
        if width >= lanes and (len(regions) == 1 or k == 1):
            # vectors of the region on the vector grid of dst's memory, the first one starting
            # at the region's start and the last one ending at its end (they may recompute a few
            # of their neighbours': the same values, and the step reads none of what it writes)
            outer, lane = Var(f"{var.name}_{k}o", idx), Var(f"{var.name}_{k}v", idx)
            skew = _skew(dst, where, cols, first, lanes)
            if isinstance(skew, int):
                vectors = const(-(-(width + skew) // lanes), idx)
                offset = outer * const(lanes, idx) - const(skew, idx)
                offset = emax(offset, const(0, idx)) if skew else offset
            else:
                vectors = floordiv(skew + const(width + lanes - 1, idx), const(lanes, idx))
                offset = emax(outer * const(lanes, idx) - skew, const(0, idx))
            at = emin(offset, const(width - lanes, idx)) + const(first, idx) + lane
            parts.append(For(outer, const(0, idx), vectors, "serial",
                             For(lane, const(0, idx), const(lanes, idx), "vectorized", substitute(store, {var: at}))))
        else:
            own = Var(f"{var.name}_{k}", idx)
            parts.append(For(own, const(first, idx), const(width, idx), "serial", substitute(store, {var: own})))
    return seq(*parts)


def _skew(dst: Buffer, where: tuple, cols: list[Var], first: int, lanes: int):
    """How many elements past the vector grid of ``dst``'s memory (``lanes``-element vectors
    from its start) column ``first`` of the row at ``where``, ``cols[:-1]`` is: an int where
    every row starts on the grid (its length a multiple of ``lanes``), else an expression.
    A row's vectors start on that grid (but the first and the last, at the region's edges): a
    stencil's region starts a column or two in, and vectors from there would cross a cache
    line in half their loads and stores (benchmarks/results/decisions.md, "Temporal blocking")."""
    shape = static_shape(dst)
    if shape[-1] % lanes == 0:
        return first % lanes
    idx = cols[-1].dtype
    flat = where[0]
    for extent, col in zip(shape[1:-1], cols[:-1]):
        flat = flat * const(extent, idx) + col
    return floormod(flat * const(shape[-1], idx) + const(first, idx), const(lanes, idx))


def temporal_blocking(graph: Graph, l3_bytes: int = 0) -> Graph:
    """``graph`` with each time-step loop over a row stencil (see the module docstring) run
    :func:`blocking_plan`'s steps per sweep (for an L3 cache of ``l3_bytes``, 0: unknown): the
    kernels it adds join ``graph.module``."""
    if graph.module is None:
        return graph
    functions = dict(graph.module.items())
    bindings, changed = [], False
    for b in graph.bindings:
        new = _blocked(b, functions, l3_bytes)
        changed |= new is not None
        bindings.extend(new if new is not None else (b,))
    if not changed:
        return graph
    return graph.with_bindings(tuple(bindings), module=IRModule(functions))


def resident_l3_bytes(cpu: str, l3_bytes: int) -> int:
    """The L3 cache (bytes) that a step staying in it runs from at its arithmetic's pace on
    ``cpu`` (LLVM's name) with an L3 of ``l3_bytes``: all of it on :data:`FAST_L3_CPUS`, else 0
    (unknown: :func:`blocking_plan` makes no such test).

    >>> resident_l3_bytes("znver3", 32 << 20) == 32 << 20, resident_l3_bytes("sapphirerapids", 480 << 20)
    (True, 0)
    """
    return l3_bytes if cpu.startswith(FAST_L3_CPUS) else 0


def blocking_pass(l3_bytes: int):
    """:func:`temporal_blocking` for a CPU whose L3 cache holds ``l3_bytes`` (0: unknown), as a
    pass of its own name."""
    def temporal_blocking_for_l3(graph: Graph) -> Graph:
        return temporal_blocking(graph, l3_bytes)
    temporal_blocking_for_l3.__name__ = temporal_blocking.__name__
    return temporal_blocking_for_l3


def _blocked(b: Binding, functions: dict[str, PrimFunc], l3_bytes: int = 0) -> list[Binding] | None:
    """The bindings running loop ``b`` blocked, or None where it is no time-step loop over a
    row stencil, or blocking does not pay."""
    if b.op != "for_loop" or b.attr("num_carry") != 1 or len(b.args) != 3:
        return None
    lower, upper, init = b.args
    if not (isinstance(lower, Constant) and isinstance(upper, Constant)):
        return None
    trips = int(upper.data.item()) - int(lower.data.item())
    loop = b.attr("body")
    if len(loop.bindings) != 1 or len(loop.inputs) != 2:
        return None
    (call,) = loop.bindings
    index, carry = loop.inputs
    if call.op != "call_tir" or call.args != (carry,) or call.outputs != loop.outputs or \
            len(call.attrs) != 1 or call.attr("func") not in functions:
        return None
    stencil = find_stencil(functions[call.attr("func")])
    if stencil is None:
        return None
    plan = _plan(stencil, trips, l3_bytes)
    if plan is None:
        return None
    name = unique_name(f"{call.attr('func')}_blocked{plan.steps}", set(functions))
    functions[name] = blocked_kernel(stencil, plan).with_attr("global_symbol", name)
    sweep = Binding(call.outputs, "call_tir", call.args, (("func", name),), call.loc)
    sweeps, left = divmod(trips, plan.steps)
    dtype = lower.data.dtype
    blocked_loop = _loop(b, np.array(0, dtype), np.array(sweeps, dtype), init, loop.with_bindings((sweep,)))
    if not left:
        return [_with_outputs(blocked_loop, b.outputs)]
    mid = type(b.outputs[0])(unique_name(b.outputs[0].name + "_swept", set()), b.outputs[0].type)
    return [_with_outputs(blocked_loop, (mid,)),
            _loop(b, np.array(0, dtype), np.array(left, dtype), mid, loop)]


def _plan(st: Stencil, trips: int, l3_bytes: int = 0) -> Plan | None:
    """The plan of the smallest reach per step that :func:`covers` ``st`` (the stencil's own
    reach always does)."""
    itemsize = max(1, dt.bits(st.x.dtype) // 8)
    for halo in range(min(1, st.halo), st.halo + 1):
        plan = blocking_plan(static_shape(st.x), itemsize, halo, trips, MIN_ARRAY_BYTES, SCRATCH_BYTES, STEPS,
                             MAX_REDUNDANCY, l3_bytes)
        if plan is not None and (halo == st.halo or covers(st, plan)):
            return plan
    return None


def _loop(b: Binding, lower, upper, init, body: Graph) -> Binding:
    attrs = tuple((k, body if k == "body" else v) for k, v in b.attrs)
    return Binding(b.outputs, "for_loop", (constant(lower), constant(upper), init), attrs, b.loc)


def _with_outputs(b: Binding, outputs) -> Binding:
    return Binding(tuple(outputs), b.op, b.args, b.attrs, b.loc)

