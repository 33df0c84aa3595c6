"""Mutable arrays in a trace: boxes holding an array's current version, and views of them.

NumPy programs write into arrays (``x[1:] = 0``, ``x += y``, ``out=x``). A
trace records pure ops, so a write is *functionalized* (as
``torch.func.functionalize`` does): the written array is a :class:`Box` whose
value is replaced by a new version, computed by graph ops from the old one.

- A Tracer taken as a view of another (``x[1:]``, ``x.reshape(...)``, ``x.T``:
  the ops of :data:`~.trace.VIEW_OPS`) holds a :class:`View`: the box of the
  array it was taken from and the view ops that lead there. Reading it derives
  it again from the box's current version when that changed since, so a view
  sees writes into its base, as NumPy's do.
- Writing a view writes through: the new value goes back up the path, each
  view op undone (a slice by an ``update_slice``, a reshape by a reshape back,
  a transpose by its inverse), and the box takes the result as its new version.
- A box standing for an argument of the jitted function remembers the input
  it started from: when its version changed, the jit returns the last version
  too and writes it into the caller's array (:func:`written_inputs`).

>>> import mlc.numpy  # the array methods
>>> from mlc.ir.types import TensorType
>>> from mlc.tracer.trace import TraceContext
>>> with TraceContext() as ctx:
...     x = ctx.new_input(TensorType((4,), "float32"), "x")
...     v = x[1:3]
...     v[...] = 0.0
...     [var.name for var, _ in written_inputs(ctx)]
['x']
"""
from __future__ import annotations

from ..errors import TraceError

__all__ = ["Alias", "Box", "MaybeBox", "View", "write", "view_of", "written_inputs", "undo_view", "WRITABLE_VIEWS"]

#: View ops whose result may be written, each with the op that puts a new value of the view
#: back into the array it was taken from (see :func:`undo_view`).
WRITABLE_VIEWS = frozenset({"slice", "reshape", "transpose", "moveaxis", "expand_dims", "squeeze", "flip"})


class Box:
    """One array that may be written: its current value (a graph atom) and a version count.

    ``input`` is the graph input it started as (an argument of the jitted function), else None."""

    __slots__ = ("ctx", "atom", "version", "input")

    def __init__(self, ctx, atom, input=None):  # noqa: A002 - the graph's word
        self.ctx, self.atom, self.version, self.input = ctx, atom, 0, input

    def set(self, atom) -> None:
        self.atom = atom
        self.version += 1


class View:
    """Where a Tracer's value comes from: ``box``'s value through the view ops of ``path``
    (``(op, attrs)`` pairs; empty for the array itself), derived again when the box's version
    moved past ``seen``."""

    __slots__ = ("box", "path", "seen", "atom")

    def __init__(self, box: Box, path: tuple = (), atom=None):
        self.box, self.path = box, path
        self.seen, self.atom = (box.version if atom is not None or not path else -1), atom

    def read(self):
        """The current value (an atom) of the view."""
        box = self.box
        if not self.path:
            return box.atom
        if self.seen != box.version:
            with box.ctx.recording():  # (read inside a loop's body: derived around it, and captured)
                self.atom = _derive(box, self.path)._atom
            self.seen = box.version
        return self.atom


def _plain(box: Box, atom):
    return box.ctx._tracer(atom)


def _derive(box: Box, path):
    value = _plain(box, box.atom)
    for op, attrs in path:
        value = box.ctx.emit(op, [value], dict(attrs), view=False)
    return value


def _read_only(op: str) -> TraceError:
    return TraceError(f"cannot write into the result of {op}: NumPy's {op} returns a read-only view "
                      "(or a copy); write into the array it was taken from, or copy it first (x.copy())")


