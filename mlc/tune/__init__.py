"""Autotuning: design spaces, evolutionary search with a learned cost model, isolated
measurement, a SQLite database, and Ray for many machines.

``mlc.tune(mod, target="llvm", trials=64, work_dir="tune_mm")`` searches schedules for
every distinct kernel of ``mod`` (or of an ``@mlc.jit`` function, given ``args=``) and
returns the :class:`Database` of measurements; ``db.best_trace(func, target)`` is the
best schedule of a function, replayable with ``mlc.build(mod, target, schedule=trace)``.

The package sits above the compile driver and calls it (``mlc.driver.build``), with the
layers below it (schedules, the IR, targets); nothing below it imports it (``@mlc.jit``
opens a ``database=`` path with it, on first use), ``import mlc`` does not load it, and
LightGBM, tqdm, matplotlib and Ray load only when used.
"""
import sys as _sys
import types as _types

from .apply import apply_database
from .cost_model import CostModel
from .database import Database, Record, workload_key
from .features import estimate_flops, extract, lower
from .gpu_measure import resolve_measure
from .gpu_runner import GpuRunner
from ..schedules.gpu.space import GpuInfo, ResourceLimitError, gpu_space
from .integration import compile_tir
from .job import Job, Outcome, Timing
from .runner import LocalRunner, Runner
from .search import Candidate, EvolutionarySearch
from .space import DEFAULT, RULES, SPACES, TILED, cpu_space, decisions_of, default_point, replay, rules_space
from .tasks import GradientScheduler, Task, extract_tasks, tasks_of
from .tuner import TuneConfig, make_runner, summary, tune, tune_jitted

__all__ = ["tune", "tune_jitted", "apply_database", "TuneConfig", "Database", "Record", "workload_key",
           "Timing", "Job", "Outcome", "Runner", "LocalRunner", "CostModel", "EvolutionarySearch",
           "Candidate", "Task", "extract_tasks", "tasks_of", "GradientScheduler", "cpu_space", "replay",
           "decisions_of", "SPACES", "DEFAULT", "TILED", "RULES", "rules_space", "default_point", "lower",
           "extract", "estimate_flops", "make_runner", "summary",
           "GpuRunner", "GpuInfo", "ResourceLimitError", "gpu_space", "resolve_measure", "compile_tir"]


class _CallableModule(_types.ModuleType):
    """``mlc.tune`` is this package and the function: ``mlc.tune(mod, ...)`` calls :func:`tune`."""

    def __call__(self, *args, **kwargs):
        return tune(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
