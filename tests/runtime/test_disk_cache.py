"""The trusted on-disk caches (:mod:`mlc.runtime.disk_cache`): entries that are not what they
should be are damaged entries, built again."""
import os
import stat
import threading

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.config import override
from mlc.runtime import disk_cache

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")


def scaled(n=16):
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] * 2 + 1, "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def entries(root) -> list[str]:
    folder = os.path.join(str(root), "llvm")
    return sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".entry"))


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
        path, = entries(tmp_path)
        os.remove(path)
        os.mkfifo(path, 0o600)
        with pytest.warns(RuntimeWarning, match=f"{path} is not a regular file .*built again"):
            lib = within(60, lambda: mlc.build(scaled(), "llvm"), lambda: _open_for_writing(path))
        a, b = np.arange(16, dtype="float32"), np.empty(16, "float32")
        lib["main"](a, b)
        np.testing.assert_array_equal(b, a * 2 + 1)
        assert stat.S_ISREG(os.lstat(path).st_mode)  # the entry stored again, a file
