"""Windows of a function's inputs read by several ops (``w[1:, :, k] + w[:-1, :, k]`` and the
same at ``k + 1``, in a loop over ``k``): each reader's kernel reads the input where the window
lies; no kernel copies the window into a buffer (a copy of ``w`` per window and iteration).

A differential test against NumPy on sizes 1, odd and above the unrolling threshold, and a
structural one on the loop's kernels."""
import copy

import numpy as np
from hypothesis import given, settings, strategies as st

import mlc
from mlc.ir.control import is_control, map_bodies

SIZES = st.sampled_from([1, 2, 5, 11])


def vertical_sweep(w, u):
    """A column sweep as weather codes write it: averages of two shifted windows of ``w`` at
    levels ``k`` and ``k + 1``, written into two arrays, one of them a recurrence along ``k``."""
    c, d = np.zeros_like(u), np.empty_like(u)
    d[:, :, 0] = u[:, :, 0]
    for k in range(1, u.shape[2] - 1):
        gav = -0.25 * (w[1:, :, k] + w[:-1, :, k])
        gcv = 0.25 * (w[1:, :, k + 1] + w[:-1, :, k + 1])
        c[:, :, k] = gcv
        d[:, :, k] = (u[:, :, k] - gav * d[:, :, k - 1]) / (2.0 + gav)
    d[:, :, -1] = u[:, :, -1]
    return c, d


@settings(max_examples=8, deadline=None)
@given(i=SIZES, j=SIZES, k=st.sampled_from([3, 4, 12]), seed=st.integers(0, 99))
def test_windows_of_inputs_read_twice_are_numpys(i, j, k, seed):
    r = np.random.default_rng(seed)
    w, u = r.random((i + 1, j, k)), r.random((i, j, k))
    want = vertical_sweep(copy.deepcopy(w), copy.deepcopy(u))
    for got, expected in zip(mlc.jit(vertical_sweep)(w, u), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _loop_calls(graph):
    """The call_tir bindings of the bodies of ``graph``'s loops."""
    out = []
    for b in graph.bindings:
        if is_control(b):
            map_bodies(b, lambda g: out.extend(c for c in g.bindings if c.op == "call_tir") or g)
    return out


def test_no_kernel_copies_a_window_of_an_input():
    """Every kernel of the loop's body writes a level (60, 60) or the carried array in place,
    none a (60, 60, 12) window of ``w``: the slices fuse into each of their readers (two
    copies of ``w`` an iteration, before)."""
    r = np.random.default_rng(0)
    w, u = r.random((61, 60, 12)), r.random((60, 60, 12))
    calls = _loop_calls(mlc.jit(vertical_sweep).lower(w, u).graph)
    assert calls
    windows = [b.attr("func") for b in calls if any(v.type.shape == (60, 60, 12) for v in b.outputs)
               and not b.attr("inplace")]
    assert not windows, windows
