"""The mutation list of tools/mutants.py stays applicable to the code it mutates.

Every mutant's original snippet must occur exactly once in its file (so the
tool mutates what the entry says), differ from its mutation, and name covering
tests that exist. When code moves, update the entry with it.
"""
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    spec = importlib.util.spec_from_file_location("mlc_tools_mutants", ROOT / "tools" / "mutants.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mlc_tools_mutants", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_mutant_applies_exactly_once():
    tool = _tool()
    mutants = tool.load()
    assert len(mutants) >= 60
    assert tool.problems(mutants, ROOT) == []


def test_problems_are_reported():
    tool = _tool()
    (first, *_) = tool.load()
    broken = [tool.Mutant("x", first.file, "no such snippet anywhere", "y", first.tests),
              tool.Mutant("x", "mlc/nope.py", "a", "b", ("tests/nope.py",))]
    found = tool.problems(broken, ROOT)
    assert any("occurs 0 times" in p for p in found)
    assert any("duplicate id" in p for p in found)
    assert any("no file mlc/nope.py" in p for p in found)


def test_scores_are_counted_per_package_and_marked_below_90_percent():
    tool = _tool()
    mk = lambda i, f: tool.Mutant(i, f, "a", "b", ("tests/x.py",))  # noqa: E731
    caught = [mk("a", "mlc/passes/tir/x.py"), mk("b", "mlc/passes/tir/y.py"), mk("c", "mlc/tracer/z.py")]
    survived = [mk("d", "mlc/tracer/z.py")]
    assert tool.scores(caught, survived) == {"mlc/passes/tir": (2, 2), "mlc/tracer": (1, 2)}
    table = tool.score_table(caught, survived).splitlines()
    assert table[0].split()[:4] == ["mlc/passes/tir", "2", "of", "2"] and "< 90%" not in table[0]
    assert table[1].split()[:5] == ["mlc/tracer", "1", "of", "2", "50.0%"] and table[1].endswith("< 90%")
