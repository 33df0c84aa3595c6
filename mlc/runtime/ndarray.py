"""Devices and arrays in the MLC course's spelling: ``mlc.cpu()``, ``mlc.nd.array(x, dev)``.

A CPU array is a NumPy array (an ``ndarray`` subclass that remembers its
device), so built functions take it as they take any array; an array on
another device wraps that device memory's array (:mod:`.memory`: a backend
registers its kind of memory). Both have ``.numpy()`` (a NumPy copy) and
``.device``.

>>> import numpy as np
>>> a = array(np.arange(3, dtype="float32"), cpu())
>>> a.device, a.numpy().tolist(), empty((2,), "int32").shape
(cpu(0), [0.0, 1.0, 2.0], (2,))
"""
from __future__ import annotations

import functools
import itertools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import DTypeError, MLCError, ShapeError
from ..ir import dtype as dt
from . import host_pool
from .memory import memory, memory_kind_of, memory_kinds
from .pointers import data_pointer

__all__ = ["c_contiguous", "Device", "cpu", "device", "NDArray", "DeviceArray", "array", "empty", "check_device",
           "allocator", "host_empty", "pooled_sizes", "aligned_empty", "empty_maker", "numpy_allocates",
           "module_device", "to_device", "is_masked_array",
           "redefined_operators", "subclass_refusal", "device_count", "device_kinds",
           "in_device_memory", "FAST_DEVICE_ARRAYS",
           "device_array_type"]


def c_contiguous(x) -> np.ndarray:
    """``x`` as a C-contiguous NumPy array of its own shape: itself when it is one, else a
    copy (``np.ascontiguousarray`` alone makes a 0-d array 1-d).

    >>> c_contiguous(np.float32(2)).shape, c_contiguous(np.arange(6).reshape(2, 3).T).flags.c_contiguous
    ((), True)
    """
    x = np.asarray(x)
    return x if x.flags.c_contiguous else np.ascontiguousarray(x).reshape(x.shape)


def is_masked_array(x) -> bool:
    """Whether ``x`` is a NumPy masked array (``np.ma.MaskedArray``), asked without importing
    ``numpy.ma``: NumPy loads it on first use (some 5 ms), and no masked array exists before
    it is loaded."""
    ma = sys.modules.get("numpy.ma")
    return ma is not None and isinstance(x, ma.MaskedArray)


#: ndarray's operators and ufunc hooks: a subclass that redefines one computes something else
#: than the NumPy functions on plain arrays that mlc compiles (np.matrix's ``*`` and ``**``
#: are matrix products); one that keeps them all (np.memmap) is data like any array.
_ARRAY_OPERATORS = tuple(
    f"__{side}{op}__" for op in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "and",
                                 "or", "xor", "lshift", "rshift") for side in ("", "r", "i")
) + ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__neg__", "__pos__", "__abs__",
     "__invert__", "__array_ufunc__", "__array_function__")


def redefined_operators(x) -> tuple[str, ...]:
    """The ndarray operators (and ufunc hooks) ``x``'s class redefines: empty for anything
    but an ndarray subclass, and for subclasses that keep NumPy's meaning.

    >>> class Doubled(np.ndarray):
    ...     def __mul__(self, other):
    ...         return 2 * np.asarray(self) * other
    >>> redefined_operators(np.zeros(2).view(Doubled))
    ('__mul__',)
    >>> redefined_operators(np.zeros(2)), redefined_operators([1])
    ((), ())
    """
    cls = type(x)
    if cls is np.ndarray or not isinstance(x, np.ndarray):
        return ()
    return tuple(n for n in _ARRAY_OPERATORS if getattr(cls, n, None) is not getattr(np.ndarray, n, None))


def subclass_refusal(x) -> str | None:
    """Why ``x`` cannot stand for a plain array (what to write in an error after "is"), or
    None: an ndarray subclass whose operators mean something else, as ``np.matrix``."""
    redefined = redefined_operators(x)
    if not redefined:
        return None
    cls = type(x)
    name = "numpy.matrix" if isinstance(x, np.matrix) else f"{cls.__module__}.{cls.__qualname__}"
    meaning = (" (* and ** are matrix products there)" if isinstance(x, np.matrix) else
               f" ({', '.join(redefined[:4])}{', ...' if len(redefined) > 4 else ''})")
    return (f"a {name}, an ndarray subclass that redefines NumPy's operators{meaning}; compiled code "
            "computes as NumPy does on plain arrays, so its results would silently differ. Pass "
            "np.asarray(x) and write what the subclass meant with plain NumPy (a matrix product is "
            "x @ y, a matrix power np.linalg.matrix_power(x, n))")


def device_kinds() -> tuple[str, ...]:
    """The device kinds arrays can live on: ``"cpu"`` and each registered device memory."""
    return ("cpu", *memory_kinds())


