"""Neural-network ops: activations, softmax, log_softmax, layer norm, dense.

Names are prefixed ``nn.`` (convolution and pooling live in :mod:`.conv`).
Integer inputs to float math compute in the float dtype NumPy's ``exp``
would use (int32 -> float64); float16 data accumulates in float32.

Lowerings are split into the stages a schedule wants; softmax is a max
stage, an exp stage, a sum stage and a normalising stage:

>>> from mlc import te
>>> from mlc.ops import get_op
>>> x = te.placeholder((4, 10), "float32", "x")
>>> y = get_op("nn.softmax").lower(x, axis=-1)
>>> y.shape, sorted(t.name for t in y.op.inputs)
((4, 10), ['T_softmax_exp', 'T_softmax_sum'])
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import expr as _e
from ...ir import te
from ..registry import TensorType, register_op
from ._common import (np_erf, np_sigmoid, accumulate_dtype, check_ndim, contract, float_dtype, lowest, normalize_axes,
                      reduce_compute, result_type, zero)
from .reduce import count_value, kept_indices, moments, reduce_over

__all__ = ["check_attrs"]


def _float_unary(name, fn, reference, doc, **defaults):
    """An activation computed in the float dtype of its input."""
    def infer(x: TensorType, **attrs) -> TensorType:
        check_attrs(name, attrs, defaults)
        return TensorType(x.shape, float_dtype(name, x.dtype))

    def lower(x, **attrs):
        attrs = check_attrs(name, attrs, defaults)
        out = float_dtype(name, x.dtype)
        acc = accumulate_dtype(out)
        return te.compute(x.shape, lambda *i: _e.cast(fn(_e.cast(x[i], acc), **attrs), out),
                          name=f"T_{name.replace('.', '_')}")

    def ref(x, **attrs):
        attrs = check_attrs(name, attrs, defaults)
        out = float_dtype(name, x.dtype.name)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(reference(x.astype(accumulate_dtype(out)), **attrs)).astype(out)

    register_op(name, pattern="elemwise", infer=infer, lower=lower, reference=ref, doc=doc)


def check_attrs(name, attrs, defaults):
    """``attrs`` over ``defaults``; ShapeError for unknown names or a bad ``approximate``."""
    unknown = set(attrs) - set(defaults)
    if unknown:
        raise ShapeError(f"{name}: unknown attribute(s) {sorted(unknown)}; expected {sorted(defaults)}")
    out = dict(defaults) | attrs
    if "approximate" in out and out["approximate"] not in ("none", "tanh"):
        raise ShapeError(f"{name}: approximate must be 'none' or 'tanh', got {out['approximate']!r}")
    return out


# ------------------------------------------------------------------ activations

def _relu_infer(x: TensorType) -> TensorType:
    if x.dtype == "bool":
        raise DTypeError("nn.relu: bool input has no negative part; cast it to a number first")
    return TensorType(x.shape, x.dtype)


def _relu_lower(x):
    _relu_infer(x)
    return te.compute(x.shape, lambda *i: _e.max(x[i], _e.const(0, x.dtype)), name="T_relu")


register_op("nn.relu", pattern="elemwise", infer=_relu_infer, lower=_relu_lower,
            reference=lambda x: np.maximum(x, np.zeros((), x.dtype)),
            doc="``max(x, 0)`` in the input dtype (NaN stays NaN).")

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu(v, approximate):
    half, one = _e.const(0.5, v.dtype), _e.const(1, v.dtype)
    if approximate == "tanh":
        inner = _e.const(_SQRT_2_OVER_PI, v.dtype) * (v + _e.const(0.044715, v.dtype) * v * v * v)
        return half * v * (one + _e.tanh(inner))
    return half * v * (one + _e.erf(v * _e.const(1 / math.sqrt(2), v.dtype)))


def _gelu_reference(x, approximate):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))
    return (0.5 * x * (1 + np_erf(x / math.sqrt(2)))).astype(x.dtype)


def _silu_reference(x):
    return x * np_sigmoid(x)


_float_unary("nn.gelu", _gelu, _gelu_reference,
             "GELU: ``x * Phi(x)`` (``approximate='none'``, erf) or the tanh approximation.",
             approximate="none")
_float_unary("nn.silu", lambda v: v * _e.sigmoid(v), _silu_reference, "SiLU / swish: ``x * sigmoid(x)``.")


# ------------------------------------------------------------------ softmax / log_softmax

def _softmax_parts(x, axes, acc):
    """(the rows' max, ``exp(x - max)``, the rows' sum of it, keep): softmax's first stages,
    ``keep(i)`` the index of the row statistic of element ``i``."""
    kept = tuple(1 if d in axes else n for d, n in enumerate(x.shape))

    def keep(i):
        return kept_indices(i, axes, True)

    m = reduce_over(x, axes, True, kept, acc, te.max, lowest, "T_softmax_max")
    e = te.compute(x.shape, lambda *i: _e.exp(_e.cast(x[i], acc) - m[keep(i)]), name="T_softmax_exp")
    s = reduce_over(e, axes, True, kept, acc, te.sum, zero, "T_softmax_sum")
    return m, e, s, keep


def _softmax_stages(x, axes, out, log):
    m, e, s, keep = _softmax_parts(x, axes, accumulate_dtype(out))
    acc = accumulate_dtype(out)
    if log:
        return te.compute(x.shape, lambda *i: _e.cast(_e.cast(x[i], acc) - m[keep(i)] - _e.log(s[keep(i)]), out),
                          name="T_log_softmax")
    return te.compute(x.shape, lambda *i: _e.cast(e[i] / s[keep(i)], out), name="T_softmax")


def _softmax_op(name, log):
    def infer(x: TensorType, *, axis=-1) -> TensorType:
        normalize_axes(name, axis, x.ndim)
        return TensorType(x.shape, float_dtype(name, x.dtype))

    def lower(x, *, axis=-1):
        return _softmax_stages(x, normalize_axes(name, axis, x.ndim), float_dtype(name, x.dtype), log)

    def reference(x, *, axis=-1):
        out = float_dtype(name, x.dtype.name)
        # (the steps in place on the one array made, where they can be: a pass each, few temporaries)
        v = x.astype(accumulate_dtype(out), copy=False)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            shifted = v - np.max(v, axis=axis, keepdims=True, initial=-np.inf)  # initial: an empty axis
            if log:
                shifted -= np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
            else:
                np.exp(shifted, out=shifted)
                shifted /= np.sum(shifted, axis=axis, keepdims=True)
        return shifted.astype(out, copy=False)

    register_op(name, pattern="opaque", infer=infer, lower=lower, reference=reference,
                doc=f"{'log(softmax)' if log else 'softmax'} over ``axis`` (int or tuple), "
                    "stable: the max is subtracted first.")


_softmax_op("nn.softmax", False)
_softmax_op("nn.log_softmax", True)


def _softmax_vjp_infer(x: TensorType, ct: TensorType, *, axis=-1) -> TensorType:
    normalize_axes("nn.softmax_vjp", axis, x.ndim)
    out = float_dtype("nn.softmax_vjp", x.dtype)
    if tuple(ct.shape) != tuple(x.shape) or ct.dtype != out:
        raise ShapeError(f"nn.softmax_vjp: the cotangent must be {out}{list(x.shape)} like softmax(x), got "
                         f"{ct.dtype}{list(ct.shape)}")
    return TensorType(x.shape, out)


def _softmax_vjp_lower(x, ct, *, axis=-1):
    """softmax's stages, then ``y * (ct - sum(ct * y))``: row by row in one kernel, ``y`` never
    stored (softmax's own result is not an operand, so a gradient reads ``x`` and ``ct`` once).
    ``sum(ct * y)`` is taken as ``sum(ct * e) / sum(e)`` with ``e = exp(x - max)``: the two sums
    are siblings, which the CPU row rule computes in one pass over the row."""
    out = float_dtype("nn.softmax_vjp", x.dtype)
    axes = normalize_axes("nn.softmax_vjp", axis, x.ndim)
    acc = accumulate_dtype(out)
    kept = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    _, e, s, keep = _softmax_parts(x, axes, acc)
    dot = reduce_over(ct, axes, True, kept, acc, te.sum, zero, "T_softmax_vjp_dot",
                      fn=lambda v, i: _e.cast(v, acc) * e[i])
    mean = te.compute(kept, lambda *k: dot[k] / s[k], name="T_softmax_vjp_mean")
    return te.compute(x.shape, lambda *i: _e.cast(e[i] / s[keep(i)] * (_e.cast(ct[i], acc) - mean[keep(i)]), out),
                      name="T_softmax_vjp")


def _softmax_vjp_reference(x, ct, *, axis=-1):
    out = float_dtype("nn.softmax_vjp", x.dtype.name)
    # (y * (c - sum(c * y)) with the steps in place on the two arrays made: a pass each)
    v = x.astype(accumulate_dtype(out), copy=False)
    y = v - np.max(v, axis=axis, keepdims=True)
    np.exp(y, out=y)
    y /= np.sum(y, axis=axis, keepdims=True)
    c = ct.astype(y.dtype, copy=False)
    r = c * y
    dot = np.sum(r, axis=axis, keepdims=True)
    np.subtract(c, dot, out=r)
    r *= y
    return r.astype(out, copy=False)


register_op("nn.softmax_vjp", pattern="opaque", infer=_softmax_vjp_infer, lower=_softmax_vjp_lower,
            reference=_softmax_vjp_reference,
            doc="softmax's VJP from its input: ``y * (ct - sum(ct * y))`` with ``y = softmax(x)`` over "
                "``axis`` recomputed row by row in the kernel (a gradient reads x and ct once).")


# ------------------------------------------------------------------ layer_norm

def _layer_norm_signature(x, gamma, beta, axis, eps):
    axes = normalize_axes("nn.layer_norm", axis, x.ndim)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0:
        raise ShapeError(f"nn.layer_norm: eps must be a non-negative float, got {eps!r}")
    norm_shape = tuple(x.shape[a] for a in axes)
    for arg, t in (("gamma", gamma), ("beta", beta)):
        if tuple(t.shape) != norm_shape:
            raise ShapeError(f"nn.layer_norm: {arg} must have shape {norm_shape} (the normalised axes "
                             f"{axes} of x {tuple(x.shape)}), got {tuple(t.shape)}")
    out = float_dtype("nn.layer_norm", result_type(x.dtype, gamma.dtype, beta.dtype, op="nn.layer_norm"))
    return axes, out


def _layer_norm_infer(x, gamma, beta, *, axis=-1, eps=1e-5) -> TensorType:
    return TensorType(x.shape, _layer_norm_signature(x, gamma, beta, axis, eps)[1])


def _layer_norm_lower(x, gamma, beta, *, axis=-1, eps=1e-5):
    """mean and squared-deviation stages (two-pass), rstd, then one normalise-scale-shift stage."""
    axes, out = _layer_norm_signature(x, gamma, beta, axis, eps)
    acc = accumulate_dtype(out)
    mean, squares, count = moments(x, axes, acc, "T_layer_norm")
    rstd = te.compute(mean.shape, lambda *i: _e.rsqrt(squares[i] / count_value(count, acc) + _e.const(eps, acc)),
                      name="T_layer_norm_rstd")

    def element(*i):
        p = tuple(i[a] for a in axes)
        k = kept_indices(i, axes, True)
        norm = (_e.cast(x[i], acc) - mean[k]) * rstd[k]
        return _e.cast(norm * _e.cast(gamma[p], acc) + _e.cast(beta[p], acc), out)

    return te.compute(x.shape, element, name="T_layer_norm")


def _layer_norm_reference(x, gamma, beta, *, axis=-1, eps=1e-5):
    # (NumPy's formula, each step in place on the one deviation array it makes: a pass per step
    # and no other temporary than the squares)
    axes, out = _layer_norm_signature(x, gamma, beta, axis, eps)
    v = x.astype(accumulate_dtype(out), copy=False)
    mean = v.mean(axis=axes, keepdims=True)
    d = v - mean
    var = np.square(d).mean(axis=axes, keepdims=True)
    shape = [n if a in axes else 1 for a, n in enumerate(x.shape)]
    with np.errstate(divide="ignore", invalid="ignore"):
        d /= np.sqrt(var + eps)
    r = d.astype(np.result_type(d.dtype, gamma.dtype, beta.dtype), copy=False)
    r *= gamma.reshape(shape)
    r += beta.reshape(shape)
    return r.astype(out, copy=False)


register_op("nn.layer_norm", pattern="opaque", infer=_layer_norm_infer, lower=_layer_norm_lower,
            reference=_layer_norm_reference,
            doc="``(x - mean) / sqrt(var + eps) * gamma + beta`` over ``axis`` (biased variance).")


# ------------------------------------------------------------------ layer_norm's backward

def _layer_norm_vjp_infer(x: TensorType, gamma: TensorType, ct: TensorType, *, eps=1e-5, parts=1):
    if x.ndim != 2 or tuple(ct.shape) != tuple(x.shape) or tuple(gamma.shape) != (x.shape[1],):
        raise ShapeError(f"nn.layer_norm_vjp: x and ct must be matrices of one shape, gamma a row, got "
                         f"{tuple(x.shape)}, {tuple(ct.shape)} and {tuple(gamma.shape)}")
    if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1 or x.shape[0] % parts:
        raise ShapeError(f"nn.layer_norm_vjp: parts must be a positive integer dividing x's {x.shape[0]} rows, "
                         f"got {parts!r}; pick a divisor of the row count (1 always is one)")
    out = float_dtype("nn.layer_norm_vjp", result_type(x.dtype, gamma.dtype, ct.dtype, op="nn.layer_norm_vjp"))
    part = TensorType((parts, x.shape[1]), out)
    return TensorType(tuple(x.shape), out), part, part


def _layer_norm_vjp_lower(x, gamma, ct, *, eps=1e-5, parts=1):
    """Row statistics as ``[n]`` vectors, dx row by row, and the column sums of gamma's and
    beta's gradients over each of ``parts`` blocks of consecutive rows, ``(parts, m)``: the CPU
    schedule (``schedule_row_parts``) runs the parts in parallel and, in a part, row after row
    every stage of the row (from L1), adding the row's terms to the part's column sums. The
    stages that do not depend on one another share a pass over the row (``row_passes``): the
    sums of x and of ct * gamma; then the sums of ct * gamma * (x - mean) and of the squares;
    then, for a few rows side by side (``row_jam``), dx and gamma's and beta's terms."""
    dx_t, _, _ = _layer_norm_vjp_infer(x, gamma, ct, eps=eps, parts=parts)
    out = dx_t.dtype
    acc = accumulate_dtype(out)
    n, m = x.shape
    rows = n // parts

    def xv(i, j):
        return _e.cast(x[i, j], acc)

    def cv(i, j):
        return _e.cast(ct[i, j], acc)

    def gv(i, j):
        return cv(i, j) * _e.cast(gamma[j], acc)

    count = _e.const(m, acc)
    total = reduce_compute((n,), (m,), lambda i, k: xv(i[0], k[0]), te.sum, zero, "T_lnv_sum", acc)
    mean = te.compute((n,), lambda i: total[i] / count, name="T_lnv_mean", tag=te.KEEP_TAG)

    def deviation(i, j):
        return xv(i, j) - mean[i]

    squares = reduce_compute((n,), (m,), lambda i, k: deviation(i[0], k[0]) * deviation(i[0], k[0]),
                             te.sum, zero, "T_lnv_sq", acc)
    rstd = te.compute((n,), lambda i: _e.rsqrt(squares[i] / count + _e.const(eps, acc)), name="T_lnv_rstd")
    sg = reduce_compute((n,), (m,), lambda i, k: gv(i[0], k[0]), te.sum, zero, "T_lnv_g", acc)
    sgd = reduce_compute((n,), (m,), lambda i, k: gv(i[0], k[0]) * deviation(i[0], k[0]), te.sum, zero,
                         "T_lnv_gd", acc)
    # dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with xhat = (x - mean) * rstd, as
    # fma(rstd, g, fma(xhat, slope, shift)): the row's factors once, and with xhat (which gamma's
    # terms share) five operations an element
    slope = te.compute((n,), lambda i: -(rstd[i] * rstd[i] * (sgd[i] / count)), name="T_lnv_slope",
                       tag=te.KEEP_TAG)
    shift = te.compute((n,), lambda i: -(rstd[i] * (sg[i] / count)), name="T_lnv_shift", tag=te.KEEP_TAG)

    def xhat(i, j):
        return deviation(i, j) * rstd[i]

    dx = te.compute((n, m), lambda i, j: _e.cast(
        _e.fma(rstd[i], gv(i, j), _e.fma(xhat(i, j), slope[i], shift[i])), out), name="T_lnv_dx")

    def row(p, q):
        return p * rows + q

    dgamma = reduce_compute((parts, m), (rows,), lambda i, k: cv(row(i[0], k[0]), i[1]) * xhat(row(i[0], k[0]), i[1]),
                            te.sum, zero, "T_lnv_dgamma", acc)
    # (* (0 * the row's mean + 1): a column sum reads a result of the row's first stages, which the
    # CPU schedule follows to put it under the row loop; a product the sum adds is one FMA, and the
    # factor, the same for the whole row, is computed once a row. Exact for finite x, and a row with
    # an infinite or NaN element has a NaN dx anyway)
    dbeta = reduce_compute((parts, m), (rows,), lambda i, k: cv(row(i[0], k[0]), i[1])
                           * (mean[row(i[0], k[0])] * _e.const(0, acc) + _e.const(1, acc)), te.sum, zero,
                           "T_lnv_dbeta", acc)
    if acc != out:
        dgamma = te.compute((parts, m), lambda *i: _e.cast(dgamma[i], out), name="T_lnv_dgamma_cast")
        dbeta = te.compute((parts, m), lambda *i: _e.cast(dbeta[i], out), name="T_lnv_dbeta_cast")
    return dx, dgamma, dbeta


def _layer_norm_vjp_reference(x, gamma, ct, *, eps=1e-5, parts=1):
    # rstd * (g - mean(g) - xhat * mean(g * xhat)), g = ct * gamma, xhat = (x - mean) * rstd, with
    # NumPy's operations in that order, written into the arrays the function makes (xhat, g and
    # one scratch array): a pass per step, no other temporary
    out = float_dtype("nn.layer_norm_vjp", np.result_type(x.dtype, gamma.dtype, ct.dtype).name)
    acc = accumulate_dtype(out)
    v, c = x.astype(acc, copy=False), ct.astype(acc, copy=False)
    xhat = v - v.mean(axis=1, keepdims=True)
    scratch = np.square(xhat)
    rstd = 1 / np.sqrt(scratch.mean(axis=1, keepdims=True) + eps)
    xhat *= rstd
    g = c * gamma
    spare = scratch if scratch.dtype == np.result_type(g, xhat) else None
    g_xhat = np.multiply(g, xhat, out=spare).mean(axis=1, keepdims=True)
    g -= g.mean(axis=1, keepdims=True)
    g -= np.multiply(xhat, g_xhat, out=spare)
    g *= rstd
    n, m = x.shape
    dgamma = np.multiply(c, xhat, out=scratch).reshape(parts, n // parts, m).sum(axis=1)
    dbeta = c.reshape(parts, n // parts, m).sum(axis=1)
    return g.astype(out, copy=False), dgamma.astype(out, copy=False), dbeta.astype(out, copy=False)


register_op("nn.layer_norm_vjp", pattern="opaque", infer=_layer_norm_vjp_infer, lower=_layer_norm_vjp_lower,
            reference=_layer_norm_vjp_reference, num_outputs=3,
            doc="layer_norm's VJP over the last axis of a matrix, from its input: dx, and gamma's and beta's "
                "gradients summed over each of ``parts`` blocks of consecutive rows (``(parts, m)`` each), in "
                "one kernel that reads x and ct once (the CPU schedule: parts in parallel, a part row by row).")


# ------------------------------------------------------------------ dense

def _dense_infer(x: TensorType, w: TensorType) -> TensorType:
    if x.ndim < 1:
        raise ShapeError(f"nn.dense: x must have at least 1 dimension, got shape {tuple(x.shape)}")
    check_ndim("nn.dense", "weight (out_features, in_features)", w.shape, 2)
    if x.shape[-1] != w.shape[1]:
        raise ShapeError(f"nn.dense: x has {x.shape[-1]} features (last axis of {tuple(x.shape)}) but "
                         f"weight {tuple(w.shape)} expects {w.shape[1]}")
    dtype = result_type(x.dtype, w.dtype, op="nn.dense")
    if dtype == "bool":
        raise DTypeError("nn.dense: bool operands are not supported; use matmul")
    return TensorType(tuple(x.shape[:-1]) + (w.shape[0],), dtype)


def _dense_lower(x, w):
    """``y[..., n] = sum_k x[..., k] * w[n, k]`` (``x @ w.T``) in one reduction."""
    out = _dense_infer(x, w)
    return contract(out.shape, [x.shape[-1]],
                    lambda idx, ks: (x[tuple(idx[:-1]) + (ks[0],)], w[idx[-1], ks[0]]), out.dtype, "T_dense")


register_op("nn.dense", pattern="out_elemwise_fusable", infer=_dense_infer, lower=_dense_lower,
            reference=lambda x, w: np.asarray(np.matmul(x, w.T)),
            doc="``x @ w.T`` with w of shape (out_features, in_features), as torch.nn.Linear.")
