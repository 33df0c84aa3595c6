"""Which kernels a first build may emit unoptimised: those whose run is short anyway.

A tiered build (``mlc.build(..., quick=True)``, what ``@mlc.jit``'s first call of a
signature uses: :mod:`mlc.tracer.tiering`) emits a kernel without LLVM's O3 when
:func:`quick_enough` says its run costs little: unoptimised code runs several times
slower, but O3 costs more than such a kernel's run, so a kernel of a few thousand element
operations is ready and run sooner unoptimised (the measurements behind the limit:
``benchmarks/results/decisions.md``, "Tiered first builds"). A kernel whose work is large, or unknown (a
symbolic extent, a ``while``), is optimised at once. Work is counted in expression nodes
evaluated: a store of a long expression (a complex matrix inverse written out) weighs
its length. A kernel that a graph's ``main`` calls inside loops of known trip counts runs
once per trip (:func:`calls_per_run`): where all its runs together pass
:data:`REPEATED_WORK_LIMIT` (a time-step loop of 10,000 trips around a stencil) it is
optimised at once, so that a first call does not grow with the trip count by running it
unoptimised every trip. A kernel that main calls inside a ``while`` counts
:data:`WHILE_TRIPS` runs: a loop until convergence may run long, and its kernel's O3 costs
once where unoptimised code costs every trip.

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
from ..ir.calls import CallPrimFunc
from ..ir.expr import VECTOR_WINDOW, Call, IntImm, Var
from ..ir.functor import pre_order_nodes
from ..ir.tir import (Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse, LetStmt, PrimFunc,
                      SeqStmt, Stmt, While)

__all__ = ["estimated_work", "quick_enough", "calls_per_run", "QUICK_WORK_LIMIT", "REPEATED_WORK_LIMIT",
           "UNKNOWN_WORK", "WHILE_TRIPS"]

#: The most expression nodes a kernel may evaluate to be emitted unoptimised by a first build
#: (unoptimised, some milliseconds).
QUICK_WORK_LIMIT = 1 << 20

#: The most expression nodes all the runs of a kernel in one call of main may evaluate (its work
#: times the trips of main's loops around it) to be emitted unoptimised. Higher than
#: :data:`QUICK_WORK_LIMIT`: O3 costs with the kernel's code, which a loop does not repeat, and
#: a loop of few trips around a large kernel gains less than O3 costs. Measured on first calls
#: of NPBench kernels (``benchmarks/results/decisions.md``, "Tiered first builds"): at 7e7
#: (cavity_flow) and below, optimising at once was slower; at 2.7e8 (jacobi_1d) and above
#: (heat 16x16 to 64x64 at 10,000 steps: 6e8 to 1.2e10), faster.
REPEATED_WORK_LIMIT = 1 << 28

#: The work of a loop whose trip count is not a constant, or of a ``while``: too much to guess.
UNKNOWN_WORK = 1 << 62

#: The runs :func:`calls_per_run` counts for a kernel main calls inside a ``while`` (a loop until
#: convergence, or until a time is reached: channel_flow's runs 982 trips at NPBench's smallest
#: size): with :data:`REPEATED_WORK_LIMIT`, a kernel of more than 256 nodes a run is optimised
#: at once, while a scalar step (the loop's counter, its test) stays unoptimised. The O3 of a
#: kernel costs once, bounded by its code; its unoptimised run costs every trip, with no bound
#: (``benchmarks/results/decisions.md``, "Tiered first builds").
WHILE_TRIPS = 1 << 20


def estimated_work(func: PrimFunc) -> int:
    """The expression nodes one run of ``func`` (lowered: its blocks are loops) evaluates:
    each store's value and indices, counted once per iteration of the loops around it, times
    its vector lanes; both sides of a branch; :data:`UNKNOWN_WORK` under a loop of unknown
    trip count."""
    return min(_work(func.body), UNKNOWN_WORK)


def quick_enough(func: PrimFunc, limit: int = QUICK_WORK_LIMIT, runs: int = 1) -> bool:
    """Whether ``func`` (lowered), run ``runs`` times by one call (:func:`calls_per_run`), runs so
    little that unoptimised code serves a first call: each run within ``limit``, all of them
    within :data:`REPEATED_WORK_LIMIT`."""
    work = estimated_work(func)
    return work <= limit and work * runs <= max(limit, REPEATED_WORK_LIMIT)


def calls_per_run(main: PrimFunc) -> dict[str, int]:
    """How many times one run of a graph's ``main`` calls each kernel (by name): the trip
    counts of the loops around each call multiplied; both sides of a branch. A ``while``
    counts :data:`WHILE_TRIPS` trips; a ``for`` of unknown trip count (a traced bound) one:
    nothing says that it runs long.

    >>> from mlc.ir.calls import CallPrimFunc
    >>> from mlc.ir.buffer import decl_buffer
    >>> from mlc.ir.expr import Var, const
    >>> a = decl_buffer((4,), "float32", "a")
    >>> step = For(Var("t", "int64"), const(0, "int64"), const(1000, "int64"), "serial",
    ...            CallPrimFunc("stencil", (a,)))
    >>> calls_per_run(PrimFunc((a,), SeqStmt((CallPrimFunc("init", (a,)), step))))
    {'init': 1, 'stencil': 1000}
    """
    counts: dict[str, int] = {}
    stack = [(main.body, 1)]
    while stack:
        stmt, times = stack.pop()
        if isinstance(stmt, CallPrimFunc):
            counts[stmt.name] = min(UNKNOWN_WORK, counts.get(stmt.name, 0) + times)
        elif isinstance(stmt, SeqStmt):
            stack.extend((s, times) for s in stmt.seq)
        elif isinstance(stmt, IfThenElse):
            stack.extend((s, times) for s in (stmt.then_case, stmt.else_case) if s is not None)
        elif isinstance(stmt, For):
            trips = max(0, stmt.extent.value) if isinstance(stmt.extent, IntImm) else 1
            stack.append((stmt.body, min(UNKNOWN_WORK, times * trips)))
        elif isinstance(stmt, While):
            stack.append((stmt.body, min(UNKNOWN_WORK, times * WHILE_TRIPS)))
        elif isinstance(getattr(stmt, "body", None), Stmt):
            stack.append((stmt.body, times))
    return dict(sorted(counts.items()))


def _work(stmt: Stmt | None, lets: dict | None = None) -> int:
    """``lets``: the size of the value of each variable a LetStmt around ``stmt`` binds (a
    value :mod:`~mlc.passes.tir.block_values` bound once counts at each use, as before it was
    bound: the estimate is the same with the pass or without it)."""
    if stmt is None:
        return 0
    if isinstance(stmt, LetStmt):
        lets = dict(lets or {})
        while isinstance(stmt, LetStmt):
            lets[stmt.var] = _size((stmt.value,), lets=lets)
            stmt = stmt.body
    if isinstance(stmt, BufferStore):
        return max(1, dt.lanes(stmt.value.dtype)) * _size((stmt.value, *stmt.indices), lets=lets)
    if isinstance(stmt, For):
        body = _work(stmt.body, lets)
        if not isinstance(stmt.extent, IntImm):
            return UNKNOWN_WORK if body else 0
        return min(UNKNOWN_WORK, max(0, stmt.extent.value) * body)
    if isinstance(stmt, SeqStmt):
        return min(UNKNOWN_WORK, sum(_work(s, lets) for s in stmt.seq))
    if isinstance(stmt, IfThenElse):
        return min(UNKNOWN_WORK, _work(stmt.then_case, lets) + _work(stmt.else_case, lets))
    if isinstance(stmt, While):
        return UNKNOWN_WORK
    if isinstance(stmt, (Allocate, Block)):
        return _work(stmt.body, lets)
    if isinstance(stmt, BlockRealize):
        return _work(stmt.block, lets)
    if isinstance(stmt, Evaluate):
        return 1
    body = getattr(stmt, "body", None)  # (an attribute: its body runs once)
    return _work(body, lets) if isinstance(body, Stmt) else UNKNOWN_WORK


def _size(expr, cap: int = QUICK_WORK_LIMIT + 1, lets: dict | None = None) -> int:
    """The nodes of ``expr`` (a shared subexpression counted at each use, as unoptimised code
    evaluates it; a variable of ``lets`` as its value), counted up to ``cap``. A
    ``vector_window(lo, hi, offset, span)`` (:mod:`mlc.passes.tir.vector_windows`) counts as
    the load it stands for, whose index differs from ``hi``'s by a constant: as ``hi`` (the
    call, ``lo`` and the two constants, met after it in pre-order, are taken off in advance)."""
    n = 0
    for root in expr:
        for node in pre_order_nodes(root):
            if type(node) is Call and node.op == VECTOR_WINDOW:
                n += -2 - _size(node.args[:1], cap, lets)
            else:
                n += lets.get(node, 1) if lets and type(node) is Var else 1
            if n >= cap:
                return n
    return n
