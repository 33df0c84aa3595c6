"""From a traced graph to one callable: graph passes, schedule, one ``mlc.build``, executor.

All fused kernels of a graph are built together in a single ``mlc.build``
call; the :class:`~mlc.runtime.graph_executor.GraphExecutor` then runs them.
"""
from __future__ import annotations

from ..errors import MLCError
from ..ir.graph import Graph
from ..ir.tir import IRModule
from ..passes.graph import run_graph_passes

__all__ = ["lower_graph", "apply_schedule", "build_lowered", "CompiledFunction"]


def lower_graph(traced: Graph) -> Graph:
    """The graph pipeline: a memory-planned graph of call_tir bindings with its IRModule."""
    graph = run_graph_passes(traced)
    if graph.module is None:
        graph = graph.with_bindings(graph.bindings, module=IRModule({}))
    return graph


def apply_schedule(mod: IRModule, schedule) -> IRModule:
    """``mod`` scheduled by ``schedule(sch)`` (None: unchanged)."""
    if schedule is None or not len(mod):
        return mod
    from ..schedules import Schedule
    sch = Schedule(mod)
    result = schedule(sch)
    if result is None:
        return sch.mod
    if isinstance(result, Schedule):
        return result.mod
    if isinstance(result, IRModule):
        return result
    raise MLCError(f"a jit schedule must edit the Schedule it is given (returning None), or return a "
                   f"Schedule or IRModule; got {type(result).__name__}")


class CompiledFunction:
    """One signature of a jitted function: ``compiled.run(leaves)`` -> the output pytree."""

    __slots__ = ("graph", "lib", "executor", "run")

    def __init__(self, graph: Graph, lib, executor):
        self.graph, self.lib, self.executor = graph, lib, executor
        self.run = executor.run


def build_lowered(graph: Graph, out_tree, target, schedule) -> CompiledFunction:
    """Schedule and build ``graph.module`` in one ``mlc.build`` call; wrap it in an executor."""
    from ..backends import build
    from ..backends.target import Target
    from ..runtime.graph_executor import GraphExecutor
    from ..runtime.module import Module
    mod = apply_schedule(graph.module, schedule)
    target = Target.from_str(target)
    lib = build(mod, target) if len(mod) else Module(target, {})
    return CompiledFunction(graph, lib, GraphExecutor(graph, lib, out_tree))
