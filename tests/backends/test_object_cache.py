"""The on-disk object cache: a second build of the same IR loads object code, never wrong code."""
import functools
import glob
import os
import shutil
import stat
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.backends.llvm import elf, jit, object_cache
from mlc.runtime import disk_cache
from mlc.backends.llvm.module import generate_ir
from mlc.target import Target
from mlc.config import override
from mlc.errors import CompileError
from mlc.passes.tir import lower

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
    """The cache entries under ``root`` (one file each)."""
    return glob.glob(os.path.join(str(root), "llvm", "*.entry"))


def kernel_objects(root):
    """The cache entries under ``root`` that define a kernel ``main``: a build's units less
    its entries unit (the checked and object entries, compiled unoptimised in a unit of their
    own, which only declares the kernel, and which programs of one signature share)."""
    found = []
    for path in objects(root):
        with open(path, "rb") as f:
            if b"define void @main(" in f.read():
                found.append(path)
    return found


def test_second_build_loads_the_cached_object(tmp_path, monkeypatch):
    with override(cache_dir=str(tmp_path)):
        mlc.build(scaled(), "llvm")
        assert len(kernel_objects(tmp_path)) == 1 and len(objects(tmp_path)) == 2  # (and the entries unit)

        def no_compile(*args):
            raise AssertionError("compiled again instead of loading the cache")
        monkeypatch.setattr(jit, "_build_unit", no_compile)
        lib = mlc.build(scaled(), "llvm")
        a, b = run(lib)
        np.testing.assert_array_equal(b, a * 2 + 1)
        assert "define" in lib.get_source("ll")


def test_a_damaged_entry_is_recompiled(tmp_path):
    with override(cache_dir=str(tmp_path)):
        mlc.build(scaled(), "llvm")
        (path,) = kernel_objects(tmp_path)
        with open(path, "wb") as f:
            f.write(b"not an entry")
        a, b = run(mlc.build(scaled(), "llvm"))
        np.testing.assert_array_equal(b, a * 2 + 1)
        with open(path, "rb") as f:
            assert f.read().startswith(b"mlc-object-cache")


def test_different_programs_and_targets_have_different_keys(tmp_path):
    with override(cache_dir=str(tmp_path)):
        mlc.build(scaled(factor=2.0), "llvm")
        mlc.build(scaled(factor=3.0), "llvm")
        assert len(kernel_objects(tmp_path)) == 2 and len(objects(tmp_path)) == 3  # one entries unit: the same entries
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


# ------------------------------------------------------------------ trust

def test_another_programs_entry_copied_over_a_key_is_not_loaded(tmp_path):
    """Each entry records its key: x * 3's entry copied over x * 2's is a miss, then rebuilt."""
    with override(cache_dir=str(tmp_path)):
        mlc.build(scaled(factor=2.0), "llvm")
        (two,) = kernel_objects(tmp_path)
        mlc.build(scaled(factor=3.0), "llvm")
        (three,) = set(kernel_objects(tmp_path)) - {two}
        shutil.copyfile(three, two)
        a, b = run(mlc.build(scaled(factor=2.0), "llvm"))
        np.testing.assert_array_equal(b, a * 2 + 1)
        with open(two, "rb") as f, open(three, "rb") as g:
            assert f.read() != g.read()  # the entry was rebuilt for its own key


def test_the_cache_directory_and_entries_are_private(tmp_path):
    root = tmp_path / "cache"
    with override(cache_dir=str(root)):
        mlc.build(scaled(), "llvm")
    assert stat.S_IMODE(os.stat(root / "llvm").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert len(objects(root)) == 2
    for entry in objects(root):
        assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600
    assert not glob.glob(os.path.join(str(root), "llvm", ".tmp-*"))


def _build_twice_without_disk_cache(root):
    with override(cache_dir=str(root)), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            a, b = run(mlc.build(scaled(), "llvm"))
            np.testing.assert_array_equal(b, a * 2 + 1)
    assert objects(root) == []
    return [w for w in caught if "compile cache" in str(w.message)]


@pytest.mark.parametrize("which", ["root", "llvm"])
def test_a_directory_others_can_write_is_refused_with_one_warning(tmp_path, monkeypatch, which):
    monkeypatch.setattr(disk_cache, "_warned", set())
    root = tmp_path / "shared"
    (root / "llvm").mkdir(parents=True)
    os.chmod(root if which == "root" else root / "llvm", 0o777)
    (warning,) = _build_twice_without_disk_cache(root)
    assert "other users may write" in str(warning.message) and "chmod 700" in str(warning.message)


def test_a_directory_of_another_user_is_refused_with_one_warning(tmp_path, monkeypatch):
    """Simulated: this process acts as another user than the directory's owner."""
    monkeypatch.setattr(disk_cache, "_warned", set())
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(tmp_path).st_uid + 4242)
    (warning,) = _build_twice_without_disk_cache(tmp_path / "theirs")
    assert "belongs to user id" in str(warning.message)


def test_an_entry_others_can_write_is_discarded(tmp_path, monkeypatch):
    with override(cache_dir=str(tmp_path)):
        mlc.build(scaled(), "llvm")
        (entry,) = kernel_objects(tmp_path)
        os.chmod(entry, 0o666)
        compiled = []
        real = jit._build_unit
        monkeypatch.setattr(jit, "_build_unit", lambda *a: compiled.append(1) or real(*a))
        a, b = run(mlc.build(scaled(), "llvm"))
    np.testing.assert_array_equal(b, a * 2 + 1)
    assert compiled == [1]
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600


