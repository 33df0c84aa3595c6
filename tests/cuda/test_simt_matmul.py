"""The warp-tiled float32 matmul (mlc.schedules.gpu.simt): NumPy's result on the emulator at
any depth and with each of its changes left out, the default rule with it switched on
(MATMUL_SIMT) on shapes it takes and shapes it leaves to the shared-tiled rule, and its
SASS: a main loop of FFMA fed by LDS.128 only (no scalar shared loads), no spills."""
import pytest
from hypothesis import example, given, settings, strategies as st

from mlc.backends.cuda import compile_sources
from mlc.backends.cuda.sass import disassemble, loops
from mlc.driver import schedule_module
from mlc.errors import ScheduleError
from mlc.schedules import Schedule
from mlc.schedules.gpu import default as gpu, simt
from mlc.schedules.gpu.simt import schedule_simt_matmul, simt_fits

from .conftest import TARGETS
from .test_gemm_variants import CUOBJDUMP_MISSING, _check, _matmul


@settings(max_examples=4, deadline=None)
@given(st.sampled_from([128, 256]), st.sampled_from([128, 256]), st.sampled_from([16, 48]), st.sampled_from([0, 2]),
       st.sampled_from([1, 2, 3]), st.sampled_from(["", "A^T", "B permuted", "k unrolled"]))
def test_the_warp_tiled_matmul_matches_numpy(m, n, k, batch, stages, without):
    sch = Schedule(_matmul(m, n, k, batch=batch))
    schedule_simt_matmul(sch, sch.get_block("C"), stages=stages, transpose_a=without != "A^T",
                         permute_b=without != "B permuted", unroll_k=without != "k unrolled")
    _check(sch.mod, m, n, k, batch=batch)


@settings(max_examples=4, deadline=None)
@given(st.sampled_from([1, 33, 128, 256]), st.sampled_from([37, 128]), st.sampled_from([1, 20, 32]),
       st.sampled_from([0, 2]))
@example(128, 128, 32, 2)  # the warp-tiled schedule
@example(33, 37, 20, 0)  # the shared-tiled rule
def test_the_default_rule_with_the_warp_tiled_matmul_on_matches_numpy(m, n, k, batch):
    """Whole 128 x 128 blocks and k steps take the warp-tiled schedule (its block minimum
    lowered to reach them at these sizes); any other shape the shared-tiled rule."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gpu, "MATMUL_SIMT", True)
        mp.setattr(simt, "SIMT_MIN_BLOCKS", 1)
        mod = schedule_module(_matmul(m, n, k, batch=batch), "cuda")
        fits = simt_fits(m, n, k)
    permuted = "% 8 // 4" in mod["main"].script()  # B's tile permuted: the warp-tiled schedule
    assert permuted == fits, (m, n, k)
    _check(mod, m, n, k, batch=batch)


def test_the_warp_tiled_matmul_needs_a_stage():
    sch = Schedule(_matmul(128, 128, 16))
    with pytest.raises(ScheduleError, match="at least 1"):
        schedule_simt_matmul(sch, sch.get_block("C"), stages=0)


def test_the_warp_tiled_matmul_takes_whole_blocks_and_enough_of_them():
    assert simt_fits(4096, 4096, 4096) and simt_fits(512, 512, 512, batch=64)
    assert not simt_fits(4096, 256, 1024)  # 64 blocks: the shared-tiled rule's smaller tiles
    assert not simt_fits(4096, 4000, 4096) and not simt_fits(4096, 4096, 4090)


@pytest.mark.skipif(CUOBJDUMP_MISSING is not None, reason=str(CUOBJDUMP_MISSING))
@pytest.mark.parametrize("arch", ["sm_90"])
def test_the_warp_tiled_main_loop_is_ffma_fed_by_lds128_without_spills(arch):
    """Per k step of 16 a thread's 1024 FFMA read 64 LDS.128 (2 of A, 2 of B a k) and no
    scalar LDS (the shared-tiled rule reads A as 8 scalars a k); nothing spills."""
    sch = Schedule(_matmul(4096, 4096, 4096))
    schedule_simt_matmul(sch, sch.get_block("C"))
    _, cubin = compile_sources(sch.mod, TARGETS[arch])
    text = disassemble(cubin)
    main = next(loop for loop in loops(text) if "FFMA" in loop)
    ops = list(main)
    assert ops.count("FFMA") == 1024 and ops.count("LDS.128") == 64, sorted(set(ops))
    assert not any(op in ("LDS", "LDS.64") for op in ops) or \
        all("RZ, [RZ]" in line for line in text.splitlines() if " LDS " in line)
    assert not any(op in text for op in ("LDL", "STL")), "the kernel spills registers to local memory"
