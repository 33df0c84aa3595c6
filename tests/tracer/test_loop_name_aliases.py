"""Compiled loops over an array named by two variables (``c = b`` before the loop): a write in
place through one name is seen through the other, as in NumPy, whether the body assigns both
names or only reads the second; the caller's argument ends with NumPy's contents."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc


def read_other_name(b, steps):
    c = b
    s = b * 0.0
    for t in range(steps):
        s = s + b            # b is c's array: it reads the halved values
        c *= 0.5
    return s


def both_names_written(b, steps):
    c = b
    for t in range(steps):
        c *= 0.5
        b += 1.0             # the same array as c
    return b + c


def _both(fn, x, steps):
    ours, theirs = x.copy(), x.copy()
    expected = fn(theirs, steps)
    got = mlc.jit(fn, tiered=False)(ours, steps)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@settings(max_examples=4, deadline=None)
@given(n=st.integers(1, 5), m=st.integers(1, 4), steps=st.integers(2, 11))
def test_write_through_one_name_is_seen_through_the_other(n, m, steps):
    x = np.random.default_rng(n * 7 + m).standard_normal((n, m))
    for fn in (read_other_name, both_names_written):
        _both(fn, x, np.int64(steps))


def write_through_view_of_captured(u0, steps):
    u = u0 * 0.5
    s = u0 * 0.0
    for t in range(steps):
        v = u.T[::-1]        # a view of u, which the loop does not assign
        v += 1.0
        s = s + u
    return u, s


def static_write_through_view(u0):
    return write_through_view_of_captured(u0, 10)  # a static range


@settings(max_examples=3, deadline=None)
@given(n=st.integers(1, 4))
def test_a_write_through_a_view_of_an_array_the_loop_does_not_assign(n):
    x = np.random.default_rng(n).standard_normal((n, n + 1))
    expected = static_write_through_view(x)
    got = mlc.jit(static_write_through_view, tiered=False)(x)  # run unrolled
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    # a traced trip count: one compiled loop, which carries u for the writes through its view
    got = mlc.jit(write_through_view_of_captured, tiered=False)(x, np.int64(10))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def branch_writes_one_name_reads_other(a, b):
    c = a
    if b.sum() > -1e9:       # traced: a compiled conditional
        c *= 2.0             # a's array too
        b = a + b
        a = a + 1.0          # reads the doubled array
    return a, b


@settings(max_examples=3, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 3))
def test_a_branch_sees_a_write_through_another_name(n, m):
    rng = np.random.default_rng(n * 3 + m)
    x, y = rng.standard_normal((n, m)), rng.standard_normal((n, m))
    ours, theirs = (x.copy(), y.copy()), (x.copy(), y.copy())
    expected = branch_writes_one_name_reads_other(*theirs)
    got = mlc.jit(branch_writes_one_name_reads_other, tiered=False)(*ours)
    for g, e in zip(got + ours, expected + theirs):
        np.testing.assert_allclose(g, e, rtol=1e-12)


def maybe_rebound_then_written(a):
    if a.sum() > 1e9:        # traced: which array a names after it, only the run knows
        a = a * 0.5
    a[0] += 1.0              # NumPy: into the caller's array where the branch did not run
    return a


@pytest.mark.parametrize("start", [0.0, 1e9])
def test_a_write_into_a_variable_one_branch_rebinds_reaches_the_caller_where_it_was_kept(start):
    ours, theirs = np.full(3, start), np.full(3, start)
    expected = maybe_rebound_then_written(theirs)
    got = mlc.jit(maybe_rebound_then_written, tiered=False)(ours)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(ours, theirs)
