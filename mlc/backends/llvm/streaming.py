"""Non-temporal ("streaming") stores for outputs too large to stay in the cache.

A kernel that only writes an output (no load of it anywhere in the function)
and writes at least :data:`STREAMING_FRACTION` of the last-level cache into
such outputs cannot expect their first lines to be in the cache when the
kernel ends, so caching them buys nothing and costs twice: each line is read
from memory before it is written (write-allocate), then evicted. Non-temporal
stores (``vmovntps``) write whole lines to memory without either, the way
glibc's ``memcpy`` copies of three quarters of the cache or more.

What counts is what the kernel writes, as for ``memcpy`` (or what it reads,
below), not its arguments together: where the outputs fit in the cache beside the inputs, the lines
stay there for the next kernel (or call) to read or overwrite; streaming pays
only for outputs well beyond the cache, and a row kernel whose input and output
just fit loses a little, since streaming kept its input cached (the numbers:
benchmarks/results/decisions.md, "LLVM backend").

What a kernel reads counts too, for an output the schedule writes in one sweep
(a row kernel's last pass, which asks for the output's lines to be written
ahead): where its inputs alone reach the threshold, the lines it writes are
evicted by the reads that follow them, and the output streams as well (layer_norm's gradient: reading 32 MiB and writing 16 MiB, the 16 MiB
cached cost a write-allocate's 16 MiB more traffic than the forward's whole
call). A hint that asks for an output's lines (``mlc_prefetch_for_write``) does
not count as reading it.

A non-temporal store leaves the store queue only when its line is written to
memory, and a later load whose address has the same low 12 bits (its offset in
a 4 KiB page) waits for it: a loop that loads a stream at about the streamed
output's page offset runs 8-25 times slower than with cached stores (measured:
benchmarks/results/, "layer-norm-grad-nt-aliasing"). The offsets are the
caller's, known only at run time: the codegen emits the innermost loop around a
streamed output's stores twice, behind one test (:func:`emit_apart`) that the
output's start lies out of :func:`apart`'s window of the start of every
parameter the function loads: there, non-temporal stores and no hints that ask
for the output's lines to be written (``mlc_prefetch_for_write``: a streamed
line asked into the cache first costs both); else the cached stores with them.
:func:`mlc.runtime.ndarray.host_empty` places large outputs half a page or more
from where NumPy's large arrays start, and a graph's ``main`` its intermediates
elsewhere again (:mod:`.memory`), so the test holds for the usual caller.

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

from ...ir.analysis.census import contains
from ...ir.buffer import Buffer
from ...ir.expr import BufferLoad, Ramp
from ...ir.extern import PREFETCH_FOR_WRITE, AddressOf, CallExtern
from ...ir.functor import pre_order_nodes, pre_order_statements
from ...ir.tir import BufferStore, For, PrimFunc
from .intrinsics import declare
from .types import I64, itemsize

__all__ = ["STREAMING_FRACTION", "streaming_threshold", "streaming_buffers", "streaming_alignment",
           "aligned_to", "mark_nontemporal", "emit_sfence", "PAGE_BYTES", "ALIAS_BEFORE", "ALIAS_AFTER",
           "apart", "loaded_params", "buffer_uses", "stream_sites", "non_temporal_store", "emit_apart"]

#: Write-only outputs of at least this fraction of the last-level cache together are
#: streamed (glibc's non-temporal threshold for memcpy).
STREAMING_FRACTION = 0.75
#: The page whose offsets a load is checked against older stores by, first.
PAGE_BYTES = 4096
#: A streamed output whose start's page offset lies from ALIAS_BEFORE bytes before to
#: ALIAS_AFTER bytes after that of a buffer the function loads stores normally: the stores
#: of a step alias the loads of its later rows and of the next step (measured window: 16
#: before to about 160 after for layer_norm's gradient; a margin on both sides).
ALIAS_BEFORE, ALIAS_AFTER = 32, 256


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


def buffer_uses(func: PrimFunc) -> tuple[set[Buffer], set[Buffer], set[Buffer]]:
    """(the buffers ``func`` loads from, not counting the loads that only name an address,
    as a hint's do; the buffers it stores to; those whose lines it asks for to be written,
    ``mlc_prefetch_for_write``), in one walk of its body: what :func:`streaming_buffers` and
    :func:`loaded_params` read, found once for both."""
    loaded, stored, hinted, addresses = set(), set(), set(), set()
    for node in pre_order_nodes(func.body):
        if isinstance(node, AddressOf):
            addresses.add(id(node.load))
        elif isinstance(node, BufferLoad) and id(node) not in addresses:
            loaded.add(node.buffer)
        elif isinstance(node, BufferStore):
            stored.add(node.buffer)
        elif (buffer := _write_hinted(node)) is not None:
            hinted.add(buffer)
    return loaded, stored, hinted


def _write_hinted(node) -> Buffer | None:
    """The buffer whose lines ``node`` asks to be written (``mlc_prefetch_for_write``), or None."""
    if isinstance(node, CallExtern) and node.name == PREFETCH_FOR_WRITE and node.args \
            and isinstance(node.args[0], AddressOf):
        return node.args[0].load.buffer
    return None


def streaming_buffers(func: PrimFunc, threshold: int, uses=None) -> frozenset[Buffer]:
    """The parameters of lowered ``func`` it stores to and never loads from (a hint's address
    is no load), when they (all of constant size) hold at least ``threshold`` bytes together,
    or when the parameters it only loads from do and it asks for the lines of each of them
    to be written ahead (a row kernel's last pass writing its rows: a schedule's mark of an
    output written in one sweep, beside inputs read in one; not a matmul's output, stored a
    tile at a time while its inputs are read again and again from the cache); else none.
    ``uses``: :func:`buffer_uses` of ``func``, where the caller has it."""
    if threshold <= 0:
        return frozenset()
    loaded, stored, hinted = uses or buffer_uses(func)
    outputs = [p for p in func.params if p in stored and p not in loaded]
    sizes = [_nbytes(p) for p in outputs]
    if not outputs or any(s is None for s in sizes):
        return frozenset()
    if sum(sizes) >= threshold:
        return frozenset(outputs)
    read = [_nbytes(p) for p in func.params if p in loaded and p not in stored]
    if all(p in hinted for p in outputs) and not any(s is None for s in read) and sum(read) >= threshold:
        return frozenset(outputs)
    return frozenset()


def loaded_params(func: PrimFunc, uses=None) -> tuple[Buffer, ...]:
    """The parameters of lowered ``func`` it loads from (a hint's address is no load): those
    a streamed output's start is checked against (:func:`emit_apart`). ``uses``:
    :func:`buffer_uses` of ``func``, where the caller has it."""
    loaded, _, _ = uses or buffer_uses(func)
    return tuple(p for p in func.params if p in loaded)


def stream_sites(loop: For, streaming: frozenset[Buffer]) -> frozenset[int]:
    """The ids of the vector stores to ``streaming`` buffers in ``loop`` that a streamed
    version stores non-temporally (:func:`non_temporal_store`) and of its hints that ask for
    their lines to be written: what the loop's streamed and cached versions differ in. A
    loop whose stores are scalar (LLVM's loop vectorizer widens them) has none: both
    versions would be the same code, twice LLVM's work. Its statements alone are walked
    where its census has no such hint (a hint is a call in an expression; expressions are
    most of a loop's nodes).

    >>> from mlc.ir.buffer import decl_buffer
    >>> from mlc.ir.expr import Var, Ramp, Broadcast, const
    >>> out = decl_buffer((64,), "float32", "out")
    >>> i = Var("i", "int64")
    >>> scalar = For(i, const(0, "int64"), const(64, "int64"), "serial",
    ...              BufferStore(out, const(1.0, "float32"), (i,)))
    >>> vector = For(i, const(0, "int64"), const(8, "int64"), "serial",
    ...              BufferStore(out, Broadcast(const(1.0, "float32"), 8), (Ramp(i * 8, 1, 8),)))
    >>> len(stream_sites(scalar, frozenset({out}))), len(stream_sites(vector, frozenset({out})))
    (0, 1)
    """
    hinted = contains(loop.body, CallExtern, PREFETCH_FOR_WRITE)
    sites = set()
    for node in (pre_order_nodes if hinted else pre_order_statements)(loop.body):
        if isinstance(node, BufferStore):
            if node.buffer in streaming and non_temporal_store(node):
                sites.add(id(node))
        elif _write_hinted(node) in streaming:
            sites.add(id(node))
    return frozenset(sites)


def non_temporal_store(store: BufferStore) -> bool:
    """Whether ``store``, to a streamed output, is non-temporal in a loop's streamed version:
    a vector stored at a stride-1 ``Ramp`` of a size a non-temporal store takes
    (:func:`streaming_alignment`). A scalar store, or one scattered lane by lane, is the same
    in both versions."""
    index = store.indices[0] if len(store.indices) == 1 else None
    return (isinstance(index, Ramp) and index.stride == 1
            and streaming_alignment(store.buffer.dtype, index.lanes) is not None)


def apart(stored: int, loaded: int) -> bool:
    """Whether an output streamed from address ``stored`` keeps clear of the page offsets a
    stream loaded from ``loaded`` has: ``stored - loaded`` modulo a page outside
    ``[-ALIAS_BEFORE, ALIAS_AFTER)``. What :func:`emit_apart` tests at run time.

    >>> apart(0x10000 + 2048, 0x20000 + 16), apart(0x10000 + 64, 0x20000 + 16)
    (True, False)
    """
    return (stored - loaded + ALIAS_BEFORE) % PAGE_BYTES >= ALIAS_BEFORE + ALIAS_AFTER


def emit_apart(b: ir.IRBuilder, stored: ir.Value, loaded: list[ir.Value]) -> ir.Value:
    """:func:`apart` of pointer ``stored`` and each of ``loaded``, all true, as an i1."""
    ok = ir.Constant(ir.IntType(1), 1)
    start = b.ptrtoint(stored, I64)
    for ptr in loaded:
        gap = b.add(b.sub(start, b.ptrtoint(ptr, I64)), ir.Constant(I64, ALIAS_BEFORE))
        offset = b.and_(gap, ir.Constant(I64, PAGE_BYTES - 1))
        ok = b.and_(ok, b.icmp_unsigned(">=", offset, ir.Constant(I64, ALIAS_BEFORE + ALIAS_AFTER)))
    return ok


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
