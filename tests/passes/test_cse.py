"""eliminate_common_subexpressions on its own: the reference interpreter runs Hypothesis-drawn
programs before and after the pass to the same bits (a load under a condition that would be out
of bounds where the condition fails stays under it: the interpreter raises otherwise), and the
pass binds what it says; the Let it makes through the printer, verify, simplify and the
renderers."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.reference.interpreter import Program
from mlc.errors import IRError
from mlc.ir.buffer import Buffer
from mlc.ir.expr import (Binary, BufferLoad, Call, Cast, Let, Select, Var, cast, const, exp, let, select)
from mlc.ir.extern import CallExtern
from mlc.ir.functor import pre_order_nodes
from mlc.ir.structural import structural_equal, structural_hash
from mlc.ir.tir import BufferStore, Evaluate, For, IfThenElse, PrimFunc, SeqStmt
from mlc.passes.tir.cse import cse_expr, eliminate_common_subexpressions
from mlc.passes.tir.simplify import simplify_expr
from mlc.passes.tir.verify import verify_lowered

N = 7
A = Buffer("A", (const(N),), "float32")
B = Buffer("B", (const(N),), "float32")
C = Buffer("C", (const(N),), "float32")
i = Var("i", "int32")


def lets(e):
    return [n for n in pre_order_nodes(e) if isinstance(n, Let)]


def run(func, arrays):
    copies = [a.copy() for a in arrays]
    Program(func).run(copies)
    return copies


# ------------------------------------------------------------------ programs

#: Leaves: loads of the two inputs (one at i + 1, in bounds only where i < N - 1) and i itself.
LEAVES = (lambda: BufferLoad(A, (i,), "float32"), lambda: BufferLoad(B, (i,), "float32"),
          lambda: cast(i, "float32"), lambda: const(1.5, "float32"))
_NEXT = lambda: BufferLoad(A, (i + 1,), "float32")  # noqa: E731 - out of bounds at i = N - 1


@st.composite
def trees(draw, pool, depth=3, guarded=False):
    """A float32 expression whose parts come from ``pool`` (drawn again: structurally equal,
    not the same node) so that it repeats them; ``guarded``: under ``i < N - 1``."""
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        pick = draw(st.integers(0, len(pool) + len(LEAVES) - 1 + guarded))
        if pick < len(pool):
            return pool[pick]()
        return _NEXT() if pick == len(pool) + len(LEAVES) else LEAVES[pick - len(pool)]()
    kind = draw(st.sampled_from(["add", "mul", "sub", "max", "exp", "select", "guard", "and"]))
    sub = lambda g=guarded: draw(trees(pool, depth - 1, g))  # noqa: E731
    if kind == "exp":
        return exp(Binary("mul", sub(), const(0.25, "float32"), "float32"))
    if kind == "select":
        return Select(Binary("lt", sub(), sub(), "bool"), sub(), sub(), "float32")
    if kind == "guard":  # the load of A[i + 1] only where it is in bounds
        return Select(Binary("lt", i, const(N - 1), "bool"), sub(True), sub(), "float32")
    if kind == "and":
        cond = Binary("and", Binary("lt", i, const(N - 1), "bool"),
                      Binary("lt", sub(True), const(1.0, "float32"), "bool"), "bool")
        return Select(cond, sub(), sub(), "float32")
    return Binary(kind, sub(), sub(), "float32")


@st.composite
def programs(draw):
    """``for i: B2[i] = tree; if tree < tree: C[i] = tree(B2) else C[i] = tree``: the second
    statement reads what the first stored."""
    pool = []
    for _ in range(draw(st.integers(1, 3))):
        e = draw(trees(pool, depth=2))
        pool.append(lambda e=e: e)
    first = BufferStore(B, draw(trees(pool)), (i,))
    cond = Binary("lt", draw(trees(pool, depth=2)), draw(trees(pool, depth=2)), "bool")
    second = IfThenElse(cond, BufferStore(C, draw(trees(pool)), (i,)),
                        BufferStore(C, draw(trees(pool, depth=2)), (i,)))
    return PrimFunc((A, B, C), For(i, const(0), const(N), "serial", SeqStmt((first, second))))


@settings(max_examples=60, deadline=None)
@given(func=programs(), seed=st.integers(0, 99))
def test_programs_compute_the_same_bits_after_the_pass(func, seed):
    out = eliminate_common_subexpressions(func)
    verify_lowered(out)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(N).astype("float32") for _ in range(3)]
    for got, want in zip(run(out, arrays), run(func, arrays)):
        np.testing.assert_array_equal(got, want)
    assert eliminate_common_subexpressions(out) is out or structural_equal(eliminate_common_subexpressions(out), out)


# ------------------------------------------------------------------ what it binds

def test_a_repeated_value_is_bound_once_and_its_parts_are_not():
    x = BufferLoad(A, (i,), "float32")
    e = exp(x * 2) + exp(BufferLoad(A, (i,), "float32") * 2)
    out = cse_expr(e)
    (bound,) = lets(out)
    assert structural_equal(bound.value, exp(x * 2))  # not also A[i] * 2, counted inside it
    assert isinstance(bound.body, Binary) and bound.body.a is bound.var and bound.body.b is bound.var


def test_values_bind_in_order_and_a_part_used_elsewhere_is_bound_too():
    x = lambda: BufferLoad(A, (i,), "float32")  # noqa: E731
    out = cse_expr(exp(x() * 2) + exp(x() * 2) * x())
    outer, inner = lets(out)
    assert structural_equal(outer.value, x()) and structural_equal(inner.value, exp(outer.var * 2))


def test_nothing_repeated_nothing_bound_and_variables_and_constants_never():
    e = exp(BufferLoad(A, (i,), "float32")) + BufferLoad(B, (i,), "float32")
    assert cse_expr(e) is e
    two = const(2.0, "float32")
    e = cast(i, "float32") * two + cast(i, "float32") * two - two
    (bound,) = lets(cse_expr(e))  # the repeated product; not i, not 2.0
    assert structural_equal(bound.value, cast(i, "float32") * two)


def test_equal_means_equal_bits_minus_zero_is_not_zero():
    x = BufferLoad(A, (i,), "float32")
    e = exp(x * const(-0.0, "float32")) + exp(x * const(0.0, "float32"))
    assert [type(bound.value) for bound in lets(cse_expr(e))] == [BufferLoad]  # A[i] only
    e = exp(x * const(-0.0, "float32")) + exp(x * const(-0.0, "float32"))
    assert len(lets(cse_expr(e))) == 1


def test_a_value_repeated_only_under_a_condition_is_bound_there():
    guard = Binary("lt", i, const(N - 1), "bool")
    far = lambda: BufferLoad(A, (i + 1,), "float32")  # noqa: E731
    e = select(guard, far() * far(), const(0.0, "float32"))
    out = cse_expr(e)
    assert isinstance(out, Select) and isinstance(out.true_value, Let)  # the load stays under the guard
    both = select(guard, far(), const(0.0, "float32")) + select(guard, far(), const(1.0, "float32"))
    (cond,) = lets(cse_expr(both))  # the guard, evaluated every time; the load in two branches: never
    assert structural_equal(cond.value, guard)
    beside = far() + select(guard, far(), const(0.0, "float32"))
    out = cse_expr(beside)
    assert isinstance(out, Let) and out.body.b.true_value is out.var  # evaluated every time anyway


def test_the_right_side_of_and_is_a_region_of_its_own():
    far = lambda: BufferLoad(A, (i + 1,), "float32")  # noqa: E731
    cond = Binary("and", Binary("lt", i, const(N - 1), "bool"), Binary("lt", far() * far(), const(1.0, "float32"),
                                                                         "bool"), "bool")
    out = cse_expr(cond)
    assert isinstance(out, Binary) and isinstance(out.b, Let)


def test_a_call_of_external_code_and_vector_statements_are_left_alone():
    x = lambda: BufferLoad(A, (i,), "float32")  # noqa: E731
    e = CallExtern("f", (x() * x(),), "float32")
    assert cse_expr(e) is e
    assert not lets(cse_expr(x() * x() + e))  # it may write A
    from mlc.ir.expr import Ramp
    v = BufferLoad(A, (Ramp(i, 1, 4),), "float32x4")
    assert cse_expr(v * v + v * v) is not None and not lets(cse_expr(v * v + v * v))


def test_statements_do_not_share_values():
    """A load of B after a store to B is not the load before it: each statement binds its own."""
    x = lambda: BufferLoad(B, (i,), "float32")  # noqa: E731
    body = SeqStmt((BufferStore(C, x() * x(), (i,)), BufferStore(B, const(2.0, "float32"), (i,)),
                    BufferStore(C, x() * x() + BufferLoad(C, (i,), "float32"), (i,))))
    func = PrimFunc((A, B, C), For(i, const(0), const(N), "serial", body))
    out = eliminate_common_subexpressions(func)
    stores = [n for n in pre_order_nodes(out.body) if isinstance(n, BufferStore)]
    assert isinstance(stores[0].value, Let) and isinstance(stores[2].value, Let)
    assert stores[0].value.var is not stores[2].value.var
    arrays = [np.arange(N, dtype="float32") for _ in range(3)]
    np.testing.assert_array_equal(run(out, arrays)[2], run(func, arrays)[2])


# ------------------------------------------------------------------ the Let node

def test_let_prints_compares_verifies_and_simplifies():
    t, u = Var("t", "float32"), Var("u", "float32")
    x = BufferLoad(A, (i,), "float32")
    e, same = let(t, x * x, t + t), let(u, x * x, u + u)
    assert repr(e) == "T.let(t, A[i] * A[i], t + t)"
    assert structural_equal(e, same) and structural_hash(e) == structural_hash(same)
    assert not structural_equal(e, let(u, x * x, u * u))
    assert simplify_expr(let(t, const(2.0, "float32"), t * x)) .a.value == 2.0  # a constant: inlined
    assert simplify_expr(let(t, x * x, x)) is x  # unused: dropped
    verify_lowered(PrimFunc((A, B), For(i, const(0), const(N), "serial", BufferStore(B, e, (i,)))))
    with pytest.raises(IRError, match="variable t .* not bound"):
        verify_lowered(PrimFunc((A, B, C), For(i, const(0), const(N), "serial",
                                               SeqStmt((BufferStore(B, e, (i,)), BufferStore(C, t, (i,)))))))


# ------------------------------------------------------------------ through the backends

def _repeating(n):
    X = te.placeholder((n,), "float32", "X")
    Y = te.compute((n,), lambda k: te.exp(X[k] * 0.5) * X[k] + te.exp(X[k] * 0.5)
                   + te.if_then_else(k < n - 1, X[te.min(k + 1, n - 1)] * X[te.min(k + 1, n - 1)], 0.0), "Y")
    return mlc.IRModule({"main": te.create_prim_func([X, Y])})


@settings(max_examples=6, deadline=None)
@given(n=st.sampled_from([1, 2, 7, 33]), target=st.sampled_from(["llvm", "cuda-emulator"]))
def test_the_backends_render_the_lets_to_numpys_values(n, target):
    x = np.linspace(-2, 2, n).astype("float32")
    y = np.empty_like(x)
    mlc.build(_repeating(n), target)["main"](x, y)
    nxt = np.append(x[1:] * x[1:], 0).astype("float32")
    np.testing.assert_allclose(y, np.exp(x * 0.5) * x + np.exp(x * 0.5) + nxt, rtol=1e-6)


def test_cuda_c_declares_a_bound_value_once_and_keeps_a_conditional_one_in_place():
    from mlc.backends.cuda.codegen import render
    from mlc.passes.tir.gpu_pipeline import lower_for_gpu
    t = Var("t", "float32")
    x = BufferLoad(A, (i,), "float32")
    guarded = select(Binary("lt", i, const(N - 1), "bool"), let(t, BufferLoad(A, (i + 1,), "float32"), t * t),
                     const(0.0, "float32"))
    value = cse_expr(exp(x) * exp(x) + guarded)
    func = PrimFunc((A, B), For(i, const(0), const(N), "thread_binding", BufferStore(B, value, (i,)),
                                thread_binding="threadIdx.x"))
    code = render(lower_for_gpu(func)).code
    assert code.count("const float cse = ") == 1 and "[&]() { const float t = " in code


def _select_chain(depth):
    x = BufferLoad(A, (i,), "float32")
    e = x * x
    for k in range(depth):
        e = select(Binary("lt", x, const(k / 20, "float32"), "bool"), e + x * x, const(float(k), "float32"))
    return e


def test_a_chain_of_selects_as_deep_as_the_user_wrote_it_is_no_deeper_to_python():
    out = cse_expr(_select_chain(3000))
    assert isinstance(out, Let) and structural_equal(out.value, BufferLoad(A, (i,), "float32"))
    e = _select_chain(60)  # deeper than MAX_DEPTH: the innermost branches are rebuilt, not searched
    func = PrimFunc((A, B), For(i, const(0), const(N), "serial", BufferStore(B, e, (i,))))
    arrays = [np.linspace(0, 4, N).astype("float32"), np.zeros(N, "float32")]
    np.testing.assert_array_equal(run(eliminate_common_subexpressions(func), arrays)[1], run(func, arrays)[1])


def test_an_index_is_left_to_the_renderer_a_value_is_bound():
    """``C[i*2] = C[i*2] + A[i*2] * A[i*2 + 1]``: the reduction update keeps its load at the
    stored index (no ``cse`` for ``i * 2``); the product of a repeated load is bound."""
    at = i * 2
    e = BufferLoad(C, (at,), "float32") + BufferLoad(A, (i * 2,), "float32") * BufferLoad(A, (i * 2 + 1,), "float32")
    assert cse_expr(e) is e
    square = BufferLoad(A, (i * 2,), "float32") * BufferLoad(A, (i * 2,), "float32")
    (bound,) = lets(cse_expr(square))
    assert isinstance(bound.value, BufferLoad)


def test_a_function_with_lets_prints_and_parses_back():
    from mlc.script.parser import parse
    from mlc.ir.structural import assert_structural_equal
    func = eliminate_common_subexpressions(PrimFunc((A, B), For(i, const(0), const(N), "serial", BufferStore(
        B, exp(BufferLoad(A, (i,), "float32") * 2) + exp(BufferLoad(A, (i,), "float32") * 2), (i,)))))
    assert "T.let(cse, T.exp(A[i] * T.float32(2)), cse + cse)" in func.script()
    assert_structural_equal(parse(func.script()), func)
