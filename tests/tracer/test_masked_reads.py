"""``x[mask]`` with a traced mask, used by a reduction or written back under the same mask,
against NumPy (sizes 1, odd, uneven; masks all False, some, all True), on llvm and the CUDA
emulator; the uses that need its shape are refused naming the line and what to write."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc

TARGETS = ["llvm", "cuda-emulator"]


def masked_stats(x, lo):
    m = x > lo
    return x[m].sum(), np.mean(x[m]), np.sum(x[m] * 2 + 1), x[m].prod(), np.count_nonzero(x[m])


def masked_extremes(x):
    m = x > -10.0  # never empty for the drawn values: NumPy raises on an empty max
    return x[m].max(), np.min(x[m])


def masked_write(a, b):
    a[a > 0] = a[a > 0] ** -1.5
    b[b < a] = b[b < a] * 2 - a[b < a]
    return a, b


def masked_augmented(a):
    m = a < 0.5
    a[m] += 1.0
    return a


def integer_mean(k):
    return k[k % 3 == 1].mean()


@pytest.mark.filterwarnings("ignore:Mean of empty slice")
@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=5, deadline=None)
@given(n=st.sampled_from([1, 2, 7, 12]), m=st.sampled_from([1, 3, 5]), seed=st.integers(0, 5),
       lo=st.sampled_from([-9.0, 0.0, 0.8, 9.0]))
def test_masked_reads_match_numpy(target, n, m, seed, lo):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, m))
    a, b = r.standard_normal((n, m)), r.standard_normal((n, m))
    k = r.integers(-5, 20, (n, m))
    cases = [(masked_stats, (x, lo)), (masked_extremes, (x,)), (masked_write, (a, b)),
             (masked_augmented, (a,)), (integer_mean, (k,))]
    for fn, args in cases:
        want_args = [v.copy() if isinstance(v, np.ndarray) else v for v in args]
        got_args = [v.copy() if isinstance(v, np.ndarray) else v for v in args]
        with np.errstate(all="ignore"):
            want = fn(*want_args)
            got = mlc.jit(fn, target=target)(*got_args)
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            assert np.asarray(g).dtype == np.asarray(w).dtype, fn.__name__
            np.testing.assert_allclose(g, w, rtol=1e-12, equal_nan=True, err_msg=fn.__name__)
        for g, w in zip(got_args, want_args):
            np.testing.assert_allclose(g, w, rtol=1e-12, equal_nan=True, err_msg=fn.__name__)


def test_made_arrays_take_traced_values():
    def f(x):
        out = np.ndarray(x.shape, dtype=x.dtype)
        grid = np.linspace(0.0, 1.0, x.shape[0])
        out[:] = x * grid
        return out, isinstance(out, np.ndarray) or True
    x = np.arange(5.0)
    np.testing.assert_allclose(mlc.jit(f)(x)[0], f(x)[0])


def _pair_score(a, b):
    if a + b == 3:
        return 1
    else:
        return 0


def pairing(seq):
    n = seq.shape[0]
    best = np.zeros((n, n), np.int32)
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            best[i, j] = max(best[i, j], best[i + 1, j] if i + 1 < n else 0)
            if i < j - 1:
                best[i, j] = max(best[i, j], best[i + 1, j - 1] + _pair_score(seq[i], seq[j]))
            for k in range(i + 1, j):
                best[i, j] = max(best[i, j], best[i, k] + best[k + 1, j])
    return best


@settings(max_examples=5, deadline=None)
@given(n=st.sampled_from([1, 2, 9, 13]), seed=st.integers(0, 5))
def test_a_branch_in_a_helper_compiles_in_an_element_loop(n, seed):
    seq = np.random.default_rng(seed).integers(0, 4, n).astype(np.int32)
    np.testing.assert_array_equal(mlc.jit(pairing)(seq), pairing(seq))


@pytest.mark.parametrize("fn, match", [
    (lambda x: x[x > 0], r"(?s)x\[mask\] used where its shape is needed.*np\.count_nonzero\(mask\)"),
    (lambda x: len(x[x > 0]), r"(?s)shape is needed"),
    (lambda x: x[x > 0] + x[x < 1], r"(?s)different masks"),
    (lambda x: x[x > 0] + x, r"(?s)x\[mask\] and an array"),
])
def test_uses_of_a_mask_read_that_need_its_shape_are_refused(fn, match):
    with pytest.raises(mlc.TraceError, match=match):
        mlc.jit(fn)(np.arange(-2.0, 3.0))


def test_a_write_under_another_mask_is_refused():
    def f(x, y):
        x[x > 0] = y[y > 0]
        return x
    with pytest.raises(mlc.TraceError, match=r"(?s)the selection's mask is not the written one.*x\[x > 0\] = y"):
        mlc.jit(f)(np.arange(-2.0, 3.0), np.arange(5.0))


def test_setting_shape_reshapes_an_array_the_function_made():
    def f(x):
        y = x * 2
        y.shape = x.size
        return y

    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(mlc.jit(f)(x), f(x))
    with pytest.raises(mlc.TraceError, match=r"reshapes in place an array that is an argument"):
        mlc.jit(lambda x: setattr(x, "shape", 6))(x.copy())


_GRID = np.arange(5.0)


def test_a_numpy_array_indexed_by_a_traced_mask_says_what_to_write():
    def f(x):
        return _GRID[x > 0].sum()
    with pytest.raises(mlc.TraceError, match=r"(?s)np_array\[mask\].*_GRID\[x > 0\].*inside the function with mlc.numpy"):
        mlc.jit(f)(np.arange(-2.0, 3.0))


def compacting_escape(cs, steps):
    """The escape-time loop that compacts its arrays to the points still active (as published
    for NumPy): a shape that shrinks with the data."""
    xi = np.mgrid[0:cs.shape[0]]  # np.mgrid is NumPy's: a NumPy array, not a traced one
    counts = np.zeros(cs.shape, np.int64)
    z = np.zeros(cs.shape, cs.dtype)
    for i in range(steps):
        z = z * z + cs
        escaped = np.abs(z) > 2.0
        counts[xi[escaped]] = i + 1
        z, cs, xi = z[~escaped], cs[~escaped], xi[~escaped]
    return counts


def masked_escape(cs, steps):
    """The same loop over the whole arrays, with a mask of the active points: what the
    refusal of the compacting one says to write."""
    counts = np.zeros(cs.shape, np.int64)
    z = np.zeros(cs.shape, cs.dtype)
    active = np.ones(cs.shape, bool)
    for i in range(steps):
        z = np.where(active, z * z + cs, z)
        escaped = active & (np.abs(z) > 2.0)
        counts[escaped] = i + 1
        active &= ~escaped
    return counts


def test_a_compacting_loop_is_refused_saying_how_to_keep_the_shape():
    cs = np.linspace(-2.0, 1.0, 9) + 0.5j
    with pytest.raises(mlc.errors.TraceError) as err:
        mlc.jit(compacting_escape, static_argnums=1)(cs, 30)
    text = str(err.value)
    assert "np_array[mask]" in text and "np.mgrid" in text and "counts[xi[escaped]]" in text
    assert "z = np.where(active, z * z + c, z)" in text and "bool()/float()/int()" not in text
    np.testing.assert_array_equal(mlc.jit(masked_escape, static_argnums=1)(cs, 30), compacting_escape(cs, 30))
