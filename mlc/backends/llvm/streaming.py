"""Non-temporal ("streaming") stores for outputs too large to stay in the cache.

A kernel that only writes an output (no load of it anywhere in the function)
and writes at least :data:`STREAMING_FRACTION` of the last-level cache into
such outputs cannot expect their first lines to be in the cache when the
kernel ends, so caching them buys nothing and costs twice: each line is read
from memory before it is written (write-allocate), then evicted. Non-temporal
stores (``vmovntps``) write whole lines to memory without either, the way
glibc's ``memcpy`` copies of three quarters of the cache or more.

What counts is what the kernel writes, as for ``memcpy``, not its arguments
together: where the outputs fit in the cache beside the inputs, the lines
stay there for the next kernel (or call) to read or overwrite; streaming pays
only for outputs well beyond the cache, and a row kernel whose input and output
just fit loses a little, since streaming kept its input cached (the numbers:
benchmarks/results/decisions.md, "LLVM backend").

Such a store needs an address aligned to its vector (a fault otherwise), which
a kernel cannot know for its arguments: the codegen tests it at run time, per
vector store of a stride-1 ``Ramp``, and stores normally when it does not hold
(the branch goes the same way on every iteration). ``mlc`` allocates its
outputs 64-byte aligned (:func:`mlc.runtime.ndarray.allocator`), so the test
holds for them. Non-temporal stores are weakly ordered: every function that
made one ends with ``sfence``, so a thread's stores are visible before its
parallel task returns or the kernel does.

x86-64 only: other targets get no streaming buffers.
"""
from __future__ import annotations

from llvmlite import ir

from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad
from ...ir.functor import pre_order_nodes
from ...ir.tir import BufferStore, PrimFunc
from .intrinsics import declare
from .types import I64, itemsize

__all__ = ["STREAMING_FRACTION", "streaming_threshold", "streaming_buffers", "streaming_alignment",
           "aligned_to", "mark_nontemporal", "emit_sfence"]

#: Write-only outputs of at least this fraction of the last-level cache together are
#: streamed (glibc's non-temporal threshold for memcpy).
STREAMING_FRACTION = 0.75


def streaming_threshold(triple: str, caches: tuple[int, int, int]) -> int:
    """The bytes of write-only outputs from which a kernel streams them on a target of this
    ``triple`` and cache sizes (L1d, L2, L3); 0: never (not x86-64, or no L3 size)."""
    if not triple.startswith("x86_64") or not caches or not caches[-1]:
        return 0
    return int(caches[-1] * STREAMING_FRACTION)


def _nbytes(buffer: Buffer) -> int | None:
    n = itemsize(buffer.dtype)
    for e in buffer.shape:
        value = getattr(e, "value", None)
        if not isinstance(value, int):
            return None
        n *= value
    return n


def streaming_buffers(func: PrimFunc, threshold: int) -> frozenset[Buffer]:
    """The parameters of lowered ``func`` it stores to and never loads from, when they (all
    of constant size) hold at least ``threshold`` bytes together; else none."""
    if threshold <= 0:
        return frozenset()
    loaded, stored = set(), set()
    for node in pre_order_nodes(func.body):
        if isinstance(node, BufferLoad):
            loaded.add(node.buffer)
        elif isinstance(node, BufferStore):
            stored.add(node.buffer)
    outputs = [p for p in func.params if p in stored and p not in loaded]
    sizes = [_nbytes(p) for p in outputs]
    if not outputs or any(s is None for s in sizes) or sum(sizes) < threshold:
        return frozenset()
    return frozenset(outputs)


def streaming_alignment(dtype: str, lanes: int) -> int | None:
    """The alignment (bytes) a non-temporal store of ``lanes`` elements of ``dtype`` needs:
    the vector's size up to one 64-byte line; None for vectors too small or of a size not
    a power of two."""
    nbytes = itemsize(dtype) * lanes
    if nbytes < 16 or nbytes & (nbytes - 1):
        return None
    return min(nbytes, 64)


def aligned_to(b: ir.IRBuilder, ptr: ir.Value, align: int) -> ir.Value:
    """``ptr % align == 0`` as an i1."""
    low = b.and_(b.ptrtoint(ptr, I64), ir.Constant(I64, align - 1))
    return b.icmp_unsigned("==", low, ir.Constant(I64, 0))


def mark_nontemporal(module: ir.Module, store: ir.Instruction) -> None:
    store.set_metadata("nontemporal", module.add_metadata([ir.Constant(ir.IntType(32), 1)]))


def emit_sfence(module: ir.Module, b: ir.IRBuilder) -> None:
    b.call(declare(module, "llvm.x86.sse.sfence", ir.FunctionType(ir.VoidType(), [])), [])
