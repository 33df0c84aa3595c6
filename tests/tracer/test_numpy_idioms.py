"""Idioms of published NumPy code (textbook, cookbook and Rosetta-code style) under ``@mlc.jit``,
each against NumPy on copies of the same arguments; sizes drawn by Hypothesis (1 and odd ones).

Each test guards one construct that mlc once got wrong or refused.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import TraceError

from benchmarks.corpus.programs import PROGRAMS

SIDES = st.integers(1, 6)


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _same(fn, *args, rtol=1e-12, atol=1e-12, **kwargs):
    """``fn`` under the jit and in NumPy: equal results and equal array arguments afterwards."""
    mine = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    theirs = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = mlc.jit(fn, **kwargs)(*mine)
    want = fn(*theirs)
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w), (np.shape(g), np.shape(w))
        assert np.asarray(g).dtype == np.asarray(w).dtype, (np.asarray(g).dtype, np.asarray(w).dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    for m, t in zip(mine, theirs):
        if isinstance(t, np.ndarray):
            np.testing.assert_allclose(m, t, rtol=rtol, atol=atol)


# ------------------------------------------------------------------ x[i, j] is a scalar, not a view

def _read_then_overwrite(img):
    old = img[0, -1]
    img[0, -1] = 1.0
    img[0, -1] += old
    return old


def _dither_row(img):
    """Floyd-Steinberg's inner step along the first row: the old value, read before the write,
    carries the error."""
    for x in range(img.shape[1]):
        old = img[0, x]
        new = 1.0 if old > 0.5 else 0.0
        img[0, x] = new
        if x + 1 < img.shape[1]:
            img[0, x + 1] += (old - new) * 7 / 16
    return img


@settings(max_examples=8, deadline=None)
@given(rows=SIDES, cols=SIDES)
def test_an_element_read_is_a_copy_that_later_writes_leave_alone(rows, cols):
    img = np.random.default_rng(rows * 7 + cols).random((rows, cols))
    _same(_read_then_overwrite, img)
    _same(_dither_row, img)


def test_an_index_with_a_slice_or_ellipsis_is_still_a_view():
    def f(x):
        v = x[0, ...]
        x[0, 0] = 5.0
        w = x[0, :]
        return v + w

    _same(f, _data((2, 3)))


# ------------------------------------------------------------------ a chain of dependent gathers

def _backtrack(back, V):
    """Viterbi's back-tracking: each step reads at the position the step before read."""
    T = back.shape[0]
    path = np.zeros(T, dtype=int)
    path[-1] = np.argmax(V[-1])
    for t in range(T - 2, -1, -1):
        path[t] = back[t + 1, path[t + 1]]
    return path


@settings(max_examples=4, deadline=None)
@given(steps=st.integers(1, 9), states=st.integers(1, 4))
def test_a_back_tracking_chain_of_gathers_compiles_and_matches(steps, states):
    rng = np.random.default_rng(steps * 5 + states)
    _same(_backtrack, rng.integers(0, states, (steps, states)), rng.random((steps, states)))


def test_a_chain_of_gathers_is_not_inlined_into_one_kernel():
    """Each link of the chain is computed once, into a buffer: inlined, the kernel doubled
    with every link (a ten-step chain took minutes to compile)."""
    from mlc.passes.graph.pipeline import GRAPH_PIPELINE, run_graph_passes

    graph = mlc.jit(_backtrack).trace(np.zeros((8, 3), int), np.zeros((8, 3))).graph
    upto = [p.__name__ for p in GRAPH_PIPELINE].index("fuse_ops") + 1
    fused = run_graph_passes(graph, GRAPH_PIPELINE[:upto])
    takes = [b.attr("body").ops().count("take") for b in fused.bindings if b.op == "fused"]
    assert sum(takes) == 7 and max(takes) == 1, takes


# ------------------------------------------------------------------ Python scalars of traced values

def _scalars(x):
    m = x.max().item()
    f = float(x.sum())
    i = int(np.argmax(x))
    r = math.sqrt(float(x @ x)) + math.floor(x[0]) + int(x[-1])
    return m + f + i + r, x[i] * 2, np.float32(x.mean()), x.item(0) + x.item(-1)


