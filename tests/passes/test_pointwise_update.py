"""A kernel writes its output into the memory of an input it reads only where each output
element reads that input at its own index (mlc.passes.graph.pointwise): ``u[j, i]`` is not
``u[i, j]``'s element, although the two are equal up to renaming the loop variables."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir import te
from mlc.passes.graph.pointwise import pointwise_update


def test_a_transposed_read_is_not_pointwise():
    m = te.placeholder((3, 3), "float32", "m")
    t = te.compute((3, 3), lambda i, j: m[i, j] + m[j, i], name="t")
    assert not pointwise_update(te.create_prim_func([m, t]), 0, 1)
    s = te.compute((3, 3), lambda i, j: m[i, j] * 2.0, name="s")
    assert pointwise_update(te.create_prim_func([m, s]), 0, 1)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(1, 7), steps=st.integers(9, 12))
def test_symmetrizing_in_a_compiled_loop(n, steps):
    def symmetrize(u, steps):
        for _ in range(steps):
            u = 0.5 * (u + u.T) + 1.0
        return u
    u = np.random.default_rng(n).random((n, n), dtype=np.float32)
    got = mlc.jit(symmetrize, static_argnames=("steps",), tiered=False)(u.copy(), steps)
    np.testing.assert_allclose(got, symmetrize(u.copy(), steps), rtol=1e-5)
