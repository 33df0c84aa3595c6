"""Which arrays a compiled loop's variables name after it, when its body rebinds them on some paths.

A compiled loop carries its variables' values; NumPy's names also carry *which array* they
hold. ``for t in range(n): if a.sum() > c: a = a * 0.5`` leaves ``a`` the caller's argument
where the branch never ran (and where the loop ran no iteration), so ``a[0] += 1`` after it
writes the caller's array there. A first trace of the body finds the variables it rebinds
(:class:`Plan`); the loop then carries, for each, a flag per array from before the loop it
may still name (its own array, or one the body reads, ``b = a``, ``b = a[1:]``), and the
array's contents where the body writes it before a rebinding (``a[0] += 1; a = a * 2``). In
the body the variable names those arrays under its flags (an :class:`~.state.Alias`), and
after the loop too (:mod:`.aliases`).

>>> import numpy as np, mlc
>>> @mlc.jit(tiered=False)
... def bump(a, n):
...     for t in range(n):           # a traced trip count: compiled
...         a = a * 2.0
...     a[0] += 1                     # the caller's array where the loop ran no iteration
...     return a
>>> x = np.zeros(2)
>>> bump(x, np.int64(0)), x
(array([1., 0.]), array([1., 0.]))
"""
from __future__ import annotations

from ..errors import TraceError
from .aliases import alias, as_flag, identities, tied, views_of
from .state import Alias, Box, View
from .trace import current_trace
from .tracer import Tracer

__all__ = ["Plan", "Rebound"]


class Rebound(Exception):
    """Trace the loop's body again, carrying what ``plan`` (grown) says."""

    def __init__(self, plan: Plan):
        super().__init__()
        self.plan = plan


