"""Accumulation dtypes, reduction identities and promotion rules, per dtype.

Each check is chosen so the wrong rule gives a visibly wrong number: 4096
float16 ones sum to 2048 when accumulated in float16 (2048 + 1 rounds back to
2048); a max over -inf values gives the smallest finite float when the
identity is ``finfo.min``; an int32 sum of two large values wraps when it is
not accumulated in int64 as NumPy does.
"""
import numpy as np
import pytest

from mlc import te
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import Block
from mlc.ops import TensorType, get_op
from mlc.ops.library._common import result_type, weak_result_type

from ._harness import ALL, FLOATS, INTS, TARGETS, run_op

N16 = 4096  # float16 counts exactly up to 2048; 4096 ones need a float32 accumulator


def _stage_dtypes(name, in_types, **attrs):
    """{block name: dtype it stores} of op ``name``'s lowering."""
    op = get_op(name)
    inputs = [te.placeholder(t.shape, t.dtype, f"in{n}") for n, t in enumerate(in_types)]
    outs = op.lower(*inputs, **attrs)
    func = te.create_prim_func(inputs + list(outs if isinstance(outs, (tuple, list)) else (outs,)))
    return {n.name_hint: n.writes[0].buffer.dtype for n in pre_order_nodes(func.body)
            if isinstance(n, Block) and n.writes}


@pytest.mark.parametrize("target", TARGETS)
def test_float16_sums_accumulate_in_float32(target):
    ones = np.ones(N16, "float16")
    (out,) = run_op("sum", [ones], target)
    assert out.dtype == np.float16 and float(out) == N16
    (out,) = run_op("mean", [ones], target)
    assert out.dtype == np.float16 and float(out) == 1.0
    (out,) = run_op("sum", [np.ones((2, N16), "float16")], target, axis=1)
    np.testing.assert_array_equal(out, np.full(2, N16, "float16"))


@pytest.mark.parametrize("target", TARGETS)
def test_float16_matmul_and_dense_accumulate_in_float32(target):
    a, b = np.ones((2, N16), "float16"), np.ones((N16, 3), "float16")
    (out,) = run_op("matmul", [a, b], target)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, np.full((2, 3), N16, "float16"))
    (out,) = run_op("nn.dense", [a, np.ones((3, N16), "float16")], target)
    np.testing.assert_array_equal(out, np.full((2, 3), N16, "float16"))


def test_float16_reductions_store_a_float32_accumulator_then_cast():
    stages = _stage_dtypes("sum", [TensorType((8,), "float16")])
    assert sorted(stages.values()) == ["float16", "float32"], stages
    stages = _stage_dtypes("matmul", [TensorType((2, 8), "float16"), TensorType((8, 3), "float16")])
    assert sorted(stages.values()) == ["float16", "float32"], stages
    for dtype in ("float32", "float64"):  # no extra stage where the data is already wide enough
        assert list(_stage_dtypes("sum", [TensorType((8,), dtype)]).values()) == [dtype]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8", "uint32", "bool"])
def test_narrow_integer_sums_accumulate_like_numpy(dtype, target):
    info = np.iinfo(dtype) if dtype != "bool" else None
    big = np.full(3, info.max if info else True, dtype)
    (out,) = run_op("sum", [big], target)
    want = np.sum(big)
    assert out.dtype == want.dtype and int(out) == int(want)
    assert get_op("sum").infer(TensorType((3,), dtype)).dtype == want.dtype.name


# ------------------------------------------------------------------ identities

@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_max_and_min_of_infinities_are_infinite(dtype, target):
    """The identity of max is -inf (not finfo.min), of min +inf (not finfo.max)."""
    neg, pos = np.full((2, 3), -np.inf, dtype), np.full((2, 3), np.inf, dtype)
    for axis in (None, 1):
        (out,) = run_op("max", [neg], target, axis=axis)
        assert np.all(np.isneginf(out)), (dtype, axis, out)
        (out,) = run_op("min", [pos], target, axis=axis)
        assert np.all(np.isposinf(out)), (dtype, axis, out)
    lowest = np.full(3, np.finfo(dtype).min, dtype)
    (out,) = run_op("max", [lowest], target)
    assert out == np.finfo(dtype).min


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", INTS)
def test_integer_max_and_min_reach_the_extremes(dtype, target):
    info = np.iinfo(dtype)
    (out,) = run_op("max", [np.full(3, info.min, dtype)], target)
    assert int(out) == int(info.min)
    (out,) = run_op("min", [np.full(3, info.max, dtype)], target)
    assert int(out) == int(info.max)


@pytest.mark.parametrize("target", TARGETS)
def test_bool_max_min_and_empty_sums_use_their_identities(target):
    (out,) = run_op("max", [np.zeros(3, bool)], target)
    assert out.dtype == np.bool_ and not bool(out)
    (out,) = run_op("min", [np.ones(3, bool)], target)
    assert bool(out)
    for dtype in ("float32", "int32", "float16"):
        empty = np.zeros((2, 0), dtype)
        (out,) = run_op("sum", [empty], target, axis=1)
        np.testing.assert_array_equal(out, np.sum(empty, axis=1))
        (out,) = run_op("prod", [empty], target, axis=1)
        np.testing.assert_array_equal(out, np.prod(empty, axis=1))


# ------------------------------------------------------------------ promotion

def test_promotion_with_python_scalars_follows_nep50():
    for dtype in ALL:
        for scalar in (1, 0.5, True):
            want = (np.zeros(1, dtype) + scalar).dtype.name
            assert weak_result_type(dtype, scalar) == want, (dtype, scalar)


def test_promotion_between_typed_operands_follows_numpy():
    for a in ALL:
        for b in ALL:
            assert result_type(a, b) == np.result_type(a, b).name, (a, b)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", FLOATS + ("int8", "int32"))
def test_max_pool_padding_is_the_identity_of_max(dtype, target):
    """Padding of max_pool2d is -inf (the smallest integer): a window over padding and the
    lowest values keeps the lowest value, not the smallest finite float or one above it."""
    low = -np.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min
    x = np.full((1, 1, 3, 3), low, dtype)
    (out,) = run_op("nn.max_pool2d", [x], target, kernel=2, stride=2, padding=1)
    np.testing.assert_array_equal(out, np.full(out.shape, low, dtype))
