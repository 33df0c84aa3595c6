"""Structural equality and hashing of IR, up to renaming of variables and buffers.

Two programs are equal when they have the same shape of nodes, the same
constants, dtypes, loop kinds and block names, and their variables and
buffers correspond one to one. Names of variables and buffers do not matter.
Graphs compare the same way: their values (graph ``Var``) correspond one to
one with equal types, constants hold equal data, and a binding's source
location does not matter. A graph inside another (a fused group's body) is a
function of its own inputs: it is compared on its own, without its ``module``
(the enclosing graph's module holds the PrimFuncs it calls). Modules (an IRModule, a GraphModule: any mapping
of names to functions but a plain dict) compare function by function, by name.

Node classes above this layer take part through class attributes, so this
module imports none of them: ``STRUCTURAL_IGNORED`` (field names that are not
compared, e.g. a binding's source location), ``STRUCTURAL_ROLE`` = ``"var"``
(bound one to one, compared by ``structural_key()``), ``"constant"``
(compared by ``structural_key()``) or ``"function"`` (a nested function,
compared on its own as ``structural_self()``).

>>> from mlc.ir.expr import Var
>>> i, j = Var("i"), Var("j")
>>> structural_equal(i * 2 + 1, j * 2 + 1), structural_equal(i + j, i + i)
(True, False)
>>> structural_hash(i * 2 + 1) == structural_hash(j * 2 + 1)
True
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from .buffer import Buffer
from .expr import Var

try:  # CPython's own BLAKE2: hashlib's OpenSSL start-up would be a tenth of `import mlc`
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

__all__ = ["structural_equal", "structural_hash", "assert_structural_equal"]


def _fields(node):
    from .functor import node_fields
    ignored = getattr(type(node), "STRUCTURAL_IGNORED", ())
    if ignored:
        return tuple((k, v) for k, v in node_fields(node) if k not in ignored)
    return node_fields(node)


def _role(node) -> str | None:
    """A node's STRUCTURAL_ROLE ("var", "constant", "function"), None for plain nodes."""
    return getattr(type(node), "STRUCTURAL_ROLE", None)


def _is_node(x) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def _module_items(x):
    """A module's (name, function) pairs, sorted by name; None for anything else."""
    return sorted(x.items(), key=lambda kv: kv[0]) if isinstance(x, Mapping) and not isinstance(x, dict) \
        else None


def structural_equal(a, b) -> bool:
    """True when ``a`` and ``b`` are the same program up to variable/buffer renaming."""
    return _first_difference(a, b) is None


def _first_difference(a, b):
    """The first pair of differing sub-values, or None when equal."""
    fwd: dict[int, object] = {}
    bwd: dict[int, object] = {}
    keep = []  # keep mapped objects alive so their ids stay unique

    def bind(x, y) -> bool:
        if id(x) in fwd or id(y) in bwd:
            return fwd.get(id(x)) is y and bwd.get(id(y)) is x
        fwd[id(x)], bwd[id(y)] = y, x
        keep.append((x, y))
        return True

    stack = [(a, b)]
    pop, push, extend = stack.pop, stack.append, stack.extend
    kinds = _HASH_KINDS
    while stack:
        x, y = pop()
        cls = type(x)
        if cls is not type(y):
            return x, y
        info = kinds.get(cls) or _hash_kind(cls)
        kind = info[1]
        if info[2] and x is not a:  # a closed function: its own variable mapping
            diff = _first_difference(x.structural_self(), y.structural_self())
            if diff is not None:
                return diff
            continue
        if kind == _H_NODE:
            extend(zip(info[3](x), info[3](y)))
        elif kind == _H_TUPLE:
            if len(x) != len(y):
                return x, y
            extend(zip(x, y))
        elif kind == _H_VAR:
            if x.dtype != y.dtype or not bind(x, y):
                return x, y
        elif kind == _H_ROLE_VAR:
            if x.structural_key() != y.structural_key() or not bind(x, y):
                return x, y
        elif kind == _H_CONSTANT:
            if x.structural_key() != y.structural_key():
                return x, y
        elif kind == _H_BUFFER:
            if id(x) in fwd or id(y) in bwd:
                if not bind(x, y):
                    return x, y
                continue
            if x.dtype != y.dtype or x.scope != y.scope or not bind(x, y):
                return x, y
            push((x.shape, y.shape))
            push((x.strides, y.strides))
        elif kind == _H_MODULE:
            items = _module_items(x)
            other = _module_items(y)
            if [k for k, _ in items] != [k for k, _ in other]:
                return x, y
            extend(((fx, fy) for (_, fx), (_, fy) in zip(items, other)))
        elif kind == _H_FLOAT:
            if not (x == y or (math.isnan(x) and math.isnan(y))):
                return x, y
        elif x != y:
            return x, y
    return None


