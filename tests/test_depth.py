"""Each property test draws the run's share of the examples it names (tests/depth.py,
tests/conftest.py): two fifths under CI's profile, all of them under ``deep`` and ``dev``."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from tests.depth import FEWEST_EXAMPLES, drawn_examples, fewest, share

_drawn: list[int] = []


@settings(max_examples=8, deadline=None, database=None)
@given(st.integers(0, 1000))
def test_a_property_test_of_eight_examples(x):
    _drawn.append(x)


@settings(max_examples=2, deadline=None, database=None)
@given(st.integers(0, 1000))
def test_a_property_test_of_two_examples(x):
    _drawn.append(x)


@pytest.mark.parametrize("test, written", [(test_a_property_test_of_eight_examples, 8),
                                           (test_a_property_test_of_two_examples, 2)])
def test_a_collected_property_test_draws_the_runs_share_of_its_examples(test, written):
    assert test._hypothesis_internal_use_settings.max_examples == drawn_examples(written)
    _drawn.clear()
    test()  # as pytest calls it: the settings the run gave it
    assert len(_drawn) == drawn_examples(written)


def test_the_share_counts_examples_down_to_the_fewest_and_leaves_fewer_alone():
    assert [drawn_examples(n, 0.5) for n in (1, 3, 4, 6, 7, 8, 100)] == [1, 3, 3, 3, 4, 4, 50]
    assert [drawn_examples(n, 0.25) for n in (2, 8, 100)] == [2, 3, 25]
    assert all(drawn_examples(n, 1.0) == n for n in range(1, 50))
    assert [drawn_examples(n, 0.2, floor=1) for n in (1, 3, 6, 8, 15)] == [1, 1, 1, 2, 3]
    assert FEWEST_EXAMPLES == 3 and 0 < share() <= 1


def test_the_fewest_examples_follow_the_environment(monkeypatch):
    monkeypatch.delenv("MLC_FEWEST_EXAMPLES", raising=False)
    assert fewest() == FEWEST_EXAMPLES
    monkeypatch.setenv("MLC_FEWEST_EXAMPLES", "1")
    assert fewest() == 1 and drawn_examples(3, 0.2) == 1
    for given in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("MLC_FEWEST_EXAMPLES", given)
        with pytest.raises(ValueError, match=r"MLC_FEWEST_EXAMPLES=.*a whole number of at least 1"):
            fewest()


def test_the_share_follows_the_profile_and_the_environment(monkeypatch):
    import tests.depth as depth
    monkeypatch.delenv("MLC_EXAMPLE_SHARE", raising=False)
    for profile, expected in (("ci", 0.4), ("deep", 1.0), ("dev", 1.0)):
        monkeypatch.setattr(depth, "PROFILE", profile)
        assert depth.share() == expected
    monkeypatch.setenv("MLC_EXAMPLE_SHARE", "0.25")
    assert depth.share() == 0.25


@pytest.mark.parametrize("given", ["0", "1.5", "-0.4", "half"])
def test_a_share_outside_zero_to_one_is_refused(monkeypatch, given):
    monkeypatch.setenv("MLC_EXAMPLE_SHARE", given)
    with pytest.raises(ValueError, match=r"MLC_EXAMPLE_SHARE=.*a number in \(0, 1\]"):
        share()
