"""Golden fusion groups for representative graphs.

Fusion decides which kernels exist; a change to a rule keeps results right
but changes the kernels, so the groups are pinned here for the graphs that
exercise each rule: an MLP (matmul epilogues), softmax and layer_norm written
in NumPy (row groups), conv2d + bias + relu, GELU (a long elementwise chain),
a diamond, reductions followed by broadcasts (rows, columns, whole array),
mixed row prefixes, a returned intermediate and the group size limit. Each
graph also runs through ``mlc.jit`` against NumPy.
"""
import math

import numpy as np
import pytest

import mlc
from mlc.passes.graph import verify_graph
from mlc.passes.graph.fuse import MAX_GROUP_OPS

from .graph_helpers import evaluate, fused, group_ops

RNG = np.random.default_rng(7)


def rand(*shape):
    return RNG.standard_normal(shape).astype("float32")


X, W1, B1, W2, B2 = rand(4, 6), rand(6, 5), rand(5), rand(5, 3), rand(3)
X3 = rand(3, 4, 5)
IMG, KER, BIAS = rand(1, 2, 6, 6), rand(3, 2, 3, 3), rand(3, 1, 1)
GAMMA, BETA = rand(6), rand(6)


def mlp(x, w1, b1, w2, b2):
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm(x, g, b):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * g + b


def conv_relu(x, w, bias):
    return np.maximum(mlc.nn.conv2d(x, w, padding=1) + bias, 0)


def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def diamond(x):
    a = np.exp(x)
    return np.sin(a) * np.cos(a) + a


def row_sum_broadcast(x):
    return x * x.sum(axis=1, keepdims=True)


def column_sum_broadcast(x):
    return x * x.sum(axis=0, keepdims=True)


def into_column_reduction(x):
    return np.exp(x - 1).sum(axis=0)


def total_broadcast(x):
    return x - x.mean()


def total_over_named_axes(x, v):
    """Full reductions spelled with axes: still whole-array reductions, not row ones."""
    return x - x.mean(axis=(0, 1)), v / v.sum(axis=0)


def mixed_rows(x):
    """A reduction over the last axis (rows (3, 4)) feeding one over the last two (rows (3,))."""
    m = x.max(axis=2, keepdims=True)
    s = (x - m).sum(axis=(1, 2), keepdims=True)
    return x * s


def reduction_then_same_shape_operand(x, y):
    return np.sqrt(np.abs(x.sum(axis=1) + y)) * 2


def returned_intermediate(x):
    h = np.exp(x)
    return h, np.tanh(h) * 2


def long_chain(x):
    for n in list(range(MAX_GROUP_OPS + 6)):  # a Python loop: one straight chain of ops
        x = x * 1.0001 if n % 2 else x + 0.001
    return x


CASES = {
    "mlp": (mlp, (X, W1, B1, W2, B2),
            [["matmul", "add", "maximum"], ["matmul", "add"]]),
    "softmax": (softmax, (X,),
                [["max", "subtract", "exp", "sum", "divide"]]),
    "layer_norm": (layer_norm, (X, GAMMA, BETA),
                   [["mean", "subtract", "square", "mean", "add", "sqrt", "divide", "multiply", "add"]]),
    "conv_relu": (conv_relu, (IMG, KER, BIAS),
                  [["nn.conv2d", "add", "maximum"]]),
    "gelu": (gelu, (X,),
             [["multiply", "power", "multiply", "add", "multiply", "tanh", "add", "multiply"]]),
    "diamond": (diamond, (X,),
                [["exp", "sin", "cos", "multiply", "add"]]),
    "row_sum_broadcast": (row_sum_broadcast, (X,),
                          [["sum", "multiply"]]),
    "column_sum_broadcast": (column_sum_broadcast, (X,),
                             [["sum"], ["multiply"]]),
    "into_column_reduction": (into_column_reduction, (X,),
                              [["subtract", "exp", "sum"]]),
    "total_broadcast": (total_broadcast, (X,),
                        [["mean"], ["subtract"]]),
    "total_over_named_axes": (total_over_named_axes, (X, B1),
                              [["mean"], ["subtract"], ["sum"], ["divide"]]),
    "mixed_rows": (mixed_rows, (X3,),
                   [["max", "subtract"], ["sum", "multiply"]]),
    "reduction_then_same_shape_operand": (reduction_then_same_shape_operand, (X, rand(4)),
                                          [["sum", "add", "absolute", "sqrt", "multiply"]]),
    "returned_intermediate": (returned_intermediate, (X,),
                              [["exp"], ["tanh", "multiply"]]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_groups(name):
    fn, args, expect = CASES[name]
    g = fused(fn, *args)
    verify_graph(g)
    assert group_ops(g) == expect
    want = fn(*args)
    want = want if isinstance(want, tuple) else (want,)
    for got, w in zip(evaluate(g, *args), want):
        np.testing.assert_allclose(got, w, rtol=1e-4, atol=1e-5)
    got = mlc.jit(fn)(*args)
    for got, w in zip(got if isinstance(got, tuple) else (got,), want):
        np.testing.assert_allclose(got, w, rtol=1e-4, atol=1e-5)


def test_a_long_chain_fills_groups_up_to_the_limit():
    g = fused(long_chain, X)
    assert [len(ops) for ops in group_ops(g)] == [MAX_GROUP_OPS, 6]
