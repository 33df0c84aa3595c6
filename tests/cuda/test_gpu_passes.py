"""The GPU TIR passes on the course's schedules: shared and local buffers shrunk to one
block's (thread's) tile, barriers where threads hand data over, cross-thread reductions."""
import numpy as np
import pytest

import mlc
from mlc.backends.cuda import kernels, lower_for_gpu
from mlc.errors import CompileError
from mlc.ir.tir import Allocate, Evaluate, For
from mlc.ir.functor import pre_order_nodes
from mlc.passes.tir.thread_sync import is_sync

from .conftest import NVRTC_MISSING
from .programs import (matmul, row_sum, schedule_matmul_local, schedule_matmul_shared, schedule_row_sum,
                       schedule_window_sum, window_sum)


def _allocs(func):
    return {n.buffer.name: tuple(e.value for e in n.buffer.shape) for n in pre_order_nodes(func.body)
            if isinstance(n, Allocate)}


def _syncs(stmt):
    return sum(1 for n in pre_order_nodes(stmt) if isinstance(n, Evaluate) and is_sync(n))


def test_window_sum_shares_one_130_element_window_per_block_and_syncs_once():
    func = lower_for_gpu(schedule_window_sum(window_sum(1 << 12)).mod["main"])
    assert _allocs(func) == {"A_shared": (130,)}
    assert _syncs(func.body) == 1
    text = func.script()
    fetch, sync, use = (text.index(s) for s in ("A_shared[v + ax0_1] = A[", "T.syncthreads()",
                                                "A_shared[i_1] + A_shared[i_1 + 1]"))
    assert fetch < sync < use
    (k,) = kernels(func)
    assert (k.grid, k.block) == ((32, 1, 1), (128, 1, 1))


def test_shared_matmul_tiles_and_barriers_per_k_step():
    func = lower_for_gpu(schedule_matmul_shared(matmul(1024)).mod["main"])
    # 32 x 8 tiles of A and B per block and k-step, 4 x 4 accumulators per thread
    assert _allocs(func) == {"C_local": (16,), "A_shared": (256,), "B_shared": (256,)}
    k_step = next(n for n in pre_order_nodes(func.body) if isinstance(n, For) and n.loop_var.name == "k_0")
    # one before the fetches (the last step's reads are done), one before the compute
    assert _syncs(k_step) == 2 == _syncs(func.body)
    (k,) = kernels(func)
    assert (k.grid, k.block) == ((32, 32, 1), (64, 1, 1))


def test_local_matmul_needs_no_barrier():
    func = lower_for_gpu(schedule_matmul_local(matmul(64)).mod["main"])
    assert _allocs(func) == {"C_local": (16,)}
    assert _syncs(func.body) == 0


def test_cross_thread_reduction_is_a_tree_in_shared_memory():
    """Thread counts that are not warp-shaped (24: neither a power of two up to 32 nor a
    multiple of 32) reduce through shared memory; the others shuffle (test_warp_shuffle)."""
    func = lower_for_gpu(schedule_row_sum(row_sum(4, 100), 24).mod["main"])
    assert _allocs(func) == {"S_red_shared": (24,), "S_red_local": (1,)}
    text = func.script()
    for half in (12, 6, 3, 2, 1):
        assert f"S_red_shared[k_1] = S_red_shared[k_1] + S_red_shared[k_1 + {half}]" in text
    assert "if k_1 == 0:\n                S[i] = T.float32(0) + S_red_shared[0]" in text


def test_cross_thread_reduction_with_a_spatial_loop_under_the_thread_loop_is_refused():
    import mlc
    sch = mlc.Schedule(row_sum(4, 32))
    i, k = sch.get_loops(sch.get_block("S"))
    sch.reorder(k, i)
    sch.bind(k, "threadIdx.x")
    with pytest.raises(CompileError, match="the spatial iterator vi of block 'S' changes under the thread loop"):
        lower_for_gpu(sch.mod["main"])


def test_a_guarded_fetch_by_more_threads_than_elements_keeps_one_k_step_in_shared_memory():
    # 64 threads fetch 2 x 16 tiles of A and B per k step: the guard ``thread < 32`` bounds
    # B's row ``k_0 * 2 + thread // 16`` to two, so the tile is one step's, refetched per
    # step, not every step's kept at once (256 x 16)
    sch = schedule_matmul_shared(matmul(64), local=(2, 2), tile_k=2, vector=1)
    func = lower_for_gpu(sch.mod["main"])
    assert _allocs(func) == {"C_local": (4,), "A_shared": (32,), "B_shared": (32,)}
    k_step = next(n for n in pre_order_nodes(func.body) if isinstance(n, For) and n.loop_var.name == "k_0")
    assert {n.buffer.name for n in pre_order_nodes(k_step) if isinstance(n, Allocate)} >= {"A_shared", "B_shared"}
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (64, 64)).astype("float32") for _ in range(2))
    c = np.zeros((64, 64), "float32")
    mlc.build(sch.mod, "cuda-emulator")["main"](a, b, c)   # a race or a stale tile would raise or differ
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)
    if NVRTC_MISSING is None:
        mlc.build(sch.mod, "cuda -arch=sm_80")             # NVRTC compiles it (no GPU needed)
