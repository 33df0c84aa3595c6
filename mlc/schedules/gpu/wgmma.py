"""Hopper (sm_90a) float16 GEMM with warpgroup MMA: ``C = f32(A) @ f32(B)`` of float16 A (M x K)
and B (K x N) into float32 C, as one kernel written out in TIR.

A thread block of ``warpgroups`` x 128 threads computes a ``block_m x block_n`` tile of C:
warpgroup ``g`` its rows ``[g * block_m / warpgroups, ...)``, each 64 of them one
``wgmma.mma_async m64n{block_n}k16`` accumulator (``block_n / 2`` floats a thread).
Per ``block_k``-wide step of k (32 or 64) the block's threads copy A's ``block_m x
block_k`` tile and B's ``block_k x block_n`` tile into shared memory with ``cp.async``
(16 bytes a copy), into a ring of ``stages`` copies in one shared buffer (1024-byte
aligned), laid out as the MMAs' descriptors describe them:

- A K-major, its rows ``block_k`` halves (128 or 64 bytes) with the swizzle of that
  many bytes: the 16-byte chunk at unswizzled byte address ``o`` is stored at chunk
  ``(o // 16) ^ ((o // 128) % 8)`` (128-byte) or ``^ ((o // 128) % 4)`` (64-byte) of its
  row; 8 rows a swizzle atom, the stride byte offset between atoms 8 rows' bytes;
- B MN-major (``imm-trans-b``; a row-major ``B[k, n]`` has n contiguous) with the
  128-byte swizzle, in blocks of 64 columns: row ``k`` of a block is 128 bytes,
  chunk ``c`` at ``c ^ (k % 8)``; the stride byte offset 1024 (8 rows of k), the
  leading byte offset the distance between column blocks (``block_k * 128`` bytes).

With ``in_flight`` MMA batches left running (0, 1 or 2), the copies run ``depth = stages
- 1 - in_flight`` steps ahead. Step ``kt``: wait for its copies (``cp.async.wait_group
depth - 1``), make them visible to the tensor cores (``fence.proxy.async``) and to
every thread (``__syncthreads``), issue the copies of step ``kt + depth`` into the copy
step ``kt - 1 - in_flight`` read (whose MMAs every warpgroup has retired before the
barrier), then ``wgmma.fence``, ``block_k / 16`` MMAs per accumulator,
``wgmma.commit_group`` and ``wgmma.wait_group in_flight``: with one batch in flight the
tensor cores run step ``kt``'s MMAs while the threads wait for and issue step ``kt +
1``'s; with two, the threads' barrier and copies may take a step's MMA time longer before
the tensor cores run dry (the copies one step less ahead for the same stages). The
epilogue writes each thread's registers to C by the accumulator's fragment layout
(:func:`mlc.backends.cuda.wgmma.accumulator_coords`), two adjacent columns a store. The
emulator checks all of it: the descriptors against the placement, the fragment layout
against the epilogue, and that no copy overwrites a stage an MMA in flight still reads.

Persistent (``persistent = n``, the GPU's SMs): at most ``n`` blocks, as few as keep the
waves (``ceil(tiles / n)`` tiles a block: 512 tiles on 132 SMs run on 128 blocks of 4),
block ``bid`` computing tiles ``bid, bid + grid, ...`` in the banded order as one k loop of
``waves * K / block_k`` steps over one ring: the copies run ``depth`` steps ahead across
tile boundaries, so a tile's last step retires its MMAs, stores C and clears the
accumulators while the next tile's first copies are in flight (no prologue a tile, no
launch tail). Where the grid does not divide the tiles, a block's steps past its last
tile copy and compute nothing but still reach the block's barriers.

No TMA: a bulk tensor copy needs a tensor map (a 128-byte driver object made on the
host by ``cuTensorMapEncodeTiled`` for each operand's address, shape and box) passed
as a ``__grid_constant__`` kernel parameter, and an mbarrier per stage to wait on;
mlc's launch path passes only buffer pointers, and the emulator would need the bulk
copy's and the mbarrier's semantics. ``cp.async`` moves the same bytes from the threads
(what TMA would save: the address arithmetic and issue slots of 8 to 12 copies a thread
a step, and the 2-CTA multicast of cuBLAS's clusters).

>>> t = WgmmaTile(128, 128, 3, 2)
>>> t.threads, t.shared_bytes, t.shape
(256, 98304, (128, 128, 64))
"""
from __future__ import annotations

from typing import NamedTuple

