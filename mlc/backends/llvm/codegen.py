"""Lowered PrimFunc -> one LLVM function ``void @name(ptr noalias %A, ...)``: a renderer.

The input has been through the llvm TIR pipeline (:data:`.generate.LLVM_TIR_PASSES`): only
For, IfThenElse, SeqStmt, Allocate, BufferStore and Evaluate remain, every buffer is
one-dimensional, unrolled loops are written out, constants folded and horizontal folds are
``horizontal_<op>`` calls (:mod:`mlc.passes.tir`); a graph's ``main`` has Allocates and the
calls of :mod:`mlc.ir.calls` (:mod:`.graph_calls`). Parameters are the arrays' data
pointers, in order; element offsets are computed in i64 (:mod:`.addressing`).

Loops: ``parallel`` ones are outlined into a body function run on the thread pool
(:mod:`.outline`, :mod:`.parallel`); the others are LLVM loops whose metadata carries their
kind (:func:`.loops.for_metadata`). Vector IR (``T.Ramp``, ``T.Broadcast``, ``float32x16``
values) is rendered as LLVM vectors (:mod:`.vectorize`), a ``horizontal_<op>`` call as a tree
of shufflevector halves. A value a statement computes twice is a ``Let`` by now
(:mod:`~mlc.passes.tir.cse`: Black-Scholes' ``d1`` in both ``erf`` terms), and one a run of
stores computes twice a ``LetStmt`` before the run (:mod:`~mlc.passes.tir.block_values`: an
unrolled register tile's ``i * 784`` and row addresses, in every copy): each is rendered once,
and everything else as it comes (LLVM folds what repeats, at a price in build time).

Expressions map one to one onto :mod:`.arith`, :mod:`.complex` (complex values) and
:mod:`.intrinsics`; three things need care here:

* float16 values are widened to float32 for every operation and rounded
  back to half afterwards (NumPy's float16 arithmetic);
* a ``Select`` whose branches load memory becomes branches and a phi, so the
  untaken load never executes (it may be out of bounds: :mod:`.selects`), and so does one
  whose side calls a library function (only where a lane needs it);
* the float add/mul of a reduction update ``X[i] = X[i] + ...`` inside a loop
  carries ``reassoc contract``, so LLVM may vectorise the reduction, and a
  product it sums carries ``contract``, so the two may become one FMA (as in
  BLAS dot products). No other fast-math flag is ever used.
"""
from __future__ import annotations

from typing import Protocol

from llvmlite import ir

from ...errors import CompileError
from ...ir import dtype as dt
from ...ir.buffer import Buffer
from ...ir.expr import (Binary, Broadcast, BufferLoad, Call, Cast, FloatImm, IntImm, Let, Not, PrimExpr, Ramp,
                        Select, Var)
from ...ir.expr import ARITH_OPS, BITWISE_OPS, COMPARE_OPS, LOGIC_OPS, REINTERPRET, VECTOR_WINDOW
from ...ir.analysis import stmt_children
from ...ir.arith import same_expr
from ...ir.functor import binary_chain
from ...ir.calls import CallPacked, CallPrimFunc, DeclBuffer, aliased_params
from ...ir.tir import (Allocate, BufferStore, Evaluate, For, IfThenElse, LetStmt, PrimFunc, SeqStmt, Stmt, While)
from ...ir.extern import AddressOf, CallExtern
from ...passes.tir.horizontal import HORIZONTAL_OPS
from ...passes.tir.vectorize import ELEMENTWISE_CALLS
from ...ir.shape_vars import size_params
from . import arith, complex as _complex_values, extern, streaming  # noqa: F401 (.complex registers)
from .arith import REDUCTION_FLAGS
from .addressing import AddressCodegen, Checks, is_index_arith, sext64
from .graph_calls import CALLBACK_TABLE_SYMBOL, CallCodegen, FunctionCalls
from .bounds import SiteTable
from .intrinsics import emit_math  # registers the llvm math lowerings (mlc.backends.intrinsics)
from .loops import NARROWED, LoopCodegen
from .memory import BufferAllocator
from .outline import ParallelCodegen, pointer_attributes
from .selects import LIBRARY_CALLS, SelectCodegen, call_out_of_line
from .types import PTR, alignment, compute_dtype, constant, itemsize, mem_type, reg_type
from .vectorize import VectorCodegen, scalar_of, splat, vector_type

