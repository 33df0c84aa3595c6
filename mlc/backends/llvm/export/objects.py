"""Object code for an exported library: the scheduled module generated again for the
target, optimised as the JIT optimises it, and emitted position-independent.

The kernels are generated as a build generates them (:func:`~..module.generate_units`,
one LLVM module per kernel, so LLVM sees each as the JIT's parts do, and the code is
the same), optimised by the same O3 pipeline for the same CPU and features, then
emitted by a TargetMachine making position-independent code (a shared library's
objects must be). The support module (:mod:`..support`) comes with them, built
like the JIT's. Nothing is loaded, so the target may be another machine
(``-mtriple=``).
"""
from __future__ import annotations

from ....errors import CompileError
from ....ir.calls import is_graph_main
from ....ir.tir import IRModule
from ..output import llvm_output
from ..jit import _LOCK, _create_target_machine, _initialise, _optimise_and_emit, target_layout, unoptimised_only
from ..generate import generate_units, lower_for_llvm, symbol_names
from ..support import support_ir

__all__ = ["export_objects"]

#: The most LLVM modules an export spreads its kernels over (one each, up to this).
MAX_UNITS = 64


def export_objects(mod: IRModule, target, fast_math: bool = False) -> tuple[list[bytes], dict[str, str]]:
    """(object files, each function's symbol) of ``mod`` (as scheduled) for ``target``.

    A graph ``main`` that calls Python (``mlc.register_func`` library calls) cannot
    leave the process: a CompileError says so."""
    lowered = lower_for_llvm(mod, fast_math)
    symbols = symbol_names(lowered)
    library: list = []
    kernels = sum(1 for f in lowered.values() if not is_graph_main(f))
    units = generate_units(dict(lowered.items()), target, symbols, None, fast_math, library,
                           units=max(1, min(kernels, MAX_UNITS)))
    if library:
        names = sorted({call.name for call in library})
        raise CompileError(f"export: the program calls Python functions ({', '.join(names)}, registered with "
                           "mlc.register_func); an exported library runs without Python. Write them as "
                           "mlc ops, or keep the program in-process")
    texts = list(units) + [support_ir(*target_layout(target))]
    return [_emit(text, target) for text in texts], symbols


def _emit(text: str, target) -> bytes:
    """Position-independent object code of one LLVM module's ``text``: O3 for kernels, O0
    for glue (every function ``optnone``) and the support module, as the JIT builds them."""
    glue = unoptimised_only(text) or "mlc_support" in text[:200]
    level = 0 if glue else 3
    with llvm_output(), _LOCK:
        _initialise()
        tm = _create_target_machine(target.cpu, target.features, opt=level, triple=target.triple, reloc="pic")
        return _optimise_and_emit(text, tm, level)[0]
