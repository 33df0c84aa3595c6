"""The float constants the llvm codegen writes (:func:`mlc.backends.llvm.types.constant`) equal
NumPy's ``np.asarray(value).astype(dtype)``, bit for bit: rounding to float32 at the edges of
its range (round to the largest finite float, or overflow to infinity), subnormals, signed
zeros and NaNs, Python ints and NumPy scalars as well as floats.
"""
import struct
import warnings

import numpy as np
from hypothesis import given, settings, strategies as st

from mlc.backends.llvm.types import constant

EDGES = [0.0, -0.0, 1, True, 0.1, -1e39, 1e39, 3.4028235e38, 3.4028235677973366e38, 3.402823669209385e38,
         float("inf"), -float("inf"), float("nan"), -float("nan"), 1e-46, -1e-46, 1.4e-45, 2 ** 200,
         -(2 ** 64), 2 ** 24 + 1, 65504.0, 65520.0, np.float32(0.3), np.float64(2.5e-40), np.int64(7)]


def _numpy(dtype, value) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return struct.pack("<d", float(np.asarray(value, dtype="float64").astype(dtype)))


def _ours(dtype, value) -> bytes:
    return struct.pack("<d", constant(dtype, value).constant)


def test_edges_round_as_numpy_does():
    for dtype in ("float16", "float32", "float64"):
        for value in EDGES:
            assert _ours(dtype, value) == _numpy(dtype, value), (dtype, value)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["float16", "float32", "float64"]),
       st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2 ** 130, 2 ** 130)))
def test_any_value_rounds_as_numpy_does(dtype, value):
    assert _ours(dtype, value) == _numpy(dtype, value)
