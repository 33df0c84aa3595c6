"""take and take_along_axis at the ends of the axis, with the run-time bounds checker on.

A compiled gather never reads outside ``x``: a negative index counts from the end once, and
what is still outside ``[0, n)`` is clipped into it (NumPy raises there; a kernel has the
values only at run time). The last element ``n - 1``, the first index past it ``n`` and
indices further out are checked on llvm built with ``check_bounds=True`` (an access outside
a buffer raises :class:`mlc.BoundsError`), on the CUDA emulator (which checks every access)
and on the reference interpreter, for every index dtype (unsigned ones never negative;
int8 indices of an axis longer than int8 reaches).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.config import override
from mlc.ops import get_op

TARGETS = ("llvm", "cuda-emulator", "reference")
INDEX_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint32", "uint64")
_BUILDS = {}


def clipped(indices, n):
    """Where mlc's gathers read: negative indices from the end (once), then clipped into [0, n)."""
    i = indices.astype("int64")
    return np.clip(np.where(i < 0, i + n, i), 0, n - 1)


def build(op, x_shape, i_shape, i_dtype, target, axis):
    key = (op, x_shape, i_shape, i_dtype, target, axis)
    if key not in _BUILDS:
        x, i = te.placeholder(x_shape, "float32", "x"), te.placeholder(i_shape, i_dtype, "i")
        out = get_op(op).lower(x, i, axis=axis)
        func = te.create_prim_func([x, i, out])
        lib = mlc.build(mlc.IRModule({"main": func}), target, check_bounds=True)
        _BUILDS[key] = (lib, tuple(out.shape))
    return _BUILDS[key]


def run(op, x, i, target, axis):
    lib, shape = build(op, x.shape, i.shape, i.dtype.name, target, axis)
    out = np.full(shape, np.nan, "float32")
    lib["main"](x, i, out)
    return out


def ends(n, dtype):
    """n - 1, n and further out (and the negative ones the dtype holds), as ``dtype``."""
    info = np.iinfo(dtype)
    wanted = [0, n - 1, n, n + 1, 2 * n + 3, info.max, -1, -n, -n - 1, info.min]
    return np.array([v for v in wanted if info.min <= v <= info.max], dtype)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", INDEX_DTYPES)
@pytest.mark.parametrize("n", [1, 5, 200])
def test_take_at_the_last_element_and_one_past_it(target, dtype, n):
    x = np.arange(n * 3, dtype="float32").reshape(n, 3) + 1
    i = ends(n, dtype)
    got = run("take", x, i, target, 0)
    np.testing.assert_array_equal(got, x[clipped(i, n)])
    # in-range indices are NumPy's take exactly
    inside = (i.astype("int64") >= -n) & (i.astype("int64") < n)
    np.testing.assert_array_equal(got[inside], np.take(x, i[inside], axis=0))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", ["int8", "int64", "uint8"])
def test_take_along_axis_at_the_last_element_and_one_past_it(target, dtype):
    n = 7
    x = np.arange(2 * n, dtype="float32").reshape(2, n) + 1
    i = np.stack([ends(n, dtype)] * 2)
    got = run("take_along_axis", x, i, target, 1)
    np.testing.assert_array_equal(got, np.take_along_axis(x, clipped(i, n), axis=1))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(TARGETS), st.sampled_from([1, 2, 5, 17]), st.data())
def test_take_of_drawn_indices_around_the_ends(target, n, data):
    i = np.array(data.draw(st.lists(st.integers(-n - 2, n + 2), min_size=1, max_size=6)), "int32")
    x = np.arange(n, dtype="float32") * 10 + 1
    # pad to a fixed length so the builds are shared
    i = np.concatenate([i, np.full(6 - len(i), n - 1, "int32")])
    np.testing.assert_array_equal(run("take", x, i, target, 0), x[clipped(i, n)])


@pytest.mark.parametrize("target", ["llvm", "cuda-emulator"])
def test_an_index_past_the_end_reaches_the_bounds_checker_when_not_clipped(target):
    """The check above can fail: a gather that does not clip, reading x[n], is a BoundsError."""
    n = 5
    x, i = te.placeholder((n,), "float32", "x"), te.placeholder((2,), "int64", "i")
    out = te.compute((2,), lambda k: x[i[k]], "T_unclipped")
    lib = mlc.build(mlc.IRModule({"main": te.create_prim_func([x, i, out])}), target, check_bounds=True)
    with pytest.raises(mlc.BoundsError):
        lib["main"](np.ones(n, "float32"), np.array([n - 1, n], "int64"), np.zeros(2, "float32"))


@pytest.mark.parametrize("target", ["llvm"])  # (the CUDA backends take static shapes only)
@pytest.mark.parametrize("dtype", ["int8", "int64"])
def test_a_gather_along_a_dynamic_axis_at_the_last_element_and_one_past_it(target, dtype):
    """The length is known only at the call (a symbolic n): n - 1 is the last row, n and
    beyond are clipped to it by the kernel (``bounds_check=False``), with every access
    checked (MLC_DEBUG's check_bounds); with the jit's bounds check, n is a BoundsError."""
    with override(debug=True):
        f = mlc.jit(lambda a, i: np.take(a, i, axis=0), dynamic=("a", 0), target=target, bounds_check=False)
        checked = mlc.jit(lambda a, i: np.take(a, i, axis=0), dynamic=("a", 0), target=target)
        for n in (1, 4, 9):
            x = np.arange(n * 2, dtype="float32").reshape(n, 2) + 1
            i = ends(n, dtype)
            np.testing.assert_array_equal(f(x, i), x[clipped(i, n)])
            np.testing.assert_array_equal(checked(x, i[:2]), np.take(x, i[:2], axis=0))
            with pytest.raises(mlc.BoundsError, match="out of bounds for axis 0"):
                checked(x, i)
