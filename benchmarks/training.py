"""The transformations' workloads: gradients of softmax and layer_norm, an MLP's training
step and its per-example gradients.

``softmax_grad`` and ``layer_norm_grad`` compute the gradient of ``sum(f(x) * w)``
(the VJP of the cotangent ``w``), forward pass included, at the size of the
``softmax`` and ``layer_norm`` workloads, whose rows are the forward's time:
the gradient should take at most 1.5 times the forward's. mlc runs it for the
``mlc.nn`` op (whose VJP rule is one reduction and an elementwise expression)
and for the NumPy spelling of the function (differentiated op by op); NumPy is
the backward written by hand. ``mlp_step`` is one SGD step of the README's
digits MLP (64-256-10, batch 128: forward, backward, update), ``mlp_adam_step`` the
same step with ``mlc.optim.adam`` (NumPy and JAX: Adam's formula written out), ``mlp_per_example``
its 128 per-example gradients (``vmap(grad)``); ``cnn_step`` one SGD step of the
examples' small CNN (without batch norm) on the same batch; JAX runs ``jit(value_and_grad)``
and ``jit(vmap(grad))`` of the same source.
"""
from __future__ import annotations

import numpy as np

from . import programs as P
from .harness import Workload, unavailable
from .peers import jax_contender, mlc_jit, numpy_contender, tvm_impractical

__all__ = ["TRAINING_WORKLOADS"]

_NO_NUMBA = "Numba has no automatic differentiation"
_NO_TVM = "TVM's gradients are Relax's training passes, not set up here"


def _rng():
    return np.random.default_rng(0)


def _softmax_grad_numpy(x, w):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    return y * (w - (w * y).sum(axis=1, keepdims=True))


def softmax_grad(tiny: bool = False) -> Workload:
    n, m = (64, 128) if tiny else (4096, 1024)
    rng = _rng()
    x, w = rng.standard_normal((n, m), dtype="float32"), rng.standard_normal((n, m), dtype="float32")

    def with_op(v, c):
        import mlc
        return mlc.grad(lambda u: np.sum(mlc.nn.softmax(u, axis=1) * c))(v)

    def spelled(v, c):
        import mlc
        return mlc.grad(lambda u: np.sum(P.softmax(u) * c))(v)

    return Workload(
        "softmax_grad", f"gradient of row softmax {n}x{m} float32 (forward included)", bytes=3 * 4 * n * m,
        reference=lambda: _softmax_grad_numpy(x, w), rtol=1e-3, atol=1e-5,
        contenders=(
            numpy_contender("backward by hand", _softmax_grad_numpy, (x, w)),
            mlc_jit(with_op, (x, w), label="grad of nn.softmax"),
            mlc_jit(spelled, (x, w), label="grad of softmax in NumPy"),
            unavailable("numba", _NO_NUMBA),
            jax_contender(lambda jnp: _jax_grad(lambda u, c, jnp=jnp: jnp.sum(P.softmax(u, jnp) * c)), (x, w)),
            tvm_impractical("relax", _NO_TVM),
        ))


def _layer_norm_grad_numpy(x, gamma, beta, w):
    mean = x.mean(axis=1, keepdims=True)
    d = x - mean
    rstd = 1 / np.sqrt((d * d).mean(axis=1, keepdims=True) + 1e-5)
    xhat = d * rstd
    g = w * gamma
    dx = rstd * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
    return dx, (w * xhat).sum(axis=0), w.sum(axis=0)


