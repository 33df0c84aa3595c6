"""Slices whose bounds are a loop's index (``L[i, :i]``, ``A[k + 1:, k]``, ``x[:i]``) inside
compiled loops: NumPy programs as they are written (solves, factorizations, Gram–Schmidt, a
CSR product), run under @mlc.jit against NumPy on sizes 1, odd and larger than the unrolling
threshold, and compiled once whatever the trip count (mlc.numpy.windows)."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import TraceError

#: 1, odd, and above the loop-unrolling threshold (8): the compiled loops are the ones tested
SIZES = st.sampled_from([1, 3, 9, 13])


def _spd(n, seed):
    a = np.random.default_rng(seed).uniform(-1, 1, (n, n))
    return a @ a.T + n * np.eye(n)


def _run(fn, args, static=(), rtol=1e-9, atol=1e-12):
    """``fn`` under the jit and in NumPy on copies of ``args``: equal results and arguments."""
    want_args, got_args = copy.deepcopy(args), copy.deepcopy(args)
    want = fn(*want_args)
    got = mlc.jit(fn, static_argnums=static)(*got_args)
    if want is not None:
        for w, g in zip(want if isinstance(want, tuple) else (want,), got if isinstance(got, tuple) else (got,)):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    for w, g in zip(want_args, got_args):
        if isinstance(w, np.ndarray):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- programs

def forward_solve(L, x, b):
    for i in range(x.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]


def back_solve(U, b):
    x = np.zeros_like(b)
    for i in range(b.shape[0] - 1, -1, -1):
        x[i] = (b[i] - U[i, i + 1:] @ x[i + 1:]) / U[i, i]
    return x


def cholesky(A):
    A[0, 0] = np.sqrt(A[0, 0])
    for i in range(1, A.shape[0]):
        for j in range(i):
            A[i, j] -= np.dot(A[i, :j], A[j, :j])
            A[i, j] /= A[j, j]
        A[i, i] -= np.dot(A[i, :i], A[i, :i])
        A[i, i] = np.sqrt(A[i, i])


def lu_solve(A, b):
    for i in range(A.shape[0]):
        for j in range(i):
            A[i, j] -= A[i, :j] @ A[:j, j]
            A[i, j] /= A[j, j]
        for j in range(i, A.shape[0]):
            A[i, j] -= A[i, :i] @ A[:i, j]
    y = np.zeros_like(b)
    for i in range(A.shape[0]):
        y[i] = b[i] - A[i, :i] @ y[:i]
    x = np.zeros_like(b)
    for i in range(A.shape[0] - 1, -1, -1):
        x[i] = (y[i] - A[i, i + 1:] @ x[i + 1:]) / A[i, i]
    return x


def gram_schmidt(A):
    Q = np.zeros_like(A)
    R = np.zeros_like(A)
    for j in range(A.shape[1]):
        R[:j, j] = A[:, j] @ Q[:, :j]
        v = A[:, j] - Q[:, :j] @ R[:j, j]
        R[j, j] = np.sqrt(v @ v)
        Q[:, j] = v / R[j, j]
    return Q, R


def syrk(alpha, beta, C, A):
    for i in range(A.shape[0]):
        C[i, :i + 1] *= beta
        for k in range(A.shape[1]):
            C[i, :i + 1] += alpha * A[i, k] * A[:i + 1, k]


def levinson(r):
    y = np.empty_like(r)
    alpha = -r[0]
    beta = 1.0
    y[0] = -r[0]
    for k in range(1, r.shape[0]):
        beta *= 1.0 - alpha * alpha
        alpha = -(r[k] + np.dot(np.flip(r[:k]), y[:k])) / beta
        y[:k] += alpha * np.flip(y[:k])
        y[k] = alpha
    return y


def upper_gram(data):
    m = data.shape[1]
    out = np.zeros((m, m), dtype=data.dtype)
    for i in range(m):
        out[i:m, i] = out[i, i:m] = data[:, i] @ data[:, i:m] / 2.0
    return out


def prefix_sums(x):
    s = np.zeros_like(x)
    for i in range(x.shape[0]):
        s[i] = x[:i + 1].sum() + np.sum(x[-1:i])      # x[-1:i]: empty except at the end
    return s


def csr_matvec(indptr, indices, data, x):
    y = np.zeros(indptr.shape[0] - 1, data.dtype)
    for i in range(indptr.shape[0] - 1):
        cols = indices[indptr[i]:indptr[i + 1]]
        vals = data[indptr[i]:indptr[i + 1]]
        y[i] = vals @ x[cols]
    return y


# ---------------------------------------------------------------- differential tests

@settings(max_examples=4, deadline=None)
@given(n=SIZES, seed=st.integers(0, 99))
def test_triangular_solves(n, seed):
    A = _spd(n, seed)
    b = np.random.default_rng(seed + 1).uniform(-1, 1, n)
    _run(forward_solve, (np.tril(A), np.zeros(n), b))
    _run(back_solve, (np.triu(A), b))


@settings(max_examples=4, deadline=None)
@given(n=SIZES, seed=st.integers(0, 99))
def test_factorizations(n, seed):
    A = _spd(n, seed)
    _run(cholesky, (A,))
    _run(lu_solve, (A, np.random.default_rng(seed).uniform(-1, 1, n)))


@settings(max_examples=4, deadline=None)
@given(n=SIZES, rows=st.sampled_from([1, 5, 11]), seed=st.integers(0, 99))
def test_gram_schmidt_syrk_and_gram(n, rows, seed):
    rng = np.random.default_rng(seed)
    _run(gram_schmidt, (_spd(n, seed),), rtol=1e-7)
    _run(syrk, (1.5, 1.2, rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, (n, rows))), static=(0, 1))
    _run(upper_gram, (rng.uniform(-1, 1, (rows, n)),))


@settings(max_examples=4, deadline=None)
@given(n=SIZES, seed=st.integers(0, 99))
def test_reversed_windows_and_sums(n, seed):
    rng = np.random.default_rng(seed)
    _run(levinson, (rng.uniform(0, 0.2, n),), rtol=1e-7)
    _run(prefix_sums, (rng.uniform(-1, 1, n).astype("float32"),), rtol=1e-5, atol=1e-5)


@settings(max_examples=4, deadline=None)
@given(rows=SIZES, seed=st.integers(0, 99))
def test_csr_matvec_with_data_dependent_bounds(rows, seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, rows)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype("int32")
    indices = rng.integers(0, 7, max(indptr[-1], 1)).astype("int32")
    data = rng.uniform(-1, 1, max(indptr[-1], 1))
    _run(csr_matvec, (indptr, indices, data, rng.uniform(-1, 1, 7)))


def test_compiled_once_whatever_the_size():
    """One loop per Python loop and the same kernels for n = 16 and n = 64: the first call
    does not grow with the trip count."""
    def lowered(n):
        A = _spd(n, 0)
        return mlc.jit(lu_solve).lower(A, np.ones(n))
    small, large = lowered(16), lowered(64)
    assert sorted(small.graph.ops()) == sorted(large.graph.ops())
    # as traced: the factorization (its two inner loops in its body) and two solves; the pipeline
    # then makes each an element-loop kernel where its body is element code
    assert small.traced.ops().count("for_loop") == 3


def test_bounds_beyond_the_axis_clamp_as_in_numpy():
    def f(x):
        y = np.zeros_like(x)
        for i in range(x.shape[0]):
            y[i] = x[i - 3:i + 20].sum() + x[-i - 1:].sum() + x[:i - 30].sum()
        return y
    _run(f, (np.arange(12.0),))


def test_a_slice_used_where_its_length_matters_falls_back_to_unrolling():
    """len() of a window is refused while the loop traces as a compiled loop; the loop is then
    traced per iteration (Python ints), with NumPy's answer."""
    def f(x):
        y = np.zeros_like(x)
        for i in range(x.shape[0]):
            y[i] = len(x[:i])
        return y
    _run(f, (np.ones(10),))
    assert "for_loop" not in mlc.jit(f).lower(np.ones(10)).graph.ops()


