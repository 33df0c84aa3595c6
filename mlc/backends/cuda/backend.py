"""The ``cuda`` and ``cuda-emulator`` backends, as the compile driver sees them.

Both run the same TIR passes (:data:`~mlc.passes.tir.gpu_pipeline.GPU_PIPELINE`), and their
kinds have the ``"gpu"`` key, so the driver schedules for them with the default GPU rules
(the default GPU schedule, and the ops' hand-written functions as GPU kernels);
``cuda`` renders CUDA C, compiles it with NVRTC for the target's
architecture (``Target("cuda -arch=sm_90")``; sm_80 by default) and loads it
with CuPy, ``cuda-emulator`` runs the lowered functions on the emulator.

The driver calls, per build: ``tir_passes`` on every scheduled function,
``codegen`` on the lowered module, ``load`` on what codegen returned. The
lowered functions' parameters are flat; the scheduled ones' shapes travel in
the ``"mlc.signature"`` attribute that :func:`keep_signature` (the first pass)
sets, so that the loaded functions check arguments against the user's shapes.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from ...errors import CompileError, DeviceError, MLCError
from ...ir.buffer import decl_buffer
from ...ir.calls import is_graph_main
from ...ir.expr import IntImm, const
from ...ir.tir import Evaluate, IRModule, PrimFunc
from ...runtime.arguments import written_params
from ...runtime.module import Function, Module
from ...runtime.graph_main import GraphMainProgram
from ..registry import BuildOptions, HostBackend
from .codegen import PRELUDE, CudaSource, render
from .async_copy import ASYNC_PRELUDE
from .complex import PRELUDE as COMPLEX_PRELUDE
from .wmma import MMA_PRELUDE
from ..gpu.emulator import Emulator, KernelStats
from ..gpu.launch import workspace
from .export import SIGNATURE_ATTR
from .nvrtc import compile_cuda, nvrtc_unavailable_reason
from ...passes.tir.gpu_pipeline import gpu_pipeline
from ..intrinsics import has_intrinsic_lowering
from .intrinsics import BACKEND as CUDA_INTRINSICS
from .target_kind import CUDA_LIMITS
from .runtime import (CudaFunction, CudaGraphMain, CudaModule, device_arch,
                      device_unavailable_reason, load_cubin)

__all__ = ["CudaBackend", "CudaEmulatorBackend", "CudaArtifact", "EmulatorModule", "keep_signature", "signature_of",
           "DEFAULT_ARCH", "arch_of"]

DEFAULT_ARCH = "sm_80"
#: The GPU pipeline, the math calls CUDA has a function for (all of them today) kept as calls.
_CUDA_PIPELINE = gpu_pipeline(lambda op, dtype: has_intrinsic_lowering(CUDA_INTRINSICS, op, dtype))


def keep_signature(func: PrimFunc) -> PrimFunc:
    """``func`` with its parameters' (name, shape, dtype) kept in an attribute (first pass)."""
    if func.attr(SIGNATURE_ATTR) is not None:
        return func
    for p in func.params:
        if not all(isinstance(e, IntImm) for e in p.shape):
            raise CompileError(f"the CUDA backends compile static shapes only: parameter {p.name} of "
                               f"{func.attr('global_symbol', 'the function')!r} has shape {tuple(p.shape)!r}; "
                               "jit without dynamic= for these targets (each shape compiles once), or use "
                               "target='llvm' for dynamic axes")
    sig = tuple((p.name, tuple(int(e.value) for e in p.shape), p.dtype) for p in func.params)
    return func.with_attr(SIGNATURE_ATTR, sig)


def signature_of(func: PrimFunc) -> PrimFunc:
    """A body-less PrimFunc with the parameters ``func`` had before lowering."""
    sig = func.attr(SIGNATURE_ATTR)
    if sig is None:
        return func
    params = tuple(decl_buffer(shape, dtype, name) for name, shape, dtype in sig)
    return PrimFunc(params, Evaluate(const(0)), func.attrs)


