"""The CUDA emulator: differential tests of the course's GPU schedules against NumPy
(ragged sizes included), and its race, barrier and bounds detection, each on a
kernel that has the defect."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
import mlc.numpy as mnp
from mlc.backends.cuda import Emulator, emulate
from mlc.passes.tir.gpu_pipeline import GPU_PIPELINE
from mlc.errors import BoundsError, CompileError, RaceError
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Var, const, logical_and
from mlc.ir.tir import Allocate, BufferStore, For, IfThenElse, PrimFunc, seq
from mlc.passes.tir.pipeline import run_passes
from mlc.passes.tir.thread_sync import insert_thread_sync, syncthreads

from ..ops._harness import run_op
from .conftest import NVRTC_MISSING
from .programs import (matmul, row_sum, schedule_matmul_local, schedule_matmul_shared, schedule_row_sum,
                       schedule_vector_add, schedule_window_sum, vector_add, window_sum)

RNG = np.random.default_rng(0)


def _rand(*shape):
    return RNG.standard_normal(shape).astype("float32")


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 700), st.sampled_from([1, 32, 100, 128, 256]))
def test_vector_add(n, threads):
    a, b, c = _rand(n), _rand(n), np.zeros(n, "float32")
    emulate(schedule_vector_add(vector_add(n), threads).mod)["main"](a, b, c)
    np.testing.assert_array_equal(c, a + b)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 700), st.sampled_from([32, 64, 128]))
def test_window_sum_with_a_cooperatively_fetched_shared_window(n, threads):
    a, b = _rand(n + 2), np.zeros(n, "float32")
    lib = emulate(schedule_window_sum(window_sum(n), threads).mod)
    lib["main"](a, b)
    np.testing.assert_allclose(b, a[:-2] + a[1:-1] + a[2:], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["local", "shared"])
@pytest.mark.parametrize("n", [16, 32, 40, 64, 72])
def test_course_matmul_blockings(n, kind):
    """Tiles of 8 x 8 threads x 4 x 4 registers (and k-steps of 8): 40 and 72 are ragged."""
    a, b, c = _rand(n, n), _rand(n, n), np.zeros((n, n), "float32")
    sch = (schedule_matmul_local if kind == "local" else schedule_matmul_shared)(matmul(n))
    emulate(sch.mod)["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6), st.integers(1, 200), st.sampled_from([1, 2, 7, 32, 64, 128]))
def test_cross_thread_reduction(rows, cols, threads):
    a, s = _rand(rows, cols), np.zeros(rows, "float32")
    emulate(schedule_row_sum(row_sum(rows, cols), threads).mod)["main"](a, s)
    np.testing.assert_allclose(s, a.sum(1), rtol=1e-4, atol=1e-4)


def test_global_traffic_is_counted():
    n = 1000
    lib = emulate(schedule_vector_add(vector_add(n)).mod)
    emu = lib["main"].kernel.__self__
    lib["main"](_rand(n), _rand(n), np.zeros(n, "float32"))
    (stats,) = emu.stats
    assert (stats.global_reads, stats.global_writes) == (2 * n, n)


# ------------------------------------------------------------------ what it refuses

def test_every_thread_fetching_the_whole_shared_window_is_a_race():
    """compute_at relaxed the fetch to the block's window, but nobody bound it to threadIdx:
    all 128 threads write all 130 elements."""
    sch = schedule_window_sum(window_sum(250), fetch=False)
    with pytest.raises(RaceError, match=r"data race on shared buffer A_shared\[0\].*thread \(0, 0, 0\) of "
                                        r"block \(0, 0, 0\) writes it and thread \(127, 0, 0\) of block \(0, 0, 0\) "
                                        "writes it"):
        emulate(sch.mod)["main"](_rand(252), np.zeros(250, "float32"))


def test_reading_a_neighbours_shared_element_without_the_barrier_is_a_race():
    func = run_passes(schedule_window_sum(window_sum(250)).mod["main"], [p for p in GPU_PIPELINE if p is not insert_thread_sync])  # no sync pass
    with pytest.raises(RaceError, match=r"A_shared\[1\].*thread \(1, 0, 0\) of block \(0, 0, 0\) writes "
                                        r"it and thread \(0, 0, 0\) of block \(0, 0, 0\) reads it"):
        Emulator(func).run([_rand(252), np.zeros(250, "float32")])


def _kernel(body_of, n=32, blocks=1, shared=8):
    """A hand-written kernel: blockIdx.x x threadIdx.x loops around ``body_of(bx, tx, S, A, B)``
    with a shared buffer S of ``shared`` elements, A and B of ``n`` float32 (parameters)."""
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    S = decl_buffer((shared,), "float32", "S", scope="shared")
    bx, tx = Var("bx"), Var("tx")
    inner = For(tx, const(0), const(n // blocks), "thread_binding", body_of(bx, tx, S, A, B), "threadIdx.x")
    body = For(bx, const(0), const(blocks), "thread_binding", Allocate(S, inner), "blockIdx.x")
    return PrimFunc((A, B), body)


def _load(buf, i):
    return BufferLoad(buf, (i,), "float32")


def test_overwriting_an_element_another_thread_read_is_a_race():
    """S[tx] = A; sync; B[tx] = S[(tx + 1) % 8]; S[tx] = 0 -- the write after the read needs a barrier."""
    def body(bx, tx, S, A, B):
        i = tx % 8
        return seq(IfThenElse(tx < 8, BufferStore(S, _load(A, tx), (i,))), syncthreads(),
                   IfThenElse(tx < 8, seq(BufferStore(B, _load(S, (tx + 1) % 8), (tx,)),
                                          BufferStore(S, const(0.0, "float32"), (i,)))))
    with pytest.raises(RaceError, match=r"S\[0\].*thread \(7, 0, 0\) of block \(0, 0, 0\) reads it and "
                                        r"thread \(0, 0, 0\) of block \(0, 0, 0\) writes it"):
        Emulator(_kernel(body)).run([_rand(32), np.zeros(32, "float32")])
    # with the barrier between, the same kernel is fine
    def fixed(bx, tx, S, A, B):
        return seq(IfThenElse(tx < 8, BufferStore(S, _load(A, tx), (tx % 8,))), syncthreads(),
                   IfThenElse(tx < 8, BufferStore(B, _load(S, (tx + 1) % 8), (tx,))), syncthreads(),
                   IfThenElse(tx < 8, BufferStore(S, const(0.0, "float32"), (tx % 8,))))
    a, b = _rand(32), np.zeros(32, "float32")
    Emulator(_kernel(fixed)).run([a, b])
    np.testing.assert_array_equal(b[:8], np.roll(a[:8], -1))


def test_a_read_repeated_by_its_thread_is_still_remembered_for_the_race_check():
    """Reading S[(tx + 1) % 8] twice (the second read changes nothing the race check keeps)
    and then overwriting S[tx] with no barrier is the race of the test above, found the same."""
    def body(bx, tx, S, A, B):
        i = tx % 8
        other = _load(S, (tx + 1) % 8)
        return seq(IfThenElse(tx < 8, BufferStore(S, _load(A, tx), (i,))), syncthreads(),
                   IfThenElse(tx < 8, seq(BufferStore(B, other, (tx,)),
                                          BufferStore(B, _load(B, tx) + other, (tx,)),
                                          BufferStore(S, const(0.0, "float32"), (i,)))))
    with pytest.raises(RaceError, match=r"S\[0\].*thread \(7, 0, 0\) of block \(0, 0, 0\) reads it and "
                                        r"thread \(0, 0, 0\) of block \(0, 0, 0\) writes it"):
        Emulator(_kernel(body)).run([_rand(32), np.zeros(32, "float32")])


def test_overwriting_an_element_that_its_writer_and_another_thread_read_is_a_race():
    """Every thread reads S[0] (thread 0 too), then thread 0 overwrites it with no barrier: the
    smallest reader is the writer itself, the other readers still race with it."""
    def body(bx, tx, S, A, B):
        return seq(IfThenElse(tx < 8, BufferStore(S, _load(A, tx), (tx % 8,))), syncthreads(),
                   IfThenElse(tx < 8, BufferStore(B, _load(S, const(0, "int32")), (tx,))),
                   IfThenElse(tx == 0, BufferStore(S, const(0.0, "float32"), (tx % 8,))))
    with pytest.raises(RaceError, match=r"S\[0\].*thread \(7, 0, 0\) of block \(0, 0, 0\) reads it and "
                                        r"thread \(0, 0, 0\) of block \(0, 0, 0\) writes it"):
        Emulator(_kernel(body)).run([_rand(32), np.zeros(32, "float32")])


def test_a_barrier_under_thread_divergent_control_flow_is_refused():
    def body(bx, tx, S, A, B):
        return IfThenElse(tx < 16, seq(syncthreads(), BufferStore(B, _load(A, tx), (tx,))))
    with pytest.raises(RaceError, match=r"__syncthreads\(\) reached by 16 of the 32 threads of block "
                                        r"\(0, 0, 0\) \(thread \(16, 0, 0\) does not reach it\)"):
        Emulator(_kernel(body)).run([_rand(32), np.zeros(32, "float32")])


def test_blocks_writing_one_global_element_race():
    def body(bx, tx, S, A, B):
        return IfThenElse(tx == 0, BufferStore(B, _load(A, bx), (const(0),)))
    with pytest.raises(RaceError, match=r"global buffer B\[0\].*thread \(0, 0, 0\) of block \(0, 0, 0\) "
                                        r"writes it and thread \(0, 0, 0\) of block \(1, 0, 0\) writes it.*"
                                        "threads of different blocks are never ordered"):
        Emulator(_kernel(body, blocks=2)).run([_rand(32), np.zeros(32, "float32")])


def _one_thread(body_of, n):
    """:func:`_kernel`'s kernel with one block of one thread (A and B of ``n`` elements)."""
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    S = decl_buffer((1,), "float32", "S", scope="shared")
    bx, tx = Var("bx"), Var("tx")
    inner = For(tx, const(0), const(1), "thread_binding", body_of(bx, tx, S, A, B), "threadIdx.x")
    return PrimFunc((A, B), For(bx, const(0), const(1), "thread_binding", Allocate(S, inner), "blockIdx.x"))


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 40))
def test_a_kernel_of_one_thread_rewrites_global_memory_in_order(n):
    """One thread running a prefix sum in place in global memory (each element read after
    the previous one was written) gives NumPy's cumsum, its traffic counted and its bounds
    checked; the same statements in a kernel of two blocks are the blocks' race on B."""
    def body(bx, tx, S, A, B, last=n):
        i = Var("i")
        step = BufferStore(B, _load(B, i - 1) + _load(A, i), (i,))
        return seq(BufferStore(B, _load(A, const(0)), (const(0),)), For(i, const(1), const(last - 1), "serial", step))
    a = RNG.integers(-9, 9, n).astype("float32")
    b = np.zeros(n, "float32")
    lone = Emulator(_one_thread(body, n))
    lone.run([a, b])
    np.testing.assert_array_equal(b, np.cumsum(a))
    (stats,) = lone.stats
    assert (stats.global_reads, stats.global_writes) == (1 + 2 * (n - 1), n)
    with pytest.raises(BoundsError, match=rf"thread \(0, 0, 0\) of block \(0, 0, 0\) accesses A\[{n}\]"):
        Emulator(_one_thread(lambda *args: body(*args, last=n + 1), n)).run([a, b])
    with pytest.raises(RaceError, match=r"global buffer B\[0\].*threads of different blocks"):
        Emulator(_kernel(lambda *args: body(*args, last=2), n=2, blocks=2)).run([a[:1].repeat(2), np.zeros(2, "float32")])


