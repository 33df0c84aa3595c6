"""A pattern language over graph values (the course's ``tvm.relax.dpl``).

>>> from mlc.graph import is_op, wildcard
>>> dense_add = is_op("add")(is_op("nn.dense")(wildcard(), wildcard()), wildcard())
>>> relu_or_gelu = is_op("nn.relu") | is_op("nn.gelu")
>>> weight = wildcard().has_dtype("float32").has_shape((128, 784))

``pattern.match(value, graph)`` says whether ``value`` (a Var or Constant of
``graph``) matches; :meth:`Pattern.extract_matched` returns what each
sub-pattern matched. A pattern object used twice must match the same value
both times (``x = wildcard(); is_op("add")(x, x)`` matches ``a + a`` only).
"""
from __future__ import annotations

import abc
from collections.abc import Mapping

from ..errors import IRError
from ..ir import dtype as dt
from ..ir.graph import Binding, Constant, Graph, Var
from ..ops.registry import get_op

__all__ = ["Pattern", "WildcardPattern", "OpPattern", "CallPattern", "ConstantPattern", "VarPattern",
           "OrPattern", "AttrPattern", "TypePattern", "wildcard", "is_op", "is_const", "is_var",
           "is_call_tir", "is_call_dps_packed", "producers"]


def producers(graph: Graph) -> dict[int, Binding]:
    """id of each value a binding computes -> that binding."""
    return {id(v): b for b in graph.bindings for v in b.outputs}


class Pattern(abc.ABC):
    """What every pattern shares: alternatives (``|``) and predicates."""

    def __or__(self, other: Pattern) -> OrPattern:
        return OrPattern(self, _as_pattern(other))

    def has_attr(self, attrs: Mapping | None = None, **kwargs) -> AttrPattern:
        """The value's binding has these attribute values (``axis=-1``, ``func="linear0"``)."""
        return AttrPattern(self, {**(attrs or {}), **kwargs})

    def has_shape(self, shape) -> TypePattern:
        return TypePattern(self, shape=tuple(shape))

    def has_dtype(self, dtype: str) -> TypePattern:
        return TypePattern(self, dtype=dt.canonical(dtype))

    def match(self, value, graph: Graph | Mapping[int, Binding]) -> bool:
        return self.extract_matched(value, graph) is not None

    def extract_matched(self, value, graph: Graph | Mapping[int, Binding]) -> dict | None:
        """{sub-pattern: the value it matched} if ``value`` matches, else None."""
        table = producers(graph) if isinstance(graph, Graph) else graph
        memo: dict[int, tuple[Pattern, object]] = {}
        if not _match(self, value, table, memo):
            return None
        return {p: v for p, v in memo.values()}

    @abc.abstractmethod
    def _match(self, value, table, memo) -> bool:
        """Does ``value`` match (recording matched sub-patterns in ``memo``)?"""


def _match(p: Pattern, value, table, memo) -> bool:
    seen = memo.get(id(p))
    if seen is not None:
        return seen[1] is value
    saved = dict(memo)
    if p._match(value, table, memo):
        memo[id(p)] = (p, value)
        return True
    memo.clear()
    memo.update(saved)
    return False


class WildcardPattern(Pattern):
    """Any value."""

    def _match(self, value, table, memo) -> bool:
        return True

    def __repr__(self) -> str:
        return "wildcard()"


class ConstantPattern(Pattern):
    """A Constant (a bound parameter, a literal)."""

    def _match(self, value, table, memo) -> bool:
        return isinstance(value, Constant)

    def __repr__(self) -> str:
        return "is_const()"


class VarPattern(Pattern):
    """A function parameter (optionally of this name)."""

    def __init__(self, name: str | None = None):
        self.name = name

    def _match(self, value, table, memo) -> bool:
        return isinstance(value, Var) and id(value) not in table and (self.name in (None, value.name))

    def __repr__(self) -> str:
        return f"is_var({self.name!r})" if self.name else "is_var()"


