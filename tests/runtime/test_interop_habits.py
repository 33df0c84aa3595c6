"""Habits users bring from TVM, PyTorch and JAX: mlc.relax, the --num-cores option, a lone
prim_func's name, DLPack objects into built functions and mlc.from_dlpack/to_dlpack."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.graph import BlockBuilder, Tensor, Var, op
from mlc.script import tir as T


class Foreign:
    """A DLPack producer that is not a NumPy array, as a CPU torch.Tensor or jax.Array is."""

    def __init__(self, a):
        self.a = a

    def __dlpack__(self, **kwargs):
        return self.a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


@T.prim_func
def lone(A: T.Buffer((5,), "float32"), B: T.Buffer((5,), "float32")):
    for i in range(5):
        with T.block("b"):
            vi = T.axis.spatial(5, i)
            B[vi] = A[vi] * T.float32(2)


def test_from_mlc_import_relax_with_the_course_passes():
    from mlc import relax
    import mlc.script.relax
    assert relax is mlc.script.relax and mlc.relax is relax
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorStructInfo((2, 3), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            lv = bb.emit(relax.op.add(x, x))
            gv = bb.emit_output(relax.op.nn.relu(lv))
        bb.emit_func_output(gv)
    mod = relax.transform.LegalizeOps()(bb.get())
    mod = relax.transform.FuseOps()(mod)
    mod = relax.transform.FuseTIR()(mod)
    a = np.array([[-1, 2, -3], [4, -5, 6]], "float32")
    np.testing.assert_array_equal(relax.build(mod, "llvm")["main"](a), np.maximum(a + a, 0))
    with pytest.raises(mlc.MLCError, match="no_such_op"):
        relax.op.no_such_op


def test_num_cores_target_option():
    from mlc.target import Target
    assert Target.from_str("llvm --num-cores=1") == Target.from_str("llvm -num-cores=4") == Target.from_str("llvm")
    with pytest.raises(mlc.MLCError, match=r"-num-cores=0: expected a positive integer"):
        Target.from_str("llvm --num-cores=0")
    lib = mlc.build(lone, "llvm --num-cores=1")
    assert "lone" in lib


def test_a_lone_prim_func_keeps_its_name_and_main():
    lib = mlc.build(lone, "llvm")
    a, b, c = np.arange(5, dtype="float32"), np.zeros(5, "float32"), np.zeros(5, "float32")
    lib["lone"](a, b)
    lib["main"](a, c)
    np.testing.assert_array_equal(b, 2 * a)
    np.testing.assert_array_equal(c, 2 * a)
    assert lone.attr("global_symbol") == "lone"


@settings(max_examples=5, deadline=None)
@given(n=st.integers(1, 9), dtype=st.sampled_from(["float32", "float64"]))
def test_built_functions_take_dlpack_objects(n, dtype):
    bb = BlockBuilder()
    x = Var("x", Tensor((n,), dtype))
    with bb.function("main", [x]):
        with bb.dataflow():
            gv = bb.emit_output(op("exp", x))
        bb.emit_func_output(gv)
    a = np.linspace(-1, 1, n).astype(dtype)
    np.testing.assert_allclose(mlc.build(bb.get(), "llvm")["main"](Foreign(a)), np.exp(a), rtol=1e-6)
    lib = mlc.build(lone, "llvm")
    a5, out = np.arange(5, dtype="float32"), np.zeros(5, "float32")
    lib["lone"](Foreign(a5), Foreign(out))  # the result lands in the producer's memory
    np.testing.assert_array_equal(out, 2 * a5)
    with pytest.raises(mlc.ShapeError):
        lib["lone"](Foreign(np.zeros(4, "float32")), out)


def test_from_dlpack_to_dlpack_round_trip_shares_memory():
    a = np.arange(6, dtype="int32").reshape(2, 3)
    b = mlc.from_dlpack(mlc.to_dlpack(a))
    assert b.shape == (2, 3) and b.dtype == np.int32
    b[1, 2] = -1
    assert a[1, 2] == -1
    np.testing.assert_array_equal(np.from_dlpack(mlc.to_dlpack(a)), a)
    with pytest.raises(mlc.DTypeError, match=r"from_dlpack: expected an object with __dlpack__"):
        mlc.from_dlpack([1, 2])


@settings(max_examples=4, deadline=None)
@given(values=st.lists(st.floats(-10, 10, width=32), min_size=5, max_size=5))
def test_built_functions_take_buffers(values):
    import array
    lib = mlc.build(lone, "llvm")
    a, out = array.array("f", values), array.array("f", [0.0] * 5)
    lib["lone"](a, memoryview(out))  # the result lands in the buffer's memory
    np.testing.assert_array_equal(np.asarray(out), 2 * np.asarray(a))
    with pytest.raises(mlc.DTypeError, match="dtype float32, got float64"):
        lib["lone"](array.array("d", values), out)


class FakeDevice(Foreign):
    def __dlpack_device__(self):
        return (2, 0)  # kDLCUDA


@pytest.mark.skipif(not any(__import__("shutil").which(c) for c in ("cc", "gcc", "clang")),
                    reason="no C compiler (cc, gcc or clang) on PATH to export with")
@settings(max_examples=3, deadline=None)
@given(n=st.sampled_from([1, 4, 9]))
def test_loaded_libraries_take_dlpack_objects_and_buffers(tmp_path_factory, n):
    import array
    path = tmp_path_factory.mktemp("l") / "lone.so"
    loaded = mlc.runtime.load(mlc.build(lone, "llvm").export(path))
    a5, out = np.arange(5, dtype="float32"), np.zeros(5, "float32")
    loaded["lone"](Foreign(a5), Foreign(out))
    np.testing.assert_array_equal(out, 2 * a5)
    buf = array.array("f", [0.0] * 5)
    loaded["main"](memoryview(a5), buf)  # (a lone prim_func: its name, and main)
    np.testing.assert_array_equal(np.asarray(buf), 2 * a5)
    with pytest.raises(mlc.DTypeError, match="device memory"):
        loaded["lone"](FakeDevice(a5), out)
    jitted = mlc.runtime.load(mlc.export(lambda x: x + 1, np.zeros(n), path=path.with_name("j.so")))
    np.testing.assert_array_equal(jitted(Foreign(np.ones(n))), np.full(n, 2.0))
    with pytest.raises(mlc.ShapeError):
        jitted(Foreign(np.ones(n + 1)))
