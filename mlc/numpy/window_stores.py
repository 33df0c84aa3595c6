"""``x[i, lo:hi] = value`` for a slice of traced bounds as one loop over the slice's elements.

A 1-D window (:mod:`.windows`: ``C[i, :i + 1]``, ``y[:k]``) whose value has an element recipe
(``elem(j)``: the value's element ``j`` as 0-d reads of the arrays it was computed from) or is
a scalar is stored by ``for j in range(lo, hi): x[i, j] = elem(j)`` — element code, so one
element-loop kernel of ``hi - lo`` iterations (or part of the element loop around it) in place
of a mask, a ``where`` over the whole axis and a write of the whole row: the store costs
the elements it touches.

NumPy computes the whole value before it stores any of it. The loop keeps that meaning where
the value reads ``x`` only at the element being stored, in the same iteration, before it is
stored (``C[i, :i + 1] *= beta``): such a read sees the loop's own array, whose element ``j``
is still the old one. A value that reads ``x`` anywhere else (``y[:k] += np.flip(y[:k])``
reads ``y[k - 1 - j]``, which an earlier iteration may have written) is a *hazard*: the
value's elements are stored into a new array of the axis's length first, then copied into
``x`` (two loops of ``hi - lo`` iterations, both element code).

>>> import numpy as np, mlc
>>> @mlc.jit
... def scale_lower(C):
...     for i in range(C.shape[0]):
...         C[i, :i + 1] *= 2.0
>>> C = np.ones((3, 3)); scale_lower(C); C
array([[2., 1., 1.],
       [2., 2., 1.],
       [2., 2., 2.]])
"""
from __future__ import annotations

import operator

import numpy as np

from ..tracer.control_flow import fori_loop
from ..tracer.trace import current_trace
from ..tracer.tracer import Tracer
from ._api import emit
from .bounds import access_text, check_index

__all__ = ["store_loop", "read_source", "scalar_recipe"]

#: The loop store being traced (innermost last): where its value's element reads go.
_STORES: list["_Store"] = []


class _Store:
    """The store ``x[keys] = elem(j)`` traced in a loop's body: ``atom`` the version of ``x``
    stored into, ``keys`` its index (``None`` at the loop's axis ``at``: the index ``j``),
    ``carry`` and ``j`` the body's array and index while the value is traced."""

    __slots__ = ("atom", "at", "keys", "carry", "j", "hazard")

    def __init__(self, atom, at: int, keys: list):
        self.atom, self.at, self.keys = atom, at, keys
        self.carry = self.j = None
        self.hazard = False

    def source(self, source: Tracer, key) -> Tracer:
        """The array an element read of ``source`` at ``key`` (a list per axis of Tracers and
        ints, or None: not known) reads from: the loop's array for the stored element of the
        stored version; ``source`` itself otherwise (a hazard where it is the stored version)."""
        if self.carry is None or source._atom is not self.atom:
            return source
        if key is not None and len(key) == len(self.keys) and all(
                _same(k, self.j if n == self.at else w) for n, (k, w) in enumerate(zip(key, self.keys))):
            return self.carry
        self.hazard = True
        return source


def _same(a, b) -> bool:
    if isinstance(a, Tracer) or isinstance(b, Tracer):
        return isinstance(a, Tracer) and isinstance(b, Tracer) and a._atom is b._atom
    return operator.index(a) == operator.index(b)


def read_source(source: Tracer, key) -> Tracer:
    """Where a value's element recipe reads ``source[key]`` while a loop store traces it (see
    :class:`_Store`); ``source`` outside any."""
    return _STORES[-1].source(source, key) if _STORES else source


def store_loop(target: Tracer, items: tuple, at: int, lo, hi, elem, cast, replace) -> bool:
    """Store ``target[items] = value`` (``items[at]`` the slice of bounds ``lo``, ``hi``; the
    others ints) as a loop ``for j in range(lo, hi): target[..., j, ...] = cast(elem(j))``;
    ``replace(target, new)`` makes ``new`` ``target``'s value. False, with nothing stored,
    where the value reads ``target`` other than at the element stored (see the module)."""
    keys = []
    for n, (k, size) in enumerate(zip(items, target.shape)):
        if n == at:
            keys.append(None)
        elif isinstance(k, Tracer):
            check_index(k, size, access_text(items, True), n)
            keys.append(k.strong())
        else:
            k = operator.index(k)
            if not -size <= k < size:
                return False  # the masked store says how NumPy fails
            keys.append(k % size)
    store = _Store(target._atom, at, keys)

    def body(j, x):
        store.carry, store.j = x, j
        try:
            v = cast(x, elem(j))
        finally:
            store.carry = store.j = None
        return _set(x, v, keys, at, j)

    _STORES.append(store)
    try:
        new = fori_loop(lo, hi, body, target.fresh(), _what="a store into a slice")
    finally:
        _STORES.pop()
    if store.hazard:  # (the loop above is dead code: nothing reads it)
        new = _staged(target, keys, at, lo, hi, elem, cast)
    replace(target, new)
    return True


def _set(x: Tracer, v: Tracer, keys: list, at: int, j: Tracer) -> Tracer:
    """``x`` with ``x[keys]`` (``j`` at axis ``at``) set to ``v``."""
    ctx = current_trace()
    index = [j if n == at else k if isinstance(k, Tracer) else ctx.scalar(k, "int64") for n, k in enumerate(keys)]
    return emit("element_set", [x, v, *index])


def _staged(target: Tracer, keys: list, at: int, lo, hi, elem, cast) -> Tracer:
    """The store of a value that reads ``target`` where it stores: its elements into a new
    array first (one loop), then into ``target`` (a second loop): two loops of ``hi - lo``
    iterations, element code both, and a new array of the axis's length."""
    ctx = current_trace()
    n, dtype = int(target.shape[at]), np.dtype(target.dtype).name
    stage = ctx.emit("broadcast_to", [ctx.scalar(np.zeros((), dtype).item(), dtype)], {"shape": (n,)}, view=False)
    stage = fori_loop(lo, hi, lambda j, s: emit("element_set", [s, cast(s, elem(j)), j]), stage,
                      _what="a store into a slice")
    return fori_loop(lo, hi, lambda j, x: _set(x, emit("element_get", [stage, j]), keys, at, j), target.fresh(),
                     _what="a store into a slice")


def scalar_recipe(value):
    """``elem`` of a 0-d value (the same at every element), or None for anything else."""
    if isinstance(value, (list, tuple)) or (value.ndim if isinstance(value, Tracer) else np.ndim(value)) != 0:
        return None
    return lambda j: value
