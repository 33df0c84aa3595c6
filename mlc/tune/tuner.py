"""``mlc.tune``: search schedules for every kernel of a program and record them in a database.

    db = mlc.tune(mod, target="llvm", trials=64, work_dir="tune_mm")
    lib = mlc.build(mod, target="llvm", schedule=db.best_trace(mod["main"], "llvm"))

Each round picks a task (:class:`~mlc.tune.tasks.GradientScheduler`),
proposes a batch of candidates (:class:`~mlc.tune.search.EvolutionarySearch`;
the first batch of every task holds the default schedule), measures them in
worker processes (:mod:`~mlc.tune.runner`) and commits every outcome to the
database at once, so Ctrl-C loses nothing that was measured.
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field, fields, replace

from ..errors import MLCError
from ..target import Target
from .confirm import confirm
from .cost_model import CostModel
from .database import Database
from .gpu_measure import device_reason, resolve_measure
from .gpu_runner import GpuRunner
from .job import Job, Timing
from .ray_runner import RayRunner
from .runner import LocalRunner, Runner
from .search import EvolutionarySearch
from .space import DEFAULT, GPU_SPACES, RULES, SPACES
from .tasks import GradientScheduler, Task, tasks_of

__all__ = ["TuneConfig", "tune", "tune_jitted", "make_runner", "summary"]


@dataclass(frozen=True)
class TuneConfig:
    """How to tune.

    ``target``: what to tune for; None (the default): for ``@mlc.jit(tune=...)`` the
    jitted function's target, else the configured one (``MLC_TARGET``, "llvm" by default);
    :func:`tune` sets it from its own ``target``.
    ``trials`` measured candidates in all: the total over every task (kernel) of the
    program, shared among them by the gradient scheduler (``TuneConfig(trials=8)`` on a
    graph of two kernels measures about 4 each); ``trials_per_task`` caps each task's
    share (None: no cap), so ``TuneConfig(trials=10**6, trials_per_task=32)`` gives every
    kernel 32 (the summary table lists each task's trials); ``database``
    a path or :class:`Database` (default ``work_dir/database.sqlite``); ``runner``
    "local" (``workers`` spawn processes), "ray" (``ray_address``, or a local Ray)
    or a :class:`~mlc.tune.runner.Runner`; ``batch_size`` candidates per round;
    ``timing`` how each is timed; ``cost_model`` False for random search;
    ``kernel_hook`` ("module:function") wraps every built kernel in the workers
    (fault injection in tests); ``space`` the design space: "auto" (the default: "rules" on
    the CPU, "tiled" on the cuda targets), "rules" (the default CPU rules with their open
    decisions sampled), "tiled" (generic multi-level tiling: :mod:`~mlc.tune.space` on the
    CPU, :mod:`~mlc.schedules.gpu.space` on a GPU) or a function ``f(sch)`` that calls sampling
    primitives. ``measure``: "time" (check each candidate's answer, then time it), "check"
    (check only: records are marked unmeasured and are never taken for the best) or
    "auto": "time", except on the cuda targets without a GPU, where candidates are
    compiled with NVRTC and checked on the emulator, untimed. ``confirm``: before the
    database hands out a task's best candidate, race it against the default schedule side
    by side and keep the default unless the candidate is faster beyond noise
    (:mod:`~mlc.tune.confirm`); False leaves the fastest record as measured in the search.
    """
    trials: int = 64
    trials_per_task: int | None = None
    target: str | None = None
    work_dir: str | None = None
    database: object = None
    runner: object = "local"
    workers: int = 1
    ray_address: str | None = None
    batch_size: int = 16
    build_timeout_s: float = 60.0
    run_timeout_s: float = 30.0
    timing: Timing = field(default_factory=Timing)
    seed: int = 0
    cost_model: bool = True
    population: int = 48
    epsilon: float = 0.25
    progress: bool = True
    kernel_hook: str | None = None
    space: object = "auto"
    measure: str = "auto"
    confirm: bool = True

    def __post_init__(self):
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise MLCError(f"TuneConfig: trials must be a positive int, got {self.trials!r}")
        cap = self.trials_per_task
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise MLCError(f"TuneConfig: trials_per_task must be a positive int or None, got {cap!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise MLCError(f"TuneConfig: batch_size must be a positive int, got {self.batch_size!r}")
        names = GPU_SPACES if Target.from_str(self.target).is_gpu else SPACES
        space = self.design_space()
        if not (callable(space) or (isinstance(space, str) and space in names)):
            target = repr(self.target) if self.target is not None else f"{str(Target.from_str(None))!r}, the configured one"
            raise MLCError(f"TuneConfig: space must be 'auto', one of {sorted(names)} (for target "
                           f"{target}) or a function f(sch) that calls sampling primitives, "
                           f"got {self.space!r}")
        if not (isinstance(self.runner, Runner) or self.runner in ("local", "ray")):
            raise MLCError(f"TuneConfig: runner must be 'local', 'ray' or an mlc.tune.Runner, "
                           f"got {self.runner!r}")
        if self.measure not in ("auto", "time", "check"):
            raise MLCError(f"TuneConfig: measure must be 'auto', 'time' or 'check', got {self.measure!r}")

    def design_space(self):
        """``space`` with "auto" resolved: "rules" (the default rules as a family, then the
        generic tiling), on every target."""
        return RULES if self.space == "auto" else self.space

    def tune_jitted(self, fn, args, kwargs=None, database=None) -> Database:
        """The jit's hook: tune the kernels of ``fn`` for ``args`` (see :func:`tune_jitted`);
        ``database`` (the jit's ``database=``) is used when this config names none. The jit
        calls this method on the config it was given, so it never imports mlc.tune."""
        config = self if database is None or self.database is not None else replace(self, database=database)
        return tune_jitted(fn, args, config, kwargs)

    def open_database(self) -> Database:
        if isinstance(self.database, Database):
            return self.database
        if self.database is not None:
            return Database(self.database)
        work_dir = self.work_dir or os.path.join(os.getcwd(), "mlc_tune")
        return Database(os.path.join(work_dir, "database.sqlite"))


def make_runner(config: TuneConfig) -> Runner:
    """The runner ``config`` asks for."""
    if isinstance(config.runner, Runner):
        return config.runner
    if config.runner == "ray":
        return RayRunner(address=config.ray_address, build_timeout_s=config.build_timeout_s,
                         run_timeout_s=config.run_timeout_s)
    if Target.from_str(config.target).is_gpu:
        return GpuRunner(config.measure, config.target, config.workers, config.build_timeout_s,
                          config.run_timeout_s)
    return LocalRunner(config.workers, config.build_timeout_s, config.run_timeout_s)


class _Progress:
    """A tqdm bar when tqdm is installed and ``enabled``; otherwise silent."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            try:  # deferred: keeps `import mlc.tune` fast, and tqdm optional
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
                print("mlc.tune: no progress bar: tqdm is not installed (pip install tqdm, or mlc's "
                      "`tune` extra: pip install -e '.[tune]'); TuneConfig(progress=False) silences "
                      "this note", file=sys.stderr)
            if tqdm is not None:
                self.bar = tqdm(total=total, desc="mlc.tune", unit="trial", file=sys.stderr)

    def update(self, n: int, tasks: list[Task], task: Task) -> None:
        if self.bar is not None:
            failed = sum(t.failures for t in tasks)
            if task.unmeasured and not task.trials - task.unmeasured - task.failures:
                best = f"{sum(t.unmeasured for t in tasks)} checked, NOT timed"
            else:
                best = f"best {task.gflops(task.best_s):.1f} GFLOP/s"
            self.bar.set_postfix_str(f"{task.name}: {best}, {failed} failed", refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _measure_round(task: Task, search: EvolutionarySearch, candidates, runner: Runner, db: Database,
                   config: TuneConfig, model, first_round: bool, measure: str) -> int:
    target = str(config.target)
    jobs = [Job(f"{task.key}-{c.ir_hash}-{n}", task.key, task.mod, c.trace_json, target, config.timing,
                config.kernel_hook, measure) for n, c in enumerate(candidates)]
    outcomes = runner.run(jobs)
    feats, times = [], []
    for c, outcome in zip(candidates, outcomes):
        search.mark_seen(c.ir_hash)
        unmeasured = outcome.checked and not outcome.error
        db.commit(task.func, config.target, c.trace_json, outcome.times, error=outcome.error, space=c.space,
                  decisions=c.decisions, ir_hash=c.ir_hash, flops=task.flops, unmeasured=unmeasured)
        seconds = statistics.median(outcome.times) if outcome.times and not outcome.error else None
        if first_round and c.space == DEFAULT and seconds is not None:
            task.default_s = seconds
        task.record(seconds, unmeasured=unmeasured)
        if unmeasured:  # nothing for the cost model to learn from: it was not timed
            continue
        feats.append(c.features)
        times.append(seconds if seconds is not None else math.inf)
    if model is not None and feats:
        model.update(feats, times, [task.key] * len(feats))
    return len(candidates)


#: what ``mlc.tune`` says when it checks candidates without timing them
UNTIMED = ("mlc.tune: candidates for {target} are NOT TIMED (measure='check'{why}): each is compiled with "
           "NVRTC and checked on the cuda-emulator. Every record is marked unmeasured; the database has no "
           "best record for these kernels, and mlc.build(..., database=db) keeps the default GPU schedule. "
           "Tune on a machine with a GPU to time them.")


def _elites(search: EvolutionarySearch, db: Database, task: Task, target, k: int = 8):
    out = []
    for rec in db.records(task.func, target):
        search.mark_seen(rec.ir_hash)
    for rec in db.top_k(task.func, target, k):
        space = search.space_of(rec.space)
        if space is not None:
            c = search.candidate(space, rec.decisions)
        elif rec.space == DEFAULT:  # mutations start from the default too, where the space has it
            c = search.default_point()
        else:
            c = None
        if c is not None:
            out.append(c)
    return out


def tune(program, target="llvm", trials: int = 64, work_dir: str | None = None, *, args=(), kwargs=None,
         config: TuneConfig | None = None, **options) -> Database:
    """Tune every distinct kernel of ``program`` (an IRModule, or an ``@mlc.jit`` function
    traced with ``args``) for ``target`` with ``trials`` measurements in all; returns the
    :class:`Database` (``work_dir/database.sqlite`` unless ``database=`` says otherwise).

    ``options`` are :class:`TuneConfig` fields (``database``, ``runner``, ``workers``,
    ``batch_size``, ``timing``, ...). Ctrl-C stops the search and keeps every measurement.
    """
    unknown = sorted(set(options) - {f.name for f in fields(TuneConfig)})
    if unknown:
        raise TypeError(f"mlc.tune() got unexpected option(s) {', '.join(map(repr, unknown))}; its options are "
                        f"TuneConfig's fields: {', '.join(f.name for f in fields(TuneConfig))}")
    config = replace(config or TuneConfig(), target=str(target), trials=trials,
                     work_dir=work_dir if work_dir is not None else (config.work_dir if config else None),
                     **options)
    tasks = tasks_of(program, args, kwargs)
    db = config.open_database()
    if not tasks:
        return db
    runner = make_runner(config)
    measure = getattr(runner, "measure", None) or resolve_measure(config.measure, config.target)
    db.last_measure = measure
    if measure == "check":
        reason = _no_device_reason(config)
        print(UNTIMED.format(target=config.target, why=f"; {reason}" if reason else ""), file=sys.stderr)
    model = None
    if config.cost_model:
        model = CostModel(config.seed)
    searches = {t.key: EvolutionarySearch(t.mod, config.target, seed=config.seed + n, population=config.population,
                                          epsilon=config.epsilon, space=config.design_space()) for n, t in enumerate(tasks)}
    scheduler = GradientScheduler(tasks)
    progress = _Progress(config.trials, config.progress)
    done = 0
    started = time.time()
    try:
        while done < config.trials:
            task = scheduler.next_task()
            if task is None:  # every space is measured through
                break
            search = searches[task.key]
            first = task.trials == 0
            n = min(config.batch_size, config.trials - done)
            if first:  # leave every task that has not started a share of what is left
                unstarted = sum(t.trials == 0 and not t.exhausted for t in tasks)
                n = min(n, max(1, (config.trials - done) // unstarted))
            elites = _elites(search, db, task, config.target)
            batch = []
            if first:
                default = search.default()
                if default is not None and default.ir_hash not in search.seen:
                    batch.append(default)
            trained = model if model is not None and model.trained else None
            batch += [c for c in search.propose(n - len(batch), trained, elites)
                      if all(c.ir_hash != b.ir_hash for b in batch)]
            if not batch:
                task.exhausted = True
                continue
            cap = config.trials_per_task
            if cap is not None:
                batch = batch[:max(cap - task.trials, 0)]
            done += _measure_round(task, search, batch, runner, db, config, model, first, measure)
            if cap is not None and task.trials >= cap:
                task.exhausted = True  # (its share is spent: the scheduler passes it over)
            progress.update(len(batch), tasks, task)
        if config.confirm and measure == "time":
            for task in tasks:
                _confirm(task, searches[task.key], db, runner, config)
    except KeyboardInterrupt:
        print("\nmlc.tune: interrupted; every measurement so far is in the database", file=sys.stderr)
    finally:
        progress.close()
        if not isinstance(config.runner, Runner):
            runner.close()
    if config.progress:
        print(summary(tasks, time.time() - started), file=sys.stderr)
    db.last_tasks = tasks
    return db


def _confirm(task: Task, search: EvolutionarySearch, db: Database, runner: Runner, config: TuneConfig) -> None:
    """The final race of ``task``'s best candidate against its default schedule
    (:func:`~mlc.tune.confirm.confirm`); the summary then shows the race's times."""
    try:
        default = search.default()
    except MLCError:
        return
    verdict = confirm(task, default, db, runner, config)
    if verdict is not None:
        task.verdict = verdict
        task.default_s = verdict.default_s
        task.best_s = verdict.candidate_s if verdict.winner == "candidate" else verdict.default_s


def _no_device_reason(config: TuneConfig) -> str | None:
    return device_reason(config.target)


def summary(tasks: list[Task], seconds: float | None = None) -> str:
    """A table: per task its weight, trials, failures, default and best time, speed-up, GFLOP/s."""
    head = f"{'task':<28} {'weight':>6} {'trials':>6} {'failed':>6} {'default':>12} {'best':>12} " \
           f"{'speedup':>8} {'GFLOP/s':>8}"
    lines = [head, "-" * len(head)]

    def us(s):
        return f"{s * 1e6:10.1f}us" if math.isfinite(s) else f"{'—':>12}"

    for t in tasks:
        speed = t.default_s / t.best_s if math.isfinite(t.default_s) and math.isfinite(t.best_s) else float("nan")
        lines.append(f"{t.name[:28]:<28} {t.weight:>6} {t.trials:>6} {t.failures:>6} {us(t.default_s)} "
                     f"{us(t.best_s)} {speed:>8.2f} {t.gflops(t.best_s):>8.1f}")
    raced = [t for t in tasks if t.verdict is not None]
    if raced:
        kept = sum(t.verdict.winner == "default" for t in raced)
        rounds = ", ".join(str(t.verdict.rounds) for t in raced)
        lines.append(f"best and default raced side by side for {len(raced)} task(s) (interleaved rounds: "
                     f"{rounds}); the default kept for {kept}, where no candidate beat it beyond noise")
    unmeasured = sum(t.unmeasured for t in tasks)
    if unmeasured:
        lines.append(f"{unmeasured} candidates were checked but NOT TIMED (measure='check'): their "
                     "records are unmeasured and none of them is a best schedule")
    if seconds is not None:
        trials = sum(t.trials for t in tasks)
        lines.append(f"{trials} trials in {seconds:.1f} s ({60 * trials / max(seconds, 1e-9):.0f} per minute)")
    return "\n".join(lines)


def tune_jitted(fn, args, config: TuneConfig, kwargs=None) -> Database:
    """Tune the kernels ``fn`` (an ``@mlc.jit`` function) runs for ``args`` as ``config`` says,
    unless the database already has records for all of them; returns the database.

    This is the jit's hook: ``@mlc.jit(tune=TuneConfig(...))`` calls it on the first call
    of each signature, then builds with the database. A config that names no target
    tunes for the one ``fn`` builds for (its records are looked up by that target).
    """
    if config.target is None:
        config = replace(config, target=str(fn.target))
    db = config.open_database()
    tasks = tasks_of(fn, args, kwargs)
    checking = resolve_measure(config.measure, config.target) == "check"
    # a kernel is tuned once it has a timed record; when candidates can only be checked, once
    # it has any record (checking it again would not make its records timed)
    if tasks and all(db.top_k(t.func, config.target, 1) or (checking and db.records(t.func, config.target))
                     for t in tasks):
        return db
    return tune(fn, config.target, config.trials, config.work_dir, args=args, kwargs=kwargs,
                config=replace(config, database=db))
