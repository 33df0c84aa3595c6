"""Pytrees: flatten/unflatten round trips, and jitted functions over nested arguments/results."""
from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given, strategies as st

import mlc
from mlc.tracer.pytree import LEAF, flatten, num_leaves, unflatten

Pair = namedtuple("Pair", "first second")

trees = st.recursive(
    st.integers() | st.none(),
    lambda children: (st.lists(children, max_size=3) | st.tuples(children, children)
                      | st.dictionaries(st.text("abc", min_size=1, max_size=2), children, max_size=3)
                      | st.builds(Pair, children, children)),
    max_leaves=12)


@given(trees)
def test_flatten_unflatten_round_trip(tree):
    leaves, treedef = flatten(tree)
    assert unflatten(treedef, leaves) == tree
    assert num_leaves(treedef) == len(leaves)
    hash(treedef)  # usable in a cache key
    assert all(leaf is not None for leaf in leaves)


def test_leaf_and_deep_nesting():
    assert flatten(3) == ([3], LEAF)
    deep = 1
    for _ in range(5000):  # no recursion limit: explicit stacks
        deep = [deep]
    leaves, treedef = flatten(deep)
    assert leaves == [1]
    rebuilt = unflatten(treedef, ["x"])
    for _ in range(5000):
        rebuilt = rebuilt[0]
    assert rebuilt == "x"


def test_jit_with_nested_arguments_and_results():
    @mlc.jit
    def step(params, batch):
        w, b = params["w"], params["b"]
        h = batch["x"] @ w + b
        return {"out": h, "stats": (h.sum(), [h.max(), h.min()])}, None

    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((4, 3)).astype("float32"), "b": np.zeros(3, "float32")}
    batch = {"x": rng.standard_normal((2, 4)).astype("float32")}
    result, nothing = step(params, batch)
    h = batch["x"] @ params["w"] + params["b"]
    assert nothing is None
    np.testing.assert_allclose(result["out"], h, rtol=1e-5)
    np.testing.assert_allclose(result["stats"][0], h.sum(), rtol=1e-5)
    # (the max of mlc's own h, which may round differently from NumPy's: without FMA, say)
    np.testing.assert_allclose(result["stats"][1][0], h.max(), rtol=1e-5)
    assert result["stats"][1][0] == result["out"].max()
    assert isinstance(result["stats"][1], list)


def test_namedtuple_arguments_and_input_names():
    @mlc.jit
    def f(pair):
        return pair.first * pair.second

    a = np.arange(3, dtype="float32")
    assert isinstance(f(Pair(a, a)), np.ndarray)
    np.testing.assert_array_equal(f(Pair(a, a)), a * a)
    text = f.lower(Pair(a, a)).as_text()
    assert "pair_0: R.Tensor((3,)" in text and "pair_1: R.Tensor((3,)" in text


@pytest.mark.parametrize("container", [list, tuple])
def test_sequence_of_arrays_argument(container):
    f = mlc.jit(lambda xs: np.concatenate(xs))
    xs = container(np.full(2, k, "int32") for k in range(3))
    np.testing.assert_array_equal(f(xs), np.concatenate(xs))
