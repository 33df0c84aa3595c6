"""The row rule: a kernel of row reductions and their elementwise neighbours
(softmax, layer_norm, ``x - x.mean(axis=-1, keepdims=True)``) runs one row at
a time.

Fusion (:mod:`mlc.passes.graph.fuse`) puts a reduction over trailing axes in
one kernel with its producers and the consumers of its broadcast result.
Scheduled block by block, each stage would stream the whole tensor through
memory once; this rule instead moves every stage under the outer ("row")
loops of the last block, so a row is read from memory once and stays in L1
while its maximum, exponentials, sum and quotient are computed::

    for i0 in T.parallel(4096):                      # one row per iteration
        for k_1 in T.vectorized(32): T_max_rf[k_1] = -inf
        for k_0 in range(32):                        # 4 vector accumulators
            for k_1_0 in T.unroll(4):
                for k_1_1 in T.vectorized(8):
                    T_max_rf[...] = T.max(T_max_rf[...], x[i0, k_0 * 32 + ...])
        ... T_max_rf_1[0:8] = max of the 4 vectors, T_max[0] = max of its 8 lanes
        for j_0, j_1 in ...: T_exp[j] = T.exp(x[i0, j] - T_max[0])   # vectorized
        ... the same two-level reduction for the sum ...
        for j_0, j_1 in ...: T_divide[i0, j] = T_exp[j] / T_sum[0]

Intermediate buffers shrink to one row (buffer compaction). A reduction over
a contiguous axis is split by :func:`accumulator_width` and rfactored, so it
keeps several vector accumulators in registers: a max reduction, whose
NaN-propagating select LLVM does not vectorize itself, runs on vectors too.
:func:`schedule_row_reduction` does the same for such a reduction on its own
(``x.max(axis=-1)``).

The rule applies only when every stage keeps the row dimensions of the last
block, and is undone when moving the stages would recompute anything (the
block instance count must not grow).
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.arith import same_expr
from ...ir.expr import IntImm
from ...ir.functor import uses_var
from ..analysis import is_param
from ..state import all_blocks, loops_above
from .conv import match_conv
from .patterns import is_canonical, match_matmul, view, view_by_name
from .row_jam import jam_last_pass, jam_rows
from . import row_passes
from .row_passes import align_to_steps, mark_last_pass, merge_row_passes, reduction_steps
from .steps import CpuInfo, attempt, estimated_extent, parallelize_outer, restore, vectorize_innermost

__all__ = ["schedule_rows", "schedule_row_parts", "schedule_row_reduction", "row_depth", "accumulator_width", "row_accumulators",
           "ACCUMULATORS", "ROW_TILE_ACCUMULATORS", "MAX_TILE_ROWS"]

#: The block instances from which a row kernel's rows run in parallel by its largest block's
#: work (a row statistic of 4096 rows of 1024); below it by its last block's, as small kernels
#: (a CNN's pooling of a batch) always were.
LARGE_ROW_WORK = 1 << 18
#: Vector accumulators a rfactored reduction keeps (enough to hide the add/max latency).
ACCUMULATORS = 4
#: Vector registers of accumulators for rows reduced side by side (:func:`_row_tiles`) with
#: 16 vector registers; twice as many with 32.
ROW_TILE_ACCUMULATORS = 8
#: At most this many rows side by side.
MAX_TILE_ROWS = 8


def _instances_per_block(func) -> list[int]:
    """How many instances of each block the function executes (the product of the loop
    extents above it)."""
    out = []
    for loc in all_blocks(func):
        n = 1
        for f in loops_above(loc):
            n *= estimated_extent(f.extent)
        out.append(n)
    return out


def _instances(func) -> int:
    """Block instances the function executes (product of the loop extents above each block)."""
    return sum(_instances_per_block(func))


def _largest_block(func) -> int:
    """The instances of the block the function executes most often (product of the loop
    extents above it): the work that decides whether its rows are shared among threads."""
    return max(_instances_per_block(func), default=0)


def _has_empty_loop(func) -> bool:
    """A loop of extent 0 anywhere: an empty tensor, nothing worth scheduling."""
    return any(isinstance(f.extent, IntImm) and f.extent.value == 0
               for loc in all_blocks(func) for f in loops_above(loc))


def row_depth(func, names: list[str]) -> int:
    """How many leading dimensions of the last block's output every other block's
    output shares (0 when some block does not keep the rows)."""
    out = view_by_name(func, names[-1]).block.writes[0].buffer.shape
    depth = len(out) - 1
    for name in names[:-1]:
        blk = view_by_name(func, name).block
        if len(blk.writes) != 1:
            return 0
        shape = blk.writes[0].buffer.shape
        d = 0
        while d < min(depth, len(shape)) and _same_extent(shape[d], out[d]):
            d += 1
        depth = d
    return depth


def _same_extent(a, b) -> bool:
    """Equal constants, or the same symbolic extent (a batch ``n``)."""
    return (isinstance(a, IntImm) and isinstance(b, IntImm) and a.value == b.value) or \
        (not isinstance(a, IntImm) and same_expr(a, b))


def accumulator_width(extent: int, lanes: int) -> int | None:
    """The split of a reduction loop of ``extent`` into vector accumulators:
    ``lanes * ACCUMULATORS`` (or fewer accumulators) dividing the extent at least twice;
    where none divides it, as many as fit twice, the last block of the loop ragged
    (:func:`~mlc.passes.tir.partition_tiles` peels it off and
    :func:`~mlc.passes.tir.vectorize_loops` runs its lanes in narrower vectors, where a
    scalar loop would run ten times slower: benchmarks/results/decisions.md, "CPU rows")."""
    if lanes < 2:
        return None
    for acc in range(ACCUMULATORS, 0, -1):
        width = lanes * acc
        if extent % width == 0 and extent >= 2 * width:
            return width
    acc = min(ACCUMULATORS, extent // (2 * lanes))
    return lanes * acc if acc else None


def _rfactor_inner(sch, func_name: str, name: str, cpu: CpuInfo, once: bool = False) -> list[str] | None:
    """Split the innermost (reduce, contiguous) loop of reduction ``name`` into
    vector accumulators and rfactor them; the accumulators are then combined a
    vector at a time (a second rfactor) before the last vector's lanes, unless
    ``once``. Returns the rf blocks' names."""
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    if not is_canonical(v) or not v.loops:
        return None
    iv = v.block.iter_vars[-1]
    extent = v.loops[-1].extent
    if iv.iter_type != "reduce" or not isinstance(extent, IntImm) or len(v.block.writes) != 1:
        return None
    if not _walks_last_axis(v, iv):
        return None
    out = v.block.writes[0].buffer
    width, vector = row_accumulators(extent.value, cpu.lanes(out.dtype))
    if width is None:
        return None
    _, inner = sch.split(sch.get_loops(block)[-1], [None, width])
    rfs = [view(sch, sch.rfactor(inner, len(out.shape))).name]
    if width > vector and not once:
        _, inner = sch.split(sch.get_loops(block)[-1], [None, vector])
        rfs.append(view(sch, sch.rfactor(inner, len(out.shape))).name)
    return rfs


