"""The column rule: a reduction down the columns of a tall matrix, its rows split among the threads
(or, on one thread, swept in order).

A reduction whose reduced axis runs down a matrix's rows while its output runs
along them (``a.sum(axis=0)``, a vector times a matrix ``x @ A``, with ``x`` of one
dimension or a batch of one row: leading axes of extent 1 are let through) reads the
matrix a row at a time in the best case, the output as the accumulator. Split
into column blocks (the matmul rule's tiles, or the outer spatial loop in
parallel), each thread sweeps down its own columns: pieces of a few hundred
bytes, one per row, a row's length apart. With a row of 4 KiB (1024 float32)
every piece lands in the same cache sets and every row on a new page, which the
prefetchers do not follow (a 1024x1024 ``x @ A`` ran at half NumPy's speed).

So the rows are cut into parts (:func:`column_parts`: two per thread), the
reduction is rfactored over the parts, and each part is summed in parallel
into a row of partial sums of its own, streaming its rows whole, the columns
vectorized innermost, a few rows at a time (:func:`rows_per_step`: each vector
of partial sums loaded and stored once for all of them, as BLAS's gemv kernels
add four or eight columns of a column-major matrix at a time); then the parts'
rows are added (a few KiB)::

    for r_0 in T.parallel(4):                  # the parts of the rows
        for j in T.vectorized(...): Y_rf[r_0, j] = 0
        for r_1_0, j_0 in T.grid(64, 64):      # the part's rows, 4 at a time, each read whole
            for r_1_1 in T.unroll(4):          # the step's rows, on one vector of sums
                for j_1 in T.vectorized(16):
                    Y_rf[r_0, j] = Y_rf[r_0, j] + x[r_0 * 256 + r] * A[r_0 * 256 + r, j]
    for r_0 in range(4):
        for j_0, j_1 in ...: Y[j] = Y[j] + Y_rf[r_0, j]

It halves a large ``x @ A`` and ``sum(axis=0)`` on two cores (the numbers are in
``benchmarks/results/decisions.md``, "CPU columns"). On one thread there is nothing to split:
a sum's rows are swept in order into the output itself, a few at a time as above
(:func:`_sweep_rows`), where the other rules' plans walked the columns in blocks, each block
down every row, at half NumPy's ``sgemv`` or less (decisions.md, "CPU columns"); a max is left
to them (its steps would be a chain of compares and selects). The rule takes
a reduction only where the matrix is tall (:data:`MIN_ROWS`) and large
(:data:`MIN_BYTES` and :data:`MIN_ELEMENTS`), or its rows narrow and it at least
:data:`NARROW_MIN_BYTES` (the other rules run such a matrix on one thread): smaller
ones stay with the matmul or reduction rules, whose one sweep costs less than a
second pass over partial sums and a parallel launch.
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.expr import Binary, BufferLoad
from ...ir.functor import uses_var
from ...ir.tir import BufferStore
from ..state import all_blocks
from .patterns import contiguous_along, is_canonical, loop_extents, view
from .steps import CpuInfo, attempt, vectorize_innermost

__all__ = ["schedule_columns", "column_parts", "MIN_ROWS", "MIN_BYTES", "MIN_ELEMENTS", "NARROW_ROW_BYTES",
           "NARROW_MIN_BYTES", "MAX_ROWS_PER_STEP", "ROW_STEP_WAYS_SHARE", "rows_per_step"]

#: The fewest rows (the reduced extent) the rule takes.
MIN_ROWS = 256
#: The fewest bytes of the matrix the rule takes ...
MIN_BYTES = 2 << 20
#: ... and the fewest elements (MIN_BYTES of float32): what the threads share is a
#: multiply-add (or an add) per element, so a float64 matrix of MIN_BYTES, half as many
#: elements, is work that one sweep on one thread finishes as soon (the matmul rule's
#: PARALLEL_MIN_MACS), and in a loop's body, where the threads wake at every iteration,
#: sooner (``data[:, i] @ data`` of 600x500 float64: decisions.md, "CPU columns").
MIN_ELEMENTS = MIN_BYTES // 4
#: ... or, where its rows are at most NARROW_ROW_BYTES long, NARROW_MIN_BYTES.
NARROW_ROW_BYTES = 512
NARROW_MIN_BYTES = 256 << 10
#: Each part adds up to this many of its rows to a vector of its partial sums at a time
#: (:func:`rows_per_step`): a step loads and stores the sums once for all of them instead of
#: once a row, and the loop is bound by the reads of the matrix, not by the sums' stores
#: (benchmarks/results: the column rule rows).
MAX_ROWS_PER_STEP = 8
#: ... fewer (halved) where the step's rows as stored would take more than this share of the
#: ways of one L1 set (the CPU's associativity, :attr:`CpuInfo.l1_ways`): the share the matmul
#: rule leaves a register tile's rows (:data:`.matmul.SET_ROWS_WAYS_SHARE`).
ROW_STEP_WAYS_SHARE = 0.5


def column_parts(rows: int, cpu: CpuInfo) -> int:
    """The parts the rows are cut into: two per thread (one thread's share, split, balanced
    better over busy cores), each at least MIN_ROWS / 4 rows."""
    return max(1, min(2 * cpu.cores, rows // (MIN_ROWS // 4)))


def schedule_columns(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """A reduction down the columns of a tall matrix (see the module docstring): the rows
    in parts summed in parallel, then the parts. Returns the names of the blocks it
    scheduled (the partial sums', their sum's and their initialisations), or None where
    the block is not such a reduction or too small."""
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    blk = v.block
    ivs = blk.iter_vars
    if not blk.is_reduction or len(ivs) < 2 or len(v.loops) != len(ivs):
        return None
    # (unit axes: a batch of one row, ``x[None] @ A``), the columns, the rows
    *unit, (s, kind_s), (r, kind_r) = ((iv.var, iv.iter_type) for iv in ivs)
    if (kind_s, kind_r) != ("spatial", "reduce") or not is_canonical(v):
        return None
    extents = loop_extents(v)
    if None in extents or len(blk.writes) != 1 or any(kind != "spatial" for _, kind in unit) \
            or any(e != 1 for e in extents[:-2]):
        return None
    columns, rows = extents[-2:]
    out = blk.writes[0]
    if not out.region or out.region[-1].min is not s or not contiguous_along(s, blk.reads):
        return None
    # a read down the rows: r indexes a dimension before its last, s its last
    down = [rd for rd in blk.reads if len(rd.region) >= 2
            and any(uses_var(d.min, r) for d in rd.region[:-1]) and uses_var(rd.region[-1].min, s)]
    if not down or rows < MIN_ROWS:
        return None
    row_bytes = columns * max(dt.bits(rd.buffer.dtype) // 8 for rd in down)
    narrow = row_bytes <= NARROW_ROW_BYTES
    if rows * row_bytes < (NARROW_MIN_BYTES if narrow else MIN_BYTES) or \
            (not narrow and rows * columns < MIN_ELEMENTS):
        return None
    lanes = cpu.lanes(out.buffer.dtype)
    if cpu.cores < 2:  # (a max's steps are a chain of compares and selects: left to the other rules)
        return attempt(sch, _sweep_rows, func_name, name, lanes, rows_per_step(row_bytes, cpu)) if _sums(blk) else None
    parts = column_parts(rows, cpu)
    return attempt(sch, _split_rows, func_name, name, parts, lanes, rows_per_step(row_bytes, cpu))


def _sums(blk) -> bool:
    """Whether reduction block ``blk`` adds to its output (``Y[j] = Y[j] + ...``)."""
    body = blk.body
    return isinstance(body, BufferStore) and isinstance(body.value, Binary) and body.value.op == "add" \
        and isinstance(body.value.a, BufferLoad) and body.value.a.buffer is body.buffer


def _sweep_rows(sch, func_name: str, name: str, lanes: int, step: int) -> set[str] | None:
    """One thread's form: the rows swept in order into the output itself, ``step`` rows at a
    time (:func:`_step_rows`), the columns vectorized innermost; the names of the blocks it
    made and ``name``'s (None, undone, if a row is shorter than a vector)."""
    before = _block_names(sch, func_name)
    block = sch.get_block(name, func_name)
    *unit, j, row = sch.get_loops(block)
    sch.reorder(*unit, row, j)
    if vectorize_innermost(sch, block, lanes) is None:
        return None
    row = _step_rows(sch, block, row, step)
    sch.decompose_reduction(block, row)
    return {name} | (_block_names(sch, func_name) - before)


