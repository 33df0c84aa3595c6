"""Each sampler of mlc.random draws its distribution: Kolmogorov-Smirnov tests against SciPy's
distributions (p above 1e-4: with fixed keys the numbers are fixed, and a sampler off by a
percent in a quantile fails at these sizes), chi-square tests of discrete draws, moments of the
vector samplers. The samples of one dtype come from one jitted function (one build)."""
import importlib

import numpy as np
import pytest

import mlc
import mlc.random as mr


class _OnFirstUse:
    """``scipy.stats``, imported when a test first asks for it: the import takes seconds, and
    every pytest-xdist worker collects this module, most of them to run none of its tests."""

    def __getattr__(self, name):
        return getattr(importlib.import_module("scipy.stats"), name)


stats = _OnFirstUse()

N = 20_000
P_MIN = 1e-4

CONTINUOUS = {  # name -> (draw(key, dtype), SciPy's distribution, made when asked)
    "uniform": (lambda k, d: mr.uniform(k, (N,), d, -1.0, 3.0), lambda: stats.uniform(-1.0, 4.0)),
    "normal": (lambda k, d: mr.normal(k, (N,), d), lambda: stats.norm()),
    "truncated_normal": (lambda k, d: mr.truncated_normal(k, -0.5, 2.0, (N,), d), lambda: stats.truncnorm(-0.5, 2.0)),
    "exponential": (lambda k, d: mr.exponential(k, (N,), d), lambda: stats.expon()),
    "gumbel": (lambda k, d: mr.gumbel(k, (N,), d), lambda: stats.gumbel_r()),
    "logistic": (lambda k, d: mr.logistic(k, (N,), d), lambda: stats.logistic()),
    "laplace": (lambda k, d: mr.laplace(k, (N,), d), lambda: stats.laplace()),
    "cauchy": (lambda k, d: mr.cauchy(k, (N,), d), lambda: stats.cauchy()),
    "gamma(0.3)": (lambda k, d: mr.gamma(k, 0.3, (N,), d), lambda: stats.gamma(0.3)),
    "gamma(1)": (lambda k, d: mr.gamma(k, 1.0, (N,), d), lambda: stats.gamma(1.0)),
    "gamma(7.5)": (lambda k, d: mr.gamma(k, 7.5, (N,), d), lambda: stats.gamma(7.5)),
    "beta(2, 0.5)": (lambda k, d: mr.beta(k, 2.0, 0.5, (N,), d), lambda: stats.beta(2.0, 0.5)),
}


#: float64 draws of these too (the others share their code between the dtypes).
FLOAT64 = ("uniform", "normal", "exponential", "gamma(0.3)")


@pytest.fixture(scope="module")
def continuous_samples():
    keys = mr.split(mr.key(17), len(CONTINUOUS))
    draw = mlc.jit(lambda keys: ([f(keys[n], "float32") for n, (f, _) in enumerate(CONTINUOUS.values())],
                                 [CONTINUOUS[name][0](keys[n], "float64") for n, name in enumerate(FLOAT64)]))
    float32, float64 = draw(keys)
    return {"float32": dict(zip(CONTINUOUS, float32)), "float64": dict(zip(FLOAT64, float64))}


@pytest.mark.parametrize("name, dtype", [(n, "float32") for n in CONTINUOUS] + [(n, "float64") for n in FLOAT64])
def test_continuous_samplers_pass_a_kolmogorov_smirnov_test(continuous_samples, name, dtype):
    x = continuous_samples[dtype][name]
    assert x.dtype == dtype and x.shape == (N,) and np.isfinite(x).all()
    p = stats.kstest(x.astype("float64"), CONTINUOUS[name][1]().cdf).pvalue
    assert p > P_MIN, f"{name} {dtype}: KS p-value {p:.2e}"


def test_a_kolmogorov_smirnov_test_rejects_a_wrong_distribution(continuous_samples):
    """The test above can fail: normal numbers scaled by 1.1, or shifted by 0.05, are rejected."""
    x = continuous_samples["float32"]["normal"].astype("float64")
    assert stats.kstest(x * 1.1, stats.norm().cdf).pvalue < P_MIN
    assert stats.kstest(x + 0.05, stats.norm().cdf).pvalue < P_MIN


def test_normal_reaches_the_tails_of_its_format():
    """The inverse CDF of a 24-bit uniform in (-1, 1) reaches 5.4 standard deviations in float32
    (the largest of a million draws is near 4.9); the tail frequencies beyond 3 and 4 are the
    normal's."""
    x = mr.normal(mr.key(5), (1_000_000,)).astype("float64")
    assert 4.5 < abs(x).max() <= 5.5
    for t in (3.0, 4.0):
        want = 2 * stats.norm.sf(t) * x.size
        assert abs((abs(x) > t).sum() - want) < 5 * np.sqrt(want), t


