"""TIR lowering passes, each a pure ``PrimFunc -> PrimFunc`` function in its own module.

:func:`lower` runs :data:`LOWER_PIPELINE`: expand_empty_reductions, lower_init_block,
convert_blocks_to_loops, lower_intrinsics, compact_buffers, flatten_buffers, simplify,
lower_complex, partition_tiles, partition_selects, vectorize_loops, fold_horizontal, unroll_loops,
fold_constants, eliminate_common_subexpressions (:mod:`.cse`).
:func:`verify_bounds` (run by ``mlc.build`` for every backend) refuses accesses it
proves out of bounds. A backend's pipeline is :data:`LOWER_PIPELINE` with its native math:
:func:`~.pipeline.cpu_pipeline` (which adds :func:`share_vector_windows`,
:func:`keep_vector_loops`, :func:`share_block_values` and :func:`lower_threefry`) or
:func:`~.gpu_pipeline.gpu_pipeline` (which ends with :func:`share_block_values` too, vector
indices left whole, and :func:`lower_threefry`).
"""
from .compact_buffers import compact_buffers
from .convert_blocks import convert_blocks_to_loops
from .cse import eliminate_common_subexpressions
from .empty_reductions import expand_empty_reductions
from .flatten_buffers import flatten_buffers
from .fold_constants import fold_constants
from .horizontal import fold_horizontal
from .lower_init_block import lower_init_block
from .lower_intrinsics import lower_intrinsics
from .partition_selects import partition_selects
from .partition_tiles import partition_tiles
from .pipeline import LOWER_PIPELINE, lower, run_passes
from .simplify import simplify, simplify_expr
from .unroll import unroll_loops
from .vectorize import vectorize_loops
from .verify import verify_lowered, verify_well_formed
from .verify_bounds import verify_bounds
from .vector_windows import share_vector_windows
from .keep_loops import keep_vector_loops
from .block_values import share_block_values
from .lower_threefry import lower_threefry

__all__ = [
    "LOWER_PIPELINE", "lower", "run_passes", "expand_empty_reductions", "lower_init_block", "convert_blocks_to_loops",
    "flatten_buffers", "compact_buffers", "lower_intrinsics", "simplify", "simplify_expr", "verify_well_formed", "verify_lowered",
    "verify_bounds", "vectorize_loops", "partition_tiles", "partition_selects", "fold_constants",
    "fold_horizontal", "unroll_loops", "eliminate_common_subexpressions",
    "share_vector_windows", "keep_vector_loops", "share_block_values", "lower_threefry",
]
