"""The runner of a graph's ``main`` for every backend without a native one (the reference
interpreter, the GPU backends: their device's arrays): allocations, views and calls.

``main`` (:mod:`mlc.ir.calls`) is a straight sequence: ``Allocate`` gives a
fresh NumPy array per call, ``DeclBuffer`` a view of another buffer's
memory, ``CallPrimFunc`` runs the module's function on the arrays (checked
against its parameters, as ``lib[name](...)`` checks them) and
``CallPacked`` calls the registered library function with them. The
statements are walked once, when the program is made, into a list of steps
that each call runs through (a ``main`` that only calls one function on its
own parameters calls it directly). A ``main`` with symbolic shapes binds its sizes from
its arguments at each call, and allocates and views at them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import MLCError
from ..ir.buffer import Buffer
from ..ir.calls import CallPacked, CallPrimFunc, DeclBuffer
from ..ir.arith import eval_int
from ..ir.functor import pre_order_nodes
from ..ir.shape_vars import shape_vars
from ..ir.expr import Binary, BufferLoad, Cast, FloatImm, IntImm
from ..ir.expr import Var as TirVar
from ..ir.ops import BINARY_OPS
from ..ir.tir import Allocate, BufferStore, Evaluate, For, IfThenElse, PrimFunc, SeqStmt, While
from .packed import get_func

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
        #: buffer -> (shape, dtype, ((index, value), ...)) of the constants main fills itself
        self.constants = _constant_buffers(func.body)
        self._made: dict = {}  # buffer -> its array, made on the first call
        self.sizes = shape_vars(func.params)
        self.steps = self._steps()
        calls = [step for step in self.steps if step[0] is _CALL]
        positions = {b: n for n, b in enumerate(func.params)}
        rest = [step for step in self.steps if step[0] is not _CONSTANT]
        if len(rest) == 1 and calls and all(b in positions or b in self.constants for b in calls[0][3]):
            # main is one call on its own parameters and constants (a graph of one kernel):
            # make it directly
            where = [positions.get(b, b) for b in calls[0][3]]
            self.run = (_direct_call(calls[0][2], where, len(func.params)) if len(rest) == len(self.steps) else
                        self._direct_with_constants(calls[0][2], where))

    def _constant(self, buffer):
        """The array of constant ``buffer``, filled on the first call and kept (nothing writes it)."""
        made = self._made.get(buffer)
        if made is None:
            shape, dtype, fills = self.constants[buffer]
            made = self.empty(shape, dtype)
            flat = made.reshape(-1)
            for index, value in fills:
                flat[index] = value
            self._made[buffer] = made
        return made

    def _direct_with_constants(self, function, where: list):
        def run(args):
            function(*[args[n] if isinstance(n, int) else self._constant(n) for n in where])
        return run

    def _steps(self, body=None) -> list[tuple]:
        """``main``'s statements in the order they run, each as ``(kind, buffer, what, args)``:
        walked once here, so that a call only loops over them. A loop or conditional of the
        graph (:mod:`mlc.ir.control`) is a step holding the steps of its body."""
        steps: list[tuple] = []
        stack = [self.func.body if body is None else body]
        while stack:
            s = stack.pop()
            if isinstance(s, SeqStmt):
                stack.extend(reversed(s.seq))
            elif isinstance(s, Allocate) and s.buffer in self.constants:
                steps.append((_CONSTANT, s.buffer, None, ()))
                stack.append(s.body)
            elif isinstance(s, Allocate):
                steps.append((_ALLOCATE, s.buffer, (_extents(s.buffer.shape), s.buffer.dtype), ()))
                stack.append(s.body)
            elif isinstance(s, BufferStore) and s.buffer in self.constants:
                continue  # made with the constant's array
            elif isinstance(s, DeclBuffer):
                steps.append((_VIEW, s.buffer, s.data, ()))
            elif isinstance(s, CallPrimFunc):
                steps.append((_CALL, None, self.functions[s.name], tuple(s.args)))
            elif isinstance(s, CallPacked):
                steps.append((_CALL, None, self.library[s.name], tuple(s.args)))
            elif isinstance(s, For):
                steps.append((_FOR, s.loop_var, (s.min, s.extent), self._steps(s.body)))
            elif isinstance(s, While):
                steps.append((_WHILE, None, s.condition, self._steps(s.body)))
            elif isinstance(s, IfThenElse):
                other = self._steps(s.else_case) if s.else_case is not None else []
                steps.append((_IF, None, s.condition, (self._steps(s.then_case), other)))
            elif isinstance(s, BufferStore):
                steps.append((_STORE, s.buffer, s.value, s.indices))
            elif not isinstance(s, Evaluate):
                raise MLCError(f"reference backend: {self.name} is a graph main; it cannot run "
                               f"{type(s).__name__} statements")
        return steps

    def run(self, args: Sequence[np.ndarray]) -> None:
        arrays: dict = dict(zip(self.func.params, args))
        if self.sizes:  # symbolic shapes: each size from the first argument dimension that is it
            arrays[_SIZES] = {id(v): args[n].shape[d] for v, n, d in self.sizes}
        self._run(self.steps, arrays)

    def _run(self, steps, arrays: dict) -> None:
        empty = self.empty
        for kind, buffer, what, call_args in steps:
            if kind is _CALL:
                what(*[arrays[b] for b in call_args])
            elif kind is _ALLOCATE:
                shape, dtype = what
                arrays[buffer] = empty(shape if type(shape) is tuple else shape(arrays[_SIZES]), dtype)
            elif kind is _CONSTANT:
                arrays[buffer] = self._constant(buffer)
            elif kind is _VIEW:
                arrays[buffer] = _view(arrays[what], buffer, arrays.get(_SIZES))
            elif kind is _FOR:
                begin = int(_scalar(what[0], arrays))
                for i in range(begin, begin + int(_scalar(what[1], arrays))):
                    arrays[buffer] = i
                    self._run(call_args, arrays)
            elif kind is _WHILE:
                while _scalar(what, arrays):
                    self._run(call_args, arrays)
            elif kind is _IF:
                self._run(call_args[0] if _scalar(what, arrays) else call_args[1], arrays)
            else:  # a store of a scalar (a loop's index)
                target = arrays[buffer].reshape(-1)
                target[int(_scalar(call_args[0], arrays))] = _scalar(what, arrays)


_ALLOCATE, _VIEW, _CALL, _CONSTANT = "allocate", "view", "call", "constant"
_SIZES = "sizes"  # the key of a call's sizes (shape variable id -> int) among its arrays


def _extents(shape):
    """``shape`` as ints where it is static, else a function of the call's sizes giving them."""
    if all(isinstance(e, IntImm) for e in shape):
        return tuple(e.value for e in shape)
    return lambda sizes: tuple(eval_int(e, sizes) for e in shape)
