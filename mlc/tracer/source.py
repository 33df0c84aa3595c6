"""Find the user's source line that is being traced, for error messages.

The user's frame is the innermost one whose file lies outside mlc and NumPy
(those are the layers between the user's expression and the tracer).
"""
from __future__ import annotations

import linecache
import os
import sys

import numpy as np

from ..ir.graph import SourceLoc

__all__ = ["user_location", "user_stacklevel", "describe_location"]

_MLC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__)) + os.sep
_SKIP = (_MLC_DIR, _NUMPY_DIR)


def user_location(depth: int = 1) -> SourceLoc | None:
    """The SourceLoc of the innermost frame outside mlc and NumPy, or None."""
    frame = sys._getframe(depth)
    inside = _INSIDE
    while frame is not None:
        filename = frame.f_code.co_filename
        skip = inside.get(filename)
        if skip is None:
            skip = _inside_file(filename)
        if not skip:
            code = linecache.getline(filename, frame.f_lineno, frame.f_globals).strip()
            return SourceLoc(filename, frame.f_lineno, code)
        frame = frame.f_back
    return None


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn``, called by the caller of this function, that
    shows the warning at the innermost frame outside mlc and NumPy (1 if there is none)."""
    frame, level = sys._getframe(1), 1
    while frame is not None:
        if not _inside(frame):
            return level
        frame, level = frame.f_back, level + 1
    return 1


def _inside(frame) -> bool:
    filename = frame.f_code.co_filename
    skip = _INSIDE.get(filename)
    return _inside_file(filename) if skip is None else skip


#: a code object's file name -> whether it lies inside mlc or NumPy (every op traced asks for
#: each frame of the stack: ``os.path.abspath`` each time was a sixth of a long trace)
_INSIDE: dict[str, bool] = {}


def _inside_file(filename: str) -> bool:
    """Whether ``filename`` (a code object's) lies inside mlc or NumPy, remembered. The answer
    is taken once: a relative name is resolved from the working directory of that first time."""
    skip = not filename.startswith("<") and os.path.abspath(filename).startswith(_SKIP)
    if len(_INSIDE) < 4096:
        _INSIDE[filename] = skip
    return skip


def describe_location(loc: SourceLoc | None) -> str:
    """A line for an error message: ``\\n  at File "f.py", line 3: y = x + 1``."""
    return "" if loc is None else f"\n  at {loc}"