def undo_view(op: str, attrs: dict, parent, value, update_slice):
    """``parent`` (a Tracer) with its view ``op(parent, **attrs)`` replaced by ``value``, the
    view's new value. ``update_slice(parent, value, starts, stops, steps)`` writes a slice."""
    if op not in WRITABLE_VIEWS:
        raise _read_only(op)
    ctx = parent._ctx
    if op == "slice":
        return update_slice(parent, value, attrs["starts"], attrs["stops"], attrs["steps"])
    if op in ("reshape", "expand_dims", "squeeze"):
        return ctx.emit("reshape", [value], {"newshape": tuple(parent.shape)}, view=False)
    if op == "transpose":
        axes = attrs.get("axes")
        perm = tuple(range(parent.ndim))[::-1] if axes is None else tuple(a % parent.ndim for a in axes)
        inverse = [0] * len(perm)
        for n, p in enumerate(perm):
            inverse[p] = n
        return ctx.emit("transpose", [value], {"axes": tuple(inverse)}, view=False)
    if op == "moveaxis":
        return ctx.emit("moveaxis", [value], {"source": attrs["destination"], "destination": attrs["source"]},
                        view=False)
    return ctx.emit("flip", [value], dict(attrs), view=False)


def write(tracer, value, update_slice) -> None:
    """Make ``value`` (a Tracer of ``tracer``'s shape and dtype) the new value of ``tracer``,
    through to the array it is a view of."""
    view = tracer._ref
    if view is None:
        if value._ctx is not tracer._ctx:  # a branch or loop body writing an array of the code around it
            raise TraceError("a compiled loop or conditional writes in place into an array of the code around "
                             "it that it does not assign (through out=, or a function that writes its "
                             "argument); assign it by name inside it (x[...] = ..., or x = f(x))")
        tracer._value = value._atom
        return
    if isinstance(view, Alias):
        view.write(value, update_slice)
        return
    _write_view(view, value, update_slice)


def _write_view(view: View, value, update_slice) -> None:
    """Make ``value`` the new value of ``view``, through to its box."""
    box = view.box
    for op, _ in view.path:
        if op not in WRITABLE_VIEWS:
            raise _read_only(op)
    if any(type(d) is int and d == 0 for d in value.shape):
        return  # an empty view (a[1:] of one element): NumPy's write changes nothing
    _check_same_trace(box, value)
    if isinstance(box, MaybeBox):
        raise TraceError(box.why)
    new = value._atom
    parents = [_plain(box, box.atom)]
    for op, attrs in view.path[:-1]:
        parents.append(box.ctx.emit(op, [parents[-1]], dict(attrs), view=False))
    for (op, attrs), parent in zip(reversed(view.path), reversed(parents)):
        value = undo_view(op, dict(attrs), parent, value, update_slice)
    box.set(value._atom)
    if view.path:  # this view's value is the one just written: no need to derive it again
        view.atom, view.seen = new, box.version


class MaybeBox(Box):
    """The box of a variable a compiled ``if`` left naming either its array from before (one
    branch kept it) or a new one (the other rebound it): which, only the run knows, so a write
    into it (which NumPy makes into the old array or not) is refused (``why``)."""

    __slots__ = ("why",)

    def __init__(self, ctx, atom, why: str):
        super().__init__(ctx, atom)
        self.why = why