# ------------------------------------------------------ damaged object code

#: In a child process (loading bad machine code could crash it): build, then replace the
#: entry's object with each damaged version — stored with a matching checksum and the
#: right key, as a bug or a disk could leave it — and build again. Prints "ok" when every
#: build ran right and left a good entry.
_DAMAGED_ENTRIES = """
import glob, json, os, random, struct, sys
import numpy as np
import mlc
from mlc import te
from mlc.backends.llvm import object_cache
from mlc.config import override

A = te.placeholder((16,), "float32", "A")
mod = mlc.IRModule({"main": te.create_prim_func([A, te.compute((16,), lambda i: A[i] * 2 + 1, "B")])})

def build_and_check():
    a = np.arange(16, dtype="float32"); b = np.empty(16, "float32")
    mlc.build(mod, "llvm")["main"](a, b)
    assert (b == a * 2 + 1).all()

def entry():  # the kernel's (not the entries unit's, which only declares it)
    (path,) = [p for p in glob.glob(os.path.join(sys.argv[1], "llvm", "*.entry"))
               if b"define void @main(" in open(p, "rb").read()]
    with open(path, "rb") as f:
        f.readline()
        key = object_cache.CacheKey(**json.loads(f.readline())["key"])
    return key, object_cache.load(key)

def patched(obj, offset, fmt, value):
    obj = bytearray(obj)
    struct.pack_into(fmt, obj, offset, value)
    return bytes(obj)

with override(cache_dir=sys.argv[1]):
    build_and_check()
    key, (good, ir) = entry()
    rng = random.Random(0)
    shoff, = struct.unpack_from("<Q", good, 0x28)
    damaged = [b"", b"\\x7fELF", rng.randbytes(len(good)), good[:64], good[:len(good) // 2],
               good[:-1], b"\\x7fELF\\x02\\x01\\x01" + rng.randbytes(len(good) - 7),
               patched(good, 0x28, "<Q", 1 << 40),          # section headers past the end
               patched(good, 0x3C, "<H", 0xFFFF),           # more sections than exist
               patched(good, 0x12, "<H", 3),                # another machine (i386)
               patched(good, 0x10, "<H", 2)]                # an executable, not an object
    for n in range(1, struct.unpack_from("<H", good, 0x3C)[0]):  # each section's offset and size
        header = shoff + n * 64
        damaged.append(patched(good, header + 0x18, "<Q", 1 << 40))
        damaged.append(patched(good, header + 0x20, "<Q", 1 << 40))
        kind, = struct.unpack_from("<I", good, header + 4)
        if kind == 2:  # the symbol table: its last symbol's value (where a function starts)
            last = struct.unpack_from("<Q", good, header + 0x18)[0] + struct.unpack_from("<Q", good, header + 0x20)[0] - 24
            damaged.append(patched(good, last + 8, "<Q", 1 << 40))
        if kind == 4:  # a relocation section: its first entry's target, type and symbol
            first, = struct.unpack_from("<Q", good, header + 0x18)
            damaged.append(patched(good, first, "<Q", 1 << 40))
            damaged.append(patched(good, first + 8, "<Q", 999))
            damaged.append(patched(good, first + 8, "<Q", (1 << 32 | 1) << 20))
    for bad in damaged:
        object_cache.store(key, bad, ir)
        build_and_check()
        assert entry()[1][0] == good, "the damaged entry was not replaced"
print("ok", len(damaged))
"""


def test_damaged_object_code_with_a_matching_checksum_is_discarded_and_rebuilt(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _DAMAGED_ENTRIES, str(tmp_path)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0] == "ok"


@functools.lru_cache(maxsize=1)
def object_code() -> tuple[bytes, str]:
    """(object code of ``scaled()``, the host's triple), compiled afresh."""
    target = Target.from_str("llvm")
    ir = generate_ir({"main": lower(scaled()["main"])}, target)
    return jit._build_unit(ir, target, False, None)[0], jit.target_machine(target.cpu, target.features).triple


@settings(max_examples=60)
@given(data=st.data())
def test_reading_any_damaged_object_raises_object_file_error_only(data):
    """Truncated or overwritten objects: read_object returns or raises ObjectFileError,
    never struct.error, IndexError or anything else."""
    obj, triple = object_code()
    cut = data.draw(st.integers(0, len(obj)))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(obj) - 1), st.integers(0, 255)), max_size=8))
    damaged = bytearray(obj[:cut] + obj[cut:] if data.draw(st.booleans()) else obj[:cut])
    for pos, value in edits:
        if pos < len(damaged):
            damaged[pos] = value
    try:
        elf.read_object(bytes(damaged), triple)
    except elf.ObjectFileError:
        pass


def test_an_object_that_is_not_elf_is_refused_before_loading():
    obj, triple = object_code()
    with pytest.raises(elf.ObjectFileError, match="not an ELF64"):
        elf.read_object(b"\xcf\xfa\xed\xfe" + obj[4:], triple)  # a Mach-O magic
    with pytest.raises(CompileError, match="does not define"):
        jit._load([(obj, "")], Target.from_str("llvm"), frozenset({"main", "missing"}))
