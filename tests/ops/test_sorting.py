"""sort, argsort, searchsorted, take, take_along_axis and index_add against NumPy: every dtype, NaN, ±inf,
±0, duplicates, empty and size-1 axes, descending order, stability; bitwise equal results.
Complex sort and argsort (mlc.numpy, eager and jitted) in NumPy's lexicographic order."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import BoundsError, DTypeError, MLCError, ShapeError
from mlc.ops import TensorType, get_op, register_op

from ._harness import ALL, TARGETS, arrays, check_op, run_op, shapes, sorted_expected

SORTABLE = tuple(d for d in ALL if d != "float16")
#: The largest array test_sort_small sorts on the reference interpreter too.
REFERENCE_SORT_SIZE = 64

#: Where the CPU's radix sort kernel (the ops' prim_func) runs: a GPU build of sort or argsort
#: takes the op's bitonic kernel instead (gpu_prim_func; tests/cuda/test_gpu_sort.py), and a
#: kernel without a recorded op gets the batch-parallel form tests/cuda/test_hand_written.py
#: checks, so the tests of the radix kernel's chunks and digits name these two.
RADIX_KERNEL_ON = ("reference", "llvm")


def _check_bitwise(name, arrays_, expected, targets=TARGETS, **attrs):
    check_op(name, arrays_, expected, targets=targets, **attrs)
    for target in targets:
        (got,) = run_op(name, arrays_, target, **attrs)
        assert got.tobytes() == expected.tobytes(), f"{name} on {target}: {got} != {expected}"


@pytest.mark.parametrize("name", ["sort", "argsort"])
@settings(max_examples=25, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(SORTABLE), shape=shapes(min_dims=1, max_dims=3, max_side=9),
       descending=st.booleans())
def test_sort_small(name, data, dtype, shape, descending):
    # floats with NaN or -0.0 take the kernel's general path, the others its key-bits path
    x = data.draw(arrays(dtype, shape, special=data.draw(st.booleans(), label="NaN and inf")))
    if x.size:  # duplicates (and ±0)
        flat = x.reshape(-1)
        if dtype.startswith("float") and data.draw(st.booleans(), label="-0.0"):
            flat[data.draw(st.integers(0, flat.size - 1))] = -0.0
        flat[data.draw(st.integers(0, flat.size - 1))] = flat[0]
    # the reference interpreter runs the digit passes element by element (about a second a
    # build here): it checks the arrays of up to REFERENCE_SORT_SIZE elements, llvm all of them
    targets = TARGETS if x.size <= REFERENCE_SORT_SIZE else tuple(t for t in TARGETS if t != "reference")
    _check_bitwise(name, [x], sorted_expected(name, x, descending), targets=targets, descending=descending)


@pytest.mark.parametrize("name", ["sort", "argsort"])
@pytest.mark.parametrize("dtype, special", [(d, True) for d in ("float32", "float64", "int8", "int64", "uint32",
                                                                    "uint64", "bool")]
                         + [("float32", False), ("float64", False)])
@pytest.mark.parametrize("n", [1, 1001, 40_000])
def test_sort_large_llvm(name, dtype, special, n):
    """Many duplicates, NaN, ±inf, ±0 and the dtype's extremes at sizes 10^3..10^4.6 (llvm only:
    the reference interpreter runs the digit passes element by element); floats without NaN and
    -0.0 too (the kernel's key-bits path)."""
    rng = np.random.default_rng(n)
    if dtype.startswith("float") and not special:
        x = rng.choice(np.array([-np.inf, np.inf, 0.0, 1.5, -2.25], dtype), n)
        x = np.where(rng.random(n) < 0.5, rng.standard_normal(n) * 1e3, x).astype(dtype)
    elif dtype.startswith("float"):
        x = rng.choice(np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, 1.5, -2.25, 1e-300 if dtype == "float64"
                                 else 1e-40], dtype), n)
        x = np.where(rng.random(n) < 0.5, rng.standard_normal(n), x).astype(dtype)
    elif dtype == "bool":
        x = rng.random(n) < 0.5
    else:
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        x[::7] = info.min
        x[::11] = x[0]
    for descending in (False, True):
        _check_bitwise(name, [x], sorted_expected(name, x, descending), targets=("llvm",), descending=descending)


