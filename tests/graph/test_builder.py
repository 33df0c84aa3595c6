"""BlockBuilder: each method, the printed module, mlc.build of it, and each malformed use."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.errors import DTypeError, IRError, MLCError, ShapeError
from mlc.config import override
from mlc.ir.calls import CallPacked, CallPrimFunc
from mlc.ir.functor import pre_order_nodes
from mlc.graph import (BlockBuilder, GraphModule, Tensor, Var, call_dps_packed, call_te, call_tir,
                       op)

from .helpers import emit_te_mlp, mlp_inputs, mlp_vars, numpy_mlp, relu_then_library, te_linear, te_relu


def relu_prim(shape):
    x = te.placeholder(shape, "float32", "X")
    return te.create_prim_func([x, te_relu(x)])


def test_function_dataflow_emit_output_print_the_course_shape():
    mod = emit_te_mlp()
    assert isinstance(mod, GraphModule)
    assert list(mod.graph_functions) == ["main"] and set(mod.prim_funcs) == {"te_linear", "te_relu",
                                                                            "te_linear1"}
    assert mod["main"].script() == '''\
@R.function
def main(x: R.Tensor((2, 3), "float32"), w0: R.Tensor((4, 3), "float32"), b0: R.Tensor((4,), "float32"), w1: R.Tensor((2, 4), "float32"), b1: R.Tensor((2,), "float32")):
    with R.dataflow():
        lv0 = R.call_tir(te_linear, (x, w0, b0), out_sinfo=R.Tensor((2, 4), "float32"))
        lv1 = R.call_tir(te_relu, (lv0,), out_sinfo=R.Tensor((2, 4), "float32"))
        gv = R.call_tir(te_linear1, (lv1, w1, b1), out_sinfo=R.Tensor((2, 2), "float32"))
        R.output(gv)
    return gv'''
    text = mod.script()
    assert "@I.ir_module" in text and "    @T.prim_func\n    def te_relu(" in text
    assert "    @R.function\n    def main(" in text


def test_build_runs_main_and_the_kernels():
    args = mlp_inputs()
    lib = mlc.build(emit_te_mlp(), "llvm")
    np.testing.assert_allclose(lib["main"](*args), numpy_mlp(*args), rtol=1e-5, atol=1e-5)
    out, a = np.empty((2, 4), "float32"), np.array([[-1, 2, -3, 4], [5, -6, 7, -8]], "float32")
    lib["te_relu"](a, out)  # the PrimFuncs stay callable, destination passing
    np.testing.assert_array_equal(out, np.maximum(a, 0))
    assert "main" in lib and "te_relu" in lib and "nothing" not in lib


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 5), d=st.integers(1, 6), h=st.integers(1, 6), o=st.integers(1, 4))
def test_emit_te_mlp_matches_numpy(n, d, h, o):
    args = mlp_inputs(n, d, h, o, seed=n * 100 + d)
    result = mlc.build(emit_te_mlp(n, d, h, o), "llvm")["main"](*args)
    np.testing.assert_allclose(result, numpy_mlp(*args), rtol=1e-4, atol=1e-4)


def test_emit_te_reuses_an_equal_prim_func_and_passes_non_tensor_arguments():
    bb = BlockBuilder()
    x = Var("x", Tensor((4,), "float32"))

    def scale(t, factor):
        return te.compute(t.shape, lambda i: t[i] * te.const(factor, "float32"), name="S")
    with bb.function("main", [x]):
        a = bb.emit_te(scale, x, 2.0)
        b = bb.emit_te(scale, a, 2.0)
        c = bb.emit_te(scale, b, 3.0)
        bb.emit_func_output(c)
    mod = bb.get()
    assert [b.attr("func") for b in mod["main"].bindings] == ["scale", "scale", "scale1"]
    np.testing.assert_allclose(mlc.build(mod, "llvm")["main"](np.ones(4, "float32")), np.full(4, 12.0))


def test_call_tir_takes_a_prim_func_or_a_name_and_several_results():
    x = te.placeholder((3,), "float32", "X")
    a = te.compute((3,), lambda i: x[i] + 1, "A")
    b = te.compute((3,), lambda i: x[i] * 2, "B")
    both = te.create_prim_func([x, a, b])
    bb = BlockBuilder()
    v = Var("v", Tensor((3,), "float32"))
    with bb.function("main", [v]):
        with bb.dataflow():
            p, q = bb.emit(call_tir(both, (v,), [Tensor((3,), "float32"), Tensor((3,), "float32")]))
            name = bb._frame.bindings[0].attr("func")
            r = bb.call_tir(name, (p,), [Tensor((3,), "float32")] * 2)[1]
            gv = bb.emit_output(op("add", q, r))
        bb.emit_func_output(gv)
    mod = bb.get()
    assert name == "tir_func"
    assert "R.call_tir(tir_func, (v,), out_sinfo=[R.Tensor((3,), \"float32\"), R.Tensor((3,), \"float32\")])" \
        in mod["main"].script()
    v0 = np.arange(3, dtype="float32")
    np.testing.assert_allclose(mlc.build(mod, "llvm")["main"](v0), v0 * 2 + (v0 + 1) * 2)


def test_emit_of_a_registry_op_infers_its_type_and_nested_calls_are_emitted_first():
    bb = BlockBuilder()
    x, y = Var("x", Tensor((2, 1), "float32")), Var("y", Tensor((3,), "float32"))
    with bb.function("main", [x, y]):
        z = bb.emit(op("multiply", op("add", x, y), y))
        bb.emit_func_output(z)
    g = bb.get()["main"]
    assert g.ops() == ["add", "multiply"] and z.type == Tensor((2, 3), "float32")
    a, b = np.ones((2, 1), "float32"), np.arange(3, dtype="float32")
    np.testing.assert_allclose(mlc.build(bb.get(), "llvm")["main"](a, b), (a + b) * b)


def test_emit_func_output_takes_params_and_tuples_return_tuples():
    bb = BlockBuilder()
    x = Var("x", Tensor((2,), "float32"))
    with bb.function("f"):
        e = bb.emit(op("exp", x))
        bb.emit_func_output((e, x), params=[x])
    lib = mlc.build(bb.get(), "llvm")
    e, same = lib["f"](np.zeros(2, "float32"))
    np.testing.assert_allclose(e, np.ones(2))
    np.testing.assert_array_equal(same, np.zeros(2))


def test_call_te_is_emitted_through_emit_te():
    bb = BlockBuilder()
    x = Var("x", Tensor((2, 2), "float32"))
    with bb.function("main", [x]):
        bb.emit_func_output(bb.emit(call_te(te_relu, x, primfunc_name_hint="my_relu")))
    assert list(bb.get().prim_funcs) == ["my_relu"]


def test_registry_op_shape_errors_name_the_function_and_binding():
    bb = BlockBuilder()
    x, y = Var("x", Tensor((2, 3), "float32")), Var("y", Tensor((4,), "float32"))
    with pytest.raises(ShapeError, match=r"function 'main', binding lv0 = add"):
        with bb.function("main", [x, y]):
            bb.emit(op("add", x, y))


@pytest.mark.parametrize("out, error, message", [
    (Tensor((2, 3), "float32"), ShapeError, r"result 0 has shape \(2, 3\) but relu0's buffer R"),
    (Tensor((2, 2), "float64"), DTypeError, r"result 0 has dtype float64 but relu0's buffer R"),
    ([Tensor((2, 2), "float32")] * 2, ShapeError, r"relu0 takes 2 buffers, got 1 argument\(s\) and 2"),
])
def test_call_tir_checks_the_prim_func_signature(out, error, message):
    bb = BlockBuilder()
    bb.add_func(relu_prim((2, 2)), "relu0")
    x = Var("x", Tensor((2, 2), "float32"))
    with pytest.raises(error, match=r"function 'main', binding lv0 = call_tir\(relu0\).*" + message):
        with bb.function("main", [x]):
            bb.call_tir("relu0", (x,), out)


def test_call_tir_of_a_missing_prim_func():
    bb = BlockBuilder()
    x = Var("x", Tensor((2, 2), "float32"))
    with pytest.raises(IRError, match=r"binding lv0 = call_tir\(nope\).*no PrimFunc 'nope'"):
        with bb.function("main", [x]):
            bb.call_tir("nope", (x,), Tensor((2, 2), "float32"))


def build_one(body, params):
    bb = BlockBuilder()
    with bb.function("main", params):
        body(bb)
    return bb.get()


def test_a_dataflow_value_returned_without_emit_output_is_refused():
    x = Var("x", Tensor((2,), "float32"))

    def body(bb):
        with bb.dataflow():
            lv0 = bb.emit(op("exp", x))
        bb.emit_func_output(lv0)
    with pytest.raises(IRError, match="output lv0 is defined inside the dataflow block but not marked"):
        build_one(body, [x])


@pytest.mark.parametrize("misuse, message", [
    (lambda bb, x: bb.emit(op("exp", Var("ghost", x.type))), "ghost is not defined in this function"),
    (lambda bb, x: bb.emit_output(op("exp", x)), "emit_output outside a dataflow block"),
    (lambda bb, x: bb.emit(42), "expected a graph value"),
    (lambda bb, x: bb.function("g", [x]).__enter__(), "function 'main' is still open"),
    (lambda bb, x: bb.emit_func_output(Var("ghost", x.type)), "output ghost is neither a parameter"),
    (lambda bb, x: bb.call_dps_packed("env.f", (x,), "not a type"), "out_sinfo must be Tensor"),
])
def test_malformed_emits_raise_typed_errors(misuse, message):
    x = Var("x", Tensor((2,), "float32"))
    with pytest.raises(IRError, match=message):
        build_one(lambda bb: misuse(bb, x), [x])


def test_function_structure_errors():
    x = Var("x", Tensor((2,), "float32"))
    bb = BlockBuilder()
    with pytest.raises(IRError, match="no function is open"):
        bb.emit(op("exp", x))
    with pytest.raises(IRError, match="ended without bb.emit_func_output"):
        with bb.function("main", [x]):
            bb.emit(op("exp", x))
    with pytest.raises(IRError, match="emit_func_output inside the dataflow block"):
        with bb.function("main", [x]):
            with bb.dataflow():
                bb.emit_func_output(x)
    with pytest.raises(IRError, match="parameter x is listed twice"):
        bb.function("main", [x, x]).__enter__()
    with pytest.raises(IRError, match="names must be identifiers"):
        bb.function("not a name", [x]).__enter__()
    with pytest.raises(IRError, match="no parameters given"):
        with bb.function("main"):
            bb.emit_func_output(x)
    with pytest.raises(IRError, match="function 'late': x is used but is neither a parameter"):
        with bb.function("late"):
            bb.emit_func_output(bb.emit(op("exp", x)), params=[Var("y", x.type)])


# ------------------------------------------------------------------- library calls

@pytest.fixture
def env_funcs():
    calls = []

    def linear(x, w, b, out):
        calls.append("env.linear")
        np.matmul(x, w.T, out=out)
        out += b

    def relu(x, out):
        calls.append("env.relu")
        np.maximum(x, 0, out=out)
    mlc.register_func("test.env.linear", linear)
    mlc.register_func("test.env.relu", relu)
    yield calls
    mlc.graph.remove_func("test.env.linear")
    mlc.graph.remove_func("test.env.relu")


@pytest.mark.parametrize("relu_in_tir", [True, False])
def test_call_dps_packed_mixes_numpy_library_calls_with_tensor_ir(env_funcs, relu_in_tir):
    bb = BlockBuilder()
    x, w0, b0, w1, b1 = params = mlp_vars()
    with bb.function("main", params):
        with bb.dataflow():
            lv0 = bb.call_dps_packed("test.env.linear", (x, w0, b0), Tensor((2, 4), "float32"))
            lv1 = bb.emit_te(te_relu, lv0) if relu_in_tir else \
                bb.emit(call_dps_packed("test.env.relu", lv0, Tensor((2, 4), "float32")))
            gv = bb.emit_output(bb.emit_te(te_linear, lv1, w1, b1))
        bb.emit_func_output(gv)
    mod = bb.get()
    assert 'R.call_dps_packed("test.env.linear", (x, w0, b0), out_sinfo=R.Tensor((2, 4), "float32"))' \
        in mod.script()
    lib = mlc.build(mod, "llvm")
    args = mlp_inputs()
    for _ in range(2):  # the workspace is reused between calls
        np.testing.assert_allclose(lib["main"](*args), numpy_mlp(*args), rtol=1e-5, atol=1e-5)
    assert env_funcs == (["env.linear"] if relu_in_tir else ["env.linear", "env.relu"]) * 2


def test_an_unregistered_library_function_is_named_at_build():
    bb = BlockBuilder()
    x = Var("x", Tensor((2,), "float32"))
    with bb.function("main", [x]):
        bb.emit_func_output(bb.call_dps_packed("test.missing", (x,), Tensor((2,), "float32")))
    with pytest.raises(IRError, match=r"binding 0 \(lv0 = call_dps_packed\('test.missing', x\)\): no "
                                      r"library function is registered as 'test.missing'"):
        mlc.build(bb.get(), "llvm")


def test_register_func_refuses_a_taken_name_unless_overridden():
    def f(x, out):
        out[...] = x
    mlc.register_func("test.copy", f)
    try:
        with pytest.raises(MLCError, match="'test.copy' is already registered; pass override=True"):
            mlc.register_func("test.copy", lambda x, out: None)
        g = mlc.register_func("test.copy", override=True)(lambda x, out: None)
        assert mlc.graph.get_func("test.copy") is g
    finally:
        mlc.graph.remove_func("test.copy")
    with pytest.raises(MLCError, match="no library function is registered as 'test.copy'"):
        mlc.graph.get_func("test.copy")


def test_graph_function_arguments_are_checked():
    lib = mlc.build(emit_te_mlp(), "llvm")
    args = mlp_inputs()
    with pytest.raises(ShapeError, match=r"main\(\) takes 5 arrays \(x, w0, b0, w1, b1\), got 1"):
        lib["main"](args[0])
    with pytest.raises(ShapeError, match=r"argument w0 must have shape \(4, 3\), got \(3, 4\)"):
        lib["main"](args[0], args[1].T, *args[2:])
    with pytest.raises(DTypeError, match="argument x must have dtype float32, got float64"):
        lib["main"](args[0].astype("float64"), *args[1:])


X24 = np.array([[-1, 2, -3, 4], [5, -6, 7, -8]], "float32")


def test_a_graph_with_library_calls_is_one_native_program_calling_back(env_funcs):
    with override(debug=False):
        assert mlc.build(emit_te_mlp(), "llvm")["main"].entry.function.native is not None
        lib = mlc.build(relu_then_library("test.env.relu"), "llvm")
    f = lib["main"]
    main = lib.kernels["main"].func
    assert [type(s).__name__ for s in pre_order_nodes(main.body) if isinstance(s, (CallPrimFunc, CallPacked))] \
        == ["CallPrimFunc", "CallPacked", "CallPrimFunc"]
    ll = lib.get_source("ll")
    main_ll = ll[ll.index("define void @main("):].split("\n}")[0]
    assert "call void @mlc_graph_callback(ptr" in main_ll  # the library call, from native code
    assert f.entry.function.native is None  # its errors are raised after each call
    for _ in range(2):
        np.testing.assert_array_equal(f(X24), -np.maximum(X24, 0))
    assert env_funcs == ["env.relu"] * 2


def test_library_calls_on_a_bounds_checked_build_when_debugging(env_funcs):
    with override(debug=True):
        lib = mlc.build(relu_then_library("test.env.relu"), "llvm")
        f = lib["main"]
        assert f.entry.function.native is None  # checked build: every call passes a bounds record
        np.testing.assert_array_equal(f(X24), -np.maximum(X24, 0))
        with pytest.raises(ShapeError, match=r"main\(\): argument x must have shape \(2, 4\)"):
            f.entry([X24[:1]])  # main's own arguments are checked too
    assert env_funcs == ["env.relu"]


@pytest.mark.parametrize("debug", [False, True])
def test_an_exception_in_a_library_function_reaches_the_caller(debug):
    calls = []

    def broken(x, out):
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("broken library function")
        np.copyto(out, x)
    mlc.register_func("test.broken", broken)
    try:
        with override(debug=debug):
            f = mlc.build(relu_then_library("test.broken"), "llvm")["main"]
            with pytest.raises(ZeroDivisionError, match="broken library function"):
                f(X24)
            np.testing.assert_array_equal(f(X24), -np.maximum(X24, 0))  # the next call is unaffected
    finally:
        mlc.graph.remove_func("test.broken")


def test_the_reference_target_runs_graph_functions_too():
    args = mlp_inputs()
    np.testing.assert_allclose(mlc.build(emit_te_mlp(), "reference")["main"](*args), numpy_mlp(*args),
                               rtol=1e-5, atol=1e-5)


def test_graph_module_is_an_immutable_mapping_of_graphs_and_prim_funcs():
    mod = emit_te_mlp()
    assert list(mod) == ["te_linear", "te_relu", "te_linear1", "main"]
    assert mod["main"].module is mod.prim_funcs  # every graph function sees the module's PrimFuncs
    smaller = mod.without("te_relu")
    assert "te_relu" in mod and "te_relu" not in smaller
    renamed = mod.with_function("forward", mod["main"])
    assert renamed["forward"].name == "forward" and set(renamed.graph_functions) == {"main", "forward"}
    with pytest.raises(KeyError, match=r"GraphModule has no function 'nope'; it has \['te_linear'"):
        mod["nope"]
    with pytest.raises(IRError, match="function names must be identifiers, got 'a b'"):
        GraphModule({"a b": mod["main"]})
    with pytest.raises(IRError, match="'x' must be a Graph or a PrimFunc, got int"):
        GraphModule({"x": 3})


def test_tensor_types():
    assert Tensor((2, 3)) == Tensor([2, 3], "float32") and Tensor((), "int64").shape == ()
    with pytest.raises(ShapeError, match="negative dimension"):
        Tensor((2, -1))
    with pytest.raises(ShapeError, match="shape must be a sequence of ints"):
        Tensor(3)
    with pytest.raises(mlc.MLCError):
        Tensor((2,), "not_a_dtype")
