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

from ..errors import MLCError
from ..ir.calls import checks_aliasing
from ..ir.shape_vars import shape_to_str
from ..ir.tir import PrimFunc
from .arguments import ArgumentChecker, written_params
from .dlpack import BUFFER_TYPES, host_array
from .loader import Entries
from .ndarray import check_device, module_device
from .timing import TimeResult, time_function

__all__ = ["Module", "Function", "TimeResult"]

#: A backend's compiled function: receives already-checked arrays.
Kernel = Callable[[Sequence[np.ndarray]], None]
#: A host backend's compiled function given the checked arrays' data pointers instead.
PointerKernel = Callable[[Sequence[int]], None]
_ndarray = np.ndarray



class Function:
    """One callable function of a module: ``f(*arrays)`` runs it in place."""

    __slots__ = ("name", "func", "kernel", "written", "noalias", "specs", "native", "pointer_kernel",
                 "object_entry", "checked_kernel", "fast_entry", "check", "_plain", "_count")

    def __init__(self, name: str, func: PrimFunc, kernel: Kernel, native=None,
                 pointer_kernel: PointerKernel | None = None, object_entry=None,
                 checked_kernel: Callable[[Sequence], bool] | None = None, fast_entry=None):
        self.name, self.func, self.kernel = name, func, kernel
        self.written = written_params(func)
        self.noalias = checks_aliasing(func)
        #: the check of a call's arguments (:class:`~mlc.runtime.arguments.ArgumentChecker`)
        self.check = ArgumentChecker(name, func.params, self.written, self.noalias)
        self.specs = self.check.specs
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
        #: a graph main's ``fast_entry()``: (builtin, what it keeps alive), made on the first
        #: call, ``builtin(*inputs, out) is out`` where it checked the arrays natively and ran,
        #: else nothing ran (:mod:`.fast_calls`); or None
        self.fast_entry = fast_entry
        self._plain = self.check.plain
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
        pointers = self.check.full(args)
        if pointers is not None and self.pointer_kernel is not None:
            self.pointer_kernel(pointers)
        else:
            self.kernel(args)

    def __repr__(self) -> str:
        params = ", ".join(f"{p.name}: {p.dtype}{shape_to_str(p.shape)}" for p in self.func.params)
        return f"<mlc function {self.name}({params})>"


class Module(Entries):
    """The result of ``mlc.build``: ``lib["name"](*arrays)``."""

    #: The source :meth:`get_source` gives by default: the code the backend generates.
    SOURCE_FORMAT = "ll"

    def __init__(self, target, functions: Mapping[str, Function], sources: Mapping[str, str] | None = None,
                 keepalive=None):
        self.target = target
        self.functions = dict(functions)
        self._sources = dict(sources or {})
        self._keepalive = keepalive  # e.g. the JIT engine that owns the machine code

    def _missing(self, name: str) -> Exception:
        return KeyError(f"module has no function {name!r}; it has {sorted(self.functions)}")

    def add_alias(self, alias: str, name: str) -> None:
        """``lib[alias]`` is ``lib[name]`` too (a lone PrimFunc's name and ``"main"``)."""
        self.functions[alias] = self[name]

    @property
    def device(self):
        """Where this module's functions take their arrays: ``mlc.cuda()`` for a ``cuda``
        module (CuPy arrays), ``mlc.cpu()`` otherwise (NumPy arrays; the emulator's too)."""
        return module_device(self.target)

    @property
    def function_names(self) -> list[str]:
        return list(self.functions)

    def get_source(self, fmt: str | None = None) -> str:
        """The generated code: "ll" (LLVM IR), "asm", "cuda", ... as the backend offers; by
        default the backend's own (:attr:`SOURCE_FORMAT`: LLVM IR for llvm, TIR for reference,
        a GPU backend's kernel language)."""
        if fmt is None or fmt == "":
            fmt = self.SOURCE_FORMAT
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
            fn.check.full(args)
            return time_function(lambda: fn.kernel(args), number, repeat, warmup)

        return evaluate

    def __repr__(self) -> str:
        return f"<mlc.Module target={self.target} functions={self.function_names}>"
