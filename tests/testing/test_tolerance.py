"""The error budget is read off the kernels: rounding operations, math functions, reductions."""
import numpy as np
import pytest

import mlc
import mlc.testing as mt
from mlc import te


def _budget(fn, *args):
    return mt.error_budget(fn.lower(*args).mod.values())


def test_the_budget_counts_what_the_kernels_compute():
    x = np.zeros((3, 4), "float32")
    gelu = mlc.jit(lambda v: 0.5 * v * (1 + np.tanh(0.79788456 * (v + 0.044715 * v * v * v))))
    budget = _budget(gelu, x)
    assert budget.describe() == "1 (final rounding) + 8 arithmetic + 4 (tanh)"
    assert budget.ulps == 13 and budget.bounded and budget.reduction == 1
    row_sum = _budget(mlc.jit(lambda v: v.sum(axis=1) * 2), x)
    assert row_sum.reduction == 4 and "4 (reduction of 4)" in row_sum.describe()
    assert not row_sum.products and _budget(mlc.jit(lambda v: v.prod(axis=0)), x).products
    assert not _budget(mlc.jit(lambda v: v.astype("int32").prod(axis=0)), x).products  # integers wrap
    assert _budget(mlc.jit(lambda v: v.var(axis=0)), x).multiplies  # (v - mean) * (v - mean)
    assert _budget(mlc.jit(lambda v: v * v), x).multiplies
    assert not _budget(mlc.jit(lambda v: v * 2 + 1), x).multiplies and not row_sum.multiplies


def test_integer_outputs_get_no_slack_and_floats_scale_with_magnitudes():
    budget = mt.Budget(ulps=10, reduction=3, bounded=False)
    assert budget.atol("int32", [np.arange(5)]) == 0
    eps = np.finfo(np.float32).eps
    assert budget.atol("float32", [np.float32([-4, np.inf, np.nan]), np.float32(2)]) == \
        pytest.approx(10 * eps * 4 * 3)
    assert mt.Budget(ulps=2, bounded=True).atol("float64", [np.zeros(2)]) == 2 * np.finfo(np.float64).eps


def test_a_result_within_the_budget_passes_and_one_past_it_fails():
    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] * 3 + 1, name="B")   # 2 roundings + final: 3 ulps
    budget = mt.error_budget([te.create_prim_func([A, B])])
    assert budget.ulps == 3
    e = np.float32([1.5, -2.25, 1e20, 3e-30])
    within, past = e.copy(), e.copy()
    for _ in range(3):
        within = np.nextafter(within, np.float32(np.inf))
    past = np.nextafter(within, np.float32(np.inf))
    mt.assert_close(within, e, ulps=budget.ulps, atol=budget.atol("float32", []))
    with pytest.raises(AssertionError, match="4 of 4 elements differ"):
        mt.assert_close(past, e, ulps=budget.ulps, atol=budget.atol("float32", []))
