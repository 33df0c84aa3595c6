"""host_pool: large outputs reuse the memory of outputs nothing holds any more, never of
one something still holds (a view, a memoryview, an array of its buffer)."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mlc
from mlc.runtime import host_pool
from mlc.runtime.ndarray import HOST_ALIGN, HOST_ALIGNED_BYTES, OUTPUT_SLACK

N = HOST_ALIGNED_BYTES  # float32 elements: 256 KiB outputs, pooled below


@pytest.fixture(autouse=True)
def small_pool(monkeypatch):
    """Pool outputs from HOST_ALIGNED_BYTES up (the tests' arrays), at most 16 of them."""
    host_pool.release()
    monkeypatch.setattr(host_pool, "MIN_BYTES", HOST_ALIGNED_BYTES)
    host_pool.set_limit(16 * (4 * N + OUTPUT_SLACK))
    yield
    host_pool.set_limit(None)
    host_pool.release()


def _double():
    return mlc.jit(lambda x: x * 2 + 1)


def _inputs(k: int, n: int = N) -> list[np.ndarray]:
    rng = np.random.default_rng(k)
    return [rng.standard_normal(n).astype("float32") for _ in range(k)]


def test_the_output_of_a_call_reuses_the_memory_of_one_nothing_holds():
    f = _double()
    a, b = _inputs(2)
    first = f(a)
    raw = first.base.ctypes.data  # the pooled buffer (its start; holding it would keep it out of the pool)
    assert raw <= first.ctypes.data < raw + OUTPUT_SLACK
    del first
    second = f(b)
    # the same buffer: the start moves within its first OUTPUT_SLACK bytes, as the outputs'
    # page offsets take turns (which of them comes first depends on the outputs made before)
    assert raw <= second.ctypes.data < raw + OUTPUT_SLACK
    np.testing.assert_array_equal(second, b * 2 + 1)
    assert second.ctypes.data % HOST_ALIGN == 0


def test_outputs_held_at_once_never_share_memory():
    f = _double()
    inputs = _inputs(5)
    outs = [f(x) for x in inputs]
    for i, out in enumerate(outs):
        np.testing.assert_array_equal(out, inputs[i] * 2 + 1)
        assert not any(np.shares_memory(out, other) for other in outs[i + 1:])


@pytest.mark.parametrize("hold", ["view", "reshaped", "memoryview", "frombuffer", "transposed"])
def test_whatever_holds_part_of_an_output_keeps_its_memory_out_of_the_next(hold):
    f = _double()
    a, b = _inputs(2)
    first = f(a)
    kept = {"view": lambda o: o[3:], "reshaped": lambda o: o.reshape(4, -1)[1],
            "memoryview": memoryview, "frombuffer": lambda o: np.frombuffer(o, np.float32),
            "transposed": lambda o: o.reshape(8, -1).T}[hold](first)
    want = np.array(kept, copy=True)
    del first
    second = f(b)
    np.testing.assert_array_equal(second, b * 2 + 1)
    np.testing.assert_array_equal(np.asarray(kept), want)  # untouched by the second call
    assert not np.shares_memory(second, np.asarray(kept))


def test_outputs_over_the_limit_are_allocated_as_usual():
    host_pool.set_limit(4 * N + OUTPUT_SLACK)  # one output
    f = _double()
    a, b = _inputs(2)
    first, second = f(a), f(b)
    np.testing.assert_array_equal(first, a * 2 + 1)
    np.testing.assert_array_equal(second, b * 2 + 1)
    assert host_pool.pooled_bytes() == (4 * N + OUTPUT_SLACK, 0)
    del first
    assert host_pool.pooled_bytes() == (4 * N + OUTPUT_SLACK, 4 * N + OUTPUT_SLACK)
    host_pool.set_limit(0)  # pool nothing: the free buffer goes
    assert host_pool.pooled_bytes() == (0, 0)
    third = f(a)
    np.testing.assert_array_equal(third, a * 2 + 1)
    assert host_pool.pooled_bytes() == (0, 0)


def test_a_free_buffer_of_another_size_makes_room_for_a_new_one():
    host_pool.set_limit(4 * N + OUTPUT_SLACK)
    f = _double()
    a = _inputs(1)[0]
    f(a)  # its output dropped at once: a free buffer of N elements
    smaller = _inputs(1, N // 2)[0]
    out = f(smaller)  # the free buffer of N elements goes, one of N / 2 takes its place
    np.testing.assert_array_equal(out, smaller * 2 + 1)
    assert host_pool.pooled_bytes() == (2 * N + OUTPUT_SLACK, 0)


def test_release_lets_the_free_buffers_go():
    f = _double()
    a, b = _inputs(2)
    kept, dropped = f(a), f(b)
    del dropped
    assert host_pool.release() == 4 * N + OUTPUT_SLACK
    assert host_pool.pooled_bytes() == (4 * N + OUTPUT_SLACK, 0)
    np.testing.assert_array_equal(kept, a * 2 + 1)


def test_concurrent_calls_get_their_own_outputs():
    f = _double()
    inputs = _inputs(4)
    f(inputs[0])

    def work(x):
        for _ in range(50):
            np.testing.assert_array_equal(f(x), x * 2 + 1)

    with ThreadPoolExecutor(len(inputs)) as pool:
        list(pool.map(work, inputs))  # (a thread's failed assertion is raised here)


def test_set_limit_refuses_a_negative_or_non_integer_limit():
    for bad in (-1, 1.5, "1G"):
        with pytest.raises(ValueError, match="set_limit"):
            host_pool.set_limit(bad)
