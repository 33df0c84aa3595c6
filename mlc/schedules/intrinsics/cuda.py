"""CUDA tensor-core intrinsics: 16x16x16 tiles with float16 inputs and float32 accumulators,
as WMMA calls or as PTX ``ldmatrix`` + ``mma.sync`` (:data:`VARIANTS`).

Five intrinsics cover a tensor-core matmul, each a warp-wide operation on a
16 x 16 tile held in a *fragment* (a buffer of scope ``wmma.matrix_a``,
``wmma.matrix_b`` or ``wmma.accumulator``, per warp)::

    wmma_fill_16x16x16_f32      C_frag[i, j] = 0                      (the init)
    wmma_load_a_16x16x16_f16    A_frag[i, k] = A_shared[i, k]         (shared -> fragment)
    wmma_load_b_16x16x16_f16    B_frag[k, j] = B_shared[k, j]
    wmma_sync_16x16x16_f16f32   C_frag[i, j] += f32(A_frag[i, k]) * f32(B_frag[k, j])
    wmma_store_16x16x16_f32     C[i, j] = C_frag[i, j]                (fragment -> global)

Each implementation is one ``T.call_extern`` of an ``mlc_wmma_*`` function that
the cuda backend renders as ``nvcuda::wmma`` calls and its emulator runs with
the fragment semantics (:mod:`mlc.backends.cuda.wmma`). A tile is handed over
as the addresses of its first and last elements, ``[0, 0]`` and ``[15, 15]``:
from their distance the call finds the row stride (the ``ldm`` of
``load_matrix_sync``) after buffers are flattened, and the buffer passes see
the whole tile between them::

    T.call_extern("int32", "mlc_wmma_load_a_16x16x16_f16",
                  T.address_of(A_frag[0, 0]), T.address_of(A_frag[15, 15]),
                  T.address_of(A_shared[0, 0]), T.address_of(A_shared[15, 15]))

The implementations' buffers are declared with strides ``(ldm, 1)``, so a
tile of a wider buffer (a row of a shared tile, a warp's part of the
accumulator) is tensorized as it is.

The ``mma_*`` intrinsics (same descriptions) are implemented by the
backend's ``mlc_mma_*`` functions: ``ldmatrix`` from shared memory and two
``mma.sync.aligned.m16n8k16`` per step, fragments in each thread's registers.

A matmul is tensorized with them after ``cache_read``/``cache_write`` into the
wmma scopes and ``decompose_reduction``; every thread of a warp runs the call
(no ``threadIdx.x`` loop around it).
"""
from __future__ import annotations

import functools

from ...ir.buffer import Buffer, decl_buffer
from ...ir.expr import FloatImm, IterVar, Range, Var, const
from ...ir.extern import address_of, call_extern
from ...ir.tir import Block, BlockRealize, BufferStore, Evaluate, For
from ...errors import ScheduleError
from ..tensor_intrin import TensorIntrin
from ._ir import intrin_func, point_region, whole_region

__all__ = ["schedule_wmma_matmul", "SHARED_ALIGN", "WMMA_FILL", "WMMA_LOAD_A", "WMMA_LOAD_B", "WMMA_SYNC", "WMMA_STORE", "WMMA_TILE", "VARIANTS"]

#: The tile of every WMMA intrinsic here: m = n = k = 16.
WMMA_TILE = 16
WMMA_FILL = "wmma_fill_16x16x16_f32"
WMMA_LOAD_A = "wmma_load_a_16x16x16_f16"
WMMA_LOAD_B = "wmma_load_b_16x16x16_f16"
WMMA_SYNC = "wmma_sync_16x16x16_f16f32"
WMMA_STORE = "wmma_store_16x16x16_f32"


def _tile_addresses(buf) -> tuple:
    """A tile as the cuda backend's wmma functions take it: the addresses of its first and
    last elements."""
    return address_of(buf[0, 0]), address_of(buf[WMMA_TILE - 1, WMMA_TILE - 1])


