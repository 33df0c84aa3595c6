"""Writes into arrays inside ``@mlc.jit`` do what NumPy's do (mlc/numpy/updates.py, mlc/tracer/state.py).

Each program runs under ``@mlc.jit`` and in NumPy on copies of the same arguments; the
results and the arguments afterwards (NumPy changes the caller's arrays in place) must
agree. Shapes are drawn by Hypothesis, size 1 and odd sizes included.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import ShapeError, TraceError
from mlc.errors import PerformanceWarning
from mlc.tracer.writeback import WriteError
from ..cuda.fake_cupy import DeviceResult

SIDES = st.integers(1, 7)


def _data(shape, seed=0, dtype="float64"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _same(fn, *args, jitted=None, **kwargs):
    """``fn`` under the jit and in NumPy: equal results and equal arguments afterwards."""
    mine = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    theirs = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = (jitted or mlc.jit(fn, **kwargs))(*mine)
    expected = fn(*theirs)
    got, expected = (got, expected) if isinstance(expected, tuple) else ((got,), (expected,))
    for g, e in zip(got, expected):
        if e is None:
            assert g is None
            continue
        assert np.shape(g) == np.shape(e) and np.asarray(g).dtype == np.asarray(e).dtype
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    for m, t in zip(mine, theirs):
        if isinstance(t, np.ndarray):
            np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ programs from NumPy code

def standardize(data):
    mean = data.mean(axis=0)
    std = data.std(axis=0)
    std[std <= 0.1] = 1.0
    data -= mean
    data /= std


def gemm(alpha, beta, C, A, B):
    C[:] = alpha * A @ B + beta * C


def heat_step(u):
    u[1:-1, 1:-1] += 0.1 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])


def jacobi_steps(u):
    for _ in range(3):  # a static Python loop (unrolled by the tracer)
        v = u.copy()
        v[1:-1] = 0.5 * (u[:-2] + u[2:])
        u[:] = v
    return u


def negate_first(r):
    y = np.empty_like(r)
    y[0] = -r[0]
    y[1:] = r[1:] - r[:-1]
    return y


def forward_substitution(L, b):
    x = np.zeros_like(b)
    for i in range(L.shape[0]):  # unrolled: x[:i] reads the latest version of x
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


@settings(max_examples=4, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_forward_substitution_reads_what_it_wrote(n, seed):
    L = np.tril(_data((n, n), seed)) + n * np.eye(n)
    _same(forward_substitution, L, _data((n,), seed + 1))


@settings(max_examples=15, deadline=None)
@given(n=SIDES, m=SIDES, seed=st.integers(0, 2**16))
def test_standardize_writes_the_callers_array(n, m, seed):
    data = _data((n, m), seed)
    data[:, 0] = 3.0  # a column of zero spread: std <= 0.1 there
    _same(standardize, data)


@settings(max_examples=10, deadline=None)
@given(n=SIDES, k=SIDES, m=SIDES, seed=st.integers(0, 2**16))
def test_gemm_into_an_argument(n, k, m, seed):
    _same(gemm, 1.5, 0.5, _data((n, m), seed), _data((n, k), seed + 1), _data((k, m), seed + 2))


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_stencil_step_and_a_static_loop(n, m, seed):
    _same(heat_step, _data((n, m), seed))
    _same(jacobi_steps, _data((n,), seed))


@settings(max_examples=10, deadline=None)
@given(n=SIDES, seed=st.integers(0, 2**16))
def test_writes_into_an_array_the_function_makes(n, seed):
    _same(negate_first, _data((n,), seed))


# ------------------------------------------------------------------ keys

BASIC_KEYS = [0, -1, slice(None), slice(1, None), slice(None, None, 2), slice(None, None, -1),
              slice(-2, None, -3), (Ellipsis, 0), (slice(None), None, 1), (None, 0, slice(1, 3)),
              (slice(3, 0, -2), Ellipsis), (1, -1)]


@pytest.mark.parametrize("key", BASIC_KEYS, ids=repr)
@settings(max_examples=4, deadline=None)
@given(n=st.integers(2, 6), m=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_basic_keys_with_broadcast_values(key, n, m, seed):
    x = _data((n, m), seed)
    value = _data(x[key].shape[-1:], seed + 1) if x[key].ndim else 7.0

    def f(x, v):
        y = x * 1.0
        y[key] = v
        x[key] = 2.0 * v  # an argument, written back
        return y
    _same(f, x, np.asarray(value))


@settings(max_examples=10, deadline=None)
@given(n=SIDES, seed=st.integers(0, 2**16), data=st.data())
def test_integer_array_keys_repeated_indices_last_wins(n, seed, data):
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)))
    values = _data((len(idx),), seed)

    def constant(x, v):
        x[idx] = v
        return x

    def traced(x, i, v):
        x[i] = v
        return x

    def columns(x, v):
        y = np.zeros((3, n))
        y[1:, idx] = v
        return y
    _same(constant, _data((n,), seed + 1), values)
    _same(traced, _data((n,), seed + 1), idx, values)
    _same(columns, _data((n,), seed), values)


def test_a_traced_scalar_index_and_two_index_arrays():
    def f(x, i, j):
        x[i] = -1.0
        x[[0, 2], [1, 0]] += 10.0
        x[i, j] = 5.0
        return x
    _same(f, _data((3, 4)), np.int64(2), np.int64(-1))


@settings(max_examples=10, deadline=None)
@given(n=SIDES, m=SIDES, seed=st.integers(0, 2**16))
def test_boolean_masks(n, m, seed):
    def f(s, x):
        s[s <= 0.1] = 1.0
        x[x[:, 0] > 0] = s[0]  # rows: the value broadcast to each selected row
        return s
    _same(f, _data((n, m), seed), _data((n, m), seed + 1))


@settings(max_examples=10, deadline=None)
@given(n=SIDES, m=SIDES, seed=st.integers(0, 2**16), data=st.data())
def test_a_constant_mask_takes_one_value_per_true_element(n, m, seed, data):
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)

    def f(x):
        x[mask] = np.arange(mask.sum(), dtype=x.dtype)
        x[mask[:, 0]] = -x[mask[:, 0]]
        return x
    _same(f, _data((n, m), seed))


def test_value_dtype_casts_as_numpy_item_assignment():
    def f(x, y):
        x[0] = 1.7          # float into int: truncated
        x[1:] = y           # float64 array into int32
        return x
    _same(f, np.zeros(4, "int32"), np.array([2.5, -3.9, 4.0]))


def test_in_place_methods_fill_put_sort():
    def f(x, y):
        x.sort(axis=0)
        y[1].fill(-2.0)
        y.put([0, -1, 0], [7.0, 8.0, 9.0])
        return x, y
    _same(f, _data((3, 4)), _data((2, 3), 1))


# ------------------------------------------------------------------ views, aliasing, returns

def test_a_view_writes_through_and_sees_writes():
    def f(x):
        v = x[1:, ::-1].T      # a view of an argument
        v[0] *= 10.0           # writes into x
        x[-1, 0] = -5.0        # v sees it
        w = x.reshape(-1)
        w[:2] = 0.0
        return v.copy(), w
    _same(f, _data((3, 4)))


def test_returning_a_written_argument():
    def f(x, y):
        x += y
        return x, x * 2
    _same(f, _data((3,)), _data((3,), 1))


def test_the_same_array_passed_twice_is_one_array():
    def f(x, y):
        x += 1.0
        y *= 2.0
        return x + y
    jitted = mlc.jit(f)
    a = _data((4,))
    _same(f, a, a.copy(), jitted=jitted)  # apart
    mine, theirs = a.copy(), a.copy()
    np.testing.assert_allclose(jitted(mine, mine), f(theirs, theirs))
    np.testing.assert_allclose(mine, theirs)
    mine, theirs = a.copy(), a.copy()
    np.testing.assert_allclose(jitted(mine, mine), f(theirs, theirs))  # the aliased signature, cached
    np.testing.assert_allclose(mine, theirs)
    assert jitted.trace_count == 2


def test_a_traced_index_out_of_bounds_is_an_index_error_before_the_write_back():
    def f(x, i):
        x[0] = 5.0
        x[i] = 1.0
    x = np.zeros(3)
    jitted = mlc.jit(f)
    jitted(x, np.int64(-3))
    np.testing.assert_array_equal(x, [1.0, 0.0, 0.0])
    for bad in (3, -4):
        with pytest.raises(IndexError, match=rf"x\[i\] = \.\.\.: index {bad} is out of bounds for axis 0 with size 3.*"
                                             r"\n  at File.*x\[i\] = 1\.0"):
            jitted(x, np.int64(bad))
        np.testing.assert_array_equal(x, [1.0, 0.0, 0.0])  # unchanged, as NumPy leaves it


def test_overlapping_arguments_written_run_uncompiled_as_numpy():
    a, want = np.arange(5.0), np.arange(5.0)
    add = lambda x, y: x.__iadd__(y)  # noqa: E731
    add(want[1:], want[:-1])  # NumPy (as if it had copied the operand first)
    with pytest.warns(PerformanceWarning, match="overlap in memory"):
        mlc.jit(add)(a[1:], a[:-1])
    np.testing.assert_array_equal(a, want)
    with pytest.raises(WriteError, match="overlap in memory"):  # a compiled signature: refused
        mlc.jit(add).lower(a[1:], a[:-1]).compile()(a[1:], a[:-1])


def test_a_read_only_argument_written_is_refused():
    a = np.zeros(3)
    a.flags.writeable = False
    with pytest.raises(WriteError, match="read-only"):
        mlc.jit(lambda x: x.__setitem__(0, 1.0))(a)


def test_a_function_that_only_reads_keeps_the_callers_arrays():
    f = mlc.jit(lambda x: x[::2] * 2)
    a = _data((5,))
    before = a.copy()
    f(a)
    np.testing.assert_array_equal(a, before)
    assert f.lower(a).traced.outputs[0].shape == (3,)  # no hidden output


# ------------------------------------------------------------------ errors

W = np.zeros(3)


def test_writing_into_a_global_array_says_to_pass_it():
    def f(x):
        W[0] = x[0]
        return x
    with pytest.raises(TraceError, match=r"(?s)written into a NumPy array.*pass the array as an argument.*W\[0\] = x\[0\]"):
        mlc.jit(f)(np.ones(3))


@pytest.mark.parametrize("body, error, match", [
    ("x[0] = np.ones(2)", ShapeError, r"could not broadcast input array from shape \(2,\) into shape \(\)"),
    ("x[5] = 1.0", ShapeError, "out of bounds"),
    ("x[[0, 7]] = 1.0", ShapeError, "out of bounds"),
    ("x[x > 0] = x", TraceError, "count of True elements"),
    ("np.broadcast_to(x, (2, 4))[0] = 1.0", TraceError, "read-only view"),
])
def test_errors(body, error, match):
    namespace = {"np": np}
    exec(f"def f(x):\n    {body}\n    return x\n", namespace)
    with pytest.raises(error, match=match):
        mlc.jit(namespace["f"])(np.ones(4))


def test_writing_a_constant_into_a_global_array_is_refused():
    def f(x):
        W[1] = 2.0  # NumPy's write, which would run once, while tracing
        return x
    try:
        with pytest.raises(TraceError, match=r"writes into the NumPy array 'W'.*Pass W as an argument"):
            mlc.jit(f)(np.ones(3))
    finally:
        W[:] = 0.0


def test_arange_made_inside_indexes_as_a_constant():
    def f(x):
        idx = np.arange(3)
        x[idx] = 1.0
        return x[idx[::-1]], x[np.arange(2)[1]]
    _same(f, _data((5,)))

    def g(x):
        x[np.arange(1, 4)] = 1.0
        return x
    _same(g, _data((5,)))
    assert "equal" not in mlc.jit(g).trace(_data((5,))).graph.ops()  # the constant scatter: no search


@settings(max_examples=8, deadline=None)
@given(n=SIDES, m=SIDES, seed=st.integers(0, 2**16))
def test_numpy_writing_functions(n, m, seed):
    def f(x, y):
        np.copyto(x, y[0])                       # a row broadcast over x
        np.copyto(y, 7.0, where=y > 0)
        np.fill_diagonal(x, -1.0)
        np.put(y, [0, -1], [3.0, 4.0])
        return x.sum()
    _same(f, _data((n, m), seed), _data((n, m), seed + 1))

    def tall(x):
        np.fill_diagonal(x, np.arange(min(x.shape), dtype=x.dtype) if x.shape[0] <= x.shape[1] else 5.0, wrap=True)
        return x
    _same(tall, _data((n, m), seed))


def test_mlc_numpy_writing_functions_write_numpy_arrays_eagerly():
    x, y = np.zeros((3, 3)), np.zeros((3, 3))
    mlc.numpy.fill_diagonal(x, 2.0)
    np.fill_diagonal(y, 2.0)
    np.testing.assert_array_equal(x, y)
    mlc.numpy.copyto(x, np.arange(3.0))
    np.testing.assert_array_equal(x, np.broadcast_to(np.arange(3.0), (3, 3)))


@settings(max_examples=8, deadline=None)
@given(n=SIDES, m=SIDES, k=st.integers(1, 3), seed=st.integers(0, 2**16), data=st.data())
def test_masks_beside_slices(n, m, k, seed, data):
    cmask = np.array(data.draw(st.lists(st.booleans(), min_size=m, max_size=m)))

    def f(x, y):
        x[:, y[0, :, 0] > 0] = -1.0          # a traced mask on the middle axis
        x[..., y[0, 0] < 0] = y[:, :1, :1]  # a value per row of the leading axis, broadcast
        x[1:, cmask, 0] = 9.0                # a constant mask beside a slice and an int
        return x
    _same(f, _data((n, m, k), seed), _data((n, m, k), seed + 1))


def _chain(x):
    y = x * 1.0
    y[1:] = y[1:] * y[:-1]
    y[0] = 3.0
    return y.sum()


def _scatter_row(x):
    y = np.zeros(3)
    y[0] = x.sum()
    y[[2, 2]] = x[:2]
    return y


def test_writes_under_grad_and_vmap():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(mlc.grad(_chain)(x), [x[1], x[0] + x[2], x[1]])
    xs = _data((3, 2))
    np.testing.assert_allclose(mlc.vmap(_scatter_row)(xs), np.stack([_scatter_row(r) for r in xs]))


def test_a_transformed_function_writing_its_argument_is_refused():
    with pytest.raises(TraceError, match="writes into one of its arguments"):
        mlc.grad(lambda x: (x.__iadd__(1.0), x.sum())[1])(np.ones(3))


@pytest.mark.parametrize("options", [{"target": "cuda-emulator"}, {"target": "reference"},
                                     {"dynamic": [("data", 0)]}], ids=["cuda-emulator", "reference", "dynamic"])
def test_write_back_on_other_targets_and_dynamic_axes(options):
    jitted = mlc.jit(standardize, **options)
    for n in (1, 4):
        data = _data((n, 3), n)
        _same(standardize, data, jitted=jitted)


def test_a_device_result_is_written_back_into_a_numpy_argument():
    """A function jitted for the GPU that writes its NumPy argument: the new value, a device
    array, is copied to the host into the caller's array."""
    from mlc.tracer.writeback import write_back
    target = np.zeros(3, "float32")
    write_back(target, DeviceResult([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(target, [1.0, 2.0, 3.0])
