"""The AVX-512 sort kernel (mlc.ops.library.vector_sort, mlc.backends.llvm.vector_sort) against
NumPy's stable sort, bit for bit: float32, int32 and uint32 rows of every length around its
leaves and pivots (0, 1, odd, past 64, 128 and 1024 keys), sorted, reversed, organ pipes,
all equal, of few values, with NaNs of either sign and any payload, both zeros and infinities, in both
directions; one row long enough for its two threads; the CPU rules choosing it on AVX-512
targets only."""
import ctypes
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy as mnp
from mlc.backends.llvm import vector_sort as vector_sort_llvm
from mlc.ops import TensorType, get_op
from mlc.ops.hand_written import hand_written
from mlc.ops.library import vector_sort
from mlc.schedules.default import CPU_RULES
from mlc.target import Target

from ._harness import sorted_expected

AVX512 = bool(Target.from_str("llvm").get("avx512f"))
needs_avx512 = pytest.mark.skipif(not AVX512, reason="the kernel runs on AVX-512 CPUs only")

_SPECIAL = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFFFFFFF, 0x7FC00123, 0x80000000, 0, 0x7F800000,
                     0xFF800000, 1, 0x80000001], "uint32")


def _row(rng, dtype: str, n: int, pattern: str, special: bool) -> np.ndarray:
    if pattern == "zeros" and dtype == "float32":  # both zeros and no NaN: only the zeros repaired
        return np.array([0.0, -0.0, 1.0, -1.0], dtype)[rng.integers(0, 4, n)]
    if pattern in ("few", "zeros"):
        x = rng.integers(-2, 3, n)
    elif pattern == "equal":
        x = np.full(n, 7)
    else:
        x = rng.integers(-1000, 1000, n)
        x = np.sort(x) if pattern == "sorted" else np.sort(x)[::-1] if pattern == "reversed" else x
        if pattern == "organ":  # rising, then falling
            x = np.concatenate([np.sort(x[: n // 2]), np.sort(x[n // 2:])[::-1]])
    if dtype == "uint32":
        x = (x + (1 << 31)).astype("uint32")
    else:
        x = x.astype(dtype) if dtype == "int32" else (x * 0.25).astype(dtype)
    if special and n:
        pool = _SPECIAL.view(dtype)
        at = rng.integers(0, n, rng.integers(1, n + 1))
        x[at] = pool[rng.integers(0, len(pool), len(at))]
    return x


def _sort(x: np.ndarray, descending: bool) -> np.ndarray:
    func = vector_sort.vector_sort_func(TensorType(x.shape, x.dtype.name), descending=descending)
    out = np.empty_like(x)
    mlc.build(mlc.IRModule({"main": func}), "llvm")["main"](x, out)
    return out


@needs_avx512
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 16), dtype=st.sampled_from(vector_sort.DTYPES), rows=st.integers(1, 2),
       n=st.sampled_from([0, 1, 2, 15, 16, 17, 63, 64, 65, 127, 128, 129, 300, 1025, 3001, 20001]),
       pattern=st.sampled_from(["random", "sorted", "reversed", "organ", "equal", "few", "zeros"]),
       special=st.booleans(),
       descending=st.booleans())
def test_rows_equal_numpys_stable_sort_bitwise(seed, dtype, rows, n, pattern, special, descending):
    rng = np.random.default_rng(seed)
    x = np.stack([_row(rng, dtype, n, pattern, special) for _ in range(rows)])
    expected = sorted_expected("sort", x, descending)
    assert _sort(x, descending).tobytes() == expected.tobytes()


@needs_avx512
@pytest.mark.parametrize("descending", [False, True])
def test_a_row_for_two_threads(descending):
    """A row past SPLIT_MIN: two threads each keep one side of the pivot (one thread: the first part
    sorts it all); NaNs, zeros, runs of equal values and an odd length included."""
    rng = np.random.default_rng(5)
    n = vector_sort.SPLIT_MIN + 4097
    x = rng.standard_normal(n).astype("float32")
    x[rng.integers(0, n, 300)] = _SPECIAL.view("float32")[rng.integers(0, len(_SPECIAL), 300)]
    x[: n // 4] = 1.5
    expected = sorted_expected("sort", x, descending)
    assert _sort(x, descending).tobytes() == expected.tobytes()
    few = rng.integers(0, 3, (2, n)).astype("int32")  # the pivot the least sample: split by <=; two rows
    assert np.array_equal(_sort(few, descending), sorted_expected("sort", few, descending))


@needs_avx512
def test_periodic_keys_sort_as_fast_as_random_ones():
    """Pivots are sampled at hashed places, not evenly spaced ones, which would all hit one value of
    keys of a period dividing the row (i * 64 % n: each part would shed only its least keys, a
    quadratic sort, 30 times as long)."""
    import time
    n = 1 << 20
    func = vector_sort.vector_sort_func(TensorType((n,), "int32"), descending=False)
    run = mlc.build(mlc.IRModule({"main": func}), "llvm")["main"]
    periodic = (np.arange(n) * 64 % n).astype("int32")
    uniform = np.random.default_rng(0).permutation(n).astype("int32")
    out = np.empty(n, "int32")
    took = {}
    threads = mlc.get_num_threads()
    mlc.set_num_threads(1)  # (one thread sorts the row from its first pivot on)
    try:
        for name, x in (("periodic", periodic), ("uniform", uniform)) * 3:
            start = time.thread_time()
            run(x, out)
            took[name] = min(took.get(name, np.inf), time.thread_time() - start)
            assert np.array_equal(out, np.sort(x))
    finally:
        mlc.set_num_threads(threads)
    assert took["periodic"] < 5 * took["uniform"] + 0.002, took


@needs_avx512
def test_jitted_sort_runs_the_kernel_and_equals_numpy():
    x = np.random.default_rng(1).standard_normal((3, 200)).astype("float32")
    x[1, ::7] = np.nan
    f = mlc.jit(lambda v: mnp.sort(v, axis=-1), tiered=False)
    assert f(x).tobytes() == np.sort(x, axis=-1, kind="stable").tobytes()


def test_the_cpu_rules_choose_it_on_avx512_targets_only():
    sort = hand_written("sort", [TensorType((4, 100), "float32")], {"descending": True})
    argsort = hand_written("argsort", [TensorType((100,), "float32")], {"descending": False})
    wide = hand_written("sort", [TensorType((100,), "float64")], {"descending": False})
    avx512, avx2 = Target("llvm", "skylake-avx512"), Target("llvm", "haswell")
    rewritten = CPU_RULES.hand_written(sort, avx512)
    assert "mlc_vsort_f32_desc" in rewritten.script() and rewritten.attrs == sort.attrs
    for func, target in ((sort, avx2), (argsort, avx512), (wide, avx512)):
        assert CPU_RULES.hand_written(func, target) is func


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 16), dtype=st.sampled_from(["float32", "float64", "int32"]),
       shape=st.sampled_from([(0,), (1,), (7,), (3, 20), (2, 3, 33)]),
       pattern=st.sampled_from(["random", "few", "zeros", "equal"]), special=st.booleans(), descending=st.booleans())
def test_the_sort_reference_is_the_stable_sort_bitwise(seed, dtype, shape, pattern, special, descending):
    """The op's NumPy reference (what the eager first tier runs): NumPy's fast sort, NaNs and zeros
    put back in their input order."""
    rng = np.random.default_rng(seed)
    n = shape[-1]
    rows = [_row(rng, "int32" if dtype == "int32" else "float32", n, pattern, special and dtype == "float32")
            for _ in range(int(np.prod(shape[:-1])))]
    x = np.array(rows, dtype).reshape(shape)
    if special and dtype == "float64" and x.size:
        x.flat[rng.integers(0, x.size, 3)] = [np.nan, -0.0, -np.nan]
    got = get_op("sort").reference(x, descending=descending)
    assert got.flags.c_contiguous and got.tobytes() == sorted_expected("sort", x, descending).tobytes()


# ------------------------------------------------------------------ the depth limit


@lru_cache(maxsize=None)
def _raw_sort(codec: str):
    """``mlc_vsort_<codec>`` alone, compiled for this host, as a ctypes function returning its
    note: 1 where a part went past the depth limit and was heapsorted."""
    import llvmlite.binding as llvm
    from llvmlite import ir

    from mlc.backends.llvm import vector_sort as kernel
    from mlc.backends.llvm.cpus import host_cpu, llvm_target

    module = ir.Module("vsort")
    i64, ptr = ir.IntType(64), ir.PointerType()
    fn = ir.Function(module, ir.FunctionType(ir.IntType(32), [ptr] * 3 + [i64]), name="sort")
    kernel.define_sort(codec)(fn)
    cpu, features = host_cpu()
    machine = llvm_target().create_target_machine(cpu=cpu, features=features, opt=2)
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(str(module)), machine)
    engine.finalize_object()
    proto = ctypes.CFUNCTYPE(ctypes.c_int32, *[ctypes.c_void_p] * 3, ctypes.c_int64)
    run = proto(engine.get_function_address("sort"))

    def sort(x: np.ndarray):
        out, flag = np.empty_like(x), np.zeros(1, "int32")
        note = run(x.ctypes.data, out.ctypes.data, flag.ctypes.data, len(x))
        return out, note, int(flag[0])
    sort.engine = engine  # (keeps the code alive)
    return sort