def _split_rows(sch, func_name: str, name: str, parts: int, lanes: int, step: int) -> set[str] | None:
    """Rows in ``parts`` rfactored and summed in parallel, ``step`` rows at a time
    (:func:`_step_rows`), then the parts added up; the names of the blocks it made and
    ``name``'s (None, undone, if a row is shorter than a vector)."""
    before = _block_names(sch, func_name)
    block = sch.get_block(name, func_name)
    r = sch.get_loops(block)[-1]
    part, _ = sch.split(r, [parts, None])
    rf = sch.rfactor(part, 0)  # Y_rf[part, ..., j]: the partial sums of each part's rows
    *unit, j, part, row = sch.get_loops(rf)
    sch.reorder(part, *unit, row, j)
    if vectorize_innermost(sch, rf, lanes) is None:
        return None
    sch.parallel(part)
    row = _step_rows(sch, rf, row, step)
    sch.decompose_reduction(rf, row)
    *unit, j, part = sch.get_loops(block)  # the parts added up, a whole row of them at a time
    sch.reorder(*unit, part, j)
    vectorize_innermost(sch, block, lanes)
    sch.decompose_reduction(block, part)
    return {name} | (_block_names(sch, func_name) - before)


def _block_names(sch, func_name: str) -> set[str]:
    return {loc.node.block.name_hint for loc in all_blocks(sch.mod[func_name])}


