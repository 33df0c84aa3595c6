"""NumPy's own functions called inside @mlc.jit, against NumPy: calls resolve by the function
object (np.linalg.trace is never np.trace), np.linalg, the ufunc methods and the functions
beyond the Array API (stacking, statistics, histograms, signal, selection), each on
Hypothesis-drawn shapes (size 1 and odd sizes included) in several dtypes; the data-dependent
shapes refused with what to write instead."""
import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.numpy as mnp
from mlc import ShapeError, TraceError

#: The functions compose registry ops that the backends' own tests cover; the reference
#: interpreter compiles in milliseconds, so many small programs stay cheap.
jit = functools.partial(mlc.jit, target="reference")

SETTINGS = settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
FLOATS = ("float32", "float64")
REALS = ("int32", "float32", "float64")


def arrays(dtype, shape, *, nan=False, low=-4, high=4):
    """Arrays of ``shape`` with small values (integers in [low, high]; floats on a grid of
    eighths, so that sorts, ties and comparisons are exact; some NaN with ``nan``)."""
    if np.dtype(dtype).kind in "iu":
        return hnp.arrays(dtype, shape, elements=st.integers(low, high))
    elements = st.integers(low * 8, high * 8).map(lambda v: v / 8)
    if nan:
        elements = st.one_of(elements, elements, st.just(float("nan")))
    return hnp.arrays(dtype, shape, elements=elements)


SIDES = st.sampled_from([1, 2, 3, 5])


def _close(got, want, dtype=None):
    gs = got if isinstance(got, (tuple, list)) else [got]
    ws = want if isinstance(want, (tuple, list)) else [want]
    assert len(gs) == len(ws)
    for g, w in zip(gs, ws):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        tol = 1e-4 if w.dtype in (np.float32, np.complex64) else 1e-10
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)


def _same(fn, *args):
    _close(jit(fn)(*args), fn(*args))


# ------------------------------------------------------------------ resolution by object

def test_linalg_trace_of_a_stack_sums_the_last_two_axes():
    x = np.arange(18.0).reshape(2, 3, 3)
    got = mlc.jit(lambda x: np.linalg.trace(x))(x)
    assert got.shape == (2,)
    np.testing.assert_array_equal(got, np.linalg.trace(x))


def test_linalg_diagonal_of_a_stack_takes_the_last_two_axes():
    x = np.arange(12.0).reshape(2, 3, 2)
    got = mlc.jit(lambda x: np.linalg.diagonal(x))(x)
    assert got.shape == (2, 2)
    np.testing.assert_array_equal(got, np.linalg.diagonal(x))


def test_np_trace_still_takes_the_first_two_axes():
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(jit(lambda x: np.trace(x))(x), np.trace(x))
    np.testing.assert_array_equal(jit(lambda x: np.diagonal(x))(x), np.diagonal(x))


def test_every_np_linalg_function_of_mlc_numpy_linalg_is_dispatched():
    for name in mnp.linalg.__all__:
        assert getattr(np.linalg, name) in mnp.NUMPY_FUNCTIONS, name


def test_an_alias_keeps_the_function_of_its_own_name():
    x = np.arange(6.0).reshape(2, 3)
    assert jit(lambda x: np.transpose(x))(x).shape == (3, 2)  # np.permute_dims is np.transpose


def _spd(x):
    n = x.shape[-1]
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n, dtype=x.dtype)


