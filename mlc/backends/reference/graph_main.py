"""The reference backend's runner of a graph's ``main``: allocations, views and calls, in NumPy.

``main`` (:mod:`mlc.ir.calls`) is a straight sequence: ``Allocate`` gives a
fresh NumPy array per call, ``DeclBuffer`` a view of another buffer's
memory, ``CallPrimFunc`` runs the module's function on the arrays (checked
against its parameters, as ``lib[name](...)`` checks them) and
``CallPacked`` calls the registered library function with them. The
statements are walked with an explicit stack.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ...errors import MLCError
from ...ir.buffer import Buffer
from ...ir.calls import CallPacked, CallPrimFunc, DeclBuffer
from ...ir.functor import pre_order_nodes
from ...ir.tir import Allocate, Evaluate, PrimFunc, SeqStmt
from ...runtime.packed import get_func

__all__ = ["GraphMainProgram"]


class GraphMainProgram:
    """``run(arrays)`` executes graph main ``func``; ``functions`` are the module's callable
    functions (name -> ``f(*arrays)``). Library functions are looked up now: a function must
    be registered before the build. ``empty(size, dtype)`` allocates the workspace of one
    call (``np.empty``; a GPU backend passes its device's allocator: the views and calls
    need only ``reshape``/``view`` and indexing, which CuPy arrays share with NumPy's)."""

    def __init__(self, func: PrimFunc, functions: Mapping[str, object], name: str = "main",
                 empty=np.empty):
        self.func, self.functions, self.name, self.empty = func, functions, name, empty
        self.library = {n.name: get_func(n.name) for n in pre_order_nodes(func.body)
                        if isinstance(n, CallPacked)}

    def run(self, args: Sequence[np.ndarray]) -> None:
        arrays: dict[Buffer, np.ndarray] = dict(zip(self.func.params, args))
        stack = [self.func.body]
        while stack:
            s = stack.pop()
            if isinstance(s, SeqStmt):
                stack.extend(reversed(s.seq))
            elif isinstance(s, Allocate):
                (size,) = s.buffer.static_shape()
                arrays[s.buffer] = self.empty(size, s.buffer.dtype)
                stack.append(s.body)
            elif isinstance(s, DeclBuffer):
                arrays[s.buffer] = _view(arrays[s.data], s.buffer)
            elif isinstance(s, CallPrimFunc):
                self.functions[s.name](*[arrays[b] for b in s.args])
            elif isinstance(s, CallPacked):
                self.library[s.name](*[arrays[b] for b in s.args])
            elif not isinstance(s, Evaluate):
                raise MLCError(f"reference backend: {self.name} is a graph main; it cannot run "
                               f"{type(s).__name__} statements")


def _view(data, buffer: Buffer):
    """The first elements of ``data``'s memory (a NumPy or CuPy array) seen as ``buffer``'s
    shape and dtype."""
    shape = buffer.static_shape()
    dtype = np.dtype(buffer.dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    flat = data.reshape(-1).view(np.uint8)
    if nbytes > flat.size:
        raise MLCError(f"decl_buffer {buffer.name}: needs {nbytes} bytes, its data has {flat.size}")
    return flat[:nbytes].view(dtype).reshape(shape)
