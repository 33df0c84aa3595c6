"""Write the generated code of a few pinned workloads to a folder, to compare two versions of mlc.

The CUDA C of GPU workloads (rendered for ``cuda-emulator``: no GPU or NVRTC needed) and the
LLVM IR of CPU workloads on two pinned CPUs (``Target("llvm", cpu)``: the same on every machine).
A change that should not change the generated code is checked with::

    python tools/codegen_snapshot.py /tmp/before     # on the commit before
    python tools/codegen_snapshot.py /tmp/after      # on the commit after
    diff -r /tmp/before /tmp/after                   # no output: the code is the same

>>> sorted(WORKLOADS)[:2]
['add', 'matmul']
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import mlc
from mlc.target import Target


def _softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


#: name -> (function, argument shapes and dtypes)
WORKLOADS = {
    "add": (lambda a, b: a + b, [((37, 65), "float32"), ((37, 65), "float32")]),
    "matmul": (lambda a, b: a @ b, [((64, 48), "float32"), ((48, 80), "float32")]),
    "matmul_f16": (lambda a, b: a @ b, [((128, 128), "float16"), ((128, 128), "float16")]),
    "softmax": (_softmax, [((8, 300), "float32")]),
    "sum_rows": (lambda a: np.sum(a, axis=1), [((33, 257), "float32")]),
    "transpose_tanh": (lambda a: np.tanh(a.T) * 2.0, [((31, 17), "float64")]),
}
CPU_TARGETS = {"skylake-avx512": Target("llvm", "skylake-avx512"), "haswell": Target("llvm", "haswell")}
GPU_TARGETS = {"sm_80": "cuda-emulator -arch=sm_80"}


def _source(fn, specs, target, fmt: str) -> str:
    args = [np.zeros(shape, dtype) for shape, dtype in specs]
    return mlc.jit(target=target)(fn).lower(*args).compile().lib.get_source(fmt)


def snapshot(out: Path) -> list[Path]:
    """Write every workload's code under ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (fn, specs) in WORKLOADS.items():
        for tname, target in CPU_TARGETS.items():
            path = out / f"{name}.{tname}.ll"
            path.write_text(_source(fn, specs, target, "ll"))
            written.append(path)
        for tname, target in GPU_TARGETS.items():
            path = out / f"{name}.{tname}.cu"
            path.write_text(_source(fn, specs, target, "cuda"))
            written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/codegen_snapshot.py OUTPUT_FOLDER")
    for p in snapshot(Path(sys.argv[1])):
        print(p)
