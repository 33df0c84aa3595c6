"""complex64 and complex128 on the GPU backends: arithmetic, ==/!=, conj/real/imag, abs, exp, log,
sqrt, casts, sums and products (across threads by warp shuffles of both parts) and matmul, built
for ``cuda-emulator`` and compared with NumPy (Hypothesis sizes with 1 and odd ones; NaNs,
infinities and signed zeros); the same programs' CUDA C compiled by NVRTC for sm_80 and sm_90;
and run on a GPU where there is one (their math against NumPy on every special value too)."""
import functools
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.testing as mt
from mlc import te
from mlc.backends.cuda import compile_sources, emulate, lower
from mlc.backends.cuda.complex import PRELUDE as COMPLEX_PRELUDE
from mlc.passes.tir.lower_complex import COMPLEX_MATH
from mlc.driver import schedule_module
from mlc.ops import get_op

from . import programs_complex as P
from .conftest import ARCHS, NVRTC_MISSING, TARGETS, needs_gpu
from .programs_complex import close_or_special, exactly, special_values

COMPLEX = ("complex64", "complex128")
#: The math calls of the elementwise program: float formulas, within a few ulps of NumPy's libm.
ROUNDING = ("abs", "exp", "log", "sqrt")


def _rtol(dtype):
    """Of sums and products: their order differs from NumPy's."""
    return 1e-4 if dtype == "complex64" else 1e-10


def run(mod, n_inputs, arrays, target="cuda-emulator"):
    outs = P.outputs(mod, n_inputs)
    mlc.build(mod, target)["main"](*arrays, *outs)
    return outs


def check_elementwise(a, b, dtype, runner=run, rounding=()):
    """The elementwise program (:data:`programs_complex.ELEMENTWISE`) run by ``runner`` on
    ``a`` and ``b``: each op NumPy's exactly (signs of zeros included), division as
    :func:`programs_complex.assert_division_agrees` says, those of ``rounding`` within a few
    ulps away from special values."""
    mod, k, want = P.elementwise(len(a), dtype)
    with np.errstate(all="ignore"):
        expected = want(a, b)
    for op, got, w in zip(P.ELEMENTWISE, runner(mod, k, [a, b]), expected):
        if op == "div":  # NumPy's where no operand needs scaling; the exact quotient where one does
            P.assert_division_agrees(got, a, b, op)
        elif op in rounding:
            close_or_special(got, w, dtype, op)
        else:
            exactly(got, w, op)


# ------------------------------------------------------------------ the emulator against NumPy

@pytest.mark.parametrize("dtype", COMPLEX)
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_elementwise_complex_ops_match_numpy_on_the_emulator(dtype, data):
    """Each op of the program, on drawn values (NaN and infinite parts among them): the
    arithmetic exactly NumPy's, signs of zeros included; the math calls, which the emulator
    computes by the formulas every GPU backend runs (mlc/passes/tir/lower_complex.py), within
    a few ulps (special values exactly)."""
    n = data.draw(st.integers(1, 300), label="n")
    a = data.draw(mt.arrays(dtype, (n,), special=("nan", "inf")), label="a")
    b = data.draw(mt.arrays(dtype, (n,), special=("nan", "inf")), label="b")
    check_elementwise(a, b, dtype, rounding=ROUNDING)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_elementwise_complex_ops_on_every_pair_of_special_values_on_the_emulator(dtype):
    values = special_values(dtype)
    check_elementwise(np.repeat(values, len(values)), np.tile(values, len(values)), dtype, rounding=ROUNDING)


@pytest.mark.parametrize("dtype", COMPLEX)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_casts_to_and_from_complex_match_numpy_on_the_emulator(dtype, data):
    n = data.draw(st.integers(1, 100), label="n")
    z = data.draw(mt.arrays(dtype, (n,), special=("nan", "inf")), label="z")
    f = data.draw(mt.arrays("float32", (n,), special=("nan", "inf")), label="f")
    k = data.draw(mt.arrays("int16", (n,)), label="k")
    mod, n_in, want = P.casts(n, dtype)
    with np.errstate(all="ignore"):
        expected = want(z, f, k)
    for got, w in zip(run(mod, n_in, [z, f, k]), expected):
        exactly(got, w)


