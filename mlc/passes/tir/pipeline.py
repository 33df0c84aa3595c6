"""The TIR lowering pipeline: scheduled TensorIR in, backend-ready loops out.

``LOWER_PIPELINE`` is the explicit list of passes :func:`lower` runs, in
order. With ``MLC_DEBUG`` set, the IR is verified after every pass, and the
error names the pass that broke it.

>>> from mlc import te
>>> A = te.placeholder((4, 8), "float32", "A")
>>> B = te.compute((4, 8), lambda i, j: A[i, j] * 2, "B")
>>> f = lower(te.create_prim_func([A, B]))
>>> [tuple(p.static_shape()) for p in f.params]
[(32,), (32,)]
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from ...config import config
from ...errors import IRError
from ...ir.calls import is_graph_main
from ...ir.tir import PrimFunc
from .block_values import share_block_values
from .compact_buffers import compact_buffers
from .cse import eliminate_common_subexpressions
from .convert_blocks import convert_blocks_to_loops
from .empty_reductions import expand_empty_reductions
from .flatten_buffers import flatten_buffers
from .fold_constants import fold_constants
from .horizontal import fold_horizontal
from .keep_loops import keep_vector_loops
from .lower_complex import complex_lowering_for, lower_complex
from .lower_init_block import lower_init_block
from .lower_intrinsics import lower_intrinsics
from .lower_math import math_lowering_for
from .lower_threefry import lower_threefry
from .partition_selects import partition_selects
from .partition_tiles import partition_tiles
from .prefetch import prefetch_streams
from .row_prefetch import prefetch_row_streams
from .simplify import simplify
from .unroll import unroll_loops
from .vector_windows import share_vector_windows
from .vectorize import vectorize_loops
from .verify import verify_lowered, verify_well_formed

__all__ = ["LOWER_PIPELINE", "lower", "run_passes", "cpu_pipeline", "verify_lowered_when_debugging"]

Pass = Callable[[PrimFunc], PrimFunc]

LOWER_PIPELINE: list[Pass] = [
    expand_empty_reductions,
    lower_init_block,
    convert_blocks_to_loops,
    lower_intrinsics,
    compact_buffers,
    flatten_buffers,
    simplify,
    lower_complex,
    partition_tiles,
    partition_selects,
    vectorize_loops,
    prefetch_streams,
    fold_horizontal,
    unroll_loops,
    fold_constants,
    eliminate_common_subexpressions,
]

#: The passes that write loops out for a renderer (unrolled copies, horizontal folds, values
#: bound once, vector windows, loops kept, the generator's words): the IR before them is the one
#: a cost model reads (an unrolled loop is a loop of kind "unroll").
RENDER_PASSES: tuple[Pass, ...] = (fold_horizontal, unroll_loops, eliminate_common_subexpressions,
                                   share_vector_windows, keep_vector_loops, share_block_values, lower_threefry)


def run_passes(func: PrimFunc, passes: Sequence[Pass], verify: bool | None = None) -> PrimFunc:
    """Apply ``passes`` in order; with ``verify`` (default: the debug flag) check the IR after each."""
    if verify is None:
        verify = config().debug
    if verify:
        _checked(verify_well_formed, func, "before lowering")
    for p in passes:
        func = p(func)
        if verify:
            _checked(verify_well_formed, func, f"after pass {p.__name__}")
    return func


def verify_lowered_when_debugging(func: PrimFunc) -> PrimFunc:
    """``func`` unchanged; with ``MLC_DEBUG``, first checked to hold only loops and flat
    buffers (:func:`~mlc.passes.tir.verify_lowered`), what a renderer accepts."""
    if config().debug:
        _checked(verify_lowered, func, "after lowering")
    return func


def cpu_pipeline(native: Callable[[str, str], bool], vectorize: Pass, fast_math: bool = False) -> tuple[Pass, ...]:
    """:data:`LOWER_PIPELINE` as a CPU backend runs it, for a backend whose native math calls
    ``native(op, dtype)`` says (its registered lowerings): ``vectorize`` in place of
    :func:`vectorize_loops` (the backend's choice of what math it vectorizes); lower_complex
    keeping the native complex functions, then lower_math writing out the math calls the
    backend has no native lowering of (``fast_math``: their cheaper variants); before
    ``vectorize``, prefetch_row_streams (a row's first pass asks for the lines its later
    passes read, :mod:`.row_prefetch`); last
    share_vector_windows (a stencil's overlapping vector loads as shuffles of two),
    keep_vector_loops (the serial loops of vector statements the backend's compiler is asked
    not to unroll), share_block_values (the values a run of stores shares, its unrolled
    copies' addresses, bound once by a LetStmt), lower_threefry (the generator's rounds written
    out, :mod:`.lower_threefry`) and :func:`verify_lowered_when_debugging`. :func:`gpu_pipeline
    <mlc.passes.tir.gpu_pipeline.gpu_pipeline>` is the GPU backends'."""
    replaced = {vectorize_loops: (prefetch_row_streams, vectorize),
                lower_complex: (complex_lowering_for(native), math_lowering_for(native, fast_math))}
    return (*(q for p in LOWER_PIPELINE for q in replaced.get(p, (p,))), share_vector_windows,
            keep_vector_loops, share_block_values, lower_threefry, verify_lowered_when_debugging)


def lower(func: PrimFunc) -> PrimFunc:
    """Run :data:`LOWER_PIPELINE` on ``func``; the result has only loops and flat buffers.
    A graph's ``main`` (:mod:`mlc.ir.calls`) has neither blocks nor loops: it is returned as it is."""
    if is_graph_main(func):
        return func
    out = run_passes(func, LOWER_PIPELINE)
    if config().debug:
        _checked(verify_lowered, out, "after lowering")
    return out


def _checked(verifier, func: PrimFunc, where: str) -> None:
    try:
        verifier(func)
    except IRError as err:
        raise IRError(f"invalid IR {where}: {err}") from None