def assert_structural_equal(a, b) -> None:
    """Raise AssertionError showing both programs and the first difference."""
    diff = _first_difference(a, b)
    if diff is not None:
        raise AssertionError(
            f"IR differs at:\n  {diff[0]!r}\nvs\n  {diff[1]!r}\n\n--- left\n{a!r}\n--- right\n{b!r}")


def _stable_text(token) -> str:
    """``token`` as text that is the same in every process: str, number and tuple tokens
    by value; anything else by its own hash (which may differ between processes)."""
    if token is None or isinstance(token, (str, int, float, bool)):
        return repr(token)
    if isinstance(token, tuple):
        return "(" + ",".join(_stable_text(t) for t in token) + ")"
    return f"#{hash(token)}"


_H_VAR, _H_BUFFER, _H_ROLE_VAR, _H_CONSTANT, _H_MODULE, _H_NODE, _H_TUPLE, _H_FLOAT, _H_LEAF = range(9)

#: class -> (its name, how :func:`structural_hash` and :func:`structural_equal` take its values, whether it is a nested
#: function, for a node the getter of its compared field values): classified once a class.
_HASH_KINDS: dict[type, tuple] = {}


def _hash_kind(cls: type) -> tuple:
    role = getattr(cls, "STRUCTURAL_ROLE", None)
    getter = None
    if issubclass(cls, Var):
        kind = _H_VAR
    elif issubclass(cls, Buffer):
        kind = _H_BUFFER
    elif role == "var":
        kind = _H_ROLE_VAR
    elif role == "constant":
        kind = _H_CONSTANT
    elif issubclass(cls, Mapping) and not issubclass(cls, dict):
        kind = _H_MODULE
    elif dataclasses.is_dataclass(cls) and not issubclass(cls, type):
        from .functor import _field_names
        ignored = getattr(cls, "STRUCTURAL_IGNORED", ())
        names = [n for n in _field_names(cls) if n not in ignored]
        kind = _H_NODE
        if not names:
            getter = lambda x: ()  # noqa: E731
        elif len(names) == 1:
            getter = (lambda name: lambda x: (getattr(x, name),))(names[0])
        else:
            import operator
            getter = operator.attrgetter(*names)
    elif issubclass(cls, tuple):
        kind = _H_TUPLE
    elif issubclass(cls, float):  # (compared NaN-aware; hashed as any other leaf)
        kind = _H_FLOAT
    else:
        kind = _H_LEAF
    info = _HASH_KINDS[cls] = (cls.__name__, kind, role == "function", getter)
    return info


def structural_hash(node) -> int:
    """A hash consistent with :func:`structural_equal`, and the same in every process
    (Python's ``hash`` of a string is not), so that a database can key records by it."""
    numbering: dict[int, int] = {}
    keep = []
    tokens = []
    append = tokens.append
    stack = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    kinds = _HASH_KINDS
    while stack:
        x = pop()
        cls = type(x)
        info = kinds.get(cls) or _hash_kind(cls)
        kind = info[1]
        append(info[0])
        if info[2] and x is not node:  # a function: numbered on its own, as structural_equal compares it
            append(structural_hash(x.structural_self()))
            continue
        if kind == _H_NODE:
            extend(info[3](x))
        elif kind == _H_TUPLE:
            append(len(x))
            extend(x)
        elif kind == _H_VAR or kind == _H_BUFFER:
            if id(x) not in numbering:
                numbering[id(x)] = len(numbering)
                keep.append(x)
                if kind == _H_BUFFER:
                    append((x.dtype, x.scope))
                    push(x.shape)
                    push(x.strides)
            append((numbering[id(x)], x.dtype))
        elif kind == _H_ROLE_VAR:
            if id(x) not in numbering:
                numbering[id(x)] = len(numbering)
                keep.append(x)
            append((numbering[id(x)], x.structural_key()))
        elif kind == _H_CONSTANT:
            append(x.structural_key())
        elif kind == _H_MODULE:
            items = _module_items(x)
            append(tuple(k for k, _ in items))
            extend(f for _, f in items)
        else:
            append(x)
    digest = blake2b(_stable_text(tuple(tokens)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)
