"""The CUDA backend: GPU-scheduled TensorIR -> CUDA C -> NVRTC -> CuPy, and the
emulator that runs the same kernels on NumPy arrays with GPU semantics.

Importing this package registers two backends with :mod:`mlc.backends.registry`:
``cuda`` (:class:`~.backend.CudaBackend`) and ``cuda-emulator``
(:class:`~.backend.CudaEmulatorBackend`). Without the driver:

- ``compile_sources(mod, "cuda -arch=sm_90")`` -> (CUDA C, cubin bytes): no GPU needed;
- ``emulate(mod)`` -> a runtime Module running ``mod`` on the emulator.

Functions nobody scheduled get the default GPU schedule first. CuPy is
imported only when a CUDA module is loaded (or ``array_types`` asked for).
"""
from __future__ import annotations

from ...ir.tir import IRModule, PrimFunc
from ...passes.tir.pipeline import run_passes
from ...schedules.default.canonical import is_unscheduled
from ...schedules.default.gpu import schedule_gpu
from ...schedules.schedule import Schedule
from ...target import register_target_kind
from ..registry import BuildOptions, register_backend
from .backend import CudaArtifact, CudaBackend, CudaEmulatorBackend
from .codegen import CudaSource, render
from .emulator import Emulator, KernelStats
from .launch import Kernel, kernels, workspace
from .nvrtc import compile_cuda
from .pipeline import GPU_PIPELINE, lower_for_gpu
from .target_kind import CUDA_EMULATOR_KIND, CUDA_KIND

__all__ = ["emulate", "compile_sources", "lower", "Emulator", "KernelStats", "Kernel", "kernels", "workspace",
           "GPU_PIPELINE", "lower_for_gpu", "render", "CudaSource", "compile_cuda", "CudaBackend",
           "CudaEmulatorBackend", "CudaArtifact", "CUDA", "CUDA_EMULATOR"]

register_target_kind(CUDA_KIND)  # before the backends: their targets take -arch=
register_target_kind(CUDA_EMULATOR_KIND)
#: The registered backends.
CUDA = register_backend(CudaBackend())
CUDA_EMULATOR = register_backend(CudaEmulatorBackend())


def _scheduled(mod) -> IRModule:
    if isinstance(mod, Schedule):
        mod = mod.mod
    if isinstance(mod, PrimFunc):
        mod = IRModule({mod.attr("global_symbol", "main"): mod})
    todo = [name for name, func in mod.items() if is_unscheduled(func)]
    if not todo:
        return mod
    sch = Schedule(mod)
    for name in todo:
        schedule_gpu(sch, name)
    return sch.mod


def lower(mod, target=None, options: BuildOptions = BuildOptions()) -> IRModule:
    """``mod`` (an IRModule, PrimFunc or Schedule) scheduled (the default GPU schedule for
    functions nobody scheduled) and run through the backend's TIR passes."""
    mod = _scheduled(mod)
    passes = CUDA.tir_passes(target, options)
    return IRModule({name: run_passes(func, passes) for name, func in mod.items()})


def compile_sources(mod, target=None, options: BuildOptions = BuildOptions()) -> tuple[str, bytes]:
    """The CUDA C of ``mod`` and its cubin for ``target``'s architecture (sm_80 when it
    names none): what ``mlc.build(mod, "cuda")`` compiles, with no GPU needed."""
    artifact = CUDA.codegen(lower(mod, target, options), target, options)
    return artifact.code, artifact.cubin


def emulate(mod, target="cuda-emulator", options: BuildOptions = BuildOptions()):
    """A runtime Module running ``mod`` on the emulator, as ``target="cuda-emulator"`` does."""
    lowered = lower(mod, target, options)
    return CUDA_EMULATOR.load(lowered, lowered, target, options)