def _unit_circle(rng_draw, shape, dtype):
    """Values of modulus about 1 (products of many of them neither overflow nor vanish)."""
    angles = rng_draw(mt.arrays("float64", shape, bound=math.pi), label="angles")
    return np.exp(1j * angles).astype(dtype)


@pytest.mark.parametrize("dtype", COMPLEX)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_complex_sums_and_products_match_numpy_on_the_emulator(dtype, data):
    """Short rows reduce in one thread; rows of 64 elements or more across the threads of a
    block, combined by warp shuffles of both parts."""
    rows = data.draw(st.integers(1, 4), label="rows")
    cols = data.draw(st.sampled_from([1, 3, 17, 63, 64, 65, 257, 1000]), label="cols")
    x = _unit_circle(data.draw, (rows, cols), dtype)
    for name, (mod, k, want) in P.reductions(rows, cols, dtype).items():
        (got,) = run(mod, k, [x])
        mt.assert_close(got, want(x)[0], rtol=_rtol(dtype), atol=_rtol(dtype) * cols, what=name)


def test_long_complex_sums_reduce_across_threads_by_shuffles_on_the_emulator():
    mod, k, _ = P.reductions(2, 300, "complex128")["sum"]
    lib = mlc.build(mod, "cuda-emulator")
    x = np.arange(600).reshape(2, 300) * (1 - 2j)
    lib["main"](x, np.empty(2, "complex128"))
    assert sum(s.shuffles for s in lib.kernel_stats()) > 0
    assert "T.shfl_down" in lower(schedule_module(mod, "cuda")).script()


@pytest.mark.parametrize("dtype", COMPLEX)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_complex_matmul_matches_numpy_on_the_emulator(dtype, data):
    m, k, n = (data.draw(st.sampled_from([1, 2, 7, 32, 33, 40]), label=s) for s in "mkn")
    a = data.draw(mt.arrays(dtype, (m, k), bound=2.0), label="a")
    b = data.draw(mt.arrays(dtype, (k, n), bound=2.0), label="b")
    mod, n_in, want = P.matmul(m, k, n, dtype)
    (got,) = run(mod, n_in, [a, b])
    mt.assert_close(got, want(a, b)[0], rtol=_rtol(dtype), atol=_rtol(dtype) * k * 8)


# ------------------------------------------------------------------ CUDA C, compiled by NVRTC

@functools.cache
def _modules(dtype):
    """Every complex program, GPU-scheduled: one module of several functions (scheduled once
    per dtype; the tests only read it)."""
    funcs = {"elementwise": P.elementwise(67, dtype)[0]["main"], "casts": P.casts(67, dtype)[0]["main"],
             "matmul": P.matmul(33, 20, 40, dtype)[0]["main"]}
    for name, (mod, _, _) in P.reductions(3, 300, dtype).items():
        funcs[name] = mod["main"]
    for op in sorted(COMPLEX_MATH):  # every complex math call
        funcs[f"call_{op}"] = P.math_call(33, op, dtype)[0]["main"]
    return schedule_module(mlc.IRModule(funcs), "cuda")


#: The CUDA C of a module does not depend on the architecture (only NVRTC's cubin does): each
#: dtype is compiled for one architecture, and each architecture compiles one dtype.
DTYPE_ARCHS = tuple(zip(COMPLEX, ARCHS))


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("dtype, arch", DTYPE_ARCHS)
def test_complex_programs_compile_with_nvrtc(dtype, arch):
    code, cubin = compile_sources(_modules(dtype), TARGETS[arch])
    assert cubin[:4] == b"\x7fELF"
    kernels = code.replace(COMPLEX_PRELUDE, "")
    ctype = "mlc_complex64" if dtype == "complex64" else "mlc_complex128"
    assert f"const {ctype}* __restrict__ A" in code
    # the arithmetic and math are float TIR (lower_complex): the kernels take parts apart and put
    # them together, and shuffle both parts across a warp
    fma = "fmaf(" if dtype == "complex64" else "fma("
    for text in ("mlc_shfl_down(__activemask(), ", ").re", ").im", f"{ctype}{{", fma):
        assert text in kernels, text
    assert not re.search(r"mlc_c(add|sub|mul|div|exp|log|sqrt|abs|sin|cos|tan|ast|eq|ne)\b", kernels)  # no helper left
    assert "float4" not in code and "double2" not in code  # complex buffers: element by element


