"""compute_at, reverse_compute_at, sample_compute_location: golden IR, errors, replay, numerics."""
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.ir import decl_buffer, const
from mlc.ir.expr import max as tmax
from mlc.ir.tir import BufferStore, seq
from mlc.schedules import Schedule

from .block_programs import (V, assert_replays, assert_same_numerics, block, course_module,
                             elementwise_chain, func, loops, module)

COURSE_TEXT = '''\
        Y = T.alloc_buffer((128, 128))
        for i, j_0 in T.grid(128, 32):
            for j_1_init in range(4):
                with T.block("Y_init"):
                    vi = T.axis.spatial(128, i)
                    vj = T.axis.spatial(128, j_0 * 4 + j_1_init)
                    T.reads()
                    T.writes(Y[vi, vj])
                    Y[vi, vj] = T.float32(0)
            for k, j_1 in T.grid(128, 4):
                with T.block("Y_update"):
                    vi = T.axis.spatial(128, i)
                    vj = T.axis.spatial(128, j_0 * 4 + j_1)
                    vk = T.axis.reduce(128, k)
                    T.reads(Y[vi, vj], A[vi, vk], B[vk, vj])
                    T.writes(Y[vi, vj])
                    Y[vi, vj] = Y[vi, vj] + A[vi, vk] * B[vk, vj]
            for ax0 in range(4):
                with T.block("C"):
                    vi = T.axis.spatial(128, i)
                    vj = T.axis.spatial(128, j_0 * 4 + ax0)
                    T.reads(Y[vi, vj])
                    T.writes(C[vi, vj])
                    C[vi, vj] = T.max(Y[vi, vj], T.float32(0))'''


def course_schedule(n=128, decompose=True):
    sch = Schedule(course_module(n))
    block_Y = sch.get_block("Y", func_name="mm_relu")
    i, j, k = sch.get_loops(block_Y)
    j0, j1 = sch.split(j, factors=[None, 4])
    sch.reorder(j0, k, j1)
    sch.reverse_compute_at(sch.get_block("C", "mm_relu"), j0)
    if decompose:
        sch.decompose_reduction(block_Y, k)
    return sch


def test_course_sequence_prints_the_course_structure():
    sch = course_schedule()
    header = ('@I.ir_module\nclass Module:\n    @T.prim_func\n    def mm_relu(A: T.Buffer((128, 128), '
              '"float32"), B: T.Buffer((128, 128), "float32"), C: T.Buffer((128, 128), "float32")):\n'
              '        T.func_attr({"global_symbol": "mm_relu", "tir.noalias": True})\n')
    assert sch.mod.script() == header + COURSE_TEXT


def test_course_sequence_replays_and_computes_the_same():
    sch = course_schedule(16)
    assert_replays(sch, lambda: course_module(16))
    assert_same_numerics(course_module(16), sch.mod)


def _mm_relu_buffers(n):
    return [decl_buffer((n, n), "float32", name) for name in ("A", "B", "C", "Y")]


def _y_block(A, B, Y, n, values):
    return block("Y", [("vi", n, "S"), ("vj", n, "S"), ("vk", n, "R")], values,
                 lambda vi, vj, vk: BufferStore(Y, Y[vi, vj] + A[vi, vk] * B[vk, vj], (vi, vj)),
                 init=lambda vi, vj, vk: BufferStore(Y, const(0.0, "float32"), (vi, vj)))


def _c_block(C, Y, n, values):
    return block("C", [("vi", n, "S"), ("vj", n, "S")], values,
                 lambda vi, vj: BufferStore(C, tmax(Y[vi, vj], const(0.0, "float32")), (vi, vj)))


