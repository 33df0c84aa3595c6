"""A PrimFunc with symbolic shapes builds once and runs for any size, on both backends,
scheduled by the default rules (llvm) or by hand; the sizes of a call are checked."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import ShapeError, Target
from mlc.backends.llvm import compile_sources
from mlc.ir import te
from mlc.schedules import Schedule

TARGETS = ("llvm", "reference")
SIZES = st.integers(0, 40) | st.sampled_from([1, 63, 64, 65, 257])


def _elementwise(n):
    A = te.placeholder((n, 24), "float32", "A")
    B = te.placeholder((24,), "float32", "B")
    C = te.compute((n, 24), lambda i, j: te.exp(A[i, j]) * B[j] + 1, name="C")
    return te.create_prim_func([A, B, C]), lambda a, b: np.exp(a) * b + 1


def _matmul_relu(n):
    A = te.placeholder((n, 40), "float32", "A")
    W = te.placeholder((40, 24), "float32", "W")
    k = te.reduce_axis((0, 40), "k")
    Y = te.compute((n, 24), lambda i, j: te.sum(A[i, k] * W[k, j], axis=k), name="Y")
    Z = te.compute((n, 24), lambda i, j: te.max(Y[i, j], te.const(0, "float32")), name="Z")
    return te.create_prim_func([A, W, Z]), lambda a, w: np.maximum(a @ w, 0)


def _row_softmax(n):
    A = te.placeholder((n, 33), "float32", "A")
    k = te.reduce_axis((0, 33), "k")
    M = te.compute((n,), lambda i: te.max(A[i, k], axis=k), name="M")
    E = te.compute((n, 33), lambda i, j: te.exp(A[i, j] - M[i]), name="E")
    k2 = te.reduce_axis((0, 33), "k2")
    S = te.compute((n,), lambda i: te.sum(E[i, k2], axis=k2), name="S")
    O = te.compute((n, 33), lambda i, j: E[i, j] / S[i], name="O")
    return te.create_prim_func([A, O]), lambda a: np.exp(a - a.max(1, keepdims=True)) / \
        np.exp(a - a.max(1, keepdims=True)).sum(1, keepdims=True)


def _vector_1d(n):
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[i] * 3 - 1, name="B")
    return te.create_prim_func([A, B]), lambda a: a * 3 - 1


PROGRAMS = {"elementwise": _elementwise, "matmul_relu": _matmul_relu, "row_softmax": _row_softmax,
            "vector_1d": _vector_1d}
_BUILT: dict = {}


def _built(name, target):
    """One build per program and target for the whole module: every size runs on it."""
    key = (name, target)
    if key not in _BUILT:
        func, ref = PROGRAMS[name](te.var("n"))
        _BUILT[key] = (mlc.build(func, target=target), func, ref)
    return _BUILT[key]


def _inputs(func, n, rng):
    shapes = [tuple(n if not isinstance(e, mlc.ir.expr.IntImm) else e.value for e in p.shape)
              for p in func.params]
    return [rng.standard_normal(s).astype("float32") for s in shapes[:-1]], shapes[-1]


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(PROGRAMS)), n=SIZES, target=st.sampled_from(TARGETS),
       seed=st.integers(0, 2**16))
def test_one_build_runs_every_size_like_numpy(name, n, target, seed):
    lib, func, ref = _built(name, target)
    ins, out_shape = _inputs(func, n, np.random.default_rng(seed))
    out = np.full(out_shape, np.nan, "float32")
    lib["main"](*ins, out)
    np.testing.assert_allclose(out, ref(*ins), rtol=2e-5, atol=2e-5)


def test_a_symbolic_function_is_built_once_for_all_sizes(monkeypatch):
    """Count the builds: one mlc.build, many sizes, no compile at call time."""
    from mlc.backends.llvm import jit
    compiles = []
    real = jit._load  # (every build loads its objects once)
    monkeypatch.setattr(jit, "_load", lambda *a, **k: compiles.append(1) or real(*a, **k))
    func, ref = _matmul_relu(te.var("n"))
    lib = mlc.build(func)
    rng = np.random.default_rng(0)
    for n in (1, 7, 64, 1000, 3):
        ins, out_shape = _inputs(func, n, rng)
        out = np.empty(out_shape, "float32")
        lib["main"](*ins, out)
        np.testing.assert_allclose(out, ref(*ins), rtol=2e-5, atol=2e-5)
    assert len(compiles) == 1


@pytest.mark.parametrize("target", TARGETS)
def test_arrays_that_disagree_on_n_are_a_shape_error_naming_both(target):
    lib, func, _ = _built("matmul_relu", target)
    a, w = np.zeros((5, 40), "float32"), np.zeros((40, 24), "float32")
    with pytest.raises(ShapeError, match=r"argument Z has shape \(6, 24\) but its dimension 0 is `n` = 5, "
                                         r"with n=5 \(from dimension 0 of A\)"):
        lib["main"](a, w, np.zeros((6, 24), "float32"))
    with pytest.raises(ShapeError, match=r"argument A must have 2 dimension\(s\), shape \(n, 40\), got \(5,\)"):
        lib["main"](np.zeros(5, "float32"), w, np.zeros((5, 24), "float32"))
    with pytest.raises(ShapeError, match=r"argument W must have shape \(40, 24\)"):
        lib["main"](a, np.zeros((41, 24), "float32"), np.zeros((5, 24), "float32"))


def test_the_llvm_kernel_takes_the_sizes_after_the_pointers():
    func, _ = _elementwise(te.var("n"))
    ir_text = compile_sources(mlc.IRModule({"main": func}), Target("llvm", "haswell"))
    head = next(line for line in ir_text["ll-unoptimized"].splitlines() if line.startswith("define"))
    assert '%"C", i32 %"n") nounwind' in head


@pytest.mark.parametrize("target", TARGETS)
def test_a_hand_schedule_with_a_guarded_split_fuse_and_parallel_runs_ragged_sizes(target):
    n = te.var("n")
    A = te.placeholder((n, 5), "float32", "A")
    B = te.compute((n, 5), lambda i, j: A[i, j] * 2, name="B")
    sch = Schedule(te.create_prim_func([A, B]))
    i, j = sch.get_loops(sch.get_block("B"))
    outer, inner = sch.split(sch.fuse(i, j), [None, 8])
    sch.parallel(outer)
    sch.vectorize(inner)
    lib = mlc.build(sch.mod, target=target)
    for rows in (0, 1, 3, 13):
        a = np.arange(rows * 5, dtype="float32").reshape(rows, 5)
        b = np.full_like(a, np.nan)
        lib["main"](a, b)
        np.testing.assert_array_equal(b, a * 2)


def test_bounds_checked_build_runs_symbolic_sizes():
    func, ref = _elementwise(te.var("n"))
    lib = mlc.build(func, check_bounds=True)
    a, b = np.ones((3, 24), "float32"), np.ones(24, "float32")
    out = np.empty((3, 24), "float32")
    lib["main"](a, b, out)
    np.testing.assert_allclose(out, ref(a, b), rtol=1e-6)


@pytest.mark.parametrize("index, message", [
    (lambda i, n: i + 1, r"index i \+ 1 \(dimension 0\) reaches n for i in \[0, n\), but A has extent n"),
    (lambda i, n: i - 1, r"index i - 1 \(dimension 0\) goes down to -1 for i in \[0, n\)"),
])
def test_an_access_out_of_bounds_for_every_size_is_refused_at_build(index, message):
    """(The reference target builds the function as written; the llvm default schedule
    puts the access under its split's guard, where only check_bounds sees it.)"""
    n = te.var("n")
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[index(i, n)], name="B")
    with pytest.raises(mlc.CompileError, match=message):
        mlc.build(te.create_prim_func([A, B]), target="reference")
    with pytest.raises(mlc.CompileError, match=message):
        mlc.build(te.create_prim_func([A, B]), target="llvm", schedule=lambda sch: None)


