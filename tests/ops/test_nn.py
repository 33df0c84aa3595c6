"""nn ops against independent NumPy/SciPy formulations: activations, softmax, layer norm,
conv2d and pooling (direct loops), dense."""
import math

import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from mlc import DTypeError, ShapeError
from mlc.ops import TensorType, get_op

from ._harness import FLOATS, NUMERIC, SIGNED, TARGETS, arrays, check_op, numpy_call, run_op, shapes

floats = st.sampled_from(FLOATS)


def _compute_dtype(dtype):
    """The float dtype ops compute in (np.exp's rule), and the wider one they accumulate in."""
    out = np.exp(np.zeros((), dtype)).dtype
    return out, (np.float32 if out == np.float16 else out)


def _in_float(fn, x):
    out, acc = _compute_dtype(x.dtype)
    return numpy_call(fn, x.astype(acc)).astype(out)


@settings(max_examples=20)
@given(data=st.data(), dtype=st.sampled_from(NUMERIC), shape=shapes())
def test_relu(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    check_op("nn.relu", [x], np.maximum(x, np.zeros((), dtype)))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(FLOATS + SIGNED), shape=shapes())
def test_gelu(approximate, data, dtype, shape):
    x = data.draw(arrays(dtype, shape, special=False, bound=30.0 if dtype in FLOATS else 30))
    if approximate == "none":
        expected = _in_float(lambda v: v * scipy.special.ndtr(v.astype("float64")), x)  # (the normal CDF)
    else:
        expected = _in_float(lambda v: v / 2 * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3))), x)
    check_op("nn.gelu", [x], expected, atol=4 * np.finfo(expected.dtype).eps, approximate=approximate)



@settings(max_examples=15, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["float32", "float64"]), shape=shapes(min_dims=1))
def test_tanh_gelu_is_accurate_where_tanh_is_near_minus_one(data, dtype, shape):
    """The tanh GELU, ``x / 2 (1 + tanh(z))``, against the exact value of its float formula
    (``x / 2`` and ``z`` rounded as the op computes them, then ``1 + tanh(z)`` as ``2 / (1 +
    e^(-2z))`` in float64, or long double for float64): within 3 ulps where ``1 + tanh(z)`` is a
    normal number, within ``|x|`` times the smallest normal below. The sum ``1 + tanh(z)`` of a
    rounded tanh near -1 cancels (x = -3: 7 of float32's 24 bits lost; below x = -5.2, where
    tanh rounds to -1, all of them)."""
    edges = [-3.0, -4.5, -6.0, -10.0, -10.5, -11.0, -1e3, -0.0, 0.0, 1e-30, 2.5, 1e20, np.inf, -np.inf]
    width = np.dtype(dtype).itemsize * 8
    x = data.draw(hnp.arrays(dtype, shape, elements=st.one_of(
        st.sampled_from(edges), st.floats(-12, 4, width=width), st.floats(width=width, allow_nan=False))))
    wide = np.longdouble if dtype == "float64" else np.float64
    t = np.dtype(dtype).type
    with np.errstate(all="ignore"):
        a = t(0.5) * x
        z = t(math.sqrt(2 / math.pi)) * (x + t(0.044715) * x * x * x)
        step = 2 / (1 + np.exp(-2 * z.astype(wide)))
        want = a.astype(wide) * step
    tiny = np.finfo(dtype).tiny
    for target in TARGETS:
        (got,) = run_op("nn.gelu", [x], target, approximate="tanh")
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=target)
            infinite = np.isinf(want)  # (x = +-inf)
            np.testing.assert_array_equal(got[infinite], want[infinite].astype(dtype), err_msg=target)
            normal = (step >= tiny) & np.isfinite(want)
            spacing = np.spacing(np.abs(want[normal].astype(dtype))).astype(wide)
            err = np.abs(got[normal].astype(wide) - want[normal]) / spacing
            assert (err <= 3).all(), (target, x[normal][err > 3], got[normal][err > 3], want[normal][err > 3])
            small = ~normal & np.isfinite(want)
            assert (np.abs(got[small].astype(wide) - want[small]) <= np.abs(a[small]).astype(wide) * tiny).all(), target

