"""A copy made inside a compiled ``if`` or loop body of an array of the code around it
(``t = x.copy()``, ``np.array(x)``, ``np.copy(x)``) belongs to that body, which may write
into it, as NumPy's code does. (The copy was once a value of the outer trace: the write into
it was refused as a write into an array the body does not assign, under the jit, ``mlc.grad``
and ``mlc.vmap`` alike.)"""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc


def copy_in_branch(x, y):
    t = x * 1.0
    if np.sum(x) > 0.0:
        t = x.copy()
        t[1:] = y[:1]
    return np.sum(t * y)


def array_in_loop(x, y):
    t = x * 1.0
    j = 0
    while j < 2 and np.sum(t) < 40.0:
        t = np.array(x)
        t[0] += y[-1] * j
        j += 1
    return np.sum(np.sin(t) * y)


def np_copy_in_branch(x, y):
    t = x
    if y[0] > x[0]:
        t = np.copy(x)
        t *= y
    return np.sum(t ** 2) + np.sum(x)


FUNCTIONS = (copy_in_branch, array_in_loop, np_copy_in_branch)

vectors = st.integers(1, 6).flatmap(lambda n: st.tuples(
    *[st.lists(st.integers(-4, 4), min_size=n, max_size=n).map(lambda v: np.array(v, "float64") / 2)] * 2))


@settings(max_examples=2, deadline=None)
@given(vectors)
def test_jit_writes_a_copy_made_in_a_branch_or_loop(xy):
    x, y = xy
    for fn in FUNCTIONS:
        xa = x.copy()
        np.testing.assert_allclose(mlc.jit(fn)(xa, y), fn(x.copy(), y), rtol=1e-12)
        np.testing.assert_array_equal(xa, x)  # the argument is left alone, as by NumPy


def _fd(fn, x, y, eps=1e-6):
    return np.array([(fn(x + e, y) - fn(x - e, y)) / (2 * eps) for e in np.eye(x.size) * eps])


@settings(max_examples=2, deadline=None)
@given(vectors)
def test_grad_and_vmap_through_a_copy_made_in_a_branch(xy):
    x, y = xy
    x = x + np.linspace(0.01, 0.02, x.size)  # away from the branch's kink
    for fn in (copy_in_branch, np_copy_in_branch):
        np.testing.assert_allclose(mlc.grad(fn)(x, y), _fd(fn, x, y), rtol=1e-5, atol=1e-6)
        xs = np.stack([x, -x])
        want = [fn(row.copy(), y) for row in xs]
        np.testing.assert_allclose(mlc.vmap(fn, in_axes=(0, None))(xs, y), want, rtol=1e-12)
