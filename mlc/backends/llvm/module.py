"""build_llvm: IRModule -> one LLVM module -> one MCJIT engine -> runtime Module.

Every function of the IRModule is lowered, generated into a single LLVM
module, optimised and loaded together, so a build costs one LLVM pipeline
however many functions it holds. Each function is then called through a
precomputed ctypes prototype with the arrays' data pointers.
"""
from __future__ import annotations

import ctypes

from llvmlite import ir

from ...config import config
from ...errors import CompileError, MLCError
from ...ir.tir import IRModule, PrimFunc
from ...passes.tir import lower
from ...runtime.module import Function, Module
from ..target import Target, host_cpu
from .codegen import emit_function
from .jit import CompiledModule, compile_ir, emit_assembly, target_layout
from .parallel import set_num_threads
from .symbols import PARALLEL_STATE_SYMBOL, RUNTIME_SYMBOLS

__all__ = ["build_llvm", "LLVMModule", "generate_ir", "symbol_names"]

_RESERVED = frozenset(n for names in RUNTIME_SYMBOLS.values() for n in names) | {PARALLEL_STATE_SYMBOL}


def symbol_names(names) -> dict[str, str]:
    """LLVM symbol of each function: its name, unless that would shadow a runtime symbol."""
    taken = set(_RESERVED)
    out = {}
    for name in names:
        internal = name.startswith(("llvm", "__mlc"))  # LLVM's and mlc's own (.parallel) names
        symbol = name if name not in taken and not internal else f"mlc_{name}"
        n = 0
        while symbol in taken:
            n += 1
            symbol = f"mlc_{name}_{n}"
        taken.add(symbol)
        out[name] = symbol
    return out


def generate_ir(funcs: dict[str, PrimFunc], target: Target, symbols: dict[str, str] | None = None) -> str:
    """LLVM IR text of the lowered functions ``funcs`` (name -> PrimFunc)."""
    symbols = symbols or symbol_names(funcs)
    module = ir.Module(name="mlc")
    module.triple, module.data_layout = target_layout(target)
    for name, func in funcs.items():
        emit_function(module, func, symbols[name])
    return str(module)


def build_llvm(mod: IRModule, target: Target) -> Module:
    """Compile every PrimFunc of ``mod`` for the host CPU described by ``target``."""
    _check_runnable(target)
    lowered = {name: lower(func) for name, func in mod.items()}
    symbols = symbol_names(lowered)
    try:
        ir_text = generate_ir(lowered, target, symbols)
    except MLCError:
        raise
    except Exception as err:  # an llvmlite builder error is a bug here, not the user's
        raise CompileError(f"LLVM IR generation failed: {type(err).__name__}: {err}") from err
    compiled = compile_ir(ir_text, target)
    set_num_threads(config().num_threads)  # for callers of the C entry points (see .parallel)
    functions = {name: Function(name, mod[name], *_kernel(compiled, symbols[name], len(func.params)))
                 for name, func in mod.items()}
    sources = {"ll": compiled.optimized_ir}
    if config().debug:  # MLC_DEBUG keeps what the optimiser started from
        sources["ll-unoptimized"] = ir_text
    return LLVMModule(target, functions, sources, keepalive=compiled)


def _check_runnable(target: Target) -> None:
    """Refuse a target whose CPU features this machine lacks: its code would crash here."""
    host = {f[1:] for f in host_cpu()[1].split(",") if f.startswith("+")}
    missing = sorted(f[1:] for f in target.features.split(",") if f.startswith("+") and f[1:] not in host)
    if missing:
        raise CompileError(f"target {target} enables CPU features this machine lacks "
                           f"({', '.join(missing)}); the JIT runs code here, so build for the host "
                           "(target='llvm') or drop those -mattr features")


def _kernel(compiled: CompiledModule, symbol: str, nparams: int):
    """(kernel, C entry): the callable the runtime hands checked arrays to, which keeps the
    engine alive, and the C function itself (one data pointer per parameter).

    Each call first stores ``config().num_threads`` for the kernel's parallel
    loops (:mod:`.parallel`); ctypes releases the GIL for the call itself.
    """
    prototype = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * nparams))
    cfunc = prototype(compiled.address(symbol))

    def kernel(arrays, _cfunc=cfunc, _owner=compiled):
        set_num_threads(config().num_threads)
        _cfunc(*[a.ctypes.data for a in arrays])

    return kernel, cfunc


class LLVMModule(Module):
    """A runtime Module whose ``get_source("asm")`` is generated on first request.

    Sources: "ll" (optimised LLVM IR), "asm" (host assembly) and, with
    MLC_DEBUG, "ll-unoptimized" (the IR as generated).
    """

    def get_source(self, fmt: str = "ll") -> str:
        if fmt == "asm" and "asm" not in self._sources:
            self._sources["asm"] = emit_assembly(self._sources["ll"], self.target)
        return super().get_source(fmt)
