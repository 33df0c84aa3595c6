"""Hopper warpgroup MMA (``wgmma.mma_async``, sm_90a): the cuda backend's external functions,
rendered as inline PTX and emulated from the PTX ISA's definitions.

A *warpgroup* is four consecutive warps (128 threads, ``threadIdx.x // 128``).
``wgmma.mma_async.sync.aligned.m64nNk16.f32.f16.f16`` multiplies a 64 x 16
float16 tile of A by a 16 x N tile of B, both read by the tensor cores from
shared memory through 64-bit *matrix descriptors*, into a 64 x N float32
accumulator spread over the warpgroup's registers (N / 2 floats a thread).
The calls a kernel makes (``T.call_extern``, all threads of a warpgroup with
the same arguments)::

    mlc_wgmma_fence()                       wgmma.fence          (before the first wgmma of a batch)
    mlc_wgmma_m64n128k16_f32f16(D, A, B, a_lbo, a_sbo, a_mode, b_lbo, b_sbo, b_mode, a_mn, b_mn)
    mlc_wgmma_commit()                      wgmma.commit_group
    mlc_wgmma_wait(n, D)                    wgmma.wait_group n, then D's registers fenced
    mlc_fence_proxy_async()                 fence.proxy.async.shared::cta (generic-proxy writes
                                            of shared memory made visible to the tensor cores)

``D`` is ``T.address_of(acc[i])`` of a thread's local float32 accumulator
(N / 2 elements from ``i``); ``A`` and ``B`` are ``T.address_of(smem[e])`` of
the tiles' first elements in a shared float16 buffer; the integers are the
descriptor fields (leading and stride byte offsets, the layout type: 0
interleaved, 1 128-byte swizzle, 2 64-byte, 3 32-byte) and whether each
operand is MN-major (``imm-trans``: B stored with N contiguous, as a
row-major ``B[k, n]`` is). A descriptor is :func:`descriptor` of the
operand's shared address.

Fragment layout of the accumulator (PTX ISA, "Matrix fragments for
wgmma.mma_async.m64nNk16", register ``v`` of thread ``t`` of the warpgroup)::

    row = 16 * (t // 32) + (t % 32) // 4 + 8 * ((v // 2) % 2)
    col = 8 * (v // 4) + 2 * (t % 4) + v % 2

The emulator (:func:`emulate_call`) runs an MMA once per warpgroup: it
encodes each operand's descriptor as the CUDA helper does, decodes its fields
bit by bit, generates every element's byte address from the canonical layout
the fields describe (:func:`operand_addresses`) and the swizzle on address
bits (bits [4, 4 + b) XOR bits [7, 7 + b)), reads shared memory there, and
adds the product into each thread's registers by the fragment layout above:
a descriptor, swizzle or epilogue that disagrees with the data's placement
gives a wrong answer on the CPU. A shared buffer an MMA reads is declared
1024-byte aligned (the 128-byte swizzle repeats every 1024 bytes of address).

>>> d = descriptor(2048 + 64, lbo=16, sbo=1024, mode=1)
>>> decode(d)
(2112, 16, 1024, 1)
>>> rows, cols = accumulator_coords(128)
>>> rows[0, :4], cols[0, :4]   # thread 0, registers 0..3
(array([0, 0, 8, 8]), array([0, 1, 0, 1]))
"""
from __future__ import annotations

import weakref

import numpy as np

from ...errors import CompileError, MLCError, RaceError
from ...ir.expr import IntImm
from ...ir.extern import AddressOf, CallExtern
from ...ir.functor import pre_order_nodes
from ...ir.warpgroup_mma import COMMIT, FENCE, PROXY_FENCE, WAIT, WARPGROUP, WGMMA_N, mma_name
from ..gpu.emulator import ExternEmulation, register_extern_emulation

__all__ = ["WGMMA_N", "WARPGROUP", "mma_name", "descriptor", "decode", "operand_addresses", "accumulator_coords",
           "is_wgmma_call", "headers", "render_call", "operands_of", "writes_of", "emulate_call", "check_retired",
           "SWIZZLE_BYTES", "SHARED_ALIGN_BYTES"]

#: Bytes of each layout type's swizzle row: 0 interleaved (none), 1 128-byte, 2 64-byte, 3 32-byte.
SWIZZLE_BYTES = {0: 0, 1: 128, 2: 64, 3: 32}
#: The alignment of a shared buffer an MMA reads: the 128-byte swizzle's period.
SHARED_ALIGN_BYTES = 1024
_FENCE, _COMMIT, _WAIT, _PROXY = FENCE, COMMIT, WAIT, PROXY_FENCE
_CONTROL = (_FENCE, _COMMIT, _WAIT, _PROXY)


