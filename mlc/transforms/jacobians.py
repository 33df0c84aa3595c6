"""``mlc.jacfwd``, ``jacrev`` and ``hessian``: whole Jacobians, as batched derivatives.

``jacfwd`` maps ``jvp`` over the basis of the inputs' tangent space (one
column per input element), ``jacrev`` maps the backward pass of ``vjp`` over
the basis of the outputs' (one row per output element); both with ``vmap``, so
each is one batched program. The Jacobian of an output of shape ``O`` with
respect to an argument of shape ``I`` has shape ``O + I``; with pytrees, the
output's structure holds the argument's (a tuple of them for a tuple
``argnums``). ``hessian(f) = jacfwd(jacrev(f))``.

>>> import numpy as np, mlc
>>> mlc.jacrev(lambda x: x * x)(np.array([1.0, 2.0]))
array([[2., 0.],
       [0., 4.]])
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..errors import DTypeError, TraceError
from ..ops.rules import differentiable
from ..tracer.autograph import convert
from ..tracer.operands import as_tracer
from ..tracer.pytree import flatten, unflatten
from ..tracer.trace import is_tracing
from .autodiff import _argnums, _name, _split_aux, jvp, vjp
from .tracing import call_top_level, is_array_leaf, leaf_type
from .vmap import vmap

__all__ = ["jacfwd", "jacrev", "hessian"]


def _float_leaves(tree, name: str):
    leaves, treedef = flatten(tree)
    for n, leaf in enumerate(leaves):
        if not is_array_leaf(leaf) or not differentiable(leaf_type(leaf)[0].dtype):
            raise DTypeError(f"{name}: only floating point arguments can be differentiated; leaf {n} is "
                             f"{leaf_type(leaf)[0].dtype if is_array_leaf(leaf) else type(leaf).__name__}")
    return [as_tracer(leaf) for leaf in leaves], treedef


def _basis(leaves):
    """The identity matrix over the flattened ``leaves``, in their common dtype."""
    size = sum(math.prod(leaf.shape) for leaf in leaves)
    dtype = np.result_type(*(leaf.dtype for leaf in leaves))
    return np.eye(size, dtype=dtype), size


def _columns(rows, leaves):
    """``rows`` (batch, total) split into one (batch, *leaf.shape) block per leaf, cast to its dtype."""
    blocks, start = [], 0
    for leaf in leaves:
        count = math.prod(leaf.shape)
        block = rows[:, start:start + count] if len(leaves) > 1 else rows
        block = np.reshape(block, (rows.shape[0],) + tuple(leaf.shape))
        blocks.append(block if block.dtype == leaf.dtype else block.astype(leaf.dtype))
        start += count
    return blocks


def _assemble(out_tree, per_out, in_trees, argnums):
    """The Jacobian pytree: for each output leaf, the arguments' structure of its blocks."""
    results = []
    for blocks in per_out:
        parts, start = [], 0
        for tree, count in in_trees:
            parts.append(unflatten(tree, blocks[start:start + count]))
            start += count
        results.append(parts[0] if isinstance(argnums, int) else tuple(parts))
    return unflatten(out_tree, results)


def _block(rows, start: int, count: int, total: int):
    """``rows[start:start + count]`` (without a slice when that is all of them)."""
    return rows if count == total else rows[start:start + count]


class _Jacobian:
    kind = ""

    def __init__(self, fun, argnums, has_aux):
        if not callable(fun):
            raise TraceError(f"mlc.{self.kind} needs a function, got {fun!r}")
        functools.update_wrapper(self, fun, updated=())
        self.fun, self.argnums, self.has_aux = fun, argnums, bool(has_aux)

    def __call__(self, *args):
        if is_tracing():
            return self.traced(*args)
        options = (self.argnums if isinstance(self.argnums, int) else tuple(self.argnums), self.has_aux)
        return call_top_level(self.kind, self.fun, options, self.traced, args)

    def _setup(self, args):
        name = f"{self.kind}({_name(self.fun)})"
        nums = _argnums(self.argnums, len(args), name)
        wrt = tuple(args[a] for a in nums)
        leaves, wrt_tree = _float_leaves(wrt, name)
        in_trees = [(flatten(args[a])[1], len(flatten(args[a])[0])) for a in nums]

        def partial(*xs):
            full = list(args)
            for a, x in zip(nums, unflatten(wrt_tree, list(xs))):
                full[a] = x
            return _split_aux(convert(self.fun)(*full), self.has_aux, name)

        return name, leaves, wrt_tree, in_trees, partial


