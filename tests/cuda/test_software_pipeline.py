"""Software pipelining of GPU loops (``software_pipeline_stage`` annotations): the
pipelined kernels compute the same on the emulator (which checks the barriers the
overlapped steps need) and compile with NVRTC; bad annotations are CompileErrors."""
import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends.cuda import compile_sources, emulate, lower
from mlc.driver import schedule_module
from mlc.errors import CompileError
from mlc.schedules import Schedule
from mlc.schedules.intrinsics.cuda import schedule_wmma_matmul

from .conftest import ARCHS, NVRTC_MISSING, TARGETS


def _matmul(m, n, k, dtype="float16"):
    A = te.placeholder((m, k), dtype, name="A")
    B = te.placeholder((k, n), dtype, name="B")
    r = te.reduce_axis((0, k), name="k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r].astype("float32") * B[r, j].astype("float32"), axis=r),
                   name="C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _inputs(m, n, k, dtype="float16"):
    rng = np.random.default_rng(5)
    return rng.integers(-5, 6, (m, k)).astype(dtype), rng.integers(-5, 6, (k, n)).astype(dtype)


def _check(mod, a, b):
    c = np.full((a.shape[0], b.shape[1]), np.nan, "float32")
    emulate(mod)["main"](a, b, c)
    np.testing.assert_array_equal(c, a.astype("float32") @ b.astype("float32"))


@pytest.mark.parametrize("m, n, k, variant", [(64, 64, 64, "wmma"), (64, 32, 128, "mma"), (32, 32, 48, "wmma")])
def test_pipelined_tensor_core_matmul(m, n, k, variant):
    sch = Schedule(_matmul(m, n, k))
    schedule_wmma_matmul(sch, "C", (2, 2) if n % 32 == 0 else (2, 1), variant=variant, pipeline=True)
    lowered = lower(sch.mod)["main"].script()
    # A's [32, 16] tile, rows 40 apart: 31 * 40 + 16 = 1256 halves, rounded to 128 bytes, twice
    assert f'A_shared = T.allocate([{2 * 1280}], "float16", "shared")' in lowered
    assert f"for k_0 in range({k // 16 - 1}):" in lowered  # the steady state; prologue and epilogue around
    _check(sch.mod, *_inputs(m, n, k))
    for arch in ARCHS if NVRTC_MISSING is None else ():
        compile_sources(sch.mod, TARGETS[arch])


def test_pipelined_default_float32_matmul():
    mod = schedule_module(_matmul(64, 64, 64, "float32"), "cuda")
    sch = Schedule(mod)
    k0 = sch.get_loops(sch.get_block("C_update"))[3]  # blockIdx.y, blockIdx.x, threadIdx.x, k_0
    sch.annotate(k0, "software_pipeline_stage", [0, 0, 1])
    assert "for k_0 in range(7):" in lower(sch.mod)["main"].script()
    _check(sch.mod, *_inputs(64, 64, 64, "float32"))


def test_a_loop_shorter_than_its_stages_runs_as_written():
    sch = Schedule(_matmul(32, 32, 16))
    schedule_wmma_matmul(sch, "C", pipeline=True)  # one k step
    assert "software_pipeline" not in lower(sch.mod)["main"].script()
    _check(sch.mod, *_inputs(32, 32, 16))


@pytest.mark.parametrize("key, value, message", [
    ("software_pipeline_stage", [0, 1], "has 2 entries but the loop body has 3 statements"),
    ("software_pipeline_order", [0, 0, 1], "must list each statement once"),
])
def test_bad_pipeline_annotations_are_refused(key, value, message):
    sch = Schedule(_matmul(64, 64, 64))
    schedule_wmma_matmul(sch, "C", pipeline=True)
    sch.annotate(sch.get_loops(sch.get_block("A_shared"))[2], key, value)
    with pytest.raises(CompileError, match=f"loop k_0.*{message}"):
        lower(sch.mod)


@pytest.mark.parametrize("stages, order", [([1, 1, 0], None), ([0, 0, 0], [2, 0, 1])])
def test_a_fetch_staged_after_the_compute_that_reads_it_is_refused(stages, order):
    """The course's shared-memory matmul: the compute would read tiles no thread had fetched yet
    (the emulator stopped on a misleading race instead)."""
    from examples.ch7_gpu_acceleration import matmul, schedule_matmul_shared
    sch = schedule_matmul_shared(matmul(64))
    k0 = sch.get_loops(sch.get_block("C_update"))[3]
    sch.annotate(k0, "software_pipeline_stage", stages)
    if order is not None:
        sch.annotate(k0, "software_pipeline_order", order)
    with pytest.raises(CompileError, match=r"loop k_0: statement 2 \(stage 0\) reads what statement 0 \(stage "
                                           r"\d\) writes in the same iteration"):
        lower(sch.mod)
    sch.annotate(k0, "software_pipeline_stage", [0, 0, 1])
    sch.annotate(k0, "software_pipeline_order", [0, 1, 2])
    a, b = (np.random.default_rng(0).standard_normal((64, 64)).astype("float32") for _ in range(2))
    c = np.zeros((64, 64), "float32")
    emulate(sch.mod)["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4)