def _register(name: str, params: tuple, out, value, reduce: bool, extra=()) -> None:
    """Register ``name``: description ``out[i, j] = value(i, j[, k])`` over 16 x 16 (x 16) with
    ``params`` = (name, dtype, scope) buffers; implementation one call of its extern function."""
    n = WMMA_TILE
    bufs = [decl_buffer((n, n), dtype, pname, scope) for pname, dtype, scope in params]
    loops = [Var(v) for v in ("i", "j", "k")[:3 if reduce else 2]]
    ivs = tuple(IterVar(Var("v" + lv.name), Range.from_extent(n), "reduce" if lv.name == "k" else "spatial")
                for lv in loops)
    o = bufs[out]
    val, reads = value(bufs, *(iv.var for iv in ivs))
    vi, vj = ivs[0].var, ivs[1].var
    block = Block(name.split("_")[1], ivs, tuple(reads), (point_region(o, vi, vj),), BufferStore(o, val, (vi, vj)))
    body = BlockRealize(tuple(loops), const(True, "bool"), block)
    for lv in reversed(loops):
        body = For(lv, const(0), const(n), "serial", body)
    ins = [whole_region(b) for k, b in enumerate(bufs) if k != out or reduce]
    desc = intrin_func(bufs, body, ins, (whole_region(o),))
    # strided rows: a tile of any row stride (the extern function takes it as ldm)
    ibufs = [Buffer(b.name, b.shape, b.dtype, b.scope, (Var(b.name + "_ldm"), const(1)))
             for b in bufs]
    order = [out] + [k for k in range(len(bufs)) if k != out]
    args = [a for k in order for a in _tile_addresses(ibufs[k])] + list(extra)
    impl = intrin_func(ibufs, Evaluate(call_extern("int32", "mlc_" + name, *args)),
                 [whole_region(b) for k, b in enumerate(ibufs) if k != out or reduce], (whole_region(ibufs[out]),))
    TensorIntrin.register(name, desc, impl, override=True)


def _copy(bufs, i, j):
    return bufs[0][i, j], [point_region(bufs[0], i, j)]


def _mma(bufs, i, j, k):
    a, b, c = bufs
    return (c[i, j] + a[i, k].astype("float32") * b[k, j].astype("float32"),
            [point_region(c, i, j), point_region(a, i, k), point_region(b, k, j)])


#: The intrinsics of each variant, in the order fill, load_a, load_b, sync, store: ``"wmma"``
#: (``nvcuda::wmma`` calls) and ``"mma"`` (PTX ``ldmatrix`` and two ``mma.sync.aligned.m16n8k16``
#: per 16 x 16 x 16 step, fragments in registers). Both describe the same computation.
VARIANTS = {
    "wmma": (WMMA_FILL, WMMA_LOAD_A, WMMA_LOAD_B, WMMA_SYNC, WMMA_STORE),
    "mma": ("mma_fill_16x16x16_f32", "mma_load_a_16x16x16_f16", "mma_load_b_16x16x16_f16",
            "mma_sync_16x16x16_f16f32", "mma_store_16x16x16_f32"),
}
def _fill_value(bufs, i, j):
    return FloatImm(0.0, "float32"), []


for _variant, (_fill, _load_a, _load_b, _sync, _store) in VARIANTS.items():  # each built when first asked for
    TensorIntrin.provide(_fill, functools.partial(_register, _fill, (("C", "float32", "wmma.accumulator"),), 0,
                                                  _fill_value, False, (FloatImm(0.0, "float32"),)))
    TensorIntrin.provide(_load_a, functools.partial(
        _register, _load_a, (("A", "float16", "shared"), ("F", "float16", "wmma.matrix_a")), 1, _copy, False))
    TensorIntrin.provide(_load_b, functools.partial(
        _register, _load_b, (("B", "float16", "shared"), ("F", "float16", "wmma.matrix_b")), 1, _copy, False))
    TensorIntrin.provide(_sync, functools.partial(
        _register, _sync, (("A", "float16", "wmma.matrix_a"), ("B", "float16", "wmma.matrix_b"),
                           ("C", "float32", "wmma.accumulator")), 2, _mma, True))
    TensorIntrin.provide(_store, functools.partial(
        _register, _store, (("F", "float32", "wmma.accumulator"), ("C", "float32", "global")), 1, _copy, False))


#: Elements of A and B each thread copies into shared memory a step (one 16-byte copy of
#: float16: the cuda backend's vector copy), where the tiles are whole steps.
FETCH_LANES = 8

#: storage_align of the shared tiles: rows padded to ``stride % 32 == 8`` halves (16 bytes past
#: a multiple of the 32 banks' 64 bytes), so the rows a fragment load reads start in
#: different banks; a multiple of 16 bytes, as load_matrix_sync needs.
SHARED_ALIGN = (32, 8)


