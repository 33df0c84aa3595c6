"""``mlc.vmap``: a function of one example -> the function of a batch of them.

>>> import numpy as np, mlc
>>> rows = mlc.vmap(lambda v, w: v @ w, in_axes=(0, None))
>>> rows(np.ones((4, 3), "float32"), np.ones((3, 2), "float32")).shape
(4, 2)
"""
from __future__ import annotations

import functools

from ..errors import ShapeError, TraceError
from ..ir.types import TensorType
from ..tracer.autograph import convert
from ..tracer.operands import as_tracer
from ..tracer.pytree import flatten, unflatten
from ..tracer.trace import is_tracing
from .batching import batch_eval, moved
from .tracing import call_top_level, is_array_leaf, leaf_type, trace_function

__all__ = ["vmap", "broadcast_prefix"]


def broadcast_prefix(spec, tree, what: str) -> list:
    """``spec`` (an int/None for a whole subtree, or containers matching ``tree``'s down to
    where it gives one) as one entry per leaf of ``tree``."""
    out = []
    stack = [(spec, tree)]
    while stack:
        s, t = stack.pop()
        if s is None or isinstance(s, int):
            out.extend([s] * len(flatten(t)[0]))
            continue
        if isinstance(s, dict) and isinstance(t, dict) and set(s) == set(t):
            stack.extend((s[k], t[k]) for k in reversed(list(t)))
        elif isinstance(s, (tuple, list)) and isinstance(t, (tuple, list)) and len(s) == len(t):
            stack.extend(reversed(list(zip(s, t))))
        else:
            raise TraceError(f"vmap: {what} {s!r} does not match the structure it describes ({type(t).__name__} "
                             f"of {len(t) if hasattr(t, '__len__') else 1}); give an int, None, or a container of "
                             "the same shape")
    return out


def _name(fun) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


class _Vmapped:
    def __init__(self, fun, in_axes, out_axes, axis_size):
        functools.update_wrapper(self, fun, updated=())
        self.fun, self.in_axes, self.out_axes, self.axis_size = fun, in_axes, out_axes, axis_size

    def __call__(self, *args, **kwargs):
        if is_tracing():
            return self.traced(*args, **kwargs)
        options = (_hashable(self.in_axes), _hashable(self.out_axes), self.axis_size)
        return call_top_level("vmap", self.fun, options, self.traced, args, kwargs)

    def traced(self, *args, **kwargs):
        in_axes = self.in_axes
        if isinstance(in_axes, list):
            in_axes = tuple(in_axes)
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise TraceError(f"vmap({_name(self.fun)}): in_axes has {len(in_axes)} entries for {len(args)} "
                             "positional arguments")
        axes = broadcast_prefix(in_axes, args, "in_axes") + broadcast_prefix(0, kwargs, "in_axes")
        leaves, treedef = flatten((args, kwargs))
        types, dims, size = [], [], self.axis_size
        for n, (leaf, axis) in enumerate(zip(leaves, axes)):
            if not is_array_leaf(leaf):
                types.append(None)
                continue
            ttype, weak = leaf_type(leaf)
            if axis is not None:
                ndim = len(ttype.shape)
                if not -ndim <= axis < ndim:
                    raise ShapeError(f"vmap({_name(self.fun)}): in_axes {axis} is out of range for argument leaf "
                                     f"{n} of shape {tuple(ttype.shape)}")
                axis %= ndim
                if size is None:
                    size = ttype.shape[axis]
                elif ttype.shape[axis] != size:
                    raise ShapeError(f"vmap({_name(self.fun)}): the mapped axes have different sizes: {size} and "
                                     f"{ttype.shape[axis]} (argument leaf {n}, axis {axis})")
                ttype = TensorType(ttype.shape[:axis] + ttype.shape[axis + 1:], ttype.dtype)
            types.append((ttype, weak))
            dims.append(axis)
        if size is None:
            raise TraceError(f"vmap({_name(self.fun)}): no argument is mapped (in_axes all None); give "
                             "axis_size=")
        graph, out_tree, captured = trace_function(lambda a, k: convert(self.fun)(*a, **k), leaves, treedef,
                                                   _name(self.fun), types=types, user=self.fun)
        values = [as_tracer(leaf) for leaf in leaves if is_array_leaf(leaf)] + captured
        outs, out_dims = batch_eval(graph, values, dims + [None] * len(captured), size)
        out_axes = broadcast_prefix(self.out_axes, unflatten(out_tree, list(range(len(outs)))), "out_axes")
        results = []
        for n, (out, dim, axis) in enumerate(zip(outs, out_dims, out_axes)):
            if axis is None:
                if dim is not None:
                    raise TraceError(f"vmap({_name(self.fun)}): output {n} depends on the mapped axis, so its "
                                     "out_axes cannot be None")
                results.append(out)
                continue
            ndim = out.ndim + (dim is None)
            if not -ndim <= axis < ndim:
                raise ShapeError(f"vmap({_name(self.fun)}): out_axes {axis} is out of range for output {n} "
                                 f"({ndim} dimensions with the batch axis)")
            results.append(moved(out, dim, axis % ndim, size))
        return unflatten(out_tree, results)


def _hashable(spec):
    if isinstance(spec, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in spec.items()))
    if isinstance(spec, (tuple, list)):
        return tuple(_hashable(v) for v in spec)
    return spec


def vmap(fun, in_axes=0, out_axes=0, axis_size=None):
    """Map ``fun`` over an axis of its arguments: ``vmap(f)(xs)[i] == f(xs[i])``, computed as one
    batched program (each op through its batching rule), not a loop.

    - ``in_axes``: the mapped axis of every argument (an int, negative ones counting from the
      end), None for an argument that is the same for every element, or a tuple with one such
      entry (or a container matching the argument's pytree) per positional argument. Keyword
      arguments are mapped along axis 0.
    - ``out_axes``: where the mapped axis goes in each output (an int or None, or a container
      matching the outputs); an output that does not depend on the mapped axis is broadcast.
    - ``axis_size``: the batch size, needed when no argument is mapped.

    Composes with ``mlc.jit``, ``mlc.grad`` and itself (nested maps): ``vmap(grad(loss),
    in_axes=(None, 0, 0))`` gives per-example gradients.
    """
    if not callable(fun):
        raise TraceError(f"vmap needs a function, got {fun!r}")
    return _Vmapped(fun, in_axes, out_axes, axis_size)
