"""Rules of the shape ops and gathers: reshape, transpose, slicing, padding, joining, take.

These ops are linear in their array operand: the tangent of ``op(x)`` is
``op(t)`` with the same attributes, and the cotangent is the adjoint move
(a reshape back, the inverse permutation, a slice of a pad, zeros around a
slice, a sum for ``broadcast_to``). A gather's cotangent adds each element of
the cotangent into the position it was read from: a comparison of the
(wrapped, clipped) indices with the axis's positions, multiplied and summed,
so repeated indices add up. Batching moves the batch axis to the front and
shifts the axis attributes past it.
"""
from __future__ import annotations


import numpy as np

from ...errors import ShapeError
from ..library.shape import _moveaxis_perm, _perm, _slice_signature, _split_bounds
from ..registry import define_rules
from .core import (apply_op, batch_front, differentiable, instantiate, is_zero, move_batch_to_front,
                   normalized_axes, slice_axis, unbroadcast, zeros)

__all__ = ["linear_jvp", "wrapped_indices", "scatter_slice"]


def linear_jvp(name: str, n_linear: int = 1):
    """The JVP of an op linear in its first ``n_linear`` inputs (the rest, e.g. indices, fixed):
    the op applied to the tangents."""
    def jvp(primals, tangents, out, **attrs):
        args = [instantiate(t, x) for t, x in zip(tangents[:n_linear], primals)] + list(primals[n_linear:])
        return apply_op(name, *args, **attrs)
    jvp.__name__ = f"jvp_{name}"
    return jvp


def _logical(x, d):
    """The number of dimensions of ``x`` without its batch axis ``d``."""
    return x.ndim - (d is not None)


# ------------------------------------------------------------------ reshape-like

def _reshape_vjp(ct, primals, out, **attrs):
    return (np.reshape(ct, primals[0].shape),)


def _reshape_batch(args, dims, *, newshape):
    x = move_batch_to_front(args[0], dims[0])
    return apply_op("reshape", x, newshape=(x.shape[0], *newshape)), 0


def _expand_dims_batch(args, dims, *, axis=None, **attrs):
    x = move_batch_to_front(args[0], dims[0])
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = x.ndim - 1 + len(axes)
    return apply_op("expand_dims", x, axis=tuple(int(a) % ndim + 1 for a in axes)), 0


def _squeeze_batch(args, dims, *, axis=None, **attrs):
    x = move_batch_to_front(args[0], dims[0])
    shape = x.shape[1:]
    axes = tuple(n for n, s in enumerate(shape) if s == 1) if axis is None else normalized_axes(axis, len(shape))
    return apply_op("squeeze", x, axis=tuple(a + 1 for a in axes)), 0


def _transpose_vjp(ct, primals, out, *, axes=None):
    perm = _perm("transpose", axes, primals[0].ndim)
    return (np.transpose(ct, tuple(int(p) for p in np.argsort(perm))),)


def _transpose_batch(args, dims, *, axes=None):
    x = move_batch_to_front(args[0], dims[0])
    perm = _perm("transpose", axes, x.ndim - 1)
    return apply_op("transpose", x, axes=(0,) + tuple(p + 1 for p in perm)), 0


def _moveaxis_vjp(ct, primals, out, *, source, destination):
    perm = _moveaxis_perm(primals[0].ndim, source, destination)
    return (np.transpose(ct, tuple(int(p) for p in np.argsort(perm))),)


def _moveaxis_batch(args, dims, *, source, destination):
    x = move_batch_to_front(args[0], dims[0])
    perm = _moveaxis_perm(x.ndim - 1, source, destination)
    return apply_op("transpose", x, axes=(0,) + tuple(p + 1 for p in perm)), 0


def _flip_vjp(ct, primals, out, *, axis=None):
    return (apply_op("flip", ct, axis=axis),)


def _flip_batch(args, dims, *, axis=None):
    x = move_batch_to_front(args[0], dims[0])
    return apply_op("flip", x, axis=tuple(a + 1 for a in normalized_axes(axis, x.ndim - 1))), 0


def _broadcast_to_vjp(ct, primals, out, *, shape):
    return (unbroadcast(ct, primals[0].shape),)


def _broadcast_to_batch(args, dims, *, shape):
    x = move_batch_to_front(args[0], dims[0])
    shape = tuple(shape)
    missing = len(shape) - (x.ndim - 1)
    if missing:
        x = np.reshape(x, (x.shape[0],) + (1,) * missing + tuple(x.shape[1:]))
    return apply_op("broadcast_to", x, shape=(x.shape[0], *shape)), 0


