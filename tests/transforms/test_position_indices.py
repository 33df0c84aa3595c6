"""Positions that ``argsort``, ``argmax`` and ``argmin`` make along an axis index an axis no
longer than it without a check: under mlc.grad and mlc.vmap (which return no checks) such a
gather (``np.take_along_axis(v, np.argsort(v))``, ``v[np.argmax(v)]``) runs; it was refused as
an index computed inside a transformed function. An index array that may not fit (the
positions of a longer array) is still refused there, and checked under the jit."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import BoundsError, TraceError


def sorted_weighted(v):
    return np.sum(np.take_along_axis(v, np.argsort(v), 0) * np.arange(v.size, dtype=v.dtype))


def top_two(v):
    return v[np.argmax(v)] * np.sum(v[np.argsort(-v)[:2]]) + v[np.argmin(v)]


def row_minimums(m):
    return np.sum(np.take_along_axis(m, np.argsort(m, axis=1), axis=1)[:, 0] * np.arange(1.0, m.shape[0] + 1))


def _fd(fn, x, eps=1e-6):
    flat = x.ravel()
    out = np.empty_like(flat)
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = eps
        out[i] = (fn((flat + e).reshape(x.shape)) - fn((flat - e).reshape(x.shape))) / (2 * eps)
    return out.reshape(x.shape)


distinct = st.integers(1, 6).flatmap(lambda n: st.permutations(range(n))).map(
    lambda p: np.array(p, "float64") * 0.7 - 1.3)  # (no ties: the gradient is defined)


@settings(max_examples=1, deadline=None)
@given(distinct, st.integers(1, 3))
def test_grad_and_vmap_gather_with_positions_made_inside(v, rows):
    np.testing.assert_allclose(mlc.grad(sorted_weighted)(v), _fd(sorted_weighted, v), rtol=1e-6, atol=1e-7)
    m = np.stack([np.roll(v, r) for r in range(rows)])
    np.testing.assert_allclose(mlc.grad(row_minimums)(m), _fd(row_minimums, m), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(mlc.vmap(lambda r: r[np.argmax(r)])(m), m.max(axis=1))


def test_grad_of_values_at_argmax_argmin_and_leading_argsort_positions():
    v = np.array([0.4, -1.3, 2.1, 0.9, -0.6])
    np.testing.assert_allclose(mlc.grad(top_two)(v), _fd(top_two, v), rtol=1e-6, atol=1e-7)


def test_positions_of_a_longer_array_are_still_checked():
    v, w = np.arange(3.0), np.arange(5.0)[::-1].copy()
    with pytest.raises(TraceError, match="bounds cannot be checked"):
        mlc.grad(lambda v, w: np.sum(v[np.argsort(w)]))(v, w)
    with pytest.raises(BoundsError, match="out of bounds for axis 0 with size 3"):
        mlc.jit(lambda v, w: np.sum(v[np.argsort(w)]))(v, w)
