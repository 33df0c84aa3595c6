"""A change to process-wide state that nested and concurrent users share: the first user
to enter applies it, the last to leave undoes it, whatever the order they leave in.

>>> import sys
>>> faster = SharedChange(lambda _: sys.getswitchinterval(),
...                       lambda _, old: sys.setswitchinterval(old))
>>> with faster.held():
...     with faster.held():            # nested: applied once, undone once
...         faster.users()
2
>>> faster.users()
0
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["SharedChange"]


class SharedChange:
    """``apply(subject) -> state`` when the first user of ``key`` enters,
    ``undo(subject, state)`` when its last user leaves; one lock orders them. A change
    of several independent subjects (one per module's globals, say) keys each by ``key``."""

    def __init__(self, apply: Callable[[Any], Any], undo: Callable[[Any, Any], None]):
        self._apply, self._undo = apply, undo
        self._lock = threading.Lock()
        self._held: dict[Hashable, list] = {}  # key -> [state, users]

    @contextmanager
    def held(self, key: Hashable = None, subject: Any = None) -> Iterator[None]:
        """The change of ``subject`` (known as ``key``) holds for the block."""
        with self._lock:
            entry = self._held.get(key)
            if entry is None:
                entry = self._held[key] = [self._apply(subject), 0]
            entry[1] += 1
        try:
            yield
        finally:
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._held[key]
                    self._undo(subject, entry[0])

    def users(self, key: Hashable = None) -> int:
        """How many blocks hold the change of ``key`` now."""
        entry = self._held.get(key)
        return entry[1] if entry else 0
