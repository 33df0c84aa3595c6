"""A shift by a scalar constant: inside [0, bits) the llvm codegen renders the shift alone
(lower_threefry's rotations), outside it the guarded shift of NumPy's semantics; both against
the reference interpreter, on Hypothesis values of every integer dtype."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc.backends.llvm import compile_sources
from mlc.backends.reference import run
from mlc.ir import dtype as dt
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import Var, const, make_binary
from mlc.ir.tir import BufferStore, For, IRModule, PrimFunc, seq

HASWELL = mlc.Target.from_str("llvm -mcpu=haswell -mattr=default")


def _shifts(dtype: str, n: int, amounts) -> PrimFunc:
    """``Y[k, i] = X[i] << a`` (then ``>>``) for each constant amount ``a``, one row each."""
    X, Y = decl_buffer((n,), dtype, "X"), decl_buffer((2 * len(amounts) * n,), dtype, "Y")
    i = Var("i", "int32")
    stores = [BufferStore(Y, make_binary(op, X[i], const(a, dtype)), (i + (2 * k + j) * n,))
              for k, a in enumerate(amounts) for j, op in enumerate(("shl", "shr"))]
    return PrimFunc((X, Y), For(i, const(0, "int32"), const(n, "int32"), "serial", seq(*stores)))


def _amounts(dtype: str) -> list[int]:
    bits = dt.bits(dtype)
    return [0, 1, bits - 1, bits, bits + 5] + ([-1] if dt.is_signed(dtype) else [])


@pytest.mark.parametrize("dtype", dt.INTS)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_constant_shifts_match_the_reference(dtype, data):
    x = data.draw(hnp.arrays(dtype, (3,)), label="x")
    func = _shifts(dtype, 3, _amounts(dtype))
    want, got = (np.zeros(func.params[1].shape[0].value, dtype) for _ in range(2))
    run(func, [x, want])
    _built(dtype, func)(x, got)
    np.testing.assert_array_equal(got, want)


_BUILT = {}


def _built(dtype, func):
    if dtype not in _BUILT:
        _BUILT[dtype] = mlc.build(IRModule({"main": func}), "llvm")["main"]
    return _BUILT[dtype]


def test_a_constant_amount_in_range_is_the_shift_alone():
    unoptimized = compile_sources(IRModule({"main": _shifts("uint32", 4, [13])}), HASWELL)["ll-unoptimized"]
    body = unoptimized[unoptimized.index("define"):]
    assert "shl i32" in body and "lshr i32" in body and "select" not in body
    guarded = compile_sources(IRModule({"main": _shifts("uint32", 4, [32])}), HASWELL)["ll-unoptimized"]
    assert "select" in guarded[guarded.index("define"):]
