"""Selects in the llvm codegen (mixed into it as :class:`SelectCodegen`): a ``Select``
whose branches load memory becomes branches and a phi, so that the load of the side not
taken never runs (it may be out of bounds); one whose branches load nothing (or only a
local scalar a pass computed before the statement) is LLVM's ``select``, emitted once
per block. One whose side calls a library function (:data:`LIBRARY_CALLS`: libm's sin, cos
and tan of double, which the trig routines of :mod:`mlc.passes.tir.math.trig` call on
their rare large lanes) computes that side only where a lane needs it, behind a branch
weighted as rarely taken::

    %any = icmp ne i8 (bitcast <8 x i1> %large), 0
    br i1 %any, label %rare, label %join      ; !prof: unlikely

A scalar one (a serial loop's) calls the scalar function on its branch, a call that names
masked vector forms of it (:func:`call_out_of_line`), so that LLVM's loop vectorizer, which
may widen the loop, makes of the branch a vector form of the call, with the branch's lanes
as its mask, inlined after O3: a branch on "any lane set" to a call computing them.
"""
from __future__ import annotations

from llvmlite import ir

from ...ir import dtype as dt
from ...ir.analysis.census import contains, labels
from ...ir.expr import BufferLoad, Call, IntImm, PrimExpr, Select
from ...ir.functor import pre_order_nodes
from .intrinsics import emit_math
from .types import PTR, reg_type
from .vectorize import scalar_of

__all__ = ["SelectCodegen", "LIBRARY_CALLS", "call_out_of_line"]

#: Call ops whose lowering is a library function, lane by lane on a vector (see the docstring).
LIBRARY_CALLS = frozenset({"sin", "cos", "tan"})
#: The lanes of the masked vector forms a scalar out-of-line call names (LLVM's loop
#: vectorizer widens the call only to a width it has a form of: 2 to 16 doubles cover
#: SSE to AVX-512, a float32 loop's 16 lanes included).
MASKED_FORM_LANES = (2, 4, 8, 16)


class SelectCodegen:
    """The select part of the function codegen (mixed into it): ``builder``, ``expr``,
    ``_splat``, ``_lane_by_lane`` and ``_has_load``."""

    def _select(self, e: Select) -> ir.Value:
        cond = None
        if not dt.is_vector(scalar_of(e.cond).dtype):  # one condition for all lanes
            cond = self.expr(scalar_of(e.cond))
        loads = self._loads(e.true_value) or self._loads(e.false_value)
        if loads and dt.is_vector(e.dtype):  # each lane branches on its own condition
            return self._lane_by_lane(e)
        if cond is None:
            cond = self.expr(scalar_of(e.cond))
        if not loads and (self._calls_library(e.true_value) or self._calls_library(e.false_value)):
            return self._rare_side(e, cond)
        if not loads:
            t, f = self.expr(scalar_of(e.true_value)), self.expr(scalar_of(e.false_value))
            if dt.is_vector(e.dtype):
                t, f = self._splat(t, dt.lanes(e.dtype)), self._splat(f, dt.lanes(e.dtype))
            return self.builder.select(cond, t, f)
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

    def _rare_side(self, e: Select, cond: ir.Value) -> ir.Value:
        """``e``, the side calling a library function computed (with the select) only where
        ``cond`` picks it for some lane, on a branch weighted as rarely taken."""
        b = self.builder
        rare_true = self._calls_library(e.true_value)
        common = self.expr(scalar_of(e.false_value if rare_true else e.true_value))
        lanes = dt.lanes(e.dtype) if dt.is_vector(e.dtype) else 0
        if lanes:
            common = self._splat(common, lanes)
        need = cond if rare_true else b.not_(cond)
        if isinstance(need.type, ir.VectorType):
            need = b.icmp_unsigned("!=", b.bitcast(need, ir.IntType(lanes)), ir.Constant(ir.IntType(lanes), 0))
        before = b.block
        with b.if_then(need, likely=False):
            rare = self.expr(scalar_of(e.true_value if rare_true else e.false_value))
            if lanes:
                rare = self._splat(rare, lanes)
            value = b.select(cond, rare, common) if rare_true else b.select(cond, common, rare)
            rare_end = b.block
        phi = b.phi(common.type)
        phi.add_incoming(common, before)
        phi.add_incoming(value, rare_end)
        return phi

    def _calls_library(self, e: PrimExpr) -> bool:
        return any(op in LIBRARY_CALLS for op, _ in labels(e, Call))

    def _loads(self, e: PrimExpr) -> bool:
        if not contains(e, BufferLoad):
            return False
        hit = self._has_load.get(id(e))
        if hit is None:  # the node kept alive beside the answer, so that its id is not reused
            hit = self._has_load[id(e)] = (e, any(isinstance(n, BufferLoad) and not _local_scalar(n)
                                                  for n in pre_order_nodes(e)))
        return hit[1]