@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(FLOATS + SIGNED), shape=shapes())
def test_silu(data, dtype, shape):
    x = data.draw(arrays(dtype, shape, special=False))
    check_op("nn.silu", [x], _in_float(lambda v: v * scipy.special.expit(v), x),  # (1 + exp(89) overflows)
             atol=4 * np.finfo(_compute_dtype(x.dtype)[0]).tiny)


@pytest.mark.parametrize("name,fn", [("nn.softmax", scipy.special.softmax),
                                     ("nn.log_softmax", scipy.special.log_softmax)])
@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(FLOATS + ("int32",)), shape=shapes(min_dims=1, max_side=5))
def test_softmax(name, fn, data, dtype, shape):
    x = data.draw(arrays(dtype, shape, special=False, bound=1e4 if dtype in FLOATS else 100))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    expected = _in_float(lambda v: fn(v, axis=axis), x)
    out = expected.dtype
    atol = 8 * shape[axis] * np.finfo(out).eps * (1 if name == "nn.softmax" else float(np.max(np.abs(x), initial=1)))
    check_op(name, [x], expected, atol=atol, axis=axis)


@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(("float32", "float64")), shape=shapes(min_dims=1, max_side=5))
def test_softmax_vjp_from_the_input(data, dtype, shape):
    """nn.softmax_vjp(x, ct) = y * (ct - sum(ct * y)) with y = softmax(x), in one kernel."""
    x = data.draw(arrays(dtype, shape, special=False, bound=30))
    ct = data.draw(arrays(dtype, shape, special=False, bound=3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    v, c = x.astype("float64"), ct.astype("float64")
    y = scipy.special.softmax(v, axis=axis)
    expected = (y * (c - np.sum(c * y, axis=axis, keepdims=True))).astype(dtype)
    check_op("nn.softmax_vjp", [x, ct], expected, atol=16 * shape[axis] * np.finfo(dtype).eps * 3, axis=axis)


@settings(max_examples=8, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(("float32", "float64")), parts=st.integers(1, 5),
       rows=st.sampled_from([1, 2, 3, 16]), m=st.integers(1, 9), eps=st.sampled_from([1e-5, 0.1]))
def test_layer_norm_vjp_by_parts(data, dtype, parts, rows, m, eps):
    """nn.layer_norm_vjp(x, gamma, ct): dx, and gamma's and beta's gradients summed over each
    of ``parts`` blocks of consecutive rows."""
    n = parts * rows
    x = data.draw(arrays(dtype, (n, m), special=False, bound=3))
    gamma = data.draw(arrays(dtype, (m,), special=False, bound=2))
    ct = data.draw(arrays(dtype, (n, m), special=False, bound=2))
    v, g, c = (a.astype("float64") for a in (x, gamma, ct))
    mean = v.mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(((v - mean) ** 2).mean(axis=1, keepdims=True) + eps)
    xhat = (v - mean) * rstd
    gc = c * g
    dx = rstd * (gc - gc.mean(axis=1, keepdims=True) - xhat * (gc * xhat).mean(axis=1, keepdims=True))
    expected = (dx, (c * xhat).reshape(parts, rows, m).sum(axis=1), c.reshape(parts, rows, m).sum(axis=1))
    tol = 64 * max(m, rows) * np.finfo(dtype).eps / (eps if dtype == "float32" else 1e-3) ** 0.5
    check_op("nn.layer_norm_vjp", [x, gamma, ct], tuple(e.astype(dtype) for e in expected), atol=tol, rtol=tol,
             eps=eps, parts=parts)


def test_softmax_is_stable_for_huge_logits():
    x = np.array([[1e4, 1e4 - 1, -1e4], [0.0, -np.inf, 1.0]], "float32")
    check_op("nn.softmax", [x], scipy.special.softmax(x, axis=1), axis=1)
    check_op("nn.log_softmax", [x], scipy.special.log_softmax(x, axis=1), axis=1, atol=1e-6)


@settings(max_examples=20)
@given(data=st.data(), dtype=floats, shape=shapes(min_dims=1, max_dims=3, max_side=5),
       eps=st.sampled_from([1e-5, 1e-3, 0.1]))
def test_layer_norm(data, dtype, shape, eps):
    n_axes = data.draw(st.integers(1, len(shape)))
    axis = tuple(range(len(shape) - n_axes, len(shape)))
    axis = axis[0] - len(shape) if n_axes == 1 and data.draw(st.booleans()) else axis
    x = data.draw(arrays(dtype, shape, special=False, bound=100.0))
    norm_shape = shape[len(shape) - n_axes:]
    gamma = data.draw(arrays(dtype, norm_shape, special=False, bound=4.0))
    beta = data.draw(arrays(dtype, norm_shape, special=False, bound=4.0))
    acc = _compute_dtype(dtype)[1]
    axes = tuple(range(len(shape) - n_axes, len(shape)))
    v = x.astype(acc)
    expected = ((v - v.mean(axis=axes, keepdims=True)) / np.sqrt(v.var(axis=axes, keepdims=True) + eps)
                * gamma.astype(acc) + beta.astype(acc)).astype(dtype)
    # cancellation in x - mean: error grows with |x| / sqrt(var + eps)
    spread = float(np.max(np.abs(v), initial=0)) / math.sqrt(eps)
    atol = 16 * math.prod(norm_shape) * np.finfo(acc).eps * spread * 4 + 4 * np.finfo(dtype).eps * 4
    check_op("nn.layer_norm", [x, gamma, beta], expected, atol=atol, axis=axis, eps=eps)


# ------------------------------------------------------------------ conv2d / pooling

def _direct_conv2d(x, w, stride, padding, dilation, groups, acc):
    """The textbook 7-loop definition (loops over output pixels and kernel taps)."""
    sh, sw = stride
    dh, dw = dilation
    top, left, bottom, right = padding
    n, c, h, wd = x.shape
    o, icg, kh, kw = w.shape
    xp = np.zeros((n, c, h + top + bottom, wd + left + right), acc)
    xp[:, :, top:top + h, left:left + wd] = x
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow), acc)
    ocg = o // groups
    for oc in range(o):
        g = oc // ocg
        for y in range(oh):
            for z in range(ow):
                for ry in range(kh):
                    for rx in range(kw):
                        patch = xp[:, g * icg:(g + 1) * icg, y * sh + ry * dh, z * sw + rx * dw]
                        out[:, oc, y, z] += patch @ w[oc, :, ry, rx].astype(acc)
    return out


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    icg, ocg = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    side = st.integers(1, 2)
    stride = draw(st.one_of(side.map(lambda s: (s, s)), st.tuples(side, side)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(*[st.integers(0, 2)] * 4)))
    pads = (padding,) * 4 if isinstance(padding, int) else padding
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    assume(h + pads[0] + pads[2] >= dilation[0] * (kh - 1) + 1)
    assume(w + pads[1] + pads[3] >= dilation[1] * (kw - 1) + 1)
    x_shape = (draw(st.integers(1, 2)), groups * icg, h, w)
    w_shape = (groups * ocg, icg, kh, kw)
    attrs = dict(stride=stride[0] if stride[0] == stride[1] and draw(st.booleans()) else stride, padding=padding,
                 dilation=dilation, groups=groups)
    return x_shape, w_shape, pads, stride, dilation, attrs


