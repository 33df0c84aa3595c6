"""@R.function graphs: the course's hand-written main, and what Lowered.as_text() prints, parse and run."""
from dataclasses import replace

import numpy as np
import pytest

import mlc
from mlc import ParseError
from mlc.script import ir as I, relax as R, tir as T
from mlc.ir.calls import is_graph_main


@I.ir_module
class MyModule:
    @T.prim_func
    def linear0(X: T.Buffer((1, 8), "float32"), W: T.Buffer((4, 8), "float32"),
                B: T.Buffer((4,), "float32"), Z: T.Buffer((1, 4), "float32")):
        T.func_attr({"global_symbol": "linear0", "tir.noalias": True})
        Y = T.alloc_buffer((1, 4), "float32")
        for i, j, k in T.grid(1, 4, 8):
            with T.block("Y"):
                vi, vj, vk = T.axis.remap("SSR", [i, j, k])
                with T.init():
                    Y[vi, vj] = T.float32(0)
                Y[vi, vj] = Y[vi, vj] + X[vi, vk] * W[vj, vk]
        for i, j in T.grid(1, 4):
            with T.block("Z"):
                vi, vj = T.axis.remap("SS", [i, j])
                Z[vi, vj] = Y[vi, vj] + B[vj]

    @T.prim_func
    def relu0(X: T.Buffer((1, 4), "float32"), Y: T.Buffer((1, 4), "float32")):
        for i, j in T.grid(1, 4):
            with T.block("Y"):
                vi, vj = T.axis.remap("SS", [i, j])
                Y[vi, vj] = T.max(X[vi, vj], T.float32(0))

    @R.function
    def main(x: R.Tensor((1, 8), "float32"), w0: R.Tensor((4, 8), "float32"),
             b0: R.Tensor((4,), "float32")):
        with R.dataflow():
            lv0 = R.call_tir(cls.linear0, (x, w0, b0), out_sinfo=R.Tensor((1, 4), dtype="float32"))
            lv1 = R.call_tir("relu0", (lv0,), R.Tensor((1, 4), dtype="float32"))
            R.output(lv1)
        return lv1


