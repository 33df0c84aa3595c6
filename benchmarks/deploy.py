"""``python -m benchmarks.deploy [--rounds N]``: an exported library against the in-process build.

For each workload (a jitted softmax, GELU and MLP, and ``mm_relu`` built with ``mlc.build``
at 512^3): whether the loaded library's results are bit for bit the in-process ones, and
the median time of a call of each, measured in interleaved rounds (each round times a
batch of calls of one, then the other) on one thread. Then the cost of a fresh process's
``import`` of the loader plus ``load`` of a library (median of 7 processes, llvmlite
blocked), and the call overhead of a 4-element add, loaded and jitted. Prints the host's
load average before and after: compare medians only on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np


def _time_batch(fn, args, seconds: float = 0.05) -> float:
    """Seconds per call of ``fn(*args)``, from one batch lasting about ``seconds``."""
    n, start = 1, time.perf_counter()
    fn(*args)
    once = max(time.perf_counter() - start, 1e-7)
    n = max(1, int(seconds / once))
    start = time.perf_counter()
    for _ in range(n):
        fn(*args)
    return (time.perf_counter() - start) / n


def _compare(name, ours, theirs, args, rounds: int) -> str:
    a, b = ours(*args), theirs(*args)
    a, b = (x if isinstance(x, tuple) else (x,) for x in (a, b))
    same = all(np.array_equal(x, y, equal_nan=True) and x.dtype == y.dtype for x, y in zip(a, b))
    times_in, times_lib = [], []
    for _ in range(rounds):
        times_in.append(_time_batch(ours, args))
        times_lib.append(_time_batch(theirs, args))
    m_in, m_lib = statistics.median(times_in), statistics.median(times_lib)
    spread = statistics.median(abs(t - m_in) for t in times_in) / m_in
    return (f"{name:28} bits {'same' if same else 'DIFFER'}   in-process {m_in * 1e3:9.4f} ms   loaded "
            f"{m_lib * 1e3:9.4f} ms   ratio {m_lib / m_in:5.3f}   (in-process spread ±{spread:.1%})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.deploy", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    ns = p.parse_args(argv)
    os.environ.setdefault("MLC_NUM_THREADS", "1")
    import mlc
    from mlc import te
    from . import programs as P

    print(f"load average before: {os.getloadavg()}; MLC_NUM_THREADS={os.environ['MLC_NUM_THREADS']}")
    rng = np.random.default_rng(0)
    folder = Path(tempfile.mkdtemp(prefix="mlc-deploy-"))
    x = rng.standard_normal((256, 1024), dtype="float32")
    w1, w2 = rng.standard_normal((1024, 256), dtype="float32"), rng.standard_normal((256, 10), dtype="float32")
    jitted = {
        "softmax 256x1024 (jit)": (lambda v: P.softmax(v), (x,)),
        "gelu 2^18 (jit)": (lambda v: P.gelu(v), (rng.standard_normal(1 << 18, dtype="float32"),)),
        "mlp 256-1024-256-10 (jit)": (lambda v, a, b: np.maximum(v @ a, 0) @ b, (x, w1, w2)),
    }
    for name, (fn, args) in jitted.items():
        f = mlc.jit(fn)
        compiled = f.trace(*args).lower().compile()
        loaded = mlc.runtime.load(compiled.export(folder / f"{abs(hash(name))}.so"))
        loaded.set_num_threads(int(os.environ["MLC_NUM_THREADS"]))
        print(_compare(name, f, loaded, args, ns.rounds), flush=True)
    n = 512
    A = te.placeholder((n, n), "float32", name="A")
    B = te.placeholder((n, n), "float32", name="B")
    r = te.reduce_axis((0, n), name="r")
    Y = te.compute((n, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="Y")
    C = te.compute((n, n), lambda i, j: te.max(Y[i, j], 0), name="C")
    lib = mlc.build(mlc.IRModule({"mm_relu": te.create_prim_func([A, B, C])}))
    loaded = mlc.runtime.load(lib.export(folder / "mm.so"))
    loaded.set_num_threads(int(os.environ["MLC_NUM_THREADS"]))
    a, b = rng.standard_normal((n, n), dtype="float32"), rng.standard_normal((n, n), dtype="float32")

    def built(f):
        def run(x, y):
            out = np.empty((n, n), "float32")
            f(x, y, out)
            return out
        return run
    print(_compare("mm_relu 512^3 (mlc.build)", built(lib["mm_relu"]), built(loaded["mm_relu"]), (a, b), ns.rounds))

    add = mlc.jit(lambda u, v: u + v)
    small = (np.ones(4, "float32"), np.full(4, 2.0, "float32"))
    add_loaded = mlc.runtime.load(add.trace(*small).lower().compile().export(folder / "add.so"))
    add(*small)
    t_jit = statistics.median(_time_batch(add, small, 0.02) for _ in range(ns.rounds))
    t_lib = statistics.median(_time_batch(add_loaded, small, 0.02) for _ in range(ns.rounds))
    print(f"{'call overhead (4-element add)':28} jitted {t_jit * 1e6:.2f} µs   loaded {t_lib * 1e6:.2f} µs")

    loader_path = Path(mlc.runtime.loader.__file__)
    code = textwrap.dedent(f"""
        import sys, time
        t0 = time.perf_counter()
        import numpy
        start = time.perf_counter()
        class Block:
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] == "llvmlite":
                    raise ImportError("blocked")
        sys.meta_path.insert(0, Block())
        import importlib.util
        spec = importlib.util.spec_from_file_location("mlc_loader", {str(loader_path)!r})
        loader = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loader)
        lib = loader.load({str(folder / "mm.so")!r})
        print(time.perf_counter() - start, "llvmlite" in sys.modules, start - t0)
    """)
    # NumPy's own import is paid by any Python process with NumPy: measured apart
    # as an installed package runs: its bytecode cached (the first process writes it)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    loads, numpys = [], []
    for _ in range(8):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env=env).stdout.split()
        assert out[1] == "False", "the loader imported llvmlite"
        loads.append(float(out[0]))
        numpys.append(float(out[2]))
    loads, numpys = loads[1:], numpys[1:]
    print(f"{'import loader + load (fresh process)':28} median {statistics.median(loads) * 1e3:.1f} ms after "
          f"NumPy's own import (median {statistics.median(numpys) * 1e3:.1f} ms, which any NumPy program pays); "
          "llvmlite never imported")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
