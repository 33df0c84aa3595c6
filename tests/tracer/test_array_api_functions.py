"""The Array API's manipulation, creation, cumulative, contraction and rounding functions of
mlc.numpy against NumPy: eager (compiled) calls with Hypothesis-drawn shapes and dtypes, traced
calls inside @mlc.jit, and their errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.numpy as mnp
from mlc import MLCError, ShapeError, TraceError

DTYPES = ["bool", "int8", "uint16", "int64", "float32", "float64"]


def arrays(min_dims=0, max_dims=3, min_side=0, dtypes=DTYPES):
    return st.sampled_from(dtypes).flatmap(lambda d: hnp.arrays(
        d, hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=4)))


def same(got, want):
    got = got if isinstance(got, (list, tuple)) else [got]
    want = want if isinstance(want, (list, tuple)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


@settings(max_examples=15, deadline=None)
@given(x=arrays(min_dims=1), data=st.data())
def test_manipulation_matches_numpy(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    reps = data.draw(st.lists(st.integers(0, 3), max_size=4).map(tuple), label="reps")
    shift = data.draw(st.integers(-6, 6), label="shift")
    same(mnp.tile(x, reps), np.tile(x, reps))
    same(mnp.repeat(x, 2, axis=axis), np.repeat(x, 2, axis=axis))
    same(mnp.repeat(x, 3), np.repeat(x, 3))
    same(mnp.roll(x, shift, axis=axis), np.roll(x, shift, axis=axis))
    same(mnp.roll(x, shift), np.roll(x, shift))
    same(mnp.unstack(x, axis=axis), tuple(np.moveaxis(x, axis, 0)))
    perm = data.draw(st.permutations(range(x.ndim)).map(tuple), label="perm")
    same(mnp.permute_dims(x, perm), np.transpose(x, perm))
    same(mnp.concat([x, x], axis=axis), np.concatenate([x, x], axis=axis))
    if x.ndim >= 2:
        same(mnp.matrix_transpose(x), np.swapaxes(x, -1, -2))
        k = data.draw(st.integers(-3, 3), label="k")
        same(mnp.tril(x, k=k), np.tril(x, k))
        same(mnp.triu(x, k=k), np.triu(x, k))


@settings(max_examples=15, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       dtype=st.sampled_from(DTYPES))
def test_broadcast_arrays_and_meshgrid(shapes, dtype):
    xs = [np.arange(np.prod(s), dtype="int64").reshape(s).astype(dtype) for s in shapes.input_shapes]
    same(mnp.broadcast_arrays(*xs), np.broadcast_arrays(*xs))
    vs = [np.ravel(x) for x in xs]
    same(mnp.meshgrid(*vs), np.meshgrid(*vs))
    same(mnp.meshgrid(*vs, indexing="ij"), np.meshgrid(*vs, indexing="ij"))


@pytest.mark.parametrize("axis", [0, -1, None])
@pytest.mark.parametrize("dtype", ["bool", "int8", "float32"])
def test_cumsum_and_cumprod_of_a_0_d_array_along_an_axis_are_numpys(dtype, axis):
    """NumPy scans a 0-d array as one of shape (1,): axis 0 and -1 are taken (mlc refused them,
    'axis -1 is out of bounds for a 0-d array'), under the jit and eagerly; axis 1 is refused."""
    x = np.array(3, dtype)
    for fn in (np.cumsum, np.cumprod):
        same(mlc.jit(lambda a: fn(a, axis=axis))(x), fn(x, axis=axis))
        same(getattr(mnp, fn.__name__)(x, axis=axis), fn(x, axis=axis))
    with pytest.raises(mlc.AxisError, match="axis 1 is out of bounds"):
        mnp.cumsum(x, axis=1)


@settings(max_examples=15, deadline=None)
@given(x=arrays(min_dims=1, dtypes=["bool", "int8", "uint32", "int64", "float64"]), data=st.data())
def test_cumulative_and_diff_match_numpy(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    if x.dtype.kind == "f":
        x = np.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-2.0) % 3  # no inf - inf in running sums
    same(mnp.cumsum(x, axis=axis), np.cumsum(x, axis=axis))
    same(mnp.cumsum(x), np.cumsum(x))
    same(mnp.cumprod(x % 2 + 1 if x.dtype != np.bool_ else x, axis=axis),
         np.cumprod(x % 2 + 1 if x.dtype != np.bool_ else x, axis=axis))
    same(mnp.cumulative_sum(x, axis=axis, include_initial=True),
         np.cumulative_sum(x, axis=axis, include_initial=True))
    n = data.draw(st.integers(0, 2), label="n")
    same(mnp.diff(x, axis=axis, n=n), np.diff(x, axis=axis, n=n))
    same(mnp.count_nonzero(x, axis=axis), np.count_nonzero(x, axis=axis))


@settings(max_examples=15, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["int32", "float32", "float64"]))
def test_tensordot_and_vecdot_match_numpy(data, dtype):
    a = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
                             elements=st.integers(-5, 5)), label="a")
    axes = data.draw(st.integers(0, a.ndim), label="axes")
    b_shape = a.shape[a.ndim - axes:] + data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    b = np.arange(np.prod(b_shape), dtype=dtype).reshape(b_shape) % 7
    same(mnp.tensordot(a, b, axes=axes), np.tensordot(a, b, axes=axes))
    same(mnp.vecdot(a, a[..., ::-1]), np.vecdot(a, a[..., ::-1]))


def test_round_conj_real_imag():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.7, np.inf, np.nan], "float32")
    same(mnp.round(x), np.round(x))
    assert np.signbit(mnp.round(np.array([-0.4]))[0])
    same(mnp.round(np.arange(4, dtype="int16")), np.arange(4, dtype="int16"))
    same(mnp.conj(x), x)
    same(mnp.real(x), x)
    same(mnp.imag(x), np.zeros_like(x))
    same(mnp.round(x, decimals=1), np.round(x, decimals=1))
    with pytest.raises(TraceError, match="decimals=1 is supported for real floating arrays"):
        mnp.round(x.astype("complex64"), decimals=1)


def test_creation_takes_device_and_copy():
    assert mnp.zeros(2, dtype=mnp.int8, device="cpu").dtype == np.int8
    a = np.arange(3)
    assert mnp.asarray(a, copy=True) is not a and np.shares_memory(mnp.asarray(a, copy=False), a)
    same(mnp.linspace(0, 1, 5, endpoint=False), np.linspace(0, 1, 5, endpoint=False))
    same(mnp.full((2,), 3), np.full((2,), 3))
    same(mnp.from_dlpack(a), a)
    with pytest.raises(MLCError, match="unknown device 'gpu'"):
        mnp.ones(2, device="gpu")


def test_functions_trace_inside_jit():
    @mlc.jit
    def f(x):
        return (mnp.tile(x, (2,)), mnp.roll(x, 1, axis=0), mnp.cumulative_sum(x, axis=0),
                mnp.tril(x), mnp.tensordot(x, x, axes=1), mnp.diff(x, axis=0))

    x = np.arange(9.0).reshape(3, 3)
    same(f(x), (np.tile(x, (2,)), np.roll(x, 1, axis=0), np.cumsum(x, axis=0), np.tril(x),
                np.tensordot(x, x, axes=1), np.diff(x, axis=0)))


def test_errors_name_the_function():
    x = np.zeros((2, 3))
    with pytest.raises(ShapeError, match="unstack: axis 2 is out of bounds"):
        mnp.unstack(x, axis=2)
    with pytest.raises(ShapeError, match="permute_dims: axes"):
        mnp.permute_dims(x, (0, 0))
    with pytest.raises(ShapeError, match="repeat: 3 counts for an axis of 2"):  # per-element counts
        mnp.repeat(x, np.array([1, 2, 3]), axis=0)
    with pytest.raises(ShapeError, match="cumulative_sum: axis is required"):
        mnp.cumulative_sum(x)
    with pytest.raises(ShapeError, match="tensordot: axis 1 of"):
        mnp.tensordot(x, x, axes=((1,), (0,)))
    with pytest.raises(ShapeError, match="matrix_transpose: needs at least 2"):
        mnp.matrix_transpose(np.zeros(3))


@pytest.mark.parametrize("call", [
    lambda x: mnp.expand_dims(x, axis=3), lambda x: mnp.expand_dims(x, axis=-4), lambda x: mnp.sum(x, axis=2),
    lambda x: mnp.sort(x, axis=-3), lambda x: mnp.argsort(x, axis=2), lambda x: mnp.take(x, np.array([0]), axis=2),
    lambda x: mnp.unstack(x, axis=2), lambda x: mnp.cumulative_sum(x, axis=5), lambda x: mnp.flip(x, axis=2),
    lambda x: mnp.concat([x, x], axis=2), lambda x: mnp.roll(x, 1, axis=-3), lambda x: mnp.squeeze(x, axis=4),
    lambda x: mnp.vecdot(x, x, axis=2), lambda x: mnp.take_along_axis(x, np.zeros((2, 3), "int64"), axis=2)])
def test_an_axis_out_of_range_is_an_index_error_as_the_standard_asks(call):
    """AxisError: a ShapeError naming the op, and an IndexError (the Array API's exception, and
    what NumPy's AxisError is too); eager and traced alike."""
    x = np.zeros((2, 3))
    for f in (call, mlc.jit(call)):
        with pytest.raises(IndexError, match="out of bounds") as err:
            f(x)
        assert isinstance(err.value, mlc.AxisError) and isinstance(err.value, ShapeError)


@settings(max_examples=15, deadline=None)
@given(x=arrays(min_dims=1, dtypes=["bool", "int8", "uint64", "float32", "float64"]), data=st.data())
def test_sort_argsort_match_numpy(x, data):
    """Stable sorts, NaN last, -0.0 kept (ties between 0.0 and -0.0 keep their order)."""
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    same(mnp.argsort(x, axis=axis), np.argsort(x, axis=axis, stable=True))
    got, want = mnp.sort(x, axis=axis), np.take_along_axis(x, np.argsort(x, axis=axis, stable=True), axis)
    same(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    if x.dtype.kind in "iu":  # descending: ties keep their order
        same(mnp.argsort(x, axis=axis, descending=True),
             np.argsort(-x.astype("float64"), axis=axis, stable=True))


@settings(max_examples=15, deadline=None)
@given(a=hnp.arrays("float64", st.integers(0, 6), elements=st.floats(-3, 3) | st.just(np.nan)),
       v=hnp.arrays("float64", hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
                    elements=st.floats(-4, 4) | st.just(np.nan)),
       side=st.sampled_from(["left", "right"]))
def test_searchsorted_matches_numpy(a, v, side):
    a = np.sort(a)
    same(mnp.searchsorted(a, v, side=side), np.searchsorted(a, v, side=side))


@settings(max_examples=15, deadline=None)
@given(x=arrays(min_dims=1, dtypes=["bool", "int8", "float64"]))
def test_nonzero_and_one_argument_where_match_numpy_eagerly(x):
    same(mnp.nonzero(x), np.nonzero(x))
    same(mnp.where(x), np.nonzero(x))


def test_data_dependent_shapes_do_not_trace():
    x = np.array([0.0, 2.0])
    # (returned, the index arrays of a traced mask have no shape; tests/tracer/test_numpy_idioms.py
    # indexes with them)
    with pytest.raises(TraceError, match=r"np.nonzero\(mask\) / np.where\(mask\) of a traced mask"):
        mlc.jit(lambda a: np.nonzero(a))(x)
    with pytest.raises(TraceError, match=r"np.nonzero\(mask\) / np.where\(mask\) of a traced mask"):
        mlc.jit(lambda a: mnp.where(a))(x)
    with pytest.raises(ShapeError, match="nonzero: a 0-d array has no indices"):
        mnp.nonzero(np.float64(1.0))
    same(mlc.jit(lambda a: np.where(a > 1, a, -a))(x), np.where(x > 1, x, -x))


def test_clip_takes_the_array_api_names_and_no_bounds():
    x = np.array([np.nan, -2.0, 0.5, 3.0])
    same(mnp.clip(x), x)
    same(mnp.clip(x, min=-1.0), np.clip(x, -1.0, None))
    same(mnp.clip(x, max=1.0), np.clip(x, None, 1.0))
    same(mnp.clip(x, a_min=-1.0, a_max=1.0), np.clip(x, -1.0, 1.0))
    with pytest.raises(TraceError, match="give each bound once"):
        mnp.clip(x, min=0.0, a_min=0.0)


@settings(max_examples=15, deadline=None)
@given(x=arrays(min_dims=1, min_side=1, dtypes=["bool", "int8", "uint64", "float32"]), data=st.data())
def test_take_and_take_along_axis_match_numpy(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    n = x.shape[axis]
    idx = data.draw(hnp.arrays("int64", st.integers(0, 4), elements=st.integers(-n, n - 1)), label="idx")
    same(mnp.take(x, idx, axis=axis), np.take(x, idx, axis=axis))
    shape = list(x.shape)
    shape[axis] = data.draw(st.integers(0, 4), label="m")
    along = data.draw(hnp.arrays("int32", tuple(shape), elements=st.integers(0, n - 1)), label="along")
    same(mnp.take_along_axis(x, along, axis=axis), np.take_along_axis(x, along, axis=axis))


def test_take_traces_and_checks_its_arguments():
    x = np.arange(6.0).reshape(2, 3)
    same(mlc.jit(lambda a, i: mnp.take(a, i, axis=1))(x, np.array([2, 0])), x[:, [2, 0]])
    with pytest.raises(ShapeError, match="take: axis is required"):
        mnp.take(x, np.array([0]))
    with pytest.raises(mlc.DTypeError, match="take: indices must be an integer array"):
        mnp.take(x, np.array([0.5]), axis=0)


@settings(max_examples=15, deadline=None)
@given(x=arrays(dtypes=["bool", "int8", "uint32", "float64"]))
def test_unique_functions_match_numpy_eagerly(x):
    """Sorted distinct values (each NaN distinct), first indices, inverse indices, counts."""
    want = np.unique_all(x)
    got = mnp.unique_all(x)
    same(got.values, want.values)
    same(got.indices, want.indices)
    same(got.inverse_indices, want.inverse_indices)
    same(got.counts, want.counts)
    # (NumPy's unique_values may come unsorted; its unique_all's are sorted, as mlc.numpy's are)
    same(mnp.unique_values(x), want.values)
    same(tuple(mnp.unique_counts(x)), (want.values, want.counts))
    same(tuple(mnp.unique_inverse(x)), (want.values, want.inverse_indices))


def test_unique_does_not_trace():
    with pytest.raises(TraceError, match="unique_counts has an output shape that depends on the values"):
        mlc.jit(lambda a: mnp.unique_counts(a))(np.zeros(3))
