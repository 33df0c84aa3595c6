"""Start-up costs, each the median over fresh processes: ``import mlc`` (and the peers'
imports, for scale) and the MLP's first call (trace + compile) with a cold and a warm
object cache."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

from .peers import installed

_MLP_FIRST_CALL = """
import time, numpy as np, mlc
rng = np.random.default_rng(0)
args = (rng.standard_normal((64, 784), dtype='float32'), rng.standard_normal((784, 128), dtype='float32'),
        np.zeros(128, 'float32'), rng.standard_normal((128, 10), dtype='float32'), np.zeros(10, 'float32'))
f = mlc.jit(lambda x, w1, b1, w2, b2: np.maximum(x @ w1 + b1, 0) @ w2 + b2)
t = time.perf_counter(); f(*args); print(time.perf_counter() - t)
"""

_IMPORT = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"


def _child_env(**extra) -> dict:
    """The environment of a fresh Python as users run it: bytecode caching on; the
    repository on the path so that ``import mlc`` finds this checkout."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return {**env, **extra}


def _child_seconds(code: str, env: dict) -> float:
    """Run ``code`` in a fresh interpreter; it prints the seconds it measured itself."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def import_times(processes: int) -> dict[str, list[float]]:
    """Seconds of ``import X`` in fresh interpreters (start-up excluded); mlc's includes NumPy."""
    env = _child_env()
    modules = ["numpy", "mlc"] + [m for m in ("numba", "jax", "tvm") if installed(m)]
    runs: dict[str, list[float]] = {}
    for m in modules:
        _child_seconds(_IMPORT.format(m), env)  # writes the bytecode caches once
    for _ in range(processes):  # interleaved, like the workloads
        for m in modules:
            runs.setdefault(m, []).append(_child_seconds(_IMPORT.format(m), env))
    return runs


def mlp_first_call(processes: int) -> dict[str, list[float]]:
    """Trace + fuse + schedule + compile + first run of the MLP in a fresh process after
    ``import mlc``: cold (an empty object cache) and warm (the cache the cold run left)."""
    cold, warm = [], []
    for _ in range(processes):
        with tempfile.TemporaryDirectory() as cache_dir:
            env = _child_env(MLC_CACHE_DIR=cache_dir)
            cold.append(_child_seconds(_MLP_FIRST_CALL, env))
            warm.append(_child_seconds(_MLP_FIRST_CALL, env))
    return {"cold": cold, "warm": warm}


def report(imports: dict[str, list[float]] | None, first: dict[str, list[float]] | None, out=None) -> list[str]:
    out = out or sys.stdout
    lines = []
    if first:
        n = len(first["cold"])
        lines.append(f"MLP first call (trace + compile), median of {n} fresh processes: "
                     f"cold cache {np.median(first['cold']) * 1e3:.0f} ms, "
                     f"warm object cache {np.median(first['warm']) * 1e3:.0f} ms")
    if imports:
        n = len(next(iter(imports.values())))
        parts = ", ".join(f"{m} {np.median(v) * 1e3:.0f} ms" for m, v in imports.items())
        lines.append(f"import time, median of {n} fresh interpreters (mlc's includes NumPy's): {parts}")
    for line in lines:
        print(line, file=out)
    return lines
