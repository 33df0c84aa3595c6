"""Exported jitted functions that do more around their compiled code than one call: write
into their arguments, draw random numbers, take and check Python ints. The loaded library
does what the jitted call does, against NumPy and against the jitted function itself."""
import shutil

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.random import numpy_compat
from mlc.testing import shapes

needs_cc = pytest.mark.skipif(not any(shutil.which(c) for c in ("cc", "gcc", "clang")),
                              reason="no C compiler (cc, gcc or clang) on PATH to export with")


def scale_rows_in_place(x, k):
    x[1:] *= 2
    x[0] += k
    return x.sum(axis=-1)


@needs_cc
@settings(max_examples=4, deadline=None)
@given(shape=shapes(min_dims=1, max_dims=2, min_side=1, max_side=9), k=st.integers(-100, 100))
def test_a_function_writing_its_argument_writes_it_when_loaded(tmp_path_factory, shape, k):
    x = np.random.default_rng(len(shape)).integers(-50, 50, shape).astype("int32")
    f = mlc.jit(scale_rows_in_place)
    loaded = mlc.runtime.load(mlc.export(f, x, k, path=tmp_path_factory.mktemp("w") / "w.so"))
    mine, theirs, jitted = x.copy(), x.copy(), x.copy()
    result = loaded(mine, k)
    np.testing.assert_array_equal(result, scale_rows_in_place(theirs, k))
    np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(result, f(jitted, k))
    np.testing.assert_array_equal(mine, jitted)
    with pytest.raises(mlc.MLCError, match="read-only"):
        frozen = x.copy()
        frozen.flags.writeable = False
        loaded(frozen, k)


@needs_cc
@settings(max_examples=3, deadline=None)
@given(n=st.sampled_from([1, 3, 17]))
def test_a_dynamic_program_writing_its_argument(tmp_path_factory, n):
    def clip_in_place(x):
        x[...] = np.clip(x, -1, 1)
        return x * 3

    f = mlc.jit(clip_in_place, dynamic=("x", 0))
    loaded = mlc.runtime.load(mlc.export(f, np.zeros((2, 2), "float32"), path=tmp_path_factory.mktemp("d") / "c.so"))
    x = np.random.default_rng(n).standard_normal((n, 2)).astype("float32") * 3
    mine = x.copy()
    np.testing.assert_array_equal(loaded(mine), np.clip(x, -1, 1) * 3)
    np.testing.assert_array_equal(mine, np.clip(x, -1, 1))


@needs_cc
def test_arrays_sharing_memory_unlike_the_export_are_refused_where_one_is_written(tmp_path):
    def add_into(a, b):
        a += 1
        return b * 2

    x = np.arange(5, dtype="float64")
    apart = mlc.runtime.load(mlc.export(add_into, x, x.copy(), path=tmp_path / "apart.so"))
    with pytest.raises(mlc.MLCError, match="share memory differently"):
        apart(x, x)
    buffer = np.arange(6, dtype="float64")
    with pytest.raises(mlc.MLCError, match="overlap in memory"):
        apart(buffer[:5], buffer[1:])
    y = x.copy()
    np.testing.assert_array_equal(apart(y, x), x * 2)
    np.testing.assert_array_equal(y, x + 1)
    same = mlc.runtime.load(mlc.export(add_into, x, x, path=tmp_path / "same.so"))  # one array, twice
    mine, theirs = x.copy(), x.copy()
    np.testing.assert_array_equal(same(mine, mine), mlc.jit(add_into)(theirs, theirs))  # b sees a's write
    np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(mine, x + 1)
    with pytest.raises(mlc.MLCError, match="share memory differently"):
        same(x.copy(), x.copy())


@needs_cc
@settings(max_examples=3, deadline=None)
@given(shape=shapes(min_dims=1, max_dims=2, max_side=7), seed=st.integers(0, 2**31))
def test_random_draws_follow_numpys_global_generator_as_a_jitted_call(tmp_path_factory, shape, seed):
    def noisy(x):
        return x + numpy_compat.rand(*x.shape)

    f = mlc.jit(noisy)
    x = np.zeros(shape)
    loaded = mlc.runtime.load(mlc.export(f, x, path=tmp_path_factory.mktemp("r") / "r.so"))
    np.random.seed(seed)
    first, second = loaded(x), loaded(x)
    np.random.seed(seed)
    assert np.array_equal(first, f(x)) and np.array_equal(second, f(x))
    assert not np.array_equal(first, second) or first.size == 0
    assert ((0 <= first) & (first < 1)).all()


@needs_cc
def test_a_captured_generator_is_a_clear_refusal(tmp_path):
    rng = np.random.default_rng(0)

    def draws(x):
        return x + numpy_compat.replacement(rng.random)(3)

    x = np.zeros(3)
    assert mlc.jit(draws)(x).shape == (3,)  # (the jitted call draws from rng)
    with pytest.raises(mlc.MLCError, match=r"draws random numbers from the Generator .* cannot take along"):
        mlc.export(draws, x, path=tmp_path / "g.so")


