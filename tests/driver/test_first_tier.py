"""mlc.build's first tier: a te function's first call runs through NumPy (block by block), the
optimised build replaces it once ready; results against NumPy and the reference interpreter,
both tiers."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlc
from mlc import te
from mlc.driver import first_tier, numpy_steps, tiers
from mlc.errors import CompileError, MLCError
from mlc.errors import ScheduleError
from mlc.runtime.module import Module

#: The longest the optimised build may take, in seconds (a busy machine).
BUILD_BOUND_S = 120


@pytest.fixture(autouse=True)
def _small_contractions_tier(monkeypatch):
    """Every contraction takes the first tier, so that small (fast to compile) ones test it."""
    monkeypatch.setattr(first_tier, "QUICK_WORK_LIMIT", 0)


@pytest.fixture
def numpy_runs(monkeypatch):
    """How many runs the first tier's matrix products made."""
    runs = []
    matmul = numpy_steps._matmul

    def counted(*args):
        runs.append(1)
        matmul(*args)
    monkeypatch.setattr(numpy_steps, "_matmul", counted)
    return runs


def _matmul(m, n, k, dtype="float32", acc=None, transposed=False):
    acc = acc or dtype
    A = te.placeholder((k, m) if transposed else (m, k), dtype, "A")
    B = te.placeholder((n, k) if transposed else (k, n), dtype, "B")
    r = te.reduce_axis((0, k), "r")
    if transposed:  # C = A.T @ B.T
        body = lambda i, j: te.sum(A[r, i].astype(acc) * B[j, r].astype(acc), axis=r)  # noqa: E731
    else:
        body = lambda i, j: te.sum(A[i, r].astype(acc) * B[r, j].astype(acc), axis=r)  # noqa: E731
    C = te.compute((m, n), body, "C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _expected(a, b, transposed):
    return (a.T @ b.T) if transposed else a @ b


sizes = st.sampled_from([1, 3, 7, 16, 33])


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=sizes, n=sizes, k=sizes, transposed=st.booleans())
def test_first_call_runs_numpy_then_the_optimised_build(m, n, k, transposed, numpy_runs):
    numpy_runs.clear()  # (one fixture for every example)
    rng = np.random.default_rng(0)
    a = rng.random((k, m) if transposed else (m, k), dtype="float32")
    b = rng.random((n, k) if transposed else (k, n), dtype="float32")
    expected = _expected(a.astype("float64"), b.astype("float64"), transposed)
    lib = mlc.build(_matmul(m, n, k, transposed=transposed), "llvm", tiered=True)
    assert isinstance(lib, first_tier.FirstTierModule) and lib.is_first_tier
    f = lib["main"]
    c = np.full((m, n), np.nan, "float32")
    f(a, b, c)
    assert numpy_runs == [1]
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)

    built = lib.wait(timeout=BUILD_BOUND_S)
    assert isinstance(built, Module) and not lib.is_first_tier
    # the function the caller holds runs the optimised build's code now
    assert f.kernel is built["main"].kernel and f.checked_kernel is built["main"].checked_kernel
    c[:] = np.nan
    f(a, b, c)
    assert numpy_runs == [1]
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)


def test_int8_product_is_exact_in_both_tiers():
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (5, 9)).astype("int8")
    b = rng.integers(-128, 128, (9, 4)).astype("int8")
    a[0], b[:, 0] = -128, -128  # the largest products
    lib = mlc.build(_matmul(5, 4, 9, "int8", acc="int32"), "llvm", tiered=True)
    c = np.zeros((5, 4), "int32")
    lib["main"](a, b, c)
    expected = np.matmul(a, b, dtype="int32")
    np.testing.assert_array_equal(c, expected)
    lib.wait(timeout=BUILD_BOUND_S)
    c[:] = 0
    lib["main"](a, b, c)
    np.testing.assert_array_equal(c, expected)