def test_a_block_reading_what_another_block_wrote_races_even_across_a_barrier():
    def body(bx, tx, S, A, B):
        return seq(BufferStore(B, _load(A, bx * 16 + tx), (bx * 16 + tx,)), syncthreads(),
                   IfThenElse(bx == 1, BufferStore(S, _load(B, tx), (tx % 8,))))
    with pytest.raises(RaceError, match=r"global buffer B\[0\] \(flat index\): thread \(0, 0, 0\) of block \(0, 0, 0\) "
                                        r"writes it and thread \(0, 0, 0\) of block \(1, 0, 0\) reads it"):
        Emulator(_kernel(body, blocks=2)).run([_rand(32), np.zeros(32, "float32")])


def test_out_of_bounds_access_names_the_thread():
    def body(bx, tx, S, A, B):
        return BufferStore(B, _load(A, tx + 1), (tx,))
    with pytest.raises(BoundsError, match=r"thread \(31, 0, 0\) of block \(0, 0, 0\) accesses A\[32\] "
                                          "\\(flat index\\), outside its 32 elements"):
        Emulator(_kernel(body)).run([_rand(32), np.zeros(32, "float32")])


def test_unbound_statements_and_mismatched_thread_extents_do_not_compile():
    sch = mlc.Schedule(vector_add(64))
    sch.split(sch.get_loops(sch.get_block("C"))[0], [None, 8])  # scheduled, but no thread bound
    with pytest.raises(CompileError, match="not scheduled for the GPU; bind their loops"):
        emulate(sch.mod)
    with pytest.raises(CompileError, match="outside every thread-bound loop"):
        emulate(mlc.IRModule({"main": sch.mod["main"].with_attr("mlc.scheduled", "user")}))
    sch2 = mlc.Schedule(window_sum(256))
    i0, i1 = sch2.split(sch2.get_loops(sch2.get_block("C"))[0], [None, 128])
    sch2.bind(i0, "blockIdx.x")
    sch2.bind(i1, "threadIdx.x")
    cache = sch2.cache_read(sch2.get_block("C"), 0, "shared")
    sch2.compute_at(cache, i0)
    _, tx = sch2.split(sch2.get_loops(cache)[-1], [None, 64])
    sch2.bind(tx, "threadIdx.x")
    with pytest.raises(CompileError, match=r"binds threadIdx.x with extent 128 \(loop i_1\) and 64 \(loop ax0_1\)"):
        emulate(sch2.mod)