def _cooperative_fetch(sch, copy, k0, elements: int, warps: int, pad: bool) -> None:
    """Copy block ``copy`` (a tile of ``elements`` into shared memory) computed per step of
    loop ``k0`` by every thread of the block: rows padded by :data:`SHARED_ALIGN` unless
    ``pad`` is False, :data:`FETCH_LANES` elements a thread a step (one 16-byte copy) where
    the tile is whole steps, the threads ``warps`` x 32 (``threadIdx.y`` x ``threadIdx.x``)."""
    sch.compute_at(copy, k0)
    if pad:
        sch.storage_align(copy, 0, 0, *SHARED_ALIGN)
    fused = sch.fuse(sch.get_loops(copy)[-2:])
    lanes = FETCH_LANES if elements % (warps * 32 * FETCH_LANES) == 0 else 1
    parts = sch.split(fused, [None, *([warps] if warps > 1 else []), 32, *([lanes] if lanes > 1 else [])])
    if lanes > 1:
        sch.vectorize(parts[-1])
        parts = parts[:-1]
    if warps > 1:
        sch.bind(parts[-2], "threadIdx.y")
    sch.bind(parts[-1], "threadIdx.x")


def _store_per_warp(sch, acc, warps: tuple[int, int], fragments: tuple[int, int]) -> list:
    """Split the store of accumulator copy ``acc`` (the block's tile) into each warp's
    (``threadIdx.y``) 16 x 16 tiles; returns the loops over a warp's tiles."""
    (wy, wz), (fi, fj) = warps, fragments
    one = wy * wz == 1
    if one and fi == 1 and fj == 1:
        return []
    r, s = sch.get_loops(acc)[-2:]
    r_parts = sch.split(r, [*([] if one else [wy]), *([fi] if fi > 1 else []), WMMA_TILE])
    s_parts = sch.split(s, [*([] if one else [wz]), *([fj] if fj > 1 else []), WMMA_TILE])
    if one:
        sch.reorder([*r_parts[:-1], *s_parts[:-1], r_parts[-1], s_parts[-1]])
        return r_parts[:-1] + s_parts[:-1]
    sch.reorder([r_parts[0], s_parts[0], *r_parts[1:-1], *s_parts[1:-1], r_parts[-1], s_parts[-1]])
    sch.bind(sch.fuse([r_parts[0], s_parts[0]]), "threadIdx.y")
    return r_parts[1:-1] + s_parts[1:-1]


