"""A jitted function keeps at most ``cache_size`` compiled signatures, the least recently used
going first (CLOCK: :mod:`mlc.tracer.specializations`), so a long-running service that sees
ever new shapes stays flat. It kept every one (about 170 KB each)."""
import gc
import weakref

import numpy as np
import pytest

import mlc
from mlc.config import JIT_CACHE_SIZE, _from_environment, override
from mlc.errors import ConfigError, TraceError


def double_plus_one(x):
    return x * 2 + 1


def ones(n):
    return np.ones(n, "float32")


def test_a_function_called_with_ever_new_shapes_keeps_at_most_cache_size_of_them():
    f = mlc.jit(double_plus_one, cache_size=3)
    for n in range(1, 9):
        for _ in range(2):  # (the second call: a hit)
            np.testing.assert_array_equal(f(ones(n)), np.full(n, 3, "float32"))
        assert len(f._cache) <= 3
    assert f.trace_count == 8 and len(f._cache) == 3
    assert len(f._runs) <= 2 * 3  # each kept signature: its full key and its fast key, no more


def test_what_goes_is_a_signature_not_called_since_and_it_compiles_again_if_it_comes_back():
    f = mlc.jit(double_plus_one, cache_size=2)
    a, b, c = ones(1), ones(2), ones(3)
    f(a), f(b)
    f(a)  # a hit: a is used, b is not
    f(c)  # b goes
    assert f.trace_count == 3
    f(a), f(c)
    assert f.trace_count == 3  # both kept
    f(b)
    assert f.trace_count == 4  # compiled again


def test_keyword_and_static_calls_are_dropped_with_their_signature():
    f = mlc.jit(lambda x, scale: x * scale, static_argnames="scale", cache_size=2)
    for scale in (1, 2, 3, 1):
        np.testing.assert_array_equal(f(ones(4), scale=scale), np.full(4, scale, "float32"))
    assert f.trace_count == 4 and len(f._cache) == 2 and len(f._keyed_runs) <= 2


def test_a_dropped_signature_is_freed():
    f = mlc.jit(double_plus_one, cache_size=1)
    f(ones(5))
    (compiled,) = f._cache.values()
    gone = weakref.ref(compiled.lib)  # (its machine code and buffers)
    del compiled
    f(ones(6))
    gc.collect()
    assert gone() is None


def test_the_default_is_mlc_jit_cache_size():
    assert mlc.jit(double_plus_one).cache_size == JIT_CACHE_SIZE
    with override(jit_cache_size=5):
        assert mlc.jit(double_plus_one).cache_size == 5
    with override(jit_cache_size=None):
        f = mlc.jit(double_plus_one)
        assert f.cache_size is None
        for n in range(1, 4):
            f(ones(n))
        assert len(f._cache) == 3


@pytest.mark.parametrize("size", [0, -1, 2.5, "3", True])
def test_a_cache_size_that_is_not_a_positive_int_is_refused(size):
    with pytest.raises(TraceError, match=rf"cache_size must be a positive int .* got {size!r}"):
        mlc.jit(double_plus_one, cache_size=size)


@pytest.mark.parametrize("value, size", [("", JIT_CACHE_SIZE), ("7", 7), (" 1 ", 1), ("unlimited", None)])
def test_mlc_jit_cache_size_takes_a_count_or_unlimited(monkeypatch, value, size):
    monkeypatch.setenv("MLC_JIT_CACHE_SIZE", value)
    assert _from_environment.__wrapped__().jit_cache_size == size


@pytest.mark.parametrize("value", ["0", "-2", "many", "1.5", "²"])
def test_mlc_jit_cache_size_that_is_not_a_count_is_refused(monkeypatch, value):
    monkeypatch.setenv("MLC_JIT_CACHE_SIZE", value)
    with pytest.raises(ConfigError, match=f"MLC_JIT_CACHE_SIZE='{value}' is not a count"):
        _from_environment.__wrapped__()