def _float32_of_a_sum(x):
    return x.astype(np.float32) * np.float32(x.sum())


@settings(max_examples=6, deadline=None)
@given(n=SIDES)
def test_float_int_item_and_math_of_traced_values_are_traced_scalars(n):
    x = _data(n, n) * 3
    _same(_scalars, x)
    _same(_float32_of_a_sum, x, rtol=1e-6)


def test_float_of_an_array_of_several_elements_is_refused_as_numpy_does():
    def f(x):
        return float(x)

    with pytest.raises(TraceError, match="only an array of one element"):
        mlc.jit(f)(np.ones(3))


# ------------------------------------------------------------------ index arithmetic, polynomials, calculus

def _calculus(f, x, p):
    flat = np.argmax(f)
    rows, cols = np.unravel_index(flat, f.shape)
    back = np.ravel_multi_index((rows, cols), f.shape)
    grads = np.gradient(f)
    return (rows, cols, back, np.polyval(p, x), np.trapezoid(x * x, x), np.trapezoid(f, dx=0.5, axis=0),
            grads[0], grads[1], np.gradient(x, 0.25), np.gradient(f, 2.0, axis=1, edge_order=2))


@settings(max_examples=6, deadline=None)
@given(rows=st.integers(3, 6), cols=st.integers(3, 6), degree=st.integers(1, 4))
def test_unravel_index_polyval_trapezoid_and_gradient_match_numpy(rows, cols, degree):
    rng = np.random.default_rng(rows * 100 + cols * 10 + degree)
    x = np.sort(rng.random(cols))
    _same(_calculus, rng.standard_normal((rows, cols)), x, rng.standard_normal(degree + 1), rtol=1e-12)


def test_gradient_with_coordinate_arrays_says_what_to_write():
    def f(y, x):
        return np.gradient(y, x)

    with pytest.raises(TraceError, match="coordinate arrays"):
        mlc.jit(f)(np.ones(4), np.arange(4.0))


# ------------------------------------------------------------------ x.flat

def _flat(x):
    first = x.flat[0]
    x.flat[x.size - 1] = -1.0
    x.T.flat[1 % x.size] = 7.0  # C order of the transposed view
    return first + x.flat[1 % x.size], x.flat[::2]


@settings(max_examples=6, deadline=None)
@given(rows=SIDES, cols=SIDES)
def test_flat_reads_and_writes_in_c_order(rows, cols):
    _same(_flat, _data((rows, cols), rows * 10 + cols))


# ------------------------------------------------------------------ index lists holding traced integers

_lu_partial_pivoting = PROGRAMS["lu_partial_pivoting"].fn  # row swaps by fancy-index assignment


def _swap_columns(A):
    j = np.argmin(A[0])
    A[:, [0, j]] = A[:, [j, 0]]
    return A[[j, 0, j]]


@settings(max_examples=6, deadline=None)
@given(n=SIDES)
def test_row_swaps_at_a_traced_pivot(n):
    _same(_lu_partial_pivoting, _data((n, n), n), rtol=1e-10, atol=1e-12)
    _same(_swap_columns, _data((n + 1, n), n + 1))


# ------------------------------------------------------------------ complex comparisons

def _complex_comparisons(z, w):
    return z < w, z <= w, z > w, z >= w, z * np.conj(z) > 0.5, np.less(2.0, z), z.real > 0


_escape_times = PROGRAMS["mandelbrot_quickstart"].fn  # NumPy's quickstart Mandelbrot set, as written there


PARTS = st.sampled_from([0.0, 1.0, -1.0, 0.5, np.nan])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's comparisons of NaN
@settings(max_examples=8, deadline=None)
@given(parts=st.lists(st.tuples(PARTS, PARTS, PARTS, PARTS), min_size=1, max_size=6))
def test_complex_values_compare_in_numpys_order(parts):
    z = np.array([complex(a, b) for a, b, _, _ in parts])
    w = np.array([complex(c, d) for _, _, c, d in parts])
    _same(_complex_comparisons, z, w)
    _same(_complex_comparisons, z.astype(np.complex64), w.astype(np.complex64))


