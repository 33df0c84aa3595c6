"""A jitted call's cache hit through main's fast entry (mlc.runtime.fast_calls): the arrays
checked natively, the same results as NumPy, and anything the entry was not compiled for
(another dtype, shape, rank, layout, a scalar, a subclass) still takes the Python checks,
with their results and errors."""
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.errors import ShapeError
from mlc.runtime import fast_calls
from mlc.tracer import tiering

needs_fast = pytest.mark.skipif(not fast_calls._SUPPORTED, reason="this interpreter has no fast entries")

shapes = st.lists(st.integers(1, 5), min_size=0, max_size=3).map(tuple)
dtypes = st.sampled_from(["float32", "float64", "int32", "int64"])


def _descriptor_of(function):
    """The descriptor a fast entry of ``function`` (a CompiledFunction) would have."""
    from mlc.backends.llvm.fast_entry import descriptor
    entry, new_output = function.entry.fast_maker
    dtypes = [np.dtype(p.dtype) for p in entry.func.params]
    return descriptor(entry.main_address, [(d, tuple(e.value for e in p.shape))
                                           for d, p in zip(dtypes, entry.func.params)], new_output)


def _counted(jitted):
    """The jit's slots' runs counted: the Python entry (the fast entry is not counted)."""
    calls = []
    for slot in jitted._specs._slots.values():
        run = slot.run
        slot.run = lambda leaves, _run=run: (calls.append(1), _run(leaves))[1]
    return calls


@needs_fast
@settings(max_examples=15, deadline=None)
@given(shape=shapes, dtype=dtypes)
def test_a_hit_runs_the_fast_entry_and_matches_numpy(shape, dtype):
    f = mlc.jit(lambda x, y: x * y - x)
    rng = np.random.default_rng(0)
    x = rng.integers(-5, 5, shape).astype(dtype)
    y = rng.integers(-5, 5, shape).astype(dtype)
    np.testing.assert_array_equal(f(x, y), x * y - x)  # compiles
    assert f._specs.hot is None  # (a first call makes no fast entry: the first hit does)
    np.testing.assert_array_equal(f(x, y), x * y - x)
    slot = f._specs.hot
    assert slot is not None and slot.fast is not None
    calls = _counted(f)
    for _ in range(3):
        x2, y2 = np.asarray(x + 1), np.asarray(y - 2)  # (0-d: NumPy makes scalars)
        np.testing.assert_array_equal(f(x2, y2), x2 * y2 - x2)
    assert calls == [] and f.trace_count == 1  # every hit native


@needs_fast
@settings(max_examples=10, deadline=None)
@given(n=st.integers(2, 6), other=st.sampled_from(["dtype", "shape", "rank", "strided", "readonly",
                                                    "scalar", "subclass", "list"]))
def test_what_the_entry_was_not_compiled_for_takes_the_python_path(n, other):
    f = mlc.jit(lambda x, y: x + 2 * y)
    x, y = np.arange(n, dtype="float32"), np.ones(n, "float32")
    f(x, y), f(x, y)
    assert f._specs.hot is not None
    if other == "dtype":
        a, b = x.astype("float64"), y
    elif other == "shape":
        a, b = np.arange(n + 1, dtype="float32"), np.ones(n + 1, "float32")
    elif other == "rank":
        a, b = x.reshape(1, n), y
    elif other == "strided":  # the same shape and dtype, not contiguous
        a, b = np.arange(2 * n, dtype="float32")[::2], y
    elif other == "readonly":  # read only: the entry may take it
        a, b = x.copy(), y
        a.flags.writeable = False
    elif other == "scalar":
        a, b = x, 1.5
    elif other == "subclass":
        a, b = x.view(np.ma.MaskedArray).data, y  # a plain view: same as x
    else:
        a, b = list(x), y
    got = f(a, b)
    want = (np.asarray(a) if type(a) is list else a) + 2 * b  # (NumPy: a Python float is weak)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(f(x, y), x + 2 * y)  # and back


@needs_fast
def test_wrong_input_raises_the_python_paths_error():
    f = mlc.jit(lambda x, y: x + y)
    x = np.ones(4, "float32")
    f(x, x), f(x, x)
    assert f._specs.hot is not None
    with pytest.raises(ShapeError) as hot:
        f(x, np.ones(3, "float32"))
    g = mlc.jit(lambda x, y: x + y)
    with pytest.raises(ShapeError) as fresh:
        g(x, np.ones(3, "float32"))
    assert str(hot.value).split("\n")[0] == str(fresh.value).split("\n")[0]
    with pytest.raises(TypeError):
        f(x)  # too few arguments: the function's own error, not the entry's


