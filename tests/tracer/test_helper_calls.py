"""Helpers a jitted function calls: their own branches compile, and a helper called as a
statement inside a compiled loop may write into the arrays it is given (they are carried by
the loop); one that changes Python objects is refused in a traced loop, and a loop over a
static range that calls it runs as Python."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc


def _relax(p, b, sweeps):
    for _ in range(sweeps):
        q = p.copy()
        p[1:-1] = 0.5 * (q[2:] + q[:-2]) - b[1:-1]


def relax_until_still(p, b):
    change = 1.0
    steps = 0
    while change > 1e-3:
        before = p.copy()
        _relax(p, b, 3)
        change = np.abs(p - before).max()
        steps += 1
        if steps > 200:
            change = 0.0
    return steps


@settings(max_examples=4, deadline=None)
@given(n=st.sampled_from([3, 8, 13]), seed=st.integers(0, 3))
def test_a_helper_writing_an_argument_inside_a_traced_while_loop(n, seed):
    r = np.random.default_rng(seed)
    p, b = r.random(n), 0.01 * r.random(n)
    want_p, got_p = p.copy(), p.copy()
    want = relax_until_still(want_p, b)
    got = mlc.jit(relax_until_still)(got_p, b)
    assert int(got) == want
    np.testing.assert_allclose(got_p, want_p, rtol=1e-12)


_LOG = []


def _record(x):
    _LOG.append(x)


def logging_loop(x):
    total = x.sum()
    while total > 1.0:
        _record(total)
        total = total / 2
    return total


def test_a_helper_changing_python_objects_is_refused_in_a_traced_loop():
    with pytest.raises(mlc.TraceError, match=r"(?s)calls _record\(\.\.\.\) as a statement.*_record\(total\)"):
        mlc.jit(logging_loop)(np.ones(4))


def test_a_static_loop_calling_such_a_helper_runs_as_python():
    def f(x):
        for i in range(12):
            _record(i)
            x = x + 1
        return x
    _LOG.clear()
    np.testing.assert_array_equal(mlc.jit(f)(np.zeros(2)), np.full(2, 12.0))
    assert _LOG == list(range(12))