def test_a_local_buffer_written_by_one_block_and_read_by_another_is_refused():
    sch = mlc.Schedule(row_sum(1, 2))
    block = sch.get_block("S")
    i, _ = sch.get_loops(block)
    cache = sch.cache_read(block, 0, "local")
    sch.compute_at(cache, i)
    with pytest.raises(mlc.ScheduleError, match="bind: loop ax0 writes the local buffer A_local, which block 'S' "
                                                "reads outside it; bound to blockIdx.x, its iterations would be "
                                                "blocks, each with its own local memory"):
        sch.bind(sch.get_loops(cache)[-1], "blockIdx.x")


def test_a_local_buffer_used_by_two_kernels_is_refused():
    A = decl_buffer((32,), "float32", "A")
    L = decl_buffer((32,), "float32", "L", scope="local")
    t1, t2 = Var("t1"), Var("t2")
    first = For(t1, const(0), const(32), "thread_binding", BufferStore(L, _load(A, t1), (t1,)), "threadIdx.x")
    second = For(t2, const(0), const(32), "thread_binding", BufferStore(A, _load(L, t2), (t2,)), "threadIdx.x")
    with pytest.raises(CompileError, match="the local buffer L is used by kernels main_kernel0 and main_kernel1; "
                                           "local memory does not outlive a kernel"):
        Emulator(PrimFunc((A,), Allocate(L, seq(first, second))))


