"""Workloads, contenders, interleaved timing, the table and the JSON record.

A :class:`Workload` is one computation at one size (its FLOPs or the bytes it
must move, its inputs, its NumPy reference) and the :class:`Contender` s that
compute it: NumPy's fastest idiomatic spelling, mlc, and the optional peers.

A contender's ``build`` compiles what it needs and returns a ``run()`` that
computes the result once; the first call (``build`` plus the first ``run``) is
timed on its own: trace + compile for the JIT peers, build for the ahead-of-time
ones. It is timed FIRST_CALLS times, each a new build under the contender's ``cold``
context (its compile caches empty), and the median reported: one first call swings by
a third from one run to the next (a 1024^3 matmul's took 45 and 60 ms in two fresh
processes), and the first compile in a process also pays that process's one-time
costs. Then every contender is timed in *rounds*: round r times each contender
once (a batch of ``number`` calls), in an order rotated by r, sleeping between
contenders so that one peer's spinning thread pool has stopped before the next
one runs. The table gives the median over rounds and the spread (min..max).
"""
from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Contender", "Workload", "Result", "WorkloadResult", "run_workload", "print_table",
           "format_time", "unavailable", "fp32_peak", "FP32_FMA", "FP32_FMA_8"]

#: Seconds between contenders: longer than the thread pools spin after a call. OpenBLAS's
#: workers spin for 2^28 cycles (its THREAD_TIMEOUT, about 0.1 s) before they sleep; after a
#: 0.05 s pause the contender that follows NumPy shared the cores with them (mm_relu 128^3:
#: 58 us after NumPy, 34 us after another contender, the same kernel on a 2-core host).
PAUSE_S = 0.2

#: How many times each contender's first call is timed (a new build each time, its compile
#: caches emptied by ``Contender.cold``); the table gives their median.
FIRST_CALLS = 3

#: ``Workload.peak`` of float32 work: its GFLOP/s are a percentage of the measured fp32 FMA peak
FP32_FMA = "fp32 FMA"
#: ``Workload.peak`` of float32 work compiled for 8-lane (AVX2) vectors: a percentage of the
#: FMA peak of 8-lane vectors on the same cores (half the AVX-512 one on most AVX-512 CPUs)
FP32_FMA_8 = "fp32 FMA, 8 lanes"


@dataclass(frozen=True)
class Contender:
    """``peer`` is the column ("numpy", "mlc", "numba", "jax", "tvm"); ``label`` says how
    (e.g. "jit", "te default schedule"). ``build`` returns ``run``, or the contender is
    unavailable with ``missing`` saying why (shown as "—" plus a footnote). ``peak``: the
    peak its rate is a percentage of where that is not the workload's (NumPy's BLAS in a
    row of 8-lane code runs 16-lane code: FP32_FMA there). ``cold()`` is a context under
    which ``build()`` and the first ``run()`` compile from nothing: no compiled code of an
    earlier build of the same program is found (mlc: an empty object cache; JAX: its caches
    cleared). ``program``: what an mlc contender compiles, for a build for another target
    (``benchmarks/cross.py``): ``("jit", fn, args, fast_math)`` or ``("built", mod_fn,
    schedule, args, out, entry)``."""
    peer: str
    label: str
    build: Callable[[], Callable[[], object]] | None = None
    missing: str = ""
    peak: str | None = None
    cold: Callable[[], AbstractContextManager] = nullcontext
    program: tuple | None = None


def unavailable(peer: str, why: str, label: str = "") -> Contender:
    return Contender(peer, label, None, why)


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    flops: float = 0.0        # > 0: report GFLOP/s, and % of ``peak`` when it is FP32_FMA
    bytes: float = 0.0        # > 0 (and no flops): report GB/s and % of copy bandwidth
    reference: Callable[[], object] | None = None   # NumPy result every contender must match
    contenders: tuple[Contender, ...] = ()
    rtol: float = 1e-4
    atol: float = 1e-4
    note: str = ""
    # the peak ``flops`` are measured against: FP32_FMA, FP32_FMA_8, or "" for operations the
    # machine's fp32 peak does not bound (int8 multiply-adds): their rate has no % and no say
    # in the peak
    peak: str = FP32_FMA


@dataclass
class Result:
    peer: str
    label: str
    first_call_s: float = math.nan   # the median of first_calls_s
    first_calls_s: list[float] = field(default_factory=list)
    times_s: list[float] = field(default_factory=list)
    number: int = 0
    missing: str = ""
    error: str = ""
    peak: str | None = None  # the contender's own peak (Contender.peak), if any

    @property
    def median_s(self) -> float:
        return float(np.median(self.times_s)) if self.times_s else math.nan

    def as_dict(self) -> dict:
        return {"peer": self.peer, "label": self.label, "first_call_s": self.first_call_s,
                "first_calls_s": self.first_calls_s,
                "median_s": self.median_s, "min_s": min(self.times_s, default=math.nan),
                "max_s": max(self.times_s, default=math.nan), "times_s": self.times_s,
                "calls_per_round": self.number, "missing": self.missing, "error": self.error}


