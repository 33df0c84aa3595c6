"""The benchmark harness runs end to end at tiny sizes, prints its table and writes valid
JSON; its rounds interleave the contenders. No timing is asserted."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.harness import (FIRST_CALLS, FP32_FMA, Contender, Result, Workload, WorkloadResult, fp32_peak,
                                print_table, run_workload)
from benchmarks.peers import INSTALL_HINT, installed, mlc_cold, mlc_jit

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, timeout=120, env=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_quick_tiny_run_prints_the_machine_and_a_table_and_writes_json(tmp_path):
    out_file = tmp_path / "run.json"
    start = time.perf_counter()
    proc = run_cli("--quick", "--tiny", "add", "window_sum", "--json", str(out_file))
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "machine:" in out and "fp32 FMA peak (measured" in out and "copy bandwidth" in out
    assert "workload" in out and "vs numpy" in out
    assert "call overhead: a + b, 4 float32" in out and "window sum A[i]+A[i+1]+A[i+2], 2^10" in out
    if not all(installed(p) for p in ("numba", "jax", "tvm")):
        assert INSTALL_HINT in out  # a missing peer says how to install the bench extra

    record = json.loads(out_file.read_text())
    assert record["quick"] and record["tiny"] and record["rounds"] == 2
    assert record["machine"]["cores"] >= 1 and record["machine"]["fma_peak_gflops"] > 0
    assert [w["key"] for w in record["workloads"]] == ["add", "window_sum"]
    for w in record["workloads"]:
        by_peer = {c["peer"]: c for c in w["contenders"]}
        assert set(by_peer) == {"numpy", "mlc", "numba", "jax", "tvm"}
        for peer in ("numpy", "mlc"):
            c = by_peer[peer]
            assert not c["error"] and not c["missing"], c
            assert len(c["times_s"]) == 2 and c["median_s"] > 0 and c["first_call_s"] > 0
            assert c["first_calls_s"] == [c["first_call_s"]]  # --quick: one first call
    window = record["workloads"][1]["contenders"][0]
    assert window["gbs"] > 0 and window["percent_of_peak"] > 0
    assert "mlc jit" in record["table"]
    assert elapsed < 60  # generous: the suite runs on loaded machines; about 3 s when idle


def test_the_first_call_is_the_median_of_new_builds_each_under_the_contenders_cold_context():
    events = []

    class Cold:
        def __enter__(self):
            events.append("enter")

        def __exit__(self, *exc):
            events.append("exit")

    delays = iter([0.03, 0.01, 0.02])

    def build():
        events.append("build")
        delay, calls = next(delays), []

        def run():  # the first call takes ``delay``; the warm calls after it nothing
            if not calls:
                events.append("first run")
                time.sleep(delay)
            calls.append(1)
            return 1.0
        return run
    work = Workload("fake", "fake", reference=lambda: 1.0,
                    contenders=(Contender("mlc", "jit", build, cold=Cold),))
    result = run_workload(work, rounds=1, target_s=1e-4, log=lambda msg: None).results[0]
    assert FIRST_CALLS == 3 and not result.error
    assert events == ["enter", "build", "first run", "exit"] * 3
    assert len(result.first_calls_s) == 3 and result.first_call_s == sorted(result.first_calls_s)[1]
    assert 0.02 <= result.first_call_s < 0.03


def test_mlc_compiles_anew_under_mlc_cold_and_from_the_cache_without_it(tmp_path, monkeypatch):
    import numpy as np

    import mlc
    from mlc.backends.llvm import jit as llvm_jit
    from mlc.config import config, override
    built = []
    build_unit = llvm_jit._build_unit
    monkeypatch.setattr(llvm_jit, "_build_unit", lambda text, *a, **k: built.append(text) or build_unit(text, *a, **k))
    x = np.arange(7, dtype="float32")
    contender = mlc_jit(lambda v: v * 3.5 - 1, (x,))
    with override(cache_dir=str(tmp_path)):
        directories = []
        for _ in range(2):
            with contender.cold():
                directories.append(config().cache_dir)
                assert os.listdir(directories[-1]) == []
                np.testing.assert_array_equal(contender.build()(), x * 3.5 - 1)
            assert not os.path.exists(directories[-1])  # removed
        assert directories[0] != directories[1] and str(tmp_path) not in directories
        assert len(built) == 2 * len(set(built)) and built  # each unit built twice: no cache hit
        built.clear()
        for _ in range(2):
            contender.build()()
        assert len(built) == len(set(built))  # without mlc_cold, the second build finds the first's objects


@pytest.mark.skipif(not installed("numba"), reason="numba (the bench extra) not installed")
def test_a_numba_contender_builds_a_new_dispatcher_each_time():
    from benchmarks import numba_kernels
    from benchmarks.peers import numba_contender
    import numpy as np
    x = np.ones(5, "float32")
    contender = numba_contender("add", (x, x))
    first, second = contender.build(), contender.build()
    np.testing.assert_array_equal(first(), x + x)
    np.testing.assert_array_equal(second(), x + x)
    assert not numba_kernels.add.signatures  # the module's dispatcher compiled nothing


@pytest.mark.skipif(not installed("jax"), reason="jax (the bench extra) not installed")
def test_a_jax_contender_clears_jaxs_caches_before_its_first_call(monkeypatch):
    import jax

    from benchmarks.peers import jax_contender
    cleared = []
    monkeypatch.setattr(jax, "clear_caches", lambda: cleared.append(True))
    contender = jax_contender(lambda jnp: lambda v: v + 1, (1.0,))
    with contender.cold():
        assert cleared == [True]


def test_unknown_names_and_bad_rounds_are_refused():
    proc = run_cli("gelu", "no_such_workload")
    assert proc.returncode == 2 and "no_such_workload" in proc.stderr and "softmax" in proc.stderr
    proc = run_cli("--rounds", "0", "add")
    assert proc.returncode == 2 and "--rounds" in proc.stderr


def test_rounds_interleave_contenders_in_rotated_order():
    calls = []

    def contender(name):
        def build():
            def run():
                calls.append(name)
                return 1.0
            return run
        return Contender(name, "", build)

    work = Workload("fake", "fake workload", reference=lambda: 1.0,
                    contenders=(contender("a"), contender("b"), contender("c")))
    result = run_workload(work, rounds=3, target_s=1e-5, log=lambda msg: None)
    batches = []  # the calls collapsed to one entry per contender's run of them
    for name in calls:
        if not batches or batches[-1] != name:
            batches.append(name)
    # each contender's first and sizing calls (one run each), then the timed rounds
    assert batches == ["a", "b", "c"] + ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert all(len(r.times_s) == 3 for r in result.results)


def test_wrong_results_and_failing_builds_are_reported_not_timed(capsys):
    def broken():
        raise RuntimeError("cannot build this")

    work = Workload("fake", "fake workload", flops=1e6, reference=lambda: 1.0, contenders=(
        Contender("numpy", "", lambda: lambda: 1.0),
        Contender("mlc", "jit", lambda: lambda: 2.0),
        Contender("tvm", "", broken),
    ))
    result = run_workload(work, rounds=2, target_s=1e-5, log=lambda msg: None)
    numpy_r, wrong, failed = result.results
    assert len(numpy_r.times_s) == 2 and not numpy_r.error
    assert wrong.error == "result differs from NumPy's" and not wrong.times_s
    assert failed.error == "RuntimeError: cannot build this" and not failed.times_s
    notes = print_table([result], peak_gflops=100.0, copy_gbs=10.0)
    assert notes == ["mlc jit: result differs from NumPy's", "tvm: RuntimeError: cannot build this"]
    assert "GF/s" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["x", "-1"])
def test_rounds_must_be_an_integer(bad):
    proc = run_cli("--rounds", bad, "add")
    assert proc.returncode == 2


def test_the_cli_knows_every_workload_without_importing_them():
    from benchmarks.__main__ import WORKLOAD_NAMES
    from benchmarks.workloads import WORKLOADS
    assert list(WORKLOADS) == WORKLOAD_NAMES


def test_one_thread_run_limits_every_pool_and_says_what_it_did_with_the_blas_variables(tmp_path):
    """One ``--quick --tiny --threads 1`` run of ``add``, with ``OPENBLAS_CORETYPE`` set in its
    environment: the thread limits and the BLAS variables are each settled before NumPy loads,
    neither reading the other (one run for both: a benchmark process costs seconds)."""
    out_file = tmp_path / "one.json"
    proc = run_cli("--quick", "--tiny", "--threads", "1", "add", "--json", str(out_file),
                   env={"OPENBLAS_CORETYPE": "Prescott"})
    assert proc.returncode == 0, proc.stderr
    assert "every contender limited to 1" in proc.stdout
    if hasattr(os, "sched_setaffinity"):  # and the process on one CPU (XLA's dots take no thread count)
        assert re.search(r"the process pinned to CPU \d+;", proc.stdout), proc.stdout
    record = json.loads(out_file.read_text())
    assert record["threads"] == 1 and record["machine"]["threads"] == 1
    for blas in record["machine"]["blas"]:  # present when threadpoolctl is installed
        assert blas["num_threads"] == 1
    # the BLAS variables: what was done with them is in the header and the record
    assert "BLAS: OPENBLAS_CORETYPE=Prescott" in proc.stdout and "unset for this run" in proc.stdout
    assert "unset for this run" in record["blas_env"]
    assert all(b["architecture"] != "Katmai" for b in record["machine"]["blas"])  # Prescott's, as OpenBLAS names them
    assert run_cli("--threads", "0", "add").returncode == 2


def _timed(key, flops, seconds, peak=FP32_FMA):
    """A workload whose one contender took ``seconds`` in every round."""
    work = Workload(key, key, flops=flops, peak=peak)
    return WorkloadResult(work, [Result("mlc", "", times_s=[seconds] * 3)])


def test_int8_rates_never_raise_the_fp32_peak_and_have_no_percent(capsys):
    sgemm = _timed("sgemm", 2e9, 0.01)              # 200 GFLOP/s
    igemm = _timed("igemm", 2e9, 0.002, peak="")     # 1000 GOP/s of int8 multiply-adds
    peak, best = fp32_peak(500.0, [sgemm, igemm])
    assert (peak, best) == (500.0, 200.0)
    print_table([sgemm, igemm], peak_gflops=peak, copy_gbs=10.0)
    out = capsys.readouterr().out
    igemm_line = next(line for line in out.splitlines() if line.startswith("igemm"))
    assert "200.0 GF/s 40%" in out and "1000.0 GOP/s" in igemm_line and "%" not in igemm_line
    rows = {d["key"]: d["contenders"][0] for d in (w.as_dict(peak, 10.0) for w in (sgemm, igemm))}
    assert rows["sgemm"]["percent_of_peak"] == 40.0
    assert rows["igemm"]["gflops"] == 1000.0 and "percent_of_peak" not in rows["igemm"]


def test_a_fp32_rate_above_the_measured_peak_raises_it():
    fast = _timed("sgemm", 6e9, 0.01)  # 600 GFLOP/s against a measured 500
    assert fp32_peak(500.0, [fast]) == (600.0, 600.0)
    assert fp32_peak(500.0, []) == (500.0, 0.0)


def test_the_igemm_workload_is_not_measured_against_the_fp32_peak():
    from benchmarks.workloads import WORKLOADS
    assert WORKLOADS["igemm1024"](True).peak != FP32_FMA
    assert all(WORKLOADS[k](True).peak == FP32_FMA for k in ("sgemm1024", "mm_relu"))


def test_8_lane_workloads_are_a_percentage_of_the_8_lane_peak_and_raise_only_it(capsys):
    from benchmarks.harness import FP32_FMA_8
    sgemm = _timed("sgemm", 2e9, 0.01)                      # 200 GFLOP/s, 16-lane code
    avx2 = _timed("sgemm_avx2", 3e9, 0.01, peak=FP32_FMA_8)  # 300 GFLOP/s, 8-lane code
    assert fp32_peak(500.0, [sgemm, avx2]) == (500.0, 200.0)
    assert fp32_peak(250.0, [sgemm, avx2], FP32_FMA_8) == (300.0, 300.0)
    print_table([sgemm, avx2], peak_gflops=500.0, copy_gbs=10.0, peaks={FP32_FMA_8: 250.0})
    out = capsys.readouterr().out
    assert "200.0 GF/s 40%" in out and "300.0 GF/s 120%" in out
    row = avx2.as_dict(500.0, 10.0, {FP32_FMA_8: 250.0})["contenders"][0]
    assert row["percent_of_peak"] == 120.0
    assert "percent_of_peak" not in avx2.as_dict(500.0, 10.0)["contenders"][0]  # no 8-lane peak known


def test_a_contender_with_its_own_peak_is_measured_and_counted_against_that_one(capsys):
    from benchmarks.harness import FP32_FMA_8
    work = Workload("sgemm_avx2", "sgemm_avx2", flops=4e9, peak=FP32_FMA_8)
    blas = Result("numpy", "BLAS", times_s=[0.01] * 3, peak=FP32_FMA)  # 400 GFLOP/s, 16-lane code
    avx2 = Result("mlc", "avx2", times_s=[0.02] * 3)                   # 200 GFLOP/s, 8-lane code
    both = WorkloadResult(work, [blas, avx2])
    assert fp32_peak(250.0, [both], FP32_FMA_8) == (250.0, 200.0)  # the BLAS's rate raises no 8-lane peak
    assert fp32_peak(300.0, [both]) == (400.0, 400.0)
    rows = both.as_dict(500.0, 10.0, {FP32_FMA_8: 250.0})["contenders"]
    assert [row["percent_of_peak"] for row in rows] == [80.0, 80.0]
    print_table([both], peak_gflops=500.0, copy_gbs=10.0, peaks={FP32_FMA_8: 250.0})
    assert capsys.readouterr().out.count("GF/s 80%") == 2


def test_the_avx2_sgemm_workload_builds_for_an_avx2_cpu_against_the_8_lane_peak():
    from benchmarks.harness import FP32_FMA_8
    from benchmarks.workloads import AVX2_CPU, WORKLOADS
    from mlc.target import Target
    w = WORKLOADS["sgemm1024_avx2"](True)
    assert w.peak == FP32_FMA_8 and Target("llvm", AVX2_CPU).vector_bits == 256
    assert [c.peer for c in w.contenders] == ["numpy", "mlc"]
    assert [c.peak for c in w.contenders] == [FP32_FMA, None]  # NumPy's BLAS: its own 16-lane kernel
    result = run_workload(w, rounds=1, target_s=1e-4, log=lambda msg: None)
    assert all(not r.error for r in result.results), [r.error for r in result.results]


def test_the_machine_measures_an_8_lane_fma_peak_beside_its_own():
    from benchmarks.machine import fma_peak_gflops
    peak8, width8 = fma_peak_gflops(1, seconds=0.002, repeat=2, width=8)
    assert width8 == 8 and peak8 > 0


def test_batches_are_sized_by_the_fastest_warm_call_not_the_second_one():
    from benchmarks.harness import Contender, Workload, run_workload
    delays = iter([0.0, 0.02])  # the first call, then a second that pays a one-time cost

    def build():
        def run():
            delay = next(delays, 0.0)
            if delay:
                time.sleep(delay)
        return run
    w = Workload("w", "w", contenders=(Contender("mlc", "slow second call", build),))
    result = run_workload(w, rounds=1, target_s=0.2, log=lambda msg: None).results[0]
    assert result.number > 100  # sized by a call without the 20 ms, not 0.2 / 0.02 -> 10


def test_the_math_ops_table_times_each_op_against_numpys():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.math_ops", "--size", "300", "--rounds", "1",
                           "log10", "pow", "--dtypes", "float32"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "mlc on 1 thread" in proc.stdout
    for op in ("log10", "pow"):
        assert re.search(rf"^{op} +float32 +[\d.]+ us +[\d.]+ us +[\d.]+x$", proc.stdout, re.M), op
    proc = subprocess.run([sys.executable, "-m", "benchmarks.math_ops", "--size", "300", "--rounds", "1",
                           "--fast-math", "asin", "--dtypes", "float32"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^op .*fast_math +numpy/fast$", proc.stdout, re.M)
    assert re.search(r"^asin +float32 +[\d.]+ us +[\d.]+ us +[\d.]+x +[\d.]+ us +[\d.]+x$", proc.stdout, re.M)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.math_ops", "no_such_op"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "arctan" not in proc.stderr and "atan2" in proc.stderr


def _host_has_avx512() -> bool:
    from mlc.backends.llvm.cpus import host_cpu
    return "+avx512f" in host_cpu()[1].split(",")


def test_isa_avx2_holds_every_contender_to_avx2_code_or_says_why_not(tmp_path):
    """On an AVX-512 machine ``--isa avx2`` builds mlc for this CPU without AVX-512, NumPy
    and OpenBLAS run their AVX2 code, and the peaks are of 8-lane vectors; on an AVX2
    machine it is refused, saying so."""
    out_file = tmp_path / "avx2.json"
    proc = run_cli("--quick", "--tiny", "--isa", "avx2", "add", "--json", str(out_file))
    if not _host_has_avx512():
        assert proc.returncode == 2 and "AVX2 machine already" in proc.stderr, proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    assert "instruction set: avx2 emulated" in proc.stdout and "-mattr=-avx512f" in proc.stdout
    record = json.loads(out_file.read_text())
    assert record["isa"] == "avx2" and record["machine"]["fma_vector_width"] == 8
    for blas in record["machine"]["blas"]:  # (present when threadpoolctl is installed)
        assert blas["architecture"] == "Haswell"
    by_peer = {c["peer"]: c for c in record["workloads"][0]["contenders"]}
    assert not by_peer["mlc"]["error"] and by_peer["mlc"]["median_s"] > 0


def test_the_emulated_isa_reaches_mlc_numpy_and_the_peers_through_their_variables():
    code = ("import os, json, sys; from benchmarks.isa import emulate, llvm_attrs; r = emulate('avx2');"
            "import numpy as np; from numpy._core._multiarray_umath import __cpu_features__ as f, __cpu_dispatch__ as d;"
            "from mlc.target import Target;"
            "print(json.dumps([r, os.environ.get('MLC_TARGET'), [t for t in d if f[t] and (t == 'X86_V4' or '512' in t)],"
            " f.get('AVX2'), llvm_attrs(),"
            " Target.from_str(None).vector_bits if r is None else 0, os.environ.get('XLA_FLAGS', ''),"
            " os.environ.get('NUMBA_CPU_FEATURES', '')]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MLC_TARGET", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    refused, target, avx512, avx2, attrs, bits, xla, numba = json.loads(proc.stdout)
    if not _host_has_avx512():
        assert "AVX2 machine already" in refused and target is None and attrs == []
        return
    assert refused is None and target.endswith("-mattr=-avx512f") and bits == 256
    assert avx2 and avx512 == []  # NumPy dispatches to no AVX-512 loop
    assert attrs == ["-avx512f"] and "--xla_cpu_max_isa=AVX2" in xla
    assert "+avx512f" not in numba.split(",") and "-avx512f" in numba.split(",")


def _free_blas_in_a_fresh_interpreter(*args: str) -> tuple[str | None, str | None, list[str]]:
    """free_blas(*args) with OPENBLAS_CORETYPE=Prescott (OpenBLAS's oldest x86-64 kernels)
    set before NumPy loads: (its note, the variable afterwards, the kernels NumPy then runs)."""
    code = ("import json, os, sys\nfrom benchmarks.blas_env import free_blas\n"
            f"note = free_blas({', '.join(args)})\nimport numpy\n"
            "try:\n from threadpoolctl import threadpool_info\n"
            " kernels = [i['architecture'] for i in threadpool_info() if i['user_api'] == 'blas']\n"
            "except ImportError:\n kernels = []\n"
            "print(json.dumps([note, os.environ.get('OPENBLAS_CORETYPE'), kernels]))")
    env = {**{k: v for k, v in os.environ.items() if k != "OPENBLAS_L2_SIZE"}, "PYTHONPATH": str(ROOT),
           "OPENBLAS_CORETYPE": "Prescott"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return tuple(json.loads(proc.stdout))


def test_a_blas_held_to_old_kernels_by_the_environment_is_freed_for_the_baseline():
    """NumPy's baseline runs OpenBLAS's own kernels: a variable holding them back is unset
    (after a fresh interpreter showed they multiply exactly), and the run says so."""
    note, variable, kernels = _free_blas_in_a_fresh_interpreter()
    assert "OPENBLAS_CORETYPE=Prescott unset for this run" in note and variable is None
    forced = _free_blas_in_a_fresh_interpreter("keep=True")
    assert "kept from the environment (--keep-blas-env)" in forced[0] and forced[1] == "Prescott"
    if kernels:  # threadpoolctl names them (the bench extra)
        assert kernels != forced[2] and kernels[0] in note


def test_a_blas_whose_own_kernels_fail_keeps_the_environments_choice(monkeypatch):
    from benchmarks import blas_env
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    for probe, why in ((None, "crashed"), ({"ok": False, "kernels": ["SkylakeX"]}, "multiplied wrongly")):
        monkeypatch.setattr(blas_env, "_probe", lambda env, probe=probe: probe)
        note = blas_env.free_blas()
        assert f"OPENBLAS_CORETYPE=Haswell kept from the environment: without it, OpenBLAS's own kernels {why}" in note
        assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    assert blas_env.free_blas() is None  # nothing set: nothing to say


def test_under_an_emulated_isa_a_row_above_its_peak_is_marked_not_held_to_it(capsys):
    from benchmarks.harness import emulated_peak_note
    held = _timed("sgemm", 2.5e9, 0.01)                             # 250 GFLOP/s: AVX2 code can
    not_held = WorkloadResult(Workload("sgemm2", "sgemm2", flops=3.7e9), [
        Result("numpy", "", times_s=[0.01] * 3), Result("jax", "jit", times_s=[0.01] * 3)])  # 370 GFLOP/s
    note = emulated_peak_note("avx2", 262.0)
    notes = print_table([held, not_held], peak_gflops=262.0, copy_gbs=10.0, above_peak=note)
    out = capsys.readouterr().out
    assert notes == [note] and "not held to AVX2" in note and "262 GFLOP/s" in note
    marked = [line for line in out.splitlines() if "[1]" in line and not line.startswith("[1]")]
    assert len(marked) == 2 and all("141%" in line for line in marked)  # % stays of the measured peak
    assert "95%" in out and not any("[1]" in line for line in out.splitlines() if "95%" in line)
    print_table([not_held], peak_gflops=262.0, copy_gbs=10.0)  # natively: no mark
    assert "[1]" not in capsys.readouterr().out