def test_reverse_compute_at_golden():
    n = 16
    sch = course_schedule(n, decompose=False)
    A, B, C, Y = _mm_relu_buffers(n)
    i, j0, k, j1, ax0 = V("i"), V("j_0"), V("k"), V("j_1"), V("ax0")
    body = loops([(i, n), (j0, n // 4)], seq(
        loops([(k, n), (j1, 4)], _y_block(A, B, Y, n, (i, j0 * 4 + j1, k))),
        loops([(ax0, 4)], _c_block(C, Y, n, (i, j0 * 4 + ax0)))))
    mlc.assert_structural_equal(sch.mod, module(func((A, B, C), (Y,), body), "mm_relu"))


def test_compute_at_golden_moves_the_reduction_under_the_consumer():
    n = 8
    sch = Schedule(course_module(n))
    _, j = sch.get_loops(sch.get_block("C"))
    sch.compute_at(sch.get_block("Y"), j)
    A, B, C, Y = _mm_relu_buffers(n)
    i, jj, ax0 = V("i"), V("j"), V("ax0")
    body = loops([(i, n), (jj, n)], seq(
        loops([(ax0, n)], _y_block(A, B, Y, n, (i, jj, ax0))),
        _c_block(C, Y, n, (i, jj))))
    mlc.assert_structural_equal(sch.mod, module(func((A, B, C), (Y,), body), "mm_relu"))
    assert_same_numerics(course_module(n), sch.mod)
    assert_replays(sch, lambda: course_module(n))


def test_compute_at_preserve_unit_loops_golden():
    sch = Schedule(elementwise_chain(4, 6))
    _, j = sch.get_loops(sch.get_block("C"))
    sch.compute_at(sch.get_block("B"), j, preserve_unit_loops=True)
    A, Bb, C = (decl_buffer((4, 6), "float32", n) for n in "ABC")
    i, jj, ax0, ax1 = V("i"), V("j"), V("ax0"), V("ax1")
    b = block("B", [("vi", 4, "S"), ("vj", 6, "S")], (i + ax0, jj + ax1),
              lambda vi, vj: BufferStore(Bb, A[vi, vj] * const(2.0, "float32"), (vi, vj)))
    c = block("C", [("vi", 4, "S"), ("vj", 6, "S")], (i, jj),
              lambda vi, vj: BufferStore(C, Bb[vi, vj] + const(1.0, "float32"), (vi, vj)))
    body = loops([(i, 4), (jj, 6)], seq(loops([(ax0, 1), (ax1, 1)], b), c))
    mlc.assert_structural_equal(sch.mod, module(func((A, C), (Bb,), body)))
    assert_same_numerics(elementwise_chain(4, 6), sch.mod)


def test_compute_at_clips_a_ragged_tile_with_a_predicate():
    sch = Schedule(elementwise_chain(3, 10))
    _, j = sch.get_loops(sch.get_block("C"))
    j0, _ = sch.split(j, factors=[None, 4])
    sch.compute_at(sch.get_block("B"), j0)
    text = sch.mod.script()
    assert "vj = T.axis.spatial(10, j_0 * 4 + ax0)" in text
    assert "T.where(j_0 * 4 + ax0 < 10)" in text
    assert_same_numerics(elementwise_chain(3, 10), sch.mod)
    assert_replays(sch, lambda: elementwise_chain(3, 10))


@settings(max_examples=12, deadline=None)
@given(n=st.sampled_from([1, 3, 5, 8]), m=st.sampled_from([1, 2, 7, 9]), factor=st.sampled_from([1, 2, 3, 4]),
       reverse=st.booleans())
def test_compute_at_on_ragged_splits_keeps_numerics(n, m, factor, reverse):
    sch = Schedule(elementwise_chain(n, m))
    if reverse:
        _, j = sch.get_loops(sch.get_block("B"))
        j0, _ = sch.split(j, factors=[None, factor])
        sch.reverse_compute_at(sch.get_block("C"), j0)
    else:
        _, j = sch.get_loops(sch.get_block("C"))
        j0, _ = sch.split(j, factors=[None, factor])
        sch.compute_at(sch.get_block("B"), j0)
    assert_same_numerics(elementwise_chain(n, m), sch.mod)


@settings(max_examples=8, deadline=None)
@given(n=st.sampled_from([2, 5, 8]), factor=st.sampled_from([2, 3, 4]))
def test_course_sequence_on_ragged_sizes(n, factor):
    sch = Schedule(course_module(n))
    block_Y = sch.get_block("Y")
    i, j, k = sch.get_loops(block_Y)
    j0, j1 = sch.split(j, factors=[None, factor])
    sch.reorder(j0, k, j1)
    sch.reverse_compute_at(sch.get_block("C"), j0)
    sch.decompose_reduction(block_Y, k)
    assert_same_numerics(course_module(n), sch.mod, rtol=1e-4)


# -------------------------------------------------------------------- errors

def three_blocks(n=8):
    """B = A * 2; C = B + 1; D = B - 1 (two consumers of B)."""
    A = te.placeholder((n,), "float32", name="A")
    B = te.compute((n,), lambda i: A[i] * 2, name="B")
    C = te.compute((n,), lambda i: B[i] + 1, name="C")
    D = te.compute((n,), lambda i: B[i] - 1, name="D")
    return mlc.IRModule({"main": te.create_prim_func([A, C, D])})


def test_compute_at_errors_name_block_loop_and_reason():
    sch = Schedule(three_blocks())
    (ci,) = sch.get_loops(sch.get_block("C"))
    with pytest.raises(ScheduleError, match=r"compute_at: block 'B', loop 'i'.*block 'D' also reads"):
        sch.compute_at(sch.get_block("B"), ci)
    (bi,) = sch.get_loops(sch.get_block("B"))
    with pytest.raises(ScheduleError, match="already inside this loop"):
        sch.compute_at(sch.get_block("B"), bi)
    with pytest.raises(ScheduleError, match="no block under the loop reads what this block writes"):
        sch.compute_at(sch.get_block("C"), bi)
    assert "# <--" in _message(lambda: sch.compute_at(sch.get_block("B"), ci))
    assert all(inst.kind != "compute_at" for inst in sch.trace)  # failed calls are not recorded


def _message(call) -> str:
    with pytest.raises(ScheduleError) as info:
        call()
    return str(info.value)


def test_compute_at_refuses_an_output_parameter():
    A = te.placeholder((8,), "float32", name="A")
    B = te.compute((8,), lambda i: A[i] * 2, name="B")
    C = te.compute((8,), lambda i: B[i] + 1, name="C")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, B, C])}))
    (ci,) = sch.get_loops(sch.get_block("C"))
    with pytest.raises(ScheduleError, match="writes the function parameter B"):
        sch.compute_at(sch.get_block("B"), ci)