__all__ = ["emit_function", "launch_only", "REDUCTION_FLAGS", "FunctionCalls", "PlaceBody", "CALLBACK_TABLE_SYMBOL"]

class PlaceBody(Protocol):
    """Where the functions of a parallel loop go in a build of several LLVM modules
    (:func:`emit_function`)."""

    def body(self, owner: str, home: ir.Module) -> tuple[ir.Module, str]:
        """(the LLVM module, the name) of the body function of a parallel loop of the
        function ``owner``, which is in the LLVM module ``home``."""

    def task(self, body: ir.Module) -> ir.Module:
        """The LLVM module of the task of a body in the LLVM module ``body``."""



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
    :mod:`mlc.passes.tir.math.fast` (documented error bounds).
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
    aliased = aliased_params(func)
    gen = _FunctionCodegen(module, func, fn)
    gen.fast_math = fast_math
    gen.calls = calls
    gen.allocator.placed = calls is not None  # a graph's main places its intermediates (.memory)
    gen.place_body = place_body
    gen.vector_bytes = vector_bytes
    uses = streaming.buffer_uses(func)
    if calls is None:
        gen.streaming = streaming.streaming_buffers(func, streaming_bytes, uses)
    for arg, param in zip(fn.args, func.params):
        arg.name = param.name
        distinct = not func.may_overlap(param) and id(param) not in aliased
        pointer_attributes(arg, param.dtype, distinct, _static_nbytes(param))
        gen.buffers[param] = arg
    for arg, var in zip(fn.args[len(func.params):], sizes):  # symbolic extents, by value
        arg.name = var.name
        gen.vars[var] = arg
    if sites is not None:
        fn.args[-1].name = "bounds_record"
        gen.checks = Checks(name or symbol, sites, fn.args[-1])
        for param in func.params:  # a symbolic element count, from the sizes passed in
            if len(param.shape) == 1 and not isinstance(param.shape[0], IntImm):
                gen.extents[param] = gen._index(param.shape[0])
    gen.stream_loaded = tuple(p for p in streaming.loaded_params(func, uses) if p not in gen.streaming)
    gen.stmt(func.body)
    gen.finish()
    if calls is not None or (gen.launches == 1 and launch_only(func.body)):
        # a graph's main (allocations, views and calls, :mod:`mlc.ir.calls`), or nothing but
        # the launch of its one parallel loop (stores of the closure, calls into the pool,
        # :mod:`.parallel`): glue that runs once per call, left unoptimised
        fn.attributes.add("noinline")
        fn.attributes.add("optnone")
    return fn


def _loops_below(loop: For) -> list[For]:
    """The loops in ``loop``'s body not inside another loop of it."""
    out, stack = [], [loop.body]
    while stack:
        node = stack.pop()
        if isinstance(node, For):
            out.append(node)
        else:
            stack.extend(stmt_children(node))
    return out


def launch_only(body: Stmt) -> bool:
    """Whether ``body`` is one parallel loop and nothing else: its function, once the loop's
    body is outlined (where the parallel runtime is there), is launch code only, left
    unoptimised (``optnone``)."""
    while isinstance(body, SeqStmt) and len(body.seq) == 1:
        body = body.seq[0]
    return isinstance(body, For) and body.kind == "parallel"


