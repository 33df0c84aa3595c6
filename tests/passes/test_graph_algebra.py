"""simplify_algebra: a product with ones (or a quotient by ones) is its other operand where the
result's type is that operand's; nothing else changes."""
import numpy as np
import pytest

import mlc
from mlc.passes.graph import dead_code_elimination, fold_constants, simplify_algebra

from .graph_helpers import evaluate, traced

X = np.array([[1.5, -0.0, np.nan], [np.inf, 2.0, -3.0]], "float32")


def _simplified(fn, *args):
    return dead_code_elimination(simplify_algebra(fold_constants(traced(fn, *args))))


@pytest.mark.parametrize("fn", [
    lambda x: x * np.ones((2, 3), "float32"),
    lambda x: np.broadcast_to(np.float32(1), (2, 3)) * x,
    lambda x: x / np.reshape(np.broadcast_to(np.float32(1), (3, 2)), (2, 3)),
])
def test_products_with_ones_are_the_other_operand(fn):
    g = _simplified(fn, X)
    assert g.ops() == [] and g.outputs[0] is g.inputs[0]
    np.testing.assert_array_equal(evaluate(g, X)[0], X)  # NaN, inf and -0.0 as they were


@pytest.mark.parametrize("fn", [
    lambda x: np.float32(1) / x,                          # ones divided by x
    lambda x: x * np.ones((4, 2, 3), "float32"),          # the ones broadcast x
    lambda x: x * np.ones((2, 3), "float64"),             # the ones promote x
    lambda x: x + np.zeros((2, 3), "float32"),            # -0.0 + 0.0 is +0.0: sums stay
    lambda x: x * np.float32(2),
])
def test_other_products_stay(fn):
    g = _simplified(fn, X)
    assert g.ops(), g.script()
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(evaluate(g, X)[0], fn(X))


def test_a_gradient_reads_its_cotangent_in_place():
    """grad of sum(v * c) starts from ones: the gradient is c itself, no kernel computes it."""
    w = np.ones((2, 3), "float32") * 3
    f = mlc.jit(lambda x, c: mlc.grad(lambda v: np.sum(v * c))(x))
    graph = f.lower(X, w).graph
    assert graph.ops() == [] and graph.outputs[0] is graph.inputs[1]
    np.testing.assert_array_equal(f(X, w), w)