def layer_norm_grad(tiny: bool = False) -> Workload:
    n, m = (64, 128) if tiny else (4096, 1024)
    rng = _rng()
    x, w = rng.standard_normal((n, m), dtype="float32"), rng.standard_normal((n, m), dtype="float32")
    gamma, beta = rng.standard_normal(m, dtype="float32"), rng.standard_normal(m, dtype="float32")
    args = (x, gamma, beta, w)

    def with_op(v, g, b, c):
        import mlc
        return mlc.grad(lambda *p: np.sum(mlc.nn.layer_norm(*p, axis=1) * c), argnums=(0, 1, 2))(v, g, b)

    def spelled(v, g, b, c):
        import mlc
        return mlc.grad(lambda *p: np.sum(P.layer_norm(*p) * c), argnums=(0, 1, 2))(v, g, b)

    return Workload(
        "layer_norm_grad", f"gradient of layer_norm {n}x{m} float32 (x, gamma, beta; forward included)",
        bytes=3 * 4 * n * m, reference=lambda: _layer_norm_grad_numpy(*args), rtol=1e-3, atol=1e-3,
        contenders=(
            numpy_contender("backward by hand", _layer_norm_grad_numpy, args),
            mlc_jit(with_op, args, label="grad of nn.layer_norm"),
            mlc_jit(spelled, args, label="grad of layer_norm in NumPy"),
            unavailable("numba", _NO_NUMBA),
            jax_contender(lambda jnp: _jax_grad(lambda v, g, b, c, jnp=jnp: jnp.sum(P.layer_norm(v, g, b, jnp) * c),
                                                argnums=(0, 1, 2)), args),
            tvm_impractical("relax", _NO_TVM),
        ))


def _jax_grad(f, argnums=0):
    import jax
    return jax.grad(f, argnums=argnums)


# ------------------------------------------------------------------ the MLP

def mlp_loss(params, x, y, xp=np):
    """The README's loss: the mean cross-entropy of a 64-256-10 MLP."""
    w1, b1, w2, b2 = params
    h = xp.maximum(x @ w1 + b1, 0)
    logits = h @ w2 + b2
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - xp.log(xp.sum(xp.exp(logits - m), axis=1, keepdims=True))
    return -xp.mean(xp.take_along_axis(logp, y[:, None], axis=1))


def _mlp_backward_numpy(params, x, y):
    """(pre-activations, hidden layer, log-likelihood of the labels, d loss / d logits, d loss /
    d pre-activations) of each example, by hand."""
    w1, b1, w2, b2 = params
    pre = x @ w1 + b1
    h = np.maximum(pre, 0)
    logits = h @ w2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    d = e / e.sum(axis=1, keepdims=True)
    likelihood = np.log(d[np.arange(len(y)), y])
    d[np.arange(len(y)), y] -= 1
    return pre, h, likelihood, d, (d @ w2.T) * (pre > 0)


def _mlp_step_numpy(params, x, y, lr):
    """One SGD step with the backward written by hand."""
    _, h, likelihood, d, dh = _mlp_backward_numpy(params, x, y)
    loss = -np.mean(likelihood)
    d, dh = d / len(y), dh / len(y)
    grads = (x.T @ dh, dh.sum(axis=0), h.T @ d, d.sum(axis=0))
    return tuple(w - lr * g for w, g in zip(params, grads)), loss


def _mlp_data(batch: int):
    rng = _rng()
    x = rng.uniform(0, 1, (batch, 64)).astype("float32")
    y = rng.integers(0, 10, batch)
    params = ((rng.standard_normal((64, 256)) * 0.1).astype("float32"), np.zeros(256, "float32"),
              (rng.standard_normal((256, 10)) * 0.1).astype("float32"), np.zeros(10, "float32"))
    return params, x, y


def mlp_step(tiny: bool = False) -> Workload:
    batch = 16 if tiny else 128
    params, x, y = _mlp_data(batch)
    lr = np.float32(0.1)

    def step(p, v, t, r):
        import mlc
        loss, g = mlc.value_and_grad(mlp_loss)(p, v, t)
        return tuple(w - r * d for w, d in zip(p, g)), loss

    def jax_step(jnp):
        import jax
        grad = jax.value_and_grad(lambda p, v, t: mlp_loss(p, v, t, jnp))

        def run(p, v, t, r):
            loss, g = grad(p, v, t)
            return tuple(w - r * d for w, d in zip(p, g)), loss
        return run

    flops = 3 * 2.0 * batch * (64 * 256 + 256 * 10)
    return Workload(
        "mlp_step", f"MLP training step, batch {batch} (64-256-10: forward, backward, SGD)", flops=flops,
        reference=lambda: _mlp_step_numpy(params, x, y, lr), rtol=1e-3, atol=1e-5,
        contenders=(
            numpy_contender("backward by hand", _mlp_step_numpy, (params, x, y, lr)),
            mlc_jit(step, (params, x, y, lr), label="jit(value_and_grad)"),
            unavailable("numba", _NO_NUMBA),
            jax_contender(jax_step, (params, x, y, lr), label="jit(value_and_grad)"),
            tvm_impractical("relax", _NO_TVM),
        ))


