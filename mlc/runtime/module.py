"""A built module: named functions called with NumPy arrays (destination passing).

Every backend returns a :class:`Module`. It checks each call's arguments
against the PrimFunc's buffers (count, type, dtype, shape, C-contiguity),
then hands the arrays to the backend's kernel.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..errors import DTypeError, MLCError, ShapeError
from ..ir.tir import PrimFunc
from .ndarray import check_device
from .timing import TimeResult, time_function

__all__ = ["Module", "Function", "TimeResult", "check_arguments"]

#: A backend's compiled function: receives already-checked arrays.
Kernel = Callable[[Sequence[np.ndarray]], None]


def check_arguments(name: str, func: PrimFunc, args: Sequence, written: frozenset[int] = frozenset()) -> None:
    """Raise ShapeError/DTypeError naming the parameter whose argument is wrong.

    ``written`` holds the positions of parameters the function stores to;
    those arrays must be writeable.
    """
    params = func.params
    if len(args) != len(params):
        names = ", ".join(p.name for p in params)
        raise ShapeError(f"{name}() takes {len(params)} arrays ({names}), got {len(args)}")
    for n, (param, arg) in enumerate(zip(params, args)):
        if not isinstance(arg, np.ndarray):
            raise DTypeError(f"{name}(): argument {param.name} must be a numpy.ndarray of "
                             f"{param.dtype}, got {type(arg).__name__}; wrap it with np.asarray")
        if arg.dtype.name != param.dtype:
            raise DTypeError(f"{name}(): argument {param.name} must have dtype {param.dtype}, "
                             f"got {arg.dtype.name}; convert it with .astype('{param.dtype}')")
        shape = param.static_shape()
        if arg.shape != shape:
            raise ShapeError(f"{name}(): argument {param.name} must have shape {shape}, got {arg.shape}")
        if not arg.flags.c_contiguous:
            raise ShapeError(f"{name}(): argument {param.name} must be C-contiguous; pass "
                             "np.ascontiguousarray(x)")
        if n in written and not arg.flags.writeable:
            raise MLCError(f"{name}(): argument {param.name} is written but the array is read-only")


def written_params(func: PrimFunc) -> frozenset[int]:
    """Positions of the parameters ``func`` stores to."""
    from ..ir.functor import pre_order_nodes
    from ..ir.tir import BufferStore
    stored = {id(n.buffer) for n in pre_order_nodes(func.body) if isinstance(n, BufferStore)}
    return frozenset(n for n, p in enumerate(func.params) if id(p) in stored)


class Function:
    """One callable function of a module: ``f(*arrays)`` runs it in place."""

    __slots__ = ("name", "func", "kernel", "written", "native")

    def __init__(self, name: str, func: PrimFunc, kernel: Kernel, native=None):
        self.name, self.func, self.kernel = name, func, kernel
        self.written = written_params(func)
        #: the backend's C entry point taking one data pointer per parameter, or None;
        #: callers that hold checked, contiguous arrays may call it directly
        self.native = native

    def __call__(self, *args) -> None:
        check_arguments(self.name, self.func, args, self.written)
        self.kernel(args)

    def __repr__(self) -> str:
        params = ", ".join(f"{p.name}: {p.dtype}{list(p.static_shape())}" for p in self.func.params)
        return f"<mlc function {self.name}({params})>"


class Module:
    """The result of ``mlc.build``: ``lib["name"](*arrays)``."""

    def __init__(self, target, functions: Mapping[str, Function], sources: Mapping[str, str] | None = None,
                 keepalive=None, programs: Mapping[str, Callable] | None = None):
        self.target = target
        self._functions = dict(functions)
        self._programs = dict(programs or {})
        self._sources = dict(sources or {})
        self._keepalive = keepalive  # e.g. the JIT engine that owns the machine code

    def __getitem__(self, name: str) -> Function:
        try:
            return self._functions[name]
        except KeyError:
            raise KeyError(f"module has no function {name!r}; it has {sorted(self._functions)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._functions

    def program(self, name: str):
        """The native entry of program ``name`` (see :mod:`mlc.backends.program`): called
        with one data pointer per slot, unchecked. None when the backend compiled no such program."""
        return self._programs.get(name)

    @property
    def function_names(self) -> list[str]:
        return list(self._functions)

    def get_source(self, fmt: str = "ll") -> str:
        """The generated code: "ll" (LLVM IR), "asm", "cuda", ... as the backend offers."""
        if fmt not in self._sources:
            raise MLCError(f"this {self.target} module has no {fmt!r} source; it has {sorted(self._sources)}")
        return self._sources[fmt]

    def time_evaluator(self, name: str, dev=None, number: int = 10, repeat: int = 1, warmup: int = 1):
        """A timer for ``self[name]``: returns a callable giving a :class:`TimeResult`.

        Each of ``repeat`` measurements is the mean time of ``number`` calls.
        Arguments are checked once, then the kernel is called directly.
        ``dev`` (``mlc.cpu()``, as the course passes it) must be where this module runs.
        """
        fn = self[name]
        check_device(self.target, dev)

        def evaluate(*args) -> TimeResult:
            check_arguments(name, fn.func, args, fn.written)
            return time_function(lambda: fn.kernel(args), number, repeat, warmup)

        return evaluate

    def __repr__(self) -> str:
        return f"<mlc.Module target={self.target} functions={self.function_names}>"
