"""Kernels of a lowered GPU PrimFunc: where each launch starts and its geometry.

A lowered function for the GPU is a sequence of *launch regions*: each
outermost thread-bound loop starts one kernel (and straight-line code outside
them, with no loop, one kernel of a single thread), whose grid and block sizes are
the extents of the ``blockIdx`` and ``threadIdx`` loops inside it (all loops
of one axis share their extent: they are the same index). ``Allocate`` nodes
of ``shared`` scope are one array per block, ``local`` ones one per thread;
both are declared once at the top of the kernel, wherever the IR allocates
them. Every GPU backend's codegen and the emulator start from :func:`kernels`, which
checks each launch against the target's :class:`~mlc.target.DeviceLimits`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from ...errors import CompileError, PerformanceWarning
from ...ir.buffer import FRAGMENT_SCOPES, Buffer
from ...ir.expr import BufferLoad, FloatImm, IntImm, Var, const
from ...ir.functor import pre_order_nodes
from ...ir.tir import Allocate, BufferStore, Evaluate, For, PrimFunc, SeqStmt, Stmt
from ...target import MAX_SHARED_ATTR, DeviceLimits

__all__ = ["Kernel", "kernels", "workspace", "unbound", "AXES", "DEFAULT_LIMITS", "SHARED_OFFSET_ALIGN",
           "MAX_SHARED_ATTR"]

#: Where each shared buffer of a dynamic allocation starts: a multiple of 128 bytes.
SHARED_OFFSET_ALIGN = 128
AXES = ("x", "y", "z")
#: The limits :func:`kernels` checks when its caller names none (those most GPUs share).
DEFAULT_LIMITS = DeviceLimits()


@dataclass(frozen=True)
class Kernel:
    """One launch: ``body`` (the outermost thread-bound loop), ``grid`` and ``block`` sizes
    (x, y, z), the buffers it declares by scope and the parameters it touches."""
    name: str
    body: Stmt
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared: tuple[Buffer, ...]
    local: tuple[Buffer, ...]
    params: tuple[Buffer, ...]
    #: the static shared memory a block may declare (the target's limit without the opt-in)
    static_shared_limit: int = DEFAULT_LIMITS.max_shared_memory_per_block

    @property
    def shared_offsets(self) -> tuple[int, ...]:
        """Where each shared buffer starts, in bytes, when they share one allocation."""
        out, at = [], 0
        for b in self.shared:
            out.append(at)
            at += -(-_size(b) * np.dtype(b.dtype).itemsize // SHARED_OFFSET_ALIGN) * SHARED_OFFSET_ALIGN
        return tuple(out)

    @property
    def dynamic_shared_bytes(self) -> int:
        """The bytes of dynamic shared memory the kernel is launched with: 0 where its shared
        buffers fit the static limit, else all of them, laid out by shared_offsets."""
        total = sum(_size(b) * np.dtype(b.dtype).itemsize for b in self.shared)
        if total <= self.static_shared_limit:
            return 0
        b = self.shared[-1]
        return self.shared_offsets[-1] + _size(b) * np.dtype(b.dtype).itemsize

    @property
    def threads(self) -> int:
        return int(np.prod(self.block))

    @property
    def blocks(self) -> int:
        return int(np.prod(self.grid))


#: Scopes a kernel declares itself: shared (per block), local (per thread), fragments (per warp).
_ON_CHIP = ("shared", "local") + FRAGMENT_SCOPES


def _size(buf: Buffer) -> int:
    n = 1
    for e in buf.shape:
        if not isinstance(e, IntImm):
            raise CompileError(f"gpu: buffer {buf.name} has a symbolic extent {e!r}; GPU buffers "
                               "need static shapes")
        n *= e.value
    return n


def _launch_roots(body: Stmt, name: str, default: bool = False) -> tuple[list[For], list[Allocate]]:
    """The kernels' root loops in order, and the allocations around them. ``default``: the
    function has the default GPU schedule, whose stages it leaves unbound (a small
    reduction into a 0-d output) run as kernels of one thread."""
    roots, allocs, stack = [], [], [body]
    while stack:
        node = stack.pop()
        if isinstance(node, SeqStmt):
            stack.extend(reversed(node.seq))
        elif isinstance(node, Allocate) and not (node.buffer.scope in _ON_CHIP and not _has_thread_loop(node)):
            allocs.append(node)
            stack.append(node.body)
        elif isinstance(node, For) and node.kind == "thread_binding":
            if not (isinstance(node.extent, IntImm) and node.extent.value == 0):
                roots.append(node)  # (a loop of no iterations launches nothing: an empty output)
        elif isinstance(node, Evaluate) and isinstance(node.value, (IntImm, FloatImm)):
            continue  # a no-op: what is left of loops that run zero times
        elif default or not any(isinstance(n, For) for n in pre_order_nodes(node)):
            iterations = _iterations(node)
            if iterations > ONE_THREAD_QUIET_ITERATIONS:
                warnings.warn(f"gpu: function {name!r}: the default GPU schedule found no rule for a statement "
                              f"of {iterations:g} loop iterations, which runs on one GPU thread (correct, slow):\n"
                              f"{node!r}\nschedule it by hand (sch.bind), or write the reduction with add, mul, "
                              "min, max, or or and, which reduce across threads", PerformanceWarning, stacklevel=2)
            roots.append(_one_thread(node))  # straight-line code: a 0-d output, or unit loops lowered away
        else:
            raise CompileError(
                f"gpu: function {name!r} has a statement outside every thread-bound loop, which no "
                f"GPU thread would run:\n{node!r}\nbind its loops to blockIdx/threadIdx (sch.bind), or "
                "build without a schedule to get the default GPU schedule")
    return roots, allocs


#: A statement the default GPU schedule leaves unbound runs in a kernel of one thread; one of
#: more loop iterations than this also gives a :class:`~mlc.errors.PerformanceWarning`.
ONE_THREAD_QUIET_ITERATIONS = 64


def _iterations(stmt: Stmt) -> float:
    """How many times the innermost statements of ``stmt`` run at most: the largest product
    of constant loop extents down any path (inf where an extent is not constant)."""
    if isinstance(stmt, For):
        extent = stmt.extent.value if isinstance(stmt.extent, IntImm) else math.inf
        return extent * _iterations(stmt.body)
    return max((_iterations(c) for c in _children(stmt)), default=1)


def _default_scheduled(func: PrimFunc) -> bool:
    return func.attr("mlc.scheduled", None) == "default"


def unbound(func: PrimFunc) -> bool:
    """Whether nobody scheduled ``func`` for the GPU: no schedule marked it (the
    ``"mlc.scheduled"`` attribute) and no loop of it is bound to GPU threads."""
    return func.attr("mlc.scheduled", None) is None and not _has_thread_loop(func.body)


def _has_thread_loop(stmt: Stmt) -> bool:
    """Whether a thread-bound loop is under ``stmt``. An on-chip allocation with none under it
    (the scalars of an integer power's loop) belongs to the one statement it wraps: a kernel
    of its own, never split from the statements that use it."""
    return any(isinstance(n, For) and n.kind == "thread_binding" for n in pre_order_nodes(stmt))


def _one_thread(stmt: Stmt) -> For:
    """``stmt`` (no loop in it) as a kernel of one block of one thread: what the default GPU
    schedule's loops of one iteration become once lowering has removed them, or the store
    of a 0-d output, which had no loop to bind."""
    thread = For(Var("tx_unit", "int32"), const(0, "int32"), const(1, "int32"), "thread_binding", stmt,
                 "threadIdx.x")
    return For(Var("bx_unit", "int32"), const(0, "int32"), const(1, "int32"), "thread_binding", thread,
               "blockIdx.x")


def workspace(func: PrimFunc) -> list[Buffer]:
    """The global buffers ``func`` allocates outside its kernels: intermediates that one
    kernel writes and a later one reads. The runtime allocates them for each call and
    passes them to the kernels like parameters."""
    _, allocs = _launch_roots(func.body, func.attr("global_symbol", "main"), _default_scheduled(func))
    return [a.buffer for a in allocs if a.buffer.scope not in _ON_CHIP]


def kernels(func: PrimFunc, limits: DeviceLimits = DEFAULT_LIMITS) -> list[Kernel]:
    """The launches of lowered ``func``, in order, with their geometry checked against
    ``limits`` (the target's). A kernel's ``params`` are the function's parameters and
    :func:`workspace` buffers it touches."""
    name = func.attr("global_symbol", "main")
    roots, root_allocs = _launch_roots(func.body, name, _default_scheduled(func))
    out = []
    for n, root in enumerate(roots):
        out.append(_kernel(func, root, [a.buffer for a in root_allocs], f"{name}_kernel{n}" if len(roots) > 1
                           else f"{name}_kernel", limits))
    users: dict[int, Kernel] = {}
    for k in out:
        for b in k.shared + k.local:
            first = users.setdefault(id(b), k)
            if first is not k:
                raise CompileError(f"gpu: the {b.scope} buffer {b.name} is used by kernels {first.name} and "
                                   f"{k.name}; {b.scope} memory does not outlive a kernel — compute it "
                                   "under the loops of the kernel that reads it (compute_at), or make it global")
    return out


def _kernel(func: PrimFunc, root: For, outer: list[Buffer], kname: str, limits: DeviceLimits) -> Kernel:
    extents: dict[str, tuple[int, For]] = {}
    stack: list[tuple[Stmt, bool]] = [(root, False)]
    allocs: list[Buffer] = []
    used: set[int] = set()
    while stack:
        node, under_thread = stack.pop()
        if isinstance(node, For) and node.kind == "thread_binding":
            tag = node.thread_binding
            scope, _, axis = tag.partition(".")
            if scope == "vthread":
                raise CompileError(f"gpu: loop {node.loop_var.name} is bound to {tag}; virtual "
                                   "threads are not supported by the GPU backends yet")
            if not (isinstance(node.extent, IntImm) and isinstance(node.min, IntImm) and node.min.value == 0):
                raise CompileError(f"gpu: loop {node.loop_var.name} bound to {tag} must run from 0 over "
                                   f"a constant extent, got [{node.min!r}, {node.min!r} + {node.extent!r})")
            if scope == "blockIdx" and under_thread:
                raise CompileError(f"gpu: loop {node.loop_var.name} bound to {tag} is inside a threadIdx "
                                   "loop; blockIdx loops must enclose every threadIdx loop of a kernel")
            seen = extents.get(tag)
            if seen is not None and seen[0] != node.extent.value:
                raise CompileError(f"gpu: kernel {kname} binds {tag} with extent {seen[0]} (loop "
                                   f"{seen[1].loop_var.name}) and {node.extent.value} (loop "
                                   f"{node.loop_var.name}); one thread axis has one extent per kernel — "
                                   "split the loops to the same thread count")
            extents.setdefault(tag, (node.extent.value, node))
            under_thread = under_thread or scope == "threadIdx"
        if isinstance(node, Allocate) and not any(b is node.buffer for b in allocs):
            allocs.append(node.buffer)  # declared once, however many statements allocate it
        if isinstance(node, (BufferStore, BufferLoad)):
            used.add(id(node.buffer))
        for child in _children(node):
            stack.append((child, under_thread))
        if not isinstance(node, Stmt):
            continue
        for e in _exprs(node):
            for sub in pre_order_nodes(e):
                if isinstance(sub, BufferLoad):
                    used.add(id(sub.buffer))
    grid = tuple(extents.get(f"blockIdx.{a}", (1,))[0] for a in AXES)
    block = tuple(extents.get(f"threadIdx.{a}", (1,))[0] for a in AXES)
    for what, sizes, largest in (("grid", grid, limits.max_grid), ("block", block, limits.max_block)):
        for axis, size, limit in zip(AXES, sizes, largest):
            if size > limit:
                scope = "blockIdx" if what == "grid" else "threadIdx"
                raise CompileError(f"gpu: kernel {kname} binds {scope}.{axis} to {size} values; the target allows "
                                   f"at most {limit} — bind a larger axis (x) or split the loop")
    threads = int(np.prod(block))
    if threads > limits.max_threads_per_block:
        raise CompileError(f"gpu: kernel {kname} has {threads} threads per block {block}; a block "
                           f"holds at most {limits.max_threads_per_block} — split the thread loops smaller")
    declared = [b for b in outer if id(b) in used and b.scope in _ON_CHIP] + allocs
    shared = tuple(b for b in declared if b.scope == "shared")
    local = tuple(b for b in declared if b.scope != "shared")
    for b in allocs:
        if b.scope not in _ON_CHIP:
            raise CompileError(f"gpu: kernel {kname} allocates the {b.scope} buffer {b.name} inside "
                               "the kernel; a kernel holds only shared and local buffers — give it "
                               "scope 'local' (per thread) or 'shared' (per block)")
    params = tuple(p for p in list(func.params) + [b for b in outer if b.scope not in _ON_CHIP]
                   if id(p) in used)
    kernel = Kernel(kname, root, grid, block, shared, local, params, limits.max_shared_memory_per_block)
    shared_bytes = max(kernel.dynamic_shared_bytes, sum(_size(b) * np.dtype(b.dtype).itemsize for b in shared))
    most = max(limits.max_shared_memory_per_block, limits.max_dynamic_shared_memory_per_block,
               int(func.attr(MAX_SHARED_ATTR, 0)))
    if shared_bytes > most:
        raise CompileError(f"gpu: kernel {kname} declares {shared_bytes} bytes of shared memory "
                           f"({', '.join(f'{b.name}[{_size(b)}]' for b in shared)}); a block may use "
                           f"{most} — use smaller tiles or fewer pipeline stages")
    return kernel


def _children(node) -> list:
    if isinstance(node, SeqStmt):
        return list(node.seq)
    out = []
    for attr in ("body", "then_case", "else_case"):
        child = getattr(node, attr, None)
        if isinstance(child, Stmt):
            out.append(child)
    return out


def _exprs(node) -> list:
    if isinstance(node, For):
        return [node.min, node.extent]
    if isinstance(node, BufferStore):
        return [node.value, *node.indices]
    cond = getattr(node, "condition", None)
    if cond is not None:
        return [cond]
    value = getattr(node, "value", None)
    return [value] if value is not None else []
