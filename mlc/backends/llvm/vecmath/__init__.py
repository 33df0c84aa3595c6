"""Vectorisable float32 sin, cos and tan, and float64 sin, cos and tan of whole vectors,
written as LLVM IR (every other transcendental function, exp, log, tanh, erf, pow, cbrt,
atan..., is float TIR that :mod:`mlc.passes.tir.lower_math` writes out for every backend
without a native routine: its bounds are in :mod:`mlc.passes.tir.math`).

A scalar libm call in a loop stops LLVM's loop vectorizer; :mod:`.trig`'s routines are
branch-free code instead that reduce their argument exactly by a table and work in
double. Each is defined once per LLVM module as an internal ``alwaysinline`` function
``@__mlc_math.<op>.f32``; LLVM inlines it into every caller before the vectorizer runs.
A call on a whole vector (what the vectorize pass makes of a loop: :data:`VECTOR_FORMS`)
is :func:`.trig.vector_trig`'s (float32) or :func:`.double_trig.vector_trig64`'s
(float64); a lane they do not serve goes to the scalar routine (float64: libm's).

Max errors in ulps of the result's format (tests/backends/test_vector_math.py and
test_vector_trig.py assert them): sin and cos 0.51 for float32 and float16, 0.8 for
float64 vectors (0.74 and 0.75 measured over 25 million doubles against the exact
values), tan 0.51 and 0.95 (0.89 measured); a scalar float64 call, or a vector holding
a lane of 2^20 or more, is libm's. sin, cos and tan of +-inf are nan, NaN propagates.
``fast_math=True``: the vector forms' polynomials in float (within 1e-6 relative for
float32, 1e-13 for float64), with the fast-math flags ``contract``/``afn``.

Modules: ``emitter`` (float building blocks), ``trig`` (float32 sin, cos, tan),
``double_trig`` (float64 sin, cos, tan of whole vectors).
"""
from __future__ import annotations

from llvmlite import ir

from ...intrinsics import register_intrinsic_lowering
from ..intrinsics import BACKEND, emit_math
from .emitter import FAST_FLAGS, FORMATS, FloatOps, float_type
from .double_trig import vector_trig64
from .trig import TRIG_ROUTINES, vector_trig

#: op name -> routine(FloatOps, x): float32 sin, cos and tan.
ROUTINES = dict(TRIG_ROUTINES)
#: The compute dtypes each routine serves (a float64 sin, cos or tan of a scalar is libm's).
ROUTINE_DTYPES = {op: ("float32",) for op in ROUTINES}

__all__ = ["VECTOR_MATH_OPS", "VECTOR_FORMS", "ROUTINE_DTYPES", "call_vector_math", "call_vector_form"]

#: Call ops with a vectorisable implementation here.
VECTOR_MATH_OPS = frozenset(ROUTINES)

_SUFFIX = {"float32": "f32", "float64": "f64"}


def call_vector_math(builder: ir.IRBuilder, op: str, x: ir.Value, dtype: str, fast: bool = False) -> ir.Value:
    """``op(x)`` for a value of compute dtype ``dtype``; ``fast``: the ``fast_math`` variant,
    ``@__mlc_math.<op>.<f32|f64>.fast``."""
    return builder.call(_define(builder.module, op, dtype, fast), [x])


#: Ops (-> the element dtypes) whose calls on whole vectors are emitted as vector code here
#: (:func:`call_vector_form`), rather than left to LLVM's loop vectorizer as scalar calls in
#: a loop: float32 sin, cos and tan, whose reduction the scalar routine makes by a table
#: (gathers, in a vectorized loop) and the vector form, for every lane of ordinary size,
#: without one (:func:`.trig.vector_trig`); and float64 sin, cos and tan, whose scalar
#: routine is libm's, a call LLVM cannot widen (:func:`.double_trig.vector_trig64`: 4 times
#: the speed on an AVX-512 Zen 4 core). The llvm backend's vectorize pass makes vector
#: calls of these (:func:`mlc.backends.llvm.generate.vectorize_loops_for_llvm`).
VECTOR_FORMS = {op: ("float32", "float64") for op in TRIG_ROUTINES}


