"""Vectorized loops of constant extent, emitted as LLVM vector code.

A loop ``for v in T.vectorized(N)`` whose body is stores of plain arithmetic
becomes straight-line code over ``<N x T>`` values, as TVM emits it: an
access whose index moves one element per lane is one vector load or store,
a value that does not depend on ``v`` is computed once and broadcast, and any
other access is a gather or scatter of N scalars. LLVM's loop vectorizer has
nothing left to do there, so the IR is smaller, compiles faster, and carries
no scalar remainder loop or run-time alias checks.

Every other vectorized loop (math calls, casts, nested loops, conditions,
float16 or bool memory, a non-constant extent) keeps the loop metadata of
:mod:`.loops` and is vectorized by LLVM.

A vectorized loop guarded by a predicate (``T.where`` of a split that does not
divide the extent: ``if i0 * 16 + v < 4094``) would make every vector a masked
one. When the predicate is a conjunction of comparisons of expressions affine
in the lane variable, it holds for every lane exactly when it holds for the
first and the last lane (:func:`full_vector_guard`); the codegen then runs the
loop without the predicate when that is so (every vector but the last one) and
keeps the guarded loop for the rest.

The lanes run in lockstep, statement by statement, which is the loop's
meaning only when no lane sees another lane's writes. :func:`plan` proves
that before anything is emitted (:func:`mlc.ir.analysis.lanes_independent`):
each buffer the body writes is accessed (read or written) at one index
expression only, and that index moves by a nonzero constant per lane, so
different lanes touch different elements.

Example: the register-tile update of the default matmul schedule::

    for j in T.vectorized(16):
        C_local[i * 16 + j] = C_local[i * 16 + j] + A[k] * B[k * 16 + j]

becomes one ``<16 x float>`` load of ``C_local`` and of ``B``, a broadcast of
``A[k]``, one ``fmul``/``fadd`` pair LLVM contracts into an FMA, and one
vector store.
"""
from __future__ import annotations

from llvmlite import ir

from ...ir import dtype as dt
from ...ir.analysis import lane_stride, lanes_independent
from ...ir.expr import COMPARE_OPS, LOGIC_OPS, Binary, BufferLoad, IntImm, PrimExpr, Select, Var
from ...ir.functor import pre_order_nodes, substitute
from ...ir.tir import BufferStore, For, IfThenElse, SeqStmt
from . import arith
from .types import I32, I64, compute_dtype, itemsize, mem_type

__all__ = ["MAX_LANES", "plan", "emit", "full_vector_guard"]

#: Vectorized loops with a constant extent from 2 up to this many lanes are emitted as vector code.
MAX_LANES = 64

_MEMORY_DTYPES = frozenset({"float32", "float64", "int32", "int64"})
_FLOAT_OPS = frozenset({"add", "sub", "mul", "div", "min", "max"})
_INT_OPS = frozenset({"add", "sub", "mul", "min", "max", "bitand", "bitor", "bitxor"})


def plan(gen, s: For) -> list[BufferStore] | None:
    """The stores of ``s``'s body when it can be emitted as vector code, else None.

    ``gen`` is the function codegen: its function's aliasing attribute, and which
    expressions load (a select that loads keeps the codegen's branches).
    """
    if not (isinstance(s.extent, IntImm) and 2 <= s.extent.value <= MAX_LANES
            and s.loop_var.dtype == "int32" and bool(gen.func.attr("tir.noalias", True))):
        return None
    stores = _flatten(s.body)
    if stores is None:
        return None
    var = s.loop_var
    depends = _Dependence(var)
    for st in stores:
        if (st.buffer.dtype not in _MEMORY_DTYPES or len(st.indices) != 1 or st.value.dtype != st.buffer.dtype
                or not _supported(st.value, var, depends, gen)):
            return None
    return stores if lanes_independent(stores, var) else None


def emit(gen, s: For, stores: list[BufferStore]) -> None:
    """Emit ``s`` (accepted by :func:`plan`) as vector code at ``gen``'s builder."""
    _Emitter(gen, s).run(stores)


