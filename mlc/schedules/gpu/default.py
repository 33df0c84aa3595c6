"""The default GPU schedule: every block of an unscheduled function gets threads.

:func:`schedule_gpu` first inlines elementwise intermediates into their
consumers (``inline_injective``, as on the CPU). A function of row reductions
(one value per row) feeding one elementwise output over the same rows (softmax,
layer_norm) becomes one kernel, a block per row with the row in shared memory
(:func:`gpu_rows`);
any other gives each remaining block, in program order, the first rule that
takes it:

0. ``gpu_tensor_core_matmul`` — float32 ``C[i, j] += f32(A[i, k]) * f32(B[k, j])``
   of float16 A and B with M, N, K multiples of 16, batched or not (batch loops
   on ``blockIdx.z``): tensor cores (WMMA), blocks of :data:`TENSOR_CORE_TILES`
   (:func:`tensor_core_tile`: 128 x 128 blocks of 2 x 2 warps, each computing 4 x 4
   tiles of 16 x 16, k steps of 32 fetched by a 3-stage ``cp.async`` pipeline, where
   the shape allows), else one warp per 16 x 16 tile of C, 4, 2 or 1 warps along each
   of M and N (:func:`~mlc.schedules.intrinsics.cuda.schedule_wmma_matmul`); where the
   tiles leave fewer than :data:`SPLIT_K_MIN_BLOCKS` thread blocks and k is long,
   split-K (:func:`split_k`: the parts of k a batch of partial sums, then their sum);
1. ``gpu_matmul`` — ``C[i, j] += A[i, k] * B[k, j]`` shapes (two spatial
   loops, one reduction, at least a 32 x 32 output; batch loops in front go on
   ``blockIdx.z``, an elementwise epilogue into the write-back): the course's
   shared-memory blocking, sized by :func:`matmul_tile` — 16 x 16 threads per
   block with an 8 x 8 register tile each (``local`` accumulator) and 128 x 16 /
   16 x 128 tiles of A and B fetched cooperatively into ``shared`` per k-step
   (16-byte ``cp.async`` where aligned, :data:`MATMUL_STAGES` deep) for large
   outputs; 64 x 64 and the course's 32 x 32 blocks (8 x 8 threads, 4 x 4 each)
   where the large tiles would leave too few blocks; split-K as rule 0 where no
   epilogue is to be fused;
2. ``gpu_reduction`` — other reductions over 64 elements or more: one block
   per output element (spatial loops fused onto ``blockIdx.x``), the
   reduction split over ``threadIdx.x`` (a power of two up to 256) and
   combined across threads (a cross-thread reduction);
3. ``gpu_spatial`` — everything else (short reductions included): all loops
   fused, split by the thread count, bound to ``blockIdx.x`` x ``threadIdx.x``;
   a spatial block whose size is a multiple of 4 gives each thread 4
   consecutive elements in a ``vectorized`` loop (``float4`` loads and stores)
   where ``vectorize`` can prove the lanes independent, one element otherwise.

The rules read the target's :class:`~mlc.target.DeviceLimits`: reductions, rows and
elementwise blocks take at most its threads per block and rows at most its shared
memory; the tile rules apply only on a GPU whose limits hold their tiles (512 threads
and 48 KiB of shared memory for the tensor-core tiles, 256 and 16 KiB for the
matmul's), and the tensor-core rule only where the target's kind has the ``"wmma"`` key
(its calls are one backend's external functions).

On a Hopper target (``cuda -arch=sm_90`` or ``sm_90a``, or ``cuda`` on an H100 or H200)
and with :data:`WGMMA_DEFAULT` set, a function that is exactly a float16 matmul into float32
(``C = A @ B``, parameters A, B, C, no epilogue) whose shape a block of :data:`WGMMA_TILES`
divides becomes the warpgroup-MMA kernel instead (:mod:`.wgmma`; :func:`wgmma_tile`
picks the block). On by default: its benchmark rows lead the tensor-core rule's.

A rule whose primitive refuses is undone (:func:`.steps.attempt`) and the
next one tried; the last rule applies to any block with loops. A block the
rules cannot bind stays as it is (a reduction whose combiner no cross-thread
reduction knows, into a 0-d output): the CUDA backend runs it as a kernel of one
thread, with a :class:`~mlc.errors.PerformanceWarning` that names the statement
where it has more than 64 loop iterations. Never a silently single-threaded kernel.

Every decision a rule takes is a named choice with its default (:func:`~.steps.decide`):
``wgmma.tile``, ``tensor_core.tile``, ``tensor_core.split_k``, ``tensor_core.intrinsics``,
``matmul.tile``, ``matmul.split_k``, ``matmul.simt``, ``matmul.stages``, ``rows.threads``,
``reduction.threads``, ``elementwise.vector``, ``elementwise.threads``. Without ``knobs``
each takes its default and nothing is sampled; :func:`mlc.tune.space.gpu_rules_space`
samples them, so the default schedule is the point of that space taking every default
(``mlc.tune.space.default_point``) and tuning starts from it.

A function an op wrote by hand (a sort, a scan, a factorization) has no
blocks for these rules: :data:`GPU_RULES` gives it its op's GPU kernel, or
runs its batch loops one per thread (:mod:`.gpu_hand_written`).

>>> import mlc
>>> from mlc import te
>>> A = te.placeholder((1000,), "float32", "A")
>>> B = te.compute((1000,), lambda i: A[i] * 2, "B")
>>> sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
>>> schedule_gpu(sch, "main")
>>> print(sch.mod["main"].script().count("thread_binding"))
2
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ...ir import dtype as dt
from ...ir.arith import uses_any
from ...errors import ScheduleError
from ...ir.expr import IntImm
from ...passes.tir.cross_thread_reduction import cross_thread_reducible
from ...target import DeviceLimits, Target
from ..intrinsics.cuda import WMMA_TILE, schedule_wmma_matmul
from ..state import all_blocks
from ..default.cpu import inline_injective
from .hand_written import hand_written_for_gpu
from .wgmma import WGMMA_TILES, WgmmaTile, plain_matmul_shape
from .fetch import VECTOR_LANES, vector_fetch
from .simt import schedule_simt_matmul, simt_fits
from ..default.patterns import is_canonical, view
from ..default.rules import TargetRules
from ..default.steps import Knobs, attempt, decide

__all__ = ["schedule_gpu", "GPU_RULES", "GPU_BLOCK_RULES", "THREADS", "VECTOR_LANES", "MATMUL_TILES", "MIN_BLOCKS",
           "matmul_tile", "schedule_shared_matmul", "TENSOR_CORE_TILES", "TENSOR_CORE_MIN_BLOCKS",
           "TENSOR_CORE_WARPS", "tensor_core_tile", "split_k", "split_k_factor", "split_k_factors", "wgmma_rule", "SPLIT_K_MIN_BLOCKS", "tensor_core_matmul_extents", "tensor_core_tiles", "TensorCoreTile", "TENSOR_CORE_VARIANTS",
           "MATMUL_STAGES", "MATMUL_STAGE_CHOICES", "THREAD_CHOICES", "thread_choices", "TENSOR_CORE_INTRINSICS", "gpu_rows", "ROW_SHARED_BYTES", "WGMMA_DEFAULT", "WGMMA_ARCHS", "wgmma_tile", "target_arch"]

#: Threads per block of the elementwise rule.
THREADS = 256
#: The threads per block a design space may give the row, reduction and elementwise rules
#: instead of their defaults (powers of two, at most the GPU's limit).
THREAD_CHOICES = (32, 64, 128, 256, 512, 1024)
#: The tensor-core intrinsics a design space may use (mlc.schedules.intrinsics.cuda.VARIANTS);
#: the default rule's is the first.
TENSOR_CORE_INTRINSICS = ("wmma", "mma")
#: Reductions shorter than this run in one thread each (the spatial rule).
MIN_CROSS_THREAD = 64
#: The longest row (in bytes) gpu_rows keeps in shared memory: 4096 float32, a quarter of
#: an H100's shared memory per block of 256 threads at full occupancy.
ROW_SHARED_BYTES = 16384
class TensorCoreTile(NamedTuple):
    """A block of the tensor-core rule: warps along M and N, 16 x 16 fragments a warp along
    M and N, k fragments (16 each) a shared-memory step, software-pipeline stages (1: none)
    and whether the fetches are ``cp.async`` (:func:`schedule_wmma_matmul`)."""
    warps: tuple[int, int]
    fragments: tuple[int, int]
    k_fragments: int
    stages: int = 1
    async_copy: bool = False

    @property
    def shared_bytes(self) -> int:
        """Shared memory of the block's tiles of A and B (rows padded by SHARED_ALIGN's 8
        halves), one copy per stage."""
        m, n, k = self.shape
        return max(self.stages, 1) * 2 * (m * (k + 8) + k * (n + 8))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(M, N, K) of one block's tile and k step."""
        return (WMMA_TILE * self.warps[0] * self.fragments[0], WMMA_TILE * self.warps[1] * self.fragments[1],
                WMMA_TILE * self.k_fragments)

    def schedule(self, sch, block: str, func_name: str | None = None, variant: str = "wmma") -> None:
        schedule_wmma_matmul(sch, block, self.warps, func_name, variant=variant, pipeline=self.stages > 1,
                             fragments=self.fragments, k_fragments=self.k_fragments,
                             stages=max(self.stages, 2), async_copy=self.async_copy)