class OpPattern(Pattern):
    """A value computed by op ``name`` (any arguments); call it to constrain them."""

    def __init__(self, name: str):
        self.name = _canonical(name)

    def __call__(self, *args) -> CallPattern:
        return CallPattern(self, tuple(_as_pattern(a) for a in args))

    def _match(self, value, table, memo) -> bool:
        b = table.get(id(value)) if isinstance(value, Var) else None
        return b is not None and b.op == self.name

    def __repr__(self) -> str:
        return f"is_op({self.name!r})"


class CallPattern(Pattern):
    """``is_op(name)(*arg_patterns)``: the op, with each argument matching its pattern."""

    def __init__(self, op: OpPattern, args: tuple[Pattern, ...]):
        self.op, self.args = op, args

    def _match(self, value, table, memo) -> bool:
        if not _match(self.op, value, table, memo):
            return False
        b = table[id(value)]
        if len(b.args) != len(self.args):
            return False
        return all(_match(p, a, table, memo) for p, a in zip(self.args, b.args))

    def __repr__(self) -> str:
        return f"{self.op!r}({', '.join(map(repr, self.args))})"


class OrPattern(Pattern):
    """``left | right``: either alternative (left tried first)."""

    def __init__(self, left: Pattern, right: Pattern):
        self.left, self.right = left, right

    def _match(self, value, table, memo) -> bool:
        return _match(self.left, value, table, memo) or _match(self.right, value, table, memo)

    def __repr__(self) -> str:
        return f"({self.left!r} | {self.right!r})"


class AttrPattern(Pattern):
    """``pattern.has_attr(...)``: the value's binding has these attribute values."""

    def __init__(self, inner: Pattern, attrs: dict):
        self.inner, self.attrs = inner, attrs

    def _match(self, value, table, memo) -> bool:
        if not _match(self.inner, value, table, memo):
            return False
        b = table.get(id(value)) if isinstance(value, Var) else None
        if b is None:
            return False
        missing = object()
        return all(b.attr(k, missing) == v for k, v in self.attrs.items())

    def __repr__(self) -> str:
        return f"{self.inner!r}.has_attr({self.attrs!r})"


class TypePattern(Pattern):
    """``pattern.has_shape(...)`` / ``.has_dtype(...)``."""

    def __init__(self, inner: Pattern, shape: tuple | None = None, dtype: str | None = None):
        self.inner, self.shape, self.dtype = inner, shape, dtype

    def _match(self, value, table, memo) -> bool:
        if self.shape is not None and value.shape != self.shape:
            return False
        if self.dtype is not None and value.dtype != self.dtype:
            return False
        return _match(self.inner, value, table, memo)

    def __repr__(self) -> str:
        return f"{self.inner!r}.has_type(shape={self.shape}, dtype={self.dtype})"


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise IRError(f"is_op: expected an op name, got {name!r}")
    if name in ("call_tir", "call_dps_packed", "fused", "view"):
        return name
    return get_op(name).name  # raises naming an unknown op


def _as_pattern(p) -> Pattern:
    if not isinstance(p, Pattern):
        raise IRError(f"patterns combine patterns only (wildcard(), is_op(...), ...), got {p!r}")
    return p


def wildcard() -> WildcardPattern:
    return WildcardPattern()


def is_op(name: str) -> OpPattern:
    return OpPattern(name)


def is_const() -> ConstantPattern:
    return ConstantPattern()


def is_var(name: str | None = None) -> VarPattern:
    return VarPattern(name)


def _named_call(op: str, func: str | None, args) -> Pattern:
    p = OpPattern(op)(*args) if args else OpPattern(op)
    return p.has_attr(func=func) if func is not None else p


def is_call_tir(func: str | None = None, *args) -> Pattern:
    """A call_tir (of PrimFunc ``func``, when given; with these argument patterns, when given)."""
    return _named_call("call_tir", func, args)


def is_call_dps_packed(func: str | None = None, *args) -> Pattern:
    """A library call (of the function registered as ``func``, when given)."""
    return _named_call("call_dps_packed", func, args)
