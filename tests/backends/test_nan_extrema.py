"""NaN through every float minimum and maximum, on every target that runs code.

NumPy's ``maximum``/``minimum``, ``max``/``min`` (and ``amax``), ``argmax``/``argmin``,
``clip`` and ``relu`` propagate NaN (the NaN wins; argmax/argmin give the first NaN's
index); ``fmax``/``fmin`` ignore it (the other operand wins, NaN only where both are).
Each is checked on llvm, the reference interpreter and the CUDA emulator, with the NaN
first, in the middle, last, everywhere and nowhere, in rows short enough for one thread
and long enough for the GPU's cross-thread (shuffle and shared-memory) reductions.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
import mlc.nn

TARGETS = ("llvm", "reference", "cuda-emulator")
FLOATS = ("float16", "float32", "float64")
#: Row lengths: one element, a few (one thread each), and more than a warp (cross-thread).
COLS = (1, 7, 130)


def extrema(x, y):
    """Every NaN-sensitive extremum of NumPy, on ``x`` (rows) and ``y`` (same shape)."""
    return (np.maximum(x, y), np.minimum(x, y), np.fmax(x, y), np.fmin(x, y),
            np.max(x, axis=-1), np.min(x, axis=-1), np.amax(x), np.amin(x),
            np.argmax(x, axis=-1), np.argmin(x, axis=-1), np.argmax(x), np.argmin(x),
            np.clip(x, -0.5, 0.5), np.maximum(x, 0.25), np.minimum(0.25, x))


NAMES = ("maximum", "minimum", "fmax", "fmin", "max(axis=-1)", "min(axis=-1)", "amax", "amin",
         "argmax(axis=-1)", "argmin(axis=-1)", "argmax", "argmin", "clip", "maximum(x, 0.25)",
         "minimum(0.25, x)")

_JITS = {target: mlc.jit(extrema, target=target) for target in TARGETS}


def _with_nans(shape, dtype, where, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1, shape[-1])
    n = shape[-1]
    picks = {"none": [], "first": [0], "middle": [n // 2], "last": [n - 1], "all": list(range(n)),
             "two": sorted({1 % n, (n * 2) // 3})}[where]
    flat[:, picks] = np.nan
    return x


def check(target, x, y):
    with np.errstate(invalid="ignore"):
        want = extrema(x, y)
    got = _JITS[target](x, y)
    for name, g, w in zip(NAMES, got, want, strict=True):
        g = np.asarray(g)
        assert g.dtype == w.dtype and g.shape == w.shape, f"{name} on {target}: {g.dtype}{g.shape} != {w.dtype}{w.shape}"
        np.testing.assert_array_equal(g, w, err_msg=f"{name} on {target} of {x!r} and {y!r}")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("cols", COLS)
def test_nan_wins_in_every_extremum_and_is_ignored_by_fmax(target, dtype, cols):
    shape = (3, cols)
    for where_x, where_y in (("none", "none"), ("first", "last"), ("middle", "none"), ("last", "first"),
                             ("all", "middle"), ("two", "all")):
        check(target, _with_nans(shape, dtype, where_x, 0), _with_nans(shape, dtype, where_y, 1))


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(TARGETS), st.sampled_from(COLS), st.data())
def test_nans_anywhere(target, cols, data):
    """NaNs at drawn places of both operands (float32)."""
    mask = data.draw(st.lists(st.booleans(), min_size=2 * 3 * cols, max_size=2 * 3 * cols))
    x, y = (np.random.default_rng(2).standard_normal((2, 3, cols)).astype("float32"))
    both = np.stack([x, y])
    both[np.asarray(mask).reshape(2, 3, cols)] = np.nan
    check(target, both[0], both[1])


@pytest.mark.parametrize("target", TARGETS)
def test_relu_of_nan_is_nan(target):
    """relu is max(x, 0): NaN stays NaN (as np.maximum), it is not clamped to 0."""
    x = np.array([np.nan, -1.0, 2.0, np.nan, 0.0], "float32")
    got = mlc.jit(mlc.nn.relu, target=target)(x)
    np.testing.assert_array_equal(got, np.maximum(x, 0))