@needs_cc
@settings(max_examples=5, deadline=None)
@given(k=st.integers(-300, 300))
def test_python_int_arguments_are_checked_as_a_jitted_call_checks_them(tmp_path_factory, k):
    def shift(x, k):
        return x + k

    x = np.arange(-4, 4, dtype="int8")
    f = mlc.jit(shift)
    loaded = mlc.runtime.load(mlc.export(f, x, 1, path=tmp_path_factory.mktemp("i") / "i.so"))
    if -128 <= k <= 127:
        np.testing.assert_array_equal(loaded(x, k), f(x, k))
        np.testing.assert_array_equal(loaded(x, k), (x.astype(int) + k).astype("int8"))
    else:
        with pytest.raises(mlc.DTypeError, match=f"Python integer {k} .* out of bounds for int8"):
            loaded(x, k)
    with pytest.raises(mlc.DTypeError, match="was a Python int when exported, got float"):
        loaded(x, 1.5)
    with pytest.raises(mlc.DTypeError, match="does not fit int64"):
        loaded(x, 2**70)


@needs_cc
@settings(max_examples=3, deadline=None)
@given(shape=shapes(min_dims=1, max_dims=2, max_side=6))
def test_two_input_entries_take_the_fast_path_and_check_the_rest(tmp_path_factory, shape):
    def axpy(x, y):
        return 2 * x + y

    rng = np.random.default_rng(len(shape))
    x, y = (rng.standard_normal(shape).astype("float32") for _ in range(2))
    loaded = mlc.runtime.load(mlc.export(axpy, x, y, path=tmp_path_factory.mktemp("a") / "axpy.so"))
    np.testing.assert_array_equal(loaded(x, y), mlc.jit(axpy)(x, y))
    np.testing.assert_allclose(loaded(x, y), 2 * x + y, rtol=1e-6)
    wide = np.zeros(shape[:-1] + (2 * shape[-1],), "float32")
    wide[..., ::2] = y
    np.testing.assert_array_equal(loaded(x, wide[..., ::2]), loaded(x, y))  # non-contiguous: copied
    with pytest.raises(mlc.DTypeError, match="argument y must have dtype float32, got float64"):
        loaded(x, y.astype("float64"))
    with pytest.raises(mlc.ShapeError, match="argument x must have shape"):
        loaded(x[..., :0] if shape[-1] else np.zeros(shape[:-1] + (1,), "float32"), y)


@needs_cc
def test_a_c_caller_gets_the_written_argument_and_the_header_says_so(tmp_path):
    from .c_driver import run_c_program

    x = np.arange(6, dtype="int32").reshape(2, 3)
    path = mlc.export(scale_rows_in_place, x, 4, path=tmp_path / "rows.so")
    header = (tmp_path / "rows.h").read_text()
    assert "the new contents of x, which the function writes: copy it there" in header
    assert "a traced Python int that must fit int32" in header
    meta = mlc.runtime.loader.read_metadata(path)["entries"][0]
    outs = [(p["dtype"], tuple(p["shape"])) for p in meta["params"] if p["role"] == "out"]
    result, check, written = run_c_program(path, "mlc_rows_main", [x, np.asarray(4, "int64")], outs)
    expected = x.copy()
    np.testing.assert_array_equal(result, scale_rows_in_place(expected, 4))
    np.testing.assert_array_equal(written, expected)
    assert int(check) == 4


def scaled_sum(x, y):
    return x * 2.0 + y


@needs_cc
@pytest.mark.parametrize("fn, make", [
    (scaled_sum, lambda: (np.arange(5.0), np.ones(5))),
    (scale_rows_in_place, lambda: (np.arange(6, dtype="int32").reshape(2, 3), 7)),
], ids=["graph", "writing"])
def test_a_loaded_function_takes_its_arguments_by_keyword_as_the_python_one(tmp_path, fn, make):
    """``loaded(x, y=...)`` as ``fn(x, y=...)``: keywords bound by the parameters' names; an
    unknown, doubled or missing one is a ShapeError naming the parameters."""
    first, second = make()
    names = fn.__code__.co_varnames[:2]
    loaded = mlc.runtime.load(mlc.export(mlc.jit(fn), first, second, path=tmp_path / "k.so"))
    copy = lambda v: v.copy() if isinstance(v, np.ndarray) else v  # noqa: E731
    want = fn(copy(first), copy(second))
    np.testing.assert_array_equal(loaded(copy(first), **{names[1]: copy(second)}), want)
    np.testing.assert_array_equal(loaded(**{names[1]: copy(second), names[0]: copy(first)}), want)
    with pytest.raises(mlc.errors.ShapeError, match="no argument 'z'"):
        loaded(copy(first), z=copy(second))
    with pytest.raises(mlc.errors.ShapeError, match="twice"):
        loaded(copy(first), copy(second), **{names[0]: copy(first)})
    with pytest.raises(mlc.errors.ShapeError, match=f"missing argument {names[1]}"):
        loaded(**{names[0]: copy(first)})
