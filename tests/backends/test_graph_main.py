"""A graph's main on every backend: llvm and the reference interpreter against NumPy, with
views, constants, several outputs, returned inputs and library calls."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.config import override
from mlc.graph import BlockBuilder, Tensor, Var, op
from mlc.ir.calls import CallPacked, DeclBuffer, is_graph_main
from mlc.ir.functor import pre_order_nodes

TARGETS = ("llvm", "reference")
C = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)


def views_constants_outputs(x, y):
    """A reshape view of an intermediate, a constant, three outputs, a returned input."""
    h = mlc.nn.softmax(np.exp(x * 0.5), axis=-1).reshape(3, 4)  # the reshape stays a view
    z = mlc.nn.softmax(h, axis=0).T + C
    return z, x, (z.sum(axis=1) * y).astype("float32")


def numpy_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def numpy_views_constants_outputs(x, y):
    h = numpy_softmax(np.exp(x * 0.5), -1).reshape(3, 4)
    z = numpy_softmax(h, 0).T + C
    return z, x, (z.sum(axis=1) * y).astype("float32")


def run_everywhere(*args):
    """views_constants_outputs on every target, each compared with NumPy."""
    results = {target: mlc.jit(views_constants_outputs, target=target)(*args) for target in TARGETS}
    want = numpy_views_constants_outputs(*args)
    for target, got in results.items():
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=target)
    return results


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2 ** 32 - 1))
def test_main_agrees_with_numpy_on_llvm_and_reference(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (2, 6)).astype("float32")
    y = rng.uniform(-2, 2, 4).astype("float32")
    with override(debug=False):
        run_everywhere(x, y)


def test_the_main_of_that_program_has_a_view_and_a_constant_parameter():
    x, y = np.ones((2, 6), "float32"), np.ones(4, "float32")
    lowered = mlc.jit(views_constants_outputs).lower(x, y)
    (main,) = [f for f in lowered.mod.values() if is_graph_main(f)]
    assert main.attr("mlc.graph_main") == (2, 1)  # x, y; the constant C
    assert len(main.params) == 2 + 1 + 3
    views = [n for n in pre_order_nodes(main.body) if isinstance(n, DeclBuffer)]
    assert any(v.buffer.static_shape() == (3, 4) for v in views)  # the reshape: no copy


def test_debug_builds_run_main_checked_on_both_backends():
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(2, 6)
    y = np.arange(4, dtype="float32")
    with override(debug=True):
        run_everywhere(x, y)


@pytest.fixture
def scale_library():
    calls = []

    def scale(x, out):
        calls.append(x.shape)
        np.multiply(x, 3, out=out)
    mlc.register_func("test.main.scale", scale)
    yield calls
    mlc.graph.remove_func("test.main.scale")


def library_module():
    bb = BlockBuilder()
    x = Var("x", Tensor((2, 4), "float32"))
    with bb.function("main", [x]):
        lv0 = bb.emit(op("exp", x))
        lv1 = bb.call_dps_packed("test.main.scale", (lv0,), Tensor((2, 4), "float32"))
        bb.emit_func_output(bb.emit(op("negative", lv1)))
    return bb.get()


@pytest.mark.parametrize("target", TARGETS)
def test_library_calls_from_main(scale_library, target):
    lib = mlc.build(library_module(), target)
    assert any(isinstance(n, CallPacked) for n in pre_order_nodes(lib.kernels["main"].func.body))
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
    np.testing.assert_allclose(lib["main"](x), -3 * np.exp(x), rtol=1e-6)
    assert scale_library == [(2, 4)]  # the library function sees the buffer's shape
    if target == "llvm":  # a check follows every call of such a main: no object entry skips it
        assert lib.kernels["main"].object_entry is None


@pytest.mark.parametrize("target", TARGETS)
def test_a_library_function_registered_after_the_build_is_not_seen(scale_library, target):
    lib = mlc.build(library_module(), target)
    mlc.register_func("test.main.scale", lambda x, out: np.copyto(out, x), override=True)
    x = np.zeros((2, 4), "float32")
    np.testing.assert_allclose(lib["main"](x), -3 * np.ones((2, 4)))  # looked up at build time