#: The tensor-core rule's blocks, largest first. The first fetches with ordinary loads, k
#: steps of 64: on an H100 it ran ahead of every cp.async pipeline of the variants (3-stage k
#: steps of 32 included, CUTLASS's sm_80 recipe), whose extra shared memory costs more
#: occupancy than the overlap buys at this block size (benchmarks/results/
#: nvidia-h100-cuda-2026-11-26-gemm-variants.json; the tuner's space has the pipelines).
TENSOR_CORE_TILES = (TensorCoreTile((2, 2), (4, 4), 4), TensorCoreTile((2, 2), (4, 4), 2, 3, True),
                     TensorCoreTile((2, 4), (4, 2), 2), TensorCoreTile((2, 4), (2, 2), 2, 3, True),
                     TensorCoreTile((4, 4), (1, 1), 1))
#: What the tuner (and the benchmarks' variant rows) choose among for a tensor-core matmul:
#: the default's blocks and deeper or shallower cp.async pipelines of the large ones.
TENSOR_CORE_VARIANTS = TENSOR_CORE_TILES + (
    TensorCoreTile((2, 2), (4, 4), 4, 2, True), TensorCoreTile((2, 2), (4, 4), 4, 3, True),
    TensorCoreTile((2, 2), (4, 4), 2, 4, True), TensorCoreTile((2, 2), (4, 4), 2, 2, True),
    TensorCoreTile((2, 4), (4, 2), 2, 3, True), TensorCoreTile((2, 2), (2, 2), 2, 4, True))
