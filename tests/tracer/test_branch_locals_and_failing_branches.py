"""An ``if`` on a traced value whose branches disagree where NumPy never looks: a variable each
branch binds for itself (a view of another shape in each), and a branch whose trace fails
as NumPy's run of it would (a cast ``same_kind`` refuses, shapes that do not broadcast), which
NumPy reaches only when the condition takes it. Compared with NumPy on both outcomes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import DTypeError, ShapeError, TraceError


def _both(f, *args):
    """(NumPy's results, mlc's) of ``f`` on copies of ``args``."""
    want = f(*(a.copy() for a in args))
    got = mlc.jit(f)(*(a.copy() for a in args))
    return want, got


def views_of_other_shapes(a, b):
    if np.any(a > 2):
        v = a[3:6:2]
        v -= -1
    else:
        v = a[8:8]
        v += 0.5
    return a * b


def a_local_used_in_a_loop(a, n):
    for i in range(n):
        if a[i % 4] > 0:
            w = a[0:2]
            w += 1
        else:
            w = a[:0]
    return a


def read_by_a_closure(a):
    v = a[:2]
    total = lambda: v.sum()  # noqa: E731 (reads v when called, after the if)
    if a[0] > 0:
        v = a[2:4]
    return total()


def cast_in_the_true_branch(a, b):
    if a.sum() > 1:
        v = a[0:2]
        v += 0.5
    b[1:3] *= 2
    return a, b


def cast_in_the_false_branch(a, b):
    if a.sum() <= 1:
        b[0] = 7
    else:
        v = a[1:3]
        v *= 0.5
    return a, b


def broadcast_in_a_branch(a, b):
    if a[0] > 0:
        c = a[:3] + b[:2]
    else:
        c = a[:3] - 1
    return c


@settings(max_examples=8, deadline=None)
@given(first=st.sampled_from([-3.0, 0.0, 3.0, 9.0]), seed=st.integers(0, 2**16))
def test_a_view_each_branch_binds_for_itself_may_differ_in_shape(first, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-2, 2, 9).astype("float32")
    a[0] = first
    b = rng.uniform(-2, 2, 9).astype("float32")
    want, got = _both(views_of_other_shapes, a, b)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("signs", [(1, 1, 1, 1), (-1, 1, -1, 1), (-1, -1, -1, -1)])
@pytest.mark.parametrize("n", [3, 20])
def test_a_branch_local_view_in_a_loop(signs, n):
    """Three trips: the loop unrolled; twenty: one compiled loop, the `if` inside it."""
    a = np.array([*signs, 0.5], "float64")
    want, got = _both(a_local_used_in_a_loop, a, np.array(n))
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("first", [-1.0, 1.0])
def test_a_variable_a_closure_reads_later_stays_a_result(first):
    a = np.array([first, 2.0, 3.0, 4.0])
    want, got = _both(read_by_a_closure, a)
    np.testing.assert_allclose(got, want)


def test_a_variable_read_after_the_if_must_still_agree():
    """Read after the `if`, the variable is a result of the conditional: of one shape."""
    def f(a):
        if a[0] > 0:
            v = a[1:3]
        else:
            v = a[:0]
        return v.sum()
    with pytest.raises(TraceError, match="shape"):
        mlc.jit(f)(np.ones(5, "float32"))


def rebinds_an_argument_to_a_shorter_view(a, b):
    if b[0] > 0:
        a = a[:2]
        a += 1  # (writes the caller's array: NumPy's a[:2] is a view)
    return b


def rebinds_a_view_to_one_of_another_array(a, b, m):
    v = b[4::-1]
    v += 2.0
    if b.sum() > 1:
        v = a[0:4]  # (int64[4], where v was float64[5])
        v -= 1
    else:
        np.subtract(a, a, out=a)
    m[0:, 2:] += 1
    return a, b, m


def writes_then_rebinds(a, b):
    v = b[0:2]
    if a.sum() > 0:
        v -= 1  # (into b, through the view v names before the branch rebinds it)
        v = a[0:3]
        v *= 2
    else:
        v += 10
    return a, b


@pytest.mark.parametrize("sign", [1, -1])
def test_a_variable_bound_before_the_if_and_rebound_to_another_shape_is_the_branches_own(sign):
    """Bound before the `if`, rebound by a branch to an array of another shape or dtype and
    read nowhere after it: no result of the conditional (whose results are of one shape), and
    what each branch wrote through it (through the array it named before, through the one it
    names after) reaches those arrays, the caller's too, on both outcomes."""
    b = sign * np.ones(3)
    want_a, got_a = np.arange(4.0), np.arange(4.0)  # (the caller's arrays, written in place)
    rebinds_an_argument_to_a_shorter_view(want_a, b.copy())
    mlc.jit(rebinds_an_argument_to_a_shorter_view)(got_a, b.copy())
    np.testing.assert_array_equal(got_a, want_a)
    args = (np.array([2, -3, 3, 2, 4]), sign * np.array([3.0, -3.0, 3.0, 3.0, 4.0]), np.ones((1, 4)))
    for f, inputs in ((rebinds_a_view_to_one_of_another_array, args),
                      (writes_then_rebinds, (sign * np.array([1.0, 2.0, 3.0]), np.array([5.0, 6.0, 7.0])))):
        want, got = _both(f, *inputs)
        for w, g in zip(want, got):
            np.testing.assert_array_equal(g, w)
            assert g.dtype == w.dtype