_MMAS = {mma_name(n): n for n in WGMMA_N}


def is_wgmma_call(e) -> bool:
    return isinstance(e, CallExtern) and (e.name in _MMAS or e.name in _CONTROL)


# ---------------------------------------------------------------- descriptors


def descriptor(address: int, lbo: int, sbo: int, mode: int) -> int:
    """The 64-bit matrix descriptor of a shared operand at byte ``address`` (PTX ISA "Matrix
    Descriptor Format"): bits 0-13 the address >> 4 (of its low 18 bits), 16-29 the leading
    byte offset >> 4, 32-45 the stride byte offset >> 4, 49-51 the base offset (0: atoms
    1024-byte aligned), 62-63 the layout type. What ``mlc_wgmma_desc`` computes."""
    return (((address & 0x3FFFF) >> 4) | (((lbo >> 4) & 0x3FFF) << 16) | (((sbo >> 4) & 0x3FFF) << 32)
            | ((mode & 3) << 62))


def decode(desc: int) -> tuple[int, int, int, int]:
    """(start address, leading byte offset, stride byte offset, layout type) of ``desc``."""
    return ((desc & 0x3FFF) << 4, ((desc >> 16) & 0x3FFF) << 4, ((desc >> 32) & 0x3FFF) << 4, (desc >> 62) & 3)


def swizzle(address, mode: int):
    """Byte ``address`` after the layout type's swizzle: the 16-byte chunk bits [4, 4 + b)
    XOR the row bits [7, 7 + b), b = 3, 2, 1 for 128-, 64-, 32-byte swizzles."""
    bits = {0: 0, 1: 3, 2: 2, 3: 1}[mode]
    if bits == 0:
        return address
    return address ^ (((address >> 7) & ((1 << bits) - 1)) << 4)


