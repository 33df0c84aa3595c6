"""The course's spelling around modules: A(i, k) on te tensors, show(), update_func."""
import numpy as np
import pytest

import mlc
from mlc import te

from tests.programs import mm_relu_func, mm_relu_module


def test_te_tensors_are_callable_like_indexing():
    A = te.placeholder((8, 8), "float32", name="A")
    B = te.placeholder((8, 8), "float32", name="B")
    k = te.reduce_axis((0, 8), name="k")
    called = te.compute((8, 8), lambda i, j: te.sum(A(i, k) * B(k, j), axis=k), name="Y")
    k2 = te.reduce_axis((0, 8), name="k")
    indexed = te.compute((8, 8), lambda i, j: te.sum(A[i, k2] * B[k2, j], axis=k2), name="Y")
    mlc.assert_structural_equal(te.create_prim_func([A, B, called]), te.create_prim_func([A, B, indexed]))
    with pytest.raises(mlc.ShapeError, match="indexed with 1"):
        A(0)


def test_show_prints_the_script(capsys):
    mod = mm_relu_module(4)
    mod.show()
    assert capsys.readouterr().out == mod.script() + "\n"
    mod["mm_relu"].show()
    assert capsys.readouterr().out == mod["mm_relu"].script() + "\n"


def test_trace_show_prints_the_schedule_as_python(capsys):
    sch = mlc.Schedule(mm_relu_module(8))
    i, j, k = sch.get_loops(sch.get_block("Y", func_name="mm_relu"))
    sch.split(j, factors=[None, 4])
    sch.trace.show()
    out = capsys.readouterr().out
    assert out == sch.trace.as_python() + "\n" and "sch.split(" in out


def test_update_func_replaces_a_function_in_place():
    mod = mm_relu_module(8)
    before = mod.with_function("mm_relu", mod["mm_relu"])
    sch = mlc.Schedule(mod)
    i, j, k = sch.get_loops(sch.get_block("Y", func_name="mm_relu"))
    sch.split(j, factors=[None, 4])
    gv = mod.get_global_var("mm_relu")
    mod.update_func(gv, sch.mod["mm_relu"])
    mlc.assert_structural_equal(mod, sch.mod)
    mlc.assert_structural_equal(before, mm_relu_module(8))  # modules made before are unaffected
    a, b = np.ones((8, 8), "float32"), np.full((8, 8), 2, "float32")
    c = np.empty((8, 8), "float32")
    mlc.build(mod, "llvm")["mm_relu"](a, b, c)
    np.testing.assert_array_equal(c, np.full((8, 8), 16, "float32"))
    mod.update_func("mm_relu", mm_relu_func(8))
    assert mod["mm_relu"].attr("global_symbol") == "mm_relu"
    with pytest.raises(KeyError, match="no function 'other' to update"):
        mod.update_func("other", mm_relu_func(8))
    with pytest.raises(KeyError, match="no function 'other'"):
        mod.get_global_var("other")


def test_call_extern_with_tvms_trailing_dtype_is_the_same_call():
    """Chapter 8 writes ``T.call_extern("tmm16", ..., dtype="int32")``: the name first."""
    def parsed(args):
        return mlc.parse('@T.prim_func\ndef f(C: T.Buffer((16,), "int32")):\n'
                         f'    T.evaluate(T.call_extern({args}))\n')
    mlc.assert_structural_equal(parsed('"tmm16", T.address_of(C[0]), 16, dtype="int32"'),
                                parsed('"int32", "tmm16", T.address_of(C[0]), 16'))
    with pytest.raises(mlc.ParseError, match=r'or \("name", \*args, dtype="int32"\)'):
        parsed('"tmm16"')


def test_a_stride_variable_declared_with_t_var_and_strided_parameters_round_trip():
    """Chapter 8 declares ``sa = T.var("int32")`` for ``strides=[sa, 1]``; the printer dropped a
    parameter's strides, so the text read back as a dense buffer."""
    func = mlc.parse('''
@T.prim_func
def f(a: T.handle, c: T.handle):
    sa = T.var("int32")
    A = T.match_buffer(a, (16, 16), "float32", strides=[sa, 1])
    C = T.match_buffer(c, (16,), "float32")
    for i in range(16):
        with T.block("C"):
            vi = T.axis.spatial(16, i)
            C[vi] = A[vi, 0]
''')
    text = func.script()
    assert 'A: T.Buffer((16, 16), "float32", strides=(sa, 1))' in text and "sa = T.int32()" in text
    mlc.assert_structural_equal(mlc.parse(text), func)
