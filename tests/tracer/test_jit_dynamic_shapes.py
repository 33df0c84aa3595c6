"""Reshapes and broadcasts of arrays with a dynamic axis: each dynamic size stays a dimension
of its own, given as the array has it (``x.shape[0]``)."""
import re

import numpy as np
import pytest

import mlc
from mlc import ShapeError

W = np.random.default_rng(0).standard_normal((24, 5)).astype(np.float32)


@pytest.mark.parametrize("fn", [
    lambda x: x.reshape(x.shape[0], -1),
    lambda x: np.reshape(x, (x.shape[0], 1, -1)) * 2,
    lambda x: x.reshape(-1, 2, 12),
    lambda x: x.reshape(x.shape[0], 6, 4).sum(axis=1),
    lambda x: x.reshape(-1, 24).T + 1,
    lambda x: np.maximum(x.reshape(x.shape[0], -1) @ W, 0).reshape(x.shape[0], 5, 1),
    lambda x: x.T.reshape(x.shape[0], -1) + 1,  # the dynamic axis moves: its offset divided back
    lambda x: x.transpose(1, 2, 3, 0).reshape(-1, x.shape[0]) * 2,
    lambda x: np.broadcast_to(x[:, :1], (x.shape[0], 5, 3, 4)) * 2,
    lambda x: np.broadcast_to(x, (2,) + x.shape) + 1,
])
def test_reshapes_and_broadcasts_that_keep_the_dynamic_axis_match_numpy_at_every_size(fn):
    f = mlc.jit(fn, dynamic=("x", 0))
    for rows in (5, 1, 3):
        x = np.random.default_rng(rows).standard_normal((rows, 2, 3, 4)).astype(np.float32)
        expected = fn(x)
        got = f(x)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert f.trace_count == 1


def test_an_empty_dynamic_axis_keeps_its_other_sizes():
    """NumPy refuses -1 beside a 0 (any size fits); the traced reshape knows the size."""
    f = mlc.jit(lambda x: x.reshape(x.shape[0], -1), dynamic=("x", 0))
    f(np.ones((2, 3, 4), np.float32))
    assert f(np.ones((0, 3, 4), np.float32)).shape == (0, 12)


@pytest.mark.parametrize("fn, shape", [(lambda x: x.reshape(-1), "(-1,)"), (lambda x: x.reshape(-1, 4), "(-1, 4)"),
                                       (lambda x: x.reshape(4, -1), "(4, -1)"),
                                       (lambda x: x.reshape(x.shape[0], 5), "(x_dim0, 5)")])
def test_a_reshape_that_merges_or_splits_the_dynamic_axis_is_a_shape_error_saying_what_works(fn, shape):
    f = mlc.jit(fn, dynamic=("x", 0))
    with pytest.raises(ShapeError, match=r"cannot reshape an array of shape \(x_dim0, 3, 4\) into shape "
                                         + re.escape(shape) + r" for every size.*x\.reshape\(x\.shape\[0\], -1\)"
                                         r".*\n  at File"):
        f(np.ones((2, 3, 4), np.float32))


def test_a_size_that_is_not_the_arrays_own_is_named():
    f = mlc.jit(lambda x, y: x.reshape(y.shape[0], -1), dynamic=[("x", 0), ("y", 0)])
    with pytest.raises(ShapeError, match=r"the size `y_dim0` in \(y_dim0, -1\) is not one of the sizes of the "
                                         r"array's dynamic axes \(x_dim0, 3\)"):
        f(np.ones((2, 3), np.float32), np.ones(2, np.float32))


def test_broadcasting_the_dynamic_axis_to_a_fixed_size_is_a_shape_error():
    f = mlc.jit(lambda x: np.broadcast_to(x, (4, 3)), dynamic=("x", 0))
    with pytest.raises(ShapeError, match=r"cannot broadcast shape \(x_dim0, 3\) to \(4, 3\)"):
        f(np.ones((4, 3), np.float32))


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_intermediates_of_different_symbolic_sizes_share_storage_only_where_it_holds_them(target):
    """The memory planner compared symbolic sizes as ints (``x_dim0 * 16 >= x_dim0 * 2``)."""
    rng = np.random.default_rng(0)
    ws = [rng.random(s, dtype=np.float32) for s in [(8, 16), (16, 4), (4, 2), (2, 3)]]

    def chain(x, w1, w2, w3, w4):
        return np.maximum((((x @ w1) @ w2) @ w3), 0) @ w4

    def attention(q, k, v):
        s = q @ k.T
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)) @ v

    f = mlc.jit(chain, dynamic=("x", 0), target=target)
    g = mlc.jit(attention, dynamic=[("q", 0, "L"), ("k", 0, "L"), ("v", 0, "L")], target=target)
    for rows in (5, 1, 0, 9):
        x = rng.random((rows, 8), dtype=np.float32)
        np.testing.assert_allclose(f(x, *ws), chain(x, *ws), rtol=1e-5)
        q, k, v = (rng.random((rows, d), dtype=np.float32) for d in (8, 8, 3))
        if rows:
            np.testing.assert_allclose(g(q, k, v), attention(q, k, v), rtol=1e-5, atol=1e-6)
    assert f.trace_count == 1
