"""mlc.random's functions: keys, shapes and dtypes, eager and traced use, and their errors."""
import numpy as np
import pytest

import mlc
import mlc.random as mr
from mlc.errors import DTypeError, ShapeError

from . import oracle


def test_key_is_the_seeds_64_bits_high_word_first():
    assert mr.key(0).tolist() == [0, 0] and mr.key(7).dtype == np.uint32
    assert mr.key(2**32 + 5).tolist() == [1, 5]
    assert mr.key(-1).tolist() == [2**32 - 1, 2**32 - 1]
    assert mr.PRNGKey is mr.key
    traced = mlc.jit(lambda seed: mr.key(seed))
    for seed in (0, 12345, 2**40 + 3):
        np.testing.assert_array_equal(traced(np.int64(seed)), mr.key(seed))


def test_split_and_fold_in_are_threefry_blocks_of_their_own_streams():
    key = mr.key(99)
    np.testing.assert_array_equal(mr.split(key, 3), [oracle.block(tuple(map(int, key)), (j, 1)) for j in range(3)])
    np.testing.assert_array_equal(mr.fold_in(key, 12), oracle.block(tuple(map(int, key)), (12, 2)))
    assert mr.split(key, 0).shape == (0, 2)
    folded = mlc.jit(lambda key, step: mr.fold_in(key, step))
    for step in (0, 5, 2**31):
        np.testing.assert_array_equal(folded(key, np.int64(step)), mr.fold_in(key, step))
    assert folded.trace_count == 1
    # no two uses of one key share numbers: a split key is none of the key's draws
    assert not set(mr.bits(key, (1000,)).tolist()) & set(mr.split(key, 1000)[:, 0].tolist())


SAMPLERS = [  # (draw(key, shape, dtype), dtype)
    (lambda k, s, d: mr.uniform(k, s, d), "float16"), (lambda k, s, d: mr.normal(k, s, d), "float16"),
    (lambda k, s, d: mr.exponential(k, s, d), "float64"), (lambda k, s, d: mr.gamma(k, 2.0, s, d), "float16"),
    (lambda k, s, d: mr.randint(k, s, 0, 5, d), "uint8"), (lambda k, s, d: mr.randint(k, s, -2, 2, d), "int64"),
]


@pytest.mark.parametrize("shape", [(), (0,), (1,), (3, 0, 2)])
def test_shapes_and_dtypes_including_empty_and_one_element(shape):
    draws = mlc.jit(lambda key: [f(key, shape, d) for f, d in SAMPLERS])(mr.key(1))
    for x, (_, dtype) in zip(draws, SAMPLERS):
        assert x.shape == shape and x.dtype == dtype


def test_bits_are_the_top_bits_of_each_block():
    key = mr.key(6)
    words = oracle.bits(key, (2, 5), "uint64")
    np.testing.assert_array_equal(mr.bits(key, (2, 5), "uint64"), words)
    for dtype, width in (("uint32", 32), ("uint16", 16), ("uint8", 8)):
        np.testing.assert_array_equal(mr.bits(key, (2, 5), dtype), (words >> np.uint64(64 - width)).astype(dtype))
    with pytest.raises(DTypeError, match="unsigned"):
        mr.bits(key, (2,), "int32")


def test_defaults_are_jaxs():
    normal, ints, coin, coins, perm = mlc.jit(lambda k: (
        mr.normal(k), mr.randint(k, (2,), 0, 3), mr.bernoulli(k), mr.bernoulli(k, np.full((2, 3), 0.5)),
        mr.permutation(k, 5)))(mr.key(0))
    assert normal.dtype == np.float32 and normal.shape == ()
    assert ints.dtype == np.int32 and coin.dtype == np.bool_ and coins.shape == (2, 3)
    assert perm.dtype == np.int64


def test_a_shape_may_be_a_list_or_an_int():
    k = mr.key(0)
    np.testing.assert_array_equal(mr.uniform(k, [2, 3]), mr.uniform(k, (2, 3)))
    np.testing.assert_array_equal(mr.uniform(k, 4), mr.uniform(k, (4,)))


def test_bounds_and_parameters_broadcast_and_may_be_traced():
    k = mr.key(3)
    lo, hi = np.array([0.0, 10.0, 100.0], "float32"), np.array([1.0, 11.0, 101.0], "float32")
    u = mr.uniform(k, (4, 3), minval=lo, maxval=hi)
    assert ((u >= lo) & (u < hi)).all()
    f = mlc.jit(lambda k, lo, hi: mr.randint(k, (1000,), lo, hi))
    x = f(k, 5, 9)
    assert x.min() == 5 and x.max() == 8
    assert (f(k, 3, 3) == 3).all()  # an empty range gives minval
    x = mr.randint(k, (1000,), 250, 300, "uint8")  # bounds clipped into the dtype: [250, 255)
    assert x.min() == 250 and x.max() == 254
    g = mr.gamma(k, np.array([[0.5], [5.0]], "float32"), (2, 1000))
    assert g.shape == (2, 1000) and g[0].mean() < 1.0 < 4.0 < g[1].mean()


def test_a_jitted_function_with_a_key_argument_draws_anew_for_each_key():
    @mlc.jit
    def init(key):
        k1, k2 = mr.split(key)
        return mr.normal(k1, (3, 4)) * 0.1, mr.uniform(k2, (4,))

    a, b = init(mr.key(0)), init(mr.key(1))
    assert not np.array_equal(a[0], b[0]) and not np.array_equal(a[1], b[1])
    np.testing.assert_array_equal(init(mr.key(0))[0], a[0])
    assert init.trace_count == 1


@pytest.mark.parametrize("call, error, match", [
    (lambda: mr.normal(0, (3,)), DTypeError, r"key must be a key .*mlc.random.key\(0\)"),
    (lambda: mr.normal(np.zeros(2, "int32"), (3,)), DTypeError, r"uint32 array of shape \(2,\), got int32\[2\]"),
    (lambda: mr.normal(mr.split(mr.key(0), 2), (3,)), ShapeError, r"got uint32\[2, 2\].*split"),
    (lambda: mr.normal(mr.key(0), (3,), "int32"), DTypeError, "float dtype"),
    (lambda: mr.randint(mr.key(0), (3,), 0, 5, "float32"), DTypeError, "integer dtype"),
    (lambda: mr.normal(mr.key(0), (-1,)), ShapeError, "at least 0"),
    (lambda: mr.uniform(mr.key(0), (2,), minval=np.zeros(3)), ShapeError, "broadcast"),
    (lambda: mr.choice(mr.key(0), 3, (4,), replace=False), ShapeError, "without replacement"),
    (lambda: mr.choice(mr.key(0), 3, (2,), p=np.ones(4) / 4), ShapeError, "one probability per entry"),
    (lambda: mr.categorical(mr.key(0), np.zeros((2, 3)), shape=(5,)), ShapeError, "batch shape"),
    (lambda: mr.permutation(mr.key(0), np.float32(1.0)), ShapeError, "0-d"),
    (lambda: mr.multivariate_normal(mr.key(0), np.zeros(2), np.eye(3)), ShapeError, "same n"),
    (lambda: mr.key(1.5), DTypeError, "must be an int"),
    (lambda: mr.key(2**64), DTypeError, "64 bits"),
])
def test_bad_arguments_are_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_errors_inside_a_trace_name_the_users_line():
    @mlc.jit
    def f(x):
        return x + mr.normal(mr.key(0), (5,))  # the shapes do not broadcast

    with pytest.raises(ShapeError, match=r"(?s)broadcast.*test_api.py"):
        f(np.zeros(3, "float32"))