#: Ops of the library whose complex lowering composes real ops, selects and complex(re, im)
#: (NumPy's sign, reciprocal, rint, power: tests/ops/test_complex.py), and its reductions:
#: op -> its number of operands.
LIBRARY_OPS = {"sign": 1, "square": 1, "reciprocal": 1, "rint": 1, "power": 2, "sum": 1, "prod": 1, "mean": 1,
               "matmul": 2}


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("dtype, arch", DTYPE_ARCHS)
def test_the_op_librarys_complex_lowerings_compile_with_nvrtc(dtype, arch):
    funcs = {}
    for name, arity in LIBRARY_OPS.items():
        args = [te.placeholder((5, 5), dtype, f"x{k}") for k in range(arity)]
        outs = get_op(name).lower(*args, **({"axis": 1} if name in ("sum", "prod", "mean") else {}))
        funcs[f"{name}_{dtype}"] = te.create_prim_func([*args, outs])
    code, cubin = compile_sources(schedule_module(mlc.IRModule(funcs), "cuda"), TARGETS[arch])
    assert cubin[:4] == b"\x7fELF" and all(f"{name}_kernel" in code for name in funcs)


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_the_complex_helpers_come_once_and_only_where_used():
    real = schedule_module(mlc.IRModule({"f": P.elementwise(8, "complex64", ("real",))[0]["main"]}), "cuda")
    assert "mlc_complex" in compile_sources(real, TARGETS["sm_80"])[0]  # complex parameters need the type
    A = te.placeholder((8,), "float32", "A")
    plain = schedule_module(mlc.IRModule({"f": te.create_prim_func([A, te.compute((8,), lambda i: A[i] * 2,
                                                                                      "B")])}), "cuda")
    assert "mlc_complex" not in compile_sources(plain, TARGETS["sm_80"])[0]
    lib = mlc.build(_modules("complex128"), "cuda")  # one source: the helpers once
    assert lib.get_source("cuda").count(COMPLEX_PRELUDE) == 1


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("dtype", COMPLEX)
def test_complex_formulas_round_their_products_as_numpy_does(dtype):
    """CUDA C contracts ``a + b * c`` into one fma by default: Smith's division would then
    round differently from NumPy's loops. The formulas' products are rounded on their own
    (``__fmul_rn``); a real kernel keeps the contraction its sums of products want."""
    real = "float32" if dtype == "complex64" else "float64"
    z = np.ones(4, dtype)
    divide = mlc.jit(lambda a, b: a / b, target="cuda-emulator").lower(z, z).scheduled()
    code = compile_sources(divide, TARGETS["sm_80"])[0]
    rounded = "__fmul_rn(" if real == "float32" else "__dmul_rn("
    assert code.count(rounded) >= 4, code  # ai * rat, ar * rat, bi * rat, br * rat2, ...
    x = np.ones(4, real)
    plain = mlc.jit(lambda a, b: a * b + a, target="cuda-emulator").lower(x, x).scheduled()
    assert "mul_rn(" not in compile_sources(plain, TARGETS["sm_80"])[0]


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_a_vectorized_complex_loop_stays_a_loop_of_element_accesses():
    """The vectorizer leaves complex loops alone: no float4 access of interleaved pairs."""
    A = te.placeholder((64,), "complex64", "A")
    B = te.compute((64,), lambda i: A[i] * A[i], "B")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    b, t, v = sch.split(sch.get_loops(sch.get_block("B"))[0], [None, 8, 4])
    sch.bind(b, "blockIdx.x")
    sch.bind(t, "threadIdx.x")
    sch.vectorize(v)
    code, _ = compile_sources(sch.mod, TARGETS["sm_80"])
    assert "float4" not in code and "B[(((i_0 * 32) + (i_1 * 4)) + i_2)] = mlc_complex64{fmaf(" in code
    a = (np.arange(64) - 1j * np.arange(64)).astype("complex64")
    got = np.empty_like(a)
    emulate(sch.mod)["main"](a, got)
    exactly(got, a * a)


