"""Where a first call's time goes: ``python -m benchmarks.first_call_profile [name ...]``.

For each named workload (``--list`` shows them) and each of ``--processes`` fresh
interpreters with an empty object cache (``MLC_CACHE_DIR`` a new temporary
directory), times the first call exactly as the benchmark does (its mlc
contender's ``build`` plus the first ``run``; ``--label`` picks the contender,
``jit`` by default) and splits it into the compile stages: trace, each graph
pass, schedule, verify, each TIR pass, LLVM IR generation, LLVM parse, O3,
object emission, loading, and the rest of the call (the run itself among it).
Times are medians over the processes; indented stages are part of the stage
above them. LLVM's work on other threads than the main one (a build's modules are
optimised side by side) is listed apart, as ``<stage> (other threads)``: that time
overlapped the main thread's. ``--cprofile N`` prints the N most expensive functions of one more
process under cProfile instead (which slows Python code about twofold), by cumulative time
(``MLC_PROFILE_SORT=tottime`` in the environment: by each function's own time).

``--warm`` first builds and calls another jitted function (``x * 2 + 1`` of 2^22
float32 values, a parallel loop) in the same process, untimed, as the benchmark's
table has done by its second workload: what is left is the call's own cost,
without the one-time costs of a process (the TargetMachines, the parallel
runtime's support module, the modules the first build imports).

``--timeline`` also prints, for the process of the median time, when each LLVM unit was
handed over, built (on which thread, from when to when) and when the build finished: with
units built on two threads, the sum of the stages does not say which of them the call waited for.

``import mlc`` and the attribute access of ``mlc.jit`` happen before the timer,
as in :mod:`.startup`. The modules a first call imports (the llvm backend and
llvmlite) are imported, and timed, just before the call so that their functions can
be timed: that stage is part of the total. Any other module the call imports
counts in the stage that imports it (``modules imported during the call``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


#: The suffix of a stage's time on threads other than the main one.
OTHER_THREADS = " (other threads)"


class StageTimer:
    """Wraps functions so that each call adds its time on ``clock`` to a named stage; a
    stage entered inside another is recorded one level deeper. A stage timed on a thread
    other than the main one (LLVM's modules built side by side) is recorded apart, as
    ``<stage> (other threads)``: its time overlaps the main thread's stages."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self._depth: dict[str, int] = {}
        self._levels = threading.local()

    @property
    def depth(self) -> dict[str, int]:
        """Each stage's level: a stage of other threads at its main-thread twin's (or 1)."""
        return {stage: self._depth.get(stage, self._depth.get(stage.removesuffix(OTHER_THREADS), 1))
                for stage in self.seconds}

    def wrap(self, fn, name: str):
        timer = self

        def timed(*args, **kwargs):
            main = threading.current_thread() is threading.main_thread()
            stage = name if main else name + OTHER_THREADS
            level = getattr(timer._levels, "level", 0)
            if main:
                timer._depth.setdefault(stage, level)
            timer._levels.level = level + 1
            start = timer.clock()
            try:
                return fn(*args, **kwargs)
            finally:
                timer._levels.level = level
                timer.seconds[stage] = timer.seconds.get(stage, 0.0) + timer.clock() - start
        timed.__name__ = getattr(fn, "__name__", name)
        return timed

    def patch(self, owner, attr: str, name: str) -> None:
        """Time ``owner.attr`` as stage ``name`` (a version of mlc without it: nothing)."""
        if hasattr(owner, attr):
            setattr(owner, attr, self.wrap(getattr(owner, attr), name))


def _instrument(timer: StageTimer) -> None:
    """Time the stages of ``@mlc.jit``'s first call and of ``mlc.build``."""
    from importlib import import_module  # (mlc.driver.build and mlc.tracer.jit are also functions' names)

    from mlc.passes.graph import GRAPH_PIPELINE
    llvm_jit, llvm_module = import_module("mlc.backends.llvm.jit"), import_module("mlc.backends.llvm.module")
    driver, tracer_compile = import_module("mlc.driver.build"), import_module("mlc.tracer.compile")
    tracer_jit = import_module("mlc.tracer.jit")

    timer.patch(tracer_jit.JitFunction, "_trace", "trace")
    run_graph = tracer_compile.run_graph_passes
    tracer_compile.run_graph_passes = timer.wrap(
        lambda graph, passes=GRAPH_PIPELINE: run_graph(graph, [timer.wrap(p, f"graph pass {p.__name__}")
                                                               for p in passes]), "graph passes")
    timer.patch(tracer_compile, "main_entry", "main entry")
    for stage in ("schedule_stage", "verify_stage", "tir_stage", "codegen_stage", "load_stage"):
        timer.patch(driver, stage, stage.removesuffix("_stage").replace("_", " "))
    run_tir = driver.run_passes
    driver.run_passes = lambda func, passes: run_tir(
        func, [timer.wrap(p, f"tir pass {p.__name__}") for p in passes])
    timer.patch(llvm_module, "generate_units", "llvm ir generation")
    # mlc.build by parts (LLVMBuild): each kernel's IR generated and handed to LLVM's thread,
    # then the glue and the wait for that thread, and the loading
    timer.patch(llvm_module.LLVMBuild, "add", "codegen")
    timer.patch(llvm_module.LLVMBuild, "_generate", "llvm ir generation")
    timer.patch(llvm_module.LLVMBuild, "finish", "load")
    timer.patch(llvm_jit, "_parse", "llvm parse + verify")
    timer.patch(llvm_jit, "_run_pipeline", "llvm O3")
    timer.patch(llvm_jit, "_emit_object", "llvm object emission")
    timer.patch(llvm_jit, "_load", "llvm load (check + MCJIT)")
    # the eager first tier (mlc.tracer.eager): the traced graph run through NumPy
    timer.patch(import_module("mlc.tracer.eager").EagerEntry, "run", "eager run (NumPy)")


class Timeline:
    """When each LLVM unit of a build was handed over and built, and on which thread
    (:meth:`instrument`); times in seconds of ``clock`` from :attr:`start`."""

    def __init__(self, clock=time.perf_counter):
        self.clock = clock
        self.start = clock()
        self.events: list[dict] = []  # (appended from several threads: list.append is atomic)

    def _now(self) -> float:
        return self.clock() - self.start

    def _event(self, what: str, began: float, ended: float | None = None, **details) -> None:
        thread = "main" if threading.current_thread() is threading.main_thread() else "background"
        self.events.append({"what": what, "thread": thread, "began": began, "ended": ended, **details})

    def instrument(self) -> None:
        """Record ``UnitBuild.submit`` and ``finish`` and every unit's build (a version of mlc
        without them: nothing)."""
        from importlib import import_module
        llvm_jit = import_module("mlc.backends.llvm.jit")
        units = getattr(llvm_jit, "UnitBuild", None)
        if units is None or not hasattr(llvm_jit, "_build_unit"):
            return
        timeline, submit, finish, build = self, units.submit, units.finish, llvm_jit._build_unit
        glue = getattr(llvm_jit, "unoptimised_only", lambda text: False)

        def lines(text: str) -> dict:
            return {"lines": text.count("\n") + 1, "glue": bool(glue(text))}

        def submitted(unit, ir_text: str, **kwargs):  # (quick=: a unit built unoptimised)
            timeline._event("handed to LLVM", timeline._now(), **lines(ir_text))
            return submit(unit, ir_text, **kwargs)

        def finished(unit, *args, **kwargs):
            began = timeline._now()
            try:
                return finish(unit, *args, **kwargs)
            finally:
                timeline._event("finish (the units left, the wait, loading)", began, timeline._now())

        def built(ir_text: str, *args, **kwargs):
            began = timeline._now()
            try:
                return build(ir_text, *args, **kwargs)
            finally:
                timeline._event("built", began, timeline._now(), **lines(ir_text))

        units.submit, units.finish, llvm_jit._build_unit = submitted, finished, built


def print_timeline(events: list[dict], out=None) -> None:
    """The events of a :class:`Timeline`, in order, in milliseconds from the call's start."""
    out = out or sys.stdout
    for e in sorted(events, key=lambda e: e["began"]):
        span = (f"{e['began'] * 1e3:7.1f} - {e['ended'] * 1e3:6.1f} ms" if e["ended"] is not None
                else f"{e['began'] * 1e3:7.1f} ms" + " " * 9)
        unit = f" a unit of {e['lines']} lines{' (glue, unoptimised)' if e['glue'] else ''}" if "lines" in e else ""
        print(f"      {span}  {e['thread']:<10} {e['what']}{unit}", file=out)


_CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


#: Elements of the warm-up's array: enough for a parallel loop (and so the support module).
WARM_UP_ELEMENTS = 1 << 22


def _warm_up() -> None:
    """Pay a process's one-time costs: jit, build and call ``x * 2 + 1`` on a parallel loop."""
    import numpy as np

    import mlc
    mlc.jit(lambda x: x * 2 + 1)(np.ones(WARM_UP_ELEMENTS, "float32"))
    mlc.tiering.wait(timeout=300)  # (a first call run eagerly is built after it: not during the next)


def _child(key: str, label: str, cprofile: int, clock: str = "wall", tiny: bool = False,
           warm: bool = False, timeline: bool = False) -> None:
    """One fresh process: build the workload's mlc contender and time its first call
    (``warm``: after another workload's, :func:`_warm_up`)."""
    sys.path.insert(0, _ROOT)
    import mlc
    mlc.jit  # noqa: B018  (the lazy import startup.py also makes before its timer)
    from benchmarks.workloads import WORKLOADS
    workload = WORKLOADS[key](tiny)
    found = [c for c in workload.contenders if c.peer == "mlc" and c.label.startswith(label)]
    if not found:
        labels = [c.label for c in workload.contenders if c.peer == "mlc"]
        raise SystemExit(f"{key} has no mlc contender labelled {label!r}; it has {labels}")
    contender = found[0]
    if warm:
        _warm_up()
    now = _CLOCKS[clock]
    timer = StageTimer(now)
    imports = 0.0
    if not cprofile:  # the modules the call would import are imported (and timed) here
        start = now()
        _instrument(timer)
        imports = now() - start
    units = Timeline(now) if timeline and not cprofile else None
    if units is not None:
        units.instrument()
    modules = len(sys.modules)
    if cprofile:
        import cProfile
        import pstats
        profile = cProfile.Profile()
        profile.enable()
    start = now()
    if units is not None:
        units.start = start
    contender.build()()
    end = now()
    if cprofile:
        profile.disable()
        pstats.Stats(profile).sort_stats(os.environ.get("MLC_PROFILE_SORT", "cumulative")).print_stats(cprofile)
        return
    seconds, imported = dict(timer.seconds), len(sys.modules) - modules  # (the optimised build of an
    # eager first call goes on after it, on another thread: not part of the call)
    from mlc.tracer import tiering
    tiering.wait(timeout=300)
    timer.seconds = seconds
    outer = sum(t for n, t in timer.seconds.items() if timer.depth[n] == 0 and not n.endswith(OTHER_THREADS))
    stages = {"first call": imports + end - start, "imports (the llvm backend, llvmlite)": imports,
              **timer.seconds, "outside these stages": end - start - outer}
    depth = {"first call": 0, "imports (the llvm backend, llvmlite)": 1,
             **{n: d + 1 for n, d in timer.depth.items()}, "outside these stages": 1}
    print(json.dumps({"label": contender.label, "stages": stages, "depth": depth,
                      "imported modules": imported,
                      "timeline": units.events if units is not None else None}))


def _spawn(key: str, label: str, cprofile: int = 0, clock: str = "wall", tiny: bool = False,
           warm: bool = False, timeline: bool = False) -> dict | None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="mlc-first-call-") as cache:
        env["MLC_CACHE_DIR"] = cache
        code = f"from benchmarks.first_call_profile import _child; _child({key!r}, {label!r}, {cprofile}, {clock!r}, {tiny!r}, {warm!r}, {timeline!r})"
        out = subprocess.run([sys.executable, "-c", code], capture_output=not cprofile, text=True, env=env,
                             cwd=_ROOT)
    if out.returncode:
        raise SystemExit(f"{key}: the child process failed:\n{out.stderr}")
    return None if cprofile else json.loads(out.stdout.strip().splitlines()[-1])


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def profile(key: str, label: str = "jit", processes: int = 3, clock: str = "wall", tiny: bool = False,
            warm: bool = False, timeline: bool = False) -> dict:
    """Median seconds per stage of ``key``'s first call over ``processes`` fresh processes
    (``warm``: each after another workload's first call, :func:`_warm_up`); ``timeline``: and
    the LLVM units' :class:`Timeline` of the process whose first call took the median time."""
    runs = [_spawn(key, label, clock=clock, tiny=tiny, warm=warm, timeline=timeline) for _ in range(processes)]
    names = list(dict.fromkeys(n for r in runs for n in r["stages"]))
    stages = {n: _median([r["stages"].get(n, 0.0) for r in runs]) for n in names}
    depth = {n: d for r in runs for n, d in r["depth"].items()}
    median_run = sorted(runs, key=lambda r: r["stages"]["first call"])[(len(runs) - 1) // 2]
    return {"label": runs[0]["label"], "stages": stages, "depth": depth,
            "runs": [r["stages"]["first call"] for r in runs], "timeline": median_run.get("timeline"),
            "imported modules": runs[0]["imported modules"], "clock": clock, "warm": warm}


def report(key: str, result: dict, out=None) -> None:
    out = out or sys.stdout
    runs = ", ".join(f"{t * 1e3:.0f}" for t in result["runs"])
    print(f"{key} ({result['label']}): first call {result['stages']['first call'] * 1e3:.1f} ms median "
          f"{'(CPU time of the calling thread) ' if result.get('clock') == 'cpu' else ''}"
          f"{'(after a warm-up build) ' if result.get('warm') else ''}"
          f"(runs: {runs} ms; load average {os.getloadavg()[0]:.2f}; "
          f"{result['imported modules']} modules imported during the call)", file=out)
    for name, seconds in result["stages"].items():
        if name == "first call":
            continue
        indent = "  " * result["depth"].get(name, 1)
        print(f"  {indent}{name:<{44 - len(indent)}} {seconds * 1e3:8.1f} ms", file=out)
    if result.get("timeline") is not None:
        print("    timeline of the median run's LLVM units (ms from the call's start):", file=out)
        print_timeline(result["timeline"], out)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, _ROOT)
    from benchmarks.workloads import WORKLOADS
    p = argparse.ArgumentParser(prog="python -m benchmarks.first_call_profile", description=__doc__.split("\n\n")[1])
    p.add_argument("names", nargs="*", metavar="name", help=f"workloads (default mlp): {', '.join(WORKLOADS)}")
    p.add_argument("--label", default="jit", help="the mlc contender whose first call is profiled "
                   "(a prefix of its label, e.g. 'te, default'); default: jit")
    p.add_argument("--processes", type=int, default=3, help="fresh processes per workload (default 3)")
    p.add_argument("--cprofile", type=int, default=0, metavar="N",
                   help="instead, print the N most expensive functions (cumulative) of one process")
    p.add_argument("--clock", choices=sorted(_CLOCKS), default="wall",
                   help="wall time (default), or the CPU time of the calling thread: steadier on a "
                   "busy machine, but blind to the kernels' other threads and to waiting")
    p.add_argument("--warm", action="store_true", help="time the call after another workload's first call "
                   "in the same process (as in the benchmark's table): without a process's one-time costs")
    p.add_argument("--timeline", action="store_true", help="also when each LLVM unit was handed over and built, "
                   "on which thread, in the run of the median time")
    p.add_argument("--tiny", action="store_true", help="the workloads' smoke-test sizes (not a measurement)")
    p.add_argument("--list", action="store_true", help="list the workload names and exit")
    args = p.parse_args(argv)
    if args.list:
        print(" ".join(WORKLOADS))
        return 0
    for key in args.names or ["mlp"]:
        if key not in WORKLOADS:
            print(f"unknown workload {key!r}; choose from {', '.join(WORKLOADS)}", file=sys.stderr)
            return 2
        if args.cprofile:
            _spawn(key, args.label, args.cprofile, tiny=args.tiny, warm=args.warm)
        else:
            report(key, profile(key, args.label, args.processes, args.clock, args.tiny, args.warm, args.timeline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
