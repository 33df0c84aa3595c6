"""The pytest plugin of :mod:`mlc.testing` (opt-in).

Installing mlc registers it under the ``pytest11`` entry point, where it only
*registers* things: the Hypothesis profiles ``mlc-dev`` and ``mlc-ci``
(:mod:`mlc.testing.profiles`) and the options below. It changes nothing in a
run that does not ask for it:

- ``--hypothesis-profile=mlc-ci`` (Hypothesis's own option) loads a profile;
- ``--mlc-target=NAME`` makes ``check_against_numpy`` (and the ``mlc_target``
  fixture) run on target ``NAME`` instead of "llvm" and "reference", so the
  same property tests run against another backend.

Without the entry point (an editable install made before it existed), load it
with ``pytest -p mlc.testing.pytest_plugin``. Without Hypothesis the profiles
are not registered; ``--mlc-target`` still works.
"""
from __future__ import annotations

import pytest

from ..errors import MLCError

try:
    from .profiles import register_profiles
except ModuleNotFoundError:  # Hypothesis is optional
    register_profiles = None

_PREVIOUS_TARGETS = pytest.StashKey[tuple]()

if register_profiles is not None:
    register_profiles()  # at import, so --hypothesis-profile can name them


def pytest_addoption(parser):
    group = parser.getgroup("mlc", "mlc property tests")
    group.addoption("--mlc-target", action="store", default=None, metavar="NAME",
                    help="run mlc.testing's property checks on this mlc target (e.g. 'reference') "
                         "instead of 'llvm' and 'reference'")


def pytest_configure(config):
    target = config.getoption("--mlc-target")
    if target is None:
        return
    # deferred: keeps every pytest start fast (the checks load Hypothesis and the compiler)
    from .check import default_targets, set_default_targets
    config.stash[_PREVIOUS_TARGETS] = default_targets()
    try:
        set_default_targets((target,))
    except MLCError as err:
        raise pytest.UsageError(f"--mlc-target {target!r}: {err}") from None


def pytest_unconfigure(config):
    previous = config.stash.get(_PREVIOUS_TARGETS, None)
    if previous is not None:
        from .check import set_default_targets  # deferred: keeps every pytest start fast
        set_default_targets(previous)


@pytest.fixture
def mlc_target(request) -> str:
    """The target named by ``--mlc-target`` ("llvm" without it)."""
    return request.config.getoption("--mlc-target") or "llvm"
