"""A view that covers a whole array (``b[0:n]``, ``b[:]``, ``b[...]``), taken and written inside a
compiled ``if`` or loop body from an array of the code around it, writes that array as NumPy's
does. (Such a view was the outer array itself, not the body's stand-in for it, and the write
was refused as one that would be lost; a view of part of the array was fine.)"""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc


def whole_slice_in_branch(a, b):
    if np.any(a > 2):
        v = b[0:b.shape[0]]
        v += 3
    return a * 2


def colon_and_ellipsis_in_loop(a, b):
    k = 0
    while k < 2 and b.sum() < 40:
        v = b[:]
        v *= 2
        w = a[...]
        w -= 1
        k += 1
    return b + 0


@settings(max_examples=2, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(*[st.lists(st.integers(-4, 4), min_size=n, max_size=n)] * 2)),
       st.sampled_from(["int64", "float32"]))
def test_a_whole_view_written_in_a_branch_or_loop_reaches_the_array(ab, dtype):
    for fn in (whole_slice_in_branch, colon_and_ellipsis_in_loop):
        a, b = (np.array(v, dtype) for v in ab)
        mine, theirs = (a.copy(), b.copy()), (a.copy(), b.copy())
        np.testing.assert_array_equal(mlc.jit(fn)(*theirs), fn(*mine))
        for got, want in zip(theirs, mine):
            np.testing.assert_array_equal(got, want)