@needs_fast
def test_no_fast_entry_where_the_run_does_more():
    x = np.arange(5, dtype="float32")
    checks = {
        "two outputs": mlc.jit(lambda x: (x + 1, x * 2)),
        "writes its argument": mlc.jit(_add_in_place),
        "an int checked after the run": mlc.jit(lambda x, n: x[n]),
    }
    for what, f in checks.items():
        args = (x.copy(), 2) if what.startswith("an int") else (x.copy(),)
        f(*args), f(*args)
        assert f._specs.hot is None, what
    out = x.copy()
    f = checks["writes its argument"]
    f(out)
    f(out)
    np.testing.assert_array_equal(out, x + 2)


def _add_in_place(x):
    x += 1
    return x * 1


@needs_fast
def test_reference_counts_stay_balanced():
    f = mlc.jit(lambda x, y: x - y)
    x = np.ones(3)
    f(x, x), f(x, x)
    slot = f._specs.hot
    fast, marker = slot.fast
    assert fast.__self__ is marker
    before = sys.getrefcount(marker), sys.getrefcount(x), sys.getrefcount(x.dtype)
    ran = declined = 0
    for _ in range(1000):  # (no assert on the calls: pytest's rewriting keeps what they return)
        out = fast(x, x)
        ran += type(out) is np.ndarray and sys.getrefcount(out) == 2  # out, and getrefcount's argument
        declined += fast(x) is marker  # too few
        declined += fast(x, 1.0) is marker  # not an array
        declined += fast(x, x, x) is marker  # too many
    del out
    assert (ran, declined) == (1000, 3000)
    assert (sys.getrefcount(marker), sys.getrefcount(x), sys.getrefcount(x.dtype)) == before


@needs_fast
@settings(max_examples=12, deadline=None)
@given(shape=shapes, dtype=st.sampled_from(["float32", "float64", "int32", "int64", "bool", "float16", "uint8"]))
def test_the_entry_makes_each_output_new_as_numpy_does(shape, dtype):
    """The native entry allocates the output itself (NumPy's PyArray_New): a new array of
    the output's shape and dtype on each hit, owning its memory, never one handed out
    before."""
    f = mlc.jit(lambda x: x == x if dtype == "bool" else x + x)
    x = np.ones(shape, dtype)
    f(x), f(x)
    assert f._specs.hot.compiled.function.entry.fast_maker[1] is None  # (small: NumPy's PyArray_New)
    fast, marker = f._specs.hot.fast
    first, second = fast(x), fast(np.zeros(shape, dtype))
    want = np.ones(shape, bool) if dtype == "bool" else x + x
    for got in (first, second):
        assert type(got) is np.ndarray and got.shape == shape and got.dtype == want.dtype
        assert got.flags.c_contiguous and got.flags.writeable and got.flags.owndata
    assert first is not second and not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, want)  # (not overwritten by the second call)
    np.testing.assert_array_equal(second, np.zeros(shape, dtype) == 0 if dtype == "bool" else
                                  np.zeros(shape, dtype))


@needs_fast
def test_an_output_numpy_would_not_align_comes_from_the_aligned_allocator():
    from mlc.runtime.ndarray import HOST_ALIGN, HOST_ALIGNED_BYTES
    n = HOST_ALIGNED_BYTES // 8  # float64: HOST_ALIGNED_BYTES bytes, still small enough for the entry
    f = mlc.jit(lambda x: x * 3)
    x = np.arange(n, dtype="float64")
    f(x), f(x)
    slot = f._specs.hot
    assert slot is not None and slot.compiled.function.entry.fast_maker[1] is not None
    calls = _counted(f)
    for _ in range(3):
        out = f(x)
        np.testing.assert_array_equal(out, x * 3)
        assert out.ctypes.data % HOST_ALIGN == 0
    assert calls == []


