"""Rules derived from an mlc.op's te body (mlc.ir.te_autodiff): reverse and forward mode
against central finite differences in float64 (check_grads), on Hypothesis-drawn shapes
(size 1, odd, not divisible by a stride), second derivatives, and vmap against a loop.

The ops cover what the derivation handles: elementwise math, broadcasting and transposed
reads, sum and max reductions (ties share the gradient), if_then_else padding, affine
indices with offsets and strides, a gather by an integer index tensor (a read that is no
affine function of the axes), several stages, and several outputs.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.ir import te_autodiff
from mlc.testing import check_grads

FEW = settings(max_examples=3, deadline=None)
dims = st.integers(1, 5)
seeds = st.integers(0, 2**31 - 1)


@mlc.op
def matmul_bias_tanh(a: te.Tensor, b: te.Tensor, bias: te.Tensor):
    k = te.reduce_axis((0, a.shape[1]), name="k")
    mm = te.compute((a.shape[0], b.shape[1]), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="mm")
    return te.compute(mm.shape, lambda i, j: te.tanh(mm[i, j] + bias[j]) * te.exp(-bias[j]), name="y")


@mlc.op
def padded_conv1d(x: te.Tensor, w: te.Tensor, pad: int = 1, stride: int = 1):
    n, kw = x.shape[0], w.shape[0]
    k = te.reduce_axis((0, kw), name="k")
    xp = te.compute((n + 2 * pad,), lambda i: te.if_then_else(te.all(i >= pad, i < n + pad), x[i - pad],
                                                              te.const(0, x.dtype)), name="xp")
    return te.compute(((n + 2 * pad - kw) // stride + 1,),
                      lambda i: te.sum(xp[stride * i + k] * w[k], axis=k), name="conv")


@mlc.op
def normalized_exp_rows(x: te.Tensor):
    n, m = x.shape
    k = te.reduce_axis((0, m), name="k")
    mx = te.compute((n,), lambda i: te.max(x[i, k], axis=k), name="mx")
    e = te.compute((n, m), lambda i, j: te.exp(x[i, j] - mx[i]), name="e")
    k2 = te.reduce_axis((0, m), name="k2")
    s = te.compute((n,), lambda i: te.sum(e[i, k2], axis=k2), name="s")
    return te.compute((n, m), lambda i, j: e[i, j] / s[i], name="normalized")


@mlc.op
def col_max_and_transpose(x: te.Tensor):
    k = te.reduce_axis((0, x.shape[0]), name="k")
    mx = te.compute((x.shape[1],), lambda j: te.max(x[k, j] * x[k, j], axis=k), name="colmax")
    t = te.compute((x.shape[1], x.shape[0]), lambda i, j: te.sqrt(x[j, i] * x[j, i] + 1.0), name="t")
    return mx, t


@mlc.op
def gather_rows(table: te.Tensor, idx: te.Tensor):
    return te.compute((idx.shape[0], table.shape[1]), lambda i, j: table[idx[i], j] * table[idx[i], j],
                      name="gather")


@FEW
@given(dims, dims, dims, seeds)
def test_matmul_bias_tanh(n, k, m, seed):
    rng = np.random.default_rng(seed)
    a, b, bias = rng.standard_normal((n, k)), rng.standard_normal((k, m)), rng.standard_normal(m)
    np.testing.assert_allclose(matmul_bias_tanh(a, b, bias), np.tanh(a @ b + bias) * np.exp(-bias), rtol=1e-12)
    check_grads(matmul_bias_tanh, (a, b, bias))
    g = mlc.grad(lambda a: np.sum(matmul_bias_tanh(a, b, bias)))(a)
    np.testing.assert_allclose(g, ((1 - np.tanh(a @ b + bias) ** 2) * np.exp(-bias)) @ b.T, rtol=1e-10, atol=1e-12)


@FEW
@given(st.integers(1, 9), st.integers(1, 3), st.integers(0, 2), st.integers(1, 3), seeds)
def test_padded_strided_conv(n, kw, pad, stride, seed):
    if n + 2 * pad < kw:
        n = kw
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(kw)
    xp = np.pad(x, pad)
    want = np.array([xp[stride * i:stride * i + kw] @ w for i in range((n + 2 * pad - kw) // stride + 1)])
    np.testing.assert_allclose(padded_conv1d(x, w, pad=pad, stride=stride), want, rtol=1e-12, atol=1e-14)
    check_grads(lambda x, w: padded_conv1d(x, w, pad=pad, stride=stride), (x, w))


@FEW
@given(dims, st.integers(1, 6), seeds)
def test_softmax_with_a_max_stage_to_second_order(n, m, seed):
    x = np.random.default_rng(seed).standard_normal((n, m))
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(normalized_exp_rows(x), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    check_grads(normalized_exp_rows, (x,), order=2)


@FEW
@given(dims, dims, seeds)
def test_two_outputs_and_a_max_reduction(n, m, seed):
    x = np.random.default_rng(seed).standard_normal((n, m)) + 0.1
    mx, t = col_max_and_transpose(x)
    np.testing.assert_allclose(mx, (x * x).max(axis=0), rtol=1e-12)
    np.testing.assert_allclose(t, np.sqrt(x.T ** 2 + 1), rtol=1e-12)
    check_grads(col_max_and_transpose, (x,))


def test_a_max_tie_shares_the_gradient_evenly():
    x = np.array([[1.0, 3.0], [3.0, -3.0], [0.5, 2.0]])
    g = mlc.grad(lambda v: np.sum(col_max_and_transpose(v)[0]))(x)
    # column 0: one maximum (x = 3); column 1: x*x = 9 twice, the gradient 2 * x halved
    np.testing.assert_allclose(g, [[0.0, 3.0], [6.0, -3.0], [0.0, 0.0]])


@FEW
@given(dims, dims, st.integers(1, 7), seeds)
def test_gather_by_an_index_tensor(rows, m, n, seed):
    rng = np.random.default_rng(seed)
    table, idx = rng.standard_normal((rows, m)), rng.integers(0, rows, n).astype("int32")
    np.testing.assert_allclose(gather_rows(table, idx), table[idx] ** 2, rtol=1e-12)
    check_grads(lambda t: gather_rows(t, idx), (table,))
    want = np.zeros_like(table)
    np.add.at(want, idx, 2 * table[idx])
    np.testing.assert_allclose(mlc.grad(lambda t: np.sum(gather_rows(t, idx)))(table), want, rtol=1e-12)


@FEW
@given(st.integers(1, 4), dims, dims, seeds)
def test_vmap_adds_a_batch_axis_to_every_stage(batch, n, m, seed):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((n, batch, m))
    got = mlc.vmap(normalized_exp_rows, in_axes=1)(xs)
    np.testing.assert_allclose(got, np.stack([normalized_exp_rows(xs[:, b]) for b in range(batch)]), rtol=1e-12)
    a, bs, bias = rng.standard_normal((n, m)), rng.standard_normal((batch, m, 3)), rng.standard_normal(3)
    got = mlc.jit(mlc.vmap(matmul_bias_tanh, in_axes=(None, 0, None)))(a, bs, bias)
    np.testing.assert_allclose(got, np.stack([matmul_bias_tanh(a, b, bias) for b in bs]), rtol=1e-12)
    # per-example gradients: vmap of the derived VJP
    per = mlc.vmap(mlc.grad(lambda b: np.sum(matmul_bias_tanh(a, b, bias))))(bs)
    for b in range(batch):
        np.testing.assert_allclose(per[b], mlc.grad(lambda v: np.sum(matmul_bias_tanh(a, v, bias)))(bs[b]),
                                   rtol=1e-12)


def test_an_operand_passed_twice_and_a_fused_producer():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    f = lambda v: np.sum(matmul_bias_tanh(v, v, np.zeros(3)))  # noqa: E731
    check_grads(lambda v: matmul_bias_tanh(v, v, np.zeros(3)), (a,))
    g = mlc.jit(mlc.grad(lambda v: f(np.sin(v))))(a)  # the op's operand an elementwise producer, fused
    eps = 1e-6
    fd = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[i] = eps
        fd[i] = (f(np.sin(a + d)) - f(np.sin(a - d))) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_float32_gradients_stay_float32_and_an_integer_operand_gets_none():
    table = np.ones((4, 2), "float32")
    g = mlc.grad(lambda t: np.sum(gather_rows(t, np.array([0, 0, 3], "int32"))))(table)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [[4, 4], [0, 0], [0, 0], [2, 2]])


def test_the_solver_replaces_affine_axes_and_sums_over_the_rest():
    x = te.placeholder((9,), "float64", name="x")
    w = te.placeholder((3,), "float64", name="w")
    k = te.reduce_axis((0, 3), name="k")
    y = te.compute((4,), lambda i: te.sum(x[2 * i + k] * w[k], axis=k), name="y")
    dy = te.placeholder((4,), "float64", name="dy")
    dx, dw = te_autodiff.gradient([y], [x, w], [dy])
    # dx[j]: i = (j - k) / 2 where it divides, summed over k only; dw[k]: summed over i
    assert [iv.var.name for iv in dx.op.reduce_axis] == ["k"]
    assert [iv.var.name for iv in dw.op.reduce_axis] == ["i"]
    f = mlc.build(mlc.IRModule({"main": te.create_prim_func([x, w, dy, dx, dw])}), "llvm")["main"]
    rng = np.random.default_rng(0)
    xv, wv, dyv = rng.standard_normal(9), rng.standard_normal(3), rng.standard_normal(4)
    dxv, dwv = np.zeros(9), np.zeros(3)
    f(xv, wv, dyv, dxv, dwv)
    want_dx, want_dw = np.zeros(9), np.zeros(3)
    for i in range(4):
        want_dx[2 * i:2 * i + 3] += dyv[i] * wv
        want_dw += dyv[i] * xv[2 * i:2 * i + 3]
    np.testing.assert_allclose(dxv, want_dx, rtol=1e-12)
    np.testing.assert_allclose(dwv, want_dw, rtol=1e-12)


def test_an_unsupported_math_call_is_a_typed_error():
    x = te.placeholder((3,), "float64", name="x")
    y = te.compute((3,), lambda i: te.nextafter(x[i], 0.0), name="y")
    with pytest.raises(te_autodiff.TeAutodiffError, match="nextafter has no derivative"):
        te_autodiff.gradient([y], [x], [te.placeholder((3,), "float64", name="dy")])


@pytest.mark.parametrize("case", ["matmul_bias_tanh", "padded_conv1d", "normalized_exp_rows", "col_max_and_transpose",
                                  "gather_rows"])
def test_derived_rules_on_the_cuda_emulator(case):
    """The kernels of the derived rules, generated for the GPU and run by the CUDA emulator:
    reverse and forward mode against finite differences, as on llvm above."""
    rng = np.random.default_rng(5)
    args = {"matmul_bias_tanh": (matmul_bias_tanh, (rng.standard_normal((3, 2)), rng.standard_normal((2, 5)),
                                                    rng.standard_normal(5))),
            "padded_conv1d": (lambda x, w: padded_conv1d(x, w, pad=2, stride=2),
                              (rng.standard_normal(7), rng.standard_normal(3))),
            "normalized_exp_rows": (normalized_exp_rows, (rng.standard_normal((3, 4)),)),
            "col_max_and_transpose": (col_max_and_transpose, (rng.standard_normal((4, 3)),)),
            "gather_rows": (lambda t: gather_rows(t, np.array([2, 0, 2, 1])), (rng.standard_normal((3, 2)),))}
    f, xs = args[case]
    check_grads(f, xs, target="cuda-emulator")
