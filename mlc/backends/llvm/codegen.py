"""Lowered PrimFunc -> one LLVM function ``void @name(ptr noalias %A, ...)``.

The input has been through :func:`mlc.passes.tir.lower`: only For,
IfThenElse, SeqStmt, Allocate, BufferStore and Evaluate remain, and every
buffer is one-dimensional; a graph's ``main`` has Allocates and the call
statements of :mod:`mlc.ir.calls` (calls of the module's functions, stay
calls; library calls go through ``mlc_graph_callback``). Parameters are the arrays' data pointers, in
order. Element offsets are computed in i64.

Loops: ``parallel`` ones are outlined into a body function run on the
thread pool (:mod:`.parallel`); ``vectorized`` ones (those the vectorize pass,
:func:`mlc.passes.tir.vectorize_loops`, left as loops) carry loop metadata for
LLVM's vectorizer (their math calls are :mod:`.vecmath` routines, so they
vectorise too); short ``unrolled`` ones are written out here. A serial (or
unrolled) loop folding a run of consecutive elements into one element is one
vector load and a tree of operations (:mod:`.horizontal`).

Vector IR (``T.Ramp``, ``T.Broadcast``, values of dtype ``float32x16``) is
rendered as LLVM vectors (:mod:`.vectorize`): a load or store at a stride-1
Ramp is one vector access, at another Ramp a gather or scatter from one base
pointer, at any other vector index (or when accesses are bounds-checked) one
scalar access per lane. Vector casts and math calls are computed lane by lane
(the vectorize pass creates them only inside gather indices).

What the codegen can compute it writes as a constant, not an instruction: integer
operations of constants (:func:`.arith.fold`; an unrolled copy's index is a constant, and
so becomes a tile's predicate ``60 + 3 < 64``), and an ``if`` or select on a constant
condition is only its taken side. Pure values are emitted once per basic block
(:meth:`_FunctionCodegen._reuse`, keyed by operation and operands): an unrolled register
tile computes ``A[i * 784 + k]``'s ``i * 784`` and ``B``'s row address once for all its
copies, and within one stored value an element loaded twice is loaded once
(:meth:`_FunctionCodegen._load_once`), so an inlined producer repeated in every use of
it (Black-Scholes' ``d1`` in both ``erf`` terms) is computed once. LLVM would fold all of
it, but not before paying to parse it.

Expressions map one to one onto :mod:`.arith`, :mod:`.complex` (complex values), :mod:`.vecmath` and
:mod:`.intrinsics`; three things need care here:

* float16 values are widened to float32 for every operation and rounded
  back to half afterwards (NumPy's float16 arithmetic);
* a ``Select`` whose branches load memory becomes branches and a phi, so the
  untaken load never executes (it may be out of bounds);
* the float add/mul of a reduction update ``X[i] = X[i] + ...`` inside a loop
  carries ``reassoc contract``, so LLVM may vectorise the reduction, and a
  product it sums carries ``contract``, so the two may become one FMA (as in
  BLAS dot products). No other fast-math flag is ever used.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol
from dataclasses import dataclass, field

from llvmlite import ir

from ...errors import CompileError
from ...ir import dtype as dt
from ...ir.buffer import Buffer
from ...ir.expr import (Binary, Broadcast, BufferLoad, Call, Cast, FloatImm, IntImm, Not, PrimExpr, Ramp,
                        Select, Var)
from ...ir.expr import ARITH_OPS, BITWISE_OPS, COMPARE_OPS, LOGIC_OPS, REINTERPRET
from ...ir.arith import same_expr
from ...ir.functor import binary_chain, pre_order_nodes
from ...ir.calls import CallPacked, CallPrimFunc, DeclBuffer
from ...ir.tir import (Allocate, BufferStore, Evaluate, For, IfThenElse, PrimFunc, SeqStmt, Stmt, While)
from ...ir.printer import expr_to_str
from ...ir.extern import AddressOf, CallExtern
from ...ir.shape_vars import size_params
from ...runtime.callbacks import CALLBACK_SYMBOL
from . import arith, complex as _complex_values, extern, horizontal, parallel, streaming  # noqa: F401 (registers)
from .bounds import Site, SiteTable, emit_violation
from .intrinsics import emit_math  # registers the llvm math lowerings (mlc.backends.intrinsics)
from .loops import MAX_UNROLL, MIN_KEPT_TRIPS, emit_loop, emit_while, loop_metadata
from .memory import BufferAllocator
from . import vecmath  # noqa: F401 - registers exp, expm1, log, log1p, tanh, sigmoid, erf
from .types import I64, PTR, alignment, compute_dtype, constant, int_constant, itemsize, mem_type, reg_type
from .vectorize import VectorCodegen, plan_windows, splat, vector_type
from .targeting import module_target

__all__ = ["emit_function", "launch_only", "REDUCTION_FLAGS", "FunctionCalls", "PlaceBody", "CALLBACK_TABLE_SYMBOL"]

#: The module global holding the callback table token of a module's library calls.
CALLBACK_TABLE_SYMBOL = "__mlc_callback_table"


def sext64(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """Signed integer ``v`` widened to i64; a constant is written as the i64 constant
    (``i64 4096``, not an instruction ``sext i32 4096 to i64`` for LLVM to fold)."""
    value = int_constant(v)
    return b.sext(v, I64) if value is None else ir.Constant(I64, value)


@dataclass
class FunctionCalls:
    """What a graph's ``main`` calls: the LLVM function of each module function (by name),
    and the module's library calls (:class:`~mlc.ir.calls.CallPacked`), in callback-index order."""
    functions: Mapping[str, ir.Function]
    library: list = field(default_factory=list)


class PlaceBody(Protocol):
    """Where the functions of a parallel loop go in a build of several LLVM modules
    (:func:`emit_function`)."""

    def body(self, owner: str, home: ir.Module) -> tuple[ir.Module, str]:
        """(the LLVM module, the name) of the body function of a parallel loop of the
        function ``owner``, which is in the LLVM module ``home``."""

    def task(self, body: ir.Module) -> ir.Module:
        """The LLVM module of the task of a body in the LLVM module ``body``."""

#: Fast-math flags on the float add/mul of a reduction update, and nowhere else
#: (a product added by the update gets ``contract`` alone).
REDUCTION_FLAGS = ("reassoc", "contract")


