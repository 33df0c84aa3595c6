"""Neural-network ops: activations, softmax, layer norm, conv2d, pooling, dense.

Names are prefixed ``nn.``. Layouts follow PyTorch: conv2d takes NCHW input
and OIHW weight; pools take NCHW. Integer inputs to float math compute in
the float dtype NumPy's ``exp`` would use (int32 -> float64); float16 data
accumulates in float32.

Lowerings are split into the stages a schedule wants: a padded-input stage
feeding one reduction for conv2d and pools; max, exp-sum and normalise
stages for softmax:

>>> from mlc import te
>>> from mlc.ops import get_op
>>> x = te.placeholder((1, 3, 8, 8), "float32", "x"); w = te.placeholder((4, 3, 3, 3), "float32", "w")
>>> y = get_op("nn.conv2d").lower(x, w, padding=1)
>>> y.shape, [iv.dom.extent.value for iv in y.op.reduce_axis]
((1, 4, 8, 8), [3, 3, 3])
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ..registry import TensorType, register_op
from ._common import (check_int_attr, check_ndim, float_dtype, normalize_axes,
                      reduce_compute, result_type)

__all__ = ["conv2d_shape", "pool2d_shape"]


def _c(v: int):
    return _e.const(v, dt.INDEX)


def _acc(dtype: str) -> str:
    return "float32" if dtype == "float16" else dtype


def _lowest(dtype: str):
    return _e.const(-np.inf, dtype) if dt.is_float(dtype) else _e.const(int(np.iinfo(dtype).min), dtype)


def _float_unary(name, fn, reference, doc, **defaults):
    """An activation computed in the float dtype of its input."""
    def infer(x: TensorType, **attrs) -> TensorType:
        _check_attrs(name, attrs, defaults)
        return TensorType(x.shape, float_dtype(name, x.dtype))

    def lower(x, **attrs):
        attrs = _check_attrs(name, attrs, defaults)
        out = float_dtype(name, x.dtype)
        acc = _acc(out)
        return te.compute(x.shape, lambda *i: _e.cast(fn(_e.cast(x[i], acc), **attrs), out),
                          name=f"T_{name.replace('.', '_')}")

    def ref(x, **attrs):
        attrs = _check_attrs(name, attrs, defaults)
        out = float_dtype(name, x.dtype.name)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(reference(x.astype(_acc(out)), **attrs)).astype(out)

    register_op(name, pattern="elemwise", infer=infer, lower=lower, reference=ref, doc=doc)


def _check_attrs(name, attrs, defaults):
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
    from scipy.special import erf
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def _silu_reference(x):
    from scipy.special import expit
    return x * expit(x)


_float_unary("nn.gelu", _gelu, _gelu_reference,
             "GELU: ``x * Phi(x)`` (``approximate='none'``, erf) or the tanh approximation.",
             approximate="none")
_float_unary("nn.silu", lambda v: v * _e.sigmoid(v), _silu_reference, "SiLU / swish: ``x * sigmoid(x)``.")


# ------------------------------------------------------------------ softmax / log_softmax

def _softmax_stages(x, axes, out, log):
    acc = _acc(out)
    kept = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    extents = [x.shape[a] for a in axes]

    def reduced(idx, ks):
        it = iter(ks)
        return tuple(next(it) if d in axes else i for d, i in enumerate(idx))

    def keep(i):
        return tuple(_c(0) if d in axes else v for d, v in enumerate(i))

    m = reduce_compute(kept, extents, lambda idx, ks: _e.cast(x[reduced(idx, ks)], acc),
                       te.max, _lowest, "T_softmax_max", acc)
    e = te.compute(x.shape, lambda *i: _e.exp(_e.cast(x[i], acc) - m[keep(i)]), name="T_softmax_exp")
    s = reduce_compute(kept, extents, lambda idx, ks: e[reduced(idx, ks)], te.sum,
                       lambda d: _e.const(0, d), "T_softmax_sum", acc)
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
        v = x.astype(_acc(out))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            shifted = v - np.max(v, axis=axis, keepdims=True)
            total = np.sum(np.exp(shifted), axis=axis, keepdims=True)
            r = shifted - np.log(total) if log else np.exp(shifted) / total
        return r.astype(out)

    register_op(name, pattern="opaque", infer=infer, lower=lower, reference=reference,
                doc=f"{'log(softmax)' if log else 'softmax'} over ``axis`` (int or tuple), "
                    "stable: the max is subtracted first.")


_softmax_op("nn.softmax", False)
_softmax_op("nn.log_softmax", True)


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
    """mean and variance stages (two-pass), then one normalise-scale-shift stage."""
    axes, out = _layer_norm_signature(x, gamma, beta, axis, eps)
    acc = _acc(out)
    kept = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    extents = [x.shape[a] for a in axes]
    count = math.prod(extents)

    def reduced(idx, ks):
        it = iter(ks)
        return tuple(next(it) if d in axes else i for d, i in enumerate(idx))

    def keep(i):
        return tuple(_c(0) if d in axes else v for d, v in enumerate(i))

    total = reduce_compute(kept, extents, lambda idx, ks: _e.cast(x[reduced(idx, ks)], acc), te.sum,
                           lambda d: _e.const(0, d), "T_layer_norm_sum", acc)
    mean = te.compute(kept, lambda *i: total[i] / _e.const(count, acc), name="T_layer_norm_mean")

    def sq(idx, ks):
        d = _e.cast(x[reduced(idx, ks)], acc) - mean[idx]
        return d * d

    var = reduce_compute(kept, extents, sq, te.sum, lambda d: _e.const(0, d), "T_layer_norm_var", acc)
    rstd = te.compute(kept, lambda *i: _e.rsqrt(var[i] / _e.const(count, acc) + _e.const(eps, acc)),
                      name="T_layer_norm_rstd")

    def element(*i):
        p = tuple(i[a] for a in axes)
        norm = (_e.cast(x[i], acc) - mean[keep(i)]) * rstd[keep(i)]
        return _e.cast(norm * _e.cast(gamma[p], acc) + _e.cast(beta[p], acc), out)

    return te.compute(x.shape, element, name="T_layer_norm")


def _layer_norm_reference(x, gamma, beta, *, axis=-1, eps=1e-5):
    axes, out = _layer_norm_signature(x, gamma, beta, axis, eps)
    v = x.astype(_acc(out))
    mean = v.mean(axis=axes, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=axes, keepdims=True)
    shape = [n if d in axes else 1 for d, n in enumerate(x.shape)]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (v - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)
    return r.astype(out)


register_op("nn.layer_norm", pattern="opaque", infer=_layer_norm_infer, lower=_layer_norm_lower,
            reference=_layer_norm_reference,
            doc="``(x - mean) / sqrt(var + eps) * gamma + beta`` over ``axis`` (biased variance).")


# ------------------------------------------------------------------ conv2d / pooling

def _pair(op, name, value, minimum):
    items = value if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise ShapeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return tuple(check_int_attr(op, name, v, minimum) for v in items)


def _padding(op, value):
    """(top, left, bottom, right) from an int, (h, w) or (top, left, bottom, right)."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    if len(items) not in (1, 2, 4):
        raise ShapeError(f"{op}: padding must be an int, (h, w) or (top, left, bottom, right), got {value!r}")
    items = [check_int_attr(op, "padding", v, 0) for v in items]
    if len(items) == 1:
        items *= 4
    elif len(items) == 2:
        items = items * 2
    return tuple(items)


