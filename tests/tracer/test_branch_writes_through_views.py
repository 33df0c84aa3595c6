"""An ``if`` on a traced value whose branch writes into an array through a view it takes
(``v = a[1:4]; v -= 1``, ``a[::2].fill(7)``, ``np.add(x, 1, out=a[1:3])``) without naming the
array as a variable it assigns: the write reaches the array, as in NumPy, whichever branch
runs, and the caller's argument ends with NumPy's contents; a compiled loop (a traced trip
count or condition) whose body does the same carries the array. (Such writes were lost once in
an ``if``: the conditional returned only the variables the branches assign; a loop refused them.)"""
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
    n = data.draw(st.sampled_from([1, 4, 7]), label="n")  # three builds per program; the values drive the branch
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


def view_in_a_traced_loop(a, steps):
    for t in range(steps):
        inner = a[1:-1]
        inner += 0.5 * (a[:-2] + a[2:])
    return a * 1.0


def view_in_a_while_loop(a, steps):
    k = 0
    while a.sum() < 40.0 and k < steps:
        np.multiply(a[1:], 2.0, out=a[1:])
        a[::2].fill(a[0] + 1.0)
        k += 1
    return a * 1.0


def views_in_nested_loops(a, steps):
    for t in range(steps):
        for s in range(steps):
            w = a[::-1]
            w[:2] -= 0.25 * t
    return a * 1.0


LOOPS = [view_in_a_branch_in_a_loop, view_in_a_traced_loop, view_in_a_while_loop, views_in_nested_loops]


@pytest.mark.parametrize("fn", LOOPS, ids=lambda fn: fn.__name__)
def test_a_compiled_loop_carries_the_arrays_its_body_writes_through_views(fn):
    """The trip count is traced, so each loop is compiled (not unrolled): it carries the array
    its body writes through a view of it, as if the body named it."""
    jitted = mlc.jit(fn, tiered=False)
    for steps in (0, 1, 3):
        a = np.array([2.0, 0.5, -1.0, 3.0, 1.0])
        theirs, ours = a.copy(), a.copy()
        expected = fn(theirs, steps)
        np.testing.assert_array_equal(jitted(ours, np.int64(steps)), expected)
        np.testing.assert_array_equal(ours, theirs)


def test_a_view_write_mlc_cannot_follow_is_still_refused():
    """mlc.fori_loop's body is the user's function: it carries what it returns, nothing else."""
    def f(a):
        def body(i, s):
            v = a[1:]
            v += 1.0
            return s + 1.0
        return mlc.fori_loop(0, 3, body, np.float64(0.0))
    with pytest.raises(TraceError, match="through a view"):
        mlc.jit(f, tiered=False)(np.zeros(3))


def test_a_compiled_loop_runs_array_methods_and_out_calls_and_refuses_list_methods():
    def outs(a, steps):
        for t in range(steps):
            np.add(a[1:], a[:-1], out=a[1:])
            a.sort()
        return a * 1.0

    a = np.array([3.0, -1.0, 2.0, 0.5])
    theirs, ours = a.copy(), a.copy()
    np.testing.assert_array_equal(mlc.jit(outs, tiered=False)(ours, np.int64(4)), outs(theirs, 4))
    np.testing.assert_array_equal(ours, theirs)

    def appends(a, steps):
        seen = []
        for t in range(steps):
            seen.append(t)
            a = a + 1.0
        return a, len(seen)

    def appends_20(a):
        return appends(a, 20)

    with pytest.raises(TraceError, match=r"append\(\.\.\.\) as a statement"):  # traced trips: compiled
        mlc.jit(appends, tiered=False)(a, np.int64(3))
    got, count = mlc.jit(appends_20, tiered=False)(a)  # static trips: run as Python, as NumPy does
    np.testing.assert_array_equal(got, a + 20.0)
    assert count == 20


def in_place_calls_in_a_branch(a, b):
    if np.any(b > 2):
        b.sort()
    else:
        np.copyto(a, b)
    return a + b


@pytest.mark.parametrize("high", [True, False])
def test_a_branch_calls_an_in_place_method_or_out_function_on_an_array_it_does_not_assign(high):
    a, b = np.array([1.0, -2.0, 0.5]), np.array([4.0 if high else 0.0, -1.0, 2.0])
    theirs, ours = (a.copy(), b.copy()), (a.copy(), b.copy())
    expected = in_place_calls_in_a_branch(*theirs)
    np.testing.assert_array_equal(mlc.jit(in_place_calls_in_a_branch, tiered=False)(*ours), expected)
    for g, e in zip(ours, theirs):
        np.testing.assert_array_equal(g, e)


def test_a_view_under_another_name_is_refused_with_a_fix_that_names_a_variable():
    def f(a, b):
        v = a[1:4:2]
        v -= 0.5
        if a.sum() > -1:
            v = a[2:4]       # v is the branch's, and names a view of a: carried apart from a
            v += 0.5
        return a + v.sum()

    with pytest.raises(TraceError, match=r"an array written at line \d+, which shares its memory with 'v'.*"
                                         r"\(v = v\.copy\(\)\)"):
        mlc.jit(f, tiered=False)(np.arange(5.0), np.zeros(5))
