"""``mlc.grad``, ``value_and_grad``, ``vjp``, ``jvp`` and ``linearize``.

Each traces the user's function into a graph, transforms the graph
(:mod:`.vjp`, :mod:`.jvp`) and records the result where it is called: in
the enclosing trace (under ``mlc.jit``, ``mlc.vmap`` or another
transformation), or, called on arrays, compiled and cached like a jitted
function. Arguments and results are pytrees of arrays; leaves that are not
arrays (strings, options) pass through to the function unchanged.

>>> import numpy as np, mlc
>>> mlc.grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0, 3.0], "float32"))
array([2., 4., 6.], dtype=float32)
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import DTypeError, TraceError
from ..ir.graph import Graph
from ..ops.rules import differentiable
from ..tracer.autograph import convert
from ..tracer.operands import as_tracer
from ..tracer.pytree import flatten, num_leaves, unflatten
from ..tracer.trace import is_tracing
from .jvp import jvp_graph
from .partial_eval import partial_eval
from .tracing import call_top_level, inline_graph, is_array_leaf, leaf_type, run_graph, trace_function
from .vjp import vjp_graph

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "linearize"]


def _name(fun) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


def _argnums(argnums, n_args: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not isinstance(a, int) or not -n_args <= a < n_args:
            raise TraceError(f"{name}: argnums {argnums!r} does not name one of the {n_args} positional arguments")
    return tuple(a % n_args for a in nums)


def _leaf_ranges(args) -> list[range]:
    """The positions of each positional argument's leaves among the leaves of ``(args, kwargs)``."""
    ranges, start = [], 0
    for arg in args:
        count = len(flatten(arg)[0])
        ranges.append(range(start, start + count))
        start += count
    return ranges


def _split_aux(result, has_aux: bool, name: str):
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TraceError(f"{name}: with has_aux=True the function must return (output, aux), got "
                         f"{type(result).__name__}")
    return result[0], result[1]


def _value_and_grad(fun, argnums, has_aux: bool, name: str, args, kwargs):
    """(value, aux, grads as the argnums' pytrees) of ``fun`` at ``args``, recorded in the trace."""
    nums = _argnums(argnums, len(args), name)
    leaves, treedef = flatten((args, kwargs))
    ranges = _leaf_ranges(args)
    wanted = {n for a in nums for n in ranges[a]}
    for n in sorted(wanted):
        leaf = leaves[n]
        if is_array_leaf(leaf) and not differentiable(leaf_type(leaf)[0].dtype):
            raise DTypeError(f"{name}: argument leaf {n} is {leaf_type(leaf)[0].dtype}; only floating point "
                             "inputs can be differentiated (cast it, or leave it out of argnums)")

    def split(a, k):
        out, aux = _split_aux(convert(fun)(*a, **k), has_aux, name)
        return out, aux

    graph, out_tree, captured = trace_function(split, leaves, treedef, _name(fun), user=fun)
    n_out = num_leaves(out_tree[2][0])
    if n_out != 1 or graph.outputs[0].shape != () or not differentiable(graph.outputs[0].dtype):
        out = graph.outputs[0] if graph.outputs else None
        raise TraceError(f"{name}: the function must return one real scalar to be differentiated, got "
                         f"{n_out} array(s)" + (f", the first {out.dtype}{list(out.shape)}" if out is not None else "")
                         + "; use mlc.vjp or mlc.jacrev for other outputs")
    array_positions = [n for n, leaf in enumerate(leaves) if is_array_leaf(leaf)]
    wrt = [n in wanted for n in array_positions] + [False] * len(captured)
    vg = vjp_graph(graph, wrt, cts_for=[0])
    values = [leaves[n] for n in array_positions] + captured
    results = inline_graph(vg, values + [as_tracer(np.ones((), graph.outputs[0].dtype))])
    outs, grads = results[:len(graph.outputs)], iter(results[len(graph.outputs):])
    by_leaf = {n: next(grads) for n in array_positions if n in wanted}
    per_arg = [unflatten(flatten(args[a])[1], [by_leaf.get(n) for n in ranges[a]]) for a in nums]
    value_tree, aux_tree = _out_parts(out_tree)
    value = outs[0]
    aux = unflatten(aux_tree, outs[1:]) if has_aux else None
    return value, aux, (per_arg[0] if isinstance(argnums, int) else tuple(per_arg))


