"""Statements of a graph's ``main``: calls of functions by name, and buffers that view others.

A jitted graph lowers to kernels plus one PrimFunc, ``main``
(:mod:`mlc.passes.graph.emit_main`), that allocates the planned workspace
and calls the kernels in order. Three statements say that, and every
backend compiles them:

- :class:`CallPrimFunc` ``T.call_prim_func("fused_add", A, B, C)``: run the
  module's function ``name`` on these buffers (destination passing);
- :class:`CallPacked` ``T.call_packed("env.linear", A, B)``: run the library
  function registered under ``name`` (:func:`mlc.register_func`) on them;
- :class:`DeclBuffer` ``B = T.decl_buffer((2, 3), "float32", data=S.data)``:
  from here to the end of the enclosing sequence, ``buffer`` names the first
  elements of ``data``'s memory (a view: a reshape, or a value living in a
  planned storage). ``data`` is a parameter or an ``Allocate``d buffer.

A function made of them carries the :data:`GRAPH_MAIN_ATTR` attribute, the
tuple ``(inputs, constants)``: its parameters are that many graph inputs, then
that many constants (bound once by the caller), then the outputs. Schedules,
``verify_bounds`` and the TIR lowering pipeline leave such a function alone.
Control flow of the graph (:mod:`mlc.ir.control`) makes ``For``, ``While`` and
``IfThenElse`` around the calls, whose bounds and conditions load 0-d values
that kernels wrote (through a ``(1,)`` ``DeclBuffer`` of them), and
``BufferStore`` of a loop's index into the buffer its body reads it from.

>>> from mlc.ir.buffer import decl_buffer
>>> A, B = decl_buffer((4,), name="A"), decl_buffer((4,), name="B")
>>> CallPrimFunc("double", (A, B))
T.call_prim_func("double", A, B)
"""
from __future__ import annotations


from ..errors import IRError
from .buffer import Buffer
from .expr import IntImm
from .node import node
from . import dtype as dt
from .tir import Allocate, BufferStore, Evaluate, For, IfThenElse, PrimFunc, SeqStmt, Stmt, While

__all__ = ["CallPrimFunc", "CallPacked", "DeclBuffer", "GRAPH_MAIN_ATTR", "is_graph_main",
           "graph_main_layout", "verify_calls", "MAY_ALIAS", "checks_aliasing", "aliased_params"]

#: The attribute that marks a graph's ``main``: ``(number of inputs, number of constants)``.
GRAPH_MAIN_ATTR = "mlc.graph_main"
#: The attribute of a kernel that a graph's ``main`` calls with an output in the memory of an
#: input it reads element by element (``x += 1`` in place): ``((input, output), ...)``
#: parameter positions. Its code is right for those pairs sharing memory
#: (:func:`mlc.passes.graph.pointwise.pointwise_update`), so the argument checks let them.
MAY_ALIAS = "mlc.may_alias"


@node
class _BufferCall(Stmt):
    """A call of the function ``name`` with ``args``, one buffer per parameter: what both
    kinds of call hold and check (``KIND``: how each is spelled in errors)."""
    name: str
    args: tuple[Buffer, ...]

    KIND = "call"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise IRError(f"{self.KIND}: the function name must be a non-empty string, got {self.name!r}")
        bad = [a for a in self.args if not isinstance(a, Buffer)]
        if bad:
            raise IRError(f"{self.KIND}({self.name!r}): every argument must be a Buffer, got "
                          f"{type(bad[0]).__name__}")


@node
class CallPrimFunc(_BufferCall):
    """Call the module's function ``name`` with ``args``, one buffer per parameter."""
    KIND = "call_prim_func"


@node
class CallPacked(_BufferCall):
    """Call the library function registered as ``name`` with ``args`` (destination passing)."""
    KIND = "call_packed"


@node
class DeclBuffer(Stmt):
    """``buffer`` names ``data``'s memory for the rest of the enclosing sequence."""
    buffer: Buffer
    data: Buffer

    def __post_init__(self):
        if not isinstance(self.buffer, Buffer) or not isinstance(self.data, Buffer):
            raise IRError(f"decl_buffer: buffer and data must be Buffers, got "
                          f"{type(self.buffer).__name__} and {type(self.data).__name__}")


def is_graph_main(func: PrimFunc) -> bool:
    """True for a graph's ``main`` (see :data:`GRAPH_MAIN_ATTR`)."""
    return func.attr(GRAPH_MAIN_ATTR) is not None


def graph_main_layout(func: PrimFunc) -> tuple[int, int, int]:
    """(inputs, constants, outputs): how many of ``func``'s parameters are each."""
    inputs, constants = func.attr(GRAPH_MAIN_ATTR)
    return inputs, constants, len(func.params) - inputs - constants


