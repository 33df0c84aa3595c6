"""Stencils under the default CPU rules: one vectorized loop reading the input directly.

A window sum ``B[i] = A[i] + A[i + 1] + A[i + 2]`` (te, or ``a[:-2] + a[1:-1] +
a[2:]`` under ``@mlc.jit``) becomes one loop of explicit vectors, a load of A
at each shifted point and whole-register stores in address order
(:func:`mlc.backends.llvm.vectorize.store_pieces`). A producer of cheap
arithmetic read by a stencil is inlined into it (recomputed per element read)
instead of written to an array and read back; a math call (exp) keeps its stage.
Hypothesis draws sizes (1, odd, not a multiple of the vector width), offsets 1..3,
strides and reversed slices; each result is compared with NumPy.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.calls import is_graph_main
from mlc import te
from mlc.backends.llvm.module import compile_sources
from mlc.schedules import Schedule, default_schedule
from mlc.passes.tir.vectorize import MAX_LANES
from mlc.schedules.default.cpu import STENCIL_RECOMPUTE_OPS, inline_injective
from mlc.schedules.default.steps import MIN_PARALLEL_WORK, CpuInfo
from tests.targets import each_pinned_target, pinned_threads

TWO_CORES = CpuInfo(256, 2)
OFFSETS = st.lists(st.integers(0, 3), min_size=2, max_size=4, unique=True)


def module(*tensors) -> mlc.IRModule:
    return mlc.IRModule({"main": te.create_prim_func(list(tensors))})


def blocks(mod) -> list[str]:
    from mlc.schedules.state import all_blocks
    return [loc.node.block.name_hint for loc in all_blocks(mod["main"])]


def window(n, offsets, producer):
    """``P = producer(A)``; ``W[i] = sum(P[i + o] for o in offsets)``."""
    span = max(offsets)
    A = te.placeholder((n + span,), "float32", name="A")
    P = te.compute((n + span,), lambda i: producer(A, i, n + span), name="P")
    W = te.compute((n,), lambda i: sum(P[i + o] for o in offsets[1:]) + P[i + offsets[0]], name="W")
    return A, P, W


CHEAP = {
    "affine": (lambda A, i, m: A[i] * 3.0 + 1.0, lambda a: a * np.float32(3) + np.float32(1)),
    "square": (lambda A, i, m: A[i] * A[i] - A[i], lambda a: a * a - a),
    "reversed": (lambda A, i, m: A[m - 1 - i] * 2.0, lambda a: a[::-1] * np.float32(2)),
}


@settings(max_examples=20, deadline=None)
@given(n=st.sampled_from([1, 2, 7, 15, 33, 67, 100, 513]), offsets=OFFSETS,
       producer=st.sampled_from(sorted(CHEAP)), seed=st.integers(0, 99))
def test_a_stencil_of_cheap_arithmetic_is_one_loop_equal_to_numpy(n, offsets, producer, seed):
    make, reference = CHEAP[producer]
    A, P, W = window(n, offsets, make)
    mod = module(A, W)
    assert blocks(default_schedule(mod, "llvm").mod) == ["W"]
    a = np.random.default_rng(seed).uniform(-2, 2, n + max(offsets)).astype("float32")
    out = np.zeros(n, "float32")
    mlc.build(mod, "llvm")["main"](a, out)
    p = reference(a)
    want = sum(p[o:o + n] for o in offsets[1:]) + p[offsets[0]:offsets[0] + n]
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_a_stencil_keeps_a_math_call_or_costly_arithmetic_as_its_own_stage():
    """exp read at two elements stays a stage; arithmetic inlines while its recomputation
    stays within STENCIL_RECOMPUTE_OPS per point."""
    def chain(k):  # k operations
        return lambda A, i, m: _chain(A[i], k)

    def _chain(x, k):
        for _ in range(k):
            x = x * 1.5
        return x

    assert inline_injective(Schedule(module(*_ends(window(64, [0, 1], lambda A, i, m: te.exp(A[i]))))),
                            "main", TWO_CORES) == set()
    budget = STENCIL_RECOMPUTE_OPS // 2  # three points: two extra copies
    assert inline_injective(Schedule(module(*_ends(window(64, [0, 1, 2], chain(budget))))),
                            "main", TWO_CORES) == {"P"}
    assert inline_injective(Schedule(module(*_ends(window(64, [0, 1, 2], chain(budget + 1))))),
                            "main", TWO_CORES) == set()


def _ends(tensors):
    A, _, W = tensors
    return A, W


# ------------------------------------------------------------------- @mlc.jit slices

SLICES = {
    "window": (lambda x: x[:-2] + x[1:-1] + x[2:]),
    "offset 3": (lambda x: x[3:] - x[:-3] * 0.5),
    "strided": (lambda x: x[:-2:2] + x[2::2]),
    "reversed": (lambda x: x[::-1][:-1] + x[1:]),
    "negative step": (lambda x: x[-1:1:-1] + x[:-2]),
}


@settings(max_examples=25, deadline=None)
@given(n=st.sampled_from([4, 5, 9, 16, 33, 100, 1001]), form=st.sampled_from(sorted(SLICES)),
       seed=st.integers(0, 99))
def test_jitted_slice_stencils_equal_numpy(n, form, seed):
    fn = SLICES[form]
    a = np.random.default_rng(seed).standard_normal(n).astype("float32")
    np.testing.assert_allclose(mlc.jit(fn)(a), fn(a), rtol=1e-6, atol=1e-6)


@each_pinned_target
@pytest.mark.parametrize("n", [1000, 1 << 16])
def test_a_window_sum_is_one_kernel_of_whole_register_loads_and_ordered_stores(isa, target, n):
    """``x[i] + x[i + 1] + x[i + 2]``: one kernel reading the input directly, a vector
    load at each point (8 or 16 lanes) and, per step, its stores of whole registers at
    ascending addresses (a loop of two registers a step stored high half first ran
    10-25% slower), whatever comes between them. 998 points run on one thread, 65534 in
    parallel."""
    a = np.zeros(n, "float32")
    with pinned_threads():
        low = mlc.jit(SLICES["window"], target=target).lower(a)
        assert sum(not is_graph_main(f) for f in low.mod.values()) == 1  # one kernel (and main)
        kernel = next(f for f in low.scheduled().values() if not is_graph_main(f)).script()
        sources = compile_sources(low.scheduled(), target)
    assert ("T.parallel(" in kernel) is (n >= MIN_PARALLEL_WORK)
    register = "zmm" if isa == "avx512" else "ymm"
    assert re.search(rf"vmovups\s+-?\d*\(%\w+(,%\w+)?\), %{register}", sources["asm"]), "no vector loads of x"
    stores = _store_runs(sources["asm"], register)
    assert stores, "no runs of whole-register stores"
    for offsets in stores:
        assert all(b - a == target.vector_bits // 8 for a, b in zip(offsets, offsets[1:])), offsets


def _store_runs(asm: str, register: str) -> list[list[int]]:
    """The offsets of the ``vmovups %<register>N, off(base...)`` stores to each base address
    within each basic block (other instructions may come between them), in program order,
    where a block stores two or more to one base."""
    runs, blocks = [], {}
    for line in asm.splitlines():
        if re.match(r"^\.?\w+:", line):  # a label: a new basic block
            runs.extend(blocks.values())
            blocks = {}
            continue
        m = re.match(rf"\s+vmovups\s+%{register}\d+, (-?\d*)\((%\w+(?:,%\w+)?)", line)
        if m:
            blocks.setdefault(m.group(2), []).append(int(m.group(1) or 0))
    runs.extend(blocks.values())
    return [r for r in runs if len(r) > 1]


# ------------------------------------------------------------------- row stencils

@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 5), cols=st.sampled_from([1, 15, 64, 65, 127, 300, 1000]),
       offsets=OFFSETS, seed=st.integers(0, 99))
def test_a_row_stencil_is_explicit_vectors_equal_to_numpy(rows, cols, offsets, seed):
    """Rows of any length become explicit vectors (no loop longer than MAX_LANES is left
    for LLVM to widen); ragged ends included, the result is NumPy's."""
    span = max(offsets)
    A = te.placeholder((rows, cols + span), "float32", name="A")
    W = te.compute((rows, cols), lambda r, i: sum(A[r, i + o] for o in offsets[1:]) + A[r, i + offsets[0]],
                   name="W")
    mod = module(A, W)
    scheduled = default_schedule(mod, "llvm").mod["main"].script()
    assert all(int(n) <= MAX_LANES for n in re.findall(r"T\.vectorized\((\d+)\)", scheduled))
    a = np.random.default_rng(seed).uniform(-2, 2, (rows, cols + span)).astype("float32")
    out = np.zeros((rows, cols), "float32")
    mlc.build(mod, "llvm")["main"](a, out)
    want = sum(a[:, o:o + cols] for o in offsets[1:]) + a[:, offsets[0]:offsets[0] + cols]
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
