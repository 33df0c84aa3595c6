"""Targets: CPU and feature names are checked against LLVM's before LLVM sees them.

A feature without its sign makes LLVM abort the process, ``-64bit-mode``
makes its code generator abort, and an unknown CPU makes it print a warning
per subtarget and fall back to generic code. Each is a typed error here, in
this process (an abort would take the test run down with it), naming close
matches; nothing is printed. The vector width a target gets is LLVM's own
answer for its CPU and features.
"""
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.llvm import cpus as llvm_cpus
from mlc.backends.llvm import compile_sources
from mlc.backends.llvm.cpus import REFUSED_FLAGS, known_cpus, known_features
from mlc.backends.llvm.cpus import host_cpu
from mlc.target import Target
from mlc.errors import MLCError
from tests.targets import AVX2, AVX512

REPO = pathlib.Path(__file__).resolve().parents[2]  # subprocesses import this checkout's mlc


def elementwise_module():
    A = te.placeholder((64,), "float32", "A")
    return mlc.IRModule({"f": te.create_prim_func([A, te.compute((64,), lambda i: A[i] * 2, "B")])})


@pytest.mark.parametrize("spec, message", [
    ("llvm -mattr=avx2", r"'avx2' in -mattr has no sign: write \+avx2"),
    ("llvm -mattr=+avx2,fma", r"'fma' in -mattr has no sign"),
    ("llvm -mattr=-64bit-mode", r"'-64bit-mode' is not a CPU feature but the mode"),
    ("llvm -mattr=+32bit-mode", r"'\+32bit-mode' is not a CPU feature"),
    ("llvm -mattr=-64bit", r"'-64bit' turns off the 64-bit instructions"),
    ("llvm -mattr=+avx2,-sse", r"'-sse' turns off SSE"),
    ("llvm -mcpu=foo", r"unknown CPU 'foo' for -mcpu"),
    ("llvm -mcpu=skylake-avx51", r"did you mean 'skylake-avx512'"),
    ("llvm -mcpu=haswel -mattr=+avx2", r"did you mean 'haswell'"),
    ("llvm -mattr=+avx5122f", r"unknown CPU feature 'avx5122f'.*did you mean 'avx512f'"),
    ("llvm -mcpu=haswell -mcpu=znver3", r"-mcpu= given twice"),
])
def test_malformed_targets_are_typed_errors_and_print_nothing(spec, message, capfd):
    with pytest.raises(mlc.MLCError, match=message):
        mlc.build(elementwise_module(), spec)
    assert capfd.readouterr().err == ""


def test_targets_built_directly_are_checked_too():
    with pytest.raises(mlc.MLCError, match="unknown CPU 'foo'"):
        Target("llvm", "foo")
    with pytest.raises(mlc.MLCError, match="no sign"):
        Target("llvm", "haswell", "avx2")
    with pytest.raises(mlc.MLCError, match=r"' \+fma', not a \+feature.*did you mean 'fma'"):
        Target("llvm", "haswell", "+avx2, +fma")  # LLVM would take " +fma" for a flag without sign
    assert Target("llvm", "haswell", "+avx2,,+fma,").vector_bits == 256  # empty items: skipped by LLVM too


def test_well_formed_targets_are_accepted():
    cpu, features = host_cpu()
    assert Target.from_str("llvm") == Target("llvm", cpu, features)
    assert Target.from_str("llvm -mcpu=haswell").features == features  # tuned for haswell, runs here
    assert Target.from_str("llvm -mcpu=znver3 -mattr=+avx2,-avx512f,+64bit").features == "+avx2,-avx512f,+64bit"
    assert str(Target.from_str("llvm -mcpu=znver3 -mattr=+avx2")) == "llvm -mcpu=znver3 -mattr=+avx2"


@pytest.mark.parametrize("make", [lambda: Target.from_str("llvm"), lambda: Target("llvm", "haswell"),
                                  lambda: Target("llvm", "skylake-avx512"),
                                  lambda: Target.from_str("llvm -mcpu=haswell"),
                                  lambda: Target.from_str("llvm -mcpu=znver3 -mattr=+avx2,-avx512f"),
                                  lambda: Target.from_str("llvm -mcpu=haswell -mattr=default")])
