"""How deep a run of the suite draws: the share of each property test's examples it runs.

A property test names its examples (``@settings(max_examples=N)``, or the profile's number);
a run draws :func:`share` of them (:func:`drawn_examples`), so that the whole suite fits CI's
time on two cores: the ``ci`` profile (``CI=true``, what ``.ci/run`` uses) draws two fifths,
``deep`` (the ``ci`` profile otherwise: derandomized) and ``dev`` all of them.
``MLC_EXAMPLE_SHARE`` sets the share for a run (a number in (0, 1]), ``MLC_FEWEST_EXAMPLES``
the fewest examples a test drawing a share keeps (:data:`FEWEST_EXAMPLES` by default). The op
suite on the emulator runs its child sessions at half a share below 1 and down to one example
a test (they repeat tests the main session runs on the CPU targets), at all of them in a run
that draws all. Suites run in a child process scale their own example counts by it too (the
Array API suite).

    HYPOTHESIS_PROFILE=deep ./run test    # every example the tests name, derandomized

>>> drawn_examples(8, 0.5), drawn_examples(5, 0.5), drawn_examples(2, 0.5), drawn_examples(8, 1.0)
(4, 3, 2, 8)
"""
from __future__ import annotations

import os

__all__ = ["PROFILE", "SHARES", "FEWEST_EXAMPLES", "share", "fewest", "drawn_examples", "draw_shares_of"]

#: The Hypothesis profile of this run (tests/conftest.py loads it).
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
#: profile -> the share of each test's examples it draws (1 where not listed)
SHARES = {"ci": 0.4}
#: A test naming this many examples or fewer draws them all (``MLC_FEWEST_EXAMPLES``: another floor).
FEWEST_EXAMPLES = 3


def share() -> float:
    """The share of each property test's examples this run draws."""
    given = os.environ.get("MLC_EXAMPLE_SHARE")
    if not given:
        return SHARES.get(PROFILE, 1.0)
    try:
        part = float(given)
    except ValueError:
        part = None
    if part is None or not 0 < part <= 1:
        raise ValueError(f"MLC_EXAMPLE_SHARE={given!r}: expected the share of each property test's "
                         "examples a run draws, a number in (0, 1] such as 0.4; unset it for the profile's")
    return part


def fewest() -> int:
    """The fewest examples a test drawing a share keeps: ``MLC_FEWEST_EXAMPLES``, by default
    :data:`FEWEST_EXAMPLES`."""
    given = os.environ.get("MLC_FEWEST_EXAMPLES")
    if not given:
        return FEWEST_EXAMPLES
    if not given.isdigit() or int(given) < 1:
        raise ValueError(f"MLC_FEWEST_EXAMPLES={given!r}: expected the fewest examples a property test "
                         "keeps, a whole number of at least 1 such as 3; unset it for the default")
    return int(given)


def drawn_examples(written: int, part: float | None = None, floor: int | None = None) -> int:
    """How many of a property test's ``written`` examples a run drawing ``part`` of them
    (by default :func:`share`) draws: at least ``floor`` (by default :func:`fewest`), and all
    of them where the test names no more."""
    part = share() if part is None else part
    floor = fewest() if floor is None else floor
    if written <= floor:
        return written
    return max(floor, round(written * part))


def draw_shares_of(items, part: float) -> None:
    """Give each property test among the collected pytest ``items`` ``part`` of its examples
    (:func:`drawn_examples`): its Hypothesis settings, which it reads when called, replaced."""
    from hypothesis import settings

    done = set()
    for item in items:
        obj = getattr(item, "obj", None)
        test = getattr(obj, "__func__", obj)  # (a method's function holds the settings)
        chosen = getattr(test, "_hypothesis_internal_use_settings", None)
        if chosen is None or id(test) in done:  # (a parametrized test: once)
            continue
        done.add(id(test))
        drawn = drawn_examples(chosen.max_examples, part)
        if drawn != chosen.max_examples:
            test._hypothesis_internal_use_settings = settings(chosen, max_examples=drawn)
