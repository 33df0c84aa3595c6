"""reverse_compute_at with reductions: a reduction consumer (softmax's exp-sum) and a spatial
consumer under its producer's reduction loop are accepted where the result is right (checked
against the reference interpreter on the unscheduled program); the rest is a ScheduleError."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import ScheduleError, te
from mlc.ir import const, decl_buffer
from mlc.ir.tir import BufferStore
from mlc.schedules import Schedule

from .block_programs import V, assert_replays, assert_same_numerics, block, course_module, func, loops, module


def softmax(n, m):
    X = te.placeholder((n, m), "float32", "X")
    k = te.reduce_axis((0, m), "k")
    M = te.compute((n,), lambda i: te.max(X[i, k], axis=k), "M")
    E = te.compute((n, m), lambda i, j: te.exp(X[i, j] - M[i]), "E")
    k2 = te.reduce_axis((0, m), "k2")
    S = te.compute((n,), lambda i: te.sum(E[i, k2], axis=k2), "S")
    O = te.compute((n, m), lambda i, j: E[i, j] / S[i], "O")
    return mlc.IRModule({"main": te.create_prim_func([X, O])})


def row_sums_of_matmul(n):
    """Y = A @ B (a reduction), S[i] = sum_j Y[i, j] (a reduction consuming it)."""
    A = te.placeholder((n, n), "float32", "A")
    B = te.placeholder((n, n), "float32", "B")
    k = te.reduce_axis((0, n), "k")
    Y = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "Y")
    r = te.reduce_axis((0, n), "r")
    S = te.compute((n,), lambda i: te.sum(Y[i, r], axis=r), "S")
    return mlc.IRModule({"main": te.create_prim_func([A, B, S])})


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 5), m=st.integers(1, 7))
def test_softmax_sum_and_normaliser_move_under_the_row_loop(n, m):
    sch = Schedule(softmax(n, m))
    i, _ = sch.get_loops(sch.get_block("E"))
    sch.reverse_compute_at(sch.get_block("S"), i)
    sch.reverse_compute_at(sch.get_block("O"), i)
    text = sch.mod["main"].script()
    assert text.index('T.block("E")') < text.index('T.block("S")') < text.index('T.block("O")')
    assert "with T.init():" in text[text.index('T.block("S")'):]
    assert_same_numerics(softmax(n, m), sch.mod)
    assert_replays(sch, lambda: softmax(n, m))


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 6))
def test_the_sum_moves_under_the_column_loop_one_term_per_iteration(n, m):
    sch = Schedule(softmax(n, m))
    _, j = sch.get_loops(sch.get_block("E"))
    sch.reverse_compute_at(sch.get_block("S"), j)
    assert "vi, vk2 = T.axis.remap(\"SR\", [i, j])" in sch.mod["main"].script()
    assert_same_numerics(softmax(n, m), sch.mod)
    # ... but the normaliser cannot follow (it would divide by partial sums), unless a row
    # has a single column, when the sum is complete after the one iteration
    if m == 1:
        sch.reverse_compute_at(sch.get_block("O"), j)
        assert_same_numerics(softmax(n, m), sch.mod)
        return
    before = sch.mod
    with pytest.raises(ScheduleError, match=r"S is still being reduced inside the loop.*vj=0\.\."):
        sch.reverse_compute_at(sch.get_block("O"), j)
    mlc.assert_structural_equal(sch.mod, before)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 6), factor=st.integers(1, 4))
def test_a_spatial_consumer_under_the_reduction_loop_is_recomputed_to_the_final_value(n, factor):
    """relu(Y) under Y's k loop (split, maybe raggedly): computed every k step, the last one wins."""
    sch = Schedule(course_module(n))
    _, _, k = sch.get_loops(sch.get_block("Y"))
    k0, _ = sch.split(k, [None, factor])
    sch.reverse_compute_at(sch.get_block("C"), k0)
    text = sch.mod["mm_relu"].script()
    assert text.index('T.block("Y")') < text.index('T.block("C")')
    assert_same_numerics(course_module(n), sch.mod)
    assert_replays(sch, lambda: course_module(n))


def test_a_reduction_consumer_under_its_producers_reduction_loop_is_refused():
    sch = Schedule(row_sums_of_matmul(4))
    _, _, k = sch.get_loops(sch.get_block("Y"))
    with pytest.raises(ScheduleError, match="this reduction would add up its partial values"):
        sch.reverse_compute_at(sch.get_block("S"), k)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 5))
