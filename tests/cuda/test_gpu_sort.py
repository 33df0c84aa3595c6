"""The GPU kernel of sort and argsort (bitonic_sort_func) on the emulator, bitwise against
NumPy's stable order and against the CPU op built for llvm: every sortable dtype, many ties,
NaN (of both signs and two payloads), ±inf, ±0.0, rows of any length (1, odd, powers of two
and one past), batch dimensions and empty arrays; rows longer than a tile (small tiles here,
so that the kernels of sub-stages spanning tiles run at small sizes); the network itself by
the 0-1 principle; the CUDA C it renders, compiled by NVRTC; and on a GPU where there is one."""
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlc
from mlc.backends.cuda import GPU_PIPELINE, Emulator, compile_sources, kernels, lower, workspace
from mlc.driver import schedule_module
from mlc.errors import DTypeError, RaceError, ShapeError
from mlc.ops import TensorType, get_op
from mlc.ops.library import sorting_gpu
from mlc.ops.library.sorting_gpu import bitonic_sort_func, comparators, kernel_plan, network
from mlc.passes.tir.pipeline import run_passes
from mlc.passes.tir.thread_sync import insert_thread_sync
from mlc.schedules.default.canonical import is_unscheduled

from ..ops._harness import ALL, run_op, sorted_expected
from .conftest import ARCHS, NVRTC_MISSING, TARGETS, needs_gpu

SORTABLE = tuple(d for d in ALL if d != "float16")
NAMES = ("sort", "argsort")


def _pool(dtype: str) -> np.ndarray:
    """Few distinct values of ``dtype`` (so that rows have many ties), the special ones included."""
    if dtype == "bool":
        return np.array([False, True])
    if dtype.startswith("float"):
        bits = "uint32" if dtype == "float32" else "uint64"
        quiet = np.array([np.nan], dtype).view(bits)[0]
        nans = np.array([quiet | 1, quiet | (1 << (np.dtype(bits).itemsize * 8 - 1))], bits).view(dtype)
        tiny = np.finfo(dtype).smallest_subnormal
        return np.concatenate([np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, 1.5, -2.25, tiny, -tiny,
                                         np.finfo(dtype).max], dtype), nans])
    info = np.iinfo(dtype)
    return np.array(sorted({info.min, info.max, 0, 1, 7, info.min + 1, info.max // 2} |
                           ({-1} if info.min else set())), dtype)


@st.composite
def _shapes(draw, max_n=70, batch=True):
    """(dtype, shape) of a row sort: batch dimensions of 0..3 and rows of any length."""
    dtype = draw(st.sampled_from(SORTABLE), label="dtype")
    lead = tuple(draw(st.lists(st.integers(0 if batch else 1, 3), max_size=2 if batch else 0), label="batch"))
    n = draw(st.one_of(st.integers(0, max_n), st.sampled_from([1, 2, 3, 31, 32, 33, 63, 64, 65])), label="n")
    return dtype, lead + (n,)


def _values(draw, dtype, shape):
    size = int(np.prod(shape))
    pool = _pool(dtype)
    if draw(st.booleans(), label="from a pool of few values"):
        picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=size, max_size=size))
        x = pool[np.array(picks, "int64")].reshape(shape) if size else np.zeros(shape, dtype)
    else:
        seed = draw(st.integers(0, 2 ** 32 - 1), label="seed")
        x = np.random.default_rng(seed).choice(pool, shape) if size else np.zeros(shape, dtype)
        if dtype.startswith("float") and size:
            x = np.where(np.random.default_rng(seed).random(shape) < 0.5,
                         np.random.default_rng(seed + 1).standard_normal(shape), x).astype(dtype)
    return x.astype(dtype)


@st.composite
def _inputs(draw, max_n=70, batch=True):
    dtype, shape = draw(_shapes(max_n, batch))
    return _values(draw, dtype, shape)


@st.composite
def _input_sets(draw, count=2):
    """``count`` inputs of one drawn dtype and shape (each drawn as :func:`_inputs` draws
    its values): the kernel built for them serves all of them."""
    dtype, shape = draw(_shapes())
    return [_values(draw, dtype, shape) for _ in range(count)]


