"""compute_inline and reverse_compute_inline: golden IR, errors, replay, numerics."""
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.ir import decl_buffer
from mlc.ir.tir import BufferStore
from mlc.schedules import Schedule

from .block_programs import (V, assert_replays, assert_same_numerics, block, course_module,
                             elementwise_chain, func, loops, module)


def te_module(*tensors, name="main"):
    return mlc.IRModule({name: te.create_prim_func(list(tensors))})


def test_compute_inline_golden():
    sch = Schedule(elementwise_chain(4, 6))
    sch.compute_inline(sch.get_block("B"))
    A = te.placeholder((4, 6), "float32", name="A")
    C = te.compute((4, 6), lambda i, j: A[i, j] * 2 + 1, name="C")
    mlc.assert_structural_equal(sch.mod, te_module(A, C))
    assert_same_numerics(elementwise_chain(4, 6), sch.mod)
    assert_replays(sch, lambda: elementwise_chain(4, 6))


def test_reverse_compute_inline_golden():
    sch = Schedule(elementwise_chain(4, 6))
    sch.reverse_compute_inline(sch.get_block("C"))
    A = te.placeholder((4, 6), "float32", name="A")
    B = te.compute((4, 6), lambda i, j: A[i, j] * 2 + 1, name="B")  # producer's name, consumer's buffer
    mlc.assert_structural_equal(sch.mod, te_module(A, B))
    assert_same_numerics(elementwise_chain(4, 6), sch.mod)
    assert_replays(sch, lambda: elementwise_chain(4, 6))


def transpose_program(n, m):
    A = te.placeholder((n, m), "float32", name="A")
    B = te.compute((m, n), lambda i, j: A[j, i] + 1, name="B")
    C = te.compute((n, m), lambda i, j: B[j, i] * B[j, i], name="C")
    return te_module(A, C)


@settings(max_examples=10, deadline=None)
@given(n=st.sampled_from([1, 3, 4]), m=st.sampled_from([1, 2, 5]))
def test_compute_inline_through_a_transpose(n, m):
    sch = Schedule(transpose_program(n, m))
    sch.compute_inline(sch.get_block("B"))
    A = te.placeholder((n, m), "float32", name="A")
    C = te.compute((n, m), lambda i, j: (A[i, j] + 1) * (A[i, j] + 1), name="C")
    mlc.assert_structural_equal(sch.mod, te_module(A, C))
    assert_same_numerics(transpose_program(n, m), sch.mod)


def stencil_program(n=8):
    A = te.placeholder((n + 1,), "float32", name="A")
    B = te.compute((n + 1,), lambda i: A[i] * 2, name="B")
    C = te.compute((n,), lambda i: B[i] + B[i + 1], name="C")
    return te_module(A, C)


def test_compute_inline_into_a_window_read_keeps_the_window_region():
    sch = Schedule(stencil_program())
    sch.compute_inline(sch.get_block("B"))
    assert "T.reads(A[vi:vi + 2])" in sch.mod.script()
    assert_same_numerics(stencil_program(), sch.mod)


def test_compute_inline_into_a_reduction_and_two_consumers():
    def make():
        A = te.placeholder((4, 5), "float32", name="A")
        B = te.compute((4, 5), lambda i, j: A[i, j] * 3, name="B")
        k = te.reduce_axis((0, 5), name="k")
        S = te.compute((4,), lambda i: te.sum(B[i, k], axis=k), name="S")
        D = te.compute((4, 5), lambda i, j: B[i, j] - 1, name="D")
        return te_module(A, S, D)
    sch = Schedule(make())
    sch.compute_inline(sch.get_block("B"))
    A = te.placeholder((4, 5), "float32", name="A")
    k = te.reduce_axis((0, 5), name="k")
    S = te.compute((4,), lambda i: te.sum(A[i, k] * 3, axis=k), name="S")
    D = te.compute((4, 5), lambda i, j: A[i, j] * 3 - 1, name="D")
    mlc.assert_structural_equal(sch.mod, te_module(A, S, D))
    assert_same_numerics(make(), sch.mod)


def test_compute_inline_of_reads_at_the_same_and_at_other_indices():
    """Reads at the same index nodes share one substituted value, a read at the iterators
    themselves is the producer's value as it is: each read still computes its own element."""
    def make(n=6):
        A = te.placeholder((n,), "float32", name="A")
        B = te.compute((n,), lambda i: A[i] * 2 + 1, name="B")
        C = te.compute((n,), lambda i: B[i] * B[i] + B[n - 1 - i] - B[n - 1 - i] * B[i], name="C")
        return te_module(A, C)
    sch = Schedule(make())
    sch.compute_inline(sch.get_block("B"))
    A = te.placeholder((6,), "float32", name="A")
    C = te.compute((6,), lambda i: (A[i] * 2 + 1) * (A[i] * 2 + 1) + (A[5 - i] * 2 + 1)
                   - (A[5 - i] * 2 + 1) * (A[i] * 2 + 1), name="C")
    mlc.assert_structural_equal(sch.mod, te_module(A, C))
    assert_same_numerics(make(), sch.mod)


