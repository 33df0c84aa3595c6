"""Memory planning: intermediates share storages by liveness; results stay correct."""
import numpy as np
from hypothesis import given, strategies as st

import mlc
from mlc.passes.graph import lower_to_tir, plan_memory

from .graph_helpers import fused

X = np.random.default_rng(0).standard_normal((8, 8)).astype("float32")
W = np.random.default_rng(1).standard_normal((8, 8)).astype("float32") / 8


def chain(x, w):
    # opaque/matmul boundaries force one kernel per step: a chain of intermediates
    for _ in range(6):
        x = mlc.nn.softmax(x @ w)
    return x


def planned(fn, *args):
    return plan_memory(lower_to_tir(fused(fn, *args)))


def intermediates(graph):
    return [s for b in graph.bindings for s in b.attr("storage") if s is not None]


def test_chain_reuses_buffers():
    g = planned(chain, X, W)
    assert len(intermediates(g)) == 11
    assert len(g.storages) == 2 < len(intermediates(g))
    np.testing.assert_allclose(mlc.jit(chain)(X, W), chain(X, W), rtol=1e-5)


def test_a_kernel_never_writes_a_storage_it_reads():
    g = planned(chain, X, W)
    where = {}
    for b in g.bindings:
        reads = {where.get(id(a)) for a in b.args} - {None}
        for v, s in zip(b.outputs, b.attr("storage")):
            assert s is None or s not in reads
            where[id(v)] = s


def test_values_live_across_later_kernels_keep_their_storage():
    def f(x, w):
        a = mlc.nn.softmax(x @ w)
        b = mlc.nn.softmax(a @ w)
        c = mlc.nn.softmax(b @ w)
        return c + a  # a is live until the end

    g = planned(f, X, W)
    assert len(g.storages) >= 3
    np.testing.assert_allclose(mlc.jit(f)(X, W), f(X, W), rtol=1e-5)


def test_storages_are_per_dtype_and_grow_to_fit():
    def f(x):
        a = mlc.nn.softmax(x)[:, :3]                          # float32, small
        i = (mlc.nn.softmax(a) * 100).astype("int32")          # an int32 intermediate...
        m = (i @ np.ones((3, 2), "int32")).astype("float32")   # ...read by a matmul
        big = mlc.nn.softmax(mlc.numpy.concatenate([x, x], axis=1))
        return m.sum() + big.sum()

    g = planned(f, X)
    dtypes = sorted(s.dtype for s in g.storages)
    assert "int32" in dtypes and "float32" in dtypes
    float_sizes = [s.size for s in g.storages if s.dtype == "float32"]
    assert max(float_sizes) == 8 * 16  # the concatenated softmax input: grown or new, it fits
    np.testing.assert_allclose(mlc.jit(f)(X), f(X), rtol=1e-4)


def test_outputs_are_not_planned():
    g = planned(lambda x, w: (mlc.nn.softmax(x @ w), x @ w), X, W)
    returned = {id(a) for a in g.outputs}
    for b in g.bindings:
        for v, s in zip(b.outputs, b.attr("storage")):
            assert (s is None) == (id(v) in returned)


def numpy_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def run_steps(steps, x, w, softmax):
    for step in steps:
        if step == "softmax":
            x = softmax(x)
        elif step == "matmul":
            x = x @ w
        elif step == "exp":
            x = np.exp(x * 0.1)
        else:
            x = x - x.sum(axis=1, keepdims=True) / 8
    return x


@given(st.lists(st.sampled_from(["softmax", "matmul", "exp", "sum"]), min_size=1, max_size=8))
def test_random_chains_equal_numpy(steps):
    f = mlc.jit(lambda x, w: run_steps(steps, x, w, mlc.nn.softmax))
    np.testing.assert_allclose(f(X, W), run_steps(steps, X, W, numpy_softmax), rtol=1e-4, atol=1e-6)


def _mlp_step(w1, b1, w2, b2, x, y, lr):
    def loss(params, x, y):
        w1, b1, w2, b2 = params
        logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
        m = logits.max(axis=1, keepdims=True)
        logp = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
        return -np.mean(np.take_along_axis(logp, y[:, None], axis=1))
    value, grads = mlc.value_and_grad(loss)((w1, b1, w2, b2), x, y)
    return value, [p - lr * g for p, g in zip((w1, b1, w2, b2), grads)]


def test_the_plan_does_not_depend_on_where_the_values_live_in_memory():
    """A training step's plan (which storage each intermediate takes) is the same every time
    it is lowered: storages freed by one binding are freed in its arguments' order, not in the
    order of their ids (addresses, another in each process: the compiled code, and so the
    object cache's key, would differ from run to run)."""
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((64, 256), dtype="float32"), np.zeros(256, "float32"),
            rng.standard_normal((256, 10), dtype="float32"), np.zeros(10, "float32"),
            rng.standard_normal((16, 64), dtype="float32"), rng.integers(0, 10, 16), np.float32(0.1))
    texts = {mlc.jit(_mlp_step).lower(*args).as_text() for _ in range(8)}
    assert len(texts) == 1
