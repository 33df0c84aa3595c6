"""Row reductions and their elementwise neighbours, written in NumPy: one kernel per
softmax / layer_norm / log_softmax over the last axis, results equal to NumPy for any shape."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.config import override
from mlc.ir.calls import is_graph_main
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For


def softmax(v, axis=-1):
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(v, axis=-1):
    shifted = v - v.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def layer_norm(v, gamma, beta):
    mean = v.mean(axis=-1, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=-1, keepdims=True)
    return (v - mean) / np.sqrt(var + 1e-5) * gamma + beta


def softmax_no_keepdims(v):
    """keepdims=False, then the reduced axis restored by indexing."""
    e = np.exp(v - v.max(axis=-1)[..., None])
    return e / e.sum(axis=-1)[..., None]


RNG = np.random.default_rng(0)
X = RNG.standard_normal((64, 96)).astype("float32")
G, B = RNG.standard_normal(96).astype("float32"), RNG.standard_normal(96).astype("float32")


def kernels(fn, *args):
    """The kernels' names (the graph's main, which calls them, left out)."""
    return [name for name, f in mlc.jit(fn).lower(*args).mod.items() if not is_graph_main(f)]


@pytest.mark.parametrize("fn", [softmax, log_softmax, softmax_no_keepdims])
def test_row_softmax_is_one_kernel(fn):
    assert len(kernels(fn, X)) == 1
    np.testing.assert_allclose(mlc.jit(fn)(X), fn(X), rtol=1e-5, atol=1e-6)


def test_layer_norm_is_one_kernel():
    assert len(kernels(layer_norm, X, G, B)) == 1
    np.testing.assert_allclose(mlc.jit(layer_norm)(X, G, B), layer_norm(X, G, B), rtol=1e-4, atol=1e-5)


def test_column_softmax_is_not_fused_across_the_reductions():
    assert len(kernels(lambda v: softmax(v, axis=0), X)) > 1
    np.testing.assert_allclose(mlc.jit(lambda v: softmax(v, axis=0))(X), softmax(X, 0), rtol=1e-5)


def test_softmax_head_of_an_mlp_is_a_kernel_of_its_own():
    w1, b1 = RNG.standard_normal((96, 32)).astype("float32"), np.zeros(32, "float32")
    w2 = RNG.standard_normal((32, 10)).astype("float32")

    def f(x, w1, b1, w2):
        return softmax(np.maximum(x @ w1 + b1, 0) @ w2)

    names = kernels(f, X, w1, b1, w2)
    assert len(names) == 3 and names[-1].startswith("fused_max_subtract_exp_sum_divide")
    np.testing.assert_allclose(mlc.jit(f)(X, w1, b1, w2), f(X, w1, b1, w2), rtol=1e-4, atol=1e-6)


def _parallel_loops(func) -> list[For]:
    return [n for n in pre_order_nodes(func.body) if isinstance(n, For) and n.kind == "parallel"]


def test_softmax_kernel_runs_rows_in_one_parallel_loop():
    x = RNG.standard_normal((1024, 256)).astype("float32")
    with override(num_threads=2):
        scheduled = mlc.jit(softmax).lower(x).scheduled()
    (func,) = [f for f in scheduled.values() if not is_graph_main(f)]
    (loop,) = _parallel_loops(func)
    assert loop.extent.value == 1024   # one parallel loop over the rows, every stage inside it
    text = scheduled.script()
    assert "T_max_rf" in text and "T_sum_rf" in text   # vector accumulators
    np.testing.assert_allclose(mlc.jit(softmax)(x), softmax(x), rtol=1e-5, atol=1e-7)


SHAPE = st.tuples(st.sampled_from([1, 2, 3, 7, 16]), st.sampled_from([1, 5, 8, 33, 64, 100]))


@settings(max_examples=12, deadline=None)
@given(SHAPE, st.sampled_from([0, 1, -1]), st.booleans())
def test_softmax_any_shape_axis_and_keepdims(shape, axis, keepdims):
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype("float32") * 4

    def f(v):
        m = v.max(axis=axis, keepdims=keepdims)
        m = m if keepdims else np.expand_dims(m, axis)
        e = np.exp(v - m)
        s = e.sum(axis=axis, keepdims=keepdims)
        return e / (s if keepdims else np.expand_dims(s, axis))

    np.testing.assert_allclose(mlc.jit(f)(x), f(x), rtol=1e-5, atol=1e-7)


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([(1, 1), (3, 1), (1, 9), (5, 17), (2, 3, 40), (4, 2, 64)]))
def test_layer_norm_and_log_softmax_any_shape(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype("float32")
    g, b = rng.standard_normal(shape[-1:]).astype("float32"), rng.standard_normal(shape[-1:]).astype("float32")
    np.testing.assert_allclose(mlc.jit(layer_norm)(x, g, b), layer_norm(x, g, b), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mlc.jit(log_softmax)(x), log_softmax(x), rtol=1e-5, atol=1e-5)


def test_nan_in_a_row_propagates_through_the_vector_max():
    x = RNG.standard_normal((4, 64)).astype("float32")
    x[1, 37] = np.nan
    got = mlc.jit(softmax)(x)
    assert np.isnan(got[1]).all() and not np.isnan(got[[0, 2, 3]]).any()
    np.testing.assert_allclose(got[[0, 2, 3]], softmax(x[[0, 2, 3]]), rtol=1e-5)
