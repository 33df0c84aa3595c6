"""Cross-thread reductions as warp shuffles (``__shfl_down_sync``) plus shared memory across
warps, and the emulator's shuffles: lanes of a warp of 32, x the fastest thread axis."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.driver import schedule_module
from mlc import te
from mlc.backends.cuda import compile_sources, emulate, lower_for_gpu
from mlc.errors import CompileError, RaceError
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Call, Var, const, make_binary
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Allocate, BufferStore, For, IfThenElse, PrimFunc, seq
from mlc.passes.tir.warp_shuffle import SHFL_DOWN, shfl_args, shfl_down

from .conftest import ARCHS, TARGETS
from .programs import row_sum, schedule_row_sum


def _allocs(func):
    return {n.buffer.name: tuple(e.value for e in n.buffer.shape) for n in pre_order_nodes(func.body)
            if isinstance(n, Allocate)}


def _shuffles(func):
    return [(n.args[1].value, n.args[2].value) for n in pre_order_nodes(func.body)
            if isinstance(n, Call) and n.op == SHFL_DOWN]


def test_one_warp_reduces_with_shuffles_only():
    func = lower_for_gpu(schedule_row_sum(row_sum(4, 100), 32).mod["main"])
    assert _allocs(func) == {"S_red_local": (1,)}  # registers only: no shared memory, no barrier
    assert _shuffles(func) == [(16, 32), (8, 32), (4, 32), (2, 32), (1, 32)]
    assert "T.syncthreads()" not in func.script()


def test_several_warps_meet_in_shared_memory_then_the_first_warp_shuffles():
    func = lower_for_gpu(schedule_row_sum(row_sum(4, 1000), 128).mod["main"])
    assert _allocs(func) == {"S_red_shared": (4,), "S_red_local": (1,)}  # one slot per warp
    assert _shuffles(func) == [(16, 32), (8, 32), (4, 32), (2, 32), (1, 32), (2, 4), (1, 4)]


def test_thread_counts_that_are_not_warp_shaped_keep_the_shared_memory_tree():
    func = lower_for_gpu(schedule_row_sum(row_sum(4, 100), 24).mod["main"])
    assert _allocs(func) == {"S_red_shared": (24,), "S_red_local": (1,)}
    assert _shuffles(func) == []


@pytest.mark.parametrize("arch", ARCHS)
def test_shuffle_reductions_compile_with_nvrtc(arch):
    code, cubin = compile_sources(schedule_row_sum(row_sum(4, 1000), 256).mod, TARGETS[arch])
    assert "__shfl_down_sync(__activemask(), S_red_local[0], 16, 32)" in code and cubin


def _row_reduce_module(rows, cols, reducer):
    A = te.placeholder((rows, cols), "float32", "A")
    k = te.reduce_axis((0, cols), "k")
    S = te.compute((rows,), lambda i: reducer(A[i, k], axis=k), "S")
    return mlc.IRModule({"main": te.create_prim_func([A, S])})


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 300), threads=st.sampled_from([2, 3, 4, 8, 16, 24, 32, 64, 96, 256]),
       rows_per_block=st.sampled_from([1, 2, 4]), reducer=st.sampled_from(["sum", "max", "min"]),
       seed=st.integers(0, 2**16))
def test_shuffle_reductions_on_the_emulator_match_numpy(rows, cols, threads, rows_per_block, reducer, seed):
    """Rows on blockIdx.x x threadIdx.y, the reduction over threadIdx.x: with fewer than 32
    threads a warp holds several rows, each reduced within its group of lanes; 3 and 24
    threads reduce through shared memory, one row of it per threadIdx.y."""
    sch = mlc.Schedule(_row_reduce_module(rows, cols, getattr(te, reducer)))
    i, k = sch.get_loops(sch.get_block("S"))
    i0, i1 = sch.split(i, [None, rows_per_block])
    k0, k1 = sch.split(k, [None, threads])
    sch.reorder(i0, i1, k1, k0)
    sch.bind(i0, "blockIdx.x")
    sch.bind(i1, "threadIdx.y")
    sch.bind(k1, "threadIdx.x")
    a = np.random.default_rng(seed).standard_normal((rows, cols)).astype("float32")
    s = np.zeros(rows, "float32")
    emulate(sch.mod)["main"](a, s)
    np.testing.assert_allclose(s, getattr(np, reducer)(a, axis=1), rtol=1e-5, atol=1e-4)


def test_default_row_reductions_use_shuffles():
    mod = schedule_module(_row_reduce_module(8, 4096, te.sum), "cuda")
    lowered = mlc.backends.cuda.lower(mod)["main"]
    assert _shuffles(lowered)
    a = np.random.default_rng(0).standard_normal((8, 4096)).astype("float32")
    s = np.zeros(8, "float32")
    lib = emulate(mod)
    lib["main"](a, s)
    np.testing.assert_allclose(s, a.sum(axis=1), rtol=1e-4, atol=1e-3)


# ------------------------------------------------------------------ shfl_down's arguments

@pytest.mark.parametrize("width", [0, -2, 3, 6, 12, 24, 31, 33, 48, 64])
def test_a_width_that_is_not_a_power_of_two_up_to_the_warp_is_refused(width):
    """CUDA's __shfl_down_sync is defined for widths 1, 2, 4, ..., 32 only."""
    with pytest.raises(CompileError, match=rf"power of two up to 32 .*got width {width} "):
        shfl_down(Var("v", "float32"), 1, width)


