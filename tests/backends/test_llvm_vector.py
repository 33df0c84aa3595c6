"""Vectorized and unrolled loops of the llvm backend.

Vectorized loops become SIMD code on the CPU's vector registers (ymm with
AVX2; zmm with AVX-512 where the loop's width fills one), math calls
included (no libm call is left in them), and compute what NumPy does;
unrolled loops leave no loop behind. The assembly is read for pinned CPUs
(:mod:`tests.targets`) on any host; the results are checked on the host.
"""
import re

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends.llvm import compile_sources
from mlc.passes.tir.unroll import MAX_UNROLL
from mlc.backends.llvm.module import generate_ir
from mlc.passes.tir import lower
from tests.targets import AVX2, each_pinned_target

TARGET = AVX2


def scheduled(fn, n, dtype, width=8, parallel=False, n_inputs=1) -> mlc.IRModule:
    """``Y[i] = fn(X0[i], ...)`` with ``i`` split by ``width``, the inner loop vectorized."""
    xs = [te.placeholder((n,), dtype, f"X{k}") for k in range(n_inputs)]
    Y = te.compute((n,), lambda i: fn(*(x[i] for x in xs)), "Y")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([*xs, Y])}))
    (i,) = sch.get_loops(sch.get_block("Y"))
    outer, inner = sch.split(i, [None, width])
    sch.vectorize(inner)
    if parallel:
        sch.parallel(outer)
    return sch.mod


def simd(asm, suffix, register):
    """Vector arithmetic instructions with suffix ps/pd on ``register`` (ymm, zmm) in ``asm``."""
    return set(re.findall(rf"\b(v(?:mul|add|sub|div|fmadd\d*|fnmadd\d*){suffix})\s+[^\n]*%{register}", asm))


#: The register 8 lanes of each dtype fill: 8 doubles are a zmm with AVX-512, two ymm without.
REGISTER = {("avx2", "float32"): "ymm", ("avx2", "float64"): "ymm",
            ("avx512", "float32"): "ymm", ("avx512", "float64"): "zmm"}


@each_pinned_target
@pytest.mark.parametrize("dtype, suffix", [("float32", "ps"), ("float64", "pd")])
@pytest.mark.parametrize("n", [1024, 1001])  # 1001: the last vector iteration is guarded
def test_vectorized_elementwise_loop_is_simd(isa, target, dtype, suffix, n):
    asm = compile_sources(scheduled(lambda x, y: x * y + x, n, dtype, n_inputs=2), target)["asm"]
    found = simd(asm, suffix, REGISTER[isa, dtype])
    assert found & {f"vmul{suffix}", f"vadd{suffix}"}, found
    assert not simd(asm, suffix, "zmm" if REGISTER[isa, dtype] == "ymm" else "ymm"), "one register width"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1024, 1001])
def test_vectorized_elementwise_loop_computes_what_numpy_does(dtype, n):
    lib = mlc.build(scheduled(lambda x, y: x * y + x, n, dtype, n_inputs=2), "llvm")
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal((2, n)).astype(dtype)
    out = np.empty(n, dtype)
    lib["main"](x, y, out)
    np.testing.assert_array_equal(out, x * y + x)


MATH = ["exp", "log", "tanh", "sigmoid", "erf"]


def math_program(op, dtype):
    fn = getattr(te, op)
    return scheduled(lambda x: fn(x) * 2.0, 256, dtype, parallel=True)


@each_pinned_target
@pytest.mark.parametrize("op", MATH)
@pytest.mark.parametrize("dtype, suffix", [("float32", "ps"), ("float64", "pd")])
def test_math_calls_in_vectorized_loops_are_simd_without_libm(isa, target, op, dtype, suffix):
    asm = compile_sources(math_program(op, dtype), target)["asm"]
    assert re.search(r"\bcall[q]?\s+[^\n]*(exp|log|tanh|erf)", asm) is None
    assert len(simd(asm, suffix, REGISTER[isa, dtype])) >= 2


@pytest.mark.parametrize("op", MATH)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_math_calls_in_vectorized_loops_compute_what_numpy_does(op, dtype):
    lib = mlc.build(math_program(op, dtype), "llvm")
    x = np.random.default_rng(0).uniform(0.01 if op == "log" else -6, 6, 256).astype(dtype)
    out = np.empty_like(x)
    lib["main"](x, out)
    from .test_vector_math import reference
    rtol = 4e-7 if dtype == "float32" else 1e-15
    np.testing.assert_allclose(out, (reference(op, x) * 2).astype(dtype), rtol=rtol)


def exp_plus_x():
    return scheduled(lambda x: te.exp(x) + x, 1 << 14, "float32", width=8, parallel=True)


@each_pinned_target
def test_parallel_outer_vectorized_inner_is_simd_in_the_body_function(isa, target):
    """The loop body is a function of its own (the task that calls it is not optimised)."""
    ll = compile_sources(exp_plus_x(), target)["ll"]
    body = ll[ll.index("void @__mlc_par.main("):]
    assert "<8 x float>" in body.split("\n}")[0]
    task = ll[ll.index("define internal void @__mlc_par.main.task"):].split("\n}")[0]
    assert "call fastcc void @__mlc_par.main(" in task and "<8 x float>" not in task


def test_parallel_outer_vectorized_inner_computes_what_numpy_does():
    lib = mlc.build(exp_plus_x(), "llvm")
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
