"""The reference backend's runner of a graph's ``main``: allocations, views and calls, in NumPy.

``main`` (:mod:`mlc.ir.calls`) is a straight sequence: ``Allocate`` gives a
fresh NumPy array per call, ``DeclBuffer`` a view of another buffer's
memory, ``CallPrimFunc`` runs the module's function on the arrays (checked
against its parameters, as ``lib[name](...)`` checks them) and
``CallPacked`` calls the registered library function with them. The
statements are walked once, when the program is made, into a list of steps
that each call runs through (a ``main`` that only calls one function on its
own parameters calls it directly).
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
        self.steps = self._steps()
        calls = [step for step in self.steps if step[0] is _CALL]
        positions = {b: n for n, b in enumerate(func.params)}
        if len(self.steps) == 1 and calls and all(b in positions for b in calls[0][3]):
            # main is one call on its own parameters (a graph of one kernel): make it directly
            self.run = _direct_call(calls[0][2], [positions[b] for b in calls[0][3]], len(func.params))

    def _steps(self) -> list[tuple]:
        """``main``'s statements in the order they run, each as ``(kind, buffer, what, args)``:
        walked once here, so that a call only loops over them."""
        steps: list[tuple] = []
        stack = [self.func.body]
        while stack:
            s = stack.pop()
            if isinstance(s, SeqStmt):
                stack.extend(reversed(s.seq))
            elif isinstance(s, Allocate):
                (size,) = s.buffer.static_shape()
                steps.append((_ALLOCATE, s.buffer, (size, s.buffer.dtype), ()))
                stack.append(s.body)
            elif isinstance(s, DeclBuffer):
                steps.append((_VIEW, s.buffer, s.data, ()))
            elif isinstance(s, CallPrimFunc):
                steps.append((_CALL, None, self.functions[s.name], tuple(s.args)))
            elif isinstance(s, CallPacked):
                steps.append((_CALL, None, self.library[s.name], tuple(s.args)))
            elif not isinstance(s, Evaluate):
                raise MLCError(f"reference backend: {self.name} is a graph main; it cannot run "
                               f"{type(s).__name__} statements")
        return steps

    def run(self, args: Sequence[np.ndarray]) -> None:
        arrays: dict[Buffer, np.ndarray] = dict(zip(self.func.params, args))
        empty = self.empty
        for kind, buffer, what, call_args in self.steps:
            if kind is _CALL:
                what(*[arrays[b] for b in call_args])
            elif kind is _ALLOCATE:
                arrays[buffer] = empty(*what)
            else:
                arrays[buffer] = _view(arrays[what], buffer)


_ALLOCATE, _VIEW, _CALL = "allocate", "view", "call"


def _direct_call(function, where: list[int], n_params: int):
    """``run`` of a main that only calls ``function`` on its parameters at ``where``."""
    if where == list(range(n_params)):
        return lambda args: function(*args)
    return lambda args: function(*[args[n] for n in where])


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
