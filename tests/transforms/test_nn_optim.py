"""mlc.nn's losses and layers differentiated (check_grads: forward and reverse mode against
finite differences in float64), against NumPy formulations; mlc.optim's updates against
PyTorch's formulas written in NumPy, eagerly and fused into a jitted step."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
import mlc.random as mr
from mlc.errors import MLCError, ShapeError
from mlc.testing import check_grads

FEW = settings(max_examples=4, deadline=None)


def _log_softmax_np(z, axis):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


@FEW
@given(st.integers(1, 5), st.integers(1, 7), st.integers(0, 2**31 - 1), st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_and_its_gradient(n, classes, seed, reduction):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, classes))
    labels = rng.integers(0, classes, n)
    want = -_log_softmax_np(logits, 1)[np.arange(n), labels]
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    got = mlc.jit(lambda z, y: mlc.nn.cross_entropy(z, y, reduction=reduction))(logits, labels)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mlc.nn.cross_entropy(logits, labels, reduction=reduction), want, rtol=1e-12)
    check_grads(lambda z: mlc.nn.cross_entropy(z, labels, reduction=reduction), (logits,))
    # the gradient of the mean loss: (softmax - one_hot) / n
    g = mlc.grad(lambda z: mlc.nn.cross_entropy(z, labels))(logits)
    np.testing.assert_allclose(g, (np.exp(_log_softmax_np(logits, 1)) - np.eye(classes)[labels]) / n, atol=1e-12)


def test_cross_entropy_with_soft_targets_and_classes_on_another_axis():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((3, 4, 5))
    p = np.exp(_log_softmax_np(rng.standard_normal((3, 4, 5)), 1))
    want = -(p * _log_softmax_np(logits, 1)).sum(axis=1).mean()
    np.testing.assert_allclose(mlc.jit(mlc.nn.cross_entropy)(logits, p), want, rtol=1e-12)
    labels = rng.integers(0, 5, (3, 4))
    want = -np.take_along_axis(_log_softmax_np(logits, -1), labels[..., None], -1).mean()
    np.testing.assert_allclose(mlc.nn.cross_entropy(logits, labels, axis=-1), want, rtol=1e-12)
    check_grads(lambda z: mlc.nn.cross_entropy(z, labels, axis=-1), (logits,), order=2)


def test_loss_errors_name_what_was_expected():
    with pytest.raises(ShapeError, match=r"labels of shape \(3,\) where \(2,\) was expected"):
        mlc.nn.cross_entropy(np.zeros((2, 4)), np.zeros(3, "int64"))
    with pytest.raises(MLCError, match="reduction must be one of"):
        mlc.nn.cross_entropy(np.zeros((2, 4)), np.zeros(2, "int64"), reduction="avg")


@FEW
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_batch_norm_and_its_gradient(n, c, hw, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + 1, c, hw, 2))
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-5) * gamma[:, None, None] + beta[:, None, None]
    np.testing.assert_allclose(mlc.jit(mlc.nn.batch_norm)(x, gamma, beta), want, rtol=1e-10, atol=1e-12)
    check_grads(mlc.nn.batch_norm, (x, gamma, beta))
    rm, rv = rng.standard_normal(c), rng.random(c) + 0.5
    want = (x - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5) * gamma[:, None, None] + beta[:, None, None]
    np.testing.assert_allclose(mlc.nn.batch_norm(x, gamma, beta, rm, rv), want, rtol=1e-12)


@FEW
@given(st.integers(1, 3), st.integers(1, 3), st.integers(3, 7), st.integers(1, 3), st.sampled_from([1, 2]),
       st.integers(0, 1), st.integers(0, 2**31 - 1))
def test_conv_and_pooling_gradients(n, c, size, k, stride, padding, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, size, size + 1))
    w = rng.standard_normal((2, c, k, k))

    pool = 2 if (size + 2 * padding - k) // stride >= 1 else 1  # windows that fit the conv's result

    def net(x, w):
        h = mlc.nn.conv2d(x, w, stride=stride, padding=padding)
        return mlc.nn.max_pool2d(h, pool, stride=1) + mlc.nn.avg_pool2d(h, pool, stride=1)

    check_grads(net, (x, w))


@FEW
@given(st.integers(1, 2), st.integers(1, 5), st.integers(1, 6), st.integers(2, 3), st.integers(1, 2),
       st.tuples(st.integers(1, 2), *[st.integers(0, 2)] * 3), st.sampled_from([1, 2]), st.integers(0, 2**31 - 1))
def test_stride_one_conv_input_gradient_is_one_convolution_of_x_shape(n, size, width, k, dilation, pads, groups,
                                                                       seed):
    """A stride-1 convolution's input cotangent is the cotangent padded and convolved with the
    flipped kernel straight to x's shape (before, a full correlation of the padded input's
    size, then cropped: a 3x3 kernel with padding 1 on 4x4 images computed 6x6 for 4x4),
    asymmetric padding, dilation and groups included; against finite differences."""
    span = dilation * (k - 1)
    top, left, bottom, right = (min(p, span) for p in pads)
    size, width = max(size, span + 1 - top - bottom), max(width, span + 1 - left - right)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2 * groups, size, width))
    w = rng.standard_normal((2 * groups, 2, k, k))
    f = lambda x, w: np.sum(np.sin(mlc.nn.conv2d(x, w, padding=(top, left, bottom, right),  # noqa: E731
                                                 dilation=dilation, groups=groups)))
    graph = mlc.jit(mlc.grad(f)).lower(x, w).graph
    convs = [b for b in graph.bindings if b.op == "call_tir" and "conv2d" in b.attr("func")]
    assert x.shape in [tuple(b.outputs[0].type.shape) for b in convs], graph.script()
    check_grads(f, (x, w), modes=("rev",))


@FEW
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(0, 3), st.integers(0, 3),
       st.integers(0, 2**31 - 1))
def test_tiling_pools_give_each_element_its_windows_share(n, kh, kw, extra_h, extra_w, seed):
    """Pools whose windows tile the input (stride = kernel, the default; rows and columns past
    the last window included, sizes 1 and odd): each input element takes its own window's
    share of the cotangent in one elementwise kernel (the windows' strided scatters indexed
    through reshapes that divided and took remainders hundreds of times a kernel); against
    finite differences (distinct values: no ties in the maxima)."""
    rng = np.random.default_rng(seed)
    h, w = 2 * kh + extra_h, kw + extra_w
    x = rng.permutation(n * 2 * h * w).reshape(n, 2, h, w) / 7.0
    c = rng.standard_normal((n, 2, h // kh, w // kw))
    for pool in (mlc.nn.max_pool2d, mlc.nn.avg_pool2d):
        f = lambda x, c, pool=pool: np.sum(np.sin(pool(x, (kh, kw))) * c)  # noqa: E731
        check_grads(f, (x, c), modes=("rev",))
        lowered = mlc.jit(mlc.grad(f)).lower(x, c)
        kernels = [fn.script() for name, fn in lowered.mod.items() if name != "main"]
        assert sum(k.count("//") for k in kernels) < 100, kernels
    assert len([b for b in lowered.graph.bindings if b.op == "call_tir"]) <= 2, lowered.graph.script()


def test_log_softmax_and_layer_norm_gradients_to_second_order():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5))
    check_grads(lambda v: mlc.nn.log_softmax(v, axis=0), (x,), order=2)
    check_grads(mlc.nn.layer_norm, (x, rng.standard_normal(5), rng.standard_normal(5)), order=2)


def test_layer_norm_backward_stores_no_normalised_copy_between_its_kernels():
    x, c = np.ones((64, 32), "float32"), np.ones((64, 32), "float32")
    gamma, beta = np.ones(32, "float32"), np.zeros(32, "float32")
    step = mlc.jit(lambda v, g, b, w: mlc.grad(lambda *p: np.sum(mlc.nn.layer_norm(*p, axis=1) * w),
                                                argnums=(0, 1, 2))(v, g, b))
    graph = step.lower(x, gamma, beta, c).graph
    full = [b for b in graph.bindings if b.op == "call_tir" and tuple(b.outputs[0].type.shape) == x.shape]
    assert len(full) == 1, graph.script()  # the gradient of x only: x's normalised rows are recomputed


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 6), st.integers(1, 9), st.integers(0, 1))
def test_softmax_gradient_is_one_kernel_reading_the_input(rows, cols, axis):
    """grad of sum(softmax(x) * c) recomputes softmax row by row in its one kernel (softmax's own
    result is not stored between two kernels), and matches finite differences."""
    rng = np.random.default_rng(rows * 10 + cols)
    x, c = rng.standard_normal((rows, cols)), rng.standard_normal((rows, cols))
    f = lambda v, w: np.sum(mlc.nn.softmax(v, axis=axis) * w)  # noqa: E731
    graph = mlc.jit(mlc.grad(f)).lower(x, c).graph
    assert [b.op for b in graph.bindings] == ["call_tir"], graph.script()
    check_grads(f, (x, c), modes=("rev",))
    y = np.exp(x - x.max(axis=axis, keepdims=True))
    y /= y.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(mlc.grad(f)(x, c), y * (c - np.sum(c * y, axis=axis, keepdims=True)), rtol=1e-10,
                               atol=1e-12)


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 40), st.integers(1, 9))
def test_layer_norm_gradient_reads_its_input_in_one_kernel(rows, cols):
    """grad of sum(layer_norm(x, gamma, beta) * c) for x, gamma and beta: one kernel reads x and
    c (dx row by row, gamma's and beta's column sums part by part beside it; the row statistics
    and the column sums were kernels of their own, each reading x or c again)."""
    rng = np.random.default_rng(rows * 10 + cols)
    x, c = rng.standard_normal((rows, cols)), rng.standard_normal((rows, cols))
    gamma, beta = rng.standard_normal(cols), rng.standard_normal(cols)
    f = lambda v, g, b, w: np.sum(mlc.nn.layer_norm(v, g, b, axis=1) * w)  # noqa: E731
    graph = mlc.jit(mlc.grad(f, argnums=(0, 1, 2))).lower(x, gamma, beta, c).graph
    readers = [b for b in graph.bindings if b.op == "call_tir" and graph.inputs[0] in b.args]
    assert len(readers) == 1, graph.script()
    check_grads(lambda v, g, b: f(v, g, b, c), (x, gamma, beta), modes=("rev",))


@settings(max_examples=4, deadline=None)
@given(st.sampled_from([(64, 48), (96, 33), (4096, 16)]))
def test_layer_norm_gradient_adds_each_row_to_its_parts_column_sums(shape):
    """The kernel writes dx in x's shape (no copy of it after the kernel) and gamma's and beta's
    column sums in one row of partial sums per part of rows (parts, m), which the CPU schedule
    adds each row to as it goes: every stage under one row loop, the parts in parallel."""
    rows, cols = shape
    rng = np.random.default_rng(rows + cols)
    x, c = rng.standard_normal((rows, cols), "float32"), rng.standard_normal((rows, cols), "float32")
    gamma, beta = rng.standard_normal(cols, "float32"), rng.standard_normal(cols, "float32")
    f = mlc.jit(lambda v, g, b, w: mlc.grad(lambda *p: np.sum(mlc.nn.layer_norm(*p, axis=1) * w),
                                             argnums=(0, 1, 2))(v, g, b))
    lowered = f.lower(x, gamma, beta, c)
    full = [b for b in lowered.graph.bindings if b.op == "call_tir" and any(
        tuple(o.type.shape) == x.shape for o in b.outputs)]
    assert len(full) == 1, lowered.graph.script()  # the gradient's kernel, no reshape copying dx
    kernel = lowered.scheduled()[full[0].attr("func")].script()
    assert "T_lnv_dgamma: T.Buffer((16, %d)" % cols in kernel, kernel
    assert kernel.count("T.parallel(") == (1 if rows * cols >= 1 << 14 else 0), kernel
    dx, dg, db = f(x, gamma, beta, c)
    v, w = x.astype("float64"), c.astype("float64")
    mean = v.mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(v.var(axis=1, keepdims=True) + 1e-5)
    xhat, g = (v - mean) * rstd, w * gamma
    want = rstd * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
    np.testing.assert_allclose(dx, want, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dg, (w * xhat).sum(axis=0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(db, w.sum(axis=0), rtol=1e-4, atol=1e-3)


def test_initialisers_draw_from_the_key():
    k1, k2 = mr.split(mr.key(0))
    w = mlc.nn.init.kaiming_uniform(k1, (64, 256))
    assert w.shape == (64, 256) and w.dtype == np.float32
    assert np.abs(w).max() <= 1 / 8 and np.abs(w).max() > 0.12 and abs(w.mean()) < 0.01
    np.testing.assert_array_equal(w, mlc.nn.init.kaiming_uniform(k1, (64, 256)))
    conv = mlc.nn.init.kaiming_normal(k2, (8, 3, 3, 3), dtype="float64")
    assert conv.dtype == np.float64 and 0.2 < conv.std() < 0.35  # sqrt(2 / 27) = 0.27
    g = mlc.nn.init.glorot_uniform(k2, (30, 70))
    assert np.abs(g).max() <= np.sqrt(6 / 100)
    with pytest.raises(ShapeError, match="at least 2 axes"):
        mlc.nn.init.kaiming_uniform(k1, (5,))


# ---------------------------------------------------------------- optimizers


def _torch_sgd(p, g, v, lr, momentum, nesterov, wd):
    g = g + wd * p
    if momentum:
        v = momentum * v + g
        g = g + momentum * v if nesterov else v
    return p - lr * g, v


def _torch_adam(p, g, m, v, t, lr, b1, b2, eps, wd):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    step = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return p - lr * (step + wd * p), m, v


def _params(rng):
    return {"w": rng.standard_normal((3, 4)), "b": [rng.standard_normal(4), rng.standard_normal(())]}


def _loss(params, x):
    return np.sum(np.tanh(x @ params["w"] + params["b"][0]) ** 2) + params["b"][1] ** 2


@pytest.mark.parametrize("name,kwargs", [
    ("sgd", dict(learning_rate=0.1)), ("sgd", dict(learning_rate=0.1, momentum=0.9, weight_decay=0.01)),
    ("sgd", dict(learning_rate=0.05, momentum=0.5, nesterov=True)), ("adam", dict(learning_rate=0.01)),
    ("adamw", dict(learning_rate=0.01, weight_decay=0.1)),
])
def test_optimizers_against_their_formulas_eager_and_jitted(name, kwargs):
    rng = np.random.default_rng(0)
    params, x = _params(rng), rng.standard_normal((5, 3))
    opt = getattr(mlc.optim, name)(**kwargs)

    @mlc.jit
    def step(params, state, x):
        l, g = mlc.value_and_grad(_loss)(params, x)
        params, state = opt.update(g, state, params)
        return params, state, l

    eager, state = params, opt.init(params)
    jitted, jstate = params, opt.init(params)
    flat = [params["w"], params["b"][0], params["b"][1]]
    slots = [[np.zeros_like(p) for p in flat], [np.zeros_like(p) for p in flat]]
    for t in range(1, 5):
        grads = mlc.grad(_loss)(eager, x)
        eager, state = opt.update(grads, state, eager)
        jitted, jstate, _ = step(jitted, jstate, x)
        gs = [grads["w"], grads["b"][0], grads["b"][1]]
        for n, (p, g) in enumerate(zip(flat, gs)):
            if name == "sgd":
                flat[n], slots[0][n] = _torch_sgd(p, g, slots[0][n], kwargs["learning_rate"], kwargs.get("momentum", 0.0),
                                                  kwargs.get("nesterov", False), kwargs.get("weight_decay", 0.0))
            else:
                flat[n], slots[0][n], slots[1][n] = _torch_adam(p, g, slots[0][n], slots[1][n], t, kwargs["learning_rate"],
                                                                0.9, 0.999, 1e-8, kwargs.get("weight_decay", 0.0))
        got = [eager["w"], eager["b"][0], eager["b"][1]]
        for a, b, c in zip(got, flat, [jitted["w"], jitted["b"][0], jitted["b"][1]]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(c, b, rtol=1e-10, atol=1e-12)


def test_an_adam_step_keeps_float32_and_fuses_into_one_program():
    opt = mlc.optim.adam(1e-3)
    params = {"w": np.ones((8, 4), "float32"), "b": np.zeros(4, "float32")}

    @mlc.jit
    def step(params, state, x):
        g = mlc.grad(lambda p: np.sum((x @ p["w"] + p["b"]) ** 2))(params)
        return opt.update(g, state, params)

    x = np.ones((2, 8), "float32")
    new, state = step(params, opt.init(params), x)
    assert new["w"].dtype == np.float32 and state["mu"]["b"].dtype == np.float32
    assert state["count"] == 1 and state["count"].dtype == np.int32
    np.testing.assert_allclose(new["w"], params["w"] - 1e-3, rtol=1e-6)  # Adam's first step: lr * sign(g)
    bindings = step.lower(params, opt.init(params), x).graph.bindings
    assert set(b.op for b in bindings) <= {"call_tir", "view"}


def test_optimizer_errors():
    with pytest.raises(MLCError, match="momentum"):
        mlc.optim.sgd(0.1, momentum=1.5)
    with pytest.raises(MLCError, match="learning rate >= 0"):
        mlc.optim.adam(-1.0)
    opt = mlc.optim.sgd(0.1)
    with pytest.raises(ShapeError, match="another structure than the parameters"):
        opt.update({"w": np.ones(2)}, opt.init({"v": np.ones(2)}), {"v": np.ones(2)})