def full_vector_guard(s: For) -> tuple[PrimExpr, For] | None:
    """For a vectorized loop whose body is ``if cond: body`` (no else) with ``cond``
    monotone in the lane variable: (``cond`` at the first lane and at the last lane,
    the loop with ``body`` alone), else None.

    ``cond`` is a conjunction of integer comparisons ``a < b`` (``<=``, ``>``, ``>=``)
    whose sides move by a constant per lane (:func:`lane_stride`), and of lane-invariant
    terms. ``a - b`` is then affine in the lane, and an affine function is below (or
    above) a bound on a range of lanes exactly when it is at both ends of the range:
    where the returned guard holds, ``body`` runs for every lane, and the loop without
    the predicate does what the loop with it does.
    """
    body = s.body
    if not (s.kind == "vectorized" and isinstance(body, IfThenElse) and body.else_case is None
            and _monotone_in(body.condition, s.loop_var)):
        return None
    index = s.loop_var.dtype
    one = IntImm(1, index)
    last = Binary("sub", Binary("add", s.min, s.extent, index), one, index)
    first_ok = substitute(body.condition, {s.loop_var: s.min})
    last_ok = substitute(body.condition, {s.loop_var: last})
    unguarded = For(s.loop_var, s.min, s.extent, s.kind, body.then_case, s.thread_binding, s.annotations)
    return Binary("and", first_ok, last_ok, "bool"), unguarded


def _monotone_in(cond: PrimExpr, var: Var) -> bool:
    """Whether bool ``cond`` holds on a range of ``var`` when it holds at both ends."""
    if not any(n is var for n in pre_order_nodes(cond)):
        return True
    if isinstance(cond, Binary) and cond.op == "and":
        return _monotone_in(cond.a, var) and _monotone_in(cond.b, var)
    if isinstance(cond, Binary) and cond.op in ("lt", "le", "gt", "ge"):
        return (dt.is_int(cond.a.dtype) and lane_stride(cond.a, var) is not None
                and lane_stride(cond.b, var) is not None)
    return False


# ------------------------------------------------------------------ analysis

def _flatten(stmt) -> list[BufferStore] | None:
    if isinstance(stmt, BufferStore):
        return [stmt]
    if isinstance(stmt, SeqStmt):
        out = []
        for child in stmt.seq:
            part = _flatten(child)
            if part is None:
                return None
            out.extend(part)
        return out
    return None


class _Dependence:
    """Whether an expression depends on the lane variable (memoised by node identity)."""

    def __init__(self, var: Var):
        self.var, self.memo = var, {}

    def __call__(self, e: PrimExpr) -> bool:
        key = id(e)
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = any(n is self.var for n in pre_order_nodes(e))
        return hit


def _supported(e: PrimExpr, var: Var, depends: _Dependence, gen) -> bool:
    """Whether the lane-dependent parts of value ``e`` have a vector form here."""
    if not depends(e):
        return True  # computed once, as a scalar, by the ordinary codegen
    if isinstance(e, Var):
        return True  # the lane variable itself
    if isinstance(e, BufferLoad):
        return e.buffer.dtype in _MEMORY_DTYPES and len(e.indices) == 1
    if isinstance(e, Binary):
        operand = e.a.dtype
        if e.op in COMPARE_OPS:
            ok = operand in _MEMORY_DTYPES
        elif e.op in LOGIC_OPS:
            ok = operand == "bool"
        elif operand in ("float32", "float64"):
            ok = e.op in _FLOAT_OPS
        else:
            ok = operand in ("int32", "int64") and e.op in _INT_OPS
        return ok and _supported(e.a, var, depends, gen) and _supported(e.b, var, depends, gen)
    if isinstance(e, Select):
        # A select loads both sides here; the ordinary codegen branches around a load instead.
        return (e.dtype in _MEMORY_DTYPES and not gen._loads(e.true_value) and not gen._loads(e.false_value)
                and all(_supported(x, var, depends, gen) for x in (e.cond, e.true_value, e.false_value)))
    return False


# ------------------------------------------------------------------ emission

