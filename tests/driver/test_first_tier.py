"""mlc.build's first tier: a contraction's first call runs through NumPy, the optimised build
replaces it once ready; results against NumPy, both tiers."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.driver import first_tier
from mlc.errors import ScheduleError
from mlc.runtime.module import Module

#: The longest the optimised build may take, in seconds (a busy machine).
BUILD_BOUND_S = 120


@pytest.fixture(autouse=True)
def _small_contractions_tier(monkeypatch):
    """Every contraction takes the first tier, so that small (fast to compile) ones test it."""
    monkeypatch.setattr(first_tier, "QUICK_WORK_LIMIT", 0)


@pytest.fixture
def numpy_runs(monkeypatch):
    """How many runs the first tier's matrix products made."""
    runs = []
    matmul = first_tier._matmul

    def counted(*args):
        runs.append(1)
        matmul(*args)
    monkeypatch.setattr(first_tier, "_matmul", counted)
    return runs


def _matmul(m, n, k, dtype="float32", acc=None, transposed=False):
    acc = acc or dtype
    A = te.placeholder((k, m) if transposed else (m, k), dtype, "A")
    B = te.placeholder((n, k) if transposed else (k, n), dtype, "B")
    r = te.reduce_axis((0, k), "r")
    if transposed:  # C = A.T @ B.T
        body = lambda i, j: te.sum(A[r, i].astype(acc) * B[j, r].astype(acc), axis=r)  # noqa: E731
    else:
        body = lambda i, j: te.sum(A[i, r].astype(acc) * B[r, j].astype(acc), axis=r)  # noqa: E731
    C = te.compute((m, n), body, "C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _expected(a, b, transposed):
    return (a.T @ b.T) if transposed else a @ b


sizes = st.sampled_from([1, 3, 7, 16, 33])


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=sizes, n=sizes, k=sizes, transposed=st.booleans())
def test_first_call_runs_numpy_then_the_optimised_build(m, n, k, transposed, numpy_runs):
    numpy_runs.clear()  # (one fixture for every example)
    rng = np.random.default_rng(0)
    a = rng.random((k, m) if transposed else (m, k), dtype="float32")
    b = rng.random((n, k) if transposed else (k, n), dtype="float32")
    expected = _expected(a.astype("float64"), b.astype("float64"), transposed)
    lib = mlc.build(_matmul(m, n, k, transposed=transposed), "llvm", tiered=True)
    assert isinstance(lib, first_tier.FirstTierModule) and lib.is_first_tier
    f = lib["main"]
    c = np.full((m, n), np.nan, "float32")
    f(a, b, c)
    assert numpy_runs == [1]
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)

    built = lib.wait(timeout=BUILD_BOUND_S)
    assert isinstance(built, Module) and not lib.is_first_tier
    # the function the caller holds runs the optimised build's code now
    assert f.kernel is built["main"].kernel and f.checked_kernel is built["main"].checked_kernel
    c[:] = np.nan
    f(a, b, c)
    assert numpy_runs == [1]
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)


def test_int8_product_is_exact_in_both_tiers():
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (5, 9)).astype("int8")
    b = rng.integers(-128, 128, (9, 4)).astype("int8")
    a[0], b[:, 0] = -128, -128  # the largest products
    lib = mlc.build(_matmul(5, 4, 9, "int8", acc="int32"), "llvm", tiered=True)
    c = np.zeros((5, 4), "int32")
    lib["main"](a, b, c)
    expected = np.matmul(a, b, dtype="int32")
    np.testing.assert_array_equal(c, expected)
    lib.wait(timeout=BUILD_BOUND_S)
    c[:] = 0
    lib["main"](a, b, c)
    np.testing.assert_array_equal(c, expected)


def test_batched_contraction_runs_einsum():
    A = te.placeholder((2, 3, 5), "float64", "A")
    B = te.placeholder((5, 4), "float64", "B")
    r = te.reduce_axis((0, 5), "r")
    C = te.compute((2, 3, 4), lambda p, i, j: te.sum(A[p, i, r] * B[r, j], axis=r), "C")
    lib = mlc.build(te.create_prim_func([A, B, C]), "llvm", tiered=True)
    rng = np.random.default_rng(2)
    a, b = rng.random((2, 3, 5)), rng.random((5, 4))
    c = np.empty((2, 3, 4))
    assert isinstance(lib, first_tier.FirstTierModule) and lib.is_first_tier  # (its build begins after a call)
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-12)
    lib.wait(timeout=BUILD_BOUND_S)
    c[:] = np.nan
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-12)


def test_an_illegal_schedule_is_raised_by_the_next_call():
    def bad(sch):
        sch.get_block("no_such_block")
    lib = mlc.build(_matmul(4, 4, 4), "llvm", bad, tiered=True)
    a = np.ones((4, 4), "float32")
    c = np.empty((4, 4), "float32")
    lib["main"](a, a, c)  # NumPy's run; then the build, which fails
    np.testing.assert_array_equal(c, a @ a)
    with pytest.raises(ScheduleError):
        lib.wait(timeout=BUILD_BOUND_S)
    with pytest.raises(ScheduleError):
        lib["main"](a, a, c)


def test_untiered_and_other_computations_build_at_once():
    assert not isinstance(mlc.build(_matmul(4, 4, 4), "llvm", tiered=False), first_tier.FirstTierModule)
    A = te.placeholder((8, 8), "float32", "A")
    r = te.reduce_axis((0, 8), "r")
    half = te.reduce_axis((0, 4), "half")
    cases = [
        te.compute((8, 8), lambda i, j: te.sum(A[i, half] * A[half, j], axis=half), "C"),  # half of an axis
        te.compute((8, 8), lambda i, j: A[i, j] * 2, "C"),
        te.compute((8, 8, 2), lambda i, j, q: te.sum(A[i, r] * A[r, j], axis=r), "C"),  # q read by no factor
    ]
    product = te.compute((8, 8), lambda i, j: te.sum(A[i, r] * A[r, j], axis=r), "P")
    relu = te.compute((8, 8), lambda i, j: te.max(product[i, j], 0), "C")  # two blocks
    for C in [*cases, relu]:
        func = te.create_prim_func([A, C])
        assert first_tier.contraction(func) is None
        assert not isinstance(mlc.build(func, "llvm", tiered=True), first_tier.FirstTierModule)


def test_int32_products_that_may_wrap_are_not_tiered():
    assert first_tier.contraction(_matmul(4, 4, 4, "int32")["main"]) is None
    assert first_tier.contraction(_matmul(4, 4, 4, "int8", acc="int32")["main"]) is not None
