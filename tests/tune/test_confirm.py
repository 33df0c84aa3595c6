"""A tuner that cannot lose: the best candidate raced against the default before it is used."""
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.tune import Database, Runner, Timing, apply_database
from mlc.tune.confirm import MIN_GAIN, decide
from mlc.tune.job import Outcome, WorkerState, Job, spread
from mlc.tune.search import ir_hash
from mlc.tune.space import DEFAULT

from .workloads import matmul

FAST = Timing(repeat=2, min_repeat_s=0.0005, gap_s=0.0)
QUIET = dict(progress=False, timing=FAST, batch_size=4, cost_model=False)


def _measured(func) -> str:
    """The hash a candidate was measured under (in the tuner, the workload is named main)."""
    return ir_hash(func.with_attr("global_symbol", "main"))


def _is_default(job) -> bool:
    return '"sample_' not in job.trace_json


class _Scripted(Runner):
    """Times by script, no kernel run: in the search every sampled candidate looks twice as
    fast as the default (it was measured while the machine was quiet, the default while it
    was busy); in the race, side by side, ``race_ratio`` is the candidate's time over the
    default's."""

    def __init__(self, race_ratio: float, jitter: float = 0.0):
        self.race_ratio, self.jitter, self.raced = race_ratio, jitter, 0
        self.rng = np.random.default_rng(0)

    def run(self, jobs):
        return [Outcome(j.key, times=[2e-4 if _is_default(j) else 1e-4] * 2) for j in jobs]

    def race(self, jobs, rounds):
        self.raced += 1
        out = []
        for job in jobs:
            base = 1e-4 if _is_default(job) else 1e-4 * self.race_ratio
            noise = 1 + self.jitter * self.rng.uniform(-1, 1, rounds)
            out.append(Outcome(job.key, times=list(base * noise)))
        return out


@pytest.mark.parametrize("race_ratio, winner", [(1.3, DEFAULT), (1.0, DEFAULT), (0.99, DEFAULT), (0.7, "rules")])
def test_the_database_hands_out_the_winner_of_the_race(tmp_path, race_ratio, winner):
    """A candidate that looked 2x faster in the search but is not faster beyond noise side by
    side is never handed out: the database's best is then the default schedule."""
    mod = matmul(24, 24, 24, name="mm")
    runner = _Scripted(race_ratio)
    db = mlc.tune(mod, "llvm", trials=6, work_dir=str(tmp_path), runner=runner, **QUIET)
    assert runner.raced == 1
    assert db.top_k(mod["mm"], "llvm", 1)[0].space != DEFAULT      # the search alone would pick a candidate
    champion = db.champion(mod["mm"], "llvm")
    assert champion.space == winner
    task = db.last_tasks[0]
    assert task.verdict.winner == ("default" if winner == DEFAULT else "candidate")
    assert task.best_s <= task.default_s
    scheduled = apply_database(mod, db, "llvm")["mm"]
    assert _measured(scheduled) == champion.ir_hash                  # the build uses the winner


def test_a_noisy_race_is_run_again_and_the_default_kept(tmp_path):
    mod = matmul(24, 24, 24, name="mm")
    runner = _Scripted(0.9, jitter=0.5)   # rounds disagree by far more than the gain
    db = mlc.tune(mod, "llvm", trials=6, work_dir=str(tmp_path), runner=runner, **QUIET)
    assert runner.raced == 3                                       # twice more: still noisy
    assert db.champion(mod["mm"], "llvm").space == DEFAULT
    assert db.last_tasks[0].verdict.rounds == 21


def test_confirm_false_keeps_the_search_s_fastest(tmp_path):
    mod = matmul(24, 24, 24, name="mm")
    runner = _Scripted(1.3)
    db = mlc.tune(mod, "llvm", trials=6, work_dir=str(tmp_path), runner=runner, confirm=False, **QUIET)
    assert runner.raced == 0 and db.champion(mod["mm"], "llvm") is None
    assert _measured(apply_database(mod, db, "llvm")["mm"]) == db.top_k(mod["mm"], "llvm", 1)[0].ir_hash


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1e-6, 1e-3), min_size=1, max_size=15), st.floats(0.3, 2.0),
       st.floats(0.0, 0.3))
