"""The pool of large host buffers (mlc/runtime/host_pool.py): reused once nothing refers to
them, never while anything does (an array, a view, an exported buffer), bounded, thread-safe."""
import threading

import numpy as np
import pytest

import mlc
from mlc.runtime import host_pool
from mlc.runtime.ndarray import host_empty
from mlc.runtime.pointers import data_pointer

SIZE = host_pool.MIN_BYTES


@pytest.fixture(autouse=True)
def empty_pool():
    host_pool.release()
    yield
    host_pool.release()


def test_a_dropped_buffer_is_taken_again_and_a_held_one_is_not():
    a = host_pool.take(SIZE)
    b = host_pool.take(SIZE)
    assert data_pointer(a) != data_pointer(b)
    address = data_pointer(a)
    del a
    assert data_pointer(host_pool.take(SIZE)) == address
    assert host_pool.pooled_bytes() == 2 * SIZE  # taken again, not allocated anew


@pytest.mark.parametrize("hold", [
    lambda a: a[100:200],                          # a view
    lambda a: a.view(np.float32).reshape(-1, 4),   # a view of a view (NumPy collapses its base)
    lambda a: memoryview(a),                       # an exported buffer
    lambda a: np.frombuffer(a, np.int16),          # an array over the exported buffer
], ids=["view", "view-of-view", "memoryview", "frombuffer"])
def test_anything_that_refers_to_a_buffer_keeps_it_from_reuse(hold):
    a = host_pool.take(SIZE)
    address = data_pointer(a)
    kept = hold(a)
    del a
    assert data_pointer(host_pool.take(SIZE)) != address
    del kept
    assert data_pointer(host_pool.take(SIZE)) == address
    assert host_pool.pooled_bytes() == 2 * SIZE


def test_small_buffers_are_not_pooled():
    a = host_pool.take(SIZE - 1)
    assert host_pool.pooled_bytes() == 0 and a.nbytes == SIZE - 1


def test_the_pool_keeps_at_most_per_size_buffers_and_max_bytes(monkeypatch):
    monkeypatch.setattr(host_pool, "PER_SIZE", 2)
    held = [host_pool.take(SIZE) for _ in range(3)]
    assert host_pool.pooled_bytes() == 2 * SIZE  # the third is a plain allocation
    monkeypatch.setattr(host_pool, "MAX_BYTES", 3 * SIZE)
    held += [host_pool.take(2 * SIZE) for _ in range(2)]
    assert host_pool.pooled_bytes() == 2 * SIZE  # a buffer of 2 * SIZE would pass MAX_BYTES
    assert len({data_pointer(b) for b in held}) == len(held)


def test_release_drops_the_free_buffers_only():
    held = host_pool.take(SIZE)
    free = host_pool.take(SIZE)
    del free
    assert host_pool.release() == SIZE and host_pool.pooled_bytes() == SIZE
    assert data_pointer(host_pool.take(SIZE)) != data_pointer(held)


def test_threads_never_take_the_same_buffer():
    seen, errors = [], []
    barrier = threading.Barrier(4)

    def work():
        try:
            barrier.wait()
            for _ in range(200):
                mine = [host_pool.take(SIZE, lambda b: b[8:]) for _ in range(2)]
                for n, a in enumerate(mine):
                    a[:16] = n + 1
                seen.append(len({data_pointer(a) for a in mine}) == 2 and
                            all((a[:16] == n + 1).all() for n, a in enumerate(mine)))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(seen)


def test_host_empty_takes_large_aligned_outputs_from_the_pool():
    a = host_empty((512, 1024), np.dtype("float32"))
    assert a.shape == (512, 1024) and a.dtype == np.float32 and data_pointer(a) % 64 == 0
    address = data_pointer(a)
    del a
    b = host_empty((512, 1024), np.dtype("float32"))
    assert data_pointer(b) == address and b.flags.c_contiguous and b.flags.writeable
    assert host_pool.pooled_bytes() == b.nbytes + 64


def test_jitted_outputs_reuse_dropped_memory_and_keep_held_results():
    f = mlc.jit(lambda x: x * 2 + 1)
    x = np.arange(1 << 19, dtype="float32")
    first = f(x)
    second = f(x + 1)  # the first is held: its memory is not handed out again
    np.testing.assert_array_equal(first, x * 2 + 1)
    np.testing.assert_array_equal(second, (x + 1) * 2 + 1)
    address = data_pointer(first)
    del first
    third = f(x + 2)
    assert data_pointer(third) == address and host_pool.pooled_bytes() == 2 * (x.nbytes + 64)
    np.testing.assert_array_equal(third, (x + 2) * 2 + 1)
    np.testing.assert_array_equal(second, (x + 1) * 2 + 1)
