"""The support functions every kernel module shares, defined once in a module of their own.

A parallel launch (:mod:`.parallel`) calls a few small functions: the team size and
try-lock (``__mlc_parallel_threads``), the launch's review
(``__mlc_parallel_review``) and, on Linux, the placement of its threads
(``__mlc_parallel_place_worker`` and ``__mlc_parallel_place_launcher``,
:mod:`.placement`). A kernel module only declares them. Their definitions live in
the *support module*: :func:`support_ir` generates it, and the JIT
(:func:`~.jit.compile_ir`) builds it, without optimisation, for the CPU of the first
object file that needs it, once per process. It stays loaded for the life of the process, and its
functions are registered with LLVM like the C library's
(:mod:`.symbols`), so that each kernel's object file links against them.

Defined in each kernel module, they cost every build some 10 ms of LLVM's time (O3
and object emission of four functions beside a kernel's own), for code that is the
same in every module.
"""
from __future__ import annotations

from llvmlite import ir

from . import parallel, placement

__all__ = ["support_functions", "support_ir"]


def support_functions() -> dict:
    """Name -> the function defining it (``define(module)``), for every support function
    of this process (the placement functions only where :func:`.placement.available`)."""
    return {**parallel.SUPPORT_FUNCTIONS, **placement.support_functions()}


def support_ir(triple: str, data_layout: str) -> str:
    """LLVM IR text of the support module: every support function, defined and external."""
    module = ir.Module(name="mlc_support")
    module.triple, module.data_layout = triple, data_layout
    for define in support_functions().values():
        define(module)
    return str(module)

