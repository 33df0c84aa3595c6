"""The GPU design space: rules that give every block of a PrimFunc GPU threads, with sampled
tile sizes, thread counts and vector widths.

:func:`gpu_space` inlines elementwise intermediates (as the default GPU
schedule does), then gives each block, in program order, the first rule that
takes it:

0. **tensor cores**: the default rules' own GEMM rules with their choices drawn
   uniformly (:func:`~mlc.schedules.gpu.default.wgmma_rule`,
   :func:`~mlc.schedules.gpu.default.gpu_tensor_core_matmul`): a float16 matmul into
   float32 (batched or not, M, N, K multiples of 16) gets one of the blocks of
   :data:`~mlc.schedules.gpu.default.TENSOR_CORE_VARIANTS` that divide it (warps,
   fragments a warp, k step, cp.async pipeline depth), a split of k where not batched,
   as WMMA calls or as ldmatrix + mma.sync; on a target naming sm_90 or sm_90a a function
   that is exactly such a matmul first draws among the warpgroup-MMA blocks
   (:data:`~mlc.schedules.gpu.wgmma.WGMMA_TILES`, ``sch.wgmma_gemm``) and none;
1. **multi-level tiling** of a reduction with reuse (a read that some spatial
   iterator does not index: matmul, batch matmul, conv): spatial loops in four
   levels ``S0 S1 S2 S3`` (grid blocks, threads, and a per-thread register tile
   of two levels), reduction loops in two (``R0 R1``), ordered
   ``S0 S1 R0 R1 S2 S3``; ``S0`` fused onto ``blockIdx.x``, ``S1`` onto
   ``threadIdx.x``; the accumulator in a ``local`` buffer written back at the
   thread level (elementwise consumers inlined into the write-back); with a
   sampled choice, every read staged in ``shared`` memory per ``R0`` step
   (``cache_read`` + ``compute_at``), fetched cooperatively by the block's
   threads with a sampled vector width; a sampled unroll of ``R1``;
2. **row reductions** (sums, max, the parts of softmax): the default rules' reduction
   rule with its choices drawn uniformly (:func:`~mlc.schedules.gpu.default.gpu_reduction`):
   either one block per output element whose sampled number of threads (a power of
   two) reduce it together — a cross-thread reduction, lowered to warp shuffles — or
   one thread per output element with a sampled number of threads per block;
3. **elementwise** (and anything else with loops): the default rules' elementwise rule
   with its choices drawn uniformly (:func:`~mlc.schedules.gpu.default.gpu_spatial`): all
   loops fused, split by a sampled number of threads per block, with a sampled vector
   width (4 or 2 lanes where it divides the size, or none).

Every point respects the device's limits (:class:`GpuInfo`, from the target's
:class:`~mlc.target.DeviceLimits`: threads per block,
shared memory per block, and a bound on the per-thread accumulator so that tiles
stay in registers): a point over a limit is refused here, before anything is
built, with a :class:`ResourceLimitError` that says which limit; the search
drops it and samples another. The GPU backend checks the same limits again
when it compiles (a candidate over them is a recorded build error).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...errors import MLCError
from ...ir.expr import Var
from ...ir.functor import pre_order_nodes
from ...ir.tir import Block
from ...target import DeviceLimits
from ..schedule import Schedule
from ..default.cpu import inline_injective
from ..default.patterns import constant_extent, is_canonical, view, view_by_name
from .default import THREAD_CHOICES, gpu_reduction, gpu_spatial, gpu_tensor_core_matmul, wgmma_rule
from ..default.steps import attempt

__all__ = ["gpu_space", "GpuInfo", "ResourceLimitError", "THREAD_CHOICES", "uniform_knob"]

_LIMITS = DeviceLimits()
#: vector widths of elementwise threads and cooperative fetches
VECTOR_CHOICES = (1, 2, 4)


class ResourceLimitError(MLCError):
    """A sampled point needs more of the GPU than it has (threads, shared memory, registers)."""


@dataclass(frozen=True)
class GpuInfo:
    """What the GPU space must respect: threads per block, static shared memory per block
    in bytes, and the elements of a thread's accumulator tile (more would spill registers)."""
    max_threads: int = _LIMITS.max_threads_per_block
    max_shared_bytes: int = _LIMITS.max_shared_memory_per_block
    max_local_elements: int = 128
    warp: int = _LIMITS.warp_size
    #: shared memory per block with the opt-in (the tensor-core pipelines' tiles)
    max_dynamic_shared_bytes: int = _LIMITS.max_dynamic_shared_memory_per_block
    #: the architecture the target names ("sm_90", "sm_90a": the wgmma blocks join the
    #: tensor-core choices; a target naming none keeps the space the same on every machine)
    arch: str = ""
    #: the target itself, for the default rules' space (None: a GPU of the default limits)
    target: object = field(default=None, compare=False, repr=False)

    @staticmethod
    def from_target(target) -> GpuInfo:
        """The limits of ``target``'s GPU, as its kind registers them (:attr:`mlc.target.Target.limits`)."""
        limits = target.limits
        return GpuInfo(limits.max_threads_per_block, limits.max_shared_memory_per_block,
                       warp=limits.warp_size, max_dynamic_shared_bytes=limits.max_dynamic_shared_memory_per_block,
                       arch=getattr(target, "arch", "") or "", target=target)


