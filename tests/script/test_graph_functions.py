"""@R.function graphs: the course's hand-written main, and what Lowered.as_text() prints, parse and run."""
import numpy as np
import pytest

import mlc
from mlc import ParseError
from mlc.script import ir as I, relax as R, tir as T


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
    assert isinstance(MyModule, mlc.script.GraphModule)
    assert isinstance(MyModule["linear0"], mlc.PrimFunc) and MyModule["main"].ops() == ["call_tir", "call_tir"]
    rng = np.random.default_rng(0)
    x, w, b = (rng.uniform(-1, 1, s).astype("float32") for s in [(1, 8), (4, 8), (4,)])
    vm = R.VirtualMachine(R.build(MyModule, target="llvm"), mlc.cpu())
    out = vm["main"](mlc.nd.array(x), mlc.nd.array(w), mlc.nd.array(b))
    np.testing.assert_allclose(out.numpy(), np.maximum(x @ w.T + b, 0), rtol=1e-5, atol=1e-6)
    # the printed module parses back into the same text
    assert mlc.parse(MyModule.script()).script() == MyModule.script()


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
    assert parsed.script() == text
    assert list(parsed.graphs) == [name]
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
    ('    lv0 = R.exp(x)\n    return lv0\n', 3, "R.exp is not supported"),
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
