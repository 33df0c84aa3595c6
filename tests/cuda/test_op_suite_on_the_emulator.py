"""The whole op suite (``tests/ops``) on the GPU emulator: every op's differential tests against
NumPy, run on ``target="cuda-emulator"`` (the kernels a GPU build makes, launched thread by
thread on the CPU) as they run on "llvm" and "reference" in the main session.

It is one test running pytest on ``tests/ops --mlc-target=cuda-emulator`` in a child process,
so the default targets of this session are left as they are; a failure prints the child's
summary.
"""
import pathlib
import sys

import pytest

TESTS = pathlib.Path(__file__).resolve().parents[1]


def test_every_op_matches_numpy_on_the_gpu_emulator(pytester: pytest.Pytester):
    pytester.chdir()
    result = pytester.run(sys.executable, "-m", "pytest", str(TESTS / "ops"), "--mlc-target=cuda-emulator",
                          "-q", "-p", "no:cacheprovider", "-x", "--rootdir", str(TESTS.parent),
                          timeout=1200)
    summary = result.stdout.lines[-1] if result.stdout.lines else ""
    assert result.ret == 0, "\n".join(result.stdout.lines[-40:])
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
