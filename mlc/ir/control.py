"""Control flow in the graph IR: loops with carried values and conditionals, bodies as nested graphs.

Three binding forms hold graphs of their own (each a closed :class:`~mlc.ir.graph.Graph`:
everything it reads is one of its inputs):

- ``"for_loop"``: ``outs = for_loop(lower, upper, *init, *captured)``, attributes
  ``body`` and ``num_carry``. ``lower`` and ``upper`` are int 0-d values (constants for a
  static trip count, traced scalars otherwise). ``body`` takes ``(i, *carry, *captured)``
  (``i`` a 0-d value of ``lower``'s dtype) and returns the next ``carry``; the results are
  the carry after the last iteration (``init`` when ``upper <= lower``).
- ``"while_loop"``: ``outs = while_loop(*init, *captured)``, attributes ``cond``,
  ``body`` and ``num_carry``. ``cond`` takes ``(*carry, *captured)`` and returns one bool
  0-d value; ``body`` takes the same and returns the next carry.
- ``"switch"``: ``outs = switch(index, *operands)``, attribute ``branches`` (a tuple of
  graphs, each taking the operands and returning values of the results' types). ``index``
  is an int 0-d value, clamped into range, or a bool (False runs branch 0, True branch 1).

Graph passes treat a body as a graph of its own (:func:`map_bodies` runs a pass inside
every body); the bindings themselves are opaque to fusion and constant folding.

>>> from mlc.ir.types import TensorType
>>> from mlc.ir.graph import Binding, Graph, Var, constant
>>> t, i = TensorType((3,), "float32"), TensorType((), "int64")
>>> iv, c, n = Var("i", i), Var("c", t), Var("n", t)
>>> body = Graph((iv, c), (Binding((n,), "exp", (c,)),), (n,))
>>> x, y = Var("x", t), Var("y", t)
>>> loop = Binding((y,), "for_loop", (constant(np.int64(0)), constant(np.int64(4)), x),
...                (("body", body), ("num_carry", 1)))
>>> [g.name for g in bodies(loop)]
['main']
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np  # noqa: F401 - the doctest's constants

from ..errors import IRError
from .graph import Binding, Graph

__all__ = ["CONTROL_OPS", "is_control", "bodies", "map_bodies", "body_attrs", "check_control", "result_types"]

#: The binding forms whose attributes hold graphs (loops and conditionals).
CONTROL_OPS = frozenset({"for_loop", "while_loop", "switch"})


def is_control(b: Binding) -> bool:
    return b.op in CONTROL_OPS


def body_attrs(b: Binding) -> tuple[str, ...]:
    """The names of ``b``'s attributes that hold graphs."""
    if b.op == "for_loop":
        return ("body",)
    if b.op == "while_loop":
        return ("cond", "body")
    if b.op == "switch":
        return ("branches",)
    return ()


def result_types(op: str, attrs: dict) -> list:
    """The types of the results of a control-flow binding ``op`` with attributes ``attrs``: its
    body's (a loop) or first branch's (a switch) outputs' types."""
    graph = attrs["branches"][0] if op == "switch" else attrs["body"]
    return [a.type for a in graph.outputs]


def bodies(b: Binding) -> list[Graph]:
    """Every graph a control-flow binding holds, in attribute order (cond before body)."""
    out: list[Graph] = []
    for key in body_attrs(b):
        value = b.attr(key)
        out.extend(value if isinstance(value, tuple) else (value,))
    return out


def map_bodies(b: Binding, fn: Callable[[Graph], Graph]) -> Binding:
    """``b`` with ``fn`` applied to every graph it holds (``b`` itself when none changed)."""
    keys = body_attrs(b)
    if not keys:
        return b
    changed = False
    attrs = []
    for k, v in b.attrs:
        if k in keys:
            new = tuple(fn(g) for g in v) if isinstance(v, tuple) else fn(v)
            same = all(x is y for x, y in zip(new, v)) if isinstance(v, tuple) else new is v
            changed = changed or not same
            v = new
        attrs.append((k, v))
    return Binding(b.outputs, b.op, b.args, tuple(attrs), b.loc) if changed else b


def check_control(b: Binding) -> None:
    """IRError unless control-flow binding ``b`` is well formed: its graphs take and return
    values of the types its arguments and results say."""
    where = f"{b.op} binding {b.describe()}"
    outs = [v.type for v in b.outputs]
    if b.op == "switch":
        index, *operands = b.args
        if index.shape != () or not (index.dtype == "bool" or index.dtype.startswith(("int", "uint"))):
            raise IRError(f"{where}: the index must be an int or bool 0-d value, got {index.type}")
        branches = b.attr("branches")
        if not isinstance(branches, tuple) or not branches:
            raise IRError(f"{where}: 'branches' must be a non-empty tuple of graphs")
        for n, g in enumerate(branches):
            _check_signature(where, f"branch {n}", g, [a.type for a in operands], outs)
        return
    n = b.attr("num_carry")
    if not isinstance(n, int) or n != len(b.outputs):
        raise IRError(f"{where}: num_carry must be the number of results ({len(b.outputs)}), got {n!r}")
    if b.op == "for_loop":
        lower, upper, *rest = b.args
        for name, v in (("lower", lower), ("upper", upper)):
            if v.shape != () or not v.dtype.startswith(("int", "uint")):
                raise IRError(f"{where}: {name} must be an int 0-d value, got {v.type}")
        ins = [lower.type, *[a.type for a in rest]]
        _check_signature(where, "body", b.attr("body"), ins, outs)
    else:
        ins = [a.type for a in b.args]
        _check_signature(where, "body", b.attr("body"), ins, outs)
        cond = b.attr("cond")
        _check_signature(where, "cond", cond, ins, None)
        if len(cond.outputs) != 1 or cond.outputs[0].shape != () or cond.outputs[0].dtype != "bool":
            raise IRError(f"{where}: cond must return one bool 0-d value, got "
                          f"{[a.type for a in cond.outputs]}")
    if [a.type for a in _init(b)] != outs:
        raise IRError(f"{where}: the initial carry's types {[a.type for a in _init(b)]} differ from "
                      f"the results' {outs}")


def _init(b: Binding) -> tuple:
    skip = 2 if b.op == "for_loop" else 0
    return b.args[skip:skip + b.attr("num_carry")]


def _check_signature(where: str, what: str, g, ins, outs) -> None:
    if not isinstance(g, Graph):
        raise IRError(f"{where}: {what} must be a Graph, got {type(g).__name__}")
    got = [v.type for v in g.inputs]
    if got != list(ins):
        raise IRError(f"{where}: {what} takes {got}, but the binding passes {list(ins)}")
    if outs is not None and [a.type for a in g.outputs] != list(outs):
        raise IRError(f"{where}: {what} returns {[a.type for a in g.outputs]}, but the results are "
                      f"{list(outs)}")
