"""The NumPy reference interpreter of PrimFuncs: the oracle every backend is tested against.

``run(func, arrays)`` executes a PrimFunc in place (destination passing);
``build_reference(mod, target)`` wraps each function of a module as a runtime
function, which ``mlc.build(mod, "reference")`` returns.

>>> import numpy as np
>>> from mlc import te
>>> A = te.placeholder((4,), "float32", "A")
>>> B = te.compute((4,), lambda i: A[i] * 2, "B")
>>> b = np.zeros(4, "float32")
>>> run(te.create_prim_func([A, B]), [np.arange(4, dtype="float32"), b]); b
array([0., 2., 4., 6.], dtype=float32)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...ir.calls import is_graph_main, verify_calls
from ...ir.tir import IRModule, PrimFunc
from ...runtime.module import Function, Module
from .graph_main import GraphMainProgram
from .interpreter import LANE_LIMIT, Program

__all__ = ["run", "build_reference", "Program", "LANE_LIMIT"]


def run(func: PrimFunc, args: Sequence[np.ndarray]) -> None:
    """Execute ``func`` in place on ``args`` (one array per parameter, in order)."""
    Program(func).run(args)


def build_reference(mod: IRModule, target) -> Module:
    """A runtime Module whose functions run on the reference interpreter; a graph's ``main``
    runs its calls on the other functions (:mod:`.graph_main`)."""
    verify_calls(mod)
    functions = {}
    for name, func in mod.items():
        if not is_graph_main(func):
            functions[name] = Function(name, func, Program(func, name=name).run)
    for name, func in mod.items():
        if is_graph_main(func):
            functions[name] = Function(name, func, GraphMainProgram(func, functions, name).run)
    return Module(target, functions, sources={})