class _FunctionCodegen(AddressCodegen, CallCodegen, LoopCodegen, ParallelCodegen, SelectCodegen, VectorCodegen):
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
        self._has_load: dict[int, tuple[PrimExpr, bool]] = {}  # id -> (the node, kept alive; answer)
        self._ready: dict[int, ir.Value] = {}  # id of a Binary -> its value (see _chain)
        self.checks: Checks | None = None  # run-time bounds checks (see .bounds)
        self.extents: dict[Buffer, ir.Value] = {}  # element counts of dynamic Allocates
        self.fast_math = False  # the cheaper routines (see emit_function)
        self.calls: FunctionCalls | None = None  # what CallPrimFunc/CallPacked reach
        self.streaming: frozenset[Buffer] = frozenset()  # outputs stored non-temporally (.streaming)
        self.made_nontemporal = False  # a non-temporal store was emitted: finish with sfence
        self.streamed: bool | None = None  # in a loop's streamed (True) or cached (False) version
        self.stream_loaded: tuple[Buffer, ...] = ()  # the parameters a streamed output keeps clear of
        self.place_body: PlaceBody | None = None  # where parallel loop bodies go (emit_function)
        self.launches = 0  # parallel loops launched on the pool from this function
        self.vector_bytes = 0  # the target's vector register size (see emit_function)

    def finish(self) -> None:
        """Return at the end of the code and jump from the entry block to it."""
        if self.made_nontemporal:
            streaming.emit_sfence(self.module, self.builder)
        self.builder.ret_void()
        ir.IRBuilder(self.entry).branch(self.fn.blocks[1])

    def _for_streamed_or_cached(self, s: For) -> None:
        """Loop ``s``; where it is the innermost loop around every non-temporal store and
        write hint of a streaming output in it (:func:`.streaming.stream_sites`), twice: with
        those outputs stored non-temporally and not asked into the cache, where each starts
        clear of the page offsets of the parameters the function loads
        (:func:`.streaming.emit_apart`: a load at a streamed store's page offset waits for it
        to reach memory), else cached with their hints. One test per entry to the loop, and
        each version's loop has one kind of store; the code around it (a row's statistics)
        is not repeated, so both versions compute the same values."""
        sites = streaming.stream_sites(s, self.streaming) if self.streaming and self.streamed is None else ()
        if not sites or any(streaming.stream_sites(inner, self.streaming) == sites for inner in _loops_below(s)):
            self._for(s)
            return
        b, ready = self.builder, self._ready
        apart = ir.Constant(ir.IntType(1), 1)
        for out in sorted(self.streaming, key=self.func.params.index):
            if out in self.buffers:
                apart = b.and_(apart, streaming.emit_apart(b, self.buffers[out], [
                    self.buffers[p] for p in self.stream_loaded if p in self.buffers]))
        with b.if_else(apart) as (clear, near):
            for streamed, version in ((True, clear), (False, near)):
                with version:
                    self.streamed, self._ready = streamed, dict(ready)
                    self._for(s)
        self.streamed, self._ready = None, ready

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
        """The value ``s`` stores; in a loop, a reduction update carries REDUCTION_FLAGS."""
        value, bound = s.value, []
        try:
            while type(value) is Let:  # (the values a reduction update reads, bound first)
                self.vars[value.var] = self.expr(value.value)
                bound.append(value.var)
                value = value.body
            if in_loop and _is_reduction_update(s, value):
                return self._binary(value, flags=REDUCTION_FLAGS)
            return self.expr(value)
        finally:
            for var in bound:
                del self.vars[var]

    def _let_stmt(self, s: LetStmt) -> None:
        """Each value of a chain of LetStmts once (on a loop: a chain is as long as a run of
        stores shares values), then the body. An int32 index computation is computed in i64,
        as in an index (:meth:`_index64`: the body's addresses use it as they come); another
        signed integer is sign-extended once for the indices that use it."""
        bound = []
        try:
            while type(s) is LetStmt:
                var = s.var
                bound.append(var)
                if is_index_arith(s.value):
                    self.wide[var], self.vars[var] = self._index64(s.value), NARROWED
                else:
                    value = self.vars[var] = self.expr(s.value)
                    if var.dtype in _NARROW_SIGNED:
                        self.wide[var] = sext64(self.builder, value)
                s = s.body
            self.stmt(s)
        finally:
            for var in bound:
                self.vars.pop(var, None)
                self.wide.pop(var, None)

    def _if(self, s: IfThenElse) -> None:
        cond = self.expr(s.condition)
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
        if v is NARROWED:  # an int32 value computed in i64 (a loop variable: .loops.LoopCodegen)
            return self.builder.trunc(self.wide[e], reg_type("int32"), name=f"{e.name}.i32")
        return v

    def _let(self, e: Let) -> ir.Value:
        """The value once, then the body, which reads it wherever it names the variable."""
        self.vars[e.var] = self.expr(e.value)
        try:
            return self.expr(e.body)
        finally:
            del self.vars[e.var]

    def _cast(self, e: Cast) -> ir.Value:
        if dt.is_vector(e.dtype):
            src, dst = dt.element(e.value.dtype), dt.element(e.dtype)
            if arith.whole_vector_cast(src, dst):
                return arith.cast(self.builder, self.expr(e.value), src, dst, vector_type(e.dtype))
            return self._lane_by_lane(e)
        return arith.cast(self.builder, self.expr(e.value), e.value.dtype, e.dtype)

    def _binary(self, e: Binary, flags: tuple[str, ...] = ()) -> ir.Value:
        op, dtype = e.op, dt.element(e.a.dtype)
        if op in LOGIC_OPS:
            return arith.logical(self.builder, op, self.expr(e.a), self.expr(e.b))
        if flags and op == "add":  # a product summed by the reduction may fuse into an FMA
            a, b = (self._binary(x, ("contract",)) if _is_float_mul(x) else self._compute(scalar_of(x))
                    for x in (e.a, e.b))
        else:
            a, b = self._compute(scalar_of(e.a)), self._compute(scalar_of(e.b))
        if dt.is_vector(e.a.dtype):  # broadcasts are splat once both operands are computed
            a, b = self._splat(a, dt.lanes(e.a.dtype)), self._splat(b, dt.lanes(e.a.dtype))
        if op not in ARITH_OPS and op not in BITWISE_OPS and op not in COMPARE_OPS:
            raise CompileError(f"unknown binary op {op!r}")
        use_flags = flags if op in ("add", "mul") and dtype in ("float32", "float64") else ()
        return self._binary_value(op, a, b, dtype, e.dtype, use_flags)

    def _binary_value(self, op: str, a: ir.Value, b: ir.Value, dtype: str, out: str,
                      flags: tuple[str, ...]) -> ir.Value:
        """``a op b`` of operands of the element type ``dtype``, as ``out``."""
        cdtype = compute_dtype(dtype)
        if op in COMPARE_OPS:
            return arith.compare(self.builder, op, a, b, cdtype)
        return self._to_dtype(arith.binary(self.builder, op, a, b, cdtype, flags), out)

    def _splat(self, v: ir.Value, lanes: int) -> ir.Value:
        return splat(self.builder, v, lanes)

    def _not(self, e: Not) -> ir.Value:
        return self.builder.not_(self.expr(e.a))

    def _call(self, e: Call) -> ir.Value:
        if e.op in HORIZONTAL_OPS:
            return self._horizontal(e)
        if e.op == VECTOR_WINDOW:
            return self._window(e)
        if dt.is_vector(e.dtype):
            element = dt.element(e.dtype)
            if e.op == REINTERPRET:
                return self.builder.bitcast(self.expr(e.args[0]), vector_type(e.dtype))
            if e.op in ELEMENTWISE_CALLS and dt.element(e.args[0].dtype) in ("float32", "float64"):
                args = [self._splat(self.expr(a), dt.lanes(e.dtype)) for a in e.args]
                return emit_math(self.builder, e.op, args, dt.element(e.args[0].dtype), self.fast_math)
            if e.op in LIBRARY_CALLS:  # (the rare side of a select, out of line: .selects)
                x = self._splat(self._compute(e.args[0]), dt.lanes(e.dtype))
                return self._to_dtype(call_out_of_line(self.builder, e.op, x, compute_dtype(element)), e.dtype)
            return self._lane_by_lane(e)
        if e.op == REINTERPRET:
            return self.builder.bitcast(self.expr(e.args[0]), reg_type(e.dtype))
        args = [self._compute(a) for a in e.args]
        cdtype = compute_dtype(e.args[0].dtype)
        if e.op in LIBRARY_CALLS:
            return self._to_dtype(call_out_of_line(self.builder, e.op, args[0], cdtype), e.dtype)
        out = emit_math(self.builder, e.op, args, cdtype, self.fast_math)
        return out if e.dtype == "bool" else self._to_dtype(out, e.dtype)

    def _call_extern(self, e: CallExtern) -> ir.Value:
        """An external kernel's call."""
        return extern.emit_call_extern(self, e)

    def _load(self, e: BufferLoad) -> ir.Value:
        if dt.is_vector(e.dtype):
            return self._vector_load(e)
        v = self._access(e.buffer, e.indices, "load from", lambda ptr: self.builder.load(
            ptr, typ=mem_type(e.buffer.dtype), align=alignment(e.buffer.dtype)))
        if e.buffer.dtype == "bool":  # any nonzero byte is True
            v = self.builder.icmp_unsigned("!=", v, ir.Constant(v.type, 0))
        return v


