"""``python -m benchmarks.cross [name ...] [--full]``: every mlc contender of the benchmark's
workloads built for aarch64 Linux, exported as a library, run under ``qemu-aarch64`` from a C
program and checked against the workload's NumPy reference.

Needs ``aarch64-linux-gnu-gcc`` and ``qemu-aarch64`` (``./run cross`` installs them). Sizes
are the smoke-test ones unless ``--full``. Prints one row per contender: ``ok`` with the
largest difference from NumPy, ``WRONG``, or why it was not built for aarch64 (a schedule
written for x86 registers, say). Exits 1 when a result is wrong.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .workloads import WORKLOADS

#: The target every contender is built for.
AARCH64 = "llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72"
CC = ("aarch64-linux-gnu-gcc",)
QEMU = ("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu")


def _leaves(args) -> list[np.ndarray]:
    """The arrays a jitted function's C main takes for positional ``args``, in order (a
    Python number is a 0-d array of the dtype the jit passes it as)."""
    from mlc.tracer.arguments import WEAK_DTYPES
    out = []
    for a in args:
        if isinstance(a, (tuple, list)):
            out += _leaves(a)
        elif isinstance(a, dict):
            out += _leaves([a[k] for k in sorted(a)])
        elif type(a) in WEAK_DTYPES:
            out.append(np.asarray(a, WEAK_DTYPES[type(a)]))
        else:
            out.append(np.asarray(a))
    return out


def _flat(tree) -> list:
    """The arrays of a result pytree (tuples, lists, dicts by key), in order."""
    if isinstance(tree, (tuple, list)):
        return [a for t in tree for a in _flat(t)]
    if isinstance(tree, dict):
        return [a for k in sorted(tree) for a in _flat(tree[k])]
    return [tree]


def check(program, reference, rtol: float, atol: float, folder: Path) -> tuple[str, str]:
    """(status, detail) of one contender's ``program`` built for aarch64 and run under qemu."""
    import mlc
    from mlc.runtime.loader import read_metadata
    from tests.runtime.c_driver import run_c_program

    path = folder / "work.so"
    kind = program[0]
    try:
        if kind == "jit":
            _, fn, args, fast_math = program
            compiled = mlc.jit(fn, target=AARCH64, fast_math=fast_math).trace(*args).lower().compile()
            compiled.export(path, cc=CC[0])
            entry = "main"
            inputs = _leaves(args)
        else:
            _, mod_fn, schedule, args, out, entry = program
            kwargs = {} if schedule is None else {"schedule": schedule}
            mlc.build(mod_fn(), AARCH64, **kwargs).export(path, cc=CC[0])
            inputs = [np.asarray(a) for a in args]
    except mlc.MLCError as err:
        return "not built", str(err).splitlines()[0][:110]
    meta = next(e for e in read_metadata(path)["entries"] if e["name"] == entry)
    if meta.get("call"):
        return "not run", "takes Python-side work around its C call (random keys or checks), not driven from C here"
    params = meta["params"]
    n_in = sum(1 for p in params if p["role"] == "in") if kind == "jit" else len(inputs)
    outputs = [(p["dtype"], tuple(p["shape"])) for p in params[n_in:]]
    inputs = [np.ascontiguousarray(a, p["dtype"]) for a, p in zip(inputs, params)]
    got = run_c_program(path, meta["symbol"], inputs, outputs, cc=CC, runner=QEMU)
    expected = _flat(reference())
    got = got[:len(expected)]
    worst = 0.0
    for g, e in zip(got, expected):
        e = np.asarray(e)
        if g.shape != e.shape or not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
            return "WRONG", f"shape {g.shape} vs {e.shape}, max |diff| {np.max(np.abs(g - e)) if g.shape == e.shape else '-'}"
        if e.size:
            worst = max(worst, float(np.max(np.abs(g.astype(np.float64) - e.astype(np.float64)))))
    return "ok", f"max |diff| from NumPy {worst:.3g}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cross", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help=f"workloads (default: all): {', '.join(WORKLOADS)}")
    p.add_argument("--full", action="store_true", help="the benchmark's own sizes (slow under qemu)")
    ns = p.parse_args(argv)
    missing = [t for t in (CC[0], QEMU[0]) if shutil.which(t) is None]
    if missing:
        print(f"not run: {', '.join(missing)} not installed (./run cross installs them)")
        return 2
    wrong = 0
    print(f"target: {AARCH64}; run under {' '.join(QEMU)}")
    print(f"{'workload':18} {'contender':36} {'status':10} detail")
    for name in ns.names or list(WORKLOADS):
        workload = WORKLOADS[name](not ns.full)
        for c in workload.contenders:
            if c.peer != "mlc" or c.program is None:
                continue
            start = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="mlc-cross-") as tmp:
                status, detail = check(c.program, workload.reference, workload.rtol, workload.atol, Path(tmp))
            wrong += status == "WRONG"
            print(f"{name:18} {c.label[:36]:36} {status:10} {detail} ({time.perf_counter() - start:.1f} s)",
                  flush=True)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