@pytest.mark.parametrize("offset,width", [(2, 2), (8, 8), (32, 32), (0, 8), (-1, 8), (9, 8), (1, 1)])
def test_an_offset_outside_one_to_width_is_refused(offset, width):
    """An offset of width or more (or none) moves no value within a group."""
    with pytest.raises(CompileError, match=rf"offset in \[1, width\), got width {width} and offset {offset}"):
        shfl_down(Var("v", "float32"), offset, width)


def test_every_offset_below_every_power_of_two_width_is_accepted():
    v = Var("v", "float32")
    for width in (2, 4, 8, 16, 32):
        for offset in range(1, width):
            assert shfl_args(shfl_down(v, offset, width)) == (v, offset, width)
    assert shfl_args(shfl_down(v, 16)) == (v, 16, 32)


@pytest.mark.parametrize("threads", [2, 3, 7, 24, 32, 48, 96, 128])
def test_the_shuffles_of_default_row_reductions_have_legal_widths_and_offsets(threads):
    """Whatever the thread count, the reductions shuffle within power-of-two groups of a warp."""
    func = lower_for_gpu(schedule_row_sum(row_sum(3, 200), threads).mod["main"])
    for offset, width in _shuffles(func):
        assert width in (1, 2, 4, 8, 16, 32) and 0 < offset < width, (offset, width)


# ------------------------------------------------------------------ the emulator's shuffles

def _shuffle_kernel(active: int, offset: int, width: int, threads: int = 32):
    """``B[tx] = A[tx] + shfl_down(A[tx], offset, width)`` for the threads ``tx < active``."""
    A, B = decl_buffer((threads,), "float32", "A"), decl_buffer((threads,), "float32", "B")
    L = decl_buffer((1,), "float32", "L", scope="local")
    tx, bx = Var("tx", "int32"), Var("bx", "int32")
    zero = const(0)
    value = BufferLoad(L, (zero,), "float32")
    body = seq(BufferStore(L, BufferLoad(A, (tx,), "float32"), (zero,)),
               IfThenElse(make_binary("lt", tx, const(active)),
                          BufferStore(B, value + shfl_down(value, offset, width), (tx,))))
    kernel = For(bx, zero, const(1), "thread_binding", For(tx, zero, const(threads), "thread_binding",
                                                             Allocate(L, body), "threadIdx.x"), "blockIdx.x")
    return PrimFunc((A, B), kernel, (("global_symbol", "shfl"),))


@pytest.mark.parametrize("offset,width", [(1, 2), (4, 8), (16, 32), (3, 4)])
def test_emulated_shuffles_move_values_down_within_groups_of_lanes(offset, width):
    a = np.arange(32, dtype="float32") * 10
    b = np.zeros(32, "float32")
    mlc.backends.cuda.Emulator(_shuffle_kernel(32, offset, width)).run([a, b])
    lane = np.arange(32)
    src = np.where(lane % width + offset < width, lane + offset, lane)
    np.testing.assert_array_equal(b, a + a[src])


