"""Every op with a hand-written PrimFunc, built for the GPU: compiled by NVRTC for sm_80 and
sm_90, and run on a GPU where there is one. cumsum/cumprod, searchsorted and sort/argsort run
their own GPU kernels (a thread per line, long lines in chunks; a thread per query; a bitonic
network), the others their batch loops one per thread.

Their differential tests against NumPy on the emulator are the op suite's own (``tests/ops``,
which ``test_op_suite_on_the_emulator`` runs with ``--mlc-target=cuda-emulator``); here are the
paths those small sizes do not reach (chunked scans of long lines, empty stacks) and the
kernels' structure."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc.backends.cuda import compile_sources
from mlc.driver import schedule_module
from mlc.ops import TensorType, get_op, list_ops
from mlc.ops.hand_written import hand_written
from mlc.ops.library.scan_gpu import scan_chunks

from ..ops._harness import arrays, output_starts, run_op
from .conftest import ARCHS, DEVICE_MISSING, NVRTC_MISSING, TARGETS, needs_gpu

EMU = "cuda-emulator"

#: Every op lowered by a hand-written PrimFunc, with inputs to compile it for.
HAND_WRITTEN = {
    "cumsum": ([TensorType((3, 7, 5), "float32")], {"axis": 1}),
    "cumprod": ([TensorType((7, 5), "int64")], {"axis": 0}),
    "searchsorted": ([TensorType((33,), "float64"), TensorType((4, 5), "float64")], {"side": "right"}),
    "sort": ([TensorType((5, 37), "float32")], {}),
    "argsort": ([TensorType((5, 37), "int16")], {"descending": True}),
    "cholesky": ([TensorType((2, 4, 4), "float32")], {"upper": True}),
    "det": ([TensorType((3, 5, 5), "float64")], {}),
    "slogdet": ([TensorType((3, 5, 5), "float32")], {}),
    "solve": ([TensorType((2, 4, 4), "float32"), TensorType((2, 4, 3), "float32")], {}),
    "inv": ([TensorType((2, 4, 4), "float64")], {}),
    "qr": ([TensorType((3, 5, 4), "float32")], {"mode": "complete"}),
    "eigh": ([TensorType((2, 4, 4), "float32")], {}),
    "eigvalsh": ([TensorType((2, 4, 4), "float64")], {}),
    "svd": ([TensorType((2, 5, 3), "float32")], {"full_matrices": False}),
    "svdvals": ([TensorType((2, 3, 5), "float64")], {}),
    "random.gamma": ([TensorType((2,), "uint32"), TensorType((3, 7), "float32")], {}),
    "index_add": ([TensorType((4, 6, 3), "float32"), TensorType((1, 6, 1), "int64")], {"axis": 1, "size": 5}),
    "write_row": ([TensorType((5, 3, 2), "float32"), TensorType((3, 2), "float32"), TensorType((), "int64")], {}),
    # in place: the output starts as the first argument (see test_hand_written_ops_on_the_gpu)
    "element_set": ([TensorType((4, 5), "float32"), TensorType((), "float32"), TensorType((), "int64"),
                     TensorType((), "int64")], {}),
    "dynamic_update_slice": ([TensorType((6, 5), "float64"), TensorType((3, 2), "float64"), TensorType((), "int64"),
                              TensorType((), "int64")], {"steps": (2, -1)}),
    "window_matmul": ([TensorType((5,), "float32"), TensorType((5, 37), "float32"), TensorType((), "int64"),
                       TensorType((), "int64")], {}),
}


#: ops only the graph pipeline makes, whose functions come from the graph they carry (an element
#: loop's body), not from types and attributes: tested through the programs that make them
#: (tests/tracer/test_element_loops.py, on llvm and cuda-emulator)
PIPELINE_ONLY = ("element_loop",)


def test_every_hand_written_op_is_listed_here():
    assert sorted(n for n in list_ops() if get_op(n).prim_func is not None and not n.startswith("test.")
                  and n not in PIPELINE_ONLY) == sorted(HAND_WRITTEN)


# ------------------------------------------------------------------ scans

def _chunked(shape, axis) -> int:
    n = shape[axis]
    return scan_chunks(math.prod(shape) // max(n, 1), n)


def _check_chunked_scan(name, x, axis, out=None):
    """``x``'s scan in chunks: exact for ints and bools; floats within the rounding of a sum of
    one chunk and the chunk totals before it (the bound of sequential summation over a chunk's
    length plus the number of chunks, relative to the sum of magnitudes)."""
    chunks = _chunked(x.shape, axis)
    assert chunks > 1, "not the chunked path"
    (got,) = run_op(name, [x], EMU, axis=axis, dtype=out)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(x, axis=axis, dtype=out)
    assert got.dtype == want.dtype
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
        return
    steps = -(-x.shape[axis] // chunks) + chunks + 2
    exact = getattr(np, name)(x.astype(np.longdouble), axis=axis)
    magnitude = np.cumsum(np.abs(x.astype(np.longdouble)), axis=axis) if name == "cumsum" else np.abs(exact)
    error = np.abs(got.astype(np.longdouble) - exact)
    bound = steps * float(np.finfo(want.dtype).eps) * magnitude
    assert (error <= bound).all(), f"{name} error {float(error.max())} beyond {float(bound.max())}"


@pytest.mark.parametrize("shape, axis", [((5000,), 0), ((1001,), 0), ((3, 2000), 1), ((2, 999, 3), 1),
                                         ((640, 2), 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_long_lines_scan_in_chunks(shape, axis, dtype):
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 3).astype(dtype) if dtype != "int32" else \
        rng.integers(-1 << 30, 1 << 30, shape).astype(dtype)  # (wrapping sums)
    _check_chunked_scan("cumsum", x, axis)
    if dtype.startswith("float"):
        _check_chunked_scan("cumprod", rng.uniform(0.99, 1.01, shape).astype(dtype), axis)
    if dtype == "bool":
        _check_chunked_scan("cumprod", rng.random(shape) < 0.999, axis, out="bool")


@settings(max_examples=10, deadline=None)
@given(n=st.integers(256, 3000), lines=st.integers(1, 3), axis_last=st.booleans(), data=st.data())
def test_chunked_scans_of_any_length(n, lines, axis_last, data):
    """Ragged last chunks, and lines before or after the axis."""
    shape, axis = ((lines, n), 1) if axis_last else ((n, lines), 0)
    x = data.draw(arrays("float32", shape, special=False, bound=4.0))
    _check_chunked_scan("cumsum", x, axis)
    _check_chunked_scan("cumsum", x.astype("int64"), axis)


def test_a_long_scan_is_three_kernels_and_a_short_one_one():
    lib = mlc.build(mlc.IRModule({"main": hand_written("cumsum", [TensorType((3000,), "float32")], {"axis": 0})}),
                    EMU)
    out = np.zeros(3000, "float32")
    lib["main"](np.ones(3000, "float32"), out)
    chunks = scan_chunks(1, 3000)
    assert [s.name for s in lib.kernel_stats("main")] == ["main_kernel0", "main_kernel1", "main_kernel2"]
    # phases 1 and 3 read the input once each; phase 2 reads and writes each chunk's total once
    assert [s.global_reads for s in lib.kernel_stats("main")] == [3000, chunks, 3000 + chunks]
    np.testing.assert_array_equal(out, np.arange(1, 3001))
    lib = mlc.build(mlc.IRModule({"main": hand_written("cumsum", [TensorType((200, 7), "float32")],
                                                       {"axis": 1})}), EMU)
    lib["main"](np.ones((200, 7), "float32"), np.zeros((200, 7), "float32"))
    (one,) = lib.kernel_stats("main")
    assert one.global_reads == one.global_writes == 1400


# ------------------------------------------------------------------ searchsorted, sort

@pytest.mark.parametrize("name", ["sort", "argsort"])
def test_sort_ops_build_their_gpu_kernel_not_a_thread_per_row(name):
    """The op's gpu_prim_func (the bitonic network: shared-memory tiles) replaces its radix sort."""
    assert get_op(name).gpu_prim_func is not None
    types, attrs = HAND_WRITTEN[name]
    gpu = get_op(name).gpu_prim_func(*types, **attrs)
    assert gpu.attr("mlc.scheduled") == "hand-written-gpu"
    x = np.zeros(types[0].shape, types[0].dtype)
    low = mlc.jit(lambda a: getattr(mlc.numpy, name)(a, descending=attrs.get("descending", False))).lower(x)
    source, _ = compile_sources(schedule_module(low.mod, "cuda"), "cuda -arch=sm_80")
    assert "__shared__" in source


