"""The graph pipeline: the named passes a traced graph goes through, in order.

>>> for p in GRAPH_PIPELINE:
...     print(p.__name__)
dead_code_elimination
common_subexpression_elimination
fold_constants
simplify_algebra
dead_code_elimination
element_loops
fuse_ops
reshape_to_view
lower_to_tir
plan_memory
emit_main
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ...config import config
from ...ir.graph import Graph
from .cse import common_subexpression_elimination
from .dce import dead_code_elimination
from .element_loops import element_loops
from .emit_main import emit_main
from .fold import fold_constants
from .fuse import fuse_ops
from .lower import lower_to_tir
from .plan import plan_memory
from .simplify import simplify_algebra
from .temporal_blocking import blocking_pass, temporal_blocking
from .views import reshape_to_view
from .verify import verify_graph

__all__ = ["GRAPH_PIPELINE", "CPU_GRAPH_PIPELINE", "cpu_graph_pipeline", "run_graph_passes"]

GraphPass = Callable[[Graph], Graph]

#: Traced graph -> memory-planned graph of call_tir bindings plus its IRModule (kernels and main).
GRAPH_PIPELINE: tuple[GraphPass, ...] = (
    dead_code_elimination,
    common_subexpression_elimination,
    fold_constants,
    simplify_algebra,
    dead_code_elimination,
    element_loops,
    fuse_ops,
    reshape_to_view,
    lower_to_tir,
    plan_memory,
    emit_main,
)

#: The pipeline of a program for a CPU target: time-step loops over stencils run several steps
#: per sweep over tiles that stay in a core's cache (:mod:`.temporal_blocking`; its kernels are
#: written as CPU loops: a GPU target would need its own).
CPU_GRAPH_PIPELINE: tuple[GraphPass, ...] = (
    *GRAPH_PIPELINE[:GRAPH_PIPELINE.index(lower_to_tir) + 1],
    temporal_blocking,
    *GRAPH_PIPELINE[GRAPH_PIPELINE.index(lower_to_tir) + 1:],
)


def cpu_graph_pipeline(l3_bytes: int = 0) -> tuple[GraphPass, ...]:
    """:data:`CPU_GRAPH_PIPELINE` for a CPU whose L3 cache holds ``l3_bytes`` (0: unknown):
    a time-step loop whose steps stay in that cache is not blocked."""
    if not l3_bytes:
        return CPU_GRAPH_PIPELINE
    return tuple(blocking_pass(l3_bytes) if p is temporal_blocking else p for p in CPU_GRAPH_PIPELINE)


def run_graph_passes(graph: Graph, passes: Sequence[GraphPass] = GRAPH_PIPELINE,
                     verify: bool | None = None) -> Graph:
    """Run ``passes`` in order; with ``verify`` (default: MLC_DEBUG) check the graph after each."""
    verify = config().debug if verify is None else verify
    for p in passes:
        graph = p(graph)
        if verify:
            verify_graph(graph, after=p.__name__)
    return graph
