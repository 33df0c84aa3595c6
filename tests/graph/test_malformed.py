"""Malformed graphs: every one raises an MLCError subclass naming the binding, never a KeyError."""
import numpy as np
import pytest

import mlc
from mlc import te
from mlc.errors import DTypeError, IRError, MLCError, ShapeError
from mlc.graph import Tensor, Var, bind_params
from mlc.ir.functor import pre_order_nodes
from mlc.ir.graph import Binding, Graph, Storage
from mlc.ir.tir import Block
from mlc.ir.tir import IRModule
from mlc.passes.graph import emit_main, lower_to_tir, plan_memory, run_graph_passes
from mlc.tracer.compile import main_entry

from .helpers import emit_te_mlp, fused_call, mlp_inputs, numpy_mlp, te_relu

T4 = Tensor((4,), "float32")


def compiled(graph, target="llvm"):
    """``run(inputs) -> outputs`` of a planned graph: its main emitted, built and called."""
    graph = emit_main(graph) if graph.module is None or graph.name not in graph.module else graph
    entry, order = main_entry(graph, mlc.build(graph.module, target))
    return lambda inputs: [entry(inputs)[k] for k in order]


def relu_module():
    x = te.placeholder((4,), "float32", "X")
    return IRModule({"relu": te.create_prim_func([x, te_relu(x)])})


def one_call(op="call_tir", attrs=(("func", "relu"),), module=None):
    x, y = Var("x", T4), Var("y", T4)
    return Graph((x,), (Binding((y,), op, (x,), attrs),), (y,), module or relu_module())


def test_an_unplanned_graph_is_refused_naming_the_binding():
    graph = one_call()
    with pytest.raises(IRError, match=r"graph 'main', binding 0 \(y = call_tir\('relu', x\)\): its results "
                                      r"have no memory plan.*plan_memory"):
        emit_main(graph)
    planned = plan_memory(graph)  # the fix the message names works
    x = np.array([-1, 2, -3, 4], "float32")
    np.testing.assert_array_equal(compiled(planned)([x])[0], np.maximum(x, 0))


@pytest.mark.parametrize("graph, message", [
    (lambda: plan_memory(one_call(attrs=(("func", "gone"),))),
     r"binding 0 \(y = call_tir\('gone', x\)\): the graph's module has no function 'gone'"),
    (lambda: one_call(op="exp", attrs=()), r"binding 0 \(y = exp\(x\)\): a graph's main runs only"),
    (lambda: Graph((Var("x", T4),), (Binding((Var("y", T4),), "call_tir", (Var("ghost", T4),),
                                             (("func", "relu"), ("storage", (None,)))),), ()),
     r"binding 0 \(y = call_tir\('relu', ghost\)\): argument ghost is used before it is defined"),
    (lambda: one_call(attrs=(("func", "relu"), ("storage", (3,)))),
     r"binding 0 \(y = call_tir\('relu', x\)\): storage 3 is not one of the graph's 0"),
    (lambda: Graph((), (), (Var("nowhere", T4),)), r"output nowhere is never defined"),
])
def test_malformed_graphs_given_to_emit_main(graph, message):
    with pytest.raises(IRError, match=message):
        emit_main(graph())


def fused_exp_negative(attrs):
    x, a, b = Var("x", T4), Var("a", T4), Var("b", T4)
    body = Graph((x,), (Binding((a,), "exp", (x,)), Binding((b,), "negative", (a,))), (b,))
    y = Var("y", T4)
    return Graph((x,), (Binding((y,), "fused", (x,), tuple((k, body if v is None else v) for k, v in attrs)),),
                 (y,))


def test_a_fused_binding_without_a_name_takes_one_from_its_ops():
    lowered = lower_to_tir(fused_exp_negative([("body", None)]))
    assert list(lowered.module) == ["fused_exp_negative"]
    assert lowered.bindings[0].attr("func") == "fused_exp_negative"
    graph = run_graph_passes(fused_exp_negative([("body", None), ("name", None)]))
    x = np.linspace(-1, 1, 4).astype("float32")
    out = compiled(graph)([x])[0]
    np.testing.assert_allclose(out, -np.exp(x), rtol=1e-6)