def test_an_access_in_bounds_for_every_size_builds():
    n = te.var("n")
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n,), lambda i: A[n - 1 - i], name="B")
    lib = mlc.build(te.create_prim_func([A, B]))
    a = np.arange(5, dtype="float32")
    b = np.empty_like(a)
    lib["main"](a, b)
    np.testing.assert_array_equal(b, a[::-1])


@pytest.mark.parametrize("target", TARGETS)
@settings(max_examples=8, deadline=None)
@given(m=st.integers(0, 70))
def test_a_graph_main_passes_a_symbolic_kernel_its_arguments_sizes(target, m):
    """``main(x, y)`` of shape ``(m,)`` calls kernel ``f`` (its own size ``n``) twice through
    a workspace of ``m`` elements, and a static ``(8,)`` call of it: each call passes the
    extent of its arguments as ``n``."""
    from mlc.ir.buffer import decl_buffer
    from mlc.ir.calls import GRAPH_MAIN_ATTR, CallPrimFunc
    from mlc.ir.tir import Allocate, PrimFunc, seq
    key = ("main", target)
    if key not in _BUILT:
        func, _ = _vector_1d(te.var("n"))
        size = te.var("m")
        x, y, t = (decl_buffer((size,), "float32", name) for name in "xyt")
        a, b = decl_buffer((8,), "float32", "a"), decl_buffer((8,), "float32", "b")
        body = Allocate(t, seq(CallPrimFunc("f", (x, t)), CallPrimFunc("f", (t, y)), CallPrimFunc("f", (a, b))))
        main = PrimFunc((x, a, y, b), body).with_attr(GRAPH_MAIN_ATTR, (2, 0))
        _BUILT[key] = mlc.build(mlc.IRModule({"f": func, "g": main}), target=target)["g"]
    g = _BUILT[key]
    x, a = np.random.default_rng(m).standard_normal((2, max(m, 8))).astype("float32")
    x, y, b = x[:m], np.empty(m, "float32"), np.empty(8, "float32")
    g(x, a[:8], y, b)
    np.testing.assert_allclose(y, (x * 3 - 1) * 3 - 1, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(b, a[:8] * 3 - 1, rtol=1e-6)
