"""Derivatives on a GPU (target="cuda", CuPy arrays; skipped, visibly, without one) against the
same programs built for the CPU: through a compiled loop and conditional, a gather's
scatter-add VJP with repeated indices, a layer_norm gradient. (Their checks against finite
differences run on the CUDA emulator: tests/transforms.)"""
import numpy as np

import mlc

from .conftest import needs_gpu


def _on_both(fn, *args):
    import cupy
    gpu = mlc.jit(fn, target="cuda")(*[cupy.asarray(a) for a in args])
    cpu = mlc.jit(fn)(*args)
    gpu, cpu = (gpu if isinstance(gpu, tuple) else (gpu,)), (cpu if isinstance(cpu, tuple) else (cpu,))
    for g, c in zip(gpu, cpu):
        np.testing.assert_allclose(cupy.asnumpy(g), c, rtol=1e-4, atol=1e-5)


def _looped(x, w):
    c = mlc.fori_loop(0, 3, lambda i, c: np.tanh(c @ w) + i * x, x)
    return np.sum(mlc.cond(np.sum(c) > 0, lambda v: v * 2, lambda v: np.sin(v), c) ** 2)


@needs_gpu
def test_loop_and_conditional_derivatives_on_the_gpu():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(3).astype("float32"), (rng.standard_normal((3, 3)) * 0.5).astype("float32")
    _on_both(lambda x, w: mlc.grad(_looped, argnums=(0, 1))(x, w), x, w)
    _on_both(lambda x, w: mlc.jvp(lambda v: _looped(v, w), (x,), (x,))[1], x, w)
    _on_both(lambda xs, w: mlc.vmap(mlc.grad(_looped), in_axes=(0, None))(xs, w),
             rng.standard_normal((5, 3)).astype("float32"), w)


@needs_gpu
def test_gather_and_layer_norm_gradients_on_the_gpu():
    rng = np.random.default_rng(5)
    table, idx = rng.standard_normal((6, 40)).astype("float32"), np.array([3, 0, 3, 3, 5, 1, 0])
    weights = rng.standard_normal((7, 40)).astype("float32")
    _on_both(lambda t, wt: mlc.grad(lambda u: np.sum(np.take(u, idx, axis=0) * wt))(t), table, weights)
    x, c = rng.standard_normal((33, 70)).astype("float32"), rng.standard_normal((33, 70)).astype("float32")
    g, b = rng.standard_normal(70).astype("float32"), rng.standard_normal(70).astype("float32")
    _on_both(lambda x, g, b, c: mlc.grad(lambda *p: np.sum(mlc.nn.layer_norm(*p, axis=1) * c), argnums=(0, 1, 2))(x, g, b),
             x, g, b, c)