def test_course_style_module_with_a_graph_runs_on_the_virtual_machine():
    assert isinstance(MyModule, mlc.graph.GraphModule) and mlc.script.GraphModule is mlc.graph.GraphModule
    assert list(MyModule) == ["linear0", "relu0", "main"] and list(MyModule.graph_functions) == ["main"]
    assert isinstance(MyModule["linear0"], mlc.PrimFunc) and MyModule["main"].ops() == ["call_tir", "call_tir"]
    assert MyModule["main"].dataflow and MyModule["main"].module is MyModule.prim_funcs
    rng = np.random.default_rng(0)
    x, w, b = (rng.uniform(-1, 1, s).astype("float32") for s in [(1, 8), (4, 8), (4,)])
    ex = R.build(MyModule, target="llvm")
    assert isinstance(ex, mlc.graph.GraphLibrary) and ex.target.kind == "llvm"
    vm = R.VirtualMachine(ex, mlc.cpu())
    out = vm["main"](mlc.nd.array(x), mlc.nd.array(w), mlc.nd.array(b))
    assert isinstance(out, mlc.nd.NDArray)
    np.testing.assert_allclose(out.numpy(), np.maximum(x @ w.T + b, 0), rtol=1e-5, atol=1e-6)
    # the course times the graph as vm.module.time_evaluator("main", dev, number=...)
    timed = vm.module.time_evaluator("main", mlc.cpu(), number=3, repeat=2)(mlc.nd.array(x), mlc.nd.array(w),
                                                                             mlc.nd.array(b))
    assert len(timed.results) == 2 and timed.median > 0
    # what R.build gives is what mlc.build gives: its kernels are destination passing
    z = mlc.nd.empty((1, 4), "float32")
    ex["linear0"](mlc.nd.array(x), mlc.nd.array(w), mlc.nd.array(b), z)
    np.testing.assert_allclose(z.numpy(), x @ w.T + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(mlc.build(MyModule, "llvm")["main"](x, w, b), out.numpy())
    # the printed module parses back into the same module, and the same text
    mlc.assert_structural_equal(mlc.parse(MyModule.script()), MyModule)
    assert mlc.parse(MyModule.script()).script() == MyModule.script()


def test_the_virtual_machine_checks_its_device_and_function():
    ex = R.build(MyModule, "llvm")
    with pytest.raises(mlc.MLCError, match=r"relax.VirtualMachine: this llvm module runs on cpu, not on cuda"):
        R.VirtualMachine(ex, mlc.cuda())
    with pytest.raises(mlc.MLCError, match="relax.VirtualMachine: dev must be a device such as mlc.cpu()"):
        R.VirtualMachine(ex, "cpu")
    with pytest.raises(mlc.MLCError, match="takes what relax.build returns .a GraphLibrary., got GraphModule"):
        R.VirtualMachine(MyModule, mlc.cpu())
    with pytest.raises(KeyError, match=r"runs graph functions; there is no 'linear0' among \['main'\]"):
        R.VirtualMachine(ex, mlc.cpu())["linear0"]
    x, w = np.ones((1, 2), "float32"), np.ones((2, 4), "float32")
    two = R.VirtualMachine(R.build(mlc.parse(_two_results)), mlc.cpu())["main"](x, w)
    assert isinstance(two, tuple) and all(isinstance(t, mlc.nd.NDArray) for t in two)
    np.testing.assert_array_equal(two[0].numpy(), x @ w)
    np.testing.assert_array_equal(two[1].numpy(), x)


_two_results = """
@I.ir_module
class Module:
    @T.prim_func
    def mm(A: T.Buffer((1, 2), "float32"), B: T.Buffer((2, 4), "float32"), C: T.Buffer((1, 4), "float32")):
        for i, j, k in T.grid(1, 4, 2):
            with T.block("C"):
                vi, vj, vk = T.axis.remap("SSR", [i, j, k])
                with T.init():
                    C[vi, vj] = T.float32(0)
                C[vi, vj] = C[vi, vj] + A[vi, vk] * B[vk, vj]

    @R.function
    def main(x: R.Tensor((1, 2), "float32"), w: R.Tensor((2, 4), "float32")):
        lv = R.call_tir(cls.mm, (x, w), out_sinfo=R.Tensor((1, 4), dtype="float32"))
        return (lv, x)
"""


def mlp(x, w, b):
    return np.maximum(x @ w + b, 0)


def two_outputs(x, y):
    return np.exp(x) * y, x - y.sum(axis=0)


def chain(x):
    return np.tanh(x @ x.T) @ x


PROGRAMS = {"mlp": (mlp, [(4, 8), (8, 5), (5,)]), "two_outputs": (two_outputs, [(3, 6), (3, 6)]),
            "chain": (chain, [(5, 5)])}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_lowered_jit_graphs_round_trip_and_run(name):
    fn, shapes = PROGRAMS[name]
    rng = np.random.default_rng(3)
    args = [rng.uniform(-1, 1, s).astype("float32") for s in shapes]
    jitted = mlc.jit(fn)
    text = jitted.lower(*args).as_text()
    parsed = mlc.parse(text)
    assert isinstance(parsed, mlc.graph.GraphModule) and list(parsed.graph_functions) == [name]
    # the graph as lowered, less its memory plan (mlc.build plans the parsed graph again)
    lowered = jitted.lower(*args).graph
    unplanned = lowered.with_bindings([replace(b, attrs=tuple(kv for kv in b.attrs if kv[0] != "storage"))
                                       for b in lowered.bindings], storages=(), module=parsed.prim_funcs)
    mlc.assert_structural_equal(parsed[name], unplanned)
    kernels = {n: f for n, f in jitted.lower(*args).mod.items() if not is_graph_main(f)}
    mlc.assert_structural_equal(parsed.prim_funcs, mlc.IRModule(kernels))  # main is the graph itself
    mlc.assert_structural_equal(mlc.parse(parsed.script()), parsed)
    got = R.build(parsed)[name](*args)
    want = jitted(*args)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _graph_text(main_body: str) -> str:
    return ('@R.function\ndef main(x: R.Tensor((4,), "float32")):\n' + main_body +
            '\n@I.ir_module\nclass Module:\n    @T.prim_func\n'
            '    def copy(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):\n'
            '        for i in range(4):\n            B[i] = A[i]\n')


@pytest.mark.parametrize("body, line, words", [
    ('    lv0 = R.call_tir(nope, (x,), out_sinfo=R.Tensor((4,), "float32"))\n    return lv0\n', 3,
     "no such @T.prim_func"),
    ('    lv0 = R.call_tir(copy, (x,), out_sinfo=R.Tensor((5,), "float32"))\n    return lv0\n', 3,
     "buffer B is float32[4], given float32[5]"),
    ('    lv0 = R.frobnicate(x)\n    return lv0\n', 3, "unknown op 'frobnicate'"),
    ('    lv0 = R.nn.dense(x, x)\n    return lv0\n', 3, "nn.dense: weight (out_features, in_features) must have 2"),
    ('    lv0 = R.reshape(x, size=(3,))\n    return lv0\n', 3, "R.reshape takes other arguments: it got an "
     "unexpected keyword argument 'size'"),
    ('    lv0 = R.sum(x, axis=len(x))\n    return lv0\n', 3, "attribute axis must be a literal"),
    ('    lv0 = cls.nope(x)\n    return lv0\n', 3, "cls.nope is not supported in parsed graphs"),
    ('    lv0 = R.call_dps_packed(copy, (x,), out_sinfo=R.Tensor((4,), "float32"))\n    return lv0\n', 3,
     "names its library function by a string"),
    ('    lv0 = R.call_dps_packed("env.copy", (x,))\n    return lv0\n', 3,
     "R.call_dps_packed needs the result type"),
    ('    lv0, lv1 = R.call_tir(copy, (x,), out_sinfo=R.Tensor((4,), "float32"))\n    return lv0\n', 3,
     "gives 1 tensor(s), bound to 2 name(s)"),
    ('    lv0 = R.call_tir(copy, (x, y), out_sinfo=R.Tensor((4,), "float32"))\n    return lv0\n', 3,
     "name 'y' is not a parameter"),
    ('    lv0 = R.call_tir(copy, (x,), out_sinfo=R.Tensor((4,), "float32"))\n', 2, "no return statement"),
])
def test_graph_errors_point_at_the_line(body, line, words):
    with pytest.raises(ParseError) as info:
        mlc.parse(_graph_text(body))
    assert info.value.lineno == line and words in str(info.value)


def test_r_functions_are_read_with_their_module():
    with pytest.raises(mlc.MLCError, match="read as part of its @I.ir_module class"):
        MyModule_main = R.function(lambda x: x)
        MyModule_main(1)
    with pytest.raises(mlc.MLCError, match="takes a module with @R.function graphs"):
        R.build(mlc.IRModule({}))


def test_the_older_call_tir_spelling_with_a_shape_and_dtype():
    text = _graph_text('    with R.dataflow():\n'
                       '        lv0 = R.call_tir("copy", (x,), (4,), dtype="float32")\n'
                       '        R.output(lv0)\n    return lv0\n')
    mod = mlc.parse(text)
    x = np.arange(4, dtype="float32")
    np.testing.assert_array_equal(R.build(mod)["main"](x), x)


_COPY = ('    @T.prim_func\n    def copy(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):\n'
         '        for i in range(4):\n            B[i] = A[i]\n')
_NEG = ('    @R.function(private=True)\n    def neg(p: R.Tensor((4,), "float32")):\n'
        '        R.func_attr({"Primitive": True})\n        lv0 = R.negative(p)\n        return lv0\n')


@pytest.mark.parametrize("text, line, words", [
    ('@I.ir_module\nclass Module:\n' + _COPY + _COPY, 8, "the module defines copy twice"),
    ('@R.function\ndef copy(x: R.Tensor((4,), "float32")):\n    return x\n@I.ir_module\nclass Module:\n' + _COPY,
     2, "the module defines copy twice"),
    ('@I.ir_module\nclass Module:\n' + _NEG + '    @R.function\n    def main(x: R.Tensor((4,), "float32")):\n'
     '        return x\n', 4, "private function neg (a fused group"),
    ('@I.ir_module\nclass Module:\n' + _NEG + '    @R.function\n    def main(x: R.Tensor((4,), "float32")):\n'
     '        lv0 = cls.neg(x, x)\n        return lv0\n', 10, "cls.neg takes 1 tensor(s), given 2"),
])
def test_module_level_errors_point_at_the_line(text, line, words):
    with pytest.raises(ParseError) as info:
        mlc.parse(text)
    assert info.value.lineno == line and words in str(info.value)


def test_tvm_printed_annotated_bindings_and_relax_op_calls_are_read():
    """TVM prints ``lv0: R.Tensor((1, 128), dtype="float32") = R.call_tir(...)``; the course's
    chapter 9 writes ``relax.op.multiply(x, y)`` (R.op.multiply here), and its older text
    ``cls = MyModule`` before ``cls.f``."""
    src = '''
@I.ir_module
class Module:
    @T.prim_func
    def relu0(X: T.Buffer((1, 4), "float32"), Y: T.Buffer((1, 4), "float32")):
        for i, j in T.grid(1, 4):
            with T.block("Y"):
                vi, vj = T.axis.remap("SS", [i, j])
                Y[vi, vj] = T.max(X[vi, vj], T.float32(0))

    @R.function
    def main(x: R.Tensor((1, 4), dtype="float32"), y: R.Tensor((1, 4), dtype="float32")):
        cls = Module
        with R.dataflow():
            lv0 = R.op.multiply(x, y)
            lv1: R.Tensor((1, 4), dtype="float32") = R.call_tir(cls.relu0, (lv0,), out_sinfo=R.Tensor((1, 4), dtype="float32"))
            R.output(lv1)
        return lv1
'''
    x, y = np.array([[1, -2, 3, -4]], "float32"), np.array([[2, 2, -1, -1]], "float32")
    np.testing.assert_array_equal(mlc.build(mlc.parse(src), "llvm")["main"](x, y), np.maximum(x * y, 0))
    with pytest.raises(mlc.ParseError, match=r"the annotation says float32\[1, 8\], but the call gives float32\[1, 4\]"):
        mlc.parse(src.replace('lv1: R.Tensor((1, 4)', 'lv1: R.Tensor((1, 8)'))


def test_a_graph_modules_kernel_is_swapped_in_place_as_the_course_does():
    """Chapter 5: ``mod.update_func(mod.get_global_var("linear0"), tuned)`` on a module of graphs."""
    mod = mlc.parse(MyModule.script())
    sch = mlc.Schedule(mlc.IRModule({"main": mod["linear0"]}))
    j = sch.get_loops(sch.get_block("Z"))[1]
    sch.split(j, [None, 2])
    gv = mod.get_global_var("linear0")
    mod.update_func(gv, sch.mod["main"])
    assert "j_0" in mod["linear0"].script() and "j_0" in mod["main"].module["linear0"].script()
    rng = np.random.default_rng(0)
    x, w, b = (rng.uniform(-1, 1, s).astype("float32") for s in [(1, 8), (4, 8), (4,)])
    np.testing.assert_allclose(mlc.build(mod, "llvm")["main"](x, w, b), np.maximum(x @ w.T + b, 0), rtol=1e-5)
    with pytest.raises(KeyError, match="no function 'nope'"):
        mod.get_global_var("nope")


def test_relax_transform_bind_params_binds_the_weights_as_the_course_does():
    """Chapter 4: ``MyModuleWithParams = relax.transform.BindParams("main", nd_params)(mod)``."""
    rng = np.random.default_rng(1)
    x, w, b = (rng.uniform(-1, 1, s).astype("float32") for s in [(1, 8), (4, 8), (4,)])
    bound = R.transform.BindParams("main", {"w0": mlc.nd.array(w), "b0": mlc.nd.array(b)})(MyModule)
    assert [v.name for v in bound["main"].inputs] == ["x"]
    out = R.VirtualMachine(R.build(bound, "llvm"), mlc.cpu())["main"](mlc.nd.array(x))
    np.testing.assert_allclose(out.numpy(), np.maximum(x @ w.T + b, 0), rtol=1e-5, atol=1e-6)
