"""Graph functions with symbolic dimensions (BlockBuilder, emit_te, @R.function): one build, every size."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.graph import BlockBuilder, Tensor, Var, op
from mlc.script import ir as I
from mlc.script import relax as R


def _relu_te(x):
    return te.compute(x.shape, lambda *i: te.max(x[i], te.const(0, x.dtype)), name="relu")


@pytest.fixture(scope="module")
def dense_lib():
    bb = BlockBuilder()
    x = Var("x", Tensor(("n", 4), "float32"))
    w = Var("w", Tensor((4, 3), "float32"))
    with bb.function("main", [x, w]):
        with bb.dataflow():
            y = bb.emit(op("matmul", x, w))
            r = bb.emit_te(_relu_te, y)
            gv = bb.emit_output(op("max", r, axis=0))
        bb.emit_func_output(gv)
    mod = bb.get()
    assert 'x: R.Tensor((n, 4), "float32")' in mod["main"].script()
    return mlc.build(mod, "llvm")


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 70))
def test_one_build_runs_every_size(dense_lib, n):
    rng = np.random.default_rng(n)
    x, w = rng.standard_normal((n, 4)).astype("float32"), rng.standard_normal((4, 3)).astype("float32")
    np.testing.assert_allclose(dense_lib["main"](x, w), np.maximum(x @ w, 0).max(axis=0), rtol=1e-5, atol=1e-6)


def test_wrong_static_dims_and_empty_reductions_are_shape_errors(dense_lib):
    with pytest.raises(mlc.ShapeError, match=r"argument x must have shape \(n, 4\), got \(2, 5\)"):
        dense_lib["main"](np.zeros((2, 5), "float32"), np.zeros((4, 3), "float32"))
    with pytest.raises(mlc.ShapeError, match=r"max over axis 0 .* dynamic size n, which is 0 on this call"):
        dense_lib["main"](np.zeros((0, 4), "float32"), np.zeros((4, 3), "float32"))
    with pytest.raises(mlc.DTypeError, match=r"argument x must have dtype float32"):
        dense_lib["main"](np.zeros((2, 4), "float64"), np.zeros((4, 3), "float32"))


def test_a_name_is_one_size_across_inputs():
    bb = BlockBuilder()
    a, b = Var("a", Tensor(("n", 3))), Var("b", Tensor(("n", 3)))
    with bb.function("main", [a, b]):
        with bb.dataflow():
            gv = bb.emit_output(op("add", a, b))
        bb.emit_func_output(gv)
    lib = mlc.build(bb.get(), "llvm")
    x = np.ones((5, 3), "float32")
    np.testing.assert_array_equal(lib["main"](x, x), 2 * x)
    with pytest.raises(mlc.ShapeError, match=r"argument b must have shape \(n, 3\), got \(4, 3\)"):
        lib["main"](x, np.ones((4, 3), "float32"))


def test_te_var_dimensions_and_names_mix():
    n = te.var("m", "int64")
    assert Tensor((n, 2)).shape[0] is n
    assert Tensor(("k", 2)).shape[0] is Tensor(("k", 7)).shape[0]
    with pytest.raises(mlc.ShapeError, match="identifier"):
        Tensor(("not a name", 2))


@settings(max_examples=5, deadline=None)
@given(n=st.integers(1, 9))
def test_r_function_with_symbolic_dims(n):
    lib = _script_lib()
    x = np.random.default_rng(n).standard_normal((n, 4)).astype("float32")
    np.testing.assert_allclose(lib["main"](x), np.exp(x).sum(axis=1), rtol=1e-5)


_LIB = []


def _script_lib():
    if not _LIB:
        @I.ir_module
        class Mod:
            @R.function
            def main(x: R.Tensor(("n", 4), "float32")):
                with R.dataflow():
                    lv0 = R.exp(x)
                    gv = R.sum(lv0, axis=1)
                    R.output(gv)
                return gv
        text = Mod["main"].script()
        assert 'x: R.Tensor((n, 4), "float32")' in text
        _LIB.append(mlc.build(Mod, "llvm"))
    return _LIB[0]


def test_a_te_var_dimension_through_emit_te_and_a_registry_op():
    m = te.var("m")
    bb = BlockBuilder()
    x = Var("x", Tensor((m, 3), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            lv = bb.emit_te(lambda t: te.compute(t.shape, lambda i, j: t[i, j] + te.const(1, t.dtype), name="add1"), x)
            gv = bb.emit_output(op("sum", lv, axis=1))
        bb.emit_func_output(gv)
    lib = mlc.build(bb.get(), "llvm")
    for n in (1, 6):
        a = np.arange(3 * n, dtype="float32").reshape(n, 3)
        np.testing.assert_allclose(lib["main"](a), (a + 1).sum(axis=1))


@pytest.fixture(scope="module")
def library_call_libs():
    """``exp(x) -> cumsum along rows (a NumPy library function) -> * 2`` for ``x`` of shape
    ``(n, 3)``, built for both targets: main passes the library function arrays of this call's
    size."""
    def cumsum(x, out):
        np.cumsum(x, axis=0, out=out)
    mlc.register_func("test.symbolic.cumsum", cumsum, override=True)
    bb = BlockBuilder()
    x = Var("x", Tensor(("n", 3), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            e = bb.emit(op("exp", x))
            c = bb.emit(bb.call_dps_packed("test.symbolic.cumsum", (e,), Tensor(("n", 3), "float32")))
            gv = bb.emit_output(op("multiply", c, c))
        bb.emit_func_output(gv)
    mod = bb.get()
    return {target: mlc.build(mod, target) for target in ("llvm", "reference")}


@pytest.mark.parametrize("target", ["llvm", "reference"])
@settings(max_examples=6, deadline=None)
@given(n=st.integers(0, 40))
def test_a_library_call_takes_arrays_of_the_calls_size(library_call_libs, target, n):
    x = np.random.default_rng(n).standard_normal((n, 3)).astype("float32")
    expected = np.cumsum(np.exp(x), axis=0) ** 2
    np.testing.assert_allclose(library_call_libs[target]["main"](x), expected, rtol=1e-5)