def test_a_shuffle_from_a_lane_that_does_not_execute_it_is_a_race():
    a, b = np.ones(32, "float32"), np.zeros(32, "float32")
    with pytest.raises(RaceError, match=r"shuffles down by 16 \(width 32\) from thread \(16, 0, 0\)"):
        mlc.backends.cuda.Emulator(_shuffle_kernel(16, 16, 32)).run([a, b])
    mlc.backends.cuda.Emulator(_shuffle_kernel(16, 8, 16)).run([a, b])  # within the active lanes: fine
    assert (b[:16] == 2).all()


def test_a_shuffle_past_the_blocks_threads_is_a_race():
    a, b = np.ones(24, "float32"), np.zeros(24, "float32")
    with pytest.raises(RaceError, match="does not execute the shuffle"):
        mlc.backends.cuda.Emulator(_shuffle_kernel(24, 16, 32, threads=24)).run([a, b])


@pytest.mark.parametrize("threads", [16, 32, 64])
def test_a_shuffled_row_max_read_by_the_whole_block_is_waited_for(threads):
    """Thread 0 writes the row's max; the block's threads then subtract it from their elements:
    a barrier between (the shared-memory tree has one at its end; the shuffles had none)."""
    rows, cols = 4, 64
    A = te.placeholder((rows, cols), "float32", "A")
    k = te.reduce_axis((0, cols), "k")
    M = te.compute((rows,), lambda i: te.max(A[i, k], axis=k), "M")
    O = te.compute((rows, cols), lambda i, j: A[i, j] - M[i], "O")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, O])}))
    i, j = sch.get_loops(sch.get_block("O"))
    sch.bind(i, "blockIdx.x")
    sch.bind(sch.split(j, [None, threads])[1], "threadIdx.x")
    m = sch.get_block("M")
    sch.compute_at(m, i)
    k0, k1 = sch.split(sch.get_loops(m)[-1], [None, threads])
    sch.reorder(k1, k0)
    sch.bind(k1, "threadIdx.x")
    code, _ = compile_sources(sch.mod)
    assert code.index("__syncthreads()") < code.index("- M[")
    a = np.random.default_rng(0).standard_normal((rows, cols)).astype("float32")
    out = np.zeros((rows, cols), "float32")
    emulate(sch.mod)["main"](a, out)  # raised RaceError on M without the barrier
    np.testing.assert_allclose(out, a - a.max(1, keepdims=True))


@pytest.mark.parametrize("outer, inner", [("threadIdx.y", "threadIdx.x"), ("threadIdx.x", "threadIdx.y")])
def test_a_reduction_over_two_thread_axes_is_refused_until_they_are_fused(outer, inner):
    """Only the outer axis was combined: every inner thread wrote its partial to one slot."""
    A = te.placeholder((2, 64), "float32", "A")
    k = te.reduce_axis((0, 64), "k")
    S = te.compute((2,), lambda i: te.sum(A[i, k], axis=k), "S")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, S])}))
    i, kk = sch.get_loops(sch.get_block("S"))
    k0, k1, k2 = sch.split(kk, [None, 4, 16])
    sch.reorder(i, k1, k2, k0)
    sch.bind(i, "blockIdx.x")
    sch.bind(k1, outer)
    sch.bind(k2, inner)
    with pytest.raises(mlc.CompileError, match=rf"over loop k_1 \({outer}\): loop k_2 inside it is bound to "
                                               rf"{inner} too.*fuse the two loops"):
        compile_sources(sch.mod)
    fused = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, S])}))
    i, kk = fused.get_loops(fused.get_block("S"))
    k0, k1 = fused.split(kk, [None, 64])
    fused.reorder(i, k1, k0)
    fused.bind(i, "blockIdx.x")
    fused.bind(k1, "threadIdx.x")
    a = np.random.default_rng(0).standard_normal((2, 64)).astype("float32")
    s = np.zeros(2, "float32")
    emulate(fused.mod)["main"](a, s)
    np.testing.assert_allclose(s, a.sum(1), rtol=1e-5)
