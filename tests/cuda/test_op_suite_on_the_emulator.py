"""The whole op suite (``tests/ops``) on the GPU emulator: every op's differential tests against
NumPy, run on ``target="cuda-emulator"`` (the kernels a GPU build makes, launched thread by
thread on the CPU) as they run on "llvm" and "reference" in the main session.

It is one test running pytest on ``tests/ops --mlc-target=cuda-emulator`` in child processes,
so the default targets of this session are left as they are: two children, each with half of
the suite's files (balanced by size and :data:`EMULATOR_WEIGHT`), run side by side while this
session waits. A failure prints the failing child's summary. The files whose tests name their
targets themselves (:data:`SAME_ON_EVERY_TARGET`) would only repeat the main session's run.
"""
import os
import pathlib
import subprocess
import sys

import pytest

TESTS = pathlib.Path(__file__).resolve().parents[1]
CHILDREN = 2


#: Files whose tests cost the emulator more than their size says, and by how much: the sort
#: kernels run rows through serial per-thread loops (counters cleared, prefix sums), which the
#: emulator steps through statement by statement; test_sorting.py takes about as long as all
#: the other files together.
EMULATOR_WEIGHT = {"test_sorting.py": 8}

#: Files whose tests never read the session's default targets (each names its targets, or runs
#: only on the CPU): under ``--mlc-target=cuda-emulator`` they would run exactly as they run in
#: the main session, so the children leave them out.
SAME_ON_EVERY_TARGET = {"test_rows.py", "test_sum_accuracy.py", "test_radix_sort.py", "test_integer_power.py",
                        "test_vector_sort.py"}

#: What a file that follows the session's default targets calls (mlc.testing's or the harness's).
_READS_DEFAULT_TARGETS = ("TARGETS", "default_targets", "check_op", "run_op")


def _emulated_files():
    return [f for f in sorted((TESTS / "ops").glob("test_*.py")) if f.name not in SAME_ON_EVERY_TARGET]


def _cost(f) -> int:
    return f.stat().st_size * EMULATOR_WEIGHT.get(f.name, 1)


def _groups(files, count):
    """``files`` split into ``count`` groups of about equal total cost (largest first): their
    size, weighted by :data:`EMULATOR_WEIGHT`."""
    groups = [[] for _ in range(count)]
    costs = [0] * count
    for f in sorted(files, key=_cost, reverse=True):
        lightest = costs.index(min(costs))
        groups[lightest].append(str(f))
        costs[lightest] += _cost(f)
    return [g for g in groups if g]


def test_the_files_left_out_never_read_the_default_targets():
    for name in SAME_ON_EVERY_TARGET:
        text = (TESTS / "ops" / name).read_text()
        assert not any(word in text for word in _READS_DEFAULT_TARGETS), name


def test_the_op_files_split_into_balanced_groups():
    files = _emulated_files()
    groups = _groups(files, CHILDREN)
    assert sorted(f for g in groups for f in g) == [str(f) for f in files]  # each file once
    assert len(groups) == CHILDREN


def test_every_op_matches_numpy_on_the_gpu_emulator(pytester: pytest.Pytester):
    pytester.chdir()
    children = []
    for group in _groups(_emulated_files(), CHILDREN):
        children.append(subprocess.Popen(
            [sys.executable, "-m", "pytest", *group, "--mlc-target=cuda-emulator", "-q", "-p", "no:cacheprovider",
             "-x", "--rootdir", str(TESTS.parent)],
            cwd=str(pytester.path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy()))
    for child in children:
        try:
            out, _ = child.communicate(timeout=1200)
        except subprocess.TimeoutExpired:
            for c in children:
                c.kill()
            pytest.fail("the op suite on the emulator ran past 20 minutes")
        lines = out.strip().splitlines()
        summary = lines[-1] if lines else ""
        assert child.returncode == 0, "\n".join(lines[-40:])
        assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