@dataclass(frozen=True)
class Device:
    """Where arrays live: ``kind`` (``"cpu"``, or a device memory a backend registers,
    :func:`device_kinds`), and the device's index."""
    kind: str
    index: int = 0

    def __post_init__(self):
        if self.kind not in device_kinds():
            raise MLCError(f"unknown device kind {self.kind!r}; expected one of {', '.join(device_kinds())}")
        if not isinstance(self.index, int) or self.index < 0:
            raise MLCError(f"device index must be a non-negative int, got {self.index!r}")

    def __repr__(self) -> str:
        return f"{self.kind}({self.index})"


def cpu(index: int = 0) -> Device:
    """The host CPU."""
    return Device("cpu", index)


def device(kind: str, index: int = 0) -> Device:
    """``mlc.device("cpu", 0)``: a device by name."""
    return Device(kind, index)


class NDArray(np.ndarray):
    """A NumPy array on the CPU, with the course's ``.numpy()`` and ``.device``."""

    def numpy(self) -> np.ndarray:
        """A plain NumPy copy of the data."""
        return np.array(self, copy=True).view(np.ndarray)

    @property
    def device(self) -> Device:
        return cpu()

    def copyfrom(self, source) -> NDArray:
        """Copy ``source`` (same shape) into this array, in place."""
        np.copyto(self, _host(source), casting="same_kind")
        return self


