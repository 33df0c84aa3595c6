"""Where ``Allocate``d buffers live: the stack when small, the heap when large.

A buffer of constant size up to :data:`MAX_STACK_BYTES` becomes an ``alloca``
in the function's entry block (so a loop around the Allocate reuses one
slot), as long as the function's stack use stays under
:data:`STACK_BUDGET_BYTES`. Anything else is ``malloc``ed where the Allocate
starts and ``free``d where it ends; functions have a single exit, so every
path frees it. Zero-size buffers get a valid pointer that is never read.

A heap buffer of constant size from :data:`KEEP_MIN_BYTES` to :data:`KEEP_MAX_BYTES`
is kept between calls: its Allocate takes the block parked in a module global
(``atomicrmw xchg`` with null; ``malloc`` when none is parked) and parks it again
where the Allocate ends (``cmpxchg`` null -> block; ``free`` when another call
parked one first, so concurrent calls each get their own block). Freeing such a
block on every call hands it back to the kernel whenever glibc's heap top passes
its trim threshold (a 16 MiB scratch beside a 16 MiB output does), and the next
call faults every page in again: thousands of page faults, a fifth of a radix
sort's time. Each such Allocate of a loaded module holds at most one block, freed
with the module (:func:`free_kept_blocks`). The block is taken by a call of its own
(:func:`_take_function`), whose ``noalias`` result alias analysis tells apart from the
function's stack buffers. Heap blocks start on a cache line (:data:`HEAP_ALIGN`,
:func:`_aligned_functions`), and on Linux a block of :data:`HUGE_PAGE_MIN_BYTES` or more asks
for transparent huge pages (``madvise(MADV_HUGEPAGE)``, as NumPy does for its arrays): a radix
sort's scatter writes to 2048 places of a 16 MiB scratch at once, and on 4 KiB pages nearly
every store missed the TLB.

A graph's ``main`` places each intermediate of a page or more (stack or heap) at an
offset of :data:`INTERMEDIATE_PAGE_OFFSETS` in its page, taken in turn: away from where
NumPy's and mlc's inputs and mlc's outputs start in theirs (16, 64, and 2048 or 2560 bytes in)
and from the intermediate allocated before it, so that a kernel streaming an output
past an intermediate it loads finds their page offsets apart (:mod:`.streaming`). A
block so placed takes a page more.
"""
from __future__ import annotations

import ctypes
import re
import weakref
from collections.abc import Callable

from llvmlite import ir

from .intrinsics import declare
from .streaming import PAGE_BYTES
from .types import I64, PTR

__all__ = ["BufferAllocator", "MAX_STACK_BYTES", "STACK_BUDGET_BYTES", "STACK_ALIGN", "KEEP_MIN_BYTES",
           "KEEP_MAX_BYTES", "HEAP_ALIGN", "HUGE_PAGE_MIN_BYTES", "free_kept_blocks"]

MAX_STACK_BYTES = 64 * 1024
STACK_BUDGET_BYTES = 256 * 1024
#: Alignment of stack and heap buffers (a cache line; enough for any vector).
STACK_ALIGN = 64
#: Heap buffers of constant size in [KEEP_MIN_BYTES, KEEP_MAX_BYTES] are kept between calls. From
#: 128 KiB, glibc's first mmap threshold: such a block may be a mapping of its own, or the top of
#: a heap that is trimmed when it is freed, and its pages fault in again on the next call (the
#: 640 KB intermediates of a Deriche filter on a 400 x 200 image: a third of its call).
KEEP_MIN_BYTES, KEEP_MAX_BYTES = 1 << 17, 1 << 28
#: The globals parking kept blocks are named ``__mlc_kept.<function>.<buffer>[.<n>]`` (unique
#: across the LLVM modules of one build, whose objects share an engine).
KEPT_PREFIX = "__mlc_kept."
#: The module's function that takes a parked block (:func:`_take_function`).
TAKE_FUNCTION = "__mlc_take_parked"
#: The module's allocation functions of cache-line-aligned heap blocks (:func:`_aligned_functions`).
MALLOC_FUNCTION, FREE_FUNCTION = "__mlc_malloc", "__mlc_free"
#: Alignment of heap blocks: a cache line.
HEAP_ALIGN = 64
#: Heap blocks of this size or more ask for transparent huge pages on Linux (NumPy's threshold
#: for its arrays: a block that holds at least one whole 2 MiB page).
HUGE_PAGE_MIN_BYTES = 1 << 22
#: ``madvise``'s advice asking for transparent huge pages (Linux's, every architecture it runs here).
MADV_HUGEPAGE = 14
#: Where a graph's ``main`` starts its intermediates of a page or more in their pages, in
#: turn (module docstring).
INTERMEDIATE_PAGE_OFFSETS = (1024, 3072)