@settings(max_examples=4, deadline=None)
@given(rows=SIDES, cols=SIDES)
def test_the_quickstart_mandelbrot(rows, cols):
    x = np.linspace(-2, 0.8, cols)
    y = np.linspace(-1.4, 1.4, rows)
    _same(_escape_times, x[None, :] + 1j * y[:, None], 12, static_argnames=("maxit",))


# ------------------------------------------------------------------ variables first bound inside a compiled loop

def _power_iteration(A):
    b = np.ones(A.shape[1])
    lam = 0.0
    for _ in range(50):  # compiled (more than a few iterations), leaving early on a traced test
        b_new = A @ b
        b_new = b_new / np.linalg.norm(b_new)
        lam_new = b_new @ A @ b_new
        if abs(lam_new - lam) < 1e-10:
            break
        b = b_new
        lam = lam_new
    return lam_new, b_new


@settings(max_examples=5, deadline=None)
@given(n=SIDES)
def test_a_variable_first_bound_in_a_compiled_loop_is_bound_after_it(n):
    a = _data((n, n), n)
    _same(_power_iteration, a @ a.T + n * np.eye(n), rtol=1e-9, atol=1e-12)


def _last_row_scaled(A):
    total = np.zeros(A.shape[1])
    for row in A:  # compiled over more than a few rows
        scaled = row * 2.0
        total += scaled
    return scaled, total


@settings(max_examples=3, deadline=None)
@given(n=SIDES)
def test_a_variable_first_bound_in_a_compiled_loop_over_rows_is_bound_after_it(n):
    _same(_last_row_scaled, _data((n + 9, n), n))


def test_a_variable_first_bound_in_a_loop_over_a_traced_range_is_named_in_the_refusal():
    def f(x, n):
        for i in range(n):
            last = x * i
        return last

    with pytest.raises(TraceError, match=r"variable 'last' is first assigned inside the for loop at line"):
        mlc.jit(f)(np.ones(3), np.int64(4))


def test_a_variable_bound_in_one_branch_of_a_traced_if_is_named_in_the_refusal():
    def f(x):
        if x.sum() > 0:
            y = x
        return y

    with pytest.raises(TraceError, match=r"variable 'y' is assigned in only one branch of the `if` at line"):
        mlc.jit(f)(np.ones(3))


# ------------------------------------------------------------------ boolean masks over rows

