"""TVMScript-like text for expressions, statements, PrimFuncs and IRModules.

The output reads like the MLC course's TensorIR:

>>> from mlc.ir import te
>>> A = te.placeholder((8,), "float32", name="A")
>>> B = te.compute((8,), lambda i: A[i] * 2, name="B")
>>> print(te.create_prim_func([A, B]).script("double"))
@T.prim_func
def double(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
    T.func_attr({"global_symbol": "main", "tir.noalias": True})
    for i in range(8):
        with T.block("B"):
            vi = T.axis.spatial(8, i)
            T.reads(A[vi])
            T.writes(B[vi])
            B[vi] = A[vi] * T.float32(2)

Names of variables and buffers are made unique within their scope, so two
loop nests may both use ``i``.
"""
from __future__ import annotations

import math

from . import dtype as dt
from .buffer import Buffer, BufferRegion
from .expr import (Binary, Broadcast, BufferLoad, Call, Cast, FloatImm, IntImm, IterVar, Not, PrimExpr,
                   Let, Ramp, Range, Reduce, Select, Var)
from .functor import binary_chain, pre_order_nodes
from .ops import BINARY_OPS, NEG_PRECEDENCE, SCALAR_OPS
from .extern import AddressOf, CallExtern
from .tir import (Allocate, Block, BlockRealize, BufferStore, Evaluate, For, IfThenElse, IRModule,
                  LetStmt, PrimFunc, SeqStmt, Stmt, While)
from .calls import CallPacked, CallPrimFunc, DeclBuffer

__all__ = ["expr_to_str", "stmt_to_str", "func_to_str", "module_to_str", "region_to_str"]

INDENT = "    "

# Python operator precedence, loosest first, and the symbols and functions ops print as
# (the table of mlc.ir.ops).
_PREC = {name: op.precedence for name, op in SCALAR_OPS.items() if op.precedence is not None}
_PREC["neg"] = NEG_PRECEDENCE
_ATOM = 13
_SYMBOL = {name: op.symbol for name, op in BINARY_OPS.items() if op.symbol is not None}
_FUNC = {name: op.function for name, op in BINARY_OPS.items() if op.function is not None}
_LOOP_FN = {"parallel": "T.parallel", "vectorized": "T.vectorized", "unrolled": "T.unroll",
            "serial": "T.serial", "thread_binding": "T.thread_binding"}


class Namer:
    """Gives each Var and Buffer a readable name, unique among the names in scope."""

    def __init__(self):
        self.names: dict[int, str] = {}
        self.live: dict[str, int] = {}
        self.scopes: list[list[int]] = [[]]
        self.keep: list = []

    def define(self, obj, hint: str) -> str:
        name, n = hint or "v", 0
        while name in self.live:
            n += 1
            name = f"{hint}_{n}"
        self.names[id(obj)] = name
        self.live[name] = id(obj)
        self.scopes[-1].append(id(obj))
        self.keep.append(obj)
        return name

    def get(self, obj, hint: str) -> str:
        name = self.names.get(id(obj))
        if name is None or self.live.get(name) != id(obj):
            return self.define(obj, hint)
        return name

    def push(self) -> None:
        self.scopes.append([])

    def pop(self) -> None:
        for key in self.scopes.pop():
            name = self.names.get(key)
            if name is not None and self.live.get(name) == key:
                del self.live[name]


