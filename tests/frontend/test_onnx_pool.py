"""The vectorised pool that collects ONNX's pooling cases (``_onnx_pool``) against onnx's own
loop, to the bit: drawn 1-3-D windows, strides, dilations, NaN padding of either side (left
out of a window) or zero padding counted, and the three kinds of pooling."""
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

onnx = pytest.importorskip("onnx")

from onnx.reference.ops import op_pool_common  # noqa: E402

from ._onnx_pool import fast_pool, pool  # noqa: E402


@st.composite
def _pooling(draw):
    spatial = draw(st.integers(1, 3), label="spatial dimensions")
    x_shape = [draw(st.integers(1, 2)), draw(st.integers(1, 2))] + [draw(st.integers(1, 6)) for _ in range(spatial)]
    kernel = [draw(st.integers(1, 3)) for _ in range(spatial)]
    strides = [draw(st.integers(1, 3)) for _ in range(spatial)]
    dilations = [draw(st.integers(1, 2)) for _ in range(spatial)]
    pads = [draw(st.integers(0, 2)) for _ in range(2 * spatial)]
    kind = draw(st.sampled_from(["AVG", "MAX", "LPPOOL"]), label="kind")
    count_include_pad = draw(st.sampled_from([0, 1]), label="count_include_pad")
    dtype = draw(st.sampled_from(["float32", "float64"]), label="dtype")
    return spatial, x_shape, kernel, strides, dilations, pads, kind, count_include_pad, dtype


@settings(max_examples=60, deadline=None)
@given(case=_pooling(), seed=st.integers(0, 2**32 - 1), p=st.sampled_from([1, 2, 3]))
def test_the_vectorised_pool_is_onnxs_to_the_bit(case, seed, p):
    spatial, x_shape, kernel, strides, dilations, pads, kind, count_include_pad, dtype = case
    spans = [1 + (k - 1) * d for k, d in zip(kernel, dilations)]
    # the padding onnx's pooling cases give: explicit pads, and at least one window
    assume(all(x_shape[i + 2] + pads[i] + pads[i + spatial] >= spans[i] for i in range(spatial)))
    out_shape = [(x_shape[i + 2] + pads[i] + pads[i + spatial] - spans[i]) // strides[i] + 1 for i in range(spatial)]
    x = np.random.default_rng(seed).standard_normal(x_shape).astype(dtype)
    # NaN padding is left out of a window; with count_include_pad the padding is zeros, counted
    fill = 0.0 if count_include_pad else np.nan
    padded = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + spatial]) for i in range(spatial)],
                    constant_values=fill)
    args = (padded, x_shape, kernel, strides, out_shape, kind)
    options = dict(pads_required=pads, pads=pads, dilations=dilations, count_include_pad=count_include_pad, p=p)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of a window of padding only
        try:
            want = op_pool_common.pool(*args, **options)
        except ValueError:  # the max of a window of padding only: onnx's has no answer either
            with pytest.raises(ValueError):
                pool(*args, **options)
            return
        got = pool(*args, **options)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes(), (got, want)


def test_a_pooling_type_onnx_does_not_have_is_refused():
    with pytest.raises(ValueError, match="pooling_type must be 'AVG', 'MAX' or 'LPPOOL', got 'SUM'"):
        pool(np.zeros((1, 1, 3)), (1, 1, 3), (2,), (1,), (2,), "SUM")


def test_fast_pool_is_onnxs_pool_inside_only():
    original = op_pool_common.pool
    with fast_pool():
        assert op_pool_common.pool is pool
    assert op_pool_common.pool is original


def test_an_lp_pool_of_p_2_takes_its_roots_as_onnx_does():
    """p = 2 on the 3072 windows of ONNX's lppool_2d_same_upper case: the root of each sum is
    a NumPy scalar's ``**`` in onnx's loop, which rounds a few of them differently from an
    array's ``** 0.5`` (a square root)."""
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype("float32")
    padded = np.pad(x, [(0, 0), (0, 0), (0, 1), (0, 1)])
    args = (padded, x.shape, (2, 2), (1, 1), (32, 32), "LPPOOL")
    assert pool(*args, p=2).tobytes() == op_pool_common.pool(*args, p=2).tobytes()
