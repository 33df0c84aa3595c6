"""The on-disk object cache: a second build of the same IR loads object code, never wrong code."""
import glob
import os

import numpy as np

import mlc
from mlc import te
from mlc.backends.llvm import jit, object_cache
from mlc.config import override


def scaled(n=16, factor=2.0):
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] * factor + 1, "B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def run(lib, n=16):
    a = np.arange(n, dtype="float32")
    b = np.empty(n, "float32")
    lib["main"](a, b)
    return a, b


def objects(root):
    return glob.glob(os.path.join(str(root), "llvm", "*", "*.o"))


def test_second_build_loads_the_cached_object(tmp_path, monkeypatch):
    with override(cache_dir=str(tmp_path)):
        mlc.build(scaled(), "llvm")
        assert len(objects(tmp_path)) == 1

        def no_compile(*args):
            raise AssertionError("compiled again instead of loading the cache")
        monkeypatch.setattr(jit, "_optimise_and_emit", no_compile)
        lib = mlc.build(scaled(), "llvm")
        a, b = run(lib)
        np.testing.assert_array_equal(b, a * 2 + 1)
        assert "define" in lib.get_source("ll")


def test_a_damaged_entry_is_recompiled(tmp_path):
    with override(cache_dir=str(tmp_path)):
        mlc.build(scaled(), "llvm")
        (path,) = objects(tmp_path)
        with open(path, "wb") as f:
            f.write(b"not an object file")
        a, b = run(mlc.build(scaled(), "llvm"))
        np.testing.assert_array_equal(b, a * 2 + 1)
        with open(path, "rb") as f:
            assert f.read() != b"not an object file"


def test_different_programs_and_targets_have_different_keys(tmp_path):
    with override(cache_dir=str(tmp_path)):
        mlc.build(scaled(factor=2.0), "llvm")
        mlc.build(scaled(factor=3.0), "llvm")
        assert len(objects(tmp_path)) == 2
        a, b = run(mlc.build(scaled(factor=3.0), "llvm"))
        np.testing.assert_array_equal(b, a * 3 + 1)
    assert object_cache.cache_key("x", "znver3", "+avx2") != object_cache.cache_key("x", "znver3", "-avx2")


def test_an_empty_cache_dir_turns_the_cache_off(tmp_path):
    with override(cache_dir=""):
        a, b = run(mlc.build(scaled(), "llvm"))
        np.testing.assert_array_equal(b, a * 2 + 1)
    assert objects(tmp_path) == []


def test_an_unwritable_cache_is_ignored(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache directory cannot be created below a file")
    with override(cache_dir=str(blocker / "cache")):
        a, b = run(mlc.build(scaled(), "llvm"))
    np.testing.assert_array_equal(b, a * 2 + 1)
