"""Numba contenders: ``@njit(parallel=True, fastmath=True)`` loops, as people write them.

Imported only when numba is installed. Constants are ``np.float32`` so that the
float32 kernels stay float32 (a Python float would promote them to float64).
Matrix products in Numba call NumPy's BLAS, so sgemm and the MLP have no Numba
contender of their own.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .programs import ERF_A, ERF_P, SQRT_2_OVER_PI

_F = np.float32
_HALF, _ONE, _C, _K = _F(0.5), _F(1.0), _F(0.044715), _F(SQRT_2_OVER_PI)
_EPS = _F(1e-5)


@njit(parallel=True, fastmath=True)
def gelu(x):
    out = np.empty_like(x)
    for i in prange(x.size):
        v = x[i]
        out[i] = _HALF * v * (_ONE + np.tanh(_K * (v + _C * v * v * v)))
    return out


@njit(parallel=True, fastmath=True)
def softmax(x):
    n, m = x.shape
    out = np.empty_like(x)
    for i in prange(n):
        top = x[i, 0]
        for j in range(1, m):
            top = max(top, x[i, j])
        total = _F(0.0)
        for j in range(m):
            e = np.exp(x[i, j] - top)
            out[i, j] = e
            total += e
        inv = _ONE / total
        for j in range(m):
            out[i, j] *= inv
    return out


@njit(parallel=True, fastmath=True)
def layer_norm(x, gamma, beta):
    n, m = x.shape
    out = np.empty_like(x)
    for i in prange(n):
        total = _F(0.0)
        for j in range(m):
            total += x[i, j]
        mean = total / _F(m)
        sq = _F(0.0)
        for j in range(m):
            d = x[i, j] - mean
            sq += d * d
        inv = _ONE / np.sqrt(sq / _F(m) + _EPS)
        for j in range(m):
            out[i, j] = (x[i, j] - mean) * inv * gamma[j] + beta[j]
    return out


@njit(parallel=True, fastmath=True)
def rotary(x, pos, inv_freq):
    n, d = x.shape
    half = d // 2
    out = np.empty_like(x)
    for i in prange(n):
        for j in range(half):
            a = pos[i] * inv_freq[j]
            c, s = np.cos(a), np.sin(a)
            x1, x2 = x[i, j], x[i, j + half]
            out[i, j] = x1 * c - x2 * s
            out[i, j + half] = x1 * s + x2 * c
    return out


@njit(parallel=True, fastmath=True)
def mm_relu(a, b):
    n, k = a.shape
    m = b.shape[1]
    out = np.zeros((n, m), a.dtype)
    for i in prange(n):
        for p in range(k):
            v = a[i, p]
            for j in range(m):
                out[i, j] += v * b[p, j]
        for j in range(m):
            out[i, j] = max(out[i, j], _F(0.0))
    return out


@njit(parallel=True, fastmath=True)
def window_sum(a):
    out = np.empty(a.size - 2, a.dtype)
    for i in prange(a.size - 2):
        out[i] = a[i] + a[i + 1] + a[i + 2]
    return out


@njit(parallel=True, fastmath=True)
def conv2d_pad1(x, w):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h, wd), x.dtype)
    for f in prange(o):
        for b in range(n):
            for ch in range(c):
                for dy in range(kh):
                    for dx in range(kw):
                        wv = w[f, ch, dy, dx]
                        for y in range(h):
                            sy = y + dy - 1
                            if 0 <= sy < h:
                                for xx in range(wd):
                                    sx = xx + dx - 1
                                    if 0 <= sx < wd:
                                        out[b, f, y, xx] += wv * x[b, ch, sy, sx]
    return out


@njit
def add(a, b):
    return a + b


@njit(fastmath=True)
def _erf(x):
    a = abs(x)
    t = 1.0 / (1.0 + ERF_P * a)
    a1, a2, a3, a4, a5 = ERF_A
    y = 1.0 - ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t * math.exp(-(a * a))
    return -y if x < 0 else y


@njit(parallel=True, fastmath=True)
def black_scholes(S, K, T, r, sigma):
    out = np.empty_like(S)
    for i in prange(S.size):
        vol = sigma * math.sqrt(T[i])
        d1 = (math.log(S[i] / K[i]) + (r + 0.5 * sigma * sigma) * T[i]) / vol
        d2 = d1 - vol
        cdf1 = 0.5 * (1.0 + _erf(d1 * 0.7071067811865476))
        cdf2 = 0.5 * (1.0 + _erf(d2 * 0.7071067811865476))
        out[i] = S[i] * cdf1 - K[i] * math.exp(-r * T[i]) * cdf2
    return out


@njit
def sort(x):
    return np.sort(x)


@njit
def cumsum(x):
    return np.cumsum(x)
