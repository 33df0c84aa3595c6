"""Random NumPy programs under the jit equal NumPy's, values and dtypes (mlc.testing.fuzz).

A small, seeded run for CI: programs of bool, small-integer, int and float arrays
(ufuncs, operators, Python scalars, astype, broadcasting, reductions) on llvm and the
CUDA emulator. ``tools/fuzz.py`` runs as many as asked, with any seed.
"""
import collections
import random

import numpy as np
import pytest

import mlc
from mlc.testing import fuzz
from mlc.testing.fuzz import SKIPPED, UNARY, program, run_program
from .cuda.fake_cupy import DeviceResult

#: (seed, programs) per target: about 4 s of CPU on a 2-core host, both together.
RUNS = {"llvm": (0, 150), "cuda-emulator": (1, 100)}
#: Ufuncs whose bool result dtype is a known defect (tested below, strictly expected to fail).
KNOWN_BOOL_DTYPE = ("conj", "conjugate")


@pytest.mark.parametrize("target", sorted(RUNS))
def test_random_programs_equal_numpys_values_and_dtypes(target):
    seed, count = RUNS[target]
    rng = random.Random(seed)
    unary = tuple(u for u in UNARY if u not in KNOWN_BOOL_DTYPE)
    outcomes, dtypes, mismatches = collections.Counter(), collections.Counter(), []
    for _ in range(count):
        prog = program(rng, unary=unary)
        dtypes.update(dtype for _, dtype in prog.inputs.values())
        result = run_program(prog, target, rng)
        outcomes["skipped" if result == SKIPPED else "ok" if result is None else "mismatch"] += 1
        if result not in (None, SKIPPED):
            mismatches.append(str(result))
    assert not mismatches, "\n".join(mismatches)
    # the run covered what it is for: most programs ran, on bools and small integers
    assert outcomes["ok"] >= 0.6 * count, outcomes
    assert dtypes["bool"] >= 5 and dtypes["int8"] + dtypes["uint8"] >= 5, dtypes


def test_the_same_seed_gives_the_same_programs():
    first = [program(random.Random(7)).source for _ in range(3)]
    assert first == [program(random.Random(7)).source for _ in range(3)]
    assert len({program(random.Random(s)).source for s in range(20)}) > 10


def test_a_wrong_dtype_is_reported_with_the_program_and_its_inputs(monkeypatch):
    """The comparison can fail: a result cast to another dtype is a mismatch naming both."""
    prog = program(random.Random(3))
    real_jit = mlc.jit

    def wrong(fn, **kw):
        compiled = real_jit(fn, **kw)
        return lambda *a, **k: np.asarray(compiled(*a, **k)).astype("float64") + 1
    monkeypatch.setattr(fuzz, "jit", wrong)
    result = run_program(prog, "llvm", random.Random(0))
    assert result not in (None, SKIPPED)
    assert prog.source in str(result) and "NumPy's" in str(result)


@pytest.mark.parametrize("target", ["llvm", "cuda-emulator"])
def test_conj_of_bools_is_int8(target):
    b = np.array([True, False])
    got = mlc.jit(lambda x: np.conj(x) + np.conj(x), target=target)(b)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, [2, 0])


def test_a_device_result_is_compared_after_its_copy_to_the_host(monkeypatch):
    """``target="cuda"`` returns CuPy arrays; the comparison copies them to the host first."""
    prog = program(random.Random(3))
    real_jit = mlc.jit

    def on_device(fn, **kw):
        compiled = real_jit(fn, **kw)
        return lambda *a, **k: DeviceResult(compiled(*a, **k))
    monkeypatch.setattr(fuzz, "jit", on_device)
    assert run_program(prog, "llvm", random.Random(0)) is None
    assert fuzz.host_array(DeviceResult([1, 2])).tolist() == [1, 2]
