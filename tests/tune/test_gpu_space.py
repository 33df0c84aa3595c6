"""The CUDA design space: every point is correct on the emulator and compiles with NVRTC,
points over the GPU's limits are refused before they are built (or fail as a recorded build
error), and ``mlc.tune(target="cuda")`` works without a GPU, checking candidates untimed."""
import sqlite3

import numpy as np
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

import mlc
from mlc.errors import DeviceError
from examples.ch7_gpu_acceleration import row_sum, vector_add
from mlc.backends.cuda import kernels, lower
from mlc.backends.cuda.nvrtc import nvrtc_unavailable_reason
from mlc.backends.cuda.runtime import device_unavailable_reason
from mlc.tune import (GpuRunner, Database, GpuInfo, Job, ResourceLimitError, Timing, gpu_space, resolve_measure,
                      space)
from mlc.tune.job import WorkerState
from mlc.tune.search import EvolutionarySearch

from .workloads import matmul
from ..cuda.programs import half_matmul as _half_matmul

NVRTC_MISSING = nvrtc_unavailable_reason()
DEVICE_MISSING = device_unavailable_reason()
FAST = Timing(repeat=2, min_repeat_s=0.0005, gap_s=0.0)

WORKLOADS = {
    "mm_relu 32": lambda: matmul(32, 32, 32, relu=True, name="main"),
    "mm ragged 20x36x12": lambda: matmul(20, 36, 12, name="main"),
    "mm 1x48x8": lambda: matmul(1, 48, 8, name="main"),
    "row_sum 6x200": lambda: row_sum(6, 200),
    "row_sum 3x1": lambda: row_sum(3, 1),
    "vector_add 1000": lambda: vector_add(1000),
}


def _arrays(func):
    rng = np.random.default_rng(0)
    return [rng.uniform(-1, 1, tuple(s.value for s in p.shape)).astype(p.dtype) for p in func.params]


def _emulated_matches_reference(mod, trace):
    (name,) = list(mod)
    args = _arrays(mod[name])
    want = [a.copy() for a in args]
    mlc.build(mod, "reference")[name](*want)
    mlc.build(mod, "cuda-emulator", schedule=trace)[name](*args)
    np.testing.assert_allclose(args[-1], want[-1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**30))
def test_every_point_of_the_cuda_space_is_correct_and_compiles(workload, seed):
    mod = WORKLOADS[workload]()
    try:
        sch = space.replay(mod, space.TILED, "cuda", seed=seed)
    except ResourceLimitError as err:  # refused before any build: a limit, named
        assert "the GPU allows" in str(err)
        event("refused over a limit")
        return
    assert "thread_binding" in sch.mod["main"].script()
    trace = mlc.Trace.from_json(sch.trace.to_json())
    _emulated_matches_reference(mod, trace)
    if NVRTC_MISSING is None:
        mlc.build(mod, "cuda -arch=sm_80", schedule=trace)      # NVRTC compiles it for sm_80; no GPU needed
    again = space.replay(mod, space.TILED, "cuda", space.decisions_of(sch.trace), seed=seed + 1)
    mlc.assert_structural_equal(again.mod, sch.mod)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**30))
@example(seed=27)  # 256 threads fetch a 2 x 64 tile of B: a guarded fetch (it was kept for every k step)
def test_a_point_within_the_limits_lowers_to_kernels_within_them(seed):
    mod = matmul(256, 256, 256, name="main")
    try:
        sch = space.replay(mod, space.TILED, "cuda", seed=seed)
    except ResourceLimitError:
        return
    for kernel in kernels(lower(sch.mod, "cuda -arch=sm_90")["main"]):   # raises over a limit
        nbytes = sum(int(np.prod([e.value for e in b.shape])) * np.dtype(b.dtype).itemsize for b in kernel.shared)
        assert nbytes <= GpuInfo().max_shared_bytes


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=f"NVRTC is not available: {NVRTC_MISSING}")
def test_nvrtc_is_there_for_the_space_tests():
    """The compile half of the test above runs only with NVRTC: this says, visibly, when it did not."""
    sch = space.replay(matmul(32, 32, 32, name="main"), space.TILED, "cuda", seed=1)
    lib = mlc.build(sch.mod, "cuda -arch=sm_80")
    assert "__global__" in lib.get_source("cuda")


def test_the_space_tiles_matmul_in_grid_thread_and_register_levels_with_shared_staging():
    mod = matmul(64, 64, 64, name="main")
    sch = space.replay(mod, space.TILED, "cuda", [[2, 8, 2, 2], [2, 8, 2, 2], [4, 16], 1, 2, 2, 1], seed=0)
    text = sch.mod["main"].script()
    assert 'thread="blockIdx.x"' in text and 'thread="threadIdx.x"' in text
    assert 'scope="shared"' in text and 'scope="local"' in text and "T.vectorized" in text
    assert "T.thread_binding(64" in text                      # 8 x 8 threads
    _emulated_matches_reference(mod, sch.trace)


