"""Symbolic shapes in te and TensorIR: ``n = te.var("n")`` in shapes and extents,
the variables a PrimFunc binds, and the checks of a call's sizes."""
import numpy as np
import pytest

from mlc import IRError, ShapeError
from mlc.ir import te
from mlc.ir.expr import IntImm, Var
from mlc.ir.functor import pre_order_nodes
from mlc.ir.shape_vars import bind_shapes, shape_vars, size_params, specialize
from mlc.ir.tir import For


def _course_matmul(n):
    """The course's chapter 6 TE matmul and relu, with a symbolic row count."""
    A = te.placeholder((n, 128), name="A", dtype="float32")
    B = te.placeholder((128, 128), name="B", dtype="float32")
    k = te.reduce_axis((0, 128), "k")
    C = te.compute((n, 128), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="matmul")
    D = te.compute((n, 128), lambda i, j: te.max(C[i, j], te.const(0, "float32")), name="relu")
    return A, B, C, D


def test_the_course_chapter_6_symbolic_matmul_prints_n_in_its_buffers_and_loops():
    n = te.var(name="n")
    A, B, _, D = _course_matmul(n)
    script = te.create_prim_func([A, B, D]).script()
    assert 'A: T.Buffer((n, 128), "float32")' in script
    assert script.splitlines()[3] == "    n = T.int32()"  # after T.func_attr, as TVM declares it
    assert 'relu: T.Buffer((n, 128), "float32")' in script
    assert "matmul = T.alloc_buffer((n, 128))" in script
    assert "for i, j, k in T.grid(n, 128, 128):" in script


def test_tensor_shape_keeps_the_variable_and_the_constants():
    n = te.var("n")
    A = te.placeholder((n, 4), name="A")
    assert A.shape[0] is n and A.shape[1] == 4


def test_shape_vars_are_bound_from_the_first_parameter_dimension_that_is_the_variable():
    n, m = te.var("n"), te.var("m")
    A = te.placeholder((4, m), name="A")
    B = te.placeholder((n, m), name="B")
    C = te.compute((n, m), lambda i, j: A[0, j] + B[i, j], name="C")
    func = te.create_prim_func([A, B, C])
    assert [(v.name, p, d) for v, p, d in shape_vars(func.params)] == [("m", 0, 1), ("n", 1, 0)]
    assert size_params(func) == (m, n)
    assert bind_shapes("f", func.params, [(4, 3), (5, 3), (5, 3)]) == {m: 3, n: 5}


def test_an_inconsistent_size_names_the_argument_the_dimension_and_where_the_value_came_from():
    n = te.var("n")
    A = te.placeholder((n, 4), name="A")
    B = te.compute((n, 4), lambda i, j: A[i, j] * 2, name="B")
    func = te.create_prim_func([A, B])
    with pytest.raises(ShapeError, match=r"argument B has shape \(6, 4\) but its dimension 0 is `n` = 5, "
                                         r"with n=5 \(from dimension 0 of A\)"):
        bind_shapes("f", func.params, [(5, 4), (6, 4)])
    with pytest.raises(ShapeError, match=r"argument A must have shape \(n, 4\), got \(5, 3\) "
                                         r"\(dimension 1 must be 4\)"):
        bind_shapes("f", func.params, [(5, 3), (5, 4)])


def test_an_extent_that_is_an_expression_of_bound_variables_is_checked():
    n = te.var("n")
    A = te.placeholder((n,), name="A")
    B = te.compute((2 * n,), lambda i: A[i // 2], name="B")
    func = te.create_prim_func([A, B])
    assert bind_shapes("f", func.params, [(3,), (6,)])[n] == 3
    with pytest.raises(ShapeError, match=r"dimension 0 is `2 \* n` = 6, with n=3"):
        bind_shapes("f", func.params, [(3,), (7,)])


def test_a_variable_no_parameter_binds_is_an_ir_error_at_create_prim_func():
    n, m = te.var("n"), te.var("m")
    A = te.placeholder((n,), name="A")
    k = te.reduce_axis((0, m), "k")
    B = te.compute((n,), lambda i: te.sum(A[i], axis=k), name="B")
    with pytest.raises(IRError, match=r"uses the variable m, which is not a dimension of any parameter"):
        te.create_prim_func([A, B])
    C = te.placeholder((2 * m,), name="C")
    D = te.compute((n,), lambda i: A[i], name="D")
    with pytest.raises(IRError, match=r"parameter C uses the variable m, which no parameter has as a whole"):
        te.create_prim_func([A, C, D])


def test_shapes_must_be_ints_or_integer_expressions():
    with pytest.raises(ShapeError, match="symbolic extent must be an integer expression"):
        te.placeholder((te.var("x", "float32"), 4), name="A")
    with pytest.raises(ShapeError, match="shape must be a tuple of ints or te.var's"):
        te.placeholder((1.5, 4), name="A")


def test_specialize_replaces_the_variable_in_buffers_and_loops():
    n = te.var("n")
    A, B, _, D = _course_matmul(n)
    func = specialize(te.create_prim_func([A, B, D]), {n: 7})
    assert all(isinstance(e, IntImm) for p in func.params for e in p.shape)
    assert func.params[0].shape[0].value == 7
    loops = [s for s in pre_order_nodes(func.body) if isinstance(s, For)]
    assert not any(isinstance(node, Var) and node is n for f in loops for node in pre_order_nodes(f.extent))
    assert np.prod([p.shape[0].value for p in func.params]) == 7 * 128 * 7
