"""Derivatives on a GPU (target="cuda"; skipped, visibly, without one): through a compiled
loop and conditional, a gather's scatter-add VJP with repeated indices, a layer_norm gradient."""
import numpy as np

import mlc
import mlc.testing as mt

from .conftest import needs_gpu


@needs_gpu
def test_loop_and_conditional_derivatives_on_the_gpu():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(3), rng.standard_normal((3, 3)) * 0.5

    def f(x, w):
        c = mlc.fori_loop(0, 3, lambda i, c: np.tanh(c @ w) + i * x, x)
        return mlc.cond(np.sum(c) > 0, lambda v: v * 2, lambda v: np.sin(v), c)

    mt.check_grads(f, (x, w), target="cuda")


@needs_gpu
def test_gather_and_layer_norm_gradients_on_the_gpu():
    rng = np.random.default_rng(5)
    table, idx = rng.standard_normal((6, 40)).astype("float32"), np.array([3, 0, 3, 3, 5, 1, 0])
    weights = rng.standard_normal((7, 40)).astype("float32")
    got = mlc.jit(mlc.grad(lambda t: np.sum(np.take(t, idx, axis=0) * weights)), target="cuda")(table)
    want = np.zeros_like(table)
    np.add.at(want, idx, weights)
    np.testing.assert_allclose(np.asarray(got.get() if hasattr(got, "get") else got), want, rtol=1e-5, atol=1e-6)
    x, c = rng.standard_normal((33, 70)), rng.standard_normal((33, 70))
    g, b = rng.standard_normal(70), rng.standard_normal(70)
    mt.check_grads(lambda x, g, b: np.sum(mlc.nn.layer_norm(x, g, b, axis=1) * c), (x, g, b), target="cuda")
