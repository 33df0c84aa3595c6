"""lower_math: the math routines written once as float TIR, run by every backend without a
native routine.

The reference interpreter and the llvm backend run the same written-out algorithm, so
they agree bit for bit (and with NumPy within the routine's ulp bound); a backend that
registers a native routine keeps its call; a function without the ops is returned as
it is; the reference interpreter runs the written-out loop as a region (each lane its
own local scalars), not element by element.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc import te
from mlc.backends.reference.analysis import Analysis
from mlc.ir.expr import Call
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For
from mlc.passes.tir import lower
from mlc.schedules import Schedule
from mlc.passes.tir.lower_math import MATH_ANNOTATION, ROUTINES, lower_math, math_lowering_for

NUMPY = {"atan": np.arctan, "asin": np.arcsin, "acos": np.arccos, "atan2": np.arctan2, "hypot": np.hypot}
#: How many operands each op of NUMPY takes.
ARITY = {"atan2": 2, "hypot": 2}
#: ulps of the result's dtype from the float64 value (the routines' bounds, with NumPy's float64
#: as the oracle: itself within an ulp).
ULPS = {"float32": 1, "float64": 3, "float16": 1}


def _func(op, dtype, n):
    xs = [te.placeholder((n,), dtype, f"X{k}") for k in range(ARITY.get(op, 1))]
    return te.create_prim_func([*xs, te.compute((n,), lambda i: getattr(te, op)(*[x[i] for x in xs]), "Y")])


def _floats(dtype):
    edges = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -3.0, 1e-30, np.inf, -np.inf, np.nan]
    width = {"float16": 16, "float32": 32, "float64": 64}[dtype]
    return st.one_of(st.sampled_from(edges), st.floats(-1.0, 1.0, width=width), st.floats(width=width))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("op", sorted(NUMPY))
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_reference_and_llvm_run_the_same_algorithm(op, dtype, data):
    n = data.draw(st.sampled_from([1, 7, 33]), label="n")
    with np.errstate(over="ignore"):
        xs = [data.draw(hnp.arrays(dtype, (n,), elements=_floats(dtype)), label=f"x{k}")
              for k in range(ARITY.get(op, 1))]
    func = _func(op, dtype, n)
    got = {}
    for target in ("reference", "llvm"):
        got[target] = np.empty(n, dtype)
        mlc.build(func, target)["main"](*xs, got[target])
    bits = f"u{np.dtype(dtype).itemsize}"
    nan = np.isnan(got["llvm"])  # (a NaN's sign and payload are unspecified)
    np.testing.assert_array_equal(np.isnan(got["reference"]), nan)
    np.testing.assert_array_equal(got["reference"][~nan].view(bits), got["llvm"][~nan].view(bits))
    with np.errstate(all="ignore"):
        want = NUMPY[op](*(x.astype("float64") for x in xs))
        rounded = want.astype(dtype)
        err = np.abs(got["llvm"].astype("float64") - want) / np.spacing(np.abs(rounded)).astype("float64")
    ok = (np.isnan(want) & np.isnan(got["llvm"])) | (got["llvm"] == rounded) | (err <= ULPS[dtype])
    assert ok.all(), (op, dtype, xs, got["llvm"][~ok], rounded[~ok])


def test_a_native_routine_is_kept_and_other_functions_are_untouched():
    func = lower(_func("atan2", "float32", 8))
    kept = math_lowering_for(lambda op, dtype: op == "atan2" and dtype == "float32")(func)
    assert kept is func
    written = lower_math(func)
    assert not any(isinstance(n, Call) and n.op in ROUTINES for n in pre_order_nodes(written.body))
    plain = lower(te.create_prim_func([X := te.placeholder((8,), "float32", "X"),
                                       te.compute((8,), lambda i: te.sqrt(X[i]), "Y")]))
    assert lower_math(plain) is plain


def test_the_vectorized_loop_of_a_written_out_call_is_annotated():
    X = te.placeholder((64,), "float64", "X")
    Y = te.compute((64,), lambda i: te.asin(X[i]), "Y")
    s = Schedule(te.create_prim_func([X, Y]))
    (i,) = s.get_loops(s.get_block("Y"))
    s.vectorize(i)
    f = lower_math(lower(s.mod["main"]))
    loops = [n for n in pre_order_nodes(f.body) if isinstance(n, For)]
    assert [dict(n.annotations).get(MATH_ANNOTATION) for n in loops] == [64]


def test_the_reference_runs_the_written_out_loop_as_a_region():
    """Every lane has its own copy of the local scalars: the loop is one region, not a
    serial loop of 4096 interpreted iterations."""
    func = lower_math(_func("acos", "float64", 4096))  # (the reference's passes: lower_complex, lower_math)
    assert "math_values" in func.script()
    loops = [n for n in pre_order_nodes(func.body) if isinstance(n, For)]
    assert Analysis().region_plan(loops[0]) is not None


@settings(max_examples=8, deadline=None)
@given(first=st.integers(1, 9), second=st.integers(1, 9), n=st.integers(1, 17),
       op=st.sampled_from(["exp", "sin", "atan"]), data=st.data())
def test_a_call_on_a_select_side_that_loads_reads_only_where_the_side_is_taken(first, second, n, op, data):
    """``idx < first ? op(A[idx]) : op(B[idx - first])`` (a lookup in two tables): the call's
    operand is computed before the statement (the formula repeats it) but only where its side
    is taken, so no load falls outside A or B (bounds-checked llvm, the reference)."""
    idx = np.array(data.draw(st.lists(st.integers(0, first + second - 1), min_size=n, max_size=n)), "int32")
    A = te.placeholder((first,), "float32", "A")
    B = te.placeholder((second,), "float32", "B")
    I = te.placeholder((n,), "int32", "I")
    fn = getattr(te, op)
    out = te.compute((n,), lambda i: te.if_then_else(I[i] < first, fn(A[I[i]]), fn(B[I[i] - first])), "out")
    func = te.create_prim_func([A, B, I, out])
    a = np.linspace(-2, 2, first, dtype="float32")
    b = np.linspace(3, 5, second, dtype="float32")
    want = getattr(np, {"atan": "arctan"}.get(op, op))(np.concatenate([a, b])[idx].astype("float64"))
    for target, options in (("llvm", {"check_bounds": True}), ("reference", {})):
        got = np.empty(n, "float32")
        mlc.build(func, target, **options)["main"](a, b, idx, got)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=target)


@settings(max_examples=4, deadline=None)
@given(n=st.sampled_from([1, 7, 33]), data=st.data())
def test_a_store_without_tanh_is_not_walked_for_tanh_steps(n, data):
    """The tanh steps of a store are looked for only where its census has a tanh call: a
    store of other routines is lowered without that walk, to the same values."""
    import mlc.passes.tir.lower_math as lm
    x = data.draw(hnp.arrays("float64", (n,), elements=st.floats(0.5, 50.0)), label="x")
    X = te.placeholder((n,), "float64", "X")
    func = te.create_prim_func([X, te.compute((n,), lambda i: te.exp(X[i] * 0.1) * te.atan(X[i]) + te.log(X[i]), "Y")])

    def no_walk(*args, **kwargs):
        raise AssertionError("a store without tanh was walked for tanh steps")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lm, "post_order_dag", no_walk)
        lowered = lower_math(lower(func))
        got = np.empty(n, "float64")
        mlc.build(func, "reference")["main"](x, got)
    assert not any(isinstance(c, Call) and c.op in ("exp", "atan", "log") for c in pre_order_nodes(lowered.body))
    np.testing.assert_allclose(got, np.exp(x * 0.1) * np.arctan(x) + np.log(x), rtol=1e-13)
    T = te.compute((n,), lambda i: (1.0 + te.tanh(X[i])) * 0.25, "T")  # (a step: still found)
    store = next(s for s in pre_order_nodes(lower(te.create_prim_func([X, T])).body) if type(s).__name__ == "BufferStore")
    assert lm._stepped_tanh(store.value)