class _JacFwd(_Jacobian):
    kind = "jacfwd"

    def traced(self, *args):
        name, leaves, wrt_tree, in_trees, partial = self._setup(args)
        basis, size = _basis(leaves)

        def column(t):
            tangents = [np.reshape(c, c.shape[1:]) for c in _columns(np.reshape(t, (1, size)), leaves)]
            return jvp(lambda *xs: partial(*xs)[0], tuple(leaves), tuple(tangents))[1]

        value, aux = partial(*leaves)
        out_leaves, out_tree = flatten(value)
        cols = flatten(vmap(column)(basis))[0]  # per output: (size, *out.shape)
        per_out = []
        for o, c in zip(out_leaves, cols):
            out_shape = tuple(as_tracer(o).shape)
            blocks, start = [], 0
            for leaf in leaves:
                count = math.prod(leaf.shape)
                part = np.reshape(_block(c, start, count, size), (count, math.prod(out_shape)))
                blocks.append(np.reshape(np.swapaxes(part, 0, 1), out_shape + tuple(leaf.shape)))
                start += count
            per_out.append(blocks)
        jac = _assemble(out_tree, per_out, in_trees, self.argnums)
        return (jac, aux) if self.has_aux else jac


class _JacRev(_Jacobian):
    kind = "jacrev"

    def traced(self, *args):
        name, leaves, wrt_tree, in_trees, partial = self._setup(args)
        value, pullback, aux = vjp(partial, *leaves, has_aux=True)
        out_leaves, out_tree = flatten(value)
        outs = [as_tracer(o) for o in out_leaves]
        for o in outs:
            if not differentiable(o.dtype):
                raise DTypeError(f"{name}: the function's outputs must be floating point, got {o.dtype}")
        basis, size = _basis(outs)

        def row(ct):
            cts = [np.reshape(c, c.shape[1:]) for c in _columns(np.reshape(ct, (1, size)), outs)]
            return tuple(pullback(unflatten(out_tree, cts)))

        rows = flatten(vmap(row)(basis))[0]  # per input leaf: (size, *leaf.shape)
        per_out, start = [], 0
        for o in outs:
            count = math.prod(o.shape)
            per_out.append([np.reshape(_block(r, start, count, size), tuple(o.shape) + tuple(leaf.shape))
                            for r, leaf in zip(rows, leaves)])
            start += count
        jac = _assemble(out_tree, per_out, in_trees, self.argnums)
        return (jac, aux) if self.has_aux else jac


def jacfwd(fun, argnums=0, has_aux=False):
    """The Jacobian of ``fun`` with respect to ``argnums`` by forward mode (one ``jvp`` per input
    element, batched): cheaper than :func:`jacrev` for few inputs and many outputs."""
    return _JacFwd(fun, argnums, has_aux)


def jacrev(fun, argnums=0, has_aux=False):
    """The Jacobian of ``fun`` with respect to ``argnums`` by reverse mode (one backward pass per
    output element, batched): cheaper than :func:`jacfwd` for few outputs and many inputs."""
    return _JacRev(fun, argnums, has_aux)


def hessian(fun, argnums=0):
    """The matrix of second derivatives of the real scalar function ``fun``:
    ``jacfwd(jacrev(fun))``, of shape ``x.shape + x.shape`` for one array argument."""
    return jacfwd(jacrev(fun, argnums), argnums)
