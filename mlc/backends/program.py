"""A program: several functions of a module run in order, as one native entry point.

A jitted graph is a fixed sequence of kernel calls over a fixed set of
buffers (its inputs, outputs, workspace storages and constants). Described as
a :class:`Program` and handed to :func:`mlc.build`, a backend that generates
native code (llvm) compiles it into one function taking one data pointer per
buffer, ``slot``, and calling each kernel with its slots; the whole graph is
then one native call (``lib.program(name)``). Backends without native code
ignore programs.

>>> Program(slots=3, calls=(("add_one", (0, 1)), ("double", (1, 2))))
Program(slots=3, calls=(('add_one', (0, 1)), ('double', (1, 2))))
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import MLCError

__all__ = ["Program"]


@dataclass(frozen=True)
class Program:
    """``slots`` data pointers; ``calls``: (function name, slot of each of its parameters).

    A call whose name is None is a *callback* (a library function): the native
    program calls :data:`mlc.runtime.callbacks.CALLBACK_SYMBOL` with the
    program's extra last argument (a context pointer), the callback's index
    among the program's callbacks and an array of its slots' pointers.
    """
    slots: int
    calls: tuple[tuple[str | None, tuple[int, ...]], ...]

    @property
    def callbacks(self) -> int:
        """How many of the calls are callbacks."""
        return sum(1 for name, _ in self.calls if name is None)

    @property
    def nparams(self) -> int:
        """The entry's pointer parameters: the slots, then the context if it has callbacks."""
        return self.slots + (1 if self.callbacks else 0)

    def check(self, functions) -> None:
        """Raise MLCError unless every call names a function of ``functions`` (name ->
        PrimFunc) with one in-range slot per parameter (callbacks: in-range slots)."""
        for name, slots in self.calls:
            if name is None:
                if not all(0 <= s < self.slots for s in slots):
                    raise MLCError(f"program callback with slots {slots}; the program has "
                                   f"{self.slots} slots")
                continue
            func = functions.get(name)
            if func is None:
                raise MLCError(f"program calls {name!r}, which the module does not define")
            if len(slots) != len(func.params) or not all(0 <= s < self.slots for s in slots):
                raise MLCError(f"program calls {name!r} with slots {slots}; it takes "
                               f"{len(func.params)} buffers and the program has {self.slots} slots")
