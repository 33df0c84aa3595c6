"""From a traced graph to one callable: graph passes, one ``mlc.build`` (which schedules), executor.

All fused kernels of a graph are built together in a single ``mlc.build``
call; the :class:`~mlc.runtime.graph_executor.GraphExecutor` then runs them.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import DTypeError
from ..ir.graph import Graph
from ..ir.tir import IRModule
from ..passes.graph import run_graph_passes
from ..runtime.symbolic_executor import SymbolicGraphExecutor, is_symbolic_graph
from .pytree import unflatten
from .source import describe_location, user_location

__all__ = ["lower_graph", "build_lowered", "CompiledFunction", "RangeCheck"]


class RangeCheck(NamedTuple):
    """A traced Python int the run must find within ``dtype``'s range; ``op`` converts it
    (``TraceContext.check_range``). The error names the user's line of the call."""
    dtype: str
    op: str

    def verify(self, value: np.ndarray) -> None:
        info = np.iinfo(self.dtype)
        v = int(value)
        if not info.min <= v <= info.max:
            raise DTypeError(
                f"{self.op}: Python integer {v} (a Python scalar argument, or computed from one) is "
                f"out of bounds for {self.dtype}, in [{info.min}, {info.max}]; NumPy 2 raises "
                "OverflowError here. Cast the array to a wider dtype, or pass a value in range"
                + describe_location(user_location()))


def lower_graph(traced: Graph) -> Graph:
    """The graph pipeline: a memory-planned graph of call_tir bindings with its IRModule."""
    graph = run_graph_passes(traced)
    if graph.module is None:
        graph = graph.with_bindings(graph.bindings, module=IRModule({}))
    return graph


class CompiledFunction:
    """One signature of a jitted function: ``compiled.run(leaves)`` -> the output pytree."""

    __slots__ = ("graph", "lib", "executor", "run", "checks")

    def __init__(self, graph: Graph, lib, executor, out_tree=None, checks: tuple[RangeCheck, ...] = ()):
        self.graph, self.lib, self.executor, self.checks = graph, lib, executor, checks
        self.run = executor.run if not checks else self._checked_run(executor.run, out_tree, checks)

    @staticmethod
    def _checked_run(run, out_tree, checks):
        """``run`` whose last ``len(checks)`` outputs are verified, then dropped."""
        n = -len(checks)

        def checked(leaves):
            outputs = run(leaves)
            for check, value in zip(checks, outputs[n:]):
                check.verify(value)
            return unflatten(out_tree, outputs[:n])
        return checked


def build_lowered(graph: Graph, out_tree, target, schedule, checks: tuple[RangeCheck, ...] = (),
                  fast_math: bool = False) -> CompiledFunction:
    """Build ``graph.module`` in one ``mlc.build`` call (which applies ``schedule``, or the
    target's default rules when it is None), with the whole graph as one native
    program; wrap them in an executor. The graph's last ``len(checks)`` outputs are
    the traced ints the :class:`RangeCheck` s verify after each run."""
    from ..driver import build
    from ..target import Target
    from ..runtime.graph_executor import LEAF_LIST, PROGRAM, GraphExecutor, graph_program
    from ..runtime.module import Module
    target = Target.from_str(target)
    symbolic = is_symbolic_graph(graph)  # dynamic axes: sizes bound per call, no native program
    if len(graph.module):
        programs = None if symbolic else {PROGRAM: graph_program(graph)[0]}
        lib = build(graph.module, target, schedule, programs=programs, fast_math=fast_math)
    else:
        lib = Module(target, {})
    if symbolic:
        executor = SymbolicGraphExecutor(graph, lib)
        if not checks:
            executor.run = _with_tree(executor.run, out_tree)
    else:
        executor = GraphExecutor(graph, lib, LEAF_LIST if checks else out_tree)
    return CompiledFunction(graph, lib, executor, out_tree, checks)


def _with_tree(run, out_tree):
    """``run`` (a list of outputs) returning the pytree ``out_tree`` of them (a lone array
    when ``out_tree`` is a string, as GraphExecutor's ``out_tree`` says)."""
    if out_tree is None:
        return run
    if type(out_tree) is str:
        return lambda leaves: run(leaves)[0]
    return lambda leaves: unflatten(out_tree, run(leaves))
