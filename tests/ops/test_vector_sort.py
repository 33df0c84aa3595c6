"""The AVX-512 sort kernel (mlc.ops.library.vector_sort, mlc.backends.llvm.vector_sort) against
NumPy's stable sort, bit for bit: float32, int32 and uint32 rows of every length around its
leaves and pivots (0, 1, odd, past 64 and 1024 keys), sorted, reversed, all equal, of few
values, with NaNs of either sign and any payload, both zeros and infinities, in both
directions; one row long enough for its two threads; the CPU rules choosing it on AVX-512
targets only."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
import mlc.numpy as mnp
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
       n=st.sampled_from([0, 1, 2, 15, 16, 17, 63, 64, 65, 129, 300, 1025, 3001]),
       pattern=st.sampled_from(["random", "sorted", "reversed", "equal", "few", "zeros"]), special=st.booleans(),
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
