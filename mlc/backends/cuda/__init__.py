"""The CUDA backend: GPU-scheduled TensorIR -> CUDA C -> NVRTC -> CuPy, and the
emulator that runs the same kernels on NumPy arrays with GPU semantics."""
from __future__ import annotations

from ...ir.tir import IRModule, PrimFunc
from ...runtime.module import Function, Module
from .emulator import Emulator, KernelStats
from .launch import Kernel, kernels
from .pipeline import GPU_PIPELINE, lower_for_gpu

__all__ = ["emulate", "Emulator", "KernelStats", "Kernel", "kernels", "GPU_PIPELINE", "lower_for_gpu"]


def _as_module(mod) -> IRModule:
    if isinstance(mod, PrimFunc):
        return IRModule({mod.attr("global_symbol", "main"): mod})
    return mod


def emulate(mod, target=None) -> Module:
    """A runtime Module running every function of scheduled ``mod`` on the emulator."""
    mod = _as_module(mod)
    functions = {}
    for name, func in mod.items():
        emu = Emulator(lower_for_gpu(func), name)
        functions[name] = Function(name, func, emu.run)
    return Module(target or "cuda-emulator", functions, sources={})
