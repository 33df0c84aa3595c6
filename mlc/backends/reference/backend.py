"""The reference backend as the driver sees it: one :class:`~mlc.backends.registry.Backend`.

It interprets scheduled TensorIR as written, so it needs no TIR passes and
has no default schedule rules; its "codegen" prepares one interpreter
:class:`~.interpreter.Program` per function and ``load`` wraps them.
"""
from __future__ import annotations

from ...ir.calls import is_graph_main
from ...ir.shape_vars import shape_vars, specialize
from ...ir.tir import IRModule
from ...passes.tir.lower_complex import lower_complex
from ...passes.tir.lower_math import lower_math
from ...passes.tir.lower_threefry import lower_threefry
from ...runtime.module import Function, Module
from ..registry import BuildOptions, HostBackend
from ...runtime.graph_main import GraphMainProgram
from .interpreter import Program

__all__ = ["ReferenceBackend", "ReferenceModule"]


class ReferenceModule(Module):
    """A runtime Module of interpreted functions; ``get_source("tir")`` is the TIR it runs
    (printed when first asked for)."""

    SOURCE_FORMAT = "tir"

    def __init__(self, target, functions):
        super().__init__(target, functions)
        self._sources["tir"] = lambda f=self.functions: IRModule({n: x.func for n, x in f.items()}).script()


#: Specialized Programs a function with symbolic shapes keeps (the oldest goes first).
_SPECIALIZED_KEPT = 16


def _runner(program: Program):
    """``program.run``; for a function with symbolic shapes, the run of the function
    specialized to the sizes the arrays bind (one Program kept per binding)."""
    vars_ = shape_vars(program.func.params)
    if not vars_:
        return program.run
    programs: dict[tuple[int, ...], Program] = {}

    def run(arrays):
        key = tuple(arrays[n].shape[d] for _, n, d in vars_)
        specialized = programs.get(key)
        if specialized is None:
            values = {v: size for (v, _, _), size in zip(vars_, key)}
            specialized = Program(specialize(program.func, values), program.vectorize, program.name)
            if len(programs) >= _SPECIALIZED_KEPT:
                programs.pop(next(iter(programs)))
            programs[key] = specialized
        specialized.run(arrays)

    return run


class ReferenceBackend(HostBackend):
    """The NumPy interpreter of PrimFuncs: the oracle the other backends are tested against."""

    name = "reference"
    target_kinds = ("reference",)

    def tir_passes(self, target, options: BuildOptions):
        # the interpreter runs blocks, loops and multi-dimensional buffers as written, and the
        # complex arithmetic, the math routines and the generator as every backend computes them
        return (lower_complex, lower_math, lower_threefry)

    def codegen(self, mod: IRModule, target, options: BuildOptions) -> dict[str, Program]:
        return {name: Program(func, name=name) for name, func in mod.items() if not is_graph_main(func)}

    def load(self, artifact: dict[str, Program], mod: IRModule, target, options: BuildOptions) -> Module:
        """The interpreted functions; a graph's ``main`` runs its calls on the others
        (:mod:`.graph_main`)."""
        functions = {name: Function(name, mod[name], _runner(program)) for name, program in artifact.items()}
        for name, func in mod.items():
            if is_graph_main(func):
                functions[name] = Function(name, func, GraphMainProgram(func, functions, name).run)
        return ReferenceModule(target, functions)
