"""Stencils under the default CPU rules: one vectorized loop reading the input directly.

A window sum ``B[i] = A[i] + A[i + 1] + A[i + 2]`` (te, or ``a[:-2] + a[1:-1] +
a[2:]`` under ``@mlc.jit``) becomes one loop split by the vector width, whose
ragged end is guarded by a predicate; whole vectors run without the predicate
(:func:`mlc.passes.tir.vectorize.full_vector_guard`). A producer of cheap
arithmetic read by a stencil is inlined into it (recomputed per element read)
instead of written to an array and read back; a math call (exp) keeps its stage.
Hypothesis draws sizes (1, odd, not a multiple of the vector width), offsets 1..3,
strides and reversed slices; each result is compared with NumPy.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.calls import is_graph_main
from mlc import te
from mlc.backends.llvm.module import compile_sources
from mlc.schedules import Schedule, default_schedule
from mlc.schedules.default.cpu import STENCIL_RECOMPUTE_OPS, inline_injective
from mlc.schedules.default.steps import CpuInfo
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
def test_a_ragged_window_sum_runs_whole_vectors_as_vector_code(isa, target):
    """998 points: a split by two vectors leaves a ragged end; the kernel still loads
    ``<2 vectors x float>`` of the input directly (one kernel, no copies)."""
    a = np.zeros(1000, "float32")
    with pinned_threads():
        low = mlc.jit(SLICES["window"], target=target).lower(a)
        assert sum(not is_graph_main(f) for f in low.mod.values()) == 1  # one kernel (and main)
        sources = compile_sources(low.scheduled(), target)
    lanes = 2 * target.vector_bits // 32
    assert f"load <{lanes} x float>" in sources["ll-unoptimized"]
