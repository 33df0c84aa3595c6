"""Traced indices out of bounds raise as NumPy raises (mlc.BoundsError, an IndexError), also
inside compiled loops and conditionals, on every CPU target and from an exported library;
in bounds they read and write what NumPy does. ``bounds_check=False`` keeps JAX's clipping."""
import shutil

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc

TARGETS = ["llvm", "reference", "cuda-emulator"]


def numpy_or_error(fn, *args):
    """(NumPy's result, None) or (None, the exception class it raised)."""
    try:
        return fn(*args), None
    except IndexError as err:
        return None, type(err)


def check_like_numpy(jitted, fn, *args, written=None):
    """``jitted(*args)`` agrees with ``fn(*args)`` (a copy of each array argument each): the
    same values and written arguments, or an IndexError (a BoundsError) where NumPy raises one,
    leaving the arguments unchanged."""
    mine = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    theirs = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    want, error = numpy_or_error(fn, *theirs)
    if error is not None:
        with pytest.raises(mlc.BoundsError, match="is out of bounds for axis .* with size"):
            jitted(*mine)
        for m, a in zip(mine, args):  # nothing written
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(m, a)
        return False
    np.testing.assert_allclose(jitted(*mine), want)
    for m, t in zip(mine, theirs):
        if isinstance(t, np.ndarray):
            np.testing.assert_array_equal(m, t)
    return True


def read(a, i):
    return a[i]


def write(a, i, v):
    a[i] = v
    return a.sum()


def total(a, n):
    s = 0.0
    for i in range(n):
        s = s + a[i]
    return s


def fill(a, n):
    for i in range(n):
        a[i] = 1.0
    return a


def nested(a, n, m):
    s = 0.0
    for i in range(n):
        for j in range(m):
            s = s + a[i, j] * (i + 1)
    return s


def branch(a, i):
    if a[0] > 0:
        s = a[i]
    else:
        s = a[0] * 2
    return s


def count_up(a, n):
    k = 0
    s = 0.0
    while k < n:
        s = s + a[k]
        k = k + 1
    return s


def scatter_in_loop(a, idx):
    for k in range(idx.shape[0]):
        a[idx[k]] = k
    return a


def gather(a, idx):
    return a[idx] * 2


def take(a, idx):
    return np.take(a, idx, axis=1)


def along(a, idx):
    return np.take_along_axis(a, idx, axis=0)


def two_arrays(a, i, j):
    return a[i, j]


def scatter(a, idx, v):
    a[idx] = v
    return a


@settings(max_examples=25, deadline=None)
@given(n=st.sampled_from([1, 3, 4]), i=st.integers(-7, 7), v=st.floats(-4, 4, width=32))
def test_a_traced_int_reads_and_writes_as_numpy_or_raises(n, i, v):
    a = np.arange(1.0, n + 1)
    check_like_numpy(_jit(read), read, a, i)
    check_like_numpy(_jit(write), write, a, np.int64(i), v)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(-2, 7), m=st.integers(0, 6), side=st.sampled_from([1, 3, 5]))
def test_loops_and_branches_raise_at_the_first_index_out_of_bounds(n, m, side):
    a = np.arange(1.0, side + 1)
    check_like_numpy(_jit(total), total, a, n)
    check_like_numpy(_jit(fill), fill, a, n)
    check_like_numpy(_jit(count_up), count_up, a, n)
    check_like_numpy(_jit(branch), branch, a, n)
    check_like_numpy(_jit(branch), branch, -a, n)  # the other branch reads nothing out of bounds
    check_like_numpy(_jit(nested), nested, np.arange(12.0).reshape(3, 4), n, m)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), rows=st.sampled_from([1, 2, 5]), dtype=st.sampled_from(["int64", "int32", "uint8", "int8"]))
def test_index_arrays_gather_and_scatter_as_numpy_or_raise(data, rows, dtype):
    low = 0 if dtype == "uint8" else -rows - 2
    ints = st.integers(low, rows + 2)
    idx = np.array(data.draw(st.lists(ints, min_size=1, max_size=4)), dtype)
    a = np.arange(rows * 3, dtype="float64").reshape(rows, 3)
    check_like_numpy(_jit(gather), gather, a, idx)
    check_like_numpy(_jit(scatter_in_loop), scatter_in_loop, a[:, 0].copy(), idx)
    check_like_numpy(_jit(scatter), scatter, a, idx, np.float64(7.0))
    check_like_numpy(_jit(take), take, a.T.copy(), idx)
    check_like_numpy(_jit(along), along, a, idx.reshape(-1, 1)[:1])
    j = np.array(data.draw(st.lists(st.integers(-4, 4), min_size=len(idx), max_size=len(idx))), "int64")
    check_like_numpy(_jit(two_arrays), two_arrays, a, idx, j)


