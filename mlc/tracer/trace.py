"""The trace being recorded: inputs, constants and op bindings, turned into a Graph.

A :class:`TraceContext` is active while a function is traced (one per
thread, nested traces stack). :meth:`TraceContext.emit` checks an op's
argument types with the op's shape/dtype rule and records a binding; errors
name the op and the user's source line.

>>> import numpy as np
>>> from mlc.ops.registry import TensorType
>>> with TraceContext("f") as ctx:
...     x = ctx.new_input(TensorType((3,), "float32"), "x")
...     y = ctx.emit("exp", [x])
>>> print(ctx.finish([y]).script())
@R.function
def f(x: R.Tensor((3,), "float32")):
    lv0 = R.exp(x)
    return lv0
"""
from __future__ import annotations

import contextlib

import threading

import numpy as np

from ..errors import DTypeError, IRError, MLCError, ShapeError, TraceError
from ..ir import dtype as dt
from ..ir.control import CONTROL_OPS, result_types
from ..ir.expr import PrimExpr
from ..ir.graph import Binding, Constant, Graph, Var, constant
from ..ops.registry import TensorType, get_op
from .inline_calls import CALL, inline_calls
from .source import describe_location, user_location
from .state import Box, View, view_of
from .tracer import Tracer

__all__ = ["control_flow_refusal", "TraceContext", "current_trace", "is_tracing", "MAX_ELEMENTS", "check_element_count", "CALL"]

#: The most elements a traced array may hold. Loop variables and indices are int32
#: (``dt.INDEX``); a schedule's fused loop over a larger array would overflow them.
MAX_ELEMENTS = 2**31 - 1


def check_element_count(shape, what: str) -> None:
    """ShapeError unless an array of ``shape`` has at most :data:`MAX_ELEMENTS` elements."""
    count = 1
    for extent in shape:
        if isinstance(extent, int):  # a symbolic extent (a dynamic axis) is checked at call time
            count *= extent
    if count > MAX_ELEMENTS:
        raise ShapeError(
            f"{what}: shape {tuple(shape)} has {count} elements, more than mlc's limit of "
            f"{MAX_ELEMENTS} (2**31 - 1) elements per array: loop and index arithmetic is 32-bit "
            f"({dt.INDEX}). Process the data in chunks below that size")

_state = threading.local()


def _stack() -> list:
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    return stack


def current_trace() -> TraceContext | None:
    """The innermost active trace of this thread, or None outside tracing."""
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else None


def active_traces() -> list[TraceContext]:
    """The active traces of this thread, outermost first."""
    return list(getattr(_state, "stack", None) or ())


def is_tracing() -> bool:
    return bool(getattr(_state, "stack", None))


#: ``check_range``'s dtype for an integer power's exponent: it must not be negative.
EXPONENT = "exponent"

#: ``check_range``'s dtype for a count of traced indices out of bounds: it must be 0.
BOUNDS = "bounds"

#: ``check_range``'s dtype for a raise under a traced condition (``if np.any(x < 0): raise
#: ValueError(...)``): the value is the condition, which must be 0; ``op`` is the exception's
#: class name and message, joined by a NUL.
RAISES = "raises"

#: ``check_range``'s dtype for a traced index into an axis of length ``limit``: it must be in
#: [-limit, limit), as NumPy's IndexError requires (``op`` describes the access and its line).
INDEX = "index"

#: ``check_range``'s dtype for the status a compiled loop or conditional returns: a pair of
#: 0-d int64 values (the 1-based number of the first check of its body that failed, 0 for
#: none; that check's value), ``op`` the tuple of those checks (:mod:`.checks`).
STATUS = "status"

#: ``check_range``'s dtype for an index into a static length (``np.bincount``'s values below
#: its ``minlength``): it must be in [0, limit).
BELOW = "below"

#: Ops whose NumPy counterpart returns a view of its (first) operand.
VIEW_OPS = frozenset({"slice", "reshape", "transpose", "moveaxis", "expand_dims", "squeeze",
                      "broadcast_to", "flip", "diagonal", "real", "imag"})


def _same_limit(a, b) -> bool:
    """Whether two checks' limits are one: ints equal, or the same size expression."""
    if isinstance(a, PrimExpr) or isinstance(b, PrimExpr):
        return a is b
    return a == b


def _same_contents(kept: np.ndarray, array: np.ndarray) -> bool:
    """Whether ``array`` still holds what ``kept`` copied (bit for bit: NaNs, -0.0)."""
    return (kept.shape == array.shape and kept.dtype == array.dtype
            and (kept.dtype.hasobject or kept.tobytes() == np.ascontiguousarray(array).tobytes()))