def test_decide_picks_the_candidate_only_when_it_is_faster_in_most_rounds(default, ratio, jitter):
    wobble = [1 + jitter * ((-1) ** n) * (n % 3) / 2 for n in range(len(default))]
    candidate = [d * ratio * w for d, w in zip(default, wobble)]
    verdict = decide(default, candidate)
    ratios = sorted(c / d for c, d in zip(candidate, default))
    if verdict.winner == "candidate":
        assert sum(r < 1 - MIN_GAIN for r in ratios) >= 0.75 * len(ratios) - 1e-9
    if max(ratios) < 1 - MIN_GAIN:
        assert verdict.winner == "candidate"
    if min(ratios) >= 1.0:
        assert verdict.winner == "default"


def test_decide_needs_a_time_per_round_for_each():
    with pytest.raises(mlc.MLCError, match="one time per round"):
        decide([1.0, 2.0], [1.0])


def test_a_race_in_a_worker_times_both_in_interleaved_rounds():
    mod = matmul(16, 16, 16, name="mm")
    from mlc.tune.search import EvolutionarySearch
    search = EvolutionarySearch(mod, "llvm", space="rules")
    default = search.default()
    other = search.propose(1, None, [])[0]
    jobs = [Job(f"j{n}", "w", mod, c.trace_json, "llvm", FAST) for n, c in enumerate((default, other))]
    outcomes = WorkerState().race(jobs, 5)
    assert [len(o.times) for o in outcomes] == [5, 5] and not any(o.error for o in outcomes)
    with mlc.tune.LocalRunner() as runner:
        raced = runner.race(jobs, 3)
    assert [len(o.times) for o in raced] == [3, 3]


def test_disturbed_repeats_are_measured_again(monkeypatch):
    """On a clock the kernel drives (so the test is the same on a busy machine): every call
    takes 1 ms except the fourth, caught in a 30 ms busy spell."""
    import types
    from mlc.tune import job as job_module
    clock, calls = [0.0], []

    def kernel(*args):
        calls.append(1)
        clock[0] += 0.030 if len(calls) == 4 else 0.001

    monkeypatch.setattr(job_module, "time", types.SimpleNamespace(perf_counter=lambda: clock[0], sleep=lambda s: None))
    state = WorkerState()
    mod = matmul(4, 4, 4, name="mm")
    job = Job("k", "w", mod, "", "llvm", Timing(repeat=3, min_repeat_s=0.0, warmup=1, warmup_s=0.0, gap_s=0.0))
    state.kernels["k"] = (kernel, 0.0)
    state.workloads["w"] = ([], {}, [])
    outcome = state.run(job)
    assert len(calls) == 1 + 2 + 3 + 3      # check, warm-up and once, the disturbed repeats, again
    assert outcome.times == pytest.approx([0.001] * 3)


def test_under_load_the_tuned_build_is_the_measured_winner(tmp_path):
    """Tuning beside a busy process: whatever the search measured, the database's best is
    the race's winner, and a build from the database schedules the kernel that won."""
    burner = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<30: pass"])
    try:
        mod = matmul(64, 64, 64, name="mm")
        db = mlc.tune(mod, "llvm", trials=6, work_dir=str(tmp_path), **QUIET)
    finally:
        burner.kill()
        burner.wait()
    champion = db.champion(mod["mm"], "llvm")
    assert champion is not None and champion.ok
    verdict = db.last_tasks[0].verdict
    if verdict is not None and verdict.winner == "candidate":
        assert verdict.ratio < 1 - MIN_GAIN
    assert _measured(apply_database(mod, db, "llvm")["mm"]) == champion.ir_hash
    for record in db.records(mod["mm"], "llvm"):      # every record replays to what was measured
        if record.ok:
            sch = mlc.Schedule(mlc.IRModule({"mm": mod["mm"]}))
            record.trace().apply(sch)
            assert _measured(sch.mod["mm"]) == record.ir_hash
