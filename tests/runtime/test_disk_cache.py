"""The trusted on-disk caches (:mod:`mlc.runtime.disk_cache`): entries that are not what they
should be are damaged entries, built again."""
import os
import stat
import threading
import time

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends.llvm import jit
from mlc.config import CACHE_SIZE, _from_environment, config, override
from mlc.errors import ConfigError
from mlc.runtime import cache_space, disk_cache

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")


def scaled(n=16):
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] * 2 + 1, "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def entries(root) -> list[str]:
    folder = os.path.join(str(root), "llvm")
    return sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".entry"))


def kernel_entries(root) -> list[str]:
    """The entries that define the kernel ``main``: not the build's entries unit (its checked
    and object entries, a unit of their own that programs of one signature share)."""
    return [path for path in entries(root) if b"define void @main(" in open(path, "rb").read()]


def within(seconds: float, fn, unblock):
    """``fn()``'s result, or a failure if it has not returned after ``seconds`` (then
    ``unblock()`` lets it go, so that no thread is left waiting)."""
    result = []
    worker = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        unblock()
        worker.join(10)
        pytest.fail(f"still waiting after {seconds} s")
    return result[0]


def _open_for_writing(path):
    """Open (and close) the named pipe at ``path`` for writing: a reader waiting for a
    writer sees the end of the file."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


@needs_fifo
def test_reading_a_named_pipe_does_not_wait_for_a_writer(tmp_path):
    path = str(tmp_path / "entry")
    os.mkfifo(path, 0o600)
    with pytest.warns(RuntimeWarning, match=r"is not a regular file \(a named pipe\)"):
        assert within(30, lambda: disk_cache.read_entry(path, b"demo 1\n"), lambda: _open_for_writing(path)) is None


@needs_fifo
def test_a_named_pipe_at_an_entrys_path_is_built_again_with_a_warning(tmp_path):
    """The repro: the build opened the pipe before it looked at its type, and waited forever."""
    with override(cache_dir=str(tmp_path)):
        mlc.build(scaled(), "llvm")
        path, = kernel_entries(tmp_path)
        os.remove(path)
        os.mkfifo(path, 0o600)
        with pytest.warns(RuntimeWarning, match=f"{path} is not a regular file .*built again"):
            lib = within(60, lambda: mlc.build(scaled(), "llvm"), lambda: _open_for_writing(path))
        a, b = np.arange(16, dtype="float32"), np.empty(16, "float32")
        lib["main"](a, b)
        np.testing.assert_array_equal(b, a * 2 + 1)
        assert stat.S_ISREG(os.lstat(path).st_mode)  # the entry stored again, a file


# ------------------------------------------------------------------ the size limit

MAGIC = b"test entry 1\n"


def store(root, name: str, nbytes: int, stamp_s: float | None = None) -> str:
    """An entry of about ``nbytes`` in ``root``'s folder ``kind``, used last at ``stamp_s``."""
    folder = os.path.join(str(root), "kind")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, name + disk_cache.ENTRY_SUFFIX)
    disk_cache.write_entry(path, MAGIC, {"name": name}, b"x" * nbytes)
    if stamp_s is not None:
        os.utime(path, (stamp_s, stamp_s))
    return path


def names(root) -> list[str]:
    return sorted(os.path.basename(p)[:-len(disk_cache.ENTRY_SUFFIX)] for p, _, _ in cache_space.scan(str(root)))


def test_reading_an_entry_back_stamps_it_as_used(tmp_path):
    with override(cache_dir=str(tmp_path)):
        path = store(tmp_path, "a", 100, stamp_s=1_000_000)
        assert disk_cache.read_entry(path, MAGIC) == ({"name": "a"}, b"x" * 100)
    assert os.stat(path).st_mtime > 1_000_000 + 10 * 365 * 86400  # now, not 1970


def test_storing_past_the_limit_evicts_the_least_recently_used_down_to_the_low_water_mark(tmp_path):
    with override(cache_dir=str(tmp_path), cache_size=None):
        paths = [store(tmp_path, f"e{n}", 1000, stamp_s=1_000_000 + n) for n in range(10)]
    entry = os.path.getsize(paths[0])  # (every entry: e0 ... e9 and ex are as long)
    with override(cache_dir=str(tmp_path), cache_size=10 * entry):
        disk_cache.read_entry(paths[0], MAGIC)  # e0, the oldest, used now
        store(tmp_path, "ex", 1000)  # 11 entries: over the limit
    kept = int(cache_space.LOW_WATER * 10)  # 9 entries: e0, ex and the 7 used last
    assert names(tmp_path) == ["e0"] + [f"e{n}" for n in range(10 - (kept - 2), 10)] + ["ex"]


