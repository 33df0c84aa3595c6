"""The compile cache: no retrace on a known signature; a retrace on new shapes, dtypes, statics."""
import threading

import numpy as np
from hypothesis import given, settings, strategies as st

import mlc


def counted(static_argnums=(), static_argnames=()):
    calls = []

    @mlc.jit(static_argnums=static_argnums, static_argnames=static_argnames)
    def f(x, n=1, scale=1.0):
        calls.append(1)
        return x * n + scale

    return f, calls


def test_same_signature_traces_once():
    f, calls = counted()
    x = np.ones((2, 3), "float32")
    for _ in range(5):
        f(x)
        f(x + 1)  # new values, same signature
    assert len(calls) == 1 and f.trace_count == 1


def test_new_shape_dtype_or_rank_retraces():
    f, calls = counted()
    f(np.ones((2, 3), "float32"))
    f(np.ones((2, 4), "float32"))
    f(np.ones((2, 3), "float64"))
    f(np.ones((2, 3, 1), "float32"))
    f(np.ones((2, 3), "float32"))
    assert f.trace_count == 4 == len(calls)


def test_static_values_are_part_of_the_key():
    f, calls = counted(static_argnums=(1,), static_argnames=("scale",))
    x = np.ones(3, "float32")
    np.testing.assert_allclose(f(x, 2), x * 2 + 1)
    np.testing.assert_allclose(f(x, 3), x * 3 + 1)
    np.testing.assert_allclose(f(x, 3, scale=0.5), x * 3 + 0.5)
    f(x, 3, scale=0.5)
    f(x, n=3, scale=0.5)  # keyword spelling of a static positional
    assert f.trace_count == 3


def test_python_scalar_arguments_are_weak_inputs_not_constants():
    f, _ = counted()
    x = np.ones(3, "float32")
    assert f(x, 2, 0.5).dtype == np.float32  # weak scalars adopt float32
    np.testing.assert_allclose(f(x, 5, 1.5), x * 5 + 1.5)
    assert f.trace_count == 1  # new scalar values reuse the compiled function
    assert f(x, 2.5, 0.5).dtype == np.float32
    assert f.trace_count == 2  # an int became a float: a new signature


def test_python_numbers_take_the_cache_hit_path(monkeypatch):
    """A known signature with Python numbers among the arrays skips the general signature
    (1.4 us a call instead of 9.3); an int past int64 is still traced as a constant."""
    f, _ = counted()
    x = np.arange(3, dtype="float64")
    np.testing.assert_array_equal(f(x, 2, 0.5), x * 2 + 0.5)
    general = []
    signature = f._signature
    monkeypatch.setattr(f, "_signature", lambda *a: general.append(a) or signature(*a))
    np.testing.assert_array_equal(f(x, 3, 1.5), x * 3 + 1.5)
    np.testing.assert_array_equal(f(x, -7, 0.25), x * -7 + 0.25)
    assert general == [] and f.trace_count == 1
    assert f(x, True, 0.5).dtype == np.float64 and f.trace_count == 2  # bool is a type of its own
    np.testing.assert_array_equal(f(x, 2**70, 0.5), x * 2**70 + 0.5)  # traced as a constant
    assert f.trace_count == 3 and len(general) == 2
    np.testing.assert_array_equal(f(x, 4, 0.5), x * 4 + 0.5)  # the int signature again, fast
    assert len(general) == 2 and f.trace_count == 3


class _PoolArray(np.ndarray):
    """An array type standing in for a GPU's (``cupy.ndarray``) in the fast key."""


def test_a_registered_device_array_type_is_keyed_by_its_type_too():
    """A type of FAST_DEVICE_ARRAYS (CuPy's, once the CUDA backend imported it) is found
    again under its type, shape and dtype, and passed as it is: a plain array of the same
    shape and dtype has another key (a GPU build must not run on host arrays, nor the
    reverse). tests/cuda/test_jit.py runs the jit's hit path on CuPy arrays on a GPU."""
    from mlc.runtime.ndarray import FAST_DEVICE_ARRAYS
    from mlc.tracer.arguments import ArgumentSpec, fast_key, fast_leaves
    x = np.arange(6, dtype="float32").view(_PoolArray)
    assert fast_key((x, 1.5)) is None  # not registered: the general path
    FAST_DEVICE_ARRAYS.add(_PoolArray)
    try:
        assert fast_key((x, 1.5)) == (_PoolArray, (6,), np.dtype("float32"), float)
        assert fast_key((np.asarray(x), 1.5)) == ((6,), np.dtype("float32"), float)
        leaves = fast_leaves((x, 1.5))
        assert leaves[0] is x and leaves[1].dtype == np.float64
        spec = ArgumentSpec.of(lambda a, b: a, (), ())
        assert spec.remembered((x, x), {}, [x, x]) == ((_PoolArray, (6,), np.dtype("float32")) * 2, None)
    finally:
        FAST_DEVICE_ARRAYS.discard(_PoolArray)


