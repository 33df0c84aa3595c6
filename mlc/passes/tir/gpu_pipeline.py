"""The TIR passes that make a scheduled PrimFunc ready for the GPU, in order.

``GPU_PIPELINE`` is :data:`~mlc.passes.tir.pipeline.LOWER_PIPELINE` with the GPU
passes in their places: cross-thread reductions are lowered while blocks
still exist, shared and local buffers are shrunk to one block's (one
thread's) tile before buffers are flattened, barriers go in, and last the
vectorized loops of each thread become vector IR (4-lane accesses), the values a
statement computes twice are bound once (:mod:`~mlc.passes.tir.cse`), and so are those a run
of stores shares (:mod:`~mlc.passes.tir.block_values`; a ``LetStmt`` each backend renders), and
last the generator's rounds are written out (:mod:`~mlc.passes.tir.lower_threefry`). Every GPU
backend's codegen and the emulator run its output, so the emulator checks
exactly what the GPU would run. It is a pipeline of TIR passes like
:data:`~mlc.passes.tir.pipeline.LOWER_PIPELINE` (the CPU backends'), here so that every
GPU backend, and the emulator, take the one list from below.
"""
from __future__ import annotations

from collections.abc import Callable

from ...ir.tir import PrimFunc
from .block_values import share_block_values
from .compact_buffers import compact_buffers
from .convert_blocks import convert_blocks_to_loops
from .cse import eliminate_common_subexpressions
from .cross_thread_reduction import lower_cross_thread_reduction
from .empty_reductions import expand_empty_reductions
from .flatten_buffers import flatten_buffers
from .fold_constants import fold_constants
from .gpu_buffers import compact_gpu_buffers, note_storage_align
from .lower_complex import lower_complex
from .lower_math import math_lowering_for
from .lower_threefry import lower_threefry
from .lower_init_block import lower_init_block
from .lower_intrinsics import lower_intrinsics
from .pipeline import run_passes
from .simplify import simplify
from .software_pipeline import inject_software_pipeline
from .thread_sync import insert_thread_sync
from .vectorize import vectorize_loops

__all__ = ["GPU_PIPELINE", "gpu_pipeline", "GPU_VECTOR_LANES", "GPU_COPY_DTYPES", "lower_for_gpu", "vectorize_for_gpu"]

#: A GPU thread's vector: 4 lanes (4 float32, 16 bytes: one load instruction).
GPU_VECTOR_LANES = 4
#: Element types whose vectorized copies (a cooperative fetch of float16 tiles) move as raw
#: bytes (the codegen's raw copy types): 4 float16 lanes, one 8-byte access.
GPU_COPY_DTYPES = ("float16", "int16", "uint16", "int8", "uint8")


def vectorize_for_gpu(func: PrimFunc) -> PrimFunc:
    """``vectorized`` loops of up to :data:`GPU_VECTOR_LANES` lanes as vector IR (math
    calls included: the codegen computes them lane by lane between vector loads and
    stores). Runs after the barriers are placed, on the loops of each thread."""
    return vectorize_loops(func, max_lanes=GPU_VECTOR_LANES, math_calls=True, copy_dtypes=GPU_COPY_DTYPES)


def share_block_values_for_gpu(func: PrimFunc) -> PrimFunc:
    """:func:`~mlc.passes.tir.block_values.share_block_values`, vector indices left whole: a
    GPU renderer reads a vector access's alignment from its base (a ``float4`` load)."""
    return share_block_values(func, vector_indices=False)


GPU_PIPELINE = [
    expand_empty_reductions,
    lower_cross_thread_reduction,
    lower_init_block,
    note_storage_align,
    convert_blocks_to_loops,
    lower_intrinsics,
    compact_buffers,
    compact_gpu_buffers,
    flatten_buffers,
    inject_software_pipeline,
    simplify,
    lower_complex,
    insert_thread_sync,
    vectorize_for_gpu,
    fold_constants,
    eliminate_common_subexpressions,
    share_block_values_for_gpu,
    lower_threefry,
]


def gpu_pipeline(native: Callable[[str, str], bool]) -> list:
    """:data:`GPU_PIPELINE` for a backend whose native math calls ``native(op, dtype)`` says
    (its registered lowerings): lower_math after lower_complex writes out the others
    (:mod:`mlc.passes.tir.lower_math`)."""
    at = GPU_PIPELINE.index(lower_complex) + 1
    return [*GPU_PIPELINE[:at], math_lowering_for(native), *GPU_PIPELINE[at:]]


def lower_for_gpu(func: PrimFunc) -> PrimFunc:
    """Run :data:`GPU_PIPELINE` on ``func``."""
    return run_passes(func, GPU_PIPELINE)
