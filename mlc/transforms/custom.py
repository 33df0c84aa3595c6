"""User functions with derivative rules of their own: ``custom_vjp``, ``custom_jvp``, and
``stop_gradient``.

Called inside a transformation, a decorated function is traced into a
graph and recorded as one ``call`` binding that carries its rules; each
transformation applies the rules (reverse mode the ``fwd``/``bwd`` pair,
forward mode the ``jvp``; reverse mode of a ``custom_jvp`` function
transposes its JVP, batching batches the body and the rules with it).
Anywhere else (under ``mlc.jit``, on arrays) the function is simply called.

>>> import numpy as np, mlc
>>> @mlc.custom_vjp
... def clip_gradient(x):
...     return x
>>> clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (np.clip(g, -1.0, 1.0),))
>>> float(mlc.grad(lambda x: 3.0 * clip_gradient(x))(2.0))
1.0
"""
from __future__ import annotations

import functools

import numpy as np

from ..errors import TraceError
from ..ops.rules import apply_op, instantiate
from ..tracer.operands import as_tracer
from ..tracer.pytree import flatten, unflatten
from ..tracer.source import describe_location, user_location
from ..tracer.trace import current_trace
from .batching import batch_eval, moved
from .tracing import inline_graph, inside_transformation, is_array_leaf, merge_static, static_split, trace_function
from .vmap import vmap

__all__ = ["custom_vjp", "custom_jvp", "stop_gradient", "CustomRules"]


def stop_gradient(x):
    """``x``, as a constant to differentiation: its tangents and cotangents are zero. Takes a
    pytree of arrays.

    >>> import mlc
    >>> float(mlc.grad(lambda x: x * mlc.stop_gradient(x))(3.0))
    3.0
    """
    leaves, treedef = flatten(x)
    if current_trace() is None:
        return x
    return unflatten(treedef, [apply_op("stop_gradient", as_tracer(leaf)) if is_array_leaf(leaf) else leaf
                               for leaf in leaves])


class Residuals:
    """What a custom ``fwd`` saved for its ``bwd``: its pytree, as traced array leaves and the rest."""

    def __init__(self, value):
        leaves, self.tree = flatten(value)
        self.arrays, self.statics = static_split(leaves)
        self.arrays = [as_tracer(a) for a in self.arrays]
        self.count = len(leaves)

    def rebuilt(self):
        return unflatten(self.tree, merge_static(list(self.arrays), self.statics, self.count))

    def with_arrays(self, arrays) -> Residuals:
        """The same residuals with other array leaves (batched, or one element of a batch)."""
        other = Residuals.__new__(Residuals)
        other.tree, other.statics, other.count, other.arrays = self.tree, self.statics, self.count, list(arrays)
        return other