def verify_calls(mod) -> None:
    """Raise IRError unless every graph main of ``mod`` (name -> PrimFunc) is well formed:
    each ``CallPrimFunc`` names a function of ``mod`` that is not a main, with one buffer
    of the parameter's shape and dtype per parameter; every buffer a statement uses is a
    parameter, allocated or declared before it; a ``DeclBuffer`` fits in its data."""
    for name, func in mod.items():
        if not is_graph_main(func):
            continue
        known = set(func.params)
        stack = [func.body]
        while stack:
            s = stack.pop()
            if isinstance(s, SeqStmt):
                stack.extend(reversed(s.seq))
            elif isinstance(s, Allocate):
                known.add(s.buffer)
                stack.append(s.body)
            elif isinstance(s, DeclBuffer):
                _known(name, "decl_buffer", s.data, known)
                if _static(s.buffer) and _static(s.data) and _nbytes(s.buffer) > _nbytes(s.data):
                    raise IRError(f"{name}: decl_buffer {s.buffer.name} needs {_nbytes(s.buffer)} bytes, "
                                  f"its data {s.data.name} has {_nbytes(s.data)}")
                known.add(s.buffer)
            elif isinstance(s, (CallPrimFunc, CallPacked)):
                for b in s.args:
                    _known(name, s.name, b, known)
                if isinstance(s, CallPrimFunc):
                    _check_callee(name, s, mod)
            elif isinstance(s, (For, While)):
                stack.append(s.body)
            elif isinstance(s, IfThenElse):
                stack.extend(c for c in (s.else_case, s.then_case) if c is not None)
            elif isinstance(s, BufferStore):
                _known(name, "a store", s.buffer, known)
            elif not isinstance(s, Evaluate):
                raise IRError(f"{name}: a graph main holds calls, Allocates, decl_buffers, loops, "
                              f"conditionals and scalar stores, not {type(s).__name__}")


def _known(main: str, where: str, buffer: Buffer, known: set) -> None:
    if buffer not in known:
        raise IRError(f"{main}: {where} uses buffer {buffer.name}, which is neither a parameter, "
                      "allocated, nor declared before it")


def _static(buffer: Buffer) -> bool:
    return all(isinstance(e, IntImm) for e in buffer.shape)


def _nbytes(buffer: Buffer) -> int:
    n = 1
    for extent in buffer.static_shape():
        n *= extent
    return n * max(dt.bits(buffer.dtype) // 8, 1)


def _check_callee(main: str, call: CallPrimFunc, mod) -> None:
    callee = mod.get(call.name) if hasattr(mod, "get") else None
    if callee is None or is_graph_main(callee):
        raise IRError(f"{main}: call_prim_func({call.name!r}): the module has no such kernel; it has "
                      f"{sorted(n for n, f in mod.items() if not is_graph_main(f))}")
    if len(call.args) != len(callee.params):
        raise IRError(f"{main}: call_prim_func({call.name!r}) passes {len(call.args)} buffers; "
                      f"{call.name} takes {len(callee.params)}")
    for arg, param in zip(call.args, callee.params):
        if arg.dtype != param.dtype or not _same_shape(arg, param):
            raise IRError(f"{main}: call_prim_func({call.name!r}) passes {arg.name} "
                          f"({arg.dtype}{_extents(arg)}) for parameter {param.name} "
                          f"({param.dtype}{_extents(param)})")


def _extents(buffer: Buffer) -> str:
    return "[" + ", ".join(str(e.value) if isinstance(e, IntImm) else str(e) for e in buffer.shape) + "]"


def _same_shape(arg: Buffer, param: Buffer) -> bool:
    """Whether ``arg`` fits ``param``: the same rank and static extents (a symbolic extent of
    the callee is what the argument has: a call passes its arguments' sizes)."""
    return len(arg.shape) == len(param.shape) and all(
        isinstance(a, IntImm) and a.value == p.value for a, p in zip(arg.shape, param.shape)
        if isinstance(p, IntImm))


def checks_aliasing(func) -> bool:
    """Whether a call of ``func`` must pass arrays that share no memory where one is written:
    its ``tir.noalias`` promise, unless a graph's main calls it in place (:data:`MAY_ALIAS`)."""
    return bool(func.attr("tir.noalias", True)) and not func.attr(MAY_ALIAS)


def aliased_params(func) -> frozenset[int]:
    """The ids of ``func``'s parameters that a graph's ``main`` may pass one memory
    (:data:`MAY_ALIAS`): code for them makes no ``noalias`` promise, and recomputes no element
    (no overlapping last tile), since an element of the output may be the input's."""
    pairs = func.attr(MAY_ALIAS) or ()
    return frozenset(id(func.params[k]) for pair in pairs for k in pair)