def test_batched_contraction_runs_einsum():
    A = te.placeholder((2, 3, 5), "float64", "A")
    B = te.placeholder((5, 4), "float64", "B")
    r = te.reduce_axis((0, 5), "r")
    C = te.compute((2, 3, 4), lambda p, i, j: te.sum(A[p, i, r] * B[r, j], axis=r), "C")
    lib = mlc.build(te.create_prim_func([A, B, C]), "llvm", tiered=True)
    rng = np.random.default_rng(2)
    a, b = rng.random((2, 3, 5)), rng.random((5, 4))
    c = np.empty((2, 3, 4))
    assert isinstance(lib, first_tier.FirstTierModule) and lib.is_first_tier  # (its build begins after a call)
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-12)
    lib.wait(timeout=BUILD_BOUND_S)
    c[:] = np.nan
    lib["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-12)


def test_an_illegal_schedule_is_raised_by_the_next_call():
    def bad(sch):
        sch.get_block("no_such_block")
    lib = mlc.build(_matmul(4, 4, 4), "llvm", bad, tiered=True)
    a = np.ones((4, 4), "float32")
    c = np.empty((4, 4), "float32")
    lib["main"](a, a, c)  # NumPy's run; then the build, which fails
    np.testing.assert_array_equal(c, a @ a)
    with pytest.raises(ScheduleError):
        lib.wait(timeout=BUILD_BOUND_S)
    with pytest.raises(ScheduleError):
        lib["main"](a, a, c)


def test_untiered_and_other_computations_build_at_once():
    assert not isinstance(mlc.build(_matmul(4, 4, 4), "llvm", tiered=False), first_tier.FirstTierModule)
    A = te.placeholder((8, 8), "float32", "A")
    r = te.reduce_axis((0, 8), "r")
    half = te.reduce_axis((0, 4), "half")
    cases = [
        te.compute((8, 8), lambda i, j: te.sum(A[i, half] * A[half, j], axis=half), "C"),  # half of an axis
        te.compute((8, 8, 2), lambda i, j, q: te.sum(A[i, r] * A[r, j], axis=r), "C"),  # q read by no factor
        te.compute((4, 8), lambda i, j: A[i * 2, j], "C"),  # a stride
        te.compute((8,), lambda i: A[i, i], "C"),  # a diagonal
        te.compute((8,), lambda i: te.sum(A[i, r], axis=r), "C"),  # a sum that is no product
    ]
    for C in cases:
        func = te.create_prim_func([A, C])
        assert first_tier.contraction(func) is None and numpy_steps.numpy_steps(func) is None
        assert not isinstance(mlc.build(func, "llvm", tiered=True), first_tier.FirstTierModule)
    for C in (te.compute((8, 8), lambda i, j: A[i + 1, j] * 2, "C"),  # a shifted read past the axis
              te.compute((7, 8), lambda i, j: A[i - 1, j] * 2, "C")):  # a shift before it
        func = te.create_prim_func([A, C])
        assert numpy_steps.numpy_steps(func) is None
        with pytest.raises(CompileError, match="out of bounds"):  # (the build's error, as untiered)
            mlc.build(func, "llvm", tiered=True)
    product = te.compute((8, 8), lambda i, j: te.sum(A[i, r] * A[r, j], axis=r), "P")
    relu = te.compute((8, 8), lambda i, j: te.max(product[i, j], 0), "C")  # two blocks: block by block
    for C in (relu, te.compute((8, 8), lambda i, j: A[i, j] * 2, "C")):
        func = te.create_prim_func([A, C])
        assert first_tier.contraction(func) is None and numpy_steps.numpy_steps(func) is not None
        assert isinstance(mlc.build(func, "llvm", tiered=True), first_tier.FirstTierModule)


def _stencil(m, n):
    """A window sum along both axes of ``A`` (shifted reads) times a broadcast row."""
    A = te.placeholder((m + 2, n + 1), "float32", "A")
    w = te.placeholder((n,), "float32", "w")
    C = te.compute((m, n), lambda i, j: A[i, j] + A[i + 1, j] * w[j] - A[i + 2, 1 + j], "C")
    return te.create_prim_func([A, w, C])


@settings(max_examples=4, deadline=None)
@given(m=sizes, n=sizes, seed=st.integers(0, 2 ** 16))
def test_a_stencil_runs_through_numpy_then_the_optimised_build(m, n, seed):
    rng = np.random.default_rng(seed)
    a, w = rng.standard_normal((m + 2, n + 1), "float32"), rng.standard_normal(n, "float32")
    expected = a[:m, :n] + a[1:m + 1, :n] * w - a[2:, 1:]
    func = _stencil(m, n)
    lib = mlc.build(func, "llvm", tiered=True)
    assert isinstance(lib, first_tier.FirstTierModule) and lib.is_first_tier
    f = lib["main"]
    c = np.full((m, n), np.nan, "float32")
    f(a, w, c)
    theirs = np.empty((m, n), "float32")
    mlc.build(func, "reference")["main"](a, w, theirs)
    np.testing.assert_array_equal(c, theirs)
    np.testing.assert_allclose(c, expected, rtol=1e-6, atol=1e-6)
    built = lib.wait(timeout=BUILD_BOUND_S)
    assert f.kernel is built["main"].kernel and not lib.is_first_tier
    c[:] = np.nan
    f(a, w, c)
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)