def rows_per_step(row_bytes: int, cpu: CpuInfo) -> int:
    """The rows of a part added to each vector of its partial sums at a time: MAX_ROWS_PER_STEP,
    halved while those rows, ``row_bytes`` apart, would take more than ROW_STEP_WAYS_SHARE
    of the ways of one set of the L1 data cache (rows a multiple of 4 KiB long put all their
    lines of a step in one set, beside the partial sums' and the lines the prefetchers bring).

    >>> zen3 = CpuInfo(256, 2, caches=(32 << 10, 512 << 10, 32 << 20), l1_ways=8)
    >>> rows_per_step(16384, zen3), rows_per_step(8000, zen3), rows_per_step(120000, zen3)
    (4, 8, 8)
    >>> rows_per_step(4096, CpuInfo(256, 2, caches=(48 << 10, 2 << 20, 32 << 20), l1_ways=12))
    4
    """
    rows = MAX_ROWS_PER_STEP
    while rows > 1 and cpu.l1_set_lines(rows, [row_bytes]) > ROW_STEP_WAYS_SHARE * cpu.l1_ways:
        rows //= 2
    return rows


def _step_rows(sch, rf, row, rows: int):
    """``rows`` rows of the part (``row``, the partial sums' reduction loop) at a time, unrolled
    inside the vector loop's outer loop, so each vector of partial sums is loaded and stored
    once for them all. Returns the loop of steps, the reduction's outermost loop now."""
    if rows <= 1:
        return row
    loops = sch.get_loops(rf)
    step, within = sch.split(row, [None, rows])
    if loops[-2] is not row:  # columns in more than one vector: the step's rows go inside them
        sch.reorder(loops[-2], within)
    sch.unroll(within)
    return step
