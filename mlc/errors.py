"""The typed errors every layer of mlc raises.

Every message says what happened, where, what was expected and how to fix it.
Nothing a user can cause is guarded by a bare ``assert``.
"""
from __future__ import annotations

__all__ = [
    "MLCError", "TraceError", "ShapeError", "AxisError", "IndexBoundsError", "DTypeError", "ScheduleError",
    "CompileError", "IRError", "BoundsError", "ParseError", "RaceError", "DeviceError", "ConfigError",
    "ToolchainError", "LoadError", "MLCWarning", "PerformanceWarning", "GlobalChangedWarning",
]


class MLCError(Exception):
    """Base class of every error mlc raises on purpose."""


class IRError(MLCError, ValueError):
    """An IR node was built from values that make no sense (bad dtype, arity...)."""


class TraceError(MLCError):
    """Tracing a Python function failed (including asking a tracer for a value)."""


class ShapeError(MLCError, ValueError):
    """An argument or operand has the wrong rank or shape."""


class AxisError(ShapeError, IndexError):
    """An axis argument is out of range for the array's dimension (as NumPy's ``AxisError``,
    both a ValueError and the IndexError the Array API standard asks for)."""


class IndexBoundsError(ShapeError, IndexError):
    """An index known while tracing (a constant, an unrolled loop's index) is out of bounds for
    its axis: a ShapeError raised when the function is traced, and NumPy's IndexError."""


class DTypeError(MLCError, TypeError):
    """An argument or operand has the wrong dtype."""


class ScheduleError(MLCError):
    """A schedule primitive was asked for an illegal transformation."""


class CompileError(MLCError):
    """A backend failed to compile; ``source`` holds the generated code."""

    def __init__(self, message: str, source: str | None = None):
        super().__init__(message)
        self.source = source


class ToolchainError(CompileError):
    """Exporting a library needs a C compiler/linker (``cc=``, or cc, gcc or clang on PATH)
    that is missing or failed; the message names the command and what it printed."""


class LoadError(MLCError):
    """A library file (``mlc.runtime.load``) cannot be loaded here: damaged, truncated or not
    one mlc exported, built for a CPU this machine is not, or by an incompatible mlc."""


class BoundsError(MLCError, IndexError):
    """A buffer access at run time is outside its buffer (the reference backend, or a
    build with ``check_bounds``); the message names the function, buffer, index and extent.
    Also a traced index (``a[i]``, ``np.take``) out of bounds when a jitted function runs, as
    NumPy's IndexError: the message names the access, the index, the axis' size and the line."""


class RaceError(MLCError):
    """A GPU program's threads race (the CUDA emulator): two threads write one element, or
    one writes what another reads, with no barrier between; a read of shared memory no thread
    of the block wrote; or a barrier reached by only some threads of a block. The message
    names the buffer, the index and the threads."""


class DeviceError(MLCError):
    """The device a function runs on is missing, or an array lives on the wrong device."""


class ConfigError(MLCError, ValueError):
    """An ``MLC_*`` environment variable holds a value mlc does not accept; the message names
    the variable, what it holds and what it accepts."""


class ParseError(MLCError):
    """TVMScript text could not be read; ``lineno``/``col`` point at the offending code.

    The message names the file (or ``<string>``), the line and column, and
    shows the source line with a caret under the column.
    """

    def __init__(self, message: str, filename: str = "<string>", lineno: int = 0, col_offset: int = 0,
                 source_line: str = ""):
        col = col_offset
        text = f"{filename}:{lineno}:{col + 1}: {message}"
        if source_line:
            text += f"\n    {source_line.rstrip()}\n    {' ' * col}^"
        super().__init__(text)
        self.message, self.filename, self.lineno, self.col = message, filename, lineno, col + 1
        self.source_line = source_line


class MLCWarning(UserWarning):
    """Base class of every warning mlc gives on purpose."""


class GlobalChangedWarning(MLCWarning):
    """A global (or closure variable) a jitted function read when it was traced was rebound, or
    a global NumPy array written into, since: the compiled code still uses the value it had
    then (globals are constants to ``mlc.jit``). Pass the value as an argument instead."""


class PerformanceWarning(MLCWarning):
    """Code that runs right but far slower than it could, and why: a GPU kernel left to one
    thread, say. ``warnings.simplefilter("error", PerformanceWarning)`` makes it an error."""
