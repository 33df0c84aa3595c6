"""The pytest plugin is opt-in: it registers profiles and --mlc-target and changes nothing
unless asked; ``import mlc`` stays free of Hypothesis; a missing Hypothesis is a clear error."""
import subprocess
import sys

import pytest

import mlc.testing as mt
import mlc.testing.check  # noqa: F401  (loaded before pytester snapshots sys.modules)

PROBE = '''
import hypothesis
import mlc.testing as mt

def test_probe(mlc_target):
    print("targets", mt.default_targets(), "fixture", mlc_target,
          "max_examples", hypothesis.settings.default.max_examples)
'''


def _run(pytester, *args):
    pytester.makepyfile(test_probe=PROBE)
    result = pytester.runpytest_inprocess("-p", "mlc.testing.pytest_plugin", "-s", "-q", *args)
    result.assert_outcomes(passed=1)
    return result


def test_without_options_the_plugin_changes_nothing(pytester):
    before = mt.default_targets()
    _run(pytester).stdout.fnmatch_lines(["targets ('llvm', 'reference') fixture llvm *"])
    assert mt.default_targets() == before


def test_mlc_target_reruns_the_checks_on_another_target(pytester):
    _run(pytester, "--mlc-target=reference").stdout.fnmatch_lines(
        ["targets ('reference',) fixture reference *"])
    assert mt.default_targets() == ("llvm", "reference")  # restored when the run ends


def test_the_ci_profile_can_be_loaded_by_name(pytester):
    _run(pytester, "--hypothesis-profile=mlc-ci").stdout.fnmatch_lines(["* max_examples 100"])


def test_an_unknown_target_is_a_usage_error(pytester):
    pytester.makepyfile(test_probe=PROBE)
    result = pytester.runpytest_inprocess("-p", "mlc.testing.pytest_plugin", "--mlc-target=tpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mlc-target 'tpu': unknown target 'tpu'*"])


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_mlc_does_not_import_hypothesis_and_testing_loads_on_use():
    out = _python("import sys, mlc, mlc.testing as mt\n"
                  "mt.assert_close([1.0], [1.0])\n"
                  "print('hypothesis' in sys.modules, 'mlc.tracer' in sys.modules, mlc.testing is mt)")
    assert out.stdout.split() == ["False", "False", "True"], out.stderr


def test_without_hypothesis_strategies_say_how_to_install_it():
    out = _python("import sys; sys.modules['hypothesis'] = None\n"
                  "import mlc.testing as mt\n"
                  "mt.assert_close([1.0], [1.0])\n"
                  "mt.arrays('float32')")
    assert "mlc.testing's strategies and check_against_numpy need Hypothesis" in out.stderr
    assert "pip install 'mlc[testing]'" in out.stderr
