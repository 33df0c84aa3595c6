"""Which arrays a variable names after a compiled ``if`` or loop that rebinds it on some paths.

NumPy binds a name to an array object: after ``if c: a = a * 2`` the name ``a`` is the
caller's argument where ``c`` was false and a new array where it was true, so a later
``a[0] += 1`` writes the caller's array on the first path only. A compiled conditional
runs one branch when the function runs, so the trace follows the array a name holds as
*flags*: 0-d bool values of the graph, one per array the name may hold, true on the paths
where it holds it. A branch (or a loop's body) returns its flags as more results; the
variable after it is a Tracer whose value is read through an :class:`~.state.Alias` of
those arrays, and a write into it writes each under its flag.

>>> import numpy as np, mlc
>>> @mlc.jit(tiered=False)
... def bump(a):
...     if a.sum() > 100.0:      # false when it runs: a stays the caller's array
...         a = a * 0.5
...     a[0] += 1
...     return a
>>> x = np.zeros(3)
>>> bump(x), x
(array([1., 0., 0.]), array([1., 0., 0.]))
"""
from __future__ import annotations

from ..errors import TraceError
from .source import describe_location, user_location
from .state import Alias, Box, View
from .tracer import Tracer
from .trace import current_trace

__all__ = ["identities", "owners", "views_of", "alias", "flag_and", "flag_or", "flag_not", "as_flag",
           "refuse_split_views", "tied"]


def owners(operands, outer) -> dict[int, Tracer]:
    """``id(box) -> the outer array it stands for`` in a nested trace (a branch or a loop's
    body, the one recording now): each of ``operands`` (its inputs) for the matching one of
    ``outer``, and each array it captured from around it."""
    out = {}
    for inner, x in zip(operands, outer):
        ref = inner._ref if isinstance(inner, Tracer) else None
        if isinstance(ref, View) and not ref.path:
            out.setdefault(id(ref.box), x)
    ctx = current_trace()
    for box, x in (ctx.captured_boxes if ctx is not None else ()):
        out.setdefault(id(box), x)
    return out


def identities(value, owned: dict, outer=lambda x: x) -> list[tuple[object, tuple, object]]:
    """``(array, path, flag)`` for each array of ``owned`` (:func:`owners`) that ``value`` may
    name, through the view ops of ``path``, where ``flag`` holds (True, a 0-d bool Tracer,
    or None where it cannot be followed); ``outer(value)`` itself where ``value`` is an array
    of a trace around the one recording (a branch's ``b = a`` of an ``a`` it does not assign).
    Empty for a new array (or a Python value)."""
    if not isinstance(value, Tracer):
        return []
    ctx = current_trace()
    if ctx is not None and value._ctx is not ctx and value._ctx.is_active():
        return [(outer(value), (), True)]
    ref = value._ref
    if ref is None:
        return []
    def owner(box):  # an array of this trace's, or (as its box) one of a trace around it
        if id(box) in owned:
            return owned[id(box)]
        return outer(box) if box.ctx is not ctx and box.ctx.is_active() else None

    if isinstance(ref, View):
        x = owner(ref.box)
        return [] if x is None else [(x, ref.path, True)]
    out = [(owner(v.box), v.path, flag) for v, flag in ref.choices if owner(v.box) is not None]
    if id(ref.own.box) in owned:
        rest = None
        for _, flag in ref.choices:
            rest = flag if rest is None else flag_or(rest, flag)
        out.append((owned[id(ref.own.box)], ref.own.path, flag_not(rest) if rest is not None else True))
    return out


def views_of(x: Tracer, path: tuple, flag) -> list[tuple[View, object]]:
    """``(view, flag)`` pairs naming ``x``'s array (through ``path``) where ``flag`` holds: one,
    or one per array ``x`` may itself name (an Alias). ``x`` gets a box if it had none; ``x``
    may be a box itself (an array of a trace around, :func:`identities`)."""
    if isinstance(x, Box):
        return [(View(x, path), flag)]
    ref = x._ref
    if ref is None:
        ref = x._ref = View(Box(x._ctx, x._value))
    if isinstance(ref, View):
        return [(View(ref.box, ref.path + path), flag)]
    out, rest = [], None
    for v, f in ref.choices:
        out.append((View(v.box, v.path + path), flag_and(flag, f)))
        rest = f if rest is None else flag_or(rest, f)
    out.append((View(ref.own.box, ref.own.path + path), flag_and(flag, flag_not(rest))))
    return out