@settings(max_examples=20, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(SORTABLE), n=st.integers(0, 20), side=st.sampled_from(["left", "right"]))
def test_searchsorted(data, dtype, n, side):
    a = np.sort(data.draw(arrays(dtype, (n,))))
    v = data.draw(arrays(dtype, data.draw(shapes(max_dims=2, max_side=6))))
    if n and v.size and data.draw(st.booleans()):
        v.reshape(-1)[0] = a[data.draw(st.integers(0, n - 1))]  # an exact hit among duplicates
    check_op("searchsorted", [a, v], np.searchsorted(a, v, side=side).astype("int64"), side=side)


@settings(max_examples=20, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes(min_dims=1, max_dims=3, max_side=5),
       index_dtype=st.sampled_from(["int8", "int32", "int64", "uint16"]))
def test_take(data, dtype, shape, index_dtype):
    x = data.draw(arrays(dtype, shape))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    lo = 0 if index_dtype.startswith("u") else -n
    idx = np.array(data.draw(st.lists(st.integers(lo, n - 1), max_size=6)), index_dtype)
    check_op("take", [x, idx], np.take(x, idx, axis=axis), axis=axis % len(shape))


@settings(max_examples=20, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(ALL), shape=shapes(min_dims=1, max_dims=3, max_side=5))
def test_take_along_axis(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    ishape = tuple(data.draw(st.sampled_from([1, s])) if d != axis else data.draw(st.integers(0, 4))
                   for d, s in enumerate(shape))
    idx = data.draw(arrays("int64", ishape, bound=None, min_value=-n)) % (2 * n) - n if n else \
        np.zeros(ishape, "int64")
    expected = np.take_along_axis(x, idx, axis=axis) if n else np.zeros(ishape, x.dtype)
    check_op("take_along_axis", [x, idx], expected, axis=axis)


@settings(max_examples=20, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["float32", "float64", "int32"]),
       shape=shapes(min_dims=1, max_dims=3, max_side=5), size=st.integers(1, 4))
def test_index_add_against_numpy_add_at(data, dtype, shape, size):
    values = data.draw(arrays(dtype, shape, special=False, bound=8))
    axis = data.draw(st.integers(0, len(shape) - 1))
    ishape = tuple(data.draw(st.sampled_from([1, s])) if d != axis else s for d, s in enumerate(shape))
    count = int(np.prod(ishape))
    idx = np.array(data.draw(st.lists(st.integers(-size, size - 1), min_size=count, max_size=count)),
                   "int64").reshape(ishape)  # indices repeat: their values add up
    expected = np.zeros(shape[:axis] + (size,) + shape[axis + 1:], dtype)
    grid = list(np.indices(shape, sparse=True))
    grid[axis] = np.broadcast_to(idx % size, shape)
    np.add.at(expected, tuple(grid), values)
    check_op("index_add", [values, idx], expected, axis=axis, size=size)


@pytest.mark.parametrize("target", TARGETS)
def test_out_of_range_indices_are_clipped_in_kernels(target):
    x = np.array([10, 20, 30], "int32")
    (got,) = run_op("take", [x, np.array([3, -4, 100, -100], "int64")], target, axis=0)
    np.testing.assert_array_equal(got, [30, 10, 30, 10])
    (got,) = run_op("take_along_axis", [x, np.array([7, -9], "int64")], target, axis=0)
    np.testing.assert_array_equal(got, [30, 10])


def test_illegal_uses():
    with pytest.raises(DTypeError, match="float16 to float32"):
        get_op("sort").infer(TensorType((3,), "float16"))
    with pytest.raises(ShapeError, match="0-d"):
        get_op("argsort").prim_func(TensorType((), "int32"))
    with pytest.raises(DTypeError, match="integer array"):
        get_op("take").infer(TensorType((3,), "float32"), TensorType((2,), "float32"))
    with pytest.raises(ShapeError, match="1-D"):
        get_op("take").infer(TensorType((3,), "float32"), TensorType((2, 2), "int64"))
    with pytest.raises(BoundsError, match="empty axis"):   # NumPy's IndexError
        get_op("take").infer(TensorType((0,), "float32"), TensorType((2,), "int64"))
    with pytest.raises(ShapeError, match="dimensions like x"):
        get_op("take_along_axis").infer(TensorType((3, 2), "float32"), TensorType((2,), "int64"))
    with pytest.raises(ShapeError, match="must broadcast to the values"):
        get_op("index_add").infer(TensorType((3, 2), "float32"), TensorType((3,), "int64"), axis=0, size=2)
    with pytest.raises(ShapeError, match="size must be"):
        get_op("index_add").infer(TensorType((3,), "float32"), TensorType((3,), "int64"), axis=0, size=0)
    with pytest.raises(ShapeError, match="side must be"):
        get_op("searchsorted").infer(TensorType((3,), "float32"), TensorType((2,), "float32"), side="middle")
    with pytest.raises(DTypeError, match="one dtype"):
        get_op("searchsorted").infer(TensorType((3,), "float32"), TensorType((2,), "int32"))
    with pytest.raises(MLCError, match="pattern 'opaque'"):
        register_op("test.prim_func_not_opaque", pattern="elemwise", infer=None, lower=None, reference=None,
                    prim_func=lambda t: None)


