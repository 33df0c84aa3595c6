"""Write the generated code of a few pinned workloads to a folder, to compare two versions of mlc.

The CUDA C of GPU workloads (rendered for ``cuda-emulator``: no GPU or NVRTC needed), the CUDA C
of the GPU benchmark's workloads at their sizes on pinned sm_80 and sm_90 targets (the tile
rules, split-K, tensor cores, the warp-tiled and the wgmma GEMMs) and the optimised LLVM IR
of CPU workloads on two pinned CPUs (``Target("llvm", cpu)``), emitted without loading
(``mlc.backends.llvm.compile_sources``: the same on every machine, which need not be able
to run it).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks' workloads

import numpy as np

import mlc
from mlc.backends.llvm import compile_sources
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
#: the benchmark's GPU targets, pinned
BENCH_TARGETS = {"sm_80": "cuda-emulator -arch=sm_80", "sm_90": "cuda-emulator -arch=sm_90"}


def _gemm(batch: tuple, m: int, n: int, k: int, dtype: str, out: str):
    from mlc import te
    A = te.placeholder((*batch, m, k), dtype, "A")
    B = te.placeholder((*batch, k, n), dtype, "B")
    r = te.reduce_axis((0, k), "k")
    C = te.compute((*batch, m, n), lambda *ix: te.sum(A[(*ix[:-1], r)].astype(out) * B[(*ix[:-2], r, ix[-1])]
                                                      .astype(out), axis=r), "C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _bench_jitted():
    from benchmarks.gpu import chain, gelu, layer_norm, mlp, softmax
    f32 = lambda *shape: ((shape, "float32"))  # noqa: E731
    return {"gelu": (gelu, [f32(1 << 20)]), "chain": (chain, [f32(1 << 20)] * 3),
            "softmax": (softmax, [f32(8192, 4096)]),
            "layer_norm": (layer_norm, [f32(8192, 4096), f32(4096), f32(4096)]),
            "mlp": (mlp, [f32(4096, 1024), f32(1024, 1024), f32(1024), f32(1024, 256), f32(256)]),
            "bmm": (lambda a, b: a @ b, [f32(64, 512, 512), f32(64, 512, 512)]),
            "sum_rows": (lambda a: np.sum(a, axis=1), [f32(4096, 1000)])}


#: name -> a module of the GEMM rules' cases: their tiles, split-K, batches, the fallbacks
BENCH_GEMMS = {
    "sgemm_4096": lambda: _gemm((), 4096, 4096, 4096, "float32", "float32"),
    "sgemm_512": lambda: _gemm((), 512, 512, 512, "float32", "float32"),
    "sgemm_splitk": lambda: _gemm((), 64, 64, 8192, "float32", "float32"),
    "sgemm_ragged": lambda: _gemm((), 100, 72, 40, "float32", "float32"),
    "hgemm_4096": lambda: _gemm((), 4096, 4096, 4096, "float16", "float32"),
    "hgemm_512": lambda: _gemm((), 512, 512, 512, "float16", "float32"),
    "hgemm_splitk": lambda: _gemm((), 128, 128, 4096, "float16", "float32"),
    "hgemm_small": lambda: _gemm((), 48, 80, 32, "float16", "float32"),
    "hbmm": lambda: _gemm((8,), 256, 256, 128, "float16", "float32"),
}


def _source(fn, specs, target, fmt: str) -> str:
    args = [np.zeros(shape, dtype) for shape, dtype in specs]
    return mlc.jit(target=target)(fn).lower(*args).compile().lib.get_source(fmt)


def cpu_source(fn, specs, target: Target) -> str:
    """The optimised LLVM IR of ``fn`` jitted for ``target`` at arguments of ``specs``, the
    program in one module, emitted and never loaded: any CPU LLVM knows, on any machine
    (the JIT refuses to load code the machine cannot run)."""
    lowered = mlc.jit(target=target)(fn).lower(*[np.zeros(shape, dtype) for shape, dtype in specs])
    return compile_sources(lowered.scheduled(), target)["ll"]


def snapshot(out: Path) -> list[Path]:
    """Write every workload's code under ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (fn, specs) in WORKLOADS.items():
        for tname, target in CPU_TARGETS.items():
            path = out / f"{name}.{tname}.ll"
            path.write_text(cpu_source(fn, specs, target))
            written.append(path)
        for tname, target in GPU_TARGETS.items():
            path = out / f"{name}.{tname}.cu"
            path.write_text(_source(fn, specs, target, "cuda"))
            written.append(path)
    for tname, target in BENCH_TARGETS.items():
        for name, (fn, specs) in _bench_jitted().items():
            path = out / f"bench_{name}.{tname}.cu"
            path.write_text(_source(fn, specs, target, "cuda"))
            written.append(path)
        for name, make in BENCH_GEMMS.items():
            path = out / f"bench_{name}.{tname}.cu"
            path.write_text(mlc.build(make(), target).get_source("cuda"))
            written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/codegen_snapshot.py OUTPUT_FOLDER")
    for p in snapshot(Path(sys.argv[1])):
        print(p)