# ------------------------------------------------------------------ factorizations

@pytest.mark.parametrize("name, shape", [("cholesky", (0, 3, 3)), ("inv", (2, 0, 0)), ("det", (0, 2, 2)),
                                         ("qr", (0, 3, 2)), ("eigvalsh", (1, 0, 0)), ("svdvals", (0, 2, 3))])
def test_empty_stacks_and_matrices(name, shape):
    x = np.zeros(shape, "float32")
    want = get_op(name).reference(x)
    got = run_op(name, [x], EMU)
    for g, w in zip(got, want if isinstance(want, tuple) else (want,)):
        assert g.shape == np.shape(w)
        np.testing.assert_array_equal(g, w)


# ------------------------------------------------------------------ spectral

# ------------------------------------------------------------------ NVRTC and the GPU

def _gpu_module(name):
    types, attrs = HAND_WRITTEN[name]
    return schedule_module(mlc.IRModule({"main": hand_written(name, types, attrs)}), "cuda")


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("name", sorted(HAND_WRITTEN) + ["cumsum_chunked", "searchsorted_int"])
def test_hand_written_kernels_compile_with_nvrtc(name, arch):
    if name == "cumsum_chunked":
        mod = schedule_module(mlc.IRModule({"main": hand_written("cumsum", [TensorType((2, 5000), "float16")],
                                                                 {"axis": 1, "dtype": "float16"})}), "cuda")
    elif name == "searchsorted_int":
        mod = schedule_module(mlc.IRModule({"main": hand_written(
            "searchsorted", [TensorType((100,), "int32"), TensorType((7,), "int32")], {})}), "cuda")
    else:
        mod = _gpu_module(name)
    code, cubin = compile_sources(mod, TARGETS[arch])
    assert 'extern "C" __global__' in code and "threadIdx.x" in code
    assert cubin[:4] == b"\x7fELF"


