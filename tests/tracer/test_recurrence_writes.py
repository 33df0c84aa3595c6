"""Recurrences written one slice at a time (``y[:, j] = a * x[:, j] + b * y[:, j - 1] + c *
y[:, j - 2]``, a Deriche filter's passes along rows and columns): each iteration's value reads
the array it is written into, and its write is a region store in place.

Differential tests against NumPy on sizes 1, odd and above the unrolling threshold, and
structural ones on what makes them fast: the region store's value and starts are memory of
their own (``noalias`` for LLVM, so their loads leave the store loop), and the large buffers a
graph's ``main`` allocates keep their pages between calls."""
import copy
import re

import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc import IRModule
from mlc.config import override
from mlc.ops import TensorType
from mlc.ops.hand_written import hand_written

SIZES = st.sampled_from([1, 2, 3, 9, 13])


def _filter(x):
    """Two causal passes, along the columns then along the rows, as NumPy code writes them."""
    y = np.empty_like(x)
    y[:, 0] = 0.5 * x[:, 0]
    y[:, 1] = 0.5 * x[:, 1] + 0.25 * y[:, 0]
    for j in range(2, x.shape[1]):
        y[:, j] = 0.5 * x[:, j] + 0.25 * y[:, j - 1] - 0.125 * y[:, j - 2]
    z = np.empty_like(x)
    z[-1, :] = 0.0
    z[-2, :] = 0.3 * y[-1, :]
    for i in range(x.shape[0] - 3, -1, -1):
        z[i, :] = 0.3 * y[i + 1, :] + 0.2 * z[i + 1, :] - 0.1 * z[i + 2, :]
    return y + z


@settings(max_examples=5, deadline=None)
@given(rows=SIZES, cols=SIZES, seed=st.integers(0, 99))
def test_slice_recurrences_are_numpys(rows, cols, seed):
    x = np.random.default_rng(seed).random((max(rows, 2), max(cols, 2)))
    want = _filter(copy.deepcopy(x))
    np.testing.assert_allclose(mlc.jit(_filter)(x), want, rtol=1e-12, atol=1e-12)


@settings(max_examples=6, deadline=None)
@given(n=SIZES, seed=st.integers(0, 99))
def test_a_shifted_write_of_the_array_it_reads_is_numpys(n, seed):
    """``a[1:, j] = a[:-1, j - 1] + 1``: the value reads the array the store writes, in place."""
    def shift(a):
        for j in range(1, a.shape[1]):
            a[1:, j] = a[:-1, j - 1] + 1.0
        return a
    a = np.random.default_rng(seed).random((n + 1, n + 1))
    np.testing.assert_array_equal(mlc.jit(shift)(a.copy()), shift(a.copy()))


def _parameters(ll: str, symbol: str) -> dict[str, str]:
    """``{parameter name: its attributes}`` of LLVM function ``symbol`` in module text ``ll``."""
    head = re.search(rf'^define [^@]*@"?{re.escape(symbol)}"?\((.*)$', ll, re.M).group(1)
    return {m.group(2): m.group(1) for m in re.finditer(r"ptr ([^%,]*)%\"?([\w.]+)\"?", head)}


def test_a_region_store_promises_its_value_and_starts_are_no_other_memory():
    """x and out may be one array (the update in place); v and the start are not: LLVM may keep
    the start in a register across the stores (it reloaded it for every element)."""
    func = hand_written("dynamic_update_slice", [TensorType((8, 6), "float64"), TensorType((8, 1), "float64"),
                                                 TensorType((), "int64"), TensorType((), "int64")],
                        {"steps": (1, 1)})
    with override(cache_dir=""):
        ll = mlc.build(IRModule({"store": func}), "llvm").get_source("ll")
    params = _parameters(ll, "store")
    assert {name for name, attrs in params.items() if "noalias" in attrs} == {"v", "start0", "start1"}, params


def test_large_buffers_of_a_graph_are_kept_between_calls():
    """The 640 KB intermediates of a filter of a 400 x 200 image: freed on every call, glibc gave
    their pages back and the next call faulted them in again (a third of the call's time)."""
    x = np.random.default_rng(0).random((400, 200))
    with override(cache_dir=""):
        ll = mlc.jit(_filter).lower(x).compile().as_text("ll")
    assert re.search(r'^@"?__mlc_kept\.', ll, re.M), "no intermediate buffer is kept between calls"
