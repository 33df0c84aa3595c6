"""mlc.op: a te-defined operator used eagerly, inside jit, fused, and in the registry."""
import numpy as np
import pytest

import mlc
from mlc import te
from mlc.ops.registry import get_op
from mlc.ir.calls import is_graph_main

X = np.linspace(-3, 3, 12, dtype="float32").reshape(3, 4)


@mlc.op
def scaled_softplus(x: mlc.te.Tensor, alpha: float = 2.0):
    return mlc.te.compute(x.shape, lambda *i: mlc.te.log(1 + mlc.te.exp(alpha * x[i])))


def softplus_ref(x, alpha=2.0):
    return np.log(1 + np.exp(np.float32(alpha) * x))  # the body's formula, in float32


@mlc.op
def row_sumsq(x: te.Tensor):
    k = te.reduce_axis((0, x.shape[1]), "k")
    return te.compute((x.shape[0],), lambda i: te.sum(x[i, k] * x[i, k], axis=k), name="sumsq")


@mlc.op
def flip_rows(x: te.Tensor):
    return te.compute(x.shape, lambda i, j: x[x.shape[0] - 1 - i, j], name="flip")


@mlc.op
def min_max(x, y):
    return (te.compute(x.shape, lambda *i: te.min(x[i], y[i]), name="lo"),
            te.compute(x.shape, lambda *i: te.max(x[i], y[i]), name="hi"))


def test_eager_on_numpy_arrays():
    np.testing.assert_allclose(scaled_softplus(X), softplus_ref(X), rtol=1e-5)
    np.testing.assert_allclose(scaled_softplus(X, alpha=0.5), softplus_ref(X, 0.5), rtol=1e-5)
    np.testing.assert_allclose(scaled_softplus(X, 3.0), softplus_ref(X, 3.0), rtol=1e-5)


def test_inside_jit_fuses_with_the_matmul_epilogue():
    w = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")

    @mlc.jit
    def f(x):
        return scaled_softplus(x @ w + 1, alpha=0.5)

    np.testing.assert_allclose(f(X), softplus_ref(X @ w + 1, 0.5), rtol=1e-5)
    lowered = f.lower(X)
    assert [b.op for b in lowered.graph.bindings] == ["call_tir"]
    (kernel,) = [name for name, func in lowered.mod.items() if not is_graph_main(func)]
    assert kernel.startswith("fused_matmul_add_scaled_softplus")


def test_registered_in_the_registry_with_inferred_patterns():
    row_sumsq(X)
    flip_rows(X)
    scaled_softplus(X)
    assert get_op(scaled_softplus.op.name) is scaled_softplus.op
    assert scaled_softplus.op.name.startswith("custom.scaled_softplus")  # unique: may get a suffix
    assert scaled_softplus.op.pattern == "elemwise"
    assert row_sumsq.op.pattern == "reduction"
    assert flip_rows.op.pattern == "injective"


def test_reference_runs_the_te_body_on_the_reference_interpreter():
    row_sumsq(X)
    ref = get_op(row_sumsq.op.name).reference(X)
    np.testing.assert_allclose(ref, (X * X).sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose(mlc.jit(lambda x: row_sumsq(x) * 2)(X), (X * X).sum(axis=1) * 2, rtol=1e-5)
    np.testing.assert_array_equal(mlc.jit(flip_rows)(X), X[::-1])


def test_multiple_outputs_and_unannotated_parameters():
    lo, hi = min_max(X, X[::-1].copy())
    np.testing.assert_array_equal(lo, np.minimum(X, X[::-1]))
    np.testing.assert_array_equal(hi, np.maximum(X, X[::-1]))
    f = mlc.jit(lambda a, b: sum(min_max(a, b)))
    np.testing.assert_array_equal(f(X, -X), np.zeros_like(X))


def test_constant_folding_uses_the_custom_reference():
    @mlc.jit
    def f(x):
        return x + scaled_softplus(np.ones(4, "float32"))  # a constant operand: folded

    lowered = f.lower(X)
    assert "custom" not in " ".join(lowered.mod)
    np.testing.assert_allclose(f(X), X + softplus_ref(np.ones(4, "float32")), rtol=1e-5)


def test_shape_errors_and_bad_definitions():
    with pytest.raises(mlc.MLCError, match="no tensor parameters"):
        mlc.op(lambda alpha=1.0: None)
    bad = mlc.op(lambda x: 3)
    with pytest.raises(mlc.MLCError, match="must return a te tensor"):
        bad(X)


def test_op_is_registered_and_named_before_its_first_call():
    """``f.op.name`` is known at definition; the pattern is inferred by the first call."""
    def twice(x):
        return te.compute(x.shape, lambda *i: x[i] * 2)
    f = mlc.op(twice)
    name = f.op.name
    assert name.startswith("custom.twice") and get_op(name) is f.op
    assert f.op.pattern is None and name in repr(f)
    np.testing.assert_array_equal(f(X), X * 2)
    assert f.op.name == name and f.op.pattern == "elemwise" and get_op(name) is f.op
    g = mlc.op(twice)  # a second op from the same function gets its own name
    assert g.op.name != name


def test_explicit_pattern_registers_eagerly():
    double = mlc.op(lambda x: te.compute(x.shape, lambda *i: x[i] * 2), name="custom.double_it",
                    pattern="injective")
    assert double.op.pattern == "injective" and get_op(double.op.name) is double.op
    np.testing.assert_array_equal(double(X), X * 2)


def test_reference_evaluates_the_te_body_with_default_attributes():
    @mlc.op
    def shifted_sum(x: te.Tensor, shift: float = 1.5):
        k = te.reduce_axis((0, x.shape[1]), name="k")
        return te.compute((x.shape[0],), lambda i: te.sum(x[i, k] + shift, axis=k))

    x = np.arange(12, dtype="float32").reshape(3, 4)
    np.testing.assert_allclose(shifted_sum.reference(x), (x + 1.5).sum(axis=1))
    np.testing.assert_allclose(shifted_sum.reference(x, shift=-2.0), (x - 2.0).sum(axis=1))
    np.testing.assert_allclose(shifted_sum(x), shifted_sum.reference(x), rtol=1e-6)


def test_a_custom_op_fuses_on_its_first_graph_use_without_an_eager_call():
    import mlc.graph as g

    @mlc.op
    def thrice(x):
        return te.compute(x.shape, lambda *i: x[i] * te.const(3, x.dtype), name="thrice")

    assert thrice.op.pattern is None  # nothing has called it yet
    bb = g.BlockBuilder()
    v = g.Var("x", g.Tensor((4, 5)))
    with bb.function("main", [v]):
        with bb.dataflow():
            a = bb.emit(g.op(thrice.op.name, v))
            gv = bb.emit_output(g.op("exp", a))
        bb.emit_func_output(gv)
    fused = g.FuseOps(bb.get())
    assert thrice.op.pattern == "elemwise"
    assert [b.op for b in fused["main"].bindings] == ["fused"]  # one group: thrice and exp
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    np.testing.assert_allclose(mlc.build(bb.get(), "llvm")["main"](x), np.exp(3 * x), rtol=1e-6)
