"""The workloads' computations as NumPy code, written once for NumPy, ``@mlc.jit`` and JAX.

Each takes the array module ``xp`` (``numpy`` or ``jax.numpy``) as a keyword;
the NumPy contender, mlc's jit and JAX run the same source. The NumPy spellings
are the fast idiomatic ones: ``x * x * x`` rather than ``x ** 3`` (which NumPy
evaluates through ``pow``, an order of magnitude slower), in-place updates of a
temporary where that is how one would write it.
"""
from __future__ import annotations

import numpy as np

SQRT_2_OVER_PI = 0.7978845608


def gelu(x, xp=np):
    return 0.5 * x * (1 + xp.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


def softmax(v, xp=np):
    e = xp.exp(v - v.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_numpy(v):
    """NumPy's fastest plain spelling: one temporary, normalised in place."""
    e = np.exp(v - v.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def layer_norm(v, gamma, beta, xp=np):
    mean = v.mean(axis=1, keepdims=True)
    d = v - mean
    var = (d * d).mean(axis=1, keepdims=True)
    return d / xp.sqrt(var + 1e-5) * gamma + beta


def layer_norm_numpy(v, gamma, beta):
    mean = v.mean(axis=1, keepdims=True)
    d = v - mean
    var = (d * d).mean(axis=1, keepdims=True)
    d /= np.sqrt(var + 1e-5)
    d *= gamma
    d += beta
    return d


def mm_relu(a, b, xp=np):
    return xp.maximum(a @ b, 0)


def window_sum(a, xp=np):
    """The course's GPU chapter's window sum: ``B[i] = A[i] + A[i + 1] + A[i + 2]``."""
    return a[:-2] + a[1:-1] + a[2:]


def rotary(x, pos, inv_freq, xp=np):
    """Rotary position embedding (RoPE, as in LLaMA): the two halves of each row rotated
    by the angles ``position * frequency``."""
    angle = pos[:, None] * inv_freq[None, :]
    c, s = xp.cos(angle), xp.sin(angle)
    half = x.shape[1] // 2
    x1, x2 = x[:, :half], x[:, half:]
    return xp.concatenate([x1 * c - x2 * s, x1 * s + x2 * c], axis=1)


def mlp(x, w1, b1, w2, b2, xp=np):
    return xp.maximum(x @ w1 + b1, 0) @ w2 + b2


def mlp_numpy(x, w1, b1, w2, b2):
    h = x @ w1
    h += b1
    np.maximum(h, 0, out=h)
    y = h @ w2
    y += b2
    return y


def im2col_conv2d(x, w):
    """NumPy conv2d, stride 1, padding 1: im2col then one matmul (the usual NumPy way)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))  # n c h w kh kw
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, c * kh * kw)
    return (cols @ w.reshape(o, -1).T).reshape(n, h, wd, o).transpose(0, 3, 1, 2)


# Abramowitz & Stegun 7.1.26: the erf people write in NumPy, which has none.
ERF_P, ERF_A = 0.3275911, (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erf(x, xp=np):
    a = xp.abs(x)
    t = 1.0 / (1.0 + ERF_P * a)
    a1, a2, a3, a4, a5 = ERF_A
    y = 1.0 - ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t * xp.exp(-(a * a))
    return xp.where(x < 0, -y, y)


def black_scholes(S, K, T, r, sigma, xp=np):
    """The European call price, float64, as written in NumPy: log, sqrt, an erf-based
    normal CDF, divisions, abs and where."""
    vol = sigma * xp.sqrt(T)
    d1 = (xp.log(S / K) + (r + 0.5 * sigma * sigma) * T) / vol
    d2 = d1 - vol
    cdf1 = 0.5 * (1.0 + erf(d1 * 0.7071067811865476, xp))
    cdf2 = 0.5 * (1.0 + erf(d2 * 0.7071067811865476, xp))
    return S * cdf1 - K * xp.exp(-r * T) * cdf2