def test_row_reductions_sample_a_cross_thread_reduction():
    mod = row_sum(6, 200)
    cross = space.replay(mod, space.TILED, "cuda", [0, 3], seed=0)       # cross-thread, 128 threads
    text = cross.mod["main"].script()
    assert 'T.thread_binding(128, thread="threadIdx.x")' in text
    lowered = mlc.backends.cuda.lower(cross.mod)["main"].script()
    assert "T.shfl_down(" in lowered                                   # lowered through warp shuffles
    _emulated_matches_reference(mod, cross.trace)
    per_thread = space.replay(mod, space.TILED, "cuda", [1, 1], seed=0)   # a thread an output, 32 threads
    assert 'T.thread_binding(32, thread="threadIdx.x")' in per_thread.mod["main"].script()
    _emulated_matches_reference(mod, per_thread.trace)


@pytest.mark.parametrize("decisions, limit", [
    ([[1, 64, 1, 1], [2, 32, 1, 1], [8, 1]], "2048 threads per block"),
    ([[1, 1, 16, 4], [1, 1, 16, 4], [8, 1]], "4096 accumulator elements per thread"),
])
def test_points_over_the_thread_and_register_limits_are_refused_before_any_build(decisions, limit):
    mod = matmul(64, 64, 8, name="main")
    with pytest.raises(ResourceLimitError, match=limit):
        space.replay(mod, space.TILED, "cuda", decisions, seed=0)


def test_points_over_the_shared_memory_limit_are_refused_before_any_build():
    mod = matmul(64, 64, 32, name="main")
    sch = space.ForcedSchedule(mod, [[1, 8, 8, 1], [1, 8, 8, 1], [1, 32], 1])
    with pytest.raises(ResourceLimitError, match="16384 bytes of shared memory; the GPU allows 8192"):
        gpu_space(sch, "main", GpuInfo(max_shared_bytes=8192))
    sch = space.ForcedSchedule(mod, [[1, 8, 8, 1], [1, 8, 8, 1], [1, 32], 1])
    gpu_space(sch, "main", GpuInfo(max_shared_bytes=16384))            # the same point fits a larger GPU


def test_the_search_drops_refused_points():
    search = EvolutionarySearch(matmul(64, 64, 8, name="main"), "cuda", seed=0)
    assert search.candidate(space.TILED, [[1, 64, 1, 1], [2, 32, 1, 1], [8, 1]]) is None
    assert search.candidate(space.TILED, [[2, 8, 2, 2], [2, 8, 2, 2], [4, 2]]) is not None


def test_a_point_over_the_limits_that_reaches_the_build_is_a_recorded_build_error():
    mod = matmul(64, 64, 8, name="main")
    sch = space.ForcedSchedule(mod, [[1, 64, 1, 1], [2, 32, 1, 1], [8, 1], 0, 0])
    gpu_space(sch, "main", GpuInfo(max_threads=4096))                   # a space that believes in 4096 threads
    job = Job("big", "mm", mod, sch.trace.to_json(), "cuda", FAST, measure="check")
    outcome = WorkerState().build(job)
    assert outcome.error.startswith("build: CompileError") and "threadIdx.x to 2048 values" in outcome.error


def test_cuda_tuning_without_timing_checks_every_candidate_and_marks_it_unmeasured(tmp_path, capsys):
    if DEVICE_MISSING is None:
        pytest.skip("a GPU is present: mlc.tune times candidates there (test_gpu_runner_times_on_a_gpu)")
    mod = matmul(32, 32, 32, relu=True, name="mm_relu")
    db = mlc.tune(mod, "cuda", trials=6, work_dir=str(tmp_path), batch_size=3, progress=False)
    err = capsys.readouterr().err
    assert "NOT TIMED" in err and DEVICE_MISSING.split(":")[0].split(";")[0] in err   # why: no CuPy, or no device
    records = db.records(mod["mm_relu"], "cuda")
    assert len(records) == 6 and all(r.unmeasured and not r.failed and not r.times for r in records)
    assert sum(r.space == space.DEFAULT for r in records) == 1
    assert db.top_k(mod["mm_relu"], "cuda", 1) == [] and db.best_trace(mod["mm_relu"], "cuda") is None
    assert db.last_measure == "check" and db.last_tasks[0].unmeasured == 6
    assert "6 UNMEASURED" in db.dump()
    # a build with the database keeps the default GPU schedule: nothing claims to be faster
    scheduled = mlc.driver.schedule_module(mod, "cuda-emulator", database=db)
    assert scheduled["mm_relu"].attr("mlc.scheduled") == "default"


def off_by_one(kernel, job):
    """A kernel hook making the candidate's answer wrong."""
    def wrong(*args):
        kernel(*args)
        args[-1].flat[0] += 1.0
    return wrong