# ------------------------------------------------------------------ slice and pad

def scatter_slice(g, x_shape, starts, stops, steps):
    """The adjoint of ``slice``: ``g`` placed where the slice read ``x`` (of ``x_shape``), zeros
    elsewhere. A step of ``s`` spreads ``g`` with ``s - 1`` zeros after each element (a pad of a
    new axis, merged), a negative step reverses it first."""
    dims = _slice_signature(x_shape, starts, stops, steps)
    if any(count == 0 for *_, count in dims):
        return zeros(g, x_shape)
    widths = []
    for d, ((lo, _, step, count), n) in enumerate(zip(dims, x_shape)):
        if step < 0:
            g = apply_op("flip", g, axis=d)
            lo, step = lo + (count - 1) * step, -step
        if step > 1:
            shape = tuple(g.shape)
            g = np.reshape(g, shape[:d + 1] + (1,) + shape[d + 1:])
            pad = [(0, 0)] * g.ndim
            pad[d + 1] = (0, step - 1)
            g = apply_op("pad", g, pad_width=tuple(pad), constant_values=0)
            g = np.reshape(g, shape[:d] + (count * step,) + shape[d + 1:])
            g = slice_axis(g, d, None, (count - 1) * step + 1)
        span = (count - 1) * step + 1
        widths.append((lo, n - lo - span))
    if any(w != (0, 0) for w in widths):
        g = apply_op("pad", g, pad_width=tuple(widths), constant_values=0)
    return g


def _slice_vjp(ct, primals, out, *, starts, stops, steps):
    return (scatter_slice(ct, primals[0].shape, starts, stops, steps),)


def _update_slice_vjp(ct, primals, out, *, starts, stops, steps):
    x, v = primals
    ct_x = apply_op("update_slice", ct, zeros(v, tuple(v.shape), ct.dtype), starts=starts, stops=stops,
                    steps=steps) if differentiable(x.dtype) else None
    ct_v = apply_op("slice", ct, starts=starts, stops=stops, steps=steps) if differentiable(v.dtype) else None
    return ct_x, ct_v


def _update_slice_batch(args, dims, *, starts, stops, steps):
    x, v = batch_front(args, dims)
    return apply_op("update_slice", x, v, starts=(None, *starts), stops=(None, *stops), steps=(None, *steps)), 0


def _slice_batch(args, dims, *, starts, stops, steps):
    x = move_batch_to_front(args[0], dims[0])
    return apply_op("slice", x, starts=(None, *starts), stops=(None, *stops), steps=(None, *steps)), 0


def _pad_jvp(primals, tangents, out, *, pad_width, constant_values=0):
    return apply_op("pad", instantiate(tangents[0], primals[0]), pad_width=pad_width, constant_values=0)


def _pad_widths(x, pad_width):
    return [tuple(int(v) for v in w) for w in np.broadcast_to(np.asarray(pad_width, dtype=object), (x.ndim, 2))]


def _pad_vjp(ct, primals, out, *, pad_width, constant_values=0):
    x = primals[0]
    widths = _pad_widths(x, pad_width)
    return (apply_op("slice", ct, starts=tuple(b for b, _ in widths), stops=tuple(b + n for (b, _), n in
                                                                                zip(widths, x.shape)),
                     steps=(1,) * x.ndim),)


def _pad_batch(args, dims, *, pad_width, constant_values=0):
    x = move_batch_to_front(args[0], dims[0])
    widths = [(0, 0)] + [tuple(int(v) for v in w) for w in
                         np.broadcast_to(np.asarray(pad_width, dtype=object), (x.ndim - 1, 2))]
    return apply_op("pad", x, pad_width=tuple(widths), constant_values=constant_values), 0


# ------------------------------------------------------------------ join and split

def _concatenate_vjp(ct, primals, out, *, axis=0):
    if axis is None:
        sizes = [x.size for x in primals]
        shapes = [x.shape for x in primals]
        axis_n = 0
    else:
        axis_n = int(axis) % primals[0].ndim
        sizes = [x.shape[axis_n] for x in primals]
        shapes = [x.shape for x in primals]
    cts, offset = [], 0
    for x, size, shape in zip(primals, sizes, shapes):
        piece = slice_axis(ct, axis_n, offset, offset + size) if differentiable(x.dtype) else None
        cts.append(np.reshape(piece, shape) if piece is not None and axis is None else piece)
        offset += size
    return tuple(cts)


