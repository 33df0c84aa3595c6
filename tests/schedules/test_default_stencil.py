"""Stencils under the default CPU rules: one vectorized loop reading the input directly.

A window sum ``B[i] = A[i] + A[i + 1] + A[i + 2]`` (te, or ``a[:-2] + a[1:-1] +
a[2:]`` under ``@mlc.jit``) becomes one loop that LLVM vectorizes, loading each
vector of A once and splicing it with the one before for the shifted points
(:func:`mlc.schedules.default.steps.vectorize_by_llvm`). A producer of cheap
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
from mlc.schedules.default.patterns import shifted_reads
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
def test_a_window_sum_loads_each_vector_of_its_input_once(isa, target, n):
    """``x[i] + x[i + 1] + x[i + 2]``: one kernel reading the input directly, whose loop LLVM
    vectorizes with whole registers (8 or 16 lanes) and the shifted points as vector
    recurrences: a step loads one new vector of x and splices it with the one before
    (``vperm2f128``/``vshufps`` on AVX2, ``vpermt2ps`` on AVX-512) instead of loading x at
    each of the three offsets. 998 points run on one thread, their loop marked for LLVM's
    vectorizer; 65534 run in parallel, and LLVM widens each thread's range."""
    a = np.zeros(n, "float32")
    with pinned_threads():
        low = mlc.jit(SLICES["window"], target=target).lower(a)
        assert sum(not is_graph_main(f) for f in low.mod.values()) == 1  # one kernel (and main)
        kernel = next(f for f in low.scheduled().values() if not is_graph_main(f)).script()
        sources = compile_sources(low.scheduled(), target)
    lanes = target.vector_bits // 32
    if n < MIN_PARALLEL_WORK:
        assert "llvm.loop.vectorize.enable" in sources["ll-unoptimized"]
    else:
        assert f"T.parallel({n - 2})" in kernel
    optimised = sources["ll"]
    assert "%vector.recur" in optimised and f"load <{lanes} x float>" in optimised
    splices = re.findall(rf"shufflevector <{lanes} x float> %vector\.recur[^,]*, <{lanes} x float>", optimised)
    assert splices, "the shifted loads are not vector recurrences"
    assert ("vpermt2ps" if isa == "avx512" else "vperm2f128") in sources["asm"]


# ------------------------------------------------------------ stencils left to LLVM

def _view(tensors):
    from mlc.schedules.default.patterns import view
    mod = module(*tensors)
    sch = Schedule(mod)
    v = view(sch, sch.get_block(tensors[-1].name))
    return v, v.block.iter_vars[-1].var


def test_shifted_reads_are_points_of_one_buffer_a_few_elements_apart_along_the_last_axis():
    n, lanes = 100, 16
    A = te.placeholder((n + 20, n + 20), "float32", name="A")
    B = te.placeholder((n + 20, n + 20), "float32", name="B")
    cases = {
        "row window": (lambda r, i: A[r, i] + A[r, i + 1] + A[r, i + 2], True),
        "one point back": (lambda r, i: A[r, i + 3] - A[r, i + 2], True),
        "a vector apart": (lambda r, i: A[r, i] + A[r, i + lanes], False),
        "column window": (lambda r, i: A[r, i] + A[r + 1, i], False),
        "two buffers": (lambda r, i: A[r, i] + B[r, i + 1], False),
        "one point": (lambda r, i: A[r, i] * A[r, i], False),
        "transposed": (lambda r, i: A[i, r] + A[i + 1, r], False),
    }
    for name, (body, expected) in cases.items():
        W = te.compute((n, n), body, name="W")
        v, inner = _view((A, B, W))
        assert shifted_reads(v, inner, lanes) is expected, name


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(1, 5), cols=st.sampled_from([1, 15, 64, 65, 127, 300, 1000]),
       offsets=OFFSETS, seed=st.integers(0, 99))
def test_a_row_stencil_equals_numpy_and_leaves_long_rows_to_llvm(rows, cols, offsets, seed):
    """Rows longer than MAX_LANES keep a ``vectorized`` loop (LLVM widens it); shorter
    ones become explicit vectors. Either way the result is NumPy's."""
    span = max(offsets)
    A = te.placeholder((rows, cols + span), "float32", name="A")
    W = te.compute((rows, cols), lambda r, i: sum(A[r, i + o] for o in offsets[1:]) + A[r, i + offsets[0]],
                   name="W")
    mod = module(A, W)
    scheduled = default_schedule(mod, "llvm").mod["main"].script()
    assert (f"T.vectorized({cols})" in scheduled) is (cols > MAX_LANES)
    a = np.random.default_rng(seed).uniform(-2, 2, (rows, cols + span)).astype("float32")
    out = np.zeros((rows, cols), "float32")
    mlc.build(mod, "llvm")["main"](a, out)
    want = sum(a[:, o:o + cols] for o in offsets[1:]) + a[:, offsets[0]:offsets[0] + cols]
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
