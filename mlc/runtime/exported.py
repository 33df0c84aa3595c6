"""What an exported library's entries take: their parameters, as C and as metadata.

An :class:`EntrySpec` is one function the library exports, ``<prefix><name>``:

* ``kind="graph"``: a jitted function's (or graph's) ``main``; the C entry takes the
  inputs, then one buffer per output (``const float *x, float *out0``), and passes
  ``main`` the constants the library holds between them;
* ``kind="function"``: a PrimFunc of an ``mlc.build`` module, called in destination
  passing style like ``lib[name](...)``; symbolic extents come after the pointers,
  one ``int64_t`` each (``void f(float *A, float *B, int64_t n)``);
* ``kind="program"``: a jitted function with dynamic axes, whose ``main`` has symbolic
  shapes: the C entry takes each dynamic size after the arrays and checks the sizes
  that must not be 0 before it calls ``main`` (which allocates what its kernels pass
  each other at this call's sizes), ``int f(const float *x, float *out0, int64_t n)``,
  returning 0, or ``2 + k`` when the ``k``-th size that must not be 0 was.

Shapes hold ints, the names of symbolic extents, and (a program's results) size
expressions as JSON trees, ``["*", "n", 2]`` (:func:`size_expr`, :func:`expr_source`).

:meth:`EntrySpec.metadata` is what the loader (:mod:`mlc.runtime.loader`) reads back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import MLCError
from ..ir.expr import Binary, BufferLoad, Cast, IntImm, Var
from ..ir.functor import pre_order_nodes
from ..ir.shape_vars import shape_vars
from ..ir.tir import BufferStore
from .sizes import EmptyTake

__all__ = ["ParamSpec", "EntrySpec", "CallSpec", "c_type", "c_identifier", "function_entry", "graph_entry",
           "size_expr", "expr_source"]

#: dtype name -> the C type of one element.
C_TYPES = {"float32": "float", "float64": "double", "int8": "int8_t", "int16": "int16_t",
           "int32": "int32_t", "int64": "int64_t", "uint8": "uint8_t", "uint16": "uint16_t",
           "uint32": "uint32_t", "uint64": "uint64_t", "bool": "uint8_t", "float16": "uint16_t",
           "bfloat16": "uint16_t", "complex64": "float", "complex128": "double"}


def c_type(dtype: str) -> str:
    """The C element type of arrays of ``dtype`` (``uint16_t`` holds a float16's bits, a
    complex value is two floats).

    >>> c_type("float32"), c_type("bool")
    ('float', 'uint8_t')
    """
    return C_TYPES.get(dtype, "void")


def c_identifier(name: str) -> str:
    """``name`` made a C identifier: every other character an underscore, never a digit first.

    >>> c_identifier("mm-relu.v2"), c_identifier("2x")
    ('mm_relu_v2', '_2x')
    """
    out = re.sub(r"\W", "_", name, flags=re.ASCII)
    return f"_{out}" if not out or out[0].isdigit() else out


@dataclass(frozen=True)
class ParamSpec:
    """One array parameter of an entry: ``shape`` holds ints and the names of symbolic
    extents; ``role`` is "in" (read), "out" (written) or "inout" (both)."""
    name: str
    dtype: str
    shape: tuple
    role: str

    def describe(self) -> str:
        """``float32[64, n]``, as the header's comments say it."""
        return f"{self.dtype}[{', '.join(expr_source(d) for d in self.shape)}]"

    def metadata(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "role": self.role}


