"""Traced indices inside ``mlc.grad`` and ``mlc.vmap`` in a jitted function: an index computed
outside the transformed function is checked by the jitted function (BoundsError as NumPy's
IndexError, naming index, axis, size and line); one computed inside it, which cannot be checked
there, is a TraceError when the function is traced. Both were clipped silently. So are the
indices of a loop or a branch inside the transformed function: checked once around the loop where
that can be done, refused when traced where it cannot."""
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


# ------------------------------------------- loops and branches inside the transformed function
# Their bodies return no checks to the transformation; an index of the loop's own (i + c, over
# bounds from outside) or one computed around the loop is checked once around the loop by the
# jitted function, and any other is refused when traced. Before, all were clipped silently.

def _numpy_loop(n, index):
    """What NumPy does: the sum over range(n) of index(i), or IndexError."""
    return sum((index(i) for i in range(n)), 0.0)


_SHIFTED = {}


def _shifted_rows(offset):
    """vmap over rows of a loop over range(n), n traced, reading row[i + offset]."""
    if offset not in _SHIFTED:
        _SHIFTED[offset] = mlc.jit(lambda X, n: mlc.vmap(
            lambda r: mlc.fori_loop(0, n, lambda i, s: s + r[i + offset], 0.0))(X))
    return _SHIFTED[offset]


@settings(max_examples=25, deadline=None)
@given(m=st.sampled_from([1, 3, 4]), n=st.integers(0, 6), offset=st.sampled_from([-5, -1, 0, 2]))
def test_vmap_of_a_loop_reading_its_own_index_is_checked_around_the_loop(m, n, offset):
    X = np.arange(2.0 * m).reshape(2, m) + 1.0
    try:
        want = np.array([_numpy_loop(n, lambda i: row[i + offset]) for row in X])
    except IndexError:
        with pytest.raises(mlc.BoundsError, match=f"is out of bounds for axis 0 with size {m}"):
            _shifted_rows(offset)(X, n)
        return
    np.testing.assert_allclose(_shifted_rows(offset)(X, n), want)


@mlc.jit
def _jvp_of_a_loop(x, n):
    return mlc.jvp(lambda x: mlc.fori_loop(0, n, lambda i, s: s + x[i] ** 2, 0.0), (x,), (np.ones_like(x),))


@settings(max_examples=12, deadline=None)
@given(m=st.sampled_from([1, 4]), n=st.integers(0, 6))
def test_jvp_of_a_loop_with_traced_bounds_is_checked(m, n):
    x = np.arange(1.0, m + 1.0)
    try:
        want = (_numpy_loop(n, lambda i: x[i] ** 2), _numpy_loop(n, lambda i: 2 * x[i]))
    except IndexError:
        with pytest.raises(mlc.BoundsError, match=f"index {m} is out of bounds for axis 0 with size {m}"):
            _jvp_of_a_loop(x, n)
        return
    np.testing.assert_allclose(_jvp_of_a_loop(x, n), want)


def _grad_at_in_loop(trips):
    return mlc.jit(lambda x, j: mlc.grad(lambda x: mlc.fori_loop(0, trips, lambda i, s: s + x[j] * i, 0.0))(x))


_GRAD_IN_LOOP = {trips: _grad_at_in_loop(trips) for trips in (0, 3)}


@settings(max_examples=20, deadline=None)
@given(j=st.integers(-7, 7), trips=st.sampled_from([0, 3]))
def test_grad_of_a_loop_reading_an_index_from_outside_checks_it_where_the_loop_runs(j, trips):
    x = np.arange(1.0, 5.0)
    try:
        _numpy_loop(trips, lambda i: x[j] * i)
    except IndexError:
        with pytest.raises(mlc.BoundsError, match=f"index {j} is out of bounds for axis 0 with size 4"):
            _GRAD_IN_LOOP[trips](x, j)
        return
    want = np.zeros(4)
    if trips:
        want[j] = sum(range(trips))
    np.testing.assert_allclose(_GRAD_IN_LOOP[trips](x, j), want)


