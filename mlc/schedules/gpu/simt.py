"""A warp-tiled float32 matmul on CUDA cores (the SIMT recipe): the shared-memory layouts
that :func:`~mlc.schedules.gpu.default.schedule_shared_matmul` lacks.

The shared-tiled rule gives thread ``t`` of a 16 x 16 block the 8 contiguous rows
``8 * (t // 16) + r`` and the 8 contiguous columns ``8 * (t % 16) + c`` and keeps A's tile
row-major (``A_shared[m, k]``). Per k each thread then reads 8 scalars of A 16 floats apart
(8 ``LDS``; a warp's two thread rows are 128 floats apart, in the same bank: two wavefronts
each) and 8 floats of B as 2 ``LDS.128`` 32 bytes apart (four wavefronts each): 24 shared
wavefronts a warp per 64 ``FFMA`` a thread, where an SM issues 4 warp ``FFMA`` a cycle and
serves one wavefront. Shared memory, not the pipeline depth, bounds it to about 16 / 24 of
the ``FFMA`` peak (the rows in benchmarks/results).

:func:`schedule_simt_matmul` keeps each thread's 8 x 8 register tile and changes where
things are:

- the 256 threads are 4 x 2 warps of 4 x 8 threads (a warp 32 x 64 of the 128 x 128 block),
  so a warp reads 4 distinct rows of A and 8 distinct column groups of B a step;
- A's tile is stored transposed (``A_shared[k, m]``, rows padded to 132 floats so the
  fetch's transposing stores spread over the banks): a thread's 8 rows are 2 ``LDS.128``;
- B's tile is stored permuted (``(half, thread, lane)`` for column ``8 * thread + 4 * half
  + lane``): a warp's 8 threads read 8 contiguous 16-byte vectors, no bank twice;
- the k steps of a tile are unrolled so the compiler loads step k + 1's fragments while
  step k's ``FFMA`` run (the registers' double buffering).

Per k a warp then reads 4 ``LDS.128`` of one wavefront each for its 64 ``FFMA``.

>>> SIMT_TILE
(128, 128, 16)
"""
from __future__ import annotations

from ...errors import ScheduleError
from ..default.steps import attempt
from .fetch import VECTOR_LANES, vector_fetch

__all__ = ["SIMT_TILE", "schedule_simt_matmul", "simt_fits", "SIMT_MIN_BLOCKS"]

#: The block's M, N and k step.
SIMT_TILE = (128, 128, 16)
#: Threads of a warp along M and N, warps of a block along M and N and each thread's
#: register tile side: 4 x 8 threads of 8 x 8 make a warp's 32 x 64, 4 x 2 warps the
#: block's 128 x 128.
WARP_THREADS = (4, 8)
BLOCK_WARPS = (4, 2)
REG = 8
#: The fewest 128 x 128 blocks :func:`simt_fits` takes (the shared-tiled rule's smaller
#: tiles keep an H100's 132 multiprocessors busier below).
SIMT_MIN_BLOCKS = 256
#: A's transposed tile rows padded by 4 floats: 16-byte aligned, and the 16 k rows of a
#: fetch's stores fall on different banks.
A_PAD = 4
#: The transposing index maps, by the number of batch axes.
_TRANSPOSE = {0: lambda m, k: (k, m), 1: lambda b, m, k: (b, k, m), 2: lambda b, c, m, k: (b, c, k, m)}