_LIBS: dict = {}


def _gpu_sort(name: str, x: np.ndarray, descending: bool, target="cuda-emulator") -> np.ndarray:
    key = (name, x.shape, x.dtype.name, descending, target, sorting_gpu.TILE_THREADS, sorting_gpu.GLOBAL_THREADS)
    if key not in _LIBS:  # built once per kernel (the tile sizes, which tests patch, included)
        func = bitonic_sort_func(TensorType(x.shape, x.dtype.name), descending=descending,
                                 indices=name == "argsort")
        _LIBS[key] = mlc.build(mlc.IRModule({"main": func}), target)
    out = np.zeros(x.shape, "int64" if name == "argsort" else x.dtype)
    _LIBS[key]["main"](x, out)
    return out


def _check(name, x, descending, cpu=True):
    got = _gpu_sort(name, x, descending)
    want = sorted_expected(name, x, descending)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (x, got, want)
    if cpu:  # the CPU op (the radix sort) built for llvm
        (on_cpu,) = run_op(name, [x], "llvm", descending=descending)
        assert on_cpu.tobytes() == got.tobytes()


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20, deadline=None)
@given(xs=_input_sets(), descending=st.booleans())
def test_bitonic_sort_is_the_cpu_ops_stable_sort(name, xs, descending):
    """Two inputs of each drawn dtype and shape (one kernel built for both)."""
    for x in xs:
        _check(name, x, descending)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None)
@given(x=_inputs(max_n=40), descending=st.booleans(), tile_threads=st.sampled_from([1, 2, 4, 8]),
       global_threads=st.sampled_from([5, 32, 256]))
def test_rows_longer_than_a_tile(name, x, descending, tile_threads, global_threads):
    """Tiles of 2..16 positions: rows of up to 40 elements take the kernels of the sub-stages
    spanning tiles, the workspace between kernels, and the merges in shared memory; blocks of
    5 threads leave the last block of those kernels ragged."""
    with mock.patch.multiple(sorting_gpu, TILE_THREADS=tile_threads, GLOBAL_THREADS=global_threads):
        _check(name, x, descending, cpu=False)


@pytest.mark.parametrize("name", NAMES)
def test_a_ragged_last_block_of_a_sub_stage_spanning_tiles(name):
    """37 rows of 16 positions: 296 comparators, blocks of 32 threads (the last one has 8)."""
    x = np.random.default_rng(2).integers(-3, 3, (37, 9)).astype("float32")
    with mock.patch.multiple(sorting_gpu, TILE_THREADS=2, GLOBAL_THREADS=32):
        _, lowered = _lowered(x.shape, "float32", name == "argsort")
        assert {k.blocks * k.threads for k in kernels(lowered) if k.threads == 32} == {320}
        for descending in (False, True):
            _check(name, x, descending, cpu=False)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "uint64", "bool"])
@pytest.mark.parametrize("shape", [(1000,), (2, 3000)])
def test_long_rows(name, dtype, shape):
    """A row of a tile (1000 elements: one kernel) and rows of four tiles (3000: kernels of
    sub-stages spanning tiles), with many ties and the specials, both orders."""
    rng = np.random.default_rng(shape[-1])
    x = rng.choice(_pool(dtype), shape)
    if dtype.startswith("float"):
        x = np.where(rng.random(shape) < 0.5, rng.integers(-50, 50, shape), x).astype(dtype)
    for descending in (False, True):
        _check(name, x, descending)


def test_descending_puts_nan_first_and_keeps_ties_in_input_order():
    x = np.array([1.0, np.nan, -0.0, 2.0, 0.0, np.nan, 1.0, -np.inf], "float32")
    got = _gpu_sort("argsort", x, descending=True)
    np.testing.assert_array_equal(got, [1, 5, 3, 0, 6, 2, 4, 7])
    np.testing.assert_array_equal(_gpu_sort("argsort", x, descending=False), [7, 2, 4, 0, 6, 3, 1, 5])


