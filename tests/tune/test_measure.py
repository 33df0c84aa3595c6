"""Measurement cannot hurt the tuner: crashes, hangs and wrong answers become failed records."""
import mlc
from mlc.tune import Job, LocalRunner, Timing, space

from .workloads import check_fault_records, fault_of, matmul

HOOK = "tests.tune.workloads:faulty"
FAST = Timing(repeat=2, min_repeat_s=0.0005, gap_s=0.0)


def _jobs(mod, seeds, hook=None):
    jobs = []
    for seed in seeds:
        trace = space.replay(mod, space.TILED, "llvm", seed=seed).trace.to_json()
        jobs.append(Job(f"job{seed}", "mm", mod, trace, "llvm", FAST, hook))
    return jobs


def test_the_runner_records_crashes_hangs_and_wrong_answers_and_keeps_going():
    mod = matmul(16, 16, 16, name="main")
    jobs = _jobs(mod, range(40))
    faults = [fault_of(j.trace_json) for j in jobs]
    picked = [next(j for j, f in zip(jobs, faults) if f == kind) for kind in ("crash", "hang", "wrong", None)]
    jobs = [Job(j.key, j.workload, j.mod, j.trace_json, j.target, j.timing, HOOK) for j in picked]
    with LocalRunner(workers=2, build_timeout_s=60, run_timeout_s=2) as runner:
        crash, hang, wrong, fine = runner.run(jobs)
        assert "crashed (SIGSEGV)" in crash.error and crash.times is None
        assert "timed out after 2 s" in hang.error
        assert "wrong answer" in wrong.error
        assert fine.error is None and len(fine.times) == 2 and all(t > 0 for t in fine.times)
        # the workers were replaced: the same runner measures again
        again = runner.run([jobs[3]])[0]
        assert again.error is None


def test_a_build_failure_is_recorded_with_its_reason():
    mod = matmul(16, 16, 16, name="main")
    good = space.replay(mod, space.TILED, "llvm", seed=0).trace.to_json()
    broken = good.replace('"C"', '"no_such_block"')
    with LocalRunner(workers=1) as runner:
        (outcome,) = runner.run([Job("x", "mm", mod, broken, "llvm", FAST)])
    assert outcome.error.startswith("build: ScheduleError") and "no_such_block" in outcome.error


def test_tuning_finishes_when_a_third_of_the_candidates_crash_hang_or_lie(tmp_path):
    mod = matmul(16, 16, 16, name="mm")
    db = mlc.tune(mod, "llvm", trials=12, work_dir=str(tmp_path), workers=2, batch_size=6, run_timeout_s=2,
                  timing=FAST, kernel_hook=HOOK, progress=False, cost_model=False)
    records = db.records()
    assert len(records) == 12
    check_fault_records(records, "crashed (SIGSEGV)")
    # a hang costs the run time-out, also on a worker that replaced a crashed one
    assert all("timed out after 2 s" in r.error for r in records if fault_of(r.trace_json) == "hang")
    assert db.best_trace(mod["mm"], "llvm") is not None


def test_warm_up_lasts_warmup_s_before_timing(monkeypatch):
    """A fast kernel is called until ``warmup_s`` has passed, not once: the first
    candidate of a worker (the default schedule) is not timed cold."""
    import time
    from mlc.tune.job import WorkerState
    mod = matmul(16, 16, 16, name="main")
    trace = space.replay(mod, space.TILED, "llvm", seed=0).trace.to_json()
    state = WorkerState()
    job = Job("w", "mm", mod, trace, "llvm", Timing(warmup=1, warmup_s=0.05, repeat=1, min_repeat_s=0.0, gap_s=0.0))
    assert state.build(job).error is None
    kernel, build_s = state.kernels[job.key]
    calls = []

    def counted(*args):
        calls.append(time.perf_counter())
        time.sleep(0.002)
        return kernel(*args)
    state.kernels[job.key] = (counted, build_s)
    outcome = state.run(job)
    assert outcome.error is None and len(outcome.times) == 1
    # calls: the answer's check, warm-up calls for at least 0.05 s, the probe, the timed one
    assert calls[-2] - calls[0] >= 0.05
