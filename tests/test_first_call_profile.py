"""benchmarks.first_call_profile runs a first call in a fresh process and prints its
stages. No timing is asserted."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "benchmarks.first_call_profile", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_a_first_call_is_split_into_its_compile_stages():
    proc = run_cli("window_sum", "--tiny", "--processes", "1", "--clock", "cpu")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"window_sum \(jit\): first call [\d.]+ ms median \(CPU time", out)
    for stage in ("imports (the llvm backend, llvmlite)", "trace", "graph pass fuse_ops", "graph passes",
                  "schedule", "verify", "tir pass vectorize_loops_for_llvm", "tir", "llvm ir generation", "codegen",
                  "llvm parse + verify", "llvm O3", "llvm object emission", "llvm load (check + MCJIT)",
                  "load", "outside these stages"):
        assert re.search(rf"^\s+{re.escape(stage)}\s+-?[\d.]+ ms$", out, re.M), stage


def test_a_te_contender_and_the_refusals():
    proc = run_cli("mm_relu", "--tiny", "--processes", "1", "--label", "te, default")
    assert proc.returncode == 0, proc.stderr
    assert "mm_relu (te, default schedule): first call" in proc.stdout and "llvm O3" in proc.stdout
    proc = run_cli("no_such_workload")
    assert proc.returncode == 2 and "softmax" in proc.stderr
    proc = run_cli("gelu", "--tiny", "--label", "nothing like it")
    assert proc.returncode != 0 and "has no mlc contender labelled" in proc.stderr


def test_stages_on_other_threads_are_listed_apart_at_their_twins_level():
    import threading
    from benchmarks.first_call_profile import StageTimer
    timer = StageTimer()
    outer = timer.wrap(lambda f: f(), "load")
    inner = timer.wrap(lambda: None, "llvm O3")

    def both():
        inner()
        worker = threading.Thread(target=inner)
        worker.start()
        worker.join()

    outer(both)
    assert set(timer.seconds) == {"load", "llvm O3", "llvm O3 (other threads)"}
    assert timer.depth == {"load": 0, "llvm O3": 1, "llvm O3 (other threads)": 1}


def test_warm_times_the_call_after_another_workloads_first_call():
    """``--warm``: the process has built (and paid the one-time costs of) another workload
    first, so llvmlite and the backend are there before the timer: importing them is free."""
    proc = run_cli("mm_relu", "--tiny", "--processes", "1", "--warm", "--clock", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"mm_relu \(jit\): first call [\d.]+ ms median \(CPU time of the calling thread\) "
                     r"\(after a warm-up build\)", proc.stdout)
    ms = {stage: float(re.search(rf"^\s+{re.escape(stage)}\s+(-?[\d.]+) ms$", proc.stdout, re.M).group(1))
          for stage in ("imports (the llvm backend, llvmlite)", "schedule", "llvm O3", "load")}
    # the backend and llvmlite came with the warm-up (tens of ms cold, more than scheduling)
    assert ms["imports (the llvm backend, llvmlite)"] < ms["schedule"]


def test_the_warm_up_pays_for_the_parallel_runtimes_support_module():
    """The warm-up builds a parallel loop, so the process has built the support module that
    parallel launches call (which a 4-element add does not need) before the timed call."""
    code = ("from benchmarks.first_call_profile import _warm_up; _warm_up(); "
            "from mlc.backends.llvm import jit; print(bool(jit._SUPPORT))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


def test_the_timeline_says_when_each_unit_was_handed_over_and_built():
    proc = run_cli("softmax", "--tiny", "--processes", "1", "--timeline")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "timeline of the median run's LLVM units (ms from the call's start):" in out
    import mlc
    if mlc.get_num_threads() > 1:  # built by parts (LLVMBuild): the kernel's unit, then the glue
        assert re.search(r"^\s+[\d.]+ ms\s+main\s+handed to LLVM a unit of \d+ lines$", out, re.M), out
        assert re.search(r"^\s+[\d.]+ - \s*[\d.]+ ms\s+(main|background)\s+built a unit of \d+ lines "
                         r"\(glue, unoptimised\)$", out, re.M), out
        assert re.search(r"^\s+[\d.]+ - \s*[\d.]+ ms\s+main\s+finish \(the units left", out, re.M), out


def test_a_timeline_is_printed_in_order_of_its_events():
    import io
    from benchmarks.first_call_profile import print_timeline
    out = io.StringIO()
    print_timeline([{"what": "built", "thread": "background", "began": 0.0021, "ended": 0.0185, "lines": 250,
                     "glue": False},
                    {"what": "handed to LLVM", "thread": "main", "began": 0.002, "ended": None, "lines": 250,
                     "glue": False},
                    {"what": "finish (the units left, the wait, loading)", "thread": "main", "began": 0.003,
                     "ended": 0.02}], out)
    lines = out.getvalue().splitlines()
    assert lines == ["          2.0 ms           main       handed to LLVM a unit of 250 lines",
                     "          2.1 -   18.5 ms  background built a unit of 250 lines",
                     "          3.0 -   20.0 ms  main       finish (the units left, the wait, loading)"]