class CustomRules:
    """What a ``call`` binding of a custom function carries: how to run its rules on the
    binding's operands (the array leaves of the function's arguments)."""

    def __init__(self, kind: str, owner, in_tree, statics, n_leaves: int, out_tree):
        self.kind, self.owner = kind, owner
        self.name = getattr(owner.fun, "__name__", "custom function")
        self.in_tree, self.statics, self.n_leaves, self.out_tree = in_tree, statics, n_leaves, out_tree

    def _args(self, arrays):
        return unflatten(self.in_tree, merge_static(list(arrays), self.statics, self.n_leaves))

    def _per_operand(self, values, what: str):
        """A user rule's result, one entry (a pytree, or None) per argument -> one Tracer or None
        per array leaf of the arguments."""
        args = unflatten(self.in_tree, list(range(self.n_leaves)))
        if not isinstance(args, tuple) or not isinstance(values, (tuple, list)) or len(values) != len(args):
            raise TraceError(f"{self.name}: its {what} must return a tuple with one entry per argument "
                             f"({len(args)}), got {values!r}")
        per_leaf: dict[int, object] = {}
        for arg, value in zip(args, values):
            per_leaf.update(zip(flatten(arg)[0], _matched(value, arg, f"{self.name}: its {what}")))
        fixed = dict(self.statics)
        return [None if per_leaf.get(n) is None else as_tracer(per_leaf[n])
                for n in range(self.n_leaves) if n not in fixed]

    # -------------------------------------------------------------- reverse mode

    def apply_fwd(self, xs):
        """(results, Residuals) of the user's ``fwd`` on the operands."""
        result = self.owner.fwd(*self._args(xs))
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TraceError(f"{self.name}: fwd must return (output, residuals), got {result!r}")
        out, residuals = result
        return tuple(as_tracer(v) for v in flatten(out)[0]), Residuals(residuals)

    def apply_bwd(self, residuals, cts, outs, xs):
        """The operands' cotangents (Tracer or None each) from the user's ``bwd``."""
        cts = [instantiate(c, o) for c, o in zip(cts, outs)]
        return self._per_operand(self.owner.bwd(residuals.rebuilt(), unflatten(self.out_tree, cts)), "bwd")

    # -------------------------------------------------------------- forward mode

    def apply_jvp(self, xs, ts):
        """(results, their tangents) from the user's ``jvp`` (zero tangents given as zeros)."""
        tangents = [instantiate(t, x) for t, x in zip(ts, xs)]
        out, tout = self.owner.jvp(self._args(xs), self._args(tangents))
        outs = [as_tracer(v) for v in flatten(out)[0]]
        touts = flatten(tout)[0]
        if len(touts) != len(outs):
            raise TraceError(f"{self.name}: its jvp returned {len(touts)} tangents for {len(outs)} outputs")
        return outs, [None if t is None else as_tracer(t) for t in touts]

    # -------------------------------------------------------------- batching

    def apply_batch(self, body, xs, dims, size):
        """The call on operands batched along ``dims``: the body batched, and rules that batch these
        alike; every result batched along axis 0."""
        batched = BatchedRules(self, tuple(dims), size)

        def run_body(*operands):
            outs, out_dims = batch_eval(body, operands, batched.dims, size)
            return tuple(moved(o, d, 0, size) for o, d in zip(outs, out_dims))

        graph, _, captured = trace_function(run_body, list(xs), flatten(tuple(xs))[1], self.name)
        args = list(xs) + captured
        ctx = current_trace()
        outs = ctx.emit_call(graph, batched, args) if inside_transformation() else tuple(inline_graph(graph, args))
        return outs, (0,) * len(outs)


class BatchedRules(CustomRules):
    """The rules of a custom function called on a batch: the rules of ``inner`` under ``vmap``
    (operands batched along ``dims``, results along axis 0)."""

    def __init__(self, inner: CustomRules, dims, size: int):
        self.inner, self.dims, self.size = inner, dims, size
        self.kind, self.name = inner.kind, inner.name

    def apply_fwd(self, xs):
        saved = {}

        def fwd(*operands):
            outs, residuals = self.inner.apply_fwd(operands)
            saved["residuals"] = residuals
            return tuple(outs), tuple(residuals.arrays)

        outs, arrays = vmap(fwd, in_axes=self.dims, out_axes=0, axis_size=self.size)(*xs)
        return tuple(outs), saved["residuals"].with_arrays(arrays)

    def apply_bwd(self, residuals, cts, outs, xs):
        cts = [instantiate(c, o) for c, o in zip(cts, outs)]

        def bwd(arrays, cotangents):
            inner = residuals.with_arrays(arrays)
            return tuple(self.inner.apply_bwd(inner, list(cotangents), list(cotangents), None))

        results = vmap(bwd, in_axes=(0, 0), out_axes=0, axis_size=self.size)(tuple(residuals.arrays), tuple(cts))
        return [r if r is None or d == 0 else (np.sum(r, axis=0) if d is None else np.moveaxis(r, 0, d))
                for r, d in zip(results, self.dims)]

    def apply_jvp(self, xs, ts):
        def jvp(operands, tangents):
            outs, touts = self.inner.apply_jvp(operands, tangents)
            return tuple(outs), tuple(instantiate(t, o) for t, o in zip(touts, outs))

        outs, touts = vmap(jvp, in_axes=(self.dims, self.dims), out_axes=0, axis_size=self.size)(
            tuple(xs), tuple(instantiate(t, x) for t, x in zip(ts, xs)))
        return list(outs), list(touts)


