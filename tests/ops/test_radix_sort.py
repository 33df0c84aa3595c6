"""The CPU radix sort kernel (mlc.ops.library.radix_sort) against NumPy's stable sort: float rows
with NaNs of either sign and any payload, ±0, ±inf and subnormals, bitwise and in input order, in
one chunk and in many; its shape (a few parallel loops whatever the dtype, so it compiles fast);
the prefetch hint its scatter uses, on the llvm backend and the reference interpreter."""
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy as mnp
from mlc.ir import decl_buffer
from mlc.ir.expr import Var, const
from mlc.ir.extern import address_of, call_extern
from mlc.ir.functor import pre_order_nodes
from mlc.ir.tir import BufferStore, Evaluate, For, PrimFunc, seq
from mlc.ops import TensorType, get_op
from mlc.backends.llvm.cpus import host_cpu
from mlc.ops.library import radix_sort
from mlc.target import Target

from ._harness import sorted_expected

#: This CPU without AVX-512, where the CPU rules keep the radix sort (on AVX-512 a float32 or
#: int32 sort runs mlc.ops.library.vector_sort instead).
RADIX_TARGET = Target("llvm", host_cpu()[0], "-avx512f")


def _floats(dtype: str) -> np.ndarray:
    """Values whose keys tie or nearly tie: NaNs of both signs and several payloads, both zeros,
    infinities, subnormals, numbers of one binade."""
    bits = {"float32": ("uint32", [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFFFFFFF, 0x7FC00123]),
            "float64": ("uint64", [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
                                   0xFFFFFFFFFFFFFFFF])}[dtype]
    nans = np.array(bits[1], bits[0]).view(dtype)
    tiny = np.finfo(dtype).smallest_subnormal
    return np.concatenate([nans, np.array([0.0, -0.0, np.inf, -np.inf, tiny, -tiny, 1.0, 1.5, -1.5, 2.0,
                                           -3.25], dtype)])


@pytest.mark.parametrize("name", ["sort", "argsort"])
@settings(max_examples=12, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["float32", "float64"]), rows=st.integers(1, 2),
       n=st.integers(0, 70), descending=st.booleans(), min_chunk=st.sampled_from([7, 1 << 16]))
def test_float_rows_keep_nans_and_zeros_bitwise_in_input_order(name, data, dtype, rows, n, descending,
                                                               min_chunk):
    pool = _floats(dtype)
    picks = data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=rows * n, max_size=rows * n))
    x = pool[np.array(picks, "int64")].reshape(rows, n)
    expected = sorted_expected(name, x, descending)
    with mock.patch.object(radix_sort, "MIN_CHUNK", min_chunk):
        func = get_op(name).prim_func(TensorType(x.shape, dtype), descending=descending)
    out = np.empty(x.shape, expected.dtype)
    mlc.build(mlc.IRModule({"main": func}), RADIX_TARGET)["main"](x, out)
    assert out.tobytes() == expected.tobytes(), (x, out, expected)


@settings(max_examples=8, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["float32", "int16", "uint64"]), rows=st.integers(1, 3),
       n=st.sampled_from([1, 2, 5, 33, 257]))
def test_jitted_sort_along_the_last_axis_equals_numpys_stable_sort(data, dtype, rows, n):
    x = np.random.default_rng(data.draw(st.integers(0, 99))).integers(-3, 4, (rows, n)).astype(dtype)
    if dtype == "float32":
        x[0, :: 3] = [np.nan, -0.0, np.inf][: len(x[0, :: 3])] + [0.0] * max(0, len(x[0, :: 3]) - 3)
    got = mlc.jit(lambda v: (mnp.sort(v), mnp.argsort(v)))(x)
    assert np.asarray(got[0]).tobytes() == np.sort(x, axis=-1, kind="stable").tobytes()
    np.testing.assert_array_equal(got[1], np.argsort(x, axis=-1, kind="stable"))


@pytest.mark.parametrize("name", ["sort", "argsort"])
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "float32", "float64", "int64"])
def test_the_kernel_is_three_parallel_loops_and_one_loop_over_the_digits(name, dtype):
    """The passes run in a loop (not written out once per byte of the key): the kernel stays as
    small for 8-byte keys as for 1-byte ones, which keeps its first call's compile short."""
    func = get_op(name).prim_func(TensorType((3, 1 << 17), dtype), descending=False)
    loops = [n for n in pre_order_nodes(func.body) if isinstance(n, For)]
    assert sum(f.kind == "parallel" for f in loops) == 3
    passes = -(-8 * np.dtype(dtype).itemsize // radix_sort.DIGIT_BITS)
    assert [f.extent.value for f in loops if f.loop_var.name == "p"] == [passes]
    assert "mlc_prefetch_for_write" in func.script()  # a long row's scatter asks for its lines


def _prefetched_copy() -> PrimFunc:
    a, b = decl_buffer((8,), "float32", "a"), decl_buffer((8,), "float32", "b")
    i = Var("i", "int32")
    body = seq(Evaluate(call_extern("int32", "mlc_prefetch_for_write", address_of(b[i]))),
               BufferStore(b, a[i] * const(2.0, "float32"), (i,)))
    return PrimFunc((a, b), For(i, const(0, "int32"), const(8, "int32"), "serial", body),
                    (("global_symbol", "main"), ("tir.noalias", True)))


@pytest.mark.parametrize("target", ["llvm", "reference"])
def test_a_prefetch_hint_changes_no_value(target):
    a = np.arange(8, dtype="float32")
    b = np.zeros(8, "float32")
    lib = mlc.build(mlc.IRModule({"main": _prefetched_copy()}), target)
    lib["main"](a, b)
    np.testing.assert_array_equal(b, 2 * a)
    if target == "llvm":
        assert "llvm.prefetch" in lib.get_source("ll")


def test_the_prefetch_hint_is_dropped_by_the_gpu_backend_and_emulator():
    """The sort's cache hint is a CPU's: the CUDA C and the emulator leave it out (the emulator
    refused an external function no GPU backend registered)."""
    from mlc.backends.cuda import compile_sources
    from mlc.ir.extern import PREFETCH_FOR_WRITE
    x = np.random.default_rng(0).standard_normal(101).astype("float32")
    # the kernel of a row longer than a chunk (one chunk, 11-bit digits, the hint) at 101
    # elements, where the emulator steps through 101 of them, not the 65536 such a row needs
    with mock.patch.multiple(radix_sort, MIN_CHUNK=64, NARROW_DIGITS=((16, 4), (64, 8))):
        plan = radix_sort._Plan(x.size, "float32", descending=False, indices=False)
        assert (plan.chunks, plan.digit_bits) == (1, radix_sort.DIGIT_BITS)
        f = mlc.jit(np.sort, target="cuda-emulator")
        lowered = f.lower(x)
        assert PREFETCH_FOR_WRITE in lowered.mod.script()
        np.testing.assert_array_equal(f(x), np.sort(x))
    assert PREFETCH_FOR_WRITE not in compile_sources(lowered.scheduled(), "cuda -arch=sm_80")[0]
