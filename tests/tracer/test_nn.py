"""mlc.nn front-end functions: eager and traced, against each op's NumPy reference and NumPy math."""
import numpy as np
import pytest

import mlc
from mlc.ops.registry import get_op

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 5)).astype("float32")
IMG = RNG.standard_normal((1, 3, 7, 6)).astype("float32")
W = RNG.standard_normal((4, 3, 3, 3)).astype("float32")


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_activations_match_numpy():
    np.testing.assert_array_equal(mlc.nn.relu(X), np.maximum(X, 0))
    np.testing.assert_allclose(mlc.nn.silu(X), X / (1 + np.exp(-X)), rtol=1e-5)
    np.testing.assert_allclose(mlc.nn.sigmoid(X), 1 / (1 + np.exp(-X)), rtol=1e-5)
    tanh_gelu = 0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X ** 3)))
    np.testing.assert_allclose(mlc.nn.gelu(X, approximate="tanh"), tanh_gelu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mlc.nn.gelu(X), get_op("nn.gelu").reference(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_and_log_softmax(axis):
    np.testing.assert_allclose(mlc.nn.softmax(X, axis=axis), softmax(X, axis), rtol=1e-5)
    np.testing.assert_allclose(mlc.nn.log_softmax(X, axis), np.log(softmax(X, axis)), rtol=1e-5,
                               atol=1e-6)


def test_layer_norm():
    gamma, beta = RNG.standard_normal(5).astype("float32"), RNG.standard_normal(5).astype("float32")
    mean, var = X.mean(-1, keepdims=True), X.var(-1, keepdims=True)
    want = (X - mean) / np.sqrt(var + 1e-5) * gamma + beta
    np.testing.assert_allclose(mlc.nn.layer_norm(X, gamma, beta), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((1, 2), (1, 0))])
def test_conv2d_against_reference(stride, padding):
    got = mlc.nn.conv2d(IMG, W, stride=stride, padding=padding)
    want = get_op("nn.conv2d").reference(IMG, W, stride=stride, padding=padding)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_pools():
    np.testing.assert_allclose(mlc.nn.max_pool2d(IMG, 2), IMG[:, :, :6, :6].reshape(1, 3, 3, 2, 3, 2)
                               .max(axis=(3, 5)))
    np.testing.assert_allclose(mlc.nn.avg_pool2d(IMG, 2), IMG[:, :, :6, :6].reshape(1, 3, 3, 2, 3, 2)
                               .mean(axis=(3, 5)), rtol=1e-5)
    want = get_op("nn.max_pool2d").reference(IMG, kernel=3, stride=2, padding=1)
    np.testing.assert_array_equal(mlc.nn.max_pool2d(IMG, 3, stride=2, padding=1), want)


def test_small_cnn_in_jit_fuses_conv_epilogue():
    bias = RNG.standard_normal((1, 4, 1, 1)).astype("float32")

    @mlc.jit
    def cnn(x, w):
        y = mlc.nn.relu(mlc.nn.conv2d(x, w, padding=1) + bias)
        y = mlc.nn.max_pool2d(y, 2)
        return mlc.nn.softmax(y.reshape(1, -1))

    conv = get_op("nn.conv2d").reference(IMG, W, padding=1)
    pooled = get_op("nn.max_pool2d").reference(np.maximum(conv + bias, 0), kernel=2)
    np.testing.assert_allclose(cnn(IMG, W), softmax(pooled.reshape(1, -1)), rtol=1e-4, atol=1e-6)
    funcs = list(cnn.lower(IMG, W).mod)
    assert "fused_conv2d_add_relu" in funcs
