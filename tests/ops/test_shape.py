"""Shape ops against NumPy: reshape, transpose, moveaxis, expand/squeeze, broadcast_to,
concatenate, stack, split, strided slicing (and getitem plans), pad, flip."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from mlc import DTypeError, ShapeError
from mlc.ops import TensorType, get_op
from mlc.ops.library.shape import plan_getitem

from ._harness import ALL, arrays, check_op, run_op, shapes

dtypes = st.sampled_from(ALL)


@st.composite
def same_size_shape(draw, size):
    """Another shape with ``size`` elements, maybe with one -1."""
    factors, n, p = [], size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    dims = [1] * draw(st.integers(0, 2))
    for f in draw(st.permutations(factors)):
        if dims and draw(st.booleans()):
            dims[draw(st.integers(0, len(dims) - 1))] *= f
        else:
            dims.append(f)
    dims = draw(st.permutations(dims))
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


@settings(max_examples=25)
@given(data=st.data(), dtype=dtypes, shape=shapes(max_dims=4))
def test_reshape(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    newshape = data.draw(same_size_shape(x.size))
    check_op("reshape", [x], np.reshape(x, newshape), newshape=newshape)


@settings(max_examples=20)
@given(data=st.data(), dtype=dtypes, shape=shapes(max_dims=4))
def test_transpose_and_moveaxis(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    axes = data.draw(st.one_of(st.none(), st.permutations(range(x.ndim)).map(tuple)))
    check_op("transpose", [x], np.transpose(x, axes), axes=axes)
    if x.ndim:
        src = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), unique_by=lambda a: a % x.ndim,
                                 min_size=1, max_size=x.ndim))
        dst = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), unique_by=lambda a: a % x.ndim,
                                 min_size=len(src), max_size=len(src)))
        check_op("moveaxis", [x], np.moveaxis(x, src, dst), source=tuple(src), destination=tuple(dst))


@settings(max_examples=20)
@given(data=st.data(), dtype=dtypes, shape=shapes(max_dims=3, max_side=3))
def test_expand_dims_and_squeeze(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    n_new = data.draw(st.integers(1, 2))
    axis = tuple(data.draw(st.lists(st.integers(-(x.ndim + n_new), x.ndim + n_new - 1),
                                    unique_by=lambda a: a % (x.ndim + n_new), min_size=n_new, max_size=n_new)))
    axis = axis[0] if len(axis) == 1 and data.draw(st.booleans()) else axis
    expanded = np.expand_dims(x, axis)
    check_op("expand_dims", [x], expanded, axis=axis)
    ones = [d for d, n in enumerate(expanded.shape) if n == 1]
    squeeze_axis = data.draw(st.one_of(st.none(), st.lists(st.sampled_from(ones), unique=True).map(tuple)))
    check_op("squeeze", [expanded], np.squeeze(expanded, squeeze_axis), axis=squeeze_axis)


@settings(max_examples=20)
@given(data=st.data(), dtype=dtypes, shape=shapes(max_dims=3, max_side=3))
def test_broadcast_to(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    lead = tuple(data.draw(st.lists(st.integers(0, 3), max_size=2)))
    target = lead + tuple(data.draw(st.sampled_from([n, 4])) if n == 1 else n for n in shape)
    check_op("broadcast_to", [x], np.broadcast_to(x, target), shape=target)


@settings(max_examples=25)
@given(data=st.data(), types=st.lists(dtypes, min_size=1, max_size=3),
       shape=shapes(min_dims=1, max_dims=3, min_side=0))
def test_concatenate(data, types, shape):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    ax = 0 if axis is None else axis % len(shape)
    xs = []
    for t in types:
        s = list(shape)
        s[ax] = data.draw(st.integers(0, 3))
        xs.append(data.draw(arrays(t, tuple(s))))
    check_op("concatenate", xs, np.concatenate(xs, axis=axis), axis=axis)


@settings(max_examples=20)
@given(data=st.data(), types=st.lists(dtypes, min_size=1, max_size=3), shape=shapes(max_dims=3))
def test_stack(data, types, shape):
    xs = [data.draw(arrays(t, shape)) for t in types]
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_op("stack", xs, np.stack(xs, axis=axis), axis=axis)


@settings(max_examples=25)
@given(data=st.data(), dtype=dtypes, shape=shapes(min_dims=1, max_dims=3, max_side=6))
def test_split(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    n = shape[axis]
    if data.draw(st.booleans()):
        spec = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
        np_spec = spec
    else:
        spec = tuple(data.draw(st.lists(st.integers(-n - 1, n + 1), max_size=3)))
        np_spec = list(spec)
    check_op("split", [x], tuple(np.split(x, np_spec, axis=axis)), indices_or_sections=spec, axis=axis)


_bound = st.one_of(st.none(), st.integers(-7, 7))


@settings(max_examples=30)
@given(data=st.data(), dtype=dtypes, shape=shapes(max_dims=3, max_side=6))
def test_slice(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    starts = tuple(data.draw(_bound) for _ in shape)
    stops = tuple(data.draw(_bound) for _ in shape)
    steps = tuple(data.draw(st.one_of(st.none(), st.sampled_from([1, 2, 3, -1, -2, -3]))) for _ in shape)
    expected = x[tuple(slice(*s) for s in zip(starts, stops, steps))]
    check_op("slice", [x], expected, starts=starts, stops=stops, steps=steps)


@settings(max_examples=30)
@given(data=st.data(), dtype=dtypes, shape=shapes(max_dims=3, max_side=6))
def test_update_slice(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    starts = tuple(data.draw(_bound) for _ in shape)
    stops = tuple(data.draw(_bound) for _ in shape)
    steps = tuple(data.draw(st.one_of(st.none(), st.sampled_from([1, 2, 3, -1, -2, -3]))) for _ in shape)
    key = tuple(slice(*s) for s in zip(starts, stops, steps))
    v = data.draw(arrays(dtype, x[key].shape))
    expected = x.copy()
    expected[key] = v
    check_op("update_slice", [x, v], expected, starts=starts, stops=stops, steps=steps)


@st.composite
def index_keys(draw, ndim):
    items = []
    for _ in range(draw(st.integers(0, ndim))):
        items.append(draw(st.one_of(st.integers(-3, 2), st.builds(slice, _bound, _bound,
                                                                    st.sampled_from([None, 2, -1])))))
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    return tuple(items)


@settings(max_examples=40)
@given(data=st.data(), shape=shapes(max_dims=3, min_side=3, max_side=5))
def test_plan_getitem_then_slice_and_reshape_is_numpy_indexing(data, shape):
    x = data.draw(arrays("int32", shape))
    key = data.draw(index_keys(len(shape)))
    starts, stops, steps, out_shape = plan_getitem(shape, key)
    (sliced,) = run_op("slice", [x], starts=starts, stops=stops, steps=steps)
    np.testing.assert_array_equal(sliced.reshape(out_shape), x[key])


@settings(max_examples=25)
@given(data=st.data(), dtype=dtypes, shape=shapes(max_dims=3, min_side=0, max_side=3),
       value=st.one_of(st.integers(-5, 5), st.floats(-3, 3)))
def test_pad(data, dtype, shape, value):
    x = data.draw(arrays(dtype, shape))
    pair = st.tuples(st.integers(0, 2), st.integers(0, 2))
    pad_width = data.draw(st.one_of(st.integers(0, 2), pair,
                                    st.tuples(*[pair] * len(shape)) if shape else pair))
    assume(not (isinstance(value, float) and dtype.startswith("u") and value < 0))  # unspecified cast
    # an int a signed dtype cannot hold is NumPy's OverflowError (a DTypeError here, tested apart)
    assume(not (isinstance(value, int) and np.dtype(dtype).kind == "i" and
                not np.iinfo(dtype).min <= value <= np.iinfo(dtype).max))
    check_op("pad", [x], np.pad(x, pad_width, constant_values=value), pad_width=pad_width,
             constant_values=value)


@settings(max_examples=20)
@given(data=st.data(), dtype=dtypes, shape=shapes(max_dims=3))
def test_flip(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    axis = data.draw(st.one_of(st.none(), st.lists(st.integers(-x.ndim, x.ndim - 1), unique_by=lambda a: a % x.ndim,
                                                   max_size=x.ndim).map(tuple))) if x.ndim else None
    check_op("flip", [x], np.flip(x, axis), axis=axis)


# ------------------------------------------------------------------ errors

def test_reshape_errors():
    t = TensorType((2, 3), "float32")
    with pytest.raises(ShapeError, match="cannot reshape array of size 6"):
        get_op("reshape").infer(t, newshape=(4, 2))
    with pytest.raises(ShapeError, match="only specify one unknown"):
        get_op("reshape").infer(t, newshape=(-1, -1))
    with pytest.raises(ShapeError, match="at least -1"):
        get_op("reshape").infer(t, newshape=(-2, 3))


def test_permutation_and_axis_errors():
    t = TensorType((2, 3, 4), "float32")
    with pytest.raises(ShapeError, match="not a permutation"):
        get_op("transpose").infer(t, axes=(0, 0, 1))
    with pytest.raises(ShapeError, match="permutation of 3 axes"):
        get_op("transpose").infer(t, axes=(0, 1))
    with pytest.raises(ShapeError, match="its size is 3, not 1"):
        get_op("squeeze").infer(t, axis=1)
    with pytest.raises(ShapeError, match="same number"):
        get_op("moveaxis").infer(t, source=(0, 1), destination=2)
    with pytest.raises(ShapeError, match="cannot broadcast shape"):
        get_op("broadcast_to").infer(t, shape=(3, 3, 4))


def test_join_and_split_errors():
    a, b = TensorType((2, 3), "float32"), TensorType((2, 4), "float32")
    with pytest.raises(ShapeError, match="except axis 0 must match"):
        get_op("concatenate").infer(a, b, axis=0)
    with pytest.raises(ShapeError, match="zero-dimensional"):
        get_op("concatenate").infer(TensorType((), "float32"), axis=0)
    with pytest.raises(ShapeError, match="same shape"):
        get_op("stack").infer(a, b)
    with pytest.raises(ShapeError, match="equal division"):
        get_op("split").infer(b, indices_or_sections=3, axis=1)


def test_slice_pad_and_getitem_errors():
    t = TensorType((4, 5), "float32")
    with pytest.raises(ShapeError, match="step of dimension 1 cannot be zero"):
        get_op("slice").infer(t, starts=(0, 0), stops=(4, 5), steps=(1, 0))
    with pytest.raises(ShapeError, match="one entry per dimension"):
        get_op("slice").infer(t, starts=(0,), stops=(4,), steps=(1,))
    with pytest.raises(ShapeError, match="at least 0"):
        get_op("pad").infer(t, pad_width=((1, -1), (0, 0)))
    with pytest.raises(ShapeError, match="does not fit"):
        get_op("pad").infer(t, pad_width=((1, 1), (0, 0), (2, 2)))
    with pytest.raises(ShapeError, match="out of bounds for axis 1"):
        plan_getitem((4, 5), (0, 5))
    with pytest.raises(ShapeError, match="too many indices"):
        plan_getitem((4, 5), (0, 1, 2))


@pytest.mark.parametrize("dtype, value", [("int8", 300), ("int8", -129), ("int16", 40000), ("uint8", -1),
                                          ("uint16", 70000)])
def test_pad_with_an_int_the_dtype_cannot_hold_does_what_numpy_does(dtype, value):
    """NumPy raises OverflowError for a signed dtype and wraps the value for an unsigned one."""
    x = np.zeros(2, dtype)
    if dtype.startswith("u"):
        check_op("pad", [x], np.pad(x, 1, constant_values=value), pad_width=1, constant_values=value)
        return
    with pytest.raises(OverflowError):
        np.pad(x, 1, constant_values=value)
    with pytest.raises(DTypeError, match=rf"pad: constant_values {value} is out of bounds for {dtype}"):
        get_op("pad").infer(TensorType((2,), dtype), pad_width=((1, 1),), constant_values=value)


def test_split_returns_one_type_per_piece():
    outs = get_op("split").infer(TensorType((6, 2), "int8"), indices_or_sections=(1, 4))
    assert outs == (TensorType((1, 2), "int8"), TensorType((3, 2), "int8"), TensorType((2, 2), "int8"))
    assert get_op("split").num_outputs is None


@pytest.mark.parametrize("key", [slice(-4, None, -1), slice(-10, -5, -1), slice(5, 9), slice(None, -4, -1),
                                 slice(0, 0), slice(2, 0, 1)])
def test_plan_getitem_empty_slices_stay_empty(key):
    """Regression: ``x[-4::-1]`` of a length-3 array is empty (indices() gives start -1)."""
    x = np.arange(3, dtype="int32")
    starts, stops, steps, shape = plan_getitem(x.shape, (key,))
    got = x[tuple(slice(*d) for d in zip(starts, stops, steps))].reshape(shape)
    np.testing.assert_array_equal(got, x[key])