def test_reading_a_local_element_the_thread_never_wrote_is_refused():
    def body(bx, tx, S, A, B):
        L = decl_buffer((32,), "float32", "L", scope="local")
        return Allocate(L, seq(BufferStore(L, _load(A, tx), (tx,)), BufferStore(B, _load(L, (tx + 1) % 32), (tx,))))
    with pytest.raises(RaceError, match=r"thread \(0, 0, 0\) of block \(0, 0, 0\) reads local buffer L\[1\] "
                                        r"\(flat index\), which it never wrote"):
        Emulator(_kernel(body)).run([_rand(32), np.zeros(32, "float32")])


def test_reading_a_local_element_no_thread_wrote_at_one_index_for_all_threads_is_refused():
    """The same element of every thread's local memory (a register-like access, run as one
    column of all threads' copies) is checked like any other access."""
    def body(bx, tx, S, A, B):
        L = decl_buffer((2,), "float32", "L", scope="local")
        return Allocate(L, seq(BufferStore(L, _load(A, tx), (const(0),)),
                               BufferStore(B, _load(L, const(0)) + _load(L, const(1)), (tx,))))
    with pytest.raises(RaceError, match=r"reads local buffer L\[1\] \(flat index\), which it never wrote"):
        Emulator(_kernel(body)).run([_rand(32), np.zeros(32, "float32")])

    def written(bx, tx, S, A, B):
        L = decl_buffer((2,), "float32", "L", scope="local")
        return Allocate(L, seq(BufferStore(L, _load(A, tx), (const(0),)), BufferStore(L, _load(A, tx) * 2, (const(1),)),
                               BufferStore(B, _load(L, const(0)) + _load(L, const(1)), (tx,))))
    a, b = _rand(32), np.zeros(32, "float32")
    Emulator(_kernel(written)).run([a, b])
    np.testing.assert_allclose(b, a * 3, rtol=1e-6)


