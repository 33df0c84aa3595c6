"""The course's devices and arrays: mlc.cpu(), mlc.cuda(), mlc.nd.array/empty, time_evaluator(name, dev)."""
import subprocess
import sys

import numpy as np
import pytest

import mlc
from mlc import MLCError

from tests.programs import mm_relu_module


def test_course_chapter_2_build_and_run_with_nd_arrays():
    rng = np.random.default_rng(1)
    a_np = rng.uniform(-1, 1, (16, 16)).astype("float32")
    b_np = rng.uniform(-1, 1, (16, 16)).astype("float32")
    rt_lib = mlc.build(mm_relu_module(16), target="llvm")
    a_nd = mlc.nd.array(a_np)
    b_nd = mlc.nd.array(b_np, mlc.cpu())
    c_nd = mlc.nd.empty((16, 16), dtype="float32")
    rt_lib["mm_relu"](a_nd, b_nd, c_nd)
    np.testing.assert_allclose(c_nd.numpy(), np.maximum(a_np @ b_np, 0), rtol=1e-5, atol=1e-5)
    f_timer = rt_lib.time_evaluator("mm_relu", mlc.cpu(), number=2)
    assert f_timer(a_nd, b_nd, c_nd).mean > 0


def test_nd_array_copies_and_numpy_returns_a_plain_copy():
    src = np.arange(6, dtype="int32").reshape(2, 3)
    arr = mlc.nd.array(src, mlc.cpu(0))
    src[0, 0] = 100
    out = arr.numpy()
    assert type(out) is np.ndarray and out[0, 0] == 0
    out[0, 1] = 7
    assert arr[0, 1] == 1
    assert arr.device == mlc.cpu() and repr(arr.device) == "cpu(0)"
    assert mlc.nd.empty(4, "float64").shape == (4,)


def test_nd_arrays_are_checked_like_numpy_arrays():
    lib = mlc.build(mm_relu_module(4), "llvm")
    ok = mlc.nd.empty((4, 4), "float32")
    with pytest.raises(mlc.DTypeError, match="dtype float32"):
        lib["mm_relu"](mlc.nd.empty((4, 4), "float64"), ok, ok)


def _cuda_devices() -> int | None:
    """None without CuPy, else how many CUDA devices CuPy sees (0 without a driver)."""
    try:
        import cupy
    except ImportError:
        return None
    try:
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no driver
        return 0


def test_cuda_device_without_cupy_or_a_gpu_says_what_is_missing():
    dev = mlc.cuda()
    assert repr(dev) == "cuda(0)" and mlc.device("cuda", 1) == mlc.cuda(1)
    devices = _cuda_devices()
    if devices is None:
        with pytest.raises(MLCError, match="need CuPy"):
            mlc.nd.array(np.zeros(3, "float32"), dev)
        with pytest.raises(MLCError, match="need CuPy"):
            mlc.nd.empty((3,), "float32", dev)
    elif devices == 0:
        with pytest.raises(mlc.errors.DeviceError, match="need a CUDA device, and none was found"):
            mlc.nd.array(np.zeros(3, "float32"), dev)
        with pytest.raises(mlc.errors.DeviceError, match="need a CUDA device"):
            mlc.nd.empty((3,), "float32", dev)
    else:
        arr = mlc.nd.array(np.arange(3, dtype="float32"), dev)
        np.testing.assert_array_equal(arr.numpy(), np.arange(3, dtype="float32"))
        assert arr.device == dev and arr.shape == (3,)


def test_bad_devices_and_dtypes_are_refused():
    with pytest.raises(MLCError, match="unknown device kind"):
        mlc.device("tpu")
    with pytest.raises(MLCError, match="expected a device"):
        mlc.nd.array(np.zeros(2), "cpu")
    with pytest.raises(mlc.DTypeError):
        mlc.nd.empty((2,), "datetime64[s]")
    lib = mlc.build(mm_relu_module(4), "llvm")
    with pytest.raises(MLCError, match="runs on cpu, not on cuda"):
        lib.time_evaluator("mm_relu", mlc.cuda())
    with pytest.raises(MLCError, match="dev must be a device"):
        lib.time_evaluator("mm_relu", 3)


def test_the_script_parser_loads_lazily_and_nd_on_use():
    code = ("import sys, mlc\n"
            "assert 'mlc.script' not in sys.modules\n"
            "assert mlc.nd.array is sys.modules['mlc.runtime.ndarray'].array and mlc.cpu().kind == 'cpu'\n"
            "assert mlc.parse is sys.modules['mlc.script'].parse\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("shape, dtype", [((1 << 14,), "float32"), ((3, 4099), "float64"), ((1 << 16,), "int8"),
                                          ((65, 1025), np.dtype("float16"))])
def test_large_host_outputs_are_cache_line_aligned(shape, dtype):
    """... and start half a page or more from where NumPy's large arrays start (their page
    offset 16), and apart from the output made before, so that a kernel streaming the output
    beside such inputs takes its streamed stores."""
    from mlc.runtime.ndarray import HOST_ALIGN, HOST_ALIGNED_BYTES, OUTPUT_PAGE_OFFSETS, allocator
    empty = allocator(mlc.cpu())
    offsets = []
    for _ in range(4):  # whatever address the allocator hands NumPy
        out = empty(shape, dtype)
        offsets.append(out.ctypes.data % 4096)
        assert out.shape == shape and out.dtype == np.dtype(dtype) and out.flags.c_contiguous
        assert out.flags.writeable and out.nbytes >= HOST_ALIGNED_BYTES
        assert out.ctypes.data % HOST_ALIGN == 0 and offsets[-1] in OUTPUT_PAGE_OFFSETS
        out[...] = 1
        assert (out == 1).all()
    assert all(a != b for a, b in zip(offsets, offsets[1:]))