def test_a_window_outside_a_loop_is_a_trace_error_with_the_line():
    @mlc.jit
    def f(x, k):
        return x[:k].shape
    with pytest.raises(TraceError, match=r"(?s)traced value.*test_loop_slices.py"):
        f(np.ones(4), np.int64(2))


def test_a_view_written_before_its_use_is_refused_not_stale():
    """v = x[:i]; x[...] = ...; v.sum(): NumPy's view sees the write, a window would not: refused
    in the compiled loop, so the loop unrolls and NumPy's answer comes back."""
    def f(x):
        out = np.zeros_like(x)
        for i in range(x.shape[0]):
            v = x[:i]
            x[0] = x[0] + 1.0
            out[i] = v.sum()
        return out
    _run(f, (np.ones(10),))


def _conv_valid(x, w):
    k = w.shape[0]
    out = np.empty((x.shape[0] - k + 1, x.shape[1] - k + 1, w.shape[3]), dtype=x.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j, :] = np.sum(x[i:i + k, j:j + k, :, np.newaxis] * w, axis=(0, 1, 2))
    return out


def conv_plus_bias(x, w, b):
    return _conv_valid(x, w) + b                 # the loops live in the function it calls


@settings(max_examples=3, deadline=None)
@given(n=st.sampled_from([2, 11, 13]), k=st.sampled_from([1, 2, 3]), seed=st.integers(0, 99))
def test_a_window_of_static_length_at_a_loop_index_in_a_called_function(n, k, seed):
    """x[i:i + k] with i over range(n - k + 1) always holds k elements: a plain array of shape
    k (it meets the weights elementwise), in loops of a function the jitted one calls."""
    rng = np.random.default_rng(seed)
    x, w = rng.uniform(-1, 1, (n + k - 1, n + k - 1, 2)).astype("float32"), rng.uniform(-1, 1, (k, k, 2, 3))
    _run(conv_plus_bias, (x, w.astype("float32"), np.float32([0.5, 1.0, -1.0])), rtol=1e-5, atol=1e-5)
    graph = mlc.jit(conv_plus_bias).lower(x, w.astype("float32"), np.float32([0.5, 1.0, -1.0])).graph
    assert graph.ops().count("for_loop") == (n > 8)


