"""A graph's ``main`` as the steps a device bundle's metadata holds: what a bundle's
launcher runs without mlc (:class:`mlc.runtime.loader.MainSteps`), on any device's arrays.

Each buffer is an index (the parameters first, then each buffer in the order it is
made), each loop variable a name ``v<k>``. Steps: ``["allocate", buffer, shape, dtype]``,
``["view", buffer, source, shape, dtype]``, ``["call", function, [buffers]]``, ``["for",
var, min, extent, steps]``, ``["while", condition, steps]``, ``["if", condition, then,
else]``, ``["store", buffer, index, value]`` (a loop's counter); the scalars as
:func:`scalar_steps` trees.

>>> from mlc.ir.expr import IntImm
>>> scalar_steps(IntImm(3, "int64"), {}, {})
['const', 3]
"""
from __future__ import annotations

from ..errors import CompileError, MLCError
from ..ir.buffer import Buffer
from ..ir.calls import CallPacked, CallPrimFunc, DeclBuffer
from ..ir.expr import Binary, BufferLoad, Cast, FloatImm, IntImm
from ..ir.expr import Var as TirVar
from ..ir.tir import Allocate, BufferStore, Evaluate, For, IfThenElse, SeqStmt, While

__all__ = ["main_steps", "scalar_steps", "static_shape"]


def static_shape(b: Buffer) -> list[int]:
    """``b``'s shape as a list of ints (a bundle's buffers have static shapes)."""
    return [int(e) for e in b.static_shape()]


def main_steps(name: str, func, functions) -> dict:
    """Graph ``main`` ``func`` (named ``name``) as a bundle's metadata holds it: its parameters
    and its steps (module docstring); ``functions``: the names of the kernel functions it may call."""
    index = {b: n for n, b in enumerate(func.params)}
    return {"name": name, "kind": "main", "params": [[b.name, static_shape(b), b.dtype] for b in func.params],
            "steps": _steps(name, func.body, index, {}, functions)}


def _steps(name: str, body, index: dict, names: dict, functions) -> list:
    steps: list = []
    stack = [body]
    scalar = lambda e: scalar_steps(e, index, names)
    while stack:
        s = stack.pop()
        if isinstance(s, SeqStmt):
            stack.extend(reversed(s.seq))
        elif isinstance(s, Allocate):
            index[s.buffer] = len(index)
            steps.append(["allocate", index[s.buffer], static_shape(s.buffer), s.buffer.dtype])
            stack.append(s.body)
        elif isinstance(s, DeclBuffer):
            index[s.buffer] = len(index)
            steps.append(["view", index[s.buffer], index[s.data], static_shape(s.buffer), s.buffer.dtype])
        elif isinstance(s, CallPrimFunc):
            if s.name not in functions:
                raise MLCError(f"export: {name} calls {s.name}, which is not a kernel function of the module")
            steps.append(["call", s.name, [index[b] for b in s.args]])
        elif isinstance(s, CallPacked):
            raise CompileError(f"export: {name} calls the Python function {s.name} (mlc.register_func); a "
                               "bundle runs without mlc. Write it as an mlc op, or keep the program in-process")
        elif isinstance(s, For):
            names.setdefault(s.loop_var, f"v{len(names)}")
            steps.append(["for", names[s.loop_var], scalar(s.min), scalar(s.extent),
                          _steps(name, s.body, index, names, functions)])
        elif isinstance(s, While):
            steps.append(["while", scalar(s.condition), _steps(name, s.body, index, names, functions)])
        elif isinstance(s, IfThenElse):
            other = [] if s.else_case is None else _steps(name, s.else_case, index, names, functions)
            steps.append(["if", scalar(s.condition), _steps(name, s.then_case, index, names, functions), other])
        elif isinstance(s, BufferStore):
            steps.append(["store", index[s.buffer], scalar(s.indices[0]), scalar(s.value)])
        elif not isinstance(s, Evaluate):
            raise CompileError(f"export: {name} runs a {type(s).__name__} statement, which a device bundle's "
                               "launcher does not run; export it for 'llvm', or keep it in-process")
    return steps


def scalar_steps(e, index: dict, names: dict):
    """A scalar of a graph main (a loop's bounds, a condition, a counter) as JSON: ``["const",
    value]``, ``["var", name]``, ``["load", buffer, index]``, ``["cast", dtype, e]`` or
    ``["bin", op, a, b, dtype of a, dtype of b]`` (:data:`mlc.ir.ops.BINARY_OPS`' names)."""
    if isinstance(e, (IntImm, FloatImm)):
        return ["const", e.value]
    if isinstance(e, TirVar):
        return ["var", names[e]]
    if isinstance(e, BufferLoad):
        return ["load", index[e.buffer], scalar_steps(e.indices[0], index, names)]
    if isinstance(e, Cast):
        return ["cast", e.dtype, scalar_steps(e.value, index, names)]
    if isinstance(e, Binary):
        return ["bin", e.op, scalar_steps(e.a, index, names), scalar_steps(e.b, index, names), e.a.dtype,
                e.b.dtype]
    raise CompileError(f"export: a graph main's scalar {e!r} ({type(e).__name__}) is not one a device bundle's "
                       "launcher evaluates")
