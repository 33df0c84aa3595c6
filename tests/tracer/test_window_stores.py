"""Stores into slices of traced bounds loop over the slice's elements (mlc.numpy.window_stores).

``C[i, :i + 1] *= beta`` and ``C[i, :i + 1] += alpha * A[i, k] * A[:i + 1, k]`` (a symmetric
rank-k update, as written for NumPy) store element by element, so the loop nest around them
is one element-loop kernel; a value that reads the stored array elsewhere than at the element
stored (``y[:k] += alpha * np.flip(y[:k])``) keeps NumPy's meaning (the whole value before
any of it is stored). Differential tests against NumPy, sizes 1, odd and even."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from tests.cuda.conftest import needs_gpu
from tests.tracer.test_call_overhead import crc16
from tests.tracer.test_loop_slices import levinson as durbin, syrk  # npbench's, as written for NumPy


def syr2k(alpha, beta, C, A, B):
    for i in range(A.shape[0]):
        C[i, :i + 1] *= beta
        for k in range(A.shape[1]):
            C[i, :i + 1] += (A[:i + 1, k] * alpha * B[i, k] + B[:i + 1, k] * alpha * A[i, k])


def reflect(y, alpha):
    for k in range(1, y.shape[0]):
        y[:k] += alpha * np.flip(y[:k])  # reads y[k - 1 - j] while y[j] is stored: a hazard
    return y


def scratch_rows(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        acc = np.zeros(x.shape[1])  # a new array in each iteration, written element by element
        for j in range(x.shape[1]):
            acc[j] = x[i, j] * 2 + acc[j - 1]
        for j in range(x.shape[1]):
            out[i, j] = acc[x.shape[1] - 1 - j]
    return out


def transpose_lower(x):
    for i in range(x.shape[0]):
        x[i, :i] = x[:i, i] * 2 + x[i, :i]  # reads column i of the array it stores row i of
    return x


def fill_upper(x, v):
    for i in range(x.shape[0]):
        x[i, i + 1:] = v[i]       # a traced scalar
        x[i, :i] = 3              # a Python int into a float array
    return x


def truncate(a):
    for i in range(a.shape[0]):
        a[i, :i] = a[i, :i] * 1.5  # a float value stored into an int array (NumPy's unsafe cast)
    return a


def _kernels(fn, *args):
    lowered = mlc.jit(fn, static_argnums=tuple(n for n, a in enumerate(args) if np.ndim(a) == 0)).lower(*args)
    assert not any(b.op in ("for_loop", "while_loop") for b in lowered.graph.bindings)
    return [b.attr("func") for b in lowered.graph.bindings if b.op == "call_tir"]


@settings(max_examples=6, deadline=None)
@given(n=st.sampled_from([1, 2, 7, 12]), m=st.sampled_from([1, 3, 8]), seed=st.integers(0, 9))
def test_rank_k_updates_match_numpy(n, m, seed):
    rng = np.random.default_rng(seed)
    C, A, B = rng.random((n, n)), rng.random((n, m)), rng.random((n, m))
    for fn, args in ((syrk, (1.5, 1.2, C, A)), (syr2k, (1.5, 1.2, C, A, B))):
        want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        got = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        fn(*want)
        mlc.jit(fn, static_argnums=(0, 1))(*got)
        np.testing.assert_allclose(got[2], want[2], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [syrk, syr2k])
def test_a_rank_k_update_is_one_element_loop_kernel(fn):
    """Before, each store was three kernels per iteration (read the row, a masked where over
    it, write it back) inside graph loops."""
    rng = np.random.default_rng(0)
    args = (1.5, 1.2, rng.random((9, 9))) + tuple(rng.random((9, 21)) for _ in range(fn.__code__.co_argcount - 3))
    calls = _kernels(fn, *args)
    assert len(calls) == 1 and "element_loop" in calls[0], calls


@settings(max_examples=6, deadline=None)
@given(n=st.sampled_from([1, 2, 5, 10, 13]), seed=st.integers(0, 9))
def test_values_reading_the_stored_array_elsewhere_keep_numpy_meaning(n, seed):
    rng = np.random.default_rng(seed)
    y, x = rng.standard_normal(n), rng.standard_normal((n, n))
    np.testing.assert_allclose(mlc.jit(reflect)(y.copy(), 0.5), reflect(y.copy(), 0.5), rtol=1e-12)
    np.testing.assert_allclose(mlc.jit(transpose_lower)(x.copy()), transpose_lower(x.copy()), rtol=1e-12)


@settings(max_examples=5, deadline=None)
@given(n=st.sampled_from([1, 3, 8]), seed=st.integers(0, 9))
def test_scalar_values_and_casts_store_as_numpy(n, seed):
    rng = np.random.default_rng(seed)
    x, v = rng.standard_normal((n, n)), rng.standard_normal(n)
    np.testing.assert_array_equal(mlc.jit(fill_upper)(x.copy(), v), fill_upper(x.copy(), v))
    a = rng.integers(-50, 50, (n, n)).astype(np.int32)
    got = mlc.jit(truncate)(a.copy())
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, truncate(a.copy()))
    assert len(_kernels(fill_upper, np.zeros((9, 9)), np.zeros(9))) == 1


@settings(max_examples=5, deadline=None)
@given(n=st.sampled_from([1, 2, 7, 16]), m=st.sampled_from([1, 5]), seed=st.integers(0, 9))
def test_loops_staging_values_and_making_arrays_match_numpy(n, m, seed):
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.0, 0.2, n)
    np.testing.assert_allclose(mlc.jit(durbin)(r), durbin(r), rtol=1e-10, atol=1e-12)
    x = rng.standard_normal((n, m))
    np.testing.assert_allclose(mlc.jit(scratch_rows)(x), scratch_rows(x), rtol=1e-12)


@pytest.mark.parametrize("fn, args", [(durbin, (np.linspace(0.01, 0.1, 12),)),
                                      (scratch_rows, (np.ones((40, 5)),))])
def test_staged_stores_and_new_arrays_are_element_code(fn, args):
    """A store staged through a new array (the value reads the stored array elsewhere), and an
    np.zeros made in a loop's body, keep the loop around them one element-loop kernel."""
    calls = _kernels(fn, *args)
    assert len([c for c in calls if "element_loop" in c]) == 1, calls
    assert len(calls) <= 3, calls  # and the kernels writing y[0] before the loop


