"""Counted loops in LLVM IR, and the loop metadata that carries a For's kind.

``emit_loop`` builds the canonical shape LLVM's loop passes expect::

    preheader:  br header
    header:     i = phi [min, preheader], [i.next, latch]
                br (i < min + extent), body, exit
    body ...    (the caller's code; may add blocks)
    latch:      i.next = add nsw i, 1
                br header, !llvm.loop !N      ; kind hints live here
    exit:

``vectorized`` loops carry ``llvm.loop.vectorize.enable`` (and a width hint
for small constant extents; one calling a vector math routine asks for two
register-wide vectors in flight where they divide its extent,
``llvm.loop.interleave.count``: see ``MATH_INTERLEAVE`` in :mod:`.codegen`), ``unrolled`` ones ``llvm.loop.unroll.full``
(:func:`mlc.passes.tir.unroll.unroll_loops` writes out unrolled loops of at most
:data:`~mlc.passes.tir.unroll.MAX_UNROLL` copies, so those never reach LLVM as loops), and ``kept`` ones (serial
loops of vector statements the codegen asks LLVM not to copy again, see
``_keeps_loop`` in :mod:`.codegen`) ``llvm.loop.unroll.disable``.
"""
from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir
from llvmlite.ir.values import MDValue

from .types import int_constant, signed

__all__ = ["emit_loop", "emit_while", "loop_metadata", "MAX_VECTOR_WIDTH_HINT", "MIN_KEPT_TRIPS"]

#: A vectorized loop with a constant power-of-two extent up to this many
#: iterations asks LLVM for exactly that vector width.
MAX_VECTOR_WIDTH_HINT = 16

#: A serial loop of vector statements keeps its loop (``kept``) from this many iterations on.
MIN_KEPT_TRIPS = 8


class _LoopID(MDValue):
    """A distinct, self-referential loop-ID node: ``distinct !{!self, !props...}``."""

    def descr(self, buf):
        buf.append("distinct ")
        super().descr(buf)


def loop_metadata(module: ir.Module, kind: str, extent: int | None,
                  interleave: tuple[int, int] | None = None) -> MDValue | None:
    """The ``!llvm.loop`` node for a loop of ``kind`` (None when it needs none). A vectorized
    loop given ``interleave = (width, count)`` asks for vectors of ``width`` lanes, ``count``
    of them in flight per iteration (the caller checks that ``width * count`` divides
    ``extent``: LLVM leaves a loop scalar whose trip count is below one vector iteration)."""
    props = []
    if kind == "vectorized":
        props.append(module.add_metadata([ir.MetaDataString(module, "llvm.loop.vectorize.enable"),
                                          ir.Constant(ir.IntType(1), 1)]))
        width = interleave[0] if interleave else extent
        if interleave:
            props.append(module.add_metadata([ir.MetaDataString(module, "llvm.loop.interleave.count"),
                                              ir.Constant(ir.IntType(32), interleave[1])]))
        if width is not None and 1 < width <= MAX_VECTOR_WIDTH_HINT and width & (width - 1) == 0:
            props.append(module.add_metadata([ir.MetaDataString(module, "llvm.loop.vectorize.width"),
                                              ir.Constant(ir.IntType(32), width)]))
        # Else LLVM fully unrolls a short loop before the vectorizer sees it.
        props.append(module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")]))
    elif kind == "kept":
        props.append(module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")]))
    elif kind == "unrolled":
        props.append(module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.full")]))
    if not props:
        return None
    node = _LoopID(module, (), name=str(len(module.metadata)))
    node.operands = (node, *props)
    return node


def emit_loop(builder: ir.IRBuilder, begin: ir.Value, extent: ir.Value, name: str,
              body: Callable[[ir.Value], None], metadata: MDValue | None = None) -> None:
    """Emit ``for i in range(begin, begin + extent): body(i)``; the builder ends after the loop.

    ``body`` emits the loop body at the builder's position, given ``i``.
    """
    first, count = int_constant(begin), int_constant(extent)
    if first is not None and count is not None:  # written as a constant
        end = ir.Constant(begin.type, signed(first + count, begin.type.width))
    else:
        end = builder.add(begin, extent, name=f"{name}.end")
    preheader = builder.block
    header, body_block, exit_block = _enter_loop(builder, name)
    index = builder.phi(begin.type, name=name)
    index.add_incoming(begin, preheader)
    builder.cbranch(builder.icmp_signed("<", index, end), body_block, exit_block)

    builder.position_at_end(body_block)
    body(index)
    nxt = builder.add(index, ir.Constant(begin.type, 1), name=f"{name}.next", flags=("nsw",))
    latch = builder.block
    back = builder.branch(header)
    if metadata is not None:
        back.set_metadata("llvm.loop", metadata)
    index.add_incoming(nxt, latch)
    builder.position_at_end(exit_block)


def emit_while(builder: ir.IRBuilder, condition: Callable[[], ir.Value],
               body: Callable[[], None], name: str = "while") -> None:
    """Emit ``while condition(): body()``; the builder ends after the loop. ``condition``
    emits its (i1) value at the builder's position, once per iteration, in the loop header."""
    header, body_block, exit_block = _enter_loop(builder, name)
    builder.cbranch(condition(), body_block, exit_block)
    builder.position_at_end(body_block)
    body()
    builder.branch(header)
    builder.position_at_end(exit_block)


def _enter_loop(builder: ir.IRBuilder, name: str) -> tuple[ir.Block, ir.Block, ir.Block]:
    """Append the header, body and exit blocks of loop ``name``, branch from the builder's
    block to the header and continue there; returns the three blocks."""
    fn = builder.function
    header = fn.append_basic_block(f"{name}.header")
    body_block = fn.append_basic_block(f"{name}.body")
    exit_block = fn.append_basic_block(f"{name}.exit")
    builder.branch(header)
    builder.position_at_end(header)
    return header, body_block, exit_block