def test_reverse_compute_inline_into_a_split_producer():
    sch = Schedule(elementwise_chain(3, 10))
    _, j = sch.get_loops(sch.get_block("B"))
    sch.split(j, factors=[None, 4])
    sch.reverse_compute_inline(sch.get_block("C"))
    assert "T.where(j_0 * 4 + j_1 < 10)" in sch.mod.script()
    assert_same_numerics(elementwise_chain(3, 10), sch.mod)
    assert_replays(sch, lambda: elementwise_chain(3, 10))


# -------------------------------------------------------------------- errors

def test_compute_inline_refuses_a_reduction():
    sch = Schedule(course_module(8))
    with pytest.raises(ScheduleError, match=r"compute_inline: block 'Y'.*reduction, not an injective"):
        sch.compute_inline(sch.get_block("Y"))


def test_compute_inline_refuses_an_output_parameter():
    A = te.placeholder((8,), "float32", name="A")
    B = te.compute((8,), lambda i: A[i] * 2, name="B")
    C = te.compute((8,), lambda i: B[i] + 1, name="C")
    sch = Schedule(te_module(A, B, C))
    with pytest.raises(ScheduleError, match="its output B is a function parameter"):
        sch.compute_inline(sch.get_block("B"))


def test_compute_inline_refuses_several_stores():
    A = te.placeholder((8,), "float32", name="A")
    B0, B1 = te.compute((8,), lambda i: (A[i] * 2, A[i] + 1), name="B")
    C = te.compute((8,), lambda i: B0[i] + B1[i], name="C")
    sch = Schedule(te_module(A, C))
    with pytest.raises(ScheduleError, match="must be a single store"):
        sch.compute_inline(sch.get_block("B"))


def test_compute_inline_refuses_store_indices_that_are_not_the_iterators():
    n = 8
    A, B, C = decl_buffer((n,), "float32", "A"), decl_buffer((n + 1,), "float32", "B"), decl_buffer((n,), "float32", "C")
    i, i2 = V("i"), V("i")
    shift = block("B", [("vi", n, "S")], (i,), lambda vi: BufferStore(B, A[vi], (vi + 1,)))
    use = block("C", [("vi", n, "S")], (i2,), lambda vi: BufferStore(C, B[vi + 1], (vi,)))
    sch = Schedule(module(func((A, C), (B,), loops([(i, n)], shift), loops([(i2, n)], use))))
    with pytest.raises(ScheduleError, match="store indices .* are not exactly its spatial iterators"):
        sch.compute_inline(sch.get_block("B"))


def test_reverse_compute_inline_errors():
    sch = Schedule(course_module(8))
    with pytest.raises(ScheduleError, match=r"reverse_compute_inline: block 'C': its producer 'Y' is a reduction"):
        sch.reverse_compute_inline(sch.get_block("C"))
    with pytest.raises(ScheduleError, match="block 'Y': the block is a reduction"):
        sch.reverse_compute_inline(sch.get_block("Y"))
    sch = Schedule(stencil_program())
    with pytest.raises(ScheduleError, match="reads more than the producer's point"):
        sch.reverse_compute_inline(sch.get_block("C"))
    A = te.placeholder((8,), "float32", name="A")
    B = te.compute((8,), lambda i: A[i] * 2, name="B")
    D = te.compute((8,), lambda i: A[i] + 2, name="D")
    C = te.compute((8,), lambda i: B[i] + D[i], name="C")
    sch = Schedule(te_module(A, C))
    with pytest.raises(ScheduleError, match=r"several producers \['B', 'D'\]"):
        sch.reverse_compute_inline(sch.get_block("C"))


def test_reverse_compute_inline_refuses_a_partial_consumer():
    A = te.placeholder((8,), "float32", name="A")
    B = te.compute((8,), lambda i: A[i] * 2, name="B")
    C = te.compute((6,), lambda i: B[i] + 1, name="C")
    sch = Schedule(te_module(A, C))
    with pytest.raises(ScheduleError, match="must cover the whole producer output"):
        sch.reverse_compute_inline(sch.get_block("C"))


def test_compute_inline_keeps_a_value_the_reader_shares_shared():
    """The reader uses one value three times (one node, as a formula written once leaves it):
    after the inline, its rewrite is one node in the three places, not three copies."""
    from mlc.ir.functor import pre_order_statements
    A = te.placeholder((8,), "float32", name="A")
    B = te.compute((8,), lambda i: A[i] * 2, name="B")

    def formula(i):
        v = B[i] + A[i]
        return v * v + v

    C = te.compute((8,), formula, name="C")
    before = te_module(A, C)
    sch = Schedule(before)
    sch.compute_inline(sch.get_block("B"))
    (store,) = [s for s in pre_order_statements(sch.mod["main"].body) if isinstance(s, BufferStore)]
    value = store.value
    assert value.a.a is value.a.b is value.b
    assert_same_numerics(before, sch.mod)
