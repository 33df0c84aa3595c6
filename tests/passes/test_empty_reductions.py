"""Reductions over an empty axis: the init still runs (0 for sum, 1 for prod), on every backend;
max and min over an empty axis are errors, as in NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
import mlc.numpy as mnp
from mlc import ShapeError, te
from mlc.ir.expr import Var, const
from mlc.passes.tir import expand_empty_reductions
from mlc.schedules import Schedule
from mlc.schedules.apply import as_written

_prod = te.comm_reducer(lambda x, y: x * y, lambda t: const(1, t), name="prod")


def reduction(rows: int, kind: str) -> mlc.IRModule:
    """``B[i] = reduce(A[i, k] for k in range(0))`` for sum or a prod comm_reducer."""
    A = te.placeholder((rows, 0), "float32", "A")
    k = te.reduce_axis((0, 0), "k")
    reducer = te.sum if kind == "sum" else _prod
    B = te.compute((rows,), lambda i: reducer(A[i, k], axis=k), "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def schedule(mod, how: str, factor: int):
    """The reduction scheduled as written, by the default rules, or with its k loop moved."""
    if how == "default":
        return mod, None
    sch = Schedule(mod)
    block = sch.get_block("B")
    i, k = sch.get_loops(block)
    if how == "split_k":
        sch.split(k, [None, factor])
    elif how == "k_outside":
        sch.reorder(k, i)
    elif how == "split_i":
        i0, i1 = sch.split(i, [None, factor])
        sch.reorder(i0, k, i1)
    elif how == "decompose":
        sch.decompose_reduction(block, k)
    return sch.mod, as_written


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 9), kind=st.sampled_from(["sum", "prod"]),
       how=st.sampled_from(["as_written", "default", "split_k", "k_outside", "split_i", "decompose"]),
       factor=st.integers(1, 4), target=st.sampled_from(["reference", "llvm"]))
def test_a_reduction_over_an_empty_axis_writes_the_identity(rows, kind, how, factor, target):
    mod, sched = schedule(reduction(rows, kind), how, factor)
    b = np.full(rows, 7.0, "float32")  # anything but the identity
    mlc.build(mod, target, schedule=sched)["main"](np.zeros((rows, 0), "float32"), b)
    want = np.sum(np.zeros((rows, 0)), axis=1) if kind == "sum" else np.prod(np.zeros((rows, 0)), axis=1)
    np.testing.assert_array_equal(b, want.astype("float32"))


def test_the_pass_turns_the_empty_reduction_into_its_init():
    func = expand_empty_reductions(reduction(4, "sum")["main"])
    text = func.script()
    assert "T.init()" not in text and "range(0)" not in text
    assert "vi = T.axis.spatial(4, i)" in text and "B[vi] = T.float32(0)" in text


def test_non_empty_reductions_are_left_alone():
    A = te.placeholder((4, 3), "float32", "A")
    k = te.reduce_axis((0, 3), "k")
    B = te.compute((4,), lambda i: te.sum(A[i, k], axis=k), "B")
    func = te.create_prim_func([A, B])
    assert expand_empty_reductions(func) is func


@pytest.mark.parametrize("reducer, numpy_name", [(te.max, "maximum"), (te.min, "minimum")])
def test_te_max_and_min_over_an_empty_axis_have_no_identity(reducer, numpy_name):
    A = te.placeholder((4, 0), "float32", "A")
    k = te.reduce_axis((0, 0), "k")
    with pytest.raises(ShapeError, match=f"zero-size array to reduction operation {numpy_name} "
                                         "which has no identity"):
        te.compute((4,), lambda i: reducer(A[i, k], axis=k), "B")


@settings(max_examples=8, deadline=None)
@given(shape=st.lists(st.integers(0, 3), min_size=1, max_size=3).filter(lambda s: 0 in s),
       data=st.data())
def test_numpy_and_jit_sums_over_empty_axes_match_numpy(shape, data):
    axis = data.draw(st.sampled_from([d for d, n in enumerate(shape) if n == 0]), label="axis")
    x = np.zeros(shape, "float32")
    np.testing.assert_array_equal(mnp.sum(x, axis=axis), np.sum(x, axis=axis))
    np.testing.assert_array_equal(mnp.prod(x, axis=axis), np.prod(x, axis=axis))
    f = mlc.jit(lambda a: np.sum(a, axis=axis) + 1)
    np.testing.assert_array_equal(f(x), np.sum(x, axis=axis) + 1)
    with pytest.raises(ShapeError, match="zero-size array to reduction operation maximum which has "
                                         "no identity"):
        mnp.max(x, axis=axis)
    with pytest.raises(ShapeError, match="zero-size array to reduction operation minimum"):
        mlc.jit(lambda a: np.min(a, axis=axis))(x)


# ------------------------------------------------------------- symbolic extents

def symbolic_reduction(rows: int, kind: str) -> mlc.IRModule:
    """``B[i] = reduce(A[i, k] for k in range(n))`` with ``n`` a shape variable."""
    n = Var("n", "int32")
    A = te.placeholder((rows, n), "float32", "A")
    k = te.reduce_axis((0, n), "k")
    reducer = te.sum if kind == "sum" else _prod
    B = te.compute((rows,), lambda i: reducer(A[i, k], axis=k), "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 9), kind=st.sampled_from(["sum", "prod"]),
       how=st.sampled_from(["as_written", "default", "split_k", "k_outside", "split_i", "decompose"]),
       factor=st.integers(1, 4), target=st.sampled_from(["reference", "llvm"]),
       sizes=st.lists(st.integers(0, 6), min_size=1, max_size=4).map(lambda s: s + [0]))
def test_a_reduction_over_a_symbolic_axis_writes_the_identity_on_calls_where_it_is_empty(
        rows, kind, how, factor, target, sizes):
    mod, sched = schedule(symbolic_reduction(rows, kind), how, factor)
    main = mlc.build(mod, target, schedule=sched)["main"]
    for n in sizes:  # empty and non-empty calls of one build, in either order
        a = np.random.default_rng(n).uniform(0.5, 1.5, (rows, n)).astype("float32")
        b = np.full(rows, 7.0, "float32")
        main(a, b)
        want = a.sum(axis=1) if kind == "sum" else a.prod(axis=1)
        np.testing.assert_allclose(b, want, rtol=1e-5)


def test_the_pass_guards_a_reduction_that_may_be_empty():
    func = expand_empty_reductions(symbolic_reduction(4, "sum")["main"])
    text = func.script()
    assert "if n <= 0:" in text and "B[vi] = T.float32(0)" in text
    again = expand_empty_reductions(func)
    assert again.script().count("if n <= 0:") == 1  # guarded once


@pytest.mark.parametrize("target", ["llvm", "reference"])
@pytest.mark.parametrize("name", ["sum0", "sum_all", "prod0", "mean_free", "gram", "exp_sum"])
def test_jitted_reductions_over_a_dynamic_axis_of_size_0_match_numpy(target, name):
    fn = {"sum0": lambda x: x.sum(axis=0), "sum_all": lambda x: x.sum(), "prod0": lambda x: x.prod(axis=0),
          "mean_free": lambda x: x.sum(axis=0) / 3, "gram": lambda x: x.T @ x,
          "exp_sum": lambda x: np.exp(x).sum(axis=0) + 1}[name]
    f = mlc.jit(fn, dynamic=("x", 0), target=target)
    for rows in (0, 2, 0, 5):
        x = np.random.default_rng(rows).standard_normal((rows, 3)).astype("float32")
        np.testing.assert_allclose(f(x), fn(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn, words", [
    (lambda x: x.max(axis=0), "max: zero-size array to reduction operation maximum which has no identity"),
    (lambda x: np.min(x), "min: zero-size array to reduction operation minimum which has no identity"),
    (lambda x: np.argmax(x, axis=0), "argmax: attempt to get argmax of an empty sequence"),
    (lambda x: x.argmin(), "argmin: attempt to get argmin of an empty sequence"),
])
def test_max_min_argmax_argmin_over_a_dynamic_axis_of_size_0_raise_as_over_a_static_one(fn, words):
    f = mlc.jit(fn, dynamic=("x", 0))
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(f(x), fn(x))
    for _ in range(2):  # also once the empty size has a fast-path entry
        with pytest.raises(ShapeError, match=words + r".*axis 0 of x, of dynamic size x_dim0, is 0 "
                                                     r"on this call.*\n  at File"):
            f(np.zeros((0, 3), "float32"))
    np.testing.assert_array_equal(f(x + 1), fn(x + 1))


@pytest.mark.parametrize("target", ["llvm", "reference"])
@pytest.mark.parametrize("fn", [lambda x: x.max(axis=0, initial=-1.5), lambda x: np.min(x, initial=7),
                                lambda x: x.sum(axis=0, initial=2), lambda x: np.prod(x, axis=0, initial=0.5)])
def test_a_start_value_is_the_reduction_of_a_dynamic_axis_of_size_0(fn, target):
    f = mlc.jit(fn, dynamic=("x", 0), target=target)
    for rows in (3, 0, 1, 0):
        x = np.random.default_rng(rows).standard_normal((rows, 4)).astype("float32")
        np.testing.assert_allclose(f(x), fn(x), rtol=1e-6)


def test_a_max_over_a_static_axis_of_a_dynamic_size_array_runs_when_the_size_is_0():
    f = mlc.jit(lambda x: x.max(axis=1), dynamic=("x", 0))
    assert f(np.zeros((0, 3), "float32")).shape == (0,)


def test_the_empty_dynamic_axis_error_keeps_a_source_line_with_braces():
    f = mlc.jit(lambda x: {"top": x.max(axis=0)}["top"], dynamic=("x", 0))
    with pytest.raises(ShapeError, match=r"(?s)max: zero-size array .* is 0 on this call.*\{\"top\""):
        f(np.zeros((0, 3), "float32"))
