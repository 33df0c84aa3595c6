"""Globals and closure variables are constants to ``mlc.jit``, taken when it traces; a change
since is warned about (GlobalChangedWarning) at the next trace and, with MLC_DEBUG, at every
call. Rebinding ``K = 3`` or writing ``W[:] = 10`` was ignored without a word."""
import warnings

import numpy as np
import pytest

import mlc
from mlc.config import override
from mlc.errors import GlobalChangedWarning
from mlc.tracer import captured_globals
from mlc.tracer.captured_globals import Snapshot, read_names


def module(source: str, **names) -> dict:
    """The globals of a module made of ``source`` (its functions read them)."""
    scope = {"np": np, **names}
    exec(source, scope)
    return scope


def x(n=3, dtype="float32"):
    return np.zeros(n, dtype)


def test_a_rebound_global_is_warned_about_when_the_function_is_traced_again():
    m = module("def f(x):\n    return x * K + 1", K=2)
    f = mlc.jit(m["f"])
    np.testing.assert_array_equal(f(x() + 1), [3, 3, 3])
    m["K"] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(f(x() + 1), [3, 3, 3])  # a hit: the constant of the trace
    with pytest.warns(GlobalChangedWarning, match=r"the global 'K' of f was rebound since f was traced\. .*"
                                                  r"constants .* pass K as an argument"):
        np.testing.assert_array_equal(f(x(dtype="float64") + 1), [4, 4, 4])  # a new signature traces


def test_a_global_array_written_into_is_warned_about():
    m = module("def f(x):\n    return x + W", W=np.ones(3, "float32"))
    f = mlc.jit(m["f"])
    f(x())
    m["W"][:] = 10
    with pytest.warns(GlobalChangedWarning, match="the global 'W' of f was written into since f was traced"):
        np.testing.assert_array_equal(f(x(dtype="float64")), [10, 10, 10])


def test_a_rebound_closure_variable_and_a_helpers_global_are_warned_about():
    m = module("""
def helper(x):
    return x * SCALE

def make():
    shift = 1.0
    def f(x):
        return helper(x) + shift
    def rebind():
        nonlocal shift
        shift = 2.0
    return f, rebind
""", SCALE=2.0)
    f, rebind = m["make"]()
    jf = mlc.jit(f)
    jf(x())
    rebind()
    m["SCALE"] = 5.0
    with pytest.warns(GlobalChangedWarning) as record:
        np.testing.assert_array_equal(jf(x(dtype="float64") + 1), [7, 7, 7])
    said = " ".join(str(w.message) for w in record)
    assert "the closure variable 'shift' of make.<locals>.f was rebound" in said
    assert "the global 'SCALE' of helper was rebound" in said


def test_nothing_is_said_when_nothing_changed():
    m = module("def f(x):\n    return np.exp(x) * W.sum() + K", W=np.ones(3), K=1)
    f = mlc.jit(m["f"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n in (3, 4, 5):
            f(x(n))


def test_a_change_is_said_once():
    m = module("def f(x):\n    return x * K", K=2)
    f = mlc.jit(m["f"])
    f(x())
    m["K"] = 3
    with pytest.warns(GlobalChangedWarning):
        f(x(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(x(5))  # traced again with K = 3: nothing changed since


def test_with_mlc_debug_every_call_checks_every_element():
    m = module("def f(x):\n    return x + W", W=np.zeros(1 << 20, "float32"))
    with override(debug=True):
        f = mlc.jit(m["f"])
    a = np.zeros(1 << 20, "float32")
    f(a)
    m["W"][1] = 1  # (4 MiB: outside MLC_DEBUG a trace looks at samples only)
    with pytest.warns(GlobalChangedWarning, match="'W' of f was written into"):
        f(a)  # a cache hit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(a)  # said once


def test_without_mlc_debug_a_cache_hit_checks_nothing():
    """The hit path stays as cheap as it was: the checks are the trace's."""
    assert type(mlc.jit(lambda v: v)) is mlc.tracer.JitFunction
    with override(debug=True):
        assert type(mlc.jit(lambda v: v)) is not mlc.tracer.JitFunction


def test_the_names_read_include_nested_code_and_skip_other_modules():
    m = module("""
def f(x):
    g = lambda y: y * A
    return [g(v) + B for v in (x,)][0] + np.exp(x)
""", A=1, B=2)
    names = {name for name, *_ in read_names(m["f"])}
    assert {"A", "B", "np"} <= names and "exp" not in names  # (np.exp: not followed into NumPy)


def test_a_large_array_is_digested_by_samples_unless_full():
    big = np.zeros(captured_globals.WHOLE_BYTES // 4 + 1, "float32")
    m = module("def f(x):\n    return x + W[0]", W=big)
    sampled, full = Snapshot.of(m["f"]), Snapshot.of(m["f"], full=True)
    big[-1] = 1  # (the last element is always a sample)
    assert [c.name for c in sampled.changes()] == ["W"] and [c.name for c in full.changes()] == ["W"]
