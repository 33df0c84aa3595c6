"""Every public primitive of Schedule documents itself: IR before, the call, IR after.

The examples are doctests (``--doctest-modules`` runs them too); here they are
also run directly, so a primitive whose docstring is missing, shows no change,
or has drifted from what the primitive does fails this file.
"""
import doctest
import inspect
import re

import pytest

from mlc.schedules import Schedule

# Public methods of Schedule that are not recorded primitives.
NOT_PRIMITIVES = {"copy"}

PRIMITIVES = sorted(name for name, value in inspect.getmembers(Schedule)
                    if not name.startswith("_") and callable(value) and name not in NOT_PRIMITIVES)


def missing_before_after(name: str, doc: str | None) -> str | None:
    """Why ``doc`` does not show ``sch.<name>(...)`` between two printing examples, or None."""
    examples = doctest.DocTestParser().get_examples(doc or "")
    if not examples:
        return f"Schedule.{name} has no >>> example"
    call = re.compile(rf"\bsch\.{name}\(")
    calls = [i for i, ex in enumerate(examples) if call.search(ex.source)]
    prints = [i for i, ex in enumerate(examples) if ex.source.startswith("print(") and ex.want]
    if not calls:
        return f"Schedule.{name}'s example never calls sch.{name}(...)"
    if not any(p < calls[0] for p in prints):
        return f"Schedule.{name}'s example prints nothing before the call"
    if not any(p > calls[0] for p in prints):
        return f"Schedule.{name}'s example prints nothing after the call"
    return None


def test_primitives_are_enumerated_and_recorded():
    assert {"get_block", "split", "compute_at", "tensorize", "sample_perfect_tile"} <= set(PRIMITIVES)
    unrecorded = [n for n in PRIMITIVES if not getattr(getattr(Schedule, n), "is_instruction", False)]
    assert unrecorded == [], (f"{unrecorded} are public methods of Schedule but not @instruction; "
                              "record them in the trace or add them to NOT_PRIMITIVES")


@pytest.mark.parametrize("name", PRIMITIVES)
def test_docstring_shows_before_call_and_after(name):
    why = missing_before_after(name, inspect.getdoc(getattr(Schedule, name)))
    assert why is None, why


@pytest.mark.parametrize("name", PRIMITIVES)
def test_docstring_example_runs(name):
    doc = inspect.getdoc(getattr(Schedule, name))
    test = doctest.DocTestParser().get_doctest(doc, {}, f"Schedule.{name}", None, 0)
    runner = doctest.DocTestRunner()
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)


@pytest.mark.parametrize("doc, why", [
    (None, "has no >>> example"),
    (">>> sch = 1\n", "never calls sch.split"),
    (">>> sch.split(i, factors=[2, 4])\n>>> print(sch)\nafter\n", "prints nothing before"),
    (">>> print(sch)\nbefore\n>>> sch.split(i, factors=[2, 4])\n", "prints nothing after"),
    (">>> print(sch)\nbefore\n>>> sch.split(i, factors=[2, 4])\n>>> print(sch)\n", "prints nothing after"),
])
def test_the_check_rejects_incomplete_examples(doc, why):
    assert why in missing_before_after("split", doc)
    good = ">>> print(sch)\nbefore\n>>> i0, i1 = sch.split(i, factors=[2, 4])\n>>> print(sch)\nafter\n"
    assert missing_before_after("split", good) is None
