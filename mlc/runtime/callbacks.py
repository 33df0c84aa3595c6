"""Python library calls from native code: one C entry point, ``mlc_graph_callback``.

A graph's ``main`` compiled by the llvm backend calls its library functions
(``T.call_packed``, from ``call_dps_packed`` bindings) through one C function,
``void mlc_graph_callback(void *ctx, int64 index, void **args)``: ``ctx``
is the token of the module's callback table (a global of the module, set when
it is loaded), ``index`` the library call's position in the module, and
``args`` its buffers' data pointers, then the dynamic extents of their shapes (a
graph with dynamic axes), one ``int64`` each. :data:`CALLBACK` is that function, a
ctypes callback into :func:`_dispatch`; the llvm backend registers its
address under :data:`CALLBACK_SYMBOL`. The GIL is taken for the call only.

A library function that raises cannot unwind through native code: the
table records the exception (per thread) and the caller of ``main`` raises
it when ``main`` returns (:meth:`CallbackTable.raise_pending`); the library
calls after it in the same run are skipped.
"""
from __future__ import annotations

import ctypes
import threading
import weakref
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["CALLBACK", "CALLBACK_SYMBOL", "CallbackTable"]

#: The symbol native programs call; registered with LLVM by the llvm backend.
CALLBACK_SYMBOL = "mlc_graph_callback"

_TABLES: dict[int, CallbackTable] = {}
_NEXT = [1]
_LOCK = threading.Lock()


def _dispatch(ctx, index, args) -> None:
    table = _TABLES.get(ctx or 0)
    if table is not None:
        table.call(index, args)


#: ``void mlc_graph_callback(void *ctx, int64_t index, void **args)``.
CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p)(_dispatch)


class CallbackTable:
    """The library calls of one module: ``(function, [(shape, dtype) of each buffer])``
    in callback-index order, a dynamic extent None (passed after the pointers); ``token``
    is what the native code passes as ``ctx``. The table lives as long as ``owner``."""

    def __init__(self, owner, calls: Sequence[tuple[Callable, Sequence[tuple[tuple, str]]]]):
        self.calls = [(fn, [(shape, np.dtype(dtype), _nbytes(shape, dtype)) for shape, dtype in specs],
                       sum(shape.count(None) for shape, _ in specs)) for fn, specs in calls]
        self._local = threading.local()
        with _LOCK:
            self.token = _NEXT[0]
            _NEXT[0] += 1
            _TABLES[self.token] = self
        weakref.finalize(owner, _TABLES.pop, self.token, None)

    def call(self, index: int, args: int) -> None:
        if getattr(self._local, "error", None) is not None:
            return  # an earlier call of this run failed: its error is raised on return
        try:
            fn, specs, dynamic = self.calls[index]
            pointers = (ctypes.c_void_p * len(specs)).from_address(args)
            if dynamic:
                specs = _at_sizes(specs, (ctypes.c_int64 * (len(specs) + dynamic)).from_address(args)[len(specs):])
            arrays = [np.frombuffer((ctypes.c_char * nbytes).from_address(p or 0), dtype).reshape(shape)
                      if nbytes else np.empty(shape, dtype)
                      for p, (shape, dtype, nbytes) in zip(pointers, specs)]
            fn(*arrays)
        except BaseException as err:  # noqa: BLE001 - re-raised by raise_pending
            self._local.error = err

    def raise_pending(self) -> None:
        """Raise (and clear) the error a library call of this thread's last run raised."""
        err = getattr(self._local, "error", None)
        if err is not None:
            self._local.error = None
            raise err


def _nbytes(shape: tuple, dtype) -> int | None:
    """The bytes of an array of ``shape``; None where an extent is dynamic (None)."""
    if None in shape:
        return None
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def _at_sizes(specs: list, extents: Sequence[int]) -> list:
    """``specs`` with each dynamic extent taken, in order, from ``extents``."""
    values = iter(extents)
    out = []
    for shape, dtype, nbytes in specs:
        if nbytes is None:
            shape = tuple(next(values) if e is None else e for e in shape)
            nbytes = _nbytes(shape, dtype)
        out.append((shape, dtype, nbytes))
    return out