@settings(max_examples=25)
@given(data=st.data(), dtype=st.sampled_from(FLOATS + ("int32", "int8")), case=conv_cases())
def test_conv2d(data, dtype, case):
    x_shape, w_shape, pads, stride, dilation, attrs = case
    x = data.draw(arrays(dtype, x_shape, special=False, bound=8.0 if dtype in FLOATS else None))
    w = data.draw(arrays(dtype, w_shape, special=False, bound=8.0 if dtype in FLOATS else None))
    acc = np.float32 if dtype == "float16" else dtype
    expected = numpy_call(_direct_conv2d, x, w, stride, pads, dilation, attrs["groups"], acc).astype(dtype)
    terms = w_shape[1] * w_shape[2] * w_shape[3]
    atol = 4 * terms * 64 * np.finfo(dtype).eps if dtype in FLOATS else 0
    check_op("nn.conv2d", [x, w], expected, atol=atol, **attrs)


def _direct_pool(x, kernel, stride, pads, dilation, is_max, count_include_pad):
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    top, left, bottom, right = pads
    n, c, h, w = x.shape
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (w + left + right - dw * (kw - 1) - 1) // sw + 1
    acc = x.dtype if is_max else _compute_dtype(x.dtype)[1]
    out = np.zeros((n, c, oh, ow), acc)
    for y in range(oh):
        for z in range(ow):
            vals, inside = [], 0
            for ry in range(kh):
                for rx in range(kw):
                    r, q = y * sh + ry * dh - top, z * sw + rx * dw - left
                    if 0 <= r < h and 0 <= q < w:
                        vals.append(x[:, :, r, q].astype(acc))
                        inside += 1
            if is_max:
                # NaN propagates like np.maximum; a window wholly in the padding is the fill value
                fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
                out[:, :, y, z] = np.max(vals, axis=0, initial=fill) if vals else fill
            else:
                out[:, :, y, z] = np.sum(vals, axis=0) / (kh * kw if count_include_pad else inside)
    return out.astype(x.dtype if is_max else _compute_dtype(x.dtype)[0])


