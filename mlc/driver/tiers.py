"""Which kernels a first build may emit unoptimised: those whose run is short anyway.

A tiered build (``mlc.build(..., quick=True)``, what ``@mlc.jit``'s first call of a
signature uses: :mod:`mlc.tracer.tiering`) emits a kernel without LLVM's O3 when
:func:`quick_enough` says its run costs little: unoptimised code runs several times
slower, but O3 costs more than such a kernel's run, so a kernel of a few thousand element
operations is ready and run sooner unoptimised (the measurements behind the limit:
``benchmarks/results/decisions.md``, "Tiered first builds"). A kernel whose work is large, or unknown (a
symbolic extent, a ``while``), is optimised at once. Work is counted in expression nodes
evaluated: a store of a long expression (a complex matrix inverse written out) weighs
its length.

>>> from mlc import te
>>> from mlc.passes.tir import run_passes
>>> from mlc.backends.llvm import LLVM_TIR_PASSES
>>> A = te.placeholder((64,), "float32", "A")
>>> small = te.create_prim_func([A, te.compute((64,), lambda i: A[i] * 2, "B")])
>>> estimated_work(run_passes(small, LLVM_TIR_PASSES)), quick_enough(run_passes(small, LLVM_TIR_PASSES))
(320, True)
"""
from __future__ import annotations

from ..ir import dtype as dt
from ..ir.expr import IntImm
from ..ir.functor import pre_order_nodes
from ..ir.tir import (Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse, PrimFunc,
                      SeqStmt, Stmt, While)

__all__ = ["estimated_work", "quick_enough", "QUICK_WORK_LIMIT", "UNKNOWN_WORK"]

#: The most expression nodes a kernel may evaluate to be emitted unoptimised by a first build
#: (unoptimised, some milliseconds).
QUICK_WORK_LIMIT = 1 << 20

#: The work of a loop whose trip count is not a constant, or of a ``while``: too much to guess.
UNKNOWN_WORK = 1 << 62


def estimated_work(func: PrimFunc) -> int:
    """The expression nodes one run of ``func`` (lowered: its blocks are loops) evaluates:
    each store's value and indices, counted once per iteration of the loops around it, times
    its vector lanes; both sides of a branch; :data:`UNKNOWN_WORK` under a loop of unknown
    trip count."""
    return min(_work(func.body), UNKNOWN_WORK)


def quick_enough(func: PrimFunc, limit: int = QUICK_WORK_LIMIT) -> bool:
    """Whether ``func`` (lowered) runs so little that unoptimised code serves a first call."""
    return estimated_work(func) <= limit


def _work(stmt: Stmt | None) -> int:
    if stmt is None:
        return 0
    if isinstance(stmt, BufferStore):
        return max(1, dt.lanes(stmt.value.dtype)) * _size((stmt.value, *stmt.indices))
    if isinstance(stmt, For):
        body = _work(stmt.body)
        if not isinstance(stmt.extent, IntImm):
            return UNKNOWN_WORK if body else 0
        return min(UNKNOWN_WORK, max(0, stmt.extent.value) * body)
    if isinstance(stmt, SeqStmt):
        return min(UNKNOWN_WORK, sum(_work(s) for s in stmt.seq))
    if isinstance(stmt, IfThenElse):
        return min(UNKNOWN_WORK, _work(stmt.then_case) + _work(stmt.else_case))
    if isinstance(stmt, While):
        return UNKNOWN_WORK
    if isinstance(stmt, (Allocate, Block)):
        return _work(stmt.body)
    if isinstance(stmt, BlockRealize):
        return _work(stmt.block)
    if isinstance(stmt, Evaluate):
        return 1
    body = getattr(stmt, "body", None)  # (an attribute, a let: their body runs once)
    return _work(body) if isinstance(body, Stmt) else UNKNOWN_WORK


def _size(expr, cap: int = QUICK_WORK_LIMIT + 1) -> int:
    """The nodes of ``expr`` (a shared subexpression counted at each use, as unoptimised code
    evaluates it), counted up to ``cap``."""
    n = 0
    for root in expr:
        for _ in pre_order_nodes(root):
            n += 1
            if n >= cap:
                return n
    return n
