"""NumPy's random generators and ``@mlc.jit``: never a frozen draw, and fresh keys at every call.

A jitted function runs once, on Tracers, and its compiled form at every call.
``np.random.rand(3)`` in its body has no traced argument, so NumPy draws it
while tracing and the numbers would become a constant of the compiled
function: the same "random" numbers at every call. Two things here prevent that.

- :class:`RandomWatch` notes, before a trace, the state of NumPy's global
  generator (``np.random.*``) and of the ``Generator`` and ``RandomState``
  objects the function's code names (its globals and closure); a trace that
  changed any of them is refused (:meth:`RandomWatch.refusal`): a TraceError
  naming the line that drew (found by running the trace again under a line
  tracer) and saying what to write instead. The states are put back.
- A trace may instead ask for *the call's key* (``TraceContext.random_key``):
  a hidden uint32[2] input that :func:`draw_key` draws at every call from a
  source: NumPy's global generator (so ``np.random.seed(0); f(x)`` is
  reproducible, and each call advances it), a captured ``Generator``, or fresh
  OS entropy. ``mlc.random.numpy_compat`` traces NumPy's functions that way.

>>> import numpy as np
>>> np.random.seed(0); a = draw_key(None)
>>> np.random.seed(0); bool((draw_key(None) == a).all()), a.dtype, a.shape
(True, dtype('uint32'), (2,))
"""
from __future__ import annotations

import linecache
import os
import sys

import numpy as np

from ..errors import TraceError
from ..ir.graph import SourceLoc
from .captured_globals import cell_value, read_names
from .source import describe_location

__all__ = ["GLOBAL", "ENTROPY", "RandomWatch", "draw_key", "describe_source"]

#: The key sources besides a Generator object: NumPy's global generator, and fresh OS entropy.
GLOBAL, ENTROPY = None, "entropy"

_GENERATORS = (np.random.Generator, np.random.RandomState)
_KEY_RANGE = 2**32


def draw_key(source) -> np.ndarray:
    """One call's key (uint32[2]) from ``source``: :data:`GLOBAL` (``np.random``'s generator,
    advanced by two words), a ``Generator`` or ``RandomState``, or :data:`ENTROPY`."""
    if source is GLOBAL:
        return np.random.randint(0, _KEY_RANGE, size=2, dtype=np.uint32)
    if source == ENTROPY:
        return np.random.SeedSequence().generate_state(2, np.uint32)
    if isinstance(source, np.random.Generator):
        return source.integers(0, _KEY_RANGE, size=2, dtype=np.uint32)
    return source.randint(0, _KEY_RANGE, size=2, dtype=np.uint32)


def describe_source(source) -> str:
    if source is GLOBAL:
        return "NumPy's global random generator (np.random)"
    if source == ENTROPY:
        return "fresh OS entropy"
    return f"the {type(source).__name__} {source!r}"


def _state(generator):
    if generator is GLOBAL:
        return np.random.get_state(legacy=False)
    if isinstance(generator, np.random.Generator):
        return generator.bit_generator.state
    return generator.get_state(legacy=False)


def _set_state(generator, state) -> None:
    if generator is GLOBAL:
        np.random.set_state(state)
    elif isinstance(generator, np.random.Generator):
        generator.bit_generator.state = state
    else:
        generator.set_state(state)


def _same(a, b) -> bool:
    """Whether two generator states (dicts of ints, strings and arrays) are equal."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def _captured(fn) -> list[tuple[str, object]]:
    """(name, generator) for the NumPy generators ``fn``'s code names: the globals and
    closure variables it may read (:func:`.captured_globals.read_names`)."""
    out, seen = [], set()
    for name, scope, _, cell in read_names(fn):
        value = scope.get(name) if scope is not None else cell_value(cell)
        if isinstance(value, _GENERATORS) and id(value) not in seen:
            out.append((name, value))
            seen.add(id(value))
    return out


class RandomWatch:
    """The states of NumPy's global generator and of the generators ``fn`` names, before a trace."""

    __slots__ = ("generators", "before")

    def __init__(self, fn):
        self.generators = [("np.random", GLOBAL)] + _captured(fn)
        self.before = [_state(g) for _, g in self.generators]

    def changed(self) -> list[str]:
        """The names of the generators whose state the trace changed."""
        return [name for (name, g), state in zip(self.generators, self.before) if not _same(_state(g), state)]

    def restore(self) -> None:
        for (_, g), state in zip(self.generators, self.before):
            _set_state(g, state)

    def refusal(self, function: str, changed: list[str], retrace) -> TraceError:
        """The TraceError for a trace of ``function`` that drew from ``changed``; ``retrace()``
        traces again, under a line tracer that finds the first line after which a state
        differs. The states are put back as they were before the trace."""
        self.restore()
        where = self._locate(retrace)
        self.restore()
        drew = ("NumPy's global random generator (np.random)" if changed[0] == "np.random" else
                f"the NumPy generator {changed[0]!r} (a {type(dict(self.generators)[changed[0]]).__name__})")
        return TraceError(
            f"{function}() draws from {drew} while it is traced: NumPy would draw those numbers "
            "once, and the compiled function would return them at every call (a constant, not random). "
            "Draw them with mlc.random from a key argument instead: def f(key, x): ... "
            "mlc.random.normal(key, x.shape) (and mlc.random.split(key) for a new key each call); "
            "or, for NumPy's own functions, mlc.random.numpy_compat's traced forms, which draw fresh "
            "numbers at every call (np.random.rand(3) -> numpy_compat.rand(3); numpy_compat.TRACED lists "
            "them). To make a constant, "
            "draw it outside the function and use it there." + where)

    def _locate(self, retrace) -> str:
        """The location (for a message) of the user's line that drew first: the last line a
        frame outside mlc and NumPy started before a watched state changed."""
        found: list[SourceLoc] = []
        last: list = []

        def local(frame, event, arg):
            if found:
                return None
            if last and self.changed():
                filename, line, scope = last[0]
                found.append(SourceLoc(filename, line, linecache.getline(filename, line, scope).strip()))
                return None
            if event == "line":
                last[:] = [(frame.f_code.co_filename, frame.f_lineno, frame.f_globals)]
            return local

        def watch(frame, event, arg):
            filename = frame.f_code.co_filename
            if found or os.path.abspath(filename).startswith(_SKIP) and not filename.startswith("<"):
                return None
            return local(frame, event, arg)

        old = sys.gettrace()
        sys.settrace(watch)
        try:
            retrace()
        except Exception:  # noqa: BLE001 - the trace failed again: what was found so far is the answer
            pass
        finally:
            sys.settrace(old)
        return describe_location(found[0]) if found else ""


#: Code whose lines are not watched: mlc's and NumPy's (the user's code is what draws).
_SKIP = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
         os.path.dirname(os.path.abspath(np.__file__)) + os.sep)
