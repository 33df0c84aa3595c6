"""float16 ``logaddexp`` against NumPy, which computes it in float32 and rounds once."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc.testing as mt

from ._harness import TARGETS, arrays, broadcast_pair, run_op

#: float16 pairs across the range where the result cancels to near 0 (``b ~ log1p(-exp(a))``).
_GRID = np.linspace(-4.0, 1.0, 161).astype("float16")


def _check(a: np.ndarray, b: np.ndarray) -> None:
    with np.errstate(invalid="ignore"):  # inf - inf
        expected = np.logaddexp(a, b)
    for target in TARGETS:
        (got,) = run_op("logaddexp", [a, b], target)
        mt.assert_close(got, expected, ulps=1, what=f"logaddexp float16 on {target}")


def test_logaddexp_float16_near_cancellation():
    _check(_GRID[:, None], _GRID[None, :])


@settings(max_examples=25)
@given(data=st.data(), pair=broadcast_pair())
def test_logaddexp_float16_matches_numpy(data, pair):
    a = data.draw(arrays("float16", pair[0]), label="a")
    b = data.draw(arrays("float16", pair[1]), label="b")
    _check(a, b)
