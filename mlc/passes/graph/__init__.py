"""Graph passes, each a pure, named ``Graph -> Graph`` function in its own module.

:func:`run_graph_passes` runs :data:`GRAPH_PIPELINE`: dead code elimination,
common subexpression elimination, constant folding, fusion, lowering of each
fused group to one PrimFunc, and memory planning.
"""
from .cse import common_subexpression_elimination
from .dce import dead_code_elimination
from .fold import fold_constants
from .fuse import fuse_ops
from .inline import inline_stages
from .lower import lower_group, lower_to_tir
from .pipeline import GRAPH_PIPELINE, run_graph_passes
from .plan import plan_memory
from .verify import verify_graph

__all__ = [
    "GRAPH_PIPELINE", "run_graph_passes", "dead_code_elimination",
    "common_subexpression_elimination", "fold_constants", "fuse_ops", "inline_stages",
    "lower_group", "lower_to_tir", "plan_memory", "verify_graph",
]
