"""cumsum and cumprod's one-pass kernel: NumPy's results bit for bit (one accumulator per line,
NumPy's order of operations) on every target, any axis, sizes 0 / 1 / odd, and long axes that
a quadratic scan could not finish in time."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy

from ._harness import TARGETS, arrays, run_op, shapes


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@settings(max_examples=15, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["float32", "float64", "int32", "uint8", "bool"]),
       shape=shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))
def test_scan_is_numpys_bit_for_bit(name, data, dtype, shape):
    x = data.draw(arrays(dtype, shape, special=False, bound=2.0))
    axis = data.draw(st.integers(0, len(shape) - 1), label="axis")
    out = data.draw(st.sampled_from([None, "float64", "bool"] if dtype == "bool" else [None, "float64"]),
                    label="dtype")
    with np.errstate(all="ignore"):
        want = getattr(np, name)(x, axis=axis, dtype=out)
    for target in TARGETS:
        (got,) = run_op(name, [x], target, axis=axis, dtype=out)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), f"{name} on {target}"


@pytest.mark.parametrize("shape, axis", [((1 << 20,), 0), ((3, 100_003), 1), ((100_003, 3), 0)])
def test_long_scans_on_llvm(shape, axis):
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    (got,) = run_op("cumsum", [x], "llvm", axis=axis, dtype=None)
    assert got.tobytes() == np.cumsum(x, axis=axis).tobytes()


@pytest.mark.parametrize("target", TARGETS)
def test_a_sum_starting_at_negative_zero_keeps_its_sign(target):
    x = np.array([[-0.0, -0.0, 0.0], [-0.0, 1.0, -1.0]], "float32")
    (got,) = run_op("cumsum", [x], target, axis=1, dtype=None)
    assert got.tobytes() == np.cumsum(x, axis=1).tobytes()      # [[-0, -0, 0], [-0, 1, 0]]


@pytest.mark.parametrize("fn", [np.cumprod, np.cumsum])
@pytest.mark.parametrize("values", [[complex(np.inf, 0), 2 + 0j], [1j * np.inf, 1j], [-0.0 - 0.0j, -0.0 - 0.0j],
                                    [complex(np.nan, 1), 1 + 1j]])
def test_a_complex_scan_starts_from_the_first_element_itself(fn, values):
    """(1+0j) * (inf+0j) is inf+nanj: the first output is x[0], as NumPy's, not the identity times it."""
    z = np.array(values, np.complex128)
    with np.errstate(invalid="ignore"):
        want = fn(z)
    for got in (getattr(mlc.numpy, fn.__name__)(z), mlc.jit(lambda v: fn(v))(z)):
        np.testing.assert_array_equal(got, want)
        assert (np.signbit(got.real) == np.signbit(want.real)).all()


@pytest.mark.parametrize("call, error", [
    (lambda x: mlc.numpy.diff(x, axis=2), "diff: axis 2 is out of bounds"),
    (lambda x: mlc.numpy.diff(x, axis=-3), "diff: axis -3 is out of bounds"),
    (lambda x: mlc.numpy.cumsum(x, axis=1.5), "cumsum: axis must be an int, got 1.5"),
    (lambda x: mlc.numpy.cumprod(x, axis=True), "cumprod: axis must be an int, got True"),
    (lambda x: mlc.numpy.cumsum(x, axis=2), "cumsum: axis 2 is out of bounds"),
])
def test_a_scan_or_diff_axis_out_of_range_or_not_an_int_is_refused(call, error):
    """diff used ``axis % ndim`` (axis 2 of a 2-d array diffed axis 0) and the scans int(axis)."""
    with pytest.raises(mlc.errors.ShapeError, match=error):
        call(np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize("kw", [{"prepend": 0}, {"append": 9.5}, {"prepend": -1, "append": 2}])
def test_diff_takes_a_scalar_prepend_or_append_as_numpy(kw):
    for x, axis in ((np.arange(5.0), -1), (np.arange(12.0).reshape(3, 4), 0)):
        np.testing.assert_array_equal(mlc.numpy.diff(x, axis=axis, **kw), np.diff(x, axis=axis, **kw))
