"""LLVM's slow calls from several threads at once: a build's modules optimised side by side.

llvmlite serialises every call into LLVM behind one process-wide lock, yet LLVM
optimises and emits independent modules concurrently, as long as each has an
``LLVMContext`` and a ``TargetMachine`` of its own. A build's expensive calls,
parsing, verifying, the O3 pipeline and object emission (tens of milliseconds for a
matmul kernel), are made here through llvmlite's underlying ctypes functions,
outside that lock; ctypes releases the GIL for them. Everything else (printing,
creating and freeing objects) still goes through llvmlite and its lock, which is
safe beside them: what the unlocked calls touch belongs to one thread only.

:func:`spread` runs jobs on a few threads, the costliest first. Where this llvmlite
does not expose the ctypes functions the way this module reads them, :func:`available`
is False and the JIT builds its modules one after another (:mod:`.jit`).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from ctypes import c_char_p, string_at
from functools import lru_cache
from typing import TypeVar

import llvmlite.binding as llvm
from llvmlite.binding.module import ModuleRef

from . import output as llvm_output

__all__ = ["available", "parse", "run_pipeline", "emit_object", "spread"]

R = TypeVar("R")


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


def spread(jobs: Sequence[Callable[[int], R]], costs: Sequence[float], workers: int) -> list[R]:
    """``[job(worker) for job in jobs]`` run on ``workers`` threads (the calling thread is
    worker 0; ``worker`` tells a job which one runs it), each taking the costliest job
    left; the results in the order of ``jobs``. The first exception a job raised is
    raised once the threads are done (no job starts after it). Where a thread cannot be
    started (the process at its limit of threads), the threads started and the caller run
    every job. Where the caller captures
    what LLVM writes (:func:`~mlc.backends.llvm.output.llvm_output`), the other threads'
    output goes to that capture too.

    >>> spread([lambda w: 9, lambda w: 1, lambda w: 4], costs=[3, 1, 2], workers=2)
    [9, 1, 4]
    """
    order = sorted(range(len(jobs)), key=lambda i: -costs[i])
    results: list = [None] * len(jobs)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        while True:
            with lock:
                if not order or errors:
                    return
                i = order.pop(0)
            try:
                results[i] = jobs[i](worker)
            except BaseException as err:  # handed to the caller below
                with lock:
                    errors.append(err)
                return

    def helper(worker: int) -> None:
        if inherit:  # the caller reads what LLVM writes: so it does for its helpers
            with llvm_output.covered():
                work(worker)
        else:
            work(worker)

    inherit = llvm_output.capturing()
    threads = [threading.Thread(target=helper, args=(n,), name=f"mlc-llvm-{n}", daemon=True)
               for n in range(1, min(workers, len(jobs)))]
    started = []
    for thread in threads:
        try:
            thread.start()
        except RuntimeError:  # "can't start new thread": those started and the caller do the rest
            break
        started.append(thread)
    try:
        work(0)
    finally:
        for thread in started:
            thread.join()
    if errors:
        raise errors[0]
    return results