from ...errors import ScheduleError
from ...ir import dtype as dt, te
from ...ir.buffer import decl_buffer
from ...ir.expr import Var, const
from ...ir.extern import address_of, call_extern
from ...ir.functor import pre_order_nodes
from ...ir.structural import structural_equal
from ...ir.tir import Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse, PrimFunc, seq
from ...passes.tir.async_copy import async_scope, commit, wait
from ...passes.tir.thread_sync import MANUAL_BARRIERS, syncthreads
from ...ir import warpgroup_mma as W
from ...target import MAX_SHARED_ATTR

__all__ = ["WgmmaTile", "WGMMA_TILES", "wgmma_matmul_func", "schedule_wgmma_matmul", "plain_matmul_shape",
           "HOPPER_SHARED_BYTES"]

_CHUNK = 8  # float16 elements of one 16-byte copy
_SWIZZLE_128B, _SWIZZLE_64B = 1, 2
#: Shared memory a block of an sm_90 GPU may opt into (227 KiB): the kernel runs only there.
HOPPER_SHARED_BYTES = 227 * 1024


class WgmmaTile(NamedTuple):
    """A thread block of the wgmma GEMM: its C tile (``block_m`` a multiple of 64 per warpgroup,
    ``block_n`` one of 64, 128, 256), the pipeline's stages (copies of the k step in shared
    memory, at least 2) and its warpgroups."""
    block_m: int = 128
    block_n: int = 128
    stages: int = 3
    warpgroups: int = 2
    in_flight: int = 1
    block_k: int = 64
    #: ``fence.proxy.async`` after each step's copies land (the PTX memory model's order
    #: between the copies' generic-proxy writes and the MMAs' reads); False only to measure it
    proxy_fence: bool = True
    #: 0: one block per C tile; n > 0: persistent, at most ``n`` blocks (the GPU's SMs), each
    #: running its tiles ``bid, bid + grid, ...`` as one k loop (module docstring)
    persistent: int = 0

    @property
    def threads(self) -> int:
        return W.WARPGROUP * self.warpgroups

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.block_m, self.block_n, self.block_k

    @property
    def shared_bytes(self) -> int:
        return 2 * self.stages * self.block_k * (self.block_m + self.block_n)

    @property
    def m_tiles(self) -> int:
        """The 64-row accumulators of a warpgroup."""
        return self.block_m // (64 * self.warpgroups)

    def check(self) -> None:
        if self.block_n not in W.WGMMA_N or self.block_m % (64 * self.warpgroups) or self.warpgroups < 1 or \
                self.in_flight not in (0, 1, 2) or self.stages < 2 + self.in_flight or self.block_k not in (32, 64) or \
                self.persistent < 0:
            raise ScheduleError(f"wgmma: tile {self} is not one the kernel has: block_n one of {W.WGMMA_N}, "
                                "block_m a multiple of 64 per warpgroup, block_k 32 or 64, in_flight 0, 1 or 2 and "
                                "at least 2 + in_flight stages, persistent 0 or a number of blocks")

    def schedule(self, sch, block: str = "C", func_name: str | None = None) -> None:
        """``sch.wgmma_gemm`` of this block (recorded in the trace)."""
        sch.wgmma_gemm(sch.get_block(block, func_name), *self)


#: The blocks the benchmarks' variant rows and the default (behind its flag) choose among,
#: largest first: CUTLASS's Hopper GEMMs use 128 x 128 and 128 x 256 tiles with two
#: consumer warpgroups. k steps of 32 (A's rows 64 bytes, the 64-byte swizzle) fit 6 stages
#: in 144 KiB (8 in 192), four (six) steps fetched ahead of the MMAs; steps of 64 halve the
#: barriers a k. Up to :data:`HOPPER_SHARED_BYTES` a block.
WGMMA_TILES = (WgmmaTile(128, 256, 6, 2, 1, 32), WgmmaTile(128, 256, 8, 2, 1, 32), WgmmaTile(128, 256, 4, 2, 1, 64),
               WgmmaTile(128, 256, 3, 2, 1, 64), WgmmaTile(256, 128, 4, 2, 1, 64), WgmmaTile(256, 128, 6, 2, 1, 32),
               WgmmaTile(128, 128, 6, 2, 1, 32), WgmmaTile(128, 128, 4, 2, 1, 64), WgmmaTile(128, 128, 3, 2, 1, 64),
               WgmmaTile(128, 128, 2, 2, 0, 64), WgmmaTile(64, 128, 4, 1, 1, 64))


