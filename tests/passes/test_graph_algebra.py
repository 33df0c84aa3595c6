"""simplify_algebra: a product with ones (or a quotient by ones) is its other operand where the
result's type is that operand's; nothing else changes."""
import numpy as np
import pytest

import mlc
from mlc.passes.graph import dead_code_elimination, fold_constants, simplify_algebra

from .graph_helpers import evaluate, traced

X = np.array([[1.5, -0.0, np.nan], [np.inf, 2.0, -3.0]], "float32")


def _simplified(fn, *args):
    return dead_code_elimination(simplify_algebra(fold_constants(traced(fn, *args))))


@pytest.mark.parametrize("fn", [
    lambda x: x * np.ones((2, 3), "float32"),
    lambda x: np.broadcast_to(np.float32(1), (2, 3)) * x,
    lambda x: x / np.reshape(np.broadcast_to(np.float32(1), (3, 2)), (2, 3)),
])
def test_products_with_ones_are_the_other_operand(fn):
    g = _simplified(fn, X)
    assert g.ops() == [] and g.outputs[0] is g.inputs[0]
    np.testing.assert_array_equal(evaluate(g, X)[0], X)  # NaN, inf and -0.0 as they were


@pytest.mark.parametrize("fn", [
    lambda x: np.float32(1) / x,                          # ones divided by x
    lambda x: x * np.ones((4, 2, 3), "float32"),          # the ones broadcast x
    lambda x: x * np.ones((2, 3), "float64"),             # the ones promote x
    lambda x: x + np.zeros((2, 3), "float32"),            # -0.0 + 0.0 is +0.0: sums stay
    lambda x: x * np.float32(2),
])
def test_other_products_stay(fn):
    g = _simplified(fn, X)
    assert g.ops(), g.script()
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(evaluate(g, X)[0], fn(X))


def test_a_gradient_reads_its_cotangent_in_place():
    """grad of sum(v * c) starts from ones: the gradient is c itself, no kernel computes it."""
    w = np.ones((2, 3), "float32") * 3
    f = mlc.jit(lambda x, c: mlc.grad(lambda v: np.sum(v * c))(x))
    graph = f.lower(X, w).graph
    assert graph.ops() == [] and graph.outputs[0] is graph.inputs[1]
    np.testing.assert_array_equal(f(X, w), w)


# --- a matmul of a scaled operand is the scaled matmul: the scaling is the kernel's epilogue

from hypothesis import given, settings, strategies as st  # noqa: E402


def _kernel_count(fn, *args):
    return sum(b.op == "call_tir" for b in mlc.jit(fn).lower(*args).graph.bindings)


def _gemm(alpha, C, A, B):
    return alpha * A @ B + 1.2 * C


def test_a_scaled_operand_is_no_kernel_of_its_own():
    """``alpha * A @ B + beta * C``: one kernel, the scalings in the matmul's epilogue (the scaled
    copy of A was a kernel and a pass over A of its own)."""
    A, B, C = np.ones((5, 7)), np.ones((7, 3)), np.ones((5, 3))
    g = _simplified(_gemm, np.float64(1.5), C, A, B)
    (mm,) = [b for b in g.bindings if b.op == "matmul"]
    assert mm.args[0] is g.inputs[2]  # A as it is
    assert _kernel_count(_gemm, np.float64(1.5), C, A, B) == 1


@pytest.mark.parametrize("fn", [
    lambda s, a, b: (s * a) @ b,
    lambda s, a, b: a @ (b * s),
    lambda s, a, b: (a / s) @ b,
    lambda s, a, b: (s * a) @ (b / s),
])
def test_scalings_move_past_the_matmul(fn):
    a, b = np.ones((2, 3), "float32"), np.ones((3, 4), "float32")
    g = _simplified(fn, np.float32(2), a, b)
    (mm,) = [x for x in g.bindings if x.op == "matmul"]
    assert mm.args == (g.inputs[1], g.inputs[2]), g.script()
    assert g.ops()[0] == "matmul"


@pytest.mark.parametrize("fn,args", [
    (lambda s, a, b: (s * a) @ b, (np.float64(2), np.ones((2, 3), "float32"), np.ones((3, 4), "float32"))),
    (lambda s, a, b: (s * a) @ b, (np.ones((2, 1)), np.ones((2, 3)), np.ones((3, 4)))),      # not a scalar
    (lambda s, a, b: (s * a) @ b, (np.int64(2), np.ones((2, 3), "int64"), np.ones((3, 4), "int64"))),
    (lambda s, a, b: (s / a) @ b, (np.float64(2), np.ones((2, 3)), np.ones((3, 4)))),        # s over a
    (lambda s, a, b: (lambda sa: (sa @ b, sa))(s * a), (np.float64(2), np.ones((2, 3)), np.ones((3, 4)))),  # used twice
])
def test_other_scalings_stay(fn, args):
    g = _simplified(fn, *args)
    mm = [x for x in g.bindings if x.op == "matmul"][0]
    assert mm.args[0] is not g.inputs[1], g.script()


@settings(max_examples=6, deadline=None)
@given(m=st.sampled_from([1, 2, 5, 17]), k=st.sampled_from([1, 3, 8, 33]), n=st.sampled_from([1, 4, 7, 19]),
       batch=st.sampled_from([(), (3,)]), dtype=st.sampled_from(["float32", "float64"]),
       alpha=st.floats(-4, 4, allow_nan=False), data=st.data())
def test_scaled_matmuls_match_numpy(m, k, n, batch, dtype, alpha, data):
    """alpha * A @ B + beta * C, A / alpha @ B and A @ (alpha * B) against NumPy, shapes of one
    row, odd and larger than a tile, batched, alpha drawn (a NumPy scalar of the operands'
    dtype: a scalar argument)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    A = rng.standard_normal(batch + (m, k)).astype(dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    C = rng.standard_normal(batch + (m, n)).astype(dtype)
    alpha = np.dtype(dtype).type(alpha if abs(alpha) > 1e-3 else 0.5)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for fn, args in ((_gemm, (alpha, C, A, B)), (lambda s, a, b: (a / s) @ b, (alpha, A, B)),
                     (lambda s, a, b: a @ (s * b), (alpha, A, B))):
        np.testing.assert_allclose(mlc.jit(fn)(*args), fn(*args), rtol=tol, atol=tol * 10)


def test_a_float16_scaling_stays_before_the_matmul():
    """(q * scale) @ k.T in float16: scaling the product instead would overflow it (65504)."""
    q = np.full((2, 32), 64.0, np.float16)
    k = np.full((3, 32), 64.0, np.float16)
    got = mlc.jit(lambda q, k: (q * np.float16(0.125)) @ k.T, tiered=False)(q, k)
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got, (q * np.float16(0.125)) @ k.T)