def _window_out(op, size, pad, kernel, stride, dilation, dim):
    span = dilation * (kernel - 1) + 1
    if size + pad < span:
        raise ShapeError(f"{op}: the {dim} window ({span} after dilation) is larger than the padded "
                         f"input ({size + pad}); use a smaller kernel or more padding")
    return (size + pad - span) // stride + 1


def conv2d_shape(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1):
    """Output shape of :func:`nn.conv2d` (NCHW input, OIHW weight)."""
    op = "nn.conv2d"
    check_ndim(op, "input (NCHW)", x_shape, 4)
    check_ndim(op, "weight (OIHW)", w_shape, 4)
    groups = check_int_attr(op, "groups", groups, 1)
    (sh, sw), (dh, dw) = _pair(op, "stride", stride, 1), _pair(op, "dilation", dilation, 1)
    top, left, bottom, right = _padding(op, padding)
    n, c, h, w = x_shape
    o, i, kh, kw = w_shape
    if c % groups or o % groups:
        raise ShapeError(f"{op}: groups={groups} must divide the input channels ({c}) and output "
                         f"channels ({o})")
    if i != c // groups:
        raise ShapeError(f"{op}: weight {tuple(w_shape)} expects {i} input channels per group but input "
                         f"{tuple(x_shape)} has {c} channels in {groups} group(s) ({c // groups} each)")
    oh = _window_out(op, h, top + bottom, kh, sh, dh, "height")
    ow = _window_out(op, w, left + right, kw, sw, dw, "width")
    return (n, o, oh, ow)


