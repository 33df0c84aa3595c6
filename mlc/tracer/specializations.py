"""A jitted function's compiled signatures, at most ``size`` of them, the least recently used
going first.

Each signature compiled (about 170 KB of code, graph and buffers for a small
program) is kept for the calls to come, but no more than ``size`` (``mlc.jit(cache_size=)``,
by default ``MLC_JIT_CACHE_SIZE``, 128): a service that sees a stream of new shapes stays
flat. A signature is found again under its full key (:attr:`compiled`, the general path)
and under the keys of the calls that had it (:attr:`runs`: a positional call's fast key;
:attr:`keyed_runs`: a call with keywords or static arguments), each to a :class:`Slot`
of the signature: the jit's hit path reads these dicts itself, and marks the slot used
(one store, the only cost of the bookkeeping on a hit).

Which signature goes is decided the way an operating system picks a page to drop (the
CLOCK, or second-chance, approximation of least-recently-used): the signatures wait in
the order they were compiled or last found on the general path; the first in line that
was not called since it last came to the front goes, and one that was called is marked
unused and goes to the back. So a signature called since the last eviction is never the
one dropped while one that was not called remains, and among those not called, the
oldest goes first.

>>> cache = Specializations(size=2)
>>> slots = {key: cache.add(key, compiled=key.upper(), run=print) for key in ("a", "b")}
>>> slots["a"].used = True           # a call of "a" (the jit's hit path does this)
>>> _ = cache.add("c", compiled="C", run=print)
>>> list(cache.compiled)             # "b", not called since, went
['a', 'c']
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["Slot", "Specializations"]


class Slot:
    """One compiled signature (full ``key``): its ``compiled`` function and ``run`` (leaves ->
    outputs), whether it was ``used`` since it last came to the front of the line, and the
    other keys it is found under."""
    __slots__ = ("key", "compiled", "run", "used", "aliases", "fast", "pending", "scalars", "keywords")

    def __init__(self, key, compiled, run: Callable, pending: bool = False, scalars=(), keywords=()):
        self.key, self.compiled, self.run = key, compiled, run
        #: how the signature's calls pass their leaves: for each, the type of a Python number
        #: passed as it is (by value), or None (an array); the keywords the last leaves come
        #: by, in the order of the leaves (:meth:`~.arguments.ArgumentSpec.dynamic_of`)
        self.scalars, self.keywords = scalars, keywords
        #: (builtin, declined): ``builtin(*arguments, **keywords)`` is a new output where the
        #: arguments were those of this signature and it ran, else ``declined``
        #: (:meth:`.compile.CompiledFunction.make_fast`); or None
        self.fast = None
        #: whether ``fast`` is still to be made (on the first hit: :meth:`make_fast`)
        self.pending = pending
        self.used = False
        self.aliases: list[tuple[dict, tuple]] = []  # (runs or keyed_runs, key)

    def make_fast(self):
        """``fast``, made now if it is still to be made."""
        if self.pending:
            self.pending = False
            self.fast = self.fast_of(self.compiled.function)
        return self.fast

    def fast_of(self, function):
        """The fast entry of ``function`` (a CompiledFunction of this signature, a tier of
        it) for this signature's calls, or None."""
        return function.make_fast(self.scalars, self.keywords)


class Specializations:
    """At most ``size`` compiled signatures (None: no limit), their slots and keys."""

    def __init__(self, size: int | None):
        self.size = size
        #: the full signature key -> the Compiled, in line (the front goes first)
        self.compiled: OrderedDict = OrderedDict()
        self._slots: dict = {}  # the full signature key -> its Slot
        #: a positional call's fast key (or a full key) -> Slot
        self.runs: dict = {}
        #: a call with keywords or static arguments: ArgumentSpec.call_key -> (Slot, where its
        #: dynamic arguments are: ArgumentSpec.dynamic_of)
        self.keyed_runs: dict = {}
        self._lock = threading.RLock()  # (the hit path only reads runs and keyed_runs: no lock)
        #: the slot of the last positional call of arrays found, where it has a fast entry
        #: (:attr:`Slot.fast`): a call tries it before computing any key
        self.hot: Slot | None = None
        #: the same for a call with keywords, whose fast entry takes them by name
        #: (:attr:`Slot.keywords`)
        self.hot_keyed: Slot | None = None

    def get(self, key) -> Slot | None:
        """The slot of the full ``key``, marked used and sent to the back; None if absent."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None:
                slot.used = True
                self.compiled.move_to_end(key)
            return slot

    def add(self, key, compiled, run: Callable, pending: bool = False, scalars=(), keywords=()) -> Slot:
        """Keep ``compiled`` (whose calls are ``run``, pass ``scalars`` and ``keywords``:
        :class:`Slot`) under ``key``, first dropping what must go for it to fit; its slot, also
        found in :attr:`runs` under ``key``."""
        with self._lock:
            if self.size is not None:
                while len(self.compiled) >= self.size:
                    self._drop_one()
            slot = Slot(key, compiled, run, pending, scalars, keywords)
            self.compiled[key] = compiled
            self._slots[key] = slot
            self.alias(slot, key)
            return slot

    def alias(self, slot: Slot, key, where=None) -> None:
        """Find ``slot`` again under a call's ``key``: in :attr:`runs` (``where`` None) or in
        :attr:`keyed_runs` with ``where``; nothing if it was dropped meanwhile."""
        runs = self.runs if where is None else self.keyed_runs
        value = slot if where is None else (slot, where)
        with self._lock:
            if self._slots.get(slot.key) is not slot:
                return
            if runs.get(key) != value:
                runs[key] = value
                slot.aliases.append((runs, key))

    def clear(self) -> None:
        with self._lock:
            self.compiled.clear()
            self._slots.clear()
            self.runs.clear()
            self.keyed_runs.clear()
            self.hot = self.hot_keyed = None

    def _drop_one(self) -> None:
        """Drop the first signature in line not used since it came to the front (CLOCK; the
        caller holds the lock)."""
        while True:
            key = next(iter(self.compiled))
            slot = self._slots[key]
            if slot.used:  # a second chance: to the back, unused
                slot.used = False
                self.compiled.move_to_end(key)
                continue
            del self.compiled[key], self._slots[key]
            if self.hot is slot:
                self.hot = None
            if self.hot_keyed is slot:
                self.hot_keyed = None
            for runs, alias in slot.aliases:
                found = runs.get(alias)
                if found is slot or (type(found) is tuple and found[0] is slot):
                    del runs[alias]
            return
