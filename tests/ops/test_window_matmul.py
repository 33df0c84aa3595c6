"""window_matmul against NumPy: a vector times a matrix at the columns ``lo <= j < hi`` (bounds
anywhere: negative, past the end, crossed), zeros at the others, on every target; its kernel's
column loop runs over the window only."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlc.errors import DTypeError, ShapeError
from mlc.ir.expr import BufferLoad, IntImm
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import For
from mlc.ops import TensorType, get_op
from mlc.ops.hand_written import hand_written

from ._harness import TARGETS, run_op


@settings(max_examples=6, deadline=None)
@given(k=st.sampled_from([1, 2, 5]), n=st.sampled_from([1, 3, 16, 17, 40]),
       dtype=st.sampled_from(["float32", "float64"]), data=st.data())
def test_window_matmul_is_numpys_product_on_the_window(k, n, dtype, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    a, b = rng.standard_normal(k).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    lo, hi = (np.int64(data.draw(st.integers(-2, n + 2))) for _ in range(2))
    first, last = min(max(int(lo), 0), n), max(min(int(hi), n), 0)
    want = np.zeros(n, dtype)
    want[first:last] = a @ b[:, first:last]
    np.testing.assert_allclose(get_op("window_matmul").reference(a, b, lo, hi), want, rtol=1e-6)
    for target in TARGETS:
        (got,) = run_op("window_matmul", [a, b, lo, hi], target)
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)
        assert got.dtype == np.dtype(dtype)


def test_the_kernels_column_loops_run_between_the_bounds():
    """The work is the window's: every loop over the columns takes its bounds from ``lo`` and
    ``hi`` (only the rows' loop and the lanes of a block have constant extents)."""
    f = hand_written("window_matmul", [TensorType((6,), "float64"), TensorType((6, 50), "float64"),
                                       TensorType((), "int64"), TensorType((), "int64")], {})
    lo, hi = f.params[2], f.params[3]
    loops = [s for s in pre_order_nodes(f.body) if isinstance(s, For)]
    bounded = [s for s in loops if any(isinstance(e, BufferLoad) and e.buffer in (lo, hi)
                                       for e in pre_order_nodes(s.extent))]
    constant = [int(s.extent.value) for s in loops if isinstance(s.extent, IntImm)]
    assert bounded
    assert set(constant) <= {6, 16, 4}  # rows, lanes of a block, blocks (batch loop)


def test_operands_it_does_not_take_are_refused_by_name():
    infer = get_op("window_matmul").infer
    bound = TensorType((), "int64")
    with pytest.raises(ShapeError, match="vector's length 3 is not the matrix's number of rows 4"):
        infer(TensorType((3,), "float64"), TensorType((4, 5), "float64"), bound, bound)
    with pytest.raises(ShapeError, match="a vector and a matrix"):
        infer(TensorType((3, 1), "float64"), TensorType((3, 5), "float64"), bound, bound)
    with pytest.raises(DTypeError, match="float32 and float64"):
        infer(TensorType((3,), "float32"), TensorType((3, 5), "float64"), bound, bound)
    with pytest.raises(DTypeError, match="0-d int values"):
        infer(TensorType((3,), "float64"), TensorType((3, 5), "float64"), TensorType((2,), "int64"), bound)
    with pytest.raises(DTypeError, match="0-d int values"):
        infer(TensorType((3,), "float64"), TensorType((3, 5), "float64"), bound, TensorType((), "float64"))
