"""What the jit keys and shares by identity or equality matches what NumPy would compute.

A NumPy array the function changes between uses is two constants; static arguments that
compare equal but compute differently (0.0 and -0.0) are two signatures, as are dicts
whose keys are 1 and True; values computed apart and merged by the graph passes come
back as separate arrays, while one value returned twice stays one array, as in NumPy.
"""
import numpy as np
import pytest

import mlc

X = np.arange(1, 5, dtype=np.float32)


def test_an_array_changed_between_uses_is_seen_changed():
    def f(x):
        c = np.zeros(4, np.float32)
        a = x + c
        c[0] = 5
        return a, x + c
    for got, want in zip(mlc.jit(f)(X), f(X)):
        np.testing.assert_array_equal(got, want)


def test_a_scratch_mask_reused_in_a_loop():
    def f(x):
        mask, outs = np.zeros(4, np.float32), []
        for i in range(4):
            mask[:] = 0
            mask[i] = 1
            outs.append((x * mask).sum())
        return outs
    assert [float(v) for v in mlc.jit(f)(X)] == [1, 2, 3, 4]


def test_an_array_used_twice_unchanged_is_one_constant():
    w = np.ones(4, np.float32)
    lowered = mlc.jit(lambda x: (x + w) * w).lower(X)
    assert len(lowered.traced.constants()) == 1


@pytest.mark.parametrize("first, second", [(0.0, -0.0), ((0.0,), (-0.0,)), (np.float32(0), np.float32(-0.0))])
def test_static_zeros_of_both_signs_are_two_signatures(first, second):
    f = mlc.jit(lambda x, s: np.copysign(x, s if not isinstance(s, tuple) else s[0]), static_argnums=1)
    np.testing.assert_array_equal(f(X, first), X)
    np.testing.assert_array_equal(f(X, second), -X)


def test_a_nan_static_argument_compiles_once():
    f = mlc.jit(lambda x, s: x + s, static_argnums=1)
    for _ in range(3):
        assert np.isnan(f(X, float("nan"))).all()
    assert f.trace_count == 1


def test_dict_keys_1_and_true_are_two_signatures():
    f = mlc.jit(lambda d: {k: v * 2 for k, v in d.items()})
    assert list(f({1: X})) == [1] and type(next(iter(f({True: X})))) is bool


@pytest.mark.parametrize("fn", [lambda x: (x * 2, x * 2), lambda x: (np.ones(3), np.ones(3)),
                                lambda x: [x + 1, x * 3, x + 1]])
def test_values_computed_apart_are_separate_arrays(fn):
    outs = mlc.jit(fn)(X)
    for got, want in zip(outs, fn(X)):
        np.testing.assert_array_equal(got, want)
    assert len({id(o) for o in outs}) == len(outs)
    outs[0][...] = -1
    np.testing.assert_array_equal(outs[-1], fn(X)[-1])


def test_one_value_returned_twice_is_one_array_as_in_numpy():
    a, b = mlc.jit(lambda x: (lambda y: (y, y))(x * 2))(X)
    assert a is b
