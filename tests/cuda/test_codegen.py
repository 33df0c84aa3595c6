"""CUDA C from GPU schedules, compiled by NVRTC for sm_80 and sm_90 (no GPU needed):
every program of the CUDA tests compiles, and the rendering of what the emulator
cannot see (types, literals, math calls, 64-bit indices) is pinned here."""
import re

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.backends.cuda import compile_sources, emulate, render, lower
from mlc.backends.registry import BuildOptions
from mlc.backends.cuda.nvrtc import cuda_include_dir
from mlc.driver import schedule_module
from mlc.errors import CompileError
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, Var, const
from mlc.ir.tir import Allocate, BufferStore, For, PrimFunc, seq

from .conftest import ARCHS, NVRTC_MISSING, TARGETS, needs_gpu
from .programs import (matmul, row_sum, schedule_matmul_local, schedule_matmul_shared, schedule_row_sum,
                       schedule_vector_add, schedule_window_sum, vector_add, window_sum)

pytestmark = pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))


def _elementwise(fn, dtype="float32", n=1000, inputs=1):
    args = [te.placeholder((n,), dtype, f"X{k}") for k in range(inputs)]
    out = te.compute((n,), lambda i: fn(*(a[i] for a in args)), "Y")
    return mlc.IRModule({"main": te.create_prim_func([*args, out])})


def _gpu(mod):
    """``mod`` with the default GPU schedule where nobody scheduled it (the rules of the
    target's "gpu" key, applied by the driver: the backend itself never schedules)."""
    return schedule_module(mod, "cuda")


def _softmax(rows, cols):
    A = te.placeholder((rows, cols), "float32", "A")
    k = te.reduce_axis((0, cols), "k")
    M = te.compute((rows,), lambda i: te.max(A[i, k], axis=k), "M")
    E = te.compute((rows, cols), lambda i, j: te.exp(A[i, j] - M[i]), "E")
    k2 = te.reduce_axis((0, cols), "k2")
    S = te.compute((rows,), lambda i: te.sum(E[i, k2], axis=k2), "S")
    Y = te.compute((rows, cols), lambda i, j: E[i, j] / S[i], "Y")
    return mlc.IRModule({"main": te.create_prim_func([A, Y])})


def _scalar():
    A = te.placeholder((), "float32", "A")
    return mlc.IRModule({"main": te.create_prim_func([A, te.compute((), lambda: A[()] * 2.0 + 1.0, "B")])})


def _sum_to_scalar(n):
    A = te.placeholder((n,), "float32", "A")
    k = te.reduce_axis((0, n), "k")
    return mlc.IRModule({"main": te.create_prim_func([A, te.compute((), lambda: te.sum(A[k], axis=k), "S")])})


def _op(name, shape, dtype, **attrs):
    from mlc.ops import get_op
    A = te.placeholder(shape, dtype, "A")
    return mlc.IRModule({"main": te.create_prim_func([A, get_op(name).lower(A, **attrs)])})