class _Emitter:
    """Vector code for one loop: lane-dependent values are ``<N x T>``, the rest scalars."""

    def __init__(self, gen, s: For):
        self.gen, self.b = gen, gen.builder
        self.var, self.lanes = s.loop_var, s.extent.value
        self.depends = _Dependence(self.var)
        self.begin = gen._loop_range(s)[0]
        self.begin64 = self.b.sext(self.begin, I64)

    def run(self, stores: list[BufferStore]) -> None:
        from .codegen import REDUCTION_FLAGS, _is_reduction_update
        gen = self.gen
        gen.loop_depth += 1
        try:
            for st in stores:
                self._bind(0)
                if _is_reduction_update(st):
                    value = self._binary(st.value, REDUCTION_FLAGS)
                else:
                    value = self.value(st.value)
                self._store(st, value)
        finally:
            gen.loop_depth -= 1
            gen.vars.pop(self.var, None)
            gen.wide.pop(self.var, None)

    def _bind(self, lane: int) -> None:
        """Bind the lane variable to lane ``lane``'s value (for scalar code of that lane)."""
        b, gen = self.b, self.gen
        if lane == 0:
            gen.vars[self.var], gen.wide[self.var] = self.begin, self.begin64
        else:
            gen.vars[self.var] = b.add(self.begin, ir.Constant(I32, lane), flags=("nsw",))
            gen.wide[self.var] = b.add(self.begin64, ir.Constant(I64, lane), flags=("nsw",))

    # ---------------------------------------------------------- values
    def value(self, e: PrimExpr) -> ir.Value:
        """``e`` as a vector when it depends on the lane, else as a scalar."""
        if not self.depends(e):
            return self.gen.expr(e)
        if isinstance(e, Var):
            iota = ir.Constant(ir.VectorType(I32, self.lanes), list(range(self.lanes)))
            return self.b.add(self.splat(self.begin), iota, flags=("nsw",))
        if isinstance(e, BufferLoad):
            return self._load(e)
        if isinstance(e, Binary):
            return self._binary(e)
        cond, t, f = (self.value(x) for x in (e.cond, e.true_value, e.false_value))
        return self.b.select(cond, self.splat(t), self.splat(f))

    def splat(self, v: ir.Value) -> ir.Value:
        """``v`` broadcast to every lane (vectors are returned as they are)."""
        if isinstance(v.type, ir.VectorType):
            return v
        vec = ir.VectorType(v.type, self.lanes)
        one = self.b.insert_element(ir.Constant(vec, ir.Undefined), v, ir.Constant(I32, 0))
        zeros = ir.Constant(ir.VectorType(I32, self.lanes), [0] * self.lanes)
        return self.b.shuffle_vector(one, ir.Constant(vec, ir.Undefined), zeros)

    def _binary(self, e: Binary, flags: tuple[str, ...] = ()) -> ir.Value:
        from .codegen import _is_float_mul
        if flags and e.op == "add":  # as the scalar codegen: the summed product may become an FMA
            a, b = (self._binary(x, ("contract",)) if _is_float_mul(x) and self.depends(x) else self.value(x)
                    for x in (e.a, e.b))
        else:
            a, b = self.value(e.a), self.value(e.b)
        a, b = self.splat(a), self.splat(b)
        dtype = compute_dtype(e.a.dtype)
        if e.op in COMPARE_OPS:
            return arith.compare(self.b, e.op, a, b, dtype)
        if e.op in LOGIC_OPS:
            return arith.logical(self.b, e.op, a, b)
        use_flags = flags if e.op in ("add", "mul") and dtype in ("float32", "float64") else ()
        return arith.binary(self.b, e.op, a, b, dtype, use_flags)

    # ---------------------------------------------------------- memory
    def _vector_ptr(self, buffer, indices) -> ir.Value:
        ptr = self.gen._element_ptr(buffer, indices)  # lane 0's element
        vec = ir.VectorType(mem_type(buffer.dtype), self.lanes)
        return ptr if not ptr.type.is_pointer or ptr.type.is_opaque else self.b.bitcast(ptr, vec.as_pointer())

    def _lane_ptrs(self, buffer, indices) -> list[ir.Value]:
        """The element pointer of each lane: lane 0's plus a constant step when the index
        moves by one, else the index evaluated for each lane."""
        stride = lane_stride(indices[0], self.var)
        if stride is not None:
            base, ty = self.gen._element_ptr(buffer, indices), mem_type(buffer.dtype)
            return [base] + [self.b.gep(base, [ir.Constant(I64, lane * stride)], inbounds=True, source_etype=ty)
                             for lane in range(1, self.lanes)]
        ptrs = []
        for lane in range(self.lanes):
            self._bind(lane)
            ptrs.append(self.gen._element_ptr(buffer, indices))
        self._bind(0)
        return ptrs

    def _load(self, e: BufferLoad) -> ir.Value:
        b, dtype = self.b, e.buffer.dtype
        vec = ir.VectorType(mem_type(dtype), self.lanes)
        if lane_stride(e.indices[0], self.var) == 1:
            return b.load(self._vector_ptr(e.buffer, e.indices), typ=vec, align=itemsize(dtype))
        out = ir.Constant(vec, ir.Undefined)  # a gather
        for lane, ptr in enumerate(self._lane_ptrs(e.buffer, e.indices)):
            element = b.load(ptr, typ=mem_type(dtype), align=itemsize(dtype))
            out = b.insert_element(out, element, ir.Constant(I32, lane))
        return out

    def _store(self, st: BufferStore, value: ir.Value) -> None:
        b, align = self.b, itemsize(st.buffer.dtype)
        value = self.splat(value)
        if lane_stride(st.indices[0], self.var) == 1:
            b.store(value, self._vector_ptr(st.buffer, st.indices), align=align)
            return
        for lane, ptr in enumerate(self._lane_ptrs(st.buffer, st.indices)):  # a scatter, lanes in order
            b.store(b.extract_element(value, ir.Constant(I32, lane)), ptr, align=align)