def _out_parts(out_tree):
    """The tree definitions of (output, aux) in the traced ``(output, aux)`` pair."""
    return out_tree[2][0], out_tree[2][1]


class _Transformed:
    """A transformed function: recorded in the enclosing trace, or jitted when called on arrays."""

    kind = ""

    def __init__(self, fun, options):
        if not callable(fun):
            raise TraceError(f"mlc.{self.kind} needs a function, got {fun!r}")
        functools.update_wrapper(self, fun, updated=())
        self.fun, self.options = fun, options

    def __call__(self, *args, **kwargs):
        if is_tracing():
            return self.traced(*args, **kwargs)
        return call_top_level(self.kind, self.fun, self.options, self.traced, args, kwargs)

    def traced(self, *args, **kwargs):
        raise NotImplementedError


class _Grad(_Transformed):
    kind = "grad"

    def traced(self, *args, **kwargs):
        argnums, has_aux = self.options
        _, aux, g = _value_and_grad(self.fun, argnums, has_aux, f"grad({_name(self.fun)})", args, kwargs)
        return (g, aux) if has_aux else g


class _ValueAndGrad(_Transformed):
    kind = "value_and_grad"

    def traced(self, *args, **kwargs):
        argnums, has_aux = self.options
        value, aux, g = _value_and_grad(self.fun, argnums, has_aux, f"value_and_grad({_name(self.fun)})",
                                        args, kwargs)
        return ((value, aux), g) if has_aux else (value, g)


def grad(fun, argnums=0, has_aux=False):
    """The gradient of ``fun``, a function returning one real scalar (and, with ``has_aux``, a
    second value returned beside the gradient), with respect to the positional argument(s)
    ``argnums`` (an int, or a tuple: then a tuple of gradients). Gradients have the pytree
    structure, shapes and dtypes of their arguments."""
    return _Grad(fun, (argnums if isinstance(argnums, int) else tuple(argnums), bool(has_aux)))


def value_and_grad(fun, argnums=0, has_aux=False):
    """``(fun(*args), grad(fun)(*args))`` in one program (``((value, aux), grad)`` with ``has_aux``)."""
    return _ValueAndGrad(fun, (argnums if isinstance(argnums, int) else tuple(argnums), bool(has_aux)))


# ------------------------------------------------------------------ jvp, vjp, linearize

def _trace_primals(fun, primals, name: str):
    if not isinstance(primals, (tuple, list)):
        raise TraceError(f"{name}: primals must be a tuple (or list) of the function's arguments, got "
                         f"{type(primals).__name__}")
    leaves, treedef = flatten(tuple(primals))
    graph, out_tree, captured = trace_function(convert(fun), leaves, treedef, _name(fun), user=fun)
    arrays = [leaf for leaf in leaves if is_array_leaf(leaf)]
    return leaves, treedef, graph, out_tree, captured, arrays


def _matching_tangents(leaves, treedef, tangents, name: str):
    t_leaves, t_tree = flatten(tuple(tangents))
    if t_tree != treedef:
        raise TraceError(f"{name}: tangents must have the structure of primals")
    out = []
    for n, (p, t) in enumerate(zip(leaves, t_leaves)):
        if not is_array_leaf(p):
            continue
        pt, tt = leaf_type(p)[0], leaf_type(t)[0] if is_array_leaf(t) else None
        if tt is None or tuple(pt.shape) != tuple(tt.shape):
            raise TraceError(f"{name}: tangent leaf {n} must have its primal's shape {tuple(pt.shape)}, got "
                             f"{None if tt is None else tuple(tt.shape)}")
        out.append(t)
    return out