class BufferAllocator:
    """Emits the allocation and release of one function's buffers."""

    def __init__(self, builder: ir.IRBuilder, entry: ir.Block, placed: bool = False):
        self.builder = builder
        self.entry_builder = ir.IRBuilder(entry)
        self.stack_bytes = 0
        self.placed = placed  # a graph's main: blocks of a page or more placed in their pages
        self._places = 0  # blocks placed so far

    def allocate(self, name: str, elem: ir.Type, elem_bytes: int, count: ir.Value,
                 static_count: int | None) -> tuple[ir.Value, Callable[[], None]]:
        """A pointer to ``count`` elements of ``elem`` (``elem_bytes`` each) and its release."""
        place = self.placed and static_count is not None and static_count * elem_bytes >= PAGE_BYTES
        extra = -(-PAGE_BYTES // elem_bytes) if place else 0  # elements more, for the placement
        if static_count is not None:
            nbytes = (static_count + extra) * elem_bytes
            if nbytes <= MAX_STACK_BYTES + extra * elem_bytes and self.stack_bytes + nbytes <= STACK_BUDGET_BYTES:
                self.stack_bytes += nbytes
                slot = self.entry_builder.alloca(elem, size=ir.Constant(I64, max(static_count + extra, 1)), name=name)
                slot.align = STACK_ALIGN
                # an opaque ``ptr`` like every other buffer (llvmlite types an alloca
                # ``float*``, and every vector access through it would need a bitcast)
                slot.type = PTR
                return (self._place(slot) if place else slot), _nothing
        b = self.builder
        module = b.module
        malloc, free = _aligned_functions(module)
        nbytes = b.mul(b.add(count, ir.Constant(I64, extra)), ir.Constant(I64, elem_bytes))
        nbytes = b.select(b.icmp_signed(">", nbytes, ir.Constant(I64, 0)), nbytes, ir.Constant(I64, 1))
        if static_count is not None and KEEP_MIN_BYTES <= static_count * elem_bytes <= KEEP_MAX_BYTES:
            ptr, release = self._kept(name, nbytes, malloc, free)
        else:
            ptr = b.call(malloc, [nbytes], name=name)
            release = lambda: b.call(free, [ptr])  # noqa: E731 (a closure over ptr)
        return (self._place(ptr) if place else ptr), release

    def _place(self, block: ir.Value) -> ir.Value:
        """The first address in ``block`` (cache-line aligned, a page longer than its data)
        at the next of INTERMEDIATE_PAGE_OFFSETS in its page."""
        b = self.builder if not isinstance(block, ir.AllocaInstr) else self.entry_builder
        offset = INTERMEDIATE_PAGE_OFFSETS[self._places % len(INTERMEDIATE_PAGE_OFFSETS)]
        self._places += 1
        gap = b.and_(b.sub(ir.Constant(I64, offset), b.ptrtoint(block, I64)), ir.Constant(I64, PAGE_BYTES - 1))
        return b.gep(block, [gap], source_etype=ir.IntType(8), inbounds=True)

    def _kept(self, name: str, nbytes: ir.Value, malloc: ir.Function, free: ir.Function):
        """The block parked in this Allocate's own global, or a new one; parked again on release."""
        b = self.builder
        module = b.module
        slot = ir.GlobalVariable(module, PTR, name=module.get_unique_name(f"{KEPT_PREFIX}{b.function.name}.{name}"))
        slot.initializer = ir.Constant(PTR, None)
        ptr = b.call(_take_function(module, malloc), [slot, nbytes], name=name)

        def release() -> None:
            swapped = b.cmpxchg(slot, ir.Constant(PTR, None), ptr, "release", "monotonic")
            with b.if_then(b.not_(b.extract_value(swapped, 1)), likely=False):
                b.call(free, [ptr])
        return ptr, release


def _aligned_functions(module: ir.Module) -> tuple[ir.Function, ir.Function]:
    """The module's ``ptr noalias align 64 @__mlc_malloc(i64 n)`` and ``@__mlc_free(ptr p)``:
    ``malloc`` and ``free`` of blocks that start on a cache line (HEAP_ALIGN). ``malloc``
    aligns to 16 bytes only (a large block is a mapping of its own, 16 bytes past a page),
    and a packed panel 16 bytes past a cache line splits every second 32-byte load of it
    (every 64-byte one) across two lines. The block takes HEAP_ALIGN bytes more than asked;
    the pointer ``malloc`` returned is kept in the 8 bytes before the aligned one, for
    ``__mlc_free`` (and :func:`_free_parked`). On Linux a block of HUGE_PAGE_MIN_BYTES or more
    is advised to take huge pages (:func:`_advise_huge_pages`)."""
    fn = module.globals.get(MALLOC_FUNCTION)
    if fn is not None:
        return fn, module.globals[FREE_FUNCTION]
    malloc = declare(module, "malloc", ir.FunctionType(PTR, [I64]))
    free = declare(module, "free", ir.FunctionType(ir.VoidType(), [PTR]))
    fn = ir.Function(module, ir.FunctionType(PTR, [I64]), name=MALLOC_FUNCTION)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    fn.return_value.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    raw = b.call(malloc, [b.add(fn.args[0], ir.Constant(I64, HEAP_ALIGN))])
    with b.if_then(b.icmp_unsigned("==", raw, ir.Constant(PTR, None)), likely=False):
        b.ret(raw)
    address = b.and_(b.add(b.ptrtoint(raw, I64), ir.Constant(I64, HEAP_ALIGN)), ir.Constant(I64, -HEAP_ALIGN))
    aligned = b.gep(raw, [b.sub(address, b.ptrtoint(raw, I64))], source_etype=ir.IntType(8), inbounds=True)
    b.store(raw, b.gep(aligned, [ir.Constant(I64, -1)], source_etype=PTR, inbounds=True))
    if "linux" in (module.triple or ""):
        with b.if_then(b.icmp_unsigned(">=", fn.args[0], ir.Constant(I64, HUGE_PAGE_MIN_BYTES)), likely=False):
            _advise_huge_pages(b, aligned, fn.args[0])
    b.ret(aligned)
    release = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR]), name=FREE_FUNCTION)
    release.linkage = "internal"
    release.attributes.add("nounwind")
    b = ir.IRBuilder(release.append_basic_block("entry"))
    b.call(free, [b.load(b.gep(release.args[0], [ir.Constant(I64, -1)], source_etype=PTR, inbounds=True), typ=PTR)])
    b.ret_void()
    return fn, release


