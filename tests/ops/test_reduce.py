"""Reductions against NumPy (and SciPy's logsumexp): axes, keepdims, dtypes, NaN/inf, empty axes."""
import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings, strategies as st

from mlc import DTypeError, ShapeError
from mlc.ops import TensorType, get_op

from ._harness import ALL, FLOATS, NUMERIC, arrays, check_op, numpy_call, shapes


@st.composite
def axes(draw, ndim):
    """None, one int (negative too) or a tuple of distinct axes."""
    if ndim == 0:
        return draw(st.sampled_from([None, ()]))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    picked = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in picked)


def _count(shape, axis):
    n = 1
    for a in range(len(shape)) if axis is None else np.atleast_1d(axis):
        n *= shape[a]
    return max(n, 1)


def _sum_tol(x, axis, out_dtype):
    """Summation order differs from NumPy's pairwise sums: allow n ulps of sum(|x|)."""
    if np.dtype(out_dtype).kind != "f":
        return 0.0
    eps = np.finfo(np.dtype(out_dtype) if x.dtype.kind == "f" else np.float64).eps
    if x.dtype == np.float16:
        eps = np.finfo(np.float16).eps
    total = float(np.max(np.sum(np.abs(x.astype("float64")), axis=axis), initial=0))
    return 2 * _count(x.shape, axis) * eps * total


@pytest.mark.parametrize("name", ["sum", "mean", "prod"])
@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes(min_side=0, max_side=4),
       keepdims=st.booleans())
def test_sum_mean_prod(name, data, dtype, shape, keepdims):
    if name == "prod":  # keep products finite in every dtype whatever the order of multiplication
        shape = tuple(min(s, 3) for s in shape)
    axis = data.draw(axes(len(shape)), label="axis")
    bound = 1.5 if name == "prod" else 100.0
    x = data.draw(arrays(dtype, shape, special=False, bound=bound if dtype in FLOATS else None))
    expected = numpy_call(getattr(np, name), x, axis=axis, keepdims=keepdims)
    check_op(name, [x], expected, atol=_sum_tol(x, axis, expected.dtype), axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("name", ["max", "min"])
@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes(max_side=4), keepdims=st.booleans())
def test_max_min_propagate_nan(name, data, dtype, shape, keepdims):
    axis = data.draw(axes(len(shape)), label="axis")
    x = data.draw(arrays(dtype, shape))
    check_op(name, [x], numpy_call(getattr(np, name), x, axis=axis, keepdims=keepdims),
             axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes(max_side=4), keepdims=st.booleans())
def test_argmax_argmin_first_occurrence(name, data, dtype, shape, keepdims):
    axis = None if not shape or data.draw(st.booleans()) else data.draw(st.integers(-len(shape), len(shape) - 1))
    # few distinct values, so ties (and several NaNs) are common
    values = st.sampled_from([0, 1, -1, 2]) if dtype != "bool" else st.booleans()
    if dtype in FLOATS:
        values = st.sampled_from([0.0, 1.0, -1.0, np.nan, np.inf, -np.inf])
    size = int(np.prod(shape))
    x = np.asarray(data.draw(st.lists(values, min_size=size, max_size=size))).astype(dtype).reshape(shape)
    check_op(name, [x], numpy_call(getattr(np, name), x, axis=axis, keepdims=keepdims),
             axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("name", ["var", "std"])
@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(NUMERIC + ("bool",)), shape=shapes(max_side=4),
       keepdims=st.booleans(), ddof=st.sampled_from([0, 1]))
