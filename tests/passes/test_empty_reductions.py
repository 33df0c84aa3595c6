"""Reductions over an empty axis: the init still runs (0 for sum, 1 for prod), on every backend;
max and min over an empty axis are errors, as in NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
import mlc.numpy as mnp
from mlc import ShapeError, te
from mlc.ir.expr import const
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
