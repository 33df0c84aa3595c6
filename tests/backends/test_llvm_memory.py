"""Building does not leak native memory: an uncached compile frees what LLVM allocated."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Builds one tiny program ``count`` times with the disk cache off, dropping each module,
#: and prints the growth of the resident set in bytes per build.
_GROWTH_PER_BUILD = """
import gc, os, sys
from mlc import IRModule, build, te
from mlc.config import override

def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

A = te.placeholder((4,), "float32", "A")
double = te.create_prim_func([A, te.compute((4,), lambda i: A[i] * 2, "B")])
count, threads = int(sys.argv[1]), int(sys.argv[2])
mod = IRModule({"double": double, "twice": double} if threads > 1 else {"double": double})
with override(cache_dir="", num_threads=threads):
    for _ in range(30):  # warm up: LLVM's and mlc's one-time allocations
        build(mod, "llvm")
    gc.collect()
    before = resident()
    for _ in range(count):
        build(mod, "llvm")
    gc.collect()
    print((resident() - before) / count)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident set from Linux /proc")
@pytest.mark.parametrize("threads", [1, 2], ids=["one module", "two modules on two threads"])
def test_uncached_builds_do_not_grow_the_resident_set(threads):
    """Each O3 pipeline used to stay allocated with the state its passes grew (~65 KB a
    build); what is left is under 4 KB a build (LLVM's per-run instrumentation callbacks).
    Two functions on two threads: each in an LLVM context of its own, freed too."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # 100 builds: the 65 KB a build the pipelines kept would show as 6.5 MB, and a one-time
    # allocation after the warm-up would need more than 1.6 MB to pass for 16 KB a build
    out = subprocess.run([sys.executable, "-c", _GROWTH_PER_BUILD, "100", str(threads)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    per_build = float(out.stdout.split()[-1])
    assert per_build < 16 * 1024, f"each uncached build kept {per_build / 1024:.1f} KiB of memory"


def _through_scratch(n: int):
    """``out = x + 1`` by way of an ``n``-element float32 scratch buffer on the heap."""
    from mlc.ir import dtype as dt
    from mlc.ir.buffer import decl_buffer
    from mlc.ir.expr import Var, const
    from mlc.ir.tir import BufferStore, For, seq
    from mlc.ops.library._common import hand_written_func

    x, out, scratch = (decl_buffer((n,), "float32", name) for name in ("x", "out", "scratch"))
    i, j = Var("i", dt.INDEX), Var("j", dt.INDEX)
    body = seq(For(i, const(0, dt.INDEX), const(n, dt.INDEX), "serial", BufferStore(scratch, x[i] + 1, (i,))),
               For(j, const(0, dt.INDEX), const(n, dt.INDEX), "serial", BufferStore(out, scratch[j], (j,))))
    return hand_written_func((x, out), body, (scratch,))


@pytest.mark.skipif(sys.platform != "linux", reason="counts minor page faults (getrusage on Linux)")
def test_large_scratch_buffers_are_kept_between_calls():
    """A 16 MiB scratch freed beside a fresh 16 MiB output used to go back to the kernel (glibc
    trims its heap top) and fault in again on every call (4096 faults); the block is kept now."""
    import gc
    import resource

    import numpy as np

    from mlc import build

    n = 1 << 22
    lib = build(_through_scratch(n), "llvm")
    x = np.arange(n, dtype="float32")

    def call():
        out = np.empty(n, "float32")
        lib["main"](x, out)
        return out

    np.testing.assert_array_equal(call(), x + 1)
    call()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        call()
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 3
    assert faults < 1024, f"each call faulted {faults:.0f} pages in"
    del lib
    gc.collect()  # the module's finalizer frees the kept block (a double free would crash here)


def test_heap_blocks_start_on_a_cache_line():
    """malloc aligns to 16 bytes (a large block is a mapping of its own, 16 bytes past a
    page): a kept scratch block starts on a cache line, so that no vector load of a packed
    panel straddles two; its finalizer frees what malloc returned (a wrong pointer would
    crash here)."""
    import gc

    from mlc.backends.llvm.memory import HEAP_ALIGN

    lib, block = _kept_block_after_a_call(1 << 16)  # 256 KiB: kept between calls
    assert block and block % HEAP_ALIGN == 0
    del lib
    gc.collect()


@pytest.mark.parametrize("triple, advised", [("x86_64-unknown-linux-gnu", True), ("aarch64-unknown-linux-gnu", True),
                                             ("x86_64-apple-macosx13.0.0", False), ("x86_64-pc-windows-msvc", False)])
def test_large_heap_blocks_ask_for_huge_pages_on_linux(monkeypatch, triple, advised):
    """On Linux a heap block of HUGE_PAGE_MIN_BYTES or more is advised to take transparent huge
    pages (MADV_HUGEPAGE, asked for by size at run time); elsewhere no madvise is emitted."""
    from mlc.backends.llvm import generate
    from mlc.backends.llvm.memory import HUGE_PAGE_MIN_BYTES, MADV_HUGEPAGE
    from mlc.backends.llvm.module import generate_ir
    from mlc.passes.tir import lower
    from tests.targets import AVX2

    monkeypatch.setattr(generate, "target_layout", lambda target: (triple, ""))
    text = generate_ir({"f": lower(_through_scratch(1 << 21))}, AVX2)
    calls = re.findall(r'call i32 @"?madvise"?\(ptr [^,]+, i64 [^,]+, i32 (\d+)\)', text)
    if advised:
        assert calls == [str(MADV_HUGEPAGE)]
        assert re.search(rf"icmp uge i64 %[\w.\"]+, {HUGE_PAGE_MIN_BYTES}", text)
    else:
        assert calls == [] and "madvise" not in text


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads a mapping's flags from Linux /proc")
def test_a_large_kept_block_is_advised_to_take_huge_pages():
    """The 8 MiB scratch a call keeps lies in a mapping flagged ``hg`` (madvise(MADV_HUGEPAGE)
    took: its range whole pages inside the block), whatever the system then gives it; the
    result is unchanged. (A radix sort's scatter to 2048 places of its scratch missed the TLB
    on nearly every store on 4 KiB pages.)"""
    import gc

    if not _system_takes_huge_page_advice():
        pytest.skip("this system does not flag a mapping madvise(MADV_HUGEPAGE) asks for huge pages "
                    "(a kernel without transparent huge pages): nothing to check")
    n = 1 << 21  # 8 MiB of float32
    lib, block = _kept_block_after_a_call(n)
    flags = _mapping_flags(block + 2 * n)  # (its middle: the page where it starts is not whole)
    del lib
    gc.collect()
    assert "hg" in flags, f"the kept block's mapping has flags {flags}"


def _kept_block_after_a_call(n: int):
    """(the library of ``_through_scratch(n)``, called once and checked; the address of the
    scratch block it keeps)."""
    import ctypes

    import numpy as np

    from mlc import build

    lib = build(_through_scratch(n), "llvm")
    x = np.arange(n, dtype="float32")
    out = np.empty(n, "float32")
    lib["main"](x, out)
    np.testing.assert_array_equal(out, x + 1)
    compiled = lib._keepalive[0]
    slot, = re.findall(r'@"?(__mlc_kept\.[\w.$-]*)"?\s*=', compiled.optimized_ir)
    return lib, ctypes.c_void_p.from_address(compiled.global_address(slot)).value


def _system_takes_huge_page_advice() -> bool:
    """Whether the advice sets the ``hg`` flag of an anonymous mapping of this process's own."""
    import ctypes
    import mmap
    if not hasattr(mmap, "MADV_HUGEPAGE"):
        return False
    block = mmap.mmap(-1, 4 << 20)
    try:
        block.madvise(mmap.MADV_HUGEPAGE)
    except OSError:
        block.close()
        return False
    address = ctypes.addressof(ctypes.c_char.from_buffer(block))
    try:
        return "hg" in _mapping_flags(address)
    finally:
        del address
        block.close()


