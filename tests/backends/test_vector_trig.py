"""float32 sin, cos and tan of whole vectors (mlc.backends.llvm.vecmath.trig.vector_trig).

The llvm backend vectorizes a loop calling them with its other statements
(``vectorize_loops_for_llvm``) and emits each call as vector code: lanes below
``FAST_LIMIT`` reduced by pi/2 in double without the table, a vector holding a larger,
infinite or NaN lane sent lane by lane to the scalar routine. Both must round as the
scalar routine does: within the 0.51 ulp the vecmath docstring states (the whole-range
sweep of tests/backends/test_vector_math.py runs through this code too).
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import IRModule, te
from mlc.backends.llvm.module import LLVM_TIR_PASSES, compile_sources, vectorize_loops_for_llvm
from mlc.backends.llvm.vecmath.trig import FAST_LIMIT
from mlc.ir.buffer import decl_buffer
from mlc.driver import schedule_module
from mlc.ir.expr import Call, IntImm, Var
from mlc.ir.tir import BufferStore, For, PrimFunc
from mlc.passes.tir import vectorize_loops

from tests.targets import each_pinned_target, pinned_threads

from .test_vector_math import MAX_ULPS, reference, ulp_errors

OPS = ("sin", "cos", "tan")


def _program(op, n, dtype="float32"):
    X = te.placeholder((n,), dtype, "X")
    fn = getattr(te, op)
    return te.create_prim_func([X, te.compute((n,), lambda i: fn(X[i]), "Y")])


def _run(op, x):
    lib = mlc.build(_program(op, x.size), "llvm")
    y = np.empty_like(x)
    lib["main"](x, y)
    return y


def _assert_rounds_as_documented(op, x, y):
    err = ulp_errors(y, reference(op, x), "float32")
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULPS["float32"][op], (op, x[worst], y[worst])
    np.testing.assert_array_equal(np.isnan(y), ~np.isfinite(x) | np.isnan(reference(op, x)))


@each_pinned_target
def test_a_trig_loop_is_vector_code_without_gathers(isa, target):
    """The loop's body is vector double arithmetic with no gather; the table is read only
    by the scalar routine, out of line (``.lanes``), behind a branch weighted unlikely.
    (Left to LLVM's loop vectorizer, each 8 lanes gathered three doubles from the table.)"""
    for op in OPS:
        with pinned_threads():
            sources = compile_sources(schedule_module(IRModule({"main": _program(op, 4096)}), target), target)
        ll, asm = sources["ll"], sources["asm"]
        assert "gather" not in ll and "vgather" not in asm, op
        assert re.search(rf'define internal [^@]*@"?__mlc_math\.{op}\.f32\.lanes\.v\d+"?\(<\d+ x float>', ll), op
        assert re.search(r"fma\.v\d+f64", ll), op
        assert "!prof" in ll and "branch_weights" in ll, op


def test_vectorize_for_llvm_vectorizes_float32_trig_calls_only():
    """float32 sin joins its loop's vector statements; float64 sin and float32 exp keep
    their loop (for LLVM's loop vectorizer, as before)."""
    def loop(op, dtype):
        A, B = decl_buffer((64,), dtype, "A"), decl_buffer((64,), dtype, "B")
        j = Var("j")
        store = BufferStore(B, Call(op, (A[j],), dtype), (j,))
        return PrimFunc((A, B), For(j, IntImm(0), IntImm(64), "vectorized", store))

    vector = vectorize_loops_for_llvm(loop("sin", "float32")).script()
    assert "B[T.Ramp(0, 1, 64)] = T.sin(A[T.Ramp(0, 1, 64)])" in vector
    for op, dtype in (("sin", "float64"), ("exp", "float32")):
        func = loop(op, dtype)
        assert vectorize_loops_for_llvm(func) is func
    assert vectorize_loops(loop("sin", "float32")).body.kind == "vectorized"  # (the default: none)
    assert vectorize_loops_for_llvm in LLVM_TIR_PASSES and vectorize_loops not in LLVM_TIR_PASSES


def test_vectors_with_a_lane_beyond_the_limit_take_the_scalar_routine():
    """Every 16-lane and 32-lane vector below holds ordinary lanes and one that is huge,
    infinite, NaN, at the limit, or a signed zero: each lane still rounds as documented,
    and the ordinary lanes of the other vectors too."""
    rng = np.random.default_rng(3)
    odd = np.array([FAST_LIMIT, np.nextafter(np.float32(FAST_LIMIT), np.float32(0)), 1e30, 3.4e38,
                    np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-40, -2.5e7, 123456.789], "float32")
    x = rng.uniform(-100, 100, 64 * len(odd)).astype("float32")
    x[::64] = odd  # one per 64 elements; the others' vectors are ordinary
    x[40::64] = -odd
    for op in OPS:
        y = _run(op, x)
        _assert_rounds_as_documented(op, x, y)
        zero = x == 0
        np.testing.assert_array_equal(np.signbit(y[zero]), np.signbit(x[zero]) if op != "cos" else False)


_FLOATS = st.one_of(
    st.floats(-200, 200, width=32),
    st.floats(-FAST_LIMIT * 2, FAST_LIMIT * 2, width=32),
    st.floats(width=32, allow_nan=True, allow_infinity=True),
    st.sampled_from([FAST_LIMIT, -FAST_LIMIT, 0.0, -0.0, 1.5707964, 3.1415927, 1e-45]))


@settings(max_examples=25, deadline=None)
@given(values=st.lists(_FLOATS, min_size=1, max_size=150), op=st.sampled_from(OPS))
def test_vector_trig_rounds_as_the_scalar_routine_does(values, op):
    """Any float32 values, any count (whole vectors and a ragged end), as NumPy in
    float64 within the documented bound, NaN where NumPy is NaN."""
    x = np.array(values, "float32")
    _assert_rounds_as_documented(op, x, _run(op, x))


def test_a_vector_form_is_refused_for_an_op_or_dtype_it_does_not_serve():
    """Only the ops and dtypes of VECTOR_FORMS have one (float64 sin is libm's, exp is left to
    LLVM's loop vectorizer): asking for another is a ValueError naming both."""
    from llvmlite import ir

    from mlc.backends.llvm.vecmath import VECTOR_FORMS, call_vector_form
    assert VECTOR_FORMS == {"sin": ("float32",), "cos": ("float32",), "tan": ("float32",)}
    for op, ty, dtype in (("sin", ir.DoubleType(), "float64"), ("exp", ir.FloatType(), "float32")):
        fn = ir.Function(ir.Module(), ir.FunctionType(ir.VoidType(), [ir.VectorType(ty, 8)]), name="f")
        builder = ir.IRBuilder(fn.append_basic_block("entry"))
        with pytest.raises(ValueError, match=f"no vector form of {op} on {dtype}"):
            call_vector_form(builder, op, fn.args[0], dtype)
