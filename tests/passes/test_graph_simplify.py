"""DCE, CSE and constant folding: structure after each pass, and unchanged results."""
import numpy as np
import pytest

import mlc
from mlc.ir.graph import Constant
from mlc.passes.graph import (common_subexpression_elimination, dead_code_elimination,
                              fold_constants, verify_graph)

from .graph_helpers import evaluate, traced

X = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")


def test_dce_removes_unused_values_only():
    def f(x):
        unused = np.exp(x) * 3
        _ = unused.sum()
        return x + 1

    g = traced(f, X)
    assert g.ops() == ["exp", "multiply", "sum", "add"]
    out = dead_code_elimination(g)
    assert out.ops() == ["add"]
    np.testing.assert_allclose(evaluate(out, X)[0], X + 1)
    assert dead_code_elimination(out) is out  # nothing left to remove: the same graph


def test_cse_merges_repeated_computations_and_constants():
    def f(x):
        a = np.exp(x * 2)
        b = np.exp(x * 2)
        return a + b + x.sum(axis=0) + x.sum(axis=0) + x.sum(axis=1, keepdims=True)

    g = traced(f, X)
    out = dead_code_elimination(common_subexpression_elimination(g))
    assert out.ops() == ["multiply", "exp", "add", "sum", "add", "add", "sum", "add"]
    verify_graph(out)
    np.testing.assert_allclose(evaluate(out, X)[0], f(X), rtol=1e-5)


def test_cse_keeps_different_attributes_apart():
    g = traced(lambda x: x.sum(axis=0)[None] + x.sum(axis=1)[:, None], X)
    assert common_subexpression_elimination(g).ops().count("sum") == 2


def test_fold_constants_evaluates_constant_subgraphs():
    w = np.arange(4, dtype="float32")

    def f(x):
        scale = np.exp(w) * 2 + mlc.numpy.sqrt(np.float32(4))  # constants only
        return x * scale

    g = traced(f, X)
    out = dead_code_elimination(fold_constants(g))
    assert out.ops() == ["multiply"]
    (const,) = [a for a in out.bindings[0].args if isinstance(a, Constant)]
    np.testing.assert_allclose(const.data, np.exp(w) * 2 + 2, rtol=1e-6)
    assert const.dtype == "float32"
    np.testing.assert_allclose(evaluate(out, X)[0], f(X), rtol=1e-6)


def test_fold_keeps_large_broadcasts_as_ops():
    g = traced(lambda x: x + mlc.numpy.broadcast_to(np.float32(1), (64, 64)), np.ones((64, 64), "float32"))
    out = fold_constants(g)
    assert out.ops() == ["broadcast_to", "add"]
    small = fold_constants(traced(lambda x: x + mlc.numpy.broadcast_to(np.float32(1), (3, 4)), X))
    assert small.ops() == ["add"]


def test_fold_leaves_an_op_its_reference_cannot_evaluate_to_the_kernel():
    """A reference that raises on these values (here a cumsum whose reference is broken on
    purpose) leaves the binding in place instead of failing the trace."""
    g = traced(lambda x: x + mlc.numpy.cumsum(np.arange(3, dtype="float32")), np.ones(3, "float32"))
    op = mlc.ops.get_op("cumsum")
    reference = op.reference
    try:
        object.__setattr__(op, "reference", lambda *a, **k: np.max(np.zeros(0)))
        assert fold_constants(g).ops() == ["cumsum", "add"]
    finally:
        object.__setattr__(op, "reference", reference)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_of_a_constant_with_an_empty_axis(log):
    fn = mlc.nn.log_softmax if log else mlc.nn.softmax
    out = mlc.jit(lambda: fn(np.zeros((3, 0), np.float32)))()
    assert out.shape == (3, 0) and out.dtype == np.float32


@pytest.mark.parametrize("p", [dead_code_elimination, common_subexpression_elimination, fold_constants])
def test_passes_are_pure(p):
    g = traced(lambda x: np.exp(x) + np.exp(x) + np.float32(2) * np.float32(3), X)
    before = g.script()
    p(g)
    assert g.script() == before


def test_verify_graph_rejects_malformed_graphs():
    from mlc.ir.graph import Binding, Graph, Var
    from mlc.ops.registry import TensorType
    t = TensorType((2,), "float32")
    x, a, b = Var("x", t), Var("a", t), Var("b", t)
    with pytest.raises(mlc.IRError, match="before it is defined"):
        verify_graph(Graph((x,), (Binding((a,), "exp", (b,)), Binding((b,), "exp", (x,))), (a,)))
    with pytest.raises(mlc.IRError, match="defined twice"):
        verify_graph(Graph((x,), (Binding((a,), "exp", (x,)), Binding((a,), "exp", (x,))), (a,)))
    with pytest.raises(mlc.IRError, match="never defined"):
        verify_graph(Graph((x,), (), (a,)))
    with pytest.raises(mlc.IRError, match="module lacks"):
        verify_graph(Graph((x,), (Binding((a,), "call_tir", (x,), (("func", "f"),)),), (a,)))
    with pytest.raises(mlc.IRError, match="view binding"):
        bad = Var("bad", TensorType((3,), "float32"))
        verify_graph(Graph((x,), (Binding((bad,), "view", (x,)),), (bad,)))


def test_fold_leaves_results_with_dynamic_axes():
    """A constant broadcast to a dynamic axis (the ones a gradient starts from) is sized only at
    the call: not folded (folding asked its symbolic size for a truth value and crashed)."""
    f = mlc.jit(lambda x: mlc.grad(lambda v: np.sum(np.sin(v)))(x), dynamic=("x", 0))
    for n in (3, 5):
        x = np.linspace(0, 1, n)
        np.testing.assert_allclose(f(x), np.cos(x), rtol=1e-12)
