"""Rules of the reductions: sum, mean, prod, max, min, var, std, logsumexp (and the
non-differentiable all, any, argmax, argmin).

A reduction's cotangent is its result's, broadcast back over the reduced
axes (:func:`spread`). ``max``/``min`` give it to the elements equal to the
result, shared evenly among ties (JAX's convention); ``prod`` multiplies it by
the product of the other elements, computed from exclusive running products so
that zeros are exact. Batching moves the batch axis to the front and reduces
the axes after it.
"""
from __future__ import annotations

import math

import numpy as np

from ..registry import define_rules
from .core import ZeroRules, apply_op, move_batch_to_front, normalized_axes, ones, zeros

__all__ = ["spread", "reduction_batch", "prod_others"]


def _count(shape, axes) -> int:
    return math.prod(shape[a] for a in axes)


def spread(g, shape, axis, keepdims):
    """``g``, a reduction of an array of ``shape`` over ``axis``, broadcast back to ``shape``."""
    axes = normalized_axes(axis, len(shape))
    kept = tuple(1 if n in axes else s for n, s in enumerate(shape))
    if tuple(g.shape) != kept:
        g = np.reshape(g, kept)
    return np.broadcast_to(g, tuple(shape))


def _reduce_like(t, out, axes, op="sum", **attrs):
    """``t`` reduced over ``axes`` (``op``), in ``out``'s shape."""
    r = apply_op(op, t, axis=axes, keepdims=True, **attrs)
    return np.reshape(r, out.shape)


# ------------------------------------------------------------------ sum, mean

def _sum_jvp(primals, tangents, out, *, axis=None, keepdims=False, dtype=None, initial=None):
    return apply_op("sum", tangents[0], axis=axis, keepdims=keepdims, dtype=dtype)


def _sum_vjp(ct, primals, out, *, axis=None, keepdims=False, dtype=None, initial=None):
    return (spread(ct, primals[0].shape, axis, keepdims),)


def _mean_jvp(primals, tangents, out, *, axis=None, keepdims=False, dtype=None):
    return apply_op("mean", tangents[0], axis=axis, keepdims=keepdims, dtype=dtype)


def _mean_vjp(ct, primals, out, *, axis=None, keepdims=False, dtype=None):
    (x,) = primals
    count = _count(x.shape, normalized_axes(axis, x.ndim))
    return (spread(ct, x.shape, axis, keepdims) * (1 / max(count, 1)),)


# ------------------------------------------------------------------ prod

def prod_others(x, axes):
    """For each element of ``x``, the product of the other elements of its slice over ``axes``
    (exclusive running products from both ends: exact where ``x`` has zeros)."""
    rest = [a for a in range(x.ndim) if a not in axes]
    perm = rest + list(axes)
    xt = np.transpose(x, perm) if perm != list(range(x.ndim)) else x
    lead = tuple(xt.shape[:len(rest)])
    k = _count(x.shape, axes)
    if k == 0 or x.size == 0:
        return zeros(x)
    flat = np.reshape(xt, lead + (k,))
    one = ones(flat, lead + (1,))
    left = np.cumprod(np.concatenate([one, flat[..., :-1]], axis=-1), axis=-1)
    rev = np.flip(flat, axis=-1)
    right = np.flip(np.cumprod(np.concatenate([one, rev[..., :-1]], axis=-1), axis=-1), axis=-1)
    others = np.reshape(left * right, xt.shape)
    inverse = [perm.index(a) for a in range(x.ndim)]
    return np.transpose(others, inverse) if perm != list(range(x.ndim)) else others


def _prod_partial(x, axis, initial):
    others = prod_others(x, normalized_axes(axis, x.ndim))
    return others if initial is None else others * initial


def _prod_jvp(primals, tangents, out, *, axis=None, keepdims=False, dtype=None, initial=None):
    (x,), (t,) = primals, tangents
    d = np.sum(t * _prod_partial(x, axis, initial), axis=normalized_axes(axis, x.ndim), keepdims=True)
    return np.reshape(d, out.shape)


def _prod_vjp(ct, primals, out, *, axis=None, keepdims=False, dtype=None, initial=None):
    (x,) = primals
    return (spread(ct, x.shape, axis, keepdims) * _prod_partial(x, axis, initial),)


# ------------------------------------------------------------------ max, min

def _extremum_weights(x, out, axis, keepdims):
    """1/count where ``x`` equals its slice's result (ties share), else 0; a slice whose result
    is the ``initial`` value alone gives every element 0."""
    hit = (x == spread(out, x.shape, axis, keepdims)).astype(x.dtype)
    count = np.sum(hit, axis=normalized_axes(axis, x.ndim), keepdims=True)
    return hit / np.maximum(count, 1)