def test_a_reduction_consumer_under_its_producers_spatial_loop_is_accepted(n):
    sch = Schedule(row_sums_of_matmul(n))
    i, j, _ = sch.get_loops(sch.get_block("Y"))
    sch.reverse_compute_at(sch.get_block("S"), j)
    assert_same_numerics(row_sums_of_matmul(n), sch.mod)


def _producer_then_sum(n, binding, extent):
    """P[vi] = A[vi] * 2 with vi = binding(i) for i in range(extent); S[0] = sum_k P[k]."""
    A, P, S = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "P"), decl_buffer((1,), "float32", "S")
    i, k = V("i"), V("k")
    zero = const(0)
    prod = loops([(i, extent)], block("P", [("vi", n, "S")], [binding(i)],
                                      lambda vi: BufferStore(P, A[vi] * 2, (vi,))))
    red = loops([(k, n)], block("S", [("vk", n, "R")], [k],
                                lambda vk: BufferStore(S, S[zero] + P[vk], (zero,)),
                                init=lambda vk: BufferStore(S, const(0.0, "float32"), (zero,))))
    return module(func([A, S], [P], prod, red))


def test_a_reduction_whose_pieces_come_in_reverse_order_is_refused():
    """The producer walks P backwards, so the piece with the sum's init would come last."""
    n = 4
    sch = Schedule(_producer_then_sum(n, lambda i: n - 1 - i, n))
    (i,) = sch.get_loops(sch.get_block("P"))
    with pytest.raises(ScheduleError, match="updated before its init runs"):
        sch.reverse_compute_at(sch.get_block("S"), i)


