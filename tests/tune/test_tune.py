"""mlc.tune end to end: tasks, budget sharing, the default as a candidate, Ctrl-C, the jit side."""
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mlc
from mlc.tune import (CostModel, Database, GradientScheduler, LocalRunner, Timing, TuneConfig, extract,
                      extract_tasks, tasks_of, tune_jitted)
from mlc.tune.cost_model import MIN_TRAINING
from mlc.tune.space import DEFAULT, TILED, replay

from .workloads import matmul

FAST = Timing(repeat=2, min_repeat_s=0.0005, gap_s=0.0)
QUIET = dict(progress=False, timing=FAST, batch_size=4)


def test_import_mlc_loads_no_tuner_and_no_optional_dependency():
    code = ("import sys, mlc; heavy = [m for m in ('mlc.tune', 'lightgbm', 'ray', 'tqdm', 'matplotlib') "
            "if m in sys.modules]; print(heavy); assert callable(mlc.tune) and mlc.TuneConfig")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_tuning_measures_the_default_and_keeps_the_fastest(tmp_path):
    mod = matmul(32, 32, 32, relu=True, name="mm_relu")
    db = mlc.tune(mod, "llvm", trials=8, work_dir=str(tmp_path), cost_model=False, **QUIET)
    records = db.records(mod["mm_relu"], "llvm")
    assert len(records) == 8 and sum(r.space == DEFAULT for r in records) == 1
    ok = [r for r in records if r.ok]
    assert any(r.space == DEFAULT for r in ok)                     # the default was measured
    best = db.top_k(mod["mm_relu"], "llvm", 1)[0]
    assert best.median_s == min(r.median_s for r in ok)           # so the best is never slower than it
    lib = mlc.build(mod, "llvm", schedule=db.best_trace(mod["mm_relu"], "llvm"))
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (2, 32, 32)).astype("float32")
    out = np.zeros((32, 32), "float32")
    lib["mm_relu"](a, b, out)
    np.testing.assert_allclose(out, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)
    assert len({r.ir_hash for r in records}) == len(records)     # no candidate measured twice
    task = db.last_tasks[0]
    assert task.trials == 8 and math.isfinite(task.default_s) and task.best_s <= task.default_s


def test_a_second_run_continues_from_the_database_without_repeating_candidates(tmp_path):
    mod = matmul(16, 16, 16, name="mm")
    first = mlc.tune(mod, "llvm", trials=4, work_dir=str(tmp_path), cost_model=False, **QUIET)
    second = mlc.tune(mod, "llvm", trials=4, work_dir=str(tmp_path), cost_model=False, **QUIET)
    assert first.path == second.path
    records = second.records()
    assert len(records) == 8 and len({r.ir_hash for r in records}) == 8


def test_the_cost_model_search_runs_after_enough_measurements(tmp_path):
    mod = matmul(32, 32, 16, name="mm")
    db = mlc.tune(mod, "llvm", trials=MIN_TRAINING + 4, work_dir=str(tmp_path), cost_model=True, **QUIET)
    assert len(db.records()) == MIN_TRAINING + 4


def test_the_cost_model_learns_an_order():
    rng = np.random.default_rng(0)
    x = [rng.uniform(0, 1, 6) for _ in range(60)]
    times = [1.0 + 5 * f[0] + f[1] for f in x]                     # slower as feature 0 grows
    model = CostModel()
    assert model.predict(x) is None
    model.update(x[:50], times[:50], ["w"] * 50)
    pred = model.predict(x[50:])
    order = np.argsort(-pred)                                       # predicted fastest first
    truth = np.argsort(times[50:])
    assert np.corrcoef(np.argsort(order), np.argsort(truth))[0, 1] > 0.6


def test_features_see_the_schedule():
    mod = matmul(64, 64, 64, name="main")
    a = extract(replay(mod, TILED, "llvm", seed=1).mod["main"])
    b = extract(replay(mod, TILED, "llvm", seed=2).mod["main"])
    plain = extract(mod["main"])
    assert a.shape == plain.shape and not np.array_equal(a, b)


