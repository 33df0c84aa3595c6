"""Dynamic axes at the call: mean, var, std and layer_norm divide by their size; indexing along them is a clear TraceError."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import TraceError

FUNCTIONS = {
    "mean": lambda x: x.mean(axis=0),
    "mean_all": lambda x: x.mean(),
    "var": lambda x: x.var(axis=0),
    "std_ddof1": lambda x: x.std(axis=0, ddof=1),
    "mean_rows": lambda x: x.mean(axis=1, keepdims=True),
}


@settings(max_examples=10, deadline=None)
@given(name=st.sampled_from(sorted(FUNCTIONS)), axis=st.sampled_from([0, 1]),
       sizes=st.lists(st.integers(2, 9), min_size=2, max_size=3))
def test_moments_over_a_dynamic_axis_match_numpy_at_every_size(name, axis, sizes):
    fn = FUNCTIONS[name]
    f = mlc.jit(fn, dynamic=("x", axis))
    for n in sizes:
        shape = (n, 3) if axis == 0 else (3, n)
        x = np.random.default_rng(n).standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(f(x), fn(x), rtol=1e-5, atol=1e-6)
    assert f.trace_count == 1


def test_layer_norm_over_a_dynamic_batch():
    gamma, beta = np.full(8, 2.0, np.float32), np.ones(8, np.float32)
    f = mlc.jit(lambda x: mlc.nn.layer_norm(x, gamma, beta), dynamic=("x", 1))
    for n in (3, 5):
        x = np.random.default_rng(n).standard_normal((2, n, 8)).astype(np.float32)
        want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * gamma + beta
        np.testing.assert_allclose(f(x), want, rtol=1e-4, atol=1e-5)


def test_the_mean_of_an_empty_dynamic_axis_is_nan_as_in_numpy():
    f = mlc.jit(lambda x: x.mean(axis=0), dynamic=("x", 0))
    np.testing.assert_array_equal(f(np.zeros((0, 3), np.float32)), np.full(3, np.nan, np.float32))


@pytest.mark.parametrize("fn, written, part", [(lambda x: x[1:], "x[1:]", "1:"), (lambda x: x[0], "x[0]", "0"),
                                               (lambda x: x[::-1, 1], "x[::-1, 1]", "::-1"),
                                               (lambda x: x[None, -1], "x[None, -1]", "-1")])
def test_indexing_into_a_dynamic_axis_is_a_trace_error_at_the_users_line(fn, written, part):
    f = mlc.jit(fn, dynamic=("x", 0))
    with pytest.raises(TraceError, match=re.escape(written) + r" of an array of shape \(x_dim0, 3\) is not "
                                         r"supported along its dynamic axes: `" + re.escape(part) + r"` indexes "
                                         r"axis 0.*only the whole axis.*Mark fewer axes dynamic.*\n  at File"):
        f(np.ones((4, 3), np.float32))


@pytest.mark.parametrize("fn", [lambda x: x[:, 0], lambda x: x[None], lambda x: x[..., ::-1] * 2,
                                lambda x: x[:, None, 1:] + x[None, :, :1].sum(), lambda x: x[0:, -1, None],
                                lambda x: x[:, None, ::2]])
def test_indexing_that_takes_a_dynamic_axis_whole_matches_numpy_at_every_size(fn):
    f = mlc.jit(fn, dynamic=("x", 0))
    for rows in (5, 1, 0, 3):
        x = np.random.default_rng(rows).standard_normal((rows, 3)).astype(np.float32)
        expected = fn(x)
        got = f(x)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)  # a sum's order may differ
    assert f.trace_count == 1


def test_an_index_computed_from_a_dynamic_size_is_a_trace_error_saying_so():
    f = mlc.jit(lambda x: np.roll(x, 1, axis=0), dynamic=("x", 0))
    with pytest.raises(TraceError, match=r"an index computed from the size of a dynamic axis \(`.*x_dim0.*`\) is "
                                         r"not supported while tracing; mark fewer axes dynamic.*\n  at File"):
        f(np.ones((4, 3), np.float32))
