"""Patterns (each kind, alternatives, predicates, no match), rewrite, GraphMutator and the passes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.errors import IRError
from mlc.graph import (BlockBuilder, DeadCodeElimination, FuseOps, FuseTIR, GraphMutator, LegalizeOps,
                       Tensor, Var, call_fused, call_te, is_call_dps_packed, is_call_tir, is_const, is_op,
                       is_var, op, rewrite, wildcard)

from .helpers import emit_te_mlp, mlp_inputs, numpy_mlp, op_mlp, te_relu


def values(graph):
    """name -> value of every input and binding result (names as the builder gave them)."""
    out = {v.name: v for v in graph.inputs}
    out.update((v.name, v) for b in graph.bindings for v in b.outputs)
    return out


G = op_mlp()["main"]
V = values(G)   # x, w0, b0, w1, b1, lv0 (dense), lv1 (add), lv2 (relu), lv3 (dense), lv4 (add)


@pytest.mark.parametrize("pattern, value, matches", [
    (wildcard(), "x", True),
    (wildcard(), "lv2", True),
    (is_op("nn.relu"), "lv2", True),
    (is_op("nn.relu"), "lv1", False),
    (is_op("add")(is_op("nn.dense")(wildcard(), wildcard()), wildcard()), "lv1", True),
    (is_op("add")(is_op("nn.dense")(wildcard(), wildcard()), wildcard()), "lv2", False),
    (is_op("add")(is_op("nn.relu")(wildcard()), wildcard()), "lv1", False),
    (is_op("add")(wildcard()), "lv1", False),  # arity differs
    (is_op("nn.dense")(is_var("x"), wildcard()), "lv0", True),
    (is_op("nn.dense")(is_var("x"), wildcard()), "lv3", False),
    (is_op("nn.dense")(is_var(), is_var()), "lv0", True),
    (is_var(), "lv0", False),
    (is_const(), "x", False),
    (is_op("nn.relu") | is_op("nn.gelu"), "lv2", True),
    (is_op("nn.gelu") | is_op("nn.relu"), "lv2", True),
    (is_op("nn.gelu") | is_op("exp"), "lv2", False),
    (wildcard().has_shape((2, 4)), "lv2", True),
    (wildcard().has_shape((2, 2)), "lv2", False),
    (wildcard().has_dtype("float32"), "b0", True),
    (wildcard().has_dtype("float64"), "b0", False),
    (is_op("nn.relu").has_dtype("float32").has_shape((2, 4)), "lv2", True),
])
def test_each_pattern_kind(pattern, value, matches):
    assert pattern.match(V[value], G) is matches


def test_extract_matched_and_a_pattern_used_twice_must_match_one_value():
    a, b = wildcard(), wildcard()
    dense = is_op("nn.dense")(a, b)
    m = is_op("add")(dense, wildcard()).extract_matched(V["lv4"], G)
    assert m[a] is V["lv2"] and m[b] is V["w1"] and m[dense] is V["lv3"]
    bb = BlockBuilder()
    x, y = Var("x", Tensor((2,), "float32")), Var("y", Tensor((2,), "float32"))
    with bb.function("main", [x, y]):
        s = bb.emit(op("add", x, x))
        t = bb.emit(op("add", x, y))
        bb.emit_func_output((s, t))
    g = bb.get()["main"]
    same = wildcard()
    assert is_op("add")(same, same).match(s, g) and not is_op("add")(same, same).match(t, g)
    assert is_op("add")(wildcard(), wildcard()).extract_matched(V["lv0"], G) is None


def test_attribute_predicates_and_call_tir_patterns():
    bb = BlockBuilder()
    x = Var("x", Tensor((2, 3), "float32"))
    with bb.function("main", [x]):
        s = bb.emit(op("sum", x, axis=1))
        r = bb.emit_te(te_relu, x)
        p = bb.call_dps_packed("lib.f", (x,), Tensor((2, 3), "float32"))
        bb.emit_func_output((s, r, p))
    g = bb.get()["main"]
    assert is_op("sum").has_attr(axis=1).match(s, g)
    assert not is_op("sum").has_attr({"axis": 0}).match(s, g)
    assert is_call_tir("te_relu").match(r, g) and not is_call_tir("other").match(r, g)
    assert is_call_tir("te_relu", is_var("x")).match(r, g) and is_call_tir().match(r, g)
    assert is_call_dps_packed("lib.f").match(p, g) and not is_call_dps_packed("lib.g").match(p, g)
    assert not is_op("sum").has_attr(axis=1).match(x, g)


def test_pattern_construction_errors():
    with pytest.raises(mlc.MLCError, match="no_such_op"):
        is_op("no_such_op")
    with pytest.raises(IRError, match="patterns combine patterns only"):
        is_op("add")(wildcard(), "x")


# ------------------------------------------------------------------------ rewrite

@mlc.op
def fma(a: te.Tensor, b: te.Tensor, c: te.Tensor):
    return te.compute(a.shape, lambda *i: a[i] * b[i] + c[i])


def mul_add():
    bb = BlockBuilder()
    x, y = Var("x", Tensor((3,), "float32")), Var("y", Tensor((3,), "float32"))
    with bb.function("main", [x, y]):
        with bb.dataflow():
            lv0 = bb.emit(op("multiply", x, y))
            gv = bb.emit_output(op("add", lv0, y))
        bb.emit_func_output(gv)
    return bb.get()


def test_rewrite_multiply_add_to_one_op():
    a, b, c = wildcard(), wildcard(), wildcard()
    pattern = is_op("add")(is_op("multiply")(a, b), c)
    seen = []

    def to_fma(binding, m):
        seen.append(binding.op)
        return op(fma.op.name, m[a], m[b], m[c])
    new = rewrite(pattern, to_fma, mul_add())
    assert seen == ["add"] and new["main"].ops() == [fma.op.name]  # the multiply is dropped
    assert mul_add()["main"].ops() == ["multiply", "add"]  # the input is left as it was
    x, y = np.arange(3, dtype="float32"), np.full(3, 2, "float32")
    np.testing.assert_allclose(mlc.build(new, "llvm")["main"](x, y), x * y + y)
    assert rewrite(pattern, to_fma, mul_add()["main"]).ops() == [fma.op.name]  # a Graph works too


def test_rewrite_that_declines_or_does_not_match_keeps_the_graph():
    g = mul_add()["main"]
    assert rewrite(is_op("add")(wildcard(), wildcard()), lambda b, m: None, g).ops() == ["multiply", "add"]
    assert rewrite(is_op("exp"), lambda b, m: pytest.fail("no match expected"), g).ops() == \
        ["multiply", "add"]


def test_rewrite_with_a_replacement_of_another_type_is_refused():
    def wrong(binding, m):
        return op("sum", binding.args[0])
    with pytest.raises(IRError, match=r"rewriting lv1 = add\(lv0, y\): lv1 is float32\[3\] but its "
                                      r"replacement is float32\[\]"):
        rewrite(is_op("add"), wrong, mul_add())


def test_rewrite_into_a_fused_function_then_fuse_tir():
    x, w, b = wildcard(), wildcard(), wildcard()

    def fuse(binding, m):
        params = [Var("x", m[x].type), Var("w", m[w].type), Var("b", m[b].type)]
        sub = BlockBuilder()
        with sub.function("fused_dense_add", params):
            sub.emit_func_output(sub.emit(op("add", op("nn.dense", params[0], params[1]), params[2])))
        return call_fused(sub.get()["fused_dense_add"], (m[x], m[w], m[b]))
    fused = rewrite(is_op("add")(is_op("nn.dense")(x, w), b), fuse, op_mlp())
    assert fused["main"].ops() == ["fused", "nn.relu", "fused"]
    assert "@R.function(private=True)\ndef fused_dense_add(" in fused["main"].script()
    lowered = FuseTIR(fused)
    assert lowered["main"].ops() == ["call_tir", "nn.relu", "call_tir"]
    assert {"fused_dense_add", "fused_dense_add_1"} <= set(lowered.prim_funcs)
    args = mlp_inputs()
    for mod in (fused, lowered):
        np.testing.assert_allclose(mlc.build(mod, "llvm")["main"](*args), numpy_mlp(*args),
                                   rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ GraphMutator

class ReluToTE(GraphMutator):
    def __init__(self):
        super().__init__()
        self.visited = []

    def rewrite_binding(self, binding):
        self.visited.append(binding.op)
        if binding.op == "nn.relu":
            return self.builder.emit_te(te_relu, binding.args[0])  # emit in the hook, return the value
        return None


def test_graph_mutator_visits_every_binding_and_emits_te():
    mutator = ReluToTE()
    new = mutator.visit_module(op_mlp())
    assert mutator.visited == ["nn.dense", "add", "nn.relu", "nn.dense", "add"]
    assert new["main"].ops() == ["nn.dense", "add", "call_tir", "nn.dense", "add"]
    assert list(new.prim_funcs) == ["te_relu"]
    args = mlp_inputs()
    np.testing.assert_allclose(mlc.build(new, "llvm")["main"](*args), numpy_mlp(*args), rtol=1e-5, atol=1e-5)
    assert ReluToTE().visit_module(op_mlp()["main"])["main"].ops() == new["main"].ops()
    assert GraphMutator(op_mlp()).transform()["main"].ops() == op_mlp()["main"].ops()
    with pytest.raises(IRError, match="no module given"):
        GraphMutator().transform()


def test_graph_mutator_returning_a_call_te():
    class AllReluToTE(GraphMutator):
        def rewrite_binding(self, b):
            return call_te(te_relu, *b.args) if b.op == "nn.relu" else None
    assert AllReluToTE().visit_module(op_mlp())["main"].ops()[2] == "call_tir"


# ------------------------------------------------------------------- the passes

def test_fuse_ops_and_fuse_tir_run_alone():
    mod = op_mlp()
    fused = FuseOps(mod)
    assert fused["main"].ops() == ["fused", "fused"]
    assert [b.attr("name") for b in fused["main"].bindings] == ["fused_dense_add_relu", "fused_dense_add"]
    assert FuseOps()(mod)["main"].ops() == ["fused", "fused"]  # the course's FuseOps()(mod)
    lowered = FuseTIR(fused)
    assert lowered["main"].ops() == ["call_tir", "call_tir"]
    assert list(lowered.prim_funcs) == ["fused_dense_add_relu", "fused_dense_add"]
    args = mlp_inputs()
    np.testing.assert_allclose(mlc.build(lowered, "llvm")["main"](*args), numpy_mlp(*args),
                               rtol=1e-5, atol=1e-5)
    assert FuseOps(emit_te_mlp())["main"].ops() == ["call_tir"] * 3  # call_tir is left alone


def test_legalize_ops_maps_each_op_to_a_call_tir():
    legal = LegalizeOps(op_mlp())
    assert legal["main"].ops() == ["call_tir"] * 5
    assert list(legal.prim_funcs) == ["dense", "add", "relu", "dense1", "add1"]
    args = mlp_inputs()
    np.testing.assert_allclose(mlc.build(legal, "llvm")["main"](*args), numpy_mlp(*args),
                               rtol=1e-5, atol=1e-5)


def test_dead_code_elimination_and_pass_errors():
    bb = BlockBuilder()
    x = Var("x", Tensor((2,), "float32"))
    with bb.function("main", [x]):
        bb.emit(op("exp", x))
        bb.emit_func_output(bb.emit(op("negative", x)))
    assert DeadCodeElimination(bb.get())["main"].ops() == ["negative"]
    with pytest.raises(IRError, match="FuseOps: expected a GraphModule or Graph, got int"):
        FuseOps(3)


# ------------------------------------------------- passes on random programs, against NumPy

UNARY = {"negative": np.negative, "tanh": np.tanh, "nn.relu": lambda a: np.maximum(a, 0)}
BINARY = {"add": np.add, "multiply": np.multiply, "subtract": np.subtract, "maximum": np.maximum}


@st.composite
def op_chains(draw):
    """(shape, [(op, operand indices)]): each step reads the inputs or earlier steps."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2)))
    steps = []
    for n in range(draw(st.integers(1, 6))):
        available = 2 + n
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(UNARY))), (draw(st.integers(0, available - 1)),)))
        else:
            steps.append((draw(st.sampled_from(sorted(BINARY))),
                          tuple(draw(st.integers(0, available - 1)) for _ in range(2))))
    return shape, steps


