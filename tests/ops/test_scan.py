"""cumsum and cumprod's one-pass kernel: NumPy's results bit for bit (one accumulator per line,
NumPy's order of operations) on every target, any axis, sizes 0 / 1 / odd, and long axes that
a quadratic scan could not finish in time."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

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