@pytest.mark.parametrize("shape, dtype", [((128, 128), np.dtype("float32")), ((3, 4099), np.dtype("float64")),
                                          ((1 << 16,), np.dtype("int8")), ((7,), np.dtype("float32"))])
def test_an_output_maker_allocates_as_the_allocator_does(shape, dtype):
    from mlc.runtime.ndarray import HOST_ALIGN, HOST_ALIGNED_BYTES, OUTPUT_PAGE_OFFSETS, empty_maker, host_empty
    new = empty_maker(host_empty, shape, dtype)
    outs = [new() for _ in range(4)]  # whatever address the allocator hands NumPy
    for n, out in enumerate(outs):
        assert out.shape == shape and out.dtype == dtype and out.flags.c_contiguous and out.flags.writeable
        if out.nbytes >= HOST_ALIGNED_BYTES:
            assert out.ctypes.data % HOST_ALIGN == 0 and out.ctypes.data % 4096 in OUTPUT_PAGE_OFFSETS
        out[...] = n
    assert [int(out.flat[-1]) for out in outs] == [0, 1, 2, 3]  # four arrays, no memory shared


def test_small_host_outputs_are_plain_numpy_arrays():
    from mlc.runtime.ndarray import allocator
    empty = allocator(mlc.cpu())
    out = empty((2, 3), "float32")
    assert out.shape == (2, 3) and out.dtype == np.float32 and out.flags.owndata
    assert empty([4], "int32").shape == (4,)  # a list shape too


def test_jit_outputs_are_aligned():
    x = np.arange(1 << 15, dtype="float32")
    f = mlc.jit(lambda v: v * 2)
    for _ in range(3):
        assert f(x).ctypes.data % 64 == 0


@pytest.mark.parametrize("make", ["array", "empty"])
@pytest.mark.parametrize("shape, dtype", [((3, 5), "float32"), ((), "float64"), ((0, 3), "int32"), ((7,), "bool"),
                                          ((128, 128), "float32"), ((2, 3), ">f4")])
def test_nd_arrays_are_cache_line_aligned_whatever_their_size(make, shape, dtype):
    """As TVM's runtime aligns its arrays: a tensor program's C written by two threads in
    column panels never has a cache line across a panel boundary (mm_relu 128^3 on two
    AVX-512 cores: 16.5 us into an aligned C, 21.7 into one 32 bytes off)."""
    from mlc.runtime.ndarray import HOST_ALIGN
    source = (np.arange(max(1, int(np.prod(shape)))) % 2).astype(dtype)[:int(np.prod(shape))].reshape(shape)
    for _ in range(4):  # whatever address the allocator hands NumPy
        out = mlc.nd.array(source) if make == "array" else mlc.nd.empty(shape, dtype)
        assert isinstance(out, mlc.nd.NDArray) and out.shape == shape
        assert out.dtype == (np.dtype(dtype) if make == "array" else np.dtype(dtype).newbyteorder("="))
        assert out.flags.c_contiguous and out.flags.writeable
        assert out.ctypes.data % HOST_ALIGN == 0 or out.size == 0  # (no data, nothing to align)
        if make == "array":
            np.testing.assert_array_equal(out.numpy(), source)


def test_nd_array_of_a_strided_view_is_a_contiguous_copy():
    x = np.arange(24, dtype="float32").reshape(4, 6)[:, ::3]
    out = mlc.nd.array(x)
    assert out.flags.c_contiguous and not np.shares_memory(out, x)
    np.testing.assert_array_equal(out.numpy(), x)


def test_nd_array_refuses_a_masked_array_and_a_ragged_list_clearly():
    from mlc.errors import DTypeError, ShapeError
    with pytest.raises(DTypeError, match=r"mlc.nd.array: a masked array's mask would be dropped"):
        mlc.nd.array(np.ma.array([1.0, 2.0], mask=[0, 1]))
    with pytest.raises(ShapeError, match=r"mlc.nd.array: cannot make an array of list data: .*inhomogeneous"):
        mlc.nd.array([[1, 2], [3]])


@pytest.mark.parametrize("shape", [(-1, 3), (2, 3.5), (True,)])
def test_nd_empty_refuses_a_shape_that_is_not_non_negative_ints(shape):
    from mlc.errors import ShapeError
    with pytest.raises(ShapeError, match=r"mlc.nd.empty: shape must hold non-negative ints"):
        mlc.nd.empty(shape, "float32")
    assert mlc.nd.empty(np.int64(3), "float32").shape == (3,)


def test_checked_calls_keep_zero_d_arguments_zero_d():
    """MLC_DEBUG's checked entry made a Python scalar's 0-d array 1-d (np.ascontiguousarray does)
    and refused it: "argument s must have shape (), got (1,)"."""
    from mlc.config import override
    with override(debug=True):
        f = mlc.jit(lambda x, s: x * s)
        np.testing.assert_array_equal(f(np.ones(3, "float32"), 2.0), np.full(3, 2, "float32"))
        np.testing.assert_array_equal(f(np.ones(3, "float32"), np.float32(3)), np.full(3, 3, "float32"))
    from mlc.runtime.ndarray import c_contiguous
    assert c_contiguous(np.float64(1)).shape == () and c_contiguous(np.ones((3, 2)).T).flags.c_contiguous