#: The dtypes of a bound value sign-extended to i64 once for the indices that use it.
_NARROW_SIGNED = frozenset({"int8", "int16", "int32"})


_STMT = {SeqStmt: _FunctionCodegen._seq, Evaluate: _FunctionCodegen._evaluate,
         BufferStore: _FunctionCodegen._store, IfThenElse: _FunctionCodegen._if, LetStmt: _FunctionCodegen._let_stmt,
         Allocate: _FunctionCodegen._allocate, For: _FunctionCodegen._for_streamed_or_cached, While: _FunctionCodegen._while,
         DeclBuffer: _FunctionCodegen._decl_buffer, CallPrimFunc: _FunctionCodegen._call_prim_func,
         CallPacked: _FunctionCodegen._call_packed}

_EXPR = {IntImm: _FunctionCodegen._imm, FloatImm: _FunctionCodegen._imm, Var: _FunctionCodegen._var,
         Cast: _FunctionCodegen._cast, Binary: _FunctionCodegen._binary, Not: _FunctionCodegen._not,
         Call: _FunctionCodegen._call, Select: SelectCodegen._select, Let: _FunctionCodegen._let,
         BufferLoad: _FunctionCodegen._load, Ramp: VectorCodegen._ramp,
         Broadcast: VectorCodegen._broadcast, CallExtern: _FunctionCodegen._call_extern,
         AddressOf: extern.emit_address_of}


def _is_reduction_update(s: BufferStore, v: PrimExpr) -> bool:
    """``X[i] = X[i] + v`` or ``X[i] = v * X[i]`` (float add/mul reading the stored element),
    ``v`` the stored value under its Lets."""
    if not (isinstance(v, Binary) and v.op in ("add", "mul") and dt.element(v.dtype) in ("float32", "float64")):
        return False
    return any(isinstance(x, BufferLoad) and x.buffer is s.buffer and len(x.indices) == len(s.indices)
               and all(same_expr(p, q) for p, q in zip(x.indices, s.indices)) for x in (v.a, v.b))


def _is_float_mul(e: PrimExpr) -> bool:
    return isinstance(e, Binary) and e.op == "mul" and dt.element(e.dtype) in ("float32", "float64")


def _static_nbytes(buffer: Buffer) -> int:
    n = itemsize(buffer.dtype)
    for e in buffer.shape:
        if not isinstance(e, IntImm):
            return 0
        n *= e.value
    return n
