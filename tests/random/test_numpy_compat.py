"""np.random inside @mlc.jit: a trace that draws from NumPy's generators is refused (never a
frozen constant), naming the line; the traced forms of mlc.random.numpy_compat draw fresh numbers
at every call from a hidden key the jit draws from NumPy's global generator (reproducible under
np.random.seed), or from a Generator made outside the function."""
import numpy as np
import pytest

import mlc
from mlc.errors import TraceError
from mlc.random import numpy_compat as npr

X = np.zeros(4)


def test_a_trace_drawing_from_numpys_global_generator_is_refused_naming_the_line():
    @mlc.jit
    def f(x):
        y = x * 2
        noise = np.random.rand(4)  # drawn once, while tracing
        return y + noise

    np.random.seed(1)
    before = np.random.get_state()[1].copy(), np.random.get_state()[2]
    with pytest.raises(TraceError, match=r"(?s)f\(\) draws from NumPy's global random generator.*"
                                         r"mlc.random.*numpy_compat.*noise = np.random.rand\(4\)"):
        f(X)
    after = np.random.get_state()
    assert (after[1] == before[0]).all() and after[2] == before[1]  # the trace's draws are undone


def test_a_trace_drawing_from_a_generator_it_captures_is_refused():
    rng = np.random.default_rng(0)
    legacy = np.random.RandomState(0)

    @mlc.jit
    def f(x):
        return x + rng.normal(size=4)

    @mlc.jit
    def g(x):
        return x + legacy.uniform(size=4)

    state = rng.bit_generator.state
    with pytest.raises(TraceError, match=r"(?s)the NumPy generator 'rng' \(a Generator\).*rng.normal\(size=4\)"):
        f(X)
    assert rng.bit_generator.state == state
    with pytest.raises(TraceError, match=r"(?s)'legacy' \(a RandomState\).*legacy.uniform"):
        g(X)


def test_traced_forms_draw_fresh_numbers_at_every_call_reproducibly_under_seed():
    @mlc.jit
    def f(x):
        return x + npr.normal(1.0, 0.5, x.shape), npr.rand(2, 3), npr.randint(10, size=5)

    first, second = f(X), f(X)
    for a, b in zip(first, second):
        assert not np.array_equal(a, b)
    np.random.seed(7)
    a = f(X)
    after = np.random.random()
    np.random.seed(7)
    b = f(X)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    # a call advances NumPy's generator by one key: two 32-bit words
    np.random.seed(7)
    np.random.randint(0, 2**32, size=2, dtype=np.uint32)
    assert np.random.random() == after
    assert f.trace_count == 1


def test_traced_forms_have_numpys_shapes_dtypes_and_distributions():
    @mlc.jit
    def f(x):
        return (npr.rand(), npr.randn(20000), npr.random_sample((2, 2)), npr.uniform(-1.0, 1.0, 20000),
                npr.randint(3, 9, size=(2, 3)), npr.choice(5, 3, replace=False), npr.permutation(6),
                npr.TRACED[np.random.exponential](2.0, size=4), npr.TRACED[np.random.randint](5, size=2, dtype=np.uint8))

    out = f(X)
    want = (np.random.rand(), np.random.randn(20000), np.random.random_sample((2, 2)),
            np.random.uniform(-1.0, 1.0, 20000), np.random.randint(3, 9, size=(2, 3)),
            np.random.choice(5, 3, replace=False), np.random.permutation(6), np.random.exponential(2.0, size=4),
            np.random.randint(5, size=2, dtype=np.uint8))
    for got, numpy in zip(out, want):
        assert got.shape == np.shape(numpy) and got.dtype == np.asarray(numpy).dtype
    assert abs(out[1].mean()) < 0.03 and abs(out[1].std() - 1.0) < 0.02
    assert abs(out[3].mean()) < 0.02 and -1.0 <= out[3].min() and out[3].max() < 1.0
    assert 3 <= out[4].min() and out[4].max() < 9
    assert len(set(out[5].tolist())) == 3 and sorted(out[6].tolist()) == list(range(6))


def test_two_draws_in_one_function_differ_and_outside_a_trace_numpy_draws():
    a, b = mlc.jit(lambda x: (npr.rand(8), npr.rand(8)))(X)
    assert not np.array_equal(a, b)
    np.random.seed(3)
    eager = npr.rand(3)
    np.random.seed(3)
    np.testing.assert_array_equal(eager, np.random.rand(3))


def test_a_generator_made_outside_draws_the_keys_of_its_methods():
    rng = np.random.default_rng(5)
    integers, normal = npr.replacement(rng.integers), npr.replacement(rng.normal)
    f = mlc.jit(lambda x: (integers(0, 10, size=6, endpoint=True), normal(size=3)))
    state = rng.bit_generator.state
    a = f(X)
    assert rng.bit_generator.state != state  # the call drew its key from rng
    rng.bit_generator.state = state
    b = f(X)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert a[0].dtype == np.int64 and 0 <= a[0].min() and a[0].max() <= 10


def test_replacement_finds_numpys_functions_and_bound_methods():
    assert npr.replacement(np.random.rand) is npr.rand
    assert npr.replacement(np.random.mtrand._rand.normal) is npr.normal
    assert npr.replacement(np.random.default_rng(0).integers) is not None
    assert npr.replacement(np.random.RandomState(0).randint) is not None
    assert npr.replacement(np.exp) is None and npr.replacement([]) is None
    assert npr.replacement(np.random.default_rng(0).bit_generator.random_raw) is None


def test_seed_and_an_unseeded_default_rng_are_refused_inside_a_trace():
    with pytest.raises(TraceError, match=r"(?s)np.random.seed inside a jitted function.*before calling"):
        mlc.jit(lambda x: (npr.seed(0), x)[1])(X)
    with pytest.raises(TraceError, match="without a seed"):
        mlc.jit(lambda x: x + npr.default_rng().normal(size=4))(X)


def test_a_seeded_generator_made_inside_the_function_is_numpys_own():
    """NumPy makes it anew at every call, so its numbers are the same every call: a constant."""
    def f(x):
        rng = npr.default_rng(42)
        draw = npr.replacement(rng.normal) or rng.normal
        return x + draw(size=4)

    np.testing.assert_array_equal(mlc.jit(f)(X), f(X))


def test_shuffle_in_place_permutes_the_callers_array():
    x = np.arange(7.0)
    mlc.jit(lambda x: npr.shuffle(x))(x)
    assert sorted(x) == list(np.arange(7.0))