def row_accumulators(extent: int, lanes: int) -> tuple[int | None, int]:
    """(accumulator width, vector width) for a row reduction of ``extent``:
    :func:`accumulator_width` in vectors of ``lanes``; where no such width divides the
    extent but two or more half vectors do, those, up to twice as many as whole ones (a
    row of 1000 floats on AVX-512: five 8-lane accumulators instead of a ragged split,
    which compute_at cannot carry under the rows of a softmax, which then takes four
    passes over the rows instead of one).

    >>> row_accumulators(1024, 16), row_accumulators(1000, 16), row_accumulators(1001, 16)
    ((64, 16), (40, 8), (64, 16))
    """
    width = accumulator_width(extent, lanes)
    half = lanes // 2
    if width is None or extent % width == 0 or half < 2:
        return width, lanes
    for acc in range(2 * ACCUMULATORS, 1, -1):  # (one half vector alone: latency-bound)
        if extent % (half * acc) == 0 and extent >= 2 * half * acc:
            return half * acc, half
    return width, lanes


def _accumulators_inside(sch, func_name: str, rf_name: str) -> bool:
    """Order an rf block's two inner loops: the reduction outside, the accumulators inside
    (rfactor leaves them outside it, except under the rows of a ragged split,
    :func:`_ragged_rows`)."""
    rf = sch.get_block(rf_name, func_name)
    loops = sch.get_loops(rf)
    v = view(sch, rf)
    innermost = v.loops[-1].loop_var
    drives_reduce = any(iv.iter_type == "reduce" and value is innermost
                        for value, iv in zip(v.realize.iter_values, v.block.iter_vars))
    acc, red = (loops[-2], loops[-1]) if drives_reduce else (loops[-1], loops[-2])
    sch.reorder(red, acc)
    return True


