"""What every transformation rule is written with: symbolic zeros, op calls, broadcasting.

An op's rules receive and return traced values (Tracers) and are written with
NumPy's own functions on them (``np.exp(x)``, ``np.sum(g, axis)``), which
trace as ``mlc.numpy``'s; :func:`apply_op` records a registry op that NumPy
spells otherwise (``solve``, ``take_along_axis`` with its attributes). The
rules' signatures, for an op with inputs ``primals`` and result ``out`` (a
tuple for an op with several outputs):

- ``jvp(primals, tangents, out, **attrs)`` -> the tangent of ``out`` (a tuple for
  several outputs; None or a :class:`Zero` for a zero tangent). ``tangents`` holds a
  Tracer or a :class:`Zero` per input; a rule is called only when one is not zero.
- ``vjp(ct, primals, out, **attrs)`` -> a cotangent per input (None where it is zero or
  the input is not differentiable). ``ct`` is the cotangent of ``out`` (for several
  outputs a tuple, with a :class:`Zero` for an output nothing depends on).
- ``batch(args, dims, **attrs)`` -> ``(out, out_dims)``: the op applied to arrays whose
  axis ``dims[i]`` (None: the input is not batched) runs over the batch; ``out_dims``
  says where the batch axis is in each result.

Tangents and cotangents have the shape and dtype of their primal; the
transformations cast a rule's result to that dtype and check its shape, so
``x_f32 + y_f64`` may return float64 cotangents for ``x``. Only floating
point values are differentiated: integer and bool inputs and results have
zero tangents that are never computed (:func:`differentiable`).

>>> Zero((2, 3), "float32")
Zero(float32[2, 3])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import MLCError
from ...ir import dtype as dt

__all__ = ["Zero", "is_zero", "instantiate", "full", "zeros", "ones", "differentiable", "apply_op", "unbroadcast", "ZeroRules",
           "zero_jvp", "zero_vjp", "slice_axis", "move_batch_to_front", "loop_batch", "batch_front", "broadcast_batch",
           "Composite", "TRANSPOSED_JVP", "RuleError", "as_tuple", "num_float", "normalized_axes"]


class RuleError(MLCError):
    """A rule broke its contract (wrong shape or count of results): a bug in the rule."""


@dataclass(frozen=True, slots=True)
class Zero:
    """A symbolic zero tangent or cotangent of this shape and dtype: costs nothing until a
    rule needs its value (:func:`instantiate`)."""
    shape: tuple
    dtype: str

    @staticmethod
    def like(x) -> Zero:
        return Zero(tuple(x.shape), np.dtype(x.dtype).name)

    def __repr__(self) -> str:
        return f"Zero({self.dtype}[{', '.join(map(str, self.shape))}])"


def is_zero(v) -> bool:
    return v is None or isinstance(v, Zero)


def full(like, value, shape=None, dtype=None):
    """A traced array of ``shape`` and ``dtype`` (default: ``like``'s, a Tracer) filled with
    ``value``: a broadcast 0-d constant, never a constant of the full size."""
    shape = tuple(like.shape) if shape is None else tuple(shape)
    dtype = np.dtype(like.dtype).name if dtype is None else np.dtype(dtype).name
    scalar = like._ctx.scalar(value, dtype)
    return apply_op("broadcast_to", scalar, shape=shape) if shape else scalar


def zeros(like, shape=None, dtype=None):
    """Traced zeros (see :func:`full`)."""
    return full(like, 0, shape, dtype)


def ones(like, shape=None, dtype=None):
    """Traced ones (see :func:`full`)."""
    return full(like, 1, shape, dtype)


def instantiate(v, like):
    """``v`` as a traced array: zeros shaped like ``like`` (a Tracer) where ``v`` is zero."""
    if not is_zero(v):
        return v
    return zeros(like, v.shape if isinstance(v, Zero) else None, v.dtype if isinstance(v, Zero) else None)


def differentiable(dtype) -> bool:
    """Whether values of ``dtype`` have tangents: real floating point ones do."""
    return dt.is_float(np.dtype(dtype).name)


def as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def num_float(x, dtype) -> object:
    """The Python number ``x`` as a 0-d array of ``dtype`` (a rule's constant in the primal's
    dtype, whatever NEP 50 would make of a Python float)."""
    return np.asarray(x, dtype=np.dtype(dtype))


def apply_op(name: str, *args, **attrs):
    """Record registry op ``name`` on ``args``, Tracers (in their trace) and NumPy arrays
    (constants of it)."""
    ctx = next((a._ctx for a in args if hasattr(a, "_ctx")), None)
    if ctx is None:
        raise RuleError(f"apply_op({name!r}): no traced operand among {args!r}")
    operands = [a if hasattr(a, "_ctx") else ctx.array(np.asarray(a)) for a in args]
    return ctx.emit(name, operands, attrs)


def slice_axis(x, axis: int, start, stop):
    """``x[..., start:stop, ...]`` along ``axis`` (a slice op; None for an open end)."""
    starts, stops = [None] * x.ndim, [None] * x.ndim
    starts[axis], stops[axis] = start, stop
    return apply_op("slice", x, starts=tuple(starts), stops=tuple(stops), steps=(None,) * x.ndim)


def normalized_axes(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple) as sorted non-negative axes of an ``ndim``-d array."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(int(a) % ndim for a in items)) if ndim else ()


def unbroadcast(g, shape):
    """``g`` summed down to ``shape``, which broadcast to ``g.shape`` (NumPy's rules: missing
    leading axes and axes of size 1)."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + n for n, size in enumerate(shape)
                                      if size == 1 and g.shape[lead + n] != 1)
    if axes:
        g = np.sum(g, axis=axes)
    return np.reshape(g, shape) if tuple(g.shape) != shape else g