def _adam_update(xp, params, grads, state, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam's update written out (NumPy or jax.numpy), as mlc.optim.adam computes it."""
    count, mus, nus = state
    count = count + 1
    c1, c2 = 1 - b1 ** count, 1 - b2 ** count  # count: a Python int (NumPy) or a traced int (JAX)
    mus = tuple(b1 * m + (1 - b1) * g for m, g in zip(mus, grads))
    nus = tuple(b2 * v + (1 - b2) * g * g for v, g in zip(nus, grads))
    params = tuple(p - lr * (m / c1) / (xp.sqrt(v / c2) + eps) for p, m, v in zip(params, mus, nus))
    return params, (count, mus, nus)


def _mlp_adam_step_numpy(params, state, x, y):
    """One Adam step with the backward written by hand."""
    _, h, likelihood, d, dh = _mlp_backward_numpy(params, x, y)
    d, dh = d / len(y), dh / len(y)
    grads = (x.T @ dh, dh.sum(axis=0), h.T @ d, d.sum(axis=0))
    params, state = _adam_update(np, params, grads, (int(state[0]), state[1], state[2]))
    return tuple(p.astype("float32") for p in params), -np.mean(likelihood)


def mlp_adam_step(tiny: bool = False) -> Workload:
    batch = 16 if tiny else 128
    params, x, y = _mlp_data(batch)
    zeros = tuple(np.zeros_like(p) for p in params)
    state = {"count": np.zeros((), np.int32), "mu": zeros, "nu": zeros}

    def step(p, s, v, t):
        import mlc
        loss, g = mlc.value_and_grad(mlp_loss)(p, v, t)
        return mlc.optim.adam(1e-3).update(g, s, p)[0], loss

    def jax_step(jnp):
        import jax
        grad = jax.value_and_grad(lambda p, v, t: mlp_loss(p, v, t, jnp))

        def run(p, s, v, t):
            loss, g = grad(p, v, t)
            return _adam_update(jnp, p, g, (s["count"], s["mu"], s["nu"]))[0], loss
        return run

    flops = 3 * 2.0 * batch * (64 * 256 + 256 * 10)
    numpy_state = (0, zeros, zeros)
    return Workload(
        "mlp_adam_step", f"MLP training step, batch {batch} (64-256-10: forward, backward, Adam)", flops=flops,
        reference=lambda: _mlp_adam_step_numpy(params, numpy_state, x, y), rtol=1e-3, atol=1e-5,
        contenders=(
            numpy_contender("backward and Adam by hand", _mlp_adam_step_numpy, (params, numpy_state, x, y)),
            mlc_jit(step, (params, state, x, y), label="jit(value_and_grad + optim.adam)"),
            unavailable("numba", _NO_NUMBA),
            jax_contender(jax_step, (params, state, x, y), label="jit(value_and_grad + Adam)"),
            tvm_impractical("relax", _NO_TVM),
        ))


def _per_example_numpy(params, x, y):
    """Each example's gradient, batched by hand with einsum."""
    _, h, _, d, dh = _mlp_backward_numpy(params, x, y)
    return (np.einsum("bi,bj->bij", x, dh), dh, np.einsum("bi,bj->bij", h, d), d)


def mlp_per_example(tiny: bool = False) -> Workload:
    batch = 16 if tiny else 128
    params, x, y = _mlp_data(batch)
    xs, ys = x[:, None], y[:, None]

    def per_example(p, v, t):
        import mlc
        return mlc.vmap(mlc.grad(mlp_loss), in_axes=(None, 0, 0))(p, v, t)

    def jax_per_example(jnp):
        import jax
        return jax.vmap(jax.grad(lambda p, v, t: mlp_loss(p, v, t, jnp)), in_axes=(None, 0, 0))

    return Workload(
        "mlp_per_example", f"MLP per-example gradients, batch {batch} (64-256-10, vmap(grad))",
        flops=3 * 2.0 * batch * (64 * 256 + 256 * 10), reference=lambda: _per_example_numpy(params, x, y),
        rtol=1e-3, atol=1e-5,
        contenders=(
            numpy_contender("einsum by hand", _per_example_numpy, (params, x, y)),
            mlc_jit(per_example, (params, xs, ys), label="jit(vmap(grad))"),
            unavailable("numba", _NO_NUMBA),
            jax_contender(jax_per_example, (params, xs, ys), label="jit(vmap(grad))"),
            tvm_impractical("relax", _NO_TVM),
        ))


# ------------------------------------------------------------------ the CNN

def _cnn_layers(xp):
    """(conv 3x3 same-padded, 2x2 max pool, 2x2 average pool) of mlc.nn, or of jax.lax."""
    if not getattr(xp, "__name__", "").startswith("jax"):
        import mlc
        return (lambda h, w: mlc.nn.conv2d(h, w, padding=1), lambda h: mlc.nn.max_pool2d(h, 2),
                lambda h: mlc.nn.avg_pool2d(h, 2))
    from jax import lax
    window = ((1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    return (lambda h, w: lax.conv_general_dilated(h, w, (1, 1), ((1, 1), (1, 1)),
                                                  dimension_numbers=("NCHW", "OIHW", "NCHW")),
            lambda h: lax.reduce_window(h, -xp.inf, lax.max, *window),
            lambda h: lax.reduce_window(h, 0.0, lax.add, *window) / 4)


def cnn_loss(params, x, y, xp=np):
    """The examples' small CNN without batch norm (conv 3x3 (8) -> relu -> max pool -> conv 3x3
    (16) -> relu -> average pool -> dense 64 -> 10, NCHW): its mean cross-entropy."""
    conv, max_pool, avg_pool = _cnn_layers(xp)
    w1, w2, b2, w3, b3 = params
    h = max_pool(xp.maximum(conv(x.reshape(x.shape[0], 1, 8, 8), w1), 0))
    h = avg_pool(xp.maximum(conv(h, w2) + b2.reshape(1, 16, 1, 1), 0))
    logits = h.reshape(x.shape[0], 64) @ w3 + b3
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - xp.log(xp.sum(xp.exp(logits - m), axis=1, keepdims=True))
    return -xp.mean(xp.take_along_axis(logp, y[:, None], axis=1))


def cnn_step(tiny: bool = False) -> Workload:
    batch = 16 if tiny else 128
    rng = _rng()
    x = rng.uniform(0, 1, (batch, 64)).astype("float32")
    y = rng.integers(0, 10, batch)
    params = tuple((rng.standard_normal(s) * 0.2).astype("float32")
                   for s in ((8, 1, 3, 3), (16, 8, 3, 3), (16,), (64, 10), (10,)))
    lr = np.float32(0.1)

    def step(p, v, t, r):
        import mlc
        loss, g = mlc.value_and_grad(cnn_loss)(p, v, t)
        return tuple(w - r * d for w, d in zip(p, g)), loss

    def jax_step(jnp):
        import jax
        grad = jax.value_and_grad(lambda p, v, t: cnn_loss(p, v, t, jnp))

        def run(p, v, t, r):
            loss, g = grad(p, v, t)
            return tuple(w - r * d for w, d in zip(p, g)), loss
        return run

    flops = 3 * 2.0 * batch * (8 * 64 * 9 + 16 * 16 * 8 * 9 + 64 * 10)
    return Workload(
        "cnn_step", f"small CNN training step, batch {batch} (8x8 images: 2 convs, pools, dense; SGD)", flops=flops,
        reference=None, note="no NumPy backward by hand: mlc and JAX are checked against each other by the tests",
        contenders=(
            unavailable("numpy", "a CNN's backward by hand is not written here"),
            mlc_jit(step, (params, x, y, lr), label="jit(value_and_grad)"),
            unavailable("numba", _NO_NUMBA),
            jax_contender(jax_step, (params, x, y, lr), label="jit(value_and_grad)"),
            tvm_impractical("relax", _NO_TVM),
        ))


TRAINING_WORKLOADS = {"softmax_grad": softmax_grad, "layer_norm_grad": layer_norm_grad, "mlp_step": mlp_step,
                      "mlp_adam_step": mlp_adam_step, "mlp_per_example": mlp_per_example, "cnn_step": cnn_step}
