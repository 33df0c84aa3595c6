"""LLVM's slow calls from several threads at once: a build's modules optimised side by side.

llvmlite serialises every call into LLVM behind one process-wide lock, yet LLVM
optimises and emits independent modules concurrently, as long as each has an
``LLVMContext`` and a ``TargetMachine`` of its own. A build's expensive calls,
parsing, verifying, the O3 pipeline and object emission (tens of milliseconds for a
matmul kernel), are made here through llvmlite's underlying ctypes functions,
outside that lock; ctypes releases the GIL for them. Everything else (printing,
creating and freeing objects) still goes through llvmlite and its lock, which is
safe beside them: what the unlocked calls touch belongs to one thread only.

A :class:`~.jit.UnitBuild` runs them on a few threads. Where this llvmlite
does not expose the ctypes functions the way this module reads them, :func:`available`
is False and the JIT builds its modules one after another (:mod:`.jit`).
"""
from __future__ import annotations

from ctypes import c_char_p, string_at
from functools import lru_cache

import llvmlite.binding as llvm
from llvmlite.binding.module import ModuleRef

__all__ = ["available", "parse", "run_pipeline", "emit_object"]


@lru_cache(maxsize=None)
def _unlocked(name: str):
    """The ctypes function behind llvmlite's locked wrapper of ``name``, or None."""
    wrapper = getattr(llvm.ffi.lib, name, None)
    cfn = getattr(wrapper, "_cfn", None)
    return cfn if cfn is not None and getattr(cfn, "argtypes", None) is not None else None


_CALLS = ("LLVMPY_ParseAssembly", "LLVMPY_VerifyModule", "LLVMPY_RunNewModulePassManager",
          "LLVMPY_TargetMachineEmitToMemory")


def available() -> bool:
    """Whether this module's calls can be made outside llvmlite's lock."""
    return all(_unlocked(name) is not None for name in _CALLS)


def parse(ir_text: str, context: llvm.ContextRef) -> llvm.ModuleRef:
    """``llvm.parse_assembly(ir_text, context)`` and ``.verify()`` without llvmlite's lock
    (``context`` this thread's own); a RuntimeError with LLVM's message if either fails."""
    with llvm.ffi.OutputString() as error:
        pointer = _unlocked("LLVMPY_ParseAssembly")(context, c_char_p(ir_text.encode()), error)
        if error:
            if pointer:
                ModuleRef(pointer, context).close()
            raise RuntimeError(f"LLVM IR parsing error\n{error}")
    module = ModuleRef(pointer, context)
    with llvm.ffi.OutputString() as error:
        if _unlocked("LLVMPY_VerifyModule")(module, error):
            module.close()
            raise RuntimeError(str(error))
    return module


def run_pipeline(pipeline: llvm.ModulePassManager, module: llvm.ModuleRef, builder: llvm.PassBuilder) -> None:
    """``pipeline.run(module, builder)`` without llvmlite's lock (``module`` in a context
    of this thread's own, ``builder`` made for this thread's TargetMachine)."""
    _unlocked("LLVMPY_RunNewModulePassManager")(pipeline, module, builder)


def emit_object(machine: llvm.TargetMachine, module: llvm.ModuleRef) -> bytes:
    """``machine.emit_object(module)`` without llvmlite's lock during code generation
    (``machine`` used by this thread only); a RuntimeError with LLVM's message if it fails."""
    with llvm.ffi.OutputString() as error:
        buffer = _unlocked("LLVMPY_TargetMachineEmitToMemory")(machine, module, 1, error)
        if not buffer:
            raise RuntimeError(str(error))
    try:
        return string_at(llvm.ffi.lib.LLVMPY_GetBufferStart(buffer), llvm.ffi.lib.LLVMPY_GetBufferSize(buffer))
    finally:
        llvm.ffi.lib.LLVMPY_DisposeMemoryBuffer(buffer)
