"""Tests marked ``cores`` run alone when the suite runs on several workers (tests/conftest.py).

Three worker processes take their turns through the run's lock files: a shared test
under way, then a ``cores`` test, then another shared test that came while it waited.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

_WORKER = """
import sys, time
from tests.conftest import _turn
role, log = sys.argv[1], sys.argv[2]
with open(log, "a") as f:
    f.write(role + " asking\\n")
with _turn(role == "alone"):
    with open(log, "a") as f:
        f.write(role + " in\\n")
    time.sleep(1.0)
    with open(log, "a") as f:
        f.write(role + " out\\n")
"""


def test_a_cores_test_waits_for_the_tests_under_way_and_holds_off_new_ones(tmp_path):
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTEST_XDIST_WORKER="gw0", PYTEST_XDIST_TESTRUNUID="turns", TMPDIR=str(tmp_path),
               PYTHONPATH=str(root))
    log = tmp_path / "log"
    log.touch()

    def start(role: str, once: str):  # once `once` is in the log (and a moment more)
        deadline = time.monotonic() + 60
        while once not in log.read_text().split("\n") and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        return subprocess.Popen([sys.executable, "-c", _WORKER, role, str(log)], env=env, cwd=root)

    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, "first", str(log)], env=env, cwd=root)]
    procs.append(start("alone", once="first in"))      # a shared test under way
    procs.append(start("after", once="alone asking"))  # a shared test that comes while it waits
    for p in procs:
        assert p.wait(timeout=60) == 0
    turns = [line for line in log.read_text().split("\n") if line.endswith((" in", " out"))]
    assert turns == ["first in", "first out", "alone in", "alone out", "after in", "after out"]


def test_without_workers_nothing_is_locked(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.update(TMPDIR=str(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    out = subprocess.run([sys.executable, "-c", _WORKER, "alone", str(tmp_path / "log")], env=env, timeout=60)
    assert out.returncode == 0
    assert not list(tmp_path.glob("mlc-tests-*"))