def test_keyword_arguments_take_the_cache_hit_path(monkeypatch):
    """A known signature called with keywords skips the general signature, in either order
    of the keywords; the arrays reach the parameters their names say."""
    f, _ = counted()
    x = np.arange(3, dtype="float64")
    np.testing.assert_array_equal(f(x, n=2, scale=0.5), x * 2 + 0.5)
    general = []
    signature = f._signature
    monkeypatch.setattr(f, "_signature", lambda *a: general.append(a) or signature(*a))
    np.testing.assert_array_equal(f(x, n=3, scale=1.5), x * 3 + 1.5)
    assert general == [] and f.trace_count == 1
    by_name = 0 if f._specs.hot_keyed is not None else 1  # (a fast entry finds the keywords by name)
    np.testing.assert_array_equal(f(x, scale=1.5, n=4), x * 4 + 1.5)  # the same names, another order
    np.testing.assert_array_equal(f(x, scale=0.25, n=5), x * 5 + 0.25)
    assert len(general) == by_name and f.trace_count == 1
    np.testing.assert_array_equal(f(x=x, n=np.arange(3.0), scale=2.0), x * np.arange(3.0) + 2.0)
    np.testing.assert_array_equal(f(x=x, n=np.ones(3), scale=2.0), x + 2.0)
    assert len(general) == by_name + 1 and f.trace_count == 2  # an array for n: a signature of its own
    np.testing.assert_array_equal(f(x, n=2**70, scale=0.5), x * 2**70 + 0.5)  # traced as a constant
    assert f.trace_count == 3
    f.clear_cache()
    np.testing.assert_array_equal(f(x, n=3, scale=1.5), x * 3 + 1.5)
    assert f.trace_count == 4


def test_static_arguments_take_the_cache_hit_path(monkeypatch):
    """A known signature with static arguments, positional or named, skips the general
    signature; a new static value still compiles again."""
    f, _ = counted(static_argnums=1)
    x = np.arange(3, dtype="float64")
    np.testing.assert_array_equal(f(x, 2, 0.5), x * 2 + 0.5)
    np.testing.assert_array_equal(f(x, n=2, scale=0.5), x * 2 + 0.5)
    general = []
    signature = f._signature
    monkeypatch.setattr(f, "_signature", lambda *a: general.append(a) or signature(*a))
    np.testing.assert_array_equal(f(x, 2, 1.5), x * 2 + 1.5)
    np.testing.assert_array_equal(f(x, n=2, scale=-1.0), x * 2 - 1.0)
    assert general == [] and f.trace_count == 2  # (a number by name is a pytree of its own)
    np.testing.assert_array_equal(f(x, 3, 1.5), x * 3 + 1.5)  # a new static value
    assert len(general) == 1 and f.trace_count == 3
    np.testing.assert_array_equal(f(x, 2.0, 1.5), x * 2.0 + 1.5)  # 2.0 is not 2
    assert f.trace_count == 4


_SCALES = [0.5, 2, True, "array"]


@settings(max_examples=40, deadline=None)
@given(calls=st.lists(st.tuples(st.booleans(), st.booleans(), st.sampled_from(["pos", "kw", "absent"]),
                                st.integers(0, 2), st.sampled_from(_SCALES), st.sampled_from([(3,), (2, 3)])),
                      min_size=1, max_size=10))
def test_any_mix_of_keywords_statics_and_numbers_computes_what_numpy_does(calls):
    """Calls mixing positional and named arguments, a static one, Python numbers and arrays,
    hit or miss, each give NumPy's result (value and dtype)."""
    @mlc.jit(static_argnames="k")
    def f(x, k, scale=1.0):
        return x * k + scale

    for x_named, k_named, scale_how, k, scale, shape in calls:
        x = np.arange(int(np.prod(shape)), dtype="float32").reshape(shape)
        scale = np.linspace(-1, 1, shape[-1]) if scale == "array" else scale
        args, kwargs = [], {}
        (kwargs.__setitem__("x", x) if x_named else args.append(x))
        (kwargs.__setitem__("k", k) if k_named or x_named else args.append(k))
        if scale_how == "pos" and not kwargs:
            args.append(scale)
        elif scale_how != "absent":
            kwargs["scale"] = scale
        want = x * k + (1.0 if scale_how == "absent" else scale)
        got = f(*args, **kwargs)
        assert got.dtype == want.dtype, (args, kwargs)
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_pytree_structure_is_part_of_the_key():
    @mlc.jit
    def f(params):
        return sum(params)

    a = np.ones(2, "float32")
    f([a, a])
    f([a, a])
    f((a, a))
    f([a, a, a])
    assert f.trace_count == 3


def test_non_contiguous_and_byteswapped_inputs_reuse_the_cache():
    f = mlc.jit(lambda x: x * 2)
    x = np.arange(12, dtype="float32").reshape(3, 4)
    np.testing.assert_array_equal(f(x), x * 2)
    reversed_columns = x[:, ::-1]
    np.testing.assert_array_equal(f(reversed_columns), reversed_columns * 2)
    view = np.arange(24, dtype="float32").reshape(3, 8)[:, ::2]
    np.testing.assert_array_equal(f(view), view * 2)
    swapped = x.astype(">f4")
    np.testing.assert_array_equal(f(swapped), x * 2)
    assert f.trace_count == 1


def test_clear_cache_forces_a_retrace():
    f, _ = counted()
    x = np.ones(3, "float32")
    f(x)
    f.clear_cache()
    f(x)
    assert f.trace_count == 2


def test_concurrent_calls_share_one_compile_and_stay_correct():
    f = mlc.jit(lambda x, w: np.maximum(x @ w, 0).sum(axis=1) + 1)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((16, 8)).astype("float32")
    inputs = [rng.standard_normal((5, 16)).astype("float32") for _ in range(8)]
    f(inputs[0], w)
    errors = []

    def worker(x):
        try:
            for _ in range(50):
                np.testing.assert_allclose(f(x, w), np.maximum(x @ w, 0).sum(axis=1) + 1, rtol=1e-4)
        except AssertionError as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(x,)) for x in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert f.trace_count == 1
