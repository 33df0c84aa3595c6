"""Loops of scalar element code, as Numba users write them, compile into one kernel: a
``for`` nest whose body reads and writes single elements and computes on scalars is one
``element_loop`` (no graph loop, no kernel per element), and agrees with the same source run
by Python on NumPy arrays, for sizes 1, odd and uneven, on llvm and the CUDA emulator."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc

TARGETS = ["llvm", "cuda-emulator"]


def recurrence(a, b):
    n, m = a.shape
    for i in range(1, n):
        for j in range(m):
            a[i, j] = b[i, j] * 2 + a[i - 1, j]
    return a


def dot_loop(x, y):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * y[i]
    return s


def absolute_by_branch(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0:
            out[i] = x[i]
        else:
            out[i] = -x[i]
    return out


def lower_triangle_sums(a):
    n = a.shape[0]
    out = np.zeros(n)
    for i in range(n):
        acc = 0.0
        for j in range(i + 1):
            acc += a[i, j]
        out[i] = acc
    return out


def prefix_max(x):
    out = np.empty_like(x)
    best = x[0]
    for i in range(x.shape[0]):
        best = max(best, x[i])
        out[i] = best
    return out


def escape_counts(xs, ys):
    out = np.zeros((ys.shape[0], xs.shape[0]), np.int64)
    for i in range(ys.shape[0]):
        for j in range(xs.shape[0]):
            zr = 0.0
            zi = 0.0
            n = 0
            while zr * zr + zi * zi < 4.0 and n < 30:
                zr, zi = zr * zr - zi * zi + xs[j], 2.0 * zr * zi + ys[i]
                n += 1
            out[i, j] = n
    return out


def _ops(graph):
    ops = []
    for b in graph.bindings:
        ops.append(b.op)
        if b.op not in ("for_loop", "while_loop", "switch"):  # an element_loop's body is its kernel's
            continue
        for key in ("body", "cond", "branches"):
            g = b.attr(key)
            for sub in (g if isinstance(g, tuple) else (g,) if g is not None else ()):
                ops.extend(_ops(sub))
    return ops


def _lowered_ops(jitted, *args):
    from mlc.passes.graph.pipeline import GRAPH_PIPELINE, run_graph_passes
    before_fuse = GRAPH_PIPELINE[:GRAPH_PIPELINE.index(next(p for p in GRAPH_PIPELINE if p.__name__ == "fuse_ops"))]
    return _ops(run_graph_passes(jitted.trace(*args).graph, before_fuse))


@pytest.mark.parametrize("fn, args", [
    (recurrence, lambda r: (r.random((12, 10)), r.random((12, 10)))),
    (dot_loop, lambda r: (r.random(11), r.random(11))),
    (absolute_by_branch, lambda r: (r.standard_normal(11),)),
    (lower_triangle_sums, lambda r: (r.random((11, 11)),)),
    (prefix_max, lambda r: (r.standard_normal(11),)),
    (escape_counts, lambda r: (np.linspace(-2, 1, 11), np.linspace(-1.5, 1.5, 10))),
])
def test_an_element_loop_nest_is_one_kernel(fn, args):
    ops = _lowered_ops(mlc.jit(fn), *args(np.random.default_rng(0)))
    assert "element_loop" in ops and "for_loop" not in ops, ops
    lowered = mlc.jit(fn).lower(*args(np.random.default_rng(0)))
    calls = [b.attr("func") for b in lowered.graph.bindings if b.op == "call_tir"]
    assert not any(b.op in ("for_loop", "while_loop") for b in lowered.graph.bindings)
    assert len([c for c in calls if "element_loop" in c]) == 1, calls
    assert len(calls) <= 2, calls  # the loop nest's kernel, and at most one filling an array it writes


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=6, deadline=None)
@given(n=st.sampled_from([1, 2, 7, 9]), m=st.sampled_from([1, 3, 8]), seed=st.integers(0, 3))
def test_element_loops_match_python_on_numpy(target, n, m, seed):
    r = np.random.default_rng(seed)
    a, b = r.standard_normal((n, m)), r.standard_normal((n, m))
    x, y = r.standard_normal(n * m), r.standard_normal(n * m)
    sq = r.standard_normal((n, n))
    cases = [(recurrence, (a, b)), (dot_loop, (x, y)), (absolute_by_branch, (x,)),
             (lower_triangle_sums, (sq,)), (prefix_max, (x,)),
             (escape_counts, (np.linspace(-2, 1, m), np.linspace(-1.5, 1.5, n)))]
    for fn, args in cases:
        want_args = [v.copy() for v in args]
        got_args = [v.copy() for v in args]
        want = fn(*want_args)
        got = mlc.jit(fn, target=target)(*got_args)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12, err_msg=fn.__name__)
        for g, w in zip(got_args, want_args):  # the caller's arrays written as NumPy writes them
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=fn.__name__)