class Alias:
    """Where the value of a Tracer comes from when the run decides which array it names (a
    variable that a compiled ``if`` or loop rebinds on some paths only: ``if c: a = a * 2``
    leaves ``a`` the argument where ``c`` is false): ``choices``, pairs ``(view, flag)``, name
    the array of ``view`` where the 0-d bool Tracer ``flag`` holds when the function runs (the
    flags exclusive), and ``own`` (a view of a box of its own) names it where none does. It
    reads ``where(flag, view, ...)`` of them once one changed since ``seen``; a write writes
    every choice under its flag and ``own`` whole, as NumPy writes the one array it names.
    A flag None is one the trace could not follow: a read after its array changed, or a
    write, is a TraceError (``why``).

    >>> import mlc.numpy  # the array methods
    >>> from mlc.ir.types import TensorType
    >>> from mlc.tracer.trace import TraceContext
    >>> with TraceContext() as ctx:
    ...     x = ctx.new_input(TensorType((4,), "float32"), "x")
    ...     c = ctx.new_input(TensorType((), "bool"), "c")
    ...     y = ctx._tracer(x._atom)                       # x's value, as a new array
    ...     y._ref = Alias(View(Box(ctx, y._atom)), [(x._ref, c)], y._atom)
    ...     y[0] = 1.0                                     # writes x where c holds
    ...     [var.name for var, _ in written_inputs(ctx)]
    ['x']
    """

    __slots__ = ("own", "choices", "atom", "seen", "why")

    def __init__(self, own: View, choices, atom, why: str = ""):
        self.own, self.choices, self.why = own, list(choices), why
        self.atom, self.seen = atom, self._versions()

    @property
    def box(self) -> Box:
        return self.own.box

    @property
    def path(self) -> tuple:
        return self.own.path

    def _versions(self) -> tuple:
        return tuple(v.box.version for v, _ in self.choices) + (self.own.box.version,)

    def _refuse_unknown(self) -> None:
        if any(flag is None for _, flag in self.choices):
            raise TraceError(self.why)

    def read(self):
        versions = self._versions()
        if versions != self.seen:
            self._refuse_unknown()
            ctx = self.own.box.ctx
            with ctx.recording():  # (read inside a loop's body: derived around it, and captured)
                value = _plain(self.own.box, self.own.read())
                for view, flag in reversed(self.choices):
                    value = ctx.emit("where", [flag, _plain(view.box, view.read()), value], view=False)
            self.atom, self.seen = value._atom, versions
        return self.atom

    def write(self, value, update_slice) -> None:
        self._refuse_unknown()
        for view, flag in self.choices:
            old = _plain(view.box, view.read())
            _write_view(view, view.box.ctx.emit("where", [flag, value, old], view=False), update_slice)
        _write_view(self.own, value, update_slice)
        self.atom, self.seen = value._atom, self._versions()


def _check_same_trace(box: Box, value) -> None:
    """TraceError when the write happens in a trace nested in the one ``box``'s array belongs to:
    a compiled loop's body (or a branch) writing, through a view it took, an array of the code
    around it that it does not carry (``for t in range(n): v = u.T; v += 1``): the new version
    would be a value of the inner trace, lost to (or undefined in) the outer one."""
    if value._ctx is not box.ctx:  # (the new value is of the trace recording now)
        raise TraceError("a compiled loop or conditional writes, through a view (such as v = u.T or "
                         "v = u[1:]; v += 1), into an array of the code around it that it does not "
                         "assign, so the write would be lost; write the array by its own name inside "
                         "it (u[1:] += 1, or u[...] = u + v.T), or copy the view")


def view_of(base, result, op: str, attrs: dict) -> None:
    """Give ``result`` (the Tracer of ``op(base, **attrs)``) a :class:`View` of ``base``'s box
    (made now when ``base`` had none); of an :class:`Alias`, an Alias of the same views."""
    ref = base._ref
    if ref is None:
        ref = base._ref = View(Box(base._ctx, base._value))
    if isinstance(ref, Alias):
        step = ((op, tuple(sorted(attrs.items()))),)
        result._ref = Alias(View(ref.own.box, ref.own.path + step),
                            [(View(v.box, v.path + step), flag) for v, flag in ref.choices], result._value, ref.why)
        return
    result._ref = View(ref.box, ref.path + ((op, tuple(sorted(attrs.items()))),), result._value)


def written_inputs(ctx) -> list[tuple[object, object]]:
    """(input Var, last value atom) of each argument box of ``ctx`` written while tracing, in
    the order of the inputs."""
    return [(box.input, box.atom) for box in ctx.boxes if box.input is not None and box.atom is not box.input]