LINALG = {
    "cholesky": lambda a: np.linalg.cholesky(_spd(a)),
    "det": lambda a: np.linalg.det(_spd(a)),
    "inv": lambda a: np.linalg.inv(_spd(a)),
    "slogdet": lambda a: tuple(np.linalg.slogdet(_spd(a))),
    "solve": lambda a: np.linalg.solve(_spd(a), a[..., 0:1]),
    "eigvalsh_U": lambda a: np.linalg.eigvalsh(a + np.swapaxes(a, -1, -2), UPLO="U"),
    "svd_values": lambda a: np.linalg.svd(a, compute_uv=False),
    "matrix_rank": lambda a: np.linalg.matrix_rank(_spd(a)),
    "matrix_rank_tol": lambda a: np.linalg.matrix_rank(_spd(a), tol=0.5),
    "pinv": lambda a: np.linalg.pinv(_spd(a)),
    "matrix_power": lambda a: np.linalg.matrix_power(a, 3),
    "norm": lambda a: np.linalg.norm(a),
    "norm_fro_axes": lambda a: np.linalg.norm(a, axis=(-2, -1)),
    "norm_1_axis": lambda a: np.linalg.norm(a, 1, axis=-1, keepdims=True),
    "norm_inf": lambda a: np.linalg.norm(a[0] if a.ndim == 3 else a, np.inf),
    "cond": lambda a: np.linalg.cond(_spd(a)),
    "multi_dot": lambda a: np.linalg.multi_dot([a[0] if a.ndim == 3 else a] * 3),
    "trace": lambda a: np.linalg.trace(a, offset=1),
    "diagonal": lambda a: np.linalg.diagonal(a, offset=-1),
    "outer": lambda a: np.linalg.outer(a.reshape(-1), a.reshape(-1)[:2]),
    "matrix_transpose": lambda a: np.linalg.matrix_transpose(a),
    "vector_norm": lambda a: np.linalg.vector_norm(a, axis=-1),
    "matrix_norm": lambda a: np.linalg.matrix_norm(a, ord="nuc"),
    "tensorinv": lambda a: np.linalg.tensorinv(_spd(a[0] if a.ndim == 3 else a), ind=1),
}


@pytest.mark.parametrize("name", sorted(LINALG))
@SETTINGS
@given(data=st.data())
def test_np_linalg_inside_jit_matches_numpy(name, data):
    n = data.draw(st.sampled_from([1, 2, 3]), "n")
    batch = data.draw(st.sampled_from([(), (2,)]), "batch")
    dtype = data.draw(st.sampled_from(FLOATS), "dtype")
    x = data.draw(arrays(dtype, batch + (n, n), low=-1, high=1), "x")
    fn = LINALG[name]
    got, want = jit(fn)(x), fn(x)
    if name in ("cond",):  # ill-conditioned draws are fine; compare the log
        got, want = np.log(got), np.log(want)
    _close(got, want)


def test_refused_np_linalg_functions_say_what_to_write():
    with pytest.raises(TraceError, match="np.linalg.eig.*eigh"):
        jit(lambda x: np.linalg.eig(x))(np.eye(2))
    with pytest.raises(TraceError, match="np.linalg.lstsq.*pinv"):
        jit(lambda a, b: np.linalg.lstsq(a, b))(np.eye(2), np.ones(2))


# ------------------------------------------------------------------ ufunc methods

UFUNC_METHODS = {
    "add.outer": lambda x, y: np.add.outer(x, y),
    "multiply.outer": lambda x, y: np.multiply.outer(x, y[0]),
    "subtract.outer": lambda x, y: np.subtract.outer(y, x),
    "add.reduce": lambda x, y: np.add.reduce(x),
    "multiply.reduce_axis1": lambda x, y: np.multiply.reduce(x, axis=-1),
    "maximum.reduce_keepdims": lambda x, y: np.maximum.reduce(x, axis=None, keepdims=True),
    "subtract.reduce": lambda x, y: np.subtract.reduce(x, axis=0),
    "minimum.reduce_initial": lambda x, y: np.minimum.reduce(x, initial=0),
    "add.accumulate": lambda x, y: np.add.accumulate(x),
    "maximum.accumulate": lambda x, y: np.maximum.accumulate(x, axis=-1),
    "add.reduceat": lambda x, y: np.add.reduceat(x, [0, 1, 0, 2][:x.shape[0]] if x.shape[0] > 2 else [0]),
    "maximum.reduceat": lambda x, y: np.maximum.reduceat(x, [0], axis=-1),
}


@pytest.mark.parametrize("name", sorted(UFUNC_METHODS))
@SETTINGS
@given(data=st.data())
def test_ufunc_methods_match_numpy(name, data):
    dtype = data.draw(st.sampled_from(REALS), "dtype")
    shape = (data.draw(SIDES, "m"), data.draw(SIDES, "n"))
    x = data.draw(arrays(dtype, shape), "x")
    y = data.draw(arrays(dtype, shape[-1:]), "y")
    _same(UFUNC_METHODS[name], x, y)


