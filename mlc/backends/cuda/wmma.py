"""The cuda backend's external functions: WMMA tensor-core calls, rendered and emulated.

The tensor intrinsics of :mod:`mlc.schedules.intrinsics.cuda` call these by
name (``T.call_extern``). Each takes its tiles as pairs of addresses, of a
tile's element ``[0, 0]`` and ``[1, 0]`` (their distance is the row stride),
in the order (output, inputs...)::

    mlc_wmma_fill_16x16x16_f32(C, value)      fill_fragment(C, value)
    mlc_wmma_load_a_16x16x16_f16(F, A)        load_matrix_sync(F, &A, ldm)      A row-major
    mlc_wmma_load_b_16x16x16_f16(F, B)        load_matrix_sync(F, &B, ldm)      B row-major
    mlc_wmma_sync_16x16x16_f16f32(C, A, B)    mma_sync(C, A, B, C)
    mlc_wmma_store_16x16x16_f32(D, C)         store_matrix_sync(&D, C, ldm, mem_row_major)

A fragment buffer (scope ``wmma.matrix_a``, ``wmma.matrix_b``,
``wmma.accumulator``) holds whole 16 x 16 tiles: rendered as an array of
``nvcuda::wmma::fragment``, its tile at rows ``r``, columns ``c`` of a buffer
``ldm`` wide is fragment ``(r / 16) * (ldm / 16) + c / 16``.

They are warp-wide: all 32 threads of a warp make the call with the same
arguments, and a fragment is the warp's. The emulator
(:func:`emulate_call`) runs each call once per warp on the logical 16 x 16
tiles (float16 inputs, products and sums in float32), and refuses what it
cannot give the GPU's meaning to: a call by part of a warp, arguments that
differ between a warp's threads, a tile not on the fragment grid, a memory
tile not 32-byte aligned or with a row stride not a multiple of 16 bytes, a
block whose thread count is not a whole number of warps.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...errors import BoundsError, CompileError, MLCError
from ...ir.arith import canonical
from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad, PrimExpr
from ...ir.extern import AddressOf, CallExtern
from ...ir.functor import pre_order_nodes
from ..gpu.emulator import ExternEmulation, register_extern_emulation

__all__ = ["WARP", "TILE", "WMMA_CALLS", "WmmaCall", "fragment_declaration", "render_call", "writes_of",
           "headers", "check_call", "emulate_call", "MMA_PRELUDE"]

WARP = 32
TILE = 16
#: What load_matrix_sync and store_matrix_sync ask of a memory tile: a 256-bit aligned
#: start, a row stride that is a multiple of 16 bytes.
_POINTER_BYTES, _LDM_BYTES = 32, 16
_NS = "nvcuda::wmma::"
_FRAGMENT_TYPES = {
    "wmma.matrix_a": "matrix_a, 16, 16, 16, half, nvcuda::wmma::row_major",
    "wmma.matrix_b": "matrix_b, 16, 16, 16, half, nvcuda::wmma::row_major",
    "wmma.accumulator": "accumulator, 16, 16, 16, float",
}


@dataclass(frozen=True)
class WmmaCall:
    """One external function: its family (``"wmma"`` or ``"mma"``), its tiles as (scope
    kind, dtype) in argument order (the first is written), how many scalar arguments
    follow, and its C++ rendering."""
    name: str
    family: str
    tiles: tuple[tuple[str, str], ...]
    scalars: int
    render: Callable[[list[str], list[str]], str]


def _fill(t, s):
    return f"{_NS}fill_fragment({t[0]}, {s[0]})"


def _load(t, s):
    return f"{_NS}load_matrix_sync({t[0]}, {t[1]}, {t[2]})"


def _mma(t, s):
    return f"{_NS}mma_sync({t[0]}, {t[1]}, {t[2]}, {t[0]})"


def _store(t, s):
    return f"{_NS}store_matrix_sync({t[0]}, {t[1]}, {t[2]}, {_NS}mem_row_major)"


def _helper(fn: str) -> Callable[[list[str], list[str]], str]:
    """A call of the device function ``fn`` of :data:`MMA_PRELUDE` with the tiles, ldm and values."""
    return lambda t, s: f"{fn}({', '.join(list(t) + list(s))})"


#: The device functions of the ``mma`` family: PTX ``ldmatrix`` (x4; ``.trans`` for B, stored
#: k-major) into the operand registers of ``mma.sync.aligned.m16n8k16`` (row.col, float16
#: inputs, float32 accumulators), two of which make one 16 x 16 x 16 step. A fragment is
#: a thread's registers: A and B four 32-bit registers (pairs of halves), C eight floats.
#: Thread ``l`` of a warp holds C at rows ``l / 4`` and ``l / 4 + 8``, columns
#: ``2 * (l % 4) + {0, 1}`` and those plus 8 (PTX ISA, "Matrix fragments for mma.m16n8k16").
MMA_PRELUDE = r"""
__device__ __forceinline__ unsigned mlc_lane_id() {
  unsigned l; asm volatile("mov.u32 %0, %%laneid;" : "=r"(l)); return l;
}
__device__ __forceinline__ void mlc_mma_fill(float* c, float v) {
  #pragma unroll
  for (int r = 0; r < 8; ++r) c[r] = v;
}
__device__ __forceinline__ void mlc_ldmatrix_a(unsigned* a, const half* tile, int ldm) {
  unsigned l = mlc_lane_id();
  unsigned p = (unsigned)__cvta_generic_to_shared(tile + (l % 16) * ldm + (l / 16) * 8);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3]) : "r"(p));
}
__device__ __forceinline__ void mlc_ldmatrix_b(unsigned* b, const half* tile, int ldm) {
  unsigned l = mlc_lane_id();
  unsigned p = (unsigned)__cvta_generic_to_shared(tile + (l % 16) * ldm + (l / 16) * 8);
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3]) : "r"(p));
}
__device__ __forceinline__ void mlc_mma_sync(float* c, const unsigned* a, const unsigned* b) {
  #pragma unroll
  for (int n = 0; n < 2; ++n) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[4 * n]), "+f"(c[4 * n + 1]), "+f"(c[4 * n + 2]), "+f"(c[4 * n + 3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[2 * n]), "r"(b[2 * n + 1]));
  }
}
__device__ __forceinline__ void mlc_mma_store(float* d, const float* c, int ldm) {
  unsigned l = mlc_lane_id();
  int row = l / 4, col = 2 * (l % 4);
  #pragma unroll
  for (int n = 0; n < 2; ++n) {
    d[row * ldm + col + 8 * n] = c[4 * n];
    d[row * ldm + col + 8 * n + 1] = c[4 * n + 1];
    d[(row + 8) * ldm + col + 8 * n] = c[4 * n + 2];
    d[(row + 8) * ldm + col + 8 * n + 1] = c[4 * n + 3];
  }
}
"""

#: name -> call. A "memory" tile is a shared or global buffer ("shared" where it must be
#: shared); a fragment tile names its scope.
WMMA_CALLS: dict[str, WmmaCall] = {c.name: c for c in (
    WmmaCall("mlc_wmma_fill_16x16x16_f32", "wmma", (("wmma.accumulator", "float32"),), 1, _fill),
    WmmaCall("mlc_wmma_load_a_16x16x16_f16", "wmma", (("wmma.matrix_a", "float16"), ("memory", "float16")), 0,
             _load),
    WmmaCall("mlc_wmma_load_b_16x16x16_f16", "wmma", (("wmma.matrix_b", "float16"), ("memory", "float16")), 0,
             _load),
    WmmaCall("mlc_wmma_sync_16x16x16_f16f32", "wmma", (("wmma.accumulator", "float32"),
                                                       ("wmma.matrix_a", "float16"), ("wmma.matrix_b", "float16")),
             0, _mma),
    WmmaCall("mlc_wmma_store_16x16x16_f32", "wmma", (("memory", "float32"), ("wmma.accumulator", "float32")), 0,
             _store),
    WmmaCall("mlc_mma_fill_16x16x16_f32", "mma", (("wmma.accumulator", "float32"),), 1, _helper("mlc_mma_fill")),
    WmmaCall("mlc_mma_load_a_16x16x16_f16", "mma", (("wmma.matrix_a", "float16"), ("shared", "float16")), 0,
             _helper("mlc_ldmatrix_a")),
    WmmaCall("mlc_mma_load_b_16x16x16_f16", "mma", (("wmma.matrix_b", "float16"), ("shared", "float16")), 0,
             _helper("mlc_ldmatrix_b")),
    WmmaCall("mlc_mma_sync_16x16x16_f16f32", "mma", (("wmma.accumulator", "float32"),
                                                     ("wmma.matrix_a", "float16"), ("wmma.matrix_b", "float16")),
             0, _helper("mlc_mma_sync")),
    WmmaCall("mlc_mma_store_16x16x16_f32", "mma", (("memory", "float32"), ("wmma.accumulator", "float32")), 0,
             _helper("mlc_mma_store")),
)}
#: Per family, a fragment's C++ element type and registers per thread, by scope.
_MMA_REGISTERS = {"wmma.matrix_a": ("unsigned", 4), "wmma.matrix_b": ("unsigned", 4),
                  "wmma.accumulator": ("float", 8)}


def check_call(e: CallExtern) -> tuple[WmmaCall, list[tuple[BufferLoad, BufferLoad]]]:
    """The call ``e`` names and its tiles as ([0, 0], [15, 15]) element pairs; a CompileError
    for an unknown name or arguments of the wrong kind."""
    call = WMMA_CALLS.get(e.name)
    if call is None:
        raise CompileError(f"T.call_extern: the cuda backend has no function {e.name!r}; it provides "
                           f"{sorted(WMMA_CALLS)}")
    n = 2 * len(call.tiles)
    if len(e.args) != n + call.scalars or not all(isinstance(a, AddressOf) for a in e.args[:n]):
        raise CompileError(f"T.call_extern({e.name!r}): expected {n} element addresses (T.address_of(...), "
                           f"two per tile) and {call.scalars} value(s), got {e.args!r}")
    pairs = [(e.args[2 * t].load, e.args[2 * t + 1].load) for t in range(len(call.tiles))]
    for (scope, dtype), (first, second) in zip(call.tiles, pairs):
        buf = first.buffer
        ok = (buf.scope in ("shared", "global") if scope == "memory" else buf.scope == scope)
        if not ok or buf.dtype != dtype or second.buffer is not buf:
            raise CompileError(f"T.call_extern({e.name!r}): a tile must be a {dtype} buffer of scope "
                               f"{'shared or global' if scope == 'memory' else scope}, addressed at its "
                               f"[0, 0] and [15, 15]; got {buf.name} ({buf.dtype}, {buf.scope})")
    return call, pairs


def _families(node) -> set[str]:
    return {WMMA_CALLS[n.name].family for n in pre_order_nodes(node)
            if isinstance(n, CallExtern) and n.name in WMMA_CALLS}


def headers(node) -> str:
    """What a source whose kernels are under ``node`` needs before them: ``#include <mma.h>``
    for the wmma family, :data:`MMA_PRELUDE` for the mma family."""
    families = _families(node)
    return ("#include <mma.h>\n" if "wmma" in families else "") + (MMA_PRELUDE if "mma" in families else "")


def writes_of(node) -> set[int]:
    """ids of the buffers the WMMA calls under ``node`` write (their first tile)."""
    out = set()
    for n in pre_order_nodes(node):
        if isinstance(n, CallExtern) and n.name in WMMA_CALLS and n.args and isinstance(n.args[0], AddressOf):
            out.add(id(n.args[0].load.buffer))
    return out


def fragment_declaration(buffer: Buffer, name: str, elements: int, body) -> str:
    """The declaration of a fragment buffer of ``elements`` used by the calls under ``body``:
    ``nvcuda::wmma::fragment<...> name[tiles];`` (wmma) or a thread's registers,
    ``unsigned name[tiles][4];`` / ``float name[tiles][8];`` (mma)."""
    if elements % (TILE * TILE):
        raise CompileError(f"cuda codegen: fragment buffer {buffer.name} ({buffer.scope}) has {elements} "
                           f"elements, not a whole number of {TILE}x{TILE} tiles; tile the loops it is "
                           f"computed under by {TILE}")
    families = {WMMA_CALLS[n.name].family for n in pre_order_nodes(body) if isinstance(n, CallExtern)
                and n.name in WMMA_CALLS and any(isinstance(a, AddressOf) and a.load.buffer is buffer
                                                 for a in n.args)}
    if len(families) > 1:
        raise CompileError(f"cuda codegen: fragment {buffer.name} is used by both wmma and mma calls, whose "
                           "fragments differ; tensorize it with the intrinsics of one variant")
    tiles = elements // (TILE * TILE)
    if families == {"mma"}:
        ctype, regs = _MMA_REGISTERS[buffer.scope]
        return f"{ctype} {name}[{tiles}][{regs}];"
    return f"{_NS}fragment<{_NS}{_FRAGMENT_TYPES[buffer.scope]}> {name}[{tiles}];"


def render_call(e: CallExtern, name: Callable[[Buffer], str], index: Callable[[BufferLoad], PrimExpr],
                render: Callable[[PrimExpr], str]) -> str:
    """The C++ of call ``e``: ``name(buffer)`` renders a buffer's name, ``index(load)`` gives a
    load's flat index (an expression), ``render(expr)`` renders an expression."""
    call, pairs = check_call(e)
    tiles, ldm = [], None
    for first, second in pairs:
        at = canonical(index(first))
        stride = canonical((index(second) - at - (TILE - 1)) // (TILE - 1))
        if first.buffer.scope in _FRAGMENT_TYPES:
            grid = canonical((at // (stride * TILE)) * (stride // TILE) + (at % stride) // TILE)
            tiles.append(f"{name(first.buffer)}[{render(grid)}]")
        else:
            tiles.append(f"&{name(first.buffer)}[{render(at)}]")
            ldm = render(stride)
    args = tiles + [ldm] if ldm is not None else tiles
    return call.render(args, [render(a) for a in e.args[2 * len(pairs):]])


# ---------------------------------------------------------------- emulation


def _refuse(run, what: str) -> None:
    raise MLCError(f"cuda emulator: {run.fname}: {what}")


def _tile(run, name: str, first: BufferLoad, second: BufferLoad, mask, env, lanes):
    """(memory, element indices (warps, 16, 16)) of one tile argument, checked."""
    mem, f0, _ = run._address(first.buffer, first.indices, mask, env)
    _, f1, _ = run._address(second.buffer, second.indices, mask, env)
    f0, f1 = f0[lanes].reshape(-1, WARP), f1[lanes].reshape(-1, WARP)
    if (f0 != f0[:, :1]).any() or (f1 != f1[:, :1]).any():
        _refuse(run, f"{name}: the threads of a warp pass different addresses of {first.buffer.name}; a "
                     "WMMA call is one operation of the whole warp, so its arguments must not depend on "
                     "threadIdx.x (keep the call out of threadIdx.x loops)")
    base, span = f0[:, 0], f1[:, 0] - f0[:, 0] - (TILE - 1)
    if (span % (TILE - 1) != 0).any():
        _refuse(run, f"{name}: the first and last elements of {first.buffer.name}'s tile are not "
                     f"{TILE - 1} rows and {TILE - 1} columns apart")
    ldm = span // (TILE - 1)
    rep = lanes.reshape(-1, WARP)[:, 0]
    start = base - (mem.offset[rep] if mem.offset is not None else 0)
    if mem.buffer.scope in _FRAGMENT_TYPES:
        bad = (ldm % TILE != 0) | (ldm <= 0) | (start % TILE != 0) | ((start // np.maximum(ldm, 1)) % TILE != 0)
        if bad.any():
            w = int(np.argmax(bad))
            _refuse(run, f"{name}: fragment {mem.buffer.name} is addressed at flat element {int(start[w])} "
                         f"with row stride {int(ldm[w])}, which is not a {TILE}x{TILE} tile of its fragment "
                         f"grid; fragments hold whole tiles at multiples of {TILE} rows and columns")
    else:
        size = np.dtype(mem.buffer.dtype).itemsize
        bad = (ldm < TILE) | ((ldm * size) % _LDM_BYTES != 0) | ((start * size) % _POINTER_BYTES != 0)
        if bad.any():
            w = int(np.argmax(bad))
            _refuse(run, f"{name}: {mem.buffer.name}'s tile starts at flat element {int(start[w])} with row "
                         f"stride {int(ldm[w])}; load_matrix_sync and store_matrix_sync need a "
                         f"{_POINTER_BYTES}-byte aligned start and a stride of at least {TILE} elements "
                         f"and a multiple of {_LDM_BYTES} bytes (pad rows with storage_align to such a "
                         "multiple)")
    r = np.arange(TILE, dtype=np.int64)
    rel = start[:, None, None] + r[None, :, None] * ldm[:, None, None] + r[None, None, :]
    if rel.min() < 0 or rel.max() >= mem.size:
        w = int(np.argmax(((rel < 0) | (rel >= mem.size)).any(axis=(1, 2))))
        raise BoundsError(f"cuda emulator: {run.fname}: {name}: warp {int(rep[w]) // WARP} accesses a "
                          f"{TILE}x{TILE} tile of {mem.buffer.name} from flat element {int(start[w])} "
                          f"with row stride {int(ldm[w])}, outside its {mem.size} elements")
    return mem, rel + (base - start)[:, None, None], rep


def emulate_call(run, e: CallExtern, mask, env) -> None:
    """Run the WMMA call ``e`` once per warp of the active lanes of ``run`` (a kernel run of
    :mod:`.emulator`), with the checks the module docstring lists."""
    call, pairs = check_call(e)
    if run.nt % WARP:
        _refuse(run, f"{e.name}: blocks of {run.nt} threads are not whole warps of {WARP}; tensor-core "
                     f"calls need the block's thread count to be a multiple of {WARP}")
    lanes = run.lane if mask is None else np.flatnonzero(mask)
    count = np.bincount(lanes // WARP, minlength=run.lanes // WARP)
    partial = np.flatnonzero((count > 0) & (count < WARP))
    if partial.size:
        w = int(partial[0])
        _refuse(run, f"{e.name}: only {int(count[w])} of the {WARP} threads of warp {w % (run.nt // WARP)} "
                     f"of block {run._block_name(w * WARP // run.nt)} make the call; a WMMA call is made by "
                     "every thread of a warp (keep it out of conditions on threadIdx.x)")
    if lanes.size == 0:
        return
    tiles = [_tile(run, e.name, first, second, mask, env, lanes) for first, second in pairs]
    rep = tiles[0][2]
    by_warp = np.repeat(rep, TILE * TILE)
    values = []
    for mem, idx, _ in tiles[1:]:
        where = idx.reshape(-1)
        if mem.tracked:
            run._check_read(mem, where, by_warp)
        if mem.per == "global":
            run.stats.global_reads += where.size
        values.append(mem.array[idx])
    out, idx, _ = tiles[0]
    if call.scalars:
        scalar = np.broadcast_to(np.asarray(run.ev(e.args[-1], mask, env)), (run.lanes,))[rep]
        result = np.broadcast_to(scalar.astype(out.array.dtype)[:, None, None], idx.shape)
    elif len(values) == 1:
        result = values[0]
    else:
        acc = out.array[idx]
        result = acc + np.matmul(values[0].astype(np.float32), values[1].astype(np.float32))
    where = idx.reshape(-1)
    if out.tracked:
        run._check_write(out, where, by_warp)
    if out.per == "global":
        run.stats.global_writes += where.size
    out.array[where] = np.asarray(result, out.array.dtype).reshape(-1)


#: The emulator runs the calls as :func:`emulate_call` says.
EMULATION = register_extern_emulation(ExternEmulation(frozenset(WMMA_CALLS), writes_of, emulate_call))
