"""The GEMM variants of the default GPU schedule and the tuner (cp.async pipelines of tensor-core
and float32 register-tile matmuls): every one matches NumPy on the emulator, the default on
odd and non-divisible shapes too, and their SASS (cuobjdump) shows what they are built for —
LDGSTS (cp.async), LDSM (ldmatrix) and HMMA (tensor cores) in the main loop, FFMA for float32,
and no local memory (no spills) — for sm_80 and sm_90."""
import functools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.cuda import compile_sources, emulate
from mlc.backends.cuda.sass import cuobjdump_unavailable_reason, disassemble, loops
from mlc.driver import schedule_module
from mlc.errors import ScheduleError
from mlc.schedules import Schedule
from mlc.schedules.gpu.default import (MATMUL_STAGES, TENSOR_CORE_TILES, TENSOR_CORE_VARIANTS, TensorCoreTile,
                                       schedule_shared_matmul, tensor_core_tile)

from .conftest import ARCHS, NVRTC_MISSING, TARGETS, needs_gpu

CUOBJDUMP_MISSING = NVRTC_MISSING or cuobjdump_unavailable_reason()


def _matmul(m, n, k, dtype="float32", batch=0):
    lead = (batch,) if batch else ()
    A = te.placeholder(lead + (m, k), dtype, name="A")
    B = te.placeholder(lead + (k, n), dtype, name="B")
    r = te.reduce_axis((0, k), name="k")
    if batch:
        body = lambda q, i, j: te.sum(A[q, i, r].astype("float32") * B[q, r, j].astype("float32"), axis=r)  # noqa: E731
    else:
        body = lambda i, j: te.sum(A[i, r].astype("float32") * B[r, j].astype("float32"), axis=r)  # noqa: E731
    C = te.compute(lead + (m, n), body, name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _check(mod, m, n, k, dtype="float32", batch=0, seed=0):
    rng = np.random.default_rng(seed)
    lead = (batch,) if batch else ()
    a = rng.integers(-8, 9, lead + (m, k)).astype(dtype)
    b = rng.integers(-8, 9, lead + (k, n)).astype(dtype)
    c = np.full(lead + (m, n), np.nan, "float32")
    lib = emulate(mod)
    lib["main"](a, b, c)
    np.testing.assert_array_equal(c, a.astype("float32") @ b.astype("float32"))
    return lib


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 70), st.integers(1, 70), st.integers(1, 70), st.sampled_from([0, 2]))
def test_the_default_float32_pipeline_matches_numpy_on_any_shape(m, n, k, batch):
    """Ragged tiles, k loops shorter than the pipeline, size 1: the default schedule's cp.async
    pipeline (or the rules it falls back to) gives NumPy's result."""
    _check(schedule_module(_matmul(m, n, k, batch=batch), "cuda"), m, n, k, batch=batch)


@pytest.mark.parametrize("stages", [1, 2, 4])
@pytest.mark.parametrize("tile", [(8, 8, 4, 4, 8), (16, 16, 4, 4, 8)])
def test_float32_pipelines_of_any_depth_match_numpy(tile, stages):
    m = n = tile[0] * tile[2] * 2
    k = tile[4] * 5
    sch = Schedule(_matmul(m, n, k))
    schedule_shared_matmul(sch, sch.get_block("C"), tile, stages=stages, async_copy=stages > 1)
    _check(sch.mod, m, n, k)


def test_an_async_float32_fetch_needs_a_pipeline():
    sch = Schedule(_matmul(64, 64, 64))
    with pytest.raises(ScheduleError, match="at least 2 stages"):
        schedule_shared_matmul(sch, sch.get_block("C"), (8, 8, 4, 4, 8), stages=1, async_copy=True)


@pytest.mark.parametrize("tile", TENSOR_CORE_VARIANTS, ids=str)
def test_every_tensor_core_variant_matches_numpy_without_bank_conflicts(tile):
    """The smallest shape a variant's block divides, with enough k steps to fill its pipeline;
    the padded shared tiles give ldmatrix no bank conflicts (the emulator counts them)."""
    m, n, tk = tile.shape
    k = tk * (tile.stages + 1)
    sch = Schedule(_matmul(m, n, k, "float16"))
    tile.schedule(sch, "C", variant="mma" if tile.stages % 2 else "wmma")
    lib = _check(sch.mod, m, n, k, "float16")
    assert sum(s.bank_conflicts for s in lib.kernel_stats()) == 0