def test_reinterpret_needs_one_width():
    from mlc.ir.expr import const, reinterpret
    assert reinterpret(const(1.0, "float32"), "uint32").dtype == "uint32"
    with pytest.raises(DTypeError, match="same number of bits"):
        reinterpret(const(1.0, "float32"), "uint64")


def test_sort_is_one_opaque_kernel_in_a_graph():
    """The radix sort is never fused with its neighbours: its producer and consumer stay apart."""
    @mlc.jit
    def f(x):
        return mlc.numpy.sort(x * 2) + 1

    x = np.array([3, -1, 2, np.nan], "float32")
    np.testing.assert_array_equal(f(x), np.sort(x * 2) + 1)


@pytest.mark.parametrize("legalize", [False, True])
def test_hand_written_kernels_in_a_graph_module(legalize):
    """Ops with a hand-written PrimFunc build in graph modules: fused (each alone) or mapped one by
    one by LegalizeOps; one value passed twice (searchsorted(a, a)) is one buffer."""
    from mlc.graph import BlockBuilder, LegalizeOps, Tensor, op
    from mlc.ir.graph import Var

    bb = BlockBuilder()
    x = Var("x", TensorType((6,), "float32"))
    with bb.function("main", [x]):
        s = bb.emit(op("sort", x))
        pos = bb.emit(op("searchsorted", s, s, side="right"))
        bb.emit_func_output((s, bb.emit(op("argsort", x)), pos))
    mod = bb.get()
    if legalize:
        mod = LegalizeOps(mod)
        assert mod["main"].ops() == ["call_tir"] * 3
    x = np.array([2.0, np.nan, -1.0, 2.0, -0.0, 0.0], "float32")
    got = mlc.build(mod, "llvm")["main"](x)
    s = np.sort(x, kind="stable")  # NumPy's default sort orders -0.0 and 0.0 by host (SIMD sorts)
    assert got[0].tobytes() == s.tobytes()
    np.testing.assert_array_equal(got[1], np.argsort(x, kind="stable"))
    np.testing.assert_array_equal(got[2], np.searchsorted(s, s, side="right"))


@pytest.mark.parametrize("name", ["sort", "argsort"])
@pytest.mark.parametrize("dtype", ["float32", "int16", "uint64"])
def test_sort_in_parallel_chunks(name, dtype, monkeypatch):
    """Rows cut into parallel chunks (ragged: 3 chunks of 8, 8 and 7 elements, byte digits) stay
    stable and exact, on both targets, with and without NaN and -0.0 among floats (in different
    chunks). Three chunks make a first, a middle and a last one: the reference interpreter steps
    through each chunk's 256 buckets every pass, so more chunks would add time, not cases.
    The radix kernel itself, built as it is: on the CPU targets (:data:`RADIX_KERNEL_ON`)."""
    from mlc.ops.library import radix_sort as sorting
    monkeypatch.setattr(sorting, "MIN_CHUNK", 7)
    rng = np.random.default_rng(3)
    x = rng.integers(-4, 5, (2, 23)).astype(dtype)
    if dtype == "float32":
        x[0, [3, 9]] = [np.nan, -0.0]
    for descending in (False, True):
        expected = sorted_expected(name, x, descending)
        for target in RADIX_KERNEL_ON:
            func = get_op(name).prim_func(TensorType(x.shape, dtype), descending=descending)
            assert "parallel" in func.script()
            out = np.empty(x.shape, expected.dtype)
            mlc.build(mlc.IRModule({"main": func}), target)["main"](x, out)
            assert out.tobytes() == expected.tobytes(), (target, descending)


