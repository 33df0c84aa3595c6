"""fold_horizontal on its own: the reference interpreter runs a fold loop and the pass's
``horizontal_<op>`` call (one vector load, lanes combined in tree order) to the same result."""
import numpy as np
from hypothesis import given, settings, strategies as st

from mlc.backends.reference.interpreter import Program
from mlc.ir.functor import pre_order_nodes
from mlc.ir.expr import Call
from mlc.passes.tir.horizontal import fold_horizontal, lane_tree
from tests.backends.test_llvm_horizontal import FLOAT_OPS, INT_OPS, fold_program, values


def run(func, arrays):
    copies = [a.copy() for a in arrays]
    Program(func).run(copies)
    return copies[1]


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 3), lanes=st.sampled_from([2, 3, 5, 8, 16, 17, 64]),
       dtype=st.sampled_from(["float32", "float64", "int32", "int64"]), op_index=st.integers(0, len(INT_OPS) - 1),
       init=st.booleans(), first=st.sampled_from([0, 3]), seed=st.integers(0, 99))
def test_the_folded_program_computes_what_the_loop_computes(rows, lanes, dtype, op_index, init, first, seed):
    ops = INT_OPS if dtype.startswith("int") else FLOAT_OPS
    op = ops[op_index % len(ops)]
    start = {"mul": 1, "min": 10 ** 6, "max": -10 ** 6, "bitand": -1}.get(op, 0)
    func = fold_program(rows, lanes, dtype, op, init=start if init else None, first=first)
    folded = fold_horizontal(func)
    calls = [n for n in pre_order_nodes(folded.body) if isinstance(n, Call)]
    assert [c.op for c in calls] == [f"horizontal_{op}"]
    rng = np.random.default_rng(seed)
    arrays = [values(rng, rows * (first + lanes), dtype, op, False), values(rng, rows, dtype, op, False)]
    got, want = run(folded, arrays), run(func, arrays)
    if op in ("add", "mul") and dtype.startswith("float"):  # the tree combines in another order
        scale = np.abs(arrays[0]).sum() + np.abs(arrays[1]).sum()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * scale)
    else:
        np.testing.assert_array_equal(got, want)


def test_a_loop_over_aliased_buffers_is_left_alone():
    func = fold_program(2, 8, "float32", "add", noalias=False)
    assert fold_horizontal(func) is func


def test_the_tree_order():
    add = lambda x, y: [f"({a}+{b})" for a, b in zip(x, y)] if isinstance(x, list) else f"({x}+{y})"  # noqa: E731
    order = lane_tree(list("0123456"), 7, lambda v, h, w: (v[:h], v[h:w]), lambda v, k: v[k], add)
    assert order == "((((0+3)+(1+4))+(2+5))+6)"  # odd lanes left over (6, then 2+5) come last
