"""The corpus of scientific NumPy programs (``benchmarks/corpus/programs.py``) under
``@mlc.jit``, each against the same function run by NumPy, on llvm and on the CUDA emulator.

Sizes are Hypothesis-drawn (``n = 1`` always, then odd and non-divisible ones): the program's
return value and every array argument (which the programs write in place, as NumPy code
does) must match NumPy's. A program mlc cannot run yet is a strict xfail whose reason is mlc's
message: when it starts to pass, the xfail fails and goes.
"""
from __future__ import annotations

import functools
import os

import numpy as np
import pytest
from hypothesis import Phase, example, given, settings, strategies as st

import mlc
from mlc.errors import TraceError
from benchmarks.corpus.programs import PROGRAMS

#: the targets every program runs on; MLC_CORPUS_TARGETS=cuda (comma-separated) on a GPU machine
TARGETS = tuple(os.environ.get("MLC_CORPUS_TARGETS", "llvm,cuda-emulator").split(","))

#: examples per program and the largest n drawn, per target (the emulator runs kernels in Python)
EXAMPLES = {"llvm": 3, "cuda-emulator": 2, "cuda": 3}
LARGEST = {"llvm": 7, "cuda-emulator": 3, "cuda": 7}

#: programs whose first call compiles for long, at fewer and smaller sizes: the nested element
#: loops of the string DPs unroll their outer loop (a static range up to 8) around a compiled
#: inner one: each size takes seconds
SLOW = {"lcs_length": (2, 5), "edit_distance": (2, 5), "floyd_steinberg": (2, 4)}

#: (program, target or None for both) -> (the exception mlc raises, its message)
XFAIL: dict = {}


#: (program, target) -> why it is not run: its first call does not end in minutes (a hang is no
#: test result); listed with the xfails, to run again when the reason is gone
NOT_RUN: dict = {}


def _params():
    out = []
    for name in PROGRAMS:
        for target in TARGETS:
            why = XFAIL.get((name, target)) or XFAIL.get((name, None))
            marks = [pytest.mark.xfail(strict=True, raises=why[0], reason=why[1])] if why else []
            if (name, target) in NOT_RUN:
                marks = [pytest.mark.xfail(run=False, reason=NOT_RUN[name, target])]
            out.append(pytest.param(name, target, marks=marks, id=f"{name}-{target}"))
    return out


@functools.cache
def _jitted(name: str, target: str):
    p = PROGRAMS[name]
    return mlc.jit(p.fn, static_argnames=p.static, target=target)


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _assert_close(got, want, p, what):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), f"{what}: {got!r} is not like {want!r}"
        for k, (g, w) in enumerate(zip(got, want)):
            _assert_close(g, w, p, f"{what}[{k}]")
        return
    if want is None:
        assert got is None, f"{what}: {got!r}, NumPy's is None"
        return
    got = got.get() if hasattr(got, "get") and not isinstance(got, np.ndarray) else got  # a GPU array
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, NumPy's {want.shape}"
    np.testing.assert_allclose(got, want, rtol=p.rtol, atol=p.atol, err_msg=what)


@pytest.mark.parametrize("name, target", _params())
def test_program_matches_numpy(name, target):
    p = PROGRAMS[name]
    f = _jitted(name, target)

    examples, largest = SLOW.get(name, (EXAMPLES[target], LARGEST[target]))

    @settings(max_examples=examples, phases=(Phase.explicit, Phase.generate), deadline=None, database=None)
    @given(n=st.integers(1, largest))
    @example(n=1)
    def check(n):
        args = p.make(n, np.random.default_rng(n))
        mine, numpys = _copies(args), _copies(args)
        got = f(*mine)
        want = p.fn(*numpys)
        _assert_close(got, want, p, f"{name}(n={n}) result")
        for k, (g, w) in enumerate(zip(mine, numpys)):
            if isinstance(w, np.ndarray):  # written in place by the program
                _assert_close(g, w, p, f"{name}(n={n}) argument {k}")

    check()


def test_the_corpus_has_at_least_forty_programs_of_every_kind():
    kinds = {p.kind for p in PROGRAMS.values()}
    assert len(PROGRAMS) >= 40
    assert {"stencil", "linalg", "dp", "stats", "physics", "signal", "image"} <= kinds