def test_under_the_limit_nothing_is_evicted(tmp_path):
    with override(cache_dir=str(tmp_path), cache_size=100_000):
        for n in range(10):
            store(tmp_path, f"e{n}", 1000, stamp_s=1_000_000 + n)
    assert len(names(tmp_path)) == 10


def test_while_another_process_evicts_a_store_leaves_the_eviction_to_it(tmp_path):
    import fcntl
    with override(cache_dir=str(tmp_path), cache_size=None):
        for n in range(5):
            store(tmp_path, f"e{n}", 1000, stamp_s=1_000_000 + n)
    fd = os.open(str(tmp_path / ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # (flock locks belong to open files: this one is another's)
        with override(cache_dir=str(tmp_path), cache_size=2000):
            store(tmp_path, "new", 1000)
        assert len(names(tmp_path)) == 6
    finally:
        os.close(fd)
    with override(cache_dir=str(tmp_path), cache_size=2000):
        store(tmp_path, "newer", 1000)
    assert names(tmp_path) == ["newer"]  # (0.9 of 2000 bytes: room for one)


def test_a_temporary_file_left_an_hour_ago_is_removed_and_a_fresh_one_kept(tmp_path):
    folder = tmp_path / "kind"
    folder.mkdir(mode=0o700)
    old, fresh = folder / (cache_space.TEMP_PREFIX + "old"), folder / (cache_space.TEMP_PREFIX + "fresh")
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert cache_space.scan(str(tmp_path)) == []
    assert not old.exists() and fresh.exists()


def test_building_many_programs_keeps_the_cache_under_its_limit_and_the_recent_ones(tmp_path, monkeypatch):
    """The repro: every program built added its entry (about 25 KB), and nothing went."""
    with override(cache_dir=str(tmp_path), cache_size=None):
        mlc.build(scaled(16), "llvm")
        first = mlc.cache.info().bytes  # a kernel's entry and the entries unit's
        mlc.build(scaled(17), "llvm")
        entry = mlc.cache.info().bytes - first  # a kernel's (the entries unit is the same)
    limit = first + 5 * entry
    with override(cache_dir=str(tmp_path), cache_size=limit):
        for n in range(18, 37):
            mlc.build(scaled(n), "llvm")
            assert mlc.cache.info().bytes <= limit * 1.2  # (entries differ a little in size)
        assert 3 <= mlc.cache.info().entries <= 8

        def no_compile(*args):
            raise AssertionError("compiled again instead of loading the cache")
        monkeypatch.setattr(jit, "_build_unit", no_compile)
        mlc.build(scaled(36), "llvm")  # the last one built is kept


def test_cache_info_and_clear(tmp_path):
    with override(cache_dir=str(tmp_path), cache_size=5 << 20):
        assert mlc.cache.info() == mlc.cache.CacheInfo(str(tmp_path), 0, 0, 5 << 20)
        mlc.build(scaled(16), "llvm")
        mlc.build(scaled(17), "llvm")
        found = mlc.cache.info()  # two kernels and the entries unit they share
        assert found.entries == 3 and found.bytes == sum(s for _, s, _ in cache_space.scan(str(tmp_path)))
        assert found.location == str(tmp_path) and found.limit == 5 << 20
        assert mlc.cache.clear() == 3
        assert mlc.cache.info().entries == 0 and mlc.cache.info().bytes == 0
    with override(cache_dir=""):
        assert mlc.cache.info() == mlc.cache.CacheInfo(None, 0, 0, config().cache_size)
        assert mlc.cache.clear() == 0


@pytest.mark.parametrize("value, size", [("", CACHE_SIZE), ("1024", 1024), ("500M", 500 << 20), ("2g", 2 << 30),
                                         ("1.5GiB", 3 << 29), ("64 KB", 64 << 10), ("unlimited", None)])
def test_mlc_cache_size_takes_bytes_units_or_unlimited(monkeypatch, value, size):
    monkeypatch.setenv("MLC_CACHE_SIZE", value)
    assert _from_environment.__wrapped__().cache_size == size


@pytest.mark.parametrize("value", ["0", "-1", "0.1", "lots", "5X", "1e9"])
def test_mlc_cache_size_that_is_not_a_size_is_refused(monkeypatch, value):
    monkeypatch.setenv("MLC_CACHE_SIZE", value)
    with pytest.raises(ConfigError, match=f"MLC_CACHE_SIZE='{value}' is not a cache size .* 'unlimited'"):
        _from_environment.__wrapped__()
