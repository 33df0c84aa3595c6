"""A name that a compiled ``if`` or loop rebinds on some paths only still names the caller's array
on the others, and NumPy writes through it there: the jitted function writes the caller's array
exactly on those paths (decided when it runs), for ``for`` and ``while`` loops, nested loops,
``if``/``else``, views and aliases bound inside a loop, ``out=`` writes and returned arguments;
with the first call eager (tiered) and compiled."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import TraceError


def in_loop(a, limit):
    for t in range(10):
        if a.sum() > limit:
            a = a * 0.5
    a[0] += 1
    return a


def in_while(a, limit, n):
    i = 0
    while i < n:
        if a.sum() > limit:
            a = a * 0.5
        i += 1
    a[0] += 1
    return a


def while_maybe_never(a, limit):
    while a.sum() > limit and a.max() > 1.0:
        a = a * 0.5
    a[0] += 1
    return a


def traced_range(a, limit, n):
    for t in range(n):       # no iteration where n is 0: a is still the argument
        a = a * 0.5 + limit * 0.0
    a[0] += 1
    return a


def nested(a, limit):
    for s in range(3):
        for t in range(10):
            if a.sum() > limit:
                a = a * 0.5
    a[-1] += 1
    return a


def if_else(a, limit):
    if a.sum() > limit:
        a = a * 0.5
    else:
        a[0] = 7.0
    a[-1] += 1
    return a


def view_in_loop(a, limit):
    b = a[:1] * 1.0
    for t in range(10):
        if a.sum() > limit:
            b = a[-1:]
    b[0] = 5.0
    return b


def alias_in_loop(a, limit):
    b = a * 2.0
    for t in range(10):
        if a.sum() > limit:
            b = a
    b[0] = 5.0
    return b


def out_write(a, limit):
    for t in range(10):
        if a.sum() > limit:
            a = a * 0.5
    np.add(a, 1.0, out=a)
    np.multiply(a, 2.0, out=a)
    return a.sum()


def written_in_loop(a, limit):
    for t in range(10):
        a[0] += 1
        if a.sum() > limit:
            a = a * 0.5
    return a


def returned(a, limit):
    for t in range(10):
        if a.sum() > limit:
            a = a * 0.5
    return a


def swap_in_if(a, b, limit):
    if a.sum() > limit:
        a, b = b, a
    a[0] = 5.0
    return a


FUNCTIONS = [in_loop, in_while, while_maybe_never, traced_range, nested, if_else, view_in_loop, alias_in_loop,
             out_write, written_in_loop, returned, swap_in_if]


def _arguments(fn, x, limit, n):
    args = [x, np.float64(limit)]
    if fn is swap_in_if:
        args.insert(1, x[::-1] + 10.0)
    if fn in (in_while, traced_range):
        args.append(np.int64(n))
    return args


@settings(max_examples=10, deadline=None)
@given(fn=st.sampled_from(FUNCTIONS), size=st.sampled_from([1, 2, 3, 5]), limit=st.sampled_from([-1e9, 1e9, 3.0]),
       n=st.integers(0, 2), tiered=st.booleans())
def test_writes_reach_the_callers_array_where_numpy_writes_it(fn, size, limit, n, tiered):
    x = np.arange(1.0, size + 1.0)
    args = _arguments(fn, x, limit, n)
    theirs = [v.copy() if isinstance(v, np.ndarray) else v for v in args]
    expected = fn(*theirs)
    jitted = mlc.jit(fn, tiered=tiered)
    for call in range(2 if tiered else 1):  # tiered: the first call eager, the next compiled
        ours = [v.copy() if isinstance(v, np.ndarray) else v for v in args]
        np.testing.assert_array_equal(jitted(*ours), expected)
        for o, t in zip(ours, theirs):
            np.testing.assert_array_equal(o, t)


def swap_in_loop(a, b):
    for t in range(10):
        if a.sum() > -1e9:
            a, b = b, a
    a[0] = 5.0
    return a


def write_view_and_base(a, b, n):
    v = b[1:]
    for t in range(n):
        b[1:] *= 0.5
        v[0] += 1
    return b


def test_what_a_compiled_loop_cannot_follow_is_refused():
    x, y = np.arange(4.0), np.arange(4.0) + 10
    with pytest.raises(TraceError, match="only the run decides"):
        mlc.jit(swap_in_loop, tiered=False)(x, y)
    with pytest.raises(TraceError, match="shares its memory with 'v'"):
        mlc.jit(write_view_and_base, tiered=False)(x, y, np.int64(2))


def view_rebound_after_a_write_through_it(a, b):
    v = b[1:] * 1.0  # (a new array: the loop carries v)
    for t in range(10):  # compiled: the `if` on a traced value
        v = b[1:]
        if b[1] > 0:
            v[0] += 1  # (a write through the view: the loop carries b)
        else:
            v = a[1:]
    a[1:] *= -1.0  # v is a view of a where the else ran: NumPy's v sees this write
    return v


@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["then", "else"])
def test_a_write_after_the_loop_into_an_array_a_variable_may_name_is_refused_or_seen(sign):
    """A variable left naming, on some paths, a view of an array the loop carries (b, written
    through it) and on others a view of one it reads (a): a write into a after the loop is
    refused, never lost (mlc returned v without it)."""
    a, b = np.array([2.0, 1.0, 0.0]), np.array([-2.0, 1.0, -3.0]) * sign
    expected = view_rebound_after_a_write_through_it(a.copy(), b.copy())
    try:
        got = mlc.jit(view_rebound_after_a_write_through_it, tiered=False)(a.copy(), b.copy())
    except TraceError as e:
        assert "only the run decides" in str(e)
        return
    np.testing.assert_array_equal(got, expected)
