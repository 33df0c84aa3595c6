"""mlc.numpy as an Array API namespace: dtype names, dtype functions, constants, inspection,
all/any and var/std with ``correction=`` (each against NumPy, eager and inside @mlc.jit)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.numpy as mnp
from mlc import DTypeError, TraceError
from mlc.errors import DeviceError

NAMES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "float32", "float64", "complex64", "complex128"]
REAL = [n for n in NAMES if not n.startswith("complex")]


def test_the_thirteen_dtype_names_are_numpys_dtypes():
    assert mnp.__array_api_version__ == "2024.12"
    for name in NAMES:
        assert np.dtype(getattr(mnp, name)) == np.dtype(name)
    assert np.zeros(2, "int16").dtype == mnp.int16


def test_constants():
    assert (mnp.e, mnp.pi, mnp.inf) == (math.e, math.pi, math.inf)
    assert math.isnan(mnp.nan) and mnp.newaxis is None


@pytest.mark.parametrize("a", REAL)
@pytest.mark.parametrize("b", REAL)
def test_result_type_and_can_cast_follow_numpy(a, b):
    da, db = getattr(mnp, a), getattr(mnp, b)
    assert mnp.result_type(da, db) == np.result_type(a, b)
    assert mnp.result_type(np.zeros(1, a), db) == np.result_type(a, b)
    assert mnp.can_cast(da, db) is np.can_cast(a, b, casting="safe")


def test_result_type_with_python_scalars_is_weak():
    assert mnp.result_type(mnp.int8, 1) == np.int8
    assert mnp.result_type(mnp.float32, 1.0) == np.float32
    assert mnp.result_type(mnp.int16, 1.0) == np.float64
    with pytest.raises(DTypeError, match="result_type: needs at least one array or dtype"):
        mnp.result_type(1, 2.0)


def test_isdtype_kinds():
    assert mnp.isdtype(mnp.int8, "signed integer") and not mnp.isdtype(mnp.uint8, "signed integer")
    assert mnp.isdtype(mnp.uint64, ("bool", "integral"))
    assert mnp.isdtype(mnp.float64, "real floating") and mnp.isdtype(mnp.float32, "numeric")
    assert not mnp.isdtype(mnp.bool, "numeric") and mnp.isdtype(mnp.bool, mnp.bool)
    assert mnp.isdtype(mnp.complex64, "complex floating")
    with pytest.raises(DTypeError, match="unknown kind 'floating'"):
        mnp.isdtype(mnp.float32, "floating")
    with pytest.raises(DTypeError, match="isdtype: dtype must be a dtype.*got ndarray"):
        mnp.isdtype(np.zeros(2), "numeric")


def test_finfo_and_iinfo():
    f = mnp.finfo(mnp.float32)
    assert (f.bits, f.eps, f.max, f.smallest_normal) == (32, np.finfo("float32").eps,
                                                         np.finfo("float32").max,
                                                         np.finfo("float32").smallest_normal)
    assert mnp.finfo(np.zeros(1)).bits == 64 and mnp.finfo(mnp.complex64).dtype == np.float32
    assert all(type(v) is float for v in (f.eps, f.max, f.min, f.smallest_normal))  # Python numbers
    assert type(mnp.iinfo(np.zeros(1, "int8")).max) is int
    i = mnp.iinfo(mnp.uint16)
    assert (i.bits, i.min, i.max) == (16, 0, 65535)
    with pytest.raises(DTypeError, match="finfo: needs a floating dtype, got int32"):
        mnp.finfo(mnp.int32)
    with pytest.raises(DTypeError, match="iinfo: needs an integer dtype, got float64"):
        mnp.iinfo(mnp.float64)


def test_namespace_info():
    info = mnp.__array_namespace_info__()
    assert info.devices()[0] == "cpu" and info.default_device() == "cpu"
    caps = info.capabilities()
    assert caps["boolean indexing"] is False and caps["data-dependent shapes"] is False
    assert info.default_dtypes()["integral"] == np.int64
    assert set(info.dtypes(kind="unsigned integer")) == {"uint8", "uint16", "uint32", "uint64"}
    assert len(info.dtypes()) == 13
    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        info.dtypes(device="gpu")


def test_linalg_is_the_extension_namespace():
    """``xp.linalg`` is the standard's linalg extension, not an internal module."""
    assert set(mnp.linalg.__all__) == {
        "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
        "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet", "solve", "svd",
        "svdvals", "tensordot", "trace", "vecdot", "vector_norm"}
    assert mnp.linalg.matmul is mnp.matmul and mnp.linalg.vecdot is mnp.vecdot
    x = np.array([[3.0, -4.0, 0.0], [1.0, np.inf, -2.0]])
    for ord_ in (2, 1, np.inf, -np.inf, 0, 3, 0.5):
        for axis in (None, 1, (0, 1)):
            got = mnp.linalg.vector_norm(x, axis=axis, ord=ord_, keepdims=True)
            want = np.linalg.vector_norm(x, axis=axis, ord=ord_, keepdims=True)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-12)


_arrays = hnp.arrays(st.sampled_from(["bool", "int8", "uint32", "float32", "float64"]),
                     hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))


@settings(max_examples=25, deadline=None)
@given(x=_arrays, data=st.data(), keepdims=st.booleans())
def test_all_any_match_numpy(x, data, keepdims):
    axis = data.draw(st.none() | (st.integers(-x.ndim, x.ndim - 1) if x.ndim else st.none()))
    for name in ("all", "any"):
        got = getattr(mnp, name)(x, axis=axis, keepdims=keepdims)
        want = getattr(np, name)(x, axis=axis, keepdims=keepdims)
        assert got.dtype == np.bool_ and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_all_any_trace():
    f = mlc.jit(lambda x: (np.all(x > 0, axis=0), mnp.any(x)))
    x = np.array([[1.0, -1.0], [2.0, np.nan]])
    a, b = f(x)
    np.testing.assert_array_equal(a, [True, False])
    assert b.item() is True


def test_var_std_take_correction():
    x = np.arange(7.0).reshape(7, 1) ** 2
    np.testing.assert_allclose(mnp.var(x, axis=0, correction=1), np.var(x, axis=0, ddof=1))
    np.testing.assert_allclose(mnp.std(x, correction=2), np.std(x, ddof=2))
    with pytest.raises(TraceError, match="give ddof or correction, not both"):
        mnp.var(x, ddof=1, correction=2)
