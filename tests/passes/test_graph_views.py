"""Reshapes as views: no copy kernel, the viewed storage stays alive while the view is read."""
import numpy as np
import pytest

import mlc
from mlc.passes.graph import reshape_to_view

from .graph_helpers import fused

RNG = np.random.default_rng(0)
X = RNG.standard_normal((8, 8)).astype("float32")
W = (RNG.standard_normal((8, 8)) / 8).astype("float32")


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_flatten_between_kernels_is_a_view(target):
    def f(x, w):
        h = mlc.nn.softmax(x @ w)
        return mlc.nn.softmax(h.reshape(1, 64))

    jitted = mlc.jit(f, target=target)
    np.testing.assert_allclose(jitted(X, W), softmax(softmax(X @ W).reshape(1, 64)), rtol=1e-5)
    graph = jitted.lower(X, W).graph
    assert "view" in graph.ops() and not any("reshape" in name for name in graph.module)


def test_view_of_an_input_passes_the_input_on():
    f = mlc.jit(lambda x, w: mlc.nn.softmax(x.reshape(4, 16)) @ w.reshape(16, 4))
    np.testing.assert_allclose(f(X, W), softmax(X.reshape(4, 16)) @ W.reshape(16, 4), rtol=1e-5)
    assert f.lower(X, W).graph.ops().count("view") == 2  # before an opaque op and a matmul


def test_returned_reshapes_stay_kernels():
    f = mlc.jit(lambda x: mlc.nn.softmax(x).reshape(64))
    out = f(X)
    np.testing.assert_allclose(out, softmax(X).reshape(64), rtol=1e-6)
    assert "view" not in f.lower(X).graph.ops()
    g = reshape_to_view(fused(lambda x: mlc.nn.softmax(x).reshape(64), X))
    assert g.ops() == ["fused", "fused"]


def test_a_view_keeps_its_storage_alive():
    def f(x, w):
        a = mlc.nn.softmax(x @ w)
        v = a.reshape(1, 64)                    # a view of a's storage...
        b = mlc.nn.softmax(x @ w * 2)
        c = mlc.nn.softmax(b @ w)               # ...while later kernels take storages
        return mlc.nn.softmax(v) + c.reshape(1, 64)

    def ref(x, w):
        a = softmax(x @ w)
        c = softmax(softmax(x @ w * 2) @ w)
        return softmax(a.reshape(1, 64)) + c.reshape(1, 64)

    jitted = mlc.jit(f)
    graph = jitted.lower(X, W).graph
    assert "view" in graph.ops()
    np.testing.assert_allclose(jitted(X, W), ref(X, W), rtol=1e-5)
