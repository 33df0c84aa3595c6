"""``repeat`` with an array of counts (eager only: its shape depends on the values) and
``searchsorted(sorter=)`` against NumPy: Hypothesis-drawn arrays with sizes 0, 1 and odd, every
axis, zero counts; searchsorted eagerly and jitted on the reference interpreter."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.numpy as mnp
from mlc import ShapeError, TraceError


def same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=15, deadline=None)
@given(x=st.sampled_from(["int32", "float64", "bool"]).flatmap(
    lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))),
    data=st.data())
def test_repeat_with_counts_matches_numpy(x, data):
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1), label="axis")
    n = x.size if axis is None else x.shape[axis]
    one = data.draw(st.booleans(), label="one count for all")
    counts = data.draw(hnp.arrays(data.draw(st.sampled_from(["int64", "int32", "uint8"])), (1,) if one else (n,),
                                  elements=st.integers(0, 3)), label="counts")
    same(mnp.repeat(x, counts, axis=axis), np.repeat(x, counts, axis=axis))


def test_repeat_with_counts_is_eager_only_and_checks_its_counts():
    x = np.arange(3.0)
    with pytest.raises(TraceError, match="repeat with an array of counts has an output shape that depends"):
        mlc.jit(lambda a, r: mnp.repeat(a, r))(x, np.array([1, 2, 0]))
    same(mlc.jit(lambda a: np.repeat(a, 2))(x), np.repeat(x, 2))        # an int count still traces
    with pytest.raises(ShapeError, match="non-negative"):
        mnp.repeat(x, np.array([1, -1, 0]))
    with pytest.raises(ShapeError, match="2 counts for an axis of 3"):
        mnp.repeat(x, np.array([1, 2]))
    with pytest.raises(ShapeError, match="integer array"):
        mnp.repeat(x, np.array([1.0, 2.0, 0.0]))


@settings(max_examples=15, deadline=None)
@given(a=hnp.arrays("float64", st.integers(0, 7), elements=st.floats(-3, 3) | st.just(np.nan)),
       v=hnp.arrays("float64", hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
                    elements=st.floats(-4, 4) | st.just(np.nan)),
       side=st.sampled_from(["left", "right"]))
def test_searchsorted_with_sorter_matches_numpy(a, v, side):
    order = np.argsort(a, kind="stable")
    want = np.searchsorted(a, v, side=side, sorter=order)
    same(mnp.searchsorted(a, v, side=side, sorter=order), want)
    same(mlc.jit(lambda a_, v_, s_: mnp.searchsorted(a_, v_, side=side, sorter=s_), target="reference")(a, v, order),
         want)


def test_searchsorted_sorter_must_index_x1():
    with pytest.raises(ShapeError, match="sorter must be integer indices shaped like x1"):
        mnp.searchsorted(np.arange(3.0), np.ones(2), sorter=np.arange(2))
    with pytest.raises(ShapeError, match="sorter must be integer indices"):
        mnp.searchsorted(np.arange(3.0), np.ones(2), sorter=np.arange(3.0))
