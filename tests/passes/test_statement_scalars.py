"""Values a formula repeats go into local scalars before the store, except where a select
guards them: a load under the branch not taken may be out of bounds (docs/ir-semantics.md),
so computed before the store it would read past the end."""
import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.config import override
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Select, call, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, PrimFunc
from mlc.passes.tir.statement_scalars import StatementScalars, children


class _Square(StatementScalars):
    def visit_Call(self, e):
        e = self.visit_operands(e)
        return self.shared((e.args[0] + const(1.0, "float32")) * e.args[0] * e.args[0])


def _hoisted_loads(stmt) -> list:
    """The loads of memory a rewritten store computes before the store itself, outside any
    select (read whatever the conditions)."""
    prologue = [n for n in pre_order_nodes(stmt) if isinstance(n, BufferStore) and n.buffer.scope == "local"]
    out, stack = [], [s.value for s in prologue]
    while stack:
        n = stack.pop()
        if isinstance(n, BufferLoad) and n.buffer.scope != "local":
            out.append(n)
        elif not isinstance(n, Select):
            stack.extend(children(n))
    return out


def test_a_guarded_load_stays_under_its_select():
    X, B = decl_buffer((4,), "float32", "X"), decl_buffer((1,), "float32", "B")
    i = const(3, "int32")
    x = X[i + const(2, "int32")]  # past the end where i >= 2
    guarded = Select(i < const(2, "int32"), call("exp", x * x + x), const(0.0, "float32"), "float32")
    out = _Square().visit(BufferStore(B, guarded, (const(0, "int32"),)))
    assert _hoisted_loads(out) == []
    script = PrimFunc((X, B), out).script()
    assert "values0" in script and "X[5]" in script  # computed once, reading X[5] under the select


def test_a_load_read_on_every_path_is_still_computed_once():
    X, B = decl_buffer((4,), "float32", "X"), decl_buffer((1,), "float32", "B")
    x = X[const(1, "int32")]
    value = Select(x > const(0.0, "float32"), call("exp", x * x + x), x, "float32")
    out = _Square().visit(BufferStore(B, value, (const(0, "int32"),)))
    assert len(_hoisted_loads(out)) >= 1  # the condition reads x anyway



def test_a_load_a_branch_always_reads_is_guarded_by_that_branch_only():
    """Below the branch that reads ``x`` on every path of its own (its condition does), ``x``
    is in bounds wherever that branch is taken: the inner selects neither guard it nor
    rewrite the value again (one scalar, guarded by the outer condition alone)."""
    X, B = decl_buffer((4,), "float32", "X"), decl_buffer((1,), "float32", "B")
    i = const(3, "int32")
    outer = i < const(2, "int32")
    x = X[i + const(2, "int32")]
    zero = const(0.0, "float32")
    inner = Select(x > zero, call("exp", x * x + x), Select(x < const(-1.0, "float32"), call("exp", x * x + x),
                                                            zero, "float32"), "float32")
    out = _Square().visit(BufferStore(B, Select(outer, inner, zero, "float32"), (const(0, "int32"),)))
    prologue = [n for n in pre_order_nodes(out) if isinstance(n, BufferStore) and n.buffer.scope == "local"]
    assert len(prologue) == 1 and _hoisted_loads(out) == []
    conds = {str(n.cond) for n in pre_order_nodes(prologue[0].value) if isinstance(n, Select)}
    assert conds == {str(outer)}

@settings(max_examples=5, deadline=None)
@given(rows=st.integers(1, 3), cols=st.integers(2, 7), dtype=st.sampled_from(["float32", "float64"]))
def test_math_of_a_reversed_slice_in_a_concatenation(rows, cols, dtype):
    def f(x):
        half = x[:, : cols - 1]
        return np.concatenate([half, np.exp(half[:, 1:])[:, ::-1]], axis=1)
    x = np.random.default_rng(cols).random((rows, cols)).astype(dtype)
    want = f(x)
    # (the reference interpreter refuses a load out of bounds; llvm would read past the end)
    np.testing.assert_allclose(mlc.jit(f, target="reference", tiered=False)(x), want, rtol=1e-6 if dtype == "float32" else 1e-12)


_COMPLEX_MATH = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "quotient": lambda v: (v + 1) / v}


@settings(max_examples=9, deadline=None)
@given(rows=st.integers(1, 3), cols=st.integers(2, 7), dtype=st.sampled_from(["complex64", "complex128"]),
       op=st.sampled_from(sorted(_COMPLEX_MATH)), target=st.sampled_from(["reference", "llvm", "cuda-emulator"]))
def test_complex_math_of_a_reversed_slice_in_a_concatenation(rows, cols, dtype, op, target):
    """The complex formula's operand, computed once before the store, reads the slice under
    the concatenation's select: past the end of ``x`` where the other piece is stored."""
    fn = _COMPLEX_MATH[op]

    def f(x):
        half = x[:, : cols - 1]
        return np.concatenate([half, fn(half[:, 1:])[:, ::-1]], axis=1)
    rng = np.random.default_rng(rows * 8 + cols)
    x = (0.5 + rng.random((rows, cols)) + 1j * (rng.random((rows, cols)) - 0.5)).astype(dtype)
    want = f(x)
    # (the reference interpreter and the CUDA emulator refuse a load out of bounds; llvm checks
    # every access in debug mode)
    with override(debug=True):
        got = mlc.jit(f, target=target, tiered=False)(x)
    tol = 1e-5 if dtype == "complex64" else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


class _Rare(StatementScalars):
    """``exp(x)`` as ``select(|x| < 1, a, b)``: ``b``'s steps (some shared with ``a``) only
    where ``|x| >= 1``."""
    def visit_Call(self, e):
        x = self.visit_operands(e).args[0]
        ax = call("abs", x) * x  # (read by both sides)
        small = ax < const(1.0, "float32")
        a = (ax + const(1.0, "float32")) * ax
        t = ax * const(3.0, "float32") + ax  # (only b's)
        b = t * t + t
        return self.shared(Select(small, a * a, b, "float32"), [(~small, (b,))])


@settings(max_examples=20, deadline=None)
@given(x=st.floats(-4.0, 4.0, width=32))
def test_values_only_a_rare_side_reads_are_computed_under_if(x):
    """shared's ``rare`` values, and what only they use, are stored under ``if`` their
    condition (zero elsewhere); what the other side reads too stays before it; the reference
    interpreter runs it as the select."""
    from mlc.ir.tir import For, IfThenElse
    from mlc.ir.expr import Var
    X, B = decl_buffer((1,), "float32", "X"), decl_buffer((1,), "float32", "B")
    j = Var("j")
    store = BufferStore(B, call("exp", X[j]), (j,))
    out = _Rare().visit(store)
    branches = [s for s in pre_order_nodes(out) if isinstance(s, IfThenElse)]
    assert [type(s.then_case) for s in branches] == [BufferStore, BufferStore]  # t and b (ax, read by
    # both sides, before them)
    y = np.empty(1, "float32")
    mlc.build(PrimFunc((X, B), For(j, const(0, "int32"), const(1, "int32"), "serial", out)), "reference")["main"](
        np.array([x], "float32"), y)
    ax = np.float32(abs(x) * x)
    t = ax * np.float32(3) + ax
    want = ((ax + 1) * ax) ** 2 if ax < 1 else t * t + t
    np.testing.assert_allclose(y[0], want, rtol=1e-6)
