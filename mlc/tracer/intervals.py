"""The range of a traced int, read from the ops that computed it while tracing.

``atom_interval(ctx, atom)`` is ``(lowest, highest)`` of a 0-d int value: a constant, a loop
index or another value whose range a loop noted (:meth:`~.trace.TraceContext.note_range`),
and +, -, negation, integer casts products of such values, clamps (np.minimum, np.maximum, np.clip: one end may be
infinite where only the clamp bounds the value) and remainders by positive values; ``x & c``
for a constant ``c >= 0`` lies in ``[0, c]`` whatever ``x`` is. None where the ops say nothing. Slices of
traced bounds (:mod:`mlc.numpy.windows`) ask it whether ``x[i:i + 2]`` always holds two
elements; a traced Python int converted to a narrower dtype (:mod:`.operands`) is checked
when the function runs only where its range does not prove that it fits.

>>> import numpy as np, mlc
>>> seen = []
>>> @mlc.jit
... def f(x):
...     bit = mlc.fori_loop(0, 3, lambda i, c: c ^ 5, 0xFFFF) & 1
...     seen.append(atom_interval(bit._ctx, bit._atom))
...     return bit
>>> int(f(np.zeros(1))), seen
(0, [(0, 1)])
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.graph import Constant

__all__ = ["atom_interval", "outermost", "producer"]


def outermost(ctx, atom):
    """``(trace, atom)`` of the value ``atom`` stands for: a loop body's captured input is the
    value around it."""
    while True:
        outer = next((o for o, var in ctx.captured if var is atom), None)
        if outer is None:
            return ctx, atom
        ctx, atom = outer._ctx, outer._atom


def producer(ctx, atom):
    """The binding of trace ``ctx`` that made ``atom``, or None (an input, a constant)."""
    for binding in reversed(ctx.bindings):
        if any(out is atom for out in binding.outputs):
            return binding
    return None


#: the span of an int known only by a clamp around it (np.minimum, np.maximum, np.clip): one
#: of its ends may be infinite while the clamp makes the other finite
_ANY = (-math.inf, math.inf)


def _int_constant(atom) -> bool:
    return isinstance(atom, Constant) and atom.data.ndim == 0 and atom.data.dtype.kind in "iu"


#: ops whose every element is one of their operand's: an index array keeps its range through them
_SAME_ELEMENTS = frozenset({"slice", "reshape", "transpose", "flip", "broadcast_to", "expand_dims", "squeeze",
                            "moveaxis", "copy"})


def _positions(binding):
    """``(0, n - 1)`` for the positions ``argsort``/``argmax``/``argmin`` return (``n``: the
    length of the axis they index; argsort's is its operand's last), else None."""
    if binding.op not in ("argsort", "argmax", "argmin") or not binding.args:
        return None
    shape = binding.args[0].type.shape
    if binding.op == "argsort":
        axes = (len(shape) - 1,) if shape else ()
    else:
        axis = binding.attr("axis")
        axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
    sizes = [shape[a] for a in axes]
    if not all(isinstance(n, (int, np.integer)) for n in sizes):
        return None  # (a dynamic axis)
    n = math.prod(int(v) for v in sizes)
    return (0, n - 1) if n else None


def atom_interval(ctx, atom, depth: int = 12):
    """``(lowest, highest)`` of the int ``atom`` of trace ``ctx`` (see the module; of every
    element of an index array made by ``argsort``, ``argmax``, ``argmin``, and views and
    elementwise arithmetic of one), or None."""
    ctx, atom = outermost(ctx, atom)
    if _int_constant(atom):
        return int(atom.data), int(atom.data)
    binding = producer(ctx, atom) if depth > 0 else None
    if binding is None:
        return ctx.value_range(atom)
    positions = _positions(binding)
    if positions is not None:
        return positions
    if binding.op in _SAME_ELEMENTS and binding.args:
        return atom_interval(ctx, binding.args[0], depth - 1)
    parts = [atom_interval(ctx, a, depth - 1) for a in binding.args]
    if binding.op in ("minimum", "maximum") and len(parts) == 2:  # np.clip(i, 0, n - 1) is in [0, n - 1]
        (a0, a1), (b0, b1) = (p or _ANY for p in parts)
        return (min(a0, b0), min(a1, b1)) if binding.op == "minimum" else (max(a0, b0), max(a1, b1))
    if binding.op == "remainder" and len(parts) == 2 and parts[1] is not None and parts[1][0] > 0:
        return 0, parts[1][1] - 1  # (a positive divisor: NumPy's remainder takes its sign)
    if binding.op == "bitwise_and" and len(parts) == 2:
        masks = [p[1] for p in parts if p is not None and p[0] >= 0]
        if masks:  # a non-negative operand clears the sign bit and every bit above its own
            return 0, min(masks)
    if any(p is None for p in parts):
        return None
    if binding.op == "multiply" and not all(math.isfinite(v) for p in parts for v in p):
        return None  # (0 times an infinite end)
    if binding.op == "add" and len(parts) == 2:
        return parts[0][0] + parts[1][0], parts[0][1] + parts[1][1]
    if binding.op == "subtract" and len(parts) == 2:
        return parts[0][0] - parts[1][1], parts[0][1] - parts[1][0]
    if binding.op == "negative":
        return -parts[0][1], -parts[0][0]
    if binding.op == "astype" and np.dtype(binding.attr("dtype")).kind in "iu":
        return parts[0]
    if binding.op == "multiply" and len(parts) == 2:
        corners = [a * b for a in parts[0] for b in parts[1]]
        return min(corners), max(corners)
    return None
