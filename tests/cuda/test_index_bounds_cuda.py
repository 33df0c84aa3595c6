"""Traced indices out of bounds on the GPU: the checks come back as device values, read after
the call, and raise mlc.BoundsError (an IndexError) as on the CPU targets; no argument is written."""
import numpy as np
import pytest

import mlc
from mlc.backends import cuda  # noqa: F401 - registers the backends

from .conftest import needs_gpu


def total(a, n):
    s = 0.0
    for i in range(n):
        s = s + a[i]
    return s


def fill(a, idx):
    for k in range(idx.shape[0]):
        a[idx[k]] = 1.0
    return a.sum()


def gather(a, idx):
    return a[idx] * 2


@needs_gpu
def test_traced_indices_out_of_bounds_raise_on_the_gpu():
    import cupy

    a = np.arange(1.0, 6.0)
    f, g, h = (mlc.jit(fn, target="cuda") for fn in (total, fill, gather))
    assert float(f(cupy.asarray(a), 5)) == 15.0
    with pytest.raises(mlc.BoundsError, match=r"x\[i\]: index 5 is out of bounds for axis 0 with size 5"):
        f(cupy.asarray(a), 6)
    np.testing.assert_array_equal(h(cupy.asarray(a), cupy.asarray([0, -5, 4])).get(), a[[0, -5, 4]] * 2)
    with pytest.raises(IndexError, match=r"x\[idx\]: index -6 is out of bounds"):
        h(a, np.array([0, -6]))
    b = cupy.zeros(5)
    assert float(g(b, cupy.asarray([0, 4, -1]))) == 2.0
    b[:] = 0
    with pytest.raises(IndexError, match=r"index 5 is out of bounds"):
        g(b, cupy.asarray([0, 5]))
    assert float(b.sum()) == 0.0  # no argument written