@pytest.mark.parametrize("size", [1, 2, 4, 8, 16])
def test_the_network_sorts_every_sequence_of_zeros_and_ones(size):
    """The 0-1 principle: a comparator network that sorts every 0/1 sequence sorts everything;
    the comparators as the kernels number them, on all 2**size sequences at once."""
    rows = (np.arange(1 << size)[:, None] >> np.arange(size)) & 1
    for k, j in network(size):
        pairs = comparators(size, k, j)
        assert sorted(p for pair in pairs for p in pair) == list(range(size))  # each position once
        a, b = np.array(pairs).T
        assert (a < b).all()
        rows[:, a], rows[:, b] = np.minimum(rows[:, a], rows[:, b]), np.maximum(rows[:, a], rows[:, b])
    assert (np.diff(rows, axis=1) >= 0).all()


def test_kernel_plan_keeps_sub_stages_inside_a_tile_in_shared_memory():
    assert kernel_plan(1, 4) == [("tile", ())]
    assert kernel_plan(4, 4) == [("tile", ((2, 1), (4, 2), (4, 1)))]
    plan = kernel_plan(64, 8)
    assert [kind for kind, _ in plan] == ["tile", "global", "tile", "global", "global", "tile",
                                          "global", "global", "global", "tile"]
    assert [s for _, stages in plan for s in stages] == network(64)


def _lowered(shape, dtype, indices, descending=False):
    func = bitonic_sort_func(TensorType(shape, dtype), descending=descending, indices=indices)
    return func, lower(mlc.IRModule({"main": func}))["main"]


def test_it_is_marked_scheduled_and_the_default_schedules_leave_it_alone():
    func, _ = _lowered((3, 7), "float32", True)
    assert func.attr("mlc.scheduled") == "hand-written-gpu" and not is_unscheduled(func)
    assert [(p.name, p.dtype) for p in func.params] == [("x", "float32"), ("out", "int64")]
    mod = mlc.IRModule({"main": func})
    assert schedule_module(mod, "cuda")["main"] is func
    cpu = get_op("sort").prim_func(TensorType((3, 7), "int8"))
    gpu = bitonic_sort_func(TensorType((3, 7), "int8"), descending=False, indices=False)
    assert [(p.name, p.dtype, p.static_shape()) for p in gpu.params] == \
        [(p.name, p.dtype, p.static_shape()) for p in cpu.params]


@pytest.mark.parametrize("shape, dtype, indices, launches, spaces", [
    ((4, 37), "float32", False, 1, []),          # a row in a tile: one kernel, no workspace
    ((2, 1000), "int64", False, 1, []),
    ((2, 3000), "float32", False, 1 + 2 + 3, ["keys", "pos"]),
    ((3000,), "int8", False, 1 + 2 + 3, ["keys"]),  # sort of ints carries no positions
    ((2, 1500), "bool", True, 1 + 2, ["keys", "pos"]),
])
def test_launches_and_workspace(shape, dtype, indices, launches, spaces):
    """Tiles of 1024 positions: a row of 2048 positions adds one stage (a sub-stage spanning
    tiles and a merge), of 4096 two (one and two spanning sub-stages, each then a merge)."""
    _, lowered = _lowered(shape, dtype, indices)
    ks = kernels(lowered)
    assert len(ks) == launches
    assert [b.name for b in workspace(lowered)] == spaces
    assert all(k.threads <= 1024 for k in ks)
    n = shape[-1]
    if spaces:
        assert all(b.shape[0].value == np.prod(shape[:-1], dtype=int) * n for b in workspace(lowered))


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 5), (2, 0, 4)])
def test_empty_arrays_launch_nothing(shape):
    for name in NAMES:
        _, lowered = _lowered(shape, "float64", name == "argsort")
        assert kernels(lowered) == []
        assert _gpu_sort(name, np.zeros(shape), descending=False).shape == shape