# ------------------------------------------------------------------ zero rules

def zero_jvp(primals, tangents, out, **attrs):
    """The tangent of an op that is not differentiable (a comparison, argmax, floor): zero."""
    return tuple(Zero.like(o) for o in out) if isinstance(out, tuple) else Zero.like(out)


def zero_vjp(ct, primals, out, **attrs):
    """The cotangents of an op that is not differentiable: zero for every input."""
    return (None,) * len(primals)


#: The rules of an op that is not differentiable by design; ``define_rules(name, **ZeroRules,
#: batch=...)`` gives them.
ZeroRules = {"jvp": zero_jvp, "vjp": zero_vjp}


@dataclass(frozen=True)
class Composite:
    """A rule given as the op's definition in other ops: the transformation applies itself to
    ``fn(*args, **attrs)`` (written with NumPy functions on Tracers, returning what the op
    returns) instead. The op keeps its own kernel where it is not transformed."""
    fn: object

    def __call__(self, *args, **kwargs):  # never called as a rule: the transformations unfold it
        raise RuleError("a Composite rule is unfolded by the transformation, not called")


class _TransposedJVP:
    """The VJP rule of an op whose JVP rule is its only derivative rule: the transformation
    takes the JVP's graph, linear in the tangents, and applies reverse mode to it (the VJP of a
    linear function is its transpose)."""

    def __repr__(self) -> str:
        return "TRANSPOSED_JVP"

    def __call__(self, *args, **kwargs):  # never called as a rule: the transformations unfold it
        raise RuleError("TRANSPOSED_JVP is unfolded by the transformation, not called")


#: ``vjp=TRANSPOSED_JVP``: the op's reverse mode is its forward mode's transpose.
TRANSPOSED_JVP = _TransposedJVP()


# ------------------------------------------------------------------ batching helpers

def move_batch_to_front(x, d):
    """``x`` with its batch axis ``d`` moved to the front (``d`` None: unchanged)."""
    return x if d is None or d == 0 else np.moveaxis(x, d, 0)


def batch_front(args, dims, size: int | None = None):
    """Every operand batched along axis 0: batched ones moved there, the others broadcast
    along a new leading axis of the batch's size (``size``, else a batched operand's)."""
    if size is None:
        size = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    out = []
    for a, d in zip(args, dims):
        if d is None:
            out.append(np.broadcast_to(np.expand_dims(a, 0), (size, *a.shape)))
        else:
            out.append(move_batch_to_front(a, d))
    return out


def loop_batch(name: str):
    """The batching rule of last resort: op ``name`` applied to each element of the batch, the
    results stacked along a new axis 0 (a program that grows with the batch: for ops whose
    operands cannot carry a batch axis, such as a random key)."""
    def rule(args, dims, **attrs):
        size = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
        fronts = [move_batch_to_front(a, d) for a, d in zip(args, dims)]
        rows = []
        for b in range(size):
            operands = [a if d is None else np.reshape(slice_axis(a, 0, b, b + 1), tuple(a.shape[1:]))
                        for a, d in zip(fronts, dims)]
            out = apply_op(name, *operands, **attrs)
            rows.append(out if isinstance(out, tuple) else (out,))
        outs = tuple(apply_op("stack", *column, axis=0) for column in zip(*rows))
        return (outs, (0,) * len(outs)) if len(outs) > 1 else (outs[0], 0)
    rule.__name__ = f"loop_batch_{name.replace('.', '_')}"
    return rule


def broadcast_batch(name: str):
    """The batching rule of a broadcasting elementwise op ``name``: each batched operand's batch
    axis moved to the front and its other axes padded with size-1 axes to the result's rank,
    so NumPy's right-aligned broadcasting pairs the operands' own axes as unbatched; the
    unbatched operands are left as they are."""
    def rule(args, dims, **attrs):
        rank = max(a.ndim - (d is not None) for a, d in zip(args, dims))
        aligned = []
        for a, d in zip(args, dims):
            if d is None:
                aligned.append(a)
                continue
            a = move_batch_to_front(a, d)
            missing = rank - (a.ndim - 1)
            if missing:
                a = np.reshape(a, (a.shape[0],) + (1,) * missing + tuple(a.shape[1:]))
            aligned.append(a)
        return apply_op(name, *aligned, **attrs), 0
    rule.__name__ = f"batch_{name.replace('.', '_')}"
    return rule