def test_unpadded_shared_tiles_are_counted_as_bank_conflicts():
    """Rows of 64 halves (128 bytes) put all 8 rows of each 8 x 8 matrix in the same banks."""
    sch = Schedule(_matmul(64, 64, 64, "float16"))
    from mlc.schedules.intrinsics.cuda import schedule_wmma_matmul
    schedule_wmma_matmul(sch, "C", (2, 2), pad=False, fragments=(2, 2), k_fragments=4, variant="mma")
    lib = _check(sch.mod, 64, 64, 64, "float16")
    # A's tile rows are 64 halves: 7 extra wavefronts per 8 x 8 matrix; B's rows 64 too
    assert sum(s.bank_conflicts for s in lib.kernel_stats()) > 0


#: the cp.async pipeline of 128 x 128 blocks, k steps of 32, three deep (CUTLASS's sm_80 recipe)
PIPELINED = TensorCoreTile((2, 2), (4, 4), 2, 3, True)


def test_the_default_picks_the_block_measured_fastest_for_large_float16_matmuls():
    """128 x 128 blocks with k steps of 64 and ordinary loads ran ahead of every cp.async
    pipeline on an H100; the pipelines stay in the tuner's space."""
    assert tensor_core_tile(4096, 4096, 4096) == TensorCoreTile((2, 2), (4, 4), 4)
    assert PIPELINED in TENSOR_CORE_TILES and PIPELINED in TENSOR_CORE_VARIANTS
    assert MATMUL_STAGES > 1


def _main_loop(sass: str, marker: str) -> list[str]:
    """The innermost loop of the SASS text ``sass`` that runs ``marker`` (HMMA, FFMA), as its opcodes."""
    found = [loop for loop in loops(sass) if any(op.startswith(marker) for op in loop)]
    assert found, f"no loop of the kernel runs {marker}"
    return found[0]


def _no_local_memory(sass: str) -> None:
    assert not any(op in sass for op in ("LDL", "STL")), "the kernel spills registers to local memory"


@functools.cache
def _default_4096(dtype: str):
    """The default GPU schedule of a 4096-cubed matmul (scheduled once; the tests only read it)."""
    return schedule_module(_matmul(4096, 4096, 4096, dtype), "cuda")


@functools.cache
def _pipelined_4096(variant: str):
    """:data:`PIPELINED`'s schedule of a 4096-cubed float16 matmul as ``variant`` (once per variant)."""
    sch = Schedule(_matmul(4096, 4096, 4096, "float16"))
    PIPELINED.schedule(sch, "C", variant=variant)
    return sch.mod


@pytest.mark.skipif(CUOBJDUMP_MISSING is not None, reason=str(CUOBJDUMP_MISSING))
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("variant", ["wmma", "mma"])
def test_the_tensor_core_pipeline_is_ldgsts_ldsm_and_hmma_in_its_main_loop(arch, variant):
    _, cubin = compile_sources(_pipelined_4096(variant), TARGETS[arch])
    sass = disassemble(cubin)
    ops = {op.split(".")[0] for op in _main_loop(sass, "HMMA")}
    assert {"LDGSTS", "LDSM", "HMMA"} <= ops and not {"LDG", "STS"} & ops, sorted(ops)
    _no_local_memory(sass)


@pytest.mark.skipif(CUOBJDUMP_MISSING is not None, reason=str(CUOBJDUMP_MISSING))
@pytest.mark.parametrize("arch", ARCHS)
def test_the_default_tensor_core_gemm_runs_ldsm_and_hmma_and_does_not_spill(arch):
    _, cubin = compile_sources(_default_4096("float16"), TARGETS[arch])
    sass = disassemble(cubin)
    ops = {op.split(".")[0] for op in _main_loop(sass, "HMMA")}
    assert {"LDSM", "HMMA"} <= ops, sorted(ops)
    _no_local_memory(sass)