def test_the_barriers_between_sub_stages_are_needed():
    """Without the barriers the pass inserts, the emulator sees the race of one sub-stage's
    comparators with the next one's (so the differential tests above do check them)."""
    func = bitonic_sort_func(TensorType((64,), "float32"), descending=False, indices=False)
    no_sync = [p for p in GPU_PIPELINE if p is not insert_thread_sync]
    lowered = run_passes(mlc.IRModule({"main": func})["main"], no_sync)
    x = np.random.default_rng(0).standard_normal(64).astype("float32")
    with pytest.raises(RaceError, match="keys_shared"):
        Emulator(lowered).run([x, np.zeros(64, "float32")])


def test_illegal_uses():
    with pytest.raises(ShapeError, match="0-d"):
        bitonic_sort_func(TensorType((), "float32"), descending=False, indices=False)
    with pytest.raises(DTypeError, match="float16 to float32"):
        bitonic_sort_func(TensorType((4,), "float16"), descending=False, indices=True)
    with pytest.raises(DTypeError, match="sorts bool, integer"):
        bitonic_sort_func(TensorType((4,), "complex64"), descending=False, indices=False)
    with pytest.raises(ShapeError, match=r"more than CUDA's 2147483647; sort fewer rows"):
        bitonic_sort_func(TensorType((1 << 20, 1 << 20, 4), "uint8"), descending=False, indices=False)


# ------------------------------------------------------------------ CUDA C

NVRTC_CASES = {
    "float32_argsort_in_a_tile": ((5, 37), "float32", True, False),
    "float64_sort_spanning_tiles": ((2, 3000), "float64", False, True),
    "int8_sort": ((1000,), "int8", False, True),
    "uint64_argsort_spanning_tiles": ((1025,), "uint64", True, False),
    "bool_sort_rows_of_one": ((7, 1), "bool", False, False),
}


#: The CUDA C does not depend on the architecture (only NVRTC's cubin does): each case is
#: compiled for one architecture, the cases taking them in turn, so each one sees several.
CASE_ARCHS = [(case, ARCHS[k % len(ARCHS)]) for k, case in enumerate(sorted(NVRTC_CASES))]


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("case, arch", CASE_ARCHS)
def test_the_kernels_compile_with_nvrtc(case, arch):
    shape, dtype, indices, descending = NVRTC_CASES[case]
    func = bitonic_sort_func(TensorType(shape, dtype), descending=descending, indices=indices)
    code, cubin = compile_sources(mlc.IRModule({"main": func}), TARGETS[arch])
    assert code.count('extern "C" __global__') == len(kernels(lower(mlc.IRModule({"main": func}))["main"]))
    assert "__shared__" in code and "__syncthreads();" in code
    assert cubin[:4] == b"\x7fELF"


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
def test_two_to_the_31_positions_index_in_64_bits():
    """2**21 rows of 1024 positions: the fused position overflows int, so it is long long."""
    func = bitonic_sort_func(TensorType((1 << 21, 1000), "uint8"), descending=False, indices=False)
    code, cubin = compile_sources(mlc.IRModule({"main": func}), TARGETS["sm_80"])
    assert "((long long)(bx)) * 1024ll" in code and "keys_shared[((c * 512) + tx)]" in code
    assert cubin[:4] == b"\x7fELF"


@needs_gpu
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("shape", [(5, 37), (1000,), (3, 5000)])
def test_on_the_gpu(name, dtype, shape):
    import cupy as cp
    rng = np.random.default_rng(1)
    x = rng.choice(_pool(dtype), shape)
    if dtype.startswith("float"):
        x = np.where(rng.random(shape) < 0.5, rng.standard_normal(shape), x).astype(dtype)
    for descending in (False, True):
        func = bitonic_sort_func(TensorType(shape, dtype), descending=descending, indices=name == "argsort")
        out = cp.zeros(shape, "int64" if name == "argsort" else dtype)
        mlc.build(mlc.IRModule({"main": func}), "cuda")["main"](cp.asarray(x), out)
        assert out.get().tobytes() == sorted_expected(name, x, descending).tobytes()