def test_a_window_sum_of_2_22_values_takes_the_first_tier():
    """The shifted reads count as the iterators they shift: the window sum of the benchmark's
    size is within the maps' work limit."""
    n = 1 << 22
    A = te.placeholder((n,), "float32", "A")
    B = te.compute((n - 2,), lambda i: A[i] + A[i + 1] + A[i + 2], "B")
    steps = numpy_steps.numpy_steps(te.create_prim_func([A, B]))
    assert tiers.QUICK_WORK_LIMIT < steps.map_work <= first_tier.MAP_WORK_LIMIT


def test_maps_over_the_work_limit_build_at_once(monkeypatch):
    A = te.placeholder((8, 8), "float32", "A")
    func = te.create_prim_func([A, te.compute((8, 8), lambda i, j: A[i, j] * 2 + 1, "C")])
    monkeypatch.setattr(first_tier, "MAP_WORK_LIMIT", numpy_steps.numpy_steps(func).map_work - 1)
    assert not isinstance(mlc.build(func, "llvm", tiered=True), first_tier.FirstTierModule)


def _mm_bias_relu(m, n, k):
    A = te.placeholder((m, k), "float32", "A")
    B = te.placeholder((k, n), "float32", "B")
    bias = te.placeholder((n,), "float32", "bias")
    r = te.reduce_axis((0, k), "r")
    Y = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), "Y")
    Z = te.compute((m, n), lambda i, j: Y[i, j] + bias[j], "Z")
    C = te.compute((m, n), lambda i, j: te.max(Z[i, j], 0), "C")
    return te.create_prim_func([A, B, bias, C])


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=sizes, n=sizes, k=sizes)
def test_mm_bias_relu_runs_block_by_block_then_the_optimised_build(m, n, k, numpy_runs):
    numpy_runs.clear()
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((m, k), "float32"), rng.standard_normal((k, n), "float32")
    bias = rng.standard_normal(n, "float32")
    expected = np.maximum(a.astype("float64") @ b + bias, 0)
    lib = mlc.build(_mm_bias_relu(m, n, k), "llvm", tiered=True)
    assert isinstance(lib, first_tier.FirstTierModule) and lib.is_first_tier
    f = lib["main"]
    c = np.full((m, n), np.nan, "float32")
    f(a, b, bias, c)
    assert numpy_runs == [1]
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)
    built = lib.wait(timeout=BUILD_BOUND_S)
    assert f.kernel is built["main"].kernel and not lib.is_first_tier
    c[:] = np.nan
    f(a, b, bias, c)
    assert numpy_runs == [1]
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)