def _mapping_flags(address: int) -> list[str]:
    """The VmFlags of the mapping of this process that holds ``address``."""
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                start, end = (int(v, 16) for v in head.split("-"))
                inside = start <= address < end
            elif inside and head == "VmFlags:":
                return line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


def test_a_graphs_main_places_its_intermediates_of_a_page_or_more():
    """main's planned storage of a page or more (the layer_norm gradient's 64 KiB of gamma's
    partial sums) starts at the first of INTERMEDIATE_PAGE_OFFSETS in its page: away from
    the outputs' and inputs' page offsets, for a kernel that streams an output past it; the
    gradient is the same as the one of the program with nothing placed (its rows summed by
    NumPy)."""
    import re

    import numpy as np

    import mlc
    from mlc.backends.llvm.memory import INTERMEDIATE_PAGE_OFFSETS

    rng = np.random.default_rng(0)
    x, c = rng.standard_normal((64, 1024), dtype="float32"), rng.standard_normal((64, 1024), dtype="float32")
    g = rng.standard_normal(1024, dtype="float32")
    f = mlc.jit(lambda v, g, w: mlc.grad(lambda *p: np.sum(mlc.nn.layer_norm(*p, g * 0, axis=1) * w),
                                         argnums=(0, 1))(v, g))
    lowered = f.lower(x, g, c)
    assert "planned storage: s0: float32[16384]" in lowered.as_text()
    main = re.search(r"define void @main\(.*?\n}", lowered.compile().as_text("ll"), re.S).group(0)
    assert re.search(rf"sub i64 {INTERMEDIATE_PAGE_OFFSETS[0]}, %", main) and "4095" in main
    _, dg = f(x, g, c)
    mean, std = x.mean(1, keepdims=True), np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(dg, (c * (x - mean) / std).sum(0), rtol=1e-4, atol=1e-3)
