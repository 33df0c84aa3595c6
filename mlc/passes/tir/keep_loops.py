"""keep_vector_loops: the serial loops of vector statements a backend's compiler is asked to
keep as loops (not unroll again), marked by the For annotation :data:`KEEP_LOOP`.

The schedule that vectorized a loop body also chose how many vectors it keeps in flight
(a row reduction's four accumulators, a matmul's register tile); LLVM's unroller would
copy that body again, 16 times for a softmax row's reduction loop, and then optimise
and compile every copy for no measurable speed. A serial loop whose body holds a vector
statement and that runs :data:`MIN_KEPT_TRIPS` or more times (or a count known only at
run time) is marked; short loops are left to the compiler: unrolling a convolution's
3 x 3 window loops removes their loop overhead (benchmarks/results/decisions.md, "LLVM
backend"). Other kinds of loops (a parallel loop, whose task runs its iterations as a
serial loop a streaming loop gains from unrolling; a vectorized loop the vectorize pass
left a loop) are not marked. The llvm backend renders the mark as
``llvm.loop.unroll.disable`` (:func:`mlc.backends.llvm.loops.for_metadata`).

Nothing is computed differently: the pass only adds the annotation.

>>> from mlc.ir.buffer import Buffer
>>> from mlc.ir.expr import BufferLoad, Ramp, Var, const
>>> A, B = Buffer("A", (const(256),), "float32"), Buffer("B", (const(256),), "float32")
>>> i = Var("i", "int32")
>>> row = Ramp(i * 16, 1, 16)
>>> loop = For(i, const(0), const(16), "serial", BufferStore(B, BufferLoad(A, (row,), "float32x16"), (row,)))
>>> keep_vector_loops(PrimFunc((A, B), loop)).body.annotations
(('keep_loop', True),)
"""
from __future__ import annotations

from ...ir import dtype as dt
from ...ir.analysis.census import contains
from ...ir.expr import IntImm
from ...ir.functor import Mutator, pre_order_nodes
from ...ir.tir import BufferStore, For, PrimFunc

__all__ = ["keep_vector_loops", "keeps_loop", "kept", "KEEP_LOOP", "MIN_KEPT_TRIPS"]

#: The For annotation of a loop to keep: ``(KEEP_LOOP, True)``.
KEEP_LOOP = "keep_loop"

#: A serial loop of vector statements is kept from this many iterations on.
MIN_KEPT_TRIPS = 8


def keep_vector_loops(func: PrimFunc) -> PrimFunc:
    """``func`` with every serial loop :func:`keeps_loop` accepts annotated ``(KEEP_LOOP, True)``."""
    if not contains(func.body, For, "serial"):
        return func
    body = _Keep().visit(func.body)
    return func if body is func.body else func.with_body(body)


def keeps_loop(s: For) -> bool:
    """Whether serial loop ``s`` is kept (module docstring): its body holds vector
    statements and it runs :data:`MIN_KEPT_TRIPS` or more times (or a count known only at
    run time)."""
    if s.kind != "serial" or isinstance(s.extent, IntImm) and s.extent.value < MIN_KEPT_TRIPS:
        return False
    return any(isinstance(n, BufferStore) and dt.is_vector(n.value.dtype) for n in pre_order_nodes(s.body))


def kept(s: For) -> bool:
    """Whether ``s`` carries the mark of :func:`keep_vector_loops`."""
    return any(key == KEEP_LOOP for key, _ in s.annotations)


class _Keep(Mutator):
    def visit_For(self, node: For):
        body = self.visit(node.body)
        annotations = node.annotations
        if keeps_loop(node) and not kept(node):
            annotations = (*annotations, (KEEP_LOOP, True))
        if body is node.body and annotations is node.annotations:
            return node
        return For(node.loop_var, node.min, node.extent, node.kind, body, node.thread_binding, annotations)
