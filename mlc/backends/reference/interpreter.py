"""The reference interpreter: runs a PrimFunc on NumPy arrays, exactly as
docs/ir-semantics.md says, fast enough to be the oracle of hundreds of tests.

Loops run serially in Python, except *regions*: a loop whose subtree has the
shape :mod:`.analysis` accepts runs with every loop inside as an array axis
(lanes, :mod:`.lanes`), each statement evaluated on whole arrays. The result
must equal serial order:

- one store per unit: repeated indices keep the serially last value, a
  reduction update combines every lane's value, a block init comes before the
  updates that follow it in serial order;
- several units: :class:`Recorder` checks, as they run, that no unit touches an
  element that an earlier unit touched from a later lane (one of the two
  accesses a write). If one does, the region's writes are rolled back and the
  loop runs serially (remembered per loop).

A vector statement (a store of a vector value, see docs/ir-semantics.md) runs
its lanes as one more lockstep axis: every lane's loads before the stores, a
repeated index keeping the last lane's value. Regions never hold one.

GPU thread loops (threadIdx, vthread) always run as lockstep axes: every thread
runs a statement before the next statement starts; ``local`` buffers are
private to each thread. blockIdx loops are independent, like parallel loops:
they run as a region when that equals serial order (blocks sharing a
``shared`` buffer allocated at the root therefore run one after another).
A thread-bound loop nested in a loop bound to the same thread axis is that
same index, as on a GPU (the cooperative fetch of a ``shared`` tile re-binds
``threadIdx.x`` under the compute's ``threadIdx.x`` loop): its variable takes
the outer loop's value instead of becoming an axis of its own.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np

from ...errors import BoundsError, DTypeError, MLCError, ShapeError
from ...ir import dtype as dt
from ...ir.arith import same_expr
from ...ir.expr import IntImm
from ...ir.functor import pre_order_nodes
from ...ir.extern import PREFETCH_AHEAD, AddressOf, CallExtern
from ...ir.tir import (Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse,
                       LetStmt, PrimFunc, SeqStmt, While)
from ...passes.tir.empty_reductions import expand_empty_reductions
from .analysis import Analysis, InitReduction, RegionPlan, is_lockstep
from .expressions import LANE, Evaluator
from .extern import REFERENCE_EXTERNS
from .lanes import Axis, Ctx, align, is_scalar
from .memory import (NotVectorizable, Storage, is_unique, position_bounds, repeated_axes,
                     store_plain, store_reduce, to_lanes, uniform_store)
from .regions import Recorder, Region

__all__ = ["Program", "LANE_LIMIT"]

#: Most lanes a region runs at once; longer loops run in chunks of iterations.
LANE_LIMIT = 1 << 21


class Program:
    """A PrimFunc ready to interpret; :meth:`run` executes it in place on arrays.

    Static analysis and the loops found not to vectorise (``serial_loops``) are
    kept between runs. ``vectorize=False`` runs every loop but GPU thread loops
    one iteration at a time: slow, and a check on the fast path.
    """

    def __init__(self, func: PrimFunc, vectorize: bool = True, name: str | None = None):
        if not isinstance(func, PrimFunc):
            raise MLCError(f"the reference interpreter runs PrimFuncs, got {type(func).__name__}")
        self.func = expand_empty_reductions(func)  # docs/ir-semantics.md: empty reductions init
        self.name = name or func.attr("global_symbol", "main")
        self.vectorize = vectorize
        self.analysis = Analysis()
        self.serial_loops: set[int] = set()  # ids of loops whose region run failed
        self.constants: dict[int, object] = {}
        self.stored = frozenset(id(n.buffer) for n in pre_order_nodes(self.func.body) if isinstance(n, BufferStore))

    def run(self, args: Sequence[np.ndarray]) -> None:
        params = self.func.params
        if len(args) != len(params):
            raise ShapeError(f"the function takes {len(params)} arrays "
                             f"({', '.join(p.name for p in params)}), got {len(args)}")
        with np.errstate(all="ignore"):
            try:
                _Execution(self, vectorize=self.vectorize and not self._aliased(args)).run(args)
            except BoundsError as err:
                raise BoundsError(f"{self.name}(): {err}; fix the index (or the index data the "
                                  "function reads), or guard the access (te.if_then_else, "
                                  "T.where)") from None

    def _aliased(self, args: Sequence[np.ndarray]) -> bool:
        """True when the function allows aliasing (``tir.noalias=False``) and two arguments
        share memory: lanes would read values a serial loop had already overwritten, so
        every loop then runs in order."""
        if self.func.attr("tir.noalias", True):
            return False
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        return any(np.may_share_memory(a, b) for n, a in enumerate(arrays) for b in arrays[n + 1:])


class _Execution(Evaluator):
    """One run of a Program: the buffers' storage and the statement walkers."""

    def __init__(self, program: Program, vectorize: bool = True):
        super().__init__(program.constants)
        self.program = program
        self.vectorize = vectorize
        self.analysis = program.analysis
        self.threads: dict[str, For] = {}  # thread axis -> the outermost loop bound to it
        self._stmt = {
            BufferStore: self._store, SeqStmt: self._seq, For: self._for, IfThenElse: self._if,
            While: self._while,
            BlockRealize: self._block_realize, Block: self._bare_block, Allocate: self._allocate,
            Evaluate: self._evaluate, LetStmt: self._let_stmt,
        }

    def run(self, args: Sequence[np.ndarray]) -> None:
        copies = []
        for param, arr in zip(self.program.func.params, args):
            if not isinstance(arr, np.ndarray) or arr.dtype.name != param.dtype:
                got = arr.dtype.name if isinstance(arr, np.ndarray) else type(arr).__name__
                raise DTypeError(f"argument {param.name} must be a numpy array of {param.dtype}, got {got}")
            flat = arr.reshape(-1) if arr.flags.c_contiguous else np.ascontiguousarray(arr).reshape(-1)
            if not arr.flags.c_contiguous and id(param) in self.program.stored:
                copies.append((arr, flat))
            self.storages[id(param)] = Storage(param, array=flat)
        self.exec(self.program.func.body, Ctx())
        for arr, flat in copies:
            arr[...] = flat.reshape(arr.shape)

    # --------------------------------------------------------- statements

    def exec(self, stmt, ctx: Ctx) -> None:
        fn = self._stmt.get(type(stmt))
        if fn is None:
            raise MLCError(f"reference interpreter: cannot run {type(stmt).__name__} statements")
        fn(stmt, ctx)

    def _evaluate(self, stmt: Evaluate, ctx: Ctx) -> None:
        """Expressions are pure: nothing to do, except for an external call (:mod:`.extern`)."""
        if isinstance(stmt.value, CallExtern):
            self._call_extern(stmt.value, ctx)

    def _call_extern(self, call: CallExtern, ctx: Ctx) -> None:
        """Run an external function on the regions its element addresses start (a read
        prefetch, whose line may lie past the buffer's end, does nothing)."""
        if call.name == PREFETCH_AHEAD:
            return
        known = REFERENCE_EXTERNS.get(call.name)
        if known is None:
            raise MLCError(f"reference interpreter: cannot run the external function {call.name!r} "
                           f"(a tensor intrinsic's implementation); it knows {sorted(REFERENCE_EXTERNS)}")
        sizes, fn = known
        if len(call.args) != len(sizes) or not all(isinstance(a, AddressOf) for a in call.args):
            raise MLCError(f"reference interpreter: {call.name} takes {len(sizes)} element addresses "
                           f"(T.address_of), got {call.args!r}")
        if ctx.axes:
            raise NotVectorizable(f"external call {call.name}")  # the loops around run in order
        regions = []
        for arg, size in zip(call.args, sizes):
            arr, flat = self._locate(arg.load.buffer, arg.load.indices, ctx)
            if arr is None or int(flat) + size > arr.size:
                raise BoundsError(f"{call.name} reads {size} elements of {arg.load.buffer.name} from "
                                  f"element {int(flat)}, past its end")
            regions.append((arr, int(flat)))
        fn(*regions)

    def _seq(self, stmt: SeqStmt, ctx: Ctx) -> None:
        recorder = ctx.region.recorder if ctx.region is not None else None
        for s in stmt.seq:
            if recorder is not None:
                recorder.next_unit()
            self.exec(s, ctx)

    def _let_stmt(self, stmt: LetStmt, ctx: Ctx) -> None:
        """Each value of a chain of LetStmts once (in every lane), then the body with the
        variables bound to them."""
        while type(stmt) is LetStmt:
            if dt.is_vector(stmt.var.dtype):
                raise MLCError(f"reference interpreter: cannot run a LetStmt of a vector value "
                               f"({stmt.var.name}: {stmt.var.dtype}); bind scalars only")
            ctx = ctx.bind(stmt.var, self.ev(stmt.value, ctx))
            stmt = stmt.body
        self.exec(stmt, ctx)

    def _while(self, stmt: While, ctx: Ctx) -> None:
        """Each lane runs the body while its condition holds (a lane whose condition failed
        changes nothing, so its condition stays false)."""
        while True:
            inner = ctx.narrow(self.ev(stmt.condition, ctx))
            if inner is None:
                return
            self.exec(stmt.body, inner)

    def _if(self, stmt: IfThenElse, ctx: Ctx) -> None:
        cond = self.ev(stmt.condition, ctx)
        recorder = ctx.region.recorder if ctx.region is not None else None
        branches = [(stmt.then_case, cond)]
        if stmt.else_case is not None:
            branches.append((stmt.else_case, np.logical_not(cond)))
        for body, taken in branches:
            if recorder is not None and stmt.else_case is not None:
                recorder.next_unit()
            inner = ctx.narrow(taken)
            if inner is not None:
                self.exec(body, inner)

    def _allocate(self, stmt: Allocate, ctx: Ctx) -> None:
        with self._allocated((stmt.buffer,), ctx):
            self.exec(stmt.body, ctx)

    @contextmanager
    def _allocated(self, buffers, ctx: Ctx):
        """Fresh storage for ``buffers`` while the body runs (one copy per lane)."""
        saved = [(id(b), self.storages.get(id(b))) for b in buffers]
        for b in buffers:
            self.storages[id(b)] = Storage(b, depth=ctx.ndim)
        try:
            yield
        finally:
            for key, old in saved:
                if old is None:
                    del self.storages[key]
                else:
                    self.storages[key] = old

    def _bare_block(self, stmt: Block, ctx: Ctx) -> None:
        raise MLCError(f"reference interpreter: block {stmt.name_hint!r} is not inside a "
                       "BlockRealize; wrap it so its iterators are bound")

    def _block_realize(self, stmt: BlockRealize, ctx: Ctx) -> None:
        pred = stmt.predicate
        if not (isinstance(pred, IntImm) and pred.value):
            ctx = ctx.narrow(self.ev(pred, ctx))
            if ctx is None:
                return
        block = stmt.block
        env = dict(ctx.env)
        for iv, value in zip(block.iter_vars, stmt.iter_values):
            env[iv.var] = self.ev(value, ctx)
        inner = Ctx(ctx.axes, env, ctx.mask, ctx.region)
        with self._allocated(block.alloc_buffers, inner):
            if block.init is None:
                self.exec(block.body, inner)
            else:
                self._block_with_init(block, inner)

    def _block_with_init(self, block: Block, ctx: Ctx) -> None:
        """Run ``init`` where every reduce iterator is at its minimum, then the body."""
        first = np.True_
        for iv in block.iter_vars:
            if iv.iter_type == "reduce":
                first = np.logical_and(first, np.equal(self.ev(iv.var, ctx), self.ev(iv.dom.min, ctx)))
        pattern = self.analysis.init_reduction(block)
        if pattern is not None and ctx.has_serial_axes():
            self._init_reduction(pattern, first, ctx)
            return
        recorder = ctx.region.recorder if ctx.region is not None and pattern is None else None
        if recorder is not None:
            recorder.next_unit()
        init_ctx = ctx.narrow(first)
        if init_ctx is not None:
            self.exec(block.init, init_ctx)
        if recorder is not None:
            recorder.next_unit()
        self.exec(block.body, ctx)

    def _init_reduction(self, pattern: InitReduction, first, ctx: Ctx) -> None:
        """Init and update of a reduction block over many lanes at once.

        An update counts only when it comes at or after the last init of its
        element in serial order (a later init would overwrite it).
        """
        recorder = ctx.region.recorder if ctx.region is not None else None
        last_init = None
        init_ctx = ctx.narrow(first)
        if init_ctx is not None:
            init = pattern.init
            arr, flat = self._locate(init.buffer, init.indices, init_ctx)
            value = self.ev(init.value, init_ctx)
            if arr is not None:
                f, _, latest = position_bounds(init_ctx, flat, init_ctx.serial_positions)
                last_init = np.full(arr.size, -1, np.int64)
                if is_unique(f):
                    last_init[f] = latest
                else:
                    np.maximum.at(last_init, f, latest)
                if recorder is not None:
                    recorder.access(init.buffer, arr, flat, init_ctx, write=True)
                store_plain(arr, flat, value, init_ctx, strict=False)
        update = pattern.update
        if pattern.condition is not None:
            ctx = ctx.narrow(self.ev(pattern.condition, ctx))
            if ctx is None:
                return
        arr, flat = self._locate(update.buffer, update.indices, ctx)
        rest = self.ev(pattern.kind.rest, ctx)
        if arr is None:
            return
        if last_init is not None:
            ctx = self._after_last_init(last_init, flat, ctx)
            if ctx is None:
                return
        if recorder is not None:
            recorder.access(update.buffer, arr, flat, ctx, write=True)
        store_reduce(arr, flat, rest, pattern.kind.ufunc, ctx)

    @staticmethod
    def _after_last_init(last_init: np.ndarray, flat, ctx: Ctx) -> Ctx | None:
        """``ctx`` narrowed to the update lanes at or after their element's last init."""
        flat = to_lanes(flat, ctx.ndim)
        latest = last_init[flat]
        same = repeated_axes(flat, ctx)
        if (ctx.serial_positions(at_min=same) >= latest).all():
            return ctx  # the usual case: every init precedes all updates of its element
        return ctx.narrow(ctx.serial_positions() >= latest)

    def _store(self, stmt: BufferStore, ctx: Ctx) -> None:
        if dt.is_vector(stmt.value.dtype):
            self._vector_store(stmt, ctx)
            return
        kind = self.analysis.store_kind(stmt)
        arr, flat = self._locate(stmt.buffer, stmt.indices, ctx)
        if ctx.ndim == 0:
            value = self.ev(stmt.value, ctx)
            if arr is not None:
                arr[flat] = value
            return
        recorder = self._recorder(stmt.buffer, ctx)
        if kind.kind == "self" and ctx.region is not None:
            if arr is not None:
                if recorder is not None:
                    recorder.access(stmt.buffer, arr, flat, ctx, write=True)
                self._store_in_order(stmt, arr, to_lanes(flat, ctx.ndim), ctx)
            return
        reduce = kind.kind == "reduce"
        value = self.ev(kind.rest if reduce else stmt.value, ctx)
        if arr is None:
            return
        if recorder is not None:
            uniform = not reduce and uniform_store(flat, value, ctx)
            recorder.access(stmt.buffer, arr, flat, ctx, write=True, uniform=uniform)
        if reduce:
            store_reduce(arr, flat, value, kind.ufunc, ctx)
        else:
            store_plain(arr, flat, value, ctx, strict=False)

    def _vector_store(self, stmt: BufferStore, ctx: Ctx) -> None:
        """A store of a vector value: its lanes are a lockstep axis bound to LANE."""
        n = dt.lanes(stmt.value.dtype)
        steps = np.arange(n, dtype=LANE.dtype).reshape((1,) * ctx.ndim + (n,))
        inner = ctx.with_axis(Axis(n, lockstep=True), LANE, steps)
        value = self.ev(stmt.value, inner)
        arr, flat = self._locate(stmt.buffer, stmt.indices, inner)
        if arr is not None:
            store_plain(arr, flat, value, inner, strict=False)

    def _store_in_order(self, stmt: BufferStore, arr: np.ndarray, flat: np.ndarray, ctx: Ctx) -> None:
        """A store whose value reads the stored element (``X[i] = f(X[i], ...)``), in a region.

        Lanes that hit one element (the axes its index does not depend on) run
        one slice after another, in serial order; the other lanes run at once,
        so their indices must differ.
        """
        repeated = repeated_axes(flat, ctx)
        if any(ctx.axes[k].lockstep for k in repeated):
            raise NotVectorizable
        for coords in itertools.product(*(range(ctx.axes[k].extent) for k in repeated)):
            part = ctx.slice(dict(zip(repeated, coords))) if repeated else ctx
            if part is not None:
                store_plain(arr, flat, self.ev(stmt.value, part), part, strict=True)

    # -------------------------------------------------------------- loops

    def _for(self, loop: For, ctx: Ctx) -> None:
        axis = loop.thread_binding if loop.kind == "thread_binding" else None
        if axis is not None:
            outer = self.threads.get(axis)
            if outer is not None:
                self._same_thread(loop, outer, ctx)
                return
            self.threads[axis] = loop
            try:
                self._loop(loop, ctx)
            finally:
                del self.threads[axis]
            return
        self._loop(loop, ctx)

    def _same_thread(self, loop: For, outer: For, ctx: Ctx) -> None:
        """``loop`` is bound to the thread axis of the enclosing ``outer``: on a GPU both are
        one index, so the body runs once per thread with ``loop``'s variable equal to it."""
        if not (same_expr(loop.min, outer.min) and same_expr(loop.extent, outer.extent)):
            raise MLCError(
                f"reference interpreter: loop {loop.loop_var.name} is bound to {loop.thread_binding} "
                f"over [{loop.min!r}, {loop.min!r} + {loop.extent!r}) inside loop "
                f"{outer.loop_var.name}, bound to the same axis over [{outer.min!r}, {outer.min!r} + "
                f"{outer.extent!r}); nested loops of one thread axis must have the same range")
        self.exec(loop.body, ctx.bind(loop.loop_var, ctx.env[outer.loop_var]))

    def _loop(self, loop: For, ctx: Ctx) -> None:
        lo, extent = self.ev(loop.min, ctx), self.ev(loop.extent, ctx)
        if is_lockstep(loop) or ctx.region is not None:
            self._run_axis(loop, lo, extent, ctx, lockstep=is_lockstep(loop))
            return
        if is_scalar(lo) and is_scalar(extent):
            if int(extent) <= 0:
                return
            if self.vectorize and id(loop) not in self.program.serial_loops:
                plan = self.analysis.region_plan(loop)
                if plan is not None:
                    self._run_region(loop, plan, lo, int(extent), ctx)
                    return
        self._run_serial(loop, lo, extent, ctx)

    def _run_axis(self, loop: For, lo, extent, ctx: Ctx, lockstep: bool) -> None:
        """Run ``loop`` as a new lane axis of ``ctx``."""
        var, ndim = loop.loop_var, ctx.ndim + 1
        n = int(extent) if is_scalar(extent) else int(_active_max(extent, ctx))
        if n <= 0:
            return
        steps = np.arange(n, dtype=var.dtype).reshape((1,) * ctx.ndim + (n,))
        values = (steps + align(lo, ndim)).astype(var.dtype, copy=False)
        bound = None if is_scalar(extent) else steps < align(extent, ndim)
        weight = None
        if ctx.region is not None and not lockstep:
            weight = ctx.region.plan.weights.get(id(loop))
        inner = ctx.with_axis(Axis(n, lockstep, weight), var, values, bound)
        if bound is not None and not inner.mask.any():
            return
        self.exec(loop.body, inner)

    def _run_serial(self, loop: For, lo, extent, ctx: Ctx) -> None:
        """Run ``loop`` one iteration after another."""
        var, body = loop.loop_var, loop.body
        make = np.dtype(var.dtype).type
        if is_scalar(lo) and is_scalar(extent):
            inner = ctx.bind(var, None)
            env = inner.env
            start = int(lo)
            for v in range(start, start + int(extent)):
                env[var] = make(v)
                self.exec(body, inner)
            return
        stop = lo + extent  # bounds differ between lanes: run the union, masked
        for v in range(int(_active_min(lo, ctx)), int(_active_max(stop, ctx))):
            inner = ctx.narrow(np.logical_and(lo <= v, v < stop))
            if inner is not None:
                self.exec(body, inner.bind(var, make(v)))

    def _run_region(self, loop: For, plan: RegionPlan, lo, extent: int, ctx: Ctx) -> None:
        """Run ``loop`` as lanes, in chunks that fit LANE_LIMIT; serially from the
        first chunk whose lanes would not equal serial order."""
        per_iteration = plan.inner_lanes * ctx.lanes()
        chunk = LANE_LIMIT // per_iteration
        make = np.dtype(loop.loop_var.dtype).type
        done = 0
        while chunk and done < extent and id(loop) not in self.program.serial_loops:
            n = min(chunk, extent - done)
            saved = self._snapshot(plan) if plan.multi_unit else None
            region = Region(plan, Recorder(plan.written) if plan.multi_unit else None)
            try:
                self._run_axis(loop, make(int(lo) + done), n, ctx.in_region(region), lockstep=False)
            except (NotVectorizable, IndexError) as err:
                if isinstance(err, IndexError) and saved is None:
                    raise  # one unit reads nothing it writes: the error is real
                for arr, copy in saved or ():
                    arr[...] = copy
                self.program.serial_loops.add(id(loop))
                break
            done += n
        if done < extent:
            self._run_serial(loop, make(int(lo) + done), extent - done, ctx)

    def _snapshot(self, plan: RegionPlan) -> list:
        saved = []
        for key in plan.written:
            storage = self.storages.get(key)
            if storage is not None:
                saved.extend(storage.snapshot())
        return saved


def _active_max(x, ctx: Ctx):
    if is_scalar(x) or ctx.mask is None:
        return np.max(x)
    return np.max(np.where(ctx.mask, x, np.iinfo(np.int64).min))


def _active_min(x, ctx: Ctx):
    if is_scalar(x) or ctx.mask is None:
        return np.min(x)
    return np.min(np.where(ctx.mask, x, np.iinfo(np.int64).max))
