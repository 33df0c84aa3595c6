"""The last pass over a group of rows side by side: the row-parts rule's unroll-and-jam.

In ``nn.layer_norm_vjp`` (:func:`~.rows.schedule_row_parts`), the last pass over a row
computes dx and adds the row's terms to the part's partial column sums (gamma's and beta's
gradients): each vector of partial sums is loaded, updated and stored again for every row.
Here the rows' statistics are computed row by row for a group of :func:`jam_rows` rows, and
the last pass then runs over the group's rows side by side, a few vectors of columns a step::

    for g in range(64):                          # a group of 4 rows of the part
        for q in range(4): ...                   # each row's statistics, as before
        for j_0 in range(32):                    # one pass over the group's rows
            for q in T.unroll(4):
                for j_1 in T.unroll(2):
                    for j_2 in T.vectorized(16): dgamma[p, j] += ct[r, j] * xhat[r, j]
            for q in T.unroll(4): ...            # dbeta[p, j] += ct[r, j]
            for q in T.unroll(4): ...            # dx[r, j] = ...

The four rows' updates of one vector of partial sums follow one another, so LLVM keeps it in
a register between them (one load and one store for the group, not four), and gamma's vector
is loaded once for the group too (benchmarks/grad_vs_forward.py). The rows' statistics of a
group are read at ``p * rows + g * 4 + q``: :meth:`~mlc.Schedule.reverse_compute_at` derives
the run of rows a group produces (``_fused_points``).

A group is no larger than the L1 data cache's ways allow (:func:`jam_rows`, the CPU's
associativity: :attr:`~.steps.CpuInfo.l1_ways`): where a row is a multiple of the L1's way
long (its size over its ways: 4 KiB, 1024 float32 values, on 8-way 32 KiB and 12-way 48 KiB
caches alike), the group's rows of a matrix sit in the same L1 set, the rows of the other
matrices the pass reads and writes likely too (large arrays start at the same offset in
their pages), and a step of the pass touches ``rows x matrices`` lines of that one set; more
than its ways, and they evict each other within the step. On 32 KiB (8-way) L1s four rows of
x, ct and dx (12 lines) thrash, two (6) do not; 48 KiB (12-way) L1s take four
(benchmarks/results/decisions.md, "Rows side by side and the L1's ways").
"""
from __future__ import annotations

from ...ir.functor import uses_var
from .patterns import loop_extents, view

__all__ = ["jam_rows", "jam_last_pass", "JAM_ROWS", "JAM_VECTORS"]

#: The most rows whose last pass runs side by side (a power of two).
JAM_ROWS = 4
#: Vectors of columns a step of the jammed pass takes for each row.
JAM_VECTORS = 2


def jam_rows(rows: int, strides=(), cpu=None) -> int:
    """The rows of a group for a part of ``rows`` rows: the most up to JAM_ROWS dividing them,
    with at least two groups, whose rows of the matrices of row ``strides`` (bytes) the last
    pass reads and writes take no more lines of one L1 set than ``cpu``'s L1 has ways
    (:meth:`~.steps.CpuInfo.l1_set_lines`; no limit where the associativity is unknown) (1: no groups).

    >>> from mlc.schedules.default.steps import CpuInfo
    >>> jam_rows(256), jam_rows(6), jam_rows(3), jam_rows(4)
    (4, 2, 1, 2)
    >>> zen3, spr = CpuInfo(256, 2, caches=(32 << 10, 0, 0), l1_ways=8), CpuInfo(512, 2, caches=(48 << 10, 0, 0), l1_ways=12)
    >>> jam_rows(256, [4096] * 3, zen3), jam_rows(256, [4096] * 3, spr), jam_rows(256, [2048] * 3, zen3)
    (2, 4, 4)
    """
    ways = cpu.l1_ways if cpu is not None else 0
    jam = JAM_ROWS
    while jam > 1 and (rows % jam or rows == jam or (ways > 0 and cpu.l1_set_lines(jam, strides) > ways)):
        jam //= 2
    return jam


def jam_last_pass(sch, func_name: str, names: list[str], group_loop, jam: int, cpu) -> bool | None:
    """Blocks ``names``, each under ``group_loop`` in a nest of two loops (the group's ``jam``
    rows and the row's columns, in either order), as one loop over steps of columns: each
    block's columns split into (steps, JAM_VECTORS vectors, a vector), the rows between the
    steps and the vectors, unrolled with them, and the blocks' step loops merged; None (for
    :func:`~.steps.attempt` to undo) where a nest is not so or the columns do not divide."""
    group_var = sch._loop(group_loop, "default schedule")[2].node.loop_var
    depth = None
    for name in names:
        block = sch.get_block(name, func_name)
        v = view(sch, block)
        at = next((k for k, f in enumerate(v.loops) if f.loop_var is group_var), None)
        if at is None or len(v.loops) != at + 3 or None in loop_extents(v)[at + 1:]:
            return None
        nest, handles = v.loops[at + 1:], sch.get_loops(block)[at + 1:]
        r = _row_position(v, nest, jam)
        if r is None:
            return None
        lanes = cpu.lanes(v.block.writes[0].buffer.dtype)
        columns = nest[1 - r].extent.value
        if lanes < 2 or columns % (JAM_VECTORS * lanes) or columns == JAM_VECTORS * lanes:
            return None
        step, vectors, lane = sch.split(handles[1 - r], [None, JAM_VECTORS, lanes])
        sch.reorder(step, vectors, handles[r], lane)
        depth = at + 1
    for name in names[1:]:
        sch.merge(sch.get_loops(sch.get_block(names[0], func_name))[depth],
                  sch.get_loops(sch.get_block(name, func_name))[depth])
    for name in names:
        for loop in sch.get_loops(sch.get_block(name, func_name))[depth + 1:depth + 3]:
            sch.unroll(loop)
    return True


def _row_position(v, nest, jam: int) -> int | None:
    """Which of the two loops ``nest`` (of block view ``v``) runs over the group's rows: the
    one of extent ``jam`` that the block's first write index (dx's row) or its reduce
    iterator (a column sum's row) uses; None where neither is so."""
    rows = [k for k, f in enumerate(nest) if f.extent.value == jam
            and any(uses_var([value], f.loop_var) for iv, value in zip(v.block.iter_vars, v.realize.iter_values)
                    if iv.iter_type == "reduce" or iv.var is v.block.writes[0].region[0].min)]
    return rows[0] if len(rows) == 1 else None