#: Parts of complex elements: few, so that ties, classes (NaN parts) and signed zeros all come up.
COMPLEX_PARTS = [0.0, -0.0, 1.0, -1.5, 2.0, np.inf, -np.inf, np.nan]


@pytest.mark.parametrize("name", ["sort", "argsort"])
@settings(max_examples=12, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["complex64", "complex128"]),
       shape=shapes(min_dims=1, max_dims=2, max_side=7), descending=st.booleans(),
       target=st.sampled_from(["llvm", "reference"]))
def test_complex_sort_is_numpys_lexicographic_order(name, data, dtype, shape, descending, target):
    """Real part first, then imaginary part; R + Rj, R + nanj, nan + Rj, nan + nanj (each by its
    parts that are not NaN; -0.0 ties 0.0), stable, along any axis; jitted and eager."""
    size = int(np.prod(shape))
    parts = data.draw(st.lists(st.tuples(st.sampled_from(COMPLEX_PARTS), st.sampled_from(COMPLEX_PARTS)),
                               min_size=size, max_size=size), label="parts")
    x = np.array([complex(a, b) for a, b in parts], dtype).reshape(shape)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    moved = np.moveaxis(x, axis, -1)
    want = np.moveaxis(sorted_expected(name, moved, descending), -1, axis)
    fn = getattr(mlc.numpy, name)
    got = mlc.jit(lambda a: fn(a, axis=axis, descending=descending), target=target)(x)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (got, want)
    if target == "llvm":  # eager: compiled op by op
        assert fn(x, axis=axis, descending=descending).tobytes() == want.tobytes()


def _rows_of_one_digit(name, dtype, monkeypatch, targets):
    from mlc.ops.library import radix_sort as sorting
    rng = np.random.default_rng(5)
    x = rng.integers(0, 40, (3, 61)).astype(dtype)
    if dtype.startswith("float"):
        x = (x / 64 + 1).astype(dtype)  # [1, 2): one sign and exponent
    x[2] = x[2, 0]
    for min_chunk in (7, 1 << 16):
        monkeypatch.setattr(sorting, "MIN_CHUNK", min_chunk)
        for descending in (False, True):
            expected = sorted_expected(name, x, descending)
            for target in targets:
                out = np.empty(x.shape, expected.dtype)
                func = get_op(name).prim_func(TensorType(x.shape, dtype), descending=descending)
                mlc.build(mlc.IRModule({"main": func}), target)["main"](x, out)
                assert out.tobytes() == expected.tobytes(), (target, min_chunk, descending)


@pytest.mark.parametrize("name", ["sort", "argsort"])
@pytest.mark.parametrize("dtype", ["int64", "uint32", "float32", "float64"])
def test_digits_one_for_the_whole_row_copy_instead_of_scattering(name, dtype, monkeypatch):
    """Small integers (their high bytes one digit for the whole row) and floats of one binade (the
    sign and exponent byte): those passes copy; rows stay sorted and stable, in parallel chunks and
    in one, every digit the same included (a row of one value)."""
    _rows_of_one_digit(name, dtype, monkeypatch, targets=("llvm",))


@pytest.mark.parametrize("name", ["sort", "argsort"])
def test_int16_rows_of_one_digit_on_both_cpu_targets(name, monkeypatch):
    """As above, int16 rows on the reference interpreter too (it steps through the passes
    element by element)."""
    _rows_of_one_digit(name, "int16", monkeypatch, targets=RADIX_KERNEL_ON)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("index_dtype, n", [("int8", 300), ("uint8", 300), ("int16", 40000), ("uint16", 70000),
                                            ("int8", 128), ("int8", 129), ("uint8", 256), ("uint8", 257)])
def test_narrow_indices_into_an_axis_longer_than_their_range(target, index_dtype, n):
    """The wrap of a negative index and the clip happen in a type that holds the axis length."""
    x = np.arange(n, dtype="float32")
    info = np.iinfo(index_dtype)
    values = [v for v in (info.max, info.max - 1, 0, 1, -1, -n, info.min, info.min + 1)
              if -n <= v < n and info.min <= v <= info.max]
    idx = np.array(values, index_dtype)
    (got,) = run_op("take", [x, idx], target, axis=0)
    np.testing.assert_array_equal(got, np.take(x, idx))
    (got,) = run_op("take_along_axis", [x, idx], target, axis=0)
    np.testing.assert_array_equal(got, np.take_along_axis(x, idx, axis=0))