@needs_fast
def test_an_error_making_the_output_propagates_and_runs_nothing():
    f = mlc.jit(lambda x: x + 1)
    x = np.ones(4, "float32")
    f(x), f(x)
    entry = f._specs.hot.compiled.function.entry.fast_maker[0]
    made = []

    def failing():
        made.append(1)
        raise MemoryError("no memory for the output")
    fresh = type(entry)(entry.main_address, entry.func, entry.target)
    fast, marker, _ = fresh(failing)
    assert fast(x, x) is marker and made == []  # declined before making anything
    with pytest.raises(MemoryError, match="no memory for the output"):
        fast(x)
    assert made == [1]


@needs_fast
def test_clearing_and_eviction_forget_the_hot_signature():
    f = mlc.jit(lambda x: x + 1, cache_size=1)
    a, b = np.ones(2), np.ones(3)
    f(a), f(a)
    assert f._specs.hot is not None
    f.clear_cache()
    assert f._specs.hot is None
    f(a), f(a)
    assert f._specs.hot is not None
    assert f(1.5) == 2.5  # evicts a's signature
    assert f._specs.hot is None
    f(b), f(b)
    assert f._specs.hot.key in f._specs.compiled
    np.testing.assert_array_equal(f(a), a + 1)
    assert f.trace_count == 5


@needs_fast
def test_the_optimised_tier_brings_its_fast_entry():
    f = mlc.jit(lambda x, y: x * y + 1, tiered=True)
    x = np.arange(6.0)
    np.testing.assert_array_equal(f(x, x), x * x + 1)
    np.testing.assert_array_equal(f(x, x), x * x + 1)  # (may be before the swap or after)
    assert tiering.wait(timeout=120)
    np.testing.assert_array_equal(f(x, x), x * x + 1)  # (a first tier run eagerly has no fast entry)
    slot = f._specs.hot
    assert slot.fast is not None and not slot.compiled.function.lib.is_quick
    assert slot.fast[0].__self__ == _descriptor_of(slot.compiled.function)  # the optimised main's
    np.testing.assert_array_equal(f(x, x), x * x + 1)


def test_large_arrays_keep_the_ctypes_entry():
    f = mlc.jit(lambda x: x * 2)
    x = np.ones(fast_calls.MAX_BYTES // 8 + 1)
    np.testing.assert_array_equal(f(x), x * 2)
    np.testing.assert_array_equal(f(x), x * 2)
    assert f._specs.hot is None


@needs_fast
@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 6), other=st.sampled_from(["same", "dtype", "shape", "scalar", "names", "positional"]))
def test_a_keyword_hit_runs_the_fast_entry_and_declines_the_rest(n, other):
    f = mlc.jit(lambda x, y, z=None: x * 2 - y if z is None else x * 2 - y + z)
    x, y = np.arange(n, dtype="float64"), np.ones(n)
    np.testing.assert_array_equal(f(x, y=y), x * 2 - y)
    np.testing.assert_array_equal(f(x, y=y), x * 2 - y)
    assert f._specs.hot_keyed is not None
    calls = _counted(f)
    np.testing.assert_array_equal(f(x + 1, y=y), x * 2 + 2 - y)
    assert calls == []  # native
    kwargs, a = {"y": y}, x
    if other == "dtype":
        kwargs = {"y": y.astype("float32")}
    elif other == "shape":
        a, kwargs = np.arange(n + 1.0), {"y": np.ones(n + 1)}
    elif other == "scalar":
        kwargs = {"y": 1.5}
    elif other == "names":
        kwargs = {"y": y, "z": y}
    got = f(a, y) if other == "positional" else f(a, **kwargs)
    want = a * 2 - (y if other == "positional" else kwargs["y"]) + kwargs.get("z", 0)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


number_kinds = st.sampled_from(["float", "int", "bool", "complex"])


def _python_number(kind: str, draw_value: int):
    return {"float": draw_value / 4, "int": draw_value, "bool": draw_value % 2 == 1,
            "complex": complex(draw_value / 2, -draw_value)}[kind]


@needs_fast
@settings(max_examples=8, deadline=None)
@given(shape=shapes, dtype=st.sampled_from(["float32", "float64", "int32", "int64", "uint8", "complex64"]),
       kind=number_kinds, values=st.lists(st.integers(-40, 40), min_size=3, max_size=3))