def arch_of(target) -> str:
    """The CUDA architecture ``target`` names ("sm_90"); where it names none, the current
    GPU's when CuPy sees one, else sm_80."""
    return getattr(target, "arch", "") or device_arch() or DEFAULT_ARCH


@dataclass(frozen=True)
class CudaArtifact:
    """What ``codegen`` hands to ``load``: the lowered module, each function's CUDA source,
    and the cubin of all of them for ``arch``."""
    module: IRModule
    sources: dict
    cubin: bytes | None
    arch: str

    @property
    def code(self) -> str:
        return "\n".join(s.code for s in self.sources.values())


def _render_all(mod: IRModule, options: BuildOptions) -> dict[str, CudaSource]:
    """Each kernel function's CUDA source; a graph's ``main`` is host code (the runtime
    runs its calls), so it has none."""
    return {name: render(func, fast_math=options.fast_math, name=name) for name, func in mod.items()
            if not is_graph_main(func)}


def _ptx(code: str, arch: str):
    """``get_source("ptx")``: compiled when first asked for."""
    return lambda: compile_cuda(code, arch, ptx=True).decode()


class CudaBackend:
    """CUDA C -> NVRTC -> CuPy. Builds (and compiles) without a GPU; runs where CuPy sees one."""

    name = "cuda"
    target_kinds = ("cuda",)

    @property
    def array_types(self) -> tuple[type, ...]:
        """``(cupy.ndarray,)`` once CuPy is imported (an array can only be a CuPy array
        then), so that asking does not import CuPy."""
        cupy = sys.modules.get("cupy")
        return () if cupy is None else (cupy.ndarray,)

    def unavailable_reason(self) -> str | None:
        """Builds need NVRTC only: without a GPU the code is generated and compiled, and
        the loaded functions say, when called, that no device was found."""
        return nvrtc_unavailable_reason()

    def device_unavailable_reason(self) -> str | None:
        """None when CuPy can launch kernels here; else why not (tuning checks instead of timing)."""
        return device_unavailable_reason()

    def tir_passes(self, target, options: BuildOptions):
        return [keep_signature, *_CUDA_PIPELINE]

    def codegen(self, mod: IRModule, target, options: BuildOptions) -> CudaArtifact:
        sources = _render_all(mod, options)
        arch = arch_of(target)
        code = "\n".join(s.code for s in sources.values())
        if "wgmma.mma_async" in code:  # Hopper's warpgroup MMA: the architecture-specific sm_90a
            if arch == "sm_90":
                arch = "sm_90a"  # (its cubin runs on the sm_90 it names)
            elif not arch.endswith("a"):
                raise CompileError(f"the kernels use Hopper's warpgroup MMA (wgmma), which {arch} does not have: "
                                   "build with target 'cuda -arch=sm_90a' (an H100 or H200)", code)
        cubin = compile_cuda(_one_prelude(code), arch)
        return CudaArtifact(mod, sources, cubin, arch)

    def load(self, artifact: CudaArtifact, mod: IRModule, target, options: BuildOptions) -> Module:
        """A CudaModule launching the kernels through CuPy; where no GPU is present, a
        Module with the same sources whose functions raise DeviceError when called."""
        code = _one_prelude(artifact.code)
        reason = device_unavailable_reason()
        if reason is not None:
            functions = {name: Function(name, func if is_graph_main(func) else signature_of(func),
                                        _no_device(name, reason))
                         for name, func in artifact.module.items()}
            module = CudaModule(target, functions, {"cuda": code, "ptx": _ptx(code, artifact.arch)})
            module.artifact = artifact
            return module
        # a cubin for "sm_90a" (wgmma, the architecture-specific features) runs on the sm_90 it names
        same = artifact.arch.removesuffix("a") == device_arch()
        raw = load_cubin(artifact.cubin if same else compile_cuda(code, device_arch()), code)
        functions = {}
        for name, func in artifact.module.items():
            if is_graph_main(func):
                continue
            functions[name] = CudaFunction(name, signature_of(func).params, tuple(workspace(func)),
                                           artifact.sources[name], raw)
        for name, func in artifact.module.items():
            if is_graph_main(func):
                functions[name] = CudaGraphMain(name, func, functions)
        module = CudaModule(target, functions, {"cuda": code, "ptx": _ptx(code, artifact.arch)})
        module.artifact = artifact
        return module


