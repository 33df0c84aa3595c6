"""Structural equality and hashing are up to renaming, and see every real difference."""
import dataclasses

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.ir import assert_structural_equal, structural_equal, structural_hash
from mlc.ir.expr import Var
from mlc.ir.graph import Binding, Graph, Var as GVar, constant
from mlc.ops.registry import TensorType
from tests.programs import mm_relu_func


def mm_relu(n=16, name="Y"):
    return mm_relu_func(n, name=name)


def test_equal_programs_built_twice_are_equal_and_hash_equal():
    f, g = mm_relu(), mm_relu()
    assert structural_equal(f, g)
    assert structural_hash(f) == structural_hash(g)
    assert_structural_equal(f, g)


def test_differences_are_seen():
    assert not structural_equal(mm_relu(16), mm_relu(8))
    assert not structural_equal(mm_relu(name="Y"), mm_relu(name="Z"))  # block names count
    i, j = Var("i"), Var("j")
    assert not structural_equal(i + j, i + i)  # the mapping is one to one
    assert not structural_equal(i + 1, i + 2)
    assert not structural_equal(Var("x", "float32"), Var("x", "float64"))


def test_assert_structural_equal_shows_the_difference():
    with pytest.raises(AssertionError, match="IR differs"):
        assert_structural_equal(mm_relu(16), mm_relu(8))



def _graph(names=("x", "y"), value=1.0, fused_inputs_shared=True, dataflow=False):
    """y = exp(x + c) with the add fused into a group, as FuseOps writes it (the group's
    inputs are the outer graph's values) or as a separate function (its own inputs)."""
    t = TensorType((4,), "float32")
    x, y, z = GVar(names[0], t), GVar(names[1], t), GVar("z", t)
    p = x if fused_inputs_shared else GVar("p", t)
    s = y if fused_inputs_shared else GVar("s", t)
    body = Graph((p,), (Binding((s,), "add", (p, constant(np.full(4, value, "float32")))),), (s,), name="f")
    bindings = (Binding((y,), "fused", (x,), (("body", body), ("name", "f"))), Binding((z,), "exp", (y,)))
    return Graph((x,), bindings, (z,), dataflow=dataflow)


def test_graphs_are_equal_up_to_renaming_and_each_function_has_its_own_values():
    a = _graph()
    for b in (_graph(names=("u", "v")), _graph(fused_inputs_shared=False)):
        assert structural_equal(a, b) and structural_hash(a) == structural_hash(b)
    for c in (_graph(value=2.0), _graph(dataflow=True)):
        assert not structural_equal(a, c)
    assert structural_hash(a) != structural_hash(_graph(value=2.0))
    # a fused body's module does not count: its call_tir names the enclosing graph's PrimFuncs
    body = a.bindings[0].attr("body")
    other = dataclasses.replace(body, module=mlc.IRModule({}))
    b = a.with_bindings([dataclasses.replace(a.bindings[0], attrs=(("body", other), ("name", "f"))),
                         a.bindings[1]])
    assert structural_equal(a, b) and structural_hash(a) == structural_hash(b)


def test_structural_hash_values_are_stable_across_processes_and_versions():
    """The hash keys tuning records on disk: its values must not change when its
    implementation does (these were computed before the walk classified node classes once)."""
    import numpy as np
    import mlc
    from mlc import te
    from mlc.ir.structural import structural_hash
    a = te.placeholder((4, 8), "float32", "A")
    func = te.create_prim_func([a, te.compute((4,), lambda i: a[i, 0] * 2 + 1, "B")])
    assert structural_hash(func) == -8736191559317258362
    lowered = mlc.jit(lambda x, y: np.tanh(x @ y).sum(axis=0), tiered=False).lower(np.ones((3, 4)), np.ones((4, 5)))
    assert structural_hash(lowered.mod) == -860847864116286755


def test_structural_equal_takes_nan_equal_to_nan_for_float_subclasses_too():
    import numpy as np
    from mlc.ir.structural import structural_equal
    assert structural_equal((np.float64("nan"), 1.0), (np.float64("nan"), 1.0))
    assert structural_equal((float("nan"),), (float("nan"),))
    assert not structural_equal((np.float64(1.0),), (np.float64(2.0),))
    assert not structural_equal((1, 2), (1, 2, 3))
