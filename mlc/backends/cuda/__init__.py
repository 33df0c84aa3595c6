"""The CUDA backend: GPU-scheduled TensorIR -> CUDA C -> NVRTC -> CuPy, and the
emulator that runs the same kernels on NumPy arrays with GPU semantics.

Importing this package registers two backends with :mod:`mlc.backends.registry`:
``cuda`` (:class:`~.backend.CudaBackend`) and ``cuda-emulator`` (:class:`~.backend.CudaEmulatorBackend`). ``mlc.build(mod, "cuda")`` runs the
whole pipeline (functions nobody scheduled get the default GPU schedule: both kinds have
the ``"gpu"`` key). Below the driver, on a module
that is already scheduled (bound to ``blockIdx``/``threadIdx`` by hand, or by
``mlc.driver.schedule_module(mod, "cuda")``):

- ``lower(mod)`` -> the module after the backend's TIR passes;
- ``compile_sources(mod, "cuda -arch=sm_90")`` -> (CUDA C, cubin bytes): no GPU needed;
- ``emulate(mod)`` -> a runtime Module running ``mod`` on the emulator.

A backend never schedules: these refuse a function with no loop bound to GPU threads
that nobody scheduled, or an op's hand-written function not yet given its GPU form. CuPy is
imported only when a CUDA module is loaded (or ``array_types`` asked for).
"""
from __future__ import annotations

from ...ir.calls import is_graph_main
from ...errors import CompileError, MLCError
from ...ir.tir import IRModule, PrimFunc
from ...ops.hand_written import is_hand_written
from ...passes.tir.pipeline import run_passes
from ...target import Target, register_target_kind
from ..registry import BuildOptions, register_backend
from .backend import CudaArtifact, CudaBackend, CudaEmulatorBackend
from .codegen import CudaSource, render
from ..gpu.emulator import Emulator, KernelStats
from ..gpu.launch import Kernel, kernels, unbound, workspace
from .nvrtc import compile_cuda
from ...passes.tir.gpu_pipeline import GPU_PIPELINE, lower_for_gpu
from .target_kind import CUDA_EMULATOR_KIND, CUDA_KIND

__all__ = ["emulate", "compile_sources", "lower", "Emulator", "KernelStats", "Kernel", "kernels", "workspace",
           "GPU_PIPELINE", "lower_for_gpu", "render", "CudaSource", "compile_cuda", "CudaBackend",
           "CudaEmulatorBackend", "CudaArtifact", "CUDA", "CUDA_EMULATOR"]

register_target_kind(CUDA_KIND)  # before the backends: their targets take -arch=
register_target_kind(CUDA_EMULATOR_KIND)
#: The registered backends.
CUDA = register_backend(CudaBackend())
CUDA_EMULATOR = register_backend(CudaEmulatorBackend())


def _scheduled(mod, caller: str) -> IRModule:
    """``mod`` as an IRModule, once every function is past te's unscheduled form."""
    if isinstance(mod, PrimFunc):
        mod = IRModule({mod.attr("global_symbol", "main"): mod})
    if not isinstance(mod, IRModule):
        raise MLCError(f"cuda.{caller} takes a scheduled IRModule or PrimFunc, got {type(mod).__name__}; "
                       "pass sch.mod for a Schedule sch")
    for not_ready, what in ((lambda func: unbound(func) and not is_hand_written(func) and not is_graph_main(func), "are not scheduled for the GPU; bind their loops to "
                                              "blockIdx/threadIdx (sch.bind), or"),
                            (is_hand_written, "are an op's hand-written loops for the CPU;")):
        names = [name for name, func in mod.items() if not_ready(func)]
        if names:
            raise CompileError(f"cuda.{caller}: function(s) {', '.join(map(repr, names))} {what} schedule the "
                               "module first with mlc.driver.schedule_module(mod, 'cuda') (the default GPU "
                               "schedule, which gives hand-written ops their GPU kernels), or build it with "
                               "mlc.build(mod, 'cuda'), which does both")
    return mod


def lower(mod, target=None, options: BuildOptions = BuildOptions()) -> IRModule:
    """The scheduled ``mod`` (an IRModule or PrimFunc) run through the backend's TIR passes."""
    mod = _scheduled(mod, "lower")
    passes = CUDA.tir_passes(target, options)
    return IRModule({name: run_passes(func, passes) for name, func in mod.items()})


def compile_sources(mod, target=None, options: BuildOptions = BuildOptions()) -> tuple[str, bytes]:
    """The CUDA C of the scheduled ``mod`` and its cubin for ``target``'s architecture
    (sm_80 when it names none): what ``mlc.build(mod, "cuda")`` compiles, with no GPU needed."""
    target = Target.from_str("cuda" if target is None else target)
    artifact = CUDA.codegen(lower(mod, target, options), target, options)
    return artifact.code, artifact.cubin


def emulate(mod, target="cuda-emulator", options: BuildOptions = BuildOptions()):
    """A runtime Module running the scheduled ``mod`` on the emulator, as ``mlc.build(mod,
    "cuda-emulator")`` does."""
    scheduled = _scheduled(mod, "emulate")
    target = Target.from_str(target)
    lowered = lower(scheduled, target, options)
    return CUDA_EMULATOR.load(CUDA_EMULATOR.codegen(lowered, target, options), scheduled, target, options)