def test_compute_at_refuses_to_break_a_dependence():
    n = 8
    A, B, C = (decl_buffer((n,), "float32", x) for x in "ABC")
    i1, i2, i3 = V("i"), V("i"), V("i")
    copy = block("B", [("vi", n, "S")], (i1,), lambda vi: BufferStore(B, A[vi], (vi,)))
    clobber = block("Z", [("vi", n, "S")], (i2,), lambda vi: BufferStore(A, const(0.0, "float32"), (vi,)))
    use = block("C", [("vi", n, "S")], (i3,), lambda vi: BufferStore(C, B[vi], (vi,)))
    f = func((A, C), (B,), loops([(i1, n)], copy), loops([(i2, n)], clobber), loops([(i3, n)], use))
    sch = Schedule(module(f))
    (ci,) = sch.get_loops(sch.get_block("C"))
    with pytest.raises(ScheduleError, match="past block 'Z' would break a dependence: it writes A"):
        sch.compute_at(sch.get_block("B"), ci)


def test_reverse_compute_at_errors():
    sch = Schedule(course_module(8))
    block_Y = sch.get_block("Y")
    (_, cj) = sch.get_loops(sch.get_block("C"))
    with pytest.raises(ScheduleError, match="no block under the loop produces a buffer this block reads"):
        sch.reverse_compute_at(block_Y, cj)
    other = Schedule(three_blocks())
    (di,) = other.get_loops(other.get_block("D"))
    with pytest.raises(ScheduleError, match="no block under the loop produces"):
        other.reverse_compute_at(other.get_block("C"), di)


def test_reverse_compute_at_refuses_a_window_read():
    A = te.placeholder((9,), "float32", name="A")
    B = te.compute((9,), lambda i: A[i] * 2, name="B")
    C = te.compute((8,), lambda i: B[i] + B[i + 1], name="C")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, C])}))
    (bi,) = sch.get_loops(sch.get_block("B"))
    with pytest.raises(ScheduleError, match=r"reads B\[vi:vi \+ 2\], not one point"):
        sch.reverse_compute_at(sch.get_block("C"), bi)


def test_compute_at_of_a_window_read_covers_the_window():
    A = te.placeholder((9,), "float32", name="A")
    B = te.compute((9,), lambda i: A[i] * 2, name="B")
    C = te.compute((8,), lambda i: B[i] + B[i + 1], name="C")
    make = lambda: mlc.IRModule({"main": te.create_prim_func([A, C])})  # noqa: E731
    sch = Schedule(make())
    (ci,) = sch.get_loops(sch.get_block("C"))
    sch.compute_at(sch.get_block("B"), ci)
    assert "for ax0 in range(2):" in sch.mod.script()
    assert "vi = T.axis.spatial(9, i + ax0)" in sch.mod.script()
    assert_same_numerics(make(), sch.mod)


