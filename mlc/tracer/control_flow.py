"""Loops and conditionals that compile: ``fori_loop``, ``while_loop``, ``cond``, ``switch``, ``scan``.

Inside ``@mlc.jit`` each traces its functions once, into graphs nested in one
control-flow binding (:mod:`mlc.ir.control`), so a loop of a million
iterations is one loop in the compiled program, not a million copies of its
body. Carried values are pytrees (:mod:`.pytree`) of arrays; a value the
functions read from around them (a closure) is passed in as a captured input.
Outside a trace they run as Python (the loop a NumPy user would write).

>>> import numpy as np, mlc
>>> @mlc.jit
... def power(x, n):
...     return mlc.fori_loop(0, n, lambda i, acc: acc * x, np.ones_like(x))
>>> power(np.float32([2.0, 3.0]), np.int64(3))
array([ 8., 27.], dtype=float32)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from ..errors import TraceError
from ..ir.graph import Graph, Var, constant
from ..ir.types import TensorType
from . import pytree
from .operands import as_tracer, is_weak_scalar
from .source import describe_location, user_location
from .checks import body_status, carried_status, checked_around, zero_status
from .trace import STATUS, TraceContext, current_trace
from .tracer import Tracer

__all__ = ["fori_loop", "while_loop", "cond", "switch", "scan"]


def _where(depth: int = 3) -> str:
    return describe_location(user_location(depth))


def _leaf_tracer(ctx: TraceContext, leaf, what: str) -> Tracer:
    """``leaf`` as a Tracer of ``ctx``: its own, captured from an enclosing trace, or a constant."""
    if isinstance(leaf, Tracer):
        if leaf._ctx is ctx:
            return leaf
        if leaf._ctx.is_active() and ctx.captures:
            return ctx.capture(leaf)
        raise TraceError(f"{what}: a traced value from a finished trace; a traced value escaped "
                         f"its function{_where(4)}")
    try:
        return as_tracer(leaf, ctx)
    except Exception as err:  # noqa: BLE001 - reported with what holds it
        raise TraceError(f"{what}: {leaf!r} is not an array or a number ({err})") from None


class _Traced:
    """One function traced into a closed graph: its graph, the outer values it captured,
    its result's tree and its results' weakness. A body with run-time checks has two more
    results, its status (:mod:`.checks`; ``table`` the checks it numbers), after the
    function's; a loop body then takes the status carried in as two more inputs, after its
    first ``n_lead`` ones."""

    def __init__(self, graph: Graph, captured: list[Tracer], tree, weak: list[bool], table=None, hoisted=()):
        self.graph, self.captured, self.tree, self.weak, self.table = graph, captured, tree, weak, table
        self.hoisted = list(hoisted)  # (offset, size, op): loop-index checks the loop makes once

    @property
    def out_types(self) -> list[TensorType]:
        outs = self.graph.outputs[:-2] if self.table is not None else self.graph.outputs
        return [a.type for a in outs]


class ViewWritesLost(TraceError):
    """A loop's body or a branch wrote into ``arrays`` (Tracers of the code around it) through
    views it took of them: its results alone would lose those writes. Python's loops and ifs
    (:mod:`.autograph_runtime`) then carry the arrays and trace again."""

    def __init__(self, message: str, arrays: list):
        super().__init__(message)
        self.arrays = arrays


def _trace(fn: Callable, name: str, in_types: Sequence[TensorType], in_weak: Sequence[bool],
           build_args: Callable[[list[Tracer]], tuple], what: str,
           coerce: Sequence[TensorType | None] | None = None, carry_status: bool = False,
           site_offset: int = 0, checks: bool = True, loop_bounds=None, guard: bool | None = None) -> _Traced:
    """Trace ``fn(*build_args(inputs))`` into a graph whose inputs are ``in_types`` (then the
    values it captures). ``coerce``: per result, a type a weak result (a Python number) is
    converted to. The checks the body records (an index out of bounds) are returned as its
    status (:mod:`.checks`, its sites numbered from ``site_offset + 1``), which a loop body
    (``carry_status``) carries; a while loop's condition (``guard`` not None) is made false
    where they fail instead (:func:`_guarded`; ``guard``: the body carries a status too)."""
    outer = current_trace()
    with TraceContext(name, capture=True) as ctx:
        if outer is not None:  # a jitted function's loops check as it does; a transformation's not
            ctx.bounds_checks, ctx.checked = outer.bounds_checks, outer.checked
        inputs = []
        for k, (t, weak) in enumerate(zip(in_types, in_weak)):
            inputs.append(ctx.new_input(t, f"{name}_in{k}", weak=weak))
        if loop_bounds is not None:  # a for loop's body: its index first
            ctx.loop_index, ctx.loop_bounds = inputs[0]._atom, tuple(loop_bounds)
        out = fn(*build_args(inputs))
        if ctx.written_captures():
            raise ViewWritesLost(
                f"{what} writes, through a view (such as v = u.T or v = u[1:]; v += 1), "
                "into an array of the code around it that it does not assign, which a "
                "compiled loop or conditional would lose; write the array by its own name "
                f"(u[1:] += 1, or u[...] = u + v.T), or copy the view{_where(3)}", ctx.written_captures())
        leaves, tree = pytree.flatten(out)
        tracers = []
        for k, leaf in enumerate(leaves):
            weak = is_weak_scalar(leaf) or (isinstance(leaf, Tracer) and leaf.weak)
            t = _leaf_tracer(ctx, leaf, f"{what}: result {k}")
            want = coerce[k] if coerce is not None and k < len(coerce) else None
            if want is not None and weak and t._atom.type != want:
                t = _convert(ctx, t, want)
            tracers.append((t, weak))
        status = body_status(ctx, site_offset) if ctx.checked and checks else None
        results = [t for t, _ in tracers]
        table = None
        guarded = False
        if guard is not None:  # a while loop's condition: false once a check failed (its or the body's)
            results[0], guarded = _guarded(ctx, name, results[0], status, guard), status is not None
            status = None
        if status is not None:
            site, value, table = status
            if carry_status:
                before = [Var(f"{name}_status{k}", TensorType((), "int64")) for k in range(2)]
                ctx.inputs.extend(before)
                site, value = carried_status(ctx, tuple(ctx._tracer(v) for v in before), (site, value))
            results += [site, value]
        graph = ctx.finish(results)
    captured = [outer for outer, _ in ctx.captured]
    traced = _Traced(graph, captured, tree, [w for _, w in tracers], table, ctx.hoisted)
    traced.invariant = list(ctx.invariant)
    traced.guarded = guarded
    return traced


def _guarded(ctx: TraceContext, name: str, go: Tracer, status, carried: bool) -> Tracer:
    """A while loop's condition ``go``, false where a check of the condition failed (its
    ``status``) or, ``carried``, where the status the body carries (two more inputs) holds a
    failure: the loop stops at the first index out of bounds, as NumPy would raise there."""
    stops = []
    if status is not None:
        stops.append(status[0])
    if carried:
        before = [Var(f"{name}_status{k}", TensorType((), "int64")) for k in range(2)]
        ctx.inputs.extend(before)
        stops.append(ctx._tracer(before[0]))
    for site in stops:
        ok = ctx.emit("equal", [site, ctx.scalar(0, "int64")])
        go = ctx.emit("logical_and", [go.strong(), ok])
    return go.strong()


def _convert(ctx: TraceContext, t: Tracer, want: TensorType) -> Tracer:
    if t._atom.type.dtype != want.dtype:
        t = ctx.emit("astype", [t.strong()], {"dtype": want.dtype})
    if tuple(t.shape) != tuple(want.shape):
        t = ctx.emit("broadcast_to", [t], {"shape": tuple(want.shape)})
    return t.strong()


def _with_inputs(traced: _Traced, n_lead: int, captured: list[Tracer], status: bool = False) -> Graph:
    """``traced``'s graph taking its first ``n_lead`` inputs, then (``status``: a loop that
    carries a status) the status carried in, then one input per value of ``captured`` (the
    union of what the functions of one binding captured), in that order."""
    g = traced.graph
    m = len(traced.captured)
    own = dict(zip((id(c._atom) for c in traced.captured), g.inputs[n_lead:n_lead + m]))
    inputs = list(g.inputs[:n_lead])
    if status:  # carried in by this body, or unused (a loop's condition, a body without checks)
        inputs += list(g.inputs[n_lead + m:]) or [Var(f"status{k}", TensorType((), "int64")) for k in range(2)]
    for k, c in enumerate(captured):
        inputs.append(own.get(id(c._atom)) or Var(f"captured{k}", c._atom.type))
    return Graph(tuple(inputs), g.bindings, g.outputs, name=g.name)


def _union(*traced: _Traced) -> list[Tracer]:
    seen: dict[int, Tracer] = {}
    for t in traced:
        for c in t.captured:
            seen.setdefault(id(c._atom), c)
    return list(seen.values())


def _record(ctx: TraceContext, op: str, args: list[Tracer], attrs: tuple, out_types) -> list[Tracer]:
    """Record control-flow binding ``op`` in ``ctx``; a Tracer per result."""
    args = [_leaf_tracer(ctx, a, op) for a in args]
    return list(ctx.record(op, args, attrs, out_types))


def _carry(init, what: str):
    """(leaves as Tracers of the active trace, tree, types, weakness) of a carried pytree."""
    ctx = current_trace()
    leaves, tree = pytree.flatten(init)
    tracers, weak = [], []
    for k, leaf in enumerate(leaves):
        weak.append(is_weak_scalar(leaf) or (isinstance(leaf, Tracer) and leaf.weak))
        tracers.append(_leaf_tracer(ctx, leaf, f"{what}: carried value {k}"))
    return tracers, tree, [t._atom.type for t in tracers], weak


def _check_carry(what: str, traced: _Traced, tree, types: list[TensorType], names=None) -> None:
    if traced.tree != tree:
        raise TraceError(f"{what}: the body must return the carry's structure {_show(tree)}, "
                         f"got {_show(traced.tree)}{_where(4)}")
    if traced.out_types != list(types):
        bad = next(k for k, (a, b) in enumerate(zip(traced.out_types, types)) if a != b)
        named = f" (variable {names[bad]!r})" if names is not None else ""
        raise TraceError(
            f"{what}: carried value {bad}{named} enters the loop as {_describe(types[bad])} but the body "
            f"returns {_describe(traced.out_types[bad])}; a carried value keeps its shape and dtype "
            f"through the loop: give the initial value that dtype and shape (e.g. "
            f"np.zeros({tuple(traced.out_types[bad].shape)}, {traced.out_types[bad].dtype!r})) or "
            f"convert the body's result (.astype){_where(4)}")


def _show(tree) -> str:
    return "a single array" if tree == pytree.LEAF else repr(pytree.unflatten(tree, ["*"] * pytree.num_leaves(tree)))


def _describe(t: TensorType) -> str:
    return f"{t.dtype}{list(t.shape)}"


def _loop_types(init_types, init_weak, trace_once, lead: int = 0):
    """Trace a loop's body, again where a weak carry (a Python number) comes out with another
    dtype (``0.0`` summing float32 values carries float32, as JAX's does): that carry takes the
    body's dtype; the others stay as they entered, a Python number still one (``k += 1`` beside
    it keeps ``x * k`` float32 after the loop, as NumPy's Python int does). ``lead``: the body's
    inputs before its carried ones (a for loop's index)."""
    types, weak = list(init_types), list(init_weak)
    traced = trace_once(types, weak)
    for _ in range(len(types)):
        out = traced.out_types
        changed = [len(out) == len(types) and w and a != b and a.shape == b.shape
                   for w, a, b in zip(weak, types, out)]
        if not any(changed):
            break
        types = [b if c else a for c, a, b in zip(changed, types, out)]
        weak = [w and not c for w, c in zip(weak, changed)]
        traced = _retyped(traced, changed, types, lead) or trace_once(types, weak)
    return types, traced, [w and out_weak for w, out_weak in zip(weak, traced.weak)]


def _retyped(traced: _Traced, changed: list[bool], types: list[TensorType], lead: int) -> _Traced | None:
    """``traced`` (a loop body) taking its carried inputs ``changed`` (after the first ``lead``)
    as ``types``, where the body does not read them (``udiff = 1`` carried to a while loop's
    condition, the body only assigning it): its trace holds for those types as it is. None
    where it reads one (it is traced again)."""
    g = traced.graph
    carried = g.inputs[lead:lead + len(changed)]
    used = {id(a) for b in g.bindings for a in b.args} | {id(o) for o in g.outputs}
    if any(c and id(v) in used for v, c in zip(carried, changed)):
        return None
    inputs = list(g.inputs)
    for k, (v, c) in enumerate(zip(carried, changed)):
        if c:
            inputs[lead + k] = Var(v.name, types[k])
    traced.graph = replace(g, inputs=tuple(inputs))
    return traced


def _weak_results(outs: list, weak: list[bool]) -> list:
    """A loop's results, a Python number where the carry entered as one and the body kept it one."""
    return [o.weak_copy() if w else o for o, w in zip(outs, weak)] + list(outs[len(weak):])


def _cast_all(tracers: list[Tracer], types: list[TensorType]) -> list[Tracer]:
    ctx = current_trace()
    return [t if t._atom.type == want else _convert(ctx, t, want) for t, want in zip(tracers, types)]


# ------------------------------------------------------------------------------ fori_loop


def fori_loop(lower, upper, body_fun: Callable, init_val, *, _what: str = "fori_loop", _names=None):
    """``for i in range(lower, upper): val = body_fun(i, val)``; returns ``val``.

    Inside ``@mlc.jit`` the loop is one compiled loop: ``body_fun`` is traced once,
    ``lower`` and ``upper`` may be Python ints or traced int scalars. ``i`` is a traced int
    that mixes with arrays as the Python int of a Python loop would (NEP 50: ``x + i`` keeps
    ``x``'s dtype). ``val`` is a pytree of arrays whose shapes and dtypes the body keeps.

    >>> import numpy as np, mlc
    >>> mlc.jit(lambda x: mlc.fori_loop(0, 3, lambda i, v: v + i, x))(np.zeros(2, "int64"))
    array([3, 3])
    """
    ctx = current_trace()
    if ctx is None:
        val = init_val
        for i in range(int(lower), int(upper)):
            val = body_fun(i, val)
        return val
    bounds = _bounds(ctx, lower, upper)
    init, tree, types, weak = _carry(init_val, "fori_loop")
    index_type = bounds[0]._atom.type

    def trace_once(carry_types, carry_weak):
        return _trace(lambda i, *c: body_fun(i, pytree.unflatten(tree, list(c))), "for_loop_body",
                      [index_type, *carry_types], [True, *carry_weak], lambda ins: ins,
                      "fori_loop body", [*carry_types], carry_status=True, loop_bounds=bounds)

    types, traced, weak = _loop_types(types, weak, trace_once, lead=1)
    _check_carry(_what, traced, tree, types, _names)
    captured = _union(traced)
    checked = traced.table is not None
    body = _with_inputs(traced, 1 + len(types), captured, checked)
    extra = list(zero_status(ctx)) if checked else []
    outs = _record(ctx, "for_loop", [*bounds, *_cast_all(init, types), *extra, *captured],
                   (("body", body), ("num_carry", len(types) + len(extra))), types + [e._atom.type for e in extra])
    _check_hoisted(ctx, bounds, traced.hoisted, traced.invariant)
    return pytree.unflatten(tree, _weak_results(_status(ctx, outs, traced.table), weak))


def _check_hoisted(ctx: TraceContext, bounds: list[Tracer], hoisted, invariant=()) -> None:
    """Check, once around the loop, the indices ``i + offset`` its body reads or writes at
    every iteration ``i`` of ``range(lower, upper)`` (``offset`` an int, or ``(k, sign, c)`` for
    ``c + sign * k``, ``k`` a value around the loop): the first that NumPy would find out of
    bounds is ``lower + offset`` when that is below ``-size``, else the first one at or past
    ``size`` (none where the loop runs no iteration); and the ``invariant`` indices, computed
    around the loop, where it runs an iteration."""
    if not hoisted and not invariant:
        return
    if not ctx.bounds_checks:  # a loop of a transformed function (mlc.grad, vmap...): checked around it
        around = checked_around(ctx, bounds, hoisted, invariant)
        if around is not None:
            with around[0]:
                _check_hoisted(*around)
        return
    lower, upper = (b if b.dtype == np.int64 else ctx.emit("astype", [b], {"dtype": "int64"}) for b in bounds)

    def c(v):
        return ctx.scalar(int(v), "int64")
    runs = ctx.emit("greater", [upper, lower])
    for index, size, op in invariant:
        ctx.check_index(ctx.emit("where", [runs, index, c(0)]).strong(), size, op)
    for offset, size, op in hoisted:
        if isinstance(offset, tuple):  # i + c + k (sign 1) or i + c - k (-1), k computed around the loop
            k, sign, offset = offset
            k = k if k.dtype == np.int64 else ctx.emit("astype", [k.strong()], {"dtype": "int64"})
            k = k if sign > 0 else ctx.emit("negative", [k])
            lo = ctx.emit("add", [ctx.emit("add", [lower, k]), c(offset)])
            hi = ctx.emit("add", [ctx.emit("add", [upper, k]), c(offset - 1)])
        else:
            lo = ctx.emit("add", [lower, c(offset)])
            hi = ctx.emit("add", [upper, c(offset - 1)])
        past = ctx.emit("where", [ctx.emit("greater_equal", [hi, c(size)]), ctx.emit("maximum", [lo, c(size)]), c(0)])
        first = ctx.emit("where", [ctx.emit("less", [lo, c(-size)]), lo, past])
        ctx.check_index(ctx.emit("where", [runs, first, c(0)]).strong(), size, op)


def _status(ctx: TraceContext, outs: list, table) -> list:
    """``outs`` without the status a loop or conditional returns last (where its body checks
    something), which ``ctx`` then checks."""
    if table is None:
        return outs
    ctx.check_range(tuple(outs[-2:]), STATUS, table)
    return outs[:-2]


def _bounds(ctx: TraceContext, lower, upper) -> list[Tracer]:
    """The loop's bounds as int 0-d Tracers of one dtype (int64 unless a traced bound says
    otherwise)."""
    out = []
    for name, v in (("lower", lower), ("upper", upper)):
        if isinstance(v, Tracer):
            if v.shape != () or v.dtype.kind not in "iu":
                raise TraceError(f"fori_loop: {name} must be an int or a traced int scalar, got "
                                 f"{v!r}{_where(4)}")
        elif isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TraceError(f"fori_loop: {name} must be an int or a traced int scalar, got "
                             f"{v!r} of type {type(v).__name__}{_where(4)}")
        out.append(v)
    dtype = next((str(v.dtype) for v in out if isinstance(v, Tracer)), "int64")
    result = []
    for v in out:
        t = _leaf_tracer(ctx, v, "fori_loop") if isinstance(v, Tracer) else ctx.scalar(int(v), dtype)
        if t._atom.type.dtype != dtype:
            t = ctx.emit("astype", [t.strong()], {"dtype": dtype})
        result.append(t.strong())
    return result


# ----------------------------------------------------------------------------- while_loop


def while_loop(cond_fun: Callable, body_fun: Callable, init_val, *, _what: str = "while_loop",
               _names=None, _accept=None):
    """``while cond_fun(val): val = body_fun(val)``; returns ``val``.

    Inside ``@mlc.jit`` one compiled loop: ``cond_fun`` returns a traced bool scalar,
    both functions are traced once.

    >>> import numpy as np, mlc
    >>> halve = mlc.jit(lambda x: mlc.while_loop(lambda v: v.max() > 1, lambda v: v / 2, x))
    >>> halve(np.float32([8.0, 3.0]))
    array([1.   , 0.375], dtype=float32)
    """
    ctx = current_trace()
    if ctx is None:
        val = init_val
        while cond_fun(val):
            val = body_fun(val)
        return val
    init, tree, types, weak = _carry(init_val, "while_loop")

    def trace_once(carry_types, carry_weak):
        return _trace(lambda *c: body_fun(pytree.unflatten(tree, list(c))), "while_body",
                      carry_types, carry_weak, lambda ins: ins, "while_loop body", [*carry_types],
                      carry_status=True)

    types, traced, weak = _loop_types(types, weak, trace_once)
    _check_carry(_what, traced, tree, types, _names)
    checked = traced.table is not None
    test = _trace(lambda *c: _truth(cond_fun(pytree.unflatten(tree, list(c))), "while_loop cond"),
                  "while_cond", types, [False] * len(types), lambda ins: ins, "while_loop cond", guard=checked)
    if _accept is not None:  # (the caller's last word before the loop is recorded)
        _accept(test, traced, len(types))
    captured = _union(test, traced)
    extra = list(zero_status(ctx)) if checked else []
    graphs = (("cond", _with_inputs(test, len(types), captured, checked)),
              ("body", _with_inputs(traced, len(types), captured, checked)), ("num_carry", len(types) + len(extra)))
    outs = _record(ctx, "while_loop", [*_cast_all(init, types), *extra, *captured], graphs,
                   types + [e._atom.type for e in extra])
    outs = _weak_results(_status(ctx, outs, traced.table), weak)
    if test.guarded:  # the condition's checks, on the values it stopped at: they fail there if any did
        cond_fun(pytree.unflatten(tree, list(outs)))
    return pytree.unflatten(tree, outs)


def _truth(value, what: str):
    """A condition as a bool 0-d value (NumPy's truth: non-zero)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, Tracer):
        if value.shape != ():
            raise TraceError(f"{what} must give a scalar, got {value!r}: the truth value of an array "
                             f"is ambiguous; use .any() or .all(){_where(4)}")
        return value if value.dtype == np.bool_ else value != 0
    raise TraceError(f"{what} must give a bool or a traced bool scalar, got {value!r}{_where(4)}")


# ----------------------------------------------------------------------------- cond/switch


def switch(index, branches: Sequence[Callable], *operands):
    """``branches[index](*operands)``, the index clamped into range; every branch returns
    values of one structure, shapes and dtypes (a Python number takes the others' type).

    >>> import numpy as np, mlc
    >>> f = mlc.jit(lambda k, x: mlc.switch(k, [lambda v: v, lambda v: v * 2, lambda v: -v], x))
    >>> f(np.int64(1), np.float32([1, 2])), f(np.int64(7), np.float32([1, 2]))
    (array([2., 4.], dtype=float32), array([-1., -2.], dtype=float32))
    """
    branches = list(branches)
    if not branches:
        raise TraceError(f"switch needs at least one branch{_where()}")
    ctx = current_trace()
    if not isinstance(index, Tracer):
        if isinstance(index, (bool, np.bool_)):
            index = int(index)
        return branches[min(max(int(index), 0), len(branches) - 1)](*operands)
    if index.shape != () or index.dtype.kind not in "iub":
        raise TraceError(f"switch: the index must be an int or bool scalar, got {index!r}{_where()}")
    index = _leaf_tracer(ctx, index, "switch").strong()
    if len(branches) == 1:
        return branches[0](*operands)
    leaves, tree = pytree.flatten(list(operands))
    ops = [_leaf_tracer(ctx, leaf, f"switch: operand {k}") for k, leaf in enumerate(leaves)]
    types = [t._atom.type for t in ops]

    offsets: list[int] = []  # each branch's status sites follow the earlier branches'

    def trace_branch(fn, coerce=None, k=None):
        if k is None:
            k = len(offsets)
            offsets.append(sum(len(t.table or ()) for t in traced))
        return _trace(lambda *a: fn(*pytree.unflatten(tree, list(a))), "branch", types,
                      [t.weak for t in ops], lambda ins: ins, "switch branch", coerce, site_offset=offsets[k])

    traced: list[_Traced] = []
    for fn in branches:
        traced.append(trace_branch(fn))
    first = traced[0]
    for k, t in enumerate(traced[1:], 1):
        if t.tree != first.tree:
            raise TraceError(f"switch: branch {k} returns {_show(t.tree)} but branch 0 returns "
                             f"{_show(first.tree)}; every branch returns the same structure{_where()}")
    out_types = []
    for n in range(len(first.out_types)):
        strong = [t.out_types[n] for t in traced if not t.weak[n]]
        out_types.append(strong[0] if strong else first.out_types[n])
    for k, fn in enumerate(branches):
        if traced[k].out_types != out_types:
            traced[k] = trace_branch(fn, out_types, k)
        if traced[k].out_types != out_types:
            bad = next(n for n, (a, b) in enumerate(zip(traced[k].out_types, out_types)) if a != b)
            raise TraceError(f"switch: result {bad} of branch {k} is {_describe(traced[k].out_types[bad])}"
                             f", of another branch {_describe(out_types[bad])}; every branch returns "
                             f"values of one shape and dtype (convert with .astype, or "
                             f"np.broadcast_to){_where()}")
    captured = _union(*traced)
    graphs = tuple(_with_inputs(t, len(ops), captured) for t in traced)
    table = None
    if any(t.table is not None for t in traced):  # every branch returns a status
        table = tuple(e for t in traced for e in (t.table or ()))
        zero = constant(np.array(0, "int64"), "c")
        graphs = tuple(g if t.table is not None else Graph(g.inputs, g.bindings, g.outputs + (zero, zero), name=g.name)
                       for g, t in zip(graphs, traced))
        out_types = out_types + [TensorType((), "int64")] * 2
    outs = _status(ctx, _record(ctx, "switch", [index, *ops, *captured], (("branches", graphs),), out_types), table)
    # a Python number from every branch stays one (it adopts the dtype of the arrays it meets)
    outs = [o.weak_copy() if all(t.weak[n] for t in traced) else o for n, o in enumerate(outs)]
    return pytree.unflatten(first.tree, outs)


def cond(pred, true_fun: Callable, false_fun: Callable, *operands):
    """``true_fun(*operands) if pred else false_fun(*operands)``, with ``pred`` a traced bool
    scalar (or a Python bool: then only that branch is traced).

    >>> import numpy as np, mlc
    >>> f = mlc.jit(lambda x: mlc.cond(x.sum() > 0, lambda v: v * 2, lambda v: -v, x))
    >>> f(np.float32([1, 2])), f(np.float32([-1, -2]))
    (array([2., 4.], dtype=float32), array([1., 2.], dtype=float32))
    """
    if isinstance(pred, Tracer):
        pred = _truth(pred, "cond's predicate")
    elif not isinstance(pred, (bool, np.bool_)):
        try:
            pred = bool(pred)
        except TraceError:
            raise
    return switch(pred, [false_fun, true_fun], *operands)


# ------------------------------------------------------------------------------------ scan


def scan(f: Callable, init, xs=None, length: int | None = None):
    """``carry, y = f(carry, x)`` for each ``x`` along the first axis of ``xs`` (a pytree),
    returning ``(carry, ys)`` with the ``y`` stacked along a new first axis (JAX's
    ``lax.scan``). ``xs=None`` scans ``length`` steps with ``x = None``.

    >>> import numpy as np, mlc
    >>> cumsum = mlc.jit(lambda v: mlc.scan(lambda c, x: (c + x, c + x), np.float32(0), v))
    >>> cumsum(np.float32([1, 2, 3]))
    (array(6., dtype=float32), array([1., 3., 6.], dtype=float32))
    """
    x_leaves, x_tree = pytree.flatten(xs)
    shapes = [tuple(leaf.shape) if isinstance(leaf, Tracer) else np.shape(leaf) for leaf in x_leaves]
    lengths = {int(shape[0]) for shape in shapes if shape}
    if length is None:
        if len(lengths) != 1:
            raise TraceError(f"scan: the arrays of xs must share their first axis' length (got "
                             f"{sorted(lengths) or 'no arrays'}); or pass length={_where()}")
        (length,) = lengths
    elif lengths and lengths != {length}:
        raise TraceError(f"scan: length={length} but xs' first axes are {sorted(lengths)}{_where()}")
    ctx = current_trace()
    if ctx is None:
        carry, ys = init, []
        for i in range(length):
            carry, y = f(carry, pytree.unflatten(x_tree, [leaf[i] for leaf in x_leaves]))
            ys.append(y)
        if not ys:
            raise TraceError("scan of length 0 outside a trace has no ys' shapes; call it inside @mlc.jit")
        y_leaves = [np.stack(leaves) for leaves in zip(*(pytree.flatten(y)[0] for y in ys))]
        return carry, pytree.unflatten(pytree.flatten(ys[0])[1], y_leaves)
    init_leaves, init_tree = pytree.flatten(init)
    x_tracers = [_leaf_tracer(ctx, leaf, "scan: xs") for leaf in x_leaves]

    def step(i, carry):  # NumPy's functions on Tracers record mlc.numpy's
        at = np.reshape(i, (1,))  # (the loop's index, in [0, length): the gather checks nothing)
        x = pytree.unflatten(x_tree, [np.reshape(current_trace().emit("take", [leaf, at], {"axis": 0}),
                                                 leaf.shape[1:]) for leaf in x_tracers])
        return f(carry, x)

    # the types of y: f traced once on its own (that graph is dropped)
    init_types = [_leaf_tracer(ctx, c, "scan: init")._atom.type for c in init_leaves]
    probe = _trace(lambda i, *c: step(i, pytree.unflatten(init_tree, list(c))), "scan_probe",
                   [TensorType((), "int64"), *init_types], [False] * (1 + len(init_types)),
                   lambda ins: ins, "scan body")
    out = pytree.unflatten(probe.tree, list(range(len(probe.out_types))))
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TraceError(f"scan: f must return a pair (carry, y), got {_show(probe.tree)}{_where()}")
    y_positions, y_tree = pytree.flatten(out[1])
    y_types = [probe.out_types[k] for k in y_positions]
    rows = ctx.array(np.arange(length, dtype="int64"))
    ys0 = [np.zeros((length, *t.shape), t.dtype) for t in y_types]

    def body(i, state):
        carry, ys = state
        new_carry, y = step(i, carry)
        out_ys = []
        for buf, leaf in zip(ys, pytree.flatten(y)[0]):
            mask = np.reshape(rows == i, (length,) + (1,) * (buf.ndim - 1))
            y_leaf = _leaf_tracer(current_trace(), leaf, "scan: y")
            out_ys.append(np.where(mask, y_leaf.astype(buf.dtype)[None], buf))
        return new_carry, out_ys

    carry, ys = fori_loop(0, length, body, (init, ys0))
    return carry, pytree.unflatten(y_tree, list(ys))
