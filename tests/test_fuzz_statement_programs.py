"""Random NumPy function bodies under the jit equal NumPy's, results and written arguments
(mlc.testing.fuzz_statements): in-place updates, slices and views, masked writes, out=,
element and window loops, ifs and whiles on traced values. A small seeded run for CI;
``tools/fuzz.py --statements`` runs as many as asked, with any seed."""
import collections
import random

import pytest

from mlc.testing import fuzz_statements
from mlc.testing.fuzz_statements import SKIPPED, program, run_program
from tests.depth import drawn_examples

#: (seed, programs) per target: a few seconds of CPU on a 2-core host (a run draws its share of
#: the programs, as of a property test's examples: tests/depth.py).
RUNS = {"llvm": (0, 40), "cuda-emulator": (1, 15)}


@pytest.mark.parametrize("target", sorted(RUNS))
def test_random_statement_programs_equal_numpys_results_and_writes(target):
    seed, count = RUNS[target]
    count = drawn_examples(count)
    rng = random.Random(seed)
    outcomes, mismatches = collections.Counter(), []
    for _ in range(count):
        result = run_program(program(rng), target, rng)
        outcomes["skipped" if result == SKIPPED else "ok" if result is None else "mismatch"] += 1
        if result not in (None, SKIPPED):
            mismatches.append(str(result))
    assert not mismatches, "\n".join(mismatches)
    assert outcomes["ok"] >= 0.6 * count, outcomes  # most programs ran


def test_the_programs_hold_the_statements_they_are_for():
    rng = random.Random(0)
    text = "".join(program(rng).source for _ in range(40))
    for construct in ("if ", "for i in range", "while k <", "v = ", "out=", ".sort()", "] += ", "m[", "break",
                      "continue", "    for j in range(i):", "while a[0] <", "np.random.default_rng(", ".astype(np.int8)"):
        assert construct in text, construct


def test_a_lost_write_is_reported_with_the_program_and_its_inputs(monkeypatch):
    """The comparison can fail: a jit that leaves the caller's arrays unwritten is a mismatch."""
    prog = fuzz_statements.StatementProgram("def f(a, b, m):\n    a += 1\n    return a + 0\n",
                                            ("float64",) * 3, 3, (1, 1))
    real_jit = fuzz_statements.jit

    def copying(fn, **kw):
        compiled = real_jit(fn, **kw)
        return lambda **arrays: compiled(**{k: v.copy() for k, v in arrays.items()})
    monkeypatch.setattr(fuzz_statements, "jit", copying)
    result = run_program(prog, "llvm", random.Random(0))
    assert result not in (None, SKIPPED)
    assert "a differs" in str(result) and prog.source in str(result)
    monkeypatch.undo()
    assert run_program(prog, "llvm", random.Random(0)) is None