class CudaEmulatorBackend(HostBackend):
    """The same device-side TIR, run on NumPy arrays by :class:`~.emulator.Emulator`."""

    name = "cuda-emulator"
    target_kinds = ("cuda-emulator",)

    def tir_passes(self, target, options: BuildOptions):
        return [keep_signature, *_CUDA_PIPELINE]

    def codegen(self, mod: IRModule, target, options: BuildOptions) -> IRModule:
        return mod

    def load(self, artifact: IRModule, mod: IRModule, target, options: BuildOptions) -> Module:
        """The lowered functions (``artifact``), each run by an :class:`~.emulator.Emulator`;
        a graph's ``main`` runs its calls on them with NumPy workspace."""
        mod = artifact
        functions, emulators = {}, {}
        for name, func in mod.items():
            if is_graph_main(func):
                continue
            emu = emulators[name] = Emulator(func, name, CUDA_LIMITS)
            fn = Function(name, signature_of(func), emu.run)
            fn.written = written_params(func)
            functions[name] = fn
        for name, func in mod.items():
            if is_graph_main(func):
                functions[name] = Function(name, func, GraphMainProgram(func, functions, name).run)
        return EmulatorModule(target, functions, emulators, (mod, options))


class EmulatorModule(Module):
    """The result of building for ``cuda-emulator``: ``lib["f"](*numpy_arrays)``, what each
    function's kernels did in its last run (:meth:`kernel_stats`), and the CUDA C the ``cuda``
    target would compile for them (``get_source("cuda")``, rendered when first asked for)."""

    def __init__(self, target, functions, emulators: dict[str, Emulator], lowered=None):
        super().__init__(target, functions, sources={})
        self._emulators = dict(emulators)
        self._lowered = lowered  # (the lowered IRModule, the build options)

    SOURCE_FORMAT = "cuda"

    def get_source(self, fmt: str | None = None) -> str:
        if fmt in (None, "", "cuda") and "cuda" not in self._sources and self._lowered is not None:
            mod, options = self._lowered
            self._sources["cuda"] = _one_prelude("\n".join(s.code for s in _render_all(mod, options).values()))
        return super().get_source(fmt)

    def kernel_stats(self, name: str | None = None) -> list[KernelStats]:
        """The :class:`~.emulator.KernelStats` of the last run of function ``name``'s kernels
        (global elements read and written, barriers, shuffles), in launch order; without a
        name, those of every function (a graph's ``main`` runs several)."""
        if name is not None:
            if name not in self._emulators:
                raise MLCError(f"kernel_stats: {name!r} is not an emulated kernel function; this "
                               f"module has {sorted(self._emulators)}")
            return list(self._emulators[name].stats)
        return [s for emu in self._emulators.values() for s in emu.stats]


def _no_device(name: str, reason: str):
    def kernel(arrays):
        raise DeviceError(f"cannot run CUDA function {name!r}: {reason}")
    return kernel


def _one_prelude(code: str) -> str:
    """Several functions' sources joined: one copy of the helpers, and of each include and
    optional helper block that some function's source has (complex numbers, cp.async, mma):
    a definition repeated is an NVRTC error."""
    includes = ("#include <cuda_fp16.h>\n", "#include <mma.h>\n")
    optional = (COMPLEX_PRELUDE, ASYNC_PRELUDE, MMA_PRELUDE)
    present = [part for part in includes + optional if part in code]
    body = code
    for part in includes + optional + (PRELUDE,):
        body = body.replace(part, "")
    return "".join(p for p in includes if p in present) + PRELUDE + "".join(p for p in optional if p in present) + body