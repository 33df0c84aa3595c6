"""Long float32 sums add block by block (float32 within a block, float64 across blocks), so
their error stays near NumPy's pairwise summation instead of growing with the length."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy
from mlc.ops.library.reduce import BLOCKED_SUM_FROM, SUM_BLOCK, _sum_blocks

#: the relative error allowed for positive data: a block's float32 sum adds SUM_BLOCK / 32
#: elements per vector lane (64 roundings); one float32 accumulator per lane for 2^24
#: elements errs by about 4e-3 (2^19 additions each)
BOUND = SUM_BLOCK / 32 * np.finfo(np.float32).eps


def _relative_error(got, x, **kw):
    exact = np.sum(x.astype(np.float64), **kw)
    return float(np.max(np.abs(np.asarray(got, np.float64) - exact) / np.abs(exact)))


@pytest.mark.parametrize("n", [1 << 15, 10 ** 6 - 2, 1000003, 1 << 22])
def test_a_long_sum_of_one_value_errs_as_little_as_a_short_one(n):
    x = np.full(n, 0.1, np.float32)
    assert _relative_error(mlc.jit(lambda a: a.sum())(x), x) <= BOUND
    assert _relative_error(mlc.jit(lambda a: a.mean())(x) * n, x) <= BOUND + 1e-7


@settings(max_examples=15, deadline=None)
@given(shape=st.sampled_from([(3, 40000), (64, 1024), (2, 5, 8192), (1 << 16,), (7, 1 << 13, 1),
                              (5, 6553, 3), (33331,), (2, 17, 1999)]),
       data=st.data())
def test_sums_and_means_over_the_last_axes_match_numpy_to_a_few_ulp_of_the_exact_sum(shape, data):
    ndim = len(shape)
    first = data.draw(st.integers(0, ndim - 1), label="first reduced axis")
    axis = tuple(range(first, ndim)) if data.draw(st.booleans(), label="trailing axes") else None
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = np.random.default_rng(sum(shape)).uniform(0.5, 1.5, shape).astype(np.float32)
    got = mlc.jit(lambda a: a.sum(axis=axis, keepdims=keepdims))(x)
    assert got.shape == np.sum(x, axis=axis, keepdims=keepdims).shape and got.dtype == np.float32
    assert _relative_error(got, x, axis=axis, keepdims=keepdims) <= BOUND
    mean = mlc.jit(lambda a: a.mean(axis=axis, keepdims=keepdims))(x)
    np.testing.assert_allclose(mean, np.mean(x.astype(np.float64), axis=axis, keepdims=keepdims),
                               rtol=BOUND + 2e-7)


def test_the_blocks_divide_their_axes_and_fill_one_block():
    assert _sum_blocks([1 << 24]) == [SUM_BLOCK]
    assert _sum_blocks([4096, 4096]) == [1, SUM_BLOCK]
    assert _sum_blocks([1 << 12, 3, 512]) == [1, 3, 512]            # 1536 elements a block
    assert _sum_blocks([10 ** 6]) == [2000]                          # a divisor near the block
    assert _sum_blocks([1000003]) == [SUM_BLOCK]                     # a prime: and a tail
    assert _sum_blocks([BLOCKED_SUM_FROM - 1]) is None               # short: one stage
    assert _sum_blocks([6, 7, 11, 13, 17]) == [1, 1, 9, 13, 17]      # 11 = 9 + a tail of 2


def test_short_sums_and_column_sums_keep_one_stage():
    short = mlc.jit(lambda a: a.sum(axis=1)).lower(np.ones((8, 1024), np.float32)).mod.script()
    columns = mlc.jit(lambda a: a.sum(axis=0)).lower(np.ones((1 << 16, 4), np.float32)).mod.script()
    long = mlc.jit(lambda a: a.sum(axis=1)).lower(np.ones((2, 1 << 16), np.float32)).mod.script()
    assert "_block" not in short and "_block" not in columns
    assert "T_sum_block" in long and "float64" in long


@pytest.mark.parametrize("fn", [lambda a: a.sum(), lambda a: a.mean(), lambda a: a.sum(axis=1),
                                lambda a: a.reshape(a.shape[0], -1).mean(axis=-1)])
def test_sums_over_a_dynamic_axis_are_as_accurate_at_every_length(fn):
    """A dynamic axis is not cut into blocks (its length is known only at the call): its
    float32 elements are added in float64 instead (one float32 accumulator erred by 1e-3)."""
    f = mlc.jit(fn, dynamic=[("a", 0), ("a", 1)])
    for shape in [(5000, 1000), (3, 1 << 20), (1, 7)]:
        x = np.full(shape, 0.1, np.float32)
        got = np.asarray(f(x), np.float64)
        exact = np.asarray(fn(x.astype(np.float64)))
        assert float(np.max(np.abs(got - exact) / np.abs(exact))) <= np.finfo(np.float32).eps
    assert f.trace_count == 1


@pytest.mark.parametrize("shape", [(1 << 20,), (3, 1 << 16)])
def test_long_complex64_sums_add_in_blocks_too(shape):
    """complex64 fell back to one complex64 accumulator: 6e-4 relative error for 2^20 elements."""
    c = np.full(shape, 0.1 + 0.1j, np.complex64)
    exact = c.astype(np.complex128).sum(axis=-1)
    for got in (mlc.numpy.sum(c, axis=-1), mlc.jit(lambda v: v.mean(axis=-1))(c) * shape[-1]):
        assert got.dtype == np.complex64
        assert float(np.max(np.abs(got - exact) / np.abs(exact))) <= BOUND
