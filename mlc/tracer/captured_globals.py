"""The globals a traced function read, and whether they changed since.

``mlc.jit`` takes the globals and closure variables a function reads as constants, when
it traces the function (as JAX and Numba do): rebinding one later (``K = 3``), or
writing into a global NumPy array (``W[:] = 10``), does not change the compiled code.
A :class:`Snapshot` records, at a trace, the value of every global name the function's
code may read (``co_names`` of its code and of the code nested in it, and of the Python
functions of its module among those globals, followed the same way) and of its closure variables,
with a digest of each NumPy array's contents; :meth:`Snapshot.changes` says which of
them were rebound or, for arrays, written since. The jit checks before each trace (a
new signature) and, with ``MLC_DEBUG``, before every call, and warns with
:class:`~mlc.errors.GlobalChangedWarning`.

>>> import numpy as np
>>> W = np.ones(3)
>>> def f(x):
...     return x * W
>>> snapshot = Snapshot.of(f)
>>> W[0] = 5
>>> [(c.name, c.how) for c in snapshot.changes()]
[('W', 'written into since')]
"""
from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np

try:  # CPython's own BLAKE2, without the OpenSSL start-up of hashlib
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

__all__ = ["Snapshot", "Change", "read_names", "cell_value", "WHOLE_BYTES", "SAMPLES"]

_MISSING = object()


@dataclass(frozen=True)
class Change:
    """A global (``kind`` "global") or closure variable (``kind`` "closure variable")
    ``name`` of ``owner`` (the function reading it) that changed: ``how`` is "rebound
    since" or, for a NumPy array, "written into since"."""
    name: str
    owner: str
    how: str
    kind: str = "global"


def read_names(fn) -> list[tuple[str, dict | None, str, object]]:
    """(name, the globals dict it lives in or None for a closure variable, the function
    reading it, the cell or None) of every global and closure variable ``fn``'s code may
    read: its code's ``co_names`` (attribute names among them, which match no global
    unless one is so named), those of the code objects nested in it (lambdas,
    comprehensions, inner functions), and those of the Python functions among its
    globals and closure variables defined in its module, followed the same way (not into
    other modules: a library's globals are its own business)."""
    first = _function(fn)
    home = first.__globals__ if first is not None else None
    out, seen, todo = [], set(), [first]
    while todo:
        f = todo.pop()
        if f is None or id(f) in seen or f.__globals__ is not home:
            continue
        seen.add(id(f))
        owner = getattr(f, "__qualname__", getattr(f, "__name__", "?"))
        scope = f.__globals__
        for cell_name, cell in zip(f.__code__.co_freevars, f.__closure__ or ()):
            out.append((cell_name, None, owner, cell))
            todo.append(_function(cell_value(cell)))
        for name in _code_names(f.__code__):
            if name in scope:
                out.append((name, scope, owner, None))
                todo.append(_function(scope[name]))
    return out


def _function(value) -> types.FunctionType | None:
    """The Python function ``value`` is, or stands for (a jitted function's, a method's, a
    ``functools.partial``'s); None otherwise (modules, classes, C functions, data)."""
    for _ in range(4):  # (a partial of a jitted function, ...)
        if isinstance(value, types.FunctionType):
            return value
        value = getattr(value, "fn", None) or getattr(value, "__func__", None) or getattr(value, "func", None)
        if value is None:
            return None
    return None


def _code_names(code: types.CodeType) -> set[str]:
    """``co_names`` of ``code`` and of every code object nested in it (walked with a stack)."""
    names, stack = set(), [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return names


def cell_value(cell):
    """What ``cell`` holds; a marker object for an empty cell (a variable not yet bound)."""
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return _MISSING


#: Arrays of at most this many bytes are digested whole; of larger ones, SAMPLES elements
#: evenly spaced (about a millisecond either way), unless the snapshot is ``full``.
WHOLE_BYTES = 1 << 20
SAMPLES = 1 << 16


def _digest(value, full: bool) -> bytes | None:
    """A digest of a NumPy array's contents (with its shape and dtype): all of them if
    ``full`` or the array is small, else SAMPLES of them; None for other values."""
    if type(value) is not np.ndarray or value.dtype.hasobject:
        return None
    h = blake2b(repr((value.shape, value.dtype.str)).encode(), digest_size=16)
    if value.size and (full or value.nbytes <= WHOLE_BYTES):
        h.update(np.ascontiguousarray(value).view(np.uint8).reshape(-1).data)
    elif value.size:
        h.update(value.take(np.linspace(0, value.size - 1, SAMPLES).astype(np.intp)).tobytes())
    return h.digest()


class Snapshot:
    """The values of the globals and closure variables a function read, when it was traced;
    ``full``: every element of each array counts (MLC_DEBUG), else those of small arrays and
    samples of large ones (a write that misses every sample goes unseen)."""

    def __init__(self, entries: list, full: bool):
        self._entries = entries  # (name, scope or None, owner, cell or None, value, digest)
        self._full = full

    @classmethod
    def of(cls, fn, full: bool = False) -> Snapshot:
        """What ``fn`` reads, as it is now."""
        entries = []
        for name, scope, owner, cell in read_names(fn):
            value = scope[name] if scope is not None else cell_value(cell)
            entries.append((name, scope, owner, cell, value, _digest(value, full)))
        return cls(entries, full)

    def changes(self) -> list[Change]:
        """The names rebound (or deleted) since, and the arrays written into since."""
        out = []
        for name, scope, owner, cell, value, digest in self._entries:
            now = scope.get(name, _MISSING) if scope is not None else cell_value(cell)
            kind = "global" if scope is not None else "closure variable"
            if now is not value:
                out.append(Change(name, owner, "rebound since", kind))
            elif digest is not None and _digest(now, self._full) != digest:
                out.append(Change(name, owner, "written into since", kind))
        return out
