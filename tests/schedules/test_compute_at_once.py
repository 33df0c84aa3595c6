"""compute_at of a block that is not idempotent: each of its iterations runs once, in order.

A pure producer may be recomputed wherever its consumers need it. A block that updates
what it reads (an in-place update, a decomposed reduction's update) or has an opaque
iterator (a scan) must run each iteration exactly once under its new loops, and a scan
in its original order; compute_at refuses a place where it would not, and what it
accepts computes what the unscheduled program does.
"""
import pytest

import mlc
from mlc import ScheduleError, te
from mlc.schedules import Schedule

from .block_programs import assert_same_numerics


def _row_sum_minus():
    A = te.placeholder((5, 11), "float32", "A")
    k = te.reduce_axis((0, 11), "k")
    B = te.compute((5,), lambda i: te.sum(A[i, k], axis=k), "B")
    C = te.compute((5, 11), lambda i, j: A[i, j] - B[i], "C")
    return mlc.IRModule({"main": te.create_prim_func([A, C])})


def _doubled():
    return mlc.parse('''
@I.ir_module
class M:
    @T.prim_func
    def main(A: T.Buffer((4, 6), "float32"), C: T.Buffer((4, 6), "float32")):
        B = T.alloc_buffer((4,))
        for i in range(4):
            with T.block("init"):
                vi = T.axis.spatial(4, i)
                B[vi] = A[vi, 0]
        for i in range(4):
            with T.block("upd"):
                vi = T.axis.spatial(4, i)
                B[vi] = B[vi] * T.float32(2)
        for i, j in T.grid(4, 6):
            with T.block("out"):
                vi, vj = T.axis.remap("SS", [i, j])
                C[vi, vj] = A[vi, vj] + B[vi]
''')


def _scan():
    return mlc.parse('''
@I.ir_module
class M:
    @T.prim_func
    def main(A: T.Buffer((10,), "float32"), C: T.Buffer((9,), "float32")):
        B = T.alloc_buffer((10,))
        with T.block("first"):
            B[0] = A[0]
        for i in range(9):
            with T.block("scan"):
                vi = T.axis.opaque(9, i)
                B[vi + 1] = B[vi] + A[vi + 1]
        for i in range(9):
            with T.block("out"):
                vi = T.axis.spatial(9, i)
                C[vi] = B[vi]
''')


@pytest.mark.parametrize("parallel", [False, True])
def test_a_decomposed_update_moves_under_the_loop_that_runs_each_row_once(parallel):
    sch = Schedule(_row_sum_minus())
    sch.decompose_reduction(sch.get_block("B"), sch.get_loops(sch.get_block("B"))[0])
    i, _ = sch.get_loops(sch.get_block("C"))
    if parallel:
        sch.parallel(i)
    sch.compute_at(sch.get_block("B_update"), i)
    assert_same_numerics(_row_sum_minus(), sch.mod)


def test_a_decomposed_update_is_refused_under_a_loop_that_would_rerun_it():
    sch = Schedule(_row_sum_minus())
    sch.decompose_reduction(sch.get_block("B"), sch.get_loops(sch.get_block("B"))[0])
    _, j = sch.get_loops(sch.get_block("C"))
    before = sch.mod
    with pytest.raises(ScheduleError, match=r"block 'B_update', loop 'j': its iteration vi=0, vk=0 would run in "
                                            r"several iterations of the loop.*updates what it reads and has no init"):
        sch.compute_at(sch.get_block("B_update"), j)
    mlc.assert_structural_equal(sch.mod, before)


def test_an_in_place_update_runs_once_per_row():
    sch = Schedule(_doubled())
    i, j = sch.get_loops(sch.get_block("out"))
    with pytest.raises(ScheduleError, match=r"block 'upd', loop 'j': its iteration vi=0 would run in several"):
        sch.compute_at(sch.get_block("upd"), j)
    sch.compute_at(sch.get_block("upd"), i)
    assert_same_numerics(_doubled(), sch.mod)


def test_a_scan_moves_under_a_loop_that_keeps_its_order_and_not_under_one_that_does_not():
    sch = Schedule(_scan())
    (i,) = sch.get_loops(sch.get_block("out"))
    sch.compute_at(sch.get_block("scan"), i)
    assert_same_numerics(_scan(), sch.mod)

    sch = Schedule(_scan())
    outer, inner = sch.split(sch.get_loops(sch.get_block("out"))[0], [3, 3])
    sch.reorder(inner, outer)
    with pytest.raises(ScheduleError, match=r"block 'scan', loop 'i_0': its iteration vi=0 would run after later "
                                            r"ones.*out of order \(it has an opaque iterator\)"):
        sch.compute_at(sch.get_block("scan"), outer)


def test_a_scan_is_refused_under_a_parallel_loop():
    sch = Schedule(_scan())
    outer, inner = sch.split(sch.get_loops(sch.get_block("out"))[0], [3, 3])
    sch.parallel(outer)
    with pytest.raises(ScheduleError, match=r"must run in order.*loop i_0 \(parallel\)"):
        sch.compute_at(sch.get_block("scan"), inner)


@pytest.mark.parametrize("thread", ["threadIdx.x", "blockIdx.x"])
def test_a_scan_loop_cannot_be_bound_to_threads(thread):
    sch = Schedule(_scan())
    (i,) = sch.get_loops(sch.get_block("scan"))
    with pytest.raises(ScheduleError, match=r"bind: loop i drives the opaque iterator vi of block 'scan'"):
        sch.bind(i, thread)