def _mlp():
    @mlc.jit
    def mlp(x, w1, w2, w3):
        h = np.maximum(x @ w1, 0)
        h = np.maximum(h @ w2, 0)
        return h @ w3
    rng = np.random.default_rng(0)
    return mlp, (rng.standard_normal((4, 16), dtype="float32"),
                 *(rng.standard_normal((16, 16), dtype="float32") for _ in range(3)))


def test_tasks_of_a_jitted_function_are_distinct_kernels_weighted_by_calls():
    mlp, args = _mlp()
    tasks = {t.name: t for t in tasks_of(mlp, args)}
    assert sorted((t.weight, len(t.names)) for t in tasks.values()) == [(1, 1), (2, 1)]
    twice = matmul(8, 8, 8, name="a")["a"]
    mod = mlc.IRModule({"a": twice, "b": twice.with_attr("global_symbol", "b"),
                        "c": matmul(8, 8, 4, name="c")["c"]})
    tasks = extract_tasks(mod)
    assert sorted(t.weight for t in tasks) == [1, 2] and sorted(tasks[0].names + tasks[1].names) == ["a", "b", "c"]
    with pytest.raises(mlc.MLCError, match="needs example arguments"):
        tasks_of(mlp)


def test_the_gradient_scheduler_starts_every_task_then_follows_the_gain():
    def two():
        return extract_tasks(mlc.IRModule({"a": matmul(8, 8, 8, name="a")["a"],
                                           "b": matmul(8, 8, 4, name="b")["b"]}))
    tasks = two()
    sched = GradientScheduler(tasks)
    first = sched.next_task()
    first.record(1e-3)
    second = sched.next_task()
    assert second is not first                       # every task gets a first round
    # both end at the same best time; the one that got there by improving gets the next round
    for t in (2e-3, 1.5e-3, 1.2e-3, 1e-3):
        second.record(t)
    for _ in range(4):
        first.record(None)
    assert sched.next_task() is second
    # the same histories: the task the program calls more often gets it
    tasks = two()
    for t in tasks:
        for _ in range(4):
            t.record(1e-3)
    tasks[1].weight = 3
    assert GradientScheduler(tasks).next_task() is tasks[1]


class _Interrupting(LocalRunner):
    """A runner that measures one batch, then is interrupted (Ctrl-C) during the second."""

    def __init__(self):
        super().__init__(workers=1)
        self.batches = 0

    def run(self, jobs):
        self.batches += 1
        if self.batches == 2:
            raise KeyboardInterrupt
        return super().run(jobs)


def test_ctrl_c_stops_tuning_and_keeps_what_was_measured(tmp_path):
    runner = _Interrupting()
    try:
        db = mlc.tune(matmul(16, 16, 16, name="mm"), "llvm", trials=12, work_dir=str(tmp_path), runner=runner,
                      cost_model=False, **QUIET)
    finally:
        runner.close()
    assert len(db.records()) == 4 and runner.batches == 2


def test_tune_jitted_tunes_once_then_reuses_the_database(tmp_path):
    mlp, args = _mlp()
    config = TuneConfig(trials=4, database=str(tmp_path / "mlp.sqlite"), cost_model=False, **QUIET)
    db = tune_jitted(mlp, args, config)
    assert len(db.records()) == 4
    assert len(db.workloads()) == 2                          # each distinct kernel got a round
    again = tune_jitted(mlp, args, config)
    assert len(again.records()) == 4                         # every kernel has a record: no tuning
    for task in tasks_of(mlp, args):                         # each best trace replays on its kernel
        trace = db.best_trace(task.func, "llvm")
        mlc.build(mlc.IRModule({task.name: task.func}), "llvm", schedule=trace)


def test_the_jit_hook_is_a_method_of_the_config_and_takes_the_jits_database(tmp_path):
    mlp, args = _mlp()
    config = TuneConfig(trials=2, cost_model=False, **QUIET)
    db = config.tune_jitted(mlp, args, database=str(tmp_path / "jit.sqlite"))
    assert db.path == str(tmp_path / "jit.sqlite") and len(db.records()) == 2


def test_the_auto_space_is_the_rules_on_the_cpu_and_on_cuda():
    assert TuneConfig().design_space() == "rules"
    assert TuneConfig(target="cuda").design_space() == "rules"
    assert TuneConfig(target="cuda-emulator", space="tiled").design_space() == "tiled"


