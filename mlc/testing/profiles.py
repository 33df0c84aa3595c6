"""mlc's Hypothesis profiles: ``dev`` (quick local runs) and ``ci`` (more examples, derandomized).

:func:`register_profiles` registers them as ``mlc-dev`` and ``mlc-ci`` (the pytest
plugin does, so other projects' profiles keep their names) or under other names.
"""
from __future__ import annotations

from ._hypothesis import hypothesis

__all__ = ["PROFILES", "register_profiles"]

#: profile name -> Hypothesis settings
PROFILES = {
    "dev": dict(max_examples=30, deadline=None),
    "ci": dict(max_examples=100, deadline=None, derandomize=True, print_blob=True,
               suppress_health_check=[hypothesis.HealthCheck.too_slow,
                                      hypothesis.HealthCheck.data_too_large]),
}


def register_profiles(prefix: str = "mlc-") -> tuple[str, ...]:
    """Register :data:`PROFILES` as ``prefix + name``; returns the names registered."""
    for name, options in PROFILES.items():
        hypothesis.settings.register_profile(prefix + name, **options)
    return tuple(prefix + name for name in PROFILES)
