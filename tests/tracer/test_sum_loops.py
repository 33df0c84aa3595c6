"""Sums inside element loops (``L[i, :i] @ x[:i]``, ``s += a[i] * b[i]``) as vectors: a loop
that only adds a term into carried scalars keeps a buffer of partial sums, added to in a
``vectorized`` loop the TIR vectorizer makes vector loads and additions of, the reads indexed
by the loop's own index arithmetic (consecutive addresses, which LLVM sees).

Differential tests against NumPy on sizes 1, odd, below and above the vector's lanes (16
float64) with a remainder; structural ones on the kernel: the dot's reads are vector loads."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.expr import BufferLoad, Ramp
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For
from mlc.ops.library.element_loop import sum_lanes
from mlc import IRModule
from mlc.backends.llvm.module import lower_for_llvm

SIZES = st.sampled_from([1, 2, 7, 16, 17, 37])
TARGETS = ["llvm", "cuda-emulator"]


def forward_substitution(L, x, b):
    for i in range(x.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


def weighted_sums(a, w, k):
    """An int sum and a float sum in one loop: two carried scalars."""
    out = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        count = 0
        acc = 0.0
        for j in range(a.shape[1]):
            count += k[i, j]
            acc += a[i, j] * w[j]
        out[i] = acc + count
    return out


@settings(max_examples=8, deadline=None)
@given(n=SIZES, seed=st.integers(0, 99), target=st.sampled_from(TARGETS))
def test_forward_substitution_is_numpys(n, seed, target):
    r = np.random.default_rng(seed)
    L = np.tril(r.random((n, n))) + n * np.eye(n)
    b = r.random(n)
    want = forward_substitution(L, np.zeros(n), b)
    got = mlc.jit(forward_substitution, target=target)(L, np.zeros(n), b)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(n=SIZES, m=SIZES, seed=st.integers(0, 99), dtype=st.sampled_from(["float32", "float64"]))
def test_two_carried_sums_are_numpys(n, m, seed, dtype):
    r = np.random.default_rng(seed)
    a, w = r.random((n, m)).astype(dtype), r.random(m).astype(dtype)
    k = r.integers(-5, 5, (n, m))
    want = weighted_sums(a, w, k)
    np.testing.assert_allclose(mlc.jit(weighted_sums)(a, w, k), want, rtol=1e-5 if dtype == "float32" else 1e-12)


def test_a_dot_in_an_element_loop_is_vector_loads():
    """``L[i, :i] @ x[:i]``: its reads of L's row and of x are contiguous vector loads of
    :func:`sum_lanes` lanes (they were scalar loads at a scalar's sign-extended value)."""
    n = 40
    L, x, b = np.eye(n), np.zeros(n), np.ones(n)
    mod = mlc.jit(forward_substitution).lower(L, x, b).mod
    (func,) = [f for name, f in mod.items() if "element_loop" in name]
    lanes = sum_lanes(["float64"])
    assert any(isinstance(s, For) and s.kind == "vectorized" for s in pre_order_nodes(func.body))
    lowered = lower_for_llvm(IRModule({"k": func}))["k"]
    ramps = {e.buffer.name for e in pre_order_nodes(lowered.body) if isinstance(e, BufferLoad)
             and any(isinstance(i, Ramp) and i.lanes == lanes and i.stride == 1 for i in e.indices)}
    params = {p.name for p in func.params}
    assert len(ramps & params) >= 2, ramps  # L's row and x
