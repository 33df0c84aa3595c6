"""Generic traversal of IR nodes: visit, rewrite and substitute.

Every node is a dataclass, so one generic walker serves them all; a rewrite
overrides ``visit_<ClassName>`` for the nodes it cares about and returns new
nodes, sharing every unchanged subtree.

>>> from mlc.ir.expr import Var
>>> i, j = Var("i"), Var("j")
>>> substitute(i * 2 + 1, {i: j + 3})
(j + 3) * 2 + 1
"""
from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from .buffer import Buffer, BufferRegion
from .expr import Binary, Call, CommReducer, IterVar, PrimExpr, Range, Var
from .extern import CallExtern
from .tir import BufferStore, For, Stmt

__all__ = ["Mutator", "post_order_visit", "pre_order_nodes", "pre_order_statements", "child_nodes", "post_order_dag", "uses_var", "substitute",
           "binary_chain", "always_evaluated", "node_fields", "field_values", "NODE_TYPES",
           "census_mask", "census_bit", "census_facts"]

NODE_TYPES = (PrimExpr, Stmt, IterVar, Range, BufferRegion, CommReducer)


@lru_cache(maxsize=None)
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@lru_cache(maxsize=None)
def _field_values(cls) -> Callable[[Any], tuple]:
    """``getter(node)``: the values of ``cls``'s fields, as a tuple, in declaration order."""
    return _attributes_getter(_field_names(cls))


def _attributes_getter(names: tuple[str, ...]) -> Callable[[Any], tuple]:
    """``getter(node)``: the attributes ``names`` of a node, as a tuple (one: no attrgetter)."""
    if len(names) == 1:
        name = names[0]
        return lambda node: (getattr(node, name),)
    return operator.attrgetter(*names) if names else _no_parts


def node_fields(node) -> tuple[tuple[str, Any], ...]:
    cls = type(node)
    return tuple(zip(_field_names(cls), _field_values(cls)(node)))


def field_values(node) -> tuple:
    """The values of ``node``'s fields, in declaration order (a rewrite's rebuild)."""
    cls = type(node)
    getter = _GETTERS.get(cls)
    return (getter or _getter(cls))(node)


#: class -> its field-values getter (a dict lookup is cheaper than a cached call).
_GETTERS: dict[type, Callable[[Any], tuple]] = {}


def _getter(cls: type) -> Callable[[Any], tuple]:
    getter = _GETTERS.get(cls)
    if getter is None:
        getter = _GETTERS[cls] = _field_values(cls)
    return getter


#: Field annotations that never hold an IR node, a buffer or a tuple of them: a walk need not
#: read such fields (an operator's name, a dtype, a constant's value, a loop's kind).
_SCALAR_ANNOTATIONS = frozenset({"str", "int", "float", "bool", "str | None", "int | None", "float | None",
                                 "bool | None"})

#: class -> (getter of the values of its fields that may hold nodes, their positions among all
#: its fields): what a walk enters (a Var, an IntImm, a FloatImm have none).
_PARTS: dict[type, tuple[Callable[[Any], tuple], tuple[int, ...]]] = {}


def _parts(cls: type) -> tuple[Callable[[Any], tuple], tuple[int, ...]]:
    """``cls``'s entry of :data:`_PARTS`: its fields but those annotated as scalars."""
    parts = _PARTS.get(cls)
    if parts is None:
        fields = dataclasses.fields(cls)
        positions = tuple(n for n, f in enumerate(fields) if f.type not in _SCALAR_ANNOTATIONS)
        parts = _PARTS[cls] = (_attributes_getter(tuple(fields[n].name for n in positions)), positions)
    return parts


def _no_parts(node) -> tuple:
    return ()


def _rebuild_parts(node, positions: tuple[int, ...], new_parts: list):
    """``node`` rebuilt with the values of its fields at ``positions`` replaced by ``new_parts``."""
    values = list((_GETTERS.get(type(node)) or _getter(type(node)))(node))
    for n, value in zip(positions, new_parts):
        values[n] = value
    return _rebuild(node, values)


def _rebuild(node, values: list):
    """``node``'s class built from ``values`` (all its fields, in order): positionally for
    a :func:`~mlc.frozen.frozen` class, whose ``__init__`` takes exactly its fields, so
    ``__post_init__`` checks run as with ``dataclasses.replace``."""
    cls = type(node)
    if hasattr(cls, "_frozen_fields"):
        return cls(*values)
    return dataclasses.replace(node, **dict(zip(_field_names(cls), values)))


