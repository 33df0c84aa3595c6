"""The random ops (random.bits, random.unit, random.threefry2x32, random.gamma) and erfinv:
infer, reference and every target against an independent oracle (tests/random/oracle.py:
Threefry on Python ints), bit for bit; shapes of size 0, 1 and odd sizes."""
import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings, strategies as st

from mlc.errors import DTypeError, ShapeError
from mlc.ops import TensorType, get_op

from tests.random import oracle

from ._harness import TARGETS, arrays, check_op, run_op, shapes

KEYS = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).map(lambda k: np.array(k, "uint32"))


@settings(max_examples=12, deadline=None)
@given(key=KEYS, shape=shapes(max_dims=3, min_side=0, max_side=5), dtype=st.sampled_from(["uint32", "uint64"]),
       stream=st.sampled_from([0, 1, 7, 2**32 - 1]))
def test_random_bits_is_threefry_of_each_elements_index(key, shape, dtype, stream):
    want = oracle.bits(key, shape, dtype, stream)
    check_op("random.bits", [key], want, shape=shape, dtype=dtype, stream=stream)


@settings(max_examples=12, deadline=None)
@given(key=KEYS, shape=shapes(max_dims=2, min_side=0, max_side=6), dtype=st.sampled_from(["float32", "float64"]),
       interval=st.sampled_from(["[0, 1)", "(0, 1)", "(-1, 1)"]))
def test_random_unit_is_the_exact_fraction_of_the_top_bits(key, shape, dtype, interval):
    want = oracle.unit(key, shape, dtype, interval)
    check_op("random.unit", [key], want, rtol=0.0, shape=shape, dtype=dtype, stream=0, interval=interval)


@settings(max_examples=10, deadline=None)
@given(key=KEYS, lead=shapes(max_dims=2, min_side=0, max_side=4), data=st.data())
def test_random_threefry2x32_is_the_block_of_each_counter_pair(key, lead, data):
    counters = data.draw(arrays("uint32", (*lead, 2)), label="counters")
    want = np.array([oracle.block(tuple(map(int, key)), tuple(map(int, c))) for c in counters.reshape(-1, 2)],
                    "uint32").reshape(counters.shape)
    check_op("random.threefry2x32", [key, counters], want)


def test_random_threefry2x32_gives_random123s_known_answers():
    for counter, key, expected in oracle.KNOWN_ANSWERS:
        check_op("random.threefry2x32", [np.array(key, "uint32"), np.array(counter, "uint32")],
                 np.array(expected, "uint32"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_gamma_runs_as_its_reference_on_every_target(dtype):
    """Marsaglia and Tsang's attempts one after another (the kernel) and all side by side (the
    reference) take the same first accepted candidate; shapes of 0, 1 and 7 x 3 elements."""
    key = np.array([3, 4], "uint32")
    for shape in [(0,), (1,), (7, 3)]:
        a = np.random.default_rng(1).uniform(0.05, 30.0, shape).astype(dtype)
        reference = get_op("random.gamma").reference(key, a)
        for target in TARGETS:
            (got,) = run_op("random.gamma", [key, a], target)
            np.testing.assert_allclose(got, reference, rtol=8 * np.finfo(dtype).eps, err_msg=target)
        assert (reference > 0).all()


def test_erfinv_against_scipy():
    x = np.linspace(-1, 1, 41)[1:-1]
    for dtype in ("float32", "float64", "float16"):
        check_op("erfinv", [x.astype(dtype)], scipy.special.erfinv(x.astype(dtype)).astype(dtype),
                 rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("op, args, attrs, error, match", [
    ("random.bits", [TensorType((2,), "int32")], {"shape": (3,)}, DTypeError, "uint32 array of shape"),
    ("random.bits", [TensorType((3,), "uint32")], {"shape": (3,)}, ShapeError, r"got uint32\[3\]"),
    ("random.bits", [TensorType((2,), "uint32")], {"shape": (3,), "dtype": "uint16"}, DTypeError, "uint32, uint64"),
    ("random.bits", [TensorType((2,), "uint32")], {"shape": [3]}, ShapeError, "tuple of ints"),
    ("random.bits", [TensorType((2,), "uint32")], {"shape": (3,), "stream": 2**32}, ShapeError, "32 bits"),
    ("random.unit", [TensorType((2,), "uint32")], {"shape": (3,), "dtype": "float16"}, DTypeError, "float32 or float64"),
    ("random.unit", [TensorType((2,), "uint32")], {"shape": (3,), "interval": "[0, 1]"}, ShapeError, "interval"),
    ("random.threefry2x32", [TensorType((2,), "uint32"), TensorType((3,), "uint32")], {}, ShapeError, "pairs"),
    ("random.gamma", [TensorType((2,), "uint32"), TensorType((3,), "int32")], {}, DTypeError, "float32 or float64"),
])
def test_random_ops_refuse_bad_arguments(op, args, attrs, error, match):
    with pytest.raises(error, match=match):
        get_op(op).infer(*args, **attrs)