def test_var_std(name, data, dtype, shape, keepdims, ddof):
    axis = data.draw(axes(len(shape)), label="axis")
    x = data.draw(arrays(dtype, shape, special=False, bound=100.0 if dtype in FLOATS else 1000))
    if dtype == "float16":
        # NumPy sums float16's squared deviations in float16, which overflows to inf for
        # values that are not large (26 of 96 and 10 zeros: a sum past 65504), where mlc
        # (and NumPy's float32) give the std of 43.0: the float32 result, rounded
        expected = numpy_call(getattr(np, name), x.astype("float32"), axis=axis, keepdims=keepdims,
                              ddof=ddof).astype("float16")
    else:
        expected = numpy_call(getattr(np, name), x, axis=axis, keepdims=keepdims, ddof=ddof)
    eps = np.finfo(expected.dtype).eps
    scale = float(np.max(np.abs(x.astype("float64")), initial=0)) ** 2
    atol = 8 * _count(shape, axis) * eps * scale
    check_op(name, [x], expected, atol=np.sqrt(atol) if name == "std" else atol,
             axis=axis, keepdims=keepdims, ddof=ddof)


def test_float16_std_does_not_overflow_where_numpy_does():
    # NumPy's float16 var sums the squared deviations (66560 here) in float16: inf
    x = np.full((3, 3, 4), 96, "float16")
    x.reshape(-1)[:10] = 0
    for name, expected in (("std", 43.0), ("var", 1849.0)):
        check_op(name, [x], np.asarray(expected, "float16"), atol=float(expected) * 2e-3)


@settings(max_examples=20)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes(min_side=0, max_side=4), keepdims=st.booleans())
def test_logsumexp_matches_scipy(data, dtype, shape, keepdims):
    axis = data.draw(axes(len(shape)), label="axis")
    x = data.draw(arrays(dtype, shape, bound=1e4 if dtype in FLOATS else 50))
    out_shape = np.sum(x, axis=axis, keepdims=keepdims).shape
    if x.size:
        expected = numpy_call(scipy.special.logsumexp, x, axis=axis, keepdims=keepdims)
        expected = expected.reshape(out_shape)  # SciPy makes 0-d results 1-d
    else:  # SciPy fails on empty input; log(0) = -inf is the sum-of-nothing answer
        expected = np.full(out_shape, -np.inf, "float64" if dtype not in FLOATS else dtype)
    # log(sum(exp(x - m))) + m is accurate to a few ulps of |m| + log(n), not relative to the result
    eps = float(np.finfo(expected.dtype).eps) if expected.dtype.kind == "f" else 0.0
    scale = (float(np.max(np.abs(x[np.isfinite(x)]), initial=0.0)) + np.log(max(_count(shape, axis), 1)) + 1)
    atol = float(np.log(_count(shape, axis)) * 1e-3) if dtype == "float16" else 4 * eps * scale
    check_op("logsumexp", [x], expected, atol=atol, axis=axis, keepdims=keepdims)


def test_logsumexp_is_stable_for_large_inputs():
    x = np.array([[1000.0, 1000.0], [-1000.0, -np.inf]], "float32")
    check_op("logsumexp", [x], scipy.special.logsumexp(x, axis=1), axis=1)


def test_result_dtypes_follow_numpy():
    for dtype in ALL:
        t = TensorType((3, 4), dtype)
        x = np.zeros((3, 4), dtype)
        assert get_op("sum").infer(t).dtype == np.sum(x).dtype.name
        assert get_op("prod").infer(t).dtype == np.prod(x).dtype.name
        assert get_op("mean").infer(t).dtype == np.mean(x).dtype.name
        assert get_op("argmax").infer(t, axis=0).dtype == "int64"


def test_sum_with_dtype_attribute():
    x = np.arange(-5, 7, dtype="int32").reshape(3, 4)
    check_op("sum", [x], np.sum(x, axis=0, dtype="float64"), axis=0, dtype="float64")
    check_op("mean", [x], np.mean(x, axis=1, dtype="float32"), axis=1, dtype="float32")


# ------------------------------------------------------------------ errors

def test_axis_errors():
    t = TensorType((3, 4), "float32")
    with pytest.raises(ShapeError, match="axis 2 is out of bounds"):
        get_op("sum").infer(t, axis=2)
    with pytest.raises(ShapeError, match="repeated axis"):
        get_op("mean").infer(t, axis=(0, -2))
    with pytest.raises(ShapeError, match="must be an int"):
        get_op("argmax").infer(t, axis=(0, 1))
    with pytest.raises(ShapeError, match="keepdims"):
        get_op("sum").infer(t, keepdims=1)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min"])