def _matched(value, tree, what: str) -> list:
    """The leaves of ``value``, a pytree like ``tree`` in which None stands for zeros of a whole
    subtree, one per leaf of ``tree``."""
    out, stack = [], [(value, tree)]
    while stack:
        v, t = stack.pop()
        if v is None:
            out.extend([None] * len(flatten(t)[0]))
        elif isinstance(t, dict) and isinstance(v, dict) and set(t) == set(v):
            stack.extend((v[k], t[k]) for k in reversed(list(t)))
        elif isinstance(t, (tuple, list)) and isinstance(v, (tuple, list)) and len(t) == len(v):
            stack.extend(reversed(list(zip(v, t))))
        elif not isinstance(t, (dict, tuple, list)):
            out.append(v)
        else:
            raise TraceError(f"{what} returned {v!r} where the argument is {type(t).__name__} of "
                             f"{len(t)}: give the argument's structure, or None")
    return out


def _custom_call(owner, kind: str, args):
    leaves, treedef = flatten(args)
    arrays, statics = static_split(leaves)
    name = getattr(owner.fun, "__name__", "custom function")
    graph, out_tree, captured = trace_function(owner.fun, leaves, treedef, name)
    if captured:
        raise TraceError(f"{name}: an mlc.custom_{kind} function uses a traced value of the code around it "
                         "(a closure); pass that value as an argument instead" + describe_location(user_location()))
    rules = CustomRules(kind, owner, treedef, statics, len(leaves), out_tree)
    outs = current_trace().emit_call(graph, rules, [as_tracer(a) for a in arrays])
    return unflatten(out_tree, list(outs))


class _Custom:
    """What custom_vjp and custom_jvp share: called inside a transformation, one ``call``
    binding carrying the rules; anywhere else, the function itself."""

    kind = ""

    def __init__(self, fun):
        functools.update_wrapper(self, fun)
        self.fun = fun

    def _has_rule(self) -> bool:
        raise NotImplementedError

    def __call__(self, *args):
        if not self._has_rule():
            raise TraceError(f"{getattr(self.fun, '__name__', f'custom_{self.kind} function')}: no rule yet; call "
                             f"f.def{self.kind}(...) first")
        if not inside_transformation():
            return self.fun(*args)
        return _custom_call(self, self.kind, args)


class custom_vjp(_Custom):  # noqa: N801 - JAX's name
    """A function whose reverse-mode derivative is given: ``f.defvjp(fwd, bwd)``, with
    ``fwd(*args) -> (output, residuals)`` and ``bwd(residuals, ct) -> (ct_arg0, ct_arg1, ...)``
    (a cotangent per argument, pytrees like the arguments, None for zeros). Forward mode cannot
    differentiate it (define a :class:`custom_jvp` for that)."""

    kind = "vjp"

    def __init__(self, fun):
        super().__init__(fun)
        self.fwd, self.bwd = None, None

    def defvjp(self, fwd, bwd) -> None:
        self.fwd, self.bwd = fwd, bwd

    def _has_rule(self) -> bool:
        return self.fwd is not None


class custom_jvp(_Custom):  # noqa: N801 - JAX's name
    """A function whose forward-mode derivative is given: ``f.defjvp(jvp)`` with
    ``jvp(primals, tangents) -> (output, tangent_out)`` (``primals`` and ``tangents``: tuples
    like the arguments). Reverse mode transposes the rule, which must be linear in the tangents.
    ``defjvp`` also works as a decorator."""

    kind = "jvp"

    def __init__(self, fun):
        super().__init__(fun)
        self.jvp = None

    def defjvp(self, jvp):
        self.jvp = jvp
        return jvp

    def _has_rule(self) -> bool:
        return self.jvp is not None
