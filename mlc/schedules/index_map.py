"""Index maps: ``lambda i, j: (j // 16, i, j % 16)`` as data a trace can print and replay.

An :class:`IndexMap` sends the indices of one layout to the indices of
another. It is written as a Python lambda over integer indices using only
``+ - * // %`` and integer constants; :meth:`IndexMap.parse` accepts such a
lambda, its source text, or an IndexMap, and :attr:`IndexMap.text` is the
canonical text recorded in traces (text, unlike a lambda, survives JSON).

>>> m = IndexMap.parse(lambda k, j: (j // 16, k, j % 16))
>>> m.text
'lambda k, j: (j // 16, k, j % 16)'
>>> IndexMap.parse(m.text).text == m.text
True
"""
from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass

from ..errors import ScheduleError
from ..ir import dtype as dt
from ..ir.expr import Binary, IntImm, PrimExpr, Var, const, convert, make_binary
from ..ir.functor import substitute
from ..ir.ops import BINARY_OPS, python_operators
from ..ir.arith import canonical

__all__ = ["IndexMap"]

#: The ops an index map may use; their symbols and precedence come from the op table.
_TEXT_OPS = {name: BINARY_OPS[name] for name in ("add", "sub", "mul", "floordiv", "floormod")}
_AST_OPS = {node: name for node, name in python_operators().items() if name in _TEXT_OPS}
_ALLOWED = "index maps may use only the lambda's parameters, integer constants and + - * // %"


@dataclass(frozen=True)
class IndexMap:
    """``params -> results``: each result is an integer expression of the params."""
    params: tuple[Var, ...]
    results: tuple[PrimExpr, ...]

    @staticmethod
    def parse(spec, ndim: int | None = None) -> IndexMap:
        """An IndexMap from a lambda, lambda source text, or IndexMap.

        ``ndim`` (when known) is the number of indices the map must take.
        """
        if isinstance(spec, IndexMap):
            out = spec
        elif isinstance(spec, str):
            out = _from_text(spec)
        elif callable(spec):
            out = _from_callable(spec, ndim)
        else:
            raise ScheduleError(f"index_map must be a lambda, its text or an IndexMap, got {spec!r}")
        if ndim is not None and len(out.params) != ndim:
            raise ScheduleError(f"index_map {out.text!r} takes {len(out.params)} indices but the "
                                f"buffer has {ndim} dimensions")
        return out

    @property
    def text(self) -> str:
        """Canonical source: ``lambda i, j: (j // 16, i, j % 16)``."""
        params = ", ".join(p.name for p in self.params)
        results = ", ".join(_to_text(r, 0) for r in self.results)
        if len(self.results) == 1:
            results += ","
        return f"lambda {params}: ({results})"

    def apply(self, indices) -> tuple[PrimExpr, ...]:
        """The results with the params replaced by ``indices``, simplified."""
        vmap = dict(zip(self.params, (convert(i) for i in indices)))
        return tuple(canonical(substitute(r, vmap)) for r in self.results)

    def __repr__(self) -> str:
        return f"IndexMap({self.text!r})"


def _from_callable(fn, ndim: int | None) -> IndexMap:
    try:
        sig = inspect.signature(fn)
        names = [p.name for p in sig.parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        variadic = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
    except (TypeError, ValueError):
        names, variadic = [], True
    if variadic or not names:
        if ndim is None:
            raise ScheduleError("index_map takes *args; pass the buffer so its rank is known")
        names = [f"i{d}" for d in range(ndim)]
    params = tuple(Var(n, dt.INDEX) for n in names)
    out = fn(*params)
    results = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    converted = []
    for r in results:
        e = convert(r, dt.INDEX) if isinstance(r, int) else r
        if not isinstance(e, PrimExpr):
            raise ScheduleError(f"index_map returned {r!r}; {_ALLOWED}")
        _check_expr(e, params)
        converted.append(e)
    return IndexMap(params, tuple(converted))


def _check_expr(e: PrimExpr, params) -> None:
    stack = [e]
    ids = {id(p) for p in params}
    while stack:
        node = stack.pop()
        if isinstance(node, IntImm) and dt.is_int(node.dtype):
            continue
        if isinstance(node, Var) and id(node) in ids:
            continue
        if isinstance(node, Binary) and node.op in _TEXT_OPS:
            stack += [node.a, node.b]
            continue
        raise ScheduleError(f"index_map uses {node!r}; {_ALLOWED}")


def _from_text(text: str) -> IndexMap:
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise ScheduleError(f"index_map {text!r} is not a Python lambda: {err.msg}") from None
    if not isinstance(tree, ast.Lambda):
        raise ScheduleError(f"index_map {text!r} must be a lambda, like 'lambda i, j: (j, i)'")
    a = tree.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.posonlyargs:
        raise ScheduleError(f"index_map {text!r}: only plain positional parameters are allowed")
    params = {arg.arg: Var(arg.arg, dt.INDEX) for arg in a.args}
    body = tree.body.elts if isinstance(tree.body, (ast.Tuple, ast.List)) else [tree.body]
    results = tuple(_from_ast(node, params, text) for node in body)
    return IndexMap(tuple(params.values()), results)


def _from_ast(node, params: dict[str, Var], text: str) -> PrimExpr:
    if isinstance(node, ast.Name) and node.id in params:
        return params[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return const(node.value, dt.INDEX)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return make_binary("sub", const(0, dt.INDEX), _from_ast(node.operand, params, text))
    if isinstance(node, ast.BinOp) and type(node.op) in _AST_OPS:
        return make_binary(_AST_OPS[type(node.op)], _from_ast(node.left, params, text),
                           _from_ast(node.right, params, text))
    raise ScheduleError(f"index_map {text!r}: {ast.unparse(node)!r} is not allowed; {_ALLOWED}")


def _to_text(e: PrimExpr, outer: int) -> str:
    """Python source of ``e``; parenthesised when its precedence is below ``outer``."""
    if isinstance(e, Var):
        return e.name
    if isinstance(e, IntImm):
        return str(e.value) if e.value >= 0 or outer == 0 else f"({e.value})"
    symbol, prec = _TEXT_OPS[e.op].symbol, _TEXT_OPS[e.op].precedence
    # Left-associative: the right operand of - // % (and of * after //) needs parentheses at equal precedence.
    text = f"{_to_text(e.a, prec)} {symbol} {_to_text(e.b, prec + 1)}"
    return f"({text})" if prec < outer else text
