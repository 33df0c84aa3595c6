"""The configuration read from the environment."""
import json
import os
import subprocess
import sys

import pytest


def _config_in_a_fresh_process(**env) -> dict:
    code = ("import json; from mlc.config import config; c = config(); "
            "print(json.dumps({'target': c.target, 'cache_dir': c.cache_dir}))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("value, target", [("", "llvm"), ("llvm -mcpu=haswell", "llvm -mcpu=haswell"),
                                           ("reference", "reference")])
def test_mlc_target_set_empty_is_the_default(value, target):
    """``MLC_TARGET= python ...`` (set, but empty) means the default target, as an unset one."""
    assert _config_in_a_fresh_process(MLC_TARGET=value)["target"] == target
