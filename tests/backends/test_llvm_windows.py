"""Sliding windows: a stored value that loads one buffer at three or more contiguous vectors
whose starts differ by constants (``x[i:]``, ``x[i+1:]``, ``x[i+2:]`` of a stencil) loads the
first and the last and shuffles the ones between (:mod:`mlc.passes.tir.vector_windows`, the
plan and the pass on their own: tests/passes/test_vector_windows.py).

Stencils of drawn offsets, sizes and targets run against NumPy, on NumPy's arrays (16 bytes
past a cache line) and on aligned ones, and the generated IR of a pinned target shows the
loads it saves.
"""
import ctypes
import mmap
import os

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.llvm import compile_sources
from mlc.passes.tir import vector_windows
from mlc.schedules import default_schedule
from tests.targets import AVX2, AVX512, RUNNABLE, pinned_threads


def stencil(n: int, offsets: tuple[int, ...], weights: tuple[float, ...]) -> mlc.IRModule:
    """``B[i] = sum(w * A[i + c])`` over ``n - max(offsets)`` outputs."""
    span = max(offsets)
    A = te.placeholder((n,), "float32", name="A")

    def body(i):
        out = None
        for c, w in zip(offsets, weights):
            term = A[i + c] * w
            out = term if out is None else out + term
        return out
    B = te.compute((n - span,), body, name="B")
    return mlc.IRModule({"main": te.create_prim_func([A, B])})


def reference(a: np.ndarray, offsets, weights) -> np.ndarray:
    m = a.size - max(offsets)
    out = np.zeros(m, "float64")
    for c, w in zip(offsets, weights):
        out += np.float64(w) * a[c:c + m]
    return out


@pytest.mark.parametrize("target", list(RUNNABLE.values()), ids=list(RUNNABLE))
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), offsets=st.sets(st.integers(0, 40), min_size=1, max_size=5),
       aligned=st.booleans(), data=st.data())
@example(n=1 << 12, offsets={0, 1, 2}, aligned=False, data=None)
@example(n=100, offsets={0, 16, 32}, aligned=True, data=None)   # a span of whole vectors
def test_stencils_of_any_offsets_equal_numpy(target, n, offsets, aligned, data):
    offsets = tuple(sorted(offsets))
    if n <= max(offsets):
        n = max(offsets) + 1 + n
    weights = tuple(data.draw(st.sampled_from([1.0, 0.5, -2.0, 3.0])) for _ in offsets) if data else \
        (1.0,) * len(offsets)
    a = np.random.default_rng(n).standard_normal(n).astype("float32")
    lib = mlc.build(stencil(n, offsets, weights), target)
    x = mlc.nd.array(a) if aligned else a
    out = np.empty(n - max(offsets), "float32")
    lib["main"](x, out)
    np.testing.assert_allclose(out, reference(a, offsets, weights), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("offsets", [(0, 1, 2), (0, 1, 2, 3), (0, 8, 16)])
def test_a_stencil_ending_at_an_unmapped_page_reads_nothing_past_its_array(offsets):
    """The input's last element is the last of its page and the next page cannot be read:
    a load past the array would crash the process, so every window reads only what the
    program reads (the first and the last load of each window are the program's own)."""
    page = mmap.PAGESIZE
    memory = mmap.mmap(-1, 2 * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    libc = ctypes.CDLL(None, use_errno=True)
    guarded = libc.mprotect(ctypes.c_void_p(address + page), ctypes.c_size_t(page), 0)  # PROT_NONE
    assert guarded == 0, f"mprotect of the guard page failed: {os.strerror(ctypes.get_errno())}"
    try:
        n = 1001
        a = np.frombuffer(memory, dtype="float32", count=page // 4)[page // 4 - n:]
        a[:] = np.random.default_rng(2).standard_normal(n)
        weights = (1.0,) * len(offsets)
        out = np.empty(n - max(offsets), "float32")
        mlc.build(stencil(n, offsets, weights), "llvm")["main"](a, out)
        np.testing.assert_allclose(out, reference(a, offsets, weights), rtol=1e-5, atol=1e-5)
        del a
    finally:
        libc.mprotect(ctypes.c_void_p(address + page), ctypes.c_size_t(page), mmap.PROT_READ | mmap.PROT_WRITE)


@pytest.mark.parametrize("target", [AVX2, AVX512], ids=["avx2", "avx512"])
def test_the_window_sum_loads_each_element_once(monkeypatch, target):
    """Pinned targets: the generated window sum loads two vectors where it loaded three (the
    optimised IR: the renderer writes a window's two loads where the window reads them, as it
    comes, and LLVM loads each once)."""
    with pinned_threads():
        mod = default_schedule(stencil(4098, (0, 1, 2), (1.0, 1.0, 1.0)), target).mod
    with_windows = compile_sources(mod, target)["ll"]
    monkeypatch.setattr(vector_windows, "plan_windows", lambda value: {})
    without = compile_sources(mod, target)["ll"]
    loads = [text.count("= load <") for text in (with_windows, without)]
    assert loads[0] * 3 == loads[1] * 2, loads
    assert "shufflevector" in with_windows


@pytest.mark.parametrize("offsets", [(0, 1, 2), (0, 3, 5, 16)])
def test_a_bounds_checked_stencil_builds_its_windows_from_checked_loads(offsets):
    """With every access checked, a window's two loads are checked lane by lane and the
    window shuffles them: the same values, no violation."""
    n = 203
    a = np.random.default_rng(5).standard_normal(n).astype("float32")
    weights = (1.0,) * len(offsets)
    out = np.empty(n - max(offsets), "float32")
    mlc.build(stencil(n, offsets, weights), "llvm", check_bounds=True)["main"](a, out)
    np.testing.assert_allclose(out, reference(a, offsets, weights), rtol=1e-5, atol=1e-5)