_JITTED = {}


def _jit(fn, target="llvm", **options):
    key = (fn, target, tuple(sorted(options.items())))
    if key not in _JITTED:
        _JITTED[key] = mlc.jit(fn, target=target, **options)
    return _JITTED[key]


@pytest.mark.parametrize("target", TARGETS)
def test_every_cpu_target_raises_inside_loops(target):
    a = np.arange(1.0, 6.0)
    assert _jit(total, target)(a, 5) == 15.0
    with pytest.raises(mlc.BoundsError, match=r"x\[i\]: index 5 is out of bounds for axis 0 with size 5.*\n"
                                              r"  at File .*s = s \+ a\[i\]"):
        _jit(total, target)(a, 6)
    with pytest.raises(IndexError, match="index -6"):
        _jit(read, target)(a, -6)
    with pytest.raises(IndexError, match=r"x\[i, i\]: index 4 is out of bounds for axis 1 with size 4"):
        _jit(nested, target)(np.zeros((3, 4)), 2, 5)
    b = np.zeros(5)
    with pytest.raises(IndexError, match=r"x\[i\] = \.\.\.: index 5"):
        _jit(fill, target)(b, 6)
    np.testing.assert_array_equal(b, 0.0)  # no argument written


def test_the_error_names_the_access_the_index_the_size_and_the_line():
    with pytest.raises(mlc.BoundsError) as err:
        _jit(take)(np.zeros((2, 3)), np.array([0, 3, -1]))
    assert str(err.value).startswith("np.take: index 3 is out of bounds for axis 1 with size 3")
    assert "np.take(a, idx, axis=1)" in str(err.value)
    with pytest.raises(mlc.BoundsError, match=r"x\[idx\]: index -4 is out of bounds for axis 0 with size 3"):
        _jit(gather)(np.zeros(3), np.array([0, -4]))


def test_bounds_check_false_keeps_jax_clipping():
    a = np.arange(5.0)
    assert _jit(read, bounds_check=False)(a, 9) == 4.0
    assert _jit(total, bounds_check=False)(a, 7) == 18.0   # a[5], a[6] clipped to a[4]
    b = np.zeros(5)
    _jit(fill, bounds_check=False)(b, 7)
    np.testing.assert_array_equal(b, 1.0)   # the writes out of bounds dropped
    with pytest.raises(mlc.TraceError, match="bounds_check must be True or False"):
        mlc.jit(read, bounds_check=1)


def test_indices_known_in_range_are_not_checked():
    def stencil(a):
        s = 0.0
        for i in range(1, a.shape[0]):
            s = s + a[i] * a[i - 1] + a[-i]
        return s

    def unknown(a, n):
        return total(a, n)

    a = np.arange(1.0, 7.0)
    f, g = mlc.jit(stencil), mlc.jit(unknown)
    assert f(a) == sum(a[i] * a[i - 1] + a[-i] for i in range(1, 6))
    assert len(f.trace(a).lower().graph.outputs) == 1  # the result alone: no check
    lowered = g.trace(a, 3).lower()
    assert len(lowered.graph.outputs) == 2  # the result and the check of a[i] at the loop's ends,
    assert "status" not in lowered.as_text()  # made once around the loop: no status carried
    inner = mlc.jit(nested).trace(np.zeros((3, 4)), 2, 5).lower()
    # a[i, j]: j checked around the inner loop, i once per iteration of the outer one (where the
    # inner one runs): the outer loop's body carries a status, the inner one's none
    assert inner.as_text().count("_status0: R.Tensor") == 1


needs_cc = pytest.mark.skipif(not any(shutil.which(c) for c in ("cc", "gcc", "clang")),
                              reason="no C compiler (cc, gcc or clang) on PATH to export with")