@settings(max_examples=4, deadline=None)
@given(m=st.sampled_from([1, 2, 5]), n=st.sampled_from([1, 3, 4]), seed=st.integers(0, 2 ** 16))
def test_maps_equal_the_reference_interpreter(m, n, seed):
    """Transposed and broadcast reads, iterators as values, selects, casts, integer division and
    a math call: the first tier's whole-array evaluation against the reference interpreter."""
    A = te.placeholder((n, m), "int32", "A")
    x = te.placeholder((m,), "float32", "x")
    q = te.compute((m, n), lambda i, j: te.if_then_else(A[j, i] > 0, A[j, i] // (i + 1), A[j, i] * j), "q")
    y = te.compute((m, n), lambda i, j: te.exp(q[i, j].astype("float32") * 0.125) * x[i], "y")
    func = te.create_prim_func([A, x, q, y])
    assert [type(s).__name__ for s in numpy_steps.numpy_steps(func).steps] == ["Map", "Map"]
    rng = np.random.default_rng(seed)
    args = [rng.integers(-50, 50, (n, m)).astype("int32"), rng.standard_normal(m).astype("float32")]
    ours = [*args, np.empty((m, n), "int32"), np.empty((m, n), "float32")]
    theirs = [*args, np.empty((m, n), "int32"), np.empty((m, n), "float32")]
    lib = mlc.build(func, "llvm", tiered=True)
    assert isinstance(lib, first_tier.FirstTierModule)
    lib["main"](*ours)
    mlc.build(func, "reference")["main"](*theirs)
    np.testing.assert_array_equal(ours[2], theirs[2])
    np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-6)  # (NumPy's exp, within the op's ulps)
    lib.wait(timeout=BUILD_BOUND_S)


def test_a_target_llvm_refuses_is_raised_by_wait():
    lib = mlc.build(_matmul(4, 4, 4), "llvm -mcpu=no_such_cpu", tiered=True)
    a, c = np.ones((4, 4), "float32"), np.empty((4, 4), "float32")
    lib["main"](a, a, c)
    np.testing.assert_array_equal(c, a @ a)
    with pytest.raises(MLCError, match="no_such_cpu"):
        lib.wait(timeout=BUILD_BOUND_S)


_FRESH = textwrap.dedent("""
    import threading
    import numpy as np
    import llvmlite.binding as llvm
    import mlc
    from mlc import te
    from mlc.target import Target
    on_caller = []
    def spied(real, what):
        def spy(*args):
            if threading.current_thread() is threading.main_thread() and not isinstance(args[0] if args else None, Target):
                on_caller.append(what)
            return real(*args)
        return spy
    llvm.initialize_native_target = spied(llvm.initialize_native_target, "LLVM started")
    Target.from_str = staticmethod(spied(Target.from_str, "target parsed"))
    A = te.placeholder((128, 128), "float32", "A")
    r = te.reduce_axis((0, 128), "r")
    Y = te.compute((128, 128), lambda i, j: te.sum(A[i, r] * A[r, j], axis=r), "Y")
    lib = mlc.build(te.create_prim_func([A, Y]), "llvm", tiered=True)
    a, c = np.ones((128, 128), "float32"), np.empty((128, 128), "float32")
    lib["main"](a, c)
    first = list(on_caller)
    assert (c == 128).all() and lib.wait(timeout=120) is not None and not lib.is_first_tier
    print(first)
""")


def test_the_first_tier_starts_no_llvm_on_the_callers_thread():
    """In a fresh process (LLVM not started yet), ``mlc.build`` and the first call run without
    parsing the target or starting LLVM on the caller's thread: the background build does."""
    done = subprocess.run([sys.executable, "-c", _FRESH], capture_output=True, text=True, timeout=BUILD_BOUND_S)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_int32_products_that_may_wrap_are_not_tiered():
    assert first_tier.contraction(_matmul(4, 4, 4, "int32")["main"]) is None
    assert first_tier.contraction(_matmul(4, 4, 4, "int8", acc="int32")["main"]) is not None


def _chain_map(dtype, out_dtype, transposed_out):
    """``C = ((X * s) - X.T) + 3`` in ``dtype`` (the output cast to ``out_dtype``), C written
    transposed where asked: a chain of binary operators over broadcast and transposed reads."""
    n = 6
    X = te.placeholder((n, n), dtype, "X")
    s = te.placeholder((n,), dtype, "s")

    def value(i, j):
        v = X[i, j] * s[j] - X[j, i] + te.const(3, dtype)
        return v if out_dtype == dtype else v.astype(out_dtype)
    C = te.compute((n, n), (lambda i, j: value(j, i)) if transposed_out else value, "C")
    return te.create_prim_func([X, s, C]), n


@settings(max_examples=8, deadline=None)
@given(dtype=st.sampled_from(["float32", "float64", "float16", "int8", "int32", "uint8"]),
       cast=st.sampled_from([None, "float64", "int16"]), transposed_out=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_a_chain_evaluated_into_the_output_equals_the_reference_interpreter(dtype, cast, transposed_out, seed):
    """Each step of a map's chain written into the output (where NumPy computes it in the
    output's dtype) gives the reference interpreter's values bit for bit: wrapping integers,
    float16, a cast at the end, a transposed store."""
    func, n = _chain_map(dtype, cast or dtype, transposed_out)
    rng = np.random.default_rng(seed)
    args = [rng.integers(-100, 100, (n, n)).astype(dtype), rng.integers(-100, 100, n).astype(dtype)]
    ours, theirs = [*args, np.empty((n, n), cast or dtype)], [*args, np.empty((n, n), cast or dtype)]
    numpy_steps.numpy_steps(func).run(ours)
    with np.errstate(all="ignore"):
        mlc.build(func, "reference")["main"](*theirs)
    np.testing.assert_array_equal(ours[2], theirs[2])


def test_a_chain_map_writes_its_output_and_no_temporary_of_its_size():
    """The first tier of ``x * s + 1`` allocates nothing the size of its grid: each step is
    written into the output (a large map's first call pays for touching new memory once)."""
    import tracemalloc
    shape = (512, 256)
    X = te.placeholder(shape, "float32", "X")
    s = te.placeholder(shape[1:], "float32", "s")
    C = te.compute(shape, lambda i, j: X[i, j] * s[j] + 1, "C")
    steps = numpy_steps.numpy_steps(te.create_prim_func([X, s, C]))
    x, v, out = np.ones(shape, "float32"), np.arange(shape[1], dtype="float32"), np.empty(shape, "float32")
    tracemalloc.start()
    try:
        steps.run([x, v, out])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, x * v + 1)
    assert peak < out.nbytes // 4
    same = np.ones(shape, "float32")  # the output passed as the input too: evaluated before it is written
    steps.run([same, v, same])
    np.testing.assert_array_equal(same, x * v + 1)