@dataclass
class WorkloadResult:
    workload: Workload
    results: list[Result]

    def as_dict(self, peak_gflops: float, copy_gbs: float, peaks: dict[str, float] | None = None) -> dict:
        w = self.workload
        rows = []
        for r in self.results:
            d = r.as_dict()
            d.update(_rate(w, r.median_s, peak_gflops, copy_gbs, peaks, r.peak))
            rows.append(d)
        return {"key": w.key, "title": w.title, "flops": w.flops, "bytes": w.bytes, "note": w.note,
                "contenders": rows}


def _same(value, expected, rtol: float, atol: float) -> bool:
    if isinstance(expected, (tuple, list)):
        return (isinstance(value, (tuple, list)) and len(value) == len(expected)
                and all(_same(v, e, rtol, atol) for v, e in zip(value, expected)))
    if not isinstance(value, np.ndarray) and hasattr(value, "numpy"):
        value = value.numpy()  # a TVM tensor
    value = np.asarray(value)
    return value.shape == np.shape(expected) and bool(np.allclose(value, expected, rtol=rtol, atol=atol))


def _batch(run: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        run()
    return (time.perf_counter() - start) / number


#: Calls timed to size a contender's batches (fewer where they take long).
SIZING_CALLS = 3


def _warm_call_s(run: Callable[[], object], target_s: float) -> float:
    """The warm cost of one call, which sizes the batches: the fastest of the calls after
    the first, up to SIZING_CALLS of them while they are short against ``target_s``. One
    call is not enough: the second may pay a one-time cost the first left behind (its
    freed output's pages given back, so the second output's are faulted in again: 6 ms
    for a 0.6 ms window sum), and a batch sized by it would be a few calls long, its
    time the warm-up after the pause between contenders rather than the calls."""
    t = _batch(run, 1)
    for _ in range(SIZING_CALLS - 1):
        if 4 * t > target_s:
            break
        t = min(t, _batch(run, 1))
    return t


def _first_call(contender: Contender) -> tuple[Callable[[], object], object, float]:
    """(run, its first result, seconds) of a new build of ``contender`` and its first run,
    compiled from nothing (``contender.cold``)."""
    with contender.cold():
        start = time.perf_counter()
        run = contender.build()
        value = run()
        seconds = time.perf_counter() - start
    _optimised_builds_in_use()
    return run, value, seconds


def _optimised_builds_in_use() -> None:
    """Wait, untimed, until mlc's optimised builds of the first calls so far replace their
    first tiers (a jitted function's, ``mlc.tiering``; a build's, ``mlc.driver.first_tier``),
    so that the rounds time the steady state."""
    background = sys.modules.get("mlc.driver.background")
    if background is not None:
        background.wait(timeout=300)


def run_workload(workload: Workload, rounds: int, target_s: float, log=None,
                 first_calls: int = FIRST_CALLS) -> WorkloadResult:
    """``first_calls`` first calls of every contender (the last one's result checked against
    the reference, its build timed in the rounds), then ``rounds`` interleaved rounds of
    batches lasting about ``target_s`` each."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    expected = workload.reference() if workload.reference else None
    results, runners = [], []
    for c in workload.contenders:
        result = Result(c.peer, c.label, missing=c.missing, peak=c.peak)
        results.append(result)
        if c.build is None:
            continue
        try:
            for _ in range(first_calls):
                run, value, seconds = _first_call(c)
                result.first_calls_s.append(seconds)
            result.first_call_s = float(np.median(result.first_calls_s))
            # the first call's result, and the steady state's (an mlc first call may run through
            # NumPy while its optimised build, in use by now, compiled)
            if expected is not None and not (_same(value, expected, workload.rtol, workload.atol)
                                             and _same(run(), expected, workload.rtol, workload.atol)):
                result.error = "result differs from NumPy's"
                continue
            result.number = max(1, min(100000, int(target_s / max(_warm_call_s(run, target_s), 1e-7))))
            runners.append((result, run))
        except Exception as e:  # a peer that cannot build this workload is reported, not fatal
            result.error = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
        time.sleep(PAUSE_S)
    for r in range(rounds):
        order = runners[r % len(runners):] + runners[:r % len(runners)] if runners else []
        for result, run in order:
            result.times_s.append(_batch(run, result.number))
            time.sleep(PAUSE_S)
    log(f"  done: {workload.title}")
    return WorkloadResult(workload, results)


def format_time(seconds: float) -> str:
    if math.isnan(seconds):
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fp32_peak(measured_gflops: float, results: list[WorkloadResult], kind: str = FP32_FMA) -> tuple[float, float]:
    """(the peak of ``kind`` the table uses, the best GFLOP/s of any contender of a workload
    of that ``peak``). Every measured rate is a lower bound on the peak (on a shared machine
    the FMA kernel may have had less of the cores than the fastest contender did), so the
    peak is the larger of the two; workloads of another ``peak`` (int8 multiply-adds,
    8-lane code against the 16-lane peak) never raise it."""
    best = max((wr.workload.flops / r.median_s / 1e9 for wr in results for r in wr.results
                if wr.workload.flops and (r.peak or wr.workload.peak) == kind and r.times_s), default=0.0)
    return max(measured_gflops, best), best


def emulated_peak_note(isa: str, peak_gflops: float) -> str:
    """The footnote of a contender faster than the FMA peak of an emulated instruction set
    ``isa``: it cannot be running that instruction set's code."""
    return (f"faster than {isa.upper()} code can be on these cores ({peak_gflops:.0f} GFLOP/s measured): "
            f"this contender is not held to {isa.upper()} here (a library call that picks its kernels at "
            f"run time), so it is no {isa.upper()} machine's figure; % of peak stays of the measured peak")


def _rate(w: Workload, seconds: float, peak_gflops: float, copy_gbs: float,
          peaks: dict[str, float] | None = None, own_peak: str | None = None) -> dict:
    """GFLOP/s (or GB/s) of ``w`` done in ``seconds``, and the percentage of the peak of
    ``own_peak`` (a contender's own) or else the workload's."""
    if math.isnan(seconds) or seconds <= 0:
        return {}
    if w.flops:
        g = w.flops / seconds / 1e9
        kind = own_peak or w.peak
        peak = peak_gflops if kind == FP32_FMA else (peaks or {}).get(kind) if kind else None
        if peak is None:
            return {"gflops": g}
        return {"gflops": g, "percent_of_peak": 100 * g / peak if peak else math.nan}
    if w.bytes:
        g = w.bytes / seconds / 1e9
        return {"gbs": g, "percent_of_peak": 100 * g / copy_gbs if copy_gbs else math.nan}
    return {}


def _rate_text(w: Workload, seconds: float, peak_gflops: float, copy_gbs: float,
               peaks: dict[str, float] | None = None, own_peak: str | None = None) -> str:
    rate = _rate(w, seconds, peak_gflops, copy_gbs, peaks, own_peak)
    if "gflops" in rate and "percent_of_peak" not in rate:
        return f"{rate['gflops']:.1f} GOP/s"
    if "gflops" in rate:
        return f"{rate['gflops']:.1f} GF/s {rate['percent_of_peak']:.0f}%"
    if "gbs" in rate:
        return f"{rate['gbs']:.1f} GB/s {rate['percent_of_peak']:.0f}%"
    return ""


#: A rate this much above the FMA peak cannot be code of the peak's vector width.
ABOVE_PEAK = 1.05


def print_table(results: list[WorkloadResult], peak_gflops: float, copy_gbs: float, out=None,
                peaks: dict[str, float] | None = None, above_peak: str | None = None) -> list[str]:
    """One row per workload and contender: median, spread over rounds, rate and % of peak
    (``peak_gflops`` for FP32_FMA workloads, ``peaks[w.peak]`` for others), first call,
    and the time relative to NumPy's (``vs numpy`` above 1: faster than NumPy).
    ``above_peak``: the footnote of a row of an FP32_FMA workload faster than ABOVE_PEAK
    times ``peak_gflops`` (under an emulated instruction set: a contender that is not held
    to it). Returns the footnotes it printed."""
    out = out or sys.stdout
    header = (f"{'workload':<40} {'contender':<34} {'median':>10} {'spread':>19} {'rate, % of peak':>18} "
              f"{'first call':>11} {'vs numpy':>9}")
    print(header, file=out)
    print("-" * len(header), file=out)
    notes: list[str] = []

    def footnote(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    for wr in results:
        w = wr.workload
        numpy_s = next((r.median_s for r in wr.results if r.peer == "numpy"), math.nan)
        title = w.title + (f" {footnote(w.note)}" if w.note else "")
        for r in wr.results:
            name = f"{r.peer} {r.label}".strip()
            if r.missing or r.error:
                mark = footnote(r.missing or f"{name}: {r.error}")
                print(f"{title:<40} {name:<34} {'— ' + mark:>10}", file=out)
            else:
                spread = f"{format_time(min(r.times_s))}..{format_time(max(r.times_s))}"
                ratio = f"{numpy_s / r.median_s:.2f}x" if not math.isnan(numpy_s) else ""
                if above_peak and w.flops and (r.peak or w.peak) == FP32_FMA \
                        and w.flops / r.median_s / 1e9 > ABOVE_PEAK * peak_gflops:
                    name = f"{name} {footnote(above_peak)}"
                print(f"{title:<40} {name:<34} {format_time(r.median_s):>10} {spread:>19} "
                      f"{_rate_text(w, r.median_s, peak_gflops, copy_gbs, peaks, r.peak):>18} "
                      f"{format_time(r.first_call_s):>11} {ratio:>9}", file=out)
            title = ""
    if notes:
        print(file=out)
        for i, text in enumerate(notes, 1):
            print(f"[{i}] {text}", file=out)
    return notes


def write_json(path: str, record: dict) -> None:
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    with open(path, "w", encoding="utf-8") as f:
        json.dump(clean(record), f, indent=1)