def emit_function(module: ir.Module, func: PrimFunc, symbol: str, name: str | None = None,
                  sites: SiteTable | None = None, fast_math: bool = False,
                  calls: FunctionCalls | None = None, streaming_bytes: int = 0,
                  place_body: PlaceBody | None = None, vector_bytes: int = 0) -> ir.Function:
    """Add ``func`` (lowered) to ``module`` as ``void @symbol(ptr, ...)``.

    ``calls``: the functions ``func`` may call (:mod:`mlc.ir.calls`, a graph's ``main``),
    and the list its library calls are numbered in.

    A function with symbolic extents takes, after its pointers, the value of each
    shape variable (:func:`~mlc.ir.shape_vars.size_params` order, in the variable's
    integer type): ``void @f(ptr %A, ptr %B, i32 %n)``.

    With ``sites``, every buffer access is checked at run time (:mod:`.bounds`):
    the function takes one more pointer, its :class:`~.bounds.BoundsRecord`, and
    each checked access is added to ``sites`` under the function's ``name``.
    ``fast_math``: exp, tanh, sigmoid and erf (float32's logarithms and trig
    too) use the cheaper routines of
    :mod:`.vecmath.fast` (documented error bounds).
    ``streaming_bytes``: from how many argument bytes the outputs the function only
    writes get non-temporal vector stores (:mod:`.streaming`); 0: never.
    ``place_body``: the LLVM module and the name of the body function of each of the
    function's parallel loops, and the module of its task (:mod:`.parallel`), so that a
    build of several modules optimises the loops of one kernel side by side; by default,
    ``module`` and a name unique there, the task beside its body.
    ``vector_bytes``: the target's vector register size; a contiguous vector store wider
    than it is made as stores of whole registers in address order
    (:func:`~.vectorize.store_pieces`), except into a register tile; 0: one store.
    """
    sizes = size_params(func)
    arg_types = [PTR] * len(func.params) + [reg_type(v.dtype) for v in sizes] + [PTR] * (sites is not None)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), arg_types), name=symbol)
    noalias = bool(func.attr("tir.noalias", True))
    gen = _FunctionCodegen(module, func, fn)
    gen.fast_math = fast_math
    gen.calls = calls
    gen.place_body = place_body
    gen.vector_bytes = vector_bytes
    if calls is None:
        gen.streaming = streaming.streaming_buffers(func, streaming_bytes)
    for arg, param in zip(fn.args, func.params):
        arg.name = param.name
        _pointer_attributes(arg, param.dtype, noalias, _static_nbytes(param))
        gen.buffers[param] = arg
    for arg, var in zip(fn.args[len(func.params):], sizes):  # symbolic extents, by value
        arg.name = var.name
        gen.vars[var] = arg
    if sites is not None:
        fn.args[-1].name = "bounds_record"
        gen.checks = _Checks(name or symbol, sites, fn.args[-1])
        for param in func.params:  # a symbolic element count, from the sizes passed in
            if len(param.shape) == 1 and not isinstance(param.shape[0], IntImm):
                gen.extents[param] = gen._index(param.shape[0])
    gen.stmt(func.body)
    gen.finish()
    if calls is not None or (gen.launches == 1 and launch_only(func.body)):
        # a graph's main (allocations, views and calls, :mod:`mlc.ir.calls`), or nothing but
        # the launch of its one parallel loop (stores of the closure, calls into the pool,
        # :mod:`.parallel`): glue that runs once per call, left unoptimised
        fn.attributes.add("noinline")
        fn.attributes.add("optnone")
    return fn


def launch_only(body: Stmt) -> bool:
    """Whether ``body`` is one parallel loop and nothing else: its function, once the loop's
    body is outlined (where the parallel runtime is there), is launch code only, left
    unoptimised (``optnone``)."""
    while isinstance(body, SeqStmt) and len(body.seq) == 1:
        body = body.seq[0]
    return isinstance(body, For) and body.kind == "parallel"


def _pointer_attributes(arg: ir.Argument, dtype: str, noalias: bool, nbytes: int) -> None:
    if noalias:
        arg.add_attribute("noalias")
    arg.add_attribute("captures(none)")
    arg.attributes.align = alignment(dtype)
    if nbytes:
        arg.attributes.dereferenceable = nbytes


