"""Graph passes, each a pure, named ``Graph -> Graph`` function in its own module.

:func:`run_graph_passes` runs :data:`GRAPH_PIPELINE`: dead code elimination,
common subexpression elimination, constant folding, algebraic simplification, fusion, reshapes as
views, lowering of each fused group to one PrimFunc, memory planning, and the
graph's ``main`` PrimFunc that allocates the workspace and calls the kernels.
:data:`CPU_GRAPH_PIPELINE` adds :func:`temporal_blocking` for a CPU target.
"""
from .cse import common_subexpression_elimination
from .dce import dead_code_elimination
from .emit_main import emit_main
from .fold import fold_constants
from .fuse import fuse_ops
from .inline import inline_stages
from .lower import lower_group, lower_to_tir
from .pipeline import CPU_GRAPH_PIPELINE, GRAPH_PIPELINE, cpu_graph_pipeline, run_graph_passes
from .plan import plan_memory
from .simplify import simplify_algebra
from .temporal_blocking import temporal_blocking
from .verify import verify_graph
from .views import reshape_to_view

__all__ = [
    "GRAPH_PIPELINE", "CPU_GRAPH_PIPELINE", "cpu_graph_pipeline", "run_graph_passes", "temporal_blocking",
    "dead_code_elimination",
    "common_subexpression_elimination", "emit_main", "fold_constants", "fuse_ops", "inline_stages",
    "lower_group", "lower_to_tir", "plan_memory", "reshape_to_view", "simplify_algebra", "verify_graph",
]