class DeviceArray:
    """An array in a device's memory (that memory's own array type, as ``data``), with
    ``.numpy()``, ``.shape``, ``.dtype`` and ``.device``; it offers the memory's array
    interface as ``data`` does, so libraries of that device take it."""

    __slots__ = ("data", "device")

    def __init__(self, data, dev: Device):
        self.data, self.device = data, dev

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("_array_interface__"):  # the memory's own
            return getattr(self.data, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def numpy(self) -> np.ndarray:
        return memory(self.device.kind).to_host(self.data)

    def __repr__(self) -> str:
        return f"<mlc.nd array on {self.device}: shape={self.shape}, dtype={self.dtype.name}>"


def _check_device(dev) -> Device:
    if dev is None:
        return cpu()
    if not isinstance(dev, Device):
        raise MLCError(f"expected a device such as mlc.cpu() or mlc.device(kind, index), got {dev!r}")
    return dev


def device_count(kind: str) -> int:
    """How many devices of ``kind`` this machine has (asked once per kind); 1 for ``"cpu"``,
    0 where the kind's library, driver or device is missing."""
    if kind == "cpu":
        return 1
    return _device_count(kind)


@functools.cache
def _device_count(kind: str) -> int:
    try:
        return memory(kind).count()
    except MLCError:
        return 0


def _host(x) -> np.ndarray:
    if isinstance(x, DeviceArray):
        return x.numpy()
    if is_masked_array(x):
        raise DTypeError("mlc.nd.array: a masked array's mask would be dropped; pass plain data "
                         "(np.ma.getdata(x) or x.filled(value)) and the mask as a bool array")
    refusal = subclass_refusal(x)
    if refusal is not None:
        raise DTypeError(f"mlc.nd.array: the data is {refusal}")
    try:
        return np.asarray(x)
    except ValueError as err:  # a ragged nested list
        raise ShapeError(f"mlc.nd.array: cannot make an array of {type(x).__name__} data: {err}") from None


def array(data, dev: Device | None = None):
    """A copy of ``data`` (a NumPy array, nested lists, or another mlc array) on ``dev``."""
    dev = _check_device(dev)
    if dev.kind == "cpu":
        source = _host(data)
        dt.canonical(source.dtype)  # refuse dtypes mlc cannot compute with
        host = aligned_empty(source.shape, source.dtype)
        np.copyto(host, source, casting="no")
        return host.view(NDArray)
    return DeviceArray(memory(dev.kind).to_device(_host(data), dev), dev)


def empty(shape, dtype="float32", dev: Device | None = None):
    """An uninitialised array of ``shape`` and ``dtype`` on ``dev``."""
    dev = _check_device(dev)
    dtype = dt.canonical(dtype)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    if any(not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0 for n in shape):
        raise ShapeError(f"mlc.nd.empty: shape must hold non-negative ints, got {tuple(shape)!r}")
    if dev.kind == "cpu":
        return aligned_empty(tuple(shape), dtype).view(NDArray)
    return DeviceArray(memory(dev.kind).allocator(dev)(tuple(shape), dtype), dev)


#: Host arrays of at least this many bytes are allocated HOST_ALIGN-byte aligned.
HOST_ALIGNED_BYTES = 1 << 16
#: One cache line: whole-vector stores never straddle two lines, and the llvm backend's
#: non-temporal stores (which need aligned addresses) apply.
HOST_ALIGN = 64
#: Where in its 4 KiB page a large output starts, the two in turn: half a page from NumPy's
#: large arrays (their own mapping, 16 bytes in) and from mlc's aligned inputs (64 bytes
#: in), and an output apart from the one made before it (the input of the next call, in a
#: chain of calls). A kernel that stores an output non-temporally while it loads a stream
#: at about the same page offset waits for each store to reach memory, and stores normally
#: instead where they are near (:mod:`mlc.backends.llvm.streaming`); this keeps the two
#: apart for the usual caller.
OUTPUT_PAGE_OFFSETS = (2048, 2560)
#: The bytes a large output's buffer holds beyond its data (for the offset above).
OUTPUT_SLACK = 4096


def host_empty(shape, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)``, its data HOST_ALIGN-byte aligned when it is large (at least
    HOST_ALIGNED_BYTES; NumPy aligns to 16 bytes only), at one of :data:`OUTPUT_PAGE_OFFSETS`
    in its page: then a view of a slightly larger byte buffer, which outputs of at least
    :data:`.host_pool.MIN_BYTES` take from :mod:`.host_pool` (pages mapped already, where
    an earlier output left them).

    >>> host_empty((256, 256), "float32").ctypes.data % 4096 in OUTPUT_PAGE_OFFSETS
    True
    """
    try:
        nbytes = _LARGE[shape, dtype]
    except (KeyError, TypeError):  # first time (or an unhashable shape: a list)
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if len(_LARGE) < 4096 and isinstance(shape, tuple):
            _LARGE[shape, dtype] = nbytes if nbytes >= HOST_ALIGNED_BYTES else 0
    if nbytes < HOST_ALIGNED_BYTES:
        return np.empty(shape, dtype)
    pooled = _pool_bytes(nbytes)
    raw = host_pool.take(pooled) if pooled else None
    return _output_view(np.empty(nbytes + OUTPUT_SLACK, np.uint8) if raw is None else raw, shape, dtype)


def pooled_sizes(outputs) -> list[int]:
    """The sizes of the :mod:`.host_pool` buffers :func:`host_empty` gives outputs of these
    ``(shape, dtype)``: those of at least :data:`.host_pool.MIN_BYTES`, of whole-number
    shapes (a symbolic one, or a dtype NumPy has no name for, is passed by). A jitted
    function's first call maps their pages while its kernels compile
    (:func:`.host_pool.map_ahead`, :mod:`.meanwhile`).

    >>> pooled_sizes([((1 << 22,), "float64"), ((8,), "float32")])
    [33558528]
    """
    sizes = []
    for shape, dtype in outputs:
        if not all(isinstance(n, int) for n in shape):
            continue
        try:
            nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        except TypeError:
            continue
        pooled = _pool_bytes(nbytes)
        if pooled:
            sizes.append(pooled)
    return sizes


def _pool_bytes(nbytes: int) -> int:
    """The size of the :mod:`.host_pool` buffer an output of ``nbytes`` takes (its data and
    :data:`OUTPUT_SLACK`), or 0 where it is too small for the pool."""
    return nbytes + OUTPUT_SLACK if nbytes >= host_pool.MIN_BYTES else 0


def aligned_empty(shape, dtype, raw: np.ndarray | None = None, nbytes: int | None = None) -> np.ndarray:
    """``np.empty(shape, dtype)`` with its data HOST_ALIGN-byte aligned: a view of a byte
    buffer (``raw``, at least HOST_ALIGN bytes longer than the data's ``nbytes``, or a new
    one; a caller that knows ``nbytes`` passes it). What
    ``mlc.nd.array`` and ``mlc.nd.empty`` return on the host, as TVM's runtime aligns its
    arrays: a register tile's vector loads and stores then never straddle two cache lines,
    and two threads writing neighbouring column panels of it never write one line.

    >>> aligned_empty((3, 5), "float32").ctypes.data % HOST_ALIGN
    0
    """
    if nbytes is None:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if raw is None:
        raw = np.empty(nbytes + HOST_ALIGN, np.uint8)
    return _aligned_view(raw, shape, dtype)


def _aligned_view(raw: np.ndarray, shape, dtype) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` on the bytes of ``raw`` from its first HOST_ALIGN-byte
    boundary (data_pointer, not raw.ctypes.data: a microsecond; the constructor, not a view of
    a slice reshaped: a third of a microsecond)."""
    return np.ndarray(shape, dtype, raw, -data_pointer(raw) % HOST_ALIGN)


_outputs_made = itertools.count()  # (next() is atomic under the GIL; any offset is right)


def _output_view(raw: np.ndarray, shape, dtype) -> np.ndarray:
    """:func:`_aligned_view`, the data from the first byte of ``raw`` at the next of
    OUTPUT_PAGE_OFFSETS in its page (``raw`` OUTPUT_SLACK bytes longer than the data)."""
    offset = OUTPUT_PAGE_OFFSETS[next(_outputs_made) & 1]
    return np.ndarray(shape, dtype, raw, (offset - data_pointer(raw)) % OUTPUT_SLACK)


_LARGE: dict = {}  # (shape, dtype) -> its bytes when at least HOST_ALIGNED_BYTES, else 0


def numpy_allocates(empty, shape: tuple, dtype) -> bool:
    """Whether ``empty(shape, dtype)`` is ``np.empty(shape, dtype)``: ``empty`` is
    :func:`host_empty` and the array too small to be aligned further.

    >>> numpy_allocates(host_empty, (2, 3), np.dtype("float32"))
    True
    """
    return empty is host_empty and math.prod(shape) * np.dtype(dtype).itemsize < HOST_ALIGNED_BYTES


def empty_maker(empty, shape: tuple, dtype) -> Callable[[], object]:
    """``empty(shape, dtype)`` as a function of no arguments, for a caller that allocates
    the same output on every call; :func:`host_empty`'s size test is made once, here, and an
    aligned output too small for :mod:`.host_pool` is made by the function itself (0.55 µs
    for a jitted 128x128 matmul's output, against 1.0 through :func:`host_empty`).

    >>> new = empty_maker(host_empty, (2, 3), np.dtype("float32"))
    >>> new().shape
    (2, 3)
    """
    if empty is not host_empty:
        return functools.partial(empty, shape, dtype)
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if nbytes < HOST_ALIGNED_BYTES:
        return functools.partial(np.empty, shape, dtype)
    if _pool_bytes(nbytes):
        return functools.partial(empty, shape, dtype)
    size, uint8 = nbytes + OUTPUT_SLACK, np.dtype(np.uint8)

    def aligned() -> np.ndarray:  # (host_empty, without its size computation and tests)
        return _output_view(np.empty(size, uint8), shape, dtype)
    return aligned


#: Array types in device memory whose jitted calls are found again by type, shape and dtype
#: alone (:func:`mlc.tracer.arguments.fast_key`); a device backend adds its array type
#: when it first imports it.
FAST_DEVICE_ARRAYS: set[type] = set()


def allocator(dev: Device):
    """``empty(shape, dtype)`` for arrays on ``dev``, as the caller of a compiled function
    allocates its outputs: :func:`host_empty` on the host; on another device its memory's
    allocator (plain arrays of that memory's library, which its functions take). Without
    such a device this raises DeviceError."""
    dev = _check_device(dev)
    if dev.kind == "cpu":
        return host_empty
    return memory(dev.kind).allocator(dev)


def device_array_type(dev: Device) -> type:
    """The array type of device ``dev``'s memory; DeviceError without its library or device."""
    dev = _check_device(dev)
    return np.ndarray if dev.kind == "cpu" else memory(dev.kind).array_type(dev)


def to_device(x, dev: Device):
    """``x`` as a C-contiguous array of ``dev``'s memory, as a compiled function's caller
    passes it: that memory's array as it is (a contiguous copy when it is not contiguous),
    an ``mlc.nd`` array's data, other libraries' arrays in that memory without a copy, and
    host data (NumPy arrays, CPU DLPack objects) copied to the device."""
    dev = _check_device(dev)
    if isinstance(x, DeviceArray):
        x = x.data
    if dev.kind == "cpu":
        return c_contiguous(x if memory_kind_of(x) is None else memory(memory_kind_of(x)).to_host(x))
    return memory(dev.kind).to_device(x, dev)


def in_device_memory(x) -> bool:
    """Whether ``x`` is an array in a device's memory (CuPy's, PyTorch's on a GPU...);
    a NumPy array never is."""
    return memory_kind_of(x) is not None


def module_device(target) -> Device:
    """The device a module built for ``target`` (a :class:`~mlc.target.Target`) runs on: the
    one its kind names (:attr:`~mlc.target.TargetKind.device`; "cpu" for the llvm and
    reference backends and the emulators, which take host arrays), device 0 of that kind."""
    info = getattr(target, "kind_info", None)
    return Device(info.device if info is not None else "cpu", 0)


def check_device(target, dev, what: str = "time_evaluator") -> None:
    """Refuse running a module on a device it was not built for (None means "the module's own");
    ``what`` names the caller in the error."""
    if dev is None:
        return
    if not isinstance(dev, Device):
        raise MLCError(f"{what}: dev must be a device such as mlc.cpu(), got {dev!r}")
    kind = getattr(target, "kind", str(target))
    expected = module_device(target).kind
    if dev.kind != expected:
        raise MLCError(f"{what}: this {kind} module runs on {expected}, not on {dev}; "
                       f"pass mlc.{expected}()")