class _FunctionCodegen(VectorCodegen):
    """Emits statements into one LLVM function (a kernel, or the body of a parallel loop)."""

    def __init__(self, module: ir.Module, func: PrimFunc, fn: ir.Function, in_parallel: bool = False):
        self.module, self.func, self.fn = module, func, fn
        self.fn.attributes.add("nounwind")
        # "entry" holds only the stack allocations; the code starts in "body".
        self.entry = self.fn.append_basic_block("entry")
        self.builder = ir.IRBuilder(self.fn.append_basic_block("body"))
        self.allocator = BufferAllocator(self.builder, self.entry)
        self.vars: dict[Var, ir.Value] = {}
        self.wide: dict[Var, ir.Value] = {}  # int32 loop variables: their i64 induction variable
        self.buffers: dict[Buffer, ir.Value] = {}
        self.loop_depth = 0
        self.in_parallel = in_parallel  # inside an outlined parallel body: loops run serially
        self.unrolled_copies = 1  # copies of the current code the unrolled loops around it made
        self._has_load: dict[int, tuple[PrimExpr, bool]] = {}  # id -> (the node, kept alive; answer)
        self._ready: dict[int, ir.Value] = {}  # id of a Binary -> its value (see _chain)
        self._computed: dict[tuple, ir.Value] = {}  # pure values by operation and operands (see _reuse)
        self._loaded: dict[tuple, ir.Value] | None = None  # the loads of the value being stored
        self._windows: dict[tuple, tuple] = {}  # its loads built from two others (vectorize.plan_windows)
        self.checks: _Checks | None = None  # run-time bounds checks (see .bounds)
        self.extents: dict[Buffer, ir.Value] = {}  # element counts of dynamic Allocates
        self.fast_math = False  # vecmath's fast routines (see emit_function)
        self.calls: FunctionCalls | None = None  # what CallPrimFunc/CallPacked reach
        self.streaming: frozenset[Buffer] = frozenset()  # outputs stored non-temporally (.streaming)
        self.made_nontemporal = False  # a non-temporal store was emitted: finish with sfence
        self.place_body: PlaceBody | None = None  # where parallel loop bodies go (emit_function)
        self.launches = 0  # parallel loops launched on the pool from this function
        self.vector_bytes = 0  # the target's vector register size (see emit_function)

    def finish(self) -> None:
        """Return at the end of the code and jump from the entry block to it."""
        if self.made_nontemporal:
            streaming.emit_sfence(self.module, self.builder)
        self.builder.ret_void()
        ir.IRBuilder(self.entry).branch(self.fn.blocks[1])

    # ---------------------------------------------------------- statements

    def stmt(self, s: Stmt) -> None:
        method = _STMT.get(type(s))
        if method is None:
            raise CompileError(f"the llvm backend cannot generate {type(s).__name__}; "
                               "lower the function first (mlc.passes.tir.lower)")
        method(self, s)

    def _seq(self, s: SeqStmt) -> None:
        for child in s.seq:
            self.stmt(child)

    def _evaluate(self, s: Evaluate) -> None:
        if isinstance(s.value, CallExtern):  # the only expression with an effect
            self.expr(s.value)

    def _store(self, s: BufferStore) -> None:
        if dt.is_vector(s.value.dtype):
            self._vector_store(s)
            return
        v = self._stored_value(s, in_loop=self.loop_depth > 0)
        if s.buffer.dtype == "bool":
            v = self.builder.zext(v, mem_type("bool"))
        self._access(s.buffer, s.indices, "store to",
                     lambda ptr: self.builder.store(v, ptr, align=alignment(s.buffer.dtype)))

    def _stored_value(self, s: BufferStore, in_loop: bool) -> ir.Value:
        """The value ``s`` stores; in a loop, a reduction update carries REDUCTION_FLAGS.
        While it is computed, an element loaded again in the same block is the load made
        before (nothing is stored in between: see :meth:`_load_once`)."""
        outer, self._loaded = self._loaded, {}
        outer_windows, self._windows = self._windows, plan_windows(s.value) if dt.is_vector(s.value.dtype) else {}
        try:
            if in_loop and _is_reduction_update(s):
                return self._binary(s.value, flags=REDUCTION_FLAGS)
            return self.expr(s.value)
        finally:
            self._loaded, self._windows = outer, outer_windows

    def _load_once(self, ptr: ir.Value, typ: ir.Type, align: int) -> ir.Value:
        """``load typ, ptr``: inside a stored value (:meth:`_stored_value`), once per block and
        address. Inlined ops repeat their operands' subtrees (Black-Scholes' expression
        loads its five inputs 138 times); with the loads shared, so are the operations on
        them (:meth:`_reuse`)."""
        if self._loaded is None:
            return self.builder.load(ptr, align=align, typ=typ)
        key = (id(self.builder.block), id(ptr), str(typ))
        value = self._loaded.get(key)
        if value is None:
            value = self._loaded[key] = self.builder.load(ptr, align=align, typ=typ)
        return value

    def _if(self, s: IfThenElse) -> None:
        cond = self.expr(s.condition)
        known = _known_condition(cond)
        if known is not None:  # a constant condition (an unrolled tile's predicate): one side
            taken = s.then_case if known else s.else_case
            if taken is not None:
                self.stmt(taken)
            return
        b = self.builder
        if s.else_case is None:
            with b.if_then(cond):
                self.stmt(s.then_case)
            return
        with b.if_else(cond) as (then, otherwise):
            with then:
                self.stmt(s.then_case)
            with otherwise:
                self.stmt(s.else_case)

    def _while(self, s: While) -> None:
        """``while cond: body`` as a native loop (a graph's main runs ``mlc.while_loop`` so)."""
        self.loop_depth += 1
        try:
            emit_while(self.builder, lambda: self.expr(s.condition), lambda: self.stmt(s.body))
        finally:
            self.loop_depth -= 1

    def _allocate(self, s: Allocate) -> None:
        """A chain of nested allocations (a graph's main allocates each intermediate around the
        rest) in a loop, not a recursion: a long program's chain is deeper than Python's stack."""
        held = []
        while isinstance(s, Allocate):
            buf = s.buffer
            count = self._index(buf.shape[0]) if buf.shape else ir.Constant(I64, 1)
            static = buf.shape[0].value if buf.shape and isinstance(buf.shape[0], IntImm) else None
            ptr, release = self.allocator.allocate(buf.name, mem_type(buf.dtype), itemsize(buf.dtype),
                                                   count, static)
            self.buffers[buf] = ptr
            self.extents[buf] = count
            held.append((buf, release))
            s = s.body
        self.stmt(s)
        for buf, release in reversed(held):
            del self.buffers[buf]
            del self.extents[buf]
            release()

    # ------------------------------------------------- calls (a graph's main)

    def _decl_buffer(self, s: DeclBuffer) -> None:
        self.buffers[s.buffer] = self._buffer_pointer(s.data, "decl_buffer")

    def _buffer_pointer(self, buffer: Buffer, where: str) -> ir.Value:
        ptr = self.buffers.get(buffer)
        if ptr is None:
            raise CompileError(f"{where}: buffer {buffer.name} is neither a parameter, allocated, "
                               "nor declared before this statement")
        return ptr

    def _call_prim_func(self, s: CallPrimFunc) -> None:
        """``call void @kernel(ptr, ...)``; a call stays a call (``noinline``): each kernel
        is compiled once. A bounds-checked kernel also gets this function's record."""
        callee = self.calls.functions.get(s.name) if self.calls is not None else None
        if callee is None:
            raise CompileError(f"call_prim_func: the module has no function {s.name!r} to call")
        args = [self._buffer_pointer(b, f"call_prim_func({s.name!r})") for b in s.args]
        if self.checks is not None:
            args.append(self.checks.record)
        if len(args) != len(callee.args):
            raise CompileError(f"call_prim_func: {s.name!r} takes {len(callee.args)} pointers, "
                               f"got {len(args)}")
        self.builder.call(callee, args, attrs=("noinline",))

    def _call_packed(self, s: CallPacked) -> None:
        """``mlc_graph_callback(table, index, {data pointers})``: the runtime calls the
        library function back (:mod:`mlc.runtime.callbacks`); ``table`` is the module's
        global :data:`CALLBACK_TABLE_SYMBOL`, set when the module is loaded."""
        if self.calls is None:
            raise CompileError(f"call_packed({s.name!r}) outside a function that may call")
        b, module = self.builder, self.module
        pointers = [self._buffer_pointer(x, f"call_packed({s.name!r})") for x in s.args]
        index = len(self.calls.library)
        self.calls.library.append(s)
        callback = module.globals.get(CALLBACK_SYMBOL) or ir.Function(
            module, ir.FunctionType(ir.VoidType(), [PTR, I64, PTR]), name=CALLBACK_SYMBOL)
        table = module.globals.get(CALLBACK_TABLE_SYMBOL)
        if table is None:
            table = ir.GlobalVariable(module, PTR, name=CALLBACK_TABLE_SYMBOL)
            table.initializer = ir.Constant(PTR, None)
        array = ir.IRBuilder(self.entry).alloca(ir.ArrayType(PTR, max(len(pointers), 1)))
        for k, p in enumerate(pointers):
            b.store(p, b.gep(array, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), k)]))
        b.call(callback, [b.load(table, typ=PTR), ir.Constant(I64, index), array])

    def _for(self, s: For) -> None:
        if s.kind == "thread_binding":
            raise CompileError(
                f"loop {s.loop_var.name} is bound to GPU thread axis {s.thread_binding!r}; "
                "thread-bound loops need the cuda target (build with target='cuda'), or "
                "remove the binding for the llvm target")
        if s.kind == "parallel":
            self._parallel_loop(s)
        elif s.kind in ("serial", "unrolled") and self._fold(s):
            return
        elif (s.kind == "unrolled" and isinstance(s.extent, IntImm)
              and self.unrolled_copies * s.extent.value <= MAX_UNROLL):
            self._unrolled_loop(s)
        else:
            self._serial_loop(s)

    def _unrolled_loop(self, s: For) -> None:
        """The body once per iteration, the index a constant offset from the start: no loop
        is left for LLVM to keep. Nested unrolled loops are written out while the body's
        copies stay at most MAX_UNROLL; longer ones get ``llvm.loop.unroll.full``."""
        b = self.builder
        begin = self._widen(s, self._loop_range(s)[0])
        self.loop_depth += 1
        self.unrolled_copies *= max(s.extent.value, 1)
        try:
            first = int_constant(begin)
            for k in range(s.extent.value):
                if first is not None:  # the copy's index is a constant too
                    index = ir.Constant(begin.type, first + k)
                else:
                    index = b.add(begin, ir.Constant(begin.type, k), name=s.loop_var.name, flags=("nsw",))
                self._loop_body(s, index)
        finally:
            self.loop_depth -= 1
            self.unrolled_copies //= max(s.extent.value, 1)

    def _fold(self, s: For) -> bool:
        """Emit ``s`` as one vector load and a tree of operations if it folds a run of
        consecutive elements into one (:mod:`.horizontal`); False (nothing emitted) if not."""
        fold = horizontal.match(s, bool(self.func.attr("tir.noalias", True)))
        if fold is None or self.buffers.get(fold.source.buffer) is self.buffers.get(fold.update.buffer):
            return False  # (a declared buffer naming the other's memory: the loop sees its own updates)
        b, target = self.builder, fold.update
        dtype = target.buffer.dtype
        flags = REDUCTION_FLAGS if fold.op in ("add", "mul") and dt.is_float(dtype) else ()

        def combine(x: ir.Value, y: ir.Value) -> ir.Value:
            return arith.binary(b, fold.op, x, y, compute_dtype(dtype), flags)

        def emit() -> None:
            if fold.init is not None:
                self.stmt(fold.init)
            run = BufferLoad(fold.source.buffer, (Ramp(fold.source.indices[0], 1, fold.lanes),),
                             dt.vector(dtype, fold.lanes))
            total = horizontal.tree(b, self.expr(run), combine)
            acc = self._access(target.buffer, target.indices, "load from",
                               lambda ptr: b.load(ptr, typ=mem_type(dtype), align=alignment(dtype)))
            value = combine(acc, total)
            self._access(target.buffer, target.indices, "store to",
                         lambda ptr: b.store(value, ptr, align=alignment(dtype)))

        self.loop_depth += 1
        try:
            self._bound(s, self._widen(s, self._loop_range(s)[0]), emit)
        finally:
            self.loop_depth -= 1
        return True

    def _parallel_loop(self, s: For) -> None:
        """Outline the loop into a body function and run it on the thread pool (:mod:`.parallel`).

        The body function receives every buffer and variable in scope (LLVM
        drops the unused ones where the body is internal, its one caller the task in the
        same module); inside it, nested parallel loops run serially.
        """
        if self.in_parallel:
            self._serial_loop(s)
            return
        if not parallel.openmp_available():
            parallel.warn_serial()
            self._serial_loop(s)
            return
        b = self.builder
        begin, extent = self._loop_range(s)
        buffers, variables = list(self.buffers.items()), [(var, self._var(var)) for var in self.vars]
        index_type = reg_type(s.loop_var.dtype)
        checks = [self.checks.record] if self.checks is not None else []
        # the checks in the body need the element counts of dynamic Allocates around the loop
        extents = [(buf, v) for buf, v in self.extents.items() if checks and not isinstance(v, ir.Constant)]
        module, name = self.place_body.body(self.fn.name, self.module) if self.place_body else (self.module, None)
        body_fn = parallel.body_function(
            module, self.fn.name,
            [PTR] * len(buffers) + [v.type for _, v in variables] + [I64] * len(extents)
            + [PTR] * len(checks) + [index_type, index_type], name)
        noalias = bool(self.func.attr("tir.noalias", True))
        child = _FunctionCodegen(module, self.func, body_fn, in_parallel=True)
        child.fast_math = self.fast_math
        child.streaming = self.streaming
        child.vector_bytes = self.vector_bytes
        child.loop_depth = self.loop_depth
        child._has_load = self._has_load
        args = iter(body_fn.args)
        for buf, _ in buffers:
            arg = next(args)
            arg.name = buf.name
            _pointer_attributes(arg, buf.dtype, noalias, 0)
            child.buffers[buf] = arg
        for var, _ in variables:
            arg = next(args)
            arg.name = var.name
            child.vars[var] = arg
        for buf, _ in extents:
            child.extents[buf] = next(args)
        if checks:  # every thread records into the caller's record (see .bounds)
            child.checks = self.checks.with_record(next(args))
        lo, count = next(args), next(args)
        child._counted_loop(s, lo, count)
        child.finish()
        task_module = self.place_body.task(module) if self.place_body else None
        parallel.emit_launch(b, ir.IRBuilder(self.entry), body_fn,
                             [v for _, v in buffers] + [v for _, v in variables]
                             + [v for _, v in extents] + checks, begin, extent, task_module)
        self.launches += 1

    def _serial_loop(self, s: For) -> None:
        self._counted_loop(s, *self._loop_range(s))

    def _loop_range(self, s: For) -> tuple[ir.Value, ir.Value]:
        """(min, extent) of ``s`` in its loop variable's type."""
        cast = arith.cast
        return (cast(self.builder, self.expr(s.min), s.min.dtype, s.loop_var.dtype),
                cast(self.builder, self.expr(s.extent), s.extent.dtype, s.loop_var.dtype))

    def _counted_loop(self, s: For, begin: ir.Value, count: ir.Value) -> None:
        """``s``'s body for ``count`` iterations from ``begin``, with its kind's loop metadata."""
        extent = s.extent.value if isinstance(s.extent, IntImm) else None
        kind = "serial" if s.kind == "parallel" else s.kind
        if s.kind == "serial" and _keeps_loop(s):
            kind = "kept"
        metadata = loop_metadata(self.module, kind, extent, self._interleave(s, kind, extent))
        self.loop_depth += 1
        try:
            emit_loop(self.builder, self._widen(s, begin), self._widen(s, count), s.loop_var.name,
                      lambda i: self._loop_body(s, i), metadata)
        finally:
            self.loop_depth -= 1

    def _interleave(self, s: For, kind: str, extent: int | None) -> tuple[int, int] | None:
        """(lanes, MATH_INTERLEAVE) for a vectorized loop of a constant ``extent`` whose body calls
        a vector math routine, where that many register-wide vectors fit in the extent; else
        None (LLVM's own choice)."""
        if MATH_INTERLEAVE < 2 or kind != "vectorized" or extent is None:
            return None
        target = module_target(self.module)
        calls = [n for n in pre_order_nodes(s.body) if isinstance(n, Call) and n.op in vecmath.VECTOR_MATH_OPS]
        if target is None or not calls:
            return None
        lanes = target.vector_bits // max(dt.bits(dt.element(c.dtype)) for c in calls)
        return (lanes, MATH_INTERLEAVE) if lanes > 1 and extent % (lanes * MATH_INTERLEAVE) == 0 else None

    def _widen(self, s: For, value: ir.Value) -> ir.Value:
        """An int32 loop bound as i64: int32 loops count in i64 (see :meth:`_loop_body`)."""
        return sext64(self.builder, value) if s.loop_var.dtype == "int32" else value

    def _loop_body(self, s: For, index: ir.Value) -> None:
        """``s``'s body with its variable bound to ``index``.

        An int32 loop variable is counted in i64 (its values are int32, so this
        is exact): indices use the i64 value directly (:meth:`_index64`), other
        uses its truncation. LLVM's loop passes then have no sign extensions of
        induction variables to widen.
        """
        self._bound(s, index, lambda: self.stmt(s.body))

    def _bound(self, s: For, index: ir.Value, emit: Callable[[], None]) -> None:
        """``emit()`` with ``s``'s variable bound to ``index`` (see :meth:`_loop_body`)."""
        var = s.loop_var
        if var.dtype == "int32":  # its int32 value is made where first needed (see _var)
            self.wide[var] = index
            index = _NARROWED
        self.vars[var] = index
        try:
            emit()
        finally:
            del self.vars[var]
            self.wide.pop(var, None)

    # --------------------------------------------------------- expressions

    def expr(self, e: PrimExpr) -> ir.Value:
        """``e`` as a register value of its dtype (bool as i1, float16 as half)."""
        if type(e) is Binary:
            ready = self._ready.pop(id(e), None)
            if ready is not None:
                return ready
            if type(e.a) is Binary or type(e.b) is Binary:
                return self._chain(e)
        method = _EXPR.get(type(e))
        if method is None:
            raise CompileError(f"the llvm backend cannot generate {type(e).__name__} expressions")
        return method(self, e)

    def _chain(self, e: Binary) -> ir.Value:
        """A Binary over a chain of Binary nodes (:func:`~mlc.ir.functor.binary_chain`, as
        deep as the user wrote it: ``x0 + x1 + ... + xn``), computed from the bottom up on a
        loop instead of a recursion per level: each level's operand on the chain is ready
        when :meth:`_binary` asks for it (down first operands, the instructions come out
        in the order the recursion gives)."""
        chain = binary_chain(e)
        value = _EXPR[Binary](self, chain[-1])
        for node, below in zip(reversed(chain[:-1]), reversed(chain[1:])):
            self._ready[id(below)] = value
            value = _EXPR[Binary](self, node)
            self._ready.pop(id(below), None)  # (asked for through another path: not left behind)
        return value

    def _compute(self, e: PrimExpr) -> ir.Value:
        """``e`` widened to its compute type (float16 -> float)."""
        v = self.expr(e)
        if dt.element(e.dtype) == "float16":
            v = self.builder.fpext(v, vector_type(dt.vector("float32", dt.lanes(e.dtype))))
        return v

    def _to_dtype(self, v: ir.Value, dtype: str) -> ir.Value:
        """Round a compute-type result back to ``dtype`` (float -> half for float16)."""
        if dt.element(dtype) == "float16":
            return self.builder.fptrunc(v, vector_type(dtype))
        return v

    def _imm(self, e) -> ir.Value:
        return constant(e.dtype, e.value)

    def _var(self, e: Var) -> ir.Value:
        v = self.vars.get(e)
        if v is None:
            raise CompileError(f"variable {e.name} is used outside the loop that defines it")
        if v is _NARROWED:  # an int32 loop variable counted in i64 (see _loop_body)
            wide = self.wide[e]
            value = int_constant(wide)
            if value is not None:
                return ir.Constant(reg_type("int32"), value)
            return self._reuse(("trunc", id(wide)),
                               lambda: self.builder.trunc(wide, reg_type("int32"), name=f"{e.name}.i32"))
        return v

    def _reuse(self, key: tuple, make: Callable[[], ir.Value]) -> ir.Value:
        """The value ``make()`` emits, emitted once per basic block for each ``key`` (an
        operation and its operands' :func:`_operand_key`): the index arithmetic and element
        addresses of an unrolled register tile repeat in every copy (``i * 1024``, the
        address of ``A[i * 1024 + k]``), an inlined producer's expression in every use of
        it, and each instruction costs some 20 us to build and print, and LLVM's work to
        parse and fold again. Only pure values are reused, and only in the block that made
        them, which every later instruction of the block follows."""
        value = self._computed.get((id(self.builder.block), *key))
        if value is None:
            value = make()
            self._computed[(id(self.builder.block), *key)] = value  # the block it ended in
        return value

    def _cast(self, e: Cast) -> ir.Value:
        if dt.is_vector(e.dtype):
            return self._lane_by_lane(e)
        v = self.expr(e.value)
        return self._reuse(("cast", e.value.dtype, e.dtype, _operand_key(v)),
                           lambda: arith.cast(self.builder, v, e.value.dtype, e.dtype))

    def _binary(self, e: Binary, flags: tuple[str, ...] = ()) -> ir.Value:
        op, dtype = e.op, dt.element(e.a.dtype)
        if op in LOGIC_OPS:
            a, b = self.expr(e.a), self.expr(e.b)
            folded = arith.fold(op, a, b, "bool")
            if folded is not None:
                return folded
            return self._reuse((op, _operand_key(a), _operand_key(b)),
                               lambda: arith.logical(self.builder, op, a, b))
        if flags and op == "add":  # a product summed by the reduction may fuse into an FMA
            a, b = (self._binary(x, ("contract",)) if _is_float_mul(x) else self._compute(_scalar_of(x))
                    for x in (e.a, e.b))
        else:
            a, b = self._compute(_scalar_of(e.a)), self._compute(_scalar_of(e.b))
        if dt.is_vector(e.a.dtype):  # broadcasts are splat once both operands are computed
            a, b = self._splat(a, dt.lanes(e.a.dtype)), self._splat(b, dt.lanes(e.a.dtype))
        cdtype = compute_dtype(dtype)
        folded = arith.fold(op, a, b, cdtype)
        if folded is not None:
            return folded
        if op not in ARITH_OPS and op not in BITWISE_OPS and op not in COMPARE_OPS:
            raise CompileError(f"unknown binary op {op!r}")
        use_flags = flags if op in ("add", "mul") and dtype in ("float32", "float64") else ()
        return self._reuse((op, e.dtype, use_flags, _operand_key(a), _operand_key(b)),
                           lambda: self._binary_value(op, a, b, dtype, e.dtype, use_flags))

    def _binary_value(self, op: str, a: ir.Value, b: ir.Value, dtype: str, out: str,
                      flags: tuple[str, ...]) -> ir.Value:
        """``a op b`` of operands of the element type ``dtype``, as ``out``."""
        cdtype = compute_dtype(dtype)
        if op in COMPARE_OPS:
            return arith.compare(self.builder, op, a, b, cdtype)
        return self._to_dtype(arith.binary(self.builder, op, a, b, cdtype, flags), out)

    def _splat(self, v: ir.Value, lanes: int) -> ir.Value:
        return self._reuse(("splat", lanes, _operand_key(v)), lambda: splat(self.builder, v, lanes))

    def _not(self, e: Not) -> ir.Value:
        a = self.expr(e.a)
        known = _known_condition(a)
        if known is not None:
            return constant("bool", not known)
        return self._reuse(("not", _operand_key(a)), lambda: self.builder.not_(a))

    def _call(self, e: Call) -> ir.Value:
        if dt.is_vector(e.dtype):
            element = dt.element(e.dtype)
            if element in vecmath.VECTOR_FORMS.get(e.op, ()) and dt.element(e.args[0].dtype) == element:
                x = self.expr(e.args[0])  # (the value is reused in the block it ends in, after its branch)
                return self._reuse(("vector call", e.op, e.dtype, _operand_key(x)), lambda: vecmath.call_vector_form(
                    self.builder, e.op, x, element, self.fast_math))
            return self._lane_by_lane(e)
        if e.op == REINTERPRET:
            return self.builder.bitcast(self.expr(e.args[0]), reg_type(e.dtype))
        args = [self._compute(a) for a in e.args]
        cdtype = compute_dtype(e.args[0].dtype)

        def make():
            out = emit_math(self.builder, e.op, args, cdtype, self.fast_math)
            return out if e.dtype == "bool" else self._to_dtype(out, e.dtype)
        return self._reuse(("call", e.op, e.dtype, cdtype, *map(_operand_key, args)), make)

    def _call_extern(self, e: CallExtern) -> ir.Value:
        """An external kernel's call; it may write memory, so what was loaded before it is
        loaded again after it."""
        value = extern.emit_call_extern(self, e)
        if self._loaded is not None:
            self._loaded.clear()
        return value

    def _select(self, e: Select) -> ir.Value:
        cond = None
        if not dt.is_vector(_scalar_of(e.cond).dtype):  # one condition for all lanes
            cond = self.expr(_scalar_of(e.cond))
            known = _known_condition(cond)
            if known is not None:  # a constant condition: only its side
                v = self.expr(_scalar_of(e.true_value if known else e.false_value))
                return self._splat(v, dt.lanes(e.dtype)) if dt.is_vector(e.dtype) else v
        loads = self._loads(e.true_value) or self._loads(e.false_value)
        if loads and dt.is_vector(e.dtype):  # each lane branches on its own condition
            return self._lane_by_lane(e)
        if cond is None:
            cond = self.expr(_scalar_of(e.cond))
        if not loads:
            t, f = self.expr(_scalar_of(e.true_value)), self.expr(_scalar_of(e.false_value))
            if dt.is_vector(e.dtype):
                t, f = self._splat(t, dt.lanes(e.dtype)), self._splat(f, dt.lanes(e.dtype))
            return self._reuse(("select", *map(_operand_key, (cond, t, f))),
                               lambda: self.builder.select(cond, t, f))
        b = self.builder  # only the taken side runs: its loads may be out of bounds otherwise
        with b.if_else(cond) as (then, otherwise):
            with then:
                t, t_block = self.expr(e.true_value), b.block
            with otherwise:
                f, f_block = self.expr(e.false_value), b.block
        phi = b.phi(reg_type(e.dtype))
        phi.add_incoming(t, t_block)
        phi.add_incoming(f, f_block)
        return phi

    def _loads(self, e: PrimExpr) -> bool:
        hit = self._has_load.get(id(e))
        if hit is None:  # the node kept alive beside the answer, so that its id is not reused
            hit = self._has_load[id(e)] = (e, any(isinstance(n, BufferLoad) and not _local_scalar(n)
                                                  for n in pre_order_nodes(e)))
        return hit[1]

    def _load(self, e: BufferLoad) -> ir.Value:
        if dt.is_vector(e.dtype):
            return self._vector_load(e)
        v = self._access(e.buffer, e.indices, "load from",
                         lambda ptr: self._load_once(ptr, mem_type(e.buffer.dtype), alignment(e.buffer.dtype)))
        if e.buffer.dtype == "bool":  # any nonzero byte is True
            v = self.builder.icmp_unsigned("!=", v, ir.Constant(v.type, 0))
        return v

    # ------------------------------------------------------------- memory

    def _index(self, e: PrimExpr) -> ir.Value:
        """An integer expression as i64 (sign-extended: offsets are computed in i64).

        int32 index arithmetic is computed in i64 from sign-extended operands
        (:meth:`_index64`), so LLVM folds constant terms into the addressing mode
        and its loop passes see the address arithmetic (an i32 sum, which may wrap,
        would need its own add and sign extension per load)."""
        if _is_index_arith(e) or (isinstance(e, Var) and e in self.wide):
            return self._index64(e)
        if not dt.is_int(e.dtype):
            raise CompileError(f"buffer index of dtype {e.dtype}; indices must be integers")
        v = self.expr(e)
        if v.type.width < 64:
            v = sext64(self.builder, v) if dt.is_signed(e.dtype) else self.builder.zext(v, I64)
        return v

    def _index64(self, e: PrimExpr) -> ir.Value:
        """An index expression accepted by :func:`_is_index_arith`, computed in i64.

        Its int32 operands are sign-extended first, so no step can overflow (the
        ``nsw`` flags say so), and LLVM's loop passes see the address arithmetic
        directly rather than through a sign extension of every index.
        """
        if isinstance(e, IntImm):
            return ir.Constant(I64, e.value)
        if not (isinstance(e, Binary) and e.op in _INDEX_OPS):
            wide = self.wide.get(e) if isinstance(e, Var) else None
            if wide is not None:
                return wide
            leaf = self.expr(e)  # a variable, a load, a clamped tile start (``min(i * 6, 1018)``), ...
            return self._reuse(("sext64", _operand_key(leaf)), lambda: sext64(self.builder, leaf))
        a, b = self._index64(e.a), self._index64(e.b)
        folded = _fold_index(e.op, a, b)
        if folded is not None:
            return folded
        if e.op in ("floordiv", "floormod"):
            make = lambda: arith.binary(self.builder, e.op, a, b, "int64")  # noqa: E731
        else:
            op = {"add": self.builder.add, "sub": self.builder.sub, "mul": self.builder.mul}[e.op]
            make = lambda: op(a, b, flags=("nsw",))  # noqa: E731
        return self._reuse((e.op, _operand_key(a), _operand_key(b)), make)

    def _access(self, buffer: Buffer, indices, kind: str, access):
        """``access(element pointer)``, behind a bounds check when the build checks them:
        then an index outside the buffer records a violation and skips the access (a
        load gives zero). Returns what ``access`` returns."""
        extent = self._extent(buffer) if self.checks is not None else None
        if extent is None:
            return access(self._element_ptr(buffer, indices))
        b = self.builder
        index = self._index(indices[0])
        ok = b.icmp_unsigned("<", index, extent)
        with b.if_else(ok, likely=True) as (then, otherwise):
            with then:
                value, value_block = access(self._element_ptr(buffer, indices, index)), b.block
            with otherwise:
                self.checks.violation(b, buffer, indices[0], kind, index, extent)
                skipped_block = b.block
        if kind != "load from":
            return value
        phi = b.phi(value.type)
        phi.add_incoming(value, value_block)
        phi.add_incoming(ir.Constant(value.type, None), skipped_block)
        return phi

    def _extent(self, buffer: Buffer) -> ir.Value | None:
        """The element count of a flattened buffer as i64, or None when not known here."""
        if len(buffer.shape) != 1:
            return None
        if isinstance(buffer.shape[0], IntImm):
            return ir.Constant(I64, buffer.shape[0].value)
        return self.extents.get(buffer)

    def _element_ptr(self, buffer: Buffer, indices, index: ir.Value | None = None) -> ir.Value:
        base = self.buffers.get(buffer)
        if base is None:
            raise CompileError(f"buffer {buffer.name} is accessed outside the Allocate or "
                               "parameter list that defines it")
        if len(indices) != 1:
            raise CompileError(f"buffer {buffer.name} is accessed with {len(indices)} indices; "
                               "the llvm backend needs flattened buffers (mlc.passes.tir.lower)")
        if index is None:
            index = self._index(indices[0])
        return self._reuse(("gep", id(base), _operand_key(index)),
                           lambda: self.builder.gep(base, [index], inbounds=True,
                                                    source_etype=mem_type(buffer.dtype)))