@pytest.mark.parametrize("ufunc", ["add", "subtract", "multiply", "maximum", "minimum", "power"])
@SETTINGS
@given(data=st.data())
def test_ufunc_at_accumulates_repeated_indices_as_numpy(ufunc, data):
    dtype = data.draw(st.sampled_from(REALS), "dtype")
    n = data.draw(SIDES, "n")
    x = data.draw(arrays(dtype, (n,), low=1, high=3), "x")
    idx = np.asarray(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6), "idx"))
    vals = data.draw(arrays(dtype, idx.shape, low=0, high=2), "vals")
    op = getattr(np, ufunc)

    def f(x, vals, idx):
        y = x.copy()
        op.at(y, idx, vals)
        return y
    got = jit(f)(x, vals, idx)  # traced indices
    static = jit(lambda x, vals: f(x, vals, idx))(x, vals)  # constant ones
    want = f(x, vals, idx)
    _close(got, want)
    _close(static, want)


@pytest.mark.parametrize("write", [
    lambda x: np.add.at(x, [0, 0, 2], 1.5),
    lambda x: np.maximum.at(x, [1, 1], np.array([4.0, 7.0])),
    lambda x: np.put(x, [2, 0], [5.0, 6.0]),
    lambda x: np.put_along_axis(x, np.array([1, 2]), np.array([8.0, 9.0]), 0),
    lambda x: np.add.at(x[1:], [0, 1], 2.0),  # into a view: its base (the argument) sees it
], ids=["add.at", "maximum.at", "put", "put_along_axis", "add.at into a view"])
def test_numpy_in_place_functions_write_the_callers_array(write):
    def f(x):
        write(x)
        return x * 1

    want, got = np.arange(3.0), np.arange(3.0)
    out = jit(f)(got)
    f(want)
    np.testing.assert_array_equal(got, want)  # the caller's array, written as NumPy writes it
    np.testing.assert_array_equal(out, want)


# ------------------------------------------------------------------ functions beyond the Array API

def _two(fn):
    return lambda data, dtype: (fn, [data.draw(arrays(dtype, _shape(data, 2)), "x"), None])


def _shape(data, ndim, min_side=1):
    return tuple(data.draw(st.sampled_from([s for s in (1, 2, 3, 5) if s >= min_side]), f"side{k}")
                 for k in range(ndim))


