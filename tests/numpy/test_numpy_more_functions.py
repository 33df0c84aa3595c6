"""NumPy's functions that trace by composing mlc.numpy's (kinds and conversions, arithmetic
beyond the ufuncs, editing at static positions, orders, polynomials, bits, sets, histograms,
the rest of np.fft), each against NumPy inside @mlc.jit on Hypothesis-drawn shapes (sides
1, 2, 3 and 5: size 1, odd, not a multiple of 8) and dtypes; partition's result is checked
for the partition property NumPy guarantees, not for NumPy's arrangement. What cannot trace
is refused with what to write instead, and the checks NumPy makes on the values run at
every call."""
import functools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc import BoundsError, TraceError

jit = functools.partial(mlc.jit, target="reference")

SETTINGS = settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
SIDES = st.sampled_from([1, 2, 3, 5])
REALS = ("int32", "float32", "float64")


def arrays(dtype, shape, *, nan=False, low=-4, high=4):
    """Small values: integers in [low, high], floats on a grid of eighths (exact sorts and ties)."""
    if np.dtype(dtype).kind in "iu":
        return hnp.arrays(dtype, shape, elements=st.integers(low, high))
    elements = st.integers(low * 8, high * 8).map(lambda v: v / 8)
    if nan:
        elements = st.one_of(elements, st.just(float("nan")))
    return hnp.arrays(dtype, shape, elements=elements)


def _leaves(value):
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _close(got, want):
    gs, ws = _leaves(got), _leaves(want)
    assert len(gs) == len(ws)
    for g, w in zip(gs, ws):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        tol = 1e-4 if w.dtype in (np.float32, np.complex64) else 1e-9
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)


def _same(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (RuntimeWarning, DeprecationWarning))
        want = fn(*args)
    _close(jit(fn)(*args), want)


# ------------------------------------------------------------------ one array of any real dtype

