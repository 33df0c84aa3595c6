"""Rules of the nn ops: softmax, log_softmax, layer_norm, conv2d and the pools.

``softmax``'s cotangent is ``y * (g - sum(g * y))`` (one reduction and an
elementwise expression, as the forward is); ``log_softmax``'s is
``g - exp(y) * sum(g)``; ``layer_norm``'s the usual
``rstd * (g' - mean(g') - xhat * mean(g' * xhat))`` with ``g' = g * gamma``.
``conv2d``'s input cotangent is a convolution of the cotangent, spread by the
stride, with the flipped kernel (each group's input and output channels
swapped; at stride 1 the cotangent is only padded, to give x's shape directly),
and its kernel's a convolution of the input with the cotangent as kernel
(stride and dilation swapping roles). A pool's
cotangent goes back through each of its window's offsets: a strided slice of
the padded input, so its adjoint is :func:`~.shape.scatter_slice`; max pooling
shares it among the window's elements equal to the maximum. Where the windows
tile the input (stride = kernel), each element takes its own window's share
elementwise instead.
"""
from __future__ import annotations

import numpy as np

from ..library.conv import _pair, _padding
from ..registry import define_rules
from .core import Composite, apply_op, batch_front, differentiable, is_zero, move_batch_to_front, normalized_axes, ones
from .shape import scatter_slice

__all__: list[str] = []


def _shifted(axis, ndim: int):
    """``axis`` (an int or a tuple) of an ``ndim``-d operand, for the operand with a batch axis in front."""
    return tuple(a + 1 for a in normalized_axes(axis, ndim))


# ------------------------------------------------------------------ softmax

def _softmax_jvp(primals, tangents, out, *, axis=-1):
    t, y = tangents[0], out
    return y * (t - np.sum(t * y, axis=normalized_axes(axis, y.ndim), keepdims=True))


def _softmax_vjp(ct, primals, out, *, axis=-1):
    # from x, not from softmax's result: one kernel recomputes y row by row, and a gradient that
    # does not return softmax's value reads x and ct once (softmax's own kernel is then dead)
    return (apply_op("nn.softmax_vjp", primals[0], ct, axis=axis),)


def _softmax_vjp_composite(x, ct, *, axis=-1):
    """``nn.softmax_vjp`` in other ops (its derivatives and batching)."""
    y = apply_op("nn.softmax", x, axis=axis)
    return y * (ct - np.sum(ct * y, axis=normalized_axes(axis, y.ndim), keepdims=True))


def _log_softmax_jvp(primals, tangents, out, *, axis=-1):
    t = tangents[0]
    return t - np.sum(np.exp(out) * t, axis=normalized_axes(axis, out.ndim), keepdims=True)


def _log_softmax_vjp(ct, primals, out, *, axis=-1):
    return (ct - np.exp(out) * np.sum(ct, axis=normalized_axes(axis, out.ndim), keepdims=True),)


def _axis_batch(name):
    def rule(args, dims, *, axis=-1):
        x = move_batch_to_front(args[0], dims[0])
        return apply_op(name, x, axis=_shifted(axis, x.ndim - 1)), 0
    return rule


# ------------------------------------------------------------------ layer_norm

def _placed(v, shape, axes):
    """``v`` (of the normalised axes' shape) reshaped to broadcast against an array of ``shape``."""
    return np.reshape(v, tuple(n if d in axes else 1 for d, n in enumerate(shape)))


