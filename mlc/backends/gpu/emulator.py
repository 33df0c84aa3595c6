"""The GPU emulator: runs the device-side TIR every GPU codegen renders, on NumPy
arrays, with GPU semantics. It is the oracle of GPU schedules.

Every kernel (:func:`~mlc.backends.gpu.launch.kernels`) runs all its threads
at once: one NumPy lane per thread of the grid (``blocks x threads`` lanes),
each statement for every active lane before the next statement starts, so
threads advance in lockstep between barriers (one legal GPU schedule).
``blockIdx``/``threadIdx`` loops bind their variable to each lane's index;
``if`` and loops whose bounds differ between threads narrow the active lanes.
A ``shared`` buffer is one array per block, a ``local`` buffer one per thread,
parameters are the caller's arrays (global memory).

What lockstep execution would hide, the emulator checks and raises instead
of returning a result a GPU would not give:

- :class:`~mlc.errors.RaceError` for a data race on shared or global memory:
  two threads writing one element, or one thread reading (writing) an element
  another wrote (read), with no barrier between them — threads of
  different blocks are never ordered within a kernel;
- :class:`~mlc.errors.RaceError` for a barrier reached by only some threads
  of a block (a barrier under thread-divergent control flow);
- :class:`~mlc.errors.BoundsError` for an access outside its buffer;
- :class:`~mlc.errors.RaceError` for a warp shuffle reading a lane that does not
  execute it.

Warp shuffles (:mod:`mlc.passes.tir.warp_shuffle`) exchange values between the
lanes of a warp (``warp_size`` consecutive threads of a block, x fastest: the
target's :class:`~mlc.target.DeviceLimits`).

A backend's external functions (``T.call_extern``: the cuda backend's tensor-core
calls) run as that backend registers them (:func:`register_extern_emulation`);
fragment buffers (``wmma.*`` scopes) are one array per warp, which only those calls
read and write.

Asynchronous copies (``cp.async``, :mod:`mlc.passes.tir.async_copy`): a fetch
into shared memory in an async scope reads its source when issued but writes
its destination only at the issuing thread's ``cp_async_wait`` that completes
its group (``cp_async_commit``); until then the elements are *in flight*, and
any access to them is a :class:`~mlc.errors.RaceError`, as is a copy never
waited for. The write counts as made at the wait, so a thread of the block
reading it needs a barrier after the wait (the race check above).

Each message names the buffer, the index and the threads involved.

>>> import numpy as np, mlc
>>> from mlc import te
>>> A = te.placeholder((300,), "float32", "A")
>>> B = te.compute((300,), lambda i: A[i] * 2, "B")
>>> sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
>>> i0, i1 = sch.split(sch.get_loops(sch.get_block("B"))[0], [None, 128])
>>> sch.bind(i0, "blockIdx.x"); sch.bind(i1, "threadIdx.x")
>>> from mlc.passes.tir.gpu_pipeline import lower_for_gpu
>>> b = np.zeros(300, "float32"); Emulator(lower_for_gpu(sch.mod["main"])).run([np.ones(300, "float32"), b])
>>> float(b.sum())
600.0
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

try:  # (the C function itself, without np.count_nonzero's dispatch)
    from numpy._core.multiarray import count_nonzero as _count_nonzero
except ImportError:  # pragma: no cover - NumPy 1
    _count_nonzero = np.count_nonzero

from ...errors import BoundsError, DTypeError, MLCError, RaceError, ShapeError
from ...ir.arith import expr_key
from ...ir.buffer import FRAGMENT_SCOPES, Buffer
from ...ir import dtype as dt
from ...ir.expr import Binary, Broadcast, BufferLoad, Call, Cast, Not, Ramp, Select, Var
from ...ir.functor import pre_order_nodes
from ...ir.extern import PREFETCHES, CallExtern
from ...ir.tir import Allocate, BufferStore, Evaluate, For, IfThenElse, LetStmt, PrimFunc, SeqStmt, While
from ...passes.tir.async_copy import (CP_ASYNC_COMMIT, CP_ASYNC_WAIT, async_copy_source, is_async_scope,
                                      wait_count)
from ...passes.tir.thread_sync import SYNC_THREADS
from ...passes.tir.warp_shuffle import SHFL_DOWN, shfl_args
from ...target import DeviceLimits
from ..reference import values as V
from ..reference.expressions import ExprEvaluator
from .launch import AXES, DEFAULT_LIMITS, Kernel, kernels, workspace

__all__ = ["Emulator", "KernelStats", "ExternEmulation", "register_extern_emulation"]


@dataclass(frozen=True)
class ExternEmulation:
    """How the emulator runs some external functions of a backend (``T.call_extern(name, ...)``
    statements): ``names`` it runs, ``writes(node)`` the ids of the buffers the calls under
    ``node`` write (race tracking starts from them), ``run(kernel_run, call, mask, env)``
    executes one call for the active lanes ``mask`` of a kernel run; ``finish(kernel_run)``,
    where given, checks the run's end (asynchronous work left unfinished) and drops what the
    calls kept about it."""
    names: frozenset
    writes: Callable
    run: Callable
    finish: Callable | None = None


_EXTERNS: dict[str, ExternEmulation] = {}


def register_extern_emulation(emulation: ExternEmulation) -> ExternEmulation:
    """Let the emulator run ``emulation.names`` (a backend registers its external functions
    when it is imported); a name registered again is replaced."""
    for name in emulation.names:
        _EXTERNS[name] = emulation
    return emulation


def _extern_writes(body) -> set[int]:
    out: set[int] = set()
    for emulation in dict.fromkeys(_EXTERNS.values()):
        out |= emulation.writes(body)
    return out

_NONE = np.iinfo(np.int64).max  # no reader
#: Shared-memory reads kept unrecorded per buffer until a write in the same epoch needs them.
_PENDING_LIMIT = 1 << 22


class KernelStats:
    """What one run of a kernel did: global-memory elements read and written, barriers
    passed, and warp shuffles executed (each counted once for all lanes)."""

    __slots__ = ("name", "global_reads", "global_writes", "barriers", "shuffles", "bank_conflicts")

    def __init__(self, name: str):
        self.name, self.global_reads, self.global_writes, self.barriers = name, 0, 0, 0
        self.shuffles = 0
        #: extra shared-memory wavefronts of the tensor-core fragment loads (ldmatrix): the
        #: rows of an 8 x 8 matrix that fall in the same banks, beyond the first, summed
        self.bank_conflicts = 0

    def __repr__(self) -> str:
        return (f"KernelStats({self.name}: {self.global_reads} global reads, {self.global_writes} "
                f"global writes, {self.barriers} barriers, {self.shuffles} shuffles, "
                f"{self.bank_conflicts} bank conflicts)")


class Emulator:
    """A lowered GPU PrimFunc ready to emulate; :meth:`run` executes it in place."""

    def __init__(self, func: PrimFunc, name: str | None = None, limits: DeviceLimits = DEFAULT_LIMITS):
        self.func = func
        self.name = name or func.attr("global_symbol", "main")
        self.limits = limits
        self.kernels = kernels(func, limits)
        self.workspace = workspace(func)
        self.stats: list[KernelStats] = []
        #: per kernel, what its runs work out once about its (immutable) IR
        self._known = [_Known() for _ in self.kernels]

    def run(self, args: Sequence[np.ndarray]) -> None:
        params = self.func.params
        if len(args) != len(params):
            raise ShapeError(f"{self.name}() takes {len(params)} arrays "
                             f"({', '.join(p.name for p in params)}), got {len(args)}")
        flat = {}
        for p, a in zip(params, args):
            if not isinstance(a, np.ndarray) or a.dtype.name != p.dtype:
                got = a.dtype.name if isinstance(a, np.ndarray) else type(a).__name__
                raise DTypeError(f"{self.name}(): argument {p.name} must be a numpy array of {p.dtype}, "
                                 f"got {got}")
            if not a.flags.c_contiguous:
                raise ShapeError(f"{self.name}(): argument {p.name} must be C-contiguous")
            flat[id(p)] = a.reshape(-1)
        for b in self.workspace:  # fresh intermediates, poisoned so that reads before writes show
            size = int(np.prod([e.value for e in b.shape], dtype=np.int64))
            flat[id(b)] = np.full(size, V.poison(b.dtype), b.dtype)
        self.stats = []
        with np.errstate(all="ignore"):
            for k, known in zip(self.kernels, self._known):
                run = _KernelRun(k, flat, self.name, self.limits.warp_size, known)
                run.execute()
                self.stats.append(run.stats)


class _Memory:
    """One buffer's storage in a kernel run, and what the race check remembers per element:
    the last writer (lane, epoch) and the smallest and largest reader lanes of the last
    epoch it was read in."""

    __slots__ = ("buffer", "array", "size", "per", "tracked", "w_lane", "w_epoch", "r_lane", "r_hi",
                 "r_epoch", "scratch", "last_write", "pending", "pending_size", "offset", "written",
                 "complete", "rows", "written_rows", "in_flight")

    def __init__(self, buffer: Buffer, array: np.ndarray, size: int, per: str, tracked: bool):
        self.buffer, self.array, self.size, self.per, self.tracked = buffer, array, size, per, tracked
        self.offset = None  # per lane: where its block's (thread's) copy starts
        self.written = np.zeros(array.size, bool) if per == "thread" else None  # local elements written
        #: every element written (local: by its thread; shared: by a thread of its block), so
        #: reads need no check for unwritten elements; None: not known since the last write
        self.complete = False
        #: local memory as (threads, elements): one element of every thread is a column
        self.rows = array.reshape(-1, size) if per == "thread" else None
        self.written_rows = self.written.reshape(-1, size) if per == "thread" else None
        self.in_flight = None  # elements an asynchronous copy will write (a bool per element)
        if tracked:
            n = array.size
            self.w_lane = np.full(n, -1, np.int64)
            self.w_epoch = np.full(n, -1, np.int64)
            self.r_lane = np.full(n, _NONE, np.int64)  # smallest reader lane
            self.r_hi = np.full(n, -1, np.int64)  # largest reader lane
            self.r_epoch = np.full(n, -1, np.int64)
            self.scratch = np.empty(n, np.int64)
            self.last_write = -1  # the epoch of the last write
            self.pending: list = []  # (elements, lanes) of this epoch's reads not yet recorded
            self.pending_size = 0


class _Known:
    """What the runs of one kernel work out once about its IR, which does not change between
    them: the constants' values and the Binary chains' steps (:class:`ExprEvaluator`'s, by
    node id), and the ids of the buffers it writes (by stores, and by the external calls of
    the backends registered now)."""

    __slots__ = ("constants", "chains", "_written", "_externs")

    def __init__(self):
        self.constants, self.chains = {}, {}
        self._written, self._externs = None, None

    def written(self, body) -> set[int]:
        externs = tuple(dict.fromkeys(_EXTERNS.values()))
        if self._written is None or externs != self._externs:
            written = {id(n.buffer) for n in pre_order_nodes(body) if isinstance(n, BufferStore)}
            self._written, self._externs = written | _extern_writes(body), externs
        return self._written


class _Lanes:
    """The context of an expression in a kernel run: the active lanes (``mask``; None: all)
    and the values of the variables bound so far (``env``)."""

    __slots__ = ("mask", "env")

    def __init__(self, mask, env):
        self.mask, self.env = mask, env

    def bind(self, var, value) -> _Lanes:
        """The same lanes where ``var`` also has ``value`` (a ``Let``'s body)."""
        env = dict(self.env)
        env[var] = value
        return _Lanes(self.mask, env)

    def narrow(self, cond) -> _Lanes | None:
        """The lanes where ``cond`` also holds; None when none is left."""
        mask = _narrow(self.mask, cond)
        if mask is False:
            return None
        return self if mask is self.mask else _Lanes(mask, self.env)


class _KernelRun(ExprEvaluator):
    """One launch of a kernel: every thread a NumPy lane, expressions evaluated by mlc's
    one TIR expression evaluator (:class:`~mlc.backends.reference.expressions.ExprEvaluator`),
    with threads, barriers, warps and the race checks added here."""

    what = "emulator"

    def __init__(self, kernel: Kernel, params: dict, fname: str, warp: int, known: _Known | None = None):
        known = _Known() if known is None else known
        super().__init__(known.constants, known.chains)
        self.kernel, self.fname, self.warp = kernel, fname, warp
        nb, nt = kernel.blocks, kernel.threads
        self.nt, self.lanes = nt, nb * nt
        lane = np.arange(self.lanes, dtype=np.int64)
        self.lane, self.block_of, self.thread_of = lane, lane // nt, lane % nt
        self._zeros = np.zeros(self.lanes, np.int64)  # (an element of global memory for every lane: + it)
        self.axis = {}
        rest_b, rest_t = self.block_of, self.thread_of
        for a, g, b in zip(AXES, kernel.grid, kernel.block):
            self.axis[f"blockIdx.{a}"] = rest_b % g
            self.axis[f"threadIdx.{a}"] = rest_t % b
            rest_b, rest_t = rest_b // g, rest_t // b
        self.memory: dict[int, _Memory] = {}
        # what the kernel only reads cannot race, nor can the global memory of a kernel of one
        # thread (no other thread touches it)
        written = known.written(kernel.body) if self.lanes > 1 else set()
        for p in kernel.params:
            arr = params[id(p)]
            self.memory[id(p)] = _Memory(p, arr, arr.size, "global", id(p) in written)
        for b in kernel.shared + kernel.local:  # declared at the kernel's top, wherever allocated
            self._allocate(b)
        self.epoch = 0
        self.stats = KernelStats(kernel.name)
        self.bound: dict[str, Var] = {}
        self._load_keys: dict[int, tuple] = {}  # id(BufferLoad) -> (buffer, index key)
        self._statement_reads: set = set()  # the loads of the statement running now
        self.in_async = False  # inside an async scope: fetches into shared memory are cp.async
        self.open_copies: list = []  # (memory, elements, lanes, values) issued, not committed
        self.groups: list[list] = []  # committed groups of copies, oldest first

    # ------------------------------------------------------------ driving

    def execute(self) -> None:
        self.exec(self.kernel.body, None, {})
        for emulation in dict.fromkeys(_EXTERNS.values()):
            if emulation.finish is not None:
                emulation.finish(self)
        left = [c for c in self.open_copies + [c for g in self.groups for c in g] if c[1].size]
        if left:
            mem, where, lanes, _ = left[0]
            raise RaceError(f"emulator: {self.fname}: thread {self._thread_name(int(lanes[0]))} of block "
                            f"{self._block_name(int(lanes[0]) // self.nt)} ends the kernel with an asynchronous "
                            f"copy into {mem.buffer.name}[{int(where[0]) % mem.size}] (flat index) never waited "
                            "for (cp.async without cp.async.wait_group); commit and wait before the kernel ends")

    def exec(self, stmt, mask, env) -> None:
        if type(stmt) is BufferStore:  # (the most frequent first)
            self._store(stmt, mask, env)
        elif isinstance(stmt, SeqStmt):
            for s in stmt.seq:
                self.exec(s, mask, env)
        elif isinstance(stmt, For):
            self._for(stmt, mask, env)
        elif isinstance(stmt, While):  # each thread loops while its condition holds
            while True:
                self._statement_reads.clear()
                inner = _narrow(mask, self.ev(stmt.condition, mask, env))
                if inner is False:
                    break
                self.exec(stmt.body, inner, env)
        elif isinstance(stmt, IfThenElse):
            self._statement_reads.clear()
            cond = self.ev(stmt.condition, mask, env)
            then = _narrow(mask, cond)
            if then is not False:
                self.exec(stmt.then_case, then, env)
            if stmt.else_case is not None:
                other = _narrow(mask, np.logical_not(cond))
                if other is not False:
                    self.exec(stmt.else_case, other, env)
        elif isinstance(stmt, BufferStore):
            self._store(stmt, mask, env)
        elif isinstance(stmt, LetStmt):  # each value of the chain once, then the body
            self._statement_reads.clear()
            env = dict(env)
            while type(stmt) is LetStmt:
                env[stmt.var] = self.ev(stmt.value, mask, env)
                stmt = stmt.body
            self.exec(stmt, mask, env)
        elif isinstance(stmt, Allocate):
            self._allocate(stmt.buffer)
            self.exec(stmt.body, mask, env)
        elif isinstance(stmt, Evaluate):
            if isinstance(stmt.value, Call) and stmt.value.op == SYNC_THREADS:
                self._barrier(mask)
            elif isinstance(stmt.value, CallExtern) and stmt.value.name in PREFETCHES:
                pass  # a cache hint computes nothing
            elif isinstance(stmt.value, CallExtern):
                emulation = _EXTERNS.get(stmt.value.name)
                if emulation is None:
                    raise MLCError(f"emulator: {self.fname}: no backend registered the external function "
                                   f"{stmt.value.name!r} (register_extern_emulation); it runs "
                                   f"{sorted(_EXTERNS) or 'none'}")
                emulation.run(self, stmt.value, mask, env)
            elif isinstance(stmt.value, Call) and stmt.value.op == CP_ASYNC_COMMIT:
                self._commit(mask)
            elif isinstance(stmt.value, Call) and stmt.value.op == CP_ASYNC_WAIT:
                self._wait(wait_count(stmt), mask)
        else:
            raise MLCError(f"emulator: cannot run {type(stmt).__name__} statements")

    def _for(self, loop: For, mask, env) -> None:
        var = loop.loop_var
        if is_async_scope(loop):
            outer, self.in_async = self.in_async, True
            try:
                self.exec(loop.body, mask, {**env, var: np.int32(0)})
            finally:
                self.in_async = outer
            return
        if loop.kind == "thread_binding":
            tag = loop.thread_binding
            outer = self.bound.get(tag)
            inner = dict(env)
            inner[var] = self.axis[tag].astype(var.dtype) if outer is None else env[outer]
            if outer is None:
                self.bound[tag] = var
            try:
                self.exec(loop.body, mask, inner)
            finally:
                if outer is None:
                    del self.bound[tag]
            return
        lo, extent = self.ev(loop.min, mask, env), self.ev(loop.extent, mask, env)
        make = np.dtype(var.dtype).type
        inner = dict(env)
        if _ndim(lo) == 0 and _ndim(extent) == 0:
            for v in range(int(lo), int(lo) + int(extent)):
                inner[var] = make(v)
                self.exec(loop.body, mask, inner)
            return
        stop = lo + extent  # bounds differ between threads: run the union, masked
        active = np.ones(self.lanes, bool) if mask is None else mask
        lo_b, stop_b = np.broadcast_to(lo, (self.lanes,)), np.broadcast_to(stop, (self.lanes,))
        if not _any(active):
            return
        for v in range(int(lo_b[active].min()), int(stop_b[active].max())):
            sub = _narrow(mask, (lo_b <= v) & (v < stop_b))
            if sub is not False:
                inner[var] = make(v)
                self.exec(loop.body, sub, inner)

    def _allocate(self, buffer: Buffer) -> None:
        if id(buffer) in self.memory:
            return  # declared once per kernel: re-entering keeps the contents, as on a GPU
        size = int(np.prod([e.value for e in buffer.shape], dtype=np.int64))
        if buffer.scope in FRAGMENT_SCOPES:  # one per warp
            warps = -(-self.lanes // self.warp)
            array = np.full(warps * size, V.poison(buffer.dtype), buffer.dtype)
            mem = self.memory[id(buffer)] = _Memory(buffer, array, size, "warp", False)
            mem.offset = (self.lane // self.warp) * np.int64(size)
            return
        shared = buffer.scope == "shared"
        copies = self.kernel.blocks if shared else self.lanes
        array = np.full(copies * size, V.poison(buffer.dtype), buffer.dtype)
        mem = self.memory[id(buffer)] = _Memory(buffer, array, size, "block" if shared else "thread", shared)
        mem.offset = (self.block_of if shared else self.lane) * np.int64(size)

    def _barrier(self, mask) -> None:
        if mask is not None and not _all(mask):
            active = np.bincount(self.block_of[mask], minlength=self.kernel.blocks)
            bad = np.flatnonzero((active > 0) & (active < self.nt))
            if bad.size == 0:
                bad = np.flatnonzero(active == 0)
            b = int(bad[0])
            waiting = self.lane[(self.block_of == b) & ~mask]
            raise RaceError(f"emulator: {self.fname}: __syncthreads() reached by {int(active[b])} of the "
                            f"{self.nt} threads of block {self._block_name(b)} (thread "
                            f"{self._thread_name(int(waiting[0]))} does not reach it): a barrier under "
                            "thread-divergent control flow hangs or misbehaves on a GPU; move it out of "
                            "the if/loop that depends on the thread index")
        self.epoch += 1
        self.stats.barriers += 1
        for mem in self.memory.values():
            if mem.tracked and mem.per == "block":
                mem.pending.clear()  # reads before the barrier are ordered before what follows
                mem.pending_size = 0

    # ------------------------------------------------------------ memory

    def _address(self, buffer: Buffer, indices, mask, env, index=None):
        """(memory, flat element of every lane, active lanes in ascending order); the
        elements of inactive lanes are 0. Raises BoundsError for an active lane outside.
        A vector index (``T.Ramp``, a vector of indices) gives each lane a row of
        ``width`` elements: the flat elements are then ``(lanes, width)``."""
        mem = self.memory.get(id(buffer))
        if mem is None:
            raise MLCError(f"emulator: buffer {buffer.name} is neither a parameter nor allocated "
                           "in the kernel")
        if index is not None:  # evaluated by the caller
            flat, width = index, dt.lanes(indices[0].dtype)
        elif len(indices) == 1:  # flattened buffers: the index as it is (no int64 copy)
            flat = np.asarray(self.ev(indices[0], mask, env))
            width = dt.lanes(indices[0].dtype)
        else:
            flat = np.int64(0)
            width = 1
            for idx, extent in zip(indices, buffer.shape):
                i = self.ev(idx, mask, env)
                width = max(width, dt.lanes(idx.dtype))
                flat = flat * np.int64(extent.value) + np.asarray(i, np.int64)
        if width == 1 and flat.ndim == 0:  # one element for every lane: check it once
            lanes = self.lane if mask is None else np.flatnonzero(mask)
            if not 0 <= flat < mem.size:
                self._out_of_bounds(buffer, mem, np.broadcast_to(flat, (self.lanes,)),
                                    np.ones(self.lanes, bool) if mask is None else mask)
            if mem.per == "global":
                return mem, self._zeros + flat, lanes
            return mem, mem.offset + flat, lanes
        shape = (self.lanes,) if width == 1 else (self.lanes, width)
        if flat.shape != shape:
            flat = np.broadcast_to(flat, shape)
        if mask is None:
            lanes = self.lane
            if _any((flat < 0) | (flat >= mem.size)):
                self._out_of_bounds(buffer, mem, flat, np.ones(self.lanes, bool))
        else:
            lanes = np.flatnonzero(mask)
            inside = flat[lanes]
            if _any((inside < 0) | (inside >= mem.size)):
                self._out_of_bounds(buffer, mem, flat, mask)
            flat = np.where(mask if width == 1 else mask[:, None], flat, 0)
        if mem.per != "global":
            flat = flat + (mem.offset if width == 1 else mem.offset[:, None])
        return mem, flat, lanes

    def _out_of_bounds(self, buffer: Buffer, mem: _Memory, flat, active) -> None:
        if flat.ndim == 2:  # a vector access: the first element outside, of each lane
            outside = (flat < 0) | (flat >= mem.size)
            flat = flat[np.arange(self.lanes), np.argmax(outside, axis=1)]
        lane = int(np.argmax(active & ((flat < 0) | (flat >= mem.size))))
        raise BoundsError(f"emulator: {self.fname}: thread {self._thread_name(lane)} of block "
                          f"{self._block_name(int(self.block_of[lane]))} accesses {buffer.name}"
                          f"[{int(flat[lane])}] (flat index), outside its {mem.size} elements; fix the "
                          "index, or guard the access")

    def _fragment_access(self, buffer: Buffer) -> None:
        raise MLCError(f"emulator: {self.fname}: a thread reads or writes an element of the "
                       f"{buffer.scope} fragment {buffer.name}; which thread holds which element of a "
                       "fragment is unspecified, so fragments are touched only by the WMMA intrinsics "
                       "(tensorize the loops that copy into or out of it)")

    def _register(self, buffer: Buffer, indices, mask, env):
        """(memory, index) of an access to one element of local memory per thread: the same
        in-bounds element of every thread, all threads active (a column of ``mem.rows``);
        else (memory or None, the evaluated index or None) for :meth:`_address`."""
        mem = self.memory.get(id(buffer))
        if mem is None or mem.per != "thread" or mask is not None or len(indices) != 1:
            return None, None
        f = np.asarray(self.ev(indices[0], mask, env))
        if f.ndim == 0 and 0 <= f < mem.size:
            return mem, int(f)
        return None, f

    def _load_lanes(self, e: BufferLoad, mask, env):
        if e.buffer.scope in FRAGMENT_SCOPES:
            self._fragment_access(e.buffer)
        mem, column = self._register(e.buffer, e.indices, mask, env)
        if mem is not None and self._complete(mem):
            return mem.rows[:, column]
        mem, addr, lanes = self._address(e.buffer, e.indices, mask, env,
                                         None if column is None else np.asarray(column))
        if addr.ndim == 2:
            return self._load_vector(mem, addr, lanes, mask, e)
        if mem.per == "thread" and not self._complete(mem):
            where = addr[lanes] if mask is not None else addr
            self._refuse_unwritten(mem, where, lanes, ~mem.written[where], "local",
                                   "it never wrote; local memory is per thread (other threads' writes "
                                   "are not visible)")
        if mem.tracked:
            self._check_read(mem, addr[lanes] if mask is not None else addr, lanes)
        if mem.per == "global" and self._first_read(e):
            self.stats.global_reads += lanes.size
        return mem.array[addr]

    def _refuse_unwritten(self, mem: _Memory, where, lanes, unwritten, scope: str, which: str) -> None:
        """A RaceError for the first lane whose read of ``mem`` (a ``scope`` buffer) finds an
        element nobody it can see wrote (``unwritten``, per lane); ``which`` says who did not."""
        if _any(unwritten):
            k = int(np.argmax(unwritten))
            lane = int(lanes[k])
            raise RaceError(f"emulator: {self.fname}: thread {self._thread_name(lane)} of block "
                            f"{self._block_name(lane // self.nt)} reads {scope} buffer {mem.buffer.name}"
                            f"[{int(where[k]) % mem.size}] (flat index), which {which}")

    def _load_vector(self, mem: _Memory, addr, lanes, mask, e: BufferLoad):
        """A vector load: each active lane reads its row of ``addr``, checked element by
        element as scalar loads are (rows ``(lanes, width)``)."""
        width = addr.shape[1]
        where = (addr[lanes] if mask is not None else addr).reshape(-1)
        per_element = np.repeat(lanes, width)
        if mem.per == "thread":
            unwritten = ~mem.written[where]
            if _any(unwritten):
                k = int(np.argmax(unwritten))
                raise RaceError(f"emulator: {self.fname}: thread {self._thread_name(int(per_element[k]))} "
                                f"reads local buffer {mem.buffer.name}[{int(where[k]) % mem.size}] (flat "
                                "index), which it never wrote")
        if mem.tracked:
            self._check_read(mem, where, per_element)
        if mem.per == "global" and self._first_read(e):
            self.stats.global_reads += where.size
        return mem.array[addr]

    def _first_read(self, e: BufferLoad) -> bool:
        """Whether this statement has not read ``e``'s elements yet: a load repeated in one
        statement (``tanh(x[i]) + x[i]`` after inlining) reads the same elements of a
        read-only or restrict buffer, which the compiler keeps in a register, so global
        traffic counts it once."""
        key = self._load_keys.get(id(e))
        if key is None:
            key = self._load_keys[id(e)] = (id(e.buffer), expr_key(e.indices))
        if key in self._statement_reads:
            return False
        self._statement_reads.add(key)
        return True

    def _store(self, stmt: BufferStore, mask, env) -> None:
        self._statement_reads.clear()
        if stmt.buffer.scope in FRAGMENT_SCOPES:
            self._fragment_access(stmt.buffer)
        value = self.ev(stmt.value, mask, env)
        mem, column = self._register(stmt.buffer, stmt.indices, mask, env)
        if mem is not None:  # one element of every thread's local memory
            if mem.complete is not True:
                mem.written_rows[:, column] = True
                mem.complete = None
            mem.rows[:, column] = value
            return
        mem, addr, lanes = self._address(stmt.buffer, stmt.indices, mask, env, column)
        if addr.ndim == 2:
            return self._store_vector(mem, addr, lanes, mask, value, self._is_async(stmt, mem))
        where = addr[lanes] if mask is not None else addr
        is_async = self._is_async(stmt, mem)
        value = np.asarray(value, mem.array.dtype)
        if value.ndim or is_async:  # (one value for every lane is stored as it is)
            if value.shape != (self.lanes,):
                value = np.broadcast_to(value, (self.lanes,))
            value = value[lanes] if mask is not None else value
        if is_async:
            return self._issue(mem, where, lanes, value)
        self._write(mem, where, lanes, value)

    def _store_vector(self, mem: _Memory, addr, lanes, mask, value, is_async: bool = False) -> None:
        width = addr.shape[1]
        where = (addr[lanes] if mask is not None else addr).reshape(-1)
        per_element = np.repeat(lanes, width)
        value = np.broadcast_to(np.asarray(value, mem.array.dtype), addr.shape)
        value = (value[lanes] if mask is not None else value).reshape(-1)
        if is_async:
            return self._issue(mem, where, per_element, value)
        self._write(mem, where, per_element, value)

    def _write(self, mem: _Memory, where, owners, value) -> None:
        """Stores ``value`` at the flat addresses ``where``, written by the threads ``owners``
        (one per address): races are checked on tracked memory, a thread's own memory records
        what it has written, and global writes are counted."""
        if mem.tracked:
            self._check_write(mem, where, owners)
        elif mem.per == "thread" and mem.complete is not True:
            mem.written[where] = True
            mem.complete = None
        if mem.per == "global":
            self.stats.global_writes += owners.size
        mem.array[where] = value

    # ------------------------------------------------------------ asynchronous copies

    def _is_async(self, stmt: BufferStore, mem: _Memory) -> bool:
        return self.in_async and mem.per == "block" and async_copy_source(stmt) is not None

    def _issue(self, mem: _Memory, where, lanes, values) -> None:
        """A ``cp.async`` of each lane's elements: checked as a write now (what other threads
        read or wrote since the last barrier must not be overwritten), written at its wait."""
        self._check_write(mem, where, lanes)
        if mem.in_flight is None:
            mem.in_flight = np.zeros(mem.array.size, bool)
        mem.in_flight[where] = True
        self.open_copies.append((mem, where, lanes, np.array(values, mem.array.dtype)))

    def _commit(self, mask) -> None:
        """``cp.async.commit_group`` by the active lanes: their open copies become a group."""
        group, still_open = [], []
        for mem, where, lanes, values in self.open_copies:
            mine = np.ones(lanes.size, bool) if mask is None else mask[lanes]
            group.append((mem, where[mine], lanes[mine], values[mine]))
            if not _all(mine):
                still_open.append((mem, where[~mine], lanes[~mine], values[~mine]))
        self.groups.append(group)
        self.open_copies = still_open

    def _wait(self, n: int, mask) -> None:
        """``cp.async.wait_group n`` by the active lanes: their copies of all but the ``n``
        newest groups land, as writes made now."""
        done = self.groups[:max(len(self.groups) - n, 0)]
        for g, group in enumerate(done):
            rest = []
            for mem, where, lanes, values in group:
                mine = np.ones(lanes.size, bool) if mask is None else mask[lanes]
                w, ln = where[mine], lanes[mine]
                mem.in_flight[w] = False
                self._check_write(mem, w, ln)
                mem.array[w] = values[mine]
                if not _all(mine):
                    rest.append((mem, where[~mine], lanes[~mine], values[~mine]))
            done[g][:] = rest
        # the newest n groups stay, empty ones too (a group counts whatever it holds)
        self.groups = [g for g in done if g] + self.groups[len(done):]

    def _in_flight(self, mem: _Memory, where, lanes, does: str) -> None:
        busy = mem.in_flight[where]
        if _any(busy):
            k = int(np.argmax(busy))
            lane = int(lanes[k])
            raise RaceError(f"emulator: {self.fname}: thread {self._thread_name(lane)} of block "
                            f"{self._block_name(lane // self.nt)} {does} shared buffer {mem.buffer.name}"
                            f"[{int(where[k]) % mem.size}] (flat index) while an asynchronous copy (cp.async) "
                            "into it is in flight; wait for its group (cp.async.wait_group) and then "
                            "__syncthreads() before touching it")

    @staticmethod
    def _complete(mem: _Memory) -> bool:
        """Whether every element of a local or shared buffer has been written (once true, it
        stays true: nothing unwrites an element)."""
        if mem.complete is None:
            mem.complete = bool(_all(mem.written) if mem.per == "thread" else _all(mem.w_lane != -1))
        return mem.complete

    # ------------------------------------------------------------ races

    def _conflict(self, other_lane, epochs, where, lanes):
        """Where an earlier access by ``other_lane`` in epoch ``epochs[where]`` is unordered
        with ``lanes``' access now: another thread, of another block or since the last barrier."""
        other = other_lane != lanes
        if not _any(other):  # (the common case: a thread touching its own elements again)
            return other
        other &= other_lane != -1
        if not _any(other):  # (elements no other thread touched)
            return other
        other_block = np.where(other_lane >= 0, other_lane // self.nt, -1)
        return other & ((other_block != self.block_of[lanes]) | (epochs[where] == self.epoch))

    def _check_read(self, mem: _Memory, where, lanes) -> None:
        if mem.in_flight is not None:
            self._in_flight(mem, where, lanes, "reads")
        if mem.per == "block" and not self._complete(mem):
            self._refuse_unwritten(mem, where, lanes, mem.w_lane[where] == -1, "shared",
                                   "no thread of its block wrote; shared memory is per block (another "
                                   "block's writes are not visible) — fetch the data in every block that "
                                   "reads it")
        if mem.last_write == self.epoch or (mem.per == "global" and mem.last_write >= 0):
            bad = self._conflict(mem.w_lane[where], mem.w_epoch, where, lanes)
            if _any(bad):
                k = int(np.argmax(bad))
                self._race(mem, int(where[k]), int(mem.w_lane[where[k]]), int(lanes[k]), "writes", "reads")
        if mem.per == "block":  # recorded only if a write of this epoch needs them
            mem.pending.append((where, lanes))
            mem.pending_size += where.size
            if mem.pending_size > _PENDING_LIMIT:
                self._record_reads(mem)
        else:
            self._record(mem, where, lanes)

    def _record_reads(self, mem: _Memory) -> None:
        for where, lanes in mem.pending:
            self._record(mem, where, lanes)
        mem.pending.clear()
        mem.pending_size = 0

    def _record(self, mem: _Memory, where, lanes) -> None:
        """Remember the smallest and largest reader lane of each element in this epoch."""
        cur = mem.r_epoch[where] == self.epoch
        if not _any(cur):  # (no element read yet in this epoch: the readers now are all there is)
            mem.r_hi[where] = lanes
            mem.r_lane[where[::-1]] = lanes[::-1]
            mem.r_epoch[where] = self.epoch
            return
        if _all(cur) and _all(mem.r_lane[where] <= lanes) and _all(mem.r_hi[where] >= lanes):
            return  # (each reader lies between the ones remembered: a thread reading again)
        old_lo = np.where(cur, mem.r_lane[where], _NONE)
        old_hi = np.where(cur, mem.r_hi[where], -1)
        mem.r_hi[where] = lanes  # with repeated elements the last (largest) lane stays
        mem.r_lane[where[::-1]] = lanes[::-1]  # ... and here the first (smallest)
        mem.r_hi[where] = np.maximum(mem.r_hi[where], old_hi)
        mem.r_lane[where] = np.minimum(mem.r_lane[where], old_lo)
        mem.r_epoch[where] = self.epoch

    def _check_write(self, mem: _Memory, where, lanes) -> None:
        if mem.in_flight is not None:
            self._in_flight(mem, where, lanes, "writes")
        if mem.pending:
            self._record_reads(mem)
        mem.scratch[where] = lanes  # with two lanes on one element, one reads back the other
        other = mem.scratch[where]
        dup = other != lanes
        if _any(dup):
            k = int(np.argmax(dup))
            pair = sorted((int(other[k]), int(lanes[k])))
            self._race(mem, int(where[k]), pair[0], pair[1], "writes", "writes")
        bad = self._conflict(mem.w_lane[where], mem.w_epoch, where, lanes)
        if _any(bad):
            k = int(np.argmax(bad))
            self._race(mem, int(where[k]), int(mem.w_lane[where[k]]), int(lanes[k]), "writes", "writes")
        lo = mem.r_lane[where]
        read = lo != _NONE
        if _any(read) and _any(read & ((lo != lanes) | (mem.r_hi[where] != lanes))):  # a reader but this lane
            reader = np.where(lo != lanes, lo, mem.r_hi[where])  # a reader other than this lane, if any
            bad = read & self._conflict(np.where(read, reader, -1), mem.r_epoch, where, lanes)
            if _any(bad):
                k = int(np.argmax(bad))
                self._race(mem, int(where[k]), int(reader[k]), int(lanes[k]), "reads", "writes")
        mem.w_lane[where] = lanes
        mem.w_epoch[where] = self.epoch
        mem.last_write = self.epoch
        if mem.complete is not True:
            mem.complete = None

    def _race(self, mem: _Memory, addr: int, first: int, second: int, did: str, does: str) -> None:
        index = addr % mem.size if mem.per == "block" else addr
        who = f"thread {self._thread_name(first)} of block {self._block_name(first // self.nt)}"
        raise RaceError(
            f"emulator: {self.fname}: data race on {mem.buffer.scope} buffer {mem.buffer.name}"
            f"[{index}] (flat index): {who} {did} it and thread {self._thread_name(second)} of block "
            f"{self._block_name(second // self.nt)} {does} it with no __syncthreads() between"
            + ("" if mem.per == "block" else " (threads of different blocks are never ordered)")
            + "; give each thread its own elements, or separate the accesses by a barrier")

    def _thread_name(self, lane: int) -> str:
        t = lane % self.nt
        out = []
        for b in self.kernel.block:
            out.append(t % b)
            t //= b
        return str(tuple(out))

    def _block_name(self, block: int) -> str:
        out = []
        for g in self.kernel.grid:
            out.append(block % g)
            block //= g
        return str(tuple(out))

    # ------------------------------------------------------------ warps

    def _shfl_down(self, e: Call, mask, env):
        """``__shfl_down_sync``: every lane of a group of ``width`` gets the value of the lane
        ``offset`` above it in its group (its own past the group's end). A lane reading from
        a lane that does not execute the shuffle (inactive, or past the block's threads) is
        a RaceError: the value it would get on a GPU is undefined."""
        value, offset, width = shfl_args(e)
        v = np.asarray(self.ev(value, mask, env), value.dtype)
        if v.shape != (self.lanes,):
            v = np.broadcast_to(v, (self.lanes,))
        t = self.thread_of
        moves = (t % width) + offset < width
        src = np.where(moves, self.lane + offset, self.lane)
        missing = moves & (t + offset >= self.nt)
        if mask is not None:
            missing |= moves & ~mask[np.minimum(src, self.lanes - 1)]
            missing &= mask
        if _any(missing):
            lane = int(np.argmax(missing))
            raise RaceError(f"emulator: {self.fname}: thread {self._thread_name(lane)} of block "
                            f"{self._block_name(lane // self.nt)} shuffles down by {offset} (width {width}) "
                            f"from thread {self._thread_name(lane + offset)}, which does not execute the "
                            "shuffle; the value it gets on a GPU is undefined — shuffle only where every "
                            "lane of the group is active")
        self.stats.shuffles += 1
        return v[np.minimum(src, self.lanes - 1)]

    # ------------------------------------------------------------ expressions

    def ev(self, e, mask, env):
        """``e`` for the active lanes ``mask`` (None: all) with variables ``env``."""
        return self.evaluate(e, _Lanes(mask, env))

    def short_circuits(self, e: Binary) -> bool:
        return not dt.is_vector(e.dtype)  # lanes of a vector: both sides (no loads)

    def _var(self, e: Var, ctx: _Lanes):
        try:
            return ctx.env[e]
        except KeyError:
            raise MLCError(f"emulator: variable {e.name} is used outside the loop that "
                           "binds it") from None

    def _load(self, e: BufferLoad, ctx: _Lanes):
        return self._load_lanes(e, ctx.mask, ctx.env)

    def _cast(self, e: Cast, ctx: _Lanes):
        return V.cast(np.asarray(self.evaluate(e.value, ctx))[()], dt.element(e.dtype))

    def _not(self, e: Not, ctx: _Lanes):
        return np.logical_not(self.evaluate(e.a, ctx))

    def _ramp(self, e: Ramp, ctx: _Lanes):
        return _column(self.evaluate(e.base, ctx)) + np.arange(e.lanes, dtype=e.base.dtype) * e.stride

    def _broadcast(self, e: Broadcast, ctx: _Lanes):
        column = _column(self.evaluate(e.value, ctx))
        return np.broadcast_to(column, (column.shape[0], e.lanes))

    def _select(self, e: Select, ctx: _Lanes):
        if dt.is_vector(e.dtype):  # lanes of a vector: both sides (no loads)
            return np.where(self.evaluate(e.cond, ctx), self.evaluate(e.true_value, ctx),
                            self.evaluate(e.false_value, ctx))
        return super()._select(e, ctx)

    def _call(self, e: Call, ctx: _Lanes):
        if e.op == SHFL_DOWN:
            return self._shfl_down(e, ctx.mask, ctx.env)
        return super()._call(e, ctx)


def _any(x) -> bool:
    """Whether any element of ``x`` is true (nonzero): ``x.any()`` without its Python wrapper,
    which costs more than the count on the few lanes of most statements."""
    return _count_nonzero(x) != 0


def _all(x) -> bool:
    """Whether every element of ``x`` is true (nonzero), as :func:`_any` counts."""
    return _count_nonzero(x) == x.size


def _ndim(x) -> int:
    """``np.ndim(x)`` of a value the emulator computes (a NumPy scalar or array, or a Python
    number), without np.ndim's dispatch."""
    return getattr(x, "ndim", 0)


def _column(x):
    """A scalar or a per-thread array as a column ``(1 or threads, 1)``, to take a row of
    vector lanes."""
    x = np.asarray(x)
    return x.reshape(1, 1) if x.ndim == 0 else x[:, None]


def _narrow(mask, cond):
    """``mask`` restricted to ``cond``; False when no lane remains, None for all lanes."""
    if _ndim(cond) == 0:
        return mask if bool(cond) else False
    new = cond if mask is None else (mask & cond)
    count = _count_nonzero(new)
    if count == 0:
        return False
    return None if count == new.size else new  # (every lane: the unmasked paths are the faster ones)
