"""Functions into graphs and graphs back into traces: what every transformation is built on.

A transformation traces the user's function into a :class:`~mlc.ir.graph.Graph`
(:func:`trace_function`, in a trace that *captures*: traced values of an
enclosing trace that the function closes over become inputs of the graph),
transforms that graph into another (``Graph -> Graph``), and records the
result where it was called (:func:`inline_graph`): into the enclosing trace
(inside ``mlc.jit`` or another transformation), or, called on arrays, into a
trace of its own that is compiled and cached like a jitted function
(:func:`run_graph`, :class:`TopLevel`). So a transformed function is one
graph for the passes, fused and planned as any other.

>>> import numpy as np
>>> graph, out_tree, captured = trace_function(lambda x: np.sin(x) * 2, [np.zeros(3, "float32")])
>>> graph.ops(), out_tree, captured
(['sin', 'multiply'], '*', [])
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from ..errors import DTypeError, TraceError
from ..ir import dtype as dt
from ..ir.graph import Constant, Graph
from ..ir.structural import structural_equal, structural_hash
from ..ir.types import TensorType
from ..tracer.jit import jit
from ..tracer.numpy_creation import numpy_creation
from ..tracer.operands import as_tracer, is_weak_scalar
from ..tracer.pytree import flatten, unflatten
from ..tracer.source import describe_location, user_location
from ..tracer.state import written_inputs
from ..tracer.trace import BELOW, CALL, TraceContext, current_trace, is_tracing
from ..tracer.tracer import Tracer

__all__ = ["trace_function", "inline_graph", "is_array_leaf", "leaf_type", "TopLevel", "run_graph",
           "inside_transformation"]

_DEFAULT_DTYPES = {bool: "bool", int: "int64", float: "float64", complex: "complex128"}


def is_array_leaf(leaf) -> bool:
    """Whether a leaf of a transformed function's arguments is an array (traced, NumPy, a GPU
    array or a Python number); other leaves (strings, None-like options) pass through as they are."""
    return (isinstance(leaf, (Tracer, np.ndarray, np.generic)) or is_weak_scalar(leaf)
            or hasattr(leaf, "__cuda_array_interface__") or hasattr(leaf, "__dlpack__"))


def leaf_type(leaf) -> tuple[TensorType, bool]:
    """(type, weak) of an array leaf: a Python number is weak, of its kind's default dtype."""
    if isinstance(leaf, Tracer):
        return leaf._atom.type, leaf.weak
    if is_weak_scalar(leaf):
        return TensorType((), _DEFAULT_DTYPES[type(leaf)]), True
    return TensorType(tuple(leaf.shape), dt.canonical(np.dtype(leaf.dtype))), False


def inside_transformation() -> bool:
    """Whether a transformation's trace is recording (then a call with derivative rules of its own
    stays a call for it to see)."""
    ctx = current_trace()
    return ctx is not None and ctx.captures


def trace_function(fn, leaves, treedef=None, name: str = "f", *, types=None, user=None):
    """Trace ``fn(*unflatten(treedef, leaves))`` into a Graph; ``(graph, out_tree, captured)``.

    ``treedef`` is that of the tuple of ``fn``'s arguments (default: ``leaves`` are the arguments).

    The graph's inputs are one per array leaf (of ``types[n]``, a ``(TensorType, weak)``, when
    given: vmap traces with the batch axis removed), then one per value of an enclosing trace
    that ``fn`` uses (``captured`` lists those values, in order). Other leaves are passed to
    ``fn`` as they are. Its outputs are ``fn``'s result's leaves. ``user`` is the user's function
    ``fn`` calls (``fn`` itself by default): NumPy's creation functions in its module trace
    (:mod:`mlc.tracer.numpy_creation`).
    """
    if treedef is None:
        treedef = flatten(tuple(leaves))[1]
    with TraceContext(name, capture=True) as ctx, numpy_creation(fn if user is None else user):
        ctx.transformation = True
        args = []
        for n, leaf in enumerate(leaves):
            if not is_array_leaf(leaf):
                args.append(leaf)
                continue
            ttype, weak = types[n] if types is not None else leaf_type(leaf)
            args.append(ctx.new_input(ttype, f"x{n}", weak))
            ctx.arguments[id(args[-1]._atom)] = leaf  # (where its indices' bounds are checked: mlc.numpy.bounds)
        result = fn(*unflatten(treedef, args))
        written = written_inputs(ctx)
        if written:
            raise TraceError(f"{name}: the function writes into one of its arguments; a transformed function's "
                             f"arguments are values, and no caller's array would see the write. Write into a copy "
                             f"instead (x = x.copy()), and return what it computes{describe_location(user_location())}")
        out_leaves, out_tree = flatten(result)
        outputs = []
        for n, leaf in enumerate(out_leaves):
            try:
                out = as_tracer(leaf, ctx)
            except DTypeError as err:
                raise TraceError(f"output {n} of {name} is not an array or number: {err}") from None
            outputs.append(ctx.capture(out) if out._ctx is not ctx else out)
    below = [op for _, kind, op, _ in ctx.range_checks if kind == BELOW]
    if below:  # (np.bincount(i, minlength=n) of traced i: each value below n)
        raise TraceError(f"{name}: {below[0]} of traced values checks each against its length when the "
                         "function runs, and a transformed function (mlc.grad, mlc.vmap...) returns no "
                         "checks; pass the values as a NumPy array (known when tracing), or call it "
                         "outside the transformed function" + describe_location(user_location()))
    if ctx.range_checks:
        raise TraceError(f"{name}: a traced Python int is converted to a narrower integer dtype inside a "
                         "transformed function, whose range cannot be checked there; pass it as an array "
                         "of that dtype" + describe_location(user_location()))
    return ctx.finish(outputs), out_tree, [outer for outer, _ in ctx.captured]