UNARY_2D = {
    "copy": lambda x: np.copy(x),
    "diag": lambda x: np.diag(x, 1),
    "diag_1d": lambda x: np.diag(x[0], -1),
    "diagflat": lambda x: np.diagflat(x, 1),
    "tril": lambda x: np.tril(x, -1),
    "triu": lambda x: np.triu(x, 1),
    "hstack": lambda x: np.hstack([x, x[:, :1]]),
    "vstack": lambda x: np.vstack([x, x[0]]),
    "dstack": lambda x: np.dstack([x, x]),
    "column_stack": lambda x: np.column_stack([x[0], x[0]]),
    "block": lambda x: np.block([[x, x], [x, x]]),
    "atleast_3d": lambda x: np.atleast_3d(x[0]),
    "isclose": lambda x: np.isclose(x, x[:1] + 1e-6),
    "allclose": lambda x: np.allclose(x, x * 1.0000001),
    "array_equal": lambda x: np.array_equal(x, x[::-1]),
    "median_axis": lambda x: np.median(x, axis=0),
    "median": lambda x: np.median(x),
    "median_keepdims": lambda x: np.median(x, axis=1, keepdims=True),
    "percentile": lambda x: np.percentile(x, 37, axis=1),
    "percentile_list": lambda x: np.percentile(x, [0, 50, 100]),
    "quantile_lower": lambda x: np.quantile(x, 0.3, axis=0, method="lower"),
    "quantile_nearest": lambda x: np.quantile(x, [0.25, 0.75], axis=(0, 1), method="nearest"),
    "quantile_midpoint": lambda x: np.quantile(x, 0.4, method="midpoint"),
    "average": lambda x: np.average(x, axis=1, weights=np.arange(1, x.shape[1] + 1)),
    "ptp": lambda x: np.ptp(x, axis=0),
    "cov": lambda x: np.cov(x),
    "cov_cols_bias": lambda x: np.cov(x, rowvar=False, bias=True),
    "cov_y": lambda x: np.cov(x[0], x[-1]),
    "corrcoef": lambda x: np.corrcoef(x + np.arange(x.shape[1])),
    "histogram": lambda x: np.histogram(x, bins=3),
    "histogram_range": lambda x: np.histogram(x, bins=5, range=(-2, 3)),
    "histogram_edges": lambda x: np.histogram(x, bins=np.array([-3.0, -1, 0.5, 2, 4])),
    "histogram_density": lambda x: np.histogram(x, bins=4, range=(-4, 4), density=True),
    "histogram_weights": lambda x: np.histogram(x, bins=2, range=(-4, 4), weights=x),
    "digitize": lambda x: np.digitize(x, np.array([-1.0, 0, 2])),
    "roll": lambda x: np.roll(x, 2, axis=1),
    "roll_flat": lambda x: np.roll(x, -3),
    "pad": lambda x: np.pad(x, ((1, 0), (2, 1))),
    "meshgrid": lambda x: np.meshgrid(x[0], x[:, 0]),
    "meshgrid_ij": lambda x: np.meshgrid(x[0], x[:, 0], indexing="ij"),
    "einsum": lambda x: np.einsum("ij,kj->ik", x, x),
    "kron": lambda x: np.kron(x, x[:1]),
    "tensordot": lambda x: np.tensordot(x, x, axes=([1], [1])),
    "outer": lambda x: np.outer(x, x[0]),
    "vander": lambda x: np.vander(x[0], 3),
    "select": lambda x: np.select([x < 0, x > 1], [x, -x], 2),
    "piecewise": lambda x: np.piecewise(x, [x < 0, x > 1], [lambda t: -t, lambda t: t * 2, 7]),
    "convolve": lambda x: np.convolve(x[0], x[:, 0]),
    "convolve_same": lambda x: np.convolve(x[0], x[:, 0], mode="same"),
    "correlate_valid": lambda x: np.correlate(x[0], x[:, 0]),
    "correlate_full": lambda x: np.correlate(x[:, 0], x[0], mode="full"),
    "interp": lambda x: np.interp(x, np.array([-2.0, 0, 0.5, 3]), np.array([1.0, -1, 2, 0])),
    "interp_left_right": lambda x: np.interp(x, np.array([-1.0, 1]), np.array([0.0, 1]), left=-5, right=5),
}

NAN_2D = {
    "nansum": lambda x: np.nansum(x, axis=0),
    "nanprod": lambda x: np.nanprod(x),
    "nanmean": lambda x: np.nanmean(x, axis=1),
    "nanvar": lambda x: np.nanvar(x, axis=0, ddof=1),
    "nanstd": lambda x: np.nanstd(x),
    "nanmax": lambda x: np.nanmax(x, axis=1),
    "nanmin": lambda x: np.nanmin(x, axis=0, keepdims=True),
    "nancumsum": lambda x: np.nancumsum(x, axis=1),
    "nan_to_num": lambda x: np.nan_to_num(x / np.where(x == 0, 0.0, 1.0)),
    "median_nan": lambda x: np.median(x, axis=0),
    "percentile_nan": lambda x: np.percentile(x, 50, axis=1),
}


@pytest.mark.parametrize("name", sorted(UNARY_2D))
@SETTINGS
@given(data=st.data())
def test_numpy_functions_inside_jit_match_numpy(name, data):
    dtype = data.draw(st.sampled_from(REALS), "dtype")
    x = data.draw(arrays(dtype, _shape(data, 2)), "x")
    _same(UNARY_2D[name], x)


@pytest.mark.parametrize("name", sorted(NAN_2D))
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@SETTINGS
@given(data=st.data())
def test_nan_functions_inside_jit_match_numpy(name, data):
    dtype = data.draw(st.sampled_from(FLOATS), "dtype")
    x = data.draw(arrays(dtype, _shape(data, 2), nan=True), "x")
    _same(NAN_2D[name], x)


@SETTINGS
@given(data=st.data())
def test_bincount_with_a_static_length_matches_numpy(data):
    n = data.draw(SIDES, "n")
    x = data.draw(hnp.arrays("int64", (n,), elements=st.integers(0, 5)), "x")
    w = data.draw(arrays("float64", (n,)), "w")
    _same(lambda x: np.bincount(x, minlength=6), x)
    _same(lambda x, w: np.bincount(x, w, minlength=7), x, w)


