"""How deep a run of the suite draws: the share of each property test's examples it runs.

A property test names its examples (``@settings(max_examples=N)``, or the profile's number);
a run draws :func:`share` of them (:func:`drawn_examples`), so that the whole suite fits CI's
time on two cores: the ``ci`` profile (``CI=true``, what ``.ci/run`` uses) draws two fifths,
``deep`` (the ``ci`` profile otherwise: derandomized) and ``dev`` all of them.
``MLC_EXAMPLE_SHARE`` sets the share for a run (the op suite on the emulator runs its child
sessions at half the share: they repeat tests the main session runs on the CPU targets). Suites
run in a child process scale their own example counts by it too (the Array API suite).

    HYPOTHESIS_PROFILE=deep ./run test    # every example the tests name, derandomized

>>> drawn_examples(8, 0.5), drawn_examples(5, 0.5), drawn_examples(2, 0.5), drawn_examples(8, 1.0)
(4, 3, 2, 8)
"""
from __future__ import annotations

import os

__all__ = ["PROFILE", "SHARES", "FEWEST_EXAMPLES", "share", "drawn_examples"]

#: The Hypothesis profile of this run (tests/conftest.py loads it).
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
#: profile -> the share of each test's examples it draws (1 where not listed)
SHARES = {"ci": 0.4}
#: A test naming this many examples or fewer draws them all.
FEWEST_EXAMPLES = 3


def share() -> float:
    """The share of each property test's examples this run draws."""
    given = os.environ.get("MLC_EXAMPLE_SHARE")
    return float(given) if given else SHARES.get(PROFILE, 1.0)


def drawn_examples(written: int, part: float | None = None) -> int:
    """How many of a property test's ``written`` examples a run drawing ``part`` of them
    (by default :func:`share`) draws: at least :data:`FEWEST_EXAMPLES`, and all of them
    where the test names no more."""
    part = share() if part is None else part
    if written <= FEWEST_EXAMPLES:
        return written
    return max(FEWEST_EXAMPLES, round(written * part))
