"""A built module: named functions called with NumPy arrays (destination passing).

Every backend returns a :class:`Module`. It checks each call's arguments
against the PrimFunc's buffers (count, type, dtype and native byte order,
shape, C-contiguity; masked arrays are refused, their mask would be ignored, and so are
subclasses that redefine the operators, as ``np.matrix``),
then hands the arrays to the backend's kernel.

Kernels are compiled on the promise that their arrays do not alias
(``tir.noalias``, the default; LLVM's ``noalias``): an array the function
writes must not share memory with any other argument. A call that breaks the
promise raises :class:`~mlc.MLCError` naming both parameters (the check
compares the arrays' byte ranges, a few comparisons per call) instead of
computing garbage; pass a copy (``b.copy()``). A PrimFunc whose attributes say
``tir.noalias=False`` is compiled without the promise and accepts aliased
arguments.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..errors import DTypeError, MLCError, ShapeError
from ..ir.expr import IntImm
from ..ir.functor import pre_order_nodes
from ..ir.shape_vars import bind_shapes, shape_to_str
from ..ir.tir import BufferStore, PrimFunc
from .dlpack import BUFFER_TYPES, host_array
from .ndarray import NDArray, check_device, is_masked_array, module_device, subclass_refusal
from .pointers import data_pointer, overlapping_pair
from .timing import TimeResult, time_function

__all__ = ["Module", "Function", "TimeResult", "check_arguments", "plain_arguments"]

#: A backend's compiled function: receives already-checked arrays.
Kernel = Callable[[Sequence[np.ndarray]], None]
#: A host backend's compiled function given the checked arrays' data pointers instead.
PointerKernel = Callable[[Sequence[int]], None]
_ndarray = np.ndarray



def param_specs(func: PrimFunc) -> tuple[tuple[str, str, np.dtype, tuple[int | None, ...]], ...]:
    """(name, dtype name, NumPy dtype, shape) of each parameter: what a call is checked against.
    A symbolic extent is None in the shape (checked by :func:`~mlc.ir.shape_vars.bind_shapes`)."""
    return tuple((p.name, p.dtype, np.dtype(p.dtype),
                  tuple(e.value if isinstance(e, IntImm) else None for e in p.shape))
                 for p in func.params)


def check_arguments(name: str, func: PrimFunc, args: Sequence, written: frozenset[int] = frozenset(),
                    noalias: bool = True, specs=None) -> list[int] | None:
    """Raise ShapeError/DTypeError naming the parameter whose argument is wrong.

    ``written`` holds the positions of parameters the function stores to;
    those arrays must be writeable and, when ``noalias``, share no memory
    with another argument. ``specs`` is ``param_specs(func)``, precomputed.
    Returns the arrays' data pointers where the alias check read them (else None).
    """
    specs = specs or param_specs(func)
    if len(args) != len(specs):
        names = ", ".join(s[0] for s in specs)
        raise ShapeError(f"{name}() takes {len(specs)} arrays ({names}), got {len(args)}")
    symbolic = False
    for n, ((pname, pdtype, expected, shape), arg) in enumerate(zip(specs, args)):
        if type(arg) is not _ndarray:  # (a subclass, or no array: the slow checks)
            if not isinstance(arg, np.ndarray):
                raise DTypeError(f"{name}(): argument {pname} must be a numpy.ndarray of "
                                 f"{pdtype}, got {type(arg).__name__}; wrap it with np.asarray")
            if is_masked_array(arg):
                raise DTypeError(f"{name}(): argument {pname} is a masked array; its mask would be "
                                 "ignored. Pass plain data: np.ma.getdata(x), or x.filled(value)")
            refusal = subclass_refusal(arg)
            if refusal is not None:
                raise DTypeError(f"{name}(): argument {pname} is {refusal}")
        dtype = arg.dtype
        if dtype is not expected and dtype != expected:  # (dtype.name is slow: only on error)
            if dtype.name == pdtype:
                raise DTypeError(f"{name}(): argument {pname} has non-native byte order "
                                 f"({dtype.str}); the kernel reads native {pdtype}. Convert it "
                                 f"with .astype('{pdtype}')")
            raise DTypeError(f"{name}(): argument {pname} must have dtype {pdtype}, "
                             f"got {dtype.name}; convert it with .astype('{pdtype}')")
        if arg.shape != shape:
            if None not in shape:
                raise ShapeError(f"{name}(): argument {pname} must have shape {shape}, got {arg.shape}")
            if len(arg.shape) != len(shape):
                raise ShapeError(f"{name}(): argument {pname} must have {len(shape)} dimension(s), "
                                 f"shape {shape_to_str(func.params[n].shape)}, got {arg.shape}")
            symbolic = True  # checked below, once every argument has been seen
        flags = arg.flags
        if not flags.c_contiguous:
            raise ShapeError(f"{name}(): argument {pname} must be C-contiguous; pass "
                             "np.ascontiguousarray(x)")
        if not flags.writeable and n in written:
            raise MLCError(f"{name}(): argument {pname} is written but the array is read-only")
    if symbolic:  # symbolic extents: bind and cross-check them
        bind_shapes(name, func.params, [a.shape for a in args])
    if noalias and written and len(args) > 1:
        pointers = [data_pointer(a) for a in args]
        pair = overlapping_pair(args, written, pointers)
        if pair is not None:
            m, n = pair
            raise MLCError(f"{name}(): arguments {specs[m][0]} and {specs[n][0]} share memory, "
                           f"and {specs[n if n in written else m][0]} is written; the kernel is "
                           "compiled assuming its arrays do not alias (tir.noalias). Pass a copy "
                           "(x.copy()) or a separate output array")
        return pointers
    return None


def written_params(func: PrimFunc) -> frozenset[int]:
    """Positions of the parameters ``func`` stores to."""
    stored = {id(n.buffer) for n in pre_order_nodes(func.body) if isinstance(n, BufferStore)}
    return frozenset(n for n, p in enumerate(func.params) if id(p) in stored)


#: NumPy's array flag bits (``ndarray.flags.num``; NPY_ARRAY_C_CONTIGUOUS, _OWNDATA, _WRITEABLE).
C_CONTIGUOUS, OWNDATA, WRITEABLE = 0x1, 0x4, 0x400


#: How far down its chain of ``base`` arrays the quick check looks for an array's owner
#: (an ``mlc.nd`` array: itself, its typed view, the aligned buffer).
OWNER_DEPTH = 3


def plain_arguments(specs, written: frozenset[int], noalias: bool):
    """``ok(args)``: whether ``args`` pass :func:`check_arguments` trivially, decided in a
    few attribute reads an array (None for a function with symbolic shapes): each is a
    plain ``numpy.ndarray`` or an ``mlc.nd`` array of exactly its parameter's (native,
    canonical) dtype and shape, C-contiguous, writeable where written, and, where aliasing
    matters, each written array has an owner no other argument has: the array itself if it
    owns its memory, else the first array down its chain of ``base`` arrays that does (an
    ``mlc.nd`` array is a view of an aligned buffer of its own); arrays of different
    owners never share memory, and arrays only read may be one array (``f(x, x, out)``).
    Any other call takes the full check (which reads data pointers to compare byte
    ranges, and explains).

    >>> from mlc import te
    >>> X = te.placeholder((4,), "float32", "X")
    >>> f = te.create_prim_func([X, te.compute((4,), lambda i: X[i] * 2, "Y")])
    >>> ok = plain_arguments(param_specs(f), written_params(f), noalias=True)
    >>> x, y = np.ones(4, "float32"), np.empty(4, "float32")
    >>> ok((x, y)), ok((y, y)), ok((np.ones(8, "float32")[::2], y)), ok((x, y[:3]))
    (True, False, False, False)
    >>> from mlc.runtime.ndarray import aligned_empty
    >>> z = aligned_empty((8,), "float32")
    >>> ok((x, z[:4])), ok((z[:4], z[4:]))  # a view of one buffer, two views of one
    (True, False)
    >>> g = te.create_prim_func([X, X2 := te.placeholder((4,), "float32", "X2"),
    ...                          te.compute((4,), lambda i: X[i] + X2[i], "Z")])
    >>> ok2 = plain_arguments(param_specs(g), written_params(g), noalias=True)
    >>> ok2((x, x, y)), ok2((x, y, y))  # an array read twice; an array read and written
    (True, False)
    """
    if any(None in shape for _, _, _, shape in specs):
        return None
    aliasing = noalias and bool(written) and len(specs) > 1
    expected = tuple((dtype, shape, C_CONTIGUOUS | (WRITEABLE if n in written else 0))
                     for n, (_, _, dtype, shape) in enumerate(specs))
    count = len(expected)

    def ok(args) -> bool:
        if len(args) != count:
            return False
        owners: dict[int, int] = {}  # id(owner) -> whether an argument of it is written
        n = 0
        for arg in args:
            dtype, shape, flags = expected[n]
            kind = type(arg)
            if (kind is not _ndarray and kind is not NDArray) or arg.dtype is not dtype or arg.shape != shape:
                return False
            num = arg.flags.num
            if num & flags != flags:
                return False
            if aliasing:
                depth = 0
                while not num & OWNDATA:  # the owner: down the chain of bases
                    arg = arg.base
                    depth += 1
                    if depth > OWNER_DEPTH or not isinstance(arg, _ndarray):
                        return False
                    num = arg.flags.num
                writes = flags & WRITEABLE
                seen = owners.get(id(arg))
                if seen is not None and (seen or writes):
                    return False
                owners[id(arg)] = writes
            n += 1
        return True
    return ok


class Function:
    """One callable function of a module: ``f(*arrays)`` runs it in place."""

    __slots__ = ("name", "func", "kernel", "written", "noalias", "specs", "native", "pointer_kernel",
                 "object_entry", "checked_kernel", "_plain", "_count")

    def __init__(self, name: str, func: PrimFunc, kernel: Kernel, native=None,
                 pointer_kernel: PointerKernel | None = None, object_entry=None,
                 checked_kernel: Callable[[Sequence], bool] | None = None):
        self.name, self.func, self.kernel = name, func, kernel
        self.written = written_params(func)
        self.noalias = bool(func.attr("tir.noalias", True))
        self.specs = param_specs(func)
        #: the backend's C entry point taking one data pointer per parameter, or None;
        #: callers that hold checked, contiguous arrays may call it directly
        self.native = native
        #: ``kernel`` given the arrays' data pointers (which the alias check reads anyway), or None
        self.pointer_kernel = pointer_kernel
        #: ``native`` taking each array object's address, ``id(array)``, instead of its data
        #: pointer (:data:`~mlc.runtime.pointers.ARRAY_DATA_OFFSET`), or None; the same
        #: contract as ``native``, and cheaper to call from Python
        self.object_entry = object_entry
        #: ``checked_kernel(arrays)``: the arguments checked in native code as ``_plain`` checks
        #: them, and the function run, True; or nothing run, False (the backend's, or None)
        self.checked_kernel = checked_kernel
        self._plain = plain_arguments(self.specs, self.written, self.noalias)
        self._count = len(self.specs)

    def __call__(self, *args) -> None:
        checked = self.checked_kernel
        if checked is not None and len(args) == self._count and checked(args):  # the common call
            return
        if self._plain is not None and self._plain(args):  # checked in a glance
            self.kernel(args)
            return
        if any(type(a) is not _ndarray and (hasattr(a, "__dlpack__") or isinstance(a, BUFFER_TYPES))
               for a in args):  # (torch, JAX..., memoryview, array.array)
            args = tuple(host_array(a) for a in args)
        pointers = check_arguments(self.name, self.func, args, self.written, self.noalias, self.specs)
        if pointers is not None and self.pointer_kernel is not None:
            self.pointer_kernel(pointers)
        else:
            self.kernel(args)

    def __repr__(self) -> str:
        params = ", ".join(f"{p.name}: {p.dtype}{shape_to_str(p.shape)}" for p in self.func.params)
        return f"<mlc function {self.name}({params})>"


class Module:
    """The result of ``mlc.build``: ``lib["name"](*arrays)``."""

    def __init__(self, target, functions: Mapping[str, Function], sources: Mapping[str, str] | None = None,
                 keepalive=None):
        self.target = target
        self._functions = dict(functions)
        self._sources = dict(sources or {})
        self._keepalive = keepalive  # e.g. the JIT engine that owns the machine code

    def __getitem__(self, name: str) -> Function:
        try:
            return self._functions[name]
        except KeyError:
            raise KeyError(f"module has no function {name!r}; it has {sorted(self._functions)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._functions

    def add_alias(self, alias: str, name: str) -> None:
        """``lib[alias]`` is ``lib[name]`` too (a lone PrimFunc's name and ``"main"``)."""
        self._functions[alias] = self[name]

    @property
    def device(self):
        """Where this module's functions take their arrays: ``mlc.cuda()`` for a ``cuda``
        module (CuPy arrays), ``mlc.cpu()`` otherwise (NumPy arrays; the emulator's too)."""
        return module_device(self.target)

    @property
    def function_names(self) -> list[str]:
        return list(self._functions)

    def get_source(self, fmt: str | None = None) -> str:
        """The generated code: "ll" (LLVM IR), "asm", "cuda", ... as the backend offers; by
        default the backend's own (CUDA C for cuda, LLVM IR for llvm, TIR for reference)."""
        if fmt is None or fmt == "":
            fmt = next((f for f in ("cuda", "ll", "tir") if f in self._sources), "ll")
        if fmt not in self._sources:
            raise MLCError(f"this {self.target} module has no {fmt!r} source; it has {sorted(self._sources)}")
        source = self._sources[fmt]
        if callable(source):  # made when first asked for (a GPU module's PTX)
            source = self._sources[fmt] = source()
        return source

    @property
    def imported_modules(self) -> list:
        """TVM keeps a GPU build's kernels in an imported device module
        (``rt_mod.imported_modules[0].get_source()``, as the course reads CUDA); here one
        module holds them: itself."""
        return [self]

    def time_evaluator(self, name: str, dev=None, number: int = 10, repeat: int = 3, warmup: int = 1):
        """A timer for ``self[name]``: returns a callable giving a :class:`TimeResult`.

        Each of ``repeat`` measurements is the mean time of ``number`` calls, after
        a warm-up (:func:`~mlc.runtime.timing.time_function`); report its ``median``.
        Arguments are checked once, then the kernel is called directly.
        ``dev`` (``mlc.cpu()``, as the course passes it) must be where this module runs.
        """
        fn = self[name]
        check_device(self.target, dev)

        def evaluate(*args) -> TimeResult:
            check_arguments(name, fn.func, args, fn.written, fn.noalias, fn.specs)
            return time_function(lambda: fn.kernel(args), number, repeat, warmup)

        return evaluate

    def __repr__(self) -> str:
        return f"<mlc.Module target={self.target} functions={self.function_names}>"
