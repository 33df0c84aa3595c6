"""Counted loops in LLVM IR, and the loop metadata that carries a For's kind; the loops of
the function codegen are :class:`LoopCodegen` (mixed into it).

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
``llvm.loop.interleave.count``: see :data:`MATH_INTERLEAVE`), ``unrolled`` ones ``llvm.loop.unroll.full``
(:func:`mlc.passes.tir.unroll.unroll_loops` writes out unrolled loops of at most
:data:`~mlc.passes.tir.unroll.MAX_UNROLL` copies, so those never reach LLVM as loops), and ``kept`` ones (serial
loops of vector statements LLVM is asked not to copy again, as
:func:`mlc.passes.tir.keep_loops.keep_vector_loops` marked them) ``llvm.loop.unroll.disable``.
"""
from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir
from llvmlite.ir.values import MDValue

from ...errors import CompileError
from ...ir import dtype as dt
from ...ir.expr import Call, IntImm
from ...ir.functor import pre_order_nodes
from ...ir.tir import For, While
from ...passes.tir.keep_loops import kept
from ...passes.tir.lower_math import MATH_ANNOTATION
from . import arith
from .addressing import sext64
from .targeting import module_target
from .types import int_constant, signed
from .vecmath import VECTOR_MATH_OPS

__all__ = ["LoopCodegen", "NARROWED", "emit_loop", "emit_while", "loop_metadata", "for_metadata", "MAX_VECTOR_WIDTH_HINT",
           "MATH_INTERLEAVE"]

#: A vectorized loop with a constant power-of-two extent up to this many
#: iterations asks LLVM for exactly that vector width.
MAX_VECTOR_WIDTH_HINT = 16


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


def for_metadata(module: ir.Module, s: For) -> MDValue | None:
    """The loop metadata of For ``s`` (:func:`loop_metadata`): its kind's, a serial loop
    marked by :func:`~mlc.passes.tir.keep_loops.keep_vector_loops` as ``kept``, the loop a
    parallel loop runs in its body as serial."""
    extent = s.extent.value if isinstance(s.extent, IntImm) else None
    kind = "serial" if s.kind == "parallel" else s.kind
    if s.kind == "serial" and kept(s):
        kind = "kept"
    return loop_metadata(module, kind, extent, _interleave(module, s, kind, extent))


def _interleave(module: ir.Module, s: For, kind: str, extent: int | None) -> tuple[int, int] | None:
    """(lanes, MATH_INTERLEAVE) for a vectorized loop of a constant ``extent`` whose body calls
    a vector math routine (or computes one that lower_math wrote out), where that many register-wide vectors fit in the extent; else
    None (LLVM's own choice)."""
    if MATH_INTERLEAVE < 2 or kind != "vectorized" or extent is None:
        return None
    target = module_target(module)
    bits = [dt.bits(dt.element(n.dtype)) for n in pre_order_nodes(s.body) if isinstance(n, Call) and n.op in VECTOR_MATH_OPS]
    bits += [value for key, value in s.annotations if key == MATH_ANNOTATION]  # (lower_math's routines)
    if target is None or not bits:
        return None
    lanes = target.vector_bits // max(bits)
    return (lanes, MATH_INTERLEAVE) if lanes > 1 and extent % (lanes * MATH_INTERLEAVE) == 0 else None


#: Register-wide vectors a vectorized loop calling a vector math routine keeps in flight
#: (``llvm.loop.interleave.count``; 1: LLVM's choice, which is one for such long bodies): the
#: loops that reach the codegen as loops, calling a routine without a vector form
#: (:data:`.vecmath.VECTOR_FORMS`: pow, ...; or lower_math's: atan, ...) or not made vector statements by the
#: vectorize pass.
MATH_INTERLEAVE = 2


#: The value of an int32 loop variable (counted in i64) until a use asks for it as int32.
NARROWED = object()


class LoopCodegen:
    """The loops of the function codegen (mixed into it): ``builder``, ``module``, ``expr``,
    ``stmt``, ``vars``, ``wide``, ``loop_depth`` and ``_parallel_loop`` are the codegen's."""

    def _for(self, s: For) -> None:
        if s.kind == "thread_binding":
            raise CompileError(
                f"loop {s.loop_var.name} is bound to GPU thread axis {s.thread_binding!r}; "
                "thread-bound loops need the cuda target (build with target='cuda'), or "
                "remove the binding for the llvm target")
        if s.kind == "parallel":
            self._parallel_loop(s)
        else:
            self._serial_loop(s)

    def _serial_loop(self, s: For) -> None:
        self._counted_loop(s, *self._loop_range(s))

    def _loop_range(self, s: For) -> tuple[ir.Value, ir.Value]:
        """(min, extent) of ``s`` in its loop variable's type."""
        cast = arith.cast
        return (cast(self.builder, self.expr(s.min), s.min.dtype, s.loop_var.dtype),
                cast(self.builder, self.expr(s.extent), s.extent.dtype, s.loop_var.dtype))

    def _counted_loop(self, s: For, begin: ir.Value, count: ir.Value) -> None:
        """``s``'s body for ``count`` iterations from ``begin``, with its kind's loop metadata."""
        metadata = for_metadata(self.module, s)
        self.loop_depth += 1
        try:
            emit_loop(self.builder, self._widen(s, begin), self._widen(s, count), s.loop_var.name,
                      lambda i: self._loop_body(s, i), metadata)
        finally:
            self.loop_depth -= 1

    def _widen(self, s: For, value: ir.Value) -> ir.Value:
        """An int32 loop bound as i64: int32 loops count in i64 (see :meth:`_loop_body`)."""
        return sext64(self.builder, value) if s.loop_var.dtype == "int32" else value

    def _loop_body(self, s: For, index: ir.Value) -> None:
        """``s``'s body with its variable bound to ``index``.

        An int32 loop variable is counted in i64 (its values are int32, so this
        is exact): indices use the i64 value directly (``_index64``), other
        uses its truncation (made where first needed: the codegen's ``_var``). LLVM's loop
        passes then have no sign extensions of induction variables to widen.
        """
        var = s.loop_var
        if var.dtype == "int32":
            self.wide[var] = index
            index = NARROWED
        self.vars[var] = index
        try:
            self.stmt(s.body)
        finally:
            del self.vars[var]
            self.wide.pop(var, None)

    def _while(self, s: While) -> None:
        """``while cond: body`` as a native loop (a graph's main runs ``mlc.while_loop`` so)."""
        self.loop_depth += 1
        try:
            emit_while(self.builder, lambda: self.expr(s.condition), lambda: self.stmt(s.body))
        finally:
            self.loop_depth -= 1