class _Checks:
    """The bounds checks of one kernel: its record pointer and the build's site table."""

    def __init__(self, function: str, sites: SiteTable, record: ir.Value):
        self.function, self.sites, self.record = function, sites, record

    def with_record(self, record: ir.Value) -> _Checks:
        """The same checks in an outlined body, which receives the record as ``record``."""
        return _Checks(self.function, self.sites, record)

    def violation(self, builder: ir.IRBuilder, buffer: Buffer, index: PrimExpr, kind: str,
                  value: ir.Value, extent: ir.Value) -> None:
        site = self.sites.add(Site(self.function, buffer.name, kind, expr_to_str(index)))
        emit_violation(builder, self.record, site, value, extent)


_STMT = {SeqStmt: _FunctionCodegen._seq, Evaluate: _FunctionCodegen._evaluate,
         BufferStore: _FunctionCodegen._store, IfThenElse: _FunctionCodegen._if,
         Allocate: _FunctionCodegen._allocate, For: _FunctionCodegen._for, While: _FunctionCodegen._while,
         DeclBuffer: _FunctionCodegen._decl_buffer, CallPrimFunc: _FunctionCodegen._call_prim_func,
         CallPacked: _FunctionCodegen._call_packed}

_EXPR = {IntImm: _FunctionCodegen._imm, FloatImm: _FunctionCodegen._imm, Var: _FunctionCodegen._var,
         Cast: _FunctionCodegen._cast, Binary: _FunctionCodegen._binary, Not: _FunctionCodegen._not,
         Call: _FunctionCodegen._call, Select: _FunctionCodegen._select,
         BufferLoad: _FunctionCodegen._load, Ramp: VectorCodegen._ramp,
         Broadcast: VectorCodegen._broadcast, CallExtern: _FunctionCodegen._call_extern,
         AddressOf: extern.emit_address_of}