def _normalized(x, axes, eps):
    """(xhat, rstd) of ``x`` over ``axes``. The variance is its own op (which centres ``x``
    itself), so that ``x - mean`` is no value of its own that fusion would have to store."""
    mean = np.mean(x, axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(np.var(x, axis=axes, keepdims=True) + eps)
    return (x - mean) * rstd, rstd


def _layer_norm_jvp(primals, tangents, out, *, axis=-1, eps=1e-5):
    (x, gamma, beta), (tx, tg, tb) = primals, tangents
    axes = normalized_axes(axis, x.ndim)
    xhat, rstd = _normalized(x.astype(out.dtype), axes, eps)
    total = None
    if not is_zero(tx):
        tx = tx.astype(out.dtype)
        dxhat = rstd * (tx - np.mean(tx, axis=axes, keepdims=True)
                        - xhat * np.mean(xhat * tx, axis=axes, keepdims=True))
        total = dxhat * _placed(gamma, x.shape, axes)
    if not is_zero(tg):
        term = xhat * _placed(tg, x.shape, axes)
        total = term if total is None else total + term
    if not is_zero(tb):
        term = np.broadcast_to(_placed(tb, x.shape, axes), x.shape)
        total = term if total is None else total + term
    return total


#: The blocks of consecutive rows whose column sums ``nn.layer_norm_vjp`` keeps apart (the
#: most of these dividing the row count): each is a row of partial sums that one thread adds
#: its rows to, and the rows' parts run in parallel.
PARTS = (16, 8, 4, 2, 1)


def _fused_layer_norm_vjp(ct, x, gamma, out, axes, eps):
    """(dx, dgamma, dbeta) by ``nn.layer_norm_vjp`` (x's rows, the normalised trailing axes flattened,
    in parts whose column sums one kernel computes beside dx), or None where it does not apply."""
    m = int(np.prod([x.shape[a] for a in axes]))
    if axes != tuple(range(x.ndim - len(axes), x.ndim)) or m == 0 or x.size == 0 \
            or not (x.dtype == gamma.dtype == ct.dtype == out.dtype) or not differentiable(x.dtype):
        return None
    n = x.size // m
    parts = next(p for p in PARTS if n % p == 0)
    dx, dg, db = apply_op("nn.layer_norm_vjp", np.reshape(x, (n, m)), np.reshape(gamma, (m,)),
                          np.reshape(ct, (n, m)), eps=float(eps), parts=parts)
    return (np.reshape(dx, x.shape), np.reshape(np.sum(dg, axis=0), gamma.shape),
            np.reshape(np.sum(db, axis=0), gamma.shape))


def _layer_norm_vjp(ct, primals, out, *, axis=-1, eps=1e-5):
    x, gamma, beta = primals
    axes = normalized_axes(axis, x.ndim)
    if differentiable(gamma.dtype) and differentiable(beta.dtype):
        # one kernel: dx row by row, gamma's and beta's column sums part by part beside it
        fused = _fused_layer_norm_vjp(ct, x, gamma, out, axes, eps)
        if fused is not None:
            return fused
    rest = tuple(d for d in range(x.ndim) if d not in axes)
    x = x.astype(out.dtype)
    mean = np.mean(x, axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(np.var(x, axis=axes, keepdims=True) + eps)
    dx = dgamma = dbeta = None
    if differentiable(x.dtype):
        xhat = (x - mean) * rstd
        g = ct * _placed(gamma, x.shape, axes)
        dx = rstd * (g - np.mean(g, axis=axes, keepdims=True) - xhat * np.mean(g * xhat, axis=axes, keepdims=True))
    if differentiable(gamma.dtype):
        # xhat spelled apart (x * rstd - mean * rstd): not one value with dx's, which fusion would
        # store between the kernels; each kernel recomputes it from x and the rows' statistics
        shift = mean * rstd
        dgamma = np.reshape(np.sum(ct * (x * rstd - shift), axis=rest), gamma.shape)
    if differentiable(beta.dtype):
        dbeta = np.reshape(np.sum(ct, axis=rest), beta.shape)
    return dx, dgamma, dbeta


def _layer_norm_vjp_composite(x, gamma, ct, *, eps=1e-5, parts=1):
    """``nn.layer_norm_vjp`` in other ops (its derivatives and batching)."""
    mean = np.mean(x, axis=1, keepdims=True)
    rstd = 1 / np.sqrt(np.var(x, axis=1, keepdims=True) + eps)
    xhat = (x - mean) * rstd
    g = ct * gamma
    dx = rstd * (g - np.mean(g, axis=1, keepdims=True) - xhat * np.mean(g * xhat, axis=1, keepdims=True))
    rows, m = x.shape[0] // parts, x.shape[1]
    dgamma = np.sum(np.reshape(ct * xhat, (parts, rows, m)), axis=1)
    dbeta = np.sum(np.reshape(ct, (parts, rows, m)), axis=1)
    return dx, dgamma, dbeta


def _layer_norm_batch(args, dims, *, axis=-1, eps=1e-5):
    (x, gamma, beta), (dx, dg, db) = args, dims
    if dg is None and db is None:
        x = move_batch_to_front(x, dx)
        return apply_op("nn.layer_norm", x, gamma, beta, axis=_shifted(axis, x.ndim - 1), eps=eps), 0
    # batched scale or shift: the op's definition on the batched operands
    x, gamma, beta = batch_front(args, dims)
    out_dtype = np.result_type(x.dtype, gamma.dtype, beta.dtype)
    axes = _shifted(axis, x.ndim - 1)
    xhat, _ = _normalized(x.astype(out_dtype), axes, eps)
    kept = tuple(n if d == 0 or d in axes else 1 for d, n in enumerate(x.shape))
    return (xhat * np.reshape(gamma, kept) + np.reshape(beta, kept)).astype(out_dtype), 0


# ------------------------------------------------------------------ conv2d

def _conv_attrs(attrs):
    stride = _pair("nn.conv2d", "stride", attrs.get("stride", 1), 1)
    dilation = _pair("nn.conv2d", "dilation", attrs.get("dilation", 1), 1)
    padding = _padding("nn.conv2d", attrs.get("padding", 0))
    return stride, dilation, padding, int(attrs.get("groups", 1))


def _conv_input_cotangent(ct, x, w, attrs):
    (sh, sw), (dh, dw), (top, left, bottom, right), groups = _conv_attrs(attrs)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    ho, wo = ct.shape[2:]
    hp, wp = h + top + bottom, wd + left + right
    lo_h, lo_w = dh * (kh - 1), dw * (kw - 1)
    kernel = np.reshape(w, (groups, o // groups, cg, kh, kw))
    kernel = np.reshape(np.transpose(kernel, (0, 2, 1, 3, 4)), (groups * cg, o // groups, kh, kw))
    kernel = apply_op("flip", kernel, axis=(2, 3))
    pads = (lo_h - top, lo_w - left, lo_h - bottom, lo_w - right)
    if sh == sw == 1 and min(pads) >= 0:
        # the cotangent padded so that the convolution gives x's own rows and columns: no
        # full-size result cropped afterwards (a 3x3 kernel with padding 1 on 4x4 images
        # computed 6x6 of which 4x4 were kept)
        return apply_op("nn.conv2d", ct, kernel, stride=1, padding=pads, dilation=(dh, dw), groups=groups)
    spread = scatter_slice(ct, (n, o, hp + lo_h, wp + lo_w), (None, None, lo_h, lo_w),
                           (None, None, lo_h + (ho - 1) * sh + 1, lo_w + (wo - 1) * sw + 1), (1, 1, sh, sw))
    full = apply_op("nn.conv2d", spread, kernel, stride=1, padding=0, dilation=(dh, dw), groups=groups)
    return apply_op("slice", full, starts=(None, None, top, left), stops=(None, None, top + h, left + wd),
                    steps=(None,) * 4)


def _conv_kernel_cotangent(ct, x, w, attrs):
    (sh, sw), (dh, dw), padding, groups = _conv_attrs(attrs)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    inputs = np.reshape(np.transpose(np.reshape(x, (n, groups, cg, h, wd)), (2, 1, 0, 3, 4)),
                        (cg, groups * n, h, wd))
    kernel = np.reshape(np.transpose(np.reshape(ct, (n, groups, o // groups) + tuple(ct.shape[2:])),
                                     (1, 2, 0, 3, 4)), (o, n) + tuple(ct.shape[2:]))
    full = apply_op("nn.conv2d", inputs, kernel, stride=(dh, dw), padding=padding, dilation=(sh, sw),
                    groups=groups)
    full = apply_op("slice", full, starts=(None,) * 4, stops=(None, None, kh, kw), steps=(None,) * 4)
    return np.transpose(full, (1, 0, 2, 3))


def _conv_vjp(ct, primals, out, **attrs):
    x, w = primals
    dx = _conv_input_cotangent(ct, x, w, attrs) if differentiable(x.dtype) else None
    dw = _conv_kernel_cotangent(ct, x, w, attrs) if differentiable(w.dtype) else None
    return dx, dw


def _conv_jvp(primals, tangents, out, **attrs):
    (x, w), (tx, tw) = primals, tangents
    terms = []
    if not is_zero(tx):
        terms.append(apply_op("nn.conv2d", tx, w, **attrs))
    if not is_zero(tw):
        terms.append(apply_op("nn.conv2d", x, tw, **attrs))
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


def _merge_batch(x):
    """(B, N, ...) -> (B * N, ...)"""
    return np.reshape(x, (x.shape[0] * x.shape[1],) + tuple(x.shape[2:]))


def _conv_batch(args, dims, **attrs):
    (x, w), (dx, dw) = args, dims
    if dw is None:
        x = move_batch_to_front(x, dx)
        y = apply_op("nn.conv2d", _merge_batch(x), w, **attrs)
        return np.reshape(y, tuple(x.shape[:2]) + tuple(y.shape[1:])), 0
    x, w = batch_front(args, dims)
    b, n, c, h, wd = x.shape
    groups = int(attrs.get("groups", 1))
    images = np.reshape(np.transpose(x, (1, 0, 2, 3, 4)), (n, b * c, h, wd))
    y = apply_op("nn.conv2d", images, _merge_batch(w), **{**attrs, "groups": b * groups})
    return np.reshape(y, (n, b, w.shape[1]) + tuple(y.shape[2:])), 1


# ------------------------------------------------------------------ pools

def _pool_geometry(name, x, kernel, attrs):
    kh, kw = _pair(name, "kernel", kernel, 1)
    stride = attrs.get("stride")
    sh, sw = _pair(name, "stride", kernel if stride is None else stride, 1)
    dh, dw = _pair(name, "dilation", attrs.get("dilation", 1), 1)
    top, left, bottom, right = _padding(name, attrs.get("padding", 0))
    return (kh, kw), (sh, sw), (dh, dw), (top, left, bottom, right)


def _windows(name, x_shape, out_shape, kernel, attrs):
    """For each offset of the pooling window: the (starts, stops, steps) of the strided slice of the
    padded input it reads, and the padded shape."""
    (kh, kw), (sh, sw), (dh, dw), (top, left, bottom, right) = _pool_geometry(name, None, kernel, attrs)
    n, c, h, w = x_shape
    ho, wo = out_shape[2:]
    padded = (n, c, h + top + bottom, w + left + right)
    offsets = []
    for a in range(kh):
        for b in range(kw):
            offsets.append(((None, None, a * dh, b * dw), (None, None, a * dh + (ho - 1) * sh + 1,
                                                           b * dw + (wo - 1) * sw + 1), (1, 1, sh, sw)))
    return offsets, padded, (top, left, bottom, right)


def _crop(g, x_shape, pads):
    top, left, _, _ = pads
    return apply_op("slice", g, starts=(None, None, top, left),
                    stops=(None, None, top + x_shape[2], left + x_shape[3]), steps=(None,) * 4)


def _max_pool_hits(x, out, kernel, attrs):
    """Per window offset: the slice's starts, stops, steps, and where that element is the maximum
    (1/count of the window's maxima there, else 0)."""
    offsets, padded, pads = _windows("nn.max_pool2d", x.shape, out.shape, kernel, attrs)
    top, left, bottom, right = pads
    xp = apply_op("pad", x, pad_width=((0, 0), (0, 0), (top, bottom), (left, right)),
                  constant_values=float("-inf")) if any(pads) else x
    hits = [(apply_op("slice", xp, starts=s, stops=e, steps=st) == out).astype(out.dtype) for s, e, st in offsets]
    count = hits[0]
    for h in hits[1:]:
        count = count + h
    return offsets, padded, pads, [h / count for h in hits]


def _max_pool_jvp(primals, tangents, out, *, kernel, **attrs):
    (x,), (t,) = primals, tangents
    offsets, _, pads, weights = _max_pool_hits(x, out, kernel, attrs)
    top, left, bottom, right = pads
    tp = apply_op("pad", t, pad_width=((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=0)
    total = None
    for (s, e, st), wgt in zip(offsets, weights):
        term = apply_op("slice", tp, starts=s, stops=e, steps=st) * wgt
        total = term if total is None else total + term
    return total


def _tiles(name, x, kernel, attrs) -> tuple[int, int] | None:
    """(kh, kw) where the pooling windows tile the input without overlap, gap or padding
    (stride = kernel, dilation 1, no padding: each input element in at most one window);
    else None."""
    (kh, kw), (sh, sw), (dh, dw), pads = _pool_geometry(name, x, kernel, attrs)
    return (kh, kw) if (sh, sw) == (kh, kw) and (dh, dw) == (1, 1) and not any(pads) else None


def _upsampled(g, x_shape, kh: int, kw: int):
    """Each element of ``g`` (n, c, ho, wo) repeated over its window's kh x kw elements, and
    zeros past the last window (to x's height and width): the elementwise form of placing a
    window's value back on the input, where the windows tile it."""
    n, c, ho, wo = g.shape
    g = np.broadcast_to(np.reshape(g, (n, c, ho, 1, wo, 1)), (n, c, ho, kh, wo, kw))
    g = np.reshape(g, (n, c, ho * kh, wo * kw))
    rest = (x_shape[2] - ho * kh, x_shape[3] - wo * kw)
    if any(rest):
        g = apply_op("pad", g, pad_width=((0, 0), (0, 0), (0, rest[0]), (0, rest[1])), constant_values=0)
    return g


def _max_pool_vjp(ct, primals, out, *, kernel, **attrs):
    (x,) = primals
    tiles = _tiles("nn.max_pool2d", x, kernel, attrs)
    if tiles is not None and 0 not in ct.shape:
        # one elementwise kernel: each input element compared with its own window's maximum
        # and given its share of the window's cotangent (the windows' strided scatters spread
        # the cotangent through reshapes whose indices divided and took remainders several
        # times an element); the share is weights' 1 / count, as the window's elements have it
        count = None
        for s, e, st in _windows("nn.max_pool2d", x.shape, out.shape, kernel, attrs)[0]:
            hit = (apply_op("slice", x, starts=s, stops=e, steps=st) == out).astype(out.dtype)
            count = hit if count is None else count + hit
        share = _upsampled(ct / count, x.shape, *tiles)
        return ((x == _upsampled(out, x.shape, *tiles)).astype(ct.dtype) * share,)
    offsets, padded, pads, weights = _max_pool_hits(x, out, kernel, attrs)
    total = None
    for (s, e, st), wgt in zip(offsets, weights):
        term = scatter_slice(ct * wgt, padded, s, e, st)
        total = term if total is None else total + term
    return (_crop(total, x.shape, pads),)


def _avg_divisor(x, out, kernel, attrs, offsets, padded, pads):
    """What each window's sum is divided by: the window's size, or (``count_include_pad=False``)
    the number of its elements inside the input."""
    (kh, kw), *_ = _pool_geometry("nn.avg_pool2d", x, kernel, attrs)
    if attrs.get("count_include_pad", True) or not any(pads):
        return float(kh * kw)
    top, left, bottom, right = pads
    inside = apply_op("pad", ones(x, (1, 1) + tuple(x.shape[2:]), out.dtype),
                      pad_width=((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=0)
    count = None
    for s, e, st in offsets:
        part = apply_op("slice", inside, starts=s, stops=e, steps=st)
        count = part if count is None else count + part
    return count


def _avg_pool_vjp(ct, primals, out, *, kernel, **attrs):
    (x,) = primals
    tiles = _tiles("nn.avg_pool2d", x, kernel, attrs)
    if tiles is not None and 0 not in ct.shape:
        return (_upsampled(ct / float(tiles[0] * tiles[1]), x.shape, *tiles),)
    offsets, padded, pads = _windows("nn.avg_pool2d", x.shape, out.shape, kernel, attrs)
    g = ct / _avg_divisor(x, out, kernel, attrs, offsets, padded, pads)
    total = None
    for s, e, st in offsets:
        term = scatter_slice(g, padded, s, e, st)
        total = term if total is None else total + term
    return (_crop(total, x.shape, pads),)


def _avg_pool_jvp(primals, tangents, out, *, kernel, **attrs):
    return apply_op("nn.avg_pool2d", tangents[0], kernel=kernel, **attrs)


def _pool_batch(name):
    def rule(args, dims, **attrs):
        x = move_batch_to_front(args[0], dims[0])
        y = apply_op(name, _merge_batch(x), **attrs)
        return np.reshape(y, tuple(x.shape[:2]) + tuple(y.shape[1:])), 0
    return rule


def _register() -> None:
    define_rules("nn.softmax", jvp=_softmax_jvp, vjp=_softmax_vjp, batch=_axis_batch("nn.softmax"))
    composite = Composite(_softmax_vjp_composite)
    define_rules("nn.softmax_vjp", jvp=composite, vjp=composite, batch=composite)
    define_rules("nn.log_softmax", jvp=_log_softmax_jvp, vjp=_log_softmax_vjp, batch=_axis_batch("nn.log_softmax"))
    define_rules("nn.layer_norm", jvp=_layer_norm_jvp, vjp=_layer_norm_vjp, batch=_layer_norm_batch)
    lnv = Composite(_layer_norm_vjp_composite)
    define_rules("nn.layer_norm_vjp", jvp=lnv, vjp=lnv, batch=lnv)
    define_rules("nn.conv2d", jvp=_conv_jvp, vjp=_conv_vjp, batch=_conv_batch)
    define_rules("nn.max_pool2d", jvp=_max_pool_jvp, vjp=_max_pool_vjp, batch=_pool_batch("nn.max_pool2d"))
    define_rules("nn.avg_pool2d", jvp=_avg_pool_jvp, vjp=_avg_pool_vjp, batch=_pool_batch("nn.avg_pool2d"))


_register()
