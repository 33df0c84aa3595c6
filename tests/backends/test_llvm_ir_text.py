"""The LLVM IR text the codegen writes for LLVM to parse: constants are written as
constants, not as instructions that convert them."""
import re

import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.llvm.addressing import sext64
from mlc.backends.llvm.module import generate_ir
from mlc.passes.tir import lower
from llvmlite import ir
from tests.targets import AVX2


def _row_sums(n, m):
    A = te.placeholder((n, m), "float32", "A")
    k = te.reduce_axis((0, m), "k")
    B = te.compute((n,), lambda i: te.sum(A[i, k], axis=k), "B")
    return te.create_prim_func([A, B])


def test_int32_loop_bounds_and_constant_indices_are_i64_constants():
    text = generate_ir({"f": lower(_row_sums(37, 1000))}, AVX2)
    assert not re.search(r"sext i32 -?\d+ to i64", text) and "add i64 0," not in text
    assert 'icmp slt i64 %"i", 37' in text and 'icmp slt i64 %"k", 1000' in text
    lib = mlc.build(mlc.IRModule({"f": _row_sums(37, 1000)}), "llvm")
    a = np.random.default_rng(0).standard_normal((37, 1000)).astype("float32")
    b = np.empty(37, "float32")
    lib["f"](a, b)
    np.testing.assert_allclose(b, a.sum(axis=1), rtol=1e-4, atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(width=st.sampled_from([1, 8, 16, 32]), data=st.data())
def test_sext64_of_a_constant_is_its_signed_value(width, data):
    value = data.draw(st.integers(-(1 << (width - 1)), (1 << width) - 1))  # either spelling
    signed = value - (1 << width) if value >= 1 << (width - 1) else value
    out = sext64(None, ir.Constant(ir.IntType(width), value))
    assert str(out) == f"i64 {signed}"