ANY_2D = {
    # static answers about kinds
    "kinds": lambda x: x + np.iscomplexobj(x) + 2 * np.isrealobj(x) + 4 * np.isscalar(x) + 8 * np.iterable(x),
    "isfortran": lambda x: x * np.isfortran(x),
    "iscomplex_isreal": lambda x: (np.iscomplex(x), np.isreal(x), np.isreal(x + 1j * x)),
    "real_if_close": lambda x: np.real_if_close(x),
    # conversions
    "asanyarray": lambda x: np.asanyarray(x, dtype=np.float32),
    "ascontiguousarray_0d": lambda x: np.ascontiguousarray(x[0, 0]),
    "asfortranarray": lambda x: np.asfortranarray(x) * 2,
    "require": lambda x: np.require(x, np.float64, "CW"),
    "asarray_chkfinite": lambda x: np.asarray_chkfinite(x),
    # arithmetic
    "divmod": lambda x: np.divmod(x, 3),
    "modf": lambda x: np.modf(x),
    "frexp": lambda x: np.frexp(x),
    "fix": lambda x: np.fix(x * 0.75),
    "isposinf_isneginf": lambda x: (np.isposinf(x / np.float32(0)), np.isneginf(x / np.float32(0))),
    "sinc": lambda x: np.sinc(x / 2),
    "i0": lambda x: np.i0(x * 3),
    # editing at static positions
    "append": lambda x: np.append(x, x[:1]),
    "append_axis": lambda x: np.append(x, x[:, :1], axis=1),
    "delete": lambda x: np.delete(x, [0, -1]),
    "delete_slice_axis": lambda x: np.delete(x, slice(None, None, 2), axis=1),
    "insert": lambda x: np.insert(x, 1, 7),
    "insert_rows": lambda x: np.insert(x, [0, x.shape[0]], x[:1], axis=0),
    "insert_columns": lambda x: np.insert(x, x.shape[1] // 2, 9, axis=1),
    "resize": lambda x: np.resize(x, (3, 4)),
    "array_split": lambda x: np.array_split(x, 2, axis=1),
    "array_split_at": lambda x: np.array_split(x, [1, 3]),
    "hsplit_vsplit": lambda x: (np.hsplit(x, x.shape[1]), np.vsplit(x, [1])),
    "dsplit": lambda x: np.dsplit(x[..., None] * np.ones(4, x.dtype), 2),
    "row_stack": lambda x: np.row_stack([x, x[-1]]),
    "rollaxis": lambda x: (np.rollaxis(x[None], 2), np.rollaxis(x[None], 0, 3)),
    "ediff1d": lambda x: np.ediff1d(x, to_begin=[0, 1], to_end=-1),
    "apply_over_axes": lambda x: np.apply_over_axes(np.sum, x[None], [0, 2]),
    "indices_from": lambda x: (x[np.tril_indices_from(x, -1)], x[np.triu_indices_from(x, 1)]),
    "diag_indices_from": lambda x: x[:1, :1][np.diag_indices_from(x[:1, :1])],
    # contractions
    "inner": lambda x: np.inner(x, x),
    "vdot": lambda x: np.vdot(x, x[::-1]),
    "matvec_vecmat": lambda x: (np.matvec(x, x[0]), np.vecmat(x[:, 0], x)),
    # orders
    "argpartition_values": lambda x: np.sort(np.take_along_axis(x, np.argpartition(x, 0, axis=1), 1), axis=1),
    "lexsort": lambda x: np.lexsort((x[0], np.floor(x[-1] / 2))),
    "lexsort_axis0": lambda x: np.lexsort([x, np.sign(x)], axis=0),  # (a list: NumPy's protocol misses it)
    "sort_complex": lambda x: np.sort_complex(x),
    "nanargmax_no_nan": lambda x: (np.nanargmax(x, axis=1), np.nanargmin(x)),
    # polynomials and signals
    "polyadd_polysub": lambda x: (np.polyadd(x[0], x[:, 0]), np.polysub(x[:, 0], x[0])),
    "polymul": lambda x: np.polymul(x[0] * x[0] + 1, x[:, 0] - 5),
    "polyder": lambda x: (np.polyder(x[0]), np.polyder(x[0], 2)),
    "polyint": lambda x: (np.polyint(x[0]), np.polyint(x[0], 2, k=[1, 2])),
    "poly": lambda x: np.poly(x[0]),
    "unwrap": lambda x: np.unwrap(np.cumsum(x, axis=1) * 2.0),
    # sets, bits, histograms
    "isin": lambda x: (np.isin(x, x[0]), np.isin(x, x[:, 0] + 1, invert=True)),
    "packbits": lambda x: (np.packbits(x > 0), np.packbits(x > 0, axis=0, bitorder="little")),
    "histogram2d": lambda x: np.histogram2d(x[0], x[-1], bins=3),
    "histogram2d_range": lambda x: np.histogram2d(x[0], x[-1], bins=[2, 4], range=[(-2, 2), (-4, 4)],
                                                  weights=x[0] + 5.0, density=True),
    "histogramdd": lambda x: (lambda h, e: (h, *e))(*np.histogramdd(x.T, bins=2)),
    # the rest of np.fft
    "rfft2_irfft2": lambda x: (np.fft.rfft2(x), np.fft.irfft2(np.fft.rfft2(x), s=x.shape)),
    "rfftn_irfftn": lambda x: (np.fft.rfftn(x, s=(2, 3), axes=(1, 0)),
                               np.fft.irfftn(np.vstack([x, x]), axes=(0,), norm="ortho")),
    "hfft_ihfft": lambda x: (np.fft.hfft(np.hstack([x, x])), np.fft.ihfft(x, axis=0, norm="forward")),
}


@pytest.mark.parametrize("name", sorted(ANY_2D))
@SETTINGS
@given(data=st.data())
def test_numpy_functions_composed_inside_jit_match_numpy(name, data):
    dtype = data.draw(st.sampled_from(REALS), "dtype")
    shape = (data.draw(SIDES, "m"), data.draw(SIDES, "n"))
    _same(ANY_2D[name], data.draw(arrays(dtype, shape), "x"))


# ------------------------------------------------------------------ integers

INTEGERS = {
    "gcd": lambda a, b: np.gcd(a, b),
    "lcm": lambda a, b: np.lcm(a, b),
    "divmod": lambda a, b: (np.divmod(a, np.where(b == 0, 3, b)), np.divmod(a, 3, dtype=np.float64)),
    "bitwise_count": lambda a, b: (np.bitwise_count(a), np.bitwise_count(b.astype(np.int64) * 1000003)),
    "unpackbits": lambda a, b: (np.unpackbits(a.astype(np.uint8)),
                                np.unpackbits(a.astype(np.uint8), axis=-1, count=-3, bitorder="little")),
    "choose": lambda a, b: np.choose(np.abs(a) % 3, [a, b, a * b]),
    "choose_wrap_clip": lambda a, b: (np.choose(a, [a, b], mode="wrap"), np.choose(a, [b, 0, a], mode="clip")),
}


@pytest.mark.parametrize("name", sorted(INTEGERS))
@SETTINGS
@given(data=st.data())
def test_integer_functions_match_numpy(name, data):
    dtype = data.draw(st.sampled_from(["int8", "int16", "int32", "int64", "uint8"]), "dtype")
    shape = (data.draw(SIDES, "m"), data.draw(SIDES, "n"))
    low = 0 if dtype == "uint8" else -60
    a = data.draw(arrays(dtype, shape, low=low, high=60), "a")
    b = data.draw(arrays(dtype, shape[-1:], low=low, high=60), "b")
    _same(INTEGERS[name], a, b)


# ------------------------------------------------------------------ NaN-ignoring order statistics

NAN_ORDER = {
    "nanargmax": lambda x: np.nanargmax(x, axis=1),
    "nanargmin_keepdims": lambda x: np.nanargmin(x, axis=1, keepdims=True),
    "nanmedian": lambda x: np.nanmedian(x, axis=1),
    "nanmedian_all_keepdims": lambda x: np.nanmedian(x, keepdims=True),
    "nanmedian_axis0": lambda x: np.nanmedian(x, axis=0),
    "nanquantile": lambda x: np.nanquantile(x, 0.3, axis=1),
    "nanquantile_methods_q": lambda x: tuple(np.nanquantile(x, [0.0, 0.4, 1.0], axis=0, method=m)
                                           for m in ("lower", "higher", "nearest", "midpoint")),
    "nanpercentile_q": lambda x: (np.nanpercentile(x, [25, 90], axis=1, keepdims=True), np.nanpercentile(x, 40)),
}


@pytest.mark.parametrize("name", sorted(NAN_ORDER))
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@SETTINGS
@given(data=st.data())
def test_nan_order_statistics_match_numpy(name, data):
    dtype = data.draw(st.sampled_from(["float32", "float64"]), "dtype")
    m, n = data.draw(SIDES, "m"), data.draw(SIDES, "n")
    x = data.draw(arrays(dtype, (m, n), nan=True), "x")
    if name.startswith("nanarg") or name.endswith("_q"):  # (nanarg: NumPy raises for a row of NaNs only, tested
        # below; a list of q: NumPy's dtype is the first row's, float32 when that row is all NaN)
        x[:, 0] = np.where(np.isnan(x).all(axis=1), 1, x[:, 0])
    _same(NAN_ORDER[name], x)


@SETTINGS
@given(data=st.data())
def test_partition_puts_each_kth_element_in_place(data):
    dtype = data.draw(st.sampled_from(REALS), "dtype")
    m, n = data.draw(SIDES, "m"), data.draw(SIDES, "n")
    x = data.draw(arrays(dtype, (m, n)), "x")
    kth = sorted({data.draw(st.integers(0, n - 1), "k"), n - 1})
    part, order = jit(lambda x: (np.partition(x, kth, axis=1), np.argpartition(x, kth[0], axis=-1)))(x)
    flat = jit(lambda x: np.partition(x, -1, axis=None))(x)
    want = np.sort(x, axis=1)
    for k in kth:  # the partition property: the kth in place, none greater before, none smaller after
        np.testing.assert_array_equal(part[:, k], want[:, k])
        assert (part[:, :k] <= part[:, k:k + 1]).all() and (part[:, k + 1:] >= part[:, k:k + 1]).all()
    np.testing.assert_array_equal(np.take_along_axis(x, order, 1)[:, kth[0]], want[:, kth[0]])
    assert flat[-1] == x.max() and flat.shape == (m * n,)


# ------------------------------------------------------------------ complex and fitting

@SETTINGS
@given(data=st.data())
def test_complex_operands_and_polyfit_match_numpy(data):
    n = data.draw(SIDES, "n")
    re = data.draw(arrays("float64", (3, n)), "re")
    im = data.draw(arrays("float64", (3, n)), "im")
    z = (re + 1j * im).astype(data.draw(st.sampled_from(["complex64", "complex128"]), "dtype"))
    _same(lambda z: (np.vdot(z, z[::-1]), np.vecmat(z[0], z.T), np.sort_complex(z), np.inner(z, z),
                     np.fft.hfft(np.hstack([z, z])), np.iscomplex(z), np.isreal(z), np.iscomplexobj(z) * z), z)
    xs = np.linspace(-1.0, 1.0, n + 3)
    _same(lambda y: (np.polyfit(xs, y, 2), np.polyfit(xs, np.stack([y, y * 2], 1), 1, w=xs + 2)),
          np.concatenate([re[0], im[:, 0]]))


def test_einsum_path_is_numpys_for_the_shapes():
    def f(a, b):
        path, report = np.einsum_path("ij,jk,kl->il", a, b, b.T, optimize="optimal")
        return np.einsum("ij,jk,kl->il", a, b, b.T, optimize=path), len(path)
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    _same(f, a, b)


# ------------------------------------------------------------------ refused, and NumPy's checks at every call

REFUSED = {
    "roots": (lambda x: np.roots(x[0]), "eigenvalues"),
    "polydiv": (lambda x: np.polydiv(x[0], x[1]), "outside @mlc.jit"),
    "isnat": (lambda x: np.isnat(x), "np.isnan"),
    "real_if_close_complex": (lambda x: np.real_if_close(x + 0j), "a.real"),
    "poly_matrix": (lambda x: np.poly(x), "1-D"),
    "delete_traced_positions": (lambda x: np.delete(x, x[0].astype(int)), "constant"),
    "savez_compressed": (lambda x: np.savez_compressed("unused.npz", x=x), "save them outside"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_cannot_trace_is_refused_with_what_to_write(name):
    fn, instead = REFUSED[name]
    with pytest.raises(TraceError, match=instead):
        jit(fn)(np.array([[1.0, 2.0], [0.0, 3.0]]))


def test_numpys_value_checks_run_at_every_call():
    checked = jit(lambda x: np.asarray_chkfinite(x) + 1)
    np.testing.assert_array_equal(checked(np.ones(2)), [2.0, 2.0])
    with pytest.raises(ValueError, match="infs or NaNs"):
        checked(np.array([1.0, np.inf]))
    arg = jit(lambda x: np.nanargmax(x, axis=1))
    np.testing.assert_array_equal(arg(np.array([[np.nan, 1.0], [2.0, np.nan]])), [1, 0])
    with pytest.raises(ValueError, match="All-NaN slice"):
        arg(np.array([[np.nan, 1.0], [np.nan, np.nan]]))
    product = jit(lambda p, q: np.polymul(p, q))
    np.testing.assert_array_equal(product(np.array([1.0, 2.0]), np.array([3.0])), [3.0, 6.0])
    with pytest.raises(ValueError, match="leading coefficient"):
        product(np.array([0.0, 2.0]), np.array([3.0]))
    choose = jit(lambda a, x: np.choose(a, [x, -x]))
    np.testing.assert_array_equal(choose(np.array([0, 1]), np.ones(2)), [1.0, -1.0])
    for bad in ([0, 2], [-1, 0]):
        with pytest.raises(BoundsError, match="np.choose"):
            choose(np.array(bad), np.ones(2))