def _i(v: int):
    return const(v, dt.INDEX)


def _copy(smem, to, src, at):
    """One 16-byte copy (8 float16): ``smem[to + l] = src[at[0], at[1] + l]``, a vectorized loop."""
    lane = Var("l", dt.INDEX)
    return For(lane, _i(0), _i(_CHUNK), "vectorized",
               BufferStore(smem, src[at[0], at[1] + lane], (to + lane,)))


def wgmma_matmul_func(m: int, n: int, k: int, tile: WgmmaTile = WgmmaTile(), a=None, b=None, c=None,
                      name: str = "main") -> PrimFunc:
    """The PrimFunc ``(A, B, C)`` computing ``C = f32(A) @ f32(B)`` (module docstring); ``a``,
    ``b``, ``c`` are the buffers to use as parameters (made where None). A ScheduleError where
    the tile does not divide the shape."""
    tile.check()
    bm, bn, s, bk = tile.block_m, tile.block_n, tile.stages, tile.block_k
    if m % bm or n % bn or k % bk:
        raise ScheduleError(f"wgmma: a {m}x{n}x{k} matmul is not whole {bm}x{bn}x{bk} tiles; the wgmma "
                            "kernel needs M, N and K multiples of its block (pad the operands, or use the "
                            "default tensor-core schedule)")
    A = a if a is not None else decl_buffer((m, k), "float16", "A")
    B = b if b is not None else decl_buffer((k, n), "float16", "B")
    C = c if c is not None else decl_buffer((m, n), "float32", "C")
    threads = tile.threads
    kt_count = k // bk
    a_stage, b_stage = bm * bk, bk * bn
    # A's rows are bk halves (64 or 128 bytes): the swizzle of that many bytes, 8 rows an atom
    a_mode, a_row_bytes = (_SWIZZLE_128B, 128) if bk == 64 else (_SWIZZLE_64B, 64)
    b_base = s * a_stage
    smem = decl_buffer((s * (a_stage + b_stage),), "float16", "AB_shared", scope="shared")
    regs = bn // 2
    acc = decl_buffer((tile.m_tiles * regs,), "float32", "acc", scope="local")
    bid, tx = Var("bid", dt.INDEX), Var("tx", dt.INDEX)
    # C tiles in bands of `band` tile rows, column by column within a band: the tiles
    # computed at once share rows of A and columns of B in L2
    m_blocks, n_blocks = m // bm, n // bn
    tiles = m_blocks * n_blocks
    band = next(g for g in (8, 4, 2, 1) if m_blocks % g == 0)

    def origin(t):
        """The first row and column of C tile ``t`` (the banded order)."""
        by = t // _i(band * n_blocks) * _i(band) + t % _i(band)
        bx = t % _i(band * n_blocks) // _i(band)
        return by * _i(bm), bx * _i(bn)

    lanes8 = _CHUNK

    def fetch(kt, stage, row0, col0):
        """The cp.async copies of k step ``kt`` of the tile at ``(row0, col0)`` into copy
        ``stage`` of the ring."""
        out = []
        a_per, b_per = a_stage // lanes8 // threads, b_stage // lanes8 // threads
        for i in range(a_per):
            ch = tx + _i(threads * i)
            r, c8 = ch // _i(bk // lanes8), ch % _i(bk // lanes8)
            # the 16-byte chunk's address bits [4, 7) (128-byte) or [4, 6) (64-byte swizzle) XOR
            # bits [7, 10) or [7, 9) of its unswizzled byte address r * row_bytes + c8 * 16
            phase = (r * _i(a_row_bytes) // _i(128)) % _i(a_row_bytes // 16)
            to = stage * _i(a_stage) + r * _i(bk) + (c8 ^ phase) * _i(lanes8)
            out.append(_copy(smem, to, A, (row0 + r, kt * _i(bk) + c8 * _i(lanes8))))
        for i in range(b_per):
            ch = tx + _i(threads * i)
            kr, j = ch // _i(bn // lanes8), ch % _i(bn // lanes8)
            to = (_i(b_base) + stage * _i(b_stage) + (j // _i(8)) * _i(bk * 64) + kr * _i(64)
                  + ((j % _i(8)) ^ (kr % _i(8))) * _i(lanes8))
            out.append(_copy(smem, to, B, (kt * _i(bk) + kr, col0 + j * _i(lanes8))))
        if a_stage % (lanes8 * threads) or b_stage % (lanes8 * threads):
            raise ScheduleError(f"wgmma: tile {tile}'s k step is not whole 16-byte copies for {threads} threads")
        return async_scope(seq(*out))

    def ext(name, *args):
        return Evaluate(call_extern("int32", name, *args))

    # step g of the k loop: k step g % kt_count of the block's tile g // kt_count (one tile
    # a block unless persistent), its copies in stage g % s of the ring
    g = Var("kt", dt.INDEX)
    stage = g % _i(s)
    group = tx // _i(W.WARPGROUP)
    mmas = []
    for mt in range(tile.m_tiles):
        for kk in range(bk // 16):
            a_at = stage * _i(a_stage) + (group * _i(tile.m_tiles) + _i(mt)) * _i(64 * bk) + _i(kk * 16)
            b_at = _i(b_base) + stage * _i(b_stage) + _i(kk * 16 * 64)
            # A: K-major, 8 rows of a_row_bytes an atom (SBO), LBO unused; B: MN-major, 8 rows of
            # k 1024 bytes apart (SBO), 64-column blocks bk * 128 bytes apart (LBO)
            mmas.append(ext(W.mma_name(bn), address_of(acc[_i(mt * regs)]), address_of(smem[a_at]),
                            address_of(smem[b_at]), 16, 8 * a_row_bytes, a_mode, 64 * bk * 2, 1024, _SWIZZLE_128B,
                            0, 1))
    if tile.persistent:
        # as many blocks as SMs at most, as few as give the same waves: every block runs `waves`
        # tiles' steps (its barriers reached by all blocks alike), the tiles bid, bid + grid, ...;
        # where the grid does not divide the tiles, a block's steps past the last tile copy and
        # compute nothing
        waves = -(-tiles // tile.persistent)
        grid = -(-tiles // waves)
        steps = _i(waves * kt_count)
    else:
        grid, steps = tiles, _i(kt_count)

    def tile_of(step):
        return bid + step // _i(kt_count) * _i(grid) if tile.persistent else bid

    def in_range(step):
        """Whether ``step`` copies anything: a step of the loop, of a tile of C."""
        if tile.persistent and tiles % grid:
            return (step < steps) & (tile_of(step) < _i(tiles))
        return step < steps

    def fetch_step(step):
        row0, col0 = origin(tile_of(step))
        return fetch(step % _i(kt_count) if tile.persistent else step, step % _i(s), row0, col0)

    depth = s - 1 - tile.in_flight  # k steps fetched ahead of the one computed
    ahead = g + _i(depth)
    acc_regs = (address_of(acc[_i(0)]), tile.m_tiles * regs)
    v = Var("v", dt.INDEX)
    init = For(v, _i(0), _i(tile.m_tiles * regs), "unrolled", BufferStore(acc, const(0.0, "float32"), (v,)))
    # epilogue: register e = mt * regs + v of thread tx holds C[row, col] (the fragment layout)
    lane, warp = tx % _i(32), (tx % _i(W.WARPGROUP)) // _i(32)
    mt_v, pair, half = Var("mt", dt.INDEX), Var("p", dt.INDEX), Var("h", dt.INDEX)
    e = pair * _i(2) + half  # registers 2p and 2p + 1 hold adjacent columns: one 8-byte store
    row0, col0 = origin(tile_of(g))
    row = (row0 + (group * _i(tile.m_tiles) + mt_v) * _i(64) + warp * _i(16) + lane // _i(4)
           + (pair % _i(2)) * _i(8))
    col = col0 + (pair // _i(2)) * _i(8) + (lane % _i(4)) * _i(2) + half
    store = For(mt_v, _i(0), _i(tile.m_tiles), "unrolled", For(pair, _i(0), _i(regs // 2), "unrolled", For(
        half, _i(0), _i(2), "vectorized", BufferStore(C, acc[mt_v * _i(regs) + e], (row, col)))))
    step_body = [wait(depth - 1), *([ext(W.PROXY_FENCE)] if tile.proxy_fence else []), syncthreads(),
                 IfThenElse(in_range(ahead), fetch_step(ahead)), commit()]
    compute = [ext(W.FENCE), *mmas, ext(W.COMMIT), ext(W.WAIT, tile.in_flight, *acc_regs)]
    if tile.persistent:
        # a tile's last step: retire its MMAs, store and clear the accumulators while the copies
        # of the next tile's first steps (issued by the steps before) are in flight
        compute.append(IfThenElse(g % _i(kt_count) == _i(kt_count - 1), seq(
            *([ext(W.WAIT, 0, *acc_regs)] if tile.in_flight else []), store, init)))
        if tiles % grid:
            compute = [IfThenElse(tile_of(g) < _i(tiles), seq(*compute))]
    main = For(g, _i(0), steps, "serial", seq(*step_body, *compute))
    if tile.persistent:
        prologue = [seq(IfThenElse(in_range(_i(p)), fetch_step(_i(p))), commit()) for p in range(depth)]
        body = seq(init, *prologue, main, wait(0))
    else:
        prologue = [seq(fetch_step(_i(p)), commit()) if p < kt_count else commit() for p in range(depth)]
        last = [ext(W.WAIT, 0, *acc_regs)] if tile.in_flight else []
        body = seq(init, *prologue, main, *last, wait(0), store)
    kernel = For(tx, _i(0), _i(threads), "thread_binding", Allocate(smem, Allocate(acc, body)), "threadIdx.x")
    kernel = For(bid, _i(0), _i(grid), "thread_binding", kernel, "blockIdx.x")
    root = Block("root", (), (), (), kernel)
    return PrimFunc((A, B, C), BlockRealize((), const(True, "bool"), root),
                    (("global_symbol", name), ("mlc.scheduled", "wgmma"), ("tir.noalias", True),
                     (MANUAL_BARRIERS, True), (MAX_SHARED_ATTR, HOPPER_SHARED_BYTES)))


def schedule_wgmma_matmul(sch, block: str = "C", func_name: str | None = None, tile: WgmmaTile = WgmmaTile()) -> None:
    """Replace function ``func_name`` of ``sch``, a float16 matmul ``C[i, j] += f32(A[i, k]) *
    f32(B[k, j])`` and nothing else (parameters A, B, C), by :func:`wgmma_matmul_func` on its
    parameters. A ScheduleError where it is not such a function or the tile does not divide it."""
    name = sch._func_name(func_name, "schedule_wgmma_matmul")
    func = sch.mod[name]
    sch.get_block(block, name)
    ext = plain_matmul_shape(func, block)
    if ext is None:
        raise ScheduleError(f"schedule_wgmma_matmul: function {name} is not a float16 matmul C = A @ B into "
                            "float32 with parameters (A, B, C) and one block; the wgmma kernel computes only that")
    m, n, k = ext
    new = wgmma_matmul_func(m, n, k, tile, *func.params, name=func.attr("global_symbol", name))
    attrs = tuple((key, val) for key, val in func.attrs if key not in dict(new.attrs)) + new.attrs
    sch._commit(name, PrimFunc(func.params, new.body, attrs))


def plain_matmul_shape(func: PrimFunc, block: str):
    """(M, N, K) where ``func`` is exactly ``C[i, j] += f32(A[i, k]) * f32(B[k, j])`` over (A, B, C)."""
    blocks = [b for b in pre_order_nodes(func.body) if isinstance(b, Block) and b.name_hint != "root"]
    if len(blocks) != 1 or blocks[0].name_hint != block or len(func.params) != 3:
        return None
    a, b, c = func.params
    if (a.dtype, b.dtype, c.dtype) != ("float16", "float16", "float32") or len(a.shape) != 2 or \
            len(b.shape) != 2 or len(c.shape) != 2:
        return None
    try:
        (m, k), (k2, n), (m2, n2) = [[int(e.value) for e in x.shape] for x in (a, b, c)]
    except AttributeError:
        return None
    blk = blocks[0]
    if (k, m, n) != (k2, m2, n2) or blk.init is None or [r.buffer for r in blk.reads] != [a, b] or \
            [w.buffer for w in blk.writes] != [c]:
        return None
    kinds = [iv.iter_type for iv in blk.iter_vars]
    if kinds != ["spatial", "spatial", "reduce"]:
        return None
    ta, tb = te.placeholder((m, k), "float16", name="A"), te.placeholder((k, n), "float16", name="B")
    r = te.reduce_axis((0, k), name="k")
    tc = te.compute((m, n), lambda i, j: te.sum(ta[i, r].astype("float32") * tb[r, j].astype("float32"), axis=r),
                    name="C")
    want = [b for b in pre_order_nodes(te.create_prim_func([ta, tb, tc]).body)
            if isinstance(b, Block) and b.name_hint != "root"][0]
    if not structural_equal((blk.iter_vars, blk.init, blk.body), (want.iter_vars, want.init, want.body)):
        return None
    return m, n, k
