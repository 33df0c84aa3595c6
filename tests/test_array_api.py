"""The Python Array API conformance suite (data-apis/array-api-tests) against ``mlc.numpy``.

The suite is not part of the project: it is read from ``../shared/array-api-tests``
beside the repository (or from ``$MLC_ARRAY_API_TESTS``) and run in a subprocess with
``ARRAY_API_TESTS_MODULE=mlc.numpy``, ``ARRAY_API_TESTS_VERSION=2024.12``, the fft
extension off (the linalg extension is on: ``mlc.numpy.linalg`` has all of it, for real and
complex dtypes), ``--max-examples`` :data:`MAX_EXAMPLES` (the run's share of them:
tests/depth.py) and derandomized examples, so a run is reproducible (the same examples each time) and takes a few minutes on two
cores. Complex dtypes are on, as the standard has them.

``tests/array_api_skips.txt`` lists the suite's tests that are not run, each group with
its reason: first what the standard leaves to the implementation, then where mlc.numpy
gives NumPy's result (its differential oracle) and the standard asks for another, then,
separately, what mlc.numpy does not implement yet. Every other test must pass; the test
prints the pass count.

Without the suite (or without its ``ndindex`` and ``pytest-json-report`` dependencies,
installed by the ``test`` extra) the test fails and says so; set
``MLC_SKIP_ARRAY_API_SUITE=1`` to skip it on purpose.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.depth import drawn_examples

ROOT = pathlib.Path(__file__).resolve().parents[1]
SKIPS = pathlib.Path(__file__).with_name("array_api_skips.txt")

#: Hypothesis examples per test (derandomized: the same ones each run). Each new shape and
#: dtype compiles a kernel; at 10 the suite takes a few minutes on two busy cores with an empty
#: compile cache.
MAX_EXAMPLES = 10
TIMEOUT_S = 600


def _suite() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("MLC_ARRAY_API_TESTS", ROOT.parent / "shared" / "array-api-tests"))
    return path


def _missing_requirements() -> list[str]:
    missing = []
    for module in ("ndindex", "pytest_jsonreport", "hypothesis"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    return missing


def _failures(report: dict) -> tuple[list[str], int]:
    """(ids of tests that failed or errored, number passed) from a pytest-json-report report."""
    failed, passed = [], 0
    for test in report.get("tests", []):
        if test["outcome"] == "passed":
            passed += 1
        elif test["outcome"] in ("failed", "error"):
            failed.append(test["nodeid"])
    for collector in report.get("collectors", []):
        if collector.get("outcome") == "failed":
            failed.append(f"collecting {collector.get('nodeid')}")
    return failed, passed


def test_skip_list_gives_a_reason_for_every_entry():
    """Each entry sits under a ``# reason`` comment, in one of the two labelled sections."""
    sections, reason = [], False
    for line in SKIPS.read_text().splitlines():
        if line.startswith("## "):
            sections.append(line)
            reason = False
        elif line.startswith("#"):
            reason = True
        elif line.strip():
            assert line.startswith("array_api_tests/"), f"array_api_skips.txt: not a test id: {line!r}"
            assert sections and reason, f"array_api_skips.txt: {line!r} has no reason above it"
        else:
            reason = False
    assert [s.split(":")[0] for s in sections] == ["## Left to the implementation",
                                                   "## NumPy's results where the standard differs",
                                                   "## Not implemented yet"]


def test_array_api_conformance(tmp_path):
    if os.environ.get("MLC_SKIP_ARRAY_API_SUITE") == "1":
        pytest.skip("MLC_SKIP_ARRAY_API_SUITE=1: the Array API conformance suite is skipped on request")
    suite = _suite()
    if not (suite / "array_api_tests").is_dir():
        pytest.fail(f"the Array API conformance suite is not at {suite}: put a copy of "
                    "data-apis/array-api-tests there (the checkout's ../shared/array-api-tests), point "
                    "MLC_ARRAY_API_TESTS at one, or set MLC_SKIP_ARRAY_API_SUITE=1 to skip this test")
    missing = _missing_requirements()
    if missing:
        pytest.fail(f"the Array API conformance suite needs {', '.join(missing)}: install the test "
                    "extra (pip install -e '.[test]') or set MLC_SKIP_ARRAY_API_SUITE=1")
    report_path = tmp_path / "report.json"
    drawn = drawn_examples(MAX_EXAMPLES)
    env = dict(os.environ, ARRAY_API_TESTS_MODULE="mlc.numpy", ARRAY_API_TESTS_VERSION="2024.12",
               PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "pytest", str(suite / "array_api_tests"), "-p", "no:cacheprovider",
               "-q", "--tb=line", "-o", "addopts=", "--max-examples", str(drawn), "--derandomize",
               "--disable-deadline", "--disable-extension", "fft", "--skips-file", str(SKIPS),
               "--json-report", f"--json-report-file={report_path}"]
    # cwd: Hypothesis writes its example database there, not into the suite's folder
    try:
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the Array API conformance suite ran past {TIMEOUT_S} s with --max-examples "
                    f"{drawn}")
    if not report_path.exists():
        pytest.fail(f"the Array API conformance suite did not run (exit {run.returncode}):\n"
                    f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    report = json.loads(report_path.read_text())
    failed, passed = _failures(report)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(report.get("summary", {}).items()) if k != "collected")
    print(f"Array API conformance (mlc.numpy, 2024.12, linalg on, fft off, "
          f"--max-examples {drawn}): {passed} passed; {summary}")
    assert not failed, (f"{len(failed)} Array API conformance test(s) failed that "
                        "tests/array_api_skips.txt does not list (fix them, or list them there with "
                        "a reason):\n" + "\n".join(failed) + "\n" + run.stdout[-6000:])
    assert passed > 0, run.stdout[-3000:]