_FOR, _WHILE, _IF, _STORE = "for", "while", "if", "store"


def _constant_buffers(body) -> dict:
    """The buffers ``main`` allocates and fills with numbers at its top level, outside its
    loops and branches, and stores nothing else into (the 0-d constants it makes itself:
    :func:`mlc.passes.graph.emit_main.made_in_main`): made once, on the first call, then kept
    (a GPU's main would otherwise copy each to the device at every call)."""
    stores: dict = {}
    for n in pre_order_nodes(body):
        if isinstance(n, BufferStore):
            stores.setdefault(n.buffer, []).append(n)
    allocated = {n.buffer for n in pre_order_nodes(body) if isinstance(n, Allocate)}
    top = {id(n) for n in _top_stores(body)}
    out = {}
    for buffer, found in stores.items():
        if buffer in allocated and all(id(n) in top and isinstance(n.value, (IntImm, FloatImm)) and
                                       all(isinstance(i, IntImm) for i in n.indices) for n in found):
            out[buffer] = (tuple(buffer.static_shape()), buffer.dtype,
                           tuple((int(n.indices[0].value) if n.indices else 0, n.value.value) for n in found))
    return out


def _top_stores(body) -> list:
    """``main``'s stores outside its loops and branches."""
    out, stack = [], [body]
    while stack:
        s = stack.pop()
        if isinstance(s, SeqStmt):
            stack.extend(s.seq)
        elif isinstance(s, Allocate):
            stack.append(s.body)
        elif isinstance(s, BufferStore):
            out.append(s)
    return out


def _scalar(expr, arrays: dict):
    """The value of a scalar expression of a graph main (loop bounds, conditions, a loop's
    index): constants, loop variables, loads of one element, casts and binary operations."""
    if isinstance(expr, (IntImm, FloatImm)):
        return expr.value
    if isinstance(expr, TirVar):
        return arrays[expr]
    if isinstance(expr, BufferLoad):
        flat = arrays[expr.buffer].reshape(-1)
        return flat[int(_scalar(expr.indices[0], arrays))].item()
    if isinstance(expr, Cast):
        return np.array(_scalar(expr.value, arrays)).astype(expr.dtype).item()
    if isinstance(expr, Binary):
        a, b = (np.array(_scalar(x, arrays), dtype=x.dtype) for x in (expr.a, expr.b))
        return np.asarray(BINARY_OPS[expr.op].numpy(a, b)).item()
    raise MLCError(f"a graph main's scalar expression cannot hold {type(expr).__name__}: {expr!r}")


def _direct_call(function, where: list[int], n_params: int):
    """``run`` of a main that only calls ``function`` on its parameters at ``where``."""
    if where == list(range(n_params)):
        return lambda args: function(*args)
    return lambda args: function(*[args[n] for n in where])


def _view(data, buffer: Buffer, sizes: dict | None = None):
    """The first elements of ``data``'s memory (a NumPy or CuPy array) seen as ``buffer``'s
    shape (at the call's ``sizes`` where it is symbolic) and dtype."""
    shape = _extents(buffer.shape)
    if type(shape) is not tuple:
        shape = shape(sizes)
    dtype = np.dtype(buffer.dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    flat = data.reshape(-1).view(np.uint8)
    if nbytes > flat.size:
        raise MLCError(f"decl_buffer {buffer.name}: needs {nbytes} bytes, its data has {flat.size}")
    return flat[:nbytes].view(dtype).reshape(shape)
