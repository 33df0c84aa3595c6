"""TVMScript expressions -> mlc IR expressions.

Expressions are rebuilt node for node, without the folding the Python
operators of :mod:`mlc.ir.expr` apply, so that ``parse(script())`` gives back
the very IR that was printed: ``x + 0`` stays an addition, ``-x`` is
``0 - x``, ``T.Cast`` is a Cast even of a constant. Bare Python numbers take
their partner operand's dtype (NEP 50), and the index dtype when alone.
"""
from __future__ import annotations

import ast
import math
import operator
import sys

import numpy as np

from ..errors import MLCError, ParseError
from ..ir import dtype as dt
from ..ir.buffer import Buffer, BufferRegion
from ..ir.extern import address_of, call_extern
from ..ir.expr import (MATH_OPS, COMPARE_OPS, Binary, Broadcast, BufferLoad, Call, Cast, IterVar, Let, Not,
                       PrimExpr, Ramp, Range, Select, Var, call, cast, const, convert, make_binary)
from ..ir.arith import difference
from ..ir.ops import MATH_CALLS, SCALAR_OPS, python_operators
from ._source import Scopes, Source, attr_path

__all__ = ["ExprParser", "NAMESPACES"]

#: module name -> the alias the course uses
NAMESPACES = {"tir": "T", "ir": "I", "relax": "R"}

_SYNTAX = python_operators()  # ast operator class -> IR op (the op table's symbols)
_BINOP = {node: name for node, name in _SYNTAX.items() if SCALAR_OPS[name].kind in ("arith", "bitwise")}
_PY_BINOP = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
             ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
             ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
             ast.LShift: operator.lshift, ast.RShift: operator.rshift}
_CMP = {node: name for node, name in _SYNTAX.items() if SCALAR_OPS[name].kind == "compare"}
_TWO_ARG = {"min": "min", "max": "max", "truncdiv": "truncdiv", "truncmod": "truncmod",
            "floordiv": "floordiv", "floormod": "floormod"}


def _is_scalar(x) -> bool:
    return isinstance(x, (bool, int, float)) and not isinstance(x, PrimExpr)