# What a field's value is to a walk, by its exact type (looked up once per type): a
# statement, an expression-level node (never holding a statement), a buffer, a tuple or a
# leaf; a node is either of the first two (``kind <= _EXPR``).
_STMT, _EXPR, _BUFFER, _TUPLE, _LEAF = range(1, 6)  # none is 0: ``_KINDS.get(t) or _kind(t)``
_KINDS: dict[type, int] = {}

#: The node types that hold no statement: what a rewrite of statements alone passes by.
EXPRESSION_TYPES = (PrimExpr, IterVar, Range, BufferRegion, CommReducer)


def _kind(cls: type) -> int:
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _KINDS[cls] = (_STMT if issubclass(cls, Stmt) else _EXPR if issubclass(cls, EXPRESSION_TYPES)
                              else _BUFFER if issubclass(cls, Buffer)
                              else _TUPLE if issubclass(cls, tuple) else _LEAF)
    return kind


def _subclasses(cls: type) -> set[type]:
    out, stack = set(), [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in out:
                out.add(sub)
                stack.append(sub)
    return out


#: mutator class -> whether its walk passes expression-level nodes by (:func:`_skips_expressions`).
_SKIPS: dict[type, bool] = {}


def _skips_expressions(cls: type) -> bool:
    """Whether a walk by mutator class ``cls`` may return expression-level nodes unvisited:
    it rewrites statements only (every ``visit_<Class>`` it has names a statement class, and
    ``visit_buffer`` is Mutator's) and walks as :class:`Mutator` does (``visit``,
    ``generic_visit`` and the item walks not overridden). Expressions never hold statements,
    so the walk would rebuild nothing under them (a loop nest's index expressions are most
    of its nodes). A ``visit_<Name>`` naming no statement class known now enters them."""
    skips = _SKIPS.get(cls)
    if skips is None:
        statements = {c.__name__ for c in (Stmt, *_subclasses(Stmt))}
        walks_as_mutator = all(getattr(cls, m) is getattr(Mutator, m) for m in
                               ("visit", "generic_visit", "_visit_items", "_visit_value", "visit_buffer"))
        skips = _SKIPS[cls] = walks_as_mutator and all(
            attr[6:] in statements for attr in dir(cls) if attr.startswith("visit_") and attr != "visit_buffer")
    return skips


#: mutator class -> {node class: the mutator's ``visit_<NodeClass>`` method, or None}, filled
#: as the walks meet node classes.
_METHODS_OF: dict[type, dict[type, Callable | None]] = {}
_UNSET = object()


def _methods_of(cls: type) -> dict[type, Callable | None]:
    """Mutator class ``cls``'s entry of :data:`_METHODS_OF`."""
    return _METHODS_OF.setdefault(cls, {})

#: mutator class -> whether it walks as :class:`Mutator` does (no walk method overridden).
_PLAIN: dict[type, bool] = {}


def _walks_as_mutator(cls: type) -> bool:
    """Whether mutator class ``cls`` leaves ``visit``, ``generic_visit`` and the item walks
    as :class:`Mutator` has them: then its generic walk may run on an explicit stack (a
    ``visit_<Class>`` it defines is still called for every node of that class)."""
    plain = _PLAIN.get(cls)
    if plain is None:
        plain = _PLAIN[cls] = all(getattr(cls, m) is getattr(Mutator, m) for m in
                                  ("visit", "generic_visit", "_visit_items", "_visit_value"))
    return plain


# ------------------------------------------------------------------------------ census
# What a node contains, counted once per node (the census of mlc.ir.analysis.census, which
# asks it; a walk below passes by the subtrees that hold no node it visits). Its *facts*:
# every node's class; ``(cls, label)`` for a For's kind, a Call's ``(op, dtype)``, a
# CallExtern's name, a BufferStore's value dtype; ``(For, "annotation", key)`` for a loop's
# annotation keys; every node's dtype. A node's census is a bit mask over the facts of the
# nodes :func:`pre_order_nodes` yields from it, kept in the node's ``_census`` slot
# (statements and expressions have one; nodes are immutable: it never goes stale and it
# dies with the node).

#: fact -> its bit in a census mask; facts get bits as they are first seen.
_BITS: dict = {}
#: bit -> fact
_FACTS: list = []
#: class -> dtype -> the mask of a node's own facts, for the classes without a label
_OWN_PLAIN: dict[type, dict] = {}
#: (class, label, dtype, annotation keys) -> the mask of a node's own facts, for those with one
_OWN: dict[tuple, int] = {}
#: class -> the setter of its ``_census`` slot (None where it has none: counted again each time)
_SETTERS: dict[type, Callable | None] = {}
#: the classes with a label, and how to read it
_LABELS: dict[type, Callable] = {
    For: lambda n: (n.kind, tuple(k for k, _ in n.annotations)),
    Call: lambda n: ((n.op, n.dtype), ()),
    CallExtern: lambda n: (n.name, ()),
    BufferStore: lambda n: (n.value.dtype, ()),
}


def _bit(fact) -> int:
    bit = _BITS.get(fact)
    if bit is None:
        bit = _BITS[fact] = 1 << len(_FACTS)
        _FACTS.append(fact)
    return bit


def _own_mask(node) -> int:
    """The mask of ``node``'s own facts."""
    cls = type(node)
    dtype = getattr(node, "dtype", None)
    label_of = _LABELS.get(cls)
    if label_of is None:
        masks = _OWN_PLAIN.get(cls)
        if masks is None:
            masks = _OWN_PLAIN[cls] = {}
        mask = masks.get(dtype)
        if mask is None:
            mask = masks[dtype] = _bit(cls) | (_bit(dtype) if isinstance(dtype, str) else 0)
        return mask
    label, annotations = label_of(node)
    key = (cls, label, dtype, annotations)
    mask = _OWN.get(key)
    if mask is None:
        mask = _bit(cls) | _bit((cls, label)) | (_bit(dtype) if isinstance(dtype, str) else 0)
        for name in annotations:
            mask |= _bit((cls, "annotation", name))
        _OWN[key] = mask
    return mask


def _setter(cls: type) -> Callable | None:
    slot = next((c.__dict__["_census"] for c in cls.__mro__ if "_census" in c.__dict__), None)
    setter = _SETTERS[cls] = None if slot is None else slot.__set__
    return setter


def census_mask(root) -> int:
    """The bit mask of the facts under ``root``, ``root`` included (counted once per node,
    kept on it; on an explicit stack)."""
    mask = getattr(root, "_census", None)
    if mask is not None:
        return mask
    kinds, kind_of, all_parts, setters, own_plain = _KINDS, _kind, _PARTS, _SETTERS, _OWN_PLAIN
    memo: dict[int, int] = {}  # masks of this walk's nodes that have no slot to keep them
    stack = [root]
    while stack:
        node = stack[-1]
        if id(node) in memo:
            stack.pop()
            continue
        cls = type(node)
        plain = own_plain.get(cls)  # (an unlabelled class's mask by dtype, met before: no call)
        mask = None if plain is None else plain.get(getattr(node, "dtype", None))
        if mask is None:
            mask = _own_mask(node)
        missing = False
        for value in (all_parts.get(cls) or _parts(cls))[0](node):
            kind = kinds.get(type(value)) or kind_of(type(value))
            if kind <= _EXPR:
                items = (value,)
            elif kind == _TUPLE:
                items = [item for item in value if (kinds.get(type(item)) or kind_of(type(item))) <= _EXPR]
            else:
                continue
            for item in items:
                m = getattr(item, "_census", None)
                if m is None:
                    m = memo.get(id(item))
                    if m is None:
                        stack.append(item)
                        missing = True
                        continue
                mask |= m
        if missing:
            continue
        stack.pop()
        setter = setters.get(cls, _setter)
        if setter is _setter:  # (not looked up yet)
            setter = _setter(cls)
        if setter is not None:
            setter(node, mask)
        else:
            memo[id(node)] = mask
        if not stack:
            return mask
    return memo[id(root)]


def census_bit(fact) -> int:
    """The census bit of ``fact`` (0 where no node counted so far has it)."""
    return _BITS.get(fact, 0)


def census_facts(mask: int) -> list:
    """The facts of census ``mask``."""
    facts, n = [], 0
    while mask:
        low = mask & 0xFFFFFFFF
        while low:
            bit = low & -low
            facts.append(_FACTS[n + bit.bit_length() - 1])
            low ^= bit
        mask >>= 32
        n += 32
    return facts


#: mutator class -> (how many facts there were, the census bits of the node classes it has a
#: ``visit_<Class>`` for), or None where its walk may not pass subtrees by (:func:`_wanted`).
_WANTED: dict[type, tuple[int, int] | None] = {}


def _wanted(cls: type) -> int | None:
    """The census bits of the node classes that mutator class ``cls`` visits, when a walk by
    it may return, as they are, the subtrees that hold none of them: it walks as
    :class:`Mutator` does and keeps buffers, so such a subtree would be rebuilt from itself
    with no ``visit_<Class>`` called. None where it may not."""
    got = _WANTED.get(cls, ())
    if got is None:
        return None
    if got and got[0] == len(_FACTS):
        return got[1]
    if not _walks_as_mutator(cls) or cls.visit_buffer is not Mutator.visit_buffer:
        _WANTED[cls] = None
        return None
    names = {attr[6:] for attr in dir(cls) if attr.startswith("visit_")}
    mask = 0
    for n, fact in enumerate(_FACTS):  # (a class counted later gets its bit then: recomputed)
        if isinstance(fact, type) and fact.__name__ in names:
            mask |= 1 << n
    _WANTED[cls] = (len(_FACTS), mask)
    return mask


class Mutator:
    """Rebuilds an IR tree bottom-up; override ``visit_<ClassName>`` to rewrite.

    Buffers are leaves: override :meth:`visit_buffer` to replace them. A mutator whose
    rewrite of a node depends on the node alone (not on where the walk meets it) sets
    :attr:`shares_rewrites`: its walk rewrites a node used in several places (a formula's
    shared value) once, and the rewrite is one node used in those places.
    """

    #: whether a node met again in one walk takes its first rewrite (see the class docstring)
    shares_rewrites = False

    def visit(self, node):
        methods = _METHODS_OF.get(type(self)) or _methods_of(type(self))
        method = methods.get(type(node), _UNSET)
        if method is _UNSET:
            method = methods[type(node)] = getattr(type(self), "visit_" + type(node).__name__, None)
        return method(self, node) if method is not None else self.generic_visit(node)

    def visit_buffer(self, buffer: Buffer) -> Buffer:
        return buffer

    def generic_visit(self, node):
        if _walks_as_mutator(type(self)):
            return self._walk(node)
        new_values = self._visit_items((_GETTERS.get(type(node)) or _getter(type(node)))(node))
        return node if new_values is None else _rebuild(node, new_values)

    def _walk(self, root):
        """:meth:`generic_visit` on an explicit stack: the nodes under ``root`` that the
        mutator has no ``visit_<Class>`` for are entered without a Python call each, so an
        expression thousands of operations deep (the user's) is no deeper to Python.

        A frame is [node or tuple, its values (a node's: of the fields that may hold nodes,
        :func:`_parts`), the next value's index, the new values or None, whether it is a
        tuple]; a finished frame hands its rebuilt node to its parent.
        """
        cls = type(self)
        kinds, all_parts = _KINDS, _PARTS
        methods = _METHODS_OF.get(cls) or _methods_of(cls)
        skips = _SKIPS.get(cls)
        if skips is None:
            skips = _skips_expressions(cls)
        wanted = _wanted(cls)
        shared = {} if self.shares_rewrites else None  # id(node) -> its rewrite, this walk's
        frames = [[root, (all_parts.get(type(root)) or _parts(type(root)))[0](root), 0, None, False]]
        while True:
            frame = frames[-1]
            values, n = frame[1], frame[2]
            if n < len(values):
                frame[2] = n + 1
                value = values[n]
                kind = kinds.get(type(value)) or _kind(type(value))
                if kind == _LEAF or (skips and (kind == _EXPR or kind == _BUFFER)):
                    continue
                if kind <= _EXPR:
                    if shared is not None and id(value) in shared:
                        new = shared[id(value)]
                    else:
                        vcls = type(value)
                        method = methods.get(vcls, _UNSET)
                        if method is _UNSET:
                            method = methods[vcls] = getattr(cls, "visit_" + vcls.__name__, None)
                        if method is None:
                            if wanted is not None:  # a subtree with no node it visits stays itself
                                mask = getattr(value, "_census", None)
                                if mask is not None and not (mask & wanted):
                                    continue
                            frames.append([value, (all_parts.get(vcls) or _parts(vcls))[0](value), 0, None, False])
                            continue
                        new = method(self, value)
                        if shared is not None:
                            shared[id(value)] = new
                elif kind == _BUFFER:
                    new = self.visit_buffer(value)
                elif kind == _TUPLE and value and not isinstance(value[0], (str, tuple)):
                    frames.append([value, value, 0, None, True])
                    continue
                else:
                    continue
            else:  # the frame is done: its node, rebuilt where a value changed
                frames.pop()
                node, _, _, new_values, is_tuple = frame
                new = (node if new_values is None else tuple(new_values) if is_tuple
                       else _rebuild_parts(node, _PARTS[type(node)][1], new_values))
                if shared is not None and not is_tuple:
                    shared[id(node)] = new
                if not frames:
                    return new
                frame = frames[-1]
                n, value = frame[2] - 1, frame[1][frame[2] - 1]
            if new is not value:
                if frame[3] is None:
                    frame[3] = list(frame[1])
                frame[3][n] = new

    def _visit_items(self, values) -> list | None:
        """Each of ``values`` visited (a node, a buffer, a tuple of them); a list of the
        results where any changed, else None."""
        new_values = None
        kinds = _KINDS
        skips = _SKIPS.get(type(self))
        if skips is None:
            skips = _skips_expressions(type(self))
        for n, value in enumerate(values):
            kind = kinds.get(type(value)) or _kind(type(value))
            if kind == _LEAF or (skips and (kind == _EXPR or kind == _BUFFER)):
                continue
            new = self.visit(value) if kind <= _EXPR else self._visit_value(value, kind)
            if new is not value:
                if new_values is None:
                    new_values = list(values)
                new_values[n] = new
        return new_values

    def _visit_value(self, value, kind: int | None = None):
        if kind is None:
            kind = _kind(type(value))
        if kind <= _EXPR:
            return self.visit(value)
        if kind == _BUFFER:
            return self.visit_buffer(value)
        if kind == _TUPLE and value and not isinstance(value[0], (str, tuple)):
            new_items = self._visit_items(value)
            return value if new_items is None else tuple(new_items)
        return value


def pre_order_nodes(root):
    """Yield every IR node under ``root`` (itself included), parents first.

    Walks with an explicit stack; buffers and their shapes are not entered.
    """
    stack = [root]
    pop, push, kinds, all_parts = stack.pop, stack.append, _KINDS, _PARTS
    while stack:
        node = pop()
        yield node
        cls = type(node)
        getter, positions = all_parts.get(cls) or _parts(cls)
        if not positions:  # (a variable or a constant: most of an expression's nodes)
            continue
        mark = len(stack)
        for value in getter(node):
            kind = kinds.get(type(value)) or _kind(type(value))
            if kind <= _EXPR:
                push(value)
            elif kind == _TUPLE:
                for item in value:
                    if (kinds.get(type(item)) or _kind(type(item))) <= _EXPR:
                        push(item)
        if len(stack) - mark > 1:  # children come off the stack in field order
            stack[mark:] = stack[mark:][::-1]


def pre_order_statements(root):
    """Yield every statement under ``root`` (itself included, when it is one), parents
    first, as :func:`pre_order_nodes` orders them, without entering an expression: no
    expression-level node holds a statement, so a search for loops, blocks or stores need
    not walk a function's index and value expressions (most of its nodes).
    """
    stack = [root]
    pop, push, kinds, all_parts = stack.pop, stack.append, _KINDS, _PARTS
    while stack:
        node = pop()
        if (kinds.get(type(node)) or _kind(type(node))) != _STMT:
            continue
        yield node
        cls = type(node)
        mark = len(stack)
        for value in (all_parts.get(cls) or _parts(cls))[0](node):
            kind = kinds.get(type(value)) or _kind(type(value))
            if kind == _STMT:
                push(value)
            elif kind == _TUPLE:
                for item in value:
                    if (kinds.get(type(item)) or _kind(type(item))) == _STMT:
                        push(item)
        if len(stack) - mark > 1:  # children come off the stack in field order
            stack[mark:] = stack[mark:][::-1]


def child_nodes(node) -> list:
    """The IR nodes directly under ``node``, in field order: what :func:`pre_order_nodes`
    enters next from it (buffers and their shapes are not entered)."""
    out = []
    kinds = _KINDS
    cls = type(node)
    for value in (_PARTS.get(cls) or _parts(cls))[0](node):
        kind = kinds.get(type(value)) or _kind(type(value))
        if kind <= _EXPR:
            out.append(value)
        elif kind == _TUPLE:
            out.extend(item for item in value if (kinds.get(type(item)) or _kind(type(item))) <= _EXPR)
    return out


def uses_var(roots, var) -> bool:
    """Whether ``var`` (compared by identity) occurs under ``roots``: one IR node, or an
    iterable of them (a buffer access's indices).

    >>> from mlc.ir.expr import Var
    >>> i, j = Var("i"), Var("j")
    >>> uses_var(i * 4 + 1, i), uses_var((j, j + 1), i)
    (True, False)
    """
    if isinstance(roots, NODE_TYPES):
        roots = (roots,)
    return any(n is var for root in roots for n in pre_order_nodes(root))


def binary_chain(e: Binary, enter: Callable[[Binary, str], bool] | None = None) -> list[Binary]:
    """``e`` and the Binary nodes under it down one operand each (the first where it is a
    Binary, else the second), the deepest last: the chain that an expression as deep as
    the user wrote it (``x0 + x1 + ... + xn``, or Horner's ``c0 + x * (c1 + x * (...))``)
    has, for a walker to take bottom-up on a loop. ``enter(node, "a" or "b")`` may refuse
    a step (a short-circuit operator's second operand).

    >>> from mlc.ir.expr import Var
    >>> x = Var("x")
    >>> [str(n) for n in binary_chain(1 + x * (2 + x * 3))]
    ['1 + x * (2 + x * 3)', 'x * (2 + x * 3)', '2 + x * 3', 'x * 3']
    """
    chain = [e]
    while True:
        node = chain[-1]
        if type(node.a) is Binary and (enter is None or enter(node, "a")):
            chain.append(node.a)
        elif type(node.b) is Binary and (enter is None or enter(node, "b")):
            chain.append(node.b)
        else:
            return chain


def always_evaluated(node: Binary, side: str) -> bool:
    """Whether operand ``side`` ("a" or "b") of ``node`` is evaluated wherever ``node`` is:
    all but the second operand of ``and``/``or``, which an evaluator runs only where the
    first leaves the result open (a :func:`binary_chain` ``enter`` for them)."""
    return side == "a" or node.op not in ("and", "or")


def post_order_dag(roots, children: Callable[[Any], Sequence], key: Callable[[Any], Any] = id):
    """Yield each node of the DAG under ``roots`` (in their order) once, after the nodes
    ``children(node)`` lists, taken in that order: producers before their consumers, on an
    explicit stack (a formula, or a chain of stages, may be deeper than Python's recursion).
    ``children`` decides what is entered: a node it gives none for is a leaf of the walk.
    Nodes are one node where ``key`` says so (their identity by default; a tensor's buffer,
    say). The walk of every rewrite of an expression whose nodes are shared (a formula's
    value used in several places) and of every topological order of stages.

    >>> from mlc.ir.expr import Var
    >>> x = Var("x")
    >>> y = x * 2
    >>> [str(n) for n in post_order_dag([y + y], lambda n: [n.a, n.b] if hasattr(n, "a") else [])]
    ['x', '2', 'x * 2', 'x * 2 + x * 2']
    """
    done: set = set()
    stack = [(r, False) for r in reversed(roots)]
    pop, push = stack.pop, stack.append
    while stack:
        node, ready = pop()
        if key(node) in done:
            continue
        if not ready:
            kids = children(node)
            if kids:
                push((node, True))
                stack.extend((k, False) for k in reversed(kids) if key(k) not in done)
                continue
        done.add(key(node))
        yield node


def post_order_visit(root, fn: Callable[[Any], None]) -> None:
    """Call ``fn`` on every node under ``root``, children before parents."""
    for node in reversed(list(pre_order_nodes(root))):
        fn(node)


class _Substitute(Mutator):
    shares_rewrites = True  # (a value used in several places stays one node)

    def __init__(self, vmap):
        self.vmap = vmap

    def visit_Var(self, var: Var):
        return self.vmap.get(var, var)


def substitute(node, vmap: dict[Var, PrimExpr]):
    """Replace free occurrences of the variables in ``vmap`` (keys compared by identity). A
    node used in several places under ``node`` (a formula's shared value) is rewritten once,
    and its rewrite is one node in those places.

    >>> from mlc.ir.expr import Var
    >>> x, y = Var("x"), Var("y")
    >>> twice = x * 2
    >>> out = substitute(twice + twice, {x: y})
    >>> str(out), out.a is out.b
    ('y * 2 + y * 2', True)
    """
    if not vmap:
        return node
    return _Substitute(vmap).visit(node)