def _read(env: dict, atom, ctx: TraceContext):
    if isinstance(atom, Constant):
        return Tracer(ctx, atom)
    return env[id(atom)]


def inline_graph(graph: Graph, args) -> list:
    """Record ``graph``'s bindings in the active trace on ``args`` (one per input: Tracers, arrays
    or numbers); returns its outputs as Tracers. A call with derivative rules of its own stays
    a call inside a transformation and is inlined elsewhere."""
    ctx = current_trace()
    env = {}
    for var, value in zip(graph.inputs, args):
        env[id(var)] = value if isinstance(value, Tracer) else as_tracer(value, ctx)
    saved = ctx.location
    try:
        for b in graph.bindings:
            ins = [_read(env, a, ctx) for a in b.args]
            ctx.location = b.loc or saved
            if b.op == CALL:
                body, rules = b.attr("body"), b.attr("rules")
                outs = (ctx.emit_call(body, rules, ins) if inside_transformation()
                        else tuple(inline_graph(body, ins)))
            else:
                out = ctx.emit(b.op, ins, b.attr_dict)
                outs = out if isinstance(out, tuple) else (out,)
            for var, value in zip(b.outputs, outs):
                env[id(var)] = value
    finally:
        ctx.location = saved
    return [_read(env, a, ctx) for a in graph.outputs]


# ------------------------------------------------------------------ called on arrays

_CACHE_SIZE = 256


class TopLevel:
    """A bounded cache of jitted functions for transformations called on arrays, keyed by what
    the transformation is (its kind, the user's function, its options)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jits: OrderedDict = OrderedDict()

    def jitted(self, key, make):
        with self._lock:
            hit = self._jits.get(key)
            if hit is not None:
                self._jits.move_to_end(key)
                return hit
        fn = jit(make())
        with self._lock:
            self._jits[key] = fn
            if len(self._jits) > _CACHE_SIZE:
                self._jits.popitem(last=False)
        return fn

    def clear(self) -> None:
        with self._lock:
            self._jits.clear()


TOP_LEVEL = TopLevel()


def static_split(leaves):
    """(the array leaves, a hashable key of the others and where they are)."""
    arrays, statics = [], []
    for n, leaf in enumerate(leaves):
        if is_array_leaf(leaf):
            arrays.append(leaf)
        else:
            statics.append((n, leaf))
    try:
        key = tuple(statics)
        hash(key)
    except TypeError:
        raise TraceError(f"an argument that is not an array must be hashable to be passed to a "
                         f"transformed function called on arrays, got {statics!r}") from None
    return arrays, key


def merge_static(arrays, statics, count: int) -> list:
    """The leaves ``static_split`` split, in their order again."""
    fixed = dict(statics)
    it = iter(arrays)
    return [fixed[n] if n in fixed else next(it) for n in range(count)]


def call_top_level(kind, fn, options, traced, args, kwargs=None):
    """``traced(*args, **kwargs)`` (the transformation recorded in a trace) jitted and cached for
    a call on arrays."""
    kwargs = kwargs or {}
    leaves, treedef = flatten((args, kwargs))
    arrays, statics = static_split(leaves)

    def make():
        def run(*array_leaves):
            a, k = unflatten(treedef, merge_static(array_leaves, statics, len(leaves)))
            return traced(*a, **k)
        run.__name__ = f"{kind}({getattr(fn, '__name__', type(fn).__name__)})"
        return run

    return TOP_LEVEL.jitted((kind, fn, options, treedef, statics), make)(*arrays)


def run_graph(graph: Graph, args) -> list:
    """``graph`` evaluated on ``args``: recorded in the active trace, or compiled (cached by the
    graph's structure) and run when called on arrays."""
    if is_tracing() or any(isinstance(a, Tracer) for a in args):
        return inline_graph(graph, args)
    try:
        key = ("graph", _GraphKey(graph))
    except TypeError:  # an attribute without a structural hash (a call's rules): not cached
        key = ("graph", id(graph))
    return list(TOP_LEVEL.jitted(key, lambda: _graph_runner(graph))(*args))


def _graph_runner(graph: Graph):
    def run(*args):
        return tuple(inline_graph(graph, args))
    run.__name__ = graph.name
    return run


class _GraphKey:
    """A graph as a cache key: equal when structurally equal."""

    __slots__ = ("graph", "_hash")

    def __init__(self, graph: Graph):
        self.graph = graph
        self._hash = structural_hash(graph)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, _GraphKey) and self._hash == other._hash and structural_equal(self.graph,
                                                                                                 other.graph)
