"""``python -m benchmarks.random_numbers [--rounds N] [--json FILE]``: mlc.random against NumPy.

The draws a model's initialisation and a training step make (issue 61): normal weights
scaled (``mr.normal(key, (784, 256)) * 0.01``, eager and inside a jitted function, where the
scale fuses into the sampler's kernel), uniform numbers, integers, a permutation, and the
cost of an eager call of a small draw. NumPy's contenders are its fastest idiomatic
spelling: a ``Generator`` (PCG64) drawing float32 directly where it can, and the legacy
``np.random`` functions beside them. Contenders run in interleaved rounds (each round
rotates their order), with a pause between contenders; the table gives each one's median
over rounds and its ratio to NumPy's Generator. First calls (trace and compile) are timed
once per workload, with mlc's object cache disabled.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import mlc
import mlc.random as mr
from mlc.config import override

from .machine import cpu_name

PAUSE_S = 0.05


def _batch(run, target_s: float = 0.05) -> tuple[int, float]:
    """(calls per batch, seconds a call) so that a batch lasts about ``target_s``."""
    run()
    number, elapsed = 1, 0.0
    while True:
        start = time.perf_counter()
        for _ in range(number):
            run()
        elapsed = time.perf_counter() - start
        if elapsed >= target_s or number >= 1 << 16:
            return number, elapsed / number
        number *= 2


def workloads():
    key = mr.key(0)
    rng = np.random.default_rng(0)
    init = mlc.jit(lambda key: mr.normal(key, (784, 256)) * 0.01)
    big = 1 << 20
    return [
        ("normal (784, 256) * 0.01, float32", {
            "numpy Generator": lambda: rng.standard_normal((784, 256), dtype=np.float32) * np.float32(0.01),
            "numpy legacy": lambda: (np.random.randn(784, 256) * 0.01).astype(np.float32),
            "mlc eager": lambda: mr.normal(key, (784, 256)) * np.float32(0.01),
            "mlc jit (fused)": lambda: init(key)}),
        ("uniform 2^20, float32", {
            "numpy Generator": lambda: rng.random(big, dtype=np.float32),
            "numpy legacy": lambda: np.random.random_sample(big).astype(np.float32),
            "mlc eager": lambda: mr.uniform(key, (big,))}),
        ("randint [0, 1000) 2^20, int32", {
            "numpy Generator": lambda: rng.integers(0, 1000, big, dtype=np.int32),
            "numpy legacy": lambda: np.random.randint(0, 1000, big, dtype=np.int32),
            "mlc eager": lambda: mr.randint(key, (big,), 0, 1000)}),
        ("permutation 2^16", {
            "numpy Generator": lambda: rng.permutation(1 << 16),
            "numpy legacy": lambda: np.random.permutation(1 << 16),
            "mlc eager": lambda: mr.permutation(key, 1 << 16)}),
        ("call overhead: normal (2,)", {
            "numpy Generator": lambda: rng.standard_normal(2, dtype=np.float32),
            "numpy legacy": lambda: np.random.randn(2),
            "mlc eager": lambda: mr.normal(key, (2,))}),
    ]


def first_calls() -> dict[str, float]:
    """Seconds of the first call (trace, compile, run) of each sampler, with no object cache."""
    out = {}
    key = mr.key(1)
    with override(cache_dir=""):
        for name, draw in (("normal", lambda: mr.normal(key, (300, 7))), ("uniform", lambda: mr.uniform(key, (300, 7))),
                           ("gamma", lambda: mr.gamma(key, 2.0, (300, 7))),
                           ("permutation", lambda: mr.permutation(key, 300))):
            start = time.perf_counter()
            draw()
            out[name] = time.perf_counter() - start
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.random_numbers")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    lines = []

    def say(line: str = "") -> None:
        print(line)
        lines.append(line)

    say(f"host: {cpu_name()}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; mlc threads {mlc.get_num_threads()}")
    record = {"first_call_s": first_calls(), "workloads": {}}
    say("first calls (trace + compile + run, no object cache): "
        + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in record["first_call_s"].items()))
    say(f"\n{'workload':38s} {'contender':18s} {'median':>10s} {'min..max':>22s} {'vs Generator':>13s}")
    for title, contenders in workloads():
        numbers = {name: _batch(run)[0] for name, run in contenders.items()}
        times: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                time.sleep(PAUSE_S)
                start = time.perf_counter()
                for _ in range(numbers[name]):
                    contenders[name]()
                times[name].append((time.perf_counter() - start) / numbers[name])
        base = float(np.median(times["numpy Generator"]))
        for name in names:
            t = np.array(times[name])
            med = float(np.median(t))
            say(f"{title:38s} {name:18s} {_fmt(med):>10s} {_fmt(t.min()) + '..' + _fmt(t.max()):>22s} "
                f"{base / med:12.2f}x")
            record["workloads"].setdefault(title, {})[name] = {"median_s": med, "times_s": t.tolist()}
    record["table"] = "\n".join(lines)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


if __name__ == "__main__":
    main()