def _concatenate_jvp(primals, tangents, out, *, axis=0):
    parts = [instantiate(t, x).astype(out.dtype) for t, x in zip(tangents, primals)]
    return apply_op("concatenate", *parts, axis=axis)


def _concatenate_batch(args, dims, *, axis=0):
    parts = batch_front(args, dims)
    if axis is None:
        parts = [np.reshape(p, (p.shape[0], -1)) for p in parts]
        return apply_op("concatenate", *parts, axis=1), 0
    return apply_op("concatenate", *parts, axis=int(axis) % (parts[0].ndim - 1) + 1), 0


def _stack_vjp(ct, primals, out, *, axis=0):
    axis = int(axis) % ct.ndim
    return tuple(np.reshape(slice_axis(ct, axis, n, n + 1), x.shape) if differentiable(x.dtype) else None
                 for n, x in enumerate(primals))


def _stack_jvp(primals, tangents, out, *, axis=0):
    parts = [instantiate(t, x).astype(out.dtype) for t, x in zip(tangents, primals)]
    return apply_op("stack", *parts, axis=axis)


def _stack_batch(args, dims, *, axis=0):
    parts = batch_front(args, dims)
    return apply_op("stack", *parts, axis=int(axis) % parts[0].ndim + 1), 0


def _split_jvp(primals, tangents, out, *, indices_or_sections, axis=0):
    return apply_op("split", tangents[0], indices_or_sections=indices_or_sections, axis=axis)


def _split_vjp(ct, primals, out, *, indices_or_sections, axis=0):
    x = primals[0]
    axis_n, bounds = _split_bounds(x.shape, indices_or_sections, axis)
    parts = []
    for c, (lo, hi) in zip(ct, bounds):
        if hi > lo:
            shape = x.shape[:axis_n] + (hi - lo,) + x.shape[axis_n + 1:]
            parts.append(zeros(x, shape) if is_zero(c) else c)
    if not parts:
        return (zeros(x),)
    return (parts[0] if len(parts) == 1 else apply_op("concatenate", *parts, axis=axis_n),)


def _split_batch(args, dims, *, indices_or_sections, axis=0):
    x = move_batch_to_front(args[0], dims[0])
    outs = apply_op("split", x, indices_or_sections=indices_or_sections, axis=int(axis) % (x.ndim - 1) + 1)
    return outs, (0,) * len(outs)


# ------------------------------------------------------------------ gathers

def wrapped_indices(idx, n: int):
    """The positions ``take`` reads for ``idx`` along an axis of length ``n``: negative indices
    count from the end, the rest are clipped into the axis (as the gather kernels do)."""
    idx = np.where(idx < 0, idx + n, idx)
    return np.clip(idx, 0, max(n - 1, 0))


def _take_vjp(ct, primals, out, *, axis=0):
    x, idx = primals
    if not differentiable(x.dtype):
        return None, None
    axis = int(axis) % x.ndim
    along = np.reshape(idx, (1,) * axis + tuple(idx.shape) + (1,) * (x.ndim - axis - 1))
    return apply_op("index_add", ct, along, axis=axis, size=x.shape[axis]), None


def _take_batch(args, dims, *, axis=0):
    (x, idx), (dx, di) = args, dims
    if di is None:
        x = move_batch_to_front(x, dx)
        return apply_op("take", x, idx, axis=int(axis) % (x.ndim - 1) + 1), 0
    idx = move_batch_to_front(idx, di)
    batch, count = idx.shape
    if dx is None:
        axis = int(axis) % x.ndim
        flat = apply_op("take", x, np.reshape(idx, (batch * count,)), axis=axis)
        return np.reshape(flat, x.shape[:axis] + (batch, count) + x.shape[axis + 1:]), axis
    x = move_batch_to_front(x, dx)
    axis = int(axis) % (x.ndim - 1) + 1
    n = x.shape[axis]
    rows = np.moveaxis(x, axis, 1)
    rest = tuple(rows.shape[2:])
    rows = np.reshape(rows, (batch * n,) + rest)
    offsets = np.reshape(np.arange(batch, dtype=idx.dtype) * n, (batch, 1))
    positions = np.reshape(wrapped_indices(idx, n) + offsets, (batch * count,))
    taken = np.reshape(apply_op("take", rows, positions, axis=0), (batch, count) + rest)
    return np.moveaxis(taken, 1, axis), 0