def test_reading_shared_memory_another_block_wrote_is_refused():
    def body(bx, tx, S, A, B):
        return seq(IfThenElse(logical_and(bx == 0, tx < 8), BufferStore(S, _load(A, tx), (tx,))), syncthreads(),
                   BufferStore(B, _load(S, tx % 8), (bx * 16 + tx,)))
    with pytest.raises(RaceError, match=r"thread \(0, 0, 0\) of block \(1, 0, 0\) reads shared buffer S\[0\] "
                                        r"\(flat index\), which no thread of its block wrote"):
        Emulator(_kernel(body, blocks=2)).run([_rand(32), np.zeros(32, "float32")])


@pytest.mark.parametrize("op,shapes,attrs", [
    ("matmul", [(1,), (1, 0)], {}), ("matmul", [(2, 3), (3, 0)], {}), ("matmul", [(0, 64), (64, 64)], {}),
    ("matmul", [(2, 0), (0, 3)], {}), ("sum", [(0, 5)], {"axis": (1,)}), ("max", [(4, 0)], {"axis": (0,)}),
    ("nn.softmax", [(3, 0)], {"axis": -1}), ("add", [(0, 3), (0, 3)], {})], ids=str)
def test_empty_outputs_build_and_run_on_the_gpu_target(op, shapes, attrs):
    """An output with a zero-size dimension: its loops run zero times and vanish, leaving no
    kernel to launch (no statement outside a thread-bound loop, no zero-size grid)."""
    arrays = [np.ones(s, "float32") for s in shapes]
    want = run_op(op, arrays, "reference", **attrs)
    got = run_op(op, arrays, "cuda-emulator", **attrs)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("op,shapes,attrs", [
    ("add", [(1,), (1,)], {}), ("add", [(), ()], {}), ("exp", [()], {}), ("sum", [(1,)], {"axis": None}),
    ("sum", [(3,)], {"axis": None}), ("max", [(5,)], {"axis": None}), ("matmul", [(1, 1), (1, 1)], {}),
    ("matmul", [(3,), (3,)], {})], ids=str)
