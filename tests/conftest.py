"""Hypothesis profiles, and tests that need the cores to themselves.

``MLC_TIERED`` is off unless the environment sets it (see below).

Profiles: "dev" for quick local runs, "ci" (the default under CI=true) runs more,
derandomized, and "deep" as "ci". They are mlc.testing's profiles (the plugin, loaded
here, also offers them as "mlc-dev"/"mlc-ci" and adds ``--mlc-target``). Each property
test draws the run's share of the examples it names (tests/depth.py): "ci" two fifths,
"deep" and "dev" all.

``./run test`` runs the suite in one pytest-xdist worker per core. A test marked
``cores`` (the parallel runtime's tests: which thread ran which chunk, whether a
worker kept off the launcher's CPU) measures what two threads do on two idle
cores, which another worker's test running beside it takes away: such a test runs
alone. The workers share two lock files: every test passes a turnstile and holds
the room shared; a ``cores`` test holds the turnstile while it waits for the room
and then holds the room alone, so it waits for the tests under way to end, and no
new one starts until it is done. In one process nothing is locked.
"""
import fcntl
import gc
import os
import tempfile
from contextlib import contextmanager

# A jitted function's first call is served by a quick build only in the tests that ask for
# it (mlc.jit(tiered=True): tests/tracer/test_tiering.py); elsewhere every call runs the
# optimised program, so that tests comparing a call with Lowered.compile() or reading the
# generated code see the same build every time.
os.environ.setdefault("MLC_TIERED", "0")

import pytest
from hypothesis import settings

from mlc.testing.profiles import register_profiles

from tests.depth import PROFILE, draw_shares_of, fewest, share

pytest_plugins = ("mlc.testing.pytest_plugin", "pytester")

register_profiles(prefix="")
settings.register_profile("deep", settings.get_profile("ci"))
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(config, items):
    """Each collected property test draws this run's share of its examples (tests/depth.py)."""
    try:
        part = share()
        fewest()  # (refused here, as a usage error, rather than by the first test that draws)
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    if part < 1.0:
        draw_shares_of(items, part)


_locks: dict[str, int] = {}


def _lock_file(name: str) -> int:
    """This worker's descriptor of the run's lock file ``name`` (shared by the run's workers)."""
    if name not in _locks:
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "run")
        _locks[name] = os.open(os.path.join(tempfile.gettempdir(), f"mlc-tests-{run}.{name}"),
                               os.O_RDWR | os.O_CREAT, 0o600)
    return _locks[name]


@contextmanager
def _turn(alone: bool):
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    turnstile, room = _lock_file("turnstile"), _lock_file("room")
    fcntl.flock(turnstile, fcntl.LOCK_EX)
    if not alone:
        fcntl.flock(turnstile, fcntl.LOCK_UN)
    fcntl.flock(room, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(room, fcntl.LOCK_UN)
        if alone:
            fcntl.flock(turnstile, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with _turn(item.get_closest_marker("cores") is not None):
        yield


def pytest_collection_finish(session):
    """What collection made lives to the end of the run (the modules, the test items, the
    strategies): moved out of the collector's sight, so that its full collections during the
    run walk only what the tests make."""
    gc.collect()
    gc.freeze()
