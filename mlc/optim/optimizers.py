"""SGD (with momentum), Adam and AdamW as ``(init, update)`` pairs of pure functions.

>>> import numpy as np
>>> opt = sgd(0.5, momentum=0.9)
>>> p = (np.array([1.0]),)
>>> s = opt.init(p)
>>> p, s = opt.update((np.array([2.0]),), s, p)
>>> p[0], s["velocity"][0]
(array([0.]), array([2.]))
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..errors import MLCError, ShapeError
from ..tracer.pytree import flatten, unflatten

__all__ = ["Optimizer", "sgd", "adam", "adamw"]


class Optimizer(NamedTuple):
    """``init(params) -> state``; ``update(grads, state, params) -> (new_params, new_state)``."""
    init: Callable
    update: Callable


def _leaves_like(tree, like, what: str) -> list:
    """``tree``'s leaves, checked to have the structure of ``like`` (the parameters)."""
    leaves, treedef = flatten(tree)
    _, want = flatten(like)
    if treedef != want:
        raise ShapeError(f"mlc.optim: the {what} have another structure than the parameters "
                         f"({treedef} where {want} was expected); pass the gradient of the "
                         "loss with respect to the same pytree of parameters")
    return leaves


def _dtype(p):
    return p.dtype if hasattr(p, "dtype") else np.result_type(p)


def _zeros_like(params):
    leaves, treedef = flatten(params)
    return unflatten(treedef, [np.zeros(np.shape(p), _dtype(p)) for p in leaves])


def _scalar(value, like):
    """``value`` (a Python number or a traced or concrete 0-d array) in ``like``'s dtype."""
    if isinstance(value, (int, float)):
        return np.asarray(value, _dtype(like))
    return value.astype(_dtype(like)) if hasattr(value, "astype") else value


def _check_rate(name: str, value) -> None:
    if isinstance(value, (int, float)) and not value >= 0:
        raise MLCError(f"mlc.optim.{name}: needs a learning rate >= 0, got {value!r}")


def sgd(learning_rate, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> Optimizer:
    """Stochastic gradient descent: ``v = momentum * v + g + weight_decay * p; p -= lr * v``
    (``p -= lr * (g + momentum * v)`` with ``nesterov``), as ``torch.optim.SGD``.

    ``learning_rate`` is a number or a scalar array (a traced argument, for a schedule).
    """
    _check_rate("sgd", learning_rate)
    if not 0.0 <= momentum < 1.0:
        raise MLCError(f"mlc.optim.sgd: needs 0 <= momentum < 1, got {momentum!r}")
    if nesterov and momentum == 0.0:
        raise MLCError("mlc.optim.sgd: nesterov=True needs a momentum > 0")

    def init(params):
        return {"velocity": _zeros_like(params)} if momentum else {}

    def update(grads, state, params):
        ps, treedef = flatten(params)
        gs = _leaves_like(grads, params, "gradients")
        vs = _leaves_like(state["velocity"], params, "velocities") if momentum else [None] * len(ps)
        new_p, new_v = [], []
        for p, g, v in zip(ps, gs, vs):
            if weight_decay:
                g = g + _scalar(weight_decay, p) * p
            if momentum:
                v = _scalar(momentum, p) * v + g
                g = g + _scalar(momentum, p) * v if nesterov else v
            new_p.append(p - _scalar(learning_rate, p) * g)
            new_v.append(v)
        return unflatten(treedef, new_p), ({"velocity": unflatten(treedef, new_v)} if momentum else {})

    return Optimizer(init, update)


def _adam(name: str, learning_rate, b1, b2, eps, weight_decay) -> Optimizer:
    _check_rate(name, learning_rate)
    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
        raise MLCError(f"mlc.optim.{name}: needs 0 <= b1, b2 < 1, got b1={b1!r}, b2={b2!r}")

    def init(params):
        return {"count": np.zeros((), np.int32), "mu": _zeros_like(params), "nu": _zeros_like(params)}

    def update(grads, state, params):
        ps, treedef = flatten(params)
        gs = _leaves_like(grads, params, "gradients")
        mus = _leaves_like(state["mu"], params, "first moments")
        nus = _leaves_like(state["nu"], params, "second moments")
        count = state["count"] + np.int32(1)
        # the bias corrections in float64, as PyTorch's (float32 powers of 0.999 lose digits)
        t = count.astype(np.float64)
        correction1 = 1 - np.asarray(b1, np.float64) ** t
        correction2 = 1 - np.asarray(b2, np.float64) ** t
        new_p, new_mu, new_nu = [], [], []
        for p, g, mu, nu in zip(ps, gs, mus, nus):
            mu = _scalar(b1, p) * mu + _scalar(1 - b1, p) * g
            nu = _scalar(b2, p) * nu + _scalar(1 - b2, p) * (g * g)
            mu_hat = mu / _scalar(correction1, p)
            nu_hat = nu / _scalar(correction2, p)
            step = mu_hat / (np.sqrt(nu_hat) + _scalar(eps, p))
            if weight_decay:  # decoupled (AdamW): the decay is not scaled by the moments
                step = step + _scalar(weight_decay, p) * p
            new_p.append(p - _scalar(learning_rate, p) * step)
            new_mu.append(mu)
            new_nu.append(nu)
        return unflatten(treedef, new_p), {"count": count, "mu": unflatten(treedef, new_mu),
                                           "nu": unflatten(treedef, new_nu)}

    return Optimizer(init, update)


def adam(learning_rate=1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam (Kingma and Ba): moment estimates with bias correction,
    ``p -= lr * mu_hat / (sqrt(nu_hat) + eps)``, as ``torch.optim.Adam``."""
    return _adam("adam", learning_rate, b1, b2, eps, 0.0)


def adamw(learning_rate=1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-2) -> Optimizer:
    """AdamW (Loshchilov and Hutter): Adam with decoupled weight decay,
    ``p -= lr * (mu_hat / (sqrt(nu_hat) + eps) + weight_decay * p)``, as ``torch.optim.AdamW``."""
    return _adam("adamw", learning_rate, b1, b2, eps, weight_decay)
