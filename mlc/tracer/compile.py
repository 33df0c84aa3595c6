"""From a traced graph to one callable: graph passes, one ``mlc.build`` (which schedules), executor.

All fused kernels of a graph are built together in a single ``mlc.build``
call; the :class:`~mlc.runtime.graph_executor.GraphExecutor` then runs them.
"""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.tir import IRModule
from ..passes.graph import run_graph_passes

__all__ = ["lower_graph", "build_lowered", "CompiledFunction"]


def lower_graph(traced: Graph) -> Graph:
    """The graph pipeline: a memory-planned graph of call_tir bindings with its IRModule."""
    graph = run_graph_passes(traced)
    if graph.module is None:
        graph = graph.with_bindings(graph.bindings, module=IRModule({}))
    return graph


class CompiledFunction:
    """One signature of a jitted function: ``compiled.run(leaves)`` -> the output pytree."""

    __slots__ = ("graph", "lib", "executor", "run")

    def __init__(self, graph: Graph, lib, executor):
        self.graph, self.lib, self.executor = graph, lib, executor
        self.run = executor.run


def build_lowered(graph: Graph, out_tree, target, schedule) -> CompiledFunction:
    """Build ``graph.module`` in one ``mlc.build`` call (which applies ``schedule``, or the
    target's default rules when it is None), with the whole graph as one native
    program; wrap them in an executor."""
    from ..backends import build
    from ..backends.target import Target
    from ..runtime.graph_executor import PROGRAM, GraphExecutor, graph_program
    from ..runtime.module import Module
    target = Target.from_str(target)
    if len(graph.module):
        lib = build(graph.module, target, schedule, programs={PROGRAM: graph_program(graph)[0]})
    else:
        lib = Module(target, {})
    return CompiledFunction(graph, lib, GraphExecutor(graph, lib, out_tree))