class Printer:
    def __init__(self, marks: dict[int, str] | None = None):
        self.namer = Namer()
        self.lines: list[str] = []
        self.marks = marks or {}  # id(node) -> note appended to the node's first line
        self.loop_extents: dict[int, PrimExpr] = {}  # id(loop var) -> extent, for T.axis.remap
        self._ready: dict[int, tuple[str, int]] = {}  # id of a Binary -> its text (see _chain)

    def mark(self, *nodes) -> str:
        notes = [self.marks[id(n)] for n in nodes if id(n) in self.marks]
        return f"  # <-- {'; '.join(notes)}" if notes else ""

    # ------------------------------------------------------------ expressions
    def expr(self, e) -> str:
        return self._expr(e)[0]

    def _expr(self, e) -> tuple[str, int]:
        """Text of ``e`` and its precedence."""
        if isinstance(e, IterVar):
            e = e.var
        if isinstance(e, Var):
            return self.namer.get(e, e.name), _ATOM
        if isinstance(e, IntImm):
            return _int_const(e), (_ATOM if e.value >= 0 or e.dtype != dt.INDEX else _PREC["neg"])
        if isinstance(e, FloatImm):
            return f"T.{e.dtype}({_float_literal(e.value)})", _ATOM
        if isinstance(e, Binary):
            ready = self._ready.pop(id(e), None)
            if ready is not None:
                return ready
            return self._chain(e) if type(e.a) is Binary or type(e.b) is Binary else self._binary(e)
        if isinstance(e, Not):
            return f"not {self._wrap(e.a, _PREC['not'])}", _PREC["not"]
        if isinstance(e, Cast):
            return f'T.Cast("{e.dtype}", {self.expr(e.value)})', _ATOM
        if isinstance(e, Select):
            return (f"T.if_then_else({self.expr(e.cond)}, {self.expr(e.true_value)}, "
                    f"{self.expr(e.false_value)})"), _ATOM
        if isinstance(e, Let):
            return (f"T.let({self.expr(e.var)}, {self.expr(e.value)}, {self.expr(e.body)})"), _ATOM
        if isinstance(e, Call):
            spec = SCALAR_OPS.get(e.op)
            name = spec.function if spec is not None else f"T.{e.op}"  # T.reinterpret
            return f"{name}({', '.join(self.expr(a) for a in e.args)})", _ATOM
        if isinstance(e, BufferLoad):
            return f"{self.buffer_name(e.buffer)}[{self._indices(e.indices)}]", _ATOM
        if isinstance(e, Ramp):
            return f"T.Ramp({self.expr(e.base)}, {e.stride}, {e.lanes})", _ATOM
        if isinstance(e, Broadcast):
            return f"T.Broadcast({self.expr(e.value)}, {e.lanes})", _ATOM
        if isinstance(e, AddressOf):
            return f"T.address_of({self.expr(e.load)})", _ATOM
        if isinstance(e, CallExtern):
            args = "".join(", " + self.expr(a) for a in e.args)
            return f'T.call_extern("{e.dtype}", "{e.name}"{args})', _ATOM
        if isinstance(e, Reduce):
            axes = ", ".join(self.expr(a.var) for a in e.axis)
            where = "" if e.condition is None else f", where={self.expr(e.condition)}"
            return f"te.{e.combiner.name}({self.expr(e.source)}, axis=[{axes}]{where})", _ATOM
        return repr(e), _ATOM

    def _chain(self, e: Binary) -> tuple[str, int]:
        """A Binary over a chain of Binary nodes (:func:`~mlc.ir.functor.binary_chain`, as
        deep as the user wrote it), printed from the bottom up on a loop instead of a
        recursion per level: each level's operand on the chain is ready when :meth:`_binary`
        asks for it."""
        chain = binary_chain(e)
        text = self._binary(chain[-1])
        for node, below in zip(reversed(chain[:-1]), reversed(chain[1:])):
            self._ready[id(below)] = text
            text = self._binary(node)
            self._ready.pop(id(below), None)
        return text

    def _binary(self, e: Binary) -> tuple[str, int]:
        if e.op in _FUNC:
            return f"{_FUNC[e.op]}({self.expr(e.a)}, {self.expr(e.b)})", _ATOM
        # The parser computes an operator on bare literals in Python (``-0`` is the constant
        # 0, ``1 + 2`` is 3): an operand that would print as one is spelled with its dtype
        # (``-T.int32(0)``), which the parser keeps as a node, as the IR has it.
        if e.op == "sub" and _is_zero_constant(e.a):
            operand = _typed_int(e.b) if _is_bare_literal(e.b) else self._wrap(e.b, _PREC['neg'])
            return f"-{operand}", _PREC["neg"]
        prec = _PREC[e.op]
        left = self._wrap(e.a, prec, strict=prec == 4)
        if _is_bare_literal(e.a) and _is_bare_literal(e.b):
            left = _typed_int(e.a)
        right = self._wrap(e.b, prec, strict=True)
        return f"{left} {_SYMBOL[e.op]} {right}", prec

    def _wrap(self, e, prec: int, strict: bool = False) -> str:
        text, inner = self._expr(e)
        if inner < prec or (strict and inner == prec):
            return f"({text})"
        return text

    def _indices(self, indices) -> str:
        """The subscript of an access; ``()`` for a 0-d buffer (``S[()]``, as NumPy writes it)."""
        return ", ".join(self.expr(i) for i in indices) if indices else "()"

    def buffer_name(self, buf: Buffer) -> str:
        return self.namer.get(buf, buf.name)

    def region(self, r: BufferRegion) -> str:
        return f"{self.buffer_name(r.buffer)}[{', '.join(self.range(x) for x in r.region) or '()'}]"

    def range(self, r: Range) -> str:
        if isinstance(r.extent, IntImm) and r.extent.value == 1:
            return self.expr(r.min)
        return f"{self.expr(r.min)}:{self.expr(r.min + r.extent)}"

    # ------------------------------------------------------------- statements
    def emit(self, depth: int, text: str) -> None:
        self.lines.append(INDENT * depth + text)

    def stmt(self, s: Stmt, depth: int) -> None:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            self.emit(depth, repr(s))
        else:
            method(s, depth)

    def stmt_SeqStmt(self, s: SeqStmt, depth: int) -> None:
        for x in s.seq:
            self.stmt(x, depth)

    def stmt_BufferStore(self, s: BufferStore, depth: int) -> None:
        self.emit(depth, f"{self.buffer_name(s.buffer)}[{self._indices(s.indices)}] = {self.expr(s.value)}")

    def stmt_Evaluate(self, s: Evaluate, depth: int) -> None:
        self.emit(depth, f"T.evaluate({self.expr(s.value)})")

    def stmt_IfThenElse(self, s: IfThenElse, depth: int) -> None:
        self.emit(depth, f"if {self.expr(s.condition)}:")
        self.stmt(s.then_case, depth + 1)
        if s.else_case is not None:
            self.emit(depth, "else:")
            self.stmt(s.else_case, depth + 1)

    def stmt_LetStmt(self, s: LetStmt, depth: int) -> None:
        while type(s) is LetStmt:  # (a chain on a loop: as long as a run of stores shares values)
            self.emit(depth, f'{self.expr(s.var)}: T.{s.var.dtype} = {self.expr(s.value)}')
            s = s.body
        self.stmt(s, depth)

    def stmt_While(self, s: While, depth: int) -> None:
        self.emit(depth, f"while {self.expr(s.condition)}:")
        self.stmt(s.body, depth + 1)

    def stmt_Allocate(self, s: Allocate, depth: int) -> None:
        self.namer.push()
        name = self.namer.define(s.buffer, s.buffer.name)
        shape = ", ".join(self.expr(x) for x in s.buffer.shape)
        self.emit(depth, f'{name} = T.allocate([{shape}], "{s.buffer.dtype}", "{s.buffer.scope}")')
        self.stmt(s.body, depth)
        self.namer.pop()

    def stmt_CallPrimFunc(self, s: CallPrimFunc, depth: int) -> None:
        self.emit(depth, f'T.call_prim_func("{s.name}"{self._buffer_args(s.args)})')

    def stmt_CallPacked(self, s: CallPacked, depth: int) -> None:
        self.emit(depth, f'T.call_packed("{s.name}"{self._buffer_args(s.args)})')

    def _buffer_args(self, args) -> str:
        return "".join(", " + self.buffer_name(b) for b in args)

    def stmt_DeclBuffer(self, s: DeclBuffer, depth: int) -> None:
        data = self.buffer_name(s.data)
        name = self.namer.define(s.buffer, s.buffer.name)
        self.emit(depth, f'{name} = T.decl_buffer(({self._shape(s.buffer)}), "{s.buffer.dtype}", '
                         f"data={data}.data)")

    def stmt_For(self, s: For, depth: int) -> None:
        loops = [s]
        while (_is_grid_loop(loops[-1]) and isinstance(loops[-1].body, For)
               and _is_grid_loop(loops[-1].body)):
            loops.append(loops[-1].body)
        self.namer.push()
        for f in loops:
            self.loop_extents[id(f.loop_var)] = f.extent
        if len(loops) > 1:
            names = ", ".join(self.namer.define(f.loop_var, f.loop_var.name) for f in loops)
            extents = ", ".join(self.expr(f.extent) for f in loops)
            self.emit(depth, f"for {names} in T.grid({extents}):{self.mark(*loops)}")
        else:
            name = self.namer.define(s.loop_var, s.loop_var.name)
            self.emit(depth, f"for {name} in {self._loop_range(s)}:{self.mark(s)}")
        self.stmt(loops[-1].body, depth + 1)
        self.namer.pop()

    def _loop_range(self, s: For) -> str:
        args = [self.expr(s.extent)] if _is_zero(s.min) else [self.expr(s.min), self.expr(s.min + s.extent)]
        if s.kind == "serial" and not s.annotations:
            return f"range({', '.join(args)})"
        if s.kind == "thread_binding":
            args.append(f'thread="{s.thread_binding}"')
        if s.annotations:
            args.append(f"annotations={_dict_literal(s.annotations)}")
        return f"{_LOOP_FN[s.kind]}({', '.join(args)})"

    def stmt_BlockRealize(self, s: BlockRealize, depth: int) -> None:
        block = s.block
        self.emit(depth, f'with T.block("{block.name_hint}"):{self.mark(s, block)}')
        self.namer.push()
        inner = depth + 1
        self._bindings(s, inner)
        if not (isinstance(s.predicate, IntImm) and s.predicate.value == 1):
            self.emit(inner, f"T.where({self.expr(s.predicate)})")
        self.emit(inner, f"T.reads({', '.join(self.region(r) for r in block.reads)})")
        self.emit(inner, f"T.writes({', '.join(self.region(r) for r in block.writes)})")
        if block.annotations:
            self.emit(inner, f"T.block_attr({_dict_literal(block.annotations)})")
        for buf in block.alloc_buffers:
            self.alloc_buffer(buf, inner)
        if block.init is not None:
            self.emit(inner, "with T.init():")
            self.stmt(block.init, inner + 1)
        self.stmt(block.body, inner)
        self.namer.pop()

    def stmt_Block(self, s: Block, depth: int) -> None:  # a block outside a realize
        self.stmt_BlockRealize(BlockRealize(tuple(iv.var for iv in s.iter_vars), IntImm(1, "bool"), s), depth)

    def _bindings(self, s: BlockRealize, depth: int) -> None:
        ivs, values = s.block.iter_vars, s.iter_values
        if not ivs:
            return
        # Values are printed before the iterators are defined: they name outer loops.
        texts = [self.expr(v) for v in values]
        # T.axis.remap says only "the domain is the bound loop's range": use it when that holds
        if all(isinstance(v, Var) and _is_zero(iv.dom.min) and _same_extent(self.loop_extents.get(id(v)), iv.dom.extent)
               for v, iv in zip(values, ivs)) and len(ivs) > 1:
            kinds = "".join({"spatial": "S", "reduce": "R", "opaque": "O"}[iv.iter_type] for iv in ivs)
            names = ", ".join(self.namer.define(iv.var, iv.var.name) for iv in ivs)
            self.emit(depth, f'{names} = T.axis.remap("{kinds}", [{", ".join(texts)}])')
            return
        for iv, text in zip(ivs, texts):
            dom = self.expr(iv.dom.extent) if _is_zero(iv.dom.min) else \
                f"({self.expr(iv.dom.min)}, {self.expr(iv.dom.min + iv.dom.extent)})"
            name = self.namer.define(iv.var, iv.var.name)
            self.emit(depth, f"{name} = T.axis.{iv.iter_type}({dom}, {text})")

    def alloc_buffer(self, buf: Buffer, depth: int) -> None:
        name = self.namer.define(buf, buf.name)
        args = [f"({self._shape(buf)})"]
        if buf.dtype != "float32":
            args.append(f'"{buf.dtype}"')
        if buf.strides:
            args.append(f"strides={self._tuple(buf.strides)}")
        if buf.scope != "global":
            args.append(f'scope="{buf.scope}"')
        self.emit(depth, f"{name} = T.alloc_buffer({', '.join(args)})")

    def _tuple(self, items) -> str:
        texts = [self.expr(x) for x in items]
        return f"({', '.join(texts)}{',' if len(texts) == 1 else ''})"

    def _shape(self, buf: Buffer) -> str:
        dims = [self.expr(x) for x in buf.shape]
        return ", ".join(dims) + ("," if len(dims) == 1 else "")

    # -------------------------------------------------------------- functions
    def func(self, f: PrimFunc, name: str, depth: int) -> None:
        params = []
        for p in f.params:
            pname = self.namer.define(p, p.name)
            scope = "" if p.scope == "global" else f', scope="{p.scope}"'
            strides = f", strides={self._tuple(p.strides)}" if p.strides else ""
            params.append(f'{pname}: T.Buffer(({self._shape(p)}), "{p.dtype}"{strides}{scope})')
        self.emit(depth, "@T.prim_func")
        self.emit(depth, f"def {name}({', '.join(params)}):")
        inner = depth + 1
        if f.attrs:
            self.emit(inner, f"T.func_attr({_dict_literal(f.attrs)})")
        for var in _size_vars(f):  # symbolic shapes: what each variable is, as TVM prints it
            self.emit(inner, f"{self.expr(var)} = T.{var.dtype}()")
        root = f.root_block
        if root is not None:
            for buf in root.alloc_buffers:
                self.alloc_buffer(buf, inner)
            self.stmt(root.body, inner)
        else:
            self.stmt(f.body, inner)