class ExprParser:
    """Evaluates expression nodes in the current scopes.

    A value is a PrimExpr, a Buffer, or a Python scalar (a literal or a
    constant from the enclosing Python code) not yet given a dtype.
    """

    def __init__(self, source: Source):
        self.src = source
        self.scopes = Scopes()
        self.aliases = self._aliases(source.env)

    @staticmethod
    def _aliases(env: dict) -> dict[str, str]:
        """Which names stand for mlc.script.tir/ir/relax: the course's T, I, R unless rebound."""
        out = {alias: module for module, alias in NAMESPACES.items() if alias not in env}
        for name, value in env.items():
            for module in NAMESPACES:
                if value is not None and value is sys.modules.get(f"mlc.script.{module}"):
                    out[name] = module
        return out

    # ------------------------------------------------------------ helpers
    def error(self, node, message: str):
        return self.src.error(node, message)

    def namespace(self, node) -> tuple[str, list[str]] | None:
        """For ``T.axis.remap``: ("tir", ["axis", "remap"]); None when not a T/I/R name."""
        path = attr_path(node)
        if not path or path[0] not in self.aliases:
            return None
        return self.aliases[path[0]], path[1:]

    def tir_call(self, node) -> str | None:
        """``T.grid(...)`` -> "grid"; None when ``node`` is not a call of a T function."""
        if not isinstance(node, ast.Call):
            return None
        ns = self.namespace(node.func)
        if ns is None or ns[0] != "tir":
            return None
        return ".".join(ns[1])

    def prim(self, node, dtype: str | None = None) -> PrimExpr:
        """An expression that must be a PrimExpr; a bare number takes ``dtype`` (index by default)."""
        value = self.value(node)
        if isinstance(value, Buffer):
            raise self.error(node, f"buffer {value.name} used as a value; index it, e.g. {value.name}[i]")
        if isinstance(value, (PrimExpr, IterVar)):
            return convert(value)
        if _is_scalar(value):
            return self.wrap(node, lambda: convert(value, dtype))
        raise self.error(node, f"expected an expression, got {type(value).__name__}")

    def wrap(self, node, fn):
        """Run ``fn``, turning an IR error into a ParseError at ``node``."""
        try:
            return fn()
        except ParseError:
            raise
        except MLCError as err:
            raise self.error(node, str(err)) from None

    def constant(self, node):
        """A Python constant (int, float, str, bool, tuple of those) written in the script."""
        value = self.value(node)
        if isinstance(value, (PrimExpr, Buffer)):
            raise self.error(node, "expected a constant here")
        return value

    def int_const(self, node) -> int:
        value = self.value(node)
        if hasattr(value, "value") and isinstance(getattr(value, "value"), int):
            value = value.value
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(node, f"expected an integer constant, got {ast.unparse(node)}")
        return value

    # --------------------------------------------------------- evaluation
    def value(self, node):
        method = getattr(self, "eval_" + type(node).__name__, None)
        if method is None:
            raise self.error(node, f"{type(node).__name__} is not supported in TensorIR expressions")
        return method(node)

    def eval_Constant(self, node):
        return node.value

    def eval_Name(self, node):
        found = self.scopes.lookup(node.id)
        if found is not None:
            return found
        if node.id in self.src.env:
            value = self.src.env[node.id]
            if _is_scalar(value) or isinstance(value, (str, PrimExpr, Buffer)):
                return value
            raise self.error(node, f"{node.id} is a Python {type(value).__name__}; only numbers "
                                   "and strings from the enclosing code can be used in TensorIR")
        raise self.error(node, f"name {node.id!r} is not defined (not a loop variable, block "
                               "iterator, buffer or Python constant in scope)")

    def eval_Tuple(self, node):
        return tuple(self.value(x) for x in node.elts)

    eval_List = eval_Tuple

    def eval_UnaryOp(self, node):
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
                and _is_scalar(node.operand.value):
            return -node.operand.value
        x = self.value(node.operand)
        if _is_scalar(x):
            return {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
                    ast.Invert: operator.invert}[type(node.op)](x)
        x = self.prim(node.operand)
        if isinstance(node.op, ast.USub):
            return self.binary(node, "sub", const(0, x.dtype), x)
        if isinstance(node.op, ast.UAdd):
            return x
        if isinstance(node.op, ast.Not):
            if x.dtype != "bool":
                raise self.error(node, f"`not` needs a bool operand, got {x.dtype}")
            return Not(x)
        return self.wrap(node, lambda: ~x)

    def binary(self, node, op: str, a, b) -> PrimExpr:
        """``a op b`` as one Binary node (no folding); scalars take the partner's dtype."""
        def build():
            x, y = a, b
            if _is_scalar(x):
                x = convert(x, convert(y).dtype)
            if _is_scalar(y):
                y = convert(y, x.dtype)
            x, y = convert(x), convert(y)
            if dt.is_vector(x.dtype) or dt.is_vector(y.dtype):
                return _vector_binary(op, x, y)
            if x.dtype != y.dtype:
                target = dt.promote(x.dtype, y.dtype)
                x, y = cast(x, target), cast(y, target)
            out = make_binary(op, x, y)  # checks dtypes; may fold
            return Binary(op, x, y, out.dtype)
        return self.wrap(node, build)

    def eval_BinOp(self, node):
        """``a op b``; a chain of them down the left (``x0 + x1 + ... + xn``, as long as the
        user wrote it) on a loop from the bottom up, not a recursion per operator."""
        spine = [node]
        while isinstance(spine[-1].left, ast.BinOp):
            spine.append(spine[-1].left)
        value = self.value(spine[-1].left)
        for n in reversed(spine):
            value = self._binop(n, value, self.value(n.right))
        return value

    def _binop(self, node, a, b):
        kind = type(node.op)
        if _is_scalar(a) and _is_scalar(b) and kind in _PY_BINOP:
            try:
                return _PY_BINOP[kind](a, b)
            except ZeroDivisionError:  # the IR keeps `0 // 0` unfolded: so does its script
                pass
        if kind not in _BINOP:
            raise self.error(node, f"operator {ast.unparse(node)} is not supported")
        op = _BINOP[kind]
        if op == "div" and not _is_scalar(a) and not dt.is_inexact(convert(a).dtype):
            raise self.error(node, "true division `/` needs float or complex operands; use `//` for "
                                   "integers")
        return self.binary(node, op, a, b)

    def eval_BoolOp(self, node):
        op = "and" if isinstance(node.op, ast.And) else "or"
        out = self.value(node.values[0])
        for rhs in node.values[1:]:
            out = self.binary(node, op, out, self.value(rhs))
        return out

    def eval_Compare(self, node):
        out = None
        left = self.value(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            if type(op) not in _CMP:
                raise self.error(node, f"comparison {type(op).__name__} is not supported")
            right = self.value(right_node)
            term = self.binary(node, _CMP[type(op)], left, right)
            out = term if out is None else self.binary(node, "and", out, term)
            left = right
        return out

    def eval_IfExp(self, node):
        return self.select(node, self.value(node.test), self.value(node.body), self.value(node.orelse))

    def select(self, node, cond, t, f) -> PrimExpr:
        def build():
            c = convert(cond, "bool")
            if dt.element(c.dtype) != "bool":
                raise MLCError(f"if_then_else condition must be bool, got {c.dtype}")
            x, y = t, f
            if _is_scalar(x) and not _is_scalar(y):
                x = convert(x, convert(y).dtype)
            if _is_scalar(y):
                y = convert(y, convert(x).dtype)
            x, y = convert(x), convert(y)
            if x.dtype != y.dtype:
                target = dt.promote(x.dtype, y.dtype)
                x, y = cast(x, target), cast(y, target)
            return Select(c, x, y, x.dtype)
        return self.wrap(node, build)

    def eval_Subscript(self, node):
        target = self.value(node.value)
        if not isinstance(target, Buffer):
            raise self.error(node, f"only buffers can be indexed, not {ast.unparse(node.value)}")
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(items) != target.ndim:
            raise self.error(node, f"buffer {target.name} has {target.ndim} dimension(s), "
                                   f"indexed with {len(items)}")
        if any(isinstance(x, ast.Slice) for x in items):
            return BufferRegion(target, tuple(self.range(x, extent) for x, extent in zip(items, target.shape)))
        indices = tuple(self.index(x) for x in items)
        return BufferLoad(target, indices, dt.vector(target.dtype, dt.lanes(indices[-1].dtype)) if indices
                          else target.dtype)

    def index(self, node) -> PrimExpr:
        e = self.prim(node, dt.INDEX)
        if not dt.is_int(dt.element(e.dtype)):
            raise self.error(node, f"buffer index must be an integer expression, got {e.dtype}")
        return e

    def range(self, node, extent) -> Range:
        if not isinstance(node, ast.Slice):
            return Range(self.index(node), const(1, dt.INDEX))
        if node.step is not None:
            raise self.error(node, "buffer regions take unit-stride slices only")
        lo = self.index(node.lower) if node.lower is not None else const(0, dt.INDEX)
        if node.upper is None:
            return Range(lo, extent)
        return Range(lo, difference(lo, self.index(node.upper)))

    def extern_call(self, node, name: str):
        """``T.call_extern("int32", "f", *args)``, or TVM's ``T.call_extern("f", *args,
        dtype="int32")`` (the result dtype as a keyword, the name first), and
        ``T.address_of(A[i, j])``."""
        if name == "address_of":
            self.arity(node, 1)
            return self.wrap(node, lambda: address_of(self.value(node.args[0])))
        kwargs = {kw.arg: self.constant(kw.value) for kw in node.keywords}
        named = "dtype" in kwargs  # TVM's spelling: no dtype before the name
        if set(kwargs) - {"dtype"} or len(node.args) < (1 if named else 2):
            raise self.error(node, 'T.call_extern takes (dtype, "name", *args), e.g. '
                                   'T.call_extern("int32", "f", T.address_of(C[0])), or ("name", *args, '
                                   'dtype="int32")')
        dtype = kwargs["dtype"] if named else self.constant(node.args[0])
        fname, args = (node.args[0], node.args[1:]) if named else (node.args[1], node.args[2:])
        fname = self.constant(fname)
        return self.wrap(node, lambda: call_extern(dtype, fname, *(self.value(a) for a in args)))

    def eval_Call(self, node):
        name = self.tir_call(node)
        if name is None:
            raise self.error(node, f"call of {ast.unparse(node.func)} is not a TensorIR expression")
        if name in ("call_extern", "address_of"):
            return self.extern_call(node, name)
        if node.keywords and name not in ("Cast",):
            raise self.error(node, f"T.{name} takes no keyword arguments here")
        args = node.args
        if name in dt.SUPPORTED:
            return self.typed_const(node, name, args)
        if name == "Cast":
            if len(args) != 2:
                raise self.error(node, 'T.Cast takes (dtype, value), e.g. T.Cast("float32", x)')
            name = self.constant(args[0])
            dtype = self.wrap(node, lambda: dt.vector(dt.canonical(dt.element(name)), dt.lanes(name))
                              if isinstance(name, str) else dt.canonical(name))
            return Cast(dtype, self.prim(args[1]))
        if name in ("Ramp", "Broadcast"):
            return self.vector_node(node, name)
        if name in _TWO_ARG:
            self.arity(node, 2)
            return self.binary(node, _TWO_ARG[name], self.value(args[0]), self.value(args[1]))
        if name == "let":
            return self.let(node)
        if name in ("if_then_else", "Select"):
            self.arity(node, 3)
            return self.select(node, *(self.value(a) for a in args))
        if name in MATH_OPS:
            self.arity(node, MATH_OPS[name])
            values = [self.value(a) for a in args]
            if any(isinstance(v, PrimExpr) and dt.is_vector(v.dtype) for v in values):
                lanes = max(dt.lanes(v.dtype) for v in values if isinstance(v, PrimExpr))
                return Call(name, tuple(convert(v) for v in values),
                            dt.vector(MATH_CALLS[name].result_dtype(dt.element(values[0].dtype)), lanes))
            checked = self.wrap(node, lambda: call(name, *values))
            if isinstance(checked, Call):
                return checked
            operands = tuple(convert(v) for v in values)  # call() simplified it; keep the call
            return Call(name, operands, MATH_CALLS[name].result_dtype(operands[0].dtype))
        raise self.error(node, f"T.{name} is not a TensorIR expression")

    def let(self, node) -> PrimExpr:
        """``T.let(v, value, body)``: ``body`` where the new variable ``v`` is ``value``."""
        self.arity(node, 3)
        target, value, body = node.args
        if not isinstance(target, ast.Name):
            raise self.error(node, "T.let binds a new variable: T.let(v, value, body)")
        value = self.prim(value)
        var = Var(target.id, value.dtype)
        self.scopes.push()
        try:
            self.scopes.define(target.id, var)
            out = self.prim(body)
        finally:
            self.scopes.pop()
        return Let(var, value, out, out.dtype)

    def vector_node(self, node, name: str) -> PrimExpr:
        """``T.Ramp(base, stride, lanes)`` or ``T.Broadcast(value, lanes)`` (constant stride, lanes)."""
        self.arity(node, 3 if name == "Ramp" else 2)
        counts = [self.constant(a) for a in node.args[1:]]
        if not all(isinstance(c, int) for c in counts):
            raise self.error(node, f"T.{name} takes constant integer " + ("stride and lanes" if name == "Ramp" else "lanes"))
        if name == "Ramp":
            return self.wrap(node, lambda: Ramp(self.index(node.args[0]), *counts))
        return self.wrap(node, lambda: Broadcast(self.prim(node.args[0]), *counts))

    def arity(self, node, n: int) -> None:
        if len(node.args) != n:
            raise self.error(node, f"T.{self.tir_call(node)} takes {n} argument(s), got {len(node.args)}")

    def typed_const(self, node, dtype: str, args) -> PrimExpr:
        """``T.float32(2)``, ``T.float32("inf")``, ``T.bool(True)``; of an expression, a cast."""
        if len(args) != 1:
            raise self.error(node, f"T.{dtype} takes one value, e.g. T.{dtype}(0)")
        value = self.value(args[0])
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.error(args[0], f"T.{dtype}({value!r}): expected a number") from None
        if dt.is_complex(dtype) and isinstance(value, (int, float, complex)) and not isinstance(value, bool):
            return const(complex(value), dtype)
        if _is_scalar(value):
            if dt.is_float(dtype):
                return const(float(value), dtype)
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                raise self.error(args[0], f"T.{dtype}({value!r}): not an integer")
            if dtype == "bool":
                return const(bool(value), dtype)
            info = np.iinfo(dtype)
            if not info.min <= int(value) <= info.max:
                raise self.error(node, f"T.{dtype}({value}) is out of range: {dtype} holds "
                                       f"{info.min}..{info.max}")
            return const(int(value), dtype)
        return self.wrap(node, lambda: cast(self.prim(args[0]), dtype))


def _vector_binary(op: str, x: PrimExpr, y: PrimExpr) -> PrimExpr:
    """``x op y`` on vectors of one dtype (vector IR has no promotion: scalars are T.Broadcast)."""
    if x.dtype != y.dtype:
        raise MLCError(f"operands of {op} have dtypes {x.dtype} and {y.dtype}; vector operands need one "
                       "vector dtype (broadcast a scalar with T.Broadcast)")
    result = "bool" if op in COMPARE_OPS else dt.element(x.dtype)
    return Binary(op, x, y, dt.vector(result, dt.lanes(x.dtype)))