def chain_module(shape, steps):
    bb = BlockBuilder()
    x, y = Var("x", Tensor(shape, "float32")), Var("y", Tensor(shape, "float32"))
    with bb.function("main", [x, y]):
        values = [x, y]
        for name, operands in steps:
            values.append(bb.emit(op(name, *(values[i] for i in operands))))
        bb.emit_func_output(values[-1])
    return bb.get()


def chain_numpy(steps, x, y):
    values = [x, y]
    for name, operands in steps:
        values.append((UNARY | BINARY)[name](*(values[i] for i in operands)))
    return values[-1]


@settings(max_examples=10, deadline=None)
@given(op_chains(), st.integers(0, 2**32 - 1))
def test_fuse_ops_fuse_tir_and_legalize_ops_keep_random_programs_equal_to_numpy(chain, seed):
    shape, steps = chain
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2,) + shape).astype("float32")
    expected = chain_numpy(steps, x, y)
    mod = chain_module(shape, steps)
    course_order = FuseTIR(LegalizeOps(FuseOps(mod)))  # fuse, map ops to TensorIR, merge
    assert set(course_order["main"].ops()) <= {"call_tir"}
    for transformed in (mod, FuseOps(mod), FuseTIR(FuseOps(mod)), LegalizeOps(mod), course_order):
        np.testing.assert_allclose(mlc.build(transformed, "llvm")["main"](x, y), expected,
                                   rtol=1e-5, atol=1e-6)
    assert set(FuseTIR(FuseOps(mod))["main"].ops()) <= {"call_tir"}
