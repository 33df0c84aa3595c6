"""An ``if`` on a traced value whose branch writes into an array through a view it takes
(``v = a[1:4]; v -= 1``, ``a[::2].fill(7)``, ``np.add(x, 1, out=a[1:3])``) without naming the
array as a variable it assigns: the write reaches the array, as in NumPy, whichever branch
runs, and the caller's argument ends with NumPy's contents. (These writes were lost once:
the conditional returned only the variables the branches assign.)"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import TraceError


def view_in_one_branch(a, b):
    if b[0] > 0:
        v = a[1:4]
        v -= 1.5
    return a * 1.0


def fill_a_strided_view(a, b):
    if np.any(b > 1):
        a[::2].fill(7.0)
    return b + 1.0


def out_into_a_view(a, b):
    if b.sum() > 0:
        np.add(a[1:3], b[:2], out=a[1:3])
    else:
        np.multiply(b[::-1], 2.0, out=b)
    return a + b


def each_branch_its_own_array(a, b):
    if a[0] < b[0]:
        v = a[::-1]
        v *= 3.0
    else:
        w = b[1:]
        w += a[:-1]
    return a, b


def view_of_an_outer_view(a, b):
    w = a[1:]
    if b[0] > 0:
        v = w[:2]
        v *= -2.0
    return w * 1.0


def sort_a_view(a, b):
    if b[-1] < 1:
        a[1:].sort()
    return a * 1.0


PROGRAMS = [view_in_one_branch, fill_a_strided_view, out_into_a_view, each_branch_its_own_array,
            view_of_an_outer_view, sort_a_view]
JITTED = {fn.__name__: mlc.jit(fn, tiered=False) for fn in PROGRAMS}


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda fn: fn.__name__)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_a_branch_writes_through_a_view_as_numpy_does(fn, data):
    n = data.draw(st.sampled_from([4, 7]), label="n")  # two builds per program; the values drive the branch
    values = st.lists(st.integers(-3, 3), min_size=n, max_size=n)
    a = np.array(data.draw(values, label="a"), dtype=np.float64)
    b = np.array(data.draw(values, label="b"), dtype=np.float64)
    theirs_a, theirs_b = a.copy(), b.copy()
    expected = fn(theirs_a, theirs_b)
    ours_a, ours_b = a.copy(), b.copy()
    got = JITTED[fn.__name__](ours_a, ours_b)
    for g, e in zip(got if isinstance(got, tuple) else [got], expected if isinstance(expected, tuple) else [expected]):
        np.testing.assert_array_equal(g, e)
    np.testing.assert_array_equal(ours_a, theirs_a)  # the caller's arrays, written as NumPy writes them
    np.testing.assert_array_equal(ours_b, theirs_b)


@pytest.mark.parametrize("taken", [True, False])
def test_both_outcomes_of_one_build(taken):
    a = np.arange(5.0)
    b = np.array([1.0 if taken else -1.0, 0, 0, 0, 0])
    got = JITTED["view_in_one_branch"](a, b)
    want = np.array([0.0, -0.5, 0.5, 1.5, 4.0]) if taken else np.arange(5.0)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(a, want)


def view_in_a_branch_in_a_loop(a, steps):
    for t in range(steps):
        if a[0] > t:
            v = a[1:]
            v += 1.0
    return a * 1.0


def test_in_a_compiled_loop_the_write_is_kept_or_refused_never_lost():
    a = np.array([2.0, 0.0, 0.0])
    expected = view_in_a_branch_in_a_loop(a.copy(), 4)
    try:
        got = mlc.jit(view_in_a_branch_in_a_loop, tiered=False)(a.copy(), np.int64(4))
    except TraceError as err:
        assert "through a view" in str(err)
    else:
        np.testing.assert_array_equal(got, expected)
