"""CUDA tensor-core intrinsics: WMMA 16x16x16 with float16 inputs and float32 accumulators.

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

A matmul is tensorized with them after ``cache_read``/``cache_write`` into the
wmma scopes and ``decompose_reduction``; every thread of a warp runs the call
(no ``threadIdx.x`` loop around it).
"""
from __future__ import annotations

from ...ir.buffer import Buffer, decl_buffer
from ...ir.expr import FloatImm, IterVar, Range, Var, const
from ...ir.extern import address_of, call_extern
from ...ir.tir import Block, BlockRealize, BufferStore, Evaluate, For
from ..tensor_intrin import TensorIntrin
from .x86 import _func, _point, _whole

__all__ = ["WMMA_FILL", "WMMA_LOAD_A", "WMMA_LOAD_B", "WMMA_SYNC", "WMMA_STORE", "WMMA_TILE", "WMMA_EXTERNS"]

#: The tile of every WMMA intrinsic here: m = n = k = 16.
WMMA_TILE = 16
WMMA_FILL = "wmma_fill_16x16x16_f32"
WMMA_LOAD_A = "wmma_load_a_16x16x16_f16"
WMMA_LOAD_B = "wmma_load_b_16x16x16_f16"
WMMA_SYNC = "wmma_sync_16x16x16_f16f32"
WMMA_STORE = "wmma_store_16x16x16_f32"
#: intrinsic -> the external function its implementation calls.
WMMA_EXTERNS = {name: "mlc_" + name for name in (WMMA_FILL, WMMA_LOAD_A, WMMA_LOAD_B, WMMA_SYNC, WMMA_STORE)}


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
    block = Block(name.split("_")[1], ivs, tuple(reads), (_point(o, vi, vj),), BufferStore(o, val, (vi, vj)))
    body = BlockRealize(tuple(loops), const(True, "bool"), block)
    for lv in reversed(loops):
        body = For(lv, const(0), const(n), "serial", body)
    ins = [_whole(b) for k, b in enumerate(bufs) if k != out or reduce]
    desc = _func(bufs, body, ins, (_whole(o),))
    # strided rows: a tile of any row stride (the extern function takes it as ldm)
    ibufs = [Buffer(b.name, b.shape, b.dtype, b.scope, (Var(b.name + "_ldm"), const(1)))
             for b in bufs]
    order = [out] + [k for k in range(len(bufs)) if k != out]
    args = [a for k in order for a in _tile_addresses(ibufs[k])] + list(extra)
    impl = _func(ibufs, Evaluate(call_extern("int32", WMMA_EXTERNS[name], *args)),
                 [_whole(b) for k, b in enumerate(ibufs) if k != out or reduce], (_whole(ibufs[out]),))
    TensorIntrin.register(name, desc, impl, override=True)


def _copy(bufs, i, j):
    return bufs[0][i, j], [_point(bufs[0], i, j)]


def _mma(bufs, i, j, k):
    a, b, c = bufs
    return (c[i, j] + a[i, k].astype("float32") * b[k, j].astype("float32"),
            [_point(c, i, j), _point(a, i, k), _point(b, k, j)])


_register(WMMA_FILL, (("C", "float32", "wmma.accumulator"),), 0,
          lambda bufs, i, j: (FloatImm(0.0, "float32"), []), False, (FloatImm(0.0, "float32"),))
_register(WMMA_LOAD_A, (("A", "float16", "shared"), ("F", "float16", "wmma.matrix_a")), 1, _copy, False)
_register(WMMA_LOAD_B, (("B", "float16", "shared"), ("F", "float16", "wmma.matrix_b")), 1, _copy, False)
_register(WMMA_SYNC, (("A", "float16", "wmma.matrix_a"), ("B", "float16", "wmma.matrix_b"),
                      ("C", "float32", "wmma.accumulator")), 2, _mma, True)
_register(WMMA_STORE, (("F", "float32", "wmma.accumulator"), ("C", "float32", "global")), 1, _copy, False)