def _size_vars(f: PrimFunc) -> list[Var]:
    """The shape variables of ``f``'s parameters, in order of first appearance (the
    ``mlc.size_params`` of a lowered function, whose flat parameters hide them)."""
    kept = f.attr("mlc.size_params")
    if kept is not None:
        return list(kept)
    seen, out = set(), []
    for p in f.params:
        for e in (*p.shape, *p.strides):
            for node in pre_order_nodes(e):
                if isinstance(node, Var) and id(node) not in seen:
                    seen.add(id(node))
                    out.append(node)
    return out


def _is_zero(e) -> bool:
    return isinstance(e, IntImm) and e.value == 0


def _same_extent(a, b) -> bool:
    if a is None:
        return False
    return a is b or (isinstance(a, IntImm) and isinstance(b, IntImm) and a.value == b.value and a.dtype == b.dtype)


def _is_grid_loop(f: For) -> bool:
    return f.kind == "serial" and not f.annotations and _is_zero(f.min)


def _int_const(e: IntImm) -> str:
    if e.dtype == "bool":
        return f"T.bool({bool(e.value)})"
    if e.dtype == dt.INDEX:
        return str(e.value)
    return f"T.{e.dtype}({e.value})"


def _is_bare_literal(e) -> bool:
    """An integer constant printed as a bare number (of the index dtype)."""
    return isinstance(e, IntImm) and e.dtype == dt.INDEX