def _local_scalar(e: BufferLoad) -> bool:
    """Whether ``e`` reads a constant element of a local buffer of a static shape (a scalar a
    pass computed before its statement): a load that cannot fault, which a select may
    compute on both sides."""
    if e.buffer.scope != "local" or not all(isinstance(n, IntImm) for n in e.buffer.shape):
        return False
    shape = e.buffer.static_shape()
    return (len(shape) == len(e.indices)
            and all(isinstance(i, IntImm) and 0 <= i.value < n for i, n in zip(e.indices, shape)))


def call_out_of_line(b: ir.IRBuilder, op: str, x: ir.Value, dtype: str) -> ir.Value:
    """``op(x)`` (one of :data:`LIBRARY_CALLS`) of a scalar or a vector of compute dtype
    ``dtype``, by an internal function of its own that is never inlined, computing a vector
    lane after lane in a loop (``@__mlc_lanes.sin.f64``, ``@__mlc_lanes.sin.v8f64``): the
    rare side of a select (:meth:`SelectCodegen._rare_side`) costs its block one call,
    and LLVM's loop vectorizer, which may widen a scalar loop holding it, cannot compute it
    on every lane unasked (it would the library function's intrinsic). A scalar function
    names its masked vector forms (``vector-function-abi-variant``: ``_ZGV_LLVM_M8v_``...,
    :func:`_masked_forms`), so that the loop vectorizer widens a loop calling it on a
    branch: the branch's lanes the mask of a form, which branches on any lane set."""
    suffix = f"v{x.type.count}{x.type.element.intrinsic_name}" if isinstance(x.type, ir.VectorType) \
        else x.type.intrinsic_name
    name = f"__mlc_lanes.{op}.{suffix}"
    module = b.module
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(x.type, [x.type]), name=name)
        fn.linkage = "internal"
        for attribute in ("noinline", "nounwind", "cold", "optsize"):  # (optsize: a loop, not unrolled)
            fn.attributes.add(attribute)
        entry = fn.append_basic_block("entry")
        body = ir.IRBuilder(entry)
        if not isinstance(x.type, ir.VectorType):
            fn.attributes.add("readnone")  # (the loop vectorizer widens no call that may write)
            body.ret(emit_math(body, op, [fn.args[0]], dtype))
            _masked_forms(module, fn, op, dtype)
        else:
            _lanes_loop(fn, body, op, dtype)
    return b.call(fn, [x])