def _permute(n):
    """Column ``n`` of B (thread ``n % 128 // 8``'s half ``n % 8 // 4`` of its block's
    columns) at ``(block, half, thread, lane)``."""
    return (n // 128, n % 8 // 4, n % 128 // 8, n % 4)


_PERMUTE = {0: lambda k, n: (k, *_permute(n)), 1: lambda b, k, n: (b, k, *_permute(n)),
            2: lambda b, c, k, n: (b, c, k, *_permute(n))}


def simt_fits(m: int, n: int, k: int, batch: int = 1) -> bool:
    """Whether :func:`schedule_simt_matmul` takes a ``batch`` of ``m x k @ k x n``: whole
    blocks and k steps, and at least :data:`SIMT_MIN_BLOCKS` blocks.

    >>> simt_fits(4096, 4096, 4096), simt_fits(512, 512, 512, 64), simt_fits(100, 128, 16)
    (True, True, False)
    """
    bm, bn, bk = SIMT_TILE
    return m % bm == 0 and n % bn == 0 and k % bk == 0 and batch * (m // bm) * (n // bn) >= SIMT_MIN_BLOCKS


def schedule_simt_matmul(sch, block, stages: int = 3, transpose_a: bool = True, permute_b: bool = True,
                         unroll_k: bool = True):
    """Warp-tile matmul ``block`` (``C[..., i, j] += A[..., i, k] * B[..., k, j]``, batch loops
    on ``blockIdx.z``) in 128 x 128 blocks of 256 threads as the module describes, its k loop
    ``stages`` deep (``cp.async`` for ``stages > 1``). Returns the block that writes the
    accumulators back. ``transpose_a``, ``permute_b`` and ``unroll_k`` False leave out each
    change (to measure each alone).

    >>> import mlc
    >>> from mlc import te
    >>> A = te.placeholder((128, 32), "float32", name="A")
    >>> B = te.placeholder((32, 128), "float32", name="B")
    >>> r = te.reduce_axis((0, 32), name="k")
    >>> C = te.compute((128, 128), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), name="C")
    >>> sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B, C])}))
    >>> _ = schedule_simt_matmul(sch, sch.get_block("C"))
    """
    if stages < 1:
        raise ScheduleError(f"schedule_simt_matmul: stages={stages}: expected at least 1 (1: ordinary loads)")
    wi, wj = WARP_THREADS
    bi, bj = BLOCK_WARPS
    threads = wi * wj * bi * bj
    ks = SIMT_TILE[2]
    local_cache = sch.cache_write(block, 0, "local")
    *batch, i, j, k = sch.get_loops(block)
    i0, ib, iw, ri = sch.split(i, [None, bi, wi, REG])
    j0, jb, jw, rj = sch.split(j, [None, bj, wj, REG])
    k0, k1 = sch.split(k, [None, ks])
    sch.reorder(*batch, i0, j0, ib, jb, iw, jw, k0, k1, ri, rj)
    sch.reverse_compute_at(local_cache, jw)
    tx = sch.fuse(ib, jb, iw, jw)
    if batch:
        sch.bind(sch.fuse(*batch) if len(batch) > 1 else batch[0], "blockIdx.z")
    sch.bind(i0, "blockIdx.y")
    sch.bind(j0, "blockIdx.x")
    sch.bind(tx, "threadIdx.x")
    nb = len(batch)
    for index in (0, 1):
        cache = sch.cache_read(block, index, "shared")
        transposed = index == 0 and transpose_a
        sch.compute_at(cache, k0)
        fused = sch.fuse(*sch.get_loops(cache)[-2:])
        if transposed or (ks * 128) % (threads * VECTOR_LANES) or attempt(sch, vector_fetch, fused, threads) is None:
            _, fetch_tx = sch.split(fused, [None, threads])
            sch.bind(fetch_tx, "threadIdx.x")
        if transposed:  # A_shared[..., k, m], rows padded
            sch.transform_layout(cache, ("write", 0), _TRANSPOSE[nb])
            sch.storage_align(cache, 0, nb, 32, A_PAD)
        if index == 1 and permute_b:
            sch.transform_layout(cache, ("write", 0), _PERMUTE[nb])
    sch.decompose_reduction(block, k0)
    if unroll_k:
        sch.unroll(k1)
    if stages > 1:
        sch.annotate(k0, "software_pipeline_stage", [0, 0, stages - 1])
        sch.annotate(k0, "software_pipeline_async_stages", [0])
    return local_cache
