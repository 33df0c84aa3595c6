"""What LLVM writes to the terminal, routed through mlc.

LLVM reports remarks and warnings (a loop it was asked to vectorize and could
not, say) and its help text through its default diagnostic handler, which
writes straight to file descriptor 2; llvmlite offers no way to install
another handler. So every call into LLVM that may write runs inside
:func:`llvm_output`: for its duration fd 2 points at a temporary file, and
afterwards LLVM's remarks and warnings reach the real stderr only under
``MLC_DEBUG``. Any other line in the file (another thread's output written in
the meantime) is passed on unchanged. :func:`captured_stderr` is the plain
capture underneath, for callers that read what LLVM printed (its help text).

One thread at a time redirects fd 2 (the descriptor belongs to the process);
a thread may nest captures. Threads that work for a capturing thread while it
waits for them (a :class:`~.jit.UnitBuild`'s) run inside :func:`covered`: their
captures are the capturing thread's, not ones of their own, which would wait
for it forever.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ...config import config

__all__ = ["Captured", "captured_stderr", "llvm_output", "is_llvm_diagnostic", "capturing", "covered"]

_LOCK = threading.RLock()
_THREAD = threading.local()  # .depth: the captures this thread has open; .covered: see covered()

#: LLVM's diagnostic lines: ``remark: <unknown>:0:0: loop not vectorized: ...``.
_DIAGNOSTIC = re.compile(r"^(remark|warning|note): ")


@dataclass
class Captured:
    """What was written to fd 2 inside a :func:`captured_stderr` block (set when it ends)."""
    text: str = ""


@contextmanager
def captured_stderr() -> Iterator[Captured]:
    """Point fd 2 at a temporary file for the block; ``.text`` holds what was written."""
    captured = Captured()
    if getattr(_THREAD, "covered", False):  # what this thread writes goes to its caller's capture
        yield captured
        return
    with _LOCK, tempfile.TemporaryFile() as sink:
        _flush()
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 at all: what LLVM writes goes nowhere anyway
            yield captured
            return
        try:
            os.dup2(sink.fileno(), 2)
            _THREAD.depth = getattr(_THREAD, "depth", 0) + 1
            try:
                yield captured
            finally:
                _THREAD.depth -= 1
                _flush()
                os.dup2(saved, 2)
        finally:
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")


def capturing() -> bool:
    """Whether this thread is inside a capture (its own, or one it is :func:`covered` by)."""
    return getattr(_THREAD, "depth", 0) > 0 or getattr(_THREAD, "covered", False)


@contextmanager
def covered() -> Iterator[None]:
    """For the block, this thread's captures are no-ops: it works for a thread that is
    inside one (:func:`capturing`) and waits for it, so fd 2 already points where that
    thread reads what LLVM wrote."""
    before = getattr(_THREAD, "covered", False)
    _THREAD.covered = True
    try:
        yield
    finally:
        _THREAD.covered = before


def is_llvm_diagnostic(line: str) -> bool:
    """Whether ``line`` is one of LLVM's remarks, warnings or notes."""
    return _DIAGNOSTIC.match(line) is not None


@contextmanager
def llvm_output() -> Iterator[None]:
    """Run LLVM calls in the block with their remarks and warnings shown only under
    ``MLC_DEBUG``; anything else written to fd 2 meanwhile is passed on.

    Inside a capture of this thread's own (or one it is :func:`covered` by) it adds none:
    the enclosing one sorts whole lines once. LLVM writes a diagnostic in pieces
    ("remark", then ": <unknown>:0:0: ..."), and a worker of a build by parts writes while
    its caller builds a unit too; a capture of the caller's inside the build's took the
    first piece, the build's the rest, and neither half was a diagnostic line."""
    if capturing():
        yield
        return
    captured = Captured()
    try:
        with captured_stderr() as captured:
            yield
    finally:
        lines = captured.text.splitlines(keepends=True)
        shown = lines if config().debug else [line for line in lines if not is_llvm_diagnostic(line)]
        if shown:
            _write(2, "".join(shown).encode())


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass  # a closed or replaced stream has nothing of ours to flush


def _write(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]
