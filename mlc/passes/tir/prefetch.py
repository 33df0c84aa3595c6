"""Software prefetch of the vector streams of a loop annotated :data:`PREFETCH_BYTES`.

A register tile's reduction loop reads a packed panel of B as one contiguous
stream, a vector (a cache line with AVX-512, half of one with AVX2) a step; when
the panel does not stay in the L1 cache, each line comes from L2, and the
hardware prefetchers, which follow the loop's other streams too, fetch it too
late now and then. The schedule annotates the loop with the distance to prefetch
ahead, in bytes; this pass, run on vectorized TIR (flat buffers, vector loads
indexed by ``T.Ramp``), puts before each contiguous vector load of a buffer
outside the stack (not ``local``) whose address moves with the annotated loop, a
hint to read the line that many bytes further on::

    for k_0 in range(256):                       # annotated mlc.prefetch_bytes = 512
        for k_1 in T.unroll(4):
            T.call_extern("int32", "mlc_prefetch_ahead", T.address_of(B_global[j_0 * 16384 + k_0 * 64 + k_1 * 16]), 512)
            for i_2 in T.unroll(6):
                C_local[T.Ramp(i_2 * 16, 1, 16)] = ... * B_global[T.Ramp(j_0 * 16384 + k_0 * 64 + k_1 * 16, 1, 16)]

Each hint goes at the top of the innermost loop (the annotated one or one inside
it) whose variable the load's address uses: once per address, not once per row
of the tile that loads it again. The hint names the element the loop loads now
and the distance apart (an element past the buffer's end would be a read out of
bounds to the checks; the line past it is harmless, a prefetch never faults).
Loads whose vectors are not contiguous, of the stack, or that do not move with
the loop are left alone; so is a loop without the annotation.
"""
from __future__ import annotations

from ...ir.analysis.census import annotated
from ...ir.expr import BufferLoad, Ramp, Var, const
from ...ir.extern import PREFETCH_AHEAD, address_of, call_extern
from ...ir.functor import Mutator, pre_order_nodes
from ...ir.tir import Evaluate, For, PrimFunc, seq

__all__ = ["PREFETCH_BYTES", "prefetch_streams"]

#: The annotation of a loop whose vector streams are prefetched this many bytes ahead.
PREFETCH_BYTES = "mlc.prefetch_bytes"


def _distance(loop: For) -> int | None:
    return next((int(v) for k, v in loop.annotations if k == PREFETCH_BYTES), None)


def _uses(expr, var: Var) -> bool:
    return any(n is var for n in pre_order_nodes(expr))


class _Prefetch(Mutator):
    """Inside an annotated loop: the hints for the streams at the top of each loop that
    moves them (``loops``: the annotated loop and those inside it, outermost first)."""

    def __init__(self, distance: int, stream_var: Var):
        self.distance, self.stream_var = distance, stream_var

    def visit_For(self, loop: For):
        body = self.visit(loop.body)
        hints = []
        seen = set()
        for load in _vector_loads(body):
            base = load.indices[0].base
            if not _uses(base, loop.loop_var) or not _uses(base, self.stream_var) or _moved_inside(body, base):
                continue
            key = (id(load.buffer), repr(base))
            if key in seen:
                continue
            seen.add(key)
            hints.append(self._hint(load, base))
        if hints:
            body = seq(*hints, body)
        return loop if body is loop.body else For(loop.loop_var, loop.min, loop.extent, loop.kind, body,
                                                  loop.thread_binding, loop.annotations)

    def _hint(self, load: BufferLoad, base) -> Evaluate:
        here = address_of(BufferLoad(load.buffer, (base,), load.buffer.dtype))
        return Evaluate(call_extern("int32", PREFETCH_AHEAD, here, const(self.distance, "int64")))


def _vector_loads(stmt):
    """The contiguous vector loads of non-stack buffers in ``stmt`` (flat buffers)."""
    for node in pre_order_nodes(stmt):
        if isinstance(node, BufferLoad) and len(node.indices) == 1 and isinstance(node.indices[0], Ramp) \
                and node.indices[0].stride == 1 and node.buffer.scope.partition(".")[0] != "local":
            yield node


def _moved_inside(body, base) -> bool:
    """Whether a loop inside ``body`` moves ``base`` (its hint goes in that loop instead)."""
    return any(isinstance(n, For) and _uses(base, n.loop_var) for n in pre_order_nodes(body))


class _Annotated(Mutator):
    def visit_For(self, loop: For):
        distance = _distance(loop)
        if distance is None:
            return self.generic_visit(loop)
        return _Prefetch(distance, loop.loop_var).visit(loop)


def prefetch_streams(func: PrimFunc) -> PrimFunc:
    """Prefetch the vector streams of every loop annotated :data:`PREFETCH_BYTES` (see the
    module docstring); a function without one is returned as it is."""
    if not annotated(func.body, PREFETCH_BYTES):  # (a loop with the annotation has a distance)
        return func
    body = _Annotated().visit(func.body)
    return func if body is func.body else func.with_body(body)