def _masked_forms(module: ir.Module, fn: ir.Function, op: str, dtype: str) -> None:
    """The masked vector forms of the scalar ``fn`` (``op`` of its operand), one for each of
    :data:`MASKED_FORM_LANES`, named by ``fn``'s ``vector-function-abi-variant`` attribute
    and kept (``llvm.compiler.used``) until the loop vectorizer may call them. A form
    ``@__mlc_lanes.sin.m8f64(<8 x double> x, <8 x i1> mask)`` returns ``x`` where no lane
    is set (a loop calls it on every vector), else calls ``@__mlc_lanes.sin.m8f64.lanes``,
    out of line, which computes ``op`` of the set lanes one after another. The form is
    ``alwaysinline``: the llvm build inlines it after O3 (the loop vectorizer calls it after
    O3's inliner ran), so that a loop branches on its mask."""
    forms = []
    for lanes in MASKED_FORM_LANES:
        vector = ir.VectorType(fn.args[0].type, lanes)
        form = ir.Function(module, ir.FunctionType(vector, [vector, ir.VectorType(ir.IntType(1), lanes)]),
                           name=f"__mlc_lanes.{op}.m{lanes}{fn.args[0].type.intrinsic_name}")
        form.linkage = "internal"
        for attribute in ("alwaysinline", "nounwind", "readnone"):
            form.attributes.add(attribute)
        lanes_loop = ir.Function(module, form.ftype, name=f"{form.name}.lanes")
        lanes_loop.linkage = "internal"
        for attribute in ("noinline", "nounwind", "readnone", "cold", "optsize"):
            lanes_loop.attributes.add(attribute)
        _lanes_loop(lanes_loop, ir.IRBuilder(lanes_loop.append_basic_block("entry")), op, dtype, lanes_loop.args[1])
        b = ir.IRBuilder(form.append_basic_block("entry"))
        x, mask = form.args
        some = b.icmp_unsigned("!=", b.bitcast(mask, ir.IntType(lanes)), ir.Constant(ir.IntType(lanes), 0))
        with b.if_then(some, likely=False):
            b.ret(b.call(lanes_loop, [x, mask]))
        b.ret(x)
        forms.append(form)
    variants = ",".join(f"_ZGV_LLVM_M{lanes}v_{fn.name}({form.name})"
                        for lanes, form in zip(MASKED_FORM_LANES, forms))
    set.add(fn.attributes, f'"vector-function-abi-variant"="{variants}"')  # (llvmlite knows no such attribute)
    _keep(module, forms)


def _keep(module: ir.Module, functions: list[ir.Function]) -> None:
    """``functions`` added to ``module``'s ``llvm.compiler.used``: no pass deletes them
    before the loop vectorizer may call them (no call names them before)."""
    used = module.globals.get("llvm.compiler.used")
    if used is None:
        used = ir.GlobalVariable(module, ir.ArrayType(PTR, 0), "llvm.compiler.used")
        used.linkage, used.section = "appending", "llvm.metadata"
        kept = []
    else:
        kept = list(used.initializer.constant)
    kept += functions
    used.value_type = ir.ArrayType(PTR, len(kept))  # (the array grows: llvmlite's global keeps no other copy)
    used.initializer = ir.Constant(used.value_type, kept)


def _lanes_loop(fn: ir.Function, b: ir.IRBuilder, op: str, dtype: str, mask: ir.Value | None = None) -> None:
    """The body of a vector ``fn``: ``op`` of each lane of its first argument in turn, in a
    loop; with ``mask`` (a masked form's out-of-line part) of each set lane only, the others
    keeping the argument's values."""
    i32 = ir.IntType(32)
    x = fn.args[0]
    entry = b.block
    loop = fn.append_basic_block("lane")
    compute, following = (fn.append_basic_block(n) for n in ("compute", "next")) if mask is not None else (None, None)
    done = fn.append_basic_block("done")
    b.branch(loop)
    b.position_at_end(loop)
    k = b.phi(i32, name="k")
    acc = b.phi(x.type, name="acc")
    if mask is not None:
        b.cbranch(b.extract_element(mask, k), compute, following)
        b.position_at_end(compute)
    updated = b.insert_element(acc, emit_math(b, op, [b.extract_element(x, k)], dtype), k)
    last, out = loop, updated
    if mask is not None:
        b.branch(following)
        b.position_at_end(following)
        out = b.phi(x.type, name="out")
        out.add_incoming(acc, loop)
        out.add_incoming(updated, compute)
        last = following
    step = b.add(k, ir.Constant(i32, 1))
    b.cbranch(b.icmp_unsigned("<", step, ir.Constant(i32, x.type.count)), loop, done)
    k.add_incoming(ir.Constant(i32, 0), entry)
    k.add_incoming(step, last)
    acc.add_incoming(x, entry)
    acc.add_incoming(out, last)
    b.position_at_end(done)
    b.ret(out)