#: Programs the default GPU schedule takes charge of, as te writes them.
UNSCHEDULED = {
    "default_softmax": lambda: _softmax(37, 300),
    "default_matmul": lambda: matmul(50, 45, 70),
    "default_gelu": lambda: _elementwise(lambda x: 0.5 * x * (1 + te.tanh(0.79788456 * (x + 0.044715 * x * x * x)))),
    "default_math": lambda: _elementwise(lambda x: te.exp(x) + te.log(te.abs(x) + 1) + te.sigmoid(x) + te.erf(x)
                                         + te.sqrt(te.abs(x)) + te.floor(x) + te.round(x) + te.max(x, 0)),
    "default_float64": lambda: _elementwise(lambda x: te.exp(x) / (x + 2.0), "float64"),
    # constant powers: lower_pow's products in double and its square root of a magnitude
    "default_powers": lambda: _elementwise(lambda x: te.pow(x, te.const(3.0, "float32"))
                                           + te.pow(x, te.const(-5.0, "float32"))
                                           + te.pow(te.abs(x) + 1, te.const(-1.5, "float32"))),
    "default_int_division": lambda: _elementwise(lambda a, b: a // b + a % b + te.min(a, b), "int32", inputs=2),
    "default_int64": lambda: _elementwise(lambda a: a * 3 - 1, "int64"),
    "default_select": lambda: _elementwise(lambda x: te.if_then_else(x > 0, x, x * 0.1)),
    # no loop left to bind (0-d, one element, a small reduction into a 0-d result): one thread
    "default_scalar": _scalar,
    "default_one_element": lambda: _elementwise(lambda x: x * 2.0, n=1),
    "default_sum_to_scalar": lambda: _sum_to_scalar(3),
    # or-reductions stay off the cross-thread reduction
    "default_any": lambda: _op("any", (4, 4, 4), "float32", axis=(1, 2)),
}

PROGRAMS = {
    "vector_add": lambda: schedule_vector_add(vector_add(1 << 20)).mod,
    "window_sum": lambda: schedule_window_sum(window_sum(1 << 20)).mod,
    "window_sum_ragged": lambda: schedule_window_sum(window_sum(1000)).mod,
    "matmul_local": lambda: schedule_matmul_local(matmul(1024)).mod,
    "matmul_shared": lambda: schedule_matmul_shared(matmul(1024)).mod,
    "matmul_shared_ragged": lambda: schedule_matmul_shared(matmul(72)).mod,
    "row_sum": lambda: schedule_row_sum(row_sum(8, 1000), 128).mod,
    **{name: (lambda make=make: _gpu(make())) for name, make in UNSCHEDULED.items()},
}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_every_program_compiles_with_nvrtc(program, arch):
    code, cubin = compile_sources(PROGRAMS[program](), TARGETS[arch])
    assert 'extern "C" __global__' in code
    assert cubin[:4] == b"\x7fELF"  # a cubin is an ELF image


@pytest.mark.parametrize("program", ["default_softmax", "default_matmul", "default_gelu", "default_math",
                                     "default_float64", "default_powers", "default_int_division", "default_select",
                                     "default_scalar", "default_one_element", "default_sum_to_scalar",
                                     "default_any"])
def test_default_schedules_run_on_the_emulator(program):
    mod = PROGRAMS[program]()
    func = mod["main"]
    unscheduled = UNSCHEDULED[program]()
    rng = np.random.default_rng(0)
    args = []
    for p in func.params:
        shape = tuple(int(e.value) for e in p.shape)
        if p.dtype.startswith("int"):
            args.append(rng.integers(-50, 50, shape).astype(p.dtype))
        else:
            args.append(rng.standard_normal(shape).astype(p.dtype))
    want = [a.copy() for a in args]
    got = [a.copy() for a in args]
    mlc.build(unscheduled, "reference")["main"](*want)
    emulate(mod)["main"](*got)
    np.testing.assert_allclose(got[-1], want[-1], rtol=2e-5, atol=2e-5)


def test_window_sum_kernel_reads_the_course_shape():
    (src,) = lower(PROGRAMS["window_sum"]()).values()
    code = render(src).code
    assert "__launch_bounds__(128) main_kernel(const float* __restrict__ A, float* __restrict__ C)" in code
    assert "__shared__ float A_shared[130];" in code
    assert "int i_0 = (int)blockIdx.x;" in code and "int ax0_1 = (int)threadIdx.x;" in code
    assert code.index("A_shared[(v + ax0_1)] = A[(((i_0 * 128) + v) + ax0_1)]") < code.index("__syncthreads();") < \
        code.index("C[((i_0 * 128) + i_1)] = ((A_shared[i_1] + A_shared[(i_1 + 1)]) + A_shared[(i_1 + 2)]);")
    (launch,) = render(src).launches
    assert (launch.grid, launch.block) == ((8192, 1, 1), (128, 1, 1))


def test_math_calls_precise_by_default_fast_with_fast_math():
    mod = _gpu(_elementwise(lambda x: te.exp(x) + te.tanh(x) + te.sigmoid(x)))
    precise, _ = compile_sources(mod, TARGETS["sm_80"])
    fast, _ = compile_sources(mod, TARGETS["sm_80"], BuildOptions(fast_math=True))
    assert "expf(" in precise and "__expf(" not in precise and "tanhf(" in precise
    assert "__expf(" in fast and "tanhf(" in fast
    code64, _ = compile_sources(_gpu(_elementwise(lambda x: te.exp(x), "float64")), TARGETS["sm_80"])
    assert "exp(X0[" in code64 and "expf" not in code64.split("main_kernel")[1]


def test_literals_keep_their_dtype():
    code, _ = compile_sources(_gpu(_elementwise(lambda x: te.max(x, te.lowest("float32")) + 0.1)), TARGETS["sm_80"])
    assert "__int_as_float(0xff800000)" in code and "0.10000000149011612f" in code
    code, _ = compile_sources(_gpu(_elementwise(lambda a: a * 3 - 1, "int64")), TARGETS["sm_80"])
    assert "long long* __restrict__" in code and "3ll" in code


def test_bit_ops_on_bools_stay_bools():
    """C computes ``a ^ b`` of two bools in int: a max over it matched no overload of the
    helpers (an NVRTC error); the result is a bool again, and agrees with NumPy."""
    f = lambda a, b: (np.argmax(a ^ b, axis=None), np.max(a & b, axis=0), np.min(a | b, axis=1))
    rng = np.random.default_rng(0)
    a, b = rng.random((5, 3)) < 0.5, rng.random((5, 3)) < 0.5
    jitted = mlc.jit(f, target="cuda-emulator")
    for got, want in zip(jitted(a, b), f(a, b)):
        np.testing.assert_array_equal(got, want)
    code, _ = compile_sources(jitted.lower(a, b).scheduled(), TARGETS["sm_80"])
    assert "((bool)(" in code


def test_a_buffer_of_two_to_the_31_elements_is_indexed_in_64_bits():
    rows, cols = 2, (1 << 30) + 32
    X = te.placeholder((rows, cols), "int8", "X")
    Y = te.compute((rows, cols), lambda i, j: X[i, j] + 1, "Y")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([X, Y])}))
    i, j = sch.get_loops(sch.get_block("Y"))
    j0, j1 = sch.split(j, [None, 256])
    sch.bind(i, "blockIdx.y")
    sch.bind(j0, "blockIdx.x")
    sch.bind(j1, "threadIdx.x")
    code, cubin = compile_sources(sch.mod, TARGETS["sm_90"])
    body = code.split("main_kernel")[1]
    # the row offset i * cols passes 2**31 for i = 1: computed in 64 bits (once, for both accesses)
    assert "const long long v = ((((long long)(i)) * 1073741856ll) + ((long long)(((j_0 * 256) + j_1))));" in body
    assert "Y[v] = ((signed char)(X[v] + ((signed char)1)));" in body
    assert cubin