def schedule_wmma_matmul(sch, block: str = "C", warps: tuple[int, int] = (2, 2),
                         func_name: str | None = None, pad: bool = True, variant: str = "wmma",
                         pipeline: bool = False, fragments: tuple[int, int] = (1, 1), k_fragments: int = 1,
                         stages: int = 2, async_copy: bool = False) -> None:
    """Schedule the matmul ``block`` of ``sch`` (``C[i, j] = sum(f32(A[i, k]) * f32(B[k, j]))``,
    float16 A and B, float32 C, M and N multiples of 16 * warps * fragments and K of
    16 * k_fragments) for tensor cores; leading batch loops (``C[b, i, j]``) are fused onto
    ``blockIdx.z``.

    A thread block computes a ``(16 * warps[0] * fragments[0]) x (16 * warps[1] *
    fragments[1])`` tile of C, each warp (``threadIdx.y``, with ``threadIdx.x`` the 32 lanes)
    ``fragments[0] x fragments[1]`` 16 x 16 tiles of it in its accumulator fragments; per
    ``16 * k_fragments``-wide step of k its threads stage A's and B's tiles in shared memory
    (rows padded by :data:`SHARED_ALIGN` unless ``pad`` is False), then, per 16 of k, each
    warp loads its ``fragments[0]`` A fragments (``wmma.matrix_a``) and ``fragments[1]`` B
    fragments (``wmma.matrix_b``) and multiplies every pair into its accumulators, stored
    to C at the end. The init, the loads, the update and the store are tensorized with the
    intrinsics of ``variant`` (:data:`VARIANTS`: ``"wmma"`` or ``"mma"``). More fragments
    a warp reuse each fragment it loads: 2 x 2 load 4 fragments for 4 products where 1 x 1
    load 2 for 1. ``pipeline=True`` software-pipelines the k loop
    (``software_pipeline_stage`` ``[0, 0, 1]``: the fetches of step k + 1 are issued with the
    tensor-core work of step k, into a second copy of each shared tile); ``stages`` > 2
    fetches ``stages - 1`` steps ahead into as many more copies, and ``async_copy=True``
    issues the fetches as ``cp.async`` (sm_80+; :mod:`mlc.passes.tir.async_copy`), so a
    step's fetches travel while the tensor cores work instead of stalling the warp on
    its loads.
    """
    if stages < 2 or (stages > 2 or async_copy) and not pipeline:
        raise ScheduleError(f"schedule_wmma_matmul: stages={stages} and async_copy={async_copy} need "
                            "pipeline=True and at least 2 stages (one step fetched ahead)")
    if variant not in VARIANTS:
        raise ScheduleError(f"schedule_wmma_matmul: variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    fill, load_a, load_b, sync, store = VARIANTS[variant]
    wy, wz = warps
    fi, fj = fragments
    c = sch.get_block(block) if func_name is None else sch.get_block(block, func_name)
    *batch, i, j, k = sch.get_loops(c)
    one = wy * wz == 1  # a single warp: no warp loop (a unit loop would not index the blocks)
    i0, *i1, i2 = sch.split(i, [None, *([] if one else [wy]), *([fi] if fi > 1 else []), WMMA_TILE])
    j0, *j1, j2 = sch.split(j, [None, *([] if one else [wz]), *([fj] if fj > 1 else []), WMMA_TILE])
    k0, *kf, k1 = sch.split(k, [None, k_fragments, WMMA_TILE] if k_fragments > 1 else [None, WMMA_TILE])
    iw, ifr = ([], i1) if one else (i1[:1], i1[1:])
    jw, jfr = ([], j1) if one else (j1[:1], j1[1:])
    sch.reorder([*batch, i0, j0, k0, *iw, *jw, *kf, *ifr, *jfr, i2, j2, k1])
    if batch:
        sch.bind(sch.fuse(batch) if len(batch) > 1 else batch[0], "blockIdx.z")
    sch.bind(i0, "blockIdx.y")
    sch.bind(j0, "blockIdx.x")
    warp = k0 if one else sch.fuse([*iw, *jw])
    if not one:
        sch.bind(warp, "threadIdx.y")
    acc = sch.cache_write(c, 0, "wmma.accumulator")
    sch.reverse_compute_at(acc, j0)
    a_shared, b_shared = sch.cache_read(c, 0, "shared"), sch.cache_read(c, 1, "shared")
    a_frag, b_frag = sch.cache_read(c, 0, "wmma.matrix_a"), sch.cache_read(c, 1, "wmma.matrix_b")
    sch.compute_at(a_frag, kf[0] if kf else warp)
    sch.compute_at(b_frag, kf[0] if kf else warp)
    tile_k = WMMA_TILE * k_fragments
    for copy, elements in ((a_shared, WMMA_TILE * wy * fi * tile_k), (b_shared, tile_k * WMMA_TILE * wz * fj)):
        _cooperative_fetch(sch, copy, k0, elements, wy * wz, pad)
    init = sch.decompose_reduction(c, k0)
    if pipeline:  # one warp, one k fragment: its fragment loads sit beside the fetches, in the compute's stage
        last = stages - 1
        sch.annotate(k0, "software_pipeline_stage", [0, last, 0, last, last] if one and not kf else [0, 0, last])
        if async_copy:
            sch.annotate(k0, "software_pipeline_async_stages", [0])
    frag_loops = _store_per_warp(sch, acc, warps, fragments)
    if fi > 1:  # A's fragments: one tensorized load per 16 rows
        frag_loops.append(sch.split(sch.get_loops(a_frag)[-2], [fi, WMMA_TILE])[0])
    if fj > 1:  # B's: one per 16 columns, the tile loop outside the rows
        rows, cols = sch.get_loops(b_frag)[-2:]
        tiles, inner = sch.split(cols, [fj, WMMA_TILE])
        sch.reorder([tiles, rows, inner])
        frag_loops.append(tiles)
    n_init = (fi > 1) + (fj > 1)
    init_loops = sch.get_loops(init)
    frag_loops += init_loops[-2 - n_init:-2]
    sch.tensorize(init_loops[-2], fill)
    sch.tensorize(sch.get_loops(a_frag)[-2], load_a)
    sch.tensorize(sch.get_loops(b_frag)[-2], load_b)
    sch.tensorize(sch.get_loops(c)[-3], sync)
    sch.tensorize(sch.get_loops(acc)[-2], store)
    # a warp's fragments live in registers only where every index of them is a constant:
    # its fragment loops unrolled (an array of fragments indexed in a loop is local memory)
    for loop in [*kf, *ifr, *jfr, *frag_loops]:
        sch.unroll(loop)