def _sample_places(n: int) -> np.ndarray:
    """Where the kernel samples a part of ``n`` keys for its pivot (its ``_pivot``)."""
    count = 16 if n <= vector_sort_llvm.SMALL_PART else 64
    stride = n // count
    k = np.arange(count, dtype=np.uint64)
    jitter = (((k * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) * np.uint64(stride)) >> np.uint64(32)
    return (k * np.uint64(stride) + jitter).astype(np.int64)


def _partition_in_place(keys: np.ndarray, pivot: int) -> np.ndarray:
    """The order in which the kernel's in-place partition leaves ``keys`` (its
    ``_define_partition_in_place``): the places each key is stored at."""
    n = len(keys)
    a = np.empty(n, np.int64)
    lo, hi = 0, n

    def put(at):  # 16 keys at a time, each 16's below and above sides packed in order
        nonlocal lo, hi
        for start in range(0, len(at), 16):
            some = at[start:start + 16]
            below, above = some[keys[some] < pivot], some[keys[some] >= pivot]
            a[lo:lo + len(below)] = below
            lo += len(below)
            hi -= len(above)
            a[hi:hi + len(above)] = above
    block = 16 * vector_sort_llvm._UNROLL  # (held at each end, then read at once)
    rest = (n - 2 * block) % block
    put(np.arange(block, block + rest))
    read_lo, read_hi = block + rest, n - block
    while read_lo < read_hi:
        if read_lo - lo <= hi - read_hi:
            put(np.arange(read_lo, read_lo + block))
            read_lo += block
        else:
            read_hi -= block
            put(np.arange(read_hi, read_hi + block))
    put(np.arange(block))
    put(np.concatenate([np.arange(n - 16 * (j + 1), n - 16 * j) for j in range(block // 16)]))
    return a


def _adversary(n: int, seed: int, few: int = 0) -> np.ndarray:
    """A permutation of range(n) that defeats the kernel's pivots for as many partitions as its
    depth limit allows and a few more. McIlroy's adversary: every key starts unknown, and known
    keys all order below unknown ones; following the kernel's partitions (its pivot a median of
    keys at known places, its parts laid out as it stores them), each sampled unknown key is
    made the next smallest, so the pivot is near the least key and the part sheds a few dozen
    keys. The keys still unknown at the end get the largest values (all different, or ``few``
    of them: runs of equal keys)."""
    value = np.full(n, n, np.int64)  # unknown: above all known keys
    part, given = np.arange(n), 0
    for level in range(2 * int(np.log2(n)) + 4):
        places = _sample_places(len(part))
        items = part[places]
        unknown = items[value[items] == n]
        value[unknown] = given + np.arange(len(unknown))
        given += len(unknown)
        pivot = np.sort(value[items])[len(items) // 2]
        keys = value[part]
        assert 0 < (keys < pivot).sum() < 100  # (no least-key pivot: split by <; a few keys split off)
        if level == 0:  # values to keys: the front in order, each 16 keys' back stored below the last
            above = np.flatnonzero(keys >= pivot)
            part = part[above[np.argsort(-(above // 16), kind="stable")]]
        else:
            order = _partition_in_place(keys, pivot)
            part = part[order[(keys[order] >= pivot)]]
    rest = np.flatnonzero(value == n)
    rng = np.random.default_rng(seed)
    value[rest] = given + (rng.integers(0, few, len(rest)) if few else rng.permutation(len(rest)))
    return value


@needs_avx512
@pytest.mark.parametrize("codec, few", [("i32", 0), ("f32", 0), ("u32_desc", 0), ("f32_desc", 0), ("i32_desc", 3),
                                        ("f32", 5)])
def test_pivots_that_keep_failing_end_in_a_heapsort(codec, few):
    """An input built against the pivot choice: each partition splits off a few keys (a quadratic
    sort, were they all to); past 2 log2(n) of them the part is heapsorted (the kernel says so), and
    the row still equals NumPy's (the heapsorted keys all different, or of ``few`` values,
    NaNs or infinities among them). Random rows never reach the limit."""
    dtype, descending = vector_sort_llvm.CODECS[codec]
    n = 12289
    ranks = _adversary(n, 0, few)
    if dtype == "float32":  # distinct floats of both signs, in the order of the ranks
        values = np.sort(np.random.default_rng(1).standard_normal(n * 2).astype("float32"))
        values = np.unique(values)[:n]
        assert len(values) == n
    else:
        values = np.arange(n, dtype=dtype) - (n // 2 if dtype == "int32" else 0)
    order = ranks if not descending else n - 1 - ranks
    x = values[order]
    if few and dtype == "float32":  # the largest keys: NaN ascending, -inf descending
        x[order == order.max()] = -np.inf if descending else np.nan
    expected = sorted_expected("sort", x, descending)
    nan = np.isnan(expected) if dtype == "float32" else np.zeros(n, bool)
    for row, heapsorted in ((x, 1), (np.random.default_rng(2).permutation(x), 0)):
        out, note, flag = _raw_sort(codec)(row)  # (NaNs: one NaN, not repaired, but flagged)
        assert note == heapsorted and flag == int(nan.any())
        assert np.array_equal(np.isnan(out), nan) and out[~nan].tobytes() == expected[~nan].tobytes()
