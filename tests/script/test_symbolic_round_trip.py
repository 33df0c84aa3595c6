"""Functions with symbolic shapes print their shape variables (``n = T.int32()``) and parse back."""
import numpy as np

import mlc
from mlc import te


def _rows():
    n = te.var("n")
    A = te.placeholder((n, 16), "float32", "A")
    k = te.reduce_axis((0, 16), "k")
    B = te.compute((n,), lambda i: te.sum(A[i, k] * 2, axis=k), "B")
    return te.create_prim_func([A, B])


def test_a_symbolic_function_prints_its_shape_variables_and_parses_back():
    func = _rows()
    text = func.script()
    assert "n = T.int32()" in text
    parsed = mlc.parse(text)
    mlc.assert_structural_equal(func, parsed)
    lib = mlc.build(parsed)
    for rows in (1, 7):
        a = np.random.default_rng(rows).standard_normal((rows, 16)).astype("float32")
        b = np.empty(rows, "float32")
        lib["main"](a, b)
        np.testing.assert_allclose(b, (a * 2).sum(axis=1), rtol=1e-5, atol=1e-5)


def test_a_scheduled_symbolic_function_parses_back():
    sch = mlc.Schedule(_rows())
    i, _ = sch.get_loops(sch.get_block("B"))
    sch.split(i, [None, 4])
    mlc.assert_structural_equal(sch.mod["main"], mlc.parse(sch.mod["main"].script()))
