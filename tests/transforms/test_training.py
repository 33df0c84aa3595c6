"""The training step of the transformations' README section: a 64-32-10 MLP's loss, its
gradient inside @mlc.jit, per-example gradients and a Hessian-vector product."""
import numpy as np
import pytest

import mlc


def loss(params, x, y):
    h = np.maximum(x @ params["w1"] + params["b1"], 0)
    logits = h @ params["w2"] + params["b2"]
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.mean(np.take_along_axis(logp, y[:, None], axis=1))


@mlc.jit
def step(params, x, y, lr):
    l, g = mlc.value_and_grad(loss)(params, x, y)
    return {k: params[k] - lr * g[k] for k in params}, l


def _data(dtype="float32", n=128):
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((10, 64)) * 2
    y = rng.integers(0, 10, n)
    x = (centers[y] + rng.standard_normal((n, 64))).astype(dtype)
    params = {"w1": (rng.standard_normal((64, 32)) * 0.1).astype(dtype), "b1": np.zeros(32, dtype),
              "w2": (rng.standard_normal((32, 10)) * 0.1).astype(dtype), "b2": np.zeros(10, dtype)}
    return params, x, y


def test_the_training_step_learns():
    params, x, y = _data()
    losses = []
    for _ in range(30):
        params, l = step(params, x, y, np.float32(0.5))
        losses.append(float(l))
    assert losses[-1] < 0.2 * losses[0], losses
    assert params["w1"].dtype == np.float32
    assert set(b.op for b in step.lower(params, x, y, np.float32(0.5)).graph.bindings) <= {"call_tir", "view"}


def test_the_gradient_against_finite_differences():
    params, x, y = _data("float64", n=16)
    g = mlc.grad(loss)(params, x, y)
    f = mlc.jit(loss)
    eps = 1e-6
    for key, index in (("w1", (3, 5)), ("b1", (7,)), ("w2", (0, 9)), ("b2", (4,))):
        plus = {k: v.copy() for k, v in params.items()}
        minus = {k: v.copy() for k, v in params.items()}
        plus[key][index] += eps
        minus[key][index] -= eps
        fd = (float(f(plus, x, y)) - float(f(minus, x, y))) / (2 * eps)
        np.testing.assert_allclose(g[key][index], fd, rtol=1e-6, atol=1e-9)


def test_per_example_gradients_and_a_hessian_vector_product():
    params, x, y = _data("float64", n=6)
    per_example = mlc.jit(mlc.vmap(mlc.grad(loss), in_axes=(None, 0, 0)))
    got = per_example(params, x[:, None], y[:, None])
    for n in range(3):
        want = mlc.grad(loss)(params, x[n:n + 1], y[n:n + 1])
        np.testing.assert_allclose(got["w2"][n], want["w2"], rtol=1e-10, atol=1e-12)
    f = lambda b2: loss({**params, "b2": b2}, x, y)  # noqa: E731
    hvp = mlc.jit(lambda p, v: mlc.jvp(mlc.grad(f), (p,), (v,))[1])
    v = np.linspace(-1, 1, 10)
    np.testing.assert_allclose(hvp(params["b2"], v), mlc.hessian(f)(params["b2"]) @ v, rtol=1e-9, atol=1e-12)


def test_the_benchmarked_cnn_step_agrees_with_jax():
    jax = pytest.importorskip("jax")
    from benchmarks.training import cnn_loss
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (5, 64)).astype("float32"), rng.integers(0, 10, 5)
    params = tuple((rng.standard_normal(s) * 0.2).astype("float32")
                   for s in ((8, 1, 3, 3), (16, 8, 3, 3), (16,), (64, 10), (10,)))
    value, grads = mlc.jit(mlc.value_and_grad(cnn_loss))(params, x, y)
    want, want_grads = jax.value_and_grad(lambda p, v, t: cnn_loss(p, v, t, jax.numpy))(params, x, y)
    np.testing.assert_allclose(value, want, rtol=1e-5)
    for g, w in zip(grads, want_grads):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-4, atol=1e-6)