def _names(func) -> list[str]:
    return [n.name_hint for n in pre_order_nodes(func.body) if isinstance(n, Block) and n.name_hint != "root"]


def _plain(v) -> list[str] | None:
    """The block's iterator kinds when its loops bind them one to one, with constant extents."""
    if not is_canonical(v) or any(constant_extent(f) is None or constant_extent(f) < 1 for f in v.loops):
        return None
    return [iv.iter_type for iv in v.block.iter_vars]


def _has_reuse(v) -> bool:
    """Some read of the block does not depend on some spatial iterator: a tile of the output
    reuses its data (matmul's A along j), which is what shared staging and register tiles pay for."""
    spatial = [iv.var for iv in v.block.iter_vars if iv.iter_type == "spatial"]
    for region in v.block.reads:
        used = {id(n) for r in region.region for n in pre_order_nodes(r.min) if isinstance(n, Var)}
        if any(id(var) not in used for var in spatial):
            return True
    return False


def _check(what: str, need: int, limit: int, name: str) -> None:
    if need > limit:
        raise ResourceLimitError(f"GPU space: block {name!r} would use {need} {what}; the GPU allows {limit} "
                                 "— this point is refused before it is built")


def _pick(sch, choices: list[int]) -> int:
    return int(choices[int(sch.sample_categorical(list(range(len(choices))), [1.0] * len(choices)))]) \
        if len(choices) > 1 else choices[0]


# ----------------------------------------------------------------- the rules

def uniform_knob(sch: Schedule, name: str, options: list[int], default: int) -> int:
    """A default rule's open decision drawn uniformly (the generic space's draws)."""
    return int(sch.sample_categorical(options, [1.0] * len(options)))


def _tensor_core(sch: Schedule, func_name: str, name: str, info: GpuInfo):
    """A float16 matmul on tensor cores: the default rule's, its choices drawn (rule 0)."""
    return gpu_tensor_core_matmul(sch, func_name, name, info.max_threads, uniform_knob,
                                  info.max_dynamic_shared_bytes)