def _kmeans_step(X, centroids):
    labels = np.argmin(((X[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    new = centroids.copy()
    for j in range(centroids.shape[0]):
        members = labels == j
        if members.any():
            new[j] = X[members].mean(axis=0)
    sums = np.zeros_like(centroids)
    np.add.at(sums, labels, X)
    counts = np.bincount(labels, minlength=centroids.shape[0]).astype(float)
    nonempty = counts > 0
    again = centroids.copy()
    again[nonempty] = sums[nonempty] / counts[nonempty, None]
    far = X[labels == labels[0]]  # never empty (NumPy raises on the max of none)
    return new, again, (far * np.array([1.0, -2.0])).sum(), far.max(axis=0), far.sum(), np.mean(far)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 9), k=st.integers(1, 4))
def test_rows_selected_by_a_mask_are_reduced_and_written_as_numpy_does(n, k):
    rng = np.random.default_rng(n * 10 + k)
    X = rng.standard_normal((n, 2))
    with np.errstate(invalid="ignore"):
        _same(_kmeans_step, X, rng.standard_normal((k, 2)), rtol=1e-12)


# ------------------------------------------------------------------ input validation

def _validated_log(x):
    if x.ndim != 1:
        raise TypeError("x must be 1-D")
    elif np.any(x <= 0):
        raise ValueError("x must be positive")
    assert np.all(np.isfinite(x)), "x must be finite"
    x[0] = 1.0
    return np.log(x)


@settings(max_examples=6, deadline=None)
@given(n=SIDES, bad=st.sampled_from([None, -1.0, np.inf]))
def test_a_raise_under_a_traced_condition_is_checked_when_the_function_runs(n, bad):
    x = np.random.default_rng(n).random(n) + 0.5
    if bad is None:
        _same(_validated_log, x)
        return
    x[-1] = bad
    mine = x.copy()
    with pytest.raises(ValueError if bad < 0 else AssertionError) as caught:
        mlc.jit(_validated_log)(mine)
    with pytest.raises(type(caught.value)):
        _validated_log(x.copy())
    np.testing.assert_array_equal(mine, x)  # nothing written, as NumPy raised first
    assert ("positive" if bad < 0 else "finite") in str(caught.value)


# ------------------------------------------------------------------ padding modes, rotations, cross, windows

@settings(max_examples=8, deadline=None)
@given(rows=SIDES, cols=SIDES, before=st.integers(0, 7), after=st.integers(0, 7),
       mode=st.sampled_from(["edge", "wrap", "reflect", "symmetric"]))
def test_pad_modes_that_copy_elements(rows, cols, before, after, mode):
    def f(u):
        return np.pad(u, ((before, after), (after, before)), mode=mode), np.pad(u, 1, mode=mode)

    _same(f, _data((rows, cols), rows + cols))


def _rearranged(img, r, v):
    from numpy.lib.stride_tricks import sliding_window_view
    win = sliding_window_view(img, 2, axis=0)
    return (np.rot90(img), np.rot90(img, 2), np.rot90(img, -1), np.rot90(img, 1, axes=(1, 0)), np.flipud(img),
            np.fliplr(img), np.cross(r, v), np.cross(r[:, :2], v[:, :2]), win.mean(axis=-1),
            sliding_window_view(img[0], 1).sum(axis=-1))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # NumPy's cross of 2-vectors
@settings(max_examples=6, deadline=None)
@given(rows=st.integers(2, 6), cols=SIDES)
def test_rotations_flips_cross_products_and_sliding_windows(rows, cols):
    _same(_rearranged, _data((rows, cols), rows), _data((cols, 3), 1), _data((cols, 3), 2))


def test_a_pad_mode_that_does_not_trace_says_which_do():
    with pytest.raises(TraceError, match="'edge', 'wrap', 'reflect'"):
        mlc.jit(lambda u: np.pad(u, 1, mode="maximum"))(np.ones(3))


# ------------------------------------------------------------------ nested helpers with control flow, np.vectorize

def _nested_helper(x):
    def flip_if_negative(t):
        if t.sum() > 0:
            return t
        return -t
    return flip_if_negative(x) + flip_if_negative(-2 * x)


def _piecewise(t):
    if t > 0:
        return t * t
    return -t


def _vectorized(x, y):
    def clipped(a, b):
        return min(a, b) if a > 0 else 0.0

    return np.vectorize(_piecewise)(x), np.vectorize(clipped)(x, y[:1]), np.vectorize(_piecewise, otypes=[float])(2.0)


@settings(max_examples=6, deadline=None)
@given(rows=SIDES, cols=SIDES)
def test_nested_helpers_with_control_flow_and_vectorized_functions(rows, cols):
    x = _data((rows, cols), rows)
    _same(_nested_helper, x)
    _same(_vectorized, x, _data((1, cols), cols))


# ------------------------------------------------------------------ a loop's index after it; max of a list

def _newton_iterations(c):
    x = np.ones_like(c)
    for it in range(40):  # compiled, leaving early
        step = (x * x - np.abs(c) - 1) / (2 * x)
        x = x - step
        if np.all(np.abs(step) < 1e-12):
            break
    for j in range(3):  # unrolled
        x = x + 0.0
    return x, it, j


def _norms(X):
    norms = [np.sqrt(row @ row) for row in X]
    return max(norms), min(norms), max(X[0]), min(*norms, 0.5), sum(norms)


@settings(max_examples=5, deadline=None)
@given(n=SIDES)
def test_a_loops_index_after_it_and_max_of_a_list_of_traced_values(n):
    _same(_newton_iterations, _data(n, n) * 4)
    _same(_norms, _data((n, 2), n))


# ------------------------------------------------------------------ np.round with decimals

@settings(max_examples=6, deadline=None)
@given(n=SIDES, decimals=st.integers(-2, 3), dtype=st.sampled_from(["float64", "float32"]))
def test_round_to_decimals_as_numpy_scales_and_rounds(n, decimals, dtype):
    x = (_data(n, n) * 1000).astype(dtype)
    _same(lambda a: (np.round(a, decimals), np.around(a, decimals), a.round(decimals)), x, rtol=0, atol=0)


# ------------------------------------------------------------------ np.r_ and np.c_

def _index_tricks(x, M):
    return np.r_[0.0, x, 0.0], np.r_[x, 1:4, x[:1]], np.c_[x, x ** 2], np.c_[M, x], np.r_[M, M], np.r_[0:3]


@settings(max_examples=5, deadline=None)
@given(n=SIDES)
def test_r_and_c_of_traced_arrays(n):
    _same(_index_tricks, _data(n, n), _data((n, 2), n + 1))


# ------------------------------------------------------------------ np.apply_along_axis

def _spread(r):
    return r.max() - r.min()


def _clipped_scaled(r, scale):
    if r.sum() > 0:
        return r * scale
    return -r


def _applied(x):
    return (np.apply_along_axis(_spread, 1, x), np.apply_along_axis(_spread, 0, x),
            np.apply_along_axis(_clipped_scaled, -1, x, 2.0), np.apply_along_axis(np.cumsum, 0, x))


@settings(max_examples=5, deadline=None)
@given(rows=SIDES, cols=SIDES)
def test_apply_along_axis_of_traced_arrays(rows, cols):
    _same(_applied, _data((rows, cols), rows * 7 + cols))


# ------------------------------------------------------------------ np.fft

def _spectra(x, img):
    X = np.fft.fft(x)
    return (X, np.fft.ifft(X), np.fft.rfft(x), np.fft.irfft(np.fft.rfft(x), len(x)), np.fft.irfft(X[:3]),
            np.fft.fft(x, n=len(x) + 3, norm="ortho"), np.fft.fft2(img), np.fft.ifft2(np.fft.fft2(img)).real,
            np.fft.fftshift(img), np.fft.ifftshift(np.fft.fftshift(x)), np.abs(np.fft.fft(img, axis=0)) ** 2,
            np.fft.fft(x.astype(np.float32)))


@settings(max_examples=3, deadline=None)
@given(n=st.integers(2, 9), m=SIDES)
def test_fourier_transforms_match_numpys(n, m):
    _same(_spectra, _data(n, n), _data((m, n), m), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ indexing with np.where(mask) / np.nonzero(mask)

def _where_indexed(x, M):
    y = x.copy()
    y[np.where(y < 0)] = 0.0
    M2 = M.copy()
    M2[np.nonzero(M2 > 0.5)] *= 2
    idx = np.where(x > 0)[0]
    return y, M2, x[np.where(x > 0)].sum(), M[np.nonzero(M)].max(), x[idx].mean(), idx.size


def test_a_mask_s_index_arrays_index_as_the_mask_does():
    for n in (1, 4, 7):
        x = _data(n, n)
        x[0] = abs(x[0]) + 0.1  # one positive element at least (NumPy's mean of none warns)
        with np.errstate(invalid="ignore"):
            _same(_where_indexed, x, _data((n, 3), n) + 1.0)


def test_a_mask_s_index_arrays_refuse_their_length_with_what_to_write():
    def f(x):
        return len(np.where(x > 0)[0])

    with pytest.raises(TraceError, match=r"give their count \(\.size\)"):
        mlc.jit(f)(np.ones(3))


def _checked_sum(x):
    s = 0.0
    for i in range(20):  # compiled: the check is made in every iteration
        v = x[i % x.shape[0]]
        if v < -5:
            raise ValueError("too negative")
        s = s + v
    return s


def test_a_raise_inside_a_compiled_loop_is_checked_when_the_function_runs():
    f = mlc.jit(_checked_sum)
    assert float(f(np.ones(4))) == _checked_sum(np.ones(4))
    with pytest.raises(ValueError, match="too negative"):
        f(np.array([1.0, -6.0, 2.0]))
