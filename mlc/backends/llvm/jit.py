"""LLVM IR text -> optimised module -> object code -> MCJIT engine for the host.

LLVM is initialised once; one TargetMachine per (cpu, features) serves
optimisation and code emission (an engine owns its own). Optimisation is
LLVM's new pass manager at O3. The object file is checked for symbols mlc
did not register (:mod:`.symbols`) and read in full (:mod:`.elf`) before the
engine loads it, and kept in the on-disk :mod:`.object_cache` for the next
build of the same IR; a cached object that fails any check is discarded and
compiled again. An object calling the support functions (:mod:`.support`) links
against the support module, built and loaded the first time one does.
:func:`optimise` and :func:`emit_assembly` work for any CPU LLVM knows and load
nothing, so code for another machine can be read here.

What LLVM prints while it works (remarks on loops it was asked to vectorize
and could not, say) goes through :func:`~mlc.backends.llvm_output.llvm_output`:
the user sees it only under ``MLC_DEBUG``.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import llvmlite.binding as llvm
from llvmlite.binding.newpassmanagers import NewPassManager

from ...errors import CompileError
from ..llvm_output import llvm_output
from ...target import Target
from ..llvm_cpus import vector_bits
from . import object_cache, support
from .elf import ObjectFileError, read_object
from .symbols import register_symbols

__all__ = ["compile_ir", "CompiledModule", "target_machine", "optimise", "emit_assembly", "target_layout"]


_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _initialise() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_native_asmparser()
    register_symbols()


def _create_target_machine(cpu: str, features: str, opt: int = 3) -> llvm.TargetMachine:
    _initialise()
    target = llvm.Target.from_default_triple()
    with llvm_output():
        return target.create_target_machine(cpu=cpu, features=_tuned_features(cpu, features), opt=opt, jit=True)


def _tuned_features(cpu: str, features: str) -> str:
    """``features``, and on a CPU with 512-bit vectors ``-prefer-256-bit``: mlc's schedules
    use whole zmm registers there (16 float lanes), and so should the loops they leave
    to LLVM's vectorizers, which LLVM's tuning for Intel's AVX-512 CPUs (Skylake to
    Emerald Rapids) would widen to 256 bits only."""
    if vector_bits(cpu, features) != 512:
        return features
    return f"{features},-prefer-256-bit" if features else "-prefer-256-bit"


@lru_cache(maxsize=8)
def target_machine(cpu: str, features: str) -> llvm.TargetMachine:
    """The shared TargetMachine for optimisation and code emission (cached)."""
    return _create_target_machine(cpu, features)


@lru_cache(maxsize=2)
def _quick_target_machine(cpu: str, features: str) -> llvm.TargetMachine:
    """A TargetMachine emitting code without optimisation (fast instruction selection)."""
    return _create_target_machine(cpu, features, opt=0)


def target_layout(target: Target) -> tuple[str, str]:
    """(triple, data layout) to stamp on modules generated for ``target``."""
    tm = target_machine(target.cpu, target.features)
    return tm.triple, str(tm.target_data)


@dataclass
class CompiledModule:
    """A loaded module: the engine that owns the machine code, and its optimised IR."""
    engine: llvm.ExecutionEngine
    optimized_ir: str

    def address(self, symbol: str) -> int:
        return self.engine.get_function_address(symbol)

    def global_address(self, symbol: str) -> int:
        """The address of global variable ``symbol`` of the loaded code."""
        return self.engine.get_global_value_address(symbol)


def compile_ir(ir_text: str, target: Target, entry_points: Iterable[str] = ()) -> CompiledModule:
    """Parse, verify, optimise (O3) and load ``ir_text`` for ``target``'s CPU; the
    object must define every symbol of ``entry_points``.

    Builds from several threads take turns: the TargetMachines are shared.
    """
    with _LOCK:
        _initialise()
        return _compile(ir_text, target, frozenset(entry_points))


def _compile(ir_text: str, target: Target, entry_points: frozenset[str], quick: bool = False) -> CompiledModule:
    """``ir_text`` built (or read from the object cache) and loaded; ``quick``: built without
    optimisation (LLVM's O0 pipeline, fast instruction selection), for code whose speed
    does not matter."""
    key = object_cache.cache_key(ir_text + ("; quick" if quick else ""), target.cpu,
                                 _tuned_features(target.cpu, target.features))
    cached = object_cache.load(key)
    if cached is not None:
        try:
            return _load(*cached, target, entry_points)
        except CompileError:
            object_cache.discard(key)  # an entry that cannot be trusted: compile afresh
    obj, optimized = _optimise_and_emit(ir_text, target, quick)
    module = _load(obj, optimized, target, entry_points)
    object_cache.store(key, obj, optimized)
    return module


def _optimise_and_emit(ir_text: str, target: Target, quick: bool = False) -> tuple[bytes, str]:
    """(object code, optimised IR) for ``ir_text``: parse, verify, O3 (O0 when ``quick``), emit."""
    tm = (_quick_target_machine if quick else target_machine)(target.cpu, target.features)
    module = _optimised_module(ir_text, tm, 0 if quick else 3)
    try:
        optimized = str(module)
        return _emit_object(module, tm, optimized), optimized
    finally:
        module.close()


def _emit_object(module: llvm.ModuleRef, tm: llvm.TargetMachine, optimized: str) -> bytes:
    """Machine code of the optimised ``module`` (whose text is ``optimized``) for ``tm``."""
    try:
        with llvm_output():
            return tm.emit_object(module)
    except RuntimeError as err:
        raise CompileError(f"LLVM could not generate machine code: {err}", source=optimized) from None


def _optimised_module(ir_text: str, tm: llvm.TargetMachine, level: int = 3) -> llvm.ModuleRef:
    """``ir_text`` parsed, verified and optimised at O3 (or ``level``) for ``tm`` (the caller
    closes it)."""
    module = _parse(ir_text)
    try:
        _run_pipeline(module, tm, level)
    except BaseException:
        module.close()
        raise
    return module


def _parse(ir_text: str) -> llvm.ModuleRef:
    """``ir_text`` parsed and verified by LLVM (the caller closes it)."""
    try:
        module = llvm.parse_assembly(ir_text)
        module.verify()
    except RuntimeError as err:
        raise CompileError(f"LLVM rejected the generated IR: {err}", source=ir_text) from None
    return module


def _run_pipeline(module: llvm.ModuleRef, tm: llvm.TargetMachine, level: int = 3) -> None:
    """Optimise ``module`` in place with LLVM's O3 pipeline (or O``level``'s) for ``tm``."""
    pass_builder = llvm.create_pass_builder(tm, _tuning_options(level))
    pipeline = pass_builder.getModulePassManager()
    try:
        with llvm_output():
            pipeline.run(module, pass_builder)
    finally:
        _dispose_pipeline(pipeline)
        pass_builder.close()


def optimise(ir_text: str, target: Target) -> str:
    """The O3-optimised IR of ``ir_text`` for ``target``; nothing is loaded, so ``target``
    may be any CPU LLVM knows, whether this machine can run its code or not."""
    with _LOCK:
        _initialise()
        module = _optimised_module(ir_text, target_machine(target.cpu, target.features))
        try:
            return str(module)
        finally:
            module.close()


@lru_cache(maxsize=2)
def _tuning_options(level: int = 3) -> llvm.PipelineTuningOptions:
    """O3's (or O``level``'s) pipeline tuning options (one object for every build: the pass
    builder copies them)."""
    return llvm.PipelineTuningOptions(speed_level=level)


def _dispose_pipeline(pipeline: llvm.ModulePassManager) -> None:
    """Free ``pipeline`` and every pass in it now.

    ``ModulePassManager.close()`` does not: in llvmlite's class the no-op
    ``ObjectRef._dispose`` precedes ``NewPassManager._dispose`` in the method
    order, so each O3 pipeline and the state its passes grew while running
    (GVN's value table, InstCombine's worklist, ...) stayed allocated, some
    60-110 KB per build.
    """
    if type(pipeline)._dispose is llvm.ffi.ObjectRef._dispose:
        NewPassManager._dispose(pipeline)
        pipeline.detach()
    else:  # a fixed llvmlite
        pipeline.close()


def _load(obj: bytes, optimized: str, target: Target, entry_points: frozenset[str]) -> CompiledModule:
    """Check ``obj`` (a well-formed object for this machine, defining ``entry_points``,
    needing only registered symbols), then load it into a new engine."""
    tm = target_machine(target.cpu, target.features)
    try:
        symbols = read_object(obj, tm.triple)
    except ObjectFileError as err:
        raise ObjectFileError(f"LLVM's object code cannot be loaded: {err}", source=optimized) from None
    missing = entry_points - symbols.defined
    if missing:
        raise CompileError(f"the object code does not define {sorted(missing)}", source=optimized)
    unknown = symbols.undefined - register_symbols()
    if unknown & support.support_functions().keys():  # it calls the support module's functions
        unknown -= _support_symbols(target)
    if unknown:
        raise CompileError(
            f"the generated code needs external symbol(s) {sorted(unknown)} that mlc does not "
            "provide (see mlc/backends/llvm/symbols.py)", source=optimized)
    try:
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""),
                                            _create_target_machine(target.cpu, target.features))
        with llvm_output():
            engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
            engine.finalize_object()
    except RuntimeError as err:
        raise CompileError(f"LLVM could not load the machine code: {err}", source=optimized) from None
    return CompiledModule(engine, optimized)


_SUPPORT: list[tuple[CompiledModule, frozenset[str]]] = []  # (the support module, its functions)


def _support_symbols(target: Target) -> frozenset[str]:
    """The support functions' names: the support module (:mod:`.support`) is built for
    ``target`` (a CPU whose objects this machine loads), loaded and its functions registered
    with LLVM the first time (the caller holds ``_LOCK``).

    It is built without optimisation: its functions run once per parallel launch, a few
    nanoseconds slower than at O3, and the process's first build takes 2 ms for them
    instead of 12 (on a Zen 5 machine)."""
    if not _SUPPORT:
        names = frozenset(support.support_functions())
        compiled = _compile(support.support_ir(*target_layout(target)), target, names, quick=True)
        for name in names:
            llvm.add_symbol(name, compiled.address(name))
        _SUPPORT.append((compiled, names))  # (the engine, and so the code, stays loaded)
    return _SUPPORT[0][1]


def emit_assembly(ir_text: str, target: Target) -> str:
    """Assembly of (already optimised) ``ir_text`` for ``target``'s CPU (any CPU LLVM knows)."""
    try:
        with _LOCK, llvm_output():
            return target_machine(target.cpu, target.features).emit_assembly(llvm.parse_assembly(ir_text))
    except RuntimeError as err:
        raise CompileError(f"LLVM could not emit assembly: {err}", source=ir_text) from None