def test_a_hit_with_python_numbers_passes_them_by_value(shape, dtype, kind, values):
    """A signature with a Python number runs its fast entry on a hit, the number read in
    place (no 0-d array made), with NumPy 2's weak promotion: the result's dtype and values
    are NumPy's, whatever number of that type comes."""
    if kind == "int" and dtype in ("int32", "uint8"):
        kind = "float"  # (an int that must fit int32 is checked after the run: no fast entry then)
    x = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    f = mlc.jit(lambda x, s: x * s + s)
    numbers = [_python_number(kind, v) for v in values]
    with np.errstate(over="ignore"):
        f(x, numbers[0]), f(x, numbers[0])
        assert f._specs.hot is not None and f._specs.hot.scalars == (None, type(numbers[0]))
        jit_module = sys.modules["mlc.tracer.jit"]
        made = []
        calls = _counted(f)
        with pytest.MonkeyPatch.context() as patch:  # (the 0-d arrays a scalar's Python path makes)
            patch.setattr(jit_module, "fast_leaves", lambda args: made.append(args) or None)
            for s in numbers:
                got, want = f(x, s), x * s + s
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)
    assert calls == [] and made == [] and f.trace_count == 1


@needs_fast
def test_numbers_the_entry_was_not_made_for_take_the_python_path():
    f = mlc.jit(lambda x, n: x + n)
    x = np.arange(4, dtype="int64")
    f(x, 3), f(x, 3)
    fast, marker = f._specs.hot.fast
    assert fast(x, 7) is not marker
    for other in (2**63, -2**63 - 1, 3.0, True, np.int64(3), np.asarray(3), None):
        assert fast(x, other) is marker, other
    np.testing.assert_array_equal(f(x, 2**40), x + 2**40)
    assert f.trace_count == 1
    with pytest.raises(Exception, match="out of bounds for int64"):
        f(x, 2**63)  # (NumPy: OverflowError; traced as a constant and checked)
    assert f(x, 2.5).dtype == np.float64 and f(x, True).dtype == np.int64
    np.testing.assert_array_equal(f(x, np.int64(3)), x + 3)
    np.testing.assert_array_equal(f(x, -7), x - 7)


@needs_fast
@settings(max_examples=4, deadline=None)
@given(n=st.integers(1, 6), order=st.permutations(["y", "s"]), built=st.booleans())
def test_keywords_are_found_by_name_in_any_order(n, order, built):
    f = mlc.jit(lambda x, y, s: x * s - y)
    x, y = np.arange(n, dtype="float32"), np.ones(n, "float32")
    f(x, y=y, s=2.0), f(x, y=y, s=2.0)
    hot = f._specs.hot_keyed
    assert hot is not None and hot.keywords == ("s", "y")
    calls = _counted(f)
    values = {"y": y + 1, "s": -0.5}
    names = ["".join(list(name)) for name in order] if built else order  # (not the interned strings)
    kwargs = {name: values[name] for name in names}
    np.testing.assert_array_equal(f(x, **kwargs), x * -0.5 - (y + 1))
    assert calls == [] and f.trace_count == 1
    with pytest.raises(TypeError):
        f(x, y=y)  # a keyword missing: the function's own error
    with pytest.raises(TypeError):
        f(x, y=y, s=1.0, t=2.0)  # one too many
    np.testing.assert_array_equal(f(x, y, s=3.0), x * 3 - y)  # positional y: another signature


@needs_fast
def test_reference_counts_stay_balanced_with_numbers_and_keywords():
    f = mlc.jit(lambda x, y, s: x * s + y)
    x = np.ones(3)
    f(x, y=x, s=2), f(x, y=x, s=2)
    fast, marker = f._specs.hot_keyed.fast
    kwargs = {"y": x, "s": 5}
    before = sys.getrefcount(marker), sys.getrefcount(x), sys.getrefcount(kwargs)
    ran = declined = 0
    for _ in range(1000):
        out = fast((x,), kwargs)  # (a call's positional tuple and keyword dict)
        ran += type(out) is np.ndarray and sys.getrefcount(out) == 2
        declined += fast((x,), {"y": x}) is marker  # a name missing
        declined += fast((x,), {"y": x, "s": 2**64}) is marker  # past int64
        declined += fast((x,), {"y": x, "s": 1.0}) is marker  # another type
        declined += fast((x, x), {"s": 1}) is marker  # y positional: not what it was made for
        out = fast(x, 7, x)  # every input positional, in the order of the leaves (keywords sorted)
        ran += type(out) is np.ndarray and sys.getrefcount(out) == 2
    del out
    assert (ran, declined) == (2000, 4000)
    assert (sys.getrefcount(marker), sys.getrefcount(x), sys.getrefcount(kwargs)) == before