def call_vector_form(builder: ir.IRBuilder, op: str, x: ir.Value, dtype: str, fast: bool = False) -> ir.Value:
    """``op(x)`` for a vector ``x`` of compute dtype ``dtype`` (``VECTOR_FORMS[op]``) as
    vector code (float32: :func:`.trig.vector_trig`, float64:
    :func:`.double_trig.vector_trig64`), where a vector
    holding lanes the vector form does not serve goes to the scalar routine (for float64
    libm's) lane by lane, out of line (``@__mlc_math.<op>.<f32|f64>.lanes.v<N>``)."""
    if dtype not in VECTOR_FORMS.get(op, ()):
        raise ValueError(f"no vector form of {op} on {dtype}")
    lanes = _lane_by_lane(builder.module, op, dtype, fast, x.type.count)
    if dtype == "float32":
        return vector_trig(builder, op, x, lanes, fast)
    return vector_trig64(builder, op, x, lanes)


def _lane_by_lane(module: ir.Module, op: str, dtype: str, fast: bool, lanes: int) -> ir.Function:
    """``@__mlc_math.<op>.<f32|f64>.lanes.v<N>``: a vector of ``lanes`` computed by the scalar
    routine one lane after another, in a loop, in a function of its own that is never
    inlined (a vector form calls it on a path it rarely takes: one call in its code)."""
    name = f"__mlc_math.{op}.{_SUFFIX[dtype]}" + (".fast" if fast else "") + f".lanes.v{lanes}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    scalar = float_type(FORMATS[dtype])
    vector = ir.VectorType(scalar, lanes)
    fn = ir.Function(module, ir.FunctionType(vector, [vector]), name=name)
    fn.linkage = "internal"
    for attribute in ("noinline", "nounwind", "cold", "optsize"):  # (optsize: a loop, not unrolled)
        fn.attributes.add(attribute)
    i32 = ir.IntType(32)
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "lane", "done"))
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    k = b.phi(i32, name="k")
    acc = b.phi(vector, name="acc")
    lane = b.extract_element(fn.args[0], k)
    if dtype in ROUTINE_DTYPES.get(op, ()):
        value = b.call(_define(module, op, dtype, fast), [lane])
    else:  # (float64 sin, cos and tan: libm's)
        value = emit_math(b, op, [lane], dtype, fast)
    updated = b.insert_element(acc, value, k)
    following = b.add(k, ir.Constant(i32, 1))
    b.cbranch(b.icmp_unsigned("<", following, ir.Constant(i32, lanes)), loop, done)
    k.add_incoming(ir.Constant(i32, 0), entry)
    k.add_incoming(following, loop)
    acc.add_incoming(fn.args[0], entry)
    acc.add_incoming(updated, loop)
    b.position_at_end(done)
    b.ret(updated)
    return fn


def _lower(op: str):
    def lowering(builder: ir.IRBuilder, args: list[ir.Value], dtype: str, fast_math: bool) -> ir.Value:
        return call_vector_math(builder, op, args[0], dtype, fast_math)
    lowering.__name__ = f"vecmath_{op}"
    return lowering


# The llvm lowering of these math calls on floats (mlc.backends.intrinsics).
for _op in ROUTINES:
    register_intrinsic_lowering(BACKEND, _op, _lower(_op), dtypes=ROUTINE_DTYPES[_op])


def _define(module: ir.Module, op: str, dtype: str, fast: bool = False) -> ir.Function:
    """``@__mlc_math.<op>.<f32|f64>[.fast]`` in ``module`` (defined on first use)."""
    name = f"__mlc_math.{op}.{_SUFFIX[dtype]}" + (".fast" if fast else "")
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fmt = FORMATS[dtype]
    value = float_type(fmt)
    fn = ir.Function(module, ir.FunctionType(value, [value]), name=name)
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    fn.attributes.add("nounwind")
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    ops = FloatOps(builder, fmt, fast, FAST_FLAGS if fast else ())
    builder.ret(ROUTINES[op](ops, *fn.args))
    return fn