def test_bincount_checks_its_length_at_every_call():
    f = jit(lambda x: np.bincount(x, minlength=3))
    np.testing.assert_array_equal(f(np.array([0, 2, 2])), [1, 0, 2])
    with pytest.raises(ShapeError, match="not below the static length 3"):
        f(np.array([0, 3, 1]))
    with pytest.raises(ShapeError, match="negative"):
        f(np.array([0, -1, 1]))
    with pytest.raises(TraceError, match="minlength"):
        jit(lambda x: np.bincount(x))(np.array([0, 1]))


@SETTINGS
@given(data=st.data())
def test_put_along_axis_writes_into_a_local_array_as_numpy(data):
    dtype = data.draw(st.sampled_from(REALS), "dtype")
    m, n = _shape(data, 2)
    x = data.draw(arrays(dtype, (m, n)), "x")
    idx = data.draw(hnp.arrays("int64", (m, 2), elements=st.integers(-n, n - 1)), "idx")
    v = data.draw(arrays(dtype, (m, 2)), "v")

    def f(x, idx, v):
        y = x.copy()
        np.put_along_axis(y, idx, v, axis=1)
        return y
    _same(f, x, idx, v)

    def g(x, idx, v):
        y = x * 1
        np.put(y, idx[:, 0], v[:, 0])
        return y
    idx = np.mod(idx, m * n)  # np.put's flat positions
    _same(g, x, idx, v)


# ------------------------------------------------------------------ data-dependent shapes

REFUSED = {
    "nonzero": (lambda x: np.nonzero(x), "np.where"),
    "argwhere": (lambda x: np.argwhere(x), "np.where"),
    "flatnonzero": (lambda x: np.flatnonzero(x), "np.where"),
    "unique": (lambda x: np.unique(x), "static"),
    "mask_read": (lambda x: x[x > 0], r"np.where\(mask, x, 0\)"),
    "extract": (lambda x: np.extract(x > 0, x), r"np.where\(mask, x, 0\)"),
    "compress": (lambda x: np.compress(x.ravel() > 0, x.ravel()), r"np.where\(mask, x, 0\)"),
    "where_one_arg": (lambda x: np.where(x > 0), "three arguments"),
    "trim_zeros": (lambda x: np.trim_zeros(x.ravel()), "np.where"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_data_dependent_shapes_are_refused_with_what_to_write(name):
    fn, instead = REFUSED[name]
    with pytest.raises(TraceError, match=instead):
        jit(fn)(np.array([[1.0, -2.0], [0.0, 3.0]]))


def test_mask_reads_consumed_by_a_where_reduction_trace():
    x = np.array([[1.0, -2.0], [0.0, 3.0]])
    f = jit(lambda x: np.where(x > 0, x, 0).sum())
    assert f(x) == x[x > 0].sum()


# ------------------------------------------------------------------ the coverage table

def test_the_coverage_script_lists_every_status(tmp_path):
    import runpy
    import pathlib
    script = pathlib.Path(__file__).resolve().parents[2] / "tools" / "numpy_coverage.py"
    tool = runpy.run_path(str(script))
    out = tmp_path / "coverage.md"
    assert tool["main"](["--out", str(out)]) == 0
    text = out.read_text()
    assert "| `np.linalg.trace` | traced |" in text
    assert "| `np.hstack` | traced |" in text
    assert "| `np.add` | traced |" in text
    assert "| `np.nonzero` | refused by design | its result's shape depends on the values" in text
    assert "| `np.linalg.eig` | refused by design |" in text
    assert "| `np.tri` | constant |" in text
    assert "| `np.hamming` | constant |" in text
    assert "| `np.partition` | traced |" in text
    assert "| `np.fft.hfft` | traced |" in text
    assert "| `np.roots` | refused by design |" in text


def test_numpy_shape_queries_answer_while_tracing():
    x = np.ones((2, 3))
    f = mlc.jit(lambda x: x * np.ndim(x) + np.size(x) + np.shape(x)[0] + np.size(x, 1))
    np.testing.assert_array_equal(f(x), x * 2 + 6 + 2 + 3)
