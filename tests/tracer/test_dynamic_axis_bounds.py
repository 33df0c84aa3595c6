"""Traced indices into dynamic axes (``mlc.jit(dynamic=...)``) are checked when the function
runs, against the size of the axis at that call: out of bounds raises BoundsError as NumPy
raises IndexError, naming the index, the axis, the size and the line (they were clipped). So are
index arrays whose own length is dynamic, empty ones included."""
import shutil

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc

SIZES = st.sampled_from([1, 2, 5, 8])


def pick(x, i):
    return x[i] * 2.0 + np.take(x, i)


def gather(x, idx):
    return x[idx]


def columns(x, j):
    return x[:, j].sum()


_PICK = mlc.jit(pick, dynamic=("x", 0))
_GATHER = mlc.jit(gather, dynamic=("x", 0))
_COLUMNS = mlc.jit(columns, dynamic=[("x", 0), ("x", 1)])
# index arrays whose own length is dynamic: into a static axis, and into a dynamic one
_GATHER_ANY_LENGTH = mlc.jit(gather, dynamic=("idx", 0))
_GATHER_BOTH = mlc.jit(gather, dynamic=[("x", 0), ("idx", 0)])


def take(x, idx):
    return np.take(x, idx)


def take_rows(x, idx):
    return np.take_along_axis(x, idx, axis=1)


_TAKE_ANY_LENGTH = mlc.jit(take, dynamic=("idx", 0))
_TAKE_ROWS = mlc.jit(take_rows, dynamic=("idx", 1))


def _like_numpy(jitted, fn, *args):
    try:
        want = fn(*args)
    except IndexError:
        with pytest.raises(mlc.BoundsError, match="is out of bounds for axis .* with size"):
            jitted(*args)
        return
    np.testing.assert_allclose(jitted(*args), want)


@settings(max_examples=25, deadline=None)
@given(n=SIZES, i=st.integers(-10, 10))
def test_a_traced_index_into_a_dynamic_axis_reads_as_numpy_or_raises(n, i):
    x = np.arange(float(n))
    _like_numpy(_PICK, pick, x, i)


@settings(max_examples=20, deadline=None)
@given(n=SIZES, idx=st.lists(st.integers(-9, 9), min_size=1, max_size=3))
def test_an_index_array_into_a_dynamic_axis_gathers_as_numpy_or_raises(n, idx):
    x = np.arange(float(n))
    _like_numpy(_GATHER, gather, x, np.array(idx, dtype=np.int64))


@settings(max_examples=15, deadline=None)
@given(m=SIZES, n=SIZES, j=st.integers(-9, 9))
def test_the_second_dynamic_axis_is_checked_against_its_own_size(m, n, j):
    x = np.arange(float(m * n)).reshape(m, n)
    _like_numpy(_COLUMNS, columns, x, j)


def test_the_error_names_the_index_the_axis_the_size_and_the_line():
    with pytest.raises(mlc.BoundsError, match=r"(?s)x\[i\]: index 7 is out of bounds for axis 0 with size 6.*"
                                              r"return x\[i\] \* 2.0"):
        _PICK(np.zeros(6), 7)


def test_bounds_check_false_still_clips():
    clipped = mlc.jit(gather, dynamic=("x", 0), bounds_check=False)
    assert clipped(np.arange(4.0), np.array([9]))[0] == 3.0


def test_export_refuses_a_check_it_cannot_make(tmp_path):
    with pytest.raises(mlc.MLCError, match="dynamic axis with a traced index"):
        mlc.export(_PICK, np.zeros(3), 1, path=str(tmp_path / "pick.so"))


@settings(max_examples=30, deadline=None)
@given(n=SIZES, idx=st.lists(st.integers(-10, 10), min_size=0, max_size=4), which=st.sampled_from(range(3)))
def test_an_index_array_of_dynamic_length_gathers_as_numpy_or_raises(n, idx, which):
    x = np.arange(float(n))
    jitted, fn = [(_GATHER_ANY_LENGTH, gather), (_GATHER_BOTH, gather), (_TAKE_ANY_LENGTH, take)][which]
    _like_numpy(jitted, fn, x, np.array(idx, dtype=np.int64))


@settings(max_examples=15, deadline=None)
@given(m=st.sampled_from([1, 3]), n=SIZES, k=st.integers(0, 3), bad=st.integers(-12, 12))
def test_take_along_a_dynamic_number_of_indices_as_numpy_or_raises(m, n, k, bad):
    x = np.arange(float(m * n)).reshape(m, n)
    idx = np.zeros((m, k + 1), dtype=np.int64)
    idx[-1, -1] = bad
    _like_numpy(_TAKE_ROWS, take_rows, x, idx)


def test_the_error_names_an_index_of_an_array_of_dynamic_length_and_its_line():
    with pytest.raises(mlc.BoundsError, match=r"(?s)np.take: index 9 is out of bounds for axis 0 with size 5.*"
                                              r"return np.take\(x, idx\)"):
        _TAKE_ANY_LENGTH(np.zeros(5), np.array([1, -7, 9]))


def test_an_empty_index_array_of_dynamic_length_checks_nothing():
    assert _GATHER_BOTH(np.zeros(0), np.zeros(0, np.int64)).shape == (0,)
    assert _GATHER_ANY_LENGTH(np.zeros(3), np.zeros(0, np.int64)).shape == (0,)


def test_bounds_check_false_clips_an_index_array_of_dynamic_length():
    clipped = mlc.jit(gather, dynamic=("idx", 0), bounds_check=False)
    np.testing.assert_array_equal(clipped(np.arange(4.0), np.array([9, 1, -9])), [3.0, 1.0, 0.0])


def test_export_refuses_the_check_of_an_index_array_into_a_dynamic_axis(tmp_path):
    with pytest.raises(mlc.MLCError, match="dynamic axis with a traced index"):
        mlc.export(_GATHER_BOTH, np.zeros(3), np.zeros(2, np.int64), path=str(tmp_path / "gather.so"))


@pytest.mark.skipif(not any(shutil.which(c) for c in ("cc", "gcc", "clang")), reason="no C compiler to export with")
def test_an_exported_gather_checks_its_index_array_of_dynamic_length(tmp_path):
    path = tmp_path / "gather.so"
    mlc.export(_GATHER_ANY_LENGTH, np.zeros(4), np.zeros(2, np.int64), path=str(path))
    loaded = mlc.runtime.load(str(path))
    np.testing.assert_array_equal(loaded(np.arange(4.0), np.array([1, -1, 3])), [1.0, 3.0, 3.0])
    assert loaded(np.arange(4.0), np.zeros(0, np.int64)).shape == (0,)
    with pytest.raises(mlc.BoundsError, match="index 4 is out of bounds for axis 0 with size 4"):
        loaded(np.arange(4.0), np.array([1, 4]))
