"""Golden tests of the TVMScript-like printer."""
import textwrap

import mlc
from mlc import te
from mlc.ir import tir
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import IterVar, Range, Var, const
from mlc.ir import expr as E
from mlc.ir.structural import assert_structural_equal
from tests.programs import mm_relu_module

COURSE = '''\
@I.ir_module
class Module:
    @T.prim_func
    def mm_relu(A: T.Buffer((128, 128), "float32"), B: T.Buffer((128, 128), "float32"), C: T.Buffer((128, 128), "float32")):
        T.func_attr({"global_symbol": "mm_relu", "tir.noalias": True})
        Y = T.alloc_buffer((128, 128))
        for i, j, k in T.grid(128, 128, 128):
            with T.block("Y"):
                vi, vj, vk = T.axis.remap("SSR", [i, j, k])
                T.reads(A[vi, vk], B[vk, vj])
                T.writes(Y[vi, vj])
                with T.init():
                    Y[vi, vj] = T.float32(0)
                Y[vi, vj] = Y[vi, vj] + A[vi, vk] * B[vk, vj]
        for i, j in T.grid(128, 128):
            with T.block("C"):
                vi, vj = T.axis.remap("SS", [i, j])
                T.reads(Y[vi, vj])
                T.writes(C[vi, vj])
                C[vi, vj] = T.max(Y[vi, vj], T.float32(0))'''


def course_module():
    return mm_relu_module(128)


def test_course_program_prints_in_the_course_form():
    assert course_module().script() == COURSE


def test_expression_precedence_and_constants():
    i, j = Var("i"), Var("j")
    x = Var("x", "float32")
    assert repr((i + j) * 2) == "(i + j) * 2"
    assert repr(i - (j - 1)) == "i - (j - 1)"
    assert repr(i * 4 + j // 2 % 3) == "i * 4 + j // 2 % 3"
    assert repr(-x) == "-x"
    assert repr((i < j) == (j < i)) == "(i < j) == (j < i)"
    assert repr(const(2, "int64")) == "T.int64(2)"
    assert repr(const(0.5, "float16")) == "T.float16(0.5)"
    assert repr(const(float("inf"), "float32")) == 'T.float32("inf")'
    assert repr(E.select(i > 0, x, E.exp(x))) == "T.if_then_else(i > 0, x, T.exp(x))"
    assert repr(x.astype("float64")) == 'T.Cast("float64", x)'
    assert repr(E.logical_not(i > 0) & (j > 0)) == "not i > 0 and j > 0"
    assert repr(E.logical_not((i > 0) & (j > 0))) == "not (i > 0 and j > 0)"


def test_loops_blocks_predicates_and_scopes_print_like_tvmscript():
    A = decl_buffer((10,), "float32", "A")
    L = decl_buffer((1,), "float32", "L", scope="local")
    io, ii = Var("i_0"), Var("i_1")
    vi = IterVar(Var("vi"), Range.from_extent(10), "spatial")
    block = tir.Block("B", (vi,), (), (A[vi.var:vi.var + 1],), tir.BufferStore(A, const(1.0, "float32"), (vi.var,)),
                      alloc_buffers=(L,))
    realize = tir.BlockRealize((io * 4 + ii,), io * 4 + ii < 10, block)
    body = tir.For(io, const(0), const(3), "parallel", tir.For(ii, const(0), const(4), "vectorized", realize))
    text = repr(body)
    assert text == textwrap.dedent('''\
        for i_0 in T.parallel(3):
            for i_1 in T.vectorized(4):
                with T.block("B"):
                    vi = T.axis.spatial(10, i_0 * 4 + i_1)
                    T.where(i_0 * 4 + i_1 < 10)
                    T.reads()
                    T.writes(A[vi])
                    L = T.alloc_buffer((1,), scope="local")
                    A[vi] = T.float32(1)''')


def test_names_are_unique_in_scope_and_reused_after_it():
    a, b = Var("i"), Var("i")
    A = decl_buffer((4, 4), "int32", "A")
    inner = tir.For(b, const(0), const(4), "serial", tir.BufferStore(A, a + b, (a, b)))
    nest = tir.For(a, const(1), const(3), "unrolled", inner)
    assert repr(nest) == textwrap.dedent('''\
        for i in T.unroll(1, 4):
            for i_1 in range(4):
                A[i, i_1] = i + i_1''')


def test_complex_buffers_and_constants_print_and_parse_back():
    """A complex constant is ``T.complex`` of its two parts (the signs of zero parts and
    infinities kept); a complex sum's init is the complex zero; negation prints as ``-x``."""
    A = te.placeholder((4, 3), "complex64", "A")
    k = te.reduce_axis((0, 3), "k")
    S = te.compute((4,), lambda i: te.sum(A[i, k] * complex(0.5, -0.0), axis=k), "S")
    C = te.compute((4,), lambda i: -S[i] + complex(float("inf"), 1.0), "C")
    func = te.create_prim_func([A, C])
    text = func.script("f")
    assert 'A: T.Buffer((4, 3), "complex64")' in text
    assert "T.complex(T.float32(0.5), T.float32(-0.0))" in text
    assert 'T.complex(T.float32("inf"), T.float32(1))' in text
    assert "S[vi] = T.complex(T.float32(0), T.float32(0))" in text
    assert "-S[vi]" in text
    assert_structural_equal(mlc.parse(text), func)
