"""The default CPU schedule of an int8 matmul on an AVX-512 VNNI CPU: ``vpdpbusd`` tiles.

For ``C[i, j] += int32(A[i, k]) * int32(B[k, j])`` with int8 (or uint8) A, int8
B and int32 C, on a target with ``avx512vnni``, :func:`schedule_int8_vnni`
builds::

    B_global[j // 16, k // 4, j % 16, k % 4] = B[k, j]   # 16 columns x 4 k: one 64-byte vector
    for j_0, i_0 in T.parallel(...):                 # column panels, row tiles
        C[tile] = 0                                  # init, vectorized
        for k_0 in range(K / 4):
            for i_1 in T.unroll(MR):                 # register tile: MR x NR vectors
                for j_1 in T.unroll(NR):
                    with T.block("C_update_o"):      # tensorized: one vpdpbusd
                        T.call_extern("int32", "mlc_x86_vnni_dot_16x4_s8s8", ...)

Each 16-column panel of B is contiguous over k (a layout ``[k // 4, j, k % 4]``
puts consecutive k steps a whole row of B apart, and runs a third slower at
1024^3). The intrinsic is ``x86_vnni_dot_16x4_s8s8`` (``..._u8s8`` for uint8 A,
:mod:`mlc.schedules.intrinsics.x86`). It takes matmuls whose columns are a
multiple of 16 and whose reduction is a multiple of 4, with A's reduction
axis contiguous; anything else, and any CPU without VNNI, gets the plain
register tile of :mod:`.matmul`. The rows may be ragged (a predicate guards
the last row tile).
"""
from __future__ import annotations

from ...ir.expr import IntImm
from ..intrinsics.x86 import VNNI_GROUP, VNNI_LANES, VNNI_S8S8, VNNI_U8S8
from ..state import all_blocks
from .patterns import match_matmul, view
from .steps import CpuInfo, attempt, parallel_tiles

__all__ = ["schedule_int8_vnni", "VNNI_TILES", "VNNI_MIN_MACS"]

#: Register tiles (rows, 16-column vectors per row), best first: 4 x 4 = 16 accumulators plus
#: four B vectors and a broadcast of A, within AVX-512's 32 registers (measured 9% faster
#: than 8 x 2 on a 1024^3 int8 matmul, on Zen 5); the first whose columns divide N is used.
VNNI_TILES = ((4, 4), (8, 2), (8, 1))
#: Below this many multiply-adds the packing pass costs more than the plain tile loses.
VNNI_MIN_MACS = 1 << 15


def _intrinsic(a_dtype: str, b_dtype: str, c_dtype: str) -> str | None:
    if b_dtype != "int8" or c_dtype != "int32":
        return None
    return {"int8": VNNI_S8S8, "uint8": VNNI_U8S8}.get(a_dtype)


def schedule_int8_vnni(sch, func_name: str, name: str, cpu: CpuInfo) -> set[str] | None:
    """Tensorize an int8 matmul block with VNNI dot products (see the module docstring);
    None where it does not apply (the caller then schedules it the plain way)."""
    if not cpu.vnni:
        return None
    block = sch.get_block(name, func_name)
    v = view(sch, block)
    pat = match_matmul(v)
    if pat is None or pat.i is None or pat.batch or len(v.loops) != 3:
        return None
    if any(val is not f.loop_var for val, f in zip(v.realize.iter_values, v.loops)):
        return None
    if not all(isinstance(iv.dom.extent, IntImm) for iv in v.block.iter_vars):
        return None
    reads = v.block.reads
    intrin = _intrinsic(reads[pat.a_read].buffer.dtype, reads[pat.b_read].buffer.dtype,
                        v.block.writes[0].buffer.dtype)
    ext = [iv.dom.extent.value for iv in v.block.iter_vars]
    m, n, k = ext[pat.i], ext[pat.j], ext[pat.k]
    if intrin is None or n % VNNI_LANES or k % VNNI_GROUP or pat.a_dims != (pat.i, pat.k):
        return None
    if m * n * k < VNNI_MIN_MACS:
        return None
    return attempt(sch, _tensorize, func_name, block, pat, intrin, (m, n, k), cpu)


def _tensorize(sch, func_name: str, block, pat, intrin: str, shape, cpu: CpuInfo) -> set[str]:
    m, n, k = shape
    before = _block_names(sch, func_name)
    handled = {view(sch, block).name}
    packed = sch.cache_read(block, pat.b_read, "global")
    handled.add(view(sch, packed).name)
    j_first = pat.b_dims.index(pat.j) < pat.b_dims.index(pat.k)
    # panels of 16 columns, each contiguous over k: the tile loop streams one panel
    sch.transform_layout(block, ("read", pat.b_read),
                         (lambda j, kk: (j // 16, kk // 4, j % 16, kk % 4)) if j_first
                         else (lambda kk, j: (j // 16, kk // 4, j % 16, kk % 4)))
    loops = sch.get_loops(block)
    rows, nr = next((r, c) for r, c in VNNI_TILES if n % (VNNI_LANES * c) == 0)
    mr = min(rows, m)
    i0, i1 = sch.split(loops[pat.i], [None, mr])
    j0, jn, j1 = sch.split(loops[pat.j], [None, nr, VNNI_LANES])
    k0, k1 = sch.split(loops[pat.k], [None, VNNI_GROUP])
    sch.reorder(j0, i0, k0, i1, jn, j1, k1)
    init = sch.decompose_reduction(block, k0)
    handled.add(view(sch, init).name)
    sch.tensorize(j1, intrin)
    sch.unroll(i1)
    sch.unroll(jn)
    *_, init_j = sch.get_loops(init)
    attempt(sch, lambda s: s.vectorize(init_j) or True)
    extents = [-(-n // (VNNI_LANES * nr)), -(-m // mr)]
    if cpu.cores > 1:
        parallel_tiles(sch, [j0, i0], extents, cpu, m * n * k)
    return handled | (_block_names(sch, func_name) - before)  # the packing copy, init, tiles


def _block_names(sch, func_name: str) -> set[str]:
    return {loc.node.block.name_hint for loc in all_blocks(sch.mod[func_name])}