def test_scalar_and_one_element_outputs_run_on_the_gpu_target(op, shapes, attrs):
    """The default GPU schedule's loops of one iteration are lowered away, and a 0-d output or a
    small reduction into one has no loop to bind: such code runs as a kernel of one thread
    (it was refused as code outside every thread-bound loop)."""
    arrays = [np.arange(np.prod(s), dtype="float32").reshape(s) + 1.5 for s in shapes]
    want = run_op(op, arrays, "reference", **attrs)
    got = run_op(op, arrays, "cuda-emulator", **attrs)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_a_user_schedule_that_leaves_a_loop_unbound_is_still_refused():
    mod = vector_add(64)
    with pytest.raises(CompileError, match="outside every thread-bound loop"):
        mlc.build(mod, "cuda-emulator", schedule=mlc.schedules.as_written)


@pytest.mark.parametrize("op", ["any", "all"])
@pytest.mark.parametrize("shape,axis", [((4, 4, 4), None), ((3, 300), 1), ((2000,), None)], ids=str)
def test_logical_reductions_on_the_gpu_target(op, shape, axis):
    """any/all reduce across threads, combined as max/min of booleans (``a || shfl(a)``
    would skip the shuffle in lanes whose ``a`` is true: the emulator refuses that); a 0-d
    result of 2000 elements had run on one thread."""
    x = np.zeros(shape, bool)
    x.flat[::7] = True
    want = run_op(op, [x], "reference", axis=axis)
    got = run_op(op, [x], "cuda-emulator", axis=axis)
    np.testing.assert_array_equal(got[0], want[0])
    for flip in (0, 1, x.size - 1):  # one element decides it, first, second or last
        y = np.zeros(shape, bool) if op == "any" else np.ones(shape, bool)
        y.flat[flip] = not y.flat[flip]
        compiled = mlc.jit(target="cuda-emulator")(lambda v: getattr(mnp, op)(v, axis=axis)).lower(y).compile()
        np.testing.assert_array_equal(compiled(y), getattr(np, op)(y, axis=axis))
    if x.size >= 256:
        assert "__launch_bounds__(1)" not in compiled.as_text()
        if NVRTC_MISSING is None:
            mlc.jit(target="cuda -arch=sm_80")(lambda v: getattr(mnp, op)(v, axis=axis)).lower(y).compile()


def test_a_statement_no_gpu_rule_takes_runs_on_one_thread_and_says_so():
    """A reduction whose combiner no cross-thread reduction knows runs on one GPU thread: right,
    but slow, so a long one gives a PerformanceWarning naming the statement; a short one
    (a 0-d sum of 40) is quiet."""
    import warnings

    from mlc.errors import PerformanceWarning
    from mlc import te

    def module(n, combine):
        A = te.placeholder((n,), "float32", "A")
        k = te.reduce_axis((0, n), "k")
        r = te.comm_reducer(combine, lambda t: const(-3.0e38, t), name="odd")
        S = te.compute((), lambda: r(A[k], axis=k), "S")
        return mlc.IRModule({"main": te.create_prim_func([A, S])})

    odd = lambda a, b: te.max(a, b) + 0.0 * te.min(a, b)  # noqa: E731 - max, spelled so no rule sees it
    a = np.random.default_rng(0).random(1000).astype("float32")
    s = np.zeros((), "float32")
    with pytest.warns(PerformanceWarning, match=r"statement of 1000 loop iterations, which runs on one GPU thread"):
        lib = mlc.build(module(1000, odd), "cuda-emulator")
    lib["main"](a, s)
    assert s == a.max()
    if NVRTC_MISSING is None:
        with pytest.warns(PerformanceWarning):
            mlc.build(module(1000, odd), "cuda -arch=sm_80")  # NVRTC compiles the one-thread kernel
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)
        mlc.build(module(40, odd), "cuda-emulator")["main"](a[:40], s)
    assert s == a[:40].max()
