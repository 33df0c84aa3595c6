"""mlc.vmap: against a Python loop of the function, on Hypothesis-drawn shapes and mapped axes;
in_axes/out_axes/axis_size, nesting, and its composition with grad and jit."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
import mlc.testing as mt


def _loop(f, in_axes, args, size, out_axis=0):
    rows = []
    for b in range(size):
        rows.append(f(*(a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, in_axes))))
    return np.stack(rows, axis=out_axis)


@st.composite
def _mapped(draw, count=2, max_dims=3):
    """Shapes that broadcast, a batch size, and for each operand an axis to map (or None)."""
    shapes = draw(mt.broadcastable(count, min_dims=0, max_dims=max_dims, max_side=4))
    size = draw(st.integers(1, 3))
    axes, arrays = [], []
    for n, shape in enumerate(shapes):
        axis = draw(st.one_of(st.none(), st.integers(-len(shape) - 1, len(shape)))) if n else \
            draw(st.integers(-len(shape) - 1, len(shape)))
        full = shape if axis is None else shape[:axis % (len(shape) + 1)] + (size,) + shape[axis % (len(shape) + 1):]
        arrays.append(draw(mt.arrays("float64", full, special=False, bound=3.0)))
        axes.append(axis)
    return arrays, tuple(axes), size


@settings(max_examples=15, deadline=None)
@given(_mapped(count=3))
def test_elementwise_against_a_loop(case):
    arrays, axes, size = case
    f = lambda a, b, c: np.where(a > b, a * c, np.tanh(b) - c)  # noqa: E731
    got = mlc.vmap(f, in_axes=axes)(*arrays)
    np.testing.assert_allclose(got, _loop(f, axes, arrays, size), rtol=1e-12)


@settings(max_examples=12, deadline=None)
@given(mt.shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), st.integers(1, 3), st.data())
def test_reductions_and_shape_ops_against_a_loop(shape, size, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)), label="mapped axis")
    red = data.draw(st.integers(-len(shape), len(shape) - 1), label="reduced axis")
    x = data.draw(mt.arrays("float64", shape[:axis % (len(shape) + 1)] + (size,) + shape[axis % (len(shape) + 1):],
                            special=False, bound=3.0))

    def f(v):
        s = np.max(v, axis=red, keepdims=True) + np.sum(v, axis=red, keepdims=True)
        return np.flip(np.transpose(v - s), axis=0).reshape(-1)[::2]

    np.testing.assert_allclose(mlc.vmap(f, in_axes=axis)(x), _loop(f, (axis,), [x], size), rtol=1e-12)


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 3), st.integers(0, 2), st.integers(0, 2), st.data())
def test_matmul_against_a_loop(size, a_rank, b_rank, data):
    k = 3
    a_shape = ((2,) * max(a_rank - 1, 0) + (4,) if a_rank else ()) + (k,)
    b_shape = (k,) + ((2,) * max(b_rank - 1, 0) + (5,) if b_rank else ())
    b_shape = b_shape[1:-1] + (k,) + b_shape[-1:] if b_rank > 1 else b_shape
    a_axis = data.draw(st.one_of(st.none(), st.integers(0, len(a_shape))), label="a's axis")
    b_axis = data.draw(st.integers(0, len(b_shape)) if a_axis is None else st.one_of(st.none(), st.integers(0, len(b_shape))),
                       label="b's axis")
    a = data.draw(mt.arrays("float64", a_shape if a_axis is None else a_shape[:a_axis] + (size,) + a_shape[a_axis:],
                            special=False, bound=2.0))
    b = data.draw(mt.arrays("float64", b_shape if b_axis is None else b_shape[:b_axis] + (size,) + b_shape[b_axis:],
                            special=False, bound=2.0))
    f = np.matmul
    np.testing.assert_allclose(mlc.vmap(f, in_axes=(a_axis, b_axis))(a, b), _loop(f, (a_axis, b_axis), [a, b], size),
                               rtol=1e-12, atol=1e-12)


def test_out_axes_axis_size_and_pytrees():
    x = np.arange(6.0).reshape(2, 3)
    out = mlc.vmap(lambda v: (v * 2, v.sum()), in_axes=1, out_axes=(-1, 0))(x)
    np.testing.assert_array_equal(out[0], x * 2)
    np.testing.assert_array_equal(out[1], x.sum(axis=0))
    # an output the same for the whole batch: broadcast, or left as it is with out_axes None
    np.testing.assert_array_equal(mlc.vmap(lambda v, w: w, in_axes=(0, None))(x, np.ones(2)), np.ones((2, 2)))
    np.testing.assert_array_equal(mlc.vmap(lambda v, w: (v, w), in_axes=(0, None), out_axes=(0, None))(x, np.ones(2))[1],
                                  np.ones(2))
    np.testing.assert_array_equal(mlc.vmap(lambda w: w * 2, in_axes=None, axis_size=4)(np.ones(2)), np.full((4, 2), 2.0))
    tree = {"a": x, "b": np.ones(3)}
    got = mlc.vmap(lambda t: t["a"] * t["b"], in_axes=({"a": 0, "b": None},))(tree)
    np.testing.assert_array_equal(got, x * np.ones(3))
    np.testing.assert_array_equal(mlc.vmap(lambda v, *, w: v * w)(x, w=np.ones(2)), x)


def test_nested_maps():
    a, b = np.arange(3.0), np.arange(4.0)
    outer = mlc.vmap(mlc.vmap(lambda p, q: p * q, in_axes=(0, None)), in_axes=(None, 0))(a, b)
    np.testing.assert_array_equal(outer, np.outer(b, a))
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(mlc.vmap(mlc.vmap(np.sum, in_axes=1), in_axes=2)(x), x.sum(axis=0).T)


def test_per_example_gradients_and_gradient_of_a_map():
    rng = np.random.default_rng(0)
    w, xs, ys = rng.standard_normal(3), rng.standard_normal((5, 3)), rng.standard_normal(5)

    def loss(w, x, y):
        return (np.tanh(np.dot(w, x)) - y) ** 2

    per_example = mlc.jit(mlc.vmap(mlc.grad(loss), in_axes=(None, 0, 0)))(w, xs, ys)
    want = np.stack([mlc.grad(loss)(w, x, y) for x, y in zip(xs, ys)])
    np.testing.assert_allclose(per_example, want, rtol=1e-12)
    total = mlc.grad(lambda v: np.sum(mlc.vmap(loss, in_axes=(None, 0, 0))(v, xs, ys)))(w)
    np.testing.assert_allclose(total, want.sum(axis=0), rtol=1e-12)


def test_jit_inside_and_outside():
    x = np.arange(6.0).reshape(3, 2)
    f = mlc.jit(lambda v: v * v + 1)
    np.testing.assert_array_equal(mlc.vmap(f)(x), x * x + 1)
    np.testing.assert_array_equal(mlc.jit(mlc.vmap(lambda v: v.sum()))(x), x.sum(axis=1))


def test_errors():
    x = np.ones((2, 3))
    with pytest.raises(mlc.ShapeError, match="different sizes: 2 and 3"):
        mlc.vmap(lambda a, b: a + b, in_axes=(0, 1))(x, np.ones((2, 3)))
    with pytest.raises(mlc.TraceError, match="give axis_size"):
        mlc.vmap(lambda a: a, in_axes=None)(x)
    with pytest.raises(mlc.ShapeError, match="in_axes 2 is out of range"):
        mlc.vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(mlc.TraceError, match="its out_axes cannot be None"):
        mlc.vmap(lambda a: a, out_axes=None)(x)
    with pytest.raises(mlc.TraceError, match="in_axes has 2 entries for 1"):
        mlc.vmap(lambda a: a, in_axes=(0, 0))(x)