def _tile(sch: Schedule, func_name: str, name: str, info: GpuInfo):
    """Multi-level tiling with shared staging (rule 1 of the module docstring)."""
    v = view_by_name(sch.mod[func_name], name)
    kinds = _plain(v)
    if kinds is None or not v.block.is_reduction or "spatial" not in kinds or not _has_reuse(v):
        return None
    block = sch.get_block(name, func_name)
    loops = sch.get_loops(block)
    spatial = [n for n, k in enumerate(kinds) if k == "spatial"]
    reduce = [n for n, k in enumerate(kinds) if k != "spatial"]
    factors = [sch.sample_perfect_tile(loop, n=4, max_innermost_factor=4) if kinds[n] == "spatial" else
               sch.sample_perfect_tile(loop, n=2, max_innermost_factor=32) for n, loop in enumerate(loops)]
    sizes = [[int(f) for f in tiles] for tiles in factors]
    threads = math.prod(sizes[n][1] for n in spatial)
    _check("threads per block", threads, info.max_threads, name)          # refused before any split
    _check("accumulator elements per thread", math.prod(sizes[n][2] * sizes[n][3] for n in spatial),
           info.max_local_elements, name)
    levels = [sch.split(loop, factors=tiles) for loop, tiles in zip(loops, factors)]
    s = [[levels[n][lvl] for n in spatial] for lvl in range(4)]
    r = [[levels[n][lvl] for n in reduce] for lvl in range(2)]
    sch.reorder(*(s[0] + s[1] + r[0] + r[1] + s[2] + s[3]))
    write = sch.cache_write(block, 0, "local")
    sch.reverse_compute_at(write, s[1][-1])
    for consumer in sch.get_consumers(write):
        attempt(sch, lambda t: t.reverse_compute_inline(consumer) or True)
    bx = sch.fuse(*s[0]) if len(s[0]) > 1 else s[0][0]
    tx = sch.fuse(*s[1]) if len(s[1]) > 1 else s[1][0]
    sch.bind(bx, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")
    stage = int(sch.sample_categorical([0, 1], [0.25, 0.75]))
    if stage:
        used = [0]  # bytes of shared memory the staged reads take so far
        for index in range(len(v.block.reads)):
            attempt(sch, _stage, block, index, r[0][-1], 2 + len(reduce), threads, used, info, name)
    if int(sch.sample_categorical([0, 1], [0.5, 0.5])):
        for loop in r[1]:
            sch.unroll(loop)
    attempt(sch, lambda t: t.decompose_reduction(block, r[0][0]) or True)
    return True


def _stage(sch: Schedule, block, index: int, anchor, above: int, threads: int, used: list[int],
           info: GpuInfo, name: str):
    """Stage read ``index`` of ``block`` in shared memory under loop ``anchor`` (``above`` loops
    deep: blockIdx, threadIdx, the R0 loops), fetched by the block's ``threads`` together with
    a sampled vector width; None (undone) when the tile is a single element."""
    cache = sch.cache_read(block, index, "shared")
    sch.compute_at(cache, anchor)
    fetch = sch.get_loops(cache)[above:]
    cv = view(sch, cache)
    extents = [constant_extent(f) for f in cv.loops[above:]]
    if not fetch or None in extents:
        return None
    size = math.prod(extents)
    nbytes = size * np.dtype(cv.block.writes[0].buffer.dtype).itemsize
    _check("bytes of shared memory", used[0] + nbytes, info.max_shared_bytes, name)
    fused = sch.fuse(*fetch) if len(fetch) > 1 else fetch[0]
    # a vector is a run of one row of the tile: its width divides the row and the fetch
    widths = [w for w in VECTOR_CHOICES if extents[-1] % w == 0 and size % (threads * w) == 0] or [1]
    width = _pick(sch, widths)
    if width > 1:
        _, ftx, vec = sch.split(fused, [None, threads, width])
        attempt(sch, lambda t: t.vectorize(vec) or True)
    else:
        _, ftx = sch.split(fused, [None, threads])
    sch.bind(ftx, "threadIdx.x")
    used[0] += nbytes  # counted once the staging stands (a refused step is undone)
    return True


def _rows(sch: Schedule, func_name: str, name: str, info: GpuInfo):
    """A reduction: the default rule's, its choices drawn (rule 2)."""
    v = view_by_name(sch.mod[func_name], name)
    if _plain(v) is None:
        return None
    return gpu_reduction(sch, func_name, name, info.max_threads, uniform_knob)


def _elementwise(sch: Schedule, func_name: str, name: str, info: GpuInfo):
    """Every other block with loops: the default rule's, its choices drawn (rule 3)."""
    return gpu_spatial(sch, func_name, name, info.max_threads, uniform_knob)


#: The rules, in the order they are tried on each block.
GPU_SPACE_RULES = (_tensor_core, _tile, _rows, _elementwise)


def gpu_space(sch: Schedule, func_name: str, info: GpuInfo) -> None:
    """The GPU design space for function ``func_name`` of ``sch`` (in place); a point over the
    GPU's limits raises :class:`ResourceLimitError`."""
    inline_injective(sch, func_name, None)  # the CPU's rule; it does not look at the CPU
    if wgmma_rule(sch, func_name, info.arch, uniform_knob):
        return
    for name in _names(sch.mod[func_name]):
        if name not in _names(sch.mod[func_name]):
            continue
        v = view_by_name(sch.mod[func_name], name)
        if any(f.kind == "thread_binding" for f in v.loops) or name.endswith(("_local", "_shared")):
            continue  # placed under a kernel by an earlier rule (a write-back, a fetch)
        for rule in GPU_SPACE_RULES:
            if attempt(sch, rule, func_name, name, info) is not None:
                break
