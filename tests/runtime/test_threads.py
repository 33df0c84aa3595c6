"""``mlc.set_num_threads`` / ``mlc.get_num_threads``: the threads the calls made from now on use."""
import pytest

import mlc
from mlc.config import config, override
from mlc.runtime import threads


@pytest.fixture(autouse=True)
def _all_threads_again():
    yield
    threads.set_num_threads(config().num_threads)


def test_by_default_every_configured_thread():
    assert mlc.get_num_threads() == config().num_threads
    with override(num_threads=3):
        assert mlc.get_num_threads() == 3


def test_a_count_set_is_what_get_returns_and_at_most_the_configured_one():
    with override(num_threads=4):
        mlc.set_num_threads(2)
        assert mlc.get_num_threads() == 2
        with override(num_threads=1):  # fewer configured than set: the configured count
            assert mlc.get_num_threads() == 1
        mlc.set_num_threads(4)
        assert mlc.get_num_threads() == 4


@pytest.mark.parametrize("n, error, words", [
    (0, ValueError, "between 1 and 4 .*got 0; to allow more threads, set MLC_NUM_THREADS"),
    (-2, ValueError, "got -2"),
    (5, ValueError, "between 1 and 4 .*got 5"),
    (1.0, TypeError, "must be an int, got float 1.0"),
    (True, TypeError, "got bool True"),
    ("2", TypeError, "got str '2'"),
    (None, TypeError, "got NoneType None"),
])
def test_a_count_that_is_not_a_thread_count_is_refused_and_changes_nothing(n, error, words):
    with override(num_threads=4):
        mlc.set_num_threads(3)
        with pytest.raises(error, match=r"mlc\.set_num_threads: n .*" + words):
            mlc.set_num_threads(n)
        assert mlc.get_num_threads() == 3


def test_numpy_integers_are_counts_too():
    np = pytest.importorskip("numpy")
    with override(num_threads=2):
        mlc.set_num_threads(np.int64(1))
        assert mlc.get_num_threads() == 1 and type(mlc.get_num_threads()) is int


def test_listeners_hear_of_each_change(monkeypatch):
    heard = []
    monkeypatch.setattr(threads, "_listeners", [lambda: heard.append(mlc.get_num_threads())])
    with override(num_threads=2):
        mlc.set_num_threads(1)
        mlc.set_num_threads(2)
    assert heard == [1, 2]


def test_a_build_under_an_override_of_the_thread_count_leaves_nothing_when_it_ends():
    """A build stores the configured thread count where calls of every built function read it;
    one under ``override(num_threads=1)`` stored 1, and the functions built before ran their
    parallel loops on one thread after the ``with`` ended, until the next build."""
    import numpy as np

    from mlc.backends.llvm.symbols import PARALLEL_STATE
    f = mlc.jit(lambda a: a * 2, tiered=False)
    f(np.ones(8))
    assert PARALLEL_STATE.num_threads == mlc.get_num_threads()
    with override(num_threads=1):
        g = mlc.jit(lambda a: a * 3, tiered=False)
        g(np.ones(8))
        assert PARALLEL_STATE.num_threads == 1
    assert PARALLEL_STATE.num_threads == mlc.get_num_threads() == config().num_threads
    f(np.ones(8))
    assert PARALLEL_STATE.num_threads == config().num_threads