# ------------------------------------------------------- sample_compute_location

def test_sample_compute_location_is_deterministic_and_legal():
    picks = set()
    for seed in range(6):
        sch = Schedule(course_module(8), seed=seed)
        loop = sch.sample_compute_location(sch.get_block("Y"))
        again = Schedule(course_module(8), seed=seed)
        other = again.sample_compute_location(again.get_block("Y"))
        assert sch.trace.insts[-1].inputs["decision"] == again.trace.insts[-1].inputs["decision"]
        sch.compute_at(sch.get_block("Y"), loop)
        again.compute_at(again.get_block("Y"), other)
        mlc.assert_structural_equal(sch.mod, again.mod)
        assert_same_numerics(course_module(8), sch.mod, targets=("reference",))
        assert_replays(sch, lambda: course_module(8))
        picks.add(sch.trace.insts[1].inputs["decision"])
    assert picks <= {0, 1}


def test_sample_compute_location_replays_a_decision_and_checks_it():
    sch = Schedule(course_module(8))
    loop = sch.sample_compute_location(sch.get_block("Y"), decision=1)
    sch.compute_at(sch.get_block("Y"), loop)
    assert "for ax0 in range(8):" in sch.mod.script()
    fresh = Schedule(course_module(8))
    with pytest.raises(ScheduleError, match="decision 5 is out of range"):
        fresh.sample_compute_location(fresh.get_block("Y"), decision=5)
    with pytest.raises(ScheduleError, match="no loop where compute_at is legal"):
        fresh.sample_compute_location(fresh.get_block("C"))


def test_compute_at_under_a_fused_and_split_loop_bounds_the_region_exactly():
    sch = Schedule(elementwise_chain(4, 5))
    i, j = sch.get_loops(sch.get_block("C"))
    f0, _ = sch.split(sch.fuse(i, j), factors=[None, 4])
    sch.compute_at(sch.get_block("B"), f0)
    text = sch.mod.script()
    assert "for ax0, ax1 in T.grid(2, 5):" in text  # rows i_j_fused_0 * 4 // 5 .. (i_j_fused_0 * 4 + 3) // 5
    assert "T.where(i_j_fused_0 * 4 // 5 + ax0 <= (i_j_fused_0 * 4 + 3) // 5" in text
    assert_same_numerics(elementwise_chain(4, 5), sch.mod)
    assert_replays(sch, lambda: elementwise_chain(4, 5))


def test_reverse_compute_at_refuses_to_drop_consumer_iterations_that_read_nothing():
    """out[j] = j >= 1 ? in[j - 1] : 1 — iteration j = 0 reads nothing the producer makes."""
    from mlc import ScheduleError, te
    from mlc.schedules import Schedule
    A = te.placeholder((1, 4), "float32", "A")
    P = te.compute((1, 4), lambda i, j: A[i, j] * 2, "P")
    S = te.compute((1, 4), lambda i, j: te.if_then_else(j >= 1, P[i, j - 1], 1.0), "S")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([A, S])}))
    i, j = sch.get_loops(sch.get_block("P"))
    before = sch.mod
    with pytest.raises(ScheduleError, match="j=0 reads nothing produced under the loop"):
        sch.reverse_compute_at(sch.get_block("S"), j)
    mlc.assert_structural_equal(sch.mod, before)


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("at", [0, 1])
def test_reverse_compute_at_inside_a_blockized_block_reads_the_outer_iterator(rows, at):
    """The write-back of a cache inside a blockized block is indexed by the outer block's
    iterator (``vi_o``); the coverage check takes its value from the loop it is bound to."""
    sch = Schedule(course_module(rows, m=2, k=3))
    _, j, _ = sch.get_loops(sch.get_block("Y"))
    sch.blockize(j)  # Y_o over i: vi_o = i; inside it the j, k loops of Y
    sch.cache_write(sch.get_block("Y"), 0, "local")
    sch.reverse_compute_at(sch.get_block("Y_local"), sch.get_loops(sch.get_block("Y"))[at])
    assert_same_numerics(course_module(rows, m=2, k=3), sch.mod)