def _jvp_traced(fun, primals, tangents):
    name = f"jvp({_name(fun)})"
    leaves, treedef, graph, out_tree, captured, arrays = _trace_primals(fun, primals, name)
    t_arrays = _matching_tangents(leaves, treedef, tangents, name)
    which = [differentiable(v.dtype) for v in graph.inputs[:len(arrays)]] + [False] * len(captured)
    jg = jvp_graph(graph, which)
    values = list(arrays) + captured + [t for t, w in zip(t_arrays, which) if w]
    results = inline_graph(jg, values)
    n = len(graph.outputs)
    return unflatten(out_tree, results[:n]), unflatten(out_tree, results[n:])


def jvp(fun, primals, tangents):
    """``(fun(*primals), J @ tangents)``: the function's value and its directional derivative
    along ``tangents`` (a tuple like ``primals``), by forward mode."""
    if is_tracing():
        return _jvp_traced(fun, primals, tangents)
    return call_top_level("jvp", fun, None, lambda p, t: _jvp_traced(fun, p, t), (tuple(primals), tuple(tangents)))


def vjp(fun, *primals, has_aux=False):
    """``(fun(*primals), vjp_fn)`` (and ``aux`` with ``has_aux``): ``vjp_fn(ct)`` is the cotangent
    of each primal (a tuple) for the output cotangent ``ct`` (the output's structure). The forward
    pass runs now; ``vjp_fn`` runs only the backward pass, on the values it saved."""
    name = f"vjp({_name(fun)})"

    def split(*a):
        return _split_aux(convert(fun)(*a), has_aux, name)

    leaves, treedef, graph, out_tree, captured, arrays = _trace_primals(split, primals, name)
    value_tree, aux_tree = _out_parts(out_tree)
    n_value = num_leaves(value_tree)
    n_in = len(arrays)
    vg = vjp_graph(graph, [True] * n_in + [False] * len(captured), cts_for=list(range(n_value)))
    n_out = len(graph.outputs)
    known, unknown = partial_eval(vg, [True] * (n_in + len(captured)) + [False] * n_value,
                                  list(range(n_out)), list(range(n_out, n_out + n_in)))
    results = run_graph(known, list(arrays) + captured)
    outs, residuals = results[:n_out], results[n_out:]
    primal_tree = flatten(tuple(primals))[1]

    def vjp_fn(ct):
        ct_leaves, ct_tree = flatten(ct)
        if ct_tree != value_tree or len(ct_leaves) != n_value:
            raise TraceError(f"{name}: the cotangent must have the output's structure")
        grads = iter(run_graph(unknown, list(residuals) + ct_leaves))
        return unflatten(primal_tree, [next(grads) if is_array_leaf(leaf) else None for leaf in leaves])

    value = unflatten(value_tree, outs[:n_value])
    if has_aux:
        return value, vjp_fn, unflatten(aux_tree, outs[n_value:])
    return value, vjp_fn


def linearize(fun, *primals):
    """``(fun(*primals), f_jvp)``: ``f_jvp(*tangents)`` is the directional derivative at
    ``primals`` (the linear map ``jvp`` applies), running only the part that depends on the
    tangents."""
    name = f"linearize({_name(fun)})"
    leaves, treedef, graph, out_tree, captured, arrays = _trace_primals(fun, primals, name)
    which = [differentiable(v.dtype) for v in graph.inputs[:len(arrays)]]
    jg = jvp_graph(graph, which + [False] * len(captured))
    n_t, n_out = sum(which), len(graph.outputs)
    n_in = len(arrays) + len(captured)
    try:
        known, unknown = partial_eval(jg, [True] * n_in + [False] * n_t, list(range(n_out)),
                                      list(range(n_out, 2 * n_out)))
    except ValueError:  # a loop carries values and tangents together: f_jvp recomputes the values
        known = Graph(graph.inputs, graph.bindings, graph.outputs + graph.inputs, name=f"{graph.name}_known")
        unknown = Graph(jg.inputs, jg.bindings, jg.outputs[n_out:], name=f"{graph.name}_tangents")
    results = run_graph(known, list(arrays) + captured)
    outs, residuals = results[:n_out], results[n_out:]

    def f_jvp(*tangents):
        t_arrays = _matching_tangents(leaves, treedef, tangents, name)
        return unflatten(out_tree, run_graph(unknown, list(residuals) + [t for t, w in zip(t_arrays, which) if w]))

    return unflatten(out_tree, outs), f_jvp
