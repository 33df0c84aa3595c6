"""Fusion: which ops share a kernel (TVM FuseOps rules), and results stay equal."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.passes.graph import fuse_ops, verify_graph
from mlc.passes.graph.fuse import MAX_GROUP_OPS, MAX_INLINED_TREE

from .graph_helpers import evaluate, fused, group_ops, traced

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 6)).astype("float32")
W = RNG.standard_normal((6, 5)).astype("float32")
B = RNG.standard_normal(5).astype("float32")


def check(fn, *args, expect):
    g = fused(fn, *args)
    verify_graph(g)
    assert group_ops(g) == expect
    for got, want in zip(evaluate(g, *args), [fn(*args)]):
        np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(mlc.jit(fn)(*args), fn(*args), rtol=1e-5, atol=1e-6)


def test_elementwise_chain_is_one_group():
    check(lambda x: np.tanh(np.exp(x) * 2 - 1) + x, X,
          expect=[["exp", "multiply", "subtract", "tanh", "add"]])


def test_mlp_is_two_groups():
    w2 = RNG.standard_normal((5, 3)).astype("float32")
    b2 = RNG.standard_normal(3).astype("float32")
    check(lambda x, w1, b1: np.maximum(x @ w1 + b1, 0) @ w2 + b2, X, W, B,
          expect=[["matmul", "add", "maximum"], ["matmul", "add"]])


def test_diamond_fuses_into_its_post_dominator():
    def f(x):
        a = np.exp(x)
        return np.sin(a) * np.cos(a)  # a has two consumers, both reach the multiply

    check(f, X, expect=[["exp", "sin", "cos", "multiply"]])


def test_shared_producer_is_not_duplicated():
    def f(x):
        a = np.exp(x)
        return a * 2, a.sum(axis=1)  # two consumers with no common post-dominator

    g = fused(f, X)
    assert group_ops(g) == [["exp"], ["multiply"], ["sum"]]
    assert sum(ops.count("exp") for ops in group_ops(g)) == 1
    got = mlc.jit(f)(X)
    np.testing.assert_allclose(got[0], np.exp(X) * 2, rtol=1e-6)
    np.testing.assert_allclose(got[1], np.exp(X).sum(axis=1), rtol=1e-5)


def test_elementwise_producers_fuse_into_reductions():
    check(lambda x: np.exp(x - 1).sum(axis=1), X, expect=[["subtract", "exp", "sum"]])


def test_reduction_takes_an_elementwise_epilogue():
    check(lambda x: np.sqrt(x.max(axis=1) + 10) * 2, X, expect=[["max", "add", "sqrt", "multiply"]])


def test_row_reduction_fuses_with_its_broadcast_consumer():
    check(lambda x: x - x.mean(axis=1, keepdims=True), X, expect=[["mean", "subtract"]])


def test_column_reduction_broadcast_into_a_larger_consumer_ends_its_group():
    check(lambda x: x - x.mean(axis=0, keepdims=True), X, expect=[["mean"], ["subtract"]])


def test_full_reduction_broadcast_ends_its_group():
    check(lambda x: x / x.sum(), X, expect=[["sum"], ["divide"]])


def test_injective_ops_fuse_with_injective_and_elementwise_neighbours():
    check(lambda x: (x.T * 2).reshape(3, 8)[::-1], X, expect=[["transpose", "multiply", "reshape", "slice"]])


def test_elementwise_producer_does_not_fuse_into_matmul():
    check(lambda x, w: np.exp(x) @ w, X, W, expect=[["exp"], ["matmul"]])


def test_opaque_ops_stay_alone():
    check(lambda x: mlc.nn.softmax(x * 2) + 1, X, expect=[["multiply"], ["nn.softmax"], ["add"]])


def test_returned_values_end_their_group():
    def f(x):
        h = np.exp(x)
        return h, h + 1

    check_groups = group_ops(fused(f, X))
    assert check_groups == [["exp"], ["add"]]


def test_group_size_is_bounded():
    def f(x):
        for _ in list(range(MAX_GROUP_OPS + 10)):  # a Python loop: one straight chain of ops
            x = x * 1.0001
        return x

    g = fused(f, X)
    assert all(len(ops) <= MAX_GROUP_OPS for ops in group_ops(g)) and len(g.bindings) == 2
    np.testing.assert_allclose(mlc.jit(f)(X), f(X), rtol=1e-4)


def test_fusion_of_a_long_graph_needs_no_recursion():
    def f(x):
        for _ in list(range(3000)):  # a Python loop: one straight chain of ops
            x = np.maximum(x, 0)
        return x

    g = fuse_ops(traced(f, X))
    assert sum(len(ops) for ops in group_ops(g)) == 3000


def test_an_op_with_a_hand_written_kernel_returns_every_output():
    """eigh's PrimFunc writes both its outputs: a program using one still builds (the group
    returns the other too; it failed to lower, 'the group must return every output')."""
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    g = fused(lambda m: mlc.numpy.linalg.eigh(m)[1] * 2, a)
    (group,) = [b for b in g.bindings if b.op == "fused" and "eigh" in b.attr("name")]
    assert len(group.outputs) == 2
    np.testing.assert_allclose(np.abs(mlc.jit(lambda m: mlc.numpy.linalg.eigh(m)[1] * 2)(a)),
                               np.abs(np.linalg.eigh(a)[1] * 2), rtol=1e-12)


def test_a_value_read_through_two_windows_is_computed_once():
    def f(x):
        a = np.exp(x)
        return a[1:, :] + a[:-1, :]  # two windows of a: fused, exp ran once per window
    check(f, X, expect=[["exp"], ["slice", "slice", "add"]])
    check(lambda x: np.exp(x)[1:] * 2 + 1, X, expect=[["exp", "slice", "multiply", "add"]])  # one window fuses


def test_a_value_read_through_disjoint_windows_fuses():
    def f(x):
        a = np.exp(x)
        return a[:, :3] * a[:, 3:]  # each element of a is computed once either way (a q, k split)
    check(f, X, expect=[["exp", "slice", "slice", "multiply"]])


def _steps(u, steps):
    for t in range(steps):
        u = u.copy()
        u[1:-1] = u[1:-1] + 0.25 * (u[2:] - 2 * u[1:-1] + u[:-2])
    return u


@settings(max_examples=5, deadline=None)
@given(n=st.integers(2, 9), steps=st.integers(1, 6))
def test_an_unrolled_stencil_loop_is_a_kernel_per_step(n, steps):
    """Each step reads the step before through three windows: fused into one kernel, the
    kernel inlined the step before at every window, 3 ** steps copies of the first step
    (the game of life's three generations took a minute to compile, its kernels ran 8 to 20
    times slower than NumPy). (With n = 1 the three windows are disjoint single elements,
    which fuse: each element is still computed once.)"""
    u = np.random.default_rng(n).standard_normal(n + 2)
    f = mlc.jit(_steps, static_argnames=("steps",))
    np.testing.assert_allclose(f(u, steps), _steps(u, steps), rtol=1e-12)
    kernels = [b for b in f.lower(u, steps).graph.bindings if b.op == "call_tir"]
    assert len(kernels) == steps


def _tree_size(graph, value, sizes=None):
    """Nodes of ``value``'s computation in ``graph`` written out as a tree (a value read
    twice counted twice): what inlining it into one expression makes."""
    producer = {id(v): b for b in graph.bindings for v in b.outputs}
    memo = {}

    def size(v):
        if id(v) not in memo:
            b = producer.get(id(v))
            memo[id(v)] = 1 if b is None else 1 + sum(size(a) for a in b.args)
        return memo[id(v)]
    return size(value)


def _euclid(a, b, steps):
    for _ in range(steps):
        done = b == 0
        a, b = np.where(done, a, b), np.where(done, 0, a % np.where(done, 1, b))
    return a


@settings(max_examples=4, deadline=None)
@given(steps=st.integers(1, 16))
def test_a_value_read_twice_stops_fusing_before_its_tree_explodes(steps):
    """Each Euclid step reads the step before three times: fused into one kernel, its
    expression held 3 ** steps copies of the first step (gcd's fourteen int8 steps ran
    the build out of memory). A value read twice whose tree would pass MAX_INLINED_TREE
    nodes is computed into a buffer, so no kernel's tree passes it by more than a step's
    reads of it."""
    a = np.array([12, 7, 0, 48, 100, 13], np.int32)
    b = np.array([18, 5, 4, 36, 75, 0], np.int32)
    g = fused(lambda a, b: _euclid(a, b, steps), a, b)
    for group in g.bindings:
        body = group.attr("body")
        assert all(_tree_size(body, out) <= 4 * MAX_INLINED_TREE for out in body.outputs)
    np.testing.assert_array_equal(mlc.jit(lambda a, b: _euclid(a, b, steps), tiered=False)(a, b),
                                  np.gcd(a, b) if steps >= 8 else _euclid(a, b, steps))