def test_a_reduction_piece_that_would_run_twice_is_refused():
    """The producer writes each P[vi] in two iterations (vi = i // 2): the sum would count it twice."""
    n = 3
    sch = Schedule(_producer_then_sum(n, lambda i: i // 2, 2 * n))
    (i,) = sch.get_loops(sch.get_block("P"))
    with pytest.raises(ScheduleError, match="added more than once"):
        sch.reverse_compute_at(sch.get_block("S"), i)


def test_a_reduction_whose_pieces_come_in_order_is_accepted():
    n = 5
    make = lambda: _producer_then_sum(n, lambda i: i, n)  # noqa: E731
    sch = Schedule(make())
    (i,) = sch.get_loops(sch.get_block("P"))
    sch.reverse_compute_at(sch.get_block("S"), i)
    assert_same_numerics(make(), sch.mod)


def test_a_reduction_split_across_parallel_iterations_is_refused():
    """The sum over j under E's parallel j loop: two threads would update S[i] at once."""
    sch = Schedule(softmax(2, 4))
    _, j = sch.get_loops(sch.get_block("E"))
    sch.parallel(j)
    with pytest.raises(ScheduleError, match=r"updated in different iterations of j \(parallel\)"):
        sch.reverse_compute_at(sch.get_block("S"), j)


def test_a_reduction_under_a_parallel_row_loop_is_accepted():
    """Each row's sum stays in its own iteration of the parallel loop."""
    sch = Schedule(softmax(3, 5))
    i, _ = sch.get_loops(sch.get_block("E"))
    sch.parallel(i)
    sch.reverse_compute_at(sch.get_block("S"), i)
    sch.reverse_compute_at(sch.get_block("O"), i)
    assert_same_numerics(softmax(3, 5), sch.mod)


def column_sums_by_parts(parts, rows, m):
    """A row statistic ``R[i] = sum_k X[i, k]`` and, for each part of ``rows`` consecutive rows,
    the column sums of ``X * R`` (layer_norm's gradient of gamma, by parts): the sums read the
    statistic at ``p * rows + q``, two of their iterators fused."""
    X = te.placeholder((parts * rows, m), "float32", "X")
    k = te.reduce_axis((0, m), "k")
    R = te.compute((parts * rows,), lambda i: te.sum(X[i, k], axis=k), "R")
    q = te.reduce_axis((0, rows), "q")
    C = te.compute((parts, m), lambda p, j: te.sum(X[p * rows + q, j] * R[p * rows + q], axis=q), "C")
    return mlc.IRModule({"main": te.create_prim_func([X, C])})


@settings(max_examples=10, deadline=None)
@given(parts=st.integers(1, 4), rows=st.integers(1, 5), m=st.integers(1, 6), parallel=st.booleans())
def test_column_sums_of_parts_move_under_the_rows_a_row_at_a_time(parts, rows, m, parallel):
    """The statistic's row loop split into (part, row): the column sums, which read it at one
    point of two fused iterators, move under the row loop and add one row each iteration
    (their reduction in pieces, in order), the parts in parallel where asked."""
    make = lambda: column_sums_by_parts(parts, rows, m)  # noqa: E731
    sch = Schedule(make())
    p, q = sch.split(sch.get_loops(sch.get_block("R"))[0], [parts, None])
    if parallel:
        sch.parallel(p)
    sch.reverse_compute_at(sch.get_block("C"), q)
    text = sch.mod["main"].script()
    assert text.index('T.block("R")') < text.index('T.block("C")'), text
    c_block = text[text.index('T.block("C")'):]
    assert rows == 1 or "i_1" in c_block[:c_block.index("T.reads")], text  # a row of the part each iteration
    assert_same_numerics(make(), sch.mod)
    assert_replays(sch, make)


@settings(max_examples=12, deadline=None)
@given(parts=st.integers(1, 3), groups=st.integers(1, 3), group=st.integers(1, 4), m=st.integers(1, 5),
       parallel=st.booleans())
def test_column_sums_of_parts_move_under_a_group_of_rows(parts, groups, group, m, parallel):
    """The statistic's row loop split into (part, group of rows, row): the column sums move
    under the group loop and add the group's rows each iteration (the run of rows a group
    produces, inside one part), the same numbers as the unscheduled program."""
    rows = groups * group
    make = lambda: column_sums_by_parts(parts, rows, m)  # noqa: E731
    sch = Schedule(make())
    p, q = sch.split(sch.get_loops(sch.get_block("R"))[0], [parts, None])
    g, _ = sch.split(q, [None, group])
    if parallel:
        sch.parallel(p)
    sch.reverse_compute_at(sch.get_block("C"), g)
    text = sch.mod["main"].script()
    assert text.index('T.block("R")') < text.index('T.block("C")'), text
    assert_same_numerics(make(), sch.mod)
    assert_replays(sch, make)


def test_column_sums_of_groups_of_rows_past_the_enumeration_limit_are_proven_to_run_once():
    """4096 x 2048 points in groups of 4 rows: too many to enumerate, each run of rows still
    proven to run once and in order."""
    sch = Schedule(column_sums_by_parts(16, 256, 2048))
    _, q = sch.split(sch.get_loops(sch.get_block("R"))[0], [16, None])
    g, _ = sch.split(q, [None, 4])
    sch.reverse_compute_at(sch.get_block("C"), g)
    text = sch.mod["main"].script()
    c_block = text[text.index('T.block("C")'):]
    assert "* 4 +" in c_block[:c_block.index("T.reads")], text


def test_column_sums_under_groups_of_rows_across_parts_are_refused():
    """Groups of 2 rows over parts of 3 rows: a group may hold rows of two parts, whose column
    sums are not one run of one part's; refused."""
    sch = Schedule(column_sums_by_parts(2, 3, 4))
    g, _ = sch.split(sch.get_loops(sch.get_block("R"))[0], [None, 2])
    with pytest.raises(ScheduleError):
        sch.reverse_compute_at(sch.get_block("C"), g)


def test_column_sums_past_the_enumeration_limit_are_proven_to_run_once():
    """4096 x 2048 points: too many to enumerate, each still proven to run once and in order."""
    sch = Schedule(column_sums_by_parts(16, 256, 2048))
    _, q = sch.split(sch.get_loops(sch.get_block("R"))[0], [16, None])
    sch.reverse_compute_at(sch.get_block("C"), q)
    text = sch.mod["main"].script()
    c_block = text[text.index('T.block("C")'):]
    assert "i_1" in c_block[:c_block.index("T.reads")], text


def test_column_sums_of_a_part_read_at_a_row_of_another_part_are_refused():
    """C reads R two parts of rows apart: not the point the row loop produces, refused."""
    X = te.placeholder((8, 3), "float32", "X")
    k = te.reduce_axis((0, 3), "k")
    R = te.compute((8,), lambda i: te.sum(X[i, k], axis=k), "R")
    q = te.reduce_axis((0, 2), "q")
    C = te.compute((2, 3), lambda p, j: te.sum(R[p * 4 + q], axis=q), "C")
    sch = Schedule(mlc.IRModule({"main": te.create_prim_func([X, C])}))
    _, r = sch.split(sch.get_loops(sch.get_block("R"))[0], [2, None])
    with pytest.raises(ScheduleError):
        sch.reverse_compute_at(sch.get_block("C"), r)