def _extremum_jvp(primals, tangents, out, *, axis=None, keepdims=False, initial=None):
    (x,), (t,) = primals, tangents
    d = np.sum(t * _extremum_weights(x, out, axis, keepdims), axis=normalized_axes(axis, x.ndim), keepdims=True)
    return np.reshape(d, out.shape)


def _extremum_vjp(ct, primals, out, *, axis=None, keepdims=False, initial=None):
    (x,) = primals
    return (spread(ct, x.shape, axis, keepdims) * _extremum_weights(x, out, axis, keepdims),)


# ------------------------------------------------------------------ var, std, logsumexp

def _centered(x, axis, ddof):
    """``(x - mean) / (n - ddof)``: d var / dx, halved."""
    axes = normalized_axes(axis, x.ndim)
    return (x - np.mean(x, axis=axes, keepdims=True)) * (1 / (_count(x.shape, axes) - ddof))


def _var_jvp(primals, tangents, out, *, axis=None, keepdims=False, ddof=0):
    (x,), (t,) = primals, tangents
    return _reduce_like(2 * _centered(x, axis, ddof) * t, out, normalized_axes(axis, x.ndim))


def _var_vjp(ct, primals, out, *, axis=None, keepdims=False, ddof=0):
    (x,) = primals
    return (spread(ct, x.shape, axis, keepdims) * 2 * _centered(x, axis, ddof),)


def _std_jvp(primals, tangents, out, *, axis=None, keepdims=False, ddof=0):
    (x,), (t,) = primals, tangents
    return _reduce_like(_centered(x, axis, ddof) * t, out, normalized_axes(axis, x.ndim)) / out


def _std_vjp(ct, primals, out, *, axis=None, keepdims=False, ddof=0):
    (x,) = primals
    return (spread(ct / out, x.shape, axis, keepdims) * _centered(x, axis, ddof),)


def _softmax_weights(x, out, axis, keepdims):
    return np.exp(x - spread(out, x.shape, axis, keepdims))


def _lse_jvp(primals, tangents, out, *, axis=None, keepdims=False):
    (x,), (t,) = primals, tangents
    return _reduce_like(t * _softmax_weights(x, out, axis, keepdims), out, normalized_axes(axis, x.ndim))


def _lse_vjp(ct, primals, out, *, axis=None, keepdims=False):
    (x,) = primals
    return (spread(ct, x.shape, axis, keepdims) * _softmax_weights(x, out, axis, keepdims),)


# ------------------------------------------------------------------ batching

def _batched_axes(axis, ndim: int):
    """A reduction's ``axis`` of an ``ndim``-d operand, for the operand with a batch axis in front."""
    if not ndim:
        return ()
    return tuple(a + 1 for a in normalized_axes(axis, ndim))


def reduction_batch(name: str):
    """Batching of a reduction over ``axis`` (None, an int or a tuple)."""
    def rule(args, dims, *, axis=None, **attrs):
        x = move_batch_to_front(args[0], dims[0])
        return apply_op(name, x, axis=_batched_axes(axis, x.ndim - 1), **attrs), 0
    rule.__name__ = f"batch_{name}"
    return rule


def _arg_batch(name: str):
    """Batching of argmax/argmin, whose ``axis`` is one axis or None (the flattened array)."""
    def rule(args, dims, *, axis=None, keepdims=False):
        x = move_batch_to_front(args[0], dims[0])
        if axis is not None:
            return apply_op(name, x, axis=int(axis) % (x.ndim - 1) + 1, keepdims=keepdims), 0
        flat = np.reshape(x, (x.shape[0], -1))
        out = apply_op(name, flat, axis=1, keepdims=False)
        return (np.reshape(out, (x.shape[0],) + (1,) * (x.ndim - 1)) if keepdims else out), 0
    rule.__name__ = f"batch_{name}"
    return rule


def _register() -> None:
    define_rules("sum", jvp=_sum_jvp, vjp=_sum_vjp, batch=reduction_batch("sum"))
    define_rules("mean", jvp=_mean_jvp, vjp=_mean_vjp, batch=reduction_batch("mean"))
    define_rules("prod", jvp=_prod_jvp, vjp=_prod_vjp, batch=reduction_batch("prod"))
    for name in ("max", "min"):
        define_rules(name, jvp=_extremum_jvp, vjp=_extremum_vjp, batch=reduction_batch(name))
    define_rules("var", jvp=_var_jvp, vjp=_var_vjp, batch=reduction_batch("var"))
    define_rules("std", jvp=_std_jvp, vjp=_std_vjp, batch=reduction_batch("std"))
    define_rules("logsumexp", jvp=_lse_jvp, vjp=_lse_vjp, batch=reduction_batch("logsumexp"))
    for name in ("all", "any"):
        define_rules(name, **ZeroRules, batch=reduction_batch(name))
    for name in ("argmax", "argmin"):
        define_rules(name, **ZeroRules, batch=_arg_batch(name))


_register()
