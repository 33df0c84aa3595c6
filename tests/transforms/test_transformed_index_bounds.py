"""Traced indices inside ``mlc.grad`` and ``mlc.vmap`` in a jitted function: an index computed
outside the transformed function is checked by the jitted function (BoundsError as NumPy's
IndexError, naming index, axis, size and line); one computed inside it, which cannot be checked
there, is a TraceError when the function is traced. Both were clipped silently."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import TraceError


@mlc.jit
def grad_at(x, i):
    return mlc.grad(lambda x: (x[i] ** 2).sum())(x)


@mlc.jit
def columns(X, idx):
    return mlc.vmap(lambda row: row[idx] * 2.0)(X)


@settings(max_examples=15, deadline=None)
@given(i=st.integers(-6, 6))
def test_grad_of_an_element_at_an_index_from_outside(i):
    x = np.arange(1.0, 5.0)
    if -4 <= i < 4:
        want = np.zeros(4)
        want[i] = 2 * x[i]
        np.testing.assert_allclose(grad_at(x, i), want)
    else:
        with pytest.raises(mlc.BoundsError, match=f"index {i} is out of bounds for axis 0 with size 4"):
            grad_at(x, i)


@settings(max_examples=15, deadline=None)
@given(idx=st.lists(st.integers(-5, 5), min_size=1, max_size=3))
def test_vmap_gathers_with_indices_from_outside(idx):
    X = np.arange(6.0).reshape(2, 3)
    idx = np.array(idx, dtype=np.int64)
    try:
        want = X[:, idx] * 2.0
    except IndexError:
        with pytest.raises(mlc.BoundsError, match="is out of bounds for axis 0 with size 3"):
            columns(X, idx)
        return
    np.testing.assert_allclose(columns(X, idx), want)


def test_vmap_over_the_indices_checks_every_one():
    @mlc.jit
    def lookup(x, idx):
        return mlc.vmap(lambda i: x[i] * 2.0)(idx)
    np.testing.assert_allclose(lookup(np.arange(4.0), np.array([1, -1])), [2.0, 6.0])
    with pytest.raises(mlc.BoundsError, match="index 4 is out of bounds for axis 0 with size 4"):
        lookup(np.arange(4.0), np.array([1, 4]))


def test_an_index_computed_inside_vmap_is_refused_when_traced():
    @mlc.jit
    def lookup(x, idx):
        return mlc.vmap(lambda i: x[i + 1] * 2.0)(idx)
    with pytest.raises(TraceError, match=r"(?s)index computed inside a transformed function.*x\[i \+ 1\] \* 2.0"):
        lookup(np.arange(4.0), np.array([1, 2]))
    clipped = mlc.jit(lookup.fn, bounds_check=False)  # as JAX: clipped, by request
    np.testing.assert_allclose(clipped(np.arange(4.0), np.array([1, 9])), [4.0, 6.0])