@dataclass(frozen=True)
class EntrySpec:
    """One exported entry (module docstring). ``symbol`` is the LLVM function it calls;
    ``constants`` (a graph's) go to it after the inputs; ``outputs`` (a graph's): for each
    result the index of its buffer among the output parameters (a value returned twice
    is one buffer, copied by the loader); ``single``: the result is one array, not a tuple;
    ``size_vars``: (name, dtype, parameter, dimension) of each symbolic extent, in the
    order the function takes them; ``nonempty`` (a program's): (size expression tree,
    message) of each size a call must not make 0."""
    name: str
    symbol: str
    kind: str
    params: tuple[ParamSpec, ...]
    constants: tuple[np.ndarray, ...] = field(default=(), compare=False)
    outputs: tuple[int, ...] = ()
    single: bool = False
    size_vars: tuple[tuple[str, str, int, int], ...] = ()
    nonempty: tuple[tuple[object, str], ...] = field(default=(), compare=False)
    calls: CallSpec | None = None

    def metadata(self, prefix: str) -> dict:
        out = {"name": self.name, "symbol": prefix + c_identifier(self.name), "kind": self.kind,
               "params": [p.metadata() for p in self.params], "outputs": list(self.outputs),
               "single": self.single, "size_vars": [list(v) for v in self.size_vars]}
        if self.kind == "program":
            out["nonempty"] = [message for _, message in self.nonempty]
            # (those raised as BoundsError: an index into an empty axis, see runtime.sizes.EmptyTake)
            taken = [k for k, (_, message) in enumerate(self.nonempty) if isinstance(message, EmptyTake)]
            if taken:
                out["nonempty_taken"] = taken
        if self.calls is not None and self.calls.needed():
            out["call"] = self.calls.metadata()
        return out


@dataclass(frozen=True)
class CallSpec:
    """What a loaded entry does around the C call, as a jitted call does around ``main``
    (:class:`~mlc.tracer.compile.CompiledFunction`), for the loader to repeat:

    * ``scalars``: per input, the Python type (``"int"``, ``"float"``, ``"bool"``,
      ``"complex"``) of an argument traced as a Python number, or None for an array;
    * ``keys``: the source of each hidden random key input (the last inputs, uint32[2]
      each): ``"global"`` (NumPy's global generator, as ``draw_key(None)``) or ``"entropy"``;
    * ``checks``: ``(dtype, op, limit)`` of each traced Python int the call verifies
      (:class:`~mlc.tracer.compile.RangeCheck`), after the results: ``"index"`` a traced index
      into an axis of ``limit`` elements (``op``: what, axis, line), ``"status"`` a loop's
      ``[site, value]`` (``op``: the checks its site numbers from 1);
    * ``writes``: the input each of the last outputs is written back into, after the checks;
    * ``aliases``: the memory sharing among the array arguments the trace saw (None: none).

    >>> CallSpec(scalars=(None, "int"), checks=(("int8", "add", 0),)).metadata()["checks"]
    [['int8', 'add', 0]]
    """
    scalars: tuple = ()
    keys: tuple[str, ...] = ()
    checks: tuple[tuple[str, object, int], ...] = ()
    writes: tuple[int, ...] = ()
    aliases: tuple[int, ...] | None = None

    def needed(self) -> bool:
        return bool(any(self.scalars) or self.keys or self.checks or self.writes or self.aliases)

    def metadata(self) -> dict:
        return {"scalars": list(self.scalars), "keys": list(self.keys), "checks": [list(c) for c in self.checks],
                "writes": list(self.writes), "aliases": None if self.aliases is None else list(self.aliases)}


#: Size arithmetic a shape may hold -> its operator in a :func:`size_expr` tree.
_SIZE_OPS = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "floormod": "%", "truncdiv": "//",
             "truncmod": "%", "min": "min", "max": "max"}


def size_expr(e):
    """A shape's size expression as JSON: an int, a variable's name, or ``[op, a, b]``
    (sizes are never negative, so floor and truncating division agree).

    >>> n = Var("n", "int64")
    >>> size_expr(n * 2 + 1)
    ['+', ['*', 'n', 2], 1]
    """
    if isinstance(e, int):
        return e
    if isinstance(e, IntImm):
        return e.value
    if isinstance(e, Var):
        return str(e.name)
    if isinstance(e, Cast):
        return size_expr(e.value)
    if isinstance(e, Binary) and e.op in _SIZE_OPS:
        return [_SIZE_OPS[e.op], size_expr(e.a), size_expr(e.b)]
    raise MLCError(f"export: the size {e!r} is not integer arithmetic on the dynamic sizes; a program "
                   "exports with sizes made of +, -, *, //, %, min and max")


