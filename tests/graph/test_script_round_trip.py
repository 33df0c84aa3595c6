"""mlc.parse(mod.script()) is mod: the parser reads what a BlockBuilder-made GraphModule prints."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from examples import ch4_end_to_end as ch4
from mlc.errors import ParseError
from mlc.graph import (BlockBuilder, FuseOps, FuseTIR, GraphModule, LegalizeOps, Tensor, Var, bind_params,
                       call_tir, constant, op)
from mlc.ir.structural import assert_structural_equal, structural_equal

from .helpers import (emit_te_mlp, fused_call, mlp_inputs, mlp_vars, numpy_mlp, op_mlp, relu_then_library,
                      te_linear, te_relu)


def several_functions():
    """Two graph functions sharing a kernel: a call_tir of several results, a scalar constant,
    a tuple result that is also a parameter, one function without a dataflow block."""
    x = mlc.te.placeholder((3,), "float32", "X")
    both = mlc.te.create_prim_func([x, mlc.te.compute((3,), lambda i: x[i] + 1, "A"),
                                    mlc.te.compute((3,), lambda i: x[i] * 2, "B")])
    bb = BlockBuilder()
    v = Var("v", Tensor((3,), "float32"))
    with bb.function("main", [v]):
        with bb.dataflow():
            p, q = bb.emit(call_tir(both, (v,), [Tensor((3,), "float32")] * 2))
            r = bb.emit(op("multiply", p, constant(np.float32(0.5))))
            gv = bb.emit_output(op("add", q, r))
        bb.emit_func_output(gv)
    w = Var("w", Tensor((3,), "float32"))
    with bb.function("pair", [w]):
        a, _ = bb.call_tir("tir_func", (w,), [Tensor((3,), "float32")] * 2)
        bb.emit_func_output((bb.emit(op("nn.softmax", a, axis=-1)), w))
    return bb.get()


def library_mlp():
    """call_dps_packed between emit_te kernels, in a dataflow block."""
    bb = BlockBuilder()
    x, w0, b0, w1, b1 = params = mlp_vars()
    with bb.function("main", params):
        with bb.dataflow():
            lv0 = bb.call_dps_packed("test.env.linear", (x, w0, b0), Tensor((2, 4), "float32"))
            lv1 = bb.emit_te(te_relu, lv0)
            gv = bb.emit_output(bb.emit_te(te_linear, lv1, w1, b1))
        bb.emit_func_output(gv)
    return bb.get()


MODULES = {
    "emit_te_mlp": emit_te_mlp,
    "op_mlp": op_mlp,
    "legalized": lambda: LegalizeOps(op_mlp()),
    "fused_ops": lambda: FuseOps(op_mlp()),
    "fused_tir": lambda: FuseTIR(FuseOps(op_mlp())),
    "fused_call_tir": lambda: fused_call(lambda sb, p: sb.emit_te(te_relu, sb.emit_te(te_relu, p))),
    "fused_call_ops": lambda: fused_call(lambda sb, p: sb.emit(op("exp", sb.emit(op("negative", p))))),
    "library_then_op": lambda: relu_then_library("test.env.relu"),
    "library_mlp": library_mlp,
    "several_functions": several_functions,
    "ch4_call_tir": lambda: ch4.call_tir_module(1, 6, 5, 3),
    "ch4_emit_te": lambda: ch4.emit_te_module(1, 6, 5, 3),
    "ch4_library": lambda: ch4.library_module(1, 6, 5, 3),
}


def check_round_trip(mod):
    text = mod.script()
    parsed = mlc.parse(text)
    assert isinstance(parsed, GraphModule) and list(parsed) == list(mod)
    assert_structural_equal(parsed, mod)
    assert parsed.script() == text
    return parsed


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_printed_module_parses_back_into_itself(name):
    check_round_trip(MODULES[name]())


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.booleans())
def test_printed_mlps_of_any_size_parse_back_and_run_alike(n, d, h, o, fused):
    mod = FuseOps(op_mlp(n, d, h, o)) if fused else emit_te_mlp(n, d, h, o)
    parsed = check_round_trip(mod)
    args = mlp_inputs(n, d, h, o)
    got = mlc.build(parsed, "llvm")["main"](*args)
    np.testing.assert_allclose(got, numpy_mlp(*args), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got, mlc.build(mod, "llvm")["main"](*args))


def test_the_round_trip_sees_a_changed_program():
    mod = op_mlp()
    changed = mlc.parse(mod.script().replace("R.add(lv3, b1)", "R.subtract(lv3, b1)"))
    assert not structural_equal(changed, mod)
    renamed = mlc.parse(mod.script().replace("lv3", "t"))  # names do not matter
    assert structural_equal(renamed, mod)


def test_the_course_spelling_of_out_sinfo_reads_the_same():
    course = emit_te_mlp().script().replace('out_sinfo=R.Tensor((2, 4), "float32")',
                                            'out_sinfo=R.Tensor((2, 4), dtype="float32")')
    assert 'dtype="float32"' in course
    assert_structural_equal(mlc.parse(course), emit_te_mlp())


def test_constants_printed_as_metadata_are_a_clear_parse_error():
    weights = dict(zip(["w0", "b0", "w1", "b1"], mlp_inputs()[1:]))
    bound = bind_params(op_mlp(), weights)
    assert 'metadata["c0"]' in bound.script()
    with pytest.raises(ParseError, match=r"metadata\[...\] constants are printed without their data"):
        mlc.parse(bound.script())