def control_flow_refusal(op_name: str, loc) -> TraceError:
    """The error of reverse-mode differentiation meeting a loop whose trip count is known only
    when the program runs (a ``while_loop``, or a ``fori_loop`` with traced bounds): its carries
    cannot be stored for the backward pass, as in JAX."""
    what = "while_loop" if op_name == "while_loop" else "fori_loop with traced bounds"
    return TraceError(f"reverse-mode differentiation (grad, vjp) does not go through a {what}: its "
                      f"trip count is known only when the program runs, so the values the backward "
                      f"pass needs cannot be stored. Give the loop Python-int bounds (mlc.fori_loop(0, n, "
                      f"...) with n an int, or a Python for loop over range(n)), or use forward mode "
                      f"(mlc.jvp, mlc.jacfwd){describe_location(loc)}")


class TraceContext:
    """Records one traced function; use as a context manager, then :meth:`finish`."""

    def __init__(self, name: str = "main", capture: bool = False):
        self.name = name
        #: a trace that captures: values of the traces active around it that its function uses
        #: (closures) become inputs of its graph (:meth:`capture`), as a transformation
        #: (mlc.grad, mlc.vmap) traces a function called inside another trace
        self.captures = capture
        #: the outer value and the input standing for it, per captured value
        self.captured: list[tuple[Tracer, Var]] = []
        #: whether this is a transformation's trace (``mlc.grad``, ``vmap``...: its function always
        #: runs once its transformed function does), set by ``mlc.transforms.tracing.trace_function``
        self.transformation = False
        #: a transformation's trace: id(input Var) -> the argument it stands for (a Tracer of a
        #: trace around, or an array); the values of an argument the transformation batches
        #: (vmap) are all of that argument's
        self.arguments: dict[int, object] = {}
        self._captured_atoms: dict[int, Tracer] = {}
        #: a loop body's trace: id(outer Tracer) -> (that Tracer, the body's Tracer naming the same
        #: array, or None): an outer array the loop carries under one name and the body reads
        #: under another (``c = b`` before the loop, ``c *= 0.5`` in it, ``b`` read) is the
        #: carried one (:meth:`capture`); ``stood_in`` collects the ids of those the body read
        self.stand_ins: dict[int, tuple[Tracer, Tracer]] = {}
        self.stood_in: set[int] = set()
        #: (box, outer Tracer) of each captured array: the trace must not write it
        #: (:meth:`written_captures`)
        self.captured_boxes: list = []
        #: where the ops recorded now come from, when not the user's line being traced: a
        #: transformation recording the derivative of a binding names that binding's line
        self.location = None
        self.inputs: list[Var] = []
        self.bindings: list[Binding] = []
        self._counter = 0
        self._scalars: dict[tuple, Constant] = {}
        self._arrays: dict[int, tuple[np.ndarray, Constant]] = {}
        #: (traced Python int, dtype, op, limit): values the compiled function must find within
        #: the dtype's range when it runs (see :meth:`check_range`)
        self.range_checks: list[tuple[Tracer, str, str, int]] = []
        #: where the compiled function's hidden key inputs are drawn from at every call, in
        #: the order of those inputs (:meth:`random_key`)
        self.key_sources: list = []
        self._keys: list[Tracer] = []
        self._key_uses = 0
        #: NumPy Generators made while tracing (``mlc.random.numpy_compat.default_rng``): made
        #: anew at every call in NumPy, their numbers are NumPy's own, constants of the trace
        self.generators_made: list = []
        #: the boxes of the arguments (:mod:`.state`), in the order of the inputs
        self.boxes: list[Box] = []
        #: whether traced indices are checked when the function runs (:meth:`check_index`): in
        #: a jitted function (unless ``mlc.jit(bounds_check=False)``) and the bodies of its
        #: compiled loops and conditionals; not in a transformation's trace
        self.bounds_checks = not capture
        #: whether :attr:`range_checks` are verified when the function runs: a jitted
        #: function's, and (returned as a status, :mod:`.checks`) its loop bodies' and branches'
        self.checked = not capture
        #: a for loop's body: its index (an input atom), and the checks of indices ``index +
        #: offset`` its body makes on every iteration, as ``(offset, size, op)``: the loop checks
        #: them once, at its first and last index (:func:`.control_flow.fori_loop`)
        self.loop_index = None
        #: that loop's (lower, upper) bounds, Tracers of the trace around it
        self.loop_bounds = None
        self.hoisted: list[tuple[int, int, object]] = []
        #: and the checks of indices computed around the loop (the same at every iteration), as
        #: ``(index, size, op)``: the loop checks them once, where it runs an iteration
        self.invariant: list[tuple[Tracer, int, object]] = []
        #: id(atom) -> (atom, lowest, highest): the values a compiled loop's index takes
        self._ranges: dict[int, tuple] = {}

    # -------------------------------------------------------------- lifetime

    def __enter__(self) -> TraceContext:
        _stack().append(self)
        return self

    def __exit__(self, *exc) -> None:
        stack = _stack()
        if stack and stack[-1] is self:
            stack.pop()

    def is_active(self) -> bool:
        """Whether this trace is recording now (entered and not yet left, in this thread)."""
        return any(t is self for t in _stack())

    def capture(self, value: Tracer) -> Tracer:
        """This trace's stand-in for ``value``, a traced value of an enclosing active trace: a new
        input of this graph (one per outer value); a constant is used as it is."""
        if value._ctx is self:
            return value
        value = self._through_loops(value)
        if value._ctx is self:
            return value
        entry = self.stand_ins.get(id(value))
        if entry is not None and entry[0] is value:
            self.stood_in.add(id(value))
            if entry[1] is not None:
                return entry[1]
        if isinstance(value._atom, Constant):
            return self._tracer(value._atom, value.weak)
        inner = self._captured_atoms.get(id(value._atom))
        if inner is None:
            var = Var(f"captured{len(self.captured)}", value._atom.type)
            self.inputs.append(var)
            self.captured.append((value, var))
            inner = self._captured_atoms[id(value._atom)] = self._tracer(var, value.weak)
            if not value.weak:  # a write into it (through a view) would be lost: see written_captures
                box = Box(self, var)
                self.captured_boxes.append((box, value))
                inner._ref = View(box)
        return inner if inner.weak == value.weak else Tracer(self, inner._atom, value.weak)

    @contextlib.contextmanager
    def recording(self):
        """``with ctx.recording():`` ops emitted go into this trace, though traces nested in it
        are active (a value of this trace derived again while a loop's body is traced: a view
        of an array written since, which the body then captures)."""
        stack = _stack()
        n = next((k for k, t in enumerate(stack) if t is self), None)
        above = stack[n + 1:] if n is not None else []
        if above:
            del stack[n + 1:]
        try:
            yield self
        finally:
            stack.extend(above)

    def _through_loops(self, value: Tracer) -> Tracer:
        """``value`` (of a trace around this one) as the traces between name it: a loop's body
        there that carries its array under another name (``c = a`` before the loop, ``a`` carried,
        ``c`` read in a loop inside it) reads the carried one (their ``stand_ins``)."""
        stack = _stack()
        start = next((n for n, t in enumerate(stack) if t is value._ctx), None)
        if start is None:
            return value
        for t in stack[start + 1:]:
            if t is self:
                break
            entry = t.stand_ins.get(id(value))
            if entry is not None and entry[0] is value:
                t.stood_in.add(id(value))
                if entry[1] is not None:
                    value = entry[1]
        return value

    def written_captures(self) -> list:
        """The outer Tracers of the captured arrays this trace wrote (through a view it took of
        one: ``v = u.T; v += 1`` in a loop's body, ``u`` of the code around): such a write
        would be lost, the trace returning only its results."""
        return [value for box, value in self.captured_boxes if box.version]

    def note_range(self, value: Tracer, lowest: int, highest: int) -> None:
        """Record that the traced int ``value`` (a loop's index) lies in ``[lowest, highest]``."""
        self._ranges[id(value._atom)] = (value._atom, lowest, highest)

    def value_range(self, atom):
        """``(lowest, highest)`` of a traced int noted with :meth:`note_range` (here, or around
        this trace for a captured one), else None."""
        entry = self._ranges.get(id(atom))
        if entry is not None and entry[0] is atom:
            return entry[1:]
        for outer, var in self.captured:
            if var is atom:
                return outer._ctx.value_range(outer._atom)
        return None

    def owner_of_copy(self, value: Tracer) -> Tracer:
        """``value`` (a Tracer of this trace) as a value of the innermost trace recording now,
        where a copy of it is made: captured into that trace when it is a capturing one nested
        in this one, so that a compiled branch or loop body that copies an array of the code
        around it (``t = x.copy(); t[0] = 1``) owns the copy and may write into it."""
        stack = _stack()
        inner = stack[-1] if stack else self
        if inner is self or not inner.accepts(value):
            return value
        return inner.capture(value)

    def accepts(self, value: Tracer) -> bool:
        """Whether ``value`` may be an operand here: this trace's own, or (for a capturing
        trace) one of an enclosing trace that is still recording."""
        return value._ctx is self or (self.captures and value._ctx.is_active())

    # ------------------------------------------------------------- values

    def _tracer(self, atom, weak: bool = False) -> Tracer:
        return Tracer(self, atom, weak)

    def new_input(self, ttype: TensorType, name: str, weak: bool = False):
        """A Tracer for a new graph input of type ``ttype``."""
        check_element_count(ttype.shape, f"argument {name!r}")
        var = Var(name, ttype)
        self.inputs.append(var)
        tracer = self._tracer(var, weak)
        if not weak:  # an argument may be written: the jit writes its last version back
            tracer.array0d = True
            box = Box(self, var, input=var)
            self.boxes.append(box)
            tracer._ref = View(box)
        return tracer

    def scalar(self, value, dtype: str):
        """A 0-d constant ``value`` of ``dtype`` (shared within the trace)."""
        key = (type(value), repr(value), dtype)  # repr: -0.0 and 0.0 are two constants
        const = self._scalars.get(key)
        if const is None:
            const = self._scalars[key] = constant(np.array(value, dtype=dtype), "c")
        return self._tracer(const)

    def array(self, array: np.ndarray):
        """A constant holding a copy of ``array`` (one per array object within the trace, and
        a new one when the function changed the array since its last use, as NumPy would
        see it)."""
        entry = self._arrays.get(id(array))
        if entry is None or not _same_contents(entry[1].data, array):
            dt.canonical(array.dtype)
            entry = self._arrays[id(array)] = (array, constant(array, "c"))
        return self._tracer(entry[1])

    def check_range(self, value: Tracer, dtype: str, op: str, limit: int = 0) -> None:
        """Require the traced Python int ``value`` to fit ``dtype`` when the function runs
        (:data:`BELOW`: to be in [0, ``limit``)).

        NumPy 2 raises OverflowError when a Python int does not fit the array
        dtype it is converted to; a traced int's value is known only at run
        time, so the compiled function returns it too and checks it then.
        """
        if not any(c[1] == dtype and _same_limit(c[3], limit) and (c[0] is value or (
                isinstance(c[0], Tracer) and isinstance(value, Tracer) and c[0]._atom is value._atom))
                   for c in self.range_checks):
            self.range_checks.append((value, dtype, op, limit))

    def check_index(self, value: Tracer, size, op: str) -> None:
        """Require the traced 0-d int ``value`` to be an index into an axis of ``size``
        elements (in ``[-size, size)``) when the function runs, else raise BoundsError naming
        ``op`` (what the access is and the user's line). Nothing when this trace checks no
        indices (:attr:`bounds_checks`). ``size`` may be a size expression of the dynamic axes
        (a PrimExpr), which the call evaluates from its arguments' shapes."""
        if self.bounds_checks:
            self.check_range(value, INDEX, op, size if isinstance(size, PrimExpr) else int(size))

    def random_key(self, source=None) -> tuple[Tracer, int]:
        """The call's random key: a uint32[2] input of the compiled function that the jit draws
        from ``source`` at every call (None: NumPy's global generator; see
        :mod:`.numpy_random`), made on first use, one per source; and how many keys were asked
        for before in this trace, which the caller folds into the key so that two draws differ.
        """
        for k, known in enumerate(self.key_sources):
            if known is source:
                break
        else:
            k = len(self.key_sources)
            var = Var(f"random_key{k}" if k else "random_key", TensorType((2,), "uint32"))
            self.inputs.append(var)
            self.key_sources.append(source)
            self._keys.append(self._tracer(var))
        uses, self._key_uses = self._key_uses, self._key_uses + 1
        return self._keys[k], uses

    # --------------------------------------------------------------- ops

    def emit(self, op_name: str, args, attrs: dict | None = None, view: bool = True):
        """Record ``op_name(*args, **attrs)``; returns a Tracer (a tuple for multi-output ops).

        While a capturing trace runs inside this one, the op is recorded there (its operands
        from this trace captured), so everything a transformed function computes is part of
        the graph that is transformed. The result of a view op (:data:`VIEW_OPS`) is a view
        of its operand, which sees later writes into it (:mod:`.state`), unless ``view`` is
        False."""
        inner = current_trace()
        if inner is not self and inner is not None and inner.captures and self.is_active():
            return inner.emit(op_name, args, attrs, view)
        if self.captures:
            args = [a if a._ctx is self or not a._ctx.is_active() else self.capture(a) for a in args]
        for a in args:
            if a._ctx is not self:
                raise TraceError(
                    f"{op_name}: an argument is a traced value from another (finished) trace; "
                    "a traced value escaped its function — return it instead of storing it"
                    + describe_location(user_location(2)))
        attrs = attrs or {}
        if op_name in CONTROL_OPS:  # a loop or conditional replayed (inline_graph, a transformation)
            return self.record(op_name, args, tuple(sorted(attrs.items())), result_types(op_name, attrs))
        op = get_op(op_name)
        types = [a._atom.type for a in args]
        try:
            result = op.infer(*types, **attrs)
        except (ShapeError, DTypeError) as err:
            raise type(err)(f"{err}{describe_location(user_location(2))}") from None
        except TypeError as err:  # wrong attribute names: a bug in the caller, reported plainly
            raise TraceError(f"{op_name}: {err}{describe_location(user_location(2))}") from None
        except IRError as err:
            if not any(not isinstance(d, int) for t in types for d in getattr(t, "shape", ())):
                raise
            shapes = ", ".join(str(t.shape) for t in types if hasattr(t, "shape"))
            raise TraceError(f"{op_name} does not support these dynamic axes (operand shapes {shapes}): "
                             f"{err}. Mark fewer axes dynamic (mlc.jit(dynamic=...)), or give this "
                             f"op static sizes{describe_location(user_location(2))}") from None
        outs = result if isinstance(result, (tuple, list)) else (result,)
        for t in outs:
            try:
                check_element_count(t.shape, f"the result of {op_name}")
            except ShapeError as err:
                raise ShapeError(f"{err}{describe_location(user_location(2))}") from None
        out_vars = tuple(Var(self._fresh(), t) for t in outs)
        binding = Binding(out_vars, op_name, tuple(a._atom for a in args),
                          tuple(sorted(attrs.items())), self.location or user_location(2))
        self.bindings.append(binding)
        tracers = tuple(self._tracer(v) for v in out_vars)
        if view and op_name in VIEW_OPS and not args[0].weak:  # NumPy's result shares the operand's memory
            view_of(args[0], tracers[0], op_name, attrs)
            tracers[0].array0d = True
        return tracers if isinstance(result, (tuple, list)) else tracers[0]

    def emit_call(self, body: Graph, rules, args) -> tuple:
        """Record a call of ``body`` (a traced function with its own derivative rules, ``rules``:
        :mod:`mlc.transforms.custom`) on ``args``; returns a Tracer per result. Such a binding
        lives only in the graph a transformation traces: the transformation applies ``rules``,
        or inlines ``body`` into the graph it records."""
        inner = current_trace()
        if inner is not self and inner is not None and inner.captures and self.is_active():
            return inner.emit_call(body, rules, args)
        args = [a if a._ctx is self or not self.captures else self.capture(a) for a in args]
        out_vars = tuple(Var(self._fresh(), v.type) for v in body.outputs)
        self.bindings.append(Binding(out_vars, CALL, tuple(a._atom for a in args),
                                     (("body", body), ("rules", rules)), self.location or user_location(2)))
        return tuple(self._tracer(v) for v in out_vars)

    def record(self, op: str, args, attrs: tuple, out_types) -> tuple:
        """Record a binding of a form that is no registry op (a loop or conditional of
        :mod:`mlc.ir.control`) on this trace's Tracers ``args``, with results of
        ``out_types``; a Tracer per result."""
        out_vars = tuple(Var(self._fresh(), t) for t in out_types)
        self.bindings.append(Binding(out_vars, op, tuple(a._atom for a in args), tuple(attrs),
                                     self.location or user_location(3)))
        return tuple(self._tracer(v) for v in out_vars)

    def _fresh(self) -> str:
        name = f"lv{self._counter}"
        self._counter += 1
        return name

    # ------------------------------------------------------------- result

    def finish(self, outputs) -> Graph:
        """The Graph whose outputs are the Tracers ``outputs``."""
        atoms = []
        for out in outputs:
            if getattr(out, "_ctx", None) is not self:
                raise MLCError("finish() takes Tracers of this trace")
            atoms.append(out._atom)
        graph = Graph(tuple(self.inputs), tuple(self.bindings), tuple(atoms), name=self.name)
        # a trace no transformation reads (a jitted function's) keeps no call with custom rules
        return graph if self.captures else inline_calls(graph)