def _typed_int(e: IntImm) -> str:
    return f"T.{e.dtype}({e.value})"


def _is_zero_constant(e) -> bool:
    """A zero constant: what ``-x`` subtracts from (a complex one is ``T.complex(-0.0, -0.0)``)."""
    if isinstance(e, Call) and e.op == "complex":
        return all(isinstance(a, FloatImm) and a.value == 0 for a in e.args)
    return isinstance(e, (IntImm, FloatImm)) and e.value == 0


def _float_literal(value: float) -> str:
    if math.isnan(value):
        return '"nan"'
    if math.isinf(value):
        return '"inf"' if value > 0 else '"-inf"'
    if value == 0 and math.copysign(1.0, value) < 0:
        return "-0.0"  # the sign of a zero is part of the value
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _dict_literal(pairs) -> str:
    items = []
    for k, v in pairs:
        value = f'"{v}"' if isinstance(v, str) else repr(v)
        items.append(f'"{k}": {value}')
    return "{" + ", ".join(items) + "}"


# ------------------------------------------------------------------ entries

def expr_to_str(e: PrimExpr) -> str:
    return Printer().expr(e)


def region_to_str(r: BufferRegion) -> str:
    return Printer().region(r)


def stmt_to_str(s: Stmt) -> str:
    p = Printer()
    p.stmt(s, 0)
    return "\n".join(p.lines)


def func_to_str(f: PrimFunc, name: str = "main", marks: dict[int, str] | None = None) -> str:
    """``f`` as TVMScript; ``marks`` maps id(loop or block node) to a note shown on its line."""
    p = Printer(marks)
    p.func(f, name, 0)
    return "\n".join(p.lines)


def module_to_str(mod: IRModule) -> str:
    lines = ["@I.ir_module", "class Module:"]
    for n, (name, f) in enumerate(mod.items()):
        if n:
            lines.append("")
        p = Printer()
        p.func(f, name, 1)
        lines.extend(p.lines)
    return "\n".join(lines)