def expr_source(tree, c: bool = False) -> str:
    """The source of a :func:`size_expr` tree, Python's by default, or C's (``int64_t``
    arithmetic; ``c=True``).

    >>> expr_source(["+", ["*", "n", 2], 1]), expr_source(["//", "n", 4], c=True)
    ('(n * 2) + 1', '((int64_t)(n) / (int64_t)(4))')
    """
    if not isinstance(tree, list):
        return str(tree) if not c or isinstance(tree, int) else c_identifier(tree)
    op, x, y = tree
    a, b = expr_source(x, c), expr_source(y, c)
    if c:
        if op in ("min", "max"):
            return f"(({a}) {'<' if op == 'min' else '>'} ({b}) ? ({a}) : ({b}))"
        return f"((int64_t)({a}) {'/' if op == '//' else op} (int64_t)({b}))"
    if op in ("min", "max"):
        return f"{op}({a}, {b})"
    a, b = (f"({t})" if isinstance(v, list) and v[0] not in ("min", "max") else t for v, t in ((x, a), (y, b)))
    return f"{a} {op} {b}"


def _roles(func) -> list[str]:
    """"in", "out" or "inout" for each parameter of ``func``: whether it stores to it, and
    reads it."""
    stored, loaded = set(), set()
    for node in pre_order_nodes(func.body):
        if isinstance(node, BufferStore):
            stored.add(id(node.buffer))
        elif isinstance(node, BufferLoad):
            loaded.add(id(node.buffer))
    return ["inout" if id(p) in stored and id(p) in loaded else "out" if id(p) in stored else "in"
            for p in func.params]


def _unique(names) -> list[str]:
    """``names`` as distinct C identifiers (``x``, ``x_1``, ...)."""
    out, taken = [], set()
    for name in names:
        base = candidate = c_identifier(name)
        if candidate in _C_KEYWORDS:
            base = candidate = f"{candidate}_"
        n = 0
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


_C_KEYWORDS = frozenset("auto break case char const continue default do double else enum extern float for goto "
                        "if inline int long register restrict return short signed sizeof static struct switch "
                        "typedef union unsigned void volatile while".split())


def function_entry(name: str, func, symbol: str | None = None) -> EntrySpec:
    """The entry of PrimFunc ``func`` (as scheduled) of a built module, called ``name``:
    destination passing, its symbolic extents after the arrays. ``symbol``: the function's
    name in the module where ``name`` is another name for it (a lone PrimFunc's ``main``)."""
    names = _unique(p.name for p in func.params)
    params = tuple(ParamSpec(n, p.dtype, tuple(e.value if isinstance(e, IntImm) else str(e.name) for e in p.shape),
                             role) for n, p, role in zip(names, func.params, _roles(func)))
    sizes = tuple((str(v.name), v.dtype, n, d) for v, n, d in shape_vars(func.params))
    return EntrySpec(name, symbol or name, "function", params, size_vars=sizes)


def graph_entry(name: str, symbol: str, main, n_inputs: int, constants, outputs, single: bool,
                calls: CallSpec | None = None, nonempty=()) -> EntrySpec:
    """The entry ``name`` of a graph's ``main`` (PrimFunc ``main``, called ``symbol`` in its
    module, as built): its first ``n_inputs``
    parameters are the inputs, the next ``len(constants)`` the ``constants`` (held by the
    library), the rest the outputs; ``outputs`` maps each result to its output buffer. A
    ``main`` with symbolic shapes (dynamic axes) is a ``kind="program"`` entry, which takes
    each size after the arrays and checks the sizes ``nonempty`` lists ((size, message)) first."""
    params = list(main.params)
    kept = params[:n_inputs] + params[n_inputs + len(constants):]
    names = _unique([p.name for p in kept[:n_inputs]] + [f"out{k}" for k in range(len(kept) - n_inputs)])
    specs = []
    for n, (cname, p) in enumerate(zip(names, kept)):
        role = "in" if n < n_inputs else "out"
        if role == "in" and not all(isinstance(e, (IntImm, Var)) for e in p.shape):
            raise MLCError(f"export: input {p.name} of {name} has the size {p.shape}; a program exports with "
                           "inputs whose dynamic sizes are plain variables")
        specs.append(ParamSpec(cname, p.dtype, tuple(size_expr(e) for e in p.shape), role))
    sizes = tuple((str(v.name), v.dtype, n, d) for v, n, d in shape_vars(kept[:n_inputs]))
    kind = "program" if sizes else "graph"
    return EntrySpec(name, symbol, kind, tuple(specs), tuple(constants), tuple(outputs), single, size_vars=sizes,
                     nonempty=tuple((size_expr(e), message) for e, message in nonempty), calls=calls)