def test_nvrtc_errors_carry_the_log_and_the_source():
    from mlc.backends.cuda.nvrtc import compile_cuda
    with pytest.raises(CompileError, match="NVRTC could not compile") as info:
        compile_cuda('extern "C" __global__ void k(float* a) { a[0] = undefined_name; }', "sm_80")
    assert "undefined_name" in str(info.value) and "undefined_name" in info.value.source


def test_parallel_loops_are_refused_on_the_gpu():
    sch = mlc.Schedule(vector_add(256))
    i0, i1 = sch.split(sch.get_loops(sch.get_block("C"))[0], [None, 128])
    sch.bind(i1, "threadIdx.x")
    sch.parallel(i0)
    with pytest.raises(CompileError, match="outside every thread-bound loop"):
        compile_sources(sch.mod, TARGETS["sm_80"])


def test_too_many_threads_or_too_much_shared_memory_do_not_compile():
    with pytest.raises(CompileError, match=r"binds threadIdx.x to 2048 values; the target allows at most 1024"):
        compile_sources(schedule_vector_add(vector_add(4096), 2048).mod, TARGETS["sm_80"])
    sch = mlc.Schedule(vector_add(4096))
    bx, ty, tx = sch.split(sch.get_loops(sch.get_block("C"))[0], [None, 32, 64])
    sch.bind(bx, "blockIdx.x")
    sch.bind(ty, "threadIdx.y")
    sch.bind(tx, "threadIdx.x")
    with pytest.raises(CompileError, match=r"2048 threads per block \(64, 32, 1\); a block holds at most 1024"):
        compile_sources(sch.mod, TARGETS["sm_80"])
    A = decl_buffer((64,), "float32", "A")

    def shared_of(size):
        S = decl_buffer((size,), "float32", "S", scope="shared")
        tx = Var("tx")
        return PrimFunc((A,), For(tx, const(0), const(64), "thread_binding",
                                  Allocate(S, seq(BufferStore(S, BufferLoad(A, (tx,), "float32"), (tx,)),
                                                  BufferStore(A, BufferLoad(S, (tx,), "float32"), (tx,)))),
                                  "threadIdx.x"))
    with pytest.raises(CompileError, match=r"declares 200000 bytes of shared memory \(S\[50000\]\); a block "
                                           "may use 166912"):
        render(shared_of(50000))
    # past the static 48 KiB: one dynamic allocation, launched with its size
    source = render(shared_of(20000))
    assert "extern __shared__ __align__(128) unsigned char mlc_dynamic_shared[];" in source.code
    assert "float* S = (float*)(mlc_dynamic_shared + 0);" in source.code
    assert source.launches[0].shared_bytes == 80000
    assert render(shared_of(12000)).launches[0].shared_bytes == 0


