"""Hypothesis profiles: "dev" for quick local runs, "ci" (the default under CI=true) runs more.

They are mlc.testing's profiles (the plugin, loaded here, also offers them as
"mlc-dev"/"mlc-ci" and adds ``--mlc-target``).
"""
import os

from hypothesis import settings

from mlc.testing.profiles import register_profiles

pytest_plugins = ("mlc.testing.pytest_plugin", "pytester")

register_profiles(prefix="")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