def _advise_huge_pages(b: ir.IRBuilder, block: ir.Value, nbytes: ir.Value) -> None:
    """``madvise(MADV_HUGEPAGE)`` over the whole pages of ``nbytes`` at ``block`` (its result
    ignored: where the system has no transparent huge pages, the block keeps small ones)."""
    madvise = declare(b.module, "madvise", ir.FunctionType(ir.IntType(32), [PTR, I64, ir.IntType(32)]))
    page = ir.Constant(I64, PAGE_BYTES - 1)
    start = b.ptrtoint(block, I64)
    first = b.and_(b.add(start, page), b.not_(page))
    end = b.and_(b.add(start, nbytes), b.not_(page))
    b.call(madvise, [b.inttoptr(first, PTR), b.sub(end, first), ir.Constant(ir.IntType(32), MADV_HUGEPAGE)])


def _take_function(module: ir.Module, malloc: ir.Function) -> ir.Function:
    """``ptr noalias @__mlc_take_parked(ptr slot, i64 nbytes)``: the block parked in ``slot``
    (``atomicrmw xchg`` with null), or a new one of ``nbytes``. A call of its own, kept out
    of line, whose ``noalias`` result LLVM's alias analysis knows to be a block no other
    pointer of the caller reaches, as it knows ``malloc``'s (a pointer out of an
    ``atomicrmw`` it does not: the caller's stack buffers, a register tile's accumulators,
    might then alias it, and a loop that stores them could not keep them in registers)."""
    fn = module.globals.get(TAKE_FUNCTION)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(PTR, [PTR, I64]), name=TAKE_FUNCTION)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    fn.attributes.add("nounwind")
    fn.return_value.add_attribute("noalias")
    slot, nbytes = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    parked = b.atomic_rmw("xchg", slot, ir.Constant(PTR, None), "acquire")
    entry = b.block
    with b.if_then(b.icmp_unsigned("==", parked, ir.Constant(PTR, None)), likely=False):
        fresh = b.call(malloc, [nbytes])
        made = b.block
    ptr = b.phi(PTR)
    ptr.add_incoming(parked, entry)
    ptr.add_incoming(fresh, made)
    b.ret(ptr)
    return fn


def _nothing() -> None:
    pass


def free_kept_blocks(compiled) -> None:
    """Free the blocks the Allocates of ``compiled`` (a loaded module) parked when it goes: a
    finalizer holding its engine (so the parking globals stay readable) until then."""
    slots = tuple(sorted(set(re.findall(r'@"?(' + re.escape(KEPT_PREFIX) + r'[\w.$-]*)"?\s*=',
                                        compiled.optimized_ir))))
    if slots:
        weakref.finalize(compiled, _free_parked, compiled.engine, slots)


def _free_parked(engine, slots) -> None:
    for name in slots:
        slot = ctypes.c_void_p.from_address(engine.get_global_value_address(name))
        if slot.value:  # the pointer malloc returned is kept just before the block
            _libc_free(ctypes.c_void_p.from_address(slot.value - 8).value)
            slot.value = None


_libc_free = ctypes.CDLL(None).free
_libc_free.argtypes = [ctypes.c_void_p]
