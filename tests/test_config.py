"""The configuration read from the environment."""
import json
import os
import re
import subprocess
import sys

import pytest

from mlc import ConfigError, Target
from mlc.config import MAX_THREADS, Config, _from_environment, override, usable_cores


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


def _read(monkeypatch, **env) -> Config:
    """The configuration ``env`` makes (MLC_* variables set to it, the others unset), read
    afresh (not the process's cached one)."""
    for name in ("MLC_CACHE_DIR", "MLC_NUM_THREADS", "MLC_TARGET", "MLC_DEBUG", "MLC_CACHE_SIZE", "MLC_JIT_CACHE_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return _from_environment.__wrapped__()


@pytest.mark.parametrize("value, threads", [("1", 1), (" 3 ", 3), (str(MAX_THREADS), MAX_THREADS), ("", None)])
def test_mlc_num_threads_from_1_to_max_threads(monkeypatch, value, threads):
    assert _read(monkeypatch, MLC_NUM_THREADS=value).num_threads == (threads or min(usable_cores(), MAX_THREADS))


@pytest.mark.parametrize("value", ["0", "-3", str(MAX_THREADS + 1), "16384", "40000", "100000", "two", "1.5", "0x10"])
def test_mlc_num_threads_out_of_range_or_not_an_integer_is_refused(monkeypatch, value):
    """16,384 threads overflowed a thread's stack of 512 KiB and 100,000 the main thread's
    (each launch kept 64 bytes a thread there); 40,000 made libgomp abort; 0 and negative
    counts were taken as 1."""
    with pytest.raises(ConfigError, match=rf"MLC_NUM_THREADS='{re.escape(value)}' .* integer from 1 to {MAX_THREADS}"):
        _read(monkeypatch, MLC_NUM_THREADS=value)


@pytest.mark.parametrize("value, debug", [("", False), ("0", False), ("false", False), ("No", False), ("off", False),
                                          ("1", True), ("true", True), ("YES", True), (" on ", True)])
def test_mlc_debug_takes_yes_and_no(monkeypatch, value, debug):
    assert _read(monkeypatch, MLC_DEBUG=value).debug is debug


@pytest.mark.parametrize("value", ["2", "verbose", "enabled"])
def test_mlc_debug_that_is_not_yes_or_no_is_refused(monkeypatch, value):
    with pytest.raises(ConfigError, match=f"MLC_DEBUG='{value}' is not a yes/no value: give 1, true"):
        _read(monkeypatch, MLC_DEBUG=value)


def test_mlc_cache_dir_is_the_default_unset_off_empty_and_absolute(monkeypatch, tmp_path):
    assert _read(monkeypatch).cache_dir == os.path.join(os.path.expanduser("~"), ".cache", "mlc")
    assert _read(monkeypatch, MLC_CACHE_DIR="").cache_dir == ""
    assert _read(monkeypatch, MLC_CACHE_DIR="~/c").cache_dir == os.path.join(os.path.expanduser("~"), "c")
    monkeypatch.chdir(tmp_path)
    assert _read(monkeypatch, MLC_CACHE_DIR="rel").cache_dir == str(tmp_path / "rel")


@pytest.mark.parametrize("value, words", [("foo", "unknown target 'foo'"), ("llvm -mcpu", "unknown target option")])
def test_a_bad_mlc_target_is_refused_naming_the_variable(value, words):
    with override(target=value), pytest.raises(ConfigError, match=f"MLC_TARGET='{value}' is not a target .*{words}"):
        Target.from_str(None)


def test_a_process_asking_for_100000_threads_stops_with_a_config_error():
    """The repro: the first parallel call of such a process crashed (SIGSEGV)."""
    code = "import numpy as np, mlc; print(mlc.jit(lambda x: x * 2)(np.ones(1 << 16, 'float32')).sum())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "MLC_NUM_THREADS": "100000"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert "mlc.errors.ConfigError: MLC_NUM_THREADS='100000'" in out.stderr