def test_a_fused_binding_without_a_body_is_named():
    with pytest.raises(IRError, match=r"binding y = fused\('orphan', x\): a fused binding needs a 'body'"):
        lower_to_tir(fused_exp_negative([("name", "orphan")]))


def test_storage_plans_are_checked_against_the_graph_storages():
    graph = plan_memory(one_call())
    assert graph.storages == () and graph.bindings[0].attr("storage") == (None,)
    bad = graph.with_bindings(graph.bindings, storages=(Storage(4, "float32"),))
    x = np.array([-1, 2, -3, 4], "float32")
    np.testing.assert_array_equal(compiled(bad)([x])[0], np.maximum(x, 0))  # an unused storage is harmless


# ------------------------------------------------------------------ bind_params

def test_bind_params_turns_weights_into_constants():
    args = mlp_inputs()
    names = ["w0", "b0", "w1", "b1"]
    bound = bind_params(emit_te_mlp(), dict(zip(names, args[1:])))
    assert [v.name for v in bound["main"].inputs] == ["x"]
    assert len(bound["main"].constants()) == 4
    assert 'metadata["c0"]' in bound["main"].script()
    np.testing.assert_allclose(mlc.build(bound, "llvm")["main"](args[0]), numpy_mlp(*args),
                               rtol=1e-5, atol=1e-5)
    partly = bind_params(emit_te_mlp(), {"b1": args[4]})
    assert [v.name for v in partly["main"].inputs] == ["x", "w0", "b0", "w1"]


@pytest.mark.parametrize("params, error, message", [
    ({"w9": np.zeros(1)}, IRError, r"function 'main' has no parameter 'w9'; its parameters are \['x', "),
    ({"w0": np.zeros((3, 4), "float32")}, ShapeError, r"parameter 'w0' of 'main' has shape \(4, 3\), got "),
    ({"w0": np.zeros((4, 3), "float64")}, DTypeError, r"parameter 'w0' of 'main' has dtype float32, got "),
])
def test_bind_params_errors(params, error, message):
    with pytest.raises(error, match=message):
        bind_params(emit_te_mlp(), params)


def test_bind_params_keys_are_names_and_a_var_key_says_which_name():
    mod = emit_te_mlp()
    w0 = next(v for v in mod["main"].inputs if v.name == "w0")
    with pytest.raises(IRError, match=r"keys of params are parameter names \(strings\), got Var .*; use 'w0'"):
        bind_params(mod, {w0: np.zeros((4, 3), "float32")})


def test_bind_params_of_a_prim_func_or_a_non_module():
    with pytest.raises(IRError, match="'te_relu' is a PrimFunc"):
        bind_params(emit_te_mlp(), {}, func_name="te_relu")
    with pytest.raises(IRError, match="expected a GraphModule or Graph, got dict"):
        bind_params({}, {})


def test_build_of_something_else_names_what_it_takes():
    with pytest.raises(MLCError, match="build takes an IRModule, PrimFunc or GraphModule"):
        mlc.build({"main": None}, "llvm")


def test_fuse_tir_merges_a_fused_function_of_call_tir_bindings():
    from mlc.graph import FuseTIR, op
    mod = fused_call(lambda sb, p: sb.emit_te(te_relu, sb.emit_te(te_relu, sb.emit(op("negative", p)))))
    with pytest.raises(IRError, match=r"lowering fused function f: binding lv1 = call_tir\('te_relu', lv0\) "
                                      r"is a call_tir among registry ops"):
        FuseTIR(mod)
    mod = fused_call(lambda sb, p: sb.emit_te(te_relu, sb.emit_te(te_relu, p)))
    merged = FuseTIR(mod)
    assert merged["main"].ops() == ["call_tir"] and merged["main"].bindings[0].attr("func") == "f"
    assert list(mod.prim_funcs) == ["te_relu"] and list(merged.prim_funcs) == ["f"]  # te_relu merged away
    blocks = [n.name_hint for n in pre_order_nodes(merged["f"].body) if isinstance(n, Block)]
    assert blocks == ["root", "R", "R_1"]  # te_relu inlined twice, its block renamed
    x = np.array([-1, 2, -3, 4], "float32")
    np.testing.assert_array_equal(mlc.build(merged, "llvm")["main"](x), np.maximum(x, 0))
    np.testing.assert_array_equal(mlc.build(mod, "llvm")["main"](x), np.maximum(x, 0))
