"""A pass that a build asks twice about the same function does its work once: the bounds
check lowers each scheduled function's init blocks and blocks to loops, and the pipeline
then lowers the same function; the build's result is NumPy's."""
import importlib

import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.passes.tir.remembered import KEPT, remembered
from tests.programs import mm_relu_module

convert_blocks = importlib.import_module("mlc.passes.tir.convert_blocks")
lower_init_block = importlib.import_module("mlc.passes.tir.lower_init_block")


@settings(max_examples=3, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(1, 9), k=st.sampled_from([1, 3, 16]))
def test_a_build_lowers_each_function_to_loops_once(n, m, k):
    walks = {"init": 0, "blocks": 0}
    init_walk, block_walk = lower_init_block._LowerInit.visit, convert_blocks._ConvertBlocks.visit

    def counted(name, walk):
        def visit(self, node):
            if not getattr(self, "_entered", False):  # the walk's root: one walk
                self._entered = True
                walks[name] += 1
            return walk(self, node)
        return visit

    lower_init_block._LowerInit.visit = counted("init", init_walk)
    convert_blocks._ConvertBlocks.visit = counted("blocks", block_walk)
    try:
        lib = mlc.build(mm_relu_module(n, m, k), target="llvm")
    finally:
        lower_init_block._LowerInit.visit, convert_blocks._ConvertBlocks.visit = init_walk, block_walk
    assert walks == {"init": 1, "blocks": 1}
    rng = np.random.default_rng(n * 100 + m * 10 + k)
    a, b = rng.standard_normal((n, k), "float32"), rng.standard_normal((k, m), "float32")
    c = np.empty((n, m), "float32")
    lib["mm_relu"](a, b, c)
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)


def test_a_remembered_pass_keeps_its_latest_results_by_identity():
    seen = []
    twice = remembered(lambda f: seen.append(f) or (f, f))
    inputs = [(n,) for n in range(KEPT + 1)]
    first = [twice(x) for x in inputs]
    assert [twice(x) for x in inputs[1:]] == first[1:] and len(seen) == KEPT + 1
    assert twice(inputs[0]) == first[0] and len(seen) == KEPT + 2  # the oldest was let go
    assert twice((5,)) == ((5,), (5,)) and len(seen) == KEPT + 3  # equal, not the same: run
