"""Apache TVM's MetaSchedule, tuning the same workload as ``mlc.tune`` with the same trial count.

Imported by ``python -m benchmarks tune`` only when TVM is installed (the ``bench``
extra). MetaSchedule lives in ``tvm.s_tir.meta_schedule`` in TVM 0.2x and in
``tvm.meta_schedule`` before; either is used. It runs as shipped — its LLVM
design space (``post-order-apply`` with the target's rules, postprocessors and
mutators), evolutionary search, ``tune_tir`` on the workload's te program — except
where this machine cannot run a piece of it, and every such change is returned
as a note that the benchmark prints beside the row:

- the XGBoost cost model needs ``xgboost``: without it the ``random`` model is used;
- MetaSchedule's ``LocalBuilder``/``LocalRunner`` pools need ``cloudpickle``: without
  it candidates are built (``default_build``) and timed (``run_evaluator_common``,
  MetaSchedule's own evaluator settings) in the benchmark's process, one at a time;
- a default mutator whose creation crashes TVM here (found in a throw-away
  process) is left out of the space's mutators.

MetaSchedule's search serialises IR to JSON (``tvm.ir.save_json``) for every task.
Where that crashes (TVM 0.27.0.post1 with apache-tvm-ffi 0.1.15 on the first host
this was tried on segfaults in ``tvm::ffi::ToJSONGraph`` on a plain ``Var``),
MetaSchedule cannot tune at all: :func:`unavailable_reason` finds this in a
throw-away process and the row says so. The tuning itself runs in a child process
(``python -m benchmarks.metaschedule``: a crash costs the row, not the benchmark);
its wall-clock time is measured there, around ``tune_tir`` alone, and the parent
builds the best schedule from the JSON database it leaves.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import tvm
from tvm import te

from .tvm_kernels import _target

__all__ = ["meta_schedule_module", "unavailable_reason", "MetaScheduleRun", "tune"]


def meta_schedule_module():
    """TVM's meta_schedule package, wherever this TVM keeps it; None when it has none."""
    for name in ("tvm.s_tir.meta_schedule", "tvm.meta_schedule"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


_JSON_PROBE = r"""
import tvm
tir = getattr(tvm, "tirx", None) or tvm.tir
print(len(tvm.ir.save_json(tir.Var("x", "int32"))))
"""


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def unavailable_reason() -> str | None:
    """Why MetaSchedule cannot tune here, or None."""
    if meta_schedule_module() is None:
        return f"TVM {tvm.__version__} has no meta_schedule package (looked for tvm.s_tir.meta_schedule, " \
               "tvm.meta_schedule)"
    proc = subprocess.run([sys.executable, "-c", _JSON_PROBE], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        how = f"crashes ({_signal_name(proc.returncode)})" if proc.returncode < 0 else \
            f"fails ({proc.stderr.strip().splitlines()[-1:]})"
        return (f"cannot run here: TVM {tvm.__version__} {how} serialising IR to JSON (tvm.ir.save_json of a "
                "tir Var, in tvm::ffi::ToJSONGraph), which MetaSchedule's search does for every task")
    return None


# ------------------------------------------------------------------ workloads

def _matmul(a: np.ndarray, b: np.ndarray):
    (n, kk), m = a.shape, b.shape[1]
    A = te.placeholder((n, kk), "float32", name="A")
    B = te.placeholder((kk, m), "float32", name="B")
    k = te.reduce_axis((0, kk), name="k")
    C = te.compute((n, m), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return [A, B, C], (n, m)


def _bmm(a: np.ndarray, b: np.ndarray):
    bs, n, kk = a.shape
    m = b.shape[2]
    A = te.placeholder(a.shape, "float32", name="A")
    B = te.placeholder(b.shape, "float32", name="B")
    k = te.reduce_axis((0, kk), name="k")
    C = te.compute((bs, n, m), lambda z, i, j: te.sum(A[z, i, k] * B[z, k, j], axis=k), name="C")
    return [A, B, C], (bs, n, m)


def _conv2d(x: np.ndarray, w: np.ndarray):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    X = te.placeholder(x.shape, "float32", name="X")
    W = te.placeholder(w.shape, "float32", name="W")
    P = te.compute((n, c, h + 2, wd + 2), lambda b, ch, y, xx: te.if_then_else(
        te.all(y >= 1, y <= h, xx >= 1, xx <= wd), X[b, ch, y - 1, xx - 1], 0.0), name="P")
    rc = te.reduce_axis((0, c), name="rc")
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    out = te.compute((n, o, h, wd), lambda b, f, y, xx: te.sum(
        P[b, rc, y + ry, xx + rx] * W[f, rc, ry, rx], axis=[rc, ry, rx]), name="out")
    return [X, W, out], (n, o, h, wd)


#: benchmark workload key -> te program builder from the NumPy inputs
PROGRAMS = {"matmul1024": _matmul, "bmm": _bmm, "conv2d": _conv2d}


# ------------------------------------------------------- what this host lacks

_PROBE = r"""
import json, os, sys
from tvm import te
import tvm
ms = __import__(sys.argv[1], fromlist=["x"])
A = te.placeholder((16, 16), "float32", name="A")
k = te.reduce_axis((0, 16), name="k")
C = te.compute((16, 16), lambda i, j: te.sum(A[i, k] * A[k, j], axis=k), name="C")
mod = tvm.IRModule({"main": te.create_prim_func([A, C])})
target = tvm.target.Target(json.loads(sys.argv[2]))
good = []
for n, (mutator, p) in enumerate(ms.Mutator.create("llvm").items()):
    pid = os.fork()
    if pid == 0:
        space = ms.space_generator.PostOrderApply(sch_rules="from-target", postprocs="from-target",
                                                 mutator_probs={mutator: float(p)})
        ms.TuneContext(mod=mod, target=target, space_generator=space, num_threads=1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    good.append([n, status == 0])
print(json.dumps(good))
"""


def _working_mutators(ms, target) -> tuple[dict | str, list[str]]:
    """The default mutators (with their probabilities) whose creation does not crash TVM
    here, checked in a throw-away process; "from-target" when all of them work."""
    defaults = list(ms.Mutator.create("llvm").items())
    proc = subprocess.run([sys.executable, "-c", _PROBE, ms.__name__, str(target)],
                          capture_output=True, text=True, timeout=300)
    try:
        verdict = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return "from-target", [f"the mutator probe failed ({proc.stderr.strip().splitlines()[-1:]}); "
                               "MetaSchedule's default mutators used"]
    if all(verdict.get(n, False) for n in range(len(defaults))):
        return "from-target", []
    kept = {m: float(p) for n, (m, p) in enumerate(defaults) if verdict.get(n)}
    dropped = [type(m).__name__ for n, (m, _) in enumerate(defaults) if not verdict.get(n)]
    return kept, [f"mutators {', '.join(dropped)} left out: creating them crashes TVM {tvm.__version__} on "
                  "this host (segfault, found in a throw-away process)"]


_ARTIFACTS: dict[str, object] = {}


def _in_process(ms):
    """A builder and a runner that work in this process (MetaSchedule's own need cloudpickle)."""
    try:
        derived_object = importlib.import_module("tvm.ir.utils").derived_object
    except (ImportError, AttributeError):  # older TVM
        derived_object = importlib.import_module(f"{ms.__name__}.utils").derived_object
    default_build = importlib.import_module(f"{ms.__name__}.builder.local_builder").default_build
    local_runner = importlib.import_module(f"{ms.__name__}.runner.local_runner")
    LocalRunnerFuture, default_alloc_argument = local_runner.LocalRunnerFuture, local_runner.default_alloc_argument
    run_evaluator_common = importlib.import_module(f"{ms.__name__}.runner.utils").run_evaluator_common
    config = ms.runner.EvaluatorConfig._normalized(None)

    @derived_object
    class InProcessBuilder(ms.builder.PyBuilder):
        def build(self, build_inputs):
            out = []
            for bi in build_inputs:
                try:
                    key = f"in-process:{len(_ARTIFACTS)}"
                    _ARTIFACTS[key] = default_build(bi.mod, bi.target, None)
                    out.append(ms.builder.BuilderResult(key, None))
                except Exception as e:  # noqa: BLE001 - a candidate's failure is its record
                    out.append(ms.builder.BuilderResult(None, f"{type(e).__name__}: {e}"))
            return out

    @derived_object
    class InProcessRunner(ms.runner.PyRunner):
        def run(self, runner_inputs):
            out = []
            for ri in runner_inputs:
                try:
                    rt_mod = _ARTIFACTS.pop(str(ri.artifact_path))
                    dev = tvm.runtime.device(str(ri.device_type), 0)
                    args = default_alloc_argument(dev, tuple(a.as_json() for a in ri.args_info), 1)
                    out.append(LocalRunnerFuture(res=run_evaluator_common(rt_mod, dev, config, args)))
                except Exception as e:  # noqa: BLE001
                    out.append(LocalRunnerFuture(error_message=f"{type(e).__name__}: {e}"))
            return out

    return InProcessBuilder(), InProcessRunner()


# ---------------------------------------------------------------------- tuning

@dataclass
class MetaScheduleRun:
    """A finished MetaSchedule tuning: wall-clock seconds of ``tune_tir``, records and failures
    in its database, how it differed from MetaSchedule as shipped, and ``build()`` -> ``run``
    (``error`` set instead when the tuning process failed)."""
    wall_s: float = float("nan")
    trials: int = 0
    failed: int = 0
    notes: list[str] = field(default_factory=list)
    build: object = None
    error: str = ""


def _program(key: str, inputs: tuple):
    tensors, out_shape = PROGRAMS[key](*inputs)
    return tvm.IRModule({"main": te.create_prim_func(tensors)}), out_shape


def _tune_here(key: str, inputs: tuple, trials: int, work_dir: str) -> dict:
    """Run ``tune_tir`` in this process (the child's half); its JSON database goes to ``work_dir``."""
    ms = meta_schedule_module()
    mod, _ = _program(key, inputs)
    target = _target()
    notes = []
    cost_model = "xgb"
    if importlib.util.find_spec("xgboost") is None:
        cost_model = "random"
        notes.append("xgboost is not installed: MetaSchedule searched with its random cost model (mlc.tune "
                     "uses its LightGBM model)")
    builder = runner = "local"
    if importlib.util.find_spec("cloudpickle") is None:
        builder, runner = _in_process(ms)
        notes.append("cloudpickle is not installed, which MetaSchedule's LocalBuilder/LocalRunner need: its "
                     "candidates were built and timed in its tuning process, without isolation")
    mutators, why = _working_mutators(ms, target)
    notes += why
    space = ms.space_generator.PostOrderApply(sch_rules="from-target", postprocs="from-target",
                                             mutator_probs=mutators)
    os.makedirs(work_dir, exist_ok=True)
    start = time.perf_counter()
    db = ms.tune_tir(mod, target, work_dir, max_trials_global=trials, num_trials_per_iter=min(64, trials),
                     builder=builder, runner=runner, database="json", cost_model=cost_model, space=space, seed=0,
                     num_tuning_cores=os.cpu_count() or 1)
    wall = time.perf_counter() - start
    records = db.get_all_tuning_records()
    failed = sum(1 for r in records if not r.run_secs or min(float(x) for x in r.run_secs) >= 1e9)
    return {"wall_s": wall, "trials": len(records), "failed": failed, "notes": notes}


def tune(key: str, inputs: tuple, trials: int, work_dir: str) -> MetaScheduleRun:
    """Tune workload ``key`` (a key of :data:`PROGRAMS`) on ``inputs`` with MetaSchedule in a
    child process, ``trials`` measured candidates in all, and build its best schedule here."""
    os.makedirs(work_dir, exist_ok=True)
    arrays = os.path.join(work_dir, "inputs.npz")
    np.savez(arrays, *inputs)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.metaschedule", key, str(trials), work_dir, arrays],
                          capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode != 0:
        how = f"crashed ({_signal_name(proc.returncode)})" if proc.returncode < 0 else \
            f"failed: {(proc.stderr.strip().splitlines() or ['?'])[-1][:200]}"
        return MetaScheduleRun(error=f"MetaSchedule's tuning process {how}")
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    ms = meta_schedule_module()
    mod, out_shape = _program(key, inputs)
    target = _target()
    db = ms.database.JSONDatabase(work_dir=work_dir)
    sch = ms.tir_integration.compile_tir(db, mod, target)

    def build():
        if sch is None:
            raise RuntimeError("MetaSchedule's database has no working schedule for this workload")
        with tvm.transform.PassContext(opt_level=3):
            lib = tvm.compile(sch.mod, target=target)
        dev = tvm.cpu()
        args = [tvm.runtime.tensor(a, dev) for a in inputs]
        out = tvm.runtime.empty(out_shape, "float32", dev)
        f = lib["main"]

        def run():
            f(*args, out)
            return out
        return run
    return MetaScheduleRun(stats["wall_s"], stats["trials"], stats["failed"], stats["notes"], build)


def _main(argv: list[str]) -> int:
    key, trials, work_dir, arrays = argv
    with np.load(arrays) as data:
        inputs = tuple(data[f"arr_{n}"] for n in range(len(data.files)))
    print(json.dumps(_tune_here(key, inputs, int(trials), work_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
