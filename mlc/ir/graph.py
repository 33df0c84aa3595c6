"""Graph IR: the program a traced function becomes, before it is lowered to TensorIR.

A :class:`Graph` has typed inputs, an ordered list of bindings
``outputs = op(args, attrs)`` and a tuple of outputs. Every value is a
:class:`Var` (a graph input or a binding's result) or a :class:`Constant`
(a NumPy array baked into the program). Nodes are immutable; passes build
new graphs and share every unchanged binding.

Bindings name a registry op (``"add"``, ``"matmul"``, ``"nn.softmax"``), or
one of the forms later passes introduce:

- ``"fused"``: a group of ops to compile as one kernel; attribute ``body``
  holds the group as a Graph (its inputs are the binding's arguments);
- ``"call_tir"``: a call of the PrimFunc named by attribute ``func`` in the
  graph's ``module``, destination passing (the results are its outputs);
- ``"call_dps_packed"``: a call of the library function registered under the
  name in attribute ``func`` (:func:`mlc.register_func`), destination passing.

>>> from mlc.ir.types import TensorType
>>> x = Var("x", TensorType((2, 3), "float32"))
>>> y = Var("lv0", TensorType((2, 3), "float32"))
>>> g = Graph((x,), (Binding((y,), "exp", (x,)),), (y,))
>>> print(g.script())
@R.function
def main(x: R.Tensor((2, 3), "float32")):
    lv0 = R.exp(x)
    return lv0
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Union

import numpy as np

from . import dtype as dt
from .expr import PrimExpr
from .tir import IRModule
from .types import TensorType

__all__ = ["Var", "Constant", "Atom", "Binding", "Storage", "Graph", "SourceLoc", "constant", "is_symbolic_graph"]


@dataclass(frozen=True, slots=True)
class SourceLoc:
    """Where in the user's code a binding was traced: file, line and the line's text."""
    filename: str
    lineno: int
    code: str

    def __str__(self) -> str:
        return f'File "{self.filename}", line {self.lineno}: {self.code}'


class _Value:
    """What graph values share: a TensorType, seen through ``shape`` and ``dtype``."""

    __slots__ = ()
    name: str
    type: TensorType

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self) -> str:
        return self.type.dtype

    def __repr__(self) -> str:
        return f"%{self.name}"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Var(_Value):
    """A tensor value of the graph: an input or the result of a binding."""
    name: str
    type: TensorType

    #: mlc.ir.structural: bound one to one, compared by type (names do not matter)
    STRUCTURAL_ROLE = "var"

    def structural_key(self):
        return self.type


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Constant(_Value):
    """A NumPy array baked into the graph (read-only)."""
    name: str
    data: np.ndarray
    type: TensorType

    #: mlc.ir.structural: compared by type and data (names do not matter)
    STRUCTURAL_ROLE = "constant"

    def structural_key(self):
        return self.type, self.data.tobytes()


def constant(data, name: str = "const") -> Constant:
    """A Constant holding a read-only copy of ``data``.

    >>> constant(np.float32(2)).type
    TensorType(shape=(), dtype='float32')
    """
    array = np.array(data, copy=True)
    array.flags.writeable = False
    return Constant(name, array, TensorType(tuple(array.shape), dt.canonical(array.dtype)))


Atom = Union[Var, Constant]


@dataclass(frozen=True, slots=True, eq=False)
class Binding:
    """``outputs = op(*args, **attrs)``.

    ``attrs`` is a tuple of ``(name, value)`` pairs in a fixed order, so two
    bindings of one op with equal arguments and attributes compute the same
    value. ``loc`` is the user's source line (for error messages only).
    """
    outputs: tuple[Var, ...]
    op: str
    args: tuple[Atom, ...]
    attrs: tuple[tuple[str, Any], ...] = ()
    loc: SourceLoc | None = None

    #: mlc.ir.structural: where it was traced is for error messages only
    STRUCTURAL_IGNORED = ("loc",)

    def attr(self, key: str, default=None):
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    @property
    def attr_dict(self) -> dict[str, Any]:
        return dict(self.attrs)

    def describe(self) -> str:
        """``lv3 = call_tir(linear0, x, w0)``: how error messages name this binding."""
        outs = ", ".join(v.name for v in self.outputs) or "()"
        func = self.attr("func") if self.op in ("call_tir", "call_dps_packed") else None
        if func is None and self.op == "fused":
            func = self.attr("name")
        head = self.op if func is None else f"{self.op}({func!r}"
        args = ", ".join(getattr(a, "name", repr(a)) for a in self.args)
        call = f"{head}, {args})" if func is not None else f"{head}({args})"
        return f"{outs} = {call}"


@dataclass(frozen=True, slots=True)
class Storage:
    """A flat buffer that memory planning assigns to one or more intermediates."""
    size: int
    dtype: str


@dataclass(frozen=True, slots=True, eq=False)
class Graph:
    """A traced program: ``inputs``, ordered ``bindings``, ``outputs``.

    After lowering, ``module`` holds the PrimFuncs that ``call_tir`` bindings
    name; after memory planning, ``storages`` lists the shared intermediate
    buffers and each ``call_tir`` binding's ``storage`` attribute gives, per
    result, the index of its storage (None: allocated per call, an output).

    ``written`` pairs an output with an input, ``(output position, input position)``: that
    output is the input's new value, which the graph's ``main`` leaves in the input's own
    memory (the caller's array) instead of a buffer of its own: a jitted function that
    writes into its argument (``x += 1``) writes the caller's array in place.
    """
    inputs: tuple[Var, ...]
    bindings: tuple[Binding, ...]
    outputs: tuple[Atom, ...]
    module: IRModule | None = None
    storages: tuple[Storage, ...] = ()
    name: str = field(default="main")
    #: printed with its bindings in ``with R.dataflow():`` (as a BlockBuilder writes it)
    dataflow: bool = False
    written: tuple[tuple[int, int], ...] = ()

    #: mlc.ir.structural: a graph inside another (a fused group's body) is a function of its own
    STRUCTURAL_ROLE = "function"

    def structural_self(self) -> Graph:
        """This graph as compared when nested: its call_tir bindings name the PrimFuncs of the
        enclosing graph's module, so its own ``module`` field does not count."""
        return replace(self, module=None) if self.module is not None else self

    def with_bindings(self, bindings, outputs=None, **changes) -> Graph:
        """A copy with new bindings (and outputs); other fields are kept."""
        return replace(self, bindings=tuple(bindings),
                       outputs=self.outputs if outputs is None else tuple(outputs), **changes)

    def constants(self) -> list[Constant]:
        """Every Constant the bindings and outputs use, in order of first use."""
        seen: dict[int, Constant] = {}
        for atom in self.atoms():
            if isinstance(atom, Constant):
                seen.setdefault(id(atom), atom)
        return list(seen.values())

    def atoms(self) -> Iterator[Atom]:
        """Every argument of every binding, then the outputs."""
        for b in self.bindings:
            yield from b.args
        yield from self.outputs

    def ops(self) -> list[str]:
        """The op of each binding, in order (handy in tests)."""
        return [b.op for b in self.bindings]

    def script(self) -> str:
        """Relax-like text of the graph (and its fused groups)."""
        from .graph_printer import graph_to_str
        return graph_to_str(self)

    def __repr__(self) -> str:
        return self.script()


def is_symbolic_graph(graph: Graph) -> bool:
    """True when some input of ``graph`` has a symbolic dimension (``@mlc.jit(dynamic=...)``)."""
    return any(isinstance(d, PrimExpr) for v in graph.inputs for d in v.shape)