def chi_square_p(counts, probabilities):
    return stats.chisquare(counts, np.asarray(probabilities) * np.sum(counts)).pvalue


def test_discrete_samplers_pass_chi_square_tests():
    k = mr.split(mr.key(23), 6)
    p = np.array([0.1, 0.0, 0.2, 0.3, 0.4])

    def draw(k):
        return (mr.bernoulli(k[0], 0.3, (N,)), mr.randint(k[1], (N,), -3, 4), mr.rademacher(k[2], (N,)),
                mr.categorical(k[3], np.log(np.array([0.5, 0.25, 0.25], "float32")), shape=(N,)),
                mr.choice(k[4], 5, (N,), p=p), mr.choice(k[5], 7, (N,)))

    bern, ints, signs, cats, weighted, uniform = mlc.jit(draw)(k)
    assert bern.dtype == np.bool_ and ints.dtype == np.int32 and cats.dtype == np.int32
    assert chi_square_p([np.sum(~bern), np.sum(bern)], [0.7, 0.3]) > P_MIN
    assert set(np.unique(ints)) == set(range(-3, 4))
    assert chi_square_p(np.bincount(ints + 3), [1 / 7] * 7) > P_MIN
    assert set(np.unique(signs)) == {-1, 1} and chi_square_p(np.bincount(signs + 1)[[0, 2]], [0.5, 0.5]) > P_MIN
    assert chi_square_p(np.bincount(cats, minlength=3), [0.5, 0.25, 0.25]) > P_MIN
    counts = np.bincount(weighted, minlength=5)
    assert counts[1] == 0 and chi_square_p(counts[[0, 2, 3, 4]], p[[0, 2, 3, 4]]) > P_MIN
    assert chi_square_p(np.bincount(uniform, minlength=7), [1 / 7] * 7) > P_MIN


def test_permutations_are_uniform_and_choices_without_replacement_distinct():
    """Every position of a permutation of 4 takes every value equally often (over 4,000 lines
    permuted independently), and a choice without replacement never repeats."""
    table = mr.permutation(mr.key(3), np.tile(np.arange(4), (4000, 1)), axis=1, independent=True)
    assert (np.sort(table, axis=1) == np.arange(4)).all()
    for position in range(4):
        assert chi_square_p(np.bincount(table[:, position], minlength=4), [0.25] * 4) > P_MIN
    assert len({tuple(row) for row in table.tolist()}) == 24  # every permutation of 4 appears
    picks = mr.choice(mr.key(4), 50, (20,), replace=False)
    assert len(set(picks.tolist())) == 20
    weighted = mr.choice(mr.key(4), 6, (3,), replace=False, p=np.array([0.5, 0.5, 0, 0, 0.0, 1e-9]))
    assert sorted(weighted.tolist())[:2] == [0, 1] and len(set(weighted.tolist())) == 3


def test_vector_samplers_have_their_moments():
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    mean = np.array([1.0, -2.0, 0.5])
    x = mr.multivariate_normal(mr.key(8), mean, cov, (N,), "float64")
    assert x.shape == (N, 3)
    np.testing.assert_allclose(x.mean(axis=0), mean, atol=4 * np.sqrt(cov.diagonal() / N).max())
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.05)
    alpha = np.array([1.0, 2.0, 5.0])
    d = mr.dirichlet(mr.key(9), alpha, (N,))
    np.testing.assert_allclose(d.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(d.mean(axis=0), alpha / alpha.sum(), atol=0.01)
    q = mr.orthogonal(mr.key(10), 3, (4000,), "float64")
    np.testing.assert_allclose(q @ np.swapaxes(q, 1, 2), np.broadcast_to(np.eye(3), (4000, 3, 3)), atol=1e-12)
    # Haar: each entry's mean is 0 and its variance 1/n (a sign convention would bias the mean)
    np.testing.assert_allclose(q.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(q.var(axis=0), 1 / 3, atol=0.03)


def test_split_keys_and_streams_are_uncorrelated():
    a, b = mr.split(mr.key(0))
    x, y = mr.normal(a, (N,), "float64"), mr.normal(b, (N,), "float64")
    z = mr.normal(mr.fold_in(a, 1), (N,), "float64")
    for u, v in ((x, y), (x, z), (y, z)):
        assert abs(np.corrcoef(u, v)[0, 1]) < 4 / np.sqrt(N)
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 4 / np.sqrt(N)  # neighbouring counters
