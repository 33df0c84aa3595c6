"""Vectorized and unrolled loops of the llvm backend.

Vectorized loops become SIMD code on the host's widest registers (ymm on
AVX2 machines), math calls included (no libm call is left in them), and
compute what NumPy does; unrolled loops leave no loop behind.
"""
import re

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends.llvm.loops import MAX_UNROLL
from mlc.backends.llvm.module import generate_ir
from mlc.backends.target import host_cpu
from mlc.passes.tir import lower

TARGET = mlc.Target.from_str("llvm")
HAS_AVX2 = "+avx2" in host_cpu()[1].split(",")
needs_avx2 = pytest.mark.skipif(not HAS_AVX2, reason="the host has no AVX2 (no ymm registers)")


def scheduled(fn, n, dtype, width=8, parallel=False, n_inputs=1):
    """``Y[i] = fn(X0[i], ...)`` with ``i`` split by ``width``, the inner loop vectorized."""
    xs = [te.placeholder((n,), dtype, f"X{k}") for k in range(n_inputs)]
    Y = te.compute((n,), lambda i: fn(*(x[i] for x in xs)), "Y")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([*xs, Y])}))
    (i,) = sch.get_loops(sch.get_block("Y"))
    outer, inner = sch.split(i, [None, width])
    sch.vectorize(inner)
    if parallel:
        sch.parallel(outer)
    return mlc.build(sch.mod, "llvm")


def simd(asm, suffix):
    """Vector arithmetic instructions on ymm registers with suffix ps/pd found in ``asm``."""
    return set(re.findall(rf"\b(v(?:mul|add|sub|div|fmadd\d*|fnmadd\d*){suffix})\s+[^\n]*%ymm", asm))


@needs_avx2
@pytest.mark.parametrize("dtype, suffix", [("float32", "ps"), ("float64", "pd")])
@pytest.mark.parametrize("n", [1024, 1001])  # 1001: the last vector iteration is guarded
def test_vectorized_elementwise_loop_is_simd_on_ymm(dtype, suffix, n):
    lib = scheduled(lambda x, y: x * y + x, n, dtype, n_inputs=2)
    found = simd(lib.get_source("asm"), suffix)
    assert found & {f"vmul{suffix}", f"vadd{suffix}"}, found
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal((2, n)).astype(dtype)
    out = np.empty(n, dtype)
    lib["main"](x, y, out)
    np.testing.assert_array_equal(out, x * y + x)


@needs_avx2
@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid", "erf"])
@pytest.mark.parametrize("dtype, suffix", [("float32", "ps"), ("float64", "pd")])
def test_math_calls_in_vectorized_loops_are_simd_without_libm(op, dtype, suffix):
    fn = getattr(te, op)
    lib = scheduled(lambda x: fn(x) * 2.0, 256, dtype, parallel=True)
    asm = lib.get_source("asm")
    assert re.search(r"\bcall[q]?\s+[^\n]*(exp|log|tanh|erf)", asm) is None
    assert len(simd(asm, suffix)) >= 2
    x = np.random.default_rng(0).uniform(0.01 if op == "log" else -6, 6, 256).astype(dtype)
    out = np.empty_like(x)
    lib["main"](x, out)
    from .test_vector_math import reference
    rtol = 4e-7 if dtype == "float32" else 1e-15
    np.testing.assert_allclose(out, (reference(op, x) * 2).astype(dtype), rtol=rtol)


@needs_avx2
def test_parallel_outer_vectorized_inner_is_simd_in_the_task():
    lib = scheduled(lambda x: te.exp(x) + x, 1 << 14, "float32", width=8, parallel=True)
    ll = lib.get_source("ll")
    task = ll[ll.index("define internal void @__mlc_par.main.task"):]
    assert "<8 x float>" in task.split("\n}")[0]
    x = np.linspace(-3, 3, 1 << 14, dtype="float32")
    out = np.empty_like(x)
    lib["main"](x, out)
    np.testing.assert_allclose(out, np.exp(x) + x, rtol=3e-7, atol=3e-7)  # x + exp(x) cancels near -0.57


def unrolled(n, m, kind):
    A = te.placeholder((n, m), "float32", "A")
    B = te.compute((n, m), lambda i, j: A[i, j] * (j + 1).astype("float32") + A[i, m - 1 - j], "B")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    i, j = sch.get_loops(sch.get_block("B"))
    if kind == "unrolled":
        sch.unroll(j)
    return sch.mod


@pytest.mark.parametrize("m", [1, 5, MAX_UNROLL])
def test_unrolled_loops_leave_no_loop(m):
    mod = unrolled(37, m, "unrolled")
    assert "j.header" in generate_ir({"f": lower(unrolled(37, m, "serial")["main"])}, TARGET) or m == 1
    assert "j.header" not in generate_ir({"f": lower(mod["main"])}, TARGET)
    lib = mlc.build(mod, "llvm")
    assert "j.header" not in lib.get_source("ll") and "llvm.loop.unroll.full" not in lib.get_source("ll")
    a = np.random.default_rng(m).standard_normal((37, m)).astype("float32")
    b = np.empty_like(a)
    lib["main"](a, b)
    np.testing.assert_array_equal(b, a * np.arange(1, m + 1, dtype="float32") + a[:, ::-1])


def test_long_unrolled_loops_ask_llvm_to_unroll():
    text = generate_ir({"f": lower(unrolled(3, MAX_UNROLL + 1, "unrolled")["main"])}, TARGET)
    assert "llvm.loop.unroll.full" in text


def test_nested_unrolled_loops_are_written_out_within_the_copy_budget():
    A = te.placeholder((4, 4, 40), "float32", "A")
    B = te.compute((4, 4, 40), lambda i, j, k: A[i, j, k] * 2, "B")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    i, j, k = sch.get_loops(sch.get_block("B"))
    for loop in (i, j, k):
        sch.unroll(loop)
    text = generate_ir({"f": lower(sch.mod["main"])}, TARGET)
    # 4 * 4 copies fit in MAX_UNROLL; 4 * 4 * 40 do not: k stays a loop, marked for LLVM
    assert "i.header" not in text and "j.header" not in text and "k.header" in text
    assert "llvm.loop.unroll.full" in text
    lib = mlc.build(sch.mod, "llvm")
    a = np.random.default_rng(0).standard_normal((4, 4, 40)).astype("float32")
    b = np.empty_like(a)
    lib["main"](a, b)
    np.testing.assert_array_equal(b, a * 2)
