"""The llvm backend as the driver sees it: one :class:`~mlc.backends.registry.Backend`.

Scheduled TensorIR goes through :data:`~.module.LLVM_TIR_PASSES` (the driver
runs them), :func:`~.module.codegen_llvm` (LLVM IR) and
:func:`~.module.load_llvm` (O3, object code, MCJIT) for the host CPU, or, as
``mlc.build`` does, kernel by kernel through :meth:`LLVMBackend.begin` (LLVM
compiles each kernel while the driver schedules the next). Functions
nobody scheduled get the CPU rules (the ``"cpu"`` key of the llvm kind).
"""
from __future__ import annotations

from ...runtime.threads import get_num_threads
from ..registry import BuildOptions, HostBackend
from . import threaded
from .generate import LLVM_TIR_PASSES_FAST_MATH
from .module import LLVM_TIR_PASSES, LLVMBuild, LLVMSource, codegen_llvm, load_llvm

__all__ = ["LLVMBackend"]


class LLVMBackend(HostBackend):
    """Native code for the host CPU through llvmlite (a dependency of mlc: always available)."""

    name = "llvm"
    target_kinds = ("llvm",)

    def tir_passes(self, target, options: BuildOptions):
        return LLVM_TIR_PASSES_FAST_MATH if options.fast_math else LLVM_TIR_PASSES

    def codegen(self, mod, target, options: BuildOptions) -> LLVMSource:
        return codegen_llvm(mod, target, check_bounds=options.check_bounds, fast_math=options.fast_math)

    def load(self, artifact: LLVMSource, mod, target, options: BuildOptions):
        return load_llvm(artifact, mod, target, options.fast_math)

    def begin(self, mod, target, options: BuildOptions) -> LLVMBuild | None:
        """A build of ``mod`` that compiles each kernel on another thread while the driver
        prepares the next; None where no other thread may build (``mlc.get_num_threads()``
        is 1, or llvmlite's calls cannot be made unlocked): the build goes stage by stage."""
        if get_num_threads() <= 1 or not threaded.available() or target.triple:
            return None  # (code for another machine: nothing to load, the stages in turn)
        return LLVMBuild(mod, target, check_bounds=options.check_bounds, fast_math=options.fast_math)
