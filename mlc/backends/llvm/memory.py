"""Where ``Allocate``d buffers live: the stack when small, the heap when large.

A buffer of constant size up to :data:`MAX_STACK_BYTES` becomes an ``alloca``
in the function's entry block (so a loop around the Allocate reuses one
slot), as long as the function's stack use stays under
:data:`STACK_BUDGET_BYTES`. Anything else is ``malloc``ed where the Allocate
starts and ``free``d where it ends; functions have a single exit, so every
path frees it. Zero-size buffers get a valid pointer that is never read.
"""
from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from .intrinsics import declare
from .types import I64, PTR

__all__ = ["BufferAllocator", "MAX_STACK_BYTES", "STACK_BUDGET_BYTES", "STACK_ALIGN"]

MAX_STACK_BYTES = 64 * 1024
STACK_BUDGET_BYTES = 256 * 1024
#: Alignment of stack and heap buffers (a cache line; enough for any vector).
STACK_ALIGN = 64


class BufferAllocator:
    """Emits the allocation and release of one function's buffers."""

    def __init__(self, builder: ir.IRBuilder, entry: ir.Block):
        self.builder = builder
        self.entry_builder = ir.IRBuilder(entry)
        self.stack_bytes = 0

    def allocate(self, name: str, elem: ir.Type, elem_bytes: int, count: ir.Value,
                 static_count: int | None) -> tuple[ir.Value, Callable[[], None]]:
        """A pointer to ``count`` elements of ``elem`` (``elem_bytes`` each) and its release."""
        if static_count is not None:
            nbytes = static_count * elem_bytes
            if nbytes <= MAX_STACK_BYTES and self.stack_bytes + nbytes <= STACK_BUDGET_BYTES:
                self.stack_bytes += nbytes
                slot = self.entry_builder.alloca(elem, size=ir.Constant(I64, max(static_count, 1)), name=name)
                slot.align = STACK_ALIGN
                return slot, _nothing
        b = self.builder
        module = b.module
        malloc = declare(module, "malloc", ir.FunctionType(PTR, [I64]))
        free = declare(module, "free", ir.FunctionType(ir.VoidType(), [PTR]))
        nbytes = b.mul(count, ir.Constant(I64, elem_bytes))
        nbytes = b.select(b.icmp_signed(">", nbytes, ir.Constant(I64, 0)), nbytes, ir.Constant(I64, 1))
        ptr = b.call(malloc, [nbytes], name=name)
        return ptr, lambda: b.call(free, [ptr])


def _nothing() -> None:
    pass