def test_a_traced_step_falls_back_to_unrolling():
    def f(x):
        y = np.zeros_like(x)
        for i in range(x.shape[0]):
            y[i] = x[i::2].sum()
        return y
    _run(f, (np.arange(11.0),))


@pytest.mark.filterwarnings("ignore:.*was rebound since")
def test_a_called_function_that_writes_a_nonlocal_is_called_as_written():
    """Called functions are rewritten (their loops compiled), except one assigning a variable
    of its enclosing function, whose rewritten copy would hold a copy of that variable."""
    calls = []

    def make():
        count = 0

        def helper(x):
            nonlocal count
            count += 1
            calls.append(count)
            for _ in range(10):
                x = x + 1
            return x
        return helper
    helper = make()

    def f(x):
        return helper(x) * 2
    jitted = mlc.jit(f)
    assert jitted(np.ones(3)).tolist() == [22.0] * 3
    assert jitted(np.ones(2)).tolist() == [22.0] * 2   # traced again: the same variable counts on
    assert calls == [1, 2]


@settings(max_examples=2, deadline=None)
@given(n=st.sampled_from([1, 10]), seed=st.integers(0, 99))
def test_windows_on_the_cuda_emulator(n, seed):
    """The windows are graph ops: the same programs on the CUDA emulator."""
    rng = np.random.default_rng(seed)
    A, b = _spd(n, seed), rng.uniform(-1, 1, n)
    got = mlc.jit(back_solve, target="cuda-emulator")(np.triu(A), b)
    np.testing.assert_allclose(got, back_solve(np.triu(A), b), rtol=1e-9)
    r = rng.uniform(0, 0.2, n)
    np.testing.assert_allclose(mlc.jit(levinson, target="cuda-emulator")(r), levinson(r), rtol=1e-7)


def max_pool(x):
    out = np.empty((x.shape[0] // 2, x.shape[1] // 2, x.shape[2]), dtype=x.dtype)
    for i in range(x.shape[0] // 2):
        for j in range(x.shape[1] // 2):
            out[i, j, :] = np.max(x[2 * i:2 * i + 2, 2 * j:2 * j + 2, :], axis=(0, 1))
    return out


@settings(max_examples=6, deadline=None)
@given(n=SIZES, m=SIZES, c=st.sampled_from([1, 3]), seed=st.integers(0, 2**16))
def test_reductions_of_windows_of_static_length_compile_as_one_loop(n, m, c, seed):
    """``np.max(x[2 * i:2 * i + 2, ...])`` (a pooling layer): a slice of traced start and static
    length reduces as NumPy's, and the loop nest is compiled, not unrolled."""
    x = np.random.default_rng(seed).uniform(-1, 1, (2 * n + 1, 2 * m, c))
    _run(max_pool, [x])
    ops = [b.op for b in mlc.jit(max_pool).trace(np.zeros((19, 18, 2))).graph.bindings]
    assert "for_loop" in ops and len(ops) < 5, ops