def test_a_target_string_parses_back_to_its_target(make):
    """str(target) names the features it was built with: this machine's go unsaid, a CPU's own
    ones are ``-mattr=default`` (a Target("llvm", cpu) sent to a tuning worker as a string
    must not come back with this machine's features)."""
    target = make()
    assert Target.from_str(str(target)) == target
    assert str(Target("llvm", "haswell")) == "llvm -mcpu=haswell -mattr=default"


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(known_features())), st.sampled_from("+-"), st.text("abcx-_.0123456789", max_size=3))
def test_a_feature_is_known_or_refused_with_close_matches(name, sign, noise):
    flag = f"{sign}{name}{noise}"
    if flag[1:] in known_features() and flag not in REFUSED_FLAGS:
        assert Target("llvm", "x86-64", flag).features == flag
        return
    with pytest.raises(mlc.MLCError) as info:
        Target("llvm", "x86-64", flag)
    if flag[1:] not in known_features():
        assert "did you mean" in str(info.value)


def test_llvm_names_the_cpus_and_features_of_the_pinned_targets():
    assert {"haswell", "znver3", "skylake-avx512", "icelake-server", host_cpu()[0]} <= known_cpus()
    assert {"avx2", "avx512f", "fma", "sse4.2"} <= known_features()


def test_help_text_is_read_again_in_a_fresh_process():
    """LLVM prints its help text once per process; asked again, a fresh interpreter answers."""
    for _ in range(2):  # the second time at the latest, LLVM has printed it in this process
        text = llvm_cpus._help_text()
        assert "skylake-avx512" in text and "avx512f" in text


@pytest.mark.parametrize("target, bits", [
    (Target("llvm", "x86-64"), 128), (Target("llvm", "sandybridge"), 256), (AVX2, 256),
    (Target("llvm", "znver3"), 256), (AVX512, 512), (Target("llvm", "icelake-server"), 512),
    (Target("llvm", "skylake-avx512", "-avx512f"), 256), (Target("llvm", "haswell", "+avx512f"), 512),
])
def test_vector_width_is_llvms_for_the_cpu_and_features(target, bits):
    assert target.vector_bits == bits


def test_a_target_with_wider_vectors_than_the_host_compiles_but_does_not_run(monkeypatch):
    from mlc.backends.llvm import module
    monkeypatch.setattr(module, "host_cpu", lambda: ("haswell", ""))  # an AVX2 machine
    with pytest.raises(mlc.CompileError, match="512-bit vector registers.*256-bit"):
        mlc.build(elementwise_module(), AVX512)
    assert "zmm" in compile_sources(mlc.schedules.default_schedule(elementwise_module(), AVX512).mod, AVX512)["asm"]


def test_a_target_the_host_can_run_builds_and_runs():
    lib = mlc.build(elementwise_module(), "llvm -mcpu=x86-64 -mattr=+sse4.2")
    a = np.arange(64, dtype="float32")
    b = np.empty_like(a)
    lib["f"](a, b)
    np.testing.assert_array_equal(b, a * 2)


def test_malformed_target_in_a_fresh_interpreter_exits_with_the_error():
    """The cases that used to abort (SIGABRT) end as an ordinary exception, run from scratch."""
    code = ("import mlc, sys\n"
            "for spec in ('llvm -mattr=avx2', 'llvm -mattr=-64bit-mode', 'llvm -mcpu=foo'):\n"
            "    try:\n"
            "        mlc.Target.from_str(spec)\n"
            "    except mlc.MLCError as err:\n"
            "        print(type(err).__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["MLCError"] * 3 and done.stderr == ""


def test_a_target_string_given_to_the_constructor_is_refused_with_a_hint():
    with pytest.raises(MLCError, match=r"Target.from_str\('llvm -mcpu=foo'\)"):
        Target("llvm -mcpu=foo")
    with pytest.raises(MLCError, match="unknown target kind 'vulkan'"):
        Target("vulkan")


def test_a_known_feature_with_trailing_noise_is_suggested():
    with pytest.raises(MLCError, match=r"did you mean 'cf'"):
        Target("llvm", "x86-64", "+cf000")
