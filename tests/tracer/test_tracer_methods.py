"""The ndarray methods a traced array has, against NumPy's; in-place changes are refused."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import mlc
from mlc import TraceError
from mlc.tracer import Tracer

#: method calls, each as NumPy's ndarray takes them (positional parameters included).
CALLS = {
    "copy": lambda a: a.copy(),
    "round": lambda a: a.round(),
    "cumsum": lambda a: a.cumsum(1),
    "cumprod": lambda a: a.cumprod(0, np.float64),
    "argsort": lambda a: a.argsort(1, "stable"),
    "swapaxes": lambda a: a.swapaxes(0, 2),
    "repeat": lambda a: a.repeat(2, 1),
    "any": lambda a: (a > 0).any(0),
    "all": lambda a: (a > -1).all(1, keepdims=True),
    "trace": lambda a: a.trace(),
    "trace_axes": lambda a: a.trace(1, 1, 2),
    "diagonal": lambda a: a.diagonal(),
    "diagonal_axes": lambda a: a.diagonal(-1, 2, 0),
    "nbytes": lambda a: a[0] * a.nbytes,
    "itemsize": lambda a: a * a.itemsize,
    "clip": lambda a: a.clip(-0.5, 0.5),
    "prod": lambda a: a.prod(1),
    "std": lambda a: a.std(0, None, None, 1),
    "var": lambda a: a.var(1, ddof=1),
    "sum": lambda a: a.sum(0, None, None, True),
    "max": lambda a: a.max(1, None, True),
    "mean": lambda a: a.mean(2, np.float64),
    "take": lambda a: a.take(np.array([1, 0]), 1),
    "searchsorted": lambda a: np.sort(a[0, :, 0]).searchsorted(a[1, :, 0]),
    "squeeze": lambda a: a[:1].squeeze(),
}

_arrays = hnp.arrays("float32", st.tuples(st.integers(2, 3), st.integers(2, 4), st.integers(2, 3)),
                     elements=st.floats(-2, 2, width=32))


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=4, deadline=None)
@given(a=_arrays)
def test_methods_match_numpy(name, a):
    fn = CALLS[name]
    got, want = mlc.jit(fn)(a), fn(a)
    assert np.shape(got) == np.shape(want) and np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_every_method_named_exists_on_ndarray():
    for name in ("copy", "round", "cumsum", "cumprod", "argsort", "swapaxes", "repeat", "any", "all",
                 "trace", "diagonal", "nbytes", "itemsize", "take", "searchsorted", "nonzero"):
        assert hasattr(np.ndarray, name) and hasattr(Tracer, name), name


@pytest.mark.parametrize("fn, what", [
    (lambda a: a.resize((4,)), r"x\.resize\(\)"),
    (lambda a: a.partition(1), r"x\.partition\(\)"),
])
def test_in_place_changes_are_trace_errors(fn, what):
    with pytest.raises(TraceError, match=rf"(?s){what}.*immutable.*test_tracer_methods.py"):
        mlc.jit(fn)(np.ones((2, 2), "float32"))