@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(NUMERIC), shape=shapes(min_side=0, max_side=4),
       keepdims=st.booleans(), initial=st.sampled_from([5, -2.5, 0.25, 100]))
def test_a_start_value_takes_part_in_each_reduction_as_numpys_initial(name, data, dtype, shape, keepdims,
                                                                      initial):
    """``initial=``: it starts each sum or product (after the reduction here, which may be split
    into partial results starting from the identity) and takes part in each max or min, whose
    empty slices it is; an integer result takes ``int(initial)``, as NumPy's."""
    if name == "prod":
        shape = tuple(min(s, 3) for s in shape)
    axis = data.draw(axes(len(shape)), label="axis")
    x = data.draw(arrays(dtype, shape, special=False, bound=(1.5 if name == "prod" else 50.0)
                         if dtype in FLOATS else None))
    try:
        expected = numpy_call(getattr(np, name), x, axis=axis, keepdims=keepdims, initial=initial)
    except OverflowError:  # -2 for an unsigned result, 100 for an int8 max: refused by both
        with pytest.raises(DTypeError, match=f"initial={initial!r} is no start value"):
            get_op(name).infer(TensorType(x.shape, dtype), axis=axis, keepdims=keepdims, initial=initial)
        return
    check_op(name, [x], expected, atol=_sum_tol(x, axis, expected.dtype) + (1e-3 if name == "prod" else 0),
             axis=axis, keepdims=keepdims, initial=initial)


def test_start_values_outside_the_result_dtype_are_refused_as_numpy_refuses_them():
    with pytest.raises(DTypeError, match="initial=inf is no start value for a result of dtype int8"):
        get_op("max").infer(TensorType((3,), "int8"), initial=float("inf"))
    with pytest.raises(DTypeError, match="initial=1000"):
        get_op("min").infer(TensorType((3,), "uint8"), initial=1000)
    assert get_op("max").infer(TensorType((0, 3), "float32"), axis=0, initial=1.0) == TensorType((3,), "float32")


def test_empty_reductions_without_identity_raise():
    with pytest.raises(ShapeError, match="zero-size"):
        get_op("max").infer(TensorType((0, 3), "float32"), axis=0)
    with pytest.raises(ShapeError, match="empty sequence"):
        get_op("argmin").infer(TensorType((3, 0), "int32"), axis=1)


def test_bad_attribute_types():
    with pytest.raises(ShapeError, match="ddof"):
        get_op("var").infer(TensorType((3,), "float32"), ddof="1")
    with pytest.raises(DTypeError, match="mean: dtype must be a float"):
        get_op("mean").infer(TensorType((3,), "float32"), dtype="int32")


@pytest.mark.parametrize("name", ["all", "any"])
@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes(min_side=0, max_side=4),
       keepdims=st.booleans())
def test_all_any(name, data, dtype, shape, keepdims):
    """Every element read as a bool (NaN is True); an empty slice gives the identity."""
    axis = data.draw(axes(len(shape)), label="axis")
    x = data.draw(arrays(dtype, shape))
    check_op(name, [x], getattr(np, name)(x, axis=axis, keepdims=keepdims), axis=axis, keepdims=keepdims)


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@settings(max_examples=12)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes(min_dims=1, min_side=0, max_side=4))
def test_scans(name, data, dtype, shape):
    """Running sums/products along one axis, with sum's dtype rule (narrow ints widen)."""
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = data.draw(arrays(dtype, shape, special=False, bound=1.5 if name == "cumprod" else 100.0)
                  if dtype in FLOATS else arrays(dtype, shape))
    expected = numpy_call(getattr(np, name), x, axis=axis)
    check_op(name, [x], expected, atol=_sum_tol(x, None, expected.dtype), axis=axis)