def operand_addresses(desc: int, rows: int, mn_major: bool, itemsize: int = 2) -> np.ndarray:
    """The shared byte address of each element ``(r, k)`` of a ``rows x 16`` operand (A's
    64 x 16 with r = m, or B's N x 16 with r = n) that descriptor ``desc`` describes: the
    PTX ISA's canonical layouts (CUTLASS writes them as cute layouts in 16-byte units T),
    with W the swizzle row in 16-byte units (1 interleaved, 2, 4, 8)::

        K-major,  interleaved: r%8 * 16 + r//8 * SBO + k//8 * LBO + k%8 * 2
        K-major,  swizzled:    r%8 * 16W + r//8 * SBO + k//8 * 16 + k%8 * 2
        MN-major, interleaved: r%8 * 2 + r//8 * SBO + k%8 * 16 + k//8 * LBO
        MN-major, swizzled:    r%8 * 2 + (r//8)%W * 16 + r//(8W) * LBO + k%8 * 16W + k//8 * SBO

    then the swizzle (:func:`swizzle`)."""
    start, lbo, sbo, mode = decode(desc)
    r = np.arange(rows, dtype=np.int64)[:, None]
    k = np.arange(16 // (itemsize // 2), dtype=np.int64)[None, :]
    e = 16 // itemsize  # elements of a 16-byte chunk
    w = max(SWIZZLE_BYTES[mode] // 16, 1)
    if not mn_major:
        if mode == 0:
            off = r % 8 * 16 + r // 8 * sbo + k // e * lbo + k % e * itemsize
        else:
            off = r % 8 * 16 * w + r // 8 * sbo + k // e * 16 + k % e * itemsize
    elif mode == 0:
        off = r % e * itemsize + r // e * sbo + k % 8 * 16 + k // 8 * lbo
    else:
        off = r % e * itemsize + (r // e) % w * 16 + r // (e * w) * lbo + k % 8 * 16 * w + k // 8 * sbo
    return swizzle(start + off, mode)


def accumulator_coords(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols), each (128, n // 2): the element of the 64 x ``n`` accumulator that register
    ``v`` of thread ``t`` of a warpgroup holds (module docstring)."""
    t = np.arange(WARPGROUP, dtype=np.int64)[:, None]
    v = np.arange(n // 2, dtype=np.int64)[None, :]
    rows = 16 * (t // 32) + (t % 32) // 4 + 8 * ((v // 2) % 2)
    cols = 8 * (v // 4) + 2 * (t % 4) + v % 2
    return np.broadcast_to(rows, (WARPGROUP, n // 2)), np.broadcast_to(cols, (WARPGROUP, n // 2))


# ---------------------------------------------------------------- rendering


def _mma_function(n: int) -> str:
    regs = n // 2
    outs = ", ".join(f"%{i}" for i in range(regs))
    binds = ", ".join(f'"+f"(d[{i}])' for i in range(regs))
    return (f"__device__ __forceinline__ void {mma_name(n)}(float* d, const void* a, const void* b, unsigned a_lbo, "
            "unsigned a_sbo, unsigned a_mode, unsigned b_lbo, unsigned b_sbo, unsigned b_mode) {\n"
            "  unsigned long long da = mlc_wgmma_desc(a, a_lbo, a_sbo, a_mode);\n"
            "  unsigned long long db = mlc_wgmma_desc(b, b_lbo, b_sbo, b_mode);\n"
            f'  asm volatile("wgmma.mma_async.sync.aligned.m64n{n}k16.f32.f16.f16 {{{outs}}}, %{regs}, %{regs + 1}, '
            f'1, 1, 1, %{regs + 2}, %{regs + 3};\\n"\n'
            f'               : {binds}\n'
            '               : "l"(da), "l"(db), "n"(MLC_WGMMA_A_MN), "n"(MLC_WGMMA_B_MN) : "memory");\n'
            "}\n")


PRELUDE = r"""
#ifndef MLC_WGMMA_A_MN
#define MLC_WGMMA_A_MN 0
#define MLC_WGMMA_B_MN 1
#endif
__device__ __forceinline__ unsigned long long mlc_wgmma_desc(const void* p, unsigned lbo, unsigned sbo,
                                                             unsigned mode) {
  unsigned long long a = (unsigned)__cvta_generic_to_shared(p);
  return ((a & 0x3FFFFull) >> 4) | ((unsigned long long)((lbo >> 4) & 0x3FFF) << 16) |
         ((unsigned long long)((sbo >> 4) & 0x3FFF) << 32) | ((unsigned long long)(mode & 3) << 62);
}
__device__ __forceinline__ void mlc_wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void mlc_wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N, int REGS> __device__ __forceinline__ void mlc_wgmma_wait(float* d) {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" :: "n"(N) : "memory");
  #pragma unroll
  for (int i = 0; i < REGS; ++i) asm volatile("" : "+f"(d[i]) :: "memory");
}
__device__ __forceinline__ void mlc_fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
"""


def _calls(node):
    return [n for n in pre_order_nodes(node) if is_wgmma_call(n)]


def headers(node) -> str:
    """What a source whose kernels are under ``node`` needs: the helpers and each MMA's
    function, where it calls any (with the operand majors its calls use)."""
    calls = _calls(node)
    if not calls:
        return ""
    majors = {(e.args[9].value, e.args[10].value) for e in calls if e.name in _MMAS}
    if len(majors) > 1:
        raise CompileError(f"cuda codegen: wgmma calls with different operand majors {sorted(majors)} in one "
                           "source; use one layout per function")
    a_mn, b_mn = next(iter(majors)) if majors else (0, 1)
    used = sorted({_MMAS[e.name] for e in calls if e.name in _MMAS})
    return (f"#define MLC_WGMMA_A_MN {a_mn}\n#define MLC_WGMMA_B_MN {b_mn}\n" + PRELUDE
            + "".join(_mma_function(n) for n in used))


def _check(e: CallExtern) -> None:
    if e.name in _MMAS:
        ok = len(e.args) == 11 and all(isinstance(a, AddressOf) for a in e.args[:3]) and \
            all(isinstance(a, IntImm) for a in e.args[3:])
        if ok:
            d, a, b = (x.load.buffer for x in e.args[:3])
            ok = (d.scope == "local" and d.dtype == "float32" and a.scope == b.scope == "shared"
                  and a.dtype == b.dtype == "float16")
        if not ok:
            raise CompileError(f"T.call_extern({e.name!r}): expected the address of a local float32 accumulator, "
                               "two addresses in a shared float16 buffer and 8 integer constants (a_lbo, a_sbo, "
                               f"a_mode, b_lbo, b_sbo, b_mode, a_mn, b_mn); got {e.args!r}")
    elif e.name == _WAIT:
        if len(e.args) != 3 or not isinstance(e.args[0], IntImm) or not isinstance(e.args[1], AddressOf) or \
                not isinstance(e.args[2], IntImm):
            raise CompileError(f"T.call_extern({e.name!r}): expected (n, T.address_of(acc[0]), registers)")
    elif e.args:
        raise CompileError(f"T.call_extern({e.name!r}) takes no arguments, got {e.args!r}")


def render_call(e: CallExtern, address, render) -> str:
    """The C++ of call ``e``; ``address(load)`` renders ``&buffer[index]``, ``render(expr)`` an
    expression."""
    _check(e)
    if e.name in _MMAS:
        args = [address(a.load) for a in e.args[:3]] + [f"{a.value}u" for a in e.args[3:9]]
        return f"{e.name}({', '.join(args)})"
    if e.name == _WAIT:
        return f"mlc_wgmma_wait<{e.args[0].value}, {e.args[2].value}>({address(e.args[1].load)})"
    return f"{e.name}()"


def operands_of(node) -> set[int]:
    """ids of the shared buffers MMAs under ``node`` read (declared 1024-byte aligned)."""
    return {id(a.load.buffer) for e in _calls(node) if e.name in _MMAS for a in e.args[1:3]}


def writes_of(node) -> set[int]:
    """ids of the accumulators the MMAs under ``node`` write."""
    return {id(e.args[0].load.buffer) for e in _calls(node) if e.name in _MMAS}


# ---------------------------------------------------------------- emulation


def _refuse(run, what: str) -> None:
    raise MLCError(f"cuda emulator: {run.fname}: {what}")


def _warpgroups(run, e, mask):
    """The first lane of each warpgroup making the call (all of its threads must)."""
    if run.nt % WARPGROUP:
        _refuse(run, f"{e.name}: blocks of {run.nt} threads are not whole warpgroups of {WARPGROUP}")
    lanes = run.lane if mask is None else np.flatnonzero(mask)
    count = np.bincount(lanes // WARPGROUP, minlength=run.lanes // WARPGROUP)
    partial = np.flatnonzero((count > 0) & (count < WARPGROUP))
    if partial.size:
        _refuse(run, f"{e.name}: only {int(count[partial[0]])} of the {WARPGROUP} threads of warpgroup "
                     f"{int(partial[0]) % (run.nt // WARPGROUP)} make the call; wgmma is an operation of "
                     "the whole warpgroup (keep it out of conditions on threadIdx.x)")
    return np.flatnonzero(count == WARPGROUP) * WARPGROUP


def _uniform(run, e, what: str, values, groups):
    v = values.reshape(-1, WARPGROUP)
    if (v != v[:, :1]).any():
        _refuse(run, f"{e.name}: the threads of a warpgroup pass different {what}; the call is one operation "
                     "of the warpgroup, its arguments must not depend on the thread within it")
    return v[:, 0]


class _InFlight:
    """One kernel run's MMAs not yet retired, per warpgroup (by its first lane): the batch
    being issued and the committed batches, oldest first. An MMA is (accumulator memory,
    its elements (128, regs), operand memories, their elements (rows, 16) each, the
    operands' values when issued)."""

    def __init__(self):
        self.open: dict[int, list] = {}
        self.committed: dict[int, list[list]] = {}


_RUNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _state(run) -> _InFlight:
    state = _RUNS.get(run)
    if state is None:
        state = _RUNS[run] = _InFlight()
    return state


def _issue(run, e: CallExtern, groups, env) -> None:
    """Record the MMA ``e`` of each warpgroup in ``groups``: its operands' elements and
    their values now, checked as reads of shared memory."""
    n = _MMAS[e.name]
    regs = n // 2
    lanes = (groups[:, None] + np.arange(WARPGROUP)[None, :]).reshape(-1)
    full = np.zeros(run.lanes, bool)
    full[lanes] = True
    d, a, b = (x.load for x in e.args[:3])
    acc, acc_at, _ = run._address(d.buffer, d.indices, full, env)
    acc_at = acc_at[lanes].reshape(-1, WARPGROUP)
    if (acc_at - acc.offset[lanes].reshape(-1, WARPGROUP)).max() + regs > acc.size:
        _refuse(run, f"{e.name}: accumulator {acc.buffer.name} has {acc.size} elements, fewer than the "
                     f"{regs} from the one addressed")
    a_lbo, a_sbo, a_mode, b_lbo, b_sbo, b_mode, a_mn, b_mn = (x.value for x in e.args[3:])
    itemsize = 2
    operands = []
    for load, rows, (lbo, sbo, mode), mn in ((a, 64, (a_lbo, a_sbo, a_mode), a_mn),
                                               (b, n, (b_lbo, b_sbo, b_mode), b_mn)):
        mem, at, _ = run._address(load.buffer, load.indices, full, env)
        rel = _uniform(run, e, f"addresses of {load.buffer.name}", at[lanes] - mem.offset[lanes], groups)
        elems = []
        for g, start in enumerate(rel):
            addr = operand_addresses(descriptor(int(start) * itemsize, lbo, sbo, mode), rows, bool(mn), itemsize)
            if addr.min() < 0 or addr.max() // itemsize >= mem.size:
                _refuse(run, f"{e.name}: the descriptor of {load.buffer.name} (start byte {int(start) * itemsize}, "
                             f"LBO {lbo}, SBO {sbo}, layout type {mode}) reaches bytes "
                             f"{int(addr.min())}..{int(addr.max())}, outside its {mem.size * itemsize}")
            elems.append(addr // itemsize + mem.offset[groups[g]])
        operands.append((mem, np.stack(elems)))  # (groups, rows, 16)
    state = _state(run)
    for g, first in enumerate(groups):
        flat = acc_at[g][:, None] + np.arange(regs)[None, :]
        if acc.written is not None and not acc.written[flat].all():
            _refuse(run, f"{e.name}: accumulator {acc.buffer.name} is read before it is written (initialize it)")
        ops = []
        for mem, where in operands:
            w = where[g]
            if mem.tracked:
                run._check_read(mem, w.reshape(-1), np.full(w.size, first))
            ops.append((mem, w, mem.array[w].copy()))
        state.open.setdefault(int(first), []).append((e.name, acc, flat, n, ops))


def _retire(run, first: int, mma) -> None:
    """Apply an MMA at the wait that retires it: its operands as it read them, which must
    still be what shared memory holds (else a write overwrote them while it was in flight)."""
    name, acc, flat, n, ops = mma
    for mem, where, issued in ops:
        now = mem.array[where]
        changed = ~((now == issued) | (np.isnan(now) & np.isnan(issued)))
        if mem.in_flight is not None:  # a cp.async issued since, landing some time before its wait
            changed |= mem.in_flight[where]
        if changed.any():
            at = int(where[tuple(np.argwhere(changed)[0])]) % mem.size
            raise RaceError(f"emulator: {run.fname}: {name} of warpgroup {(first % run.nt) // WARPGROUP} of block "
                            f"{run._block_name(first // run.nt)} reads {mem.buffer.name}[{at}] (flat index), which "
                            "was overwritten after the MMA was issued and before wgmma.wait_group retired it (by a "
                            "store, or a cp.async in flight); wait for the MMAs that read a stage before refetching it")
    a, b = (issued.astype(np.float32) for _, _, issued in ops)
    prod = a @ b.T  # (64, n)
    rows, cols = accumulator_coords(n)
    acc.array[flat] += prod[rows, cols]


def emulate_call(run, e: CallExtern, mask, env) -> None:
    """Run call ``e`` (module docstring) for the active lanes of ``run`` (whole warpgroups): an
    MMA is recorded with its operands' values when issued, a commit closes each warpgroup's
    batch, and a wait retires all but the newest ``n`` batches, adding their products into the
    accumulators then, after checking that no operand changed in flight (a RaceError)."""
    _check(e)
    groups = _warpgroups(run, e, mask)
    if groups.size == 0:
        return
    state = _state(run)
    if e.name in _MMAS:
        _issue(run, e, groups, env)
    elif e.name == _COMMIT:
        for first in groups:
            state.committed.setdefault(int(first), []).append(state.open.pop(int(first), []))
    elif e.name == _WAIT:
        keep = e.args[0].value
        for first in groups:
            batches = state.committed.get(int(first), [])
            done, state.committed[int(first)] = batches[:max(len(batches) - keep, 0)], batches[len(batches) - keep:] \
                if keep else []
            for batch in done:
                for mma in batch:
                    _retire(run, int(first), mma)


def check_retired(run) -> None:
    """Refuse a kernel that ends with MMAs never retired by a wait (their results are lost)."""
    state = _RUNS.pop(run, None)
    if state is None:
        return
    left = [f for f, b in state.open.items() if b] + [f for f, bs in state.committed.items() if any(bs)]
    if left:
        f = left[0]
        raise RaceError(f"emulator: {run.fname}: warpgroup {(f % run.nt) // WARPGROUP} of block "
                        f"{run._block_name(f // run.nt)} ends the kernel with wgmma MMAs never committed and "
                        "waited for (wgmma.commit_group, wgmma.wait_group 0)")


#: The emulator runs the calls as :func:`emulate_call` says.
EMULATION = register_extern_emulation(ExternEmulation(frozenset(_MMAS) | frozenset(_CONTROL), writes_of,
                                                      emulate_call, check_retired))