def _vector_accumulators(sch, func_name: str, rf_name: str, lanes: int, ordered: bool = False) -> bool:
    """Order an rf block (outer reduction, inner accumulators: already so where ``ordered``),
    move its init out, and keep the accumulators in vector registers (unrolled vectors)."""
    if not ordered:
        _accumulators_inside(sch, func_name, rf_name)
    rf = sch.get_block(rf_name, func_name)
    init = sch.decompose_reduction(rf, sch.get_loops(rf)[-2])
    return _vectorize_partial_sums(sch, rf, init, lanes)


def _one_pass(sch, func_name: str, firsts: list[str], spatial: list[str], row_loop, cpu: CpuInfo) -> set[str]:
    """Sibling stages of the row in one loop (:mod:`.row_passes`): the accumulators of the
    rfactor blocks ``firsts`` (the first of each reduction's) put inside their reduction
    loops, the ``spatial`` blocks split to the reductions' steps, and the loops under
    ``row_loop`` merged where they may be; returns the rfactor blocks already ordered."""
    ordered = {rf for rf in firsts if attempt(sch, _accumulators_inside, func_name, rf)}
    steps = reduction_steps(sch, func_name, ordered)
    if steps is not None:
        attempt(sch, _aligned_and_merged, func_name, firsts, spatial, row_loop, steps, cpu)
    return ordered


