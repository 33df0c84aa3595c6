"""Every mlc.numpy function takes the positional arguments NumPy's function of its name takes."""
import inspect

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
import mlc.numpy as mnp

P = inspect.Parameter
_POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)

#: NumPy parameters mlc.numpy does not take, and why.
NOT_TAKEN = {
    "order": "mlc arrays are C-contiguous",
    "subok": "mlc returns NumPy arrays, never subclasses",
    "like": "the __array_function__ creation protocol",
    "initial": "reductions start from the op's identity",
    "where": "masked reductions",
    "mode": "take clips or wraps no index: indices out of bounds are refused",
    "shape": "the *_like functions take the prototype's shape",
}

#: NumPy's name -> mlc.numpy's, for parameters spelled as the Array API spells them.
RENAMED = {"a_min": "min", "a_max": "max", "reps": "repetitions"}


def _numpy_signature(name):
    fn = getattr(np, name, None)
    if fn is None or isinstance(fn, np.ufunc):
        return None
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


FUNCTIONS = sorted(n for n in mnp.FUNCTIONS if _numpy_signature(n) is not None)


def test_the_comparison_covers_the_namespace():
    covered = {"sort", "argsort", "roll", "take", "repeat", "diff", "tril", "triu", "tensordot", "cumsum"}
    if _numpy_signature("concatenate") is not None:  # (a C function without one before NumPy 2.4)
        covered.add("concatenate")
    assert len(FUNCTIONS) > 60 and covered <= set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_takes_numpys_positional_parameters(name):
    """NumPy's i-th positional parameter is mlc's i-th (any name for the first, the array, and
    where mlc's is positional-only), or one of NOT_TAKEN; mlc's ``*args`` takes whatever follows."""
    theirs = [p for p in _numpy_signature(name).parameters.values() if p.kind in _POSITIONAL]
    ours = list(inspect.signature(mnp.FUNCTIONS[name]).parameters.values())
    for i, p in enumerate(theirs):
        want = RENAMED.get(p.name, p.name)
        if i < len(ours) and ours[i].kind is P.VAR_POSITIONAL:
            return
        if i < len(ours) and ours[i].kind in _POSITIONAL:
            assert i == 0 or ours[i].kind is P.POSITIONAL_ONLY or ours[i].name == want, \
                f"{name}: NumPy's positional parameter {i} is {p.name!r}, mlc.numpy's {ours[i].name!r}"
        else:
            assert p.name in NOT_TAKEN, \
                f"{name}: NumPy takes {p.name!r} as positional parameter {i}; mlc.numpy does not"


#: NumPy calls passing axis-like arguments positionally.
CALLS = {
    "sort": lambda a: np.sort(a, 0),
    "argsort": lambda a: np.argsort(a, 1, "stable"),
    "roll": lambda a: np.roll(a, 1, 1),
    "take": lambda a: np.take(a, np.array([0, 2, 1]), 1),
    "take_along_axis": lambda a: np.take_along_axis(a, np.argsort(a, 0)[:1], 0),
    "repeat": lambda a: np.repeat(a, 2, 1),
    "diff": lambda a: np.diff(a, 1, 0),
    "tril": lambda a: np.tril(a, -1),
    "triu": lambda a: np.triu(a, 2),
    "tensordot": lambda a: np.tensordot(a, a.T, 1),
    "cumsum": lambda a: np.cumsum(a, 1, np.float64),
    "searchsorted": lambda a: np.searchsorted(np.sort(a[0]), a[1], "right"),
    "concatenate": lambda a: np.concatenate([a, a], 1),
    "clip": lambda a: np.clip(a, -0.5, 0.5),
    "round": lambda a: np.round(a, 0),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=5, deadline=None)
@given(a=hnp.arrays("float32", st.tuples(st.integers(2, 4), st.integers(3, 5)),
                    elements=st.floats(-8, 8, width=32)))
def test_positional_calls_match_numpy(name, a):
    fn = CALLS[name]
    got, want = mlc.jit(fn)(a), fn(a)
    assert np.asarray(got).dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6)
    eager = getattr(mnp, name)  # the eager namespace function takes the same positional arguments
    assert eager is mnp.FUNCTIONS[name]


def test_eager_functions_take_positional_arguments():
    a = np.arange(12.0, dtype="float32").reshape(3, 4)[::-1].copy()
    np.testing.assert_array_equal(mnp.sort(a, 0), np.sort(a, 0))
    np.testing.assert_array_equal(mnp.roll(a, 1, 1), np.roll(a, 1, 1))
    np.testing.assert_array_equal(mnp.take(a, np.array([2, 0]), 1), np.take(a, np.array([2, 0]), 1))
    np.testing.assert_array_equal(mnp.diff(a, 2, 1), np.diff(a, 2, 1))
    np.testing.assert_array_equal(mnp.tril(a, -1), np.tril(a, -1))
    np.testing.assert_array_equal(mnp.repeat(a, 2, 0), np.repeat(a, 2, 0))
