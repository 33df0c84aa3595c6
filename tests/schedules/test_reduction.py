"""decompose_reduction and rfactor: golden IR, handles, errors, replay, numerics."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.ir import Buffer, decl_buffer, const
from mlc.ir.tir import BufferStore
from mlc.schedules import Schedule
from mlc.script import parse

from .block_programs import (V, assert_replays, assert_same_numerics, block, course_module, func,
                             loops, module)

ZERO = const(0.0, "float32")


def row_sum(n=4, m=8):
    A = te.placeholder((n, m), "float32", name="A")
    k = te.reduce_axis((0, m), name="k")
    S = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), name="S")
    return mlc.IRModule({"main": te.create_prim_func([A, S])})


def test_decompose_reduction_at_the_outermost_loop_golden():
    n = 4
    sch = Schedule(course_module(n))
    block_Y = sch.get_block("Y")
    i, _, _ = sch.get_loops(block_Y)
    init = sch.decompose_reduction(block_Y, i)
    A, B, C, Y = (decl_buffer((n, n), "float32", x) for x in ("A", "B", "C", "Y"))
    ii, ji, i_, j_, k_, ci, cj = (V(x) for x in ("i_init", "j_init", "i", "j", "k", "i", "j"))
    y_init = block("Y_init", [("vi", n, "S"), ("vj", n, "S")], (ii, ji),
                   lambda vi, vj: BufferStore(Y, ZERO, (vi, vj)), reads=lambda vi, vj: ())
    y_update = block("Y_update", [("vi", n, "S"), ("vj", n, "S"), ("vk", n, "R")], (i_, j_, k_),
                     lambda vi, vj, vk: BufferStore(Y, Y[vi, vj] + A[vi, vk] * B[vk, vj], (vi, vj)),
                     reads=lambda vi, vj, vk: (Y[vi:vi + 1, vj:vj + 1], A[vi:vi + 1, vk:vk + 1],
                                               B[vk:vk + 1, vj:vj + 1]))
    c = block("C", [("vi", n, "S"), ("vj", n, "S")], (ci, cj),
              lambda vi, vj: BufferStore(C, mlc.ir.expr.max(Y[vi, vj], ZERO), (vi, vj)))
    expected = func((A, B, C), (Y,), loops([(ii, n), (ji, n)], y_init),
                    loops([(i_, n), (j_, n), (k_, n)], y_update), loops([(ci, n), (cj, n)], c))
    mlc.assert_structural_equal(sch.mod, module(expected, "mm_relu"))
    assert sch._blocks[init][1] == "Y_init" and sch._blocks[block_Y][1] == "Y_update"
    assert len(sch.get_loops(block_Y)) == 3  # the handle follows the update block
    assert_same_numerics(course_module(n), sch.mod)
    assert_replays(sch, lambda: course_module(n))


def test_decompose_reduction_at_the_reduction_loop_needs_no_init_loops():
    sch = Schedule(course_module(4))
    block_Y = sch.get_block("Y")
    _, _, k = sch.get_loops(block_Y)
    sch.decompose_reduction(block_Y, k)
    text = sch.mod.script()
    assert "for i, j in T.grid(4, 4):\n            with T.block(\"Y_init\"):" in text
    assert_same_numerics(course_module(4), sch.mod)


def test_decompose_reduction_errors():
    sch = Schedule(course_module(4))
    block_Y = sch.get_block("Y")
    i, j, k = sch.get_loops(block_Y)
    ci, _ = sch.get_loops(sch.get_block("C"))
    with pytest.raises(ScheduleError, match=r"decompose_reduction: block 'C', loop 'i'.*not a reduction"):
        sch.decompose_reduction(sch.get_block("C"), ci)
    with pytest.raises(ScheduleError, match=r"block 'Y', loop 'i': the loop is not above the block"):
        sch.decompose_reduction(block_Y, ci)
    sch.reorder(k, j)
    with pytest.raises(ScheduleError, match="reduction iterator vk is bound to k, which uses a loop outside 'j'"):
        sch.decompose_reduction(block_Y, j)


def test_rfactor_golden():
    n, m = 4, 8
    sch = Schedule(row_sum(n, m))
    _, k = sch.get_loops(sch.get_block("S"))
    rf = sch.rfactor(k, 0)
    assert sch._blocks[rf][1] == "S_rf"
    A, S = decl_buffer((n, m), "float32", "A"), decl_buffer((n,), "float32", "S")
    S_rf = Buffer("S_rf", (const(m), const(n)), "float32")
    i1, k1, i2, k2 = V("i"), V("k"), V("i"), V("k")
    rf_block = block("S_rf", [("vk", m, "S"), ("vi", n, "S")], (k1, i1),
                     lambda vk, vi: BufferStore(S_rf, A[vi, vk], (vk, vi)))
    wb = block("S", [("vi", n, "S"), ("vk", m, "R")], (i2, k2),
               lambda vi, vk: BufferStore(S, S[vi] + S_rf[vk, vi], (vi,)),
               init=lambda vi, vk: BufferStore(S, ZERO, (vi,)))
    expected = func((A, S), (S_rf,), loops([(i1, n), (k1, m)], rf_block), loops([(i2, n), (k2, m)], wb))
    mlc.assert_structural_equal(sch.mod, module(expected))
    assert_same_numerics(row_sum(n, m), sch.mod)
    assert_replays(sch, lambda: row_sum(n, m))


@settings(max_examples=12, deadline=None)
@given(n=st.sampled_from([1, 3]), m=st.sampled_from([1, 4, 10]), factor=st.sampled_from([1, 3, 4]),
       inner=st.booleans(), axis=st.sampled_from([0, 1, -1]))
def test_rfactor_of_a_split_reduction_keeps_numerics(n, m, factor, inner, axis):
    sch = Schedule(row_sum(n, m))
    block_S = sch.get_block("S")
    _, k = sch.get_loops(block_S)
    k0, k1 = sch.split(k, factors=[None, factor])
    rf = sch.rfactor(k1 if inner else k0, axis)
    assert len(sch.get_loops(rf)) == 3
    assert_same_numerics(row_sum(n, m), sch.mod)


def test_rfactor_then_decompose_on_the_course_matmul():
    make = lambda: course_module(8)  # noqa: E731
    sch = Schedule(make())
    block_Y = sch.get_block("Y")
    _, _, k = sch.get_loops(block_Y)
    k0, k1 = sch.split(k, factors=[2, None])
    rf = sch.rfactor(k0, 2)
    assert "Y_rf = T.alloc_buffer((8, 8, 2))" in sch.mod.script()
    sch.decompose_reduction(rf, sch.get_loops(rf)[-1])
    assert_same_numerics(make(), sch.mod, rtol=1e-4)
    assert_replays(sch, make)


@settings(max_examples=12, deadline=None)
@given(n=st.sampled_from([1, 3]), m=st.integers(5, 23), factor=st.sampled_from([2, 4, 8]))
def test_decompose_reduction_of_a_ragged_rfactor_inits_every_accumulator(n, m, factor):
    """A ragged split's predicate ``k_0 * F + k_1 < m`` mixes the rf block's spatial k_1 with
    its reduction k_0; it holds at k_0 = 0 for every k_1 (F <= m), so the init (one per
    accumulator) runs unconditionally: the original block ran it at k_0 = 0 everywhere."""
    if factor > m:
        return
    sch = Schedule(row_sum(n, m))
    _, k = sch.get_loops(sch.get_block("S"))
    _, k1 = sch.split(k, factors=[None, factor])
    rf = sch.rfactor(k1, 1)
    i, acc, red = sch.get_loops(rf)
    sch.reorder(red, acc)
    init = sch.decompose_reduction(rf, red)
    assert "T.where" not in sch.mod["main"].script().split('T.block("S_rf_update")')[0]
    assert len(sch.get_loops(init)) == 2
    assert_same_numerics(row_sum(n, m), sch.mod)
    assert_replays(sch, lambda: row_sum(n, m))


MIXED_PREDICATE = """
@T.prim_func
def main(A: T.Buffer((8,), "float32"), R: T.Buffer((4,), "float32")):
    for j, k0 in T.grid(4, 2):
        with T.block("R"):
            vj, vk0 = T.axis.remap("SR", [j, k0])
            T.where(k0 * 4 + j >= 2)
            with T.init():
                R[vj] = T.float32(0)
            R[vj] = R[vj] + A[vk0 * 4 + vj]