def alias(value: Tracer, choices, why: str) -> Tracer:
    """``value`` (a Tracer no other names hold) as an array naming the arrays of ``choices``
    ((view, flag) pairs) where their flags hold, a new one of its own elsewhere."""
    merged: dict = {}
    for view, flag in choices:  # one choice per view: the flags of its paths or'ed
        key = (id(view.box), view.path)
        merged[key] = (view, flag_or(merged[key][1], flag) if key in merged else flag)
    value._ref = Alias(View(Box(value._ctx, value._value)), [c for c in merged.values() if c[1] is not False],
                       value._value, why)
    return value


def as_flag(flag, ctx) -> Tracer:
    """``flag`` (True, False or a 0-d bool Tracer) as a Tracer of ``ctx``."""
    if isinstance(flag, Tracer):
        return flag if not flag.weak else flag.strong()
    return ctx.scalar(bool(flag), "bool")


def _emit(op, *args):
    ctx = current_trace()
    return ctx.emit(op, [as_flag(a, ctx) for a in args], {}, view=False)


def _fold(op: str, unit: bool, a, b):
    """``a op b`` of two flags (True, False, a 0-d bool Tracer, or None: not followed), a
    constant operand folded away (``unit``: the op's identity, True for and, False for or)."""
    if a is None or b is None:
        return None
    if a is unit or b is (not unit):
        return b
    if b is unit or a is (not unit):
        return a
    return _emit(op, a, b)


def flag_and(a, b):
    return _fold("logical_and", True, a, b)


def flag_or(a, b):
    return _fold("logical_or", False, a, b)


def flag_not(a):
    if a is None:
        return None
    if isinstance(a, bool):
        return not a
    return _emit("logical_not", a)


def _boxes(x) -> set:
    ref = x._ref if isinstance(x, Tracer) else None
    if ref is None:
        return set()
    if isinstance(ref, View):
        return {id(ref.box)}
    return {id(v.box) for v, _ in ref.choices} | {id(ref.own.box)}


def refuse_split_views(written, others, what: str) -> None:
    """TraceError where a compiled loop or branch writes in place into an array (``written``:
    ``(name, outer Tracer)`` pairs) that it also holds, apart, under another name (``others``:
    the same pairs for the other variables it carries and the arrays it reads from around it)
    as a view of the same memory (``v = b[1:]``, both carried): each name would be carried as its
    own value, and the write not seen through the other."""
    for name, x in written:
        mine = _boxes(x)
        for other, y in others:
            if y is not x and mine & _boxes(y):
                # (an array reached through a view has no name of its own: "an array written at line 6")
                copy = next((f"{n} = {n}.copy()" for n in (name, other) if n.isidentifier()), "x = x.copy()")
                name, other = (repr(n) if n.isidentifier() else n for n in (name, other))
                raise TraceError(
                    f"the {what} writes in place into {name}, which shares its memory with {other} (one is "
                    f"a view of the other, or both of one array), and also uses {other}; a compiled loop or "
                    "conditional carries them apart, so the write would not be seen through the other name. "
                    f"Write through one name only inside it, or copy one of them before it ({copy})"
                    + describe_location(user_location()))


def tied(values, owned: dict, positions) -> set:
    """The positions of ``values`` (a branch's or loop body's results) that name one array the
    branch made (a box none of ``owned``), under two names or as a view of it (``b = x * 2;
    v = b[1:]``): returned apart, a write through one would not be seen through the other."""
    seen: dict[int, int] = {}
    out = set()
    for k in positions:
        v = values[k]
        ref = v._ref if isinstance(v, Tracer) else None
        if ref is None:
            continue
        for box_id in _boxes(v):
            if box_id in owned:
                continue
            j = seen.setdefault(box_id, k)
            if j != k and values[j] is not v:
                out |= {j, k}
    return out


def untraceable(value: Tracer, why: str) -> Tracer:
    """``value`` as an array that a write into is refused (``why``): the trace cannot follow
    which other names see it."""
    poison = Box(value._ctx, value._value)
    ref = value._ref
    choices = list(ref.choices) if isinstance(ref, Alias) else []
    own = ref.own if isinstance(ref, Alias) else View(Box(value._ctx, value._value))
    value._ref = Alias(own, choices + [(View(poison), None)], value._value, why)
    return value