#: Operations :meth:`_FunctionCodegen._index64` computes in i64 (the divisions by a positive constant).
_INDEX_OPS = ("add", "sub", "mul", "floordiv", "floormod")

#: The value of an int32 loop variable (counted in i64) until a use asks for it as int32.
_NARROWED = object()


def _known_condition(v: ir.Value) -> bool | None:
    """The value of a constant ``i1`` (a condition the unrolled loops made constant); None
    for anything else."""
    value = int_constant(v) if v.type == ir.IntType(1) else None
    return None if value is None else bool(value)


def _operand_key(v: ir.Value):
    """``v`` as part of a :meth:`_FunctionCodegen._reuse` key: a constant by its type and
    value (each use builds a new ``ir.Constant``), anything else by identity."""
    c = int_constant(v)
    if c is not None:
        return (v.type.width, c)
    if isinstance(v, ir.Constant):  # a float, vector or undefined constant: by its text
        return str(v)
    return id(v)


def _fold_index(op: str, a: ir.Value, b: ir.Value) -> ir.Value | None:
    """``a op b`` of i64 index values (:meth:`_FunctionCodegen._index64`) without an
    instruction where it is a constant or one of its operands: both constant (an unrolled
    copy's offset ``2 * 8``), ``x + 0``, ``x * 1``, ``x * 0``, ``x // 1``. The arithmetic is
    exact (no intermediate value reaches 2**62), so Python's integers give LLVM's result;
    None where an instruction is needed."""
    x, y = int_constant(a), int_constant(b)
    if x is not None and y is not None:
        value = {"add": x + y, "sub": x - y, "mul": x * y,
                 "floordiv": x // y if y > 0 else None, "floormod": x % y if y > 0 else None}[op]
        return None if value is None else ir.Constant(I64, value)
    if op == "add":
        return b if x == 0 else a if y == 0 else None
    if op == "sub":
        return a if y == 0 else None
    if op == "mul":
        if x == 0 or y == 0:
            return ir.Constant(I64, 0)
        return b if x == 1 else a if y == 1 else None
    if op == "floordiv":
        return a if y == 1 else None
    return ir.Constant(I64, 0) if y == 1 else None  # floormod


#: Register-wide vectors a vectorized loop calling a vector math routine keeps in flight
#: (``llvm.loop.interleave.count``; 1: LLVM's choice, which is one for such long bodies): the
#: loops that reach the codegen as loops, calling a routine without a vector form
#: (:data:`.vecmath.VECTOR_FORMS`: atan, pow, ...) or not made vector statements by the
#: vectorize pass.
MATH_INTERLEAVE = 2


def _keeps_loop(s: For) -> bool:
    """Whether serial loop ``s`` stays a loop in LLVM (``llvm.loop.unroll.disable``): its body
    holds vector statements and it runs :data:`~.loops.MIN_KEPT_TRIPS` or more times (or a
    count known only at run time).

    The schedule that vectorized the body also chose how many vectors it keeps in flight
    (a row reduction's four accumulators, a matmul's register tile); LLVM's unroller would
    copy that body again, 16 times for a softmax row's reduction loop, and then optimise
    and compile every copy for no measurable speed. Short loops are left to LLVM: unrolling
    a convolution's 3 x 3 window loops removes their loop overhead (benchmarks/results/
    decisions.md, "LLVM backend"). The serial loop a parallel loop becomes inside
    its task is not ``s.kind == "serial"`` and stays LLVM's to unroll (a streaming loop
    gains from it).
    """
    if isinstance(s.extent, IntImm) and s.extent.value < MIN_KEPT_TRIPS:
        return False
    return any(isinstance(n, BufferStore) and dt.is_vector(n.value.dtype) for n in pre_order_nodes(s.body))


def _is_index_arith(e: PrimExpr) -> bool:
    """Whether ``e`` is int32 index arithmetic that is exact when computed in i64: any
    int32 values combined by +, -, * and floordiv/floormod by a positive constant, with
    every intermediate value bounded below 2**62 in magnitude."""
    if not (isinstance(e, Binary) and e.op in _INDEX_OPS):
        return False
    bound = _index_bound(e)
    return bound is not None and bound < 1 << 62


def _index_bound(e: PrimExpr) -> int | None:
    """A bound on ``|e|`` for all int32 values of its leaves (None: not int32 index arithmetic)."""
    if e.dtype != "int32":
        return None
    if isinstance(e, IntImm):
        return abs(e.value)
    if not (isinstance(e, Binary) and e.op in _INDEX_OPS):
        return 1 << 31  # a leaf: any int32 value
    if e.op in ("floordiv", "floormod"):
        if not (isinstance(e.b, IntImm) and e.b.value > 0):
            return None
        a = _index_bound(e.a)
        return None if a is None else a if e.op == "floordiv" else e.b.value
    a, b = _index_bound(e.a), _index_bound(e.b)
    if a is None or b is None:
        return None
    return a * b if e.op == "mul" else a + b


def _local_scalar(e: BufferLoad) -> bool:
    """Whether ``e`` reads a constant element of a local buffer of a static shape (a scalar a
    pass computed before its statement): a load that cannot fault, which a select may
    compute on both sides."""
    if e.buffer.scope != "local" or not all(isinstance(n, IntImm) for n in e.buffer.shape):
        return False
    shape = e.buffer.static_shape()
    return (len(shape) == len(e.indices)
            and all(isinstance(i, IntImm) and 0 <= i.value < n for i, n in zip(e.indices, shape)))


def _is_reduction_update(s: BufferStore) -> bool:
    """``X[i] = X[i] + v`` or ``X[i] = v * X[i]`` (float add/mul reading the stored element)."""
    v = s.value
    if not (isinstance(v, Binary) and v.op in ("add", "mul") and dt.element(v.dtype) in ("float32", "float64")):
        return False
    return any(isinstance(x, BufferLoad) and x.buffer is s.buffer and len(x.indices) == len(s.indices)
               and all(same_expr(p, q) for p, q in zip(x.indices, s.indices)) for x in (v.a, v.b))


def _scalar_of(e: PrimExpr) -> PrimExpr:
    """The value ``e`` broadcasts (``e`` itself when it is no Broadcast): an operation on
    vectors computes its broadcast operands as scalars and splats them last."""
    return e.value if isinstance(e, Broadcast) else e


def _is_float_mul(e: PrimExpr) -> bool:
    return isinstance(e, Binary) and e.op == "mul" and dt.element(e.dtype) in ("float32", "float64")


def _static_nbytes(buffer: Buffer) -> int:
    n = itemsize(buffer.dtype)
    for e in buffer.shape:
        if not isinstance(e, IntImm):
            return 0
        n *= e.value
    return n