@needs_gpu
def test_course_programs_on_the_gpu():
    import cupy as cp
    n = 1 << 16
    rng = np.random.default_rng(0)
    lib = mlc.build(schedule_window_sum(window_sum(n)).mod, "cuda")
    a = rng.standard_normal(n + 2).astype("float32")
    b = cp.empty(n, "float32")
    lib["main"](cp.asarray(a), b)
    np.testing.assert_allclose(b.get(), a[:-2] + a[1:-1] + a[2:], rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(cuda_include_dir() is None, reason="no CUDA headers (cuda_fp16.h) found")
def test_float16_computes_math_in_float32_and_compiles_with_the_cuda_headers():
    unscheduled = _elementwise(lambda x: te.exp(x) * x + 1.5, "float16")
    mod = _gpu(unscheduled)
    code, cubin = compile_sources(mod, TARGETS["sm_80"])
    assert code.startswith("#include <cuda_fp16.h>")
    # (x, read twice, is bound once: tir.cse)
    assert re.search(r"const half (cse(_\d+)?) = X0\[.*\(\(half\)\(expf\(\(\(float\)\(\1\)\)\)\)\)", code, re.S)
    assert cubin[:4] == b"\x7fELF"
    x = np.random.default_rng(0).standard_normal(1000).astype("float16")
    got, want = np.zeros_like(x), np.zeros_like(x)
    emulate(mod)["main"](x, got)
    mlc.build(unscheduled, "reference")["main"](x, want)
    np.testing.assert_array_equal(got, want)


def test_a_blockidx_loop_inside_a_threadidx_loop_is_refused():
    sch = mlc.Schedule(vector_add(256))
    i0, i1 = sch.split(sch.get_loops(sch.get_block("C"))[0], [None, 128])
    sch.bind(i0, "threadIdx.x")
    sch.bind(i1, "blockIdx.x")
    with pytest.raises(CompileError, match="loop i_1 bound to blockIdx.x is inside a threadIdx loop; blockIdx "
                                           "loops must enclose every threadIdx loop of a kernel"):
        compile_sources(sch.mod, TARGETS["sm_80"])


def test_grid_axes_beyond_cudas_limits_are_refused():
    sch = mlc.Schedule(vector_add(1 << 17))
    i0, i1 = sch.split(sch.get_loops(sch.get_block("C"))[0], [None, 1])
    sch.bind(i0, "blockIdx.y")
    sch.bind(i1, "threadIdx.x")
    with pytest.raises(CompileError, match="binds blockIdx.y to 131072 values; the target allows at most 65535"):
        compile_sources(sch.mod, TARGETS["sm_80"])


def test_the_backend_never_schedules_unscheduled_functions_are_refused():
    mod = vector_add(256)
    for run in (lambda: compile_sources(mod, TARGETS["sm_80"]), lambda: emulate(mod), lambda: lower(mod)):
        with pytest.raises(CompileError, match=r"function\(s\) 'main' are not scheduled for the GPU; .*"
                                               r"mlc.driver.schedule_module\(mod, 'cuda'\)"):
            run()
    # the driver schedules them: the default GPU schedule, the rules of the target's "gpu" key
    code, cubin = compile_sources(_gpu(mod), TARGETS["sm_80"])
    assert "threadIdx.x" in code and cubin[:4] == b"\x7fELF"
    a, b = np.arange(256, dtype="float32"), np.ones(256, "float32")
    c = np.zeros(256, "float32")
    mlc.build(mod, "cuda-emulator")["main"](a, b, c)
    np.testing.assert_array_equal(c, a + b)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16"])
def test_narrow_integer_results_wrap_before_they_are_used_as_the_ir_says(dtype):
    """C computes int8..uint16 in int: a sum compared, or a difference shifted, must first wrap
    back to the dtype (100 + 50 as int8 is -106, not 150; 0 - 1 as uint8 is 255, so >> 1 is 127)."""
    n = 4
    A, B = te.placeholder((n,), dtype, "A"), te.placeholder((n,), dtype, "B")
    C = te.compute((n,), lambda i: te.if_then_else(A[i] + B[i] > A[i], A[i], B[i]), "C")
    D = te.compute((n,), lambda i: (A[i] - B[i]) >> 1, "D")
    E = te.compute((n,), lambda i: te.max(A[i] * B[i], B[i]) + (A[i] + B[i]) // B[i], "E")
    mod = _gpu(mlc.IRModule({"main": te.create_prim_func([A, B, C, D, E])}))
    code, cubin = compile_sources(mod, TARGETS["sm_80"])
    ctype = {"int8": "signed char", "uint8": "unsigned char", "int16": "short", "uint16": "unsigned short"}[dtype]
    assert f"(({ctype})(A[" in code and f"mlc_max((({ctype})(" in code and cubin[:4] == b"\x7fELF"
    a, b = np.array([100, 0, 1, 2], dtype), np.array([50, 1, 2, 1], dtype)
    got = [np.zeros(n, dtype) for _ in range(3)]
    emulate(mod)["main"](a, b, *got)
    with np.errstate(over="ignore"):
        want = [np.where(a + b > a, a, b), (a - b) >> 1, np.maximum(a * b, b) + (a + b) // b]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.skipif(cuda_include_dir() is None, reason="no CUDA headers (cuda_fp16.h) found")
def test_float16_min_max_and_modulo_compute_in_float():
    """float's NaN-aware max (the generic template's a > b ? a : b drops a NaN) and fmod."""
    mod = _gpu(_elementwise(lambda x, y: te.max(x, y) + te.min(x, y) + x % y, "float16", inputs=2))
    code, cubin = compile_sources(mod, TARGETS["sm_80"])
    # (x and y, each read twice, are bound once: tir.cse)
    assert re.search(r"\(\(half\)\(mlc_max\(\(\(float\)\(cse(_\d+)?\)\), \(\(float\)\(cse(_\d+)?\)\)\)\)\)", code)
    assert cubin[:4] == b"\x7fELF"


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_compiled_kernels_are_kept_on_disk_and_a_damaged_entry_is_compiled_again(tmp_path, monkeypatch):
    from mlc.backends.cuda import nvrtc
    from mlc.config import override
    source = 'extern "C" __global__ void k(float* a) { a[threadIdx.x] *= 3.0f; }'
    with override(cache_dir=str(tmp_path)):
        cubin = nvrtc.compile_cuda(source, "sm_80")
        (entry,) = (tmp_path / "cuda").iterdir()
        nvrtc._compile.cache_clear()  # a new process: only the disk remembers
        compiled = []
        real = nvrtc._nvrtc_compile
        monkeypatch.setattr(nvrtc, "_nvrtc_compile", lambda *a: compiled.append(a) or real(*a))
        assert nvrtc.compile_cuda(source, "sm_80") == cubin and compiled == []
        assert nvrtc.compile_cuda(source, "sm_90") != cubin and len(compiled) == 1  # another key
        nvrtc._compile.cache_clear()
        data = entry.read_bytes()
        entry.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit of the cubin flipped
        assert nvrtc.compile_cuda(source, "sm_80") == cubin and len(compiled) == 2
        assert entry.read_bytes() == data  # stored again, whole
        nvrtc._compile.cache_clear()
        assert nvrtc.compile_cuda(source, "sm_80", cache=False) == cubin and len(compiled) == 3


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_a_bool_math_call_is_a_bool_beside_other_bools(arch):
    """CUDA's isnan returns int: np.minimum of a bool and isnan(x) has no mlc_min(bool, int)
    overload unless the call's result is a bool (found by running random programs on a GPU)."""
    f = mlc.jit(lambda a: np.argmax(np.minimum(np.logical_or(-1.5, a), np.isnan(a)), axis=-1),
                target=f"cuda -arch={arch}")
    a = np.array([-1.0, 2.0, np.nan])
    assert "((bool)(isnan(" in f.lower(a).compile().as_text()
    g = mlc.jit(lambda a: np.argmax(np.minimum(np.logical_or(-1.5, a), np.isnan(a)), axis=-1), target="cuda-emulator")
    assert g(a) == np.argmax(np.minimum(np.logical_or(-1.5, a), np.isnan(a)), axis=-1)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64"])
def test_signed_left_shifts_go_through_the_unsigned_type(dtype):
    """The IR's ``shl`` wraps a bit shifted into or past the sign bit (float32 exp's 2^k
    shifts a biased word left 23 bits); C's ``<<`` of a signed int may not overflow, so
    the CUDA C shifts the unsigned type and converts back: NVRTC compiles it, and the
    emulator's result is NumPy's."""
    bits = np.iinfo(dtype).bits
    mod = _gpu(_elementwise(lambda x: x << const(bits - 3, dtype), dtype, n=7))
    code, cubin = compile_sources(mod, TARGETS["sm_80"])
    assert cubin[:4] == b"\x7fELF"
    unsigned = "unsigned long long" if dtype == "int64" else "unsigned int"
    assert re.search(rf"\(\({unsigned}\)\([^;]*\) << ", code), code
    x = np.array([0, 1, -1, 5, 7, -8, np.iinfo(dtype).max], dtype)
    y = np.empty_like(x)
    mlc.build(mod, "cuda-emulator")["main"](x, y)
    np.testing.assert_array_equal(y, np.left_shift(x, bits - 3))