class Plan:
    """The flags and array contents a compiled loop carries besides its variables.

    ``arrays[k]``: the arrays variable ``k`` may name after an iteration, each ``("own", ())``
    (the array it named before the loop) or ``(outer Tracer, path)`` (an array the body reads
    from around it, through the view ops ``path``); a flag each, carried. ``shadow``: the
    variables whose own array the body writes before it may rebind them: that array's
    contents are carried too."""

    def __init__(self, skipped):
        #: whether the loop runs no iteration: False, or a 0-d bool Tracer (traced bounds, a
        #: while loop's first test); a variable it rebinds to a new array at every iteration
        #: (``fresh``) names its own array from before the loop there
        self.skipped = skipped
        self.may_skip = skipped is not False
        self.fresh: set[int] = set()
        self.arrays: dict[int, list] = {}
        self.shadow: set[int] = set()

    def _copy(self) -> Plan:
        new = Plan(self.skipped)
        new.arrays = {k: list(v) for k, v in self.arrays.items()}
        new.shadow = set(self.shadow)
        return new

    def flags(self):
        return [(k, key) for k in sorted(self.arrays) for key in self.arrays[k]]

    def init(self, vals) -> tuple:
        """The initial values of the carried extras: a flag per (variable, array), then a shadow
        per written variable."""
        ctx = current_trace()
        out = [as_flag(isinstance(key[0], str), ctx) for _, key in self.flags()]
        return tuple(out) + tuple(vals[k] for k in sorted(self.shadow))

    def names(self, names) -> list[str]:
        return ([f"{names[k]} (which array it names)" for k, _ in self.flags()]
                + [f"{names[k]} (the array it named)" for k in sorted(self.shadow)])

    # ---------------------------------------------------------------- the body

    def enter(self, given: tuple, extra: tuple, positions) -> tuple:
        """The body's variables: each planned one an Alias of the arrays it may name (its own
        one a box holding the carried shadow, or never written), under the carried flags."""
        given = list(given)
        flags = dict(zip(((k, _key(key)) for k, key in self.flags()), extra))
        shadows = dict(zip(sorted(self.shadow), extra[len(flags):]))
        ctx = current_trace()
        self.boxes, self.flags_in, self.fresh = {}, tuple(extra[:len(flags)]), set()
        for k in sorted(self.arrays):
            g = given[k]
            if not isinstance(g, Tracer) or not isinstance(g._ref, View) or g._ref.path:
                raise TraceError("internal: a loop variable to follow is not a carried array")
            start = shadows[k]._atom if k in shadows else g._atom
            box = self.boxes[k] = Box(ctx, start)
            choices = []
            for key in self.arrays[k]:
                if isinstance(key[0], str):
                    choices.append((View(box), flags[(k, _key(key))]))
                elif isinstance(key[0], Box):  # an array of a trace around the loop's, by its box
                    choices.append((View(key[0], key[1]), flags[(k, _key(key))]))
                else:
                    inner = ctx.capture(key[0])
                    if not isinstance(inner._ref, View) or inner._ref.path:
                        raise TraceError(_cannot(k, None))  # (an array the loop also carries)
                    choices.append((View(inner._ref.box, key[1]), flags[(k, _key(key))]))
            g._ref = Alias(g._ref, choices, g._atom)
        self.given = tuple(given)
        return self.given

    def leave(self, vals, positions, given, new, names, what: str, unknown: dict) -> tuple:
        """The carried extras after the body (``new``: its variables' values); :class:`Rebound`
        where the body rebinds a variable this plan does not follow yet. A variable left naming,
        on some paths, an array the loop cannot follow (another variable's, a view of one) is
        put in ``unknown`` (``k -> [(outer array, path)]``: after the loop, a write into it is a
        TraceError), or refused now where the body writes into it."""
        ctx = current_trace()
        owned = {}
        for j in positions:
            g = given[j]
            if isinstance(g, Tracer) and g._ref is not None:
                owned[id(g._ref.box)] = ("in", j)
            if j in self.boxes:
                owned[id(self.boxes[j])] = ("own", j)
        for box, outer in ctx.captured_boxes:
            owned.setdefault(id(box), ("cap", outer))
        grown = self._copy()
        out: dict = {}
        ties = tied(new, owned, positions)
        for k in positions:
            if not isinstance(vals[k], Tracer) or new[k] is given[k]:
                continue
            if any(new[k] is given[j] for j in positions if j != k):
                continue  # a swap: the loop moves the arrays between the names (autograph_runtime._moves)
            planned = k in self.arrays
            wrote = _wrote(given[k], self.boxes.get(k))
            keys, lost = [], []
            if k in ties:  # one new array under two names (b = x * 2; v = b[1:]): carried apart
                lost.append((Box(ctx, new[k]._atom), ()))
            for (tag, j_or_x), path, flag in identities(new[k], owned, lambda x: ("cap", x)):
                if tag == "in" and j_or_x == k and planned and not path:
                    continue  # the body's own array of an iteration: nothing outside names it
                if (tag in ("in", "own") and (j_or_x != k or path)) or flag is None:
                    lost.append((vals[j_or_x] if tag in ("in", "own") else j_or_x, path))
                    continue
                key = ("own", ()) if tag in ("in", "own") else (j_or_x, path)
                keys.append(key)
                out[(k, _key(key))] = flag
            if lost:
                if wrote:
                    raise TraceError(_cannot(k, names, what))
                # (any carried array: a loop that swaps them moves which one an index names; and
                # the arrays around the loop it may name on other paths: a write into one of them
                # after the loop would reach it there)
                unknown[k] = (lost + [key for key in keys if not isinstance(key[0], str)]
                              + [(vals[j], ()) for j in positions if isinstance(vals[j], Tracer)])
                continue
            if not keys and not wrote:  # a new array each iteration: its own where none ran (after)
                self.fresh.add(k)
                continue
            if wrote or self.may_skip:  # (where no iteration runs, it names its own array)
                keys.append(("own", ()))
            have = grown.arrays.setdefault(k, [])
            for key in keys:
                if not any(_key(key) == _key(h) for h in have):
                    have.append(key)
            if wrote:
                grown.shadow.add(k)
        grown.arrays = {k: v for k, v in grown.arrays.items() if v}
        if [(k, _key(key)) for k, key in grown.flags()] != [(k, _key(key)) for k, key in self.flags()] \
                or grown.shadow != self.shadow:
            raise Rebound(grown)
        flags = []
        ins = dict(zip(((k, _key(key)) for k, key in self.flags()), self.flags_in))
        for k, key in self.flags():
            if new[k] is given[k]:
                flags.append(ins[(k, _key(key))])
            else:
                flags.append(as_flag(out.get((k, _key(key)), False), ctx))
        return tuple(flags) + tuple(Tracer(ctx, self.boxes[k].atom) for k in sorted(self.shadow))

    # ------------------------------------------------------------ after the loop

    def after(self, vals, result, out_vars: dict, extra, names, what: str) -> None:
        """Set ``result`` (the variables after the loop) for the planned variables: each written
        shadow into its array, each variable an Alias of its arrays under the flags."""
        n = len(self.flags())
        for k, v in zip(sorted(self.shadow), extra[n:]):
            original = vals[k]
            if original._atom is not v._atom:
                original[...] = v
        for k in self.fresh - set(self.arrays):
            if self.skipped is not False and isinstance(vals[k], Tracer):
                v = out_vars[k]
                result[k] = alias(Tracer(v._ctx, v._atom, v.weak), views_of(vals[k], (), self.skipped),
                                  "internal: a loop variable's array is not followed")
        got: dict = {}
        for (k, key), f in zip(self.flags(), extra[:n]):
            got.setdefault(k, []).append((key, f))
        for k, pairs in got.items():
            choices = []
            for key, f in pairs:
                x = vals[k] if isinstance(key[0], str) else key[0]
                choices += views_of(x, key[1], f)
            result[k] = alias(Tracer(out_vars[k]._ctx, out_vars[k]._atom, out_vars[k].weak), choices,
                              f"variable {names[k]!r}, after the {what}, names an array that only the run "
                              "decides, which the trace cannot follow; copy it first (x = x.copy())")


def _key(key):
    return (key[0] if isinstance(key[0], str) else id(key[0]), key[1])


def _wrote(given, box) -> bool:
    """Whether the body wrote into its variable ``given`` (its array of the iteration)."""
    ref = given._ref
    if isinstance(ref, Alias):
        return box is not None and box.version > 0
    return isinstance(ref, View) and ref.box.input is not None and ref.box.atom is not ref.box.input


def _cannot(k, names, what="loop") -> str:
    name = repr(names[k]) if names is not None else "a variable"
    return (f"the {what} writes in place into {name} and leaves it naming, on some paths, another "
            "variable's array or a view of one, which a compiled loop cannot follow (its writes in later "
            "iterations would reach that array or not); copy the array where it is bound "
            "(b = a.copy(), not b = a)")
