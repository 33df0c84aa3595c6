"""Convolution and pooling over NCHW images: nn.conv2d, nn.max_pool2d, nn.avg_pool2d.

Layouts follow PyTorch: NCHW input, OIHW weight. ``padding`` is an int,
(h, w) or (top, left, bottom, right). Each lowering is a padded-input stage
(skipped without padding) feeding one reduction over the window, the shape
schedules tile and that fusion gives elementwise epilogues:

>>> from mlc import te
>>> from mlc.ops import get_op
>>> x = te.placeholder((1, 3, 8, 8), "float32", "x"); w = te.placeholder((4, 3, 3, 3), "float32", "w")
>>> y = get_op("nn.conv2d").lower(x, w, padding=1)
>>> y.shape, [iv.dom.extent.value for iv in y.op.reduce_axis]
((1, 4, 8, 8), [3, 3, 3])
"""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ..registry import TensorType, register_op
from ._common import (accumulate_dtype, check_int_attr, check_ndim, contract, float_dtype, index,
                      lowest, reduce_compute, result_type, zero)
from .nn import check_attrs

__all__ = ["conv2d_shape", "pool2d_shape"]

_c = index


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


def _pad_stage(x, pads, fill, name, tag=""):
    """A padded copy of an NCHW tensor (the input itself when there is no padding)."""
    top, left, bottom, right = pads
    if not any(pads):
        return x
    n, c, h, w = x.shape

    def element(b, ch, y, z):
        inside = _e.logical_and(_e.logical_and(y >= _c(top), y < _c(top + h)),
                                _e.logical_and(z >= _c(left), z < _c(left + w)))
        return _e.select(inside, x[b, ch, y - _c(top), z - _c(left)], fill)

    return te.compute((n, c, h + top + bottom, w + left + right), element, name=name, tag=tag)


def _conv2d_infer(x, w, *, stride=1, padding=0, dilation=1, groups=1):
    shape = conv2d_shape(x.shape, w.shape, stride, padding, dilation, groups)
    return TensorType(shape, result_type(x.dtype, w.dtype, op="nn.conv2d"))


def _conv2d_lower(x, w, *, stride=1, padding=0, dilation=1, groups=1):
    """Padded-input stage, then ``sum over (ic, kh, kw)`` of ``pad * w``."""
    out_type = _conv2d_infer(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    (sh, sw), (dh, dw) = _pair("nn.conv2d", "stride", stride, 1), _pair("nn.conv2d", "dilation", dilation, 1)
    # kept a stage of its own (te.KEEP_TAG): each padded element is read o * kh * kw times,
    # and the schedule's inner loop then loads it without the padding conditions.
    pad = _pad_stage(x, _padding("nn.conv2d", padding), _e.const(0, x.dtype), "T_conv2d_pad", te.KEEP_TAG)
    o, icg, kh, kw = w.shape
    ocg = o // groups

    def factors(idx, ks):
        b, oc, y, z = idx
        ic, ry, rx = ks
        ch = ic if groups == 1 else _e.floordiv(oc, _c(ocg)) * _c(icg) + ic
        return pad[b, ch, y * _c(sh) + ry * _c(dh), z * _c(sw) + rx * _c(dw)], w[oc, ic, ry, rx]

    return contract(out_type.shape, [icg, kh, kw], factors, out_type.dtype, "T_conv2d")


def _conv2d_reference(x, w, *, stride=1, padding=0, dilation=1, groups=1):
    out_type = _conv2d_infer(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    (sh, sw), (dh, dw) = _pair("nn.conv2d", "stride", stride, 1), _pair("nn.conv2d", "dilation", dilation, 1)
    top, left, bottom, right = _padding("nn.conv2d", padding)
    acc = accumulate_dtype(out_type.dtype)
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
        attrs = check_attrs(name, attrs, defaults)
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
        acc = x.dtype if is_max else accumulate_dtype(out)
        fill = lowest(x.dtype) if is_max else _e.const(0, x.dtype)
        pad = _pad_stage(x, pads, fill, f"T_{name[3:]}_pad")

        def body(idx, ks):
            b, ch, y, z = idx
            return _e.cast(pad[b, ch, y * _c(sh) + ks[0] * _c(dh), z * _c(sw) + ks[1] * _c(dw)], acc)

        reducer, identity = (te.max, lowest) if is_max else (te.sum, zero)
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
        acc = x.dtype if is_max else np.dtype(accumulate_dtype(out))
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
