"""``np.bincount`` of an index array known while tracing (a NumPy array; the weights traced)
has NumPy's length, ``max(x) + 1`` (or ``minlength``), as it needs no ``minlength``: it was
refused as a length known only from the values, and under mlc.grad it recorded a check of
the known values that a transformed function cannot return."""
import numpy as np
import pytest

import mlc
from mlc.errors import TraceError


@pytest.mark.parametrize("idx, minlength", [([0, 0, 1], 0), ([2, 0, 2, 2], 2), ([1], 4), ([], 3)])
def test_bincount_of_known_indices_has_numpys_length(idx, minlength):
    i = np.array(idx, dtype=np.int64)
    w = np.arange(1.0, len(idx) + 1)

    def f(w):
        return np.bincount(i, weights=w, minlength=minlength) * 2.0 + np.bincount(i, minlength=minlength)
    np.testing.assert_array_equal(mlc.jit(f)(w), f(w))
    if idx:  # and under mlc.grad, which returns no checks: none is needed
        def loss(w):
            return np.sum(np.bincount(i, weights=w, minlength=minlength) ** 2)
        np.testing.assert_allclose(mlc.grad(loss)(w), 2 * np.bincount(i, weights=w)[i], rtol=1e-12)


def test_bincount_of_traced_indices_under_grad_is_refused_naming_bincount():
    """(It was refused as a narrowed Python int, which the function has none of.)"""
    with pytest.raises(TraceError, match=r"np.bincount\(minlength=3\) of traced values"):
        mlc.grad(lambda w, i: np.sum(np.bincount(i, weights=w, minlength=3) ** 2))(np.ones(2), np.array([0, 2]))