"""


def test_decompose_reduction_still_refuses_a_mixed_predicate_false_at_the_first_step():
    """``k0 * 4 + j >= 2`` fails at k0 = 0 for j < 2: the original block inits those
    accumulators at no step (or a later one), so no unconditional init can stand in."""
    sch = Schedule(mlc.IRModule({"main": parse(MIXED_PREDICATE)}))
    j, _ = sch.get_loops(sch.get_block("R"))
    with pytest.raises(ScheduleError, match="mixes the init's loops with reduction loops"):
        sch.decompose_reduction(sch.get_block("R"), j)


def test_rfactor_errors():
    sch = Schedule(course_module(4))
    block_Y = sch.get_block("Y")
    i, j, k = sch.get_loops(block_Y)
    with pytest.raises(ScheduleError, match=r"rfactor: block 'Y', loop 'i': the loop is not a reduction loop"):
        sch.rfactor(i, 0)
    with pytest.raises(ScheduleError, match=r"factor_axis must be in \[-3, 2\]"):
        sch.rfactor(k, 3)
    ci, _ = sch.get_loops(sch.get_block("C"))
    with pytest.raises(ScheduleError, match="the block is not a reduction"):
        sch.rfactor(ci, 0)
    sch.reverse_compute_at(sch.get_block("C"), i)
    with pytest.raises(ScheduleError, match="must be alone in its loop nest"):
        sch.rfactor(k, 0)
    with pytest.raises(ScheduleError, match=r"exactly one block under the loop, found \['Y', 'C'\]"):
        sch.rfactor(i, 0)


def test_decompose_reduction_refuses_a_loop_that_reruns_the_reduction():
    """After compute_at under a consumer's j loop, S is recomputed per j; hoisting its init out of j
    would accumulate several times (found by the fuzzer)."""
    from tests.schedules.test_block_fuzz import normalize
    sch = Schedule(normalize(1, 5))
    _, j = sch.get_loops(sch.get_block("D"))
    sch.compute_at(sch.get_block("S"), j)
    i = sch.get_loops(sch.get_block("S"))[0]
    before = sch.mod
    with pytest.raises(ScheduleError, match="loop 'j' does not index the block"):
        sch.decompose_reduction(sch.get_block("S"), i)
    mlc.assert_structural_equal(sch.mod, before)


@pytest.mark.parametrize("target", ["llvm", "reference"])
@pytest.mark.parametrize("reducer, identity", [(te.sum, 0.0), (te.max, -np.inf)])
def test_rfactor_of_a_symbolic_reduction_that_is_empty_still_runs_the_init(target, reducer, identity):
    """The write-back carried ``k_1 < n``, which with n = 0 kept its init from running too: the
    output kept what it held. The rf entries left out now add the reducer's identity."""
    n = te.var("n")
    A = te.placeholder((n,), "float32", name="A")
    k = te.reduce_axis((0, n), name="k")
    B = te.compute((1,), lambda i: reducer(A[k], axis=k), name="B")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    _, kl = sch.get_loops(sch.get_block("B"))
    sch.rfactor(sch.split(kl, [None, 4])[1], 0)
    lib = mlc.build(sch.mod, target)
    for size in (5, 0, 3, 1):
        x = np.arange(1, size + 1, dtype=np.float32)
        out = np.full(1, 7.0, np.float32)
        lib["main"](x, out)
        want = (x.sum() if reducer is te.sum else x.max()) if size else identity
        np.testing.assert_array_equal(out, [want])
