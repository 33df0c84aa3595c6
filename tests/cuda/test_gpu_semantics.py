"""GPU meaning in the schedule primitives and the reference interpreter.

A ``shared`` cache computed under a threadIdx loop holds what the whole block
needs; loops nested under a loop of the same thread axis are that same index;
a reduction loop bound to threadIdx is a cross-thread reduction; and what the
reference interpreter cannot run with GPU meaning it refuses.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.backends.reference import run
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Var, const
from mlc.ir.tir import BufferStore, For, PrimFunc

from .programs import row_sum, schedule_row_sum, schedule_vector_add, schedule_window_sum, window_sum


def _window(a):
    return a[:-2] + a[1:-1] + a[2:]


def test_shared_cache_at_a_thread_loop_holds_the_whole_blocks_window():
    sch = schedule_window_sum(window_sum(1024), 128, fetch=False)
    text = sch.mod.script()
    # one fetch for the block: 128 + 2 elements, not the 3 of one thread
    assert "for ax0 in range(130):" in text
    assert "v0 = T.axis.spatial(1026, i_0 * 128 + ax0)" in text


def test_local_cache_at_a_thread_loop_holds_one_threads_elements():
    sch = schedule_vector_add(window_sum(256), 128)
    block = sch.get_block("C")
    cache = sch.cache_read(block, 0, "local")
    sch.compute_at(cache, sch.get_loops(block)[1])
    assert "for ax0 in range(3):" in sch.mod.script()


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 300), st.sampled_from([32, 64, 128]))
def test_course_window_sum_cooperative_fetch_on_the_reference(n, threads):
    """Ragged sizes too: the fetch's predicate keeps it in bounds."""
    sch = schedule_window_sum(window_sum(n), threads)
    a = np.random.default_rng(n).standard_normal(n + 2).astype("float32")
    b = np.zeros(n, "float32")
    run(sch.mod["main"], [a, b])
    np.testing.assert_allclose(b, _window(a), rtol=1e-6, atol=1e-6)


def test_binding_nested_loops_to_one_thread_axis_that_would_skip_iterations_is_refused():
    """On a GPU (and in TVM) j bound to threadIdx.x inside i bound to threadIdx.x is i: the
    32 x 32 block would be written on its diagonal only."""
    A = te.placeholder((32, 32), "float32", "A")
    B = te.compute((32, 32), lambda i, j: A[i, j] + 1, "B")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    i, j = sch.get_loops(sch.get_block("B"))
    sch.bind(i, "threadIdx.x")
    with pytest.raises(mlc.ScheduleError, match="loops i and j would both be threadIdx.x, one index on a GPU, "
                                                "so the inner one would run only where it equals the outer, "
                                                "and block 'B', which depends on i, would skip iterations"):
        sch.bind(j, "threadIdx.x")
    sch.bind(j, "threadIdx.y")


def test_nested_loops_of_one_thread_axis_are_one_index_in_the_reference_interpreter():
    """IR written by hand with that binding runs with the GPU's meaning: the diagonal."""
    A, B = decl_buffer((32, 32), "float32", "A"), decl_buffer((32, 32), "float32", "B")
    i, j = Var("i"), Var("j")
    store = BufferStore(B, BufferLoad(A, (i, j), "float32") + 1.0, (i, j))
    body = For(i, const(0), const(32), "thread_binding",
               For(j, const(0), const(32), "thread_binding", store, "threadIdx.x"), "threadIdx.x")
    b = np.zeros((32, 32), "float32")
    run(PrimFunc((A, B), body), [np.ones((32, 32), "float32"), b])
    np.testing.assert_array_equal(b, np.diag(np.full(32, 2, "float32")))


def test_local_cache_above_the_thread_loop_is_refused_not_garbage():
    """Every thread runs the copy on a GPU; the reference interpreter keeps per-thread copies
    only under thread loops, so it refuses instead of reading an unwritten copy."""
    sch = schedule_vector_add(window_sum(256), 128)
    block = sch.get_block("C")
    cache = sch.cache_read(block, 0, "local")
    sch.compute_at(cache, sch.get_loops(block)[0])
    a, b = np.ones(258, "float32"), np.zeros(256, "float32")
    with pytest.raises(mlc.MLCError, match="local buffer A_local is accessed outside every thread "
                                           "loop and under thread axes of extents \\(128,\\)"):
        run(sch.mod["main"], [a, b])


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 5), st.integers(1, 100), st.sampled_from([1, 8, 32]))
def test_reduction_bound_to_threadidx_is_a_cross_thread_reduction(rows, cols, threads):
    sch = schedule_row_sum(row_sum(rows, cols), threads)
    assert 'T.thread_binding(%d, thread="threadIdx.x")' % threads in sch.mod.script()
    a = np.random.default_rng(cols).standard_normal((rows, cols)).astype("float32")
    s = np.zeros(rows, "float32")
    run(sch.mod["main"], [a, s])
    np.testing.assert_allclose(s, a.sum(1), rtol=1e-5, atol=1e-5)


def test_reduction_bound_to_blockidx_is_refused():
    sch = mlc.Schedule(row_sum(4, 8))
    _, k = sch.get_loops(sch.get_block("S"))
    with pytest.raises(mlc.ScheduleError, match="bind: loop k drives the reduce iterator vk of block "
                                                "'S'; only threadIdx loops may reduce across threads"):
        sch.bind(k, "blockIdx.x")


def test_a_thread_loop_driving_spatial_and_reduce_iterators_is_refused():
    sch = mlc.Schedule(row_sum(17, 3))
    i, k = sch.get_loops(sch.get_block("S"))
    outer, _ = sch.split(sch.fuse(i, k), [None, 2])
    with pytest.raises(mlc.ScheduleError, match="bind: loop i_k_fused_0 drives a reduce iterator of block 'S' "
                                                "and the spatial iterator vi of block 'S'"):
        sch.bind(outer, "threadIdx.y")
