"""mlc.testing's default value ranges reach the interesting region: thresholds of clamps and
activations are met, and comparisons there keep a tight tolerance."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings

import mlc
from mlc import te
from mlc.testing import arrays, elements


def _clamp(limit):
    @mlc.op
    def relu6(x):
        return te.compute(x.shape, lambda *i: te.min(te.max(x[i], te.const(0, x.dtype)), te.const(limit, x.dtype)),
                          name="relu6")
    return relu6


def test_a_relu6_clamping_at_6_5_is_found_by_default():
    with pytest.raises(AssertionError, match=r"actual 6\.5, expected 6\.0"):
        _clamp(6.5).check(lambda x: np.clip(x, 0, 6))
    _clamp(6.0).check(lambda x: np.clip(x, 0, 6))  # the right one passes


def test_default_float_arrays_mostly_stay_small_and_sometimes_span_the_range():
    small = find(arrays("float32", shape=8), lambda a: np.all(np.abs(a) <= 16) and np.any(np.abs(a) > 6))
    assert np.all(np.abs(small) <= 16)
    find(arrays("float32", shape=3), lambda a: np.any(np.abs(a) > 1e30))  # the full range still comes
    find(elements("float64"), lambda v: v == 6.25)  # thresholds' neighbours are weighted in


@settings(max_examples=30, deadline=None)
@given(a=arrays("float32", shape=4, bound=2.0))
def test_bound_still_bounds(a):
    assert np.all(np.abs(a) <= 2.0)