def _pad_stage(x, pads, fill, name):
    """A padded copy of an NCHW tensor (the input itself when there is no padding)."""
    top, left, bottom, right = pads
    if not any(pads):
        return x
    n, c, h, w = x.shape

    def element(b, ch, y, z):
        inside = _e.logical_and(_e.logical_and(y >= _c(top), y < _c(top + h)),
                                _e.logical_and(z >= _c(left), z < _c(left + w)))
        return _e.select(inside, x[b, ch, y - _c(top), z - _c(left)], fill)

    return te.compute((n, c, h + top + bottom, w + left + right), element, name=name)


def _conv2d_infer(x, w, *, stride=1, padding=0, dilation=1, groups=1):
    shape = conv2d_shape(x.shape, w.shape, stride, padding, dilation, groups)
    return TensorType(shape, result_type(x.dtype, w.dtype, op="nn.conv2d"))


def _conv2d_lower(x, w, *, stride=1, padding=0, dilation=1, groups=1):
    """Padded-input stage, then ``sum over (ic, kh, kw)`` of ``pad * w``."""
    out_type = _conv2d_infer(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    out, acc = out_type.dtype, _acc(out_type.dtype)
    (sh, sw), (dh, dw) = _pair("", "", stride, 1), _pair("", "", dilation, 1)
    pad = _pad_stage(x, _padding("nn.conv2d", padding), _e.const(0, x.dtype), "T_conv2d_pad")
    o, icg, kh, kw = w.shape
    ocg = o // groups

    def body(idx, ks):
        b, oc, y, z = idx
        ic, ry, rx = ks
        ch = ic if groups == 1 else _e.floordiv(oc, _c(ocg)) * _c(icg) + ic
        a = _e.cast(pad[b, ch, y * _c(sh) + ry * _c(dh), z * _c(sw) + rx * _c(dw)], acc)
        v = _e.cast(w[oc, ic, ry, rx], acc)
        return _e.logical_and(a, v) if acc == "bool" else a * v

    reducer = te.comm_reducer(_e.logical_or, lambda t: _e.const(False, t), "any") if acc == "bool" else te.sum
    c = reduce_compute(out_type.shape, [icg, kh, kw], body, reducer, lambda d: _e.const(0, d), "T_conv2d", acc)
    if acc == out:
        return c
    return te.compute(out_type.shape, lambda *i: _e.cast(c[i], out), name="T_conv2d_cast")


def _conv2d_reference(x, w, *, stride=1, padding=0, dilation=1, groups=1):
    out_type = _conv2d_infer(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    (sh, sw), (dh, dw) = _pair("", "", stride, 1), _pair("", "", dilation, 1)
    top, left, bottom, right = _padding("nn.conv2d", padding)
    acc = _acc(out_type.dtype)
    xp = np.pad(x.astype(acc), ((0, 0), (0, 0), (top, bottom), (left, right)))
    o, icg, kh, kw = w.shape
    n, _, oh, ow = out_type.shape
    result = np.zeros(out_type.shape, acc)
    ocg = o // groups
    for g in range(groups):
        xg = xp[:, g * icg:(g + 1) * icg]
        wg = w[g * ocg:(g + 1) * ocg].astype(acc)
        for ry in range(kh):
            for rx in range(kw):
                patch = xg[:, :, ry * dh:ry * dh + sh * (oh - 1) + 1:sh, rx * dw:rx * dw + sw * (ow - 1) + 1:sw]
                result[:, g * ocg:(g + 1) * ocg] += np.einsum("nchw,oc->nohw", patch, wg[:, :, ry, rx])
    return result.astype(out_type.dtype)


register_op("nn.conv2d", pattern="out_elemwise_fusable", infer=_conv2d_infer, lower=_conv2d_lower,
            reference=_conv2d_reference,
            doc="2-D convolution (cross-correlation, as PyTorch): NCHW input, OIHW weight; "
                "stride, padding (int, (h, w) or (top, left, bottom, right)), dilation, groups.")


def pool2d_shape(op, x_shape, kernel, stride=None, padding=0, dilation=1):
    """Output shape of an NCHW pool; ``stride=None`` means the kernel size."""
    check_ndim(op, "input (NCHW)", x_shape, 4)
    kh, kw = _pair(op, "kernel", kernel, 1)
    sh, sw = _pair(op, "stride", kernel if stride is None else stride, 1)
    dh, dw = _pair(op, "dilation", dilation, 1)
    top, left, bottom, right = _padding(op, padding)
    if max(top, bottom) > kh // 2 or max(left, right) > kw // 2:
        raise ShapeError(f"{op}: padding {padding!r} should be at most half the kernel {(kh, kw)}, as in "
                         "PyTorch")
    n, c, h, w = x_shape
    return (n, c, _window_out(op, h, top + bottom, kh, sh, dh, "height"),
            _window_out(op, w, left + right, kw, sw, dw, "width"))


def _pool(name, is_max):
    defaults = dict(stride=None, padding=0, dilation=1) | ({} if is_max else {"count_include_pad": True})

    def signature(x, kernel, attrs):
        attrs = _check_attrs(name, attrs, defaults)
        if x.dtype == "bool":
            raise DTypeError(f"{name}: bool input is not supported; cast it to a number first")
        if not is_max and attrs["dilation"] != 1:
            raise ShapeError(f"{name}: dilation is not supported for average pooling")
        shape = pool2d_shape(name, x.shape, kernel, attrs["stride"], attrs["padding"], attrs["dilation"])
        out = x.dtype if is_max else float_dtype(name, x.dtype)
        return shape, out, attrs

    def infer(x: TensorType, *, kernel, **attrs) -> TensorType:
        shape, out, _ = signature(x, kernel, attrs)
        return TensorType(shape, out)

    def lower(x, *, kernel, **attrs):
        shape, out, attrs = signature(x, kernel, attrs)
        kh, kw = _pair(name, "kernel", kernel, 1)
        sh, sw = _pair(name, "stride", kernel if attrs["stride"] is None else attrs["stride"], 1)
        dh, dw = _pair(name, "dilation", attrs["dilation"], 1)
        pads = _padding(name, attrs["padding"])
        acc = x.dtype if is_max else _acc(out)
        fill = _lowest(x.dtype) if is_max else _e.const(0, x.dtype)
        pad = _pad_stage(x, pads, fill, f"T_{name[3:]}_pad")

        def body(idx, ks):
            b, ch, y, z = idx
            return _e.cast(pad[b, ch, y * _c(sh) + ks[0] * _c(dh), z * _c(sw) + ks[1] * _c(dw)], acc)

        reducer, identity = (te.max, _lowest) if is_max else (te.sum, lambda d: _e.const(0, d))
        r = reduce_compute(shape, [kh, kw], body, reducer, identity, f"T_{name[3:]}", acc)
        if is_max:
            return r
        if attrs["count_include_pad"]:
            return te.compute(shape, lambda *i: _e.cast(r[i] / _e.const(kh * kw, acc), out), name="T_avg_pool2d_div")
        top, left = pads[0], pads[1]
        h, w = x.shape[2:]

        def count(lo_pad, extent, o, stride, k):
            start = o * _c(stride) - _c(lo_pad)
            stop = start + _c(k)
            return _e.min(stop, _c(extent)) - _e.max(start, _c(0))

        return te.compute(shape, lambda b, ch, y, z: _e.cast(
            r[b, ch, y, z] / _e.cast(count(top, h, y, sh, kh) * count(left, w, z, sw, kw), acc), out),
            name="T_avg_pool2d_div")

    def reference(x, *, kernel, **attrs):
        shape, out, attrs = signature(x, kernel, attrs)
        kh, kw = _pair(name, "kernel", kernel, 1)
        sh, sw = _pair(name, "stride", kernel if attrs["stride"] is None else attrs["stride"], 1)
        dh, dw = _pair(name, "dilation", attrs["dilation"], 1)
        top, left, bottom, right = _padding(name, attrs["padding"])
        acc = x.dtype if is_max else np.dtype(_acc(out))
        fill = (-np.inf if dt.is_float(x.dtype.name) else np.iinfo(x.dtype).min) if is_max else 0
        xp = np.pad(x.astype(acc), ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
        valid = np.pad(np.ones(x.shape[2:]), ((top, bottom), (left, right)))
        oh, ow = shape[2:]
        windows, counts = [], []
        for ry in range(kh):
            for rx in range(kw):
                rows = slice(ry * dh, ry * dh + sh * (oh - 1) + 1, sh)
                cols = slice(rx * dw, rx * dw + sw * (ow - 1) + 1, sw)
                windows.append(xp[:, :, rows, cols])
                counts.append(valid[rows, cols])
        stacked = np.stack(windows)
        if is_max:
            return stacked.max(axis=0)
        total = stacked.sum(axis=0)
        divisor = kh * kw if attrs["count_include_pad"] else np.sum(counts, axis=0)
        return (total / divisor).astype(out)

    register_op(name, pattern="out_elemwise_fusable", infer=infer,
                lower=lower, reference=reference,
                doc=f"2-D {'max' if is_max else 'average'} pooling over NCHW windows: kernel, stride "
                    f"(default: kernel), padding{'' if is_max else ', count_include_pad (PyTorch default True)'}.")


_pool("nn.max_pool2d", True)
_pool("nn.avg_pool2d", False)


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
    out_type = _dense_infer(x, w)
    out, acc = out_type.dtype, _acc(out_type.dtype)

    def body(idx, ks):
        return _e.cast(x[tuple(idx[:-1]) + (ks[0],)], acc) * _e.cast(w[idx[-1], ks[0]], acc)

    c = reduce_compute(out_type.shape, [x.shape[-1]], body, te.sum, lambda d: _e.const(0, d), "T_dense", acc)
    if acc == out:
        return c
    return te.compute(out_type.shape, lambda *i: _e.cast(c[i], out), name="T_dense_cast")


register_op("nn.dense", pattern="out_elemwise_fusable", infer=_dense_infer, lower=_dense_lower,
            reference=lambda x, w: np.asarray(np.matmul(x, w.T)),
            doc="``x @ w.T`` with w of shape (out_features, in_features), as torch.nn.Linear.")