def _aligned_and_merged(sch, func_name: str, firsts: list[str], spatial: list[str], row_loop, steps: int,
                        cpu: CpuInfo):
    """:func:`_one_pass`'s splits and merges; None (undone) where no loop merged."""
    for name in spatial:
        attempt(sch, align_to_steps, func_name, name, row_loop, steps, cpu.lanes(_dtype(sch, func_name, name)))
    registers = {rf: _accumulator_vectors(sch, func_name, rf, cpu) for rf in firsts}
    merged = merge_row_passes(sch, func_name, row_loop, steps, firsts + spatial, registers,
                              cpu.vector_registers // 2)
    return True if merged else None


def _accumulator_vectors(sch, func_name: str, rf: str, cpu: CpuInfo) -> int:
    """The vector registers rfactor block ``rf``'s accumulators take (its innermost loop's
    extent in vectors)."""
    v = view_by_name(sch.mod[func_name], rf)
    extent = v.loops[-1].extent
    lanes = cpu.lanes(v.block.writes[0].buffer.dtype)
    return -(-extent.value // lanes) if isinstance(extent, IntImm) else ACCUMULATORS


def _rf_under_rows(sch, func_name: str, rfs: list[str], row_loop) -> bool:
    """The rf blocks moved under the row loop of the reduction, each row's accumulators
    computed right before they are combined."""
    for rf in reversed(rfs):
        sch.compute_at(sch.get_block(rf, func_name), row_loop)
    return True


def _ragged_rows(sch, func_name: str, name: str, cpu: CpuInfo, saved, rows: int) -> list[str]:
    """The same nest built the other way round, for a ragged split of the reduction whose
    predicate (``k_0 * 64 + k_1 < 1001``) compute_at cannot carry: from ``saved`` (before
    the rfactors), one rfactor and the reduction moved under its row loops (which then
    combines the accumulators one by one: rfactor wants a block alone in its nest, and
    the accumulators' reads by a second one are no point per iterator for
    reverse_compute_at)."""
    restore(sch, saved)
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    out = v.block.writes[0].buffer
    lanes = cpu.lanes(out.dtype)
    # at most two vectors of accumulators: the reduction combines them one by one
    # (benchmarks/results/decisions.md, "CPU rows")
    width = min(accumulator_width(v.loops[-1].extent.value, lanes), 2 * lanes)
    _, inner = sch.split(sch.get_loops(block)[-1], [None, width])
    rfs = [view(sch, sch.rfactor(inner, len(out.shape))).name]
    row_loop = sch.get_loops(sch.get_block(rfs[0], func_name))[rows - 1]
    sch.reverse_compute_at(sch.get_block(name, func_name), row_loop)
    return rfs


def _row_tiles(sch, func_name: str, name: str, cpu: CpuInfo) -> list[str] | None:
    """A matrix-vector product (a reduction over the rows' last axis with an operand the
    rows share) computed for several rows side by side: two vectors of accumulators a row
    (one where two do not divide the row), up to ROW_TILE_ACCUMULATORS vector registers of
    them (twice as many with 32 registers) in at most MAX_TILE_ROWS rows that divide the
    rows; then each row's lanes folded (one vector load and a tree:
    :mod:`mlc.passes.tir.horizontal`)::

        for i_0 in T.parallel(125):                          # 8 rows a tile
            Y_rf[0:8, 0:32] = 0
            for k_0 in range(32):
                for i_1 in T.unroll(8):
                    for k_1_0 in T.unroll(2):
                        for k_1_1 in T.vectorized(16):
                            Y_rf[i_1, k_1] += A[i_0 * 8 + i_1, k_0 * 32 + k_1] * x[k_0 * 32 + k_1]
            for i_1, k_1 in T.grid(8, 32): Y[i_0 * 8 + i_1] += Y_rf[i_1, k_1]

    A row on its own is a chain of dependent updates of its few accumulators, and a
    matrix-vector product loads ``x`` again for every row; eight rows side by side keep
    sixteen independent chains in flight and load each vector of ``x`` once for all of
    them (benchmarks/results/decisions.md, "CPU rows").
    None where the rows or the reduction do not divide so (or are symbolic)."""
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    if not is_canonical(v) or len(v.loops) < 2 or len(v.block.writes) != 1:
        return None
    iv, k_loop, row_loop = v.block.iter_vars[-1], v.loops[-1], v.loops[-2]
    if iv.iter_type != "reduce" or not isinstance(k_loop.extent, IntImm) or \
            not isinstance(row_loop.extent, IntImm) or not _walks_last_axis(v, iv):
        return None
    if any(f.loop_var is not val for f, val in zip(v.loops[:-1], v.realize.iter_values[:-1])) or \
            v.block.iter_vars[-2].iter_type != "spatial":
        return None
    row_var = v.block.iter_vars[-2].var
    if all(uses_var([rng.min for rng in r.region], row_var) for r in v.block.reads):
        return None  # no operand shared by the rows (a plain sum or max streams its rows)
    out = v.block.writes[0].buffer
    lanes = cpu.lanes(out.dtype)
    k, m = k_loop.extent.value, row_loop.extent.value
    shape = next(((n, w) for n, w in ((2, lanes), (2, lanes // 2), (1, lanes), (1, lanes // 2))
                  if w >= 2 and k % (n * w) == 0 and k >= 2 * n * w), None)
    if shape is None:
        return None
    per_row, vector = shape
    most = min(MAX_TILE_ROWS, ROW_TILE_ACCUMULATORS * (2 if cpu.vector_registers >= 32 else 1) // per_row)
    rows = next((r for r in range(most, 1, -1) if m % r == 0), None)
    if rows is None:
        return None
    loops = sch.get_loops(block)
    _, inner = sch.split(loops[-1], [None, per_row * vector])
    rf = sch.rfactor(inner, len(out.shape))
    rf_loops = sch.get_loops(rf)
    rfv = view(sch, rf)
    drives = {val for val, it in zip(rfv.realize.iter_values, rfv.block.iter_vars) if it.iter_type == "reduce"}
    red, acc = (rf_loops[-1], rf_loops[-2]) if rfv.loops[-1].loop_var in drives else (rf_loops[-2], rf_loops[-1])
    tile, row = sch.split(rf_loops[-3], [None, rows])
    sch.reorder(tile, red, row, acc)
    init = sch.decompose_reduction(rf, red)
    for loop in (acc, sch.get_loops(init)[-1]):  # the accumulators: unrolled vectors
        unrolled, lane = sch.split(loop, [None, vector])
        sch.vectorize(lane)
        sch.unroll(unrolled)
    sch.unroll(row)
    sch.unroll(sch.get_loops(init)[-3])
    sch.reverse_compute_at(sch.get_block(name, func_name), tile)
    sch.unroll(sch.get_loops(sch.get_block(name, func_name))[-2])  # each row's fold
    return [view(sch, rf).name]


def _walks_last_axis(v, iv) -> bool:
    """Whether reduce variable ``iv`` indexes only the last dimension of what ``v`` reads."""
    return all(d == len(r.region) - 1 for r in v.block.reads for d, rng in enumerate(r.region) if rng.min is iv.var)


def schedule_row_reduction(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """A reduction along a contiguous axis (``x.max(axis=-1)``) on its own: rows side by
    side (:func:`_row_tiles`) where they divide so, else vector accumulators computed per
    output element; outer spatial loops in parallel."""
    v = view(sch, sch.get_block(name, func_name))
    pat = match_matmul(v)
    # a matrix-vector product (no row axis i in the matmul's terms: each output is a dot
    # product along k) is a row reduction too, when k runs along both operands' rows
    if not v.block.is_reduction or (pat is not None and pat.i is not None) or _has_empty_loop(v.func):
        return None
    work = 1
    for f in v.loops:
        work *= estimated_extent(f.extent)
    before = set(_block_names(sch, func_name))
    if attempt(sch, _row_tiles, func_name, name, cpu) is not None:
        attempt(sch, parallelize_outer, sch.get_block(name, func_name), cpu, work)
        return {name} | (set(_block_names(sch, func_name)) - before)
    saved = sch.copy()
    rfs = _rfactor_inner(sch, func_name, name, cpu)
    if rfs is None:
        return None
    block = sch.get_block(name, func_name)
    loops = sch.get_loops(block)
    if len(loops) >= 2 and attempt(sch, _rf_under_rows, func_name, rfs, loops[-2]) is None:
        rfs = _ragged_rows(sch, func_name, name, cpu, saved, len(loops) - 1)
    lanes = cpu.lanes(v.block.writes[0].buffer.dtype)
    for rf in rfs:
        attempt(sch, _vector_accumulators, func_name, rf, lanes)
    attempt(sch, parallelize_outer, sch.get_block(name, func_name), cpu, work)
    return {name} | (set(_block_names(sch, func_name)) - before)


def _block_names(sch, func_name: str) -> list[str]:
    return [loc.node.block.name_hint for loc in all_blocks(sch.mod[func_name])]


def schedule_rows(sch, func_name: str, cpu: CpuInfo) -> set[str] | None:
    """Compute every block under the row loops of the last block, reductions with
    vector accumulators, spatial blocks vectorized, rows in parallel.

    Returns the names of the blocks scheduled (all of them), or None when the
    function is not such a kernel.
    """
    func = sch.mod[func_name]
    names = _block_names(sch, func_name)
    if len(names) < 2 or _has_empty_loop(func):
        return None
    last = view_by_name(func, names[-1])
    if last.block.is_reduction or not is_canonical(last) or len(last.block.writes) != 1 \
            or not is_param(func, last.block.writes[0].buffer):
        return None
    views = [view_by_name(func, n) for n in names[:-1]]
    if any(len(v.loops) == 0 or (v.block.is_reduction and (match_matmul(v) is not None or _is_conv(v)))
           for v in views):
        return None
    reductions = [v.name for v in views if v.block.is_reduction]
    depth = row_depth(func, names)
    if not reductions or depth < 1:
        return None
    rfs: list[str] = []
    firsts: list[str] = []
    for name in reductions:
        made = attempt(sch, _rfactor_inner, func_name, name, cpu) or []
        rfs += made
        firsts += made[:1]
    before = _instances(sch.mod[func_name])
    anchor = sch.get_block(names[-1], func_name)
    row_loop = sch.get_loops(anchor)[depth - 1]
    producers = [n for n in _block_names(sch, func_name) if n != names[-1]]
    for name in reversed(producers):
        sch.compute_at(sch.get_block(name, func_name), row_loop)
    if _instances(sch.mod[func_name]) > before:
        return None   # some stage would be computed more than once per row
    spatial = [n for n in producers + [names[-1]]
               if n not in rfs and not view_by_name(sch.mod[func_name], n).block.is_reduction]
    ordered = _one_pass(sch, func_name, firsts, spatial, row_loop, cpu)
    for name in producers + [names[-1]]:
        if name in rfs:
            attempt(sch, _vector_accumulators, func_name, name, cpu.lanes(_dtype(sch, func_name, name)),
                    name in ordered)
        elif not view_by_name(sch.mod[func_name], name).block.is_reduction:
            attempt(sch, vectorize_innermost, sch.get_block(name, func_name),
                    cpu.lanes(_dtype(sch, func_name, name)))
    attempt(sch, lambda s: mark_last_pass(s, func_name, names[-1],
                                          s.get_loops(s.get_block(names[-1], func_name))[depth - 1]) or None)
    # a row statistic (``x.mean(axis=1, keepdims=True)``: one output element per row) still reads
    # whole rows: a large one is judged by its largest block's work, not by its last block's
    largest = _largest_block(sch.mod[func_name])
    attempt(sch, parallelize_outer, sch.get_block(names[-1], func_name), cpu,
            largest if largest >= LARGE_ROW_WORK else None)
    return set(_block_names(sch, func_name))


def _is_conv(v) -> bool:
    """A convolution-like reduction (over input channels and a window: two reduce iterators or
    more): the convolution rule tiles it in registers, its epilogue (a bias, a ReLU) fused in;
    under the row rule its batch's rows ran it scalar (the small CNN's conv + bias: 150 us
    where the convolution alone took 40)."""
    return sum(iv.iter_type == "reduce" for iv in v.block.iter_vars) >= 2 and match_conv(v) is not None


def _dtype(sch, func_name: str, name: str) -> str:
    return view_by_name(sch.mod[func_name], name).block.writes[0].buffer.dtype


def schedule_row_parts(sch, func_name: str, cpu: CpuInfo) -> set[str] | None:
    """Rows in parts, each part's column sums kept in one row of partial sums beside its rows
    (``nn.layer_norm_vjp``): one spatial output over the rows ``(n, m)`` (the anchor), row
    statistics ``(n,)`` before it, and column sums ``(parts, m)`` over each part's ``n //
    parts`` consecutive rows (gamma's and beta's partial gradients). The anchor's rows are
    split into parts and a part's rows into groups of :func:`~.row_jam.jam_rows` rows; every
    statistic is computed under the row loop, and the spatial output and the column sums
    under the group loop, for the group's rows side by side (:mod:`.row_jam`: each partial
    sum loaded and stored once for the group); the parts run in parallel, so each thread
    reads a row of x and ct from memory once and keeps its partial sums in cache. The last
    pass asks ahead (:data:`~.row_passes.ASK_AHEAD_PARTS`): for the next group's lines of what
    it reads, into the L2, and for the lines of the output it writes a few steps on::

        for p in T.parallel(parts):
            colsum[p, 0:m] = 0
            for g in range(n // parts // 4):      # rows p * (n // parts) + g * 4 + 0..3
                for q in range(4):
                    ...                          # each statistic of the row (vector accumulators)
                for j_0 in range(m // 32):
                    for q in T.unroll(4), j_1 in T.unroll(2), T.vectorized(16):
                        colsum[p, j] += ...      # the group's terms of the column sums
                    for q in T.unroll(4), ...:
                        out[row, j] = ...        # the group's rows of the spatial output

    Returns the names of the blocks scheduled, or None where the function is not such a kernel."""
    func = sch.mod[func_name]
    names = _block_names(sch, func_name)
    if len(names) < 3 or _has_empty_loop(func):
        return None
    views = {n: view_by_name(func, n) for n in names}
    if any(len(v.block.writes) != 1 or not is_canonical(v) or not v.loops for v in views.values()):
        return None
    outputs = [n for n in names if is_param(func, views[n].block.writes[0].buffer)]
    shapes = {n: views[n].block.writes[0].buffer.shape for n in names}
    anchors = [n for n in outputs if not views[n].block.is_reduction and len(shapes[n]) == 2]
    if len(anchors) != 1 or names[0] in outputs:
        return None
    anchor = anchors[0]
    n_rows, m = shapes[anchor]
    rows = [n for n in names if _same_extent(shapes[n][0], n_rows) and len(shapes[n]) in (1, 2)]
    tails = [n for n in names if n not in rows]
    if not tails or any(len(shapes[n]) != 2 or not _same_extent(shapes[n][1], m) for n in tails) \
            or any(len(shapes[n]) != 1 for n in rows if n != anchor) or not isinstance(n_rows, IntImm):
        return None
    parts = shapes[tails[0]][0]
    if not isinstance(parts, IntImm) or n_rows.value % parts.value \
            or any(not _same_extent(shapes[n][0], parts) for n in tails) \
            or not all(views[n].block.is_reduction for n in tails if n not in outputs) \
            or any(views[n].block.is_reduction and len(shapes[n]) == 2 and match_matmul(views[n]) is not None
                   for n in names):  # (a row statistic may be a matrix-vector product: ct @ gamma)
        return None
    return attempt(sch, _row_parts, func_name, rows, tails, anchor, parts.value, cpu, True) or \
        attempt(sch, _row_parts, func_name, rows, tails, anchor, parts.value, cpu, False)


def _row_parts(sch, func_name: str, rows, tails, anchor: str, parts: int, cpu: CpuInfo,
               groups: bool) -> set[str] | None:
    """:func:`schedule_row_parts`'s steps, once its kernel is recognised, the last pass over
    groups of rows where ``groups`` (None, undone, where a step does not apply)."""
    work = _largest_block(sch.mod[func_name])
    rfs: list[str] = []  # the row statistics in vector accumulators (one rfactor: the sum of the
    for name in rows:    # accumulators reads them one point per iterator, as moving it needs)
        if name != anchor and view_by_name(sch.mod[func_name], name).block.is_reduction:
            rfs += attempt(sch, _rfactor_inner, func_name, name, cpu, True) or []
    before = _instances(sch.mod[func_name])
    order = _block_names(sch, func_name)
    first = sch.get_block(order[0], func_name)
    v = view(sch, first)
    row_var = v.block.writes[0].region[0].min  # (the rows' iterator: the first index it writes)
    bound = {id(iv.var): val for iv, val in zip(v.block.iter_vars, v.realize.iter_values)}
    loops = sch.get_loops(first)
    row_loops = [l for l, f in zip(loops, v.loops) if f.loop_var is bound.get(id(row_var))]
    if not row_loops:
        return None
    if row_loops[0] is not loops[0]:
        sch.reorder(row_loops[0], loops[0])
    # a stage reading only the function's inputs (a row's sum of ct * gamma) has no producer to
    # follow under the row loop: its row loop is merged into the first stage's instead
    written = set().union(*(_written(sch.mod[func_name], name) for name in order))
    inside = {name for name in order[1:] if name not in tails and not _reads_any(sch.mod[func_name], name, written)
              and attempt(sch, _merge_rows, func_name, order[0], name)}
    part_loop, row_loop = sch.split(sch.get_loops(sch.get_block(order[0], func_name))[0], [parts, None])
    # the last pass over a row (the output and the rows' terms of the column sums), for a group
    # of rows side by side (:mod:`.row_jam`); the row's statistics, row by row before it
    last = [n for n in order if n == anchor or (n in tails and view_by_name(sch.mod[func_name], n).block.is_reduction)]
    jam = jam_rows(view_by_name(sch.mod[func_name], order[0]).loops[1].extent.value,
                   _row_strides(sch.mod[func_name], last, anchor), cpu) if groups else 1
    group_loop = row_loop
    if jam > 1:
        group_loop, row_loop = sch.split(row_loop, [None, jam])
    for name in order[1:]:
        if name in inside:
            continue
        block = sch.get_block(name, func_name)
        if name in tails and not view_by_name(sch.mod[func_name], name).block.is_reduction:
            sch.reverse_compute_at(block, part_loop)  # (a cast of a column sum, once its part is added up)
        else:
            sch.reverse_compute_at(block, group_loop if name in last else row_loop)
    if _instances(sch.mod[func_name]) > before:
        return None   # some stage would be computed more than once per row
    spatial = [n for n in _block_names(sch, func_name) if n not in rfs and (jam == 1 or n not in last) and (
        n in tails or not view_by_name(sch.mod[func_name], n).block.is_reduction)]
    ordered = _one_pass(sch, func_name, rfs, spatial, row_loop, cpu)
    if jam > 1 and jam_last_pass(sch, func_name, last, group_loop, jam, cpu) is None:
        return None
    for name in _block_names(sch, func_name):
        lanes = cpu.lanes(_dtype(sch, func_name, name))
        if name in rfs:
            attempt(sch, _vector_accumulators, func_name, name, lanes, name in ordered)
        elif not view_by_name(sch.mod[func_name], name).block.is_reduction:
            attempt(sch, vectorize_innermost, sch.get_block(name, func_name), lanes)
        elif name in tails:  # the part's column sums: set before its first row, a row added at a time
            block = sch.get_block(name, func_name)
            attempt(sch, vectorize_innermost, block, lanes)
            sch.decompose_reduction(block, group_loop)
    attempt(sch, lambda s: mark_last_pass(s, func_name, anchor, group_loop, row_passes.ASK_AHEAD_PARTS) or None)
    if work >= MIN_PARALLEL_WORK_PARTS and cpu.cores >= 2:
        sch.parallel(part_loop)
    return set(_block_names(sch, func_name))


def _row_strides(func, names, anchor: str) -> list[int]:
    """The row strides in bytes of the matrices of ``anchor``'s shape (constant) that blocks
    ``names`` read or write, each once: what the last pass over a row streams."""
    shape = view_by_name(func, anchor).block.writes[0].buffer.shape
    if not all(isinstance(e, IntImm) for e in shape):
        return []
    seen, strides = set(), []
    for name in names:
        block = view_by_name(func, name).block
        for region in (*block.reads, *block.writes):
            b = region.buffer
            if id(b) not in seen and len(b.shape) == 2 and all(_same_extent(e, f) for e, f in zip(b.shape, shape)):
                seen.add(id(b))
                strides.append(shape[1].value * dt.bits(b.dtype) // 8)
    return strides


def _merge_rows(sch, func_name: str, first: str, name: str) -> bool | None:
    """Block ``name``'s outermost loop, over the rows as ``first``'s is, merged into ``first``'s."""
    rows = sch.get_loops(sch.get_block(first, func_name))[0]
    v = view(sch, sch.get_block(name, func_name))
    row_var = v.block.writes[0].region[0].min
    if not v.loops or not any(val is v.loops[0].loop_var and iv.var is row_var
                              for iv, val in zip(v.block.iter_vars, v.realize.iter_values)):
        return None
    sch.merge(rows, sch.get_loops(sch.get_block(name, func_name))[0])
    return True


def _written(func, name: str) -> set[int]:
    """The ids of the buffers block ``name`` writes."""
    return {id(w.buffer) for w in view_by_name(func, name).block.writes}


def _reads_any(func, name: str, buffers: set[int]) -> bool:
    """Whether block ``name`` reads one of ``buffers`` (ids)."""
    return any(id(r.buffer) in buffers for r in view_by_name(func, name).block.reads)


#: The fewest block instances for which :func:`schedule_row_parts` runs its parts in parallel.
MIN_PARALLEL_WORK_PARTS = 1 << 14


def _vectorize_partial_sums(sch, rf, init, lanes: int) -> bool:
    """Vectorizes the partial sums of an rfactor block ``rf`` and their ``init``: the innermost
    loop in vectors of ``lanes`` (halved until it divides the extent, as row_accumulators
    does), the vectors unrolled."""
    attempt(sch, lambda s: s.vectorize(s.get_loops(init)[-1]) or True)
    inner = sch.get_loops(rf)[-1]
    extent = view(sch, rf).loops[-1].extent.value
    while lanes > 2 and extent % lanes:
        lanes //= 2
    if extent == lanes:
        sch.vectorize(inner)
        return True
    unrolled, vec = sch.split(inner, [None, lanes])
    sch.vectorize(vec)
    attempt(sch, lambda s: s.unroll(unrolled) or True)
    return True