@needs_cc
def test_an_exported_library_raises_as_the_jit_does(tmp_path):
    a = np.arange(1.0, 6.0)
    loaded = mlc.runtime.load(mlc.export(mlc.jit(total), a, 5, path=tmp_path / "total.so"))
    assert loaded(a, 5) == 15.0
    with pytest.raises(IndexError, match=r"x\[i\]: index 5 is out of bounds for axis 0 with size 5"):
        loaded(a, 6)
    loaded = mlc.runtime.load(mlc.export(mlc.jit(take), np.zeros((2, 3)), np.array([0, 1]), path=tmp_path / "t.so"))
    with pytest.raises(IndexError, match=r"np.take: index -4 is out of bounds for axis 1 with size 3"):
        loaded(np.zeros((2, 3)), np.array([0, -4]))


def test_a_uint64_index_array_wraps_as_numpy_converts_it():
    """NumPy converts a uint64 index array to intp by wrapping (2^64 - 2 is -2); the gather
    had clipped it to the last element instead."""
    a = np.arange(6.0)
    idx = np.array([2 ** 64 - 2, 1, 2 ** 64 - 6], "uint64")
    np.testing.assert_array_equal(_jit(gather)(a, idx), a[idx] * 2)
    np.testing.assert_array_equal(_jit(take)(a.reshape(1, 6), idx), np.take(a.reshape(1, 6), idx, axis=1))
    with pytest.raises(IndexError):
        _jit(gather)(a, np.array([2 ** 64 - 7], "uint64"))


def test_take_takes_indices_of_any_shape_and_item_is_a_trace_error():
    a = np.arange(12.0).reshape(3, 4)
    for idx in (np.int64(2), np.array([[0, -1], [3, 1]])):
        np.testing.assert_array_equal(_jit(take)(a, idx), np.take(a, idx, axis=1))
    with pytest.raises(IndexError, match="np.take: index 4 is out of bounds for axis 1 with size 4"):
        _jit(take)(a, np.int64(4))
    # x.item(i) is the element at flat index i, a traced Python scalar (tests/tracer/test_numpy_idioms.py)
    assert float(mlc.jit(lambda x, i: x.item(i))(a, 1)) == a.item(1)


def gather_window(a, idx, n):
    s = 0.0
    for i in range(n):
        s = s + a[idx[:i]].sum()
    return s


@pytest.mark.parametrize("idx, n", [([0, 1, 99], 3), ([0, 1, 99], 4), ([0, -6, 2], 3), ([4, -5, 7], 2)])
def test_a_gather_by_a_slice_with_traced_bounds_checks_only_the_indices_inside_them(idx, n):
    """``a[idx[:i]]`` reads only ``idx[:i]``: an index past the slice's stop is never used,
    whatever it holds (the gather reads every element of ``idx`` and masks them)."""
    check_like_numpy(_jit(gather_window), gather_window, np.arange(5.0), np.array(idx), n)


def scan_to_zero(a):
    k = 0
    while a[k] != 0:
        k = k + 1
    return k


def add_until(a, t):
    k = 0
    s = 0.0
    while s < t:
        s = s + a[k]
        k = k + 1
    return s


@pytest.mark.parametrize("a, t", [([3.0, 2.0, 0.0, 1.0], 0.5), ([3.0, 2.0, 1.0], 5.5), ([1.0, 0.0, 0.0], 2.0)])
def test_a_while_loop_stops_at_an_index_out_of_bounds_in_its_condition_or_body(a, t):
    """The loop stops where NumPy raises: a clipped read had kept it going (reading the last
    element again and again, for ever where that element never ends it)."""
    a = np.array(a)
    check_like_numpy(_jit(scan_to_zero), scan_to_zero, a)
    check_like_numpy(_jit(add_until), add_until, a, t)


def shifted(a):
    s = 0.0
    for i in range(a.shape[0]):  # a static loop: unrolled, its indices constants
        s = s + a[i + 1]
    return s


def shifted_write(a):
    for i in range(a.shape[0]):
        a[2 * i] = i
    return a


def test_a_constant_index_out_of_bounds_is_an_index_error_too():
    """A constant index (an unrolled loop's) out of bounds is refused while tracing with
    IndexBoundsError: a ShapeError, and NumPy's IndexError (it was a ShapeError only)."""
    for fn in (shifted, shifted_write, lambda a: a[5], lambda a: a[np.array([0, -6])]):
        with pytest.raises(IndexError, match="out of bounds"):
            mlc.jit(fn)(np.arange(5.0))
    with pytest.raises(mlc.ShapeError, match="index 5 is out of bounds for axis 0 with size 5"):
        mlc.jit(shifted)(np.arange(5.0))
