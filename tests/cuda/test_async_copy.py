"""cp.async pipelines: tensor-core matmuls whose fetches into shared memory are asynchronous
copies, 2 to 4 stages deep, match NumPy on the emulator (which writes a copy only at the wait
that completes its group and refuses any earlier access), compile with NVRTC for sm_80 and
sm_90, and what a missing wait, a too-lax wait or a missing barrier would break is refused."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.backends.cuda import compile_sources, emulate, lower
from mlc.backends.gpu.emulator import Emulator
from mlc.errors import CompileError, RaceError, ScheduleError
from mlc.ir.expr import Call, const
from mlc.ir.functor import Mutator
from mlc.ir.tir import Evaluate, seq
from mlc.passes.tir.async_copy import CP_ASYNC_WAIT, is_commit, wait_count
from mlc.passes.tir.thread_sync import is_sync
from mlc.schedules import Schedule
from mlc.schedules.intrinsics.cuda import schedule_wmma_matmul

from .conftest import ARCHS, NVRTC_MISSING, TARGETS
from .programs import half_matmul as _matmul


#: (warps, fragments, k fragments, variant): one warp (its fragment loads in the compute's
#: stage, between the fetches), four warps of one fragment, four of 2 x 2 over k steps of 32.
CONFIGS = [((1, 1), (1, 1), 1, "wmma"), ((2, 2), (1, 1), 1, "wmma"), ((2, 2), (2, 2), 2, "mma")]


def _async(m, n, k, config, stages):
    warps, fragments, k_fragments, variant = config
    sch = Schedule(_matmul(m, n, k))
    schedule_wmma_matmul(sch, "C", warps, variant=variant, pipeline=True, fragments=fragments,
                         k_fragments=k_fragments, stages=stages, async_copy=True)
    return sch.mod


def _operands(m, n, k, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(-8, 9, (m, k)).astype("float16"), rng.integers(-8, 9, (k, n)).astype("float16")


def _run(mod, a, b):
    c = np.full((a.shape[0], b.shape[1]), np.nan, "float32")
    emulate(mod)["main"](a, b, c)
    return c


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(range(len(CONFIGS))), st.integers(2, 4), st.integers(1, 6), st.integers(1, 2),
       st.integers(0, 2**16))
def test_async_pipelines_match_numpy(config, stages, k_steps, blocks, seed):
    """Any depth, any number of k steps (fewer than the stages: the loop runs as written)."""
    warps, fragments, k_fragments, _ = CONFIGS[config]
    m = 16 * warps[0] * fragments[0] * blocks
    n = 16 * warps[1] * fragments[1]
    k = 16 * k_fragments * k_steps
    a, b = _operands(m, n, k, seed)
    np.testing.assert_array_equal(_run(_async(m, n, k, CONFIGS[config], stages), a, b),
                                  a.astype("float32") @ b.astype("float32"))


def test_the_pipelined_loop_commits_a_group_a_step_and_waits_for_the_oldest():
    func = lower(_async(64, 64, 256, CONFIGS[2], 3))["main"]
    text = func.script()
    assert text.count("async_copy") == 2 * 3  # A's and B's fetches: 2 in the prologue, 1 in the loop
    loop = next(n for n in _stmts(func.body) if getattr(n, "extent", None) is not None and
                getattr(n.loop_var, "name", "") == "k_0")
    body = list(loop.body.seq)
    kinds = ["commit" if is_commit(s) else f"wait {wait_count(s)}" if wait_count(s) is not None else
             "barrier" if is_sync(s) else "other" for s in body]
    # fetch A, fetch B, commit, wait until 1 group of the 2 younger ones... the oldest is done
    assert kinds[kinds.index("commit"):kinds.index("commit") + 3] == ["commit", "wait 2", "barrier"]


def _stmts(node):
    from mlc.ir.functor import pre_order_nodes
    return pre_order_nodes(node)


class _Drop(Mutator):
    """Lowered IR with the statements ``drop`` picks removed."""

    def __init__(self, drop):
        super().__init__()
        self.drop = drop

    def visit_SeqStmt(self, node):
        node = self.generic_visit(node)
        return seq(*(s for s in node.seq if not self.drop(s)))


class _Relax(Mutator):
    """Every wait lets one more group stay in flight."""

    def visit_Evaluate(self, node):
        n = wait_count(node)
        return node if n is None else Evaluate(Call(CP_ASYNC_WAIT, (const(n + 1),), "int32"))


def _emulate_lowered(func, a, b):
    c = np.zeros((a.shape[0], b.shape[1]), "float32")
    Emulator(func).run([a, b, c])
    return c


@pytest.mark.parametrize("break_it, message", [
    (_Drop(lambda s: wait_count(s) is not None), "in flight|never waited"),
    (_Relax(), "in flight"),
    (_Drop(lambda s: is_sync(s)), "race|in flight"),
])
def test_the_emulator_refuses_what_a_gpu_would_get_wrong(break_it, message):
    """Without its waits a read finds the copy in flight; a wait one group too lax leaves the
    group it needs in flight; without barriers another thread reads a copy as it lands."""
    func = lower(_async(64, 64, 128, CONFIGS[1], 3))["main"]
    a, b = _operands(64, 64, 128)
    np.testing.assert_array_equal(_emulate_lowered(func, a, b), a.astype("float32") @ b.astype("float32"))
    with pytest.raises(RaceError, match=message):
        _emulate_lowered(func.with_body(break_it.visit(func.body)), a, b)


def test_only_global_to_shared_copies_can_be_asynchronous():
    sch = Schedule(_matmul(64, 64, 64))
    schedule_wmma_matmul(sch, "C", (2, 2), pipeline=True)
    k0 = sch.get_loops(sch.get_block("C_update_o"))[2]
    sch.annotate(k0, "software_pipeline_async_stages", [0, 1])  # the compute's stage too
    with pytest.raises(CompileError, match="asynchronous stage.*only copies of a global buffer"):
        lower(sch.mod)


def test_stages_without_a_pipeline_are_refused():
    sch = Schedule(_matmul(64, 64, 64))
    with pytest.raises(ScheduleError, match="need pipeline=True"):
        schedule_wmma_matmul(sch, "C", (2, 2), stages=3)


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("arch", ARCHS)
def test_async_pipelines_compile_with_nvrtc(arch):
    code, cubin = compile_sources(_async(128, 128, 256, CONFIGS[2], 3), TARGETS[arch])
    assert cubin[:4] == b"\x7fELF"
    assert code.count("mlc_cp_async<16>(") == 2 * 3 and "mlc_cp_async_wait<2>();" in code
    assert "cp.async.cg.shared.global" in code


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_a_graph_of_pipelined_kernels_compiles_with_one_copy_of_each_helper():
    """Two float32 matmuls of one jitted function (an MLP), each a cp.async pipeline: their
    sources joined hold the cp.async helpers once (NVRTC refuses a definition repeated)."""
    rng = np.random.default_rng(8)
    x, w1, b1, w2, b2 = (rng.standard_normal(s).astype("float32") for s in ((256, 128), (128, 128), (128,),
                                                                           (128, 64), (64,)))
    f = mlc.jit(lambda x, w1, b1, w2, b2: np.maximum(x @ w1 + b1, 0) @ w2 + b2, target="cuda")
    source = f.lower(x, w1, b1, w2, b2).compile().as_text()
    assert source.count("__global__") >= 2 and source.count("mlc_cp_async_commit() {") == 1
