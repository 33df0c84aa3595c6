"""The statements of a graph's main: printed as TVMScript, parsed back, compared structurally."""
import pytest

import mlc
from mlc.errors import IRError
from mlc.ir import structural_equal, structural_hash
from mlc.ir.buffer import decl_buffer
from mlc.ir.calls import (GRAPH_MAIN_ATTR, CallPacked, CallPrimFunc, DeclBuffer, graph_main_layout,
                          is_graph_main, verify_calls)
from mlc.ir.tir import Allocate, PrimFunc, seq


def small_main(kernel="double", library="env.relu"):
    """x -> storage view t -> library call -> out."""
    x, out = decl_buffer((2, 3), name="x"), decl_buffer((2, 3), name="out")
    storage = decl_buffer((8,), name="storage0")
    t = decl_buffer((2, 3), name="t")
    body = Allocate(storage, seq(DeclBuffer(t, storage), CallPrimFunc(kernel, (x, t)),
                                 CallPacked(library, (t, out))))
    return PrimFunc((x, out), body, ((GRAPH_MAIN_ATTR, (1, 0)), ("tir.noalias", False)))


MAIN_TEXT = '''\
@T.prim_func
def main(x: T.Buffer((2, 3), "float32"), out: T.Buffer((2, 3), "float32")):
    T.func_attr({"mlc.graph_main": (1, 0), "tir.noalias": False})
    storage0 = T.allocate([8], "float32", "global")
    t = T.decl_buffer((2, 3), "float32", data=storage0.data)
    T.call_prim_func("double", x, t)
    T.call_packed("env.relu", t, out)'''


def test_main_prints_as_tvmscript_calls():
    assert small_main().script("main") == MAIN_TEXT


def test_main_parses_back_to_the_same_function():
    parsed = mlc.parse(MAIN_TEXT)
    assert structural_equal(parsed, small_main())
    assert is_graph_main(parsed) and graph_main_layout(parsed) == (1, 0, 1)


def test_structural_equality_sees_names_and_buffers_not_buffer_names():
    assert structural_equal(small_main(), small_main())
    assert structural_hash(small_main()) == structural_hash(small_main())
    assert not structural_equal(small_main(), small_main(kernel="triple"))
    assert not structural_equal(small_main(), small_main(library="env.other"))
    a, b = decl_buffer((4,), name="a"), decl_buffer((4,), name="b")
    assert structural_equal(CallPrimFunc("f", (a, b)), CallPrimFunc("f", (b, a)))  # a renaming
    assert not structural_equal(CallPrimFunc("f", (a, b)), CallPrimFunc("f", (a, a)))


def test_calls_take_buffers_and_a_name():
    a = decl_buffer((4,), name="a")
    with pytest.raises(IRError, match=r"call_prim_func\('f'\): every argument must be a Buffer, got int"):
        CallPrimFunc("f", (a, 3))
    with pytest.raises(IRError, match="call_packed: the function name must be a non-empty string"):
        CallPacked("", (a,))
    with pytest.raises(IRError, match="decl_buffer: buffer and data must be Buffers"):
        DeclBuffer(a, "storage")


def test_verify_calls_names_what_is_wrong():
    main = small_main()
    x, out = main.params
    from mlc import te
    X = te.placeholder((2, 3), "float32", "X")
    double = te.create_prim_func([X, te.compute((2, 3), lambda i, j: X[i, j] * 2, "Y")])
    verify_calls({"double": double, "main": main})
    stray = decl_buffer((2, 3), name="stray")
    with pytest.raises(IRError, match="uses buffer stray, which is neither a parameter"):
        verify_calls({"double": double, "main": main.with_body(CallPrimFunc("double", (x, stray)))})
    with pytest.raises(IRError, match=r"passes out \(float32\[2, 3\]\) for parameter Y \(float64\[2, 3\]\)"):
        wide = te.create_prim_func([X, te.compute((2, 3), lambda i, j: X[i, j].astype("float64"), "Y")])
        verify_calls({"double": wide, "main": main.with_body(CallPrimFunc("double", (x, out)))})
    big = decl_buffer((3, 3), name="big")
    with pytest.raises(IRError, match="decl_buffer big needs 36 bytes, its data x has 24"):
        verify_calls({"main": main.with_body(seq(DeclBuffer(big, x)))})
