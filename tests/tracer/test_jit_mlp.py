"""The MLP of DESIGN.md section 1: equal to NumPy, two fused kernels, printable."""
import numpy as np
import pytest

import mlc
from mlc.ir.calls import is_graph_main
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Block


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1 + b1, 0)
    return h @ w2 + b2


def mlp_params(rng, batch=64, d_in=784, hidden=128, d_out=10, dtype="float32"):
    x = rng.standard_normal((batch, d_in)).astype(dtype)
    w1 = (rng.standard_normal((d_in, hidden)) / np.sqrt(d_in)).astype(dtype)
    b1 = rng.standard_normal(hidden).astype(dtype)
    w2 = (rng.standard_normal((hidden, d_out)) / np.sqrt(hidden)).astype(dtype)
    b2 = rng.standard_normal(d_out).astype(dtype)
    return x, w1, b1, w2, b2


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_mlp_equals_numpy(target):
    args = mlp_params(np.random.default_rng(0))
    jitted = mlc.jit(mlp, target=target)
    np.testing.assert_allclose(jitted(*args), mlp(*args), rtol=1e-4, atol=1e-4)


def test_mlp_decorator_form_and_ragged_sizes():
    @mlc.jit
    def f(x, w1, b1, w2, b2):
        h = np.maximum(x @ w1 + b1, 0)
        return h @ w2 + b2

    for sizes in [(1, 7, 5, 3), (3, 13, 1, 2), (17, 31, 9, 1)]:
        args = mlp_params(np.random.default_rng(1), *sizes)
        np.testing.assert_allclose(f(*args), mlp(*args), rtol=1e-5, atol=1e-5)


def test_mlp_compiles_to_two_fused_kernels():
    args = mlp_params(np.random.default_rng(2), 8, 16, 12, 4)
    lowered = mlc.jit(mlp).lower(*args)
    calls = [b for b in lowered.graph.bindings if b.op == "call_tir"]
    assert len(calls) == 2
    assert sorted(lowered.mod) == ["fused_matmul_add", "fused_matmul_add_maximum", "mlp"]  # mlp: main
    assert is_graph_main(lowered.mod["mlp"])
    # matmul + bias + relu: the reduction block plus ONE epilogue block
    blocks = [n.name_hint for n in pre_order_nodes(lowered.mod["fused_matmul_add_maximum"].body)
              if isinstance(n, Block) and n.name_hint != "root"]
    assert blocks == ["T_matmul", "T_maximum"]


def test_mlp_as_text_prints_graph_and_kernels():
    args = mlp_params(np.random.default_rng(3), 64, 784, 128, 10)
    text = mlc.jit(mlp).lower(*args).as_text()
    assert "@R.function" in text
    assert 'def mlp(x: R.Tensor((64, 784), "float32")' in text
    assert ("lv0 = R.call_tir(fused_matmul_add_maximum, (x, w1, b1), "
            'out_sinfo=R.Tensor((64, 128), "float32"))') in text
    assert "return lv1" in text
    assert "@T.prim_func" in text and "def fused_matmul_add(" in text
    assert "T.max(" in text


def test_lowered_graph_keeps_traced_graph():
    args = mlp_params(np.random.default_rng(4), 2, 3, 4, 5)
    lowered = mlc.jit(mlp).lower(*args)
    assert lowered.traced.ops() == ["matmul", "add", "maximum", "matmul", "add"]
    assert str(lowered) == lowered.as_text()