def test_a_wrong_cuda_candidate_fails_its_check_and_a_right_one_is_checked_untimed():
    mod = matmul(16, 16, 16, name="main")
    trace = space.replay(mod, space.TILED, "cuda", seed=0).trace.to_json()
    state = WorkerState()
    wrong = Job("w", "mm", mod, trace, "cuda", FAST, hook="tests.tune.test_gpu_space:off_by_one", measure="check")
    outcome = state.run(wrong)
    assert "wrong answer" in outcome.error and not outcome.checked
    good = state.run(Job("g", "mm", mod, trace, "cuda-emulator", FAST, measure="check"))
    assert good.error is None and good.checked and good.times is None


def test_timing_needs_a_gpu_and_says_why():
    if DEVICE_MISSING is None:
        pytest.skip("a GPU is present here")
    with pytest.raises(DeviceError, match="needs a device: .*measure='check'"):
        GpuRunner(measure="time")
    with pytest.raises(DeviceError, match="emulator's run time"):
        resolve_measure("time", "cuda-emulator")
    assert GpuRunner().measure == "check" and resolve_measure("auto", "llvm") == "time"


@pytest.mark.cuda
@pytest.mark.skipif(DEVICE_MISSING is not None, reason=str(DEVICE_MISSING))
def test_gpu_runner_times_on_a_gpu():
    mod = matmul(64, 64, 64, name="main")
    trace = space.replay(mod, space.TILED, "cuda", seed=0).trace.to_json()
    with GpuRunner(measure="time") as runner:
        (outcome,) = runner.run([Job("t", "mm", mod, trace, "cuda", FAST)])
    assert outcome.error is None and len(outcome.times) == 2 and all(t > 0 for t in outcome.times)


def test_unmeasured_records_never_carry_times_and_old_files_gain_the_column(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE records (id INTEGER PRIMARY KEY, workload INTEGER NOT NULL, trace TEXT NOT NULL, "
                 "times TEXT NOT NULL, median_s REAL, error TEXT, space TEXT NOT NULL DEFAULT '', decisions TEXT "
                 "NOT NULL DEFAULT '[]', ir_hash TEXT NOT NULL DEFAULT '', measured_at REAL NOT NULL)")
    conn.commit()
    conn.close()
    db = Database(path)
    mod = matmul(8, 8, 8, name="main")
    trace = mlc.Schedule(mod).trace
    db.commit(mod["main"], "cuda", trace, [], unmeasured=True)
    with pytest.raises(mlc.MLCError, match="unmeasured candidate has no run times"):
        db.commit(mod["main"], "cuda", trace, [1e-3], unmeasured=True)
    (record,) = db.records()
    assert record.unmeasured and not record.ok and not record.failed


def test_a_jitted_function_tuned_for_the_emulator_is_checked_once_then_reused(tmp_path):
    """Checked-only records never become timed: the jit's tuning hook does not check them again."""
    from mlc.tune import TuneConfig, tune_jitted
    f = mlc.jit(lambda x: x * 2 + 1)
    x = np.arange(64, dtype="float32")
    config = TuneConfig(trials=2, target="cuda-emulator", database=str(tmp_path / "db.sqlite"), progress=False,
                        batch_size=2)
    db = tune_jitted(f, (x,), config)
    assert len(db.records()) == 2 and all(r.unmeasured for r in db.records())
    assert len(tune_jitted(f, (x,), config).records()) == 2


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**30))
def test_float16_matmuls_sample_the_tensor_core_blocks_and_their_pipelines(seed):
    """The space of a float16 matmul holds the tensor-core variants (blocks, k steps, cp.async
    depths, WMMA or ldmatrix + mma.sync); every point matches NumPy on the emulator."""
    mod = _half_matmul(128, 128, 128)
    sch = space.replay(mod, space.TILED, "cuda", seed=seed)
    text = sch.mod.script()
    assert "_16x16x16_f16f32" in text  # tensorized
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, (128, 128)).astype("float16")
    b = rng.integers(-4, 5, (128, 128)).astype("float16")
    c = np.zeros((128, 128), "float32")
    mlc.build(mod, "cuda-emulator", schedule=sch.trace)["main"](a, b, c)
    np.testing.assert_array_equal(c, a.astype("float32") @ b.astype("float32"))


def test_the_tensor_core_space_reaches_every_variant_that_fits():
    from mlc.schedules.gpu.default import TENSOR_CORE_VARIANTS, tensor_core_tiles
    mod = _half_matmul(256, 256, 256)
    seen = set()
    for seed in range(40):
        text = space.replay(mod, space.TILED, "cuda", seed=seed).mod.script()
        seen.add(("async" if "software_pipeline_async_stages" in text else "sync", "mlc_mma_" in text))
    assert {("async", True), ("async", False), ("sync", True), ("sync", False)} <= seen
    assert len(tensor_core_tiles(256, 256, 256, TENSOR_CORE_VARIANTS)) == len(TENSOR_CORE_VARIANTS)
