"""Tasks: the distinct kernels of a module or a jitted function, and how the budget is shared.

:func:`extract_tasks` collects every unscheduled PrimFunc, merges the ones
with the same structural hash (two layers of one shape are one task) and
weights each task by how often the program calls it (the ``call_tir``
bindings of a jitted function's graph; 1 per function of an IRModule).

:class:`GradientScheduler` shares the trial budget among the tasks by
expected gain, after TVM's gradient task scheduler: every task first gets
one round; then each round goes to the task whose weighted time promises to
fall the most: the recent improvement per trial (backward gradient) blended
with an optimistic guess that a task tuned less has more to gain.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import MLCError
from ..ir.tir import IRModule, PrimFunc
from .database import normalize_func, workload_key
from .features import estimate_flops

__all__ = ["Task", "extract_tasks", "tasks_of", "GradientScheduler"]


@dataclass
class Task:
    """One distinct kernel: its PrimFunc (as the single function ``main`` of ``mod``), the
    names it has in the program, how often it runs, and what tuning found."""
    name: str
    func: PrimFunc
    mod: IRModule
    key: str
    weight: int = 1
    names: list[str] = field(default_factory=list)
    flops: float = 0.0
    trials: int = 0
    failures: int = 0
    unmeasured: int = 0           # candidates checked but not timed (measure="check")
    default_s: float = math.inf
    best_s: float = math.inf
    history: list[tuple[int, float]] = field(default_factory=list)   # (trials so far, best so far)
    exhausted: bool = False       # the search found no new candidate: the space is measured
    verdict: object = None        # the final race against the default (mlc.tune.confirm.Verdict)

    def record(self, seconds: float | None, unmeasured: bool = False) -> None:
        """Count one measured candidate (None: it failed, or with ``unmeasured`` it was
        checked but not timed)."""
        self.trials += 1
        if unmeasured:
            self.unmeasured += 1
        elif seconds is None:
            self.failures += 1
        else:
            self.best_s = min(self.best_s, seconds)
        self.history.append((self.trials, self.best_s))

    def gflops(self, seconds: float) -> float:
        return self.flops / seconds / 1e9 if self.flops and math.isfinite(seconds) and seconds > 0 else 0.0


def _is_unscheduled(func) -> bool:
    return dict(func.attrs).get("mlc.scheduled") is None


def _call_counts(graph) -> dict[str, int]:
    counts: dict[str, int] = {}
    for binding in getattr(graph, "bindings", ()):
        if binding.op == "call_tir":
            name = dict(binding.attrs).get("func")
            if name is not None:
                counts[name] = counts.get(name, 0) + 1
    return counts


def extract_tasks(mod: IRModule, call_counts: dict[str, int] | None = None) -> list[Task]:
    """The distinct unscheduled PrimFuncs of ``mod`` (an IRModule, or a module of PrimFuncs and
    graph functions), weighted by ``call_counts``: by default the ``call_tir`` bindings of the
    module's graph functions, or 1 per PrimFunc when it has none."""
    if not isinstance(mod, Mapping):
        raise MLCError(f"mlc.tune: expected an IRModule or a function decorated with @mlc.jit, "
                       f"got {type(mod).__name__}")
    if call_counts is None:
        graphs = [f for f in mod.values() if not isinstance(f, PrimFunc) and hasattr(f, "bindings")]
        if graphs:
            call_counts = {}
            for graph in graphs:
                for name, count in _call_counts(graph).items():
                    call_counts[name] = call_counts.get(name, 0) + count
    tasks: dict[str, Task] = {}
    for name, func in mod.items():
        if not isinstance(func, PrimFunc) or not _is_unscheduled(func):
            continue
        weight = (call_counts or {}).get(name, 1 if call_counts is None else 0)
        if weight == 0 and call_counts is not None:
            continue
        key = workload_key(func)
        if key in tasks:
            tasks[key].weight += weight
            tasks[key].names.append(name)
            continue
        single = normalize_func(func).with_attr("global_symbol", "main")
        tasks[key] = Task(name, func, IRModule({"main": single}), key, weight, [name],
                          flops=estimate_flops(func))
    return list(tasks.values())


def tasks_of(program, args=(), kwargs=None) -> list[Task]:
    """Tasks of an IRModule, or of a jitted function traced with ``args``."""
    if isinstance(program, Mapping):
        return extract_tasks(program)
    if hasattr(program, "lower"):
        if not args and not kwargs:
            raise MLCError("mlc.tune of a jitted function needs example arguments: "
                           "mlc.tune(f, args=(x, w, ...)) traces f with them to find its kernels")
        lowered = program.lower(*args, **(kwargs or {}))
        return extract_tasks(lowered.mod, _call_counts(lowered.graph))
    raise MLCError(f"mlc.tune: expected an IRModule or a function decorated with @mlc.jit, "
                   f"got {type(program).__name__}")


class GradientScheduler:
    """Chooses which task the next round of trials goes to."""

    def __init__(self, tasks: list[Task], window: int = 3, alpha: float = 0.5):
        self.tasks, self.window, self.alpha = tasks, window, alpha

    def _gain(self, task: Task) -> float:
        best = task.best_s if math.isfinite(task.best_s) else 1.0
        optimistic = task.weight * best / max(1, task.trials)
        hist = task.history
        if len(hist) > self.window:
            before = hist[-self.window - 1][1]
            before = before if math.isfinite(before) else 2 * best
            backward = task.weight * (before - best) / self.window
        else:
            backward = optimistic
        return self.alpha * backward + (1 - self.alpha) * optimistic

    def next_task(self) -> Task | None:
        """The task the next round goes to; None when every task's space is exhausted."""
        live = [t for t in self.tasks if not t.exhausted]
        for task in live:
            if task.trials == 0:
                return task
        return max(live, key=self._gain) if live else None
