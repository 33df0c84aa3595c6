"""PrimFunc.with_attr: TVM's two spellings, a key and a value or a dict (the course's)."""
import numpy as np
import pytest

import mlc
from mlc import te
from mlc.errors import IRError


def _mm_relu():
    A = te.placeholder((16, 16), "float32", "A")
    B = te.placeholder((16, 16), "float32", "B")
    k = te.reduce_axis((0, 16), "k")
    Y = te.compute((16, 16), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "Y")
    C = te.compute((16, 16), lambda i, j: te.max(Y[i, j], 0.0), "C")
    return te.create_prim_func([A, B, C])


def test_the_course_spelling_builds_and_runs():
    func = _mm_relu().with_attr({"global_symbol": "mm_relu"})
    assert dict(func.attrs)["global_symbol"] == "mm_relu"
    lib = mlc.build(mlc.IRModule({"mm_relu": func}), "llvm")
    a, b = np.random.default_rng(0).standard_normal((2, 16, 16)).astype("float32")
    c = np.empty((16, 16), "float32")
    lib["mm_relu"](a, b, c)
    np.testing.assert_allclose(c, np.maximum(a @ b, 0), rtol=1e-5, atol=1e-5)


def test_a_dict_sets_every_pair_and_keeps_the_others():
    func = _mm_relu()
    both = func.with_attr({"global_symbol": "f", "tir.noalias": False})
    assert dict(both.attrs) == {**dict(func.attrs), "global_symbol": "f", "tir.noalias": False}
    assert both.attrs == func.with_attr("global_symbol", "f").with_attr("tir.noalias", False).attrs
    assert dict(func.with_attr("x", None).attrs)["x"] is None  # None is a value


@pytest.mark.parametrize("args", [("global_symbol",), ({"a": 1}, 2), (3, 4), ({1: "x"},)])
def test_other_arguments_are_an_ir_error_showing_both_spellings(args):
    with pytest.raises(IRError, match="PrimFunc.with_attr"):
        _mm_relu().with_attr(*args)