def test_a_rebound_variable_read_after_the_if_must_still_agree():
    """Read after the `if`, a variable bound before it and rebound to another shape by one
    branch is a result of the conditional, of one shape: refused."""
    def f(a, b):
        v = b[0:2]
        if a[0] > 0:
            v = a[0:3]
        return v.sum()
    with pytest.raises(TraceError, match="shape"):
        mlc.jit(f)(np.ones(5), np.ones(4))


def test_an_augmented_assignment_after_the_if_reads_the_variable():
    """``v += 1`` after the `if` reads ``v`` (its tree only stores the name): ``v``, bound in
    both branches to a view of one shape, is a result, and the write reaches the array."""
    def f(a):
        if a.sum() > 0:
            v = a[0:2]
        else:
            v = a[1:3]
        v += 1
        return a
    for sign in (1, -1):
        a = sign * np.array([1.0, 2.0, 3.0])
        want, got = _both(f, a)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("f", [cast_in_the_true_branch, cast_in_the_false_branch])
def test_a_branch_numpy_would_refuse_to_run_raises_only_where_it_is_taken(f):
    """int32 arrays: ``v += 0.5`` cannot cast. Where the condition does not take the branch,
    the function runs as NumPy's does; where it does, NumPy raises a TypeError (its
    UFuncTypeError) and the compiled function the DTypeError (a TypeError) of the trace,
    naming the line, before it writes any argument."""
    b = np.array([1, 2, 3, 4], "int32")
    calm = np.array([1, 0, -1, 0], "int32")  # sum 0: the branch that casts is not taken
    want, got = _both(f, calm, b)
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)
    wild = np.array([5, 1, 1, 1], "int32")
    with pytest.raises(TypeError):
        f(wild.copy(), b.copy())
    a_arg, b_arg = wild.copy(), b.copy()
    with pytest.raises(DTypeError, match=r"(?s)cannot cast ufunc .* line \d+"):
        mlc.jit(f)(a_arg, b_arg)
    np.testing.assert_array_equal(a_arg, wild)
    np.testing.assert_array_equal(b_arg, b)


@pytest.mark.parametrize("first", [-1.0, 2.0])
def test_a_branch_whose_shapes_do_not_broadcast_raises_only_where_it_is_taken(first):
    a = np.array([first, 2.0, 3.0, 4.0])
    b = np.array([1.0, 2.0, 3.0])
    f = mlc.jit(broadcast_in_a_branch)
    if first > 0:
        with pytest.raises(ValueError):
            broadcast_in_a_branch(a, b)
        with pytest.raises(ShapeError):
            f(a, b)
    else:
        np.testing.assert_allclose(f(a, b), broadcast_in_a_branch(a, b))


def test_both_branches_failing_is_refused_when_traced():
    def f(a):
        if a[0] > 0:
            a[:2] += 0.5
        else:
            a[1:3] *= 0.5
        return a
    with pytest.raises(DTypeError, match="cannot cast"):
        mlc.jit(f)(np.array([1, 2, 3], "int64"))
