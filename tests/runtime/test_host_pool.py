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


# ---------------------------------------------------------------- mapped ahead of a first call

def _resident_pages(array: np.ndarray) -> list[bool] | None:
    """Whether each page of ``array``'s memory is mapped (Linux's ``mincore``); None where
    the system has no such call."""
    import ctypes
    import mmap
    try:
        mincore = ctypes.CDLL(None, use_errno=True).mincore
    except (OSError, AttributeError):
        return None
    page = mmap.PAGESIZE
    start = array.ctypes.data // page * page
    length = array.ctypes.data + array.nbytes - start
    vec = (ctypes.c_ubyte * ((length + page - 1) // page))()
    if mincore(ctypes.c_void_p(start), ctypes.c_size_t(length), vec) != 0:
        return None
    return [bool(v & 1) for v in vec]


def test_map_ahead_maps_every_page_of_a_new_buffer_and_the_next_take_gets_it():
    size = (33 << 20) + OUTPUT_SLACK  # (over glibc's largest mmap threshold: a mapping of its own)
    host_pool.set_limit(size)
    fresh = host_pool.take(size)
    untouched = _resident_pages(fresh)
    del fresh
    host_pool.release()
    assert host_pool.map_ahead([size]) == size
    assert host_pool.pooled_bytes() == (size, size)  # one buffer, free
    if untouched is None:
        pytest.skip("no mincore on this system: the mapping is not observable")
    assert not all(untouched)  # (a new mapping's pages are not all there before its first writes)
    mapped = host_pool.take(size)
    assert all(_resident_pages(mapped))
    assert host_pool.pooled_bytes() == (size, 0)  # that buffer


def test_map_ahead_gives_equal_sizes_buffers_of_their_own_and_passes_small_sizes_by():
    size = 4 * N + OUTPUT_SLACK
    assert host_pool.map_ahead([size, size, host_pool.MIN_BYTES - 1]) == 2 * size
    assert host_pool.pooled_bytes() == (2 * size, 2 * size)
    assert host_pool.map_ahead([size]) == size  # a free one of the pool's, mapped already
    assert host_pool.pooled_bytes() == (2 * size, 2 * size)


def test_map_ahead_stops_at_the_pools_limit():
    size = 4 * N + OUTPUT_SLACK
    host_pool.set_limit(size)
    assert host_pool.map_ahead([size, size]) == size
    assert host_pool.pooled_bytes() == (size, size)
    host_pool.set_limit(0)
    assert host_pool.map_ahead([size]) == 0 and host_pool.pooled_bytes() == (0, 0)


def test_pooled_sizes_are_the_buffers_host_empty_takes():
    from mlc.ir.expr import Var
    from mlc.runtime.ndarray import host_empty, pooled_sizes
    n = Var("n", "int64")
    outputs = [((N,), "float32"), ((2, N), "float64"), ((n, 4), "float32"), ((N // 8,), "float32"),
               ((N,), "float32x4")]  # (a dtype NumPy has no name for)
    assert pooled_sizes(outputs) == [4 * N + OUTPUT_SLACK, 16 * N + OUTPUT_SLACK]
    for shape, dtype in outputs[:2]:
        out = host_empty(shape, dtype)
        assert out.base.nbytes in pooled_sizes([(shape, dtype)])


def test_a_jitted_first_call_runs_in_memory_mapped_while_its_kernel_compiled(monkeypatch):
    """The pages of the first call's output are mapped while its kernel's LLVM module is
    built on another thread (the build is held until they are: the wait is then certain),
    and the output is made in that memory."""
    import threading
    from mlc.backends.llvm import jit as llvm_jit
    from mlc.config import override
    mapped, ready = [], threading.Event()
    real_map, real_build = host_pool.map_ahead, llvm_jit._build_unit

    def mapping(sizes):
        got = real_map(sizes)
        mapped.extend(raw.ctypes.data for raw in host_pool._pool)
        ready.set()
        return got

    def held(text, target, quick, worker):
        if threading.current_thread().name.startswith("mlc-llvm-unit") and not llvm_jit.unoptimised_only(text):
            assert ready.wait(30), "the build's wait did not map the outputs"
        return real_build(text, target, quick, worker)

    monkeypatch.setattr(host_pool, "map_ahead", mapping)
    monkeypatch.setattr(llvm_jit, "_build_unit", held)
    x = _inputs(1)[0]
    with override(num_threads=2, cache_dir=""):
        out = mlc.jit(lambda v: v * 3 - 1, tiered=False)(x)
    np.testing.assert_array_equal(out, x * 3 - 1)
    assert any(address <= out.ctypes.data < address + OUTPUT_SLACK for address in mapped)