@needs_gpu
def test_loop_stores_staged_stores_and_main_constants_on_the_gpu():
    """The same programs with cupy arrays on a GPU, where there is one: element-loop kernels
    of stores into slices, staged stores, arrays made in a loop, and main's own constants."""
    import cupy
    rng = np.random.default_rng(5)
    C, A = rng.random((9, 9)), rng.random((9, 21))
    want = C.copy()
    syrk(1.5, 1.2, want, A)
    got = cupy.asarray(C)
    mlc.jit(syrk, static_argnums=(0, 1), target="cuda")(1.5, 1.2, got, cupy.asarray(A))
    np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=1e-12)
    r, x = rng.uniform(0.0, 0.2, 33), rng.standard_normal((40, 5))
    for fn, arg in ((durbin, r), (scratch_rows, x)):
        f = mlc.jit(fn, target="cuda")
        for _ in range(2):  # the second call reuses main's constants
            np.testing.assert_allclose(cupy.asnumpy(f(cupy.asarray(arg))), fn(arg), rtol=1e-10, atol=1e-12)
    data = rng.integers(0, 256, 300).astype(np.uint8)
    assert int(mlc.jit(crc16, target="cuda")(cupy.asarray(data))) == crc16(data)


def test_an_augmented_store_is_found_written_when_python_builds_its_slice_twice():
    """Python 3.12 builds ``x[:k] += v``'s slice once for the read and again for the store
    (BINARY_SLICE, STORE_SLICE): the store must still see that ``+=`` wrote the window."""
    from mlc.numpy.windows import _same_key
    k = object()
    assert _same_key((slice(None, k),), (slice(None, k),))
    assert not _same_key((slice(None, k),), (slice(None, object()),))
    assert not _same_key((slice(0, k),), (slice(None, k),))