# ------------------------------------------------------------------ on a GPU

def _on_gpu(mod, n_inputs, arrays):
    import cupy as cp
    outs = [cp.asarray(o) for o in P.outputs(mod, n_inputs)]
    mlc.build(mod, "cuda")["main"](*(cp.asarray(a) for a in arrays), *outs)
    return [o.get() for o in outs]


@needs_gpu
@pytest.mark.parametrize("dtype", COMPLEX)
def test_complex_programs_on_the_gpu(dtype):
    rng = np.random.default_rng(0)
    values = special_values(dtype)
    # arithmetic bit for bit (NumPy's loops step by step); the math library's calls to a few ulps
    check_elementwise(np.repeat(values, len(values)), np.tile(values, len(values)), dtype, _on_gpu,
                      rounding=ROUNDING)
    f, k16 = values.real.astype("float32"), rng.integers(-300, 300, len(values)).astype("int16")
    mod, k, want = P.casts(len(values), dtype)
    with np.errstate(all="ignore"):
        expected = want(values, f, k16)
    for got, w in zip(_on_gpu(mod, k, [values, f, k16]), expected):
        exactly(got, w, "casts")
    x = np.exp(1j * rng.uniform(-3, 3, (3, 1000))).astype(dtype)
    for name, (mod, k, want) in P.reductions(3, 1000, dtype).items():
        mt.assert_close(_on_gpu(mod, k, [x])[0], want(x)[0], rtol=_rtol(dtype), atol=_rtol(dtype) * 1000,
                        what=name)
    p, q = (rng.standard_normal((2, 33, 40)) + 1j * rng.standard_normal((2, 33, 40))).astype(dtype)
    mod, k, want = P.matmul(33, 40, 33, dtype)
    mt.assert_close(_on_gpu(mod, k, [p, q.T.copy()])[0], want(p, q.T)[0], rtol=_rtol(dtype), atol=_rtol(dtype) * 40)


@needs_gpu
@pytest.mark.parametrize("dtype", COMPLEX)
def test_every_complex_math_call_on_special_values_on_the_gpu(dtype):
    x = special_values(dtype)
    for op in sorted(COMPLEX_MATH):
        mod, k, want = P.math_call(len(x), op, dtype)
        (got,) = _on_gpu(mod, k, [x])
        with np.errstate(all="ignore"):
            close_or_special(got, want(x)[0], dtype, op)


def _library_power(n, dtype):
    args = [te.placeholder((n,), dtype, f"x{k}") for k in range(2)]
    return mlc.IRModule({"main": te.create_prim_func([*args, get_op("power").lower(*args)])})


def _power_operands(dtype):
    rng = np.random.default_rng(1)
    z = (rng.standard_normal(64) + 1j * rng.standard_normal(64)).astype(dtype)
    w = np.tile(np.array([2, -3, 0.5, 1 + 1j, 99, 100, 1j, -2.5], dtype), 8)
    return z, w


@pytest.mark.parametrize("dtype", COMPLEX)
def test_the_op_librarys_power_on_the_emulator(dtype):
    """The kernels whose repeated values tir.cse binds and lower_complex computes once by value
    (log z in each part of exp(w log z)), run as the GPU would run them."""
    z, w = _power_operands(dtype)
    (got,) = run(_library_power(64, dtype), 2, [z, w])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got, np.power(z, w), rtol=_rtol(dtype))


@needs_gpu
@pytest.mark.parametrize("dtype", COMPLEX)
def test_the_op_librarys_power_on_the_gpu(dtype):
    z, w = _power_operands(dtype)
    (got,) = _on_gpu(_library_power(64, dtype), 2, [z, w])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got, np.power(z, w), rtol=_rtol(dtype))