@pytest.mark.parametrize("name", ["nn.max_pool2d", "nn.avg_pool2d"])
@settings(max_examples=20)
@given(data=st.data(), dtype=st.sampled_from(FLOATS + ("int32", "uint8")))
def test_pool2d(name, data, dtype):
    is_max = name == "nn.max_pool2d"
    kernel = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    stride = data.draw(st.one_of(st.none(), st.tuples(st.integers(1, 2), st.integers(1, 2))))
    dilation = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))) if is_max else (1, 1)
    pads = tuple(data.draw(st.integers(0, k // 2)) for k in (kernel[0], kernel[1], kernel[0], kernel[1]))
    h, w = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    assume(h + pads[0] + pads[2] >= dilation[0] * (kernel[0] - 1) + 1)
    assume(w + pads[1] + pads[3] >= dilation[1] * (kernel[1] - 1) + 1)
    x = data.draw(arrays(dtype, (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), h, w),
                         special=is_max, bound=100.0 if dtype in FLOATS else None))
    attrs = dict(kernel=kernel, stride=stride, padding=pads)
    count_include_pad = True
    if is_max:
        attrs["dilation"] = dilation
    else:
        count_include_pad = data.draw(st.booleans())
        attrs["count_include_pad"] = count_include_pad
    expected = numpy_call(_direct_pool, x, kernel, stride or kernel, pads, dilation, is_max, count_include_pad)
    atol = 0.0
    if not is_max and dtype in FLOATS and x.size:
        # a window's sum may cancel ((1 - 1 + 2e-175) / 4): summed in another order, it is off
        # by a few roundings of the largest term, however small the result
        eps = float(np.finfo(_compute_dtype(dtype)[0]).eps)
        atol = 2 * kernel[0] * kernel[1] * eps * float(np.max(np.abs(x)))
    check_op(name, [x], expected, atol=atol, **attrs)


@settings(max_examples=15)
@given(data=st.data(), dtype=st.sampled_from(FLOATS + ("int32",)), lead=shapes(max_dims=2, max_side=3),
       k=st.integers(1, 5), n=st.integers(1, 4))
def test_dense(data, dtype, lead, k, n):
    x = data.draw(arrays(dtype, lead + (k,), special=False, bound=8.0 if dtype in FLOATS else None))
    w = data.draw(arrays(dtype, (n, k), special=False, bound=8.0 if dtype in FLOATS else None))
    atol = 4 * k * 64 * np.finfo(dtype).eps if dtype in FLOATS else 0
    check_op("nn.dense", [x, w], numpy_call(np.matmul, x, w.T), atol=atol)


# ------------------------------------------------------------------ errors

def test_conv2d_errors():
    conv = get_op("nn.conv2d")
    x, w = TensorType((1, 4, 8, 8), "float32"), TensorType((6, 2, 3, 3), "float32")
    with pytest.raises(ShapeError, match="expects 2 input channels per group"):
        conv.infer(x, w)
    with pytest.raises(ShapeError, match="groups=4 must divide"):
        conv.infer(x, w, groups=4)
    with pytest.raises(ShapeError, match="input \\(NCHW\\) must have 4"):
        conv.infer(TensorType((4, 8, 8), "float32"), w, groups=2)
    with pytest.raises(ShapeError, match="window .* is larger"):
        conv.infer(TensorType((1, 4, 2, 2), "float32"), w, groups=2)
    with pytest.raises(ShapeError, match="stride must be at least 1"):
        conv.infer(x, w, groups=2, stride=0)


def test_pool_layer_norm_dense_errors():
    x = TensorType((1, 2, 6, 6), "float32")
    with pytest.raises(ShapeError, match="at most half the kernel"):
        get_op("nn.max_pool2d").infer(x, kernel=2, padding=2)
    with pytest.raises(ShapeError, match="unknown attribute"):
        get_op("nn.avg_pool2d").infer(x, kernel=2, ceil_mode=True)
    with pytest.raises(DTypeError, match="bool"):
        get_op("nn.max_pool2d").infer(TensorType((1, 2, 6, 6), "bool"), kernel=2)
    with pytest.raises(ShapeError, match="gamma must have shape \\(6,\\)"):
        get_op("nn.layer_norm").infer(TensorType((2, 6), "float32"), TensorType((5,), "float32"),
                                      TensorType((6,), "float32"))
    with pytest.raises(ShapeError, match="weight \\(2, 5\\) expects 5"):
        get_op("nn.dense").infer(TensorType((3, 4), "float32"), TensorType((2, 5), "float32"))
    with pytest.raises(ShapeError, match="approximate"):
        get_op("nn.gelu").infer(TensorType((3,), "float32"), approximate="fast")
    with pytest.raises(DTypeError, match="relu"):
        get_op("nn.relu").infer(TensorType((3,), "bool"))


def test_conv2d_lowering_is_pad_stage_plus_one_reduction():
    from mlc import te
    x, w = te.placeholder((1, 3, 8, 8), "float32", "x"), te.placeholder((4, 3, 3, 3), "float32", "w")
    y = get_op("nn.conv2d").lower(x, w, padding=1)
    assert [iv.dom.extent.value for iv in y.op.reduce_axis] == [3, 3, 3]
    assert sorted(t.name for t in y.op.inputs) == ["T_conv2d_pad", "w"]


def _plain_row_formulas():
    """The row ops' formulas as plain NumPy expressions (a new array a step): what their
    references, written in place, compute bit for bit."""
    from mlc.ops.library._common import accumulate_dtype

    def acc(*arrays):
        out = np.result_type(*arrays)
        out = np.exp(np.zeros((), out)).dtype
        return out, accumulate_dtype(out.name)

    def softmax(x, *, axis, log):
        out, a = acc(x)
        v = x.astype(a)
        with np.errstate(all="ignore"):
            shifted = v - np.max(v, axis=axis, keepdims=True, initial=-np.inf)
            total = np.sum(np.exp(shifted), axis=axis, keepdims=True)
            return (shifted - np.log(total) if log else np.exp(shifted) / total).astype(out)

    def softmax_vjp(x, ct, *, axis):
        out, a = acc(x)
        e = np.exp(x.astype(a) - np.max(x.astype(a), axis=axis, keepdims=True))
        y = e / np.sum(e, axis=axis, keepdims=True)
        c = ct.astype(y.dtype)
        return (y * (c - np.sum(c * y, axis=axis, keepdims=True))).astype(out)

    def layer_norm(x, gamma, beta, *, axis, eps):
        out, a = acc(x, gamma, beta)
        v = x.astype(a)
        mean = v.mean(axis=axis, keepdims=True)
        var = ((v - mean) ** 2).mean(axis=axis, keepdims=True)
        with np.errstate(all="ignore"):
            return ((v - mean) / np.sqrt(var + eps) * gamma + beta).astype(out)

    def layer_norm_vjp(x, gamma, ct, *, eps, parts):
        out, a = acc(x, gamma, ct)
        v, c = x.astype(a), ct.astype(a)
        mean = v.mean(axis=1, keepdims=True)
        rstd = 1 / np.sqrt(((v - mean) ** 2).mean(axis=1, keepdims=True) + eps)
        xhat = (v - mean) * rstd
        g = c * gamma
        dx = rstd * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
        n, m = x.shape
        return (dx.astype(out), (c * xhat).reshape(parts, n // parts, m).sum(axis=1).astype(out),
                c.reshape(parts, n // parts, m).sum(axis=1).astype(out))

    return softmax, softmax_vjp, layer_norm, layer_norm_vjp


@settings(max_examples=25, deadline=None)
@given(data=st.data(), dtype=floats, gamma_dtype=floats, parts=st.integers(1, 3), rows=st.sampled_from([1, 2, 5]),
       m=st.sampled_from([1, 3, 7, 130]), eps=st.sampled_from([1e-5, 0.1]))
def test_row_op_references_are_the_plain_formula_bit_for_bit(data, dtype, gamma_dtype, parts, rows, m, eps):
    """The row ops' references (the eager tier runs them, the tests check kernels against
    them) write their steps into the arrays they make: the same results, bit for bit, as the
    formula with a new array a step; their arguments are never written."""
    softmax, softmax_vjp, layer_norm, layer_norm_vjp = _plain_row_formulas()
    n = parts * rows
    x = data.draw(arrays(dtype, (n, m), special=False, bound=30.0))
    ct = data.draw(arrays(dtype, (n, m), special=False, bound=3.0))
    gamma, beta = (data.draw(arrays(gamma_dtype, (m,), special=False, bound=4.0)) for _ in range(2))
    given_ = [a.copy() for a in (x, ct, gamma, beta)]
    axis = data.draw(st.sampled_from([0, 1, -1]))

    def same(got, want):
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_array_equal(g, w)

    same(get_op("nn.softmax").reference(x, axis=axis), softmax(x, axis=axis, log=False))
    same(get_op("nn.log_softmax").reference(x, axis=axis), softmax(x, axis=axis, log=True))
    same(get_op("nn.softmax_vjp").reference(x, ct, axis=axis), softmax_vjp(x, ct, axis=axis))
    same(get_op("nn.layer_norm").reference(x, gamma, beta, axis=(1,), eps=eps),
         layer_norm(x, gamma, beta, axis=(1,), eps=eps))
    same(get_op("nn.layer_norm_vjp").reference(x, gamma, ct, eps=eps, parts=parts),
         layer_norm_vjp(x, gamma, ct, eps=eps, parts=parts))
    for a, b in zip((x, ct, gamma, beta), given_):
        np.testing.assert_array_equal(a, b)


def test_row_op_references_make_few_temporaries():
    """What a reference allocates at its peak, in arrays of x's size: a step written into an
    array made earlier allocates nothing (a first call's new pages cost more than the pass)."""
    import tracemalloc
    x = np.random.default_rng(0).standard_normal((64, 256)).astype("float32")
    ct, gamma = x[::-1].copy(), x[0].copy()
    budgets = {"nn.softmax": (lambda r: r(x, axis=1), 2),
               "nn.log_softmax": (lambda r: r(x, axis=1), 2.5),
               "nn.softmax_vjp": (lambda r: r(x, ct, axis=1), 3),
               "nn.layer_norm": (lambda r: r(x, gamma, gamma, axis=(1,)), 2.5),
               "nn.layer_norm_vjp": (lambda r: r(x, gamma, ct, parts=2), 4)}
    for name, (call, budget) in budgets.items():
        tracemalloc.start()
        try:
            call(get_op(name).reference)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak <= budget * x.nbytes, (name, peak / x.nbytes)