@pytest.mark.skipif(CUOBJDUMP_MISSING is not None, reason=str(CUOBJDUMP_MISSING))
@pytest.mark.parametrize("arch", ARCHS)
def test_the_default_float32_gemm_fetches_with_ldgsts_and_does_not_spill(arch):
    _, cubin = compile_sources(_default_4096("float32"), TARGETS[arch])
    sass = disassemble(cubin)
    _main_loop(sass, "FFMA")
    outer = {op.split(".")[0] for op in next(l for l in loops(sass) if "LDGSTS" in
                                            {op.split(".")[0] for op in l})}
    # the k-step loop: fetches issued as cp.async around the register tile's FFMA, no LDG + STS
    assert "FFMA" in outer and not {"LDG", "STS"} & outer, sorted(outer)
    _no_local_memory(sass)


@settings(max_examples=4, deadline=None)
@given(st.sampled_from([(32, 32), (32, 48), (64, 32), (48, 64)]), st.sampled_from([1024, 2048, 4096]),
       st.sampled_from(["float16", "float32"]))
def test_skinny_matmuls_split_k_and_match_numpy(mn, k, dtype):
    """Few output blocks and a long k: the default splits k (a batch of partial sums on
    blockIdx.z into a float32 buffer, then their sum): two kernels, NumPy's result."""
    m, n = mn
    mod = schedule_module(_matmul(m, n, k, dtype), "cuda")
    text = mod["main"].script()
    assert "C_rf" in text and 'thread="blockIdx.z"' in text
    _check(mod, m, n, k, dtype)


def test_split_k_parts_stay_deep_and_stop_at_enough_blocks():
    from mlc.schedules.gpu.default import SPLIT_K_MIN_BLOCKS, split_k_factor
    assert split_k_factor(1, 4096, 32) == 16
    assert split_k_factor(1, 512, 32) == 2  # parts of at least 256
    assert split_k_factor(SPLIT_K_MIN_BLOCKS, 1 << 20, 32) == 1
    assert split_k_factor(2, 3 * 256, 32) == 2  # 4 parts would be 192 deep
    assert "C_rf" not in _default_4096("float16")["main"].script()  # enough blocks: one kernel


def _gpu_cases(variant: str) -> list:
    """(what, scheduled module, (m, n, k), dtype) of every variant the GPU test runs."""
    cases = []
    for t in TENSOR_CORE_VARIANTS:
        sch = Schedule(_matmul(256, 256, 512, "float16"))
        t.schedule(sch, "C", variant=variant)
        cases.append((f"{variant} {t}", sch.mod, (256, 256, 512), "float16"))
    if variant == "mma":  # the float32 pipelines and split-K once
        for stages in (1, 2, 3, 4):
            sch = Schedule(_matmul(256, 256, 512))
            schedule_shared_matmul(sch, sch.get_block("C"), (16, 16, 8, 8, 16), stages=stages,
                                   async_copy=stages > 1)
            cases.append((f"float32 {stages} stages", sch.mod, (256, 256, 512), "float32"))
        for dtype in ("float16", "float32"):
            cases.append((f"split-K {dtype}", schedule_module(_matmul(32, 48, 4096, dtype), "cuda"),
                          (32, 48, 4096), dtype))
    return cases


@pytest.mark.parametrize("variant, extra", [("wmma", 0), ("mma", 6)])
def test_the_gpu_cases_are_scheduled(variant, extra):
    assert len(_gpu_cases(variant)) == len(TENSOR_CORE_VARIANTS) + extra


@needs_gpu
@pytest.mark.parametrize("variant", ["wmma", "mma"])
def test_every_variant_on_the_gpu(variant):
    """On a GPU: every tensor-core block (cp.async pipelines, dynamic shared memory past 48 KiB),
    the float32 pipelines of every depth and split-K give NumPy's result."""
    import cupy as cp
    rng = np.random.default_rng(0)
    for what, mod, (m, n, k), dtype in _gpu_cases(variant):
        lib = mlc.build(mod, "cuda")
        a = rng.integers(-8, 9, (m, k)).astype(dtype)
        b = rng.integers(-8, 9, (k, n)).astype(dtype)
        c = cp.full((m, n), cp.nan, "float32")
        lib["main"](cp.asarray(a), cp.asarray(b), c)
        np.testing.assert_array_equal(c.get(), a.astype("float32") @ b.astype("float32"), err_msg=what)