def test_tune_config_rejects_bad_values():
    with pytest.raises(mlc.MLCError, match="trials must be a positive int"):
        TuneConfig(trials=0)
    with pytest.raises(mlc.MLCError, match="runner must be"):
        TuneConfig(runner="cluster")
    with pytest.raises(mlc.MLCError, match=r"space must be 'auto', one of \['rules', 'tiled'\] \(for target 'llvm"
                                           r"[^']*', the configured one\)"):
        TuneConfig(space="packed")
    with pytest.raises(mlc.MLCError, match=r"one of \['rules', 'tiled'\] \(for target 'llvm'\)"):
        TuneConfig(target="llvm", space="packed")
    with pytest.raises(mlc.MLCError, match=r"one of \['rules', 'tiled'\] \(for target 'cuda'\)"):
        TuneConfig(target="cuda", space="packed")
    with pytest.raises(mlc.MLCError, match="expected an IRModule"):
        mlc.tune(42, trials=1)


def test_the_command_line_tunes_a_module_file(tmp_path):
    source = tmp_path / "model.py"
    source.write_text(textwrap.dedent("""
        import numpy as np
        import mlc
        from mlc import te

        def mm():
            A = te.placeholder((16, 16), "float32", name="A")
            B = te.placeholder((16, 16), "float32", name="B")
            k = te.reduce_axis((0, 16), name="k")
            C = te.compute((16, 16), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
            return mlc.IRModule({"mm": te.create_prim_func([A, B, C])})
    """))
    db_path = tmp_path / "cli.sqlite"
    run = subprocess.run([sys.executable, "-m", "mlc.tune", "--module", f"{source}:mm", "--trials", "3",
                          "--database", str(db_path), "--no-cost-model", "--plot", str(tmp_path / "c.png")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "trials" in run.stderr and "mm" in run.stderr
    assert len(Database(db_path).records()) == 3 and (tmp_path / "c.png").exists()


def test_a_script_may_call_mlc_tune_at_its_top_level(tmp_path):
    """The spawn workers do not run the user's script again (no __main__ guard needed)."""
    script = tmp_path / "top_level.py"
    script.write_text(textwrap.dedent(f"""
        import mlc
        from mlc import te
        A = te.placeholder((64, 256), "float32", name="A")
        B = te.compute((64, 256), lambda i, j: A[i, j] * 2, name="B")
        mod = mlc.IRModule({{"main": te.create_prim_func([A, B])}})
        db = mlc.tune(mod, trials=2, work_dir={str(tmp_path)!r}, progress=False, cost_model=False)
        print("records", len(db.records()), "ok", sum(r.ok for r in db.records()))
    """))
    root = str(Path(__file__).resolve().parents[2])
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": root})
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("records 2 ok 2") == 1, run.stdout + run.stderr


def test_tuning_stops_when_every_space_is_measured_through(tmp_path):
    from mlc import te
    A = te.placeholder((4,), "float32", name="A")
    B = te.compute((4,), lambda i: A[i] + 1, name="B")
    mod = mlc.IRModule({"tiny": te.create_prim_func([A, B])})
    db = mlc.tune(mod, "llvm", trials=50, work_dir=str(tmp_path), cost_model=False, **QUIET)
    records = db.records()
    assert 1 <= len(records) < 50 and len({r.ir_hash for r in records}) == len(records)
    assert db.last_tasks[0].exhausted and db.last_tasks[0].trials == len(records)


def test_jit_with_tune_tunes_on_the_first_call_and_builds_every_kernel_from_the_database(tmp_path):
    mlp, args = _mlp()
    path = str(tmp_path / "jit_tune.sqlite")
    tuned = mlc.jit(mlp.fn, tune=TuneConfig(trials=4, database=path, cost_model=False, **QUIET))
    np.testing.assert_allclose(tuned(*args), mlp(*args), rtol=1e-5, atol=1e-5)
    db = Database(path)
    assert len(db.records()) == 4 and len(db.workloads()) == 2
    scheduled = tuned.lower(*args).scheduled()              # the kernels come from the database's traces
    kinds = {f.attr("mlc.scheduled") for f in scheduled.values() if f.attr("mlc.scheduled") is not None}
    assert kinds == {"trace"}
    again = mlc.jit(mlp.fn, database=path)                   # a database by path, no tuning
    np.testing.assert_allclose(again(*args), mlp(*args), rtol=1e-5, atol=1e-5)
    assert len(Database(path).records()) == 4


def test_jit_with_tune_tunes_for_the_target_the_function_builds_for(tmp_path):
    """A TuneConfig that names no target tunes for the jitted function's (here the AVX2 CPU,
    which runs on every host of the suite), so the build finds its records."""
    from tests.targets import AVX2
    mlp, args = _mlp()
    path = str(tmp_path / "jit_tune_target.sqlite")
    tuned = mlc.jit(mlp.fn, target=AVX2, tune=TuneConfig(trials=2, database=path, cost_model=False, **QUIET))
    np.testing.assert_allclose(tuned(*args), mlp(*args), rtol=1e-5, atol=1e-5)
    assert {w["target"] for w in Database(path).workloads()} == {str(AVX2)}
    scheduled = tuned.lower(*args).scheduled()
    assert {f.attr("mlc.scheduled") for f in scheduled.values() if f.attr("mlc.scheduled")} == {"trace"}


def test_jit_refuses_a_tune_that_is_not_a_tune_config():
    with pytest.raises(mlc.TraceError, match="tune must be an mlc.TuneConfig"):
        mlc.jit(lambda x: x, tune=64)


def test_trials_is_the_total_and_trials_per_task_caps_each_kernel(tmp_path, capsys):
    mlp, args = _mlp()
    config = TuneConfig(trials=100, trials_per_task=2, database=str(tmp_path / "cap.sqlite"), cost_model=False,
                        **QUIET)
    db = tune_jitted(mlp, args, config)
    assert sorted(t.trials for t in db.last_tasks) == [2, 2]  # two kernels, 2 each, not 50
    with pytest.raises(mlc.MLCError, match="trials_per_task must be a positive int"):
        TuneConfig(trials_per_task=0)


def test_without_tqdm_the_missing_progress_bar_says_which_extra_to_install(monkeypatch, capsys):
    import builtins

    from mlc.tune.tuner import _Progress
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    _Progress(4, True).close()
    assert "no progress bar: tqdm is not installed" in capsys.readouterr().err
    _Progress(4, False).close()
    assert capsys.readouterr().err == ""


def _my_space(sch):
    """The course's stochastic_schedule_mm: the split factor of j drawn."""
    block = sch.get_block("C", "main")
    i, j, k = sch.get_loops(block=block)
    j0, j1 = sch.split(loop=j, factors=sch.sample_perfect_tile(loop=j, n=2))
    sch.reorder(i, j0, k, j1)
    return sch


def test_compile_tir_gives_the_best_point_of_the_users_space(tmp_path):
    from mlc.tune import compile_tir
    from mlc.tune.space import replay
    mod = matmul(16, 16, 16, name="main")
    db = mlc.tune(mod, "llvm", trials=3, work_dir=str(tmp_path), cost_model=False, space=_my_space, **QUIET)
    default = replay(mod, DEFAULT, "llvm")  # a default record faster than anything: the overall best
    db.commit(mod["main"], "llvm", default.trace.to_json(), [1e-12], space=DEFAULT)
    assert db.top_k(mod["main"], "llvm", 1)[0].space == DEFAULT
    sch = compile_tir(db, mod, "llvm", space=_my_space)
    assert any(inst.kind == "sample_perfect_tile" for inst in sch.trace)  # a point of the space
    ours = db.top_k(mod["main"], "llvm", 1, space=_my_space)[0]
    assert ours.space == "_my_space"
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-1, 1, (2, 16, 16)).astype("float32")
    out = np.zeros((16, 16), "float32")
    mlc.build(sch.mod, "llvm")["main"](a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
    assert compile_tir(db, mod, "llvm").trace is not None  # any space: the default record
    assert compile_tir(db, matmul(8, 8, 8, name="main"), "llvm") is None  # never tuned