#: The tensor-core rule takes a smaller block where a larger one would leave fewer thread
#: blocks than this: about one per streaming multiprocessor (132 on an H100 or H200). Each
#: larger block does so much more per fetch that fewer of them still win down to about one
#: per multiprocessor (a judgment: only 4096^3 was measured).
TENSOR_CORE_MIN_BLOCKS = 128
#: Warps along each of M and N where no block of TENSOR_CORE_TILES divides the output: the
#: most that divide it, one fragment each.
TENSOR_CORE_WARPS = (4, 2, 1)
#: The matmul rule's tiles, largest first: threads along i and j (fused on
#: ``threadIdx.x``), each thread's register tile (rows x columns) and the k step of the
#: shared tiles: the larger the tile, the more each fetch feeds (the variants' rows in
#: benchmarks/results/nvidia-h100-cuda-2026-11-26-gemm-variants.json).
MATMUL_TILES = ((16, 16, 8, 8, 16), (16, 16, 4, 4, 8), (8, 8, 4, 4, 8))
#: The matmul rule's pipeline: k steps fetched with cp.async, two steps ahead of the one
#: computed (the 128 x 128 tile's three copies of A's and B's 128 x 16 tiles are 48 KiB, the
#: static limit); within noise of two and four stages, ahead of ordinary loads (the same
#: results file).
MATMUL_STAGES = 3
#: The pipeline depths a design space may give the matmul rules (1: ordinary loads).
MATMUL_STAGE_CHOICES = (1, 2, 3)
#: The matmul rule warp-tiles (:func:`~.simt.schedule_simt_matmul`: A's shared tile
#: transposed, B's permuted, conflict-free ``LDS.128``) where :func:`~.simt.simt_fits`: on an
#: H100 well ahead of the thread-tiled rule on float32 GEMMs, batched ones and the MLP (the
#: ``simt`` rows of ``python -m benchmarks --target cuda --variants``, in benchmarks/results).
MATMUL_SIMT = True
#: The most matrices of a batch the matmul rule puts on ``blockIdx.z`` (CUDA's limit).
MAX_GRID_Z = 65535
#: The matmul rule takes the largest tile that still gives this many thread blocks
#: (a GPU's streaming multiprocessors, 132 on an H100, each want one or two).
MIN_BLOCKS = 256


def _names(sch, func_name: str) -> list[str]:
    return [loc.node.block.name_hint for loc in all_blocks(sch.mod[func_name])]


def _extents(loops_view) -> list[int] | None:
    out = []
    for f in loops_view:
        if not isinstance(f.extent, IntImm):
            return None
        out.append(f.extent.value)
    return out


def _plain(sch, block):
    """(view, kinds) when the block's loops bind its iterators one to one, else None."""
    v = view(sch, block)
    return (v, [iv.iter_type for iv in v.block.iter_vars]) if is_canonical(v) else None


def thread_choices(work: int, max_threads: int) -> list[int]:
    """The threads per block a design space may give ``work`` parallel items: those of
    :data:`THREAD_CHOICES` within ``max_threads`` and no more than a warp beyond the work.

    >>> thread_choices(200, 1024), thread_choices(5, 1024)
    ([32, 64, 128, 256], [32])
    """
    return [t for t in THREAD_CHOICES if t <= max_threads and t <= max(32, _pow2_at_least(work, 1 << 30))]


def _pow2_at_least(n: int, cap: int) -> int:
    t = 1
    while t < n and t < cap:
        t *= 2
    return t


def tensor_core_matmul_extents(sch, func_name: str, name: str) -> list[int] | None:
    """The loop extents (batch..., M, N, K) of block ``name`` where it is the tensor-core
    rule's matmul (``C[..., i, j] += f32(A[..., i, k]) * f32(B[..., k, j])`` of float16 A and
    B into float32 C, M, N and K multiples of 16), else None. The tuner's space asks too."""
    block = sch.get_block(name, func_name)
    found = _plain(sch, block)
    if found is None:
        return None
    v, kinds = found
    reads = [r.buffer.dtype for r in v.block.reads]
    if kinds[-3:] != ["spatial", "spatial", "reduce"] or "reduce" in kinds[:-3] or \
            reads != ["float16", "float16"] or v.block.init is None or v.block.writes[0].buffer.dtype != "float32":
        return None
    ext = _extents(v.loops)
    if ext is None or any(e % WMMA_TILE for e in ext[-3:]):
        return None
    return ext