@mlc.jit
def _clamped(x, j):
    return mlc.grad(lambda x: mlc.fori_loop(0, 3, lambda i, s: s + x[np.clip(i + j, 0, 3)] * x[(i + j) % 4],
                                            0.0))(x)


@settings(max_examples=10, deadline=None)
@given(j=st.integers(-9, 9))
def test_indices_kept_in_range_by_clip_or_remainder_need_no_check(j):
    x = np.arange(1.0, 5.0)
    want = np.zeros(4)
    for i in range(3):
        a, b = min(max(i + j, 0), 3), (i + j) % 4
        want[a] += x[b]
        want[b] += x[a]
    np.testing.assert_allclose(_clamped(x, j), want)


def test_an_index_in_a_branch_of_a_transformed_function_is_refused_when_traced():
    def f(x, j):
        return mlc.grad(lambda x: mlc.cond(x.sum() > 0, lambda: x[j] * 2.0, lambda: x[0]))(x)
    with pytest.raises(TraceError, match=r"(?s)in a loop or a branch of a transformed function.*"
                                         r"lambda: x\[j\] \* 2.0"):
        mlc.jit(f)(np.arange(4.0), 1)
    clipped = mlc.jit(f, bounds_check=False)  # as JAX: clipped, by request
    np.testing.assert_allclose(clipped(np.arange(4.0), 9), [0.0, 0.0, 0.0, 2.0])


def test_an_index_carried_by_a_while_loop_in_vmap_is_refused_when_traced():
    @mlc.jit
    def f(X):
        return mlc.vmap(lambda r: mlc.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] + r[c[0]]),
                                                 (0, 0.0))[1])(X)
    with pytest.raises(TraceError, match=r"(?s)in a loop or a branch of a transformed function.*c\[1\] \+ r"):
        f(np.ones((2, 4)))


def test_an_index_array_in_a_loop_of_vmap_is_refused_when_traced():
    @mlc.jit
    def f(X, idx):
        return mlc.vmap(lambda r: mlc.fori_loop(0, 2, lambda i, s: s + r[idx].sum(), 0.0))(X)
    with pytest.raises(TraceError, match="index array|in a loop or a branch"):
        f(np.ones((2, 4)), np.array([0, 5]))


@mlc.jit
def _window_sums(X, k, n):
    return mlc.vmap(lambda r: mlc.fori_loop(0, n, lambda i, s: s + r[i + k] * 2.0 - r[i - k], 0.0))(X)


@settings(max_examples=25, deadline=None)
@given(m=st.sampled_from([1, 4, 5]), k=st.integers(-7, 7), n=st.integers(0, 5))
def test_vmap_of_a_loop_reading_its_index_shifted_by_a_value_from_outside(m, k, n):
    X = np.arange(2.0 * m).reshape(2, m) + 1.0
    try:
        want = np.array([_numpy_loop(n, lambda i: row[i + k] * 2.0 - row[i - k]) for row in X])
    except IndexError:
        with pytest.raises(mlc.BoundsError, match=f"is out of bounds for axis 0 with size {m}"):
            _window_sums(X, np.int64(k), np.int64(n))
        return
    np.testing.assert_allclose(_window_sums(X, np.int64(k), np.int64(n)), want)


@mlc.jit
def _gradients_in_a_loop(x, n):
    def step(k, acc):  # the jitted function's loop around a transformation with a loop inside
        return acc + mlc.grad(lambda x: mlc.fori_loop(0, 2, lambda i, s: s + x[i + k] ** 2, 0.0))(x)
    return mlc.fori_loop(0, n, step, np.zeros_like(x))


@settings(max_examples=8, deadline=None)
@given(n=st.integers(0, 5))
def test_a_loop_inside_grad_inside_a_jitted_loop_is_checked_by_that_loop(n):
    x = np.arange(1.0, 5.0)
    try:
        want = np.zeros(4)
        for k in range(n):
            for i in range(2):
                want[i + k] += 2 * x[i + k]
    except IndexError:
        with pytest.raises(mlc.BoundsError, match="index 4 is out of bounds for axis 0 with size 4"):
            _gradients_in_a_loop(x, np.int64(n))
        return
    np.testing.assert_allclose(_gradients_in_a_loop(x, np.int64(n)), want)