@needs_gpu
@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_ops_on_the_gpu(name):
    import cupy as cp
    assert DEVICE_MISSING is None
    types, attrs = HAND_WRITTEN[name]
    rng = np.random.default_rng(0)
    arrays_ = []
    for t in types:
        a = rng.standard_normal(t.shape).astype(t.dtype) if t.dtype.startswith("float") else \
            rng.integers(-9, 10, t.shape).astype(t.dtype)
        if len(t.shape) >= 2 and t.shape[-1] == t.shape[-2]:  # well conditioned (and definite, for cholesky)
            a = a @ np.swapaxes(a, -1, -2) + 2 * t.shape[-1] * np.eye(t.shape[-1], dtype=t.dtype)
        arrays_.append(np.array(a, order="C", copy=True))  # (a 0-d one stays 0-d)
    if name == "searchsorted":
        arrays_[0].sort()
    want = run_op(name, arrays_, "reference", **attrs)
    lib = mlc.build(mlc.IRModule({"main": hand_written(name, types, attrs)}), "cuda")
    outs = [cp.zeros(w.shape, w.dtype) for w in want]
    for o, k in output_starts(name, types, attrs):
        outs[o][...] = cp.asarray(arrays_[k])
    lib["main"](*(cp.asarray(a) for a in arrays_), *outs)
    for got, w in zip(outs, want):
        np.testing.assert_allclose(cp.asnumpy(got), w, rtol=1e-4, atol=1e-4)
