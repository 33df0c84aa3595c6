"""Vector IR on the GPU: the default schedule gives each thread one aligned 4-lane vector of an
elementwise kernel, the codegen renders ``float4`` loads and stores, the emulator runs the
vector IR with its race and bounds checks."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.driver import schedule_module
from mlc import te
from mlc.backends.cuda import Emulator, compile_sources, emulate, lower
from mlc.backends.cuda.codegen import render
from mlc.errors import BoundsError, RaceError
from mlc.ir.buffer import decl_buffer
from mlc.ir.expr import BufferLoad, IntImm, Ramp, Var, const
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, For, PrimFunc
from mlc.passes.tir.vectorize import vectorize_loops

from .conftest import ARCHS, TARGETS


def _chain(n, dtype="float32"):
    A = te.placeholder((n,), dtype, "A")
    B = te.placeholder((n,), dtype, "B")
    C = te.compute((n,), lambda i: te.tanh(A[i]) * 2 + B[i], "C")
    return mlc.IRModule({"main": te.create_prim_func([A, B, C])})


def _ramps(func):
    return [n for n in pre_order_nodes(func.body) if isinstance(n, Ramp)]


@pytest.mark.parametrize("arch", ARCHS)
def test_default_elementwise_schedule_loads_and_stores_float4(arch):
    code, cubin = compile_sources(schedule_module(_chain(1 << 12), "cuda"), TARGETS[arch])
    assert "float4 A_v = *(const float4*)(A + " in code
    assert "float4 B_v = *(const float4*)(B + " in code
    assert "*(float4*)(C + " in code and cubin


def test_sizes_that_four_does_not_divide_stay_scalar():
    func = lower(schedule_module(_chain(1001), "cuda"))["main"]
    assert _ramps(func) == []


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 3000), dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_vectorized_elementwise_kernels_on_the_emulator_match_numpy(n, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    c = np.zeros(n, dtype)
    emulate(schedule_module(_chain(n, dtype), "cuda"))["main"](a, b, c)
    np.testing.assert_allclose(c, np.tanh(a) * 2 + b, rtol=1e-6 if dtype == "float32" else 1e-12)


def test_the_gpu_vectorizer_keeps_at_most_four_lanes():
    A, B = decl_buffer((64,), "float32", "A"), decl_buffer((64,), "float32", "B")
    i, j = Var("i"), Var("j")
    loop = For(j, IntImm(0), IntImm(8), "vectorized", BufferStore(B, A[i * 8 + j] * 2, (i * 8 + j,)))
    func = PrimFunc((A, B), loop)
    assert _ramps(vectorize_loops(func, max_lanes=4)) == []
    assert _ramps(vectorize_loops(func))  # the CPU's limit is larger


def _vector_kernel(load_offset, store_stride=4, n=32, threads=8):
    """``B[tx*store_stride : +4] = A[tx*4 + load_offset : +4] + 1`` over ``threads`` threads."""
    A, B = decl_buffer((n,), "float32", "A"), decl_buffer((n,), "float32", "B")
    tx, bx = Var("tx"), Var("bx")
    value = BufferLoad(A, (Ramp(tx * 4 + load_offset, 1, 4),), "float32x4") + \
        mlc.ir.expr.Broadcast(const(1.0, "float32"), 4)
    store = BufferStore(B, value, (Ramp(tx * store_stride, 1, 4),))
    body = For(bx, const(0), const(1), "thread_binding",
               For(tx, const(0), const(threads), "thread_binding", store, "threadIdx.x"), "blockIdx.x")
    return PrimFunc((A, B), body, (("global_symbol", "vec"),))


def test_unaligned_vector_loads_are_rendered_lane_by_lane():
    code = render(_vector_kernel(1, n=36)).code
    assert "const float4*)(A" not in code  # tx * 4 + 1 is not a multiple of 4
    assert "A[((tx * 4) + 1)]" in code and "*(float4*)(B + (tx * 4))" in code


def test_emulated_vector_accesses_run_and_are_bounds_checked():
    a, b = np.arange(32, dtype="float32"), np.zeros(32, "float32")
    func = _vector_kernel(0)
    Emulator(func).run([a, b])
    np.testing.assert_array_equal(b, a + 1)
    with pytest.raises(BoundsError, match=r"accesses A\[32\]"):
        Emulator(_vector_kernel(1)).run([a, b])  # the last thread reads A[29:33]


def test_overlapping_vector_stores_of_two_threads_are_a_race():
    a, b = np.ones(32, "float32"), np.zeros(32, "float32")
    with pytest.raises(RaceError, match=r"data race on global buffer B\[2\]"):
        Emulator(_vector_kernel(0, store_stride=2)).run([a, b])


def _half_copy(n: int, lanes: int, shift: int = 0):
    """``B[i] = A[i + shift]`` (float16; ``+ 1`` for arithmetic), a thread's ``lanes``
    elements in a vectorized loop."""
    A = te.placeholder((n + shift,), "float16", "A")
    B = te.compute((n,), lambda i: A[i + shift], "B")
    sch = mlc.Schedule(mlc.IRModule({"main": te.create_prim_func([A, B])}))
    b, t, v = sch.split(sch.get_loops(sch.get_block("B"))[0], [None, 32, lanes])
    sch.bind(b, "blockIdx.x")
    sch.bind(t, "threadIdx.x")
    sch.vectorize(v)
    return sch.mod


@pytest.mark.parametrize("lanes, ctype", [(8, "uint4"), (4, "uint2"), (2, "unsigned")])
def test_float16_copies_move_as_raw_bytes(lanes, ctype):
    """A vectorized copy of float16 (a cooperative fetch's) is one access of lanes * 2 bytes
    (up to 16: 8 lanes, beyond the 4 lanes of arithmetic); a copy that is not aligned to its
    width, and float16 arithmetic, stay a lane at a time."""
    n = 32 * 8 * 3
    code, cubin = compile_sources(_half_copy(n, lanes), TARGETS["sm_80"])
    assert f"*({ctype}*)(B + " in code and f"*(const {ctype}*)(A + " in code and cubin
    a = np.arange(n, dtype="float16")
    b = np.empty(n, "float16")
    emulate(_half_copy(n, lanes))["main"](a, b)
    np.testing.assert_array_equal(b, a)
    shifted, _ = compile_sources(_half_copy(n, lanes, shift=1), TARGETS["sm_80"])  # A + 1: not aligned
    assert f"*(const {ctype}*)(A + " not in shifted  # lane by lane
    emulate(_half_copy(n, lanes, shift=1))["main"](np.arange(n + 1, dtype="float16"), b)
    np.testing.assert_array_equal(b, np.arange(1, n + 1, dtype="float16"))


def test_vectorize_loops_leaves_float16_alone_unless_asked_to_copy_it():
    A, B = decl_buffer((64,), "float16", "A"), decl_buffer((64,), "float16", "B")
    i = Var("i")
    loop = For(i, const(0), const(8), "vectorized", BufferStore(B, BufferLoad(A, (i,), "float16"), (i,)))
    func = PrimFunc((A, B), loop)
    assert not _ramps(vectorize_loops(func, max_lanes=4))
    assert not _ramps(vectorize_loops(func, max_lanes=4, copy_dtypes=("float32",)))
    assert _ramps(vectorize_loops(func, max_lanes=4, copy_dtypes=("float16",)))  # 8 lanes: 16 bytes
    wide = PrimFunc((A, B), For(i, const(0), const(16), "vectorized", BufferStore(B, BufferLoad(A, (i,), "float16"), (i,))))
    assert not _ramps(vectorize_loops(wide, max_lanes=4, copy_dtypes=("float16",)))  # 32 bytes: a loop
