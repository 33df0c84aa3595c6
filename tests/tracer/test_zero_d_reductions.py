"""Reductions of 0-d arrays accept exactly the ``axis`` values NumPy 2 accepts, eager and jitted.

NumPy's ufunc reductions (sum, prod, max, min) and argmax/argmin take
``axis=0`` or ``axis=-1`` (an int, not a tuple) on a 0-d array and reduce
nothing; mean/var/std refuse them; every function takes ``axis=None``.
"""
import numpy as np
import pytest

import mlc
import mlc.numpy as mnp

FUNCTIONS = ["sum", "prod", "max", "min", "mean", "argmax", "argmin", "var", "std"]
AXES = [0, -1, (0,), (-1,), 1, -2, (), None]


def _numpy(name, x, axis, keepdims):
    try:
        return getattr(np, name)(x, axis=axis, keepdims=keepdims)
    except (ValueError, TypeError) as err:  # AxisError is a ValueError
        return err


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("axis", AXES, ids=repr)
def test_zero_d_reductions_match_numpy(name, axis):
    x = np.array(2.5, "float32")
    for keepdims in (False, True):
        want = _numpy(name, x, axis, keepdims)
        eager = lambda: getattr(mnp, name)(x, axis=axis, keepdims=keepdims)  # noqa: E731
        jitted = lambda: mlc.jit(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims))(x)  # noqa: E731
        for run in (eager, jitted):
            if isinstance(want, Exception):
                with pytest.raises(mlc.ShapeError):
                    run()
            else:
                got = run()
                assert got.shape == np.shape(want) and got.dtype == np.asarray(want).dtype
                np.testing.assert_allclose(got, want)


def test_out_of_bounds_axis_of_a_0d_array_says_there_are_no_axes():
    with pytest.raises(mlc.ShapeError, match="mean: axis 0 is out of bounds for a 0-d array, which has "
                                             "no axes; use axis=None"):
        mnp.mean(np.array(1.0), axis=0)