def _take_along_axis_vjp(ct, primals, out, *, axis=-1):
    x, idx = primals
    if not differentiable(x.dtype):
        return None, None
    axis = int(axis) % x.ndim
    spread = apply_op("index_add", ct, idx, axis=axis, size=x.shape[axis])
    return unbroadcast(spread, x.shape), None


def _index_add_vjp(ct, primals, out, *, axis=0, size=0):
    values, idx = primals
    return apply_op("take_along_axis", ct, np.broadcast_to(idx, values.shape), axis=axis), None


def _index_add_batch(args, dims, *, axis=0, size=0):
    values, idx = (move_batch_to_front(a, d) if d is not None else np.expand_dims(a, 0) for a, d in zip(args, dims))
    if dims[0] is None:
        values = np.broadcast_to(values, (idx.shape[0],) + tuple(values.shape[1:]))
    return apply_op("index_add", values, idx, axis=int(axis) % (values.ndim - 1) + 1, size=size), 0


def _take_along_axis_batch(args, dims, *, axis=-1):
    x, idx = (move_batch_to_front(a, d) if d is not None else np.expand_dims(a, 0) for a, d in zip(args, dims))
    return apply_op("take_along_axis", x, idx, axis=int(axis) % (x.ndim - 1) + 1), 0


def _write_row_vjp(ct, primals, out):
    stack, value, index = primals
    row = np.reshape(apply_op("take", ct, np.reshape(index, (1,)), axis=0), value.shape)
    return apply_op("write_row", ct, np.zeros_like(row), index), row, None


def _write_row_batch(args, dims):
    (stack, value, index), (ds, dv, di) = args, dims
    size = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    stack = move_batch_to_front(stack, ds) if ds is not None else np.broadcast_to(stack, (size,) + stack.shape)
    value = move_batch_to_front(value, dv) if dv is not None else np.broadcast_to(value, (size,) + value.shape)
    if di is None:  # one row of every element's stack: the batch axis after the rows
        return apply_op("write_row", np.moveaxis(stack, 0, 1), value, index), 1
    rows = stack.shape[1]
    at = wrapped_indices(move_batch_to_front(index, di), rows)
    hit = np.arange(rows, dtype=at.dtype)[None, :] == at[:, None]
    return np.where(np.reshape(hit, hit.shape + (1,) * (stack.ndim - 2)), value[:, None], stack), 0


def _register() -> None:
    for name in ("reshape", "expand_dims", "squeeze"):
        batch = {"reshape": _reshape_batch, "expand_dims": _expand_dims_batch, "squeeze": _squeeze_batch}[name]
        define_rules(name, jvp=linear_jvp(name), vjp=_reshape_vjp, batch=batch)
    define_rules("transpose", jvp=linear_jvp("transpose"), vjp=_transpose_vjp, batch=_transpose_batch)
    define_rules("moveaxis", jvp=linear_jvp("moveaxis"), vjp=_moveaxis_vjp, batch=_moveaxis_batch)
    define_rules("flip", jvp=linear_jvp("flip"), vjp=_flip_vjp, batch=_flip_batch)
    define_rules("broadcast_to", jvp=linear_jvp("broadcast_to"), vjp=_broadcast_to_vjp, batch=_broadcast_to_batch)
    define_rules("slice", jvp=linear_jvp("slice"), vjp=_slice_vjp, batch=_slice_batch)
    define_rules("update_slice", jvp=linear_jvp("update_slice", 2), vjp=_update_slice_vjp,
                 batch=_update_slice_batch)
    define_rules("pad", jvp=_pad_jvp, vjp=_pad_vjp, batch=_pad_batch)
    define_rules("concatenate", jvp=_concatenate_jvp, vjp=_concatenate_vjp, batch=_concatenate_batch)
    define_rules("stack", jvp=_stack_jvp, vjp=_stack_vjp, batch=_stack_batch)
    define_rules("split", jvp=_split_jvp, vjp=_split_vjp, batch=_split_batch)
    define_rules("take", jvp=linear_jvp("take"), vjp=_take_vjp, batch=_take_batch)
    define_rules("take_along_axis", jvp=linear_jvp("take_along_axis"), vjp=_take_along_axis_vjp,
                 batch=_take_along_axis_batch)
    define_rules("index_add", jvp=linear_jvp("index_add"), vjp=_index_add_vjp, batch=_index_add_batch)
    define_rules("write_row", jvp=linear_jvp("write_row", 2), vjp=_write_row_vjp, batch=_write_row_batch)


_register()