def gpu_tensor_core_matmul(sch, func_name: str, name: str, max_threads: int = THREADS, knobs: Knobs | None = None,
                           max_shared: int | None = None):
    """Rule 0 (module docstring). With ``knobs`` (a design space) its decisions are open:
    ``tensor_core.tile`` (the block: any of :data:`TENSOR_CORE_VARIANTS` that divides the
    shape and fits ``max_shared`` bytes), ``tensor_core.split_k`` (the parts of k, where not
    batched) and ``tensor_core.intrinsics`` (:data:`TENSOR_CORE_INTRINSICS`), each defaulting
    to what the rule picks without them."""
    ext = tensor_core_matmul_extents(sch, func_name, name)
    if ext is None:
        return None
    m, n, k = ext[-3:]
    tile = _tensor_core_block(m, n, k, math.prod(ext[:-3]))
    if knobs is not None:
        others = [t for t in tensor_core_tiles(m, n, k, TENSOR_CORE_VARIANTS) if t != tile and
                  (max_shared is None or t.shared_bytes <= max_shared)]
        tiles = [tile, *others]
        tile = tiles[decide(sch, knobs, "tensor_core.tile", list(range(len(tiles))), 0)]
    blocks = (m // tile.shape[0]) * (n // tile.shape[1])
    splits = 1 if len(ext) > 3 else split_k_factor(blocks, k, tile.shape[2])
    if len(ext) == 3:
        splits = decide(sch, knobs, "tensor_core.split_k", split_k_factors(k, tile.shape[2]), splits)
    intrinsics = TENSOR_CORE_INTRINSICS[decide(sch, knobs, "tensor_core.intrinsics", [0, 1], 0)]
    if splits > 1:  # few blocks, a long k: each of `splits` parts of k a batch of blockIdx.z
        partial = split_k(sch, func_name, name, splits)
        _tensor_core_block(m, n, k // splits, splits).schedule(sch, partial, func_name, variant=intrinsics)
        gpu_spatial(sch, func_name, name, max_threads, knobs)  # the sum of the parts, a thread an element
        return {name, partial}
    tile.schedule(sch, name, func_name, variant=intrinsics)  # tensorize refuses what is not this matmul
    return {name}


def _tensor_core_block(m: int, n: int, k: int, batch: int) -> TensorCoreTile:
    """:func:`tensor_core_tile`, else one fragment a warp, the most warps that divide M and N."""
    tile = tensor_core_tile(m, n, k, batch)
    if tile is None:
        warps = tuple(next(w for w in TENSOR_CORE_WARPS if e % (w * WMMA_TILE) == 0) for e in (m, n))
        tile = TensorCoreTile(warps, (1, 1), 1)
    return tile


#: Whether the default schedule gives a float16 matmul on an sm_90 target the warpgroup-MMA
#: (wgmma) kernel of :mod:`.wgmma`: its benchmark rows (``python -m benchmarks --target cuda
#: hgemm --variants``, in benchmarks/results) put it well ahead of the tensor-core rule on an H100.
WGMMA_DEFAULT = True
#: The architectures whose targets can run wgmma (compute capability 9.0; the CUDA backend
#: compiles such a kernel for the architecture-specific sm_90a).
WGMMA_ARCHS = ("sm_90", "sm_90a")
#: The wgmma rule takes the largest block of WGMMA_TILES that still gives this many thread
#: blocks (about one per streaming multiprocessor), else the first that divides the shape.
WGMMA_MIN_BLOCKS = 128


def wgmma_tile(m: int, n: int, k: int, tiles=WGMMA_TILES) -> WgmmaTile | None:
    """The block of ``tiles`` for an ``m x n x k`` float16 matmul: the first whose tile divides
    the shape and gives :data:`WGMMA_MIN_BLOCKS` thread blocks, else the first that divides it;
    None where none does.

    >>> wgmma_tile(4096, 4096, 4096).shape, wgmma_tile(256, 128, 64).shape, wgmma_tile(100, 64, 64)
    ((128, 256, 64), (256, 128, 64), None)
    """
    fitting = [t for t in tiles if m % t.block_m == 0 and n % t.block_n == 0 and k % t.block_k == 0]
    for t in fitting:
        if (m // t.block_m) * (n // t.block_n) >= WGMMA_MIN_BLOCKS:
            return t
    return fitting[0] if fitting else None


def target_arch(target) -> str:
    """The architecture a build for GPU ``target`` compiles for (its kind's ``compile_arch``
    property: the one it names, else the GPU's present); "" where its kind says none."""
    getter = target.kind_info.properties.get("compile_arch") if isinstance(target, Target) else None
    return getter(target) if getter is not None else ""


def wgmma_rule(sch, func_name: str, arch: str, knobs: Knobs | None = None) -> bool:
    """Whether the function became the wgmma kernel (module docstring) on a GPU of ``arch``.
    With ``knobs`` (a design space) ``wgmma.tile`` picks any block of :data:`WGMMA_TILES`
    that divides the shape, or none (the other rules then), by default what the rule picks
    without them (:func:`wgmma_tile` where :data:`WGMMA_DEFAULT`, else none)."""
    if (not WGMMA_DEFAULT and knobs is None) or arch not in WGMMA_ARCHS:
        return False
    func = sch.mod[func_name]
    names = _names(sch, func_name)
    shapes = [p.shape for p in func.params]
    if len(names) != 1 or len(shapes) != 3 or any(len(s) != 2 or not all(isinstance(e, IntImm) for e in s)
                                                  for s in shapes):
        return False
    (m, k), (_, n) = ((e.value for e in s) for s in shapes[:2])
    tile = wgmma_tile(m, n, k) if WGMMA_DEFAULT else None
    if knobs is not None:
        tiles = [t for t in WGMMA_TILES if m % t.block_m == 0 and n % t.block_n == 0 and k % t.block_k == 0]
        if not tiles or plain_matmul_shape(func, names[0]) is None:  # the kernel would refuse it
            return False
        none = len(tiles)  # the last option: no wgmma kernel
        tile = (tiles + [None])[decide(sch, knobs, "wgmma.tile", list(range(none + 1)),
                                       none if tile is None else tiles.index(tile))]
    if tile is None:
        return False
    try:
        tile.schedule(sch, names[0], func_name)
    except ScheduleError:
        return False
    return True


#: Split-K: a matmul whose tiles give fewer thread blocks than this (a GPU's multiprocessors
#: each want one) splits its reduction into parts, computed as a batch (blockIdx.z) into a
#: float32 buffer of partial results and then summed; up to SPLIT_K_MAX parts, each at least
#: SPLIT_K_MIN_DEPTH deep (a shorter part's fetches and write-back cost more than its work).
SPLIT_K_MIN_BLOCKS = 128
SPLIT_K_MAX = 16
SPLIT_K_MIN_DEPTH = 256


def split_k_factor(blocks: int, k: int, step: int) -> int:
    """How many parts to split a reduction of ``k`` (in whole ``step``s) into, for a matmul
    whose tiles give ``blocks`` thread blocks: the smallest power of two that reaches
    :data:`SPLIT_K_MIN_BLOCKS`, within :data:`SPLIT_K_MAX` and :data:`SPLIT_K_MIN_DEPTH`.

    >>> split_k_factor(1, 4096, 32), split_k_factor(4, 1024, 32), split_k_factor(256, 4096, 32)
    (16, 4, 1)
    """
    s = 1
    while blocks * s < SPLIT_K_MIN_BLOCKS and 2 * s <= SPLIT_K_MAX and k % (2 * s * step) == 0 and \
            k // (2 * s) >= SPLIT_K_MIN_DEPTH:
        s *= 2
    return s


def split_k_factors(k: int, step: int) -> list[int]:
    """The parts a reduction of ``k`` (in whole ``step``s) may be split into: powers of two
    up to :data:`SPLIT_K_MAX`, each part at least :data:`SPLIT_K_MIN_DEPTH` deep.

    >>> split_k_factors(4096, 32), split_k_factors(256, 32)
    ([1, 2, 4, 8, 16], [1])
    """
    out = [1]
    while 2 * out[-1] <= SPLIT_K_MAX and k % (2 * out[-1] * step) == 0 and k // (2 * out[-1]) >= SPLIT_K_MIN_DEPTH:
        out.append(2 * out[-1])
    return out


def split_k(sch, func_name: str, name: str, splits: int) -> str:
    """Split the reduction of matmul block ``name`` (``C[..., i, j] += ...``, k its last loop)
    into ``splits`` parts: a new block computes each part's sums into ``C_rf[part, ..., i, j]``
    (``rfactor``; its part loop outermost, a batch loop for the matmul rules), and ``name``
    adds the parts (its part loop innermost). Returns the new block's name."""
    *outer, k = sch.get_loops(sch.get_block(name, func_name))
    k0, k1 = sch.split(k, [splits, None])
    sch.reorder(k0, *outer, k1)
    partial = sch.rfactor(k0, 0)
    part, *spatial = sch.get_loops(sch.get_block(name, func_name))
    sch.reorder(*spatial, part)
    return view(sch, partial).block.name_hint


def tensor_core_tiles(m: int, n: int, k: int, tiles=TENSOR_CORE_TILES) -> list[TensorCoreTile]:
    """The blocks of ``tiles`` whose tile divides an ``m x n x k`` matmul, in order."""
    return [t for t in tiles if m % t.shape[0] == 0 and n % t.shape[1] == 0 and k % t.shape[2] == 0]


def tensor_core_tile(m: int, n: int, k: int, batch: int = 1) -> TensorCoreTile | None:
    """The block of :data:`TENSOR_CORE_TILES` for an ``m x n x k`` float16 matmul (``batch``
    of them): the first whose tile divides the shape and still gives
    :data:`TENSOR_CORE_MIN_BLOCKS` thread blocks, else the first that divides it; None where
    none does."""
    fitting = tensor_core_tiles(m, n, k)
    for t in fitting:
        if batch * (m // t.shape[0]) * (n // t.shape[1]) >= TENSOR_CORE_MIN_BLOCKS:
            return t
    return fitting[0] if fitting else None


def gpu_matmul(sch, func_name: str, name: str, max_threads: int = THREADS, knobs: Knobs | None = None):
    """Rule 1 (module docstring). With ``knobs`` (a design space) its decisions are open:
    ``matmul.tile`` (any of :data:`MATMUL_TILES`), ``matmul.split_k`` (where no epilogue is
    to be fused), ``matmul.simt`` (the warp-tiled kernel where it fits) and ``matmul.stages``
    (:data:`MATMUL_STAGE_CHOICES`), each defaulting to what the rule picks without them."""
    block = sch.get_block(name, func_name)
    found = _plain(sch, block)
    if found is None:
        return None
    v, kinds = found
    nb = len(kinds) - 3  # batch loops in front: blockIdx.z
    if nb < 0 or kinds[nb:] != ["spatial", "spatial", "reduce"] or "reduce" in kinds[:nb] or \
            len(v.block.reads) != 2 or v.block.init is None:
        return None
    ext = _extents(v.loops)
    if ext is None or ext[nb] < 32 or ext[nb + 1] < 32 or math.prod(ext[:nb]) > MAX_GRID_Z:
        return None
    tile = matmul_tile(ext[nb], ext[nb + 1], math.prod(ext[:nb]))
    tile = MATMUL_TILES[decide(sch, knobs, "matmul.tile", list(range(len(MATMUL_TILES))), MATMUL_TILES.index(tile))]
    blocks = -(-ext[nb] // (tile[0] * tile[2])) * -(-ext[nb + 1] // (tile[1] * tile[3]))
    splits = 1
    if nb == 0 and not sch.get_consumers(block):
        splits = decide(sch, knobs, "matmul.split_k", split_k_factors(ext[-1], tile[4]),
                        split_k_factor(blocks, ext[-1], tile[4]))
    if splits > 1:  # few blocks, a long k, no epilogue to fuse: split-K, as the tensor-core rule does
        stages = decide(sch, knobs, "matmul.stages", list(MATMUL_STAGE_CHOICES), MATMUL_STAGES)
        partial = split_k(sch, func_name, name, splits)
        schedule_shared_matmul(sch, sch.get_block(partial, func_name),
                               matmul_tile(ext[0], ext[1], splits), stages=stages,
                               async_copy=stages > 1)
        gpu_spatial(sch, func_name, name, max_threads, knobs)
        return {name, partial}
    simt = simt_fits(ext[nb], ext[nb + 1], ext[-1], math.prod(ext[:nb]))
    simt = simt and decide(sch, knobs, "matmul.simt", [0, 1], int(MATMUL_SIMT))
    stages = decide(sch, knobs, "matmul.stages", list(MATMUL_STAGE_CHOICES), MATMUL_STAGES)
    if simt:
        copy = schedule_simt_matmul(sch, block, stages=stages)
    else:
        copy = schedule_shared_matmul(sch, block, tile, stages=stages, async_copy=stages > 1)
    handled = {name}
    for consumer in sch.get_consumers(copy):  # an elementwise epilogue (bias, relu) joins the write-back
        consumer_name = view(sch, consumer).block.name_hint
        if attempt(sch, lambda s: s.reverse_compute_inline(consumer) or True) is not None:
            handled.add(consumer_name)
    return handled


def schedule_shared_matmul(sch, block, tile: tuple[int, int, int, int, int], stages: int = 1,
                           async_copy: bool = False):
    """The course's shared-memory blocking of matmul ``block`` (``C[i, j] += A[i, k] *
    B[k, j]``) with ``tile`` = (threads along i, along j, each thread's rows, columns, k
    step): a ``local`` accumulator per thread, the threads fused on ``threadIdx.x``, and A's
    and B's tiles fetched cooperatively into ``shared`` per k step, a vector a thread where
    the tile is whole vector steps and ``vectorize`` proves the lanes aligned. ``stages`` > 1
    software-pipelines the k loop, fetching ``stages - 1`` steps ahead into as many more
    copies of the tiles, as ``cp.async`` where ``async_copy`` (sm_80+). Returns the block
    that writes the accumulators back."""
    if stages < 1 or async_copy and stages < 2:
        raise ScheduleError(f"schedule_shared_matmul: stages={stages}, async_copy={async_copy}: asynchronous "
                            "copies need a pipeline of at least 2 stages")
    ti, tj, ri, rj, ks = tile
    threads = ti * tj
    local_cache = sch.cache_write(block, 0, "local")
    *batch, i, j, k = sch.get_loops(block)
    i0, i1, i2 = sch.split(i, [None, ti, ri])
    j0, j1, j2 = sch.split(j, [None, tj, rj])
    k0, k1 = sch.split(k, [None, ks])
    sch.reorder(*batch, i0, j0, i1, j1, k0, k1, i2, j2)
    sch.reverse_compute_at(local_cache, j1)
    if batch:  # a batch of matmuls: one grid of tiles per matrix
        sch.bind(sch.fuse(*batch) if len(batch) > 1 else batch[0], "blockIdx.z")
    sch.bind(i0, "blockIdx.y")
    sch.bind(j0, "blockIdx.x")
    tx = sch.fuse(i1, j1)
    sch.bind(tx, "threadIdx.x")
    for index, elements in ((0, ti * ri * ks), (1, ks * tj * rj)):
        cache = sch.cache_read(block, index, "shared")
        sch.compute_at(cache, k0)
        fused = sch.fuse(*sch.get_loops(cache)[-2:])
        if elements % (threads * VECTOR_LANES) or attempt(sch, vector_fetch, fused, threads) is None:
            _, fetch_tx = sch.split(fused, [None, threads])
            sch.bind(fetch_tx, "threadIdx.x")
    sch.decompose_reduction(block, k0)
    if stages > 1:
        sch.annotate(k0, "software_pipeline_stage", [0, 0, stages - 1])
        if async_copy:
            sch.annotate(k0, "software_pipeline_async_stages", [0])
    return local_cache


def matmul_tile(m: int, n: int, batch: int = 1) -> tuple[int, int, int, int, int]:
    """The tile of :func:`gpu_matmul` for ``batch`` outputs of ``m x n``: the largest of
    :data:`MATMUL_TILES` that still gives :data:`MIN_BLOCKS` thread blocks, else the smallest."""
    for tile in MATMUL_TILES:
        ti, tj, ri, rj, _ = tile
        if batch * -(-m // (ti * ri)) * -(-n // (tj * rj)) >= MIN_BLOCKS:
            return tile
    return MATMUL_TILES[-1]


def gpu_reduction(sch, func_name: str, name: str, max_threads: int = THREADS, knobs: Knobs | None = None):
    """Rule 2 (module docstring); with ``knobs`` (a design space) ``reduction.cross_thread``
    (threads across the reduction, or one thread an output: rule 3) and ``reduction.threads``
    (:data:`THREAD_CHOICES`) are open."""
    block = sch.get_block(name, func_name)
    found = _plain(sch, block)
    if found is None:
        return None
    v, kinds = found
    if not v.block.is_reduction or "reduce" not in kinds or not cross_thread_reducible(v.realize):
        return None
    n_spatial = kinds.index("reduce")
    if any(k == "spatial" for k in kinds[n_spatial:]):
        return None
    ext = _extents(v.loops)
    if ext is None:
        return None
    reduce_size = 1
    for e in ext[n_spatial:]:
        reduce_size *= e
    cross = reduce_size >= MIN_CROSS_THREAD
    if knobs is not None and not decide(sch, knobs, "reduction.cross_thread", [1, 0], int(cross)):
        return gpu_spatial(sch, func_name, name, max_threads, knobs)  # one thread an output
    if not cross:
        return None
    loops = sch.get_loops(block)
    spatial = sch.fuse(*loops[:n_spatial]) if n_spatial > 1 else (loops[0] if n_spatial else None)
    red = sch.fuse(*loops[n_spatial:]) if len(loops) - n_spatial > 1 else loops[n_spatial]
    if spatial is not None:
        sch.bind(spatial, "blockIdx.x")
    threads = _pow2_at_least(reduce_size, min(THREADS, max_threads))
    threads = decide(sch, knobs, "reduction.threads", thread_choices(reduce_size, max_threads), threads)
    _across_threads(sch, red, threads)
    return {name}


def _across_threads(sch, loop, threads: int) -> None:
    """Reduction ``loop`` split over ``threads`` threads (``threadIdx.x``, outside), each
    summing its strided part, the parts combined across the threads (a cross-thread
    reduction, lowered to warp shuffles)."""
    outer, inner = sch.split(loop, [None, threads])
    sch.reorder(inner, outer)
    sch.bind(inner, "threadIdx.x")


def gpu_spatial(sch, func_name: str, name: str, max_threads: int = THREADS, knobs: Knobs | None = None):
    """Rule 3 (module docstring); with ``knobs`` (a design space) ``elementwise.lanes``
    (each thread's vector: :data:`VECTOR_LANES`, 2 or 1 where they divide the work) and
    ``elementwise.threads`` (:data:`THREAD_CHOICES`) are open."""
    block = sch.get_block(name, func_name)
    most = min(THREADS, max_threads)
    loops = sch.get_loops(block)
    if not loops:
        return None
    v = view(sch, block)
    reduce_values = [val for val, iv in zip(v.realize.iter_values, v.block.iter_vars) if iv.iter_type != "spatial"]
    outer = []  # the loops above the first one that drives a reduction (all, for a spatial block)
    for f, rv in zip(loops, v.loops):
        if any(uses_any(val, [rv.loop_var]) for val in reduce_values):
            break
        outer.append((f, rv))
    if not outer:
        return None
    fused = sch.fuse(*(f for f, _ in outer)) if len(outer) > 1 else outer[0][0]
    total = 1
    for _, rv in outer:
        total = total * rv.extent.value if total is not None and isinstance(rv.extent, IntImm) else None
    split = None
    choices = thread_choices(total or most, max_threads)
    widths = [w for w in (VECTOR_LANES, 2) if not reduce_values and total is not None and total % w == 0 and
              total >= 2 * w]
    lanes = decide(sch, knobs, "elementwise.lanes", widths + [1], widths[0] if VECTOR_LANES in widths else 1)
    if lanes > 1:
        # vectorize may refuse where it cannot prove the lanes independent (a tuple-valued
        # stage of 2 x 3 x 2 whose lanes cross rows): then one element a thread
        split = attempt(sch, _vector_threads, fused, max(1, min(most, total // lanes)), knobs,
                        thread_choices(total // lanes, max_threads), lanes)
    if split is None:
        threads = most if total is None else max(1, min(most, total))
        split = sch.split(fused, [None, decide(sch, knobs, "elementwise.threads", choices, threads)])
    b, t = split
    sch.bind(b, "blockIdx.x")
    sch.bind(t, "threadIdx.x")
    return {name}


def _vector_threads(sch, fused, threads: int, knobs: Knobs | None = None, choices=(), lanes: int = VECTOR_LANES):
    """``fused`` split into blocks, ``threads`` threads (or another of ``choices`` that
    ``knobs`` takes) and a vectorized loop of ``lanes`` (each thread: one aligned vector);
    the block and thread loops."""
    threads = decide(sch, knobs, "elementwise.threads", list(choices), threads)
    b, t, lanes = sch.split(fused, [None, threads, lanes])
    sch.vectorize(lanes)
    return b, t


#: The rules, in the order they are tried on each block.
GPU_BLOCK_RULES = [gpu_tensor_core_matmul, gpu_matmul, gpu_reduction, gpu_spatial]


def gpu_rows(sch, func_name: str, max_threads: int = THREADS, max_row_bytes: int = ROW_SHARED_BYTES,
             knobs: Knobs | None = None):
    """A function of row reductions feeding one elementwise output over the same rows
    (softmax, layer_norm, a row's sum and what divides by it): one kernel, a thread block
    per row. The row is fetched once into shared memory, every reduction reads it there
    and combines its threads' parts (a cross-thread reduction) into a shared result, and
    the output is computed from the shared row, so that the function reads its input and
    writes its output once (the separate kernels of the per-block rules read the input once
    per reduction). Elementwise intermediates are inlined into their readers. Rows of more
    than :data:`ROW_SHARED_BYTES` keep the per-block rules. None where the function is not
    of this form."""
    names = _names(sch, func_name)
    if len(names) < 2:
        return None
    found = _plain(sch, sch.get_block(names[-1], func_name))
    if found is None or any(k != "spatial" for k in found[1]):
        return None
    out_view = found[0]
    shape = _extents(out_view.loops)
    if shape is None or len(shape) < 2:
        return None
    cols = shape[-1]
    if not any(view(sch, sch.get_block(name, func_name)).block.is_reduction for name in names[:-1]):
        return None  # no row reduction: not this form (checked before inlining, which may be costly)
    reductions = []
    for name in names[:-1]:
        block = sch.get_block(name, func_name)
        v = view(sch, block)
        if not v.block.is_reduction:
            sch.compute_inline(block)  # (refused: not this form; the caller restores the schedule)
            continue
        kinds = [iv.iter_type for iv in v.block.iter_vars]
        ext = _extents(v.loops)
        if ext is None or kinds[-1] != "reduce" or "reduce" in kinds[:-1] or ext[-1] != cols or \
                not cross_thread_reducible(v.realize):
            return None
        # one value per row: a matmul whose K equals its N reduces over a row's length too,
        # but it has a value per row and column (a block per row would run a row's dot
        # products one after another: an MLP layer of 4096 x 1024 x 1024 took 27 ms, not 0.3)
        if [e for e in ext[:-1] if e != 1] != [e for e in shape[:-1] if e != 1]:
            return None
        reductions.append(name)
    if not reductions:
        return None
    rows_buffer = [k for k, r in enumerate(view(sch, sch.get_block(reductions[0], func_name)).block.reads)
                   if [e.value if isinstance(e, IntImm) else None for e in r.buffer.shape] == shape]
    row_bytes = cols * dt.bits(out_view.block.writes[0].buffer.dtype) // 8
    if not rows_buffer or row_bytes > min(ROW_SHARED_BYTES, max_row_bytes):
        return None
    threads = _pow2_at_least(cols, min(THREADS, max_threads))
    threads = decide(sch, knobs, "rows.threads", thread_choices(cols, max_threads), threads)
    *row_loops, col = sch.get_loops(sch.get_block(names[-1], func_name))
    row = sch.fuse(*row_loops) if len(row_loops) > 1 else row_loops[0]
    _, col_thread = sch.split(col, [None, threads])
    sch.bind(row, "blockIdx.x")
    sch.bind(col_thread, "threadIdx.x")
    for name in reversed(reductions):  # each before its readers, under the row
        block = sch.get_block(name, func_name)
        sch.compute_at(block, row)
        sch.set_scope(block, 0, "shared")  # one thread writes the row's result, all read it
    for name in reductions:
        _across_threads(sch, sch.get_loops(sch.get_block(name, func_name))[-1], threads)
    fetch = sch.cache_read(sch.get_block(reductions[0], func_name), rows_buffer[0], "shared")
    sch.compute_at(fetch, row)
    loops = sch.get_loops(fetch)[1:]
    _, fetch_thread = sch.split(sch.fuse(*loops) if len(loops) > 1 else loops[0], [None, threads])
    sch.bind(fetch_thread, "threadIdx.x")
    return set(names)


#: What each tile rule needs of a GPU: target keys, threads per block, shared memory per block.
_TILE_NEEDS = {gpu_tensor_core_matmul: ("wmma", 512, 48 * 1024), gpu_matmul: (None, 256, 16 * 1024)}


def _rules_for(target) -> tuple[list, DeviceLimits]:
    """The block rules that fit ``target`` (None: a GPU with the default limits and every
    rule) and its limits."""
    if target is None:
        return GPU_BLOCK_RULES, DeviceLimits()
    limits, keys = target.limits, target.keys
    rules = []
    for rule in GPU_BLOCK_RULES:
        key, threads, shared = _TILE_NEEDS.get(rule, (None, 0, 0))
        if (key is None or key in keys) and threads <= limits.max_threads_per_block and \
                shared <= limits.max_shared_memory_per_block:
            rules.append(rule)
    return rules, limits


def schedule_gpu(sch, func_name: str, target=None, knobs: Knobs | None = None) -> None:
    """Schedule function ``func_name`` of ``sch`` for the GPU ``target``, in place (module
    docstring). ``knobs`` (a design space, :func:`mlc.tune.space.gpu_rules_space`) takes the
    decisions the rules leave open (tiles, stages, the GEMM kernel, threads, vectors); None
    takes each one's default: the default schedule is the point of that space taking every
    default."""
    rules, limits = _rules_for(target)
    threads = limits.max_threads_per_block
    inline_injective(sch, func_name, None)  # the CPU's rule; it does not look at the CPU
    if target is not None and wgmma_rule(sch, func_name, target_arch(target), knobs):
        return
    if attempt(sch, gpu_rows, func_name, threads, limits.max_shared_memory_per_block, knobs) is not None:
        return
    handled: set[str] = set()
    for name in _names(sch, func_name):
        if name in handled:  # inlined by an earlier block's rule (a matmul's epilogue)
            continue
        for rule in rules:
            done = attempt(sch, rule, func_name, name, threads, knobs)
            if done is not None:
                handled |= done
                break


#: What a GPU backend hands the driver: :func:`schedule_gpu` for the functions nobody scheduled,
#: and the functions ops wrote by hand as their GPU kernels (:mod:`.gpu_hand_written`).
GPU_RULES = TargetRules(schedule_gpu, hand_written=hand_written_for_gpu)
