"""Shape ops: every output element is one input element (TVM's "injective").

reshape, transpose, moveaxis, expand_dims, squeeze, broadcast_to,
concatenate, stack, split, slice (strided, ``x[a:b:c, ...]``), pad, flip.
Each lowers to te.compute stages whose bodies are index arithmetic around
loads, so fusion can inline them into their consumers.

>>> from mlc import te
>>> from mlc.ops import get_op
>>> x = te.placeholder((2, 3, 4), "float32", "x")
>>> get_op("reshape").lower(x, newshape=(4, -1)).shape
(4, 6)
>>> plan_getitem((5, 6), (slice(None, None, -2), None, 3))
((4, 3), (-6, 4), (-2, 1), (3, 1))
"""
from __future__ import annotations

import numpy as np

from ...errors import AxisError, DTypeError, IndexBoundsError, IRError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ...ir.expr import PrimExpr
from ..registry import NumpyAPI, TensorType, register_op
from ._common import (broadcast_indices, check_int_attr, normalize_axes,
                      normalize_axis, result_type, shape_size)

__all__ = ["index_text", "plan_getitem", "reshape_shape"]


def _c(value: int):
    return _e.const(value, dt.INDEX)


def _strides(shape) -> list[int]:
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= n
    return strides[::-1]


def _injective(name, infer, lower, reference, doc, num_outputs=1, numpy=None):
    register_op(name, pattern="injective", infer=infer, lower=lower, reference=reference, doc=doc,
                num_outputs=num_outputs, numpy=numpy)


# ------------------------------------------------------------------ reshape

def reshape_shape(shape, newshape, op: str = "reshape") -> tuple[int, ...]:
    """``newshape`` with its one ``-1`` resolved; ShapeError when sizes disagree.

    >>> reshape_shape((2, 3, 4), (-1, 4))
    (6, 4)
    """
    if isinstance(newshape, (int, np.integer)) and not isinstance(newshape, bool):
        newshape = (newshape,)
    if not isinstance(newshape, (tuple, list)):
        raise ShapeError(f"{op}: newshape must be an int or a tuple of ints, got {newshape!r}")
    dims = [d if isinstance(d, PrimExpr) else check_int_attr(op, "newshape", d, minimum=-1) for d in newshape]
    if not all(isinstance(d, int) for d in (*shape, *dims)):
        return _symbolic_reshape_shape(shape, dims, newshape, op)
    size = shape_size(shape)
    unknown = [n for n, d in enumerate(dims) if d == -1]
    if len(unknown) > 1:
        raise ShapeError(f"{op}: can only specify one unknown dimension (-1), got {tuple(newshape)}")
    known = shape_size(d for d in dims if d != -1)
    if unknown:
        if known == 0 or size % known:
            raise ShapeError(f"{op}: cannot reshape array of size {size} (shape {tuple(shape)}) into "
                             f"shape {tuple(newshape)}")
        dims[unknown[0]] = size // known
    elif known != size:
        raise ShapeError(f"{op}: cannot reshape array of size {size} (shape {tuple(shape)}) into shape "
                         f"{tuple(newshape)} of size {known}; the sizes must match")
    return tuple(dims)


def _symbolic_reshape_shape(shape, dims: list, newshape, op: str) -> tuple:
    """:func:`reshape_shape` where ``shape`` or ``dims`` holds symbolic sizes (dynamic axes):
    each symbolic size of ``dims`` must be one of ``shape``'s (``x.shape[0]``), and a ``-1``
    stands for an int or for the one symbolic size left over: each dynamic axis stays a
    dimension of its own (a product of sizes is no size a shape can hold here).

    >>> n = te.var("n")
    >>> reshape_shape((n, 2, 3), (n, -1)), reshape_shape((n, 2, 3), (-1, 3, 2))
    ((n, 6), (n, 3, 2))
    """
    left = [d for d in shape if not isinstance(d, int)]
    for d in dims:
        if isinstance(d, int):
            continue
        at = next((k for k, s in enumerate(left) if s is d), None)
        if at is None:
            raise ShapeError(f"{op}: the size `{d}` in {tuple(newshape)} is not one of the sizes of the "
                             f"array's dynamic axes {tuple(shape)}; give each such size as the array "
                             f"has it (x.shape[0]) or as -1")
        del left[at]
    size = shape_size(d for d in shape if isinstance(d, int))
    known = shape_size(d for d in dims if isinstance(d, int) and d != -1)
    unknown = [k for k, d in enumerate(dims) if isinstance(d, int) and d == -1]
    if len(unknown) > 1:
        raise ShapeError(f"{op}: can only specify one unknown dimension (-1), got {tuple(newshape)}")
    if unknown and known and size % known == 0 and (not left or len(left) == 1 and size == known):
        dims[unknown[0]] = left[0] if left else size // known
        return tuple(dims)
    if not unknown and not left and known == size:
        return tuple(dims)
    raise ShapeError(f"{op}: cannot reshape an array of shape {tuple(shape)} into shape {tuple(newshape)} for "
                     "every size of its dynamic axes; keep each dynamic size as a dimension of its own "
                     "(x.reshape(x.shape[0], -1)), with the other sizes' product unchanged, or mark fewer "
                     "axes dynamic")


def _reshape_index(in_shape, out_shape, idx) -> tuple:
    """Input indices of the output point ``idx`` (row-major order is kept)."""
    if tuple(in_shape) == tuple(out_shape):
        return tuple(idx)
    # (a symbolic size compares as itself: `n != 1` holds, `n == n` only for the same variable)
    squeezed_in = [d for d in in_shape if d != 1]
    squeezed_out = [(d, i) for d, i in zip(out_shape, idx) if d != 1]
    if squeezed_in == [d for d, _ in squeezed_out]:  # only size-1 dims differ
        it = iter(i for _, i in squeezed_out)
        return tuple(_c(0) if d == 1 else next(it) for d in in_shape)
    if not all(isinstance(d, int) for d in (*in_shape, *out_shape)):
        lead = 0  # dimensions the same on both sides (a dynamic axis kept as it is) pass through
        while lead < min(len(in_shape), len(out_shape)) and in_shape[lead] is out_shape[lead]:
            lead += 1
        if lead:
            return tuple(idx[:lead]) + _reshape_index(in_shape[lead:], out_shape[lead:], idx[lead:])
        return _symbolic_reshape_index(in_shape, out_shape, idx)
    linear = _c(0)
    for (d, i), stride in zip(zip(out_shape, idx), _strides(out_shape)):
        if d != 1:
            linear = linear + i * _c(stride)
    return tuple(_c(0) if d == 1 else _e.floormod(_e.floordiv(linear, _c(stride)), _c(d))
                 if stride * d < shape_size(in_shape) else _e.floordiv(linear, _c(stride))
                 for d, stride in zip(in_shape, _strides(in_shape)))


def _symbolic_reshape_index(in_shape, out_shape, idx) -> tuple:
    """:func:`_reshape_index` with symbolic sizes: the output point's row-major offset,
    divided back into the input's dimensions (the first needs no modulo)."""
    linear = _c(0)
    for i, stride in zip(idx, _strides(out_shape)):
        linear = linear + i * (_c(stride) if isinstance(stride, int) else stride)
    out = []
    for k, (d, stride) in enumerate(zip(in_shape, _strides(in_shape))):
        if isinstance(d, int) and d == 1:
            out.append(_c(0))
            continue
        q = _e.floordiv(linear, _c(stride) if isinstance(stride, int) else stride)
        out.append(q if k == 0 else _e.floormod(q, _c(d) if isinstance(d, int) else d))
    return tuple(out)


def _reshape_to(x, shape, name="T_reshape"):
    return te.compute(shape, lambda *i: x[_reshape_index(x.shape, shape, i)], name=name)


_injective(
    "reshape",
    lambda x, *, newshape: TensorType(reshape_shape(x.shape, newshape), x.dtype),
    lambda x, *, newshape: _reshape_to(x, reshape_shape(x.shape, newshape)),
    lambda x, *, newshape: np.reshape(x, newshape).copy(),
    "``np.reshape(x, newshape)`` (one -1 allowed; row-major order).")


# ------------------------------------------------------------------ transpose / moveaxis

def _perm(op, axes, ndim) -> tuple[int, ...]:
    if axes is None:
        return tuple(range(ndim))[::-1]
    if not isinstance(axes, (tuple, list)) or len(axes) != ndim:
        raise ShapeError(f"{op}: axes must be a permutation of {ndim} axes, got {axes!r}")
    perm = tuple(normalize_axis(op, a, ndim) for a in axes)
    if sorted(perm) != list(range(ndim)):
        raise ShapeError(f"{op}: axes {axes!r} is not a permutation of range({ndim})")
    return perm


def _transpose_lower(x, perm, name="T_transpose"):
    shape = tuple(x.shape[p] for p in perm)

    def element(*i):
        index = [None] * x.ndim
        for out_dim, p in enumerate(perm):
            index[p] = i[out_dim]
        return x[tuple(index)]

    return te.compute(shape, element, name=name)


_injective(
    "transpose",
    lambda x, *, axes=None: TensorType(tuple(x.shape[p] for p in _perm("transpose", axes, x.ndim)),
                                       x.dtype),
    lambda x, *, axes=None: _transpose_lower(x, _perm("transpose", axes, x.ndim)),
    lambda x, *, axes=None: np.transpose(x, axes).copy(),
    "``np.transpose(x, axes)``; ``axes=None`` reverses the dimensions.")


def _moveaxis_perm(ndim, source, destination) -> tuple[int, ...]:
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise ShapeError(f"moveaxis: source {source!r} and destination {destination!r} must have the "
                         "same number of elements")
    src = [normalize_axis("moveaxis", a, ndim, "source") for a in src]
    dst = [normalize_axis("moveaxis", a, ndim, "destination") for a in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError("moveaxis: repeated axis in source or destination")
    order = [n for n in range(ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return tuple(order)


_injective(
    "moveaxis",
    lambda x, *, source, destination: TensorType(
        tuple(x.shape[p] for p in _moveaxis_perm(x.ndim, source, destination)), x.dtype),
    lambda x, *, source, destination: _transpose_lower(x, _moveaxis_perm(x.ndim, source, destination),
                                                       "T_moveaxis"),
    lambda x, *, source, destination: np.moveaxis(x, source, destination).copy(),
    "``np.moveaxis(x, source, destination)`` (a transpose).",
    numpy=NumpyAPI("(a, source, destination)", "``np.moveaxis(a, source, destination)``."))


# ------------------------------------------------------------------ expand_dims / squeeze

def _expand_shape(shape, axis) -> tuple[int, ...]:
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = len(shape) + len(axes)
    for a in axes:  # axes count in the result, which has len(axes) more dimensions than the input
        if isinstance(a, (int, np.integer)) and not isinstance(a, bool) and not -ndim <= a < ndim:
            raise AxisError(f"expand_dims: axis {a} is out of bounds for an array of dimension {len(shape)} "
                            f"given {len(axes)} new axis(es): the result has {ndim} dimensions; use an axis "
                            f"in [{-ndim}, {ndim - 1}]")
    new = normalize_axes("expand_dims", axes, ndim)
    it = iter(shape)
    return tuple(1 if d in new else next(it) for d in range(ndim))


def _squeeze_shape(shape, axis) -> tuple[int, ...]:
    if axis is None:
        return tuple(d for d in shape if d != 1)
    axes = normalize_axes("squeeze", axis, len(shape))
    for a in axes:
        if shape[a] != 1:
            raise ShapeError(f"squeeze: cannot select axis {a} of shape {tuple(shape)}: its size is "
                             f"{shape[a]}, not 1")
    return tuple(d for n, d in enumerate(shape) if n not in axes)


for _name, _rule, _np, _signature in [("expand_dims", _expand_shape, np.expand_dims, "(a, axis)"),
                                      ("squeeze", _squeeze_shape, np.squeeze, "(a, axis=None)")]:
    _injective(
        _name,
        lambda x, *, axis=None, _rule=_rule: TensorType(_rule(x.shape, axis), x.dtype),
        lambda x, *, axis=None, _rule=_rule, _name=_name: _reshape_to(x, _rule(x.shape, axis), f"T_{_name}"),
        lambda x, *, axis=None, _np=_np: np.asarray(_np(x, axis)).copy(),
        f"``np.{_name}(x, axis)``.",
        numpy=NumpyAPI(_signature, f"``np.{_name}(a, axis)``."))


# ------------------------------------------------------------------ broadcast_to

def _broadcast_to_shape(x_shape, shape) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"broadcast_to: shape must be a tuple of ints, got {shape!r}")
    # a symbolic size (x.shape[0] of a dynamic axis) stays as it is
    shape = tuple(d if isinstance(d, PrimExpr) else check_int_attr("broadcast_to", "shape", d, minimum=0)
                  for d in shape)
    tail = shape[len(shape) - len(x_shape):] if x_shape else ()
    if len(x_shape) > len(shape) or any(a not in (1, b) for a, b in zip(x_shape, tail)):
        raise ShapeError(f"broadcast_to: cannot broadcast shape {tuple(x_shape)} to {shape}; every "
                         "input dimension must equal the target's or be 1")
    return shape


def _broadcast_to_lower(x, *, shape):
    shape = _broadcast_to_shape(x.shape, shape)
    return te.compute(shape, lambda *i: x[broadcast_indices(x.shape, i)], name="T_broadcast_to")


register_op("broadcast_to", pattern="broadcast",
            infer=lambda x, *, shape: TensorType(_broadcast_to_shape(x.shape, shape), x.dtype),
            lower=_broadcast_to_lower,
            reference=lambda x, *, shape: np.broadcast_to(x, shape).copy(),
            doc="``np.broadcast_to(x, shape)``.")


# ------------------------------------------------------------------ concatenate / stack

def _concat_signature(types, axis, op="concatenate"):
    if not types:
        raise ShapeError(f"{op}: needs at least one array to concatenate")
    dtype = result_type(*(t.dtype for t in types), op=op)
    if axis is None:
        shapes = [(shape_size(t.shape),) for t in types]
        axis = 0
    else:
        shapes = [tuple(t.shape) for t in types]
        if not shapes[0]:
            raise ShapeError(f"{op}: zero-dimensional arrays cannot be concatenated; use stack")
        axis = normalize_axis(op, axis, len(shapes[0]))
    first = shapes[0]
    for n, s in enumerate(shapes[1:], 1):
        if len(s) != len(first) or any(a != b for d, (a, b) in enumerate(zip(s, first)) if d != axis):
            raise ShapeError(f"{op}: input {n} has shape {s} but input 0 has {first}; all dimensions "
                             f"except axis {axis} must match")
    out = first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]
    return shapes, axis, out, dtype


def _concat_lower(*tensors, axis=0, name="T_concatenate"):
    shapes, axis, out, dtype = _concat_signature(tensors, axis)
    flat = [t if t.shape == s else _reshape_to(t, s, f"{name}_flat") for t, s in zip(tensors, shapes)]

    def element(*i):
        value, offset = None, 0
        for t in flat:
            offset += t.shape[axis]
        for t in reversed(flat):  # build the select chain from the last input backwards
            offset -= t.shape[axis]
            idx = tuple(v - _c(offset) if d == axis else v for d, v in enumerate(i))
            load = _e.cast(t[idx], dtype)
            value = load if value is None else _e.select(i[axis] < _c(offset + t.shape[axis]), load, value)
        return value

    return te.compute(out, element, name=name)


_injective(
    "concatenate",
    lambda *types, axis=0: TensorType(_concat_signature(types, axis)[2], _concat_signature(types, axis)[3]),
    _concat_lower,
    lambda *arrays, axis=0: np.concatenate(arrays, axis=axis),
    "``np.concatenate(inputs, axis)``; ``axis=None`` flattens first.")


def _stack_signature(types, axis):
    if not types:
        raise ShapeError("stack: needs at least one array to stack")
    first = tuple(types[0].shape)
    for n, t in enumerate(types[1:], 1):
        if tuple(t.shape) != first:
            raise ShapeError(f"stack: all input arrays must have the same shape; input {n} has "
                             f"{tuple(t.shape)}, input 0 has {first}")
    axis = normalize_axis("stack", axis, len(first) + 1)
    return axis, first[:axis] + (len(types),) + first[axis:], result_type(*(t.dtype for t in types), op="stack")


def _stack_lower(*tensors, axis=0):
    axis, _, _ = _stack_signature(tensors, axis)
    expanded = [_reshape_to(t, t.shape[:axis] + (1,) + t.shape[axis:], "T_stack_expand") for t in tensors]
    return _concat_lower(*expanded, axis=axis, name="T_stack")


_injective(
    "stack",
    lambda *types, axis=0: TensorType(*_stack_signature(types, axis)[1:]),
    _stack_lower,
    lambda *arrays, axis=0: np.stack(arrays, axis=axis),
    "``np.stack(inputs, axis)``: join equal shapes along a new axis.")


# ------------------------------------------------------------------ split

def _split_bounds(shape, indices_or_sections, axis):
    if not shape:
        raise ShapeError("split: cannot split a 0-d array")
    axis = normalize_axis("split", axis, len(shape))
    n = shape[axis]
    if isinstance(indices_or_sections, (tuple, list)):
        cuts = [check_int_attr("split", "indices_or_sections", c) for c in indices_or_sections]
        cuts = [min(max(c + n if c < 0 else c, 0), n) for c in cuts]
    else:
        sections = check_int_attr("split", "indices_or_sections", indices_or_sections, minimum=1)
        if n % sections:
            raise ShapeError(f"split: array split does not result in an equal division: axis {axis} "
                             f"of size {n} into {sections} sections; pass split indices instead")
        cuts = [n // sections * k for k in range(1, sections)]
    starts = [0] + cuts
    stops = cuts + [n]
    return axis, [(lo, max(hi, lo)) for lo, hi in zip(starts, stops)]


def _split_infer(x: TensorType, *, indices_or_sections, axis=0):
    axis, bounds = _split_bounds(x.shape, indices_or_sections, axis)
    return tuple(TensorType(x.shape[:axis] + (hi - lo,) + x.shape[axis + 1:], x.dtype) for lo, hi in bounds)


def _split_lower(x, *, indices_or_sections, axis=0):
    axis, bounds = _split_bounds(x.shape, indices_or_sections, axis)
    outs = []
    for n, (lo, hi) in enumerate(bounds):
        shape = x.shape[:axis] + (hi - lo,) + x.shape[axis + 1:]
        outs.append(te.compute(shape, lambda *i, lo=lo: x[tuple(v + _c(lo) if d == axis else v
                                                              for d, v in enumerate(i))],
                               name=f"T_split_{n}"))
    return tuple(outs)


_injective("split", _split_infer, _split_lower,
           lambda x, *, indices_or_sections, axis=0: tuple(
               a.copy() for a in np.split(x, list(indices_or_sections) if isinstance(
                   indices_or_sections, tuple) else indices_or_sections, axis=axis)),
           "``np.split(x, indices_or_sections, axis)``: a tuple of outputs.", num_outputs=None)


# ------------------------------------------------------------------ slice

def _slice_signature(shape, starts, stops, steps):
    ndim = len(shape)
    parts = []
    for name, values in (("starts", starts), ("stops", stops), ("steps", steps)):
        if not isinstance(values, (tuple, list)) or len(values) != ndim:
            raise ShapeError(f"slice: {name} must be a tuple with one entry per dimension ({ndim}), "
                             f"got {values!r}")
        parts.append([None if v is None else check_int_attr("slice", name, v) for v in values])
    out = []
    for d, (n, lo, hi, step) in enumerate(zip(shape, *parts)):
        if step == 0:
            raise ShapeError(f"slice: step of dimension {d} cannot be zero")
        if not isinstance(n, (int, np.integer)):  # a symbolic size: only the whole axis
            if not _whole(slice(lo, hi, step)):
                raise ShapeError(f"slice: dimension {d} has the symbolic size `{n}`; only all of it "
                                 f"(start 0 or None, stop None, step 1 or None) can be taken, got "
                                 f"{index_text(slice(lo, hi, step))}")
            out.append((0, n, 1, n))
            continue
        lo, hi, step = slice(lo, hi, step).indices(n)
        out.append((lo, hi, step, len(range(lo, hi, step))))
    return out


def _slice_lower(x, *, starts, stops, steps):
    dims = _slice_signature(x.shape, starts, stops, steps)
    return te.compute(tuple(d[3] for d in dims),
                      lambda *i: x[tuple(_c(lo) + v * _c(step) for v, (lo, _, step, _) in zip(i, dims))],
                      name="T_slice")


def _slice_reference(x, *, starts, stops, steps):
    return x[tuple(slice(*d) for d in zip(starts, stops, steps))].copy()


_injective("slice",
           lambda x, *, starts, stops, steps: TensorType(
               tuple(d[3] for d in _slice_signature(x.shape, starts, stops, steps)), x.dtype),
           _slice_lower, _slice_reference,
           "``x[start:stop:step, ...]`` with one (start, stop, step) per dimension, as Python's "
           "``slice`` takes them (None, negative and out-of-range values are normalised).")


# ------------------------------------------------------------------ update_slice

def _update_slice_infer(x: TensorType, v: TensorType, *, starts, stops, steps) -> TensorType:
    shape = tuple(d[3] for d in _slice_signature(x.shape, starts, stops, steps))
    if tuple(v.shape) != shape:
        raise ShapeError(f"update_slice: the value must have the slice's shape {shape}, got {tuple(v.shape)}")
    if v.dtype != x.dtype:
        raise DTypeError(f"update_slice: the value must have x's dtype {x.dtype}, got {v.dtype}")
    return TensorType(tuple(x.shape), x.dtype)


def _update_slice_lower(x, v, *, starts, stops, steps):
    """``x`` with ``v`` at the slice: each output element is ``v``'s where the slice reads it,
    else ``x``'s (one pass, the slice's index arithmetic run backwards)."""
    dims = _slice_signature(x.shape, starts, stops, steps)
    if any(count == 0 for *_, count in dims):
        return te.compute(tuple(x.shape), lambda *i: x[i], name="T_update_slice")

    def f(*i):
        inside, at = None, []
        for d, (lo, _, step, count) in enumerate(dims):
            first, stride = (lo, step) if step > 0 else (lo + (count - 1) * step, -step)
            if step == 1 and first == 0 and count == x.shape[d]:
                at.append(i[d])
                continue
            off = i[d] - _c(first)
            cond = _e.logical_and(off >= _c(0), off <= _c((count - 1) * stride))
            if stride > 1:
                cond = _e.logical_and(cond, _e.floormod(off, _c(stride)) == _c(0))
                off = _e.floordiv(off, _c(stride))
            if step < 0:
                off = _c(count - 1) - off
            at.append(_e.max(_e.min(off, _c(count - 1)), _c(0)))  # in bounds where not selected too
            inside = cond if inside is None else _e.logical_and(inside, cond)
        if inside is None:
            return v[tuple(at)]
        return _e.select(inside, v[tuple(at)], x[i])
    return te.compute(tuple(x.shape), f, name="T_update_slice")


def _update_slice_reference(x, v, *, starts, stops, steps):
    out = x.copy()
    out[tuple(slice(*d) for d in zip(starts, stops, steps))] = v
    return out


_injective("update_slice", _update_slice_infer, _update_slice_lower, _update_slice_reference,
           "``x`` with ``v`` written at ``x[start:stop:step, ...]`` (``slice``'s attributes; ``v`` has "
           "the slice's shape and ``x``'s dtype): NumPy's ``x[...] = v`` as a new array.")


def plan_getitem(shape, key):
    """Turn a static NumPy index into a ``slice`` op plus a ``reshape``.

    ``key`` may hold ints, slices, ``None`` and one ``Ellipsis``. Returns the
    normalised (starts, stops, steps) for the ``slice`` op and the shape to
    reshape its result to (ints drop a dimension, ``None`` adds one).
    Raises ShapeError (an IndexError in NumPy) for out-of-range ints.
    """
    key = _full_key(len(shape), key)
    starts, stops, steps, out_shape, dim = [], [], [], [], 0
    for k in key:
        if k is None:
            out_shape.append(1)
            continue
        n = shape[dim]
        if not isinstance(n, (int, np.integer)):  # a symbolic size (a dynamic axis)
            if not _whole(k):
                raise IRError(f"`{index_text(k)}` indexes axis {dim}, whose size `{n}` is known only "
                              "when the function is called; there, only the whole axis (`:`) can be taken")
            starts.append(0)
            stops.append(None)
            steps.append(1)
            out_shape.append(n)
            dim += 1
            continue
        if isinstance(k, slice):
            lo, hi, step = k.indices(n)
            length = len(range(lo, hi, step))
            out_shape.append(length)
            if length == 0:  # indices() may say "before index 0" as -1, which slice reads as the end
                lo, hi, step = 0, 0, 1
            elif hi < 0:  # "before index 0" for a negative step; -1 would mean the last element
                hi = -n - 1
        else:
            index = check_int_attr("getitem", "index", k)
            if not -n <= index < n:
                raise IndexBoundsError(f"index {index} is out of bounds for axis {dim} with size {n}")
            lo = index % n
            hi, step = lo + 1, 1
        starts.append(lo)
        stops.append(hi)
        steps.append(step)
        dim += 1
    return tuple(starts), tuple(stops), tuple(steps), tuple(out_shape)


def _full_key(ndim: int, key) -> tuple:
    """``key`` as a tuple with one entry per axis besides its Nones (``...`` and the missing
    trailing axes become ``:``)."""
    key = key if isinstance(key, tuple) else (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise ShapeError("an index can only have a single ellipsis ('...')")
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    if used > ndim:
        raise ShapeError(f"too many indices for array: array is {ndim}-dimensional, but {used} "
                         "were indexed")
    if Ellipsis in key:
        at = key.index(Ellipsis)
        return key[:at] + (slice(None),) * (ndim - used) + key[at + 1:]
    return key + (slice(None),) * (ndim - used)


def _whole(k) -> bool:
    """Whether index ``k`` is ``:`` (all of an axis, in order)."""
    return (isinstance(k, slice) and k.start in (None, 0) and k.stop is None and k.step in (None, 1)
            and not isinstance(k.start, bool) and not isinstance(k.step, bool))


def index_text(key) -> str:
    """An index as it is written: ``1:, None``, ``..., 0``, ``::-1``."""
    if isinstance(key, tuple):
        return ", ".join(index_text(k) for k in key)
    if isinstance(key, slice):
        text = ":".join("" if v is None else str(v) for v in (key.start, key.stop))
        return text if key.step is None else f"{text}:{key.step}"
    return "..." if key is Ellipsis else repr(key)


# ------------------------------------------------------------------ pad / flip

def _pad_widths(shape, pad_width):
    ndim = len(shape)
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=object), (ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: pad_width {pad_width!r} does not fit an array of {ndim} dimension(s); "
                         "use an int, (before, after) or one pair per dimension") from None
    out = tuple((check_int_attr("pad", "pad_width", b, minimum=0),
                 check_int_attr("pad", "pad_width", a, minimum=0)) for b, a in widths)
    return out


def _check_pad_value(value, dtype: str):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ShapeError(f"pad: constant_values must be a Python int or float, got {value!r}")
    if isinstance(value, int) and dt.is_int(dtype) and not dt.is_unsigned(dtype):  # NumPy wraps unsigned ones
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            raise DTypeError(f"pad: constant_values {value} is out of bounds for {dtype}, in [{info.min}, "
                             f"{info.max}]; NumPy 2 raises OverflowError here. Pad with a value in range, "
                             "or cast the array to a wider dtype first")


def _pad_infer(x: TensorType, *, pad_width, constant_values=0):
    _check_pad_value(constant_values, x.dtype)
    widths = _pad_widths(x.shape, pad_width)
    return TensorType(tuple(n + b + a for n, (b, a) in zip(x.shape, widths)), x.dtype)


def _pad_lower(x, *, pad_width, constant_values=0):
    out = _pad_infer(x, pad_width=pad_width, constant_values=constant_values)
    widths = _pad_widths(x.shape, pad_width)
    fill = _e.const(np.asarray(constant_values).astype(x.dtype).item(), x.dtype)

    def element(*i):
        inside = _e.const(True, "bool")
        for v, n, (b, _) in zip(i, x.shape, widths):
            if b:
                inside = _e.logical_and(inside, v >= _c(b))
            inside = _e.logical_and(inside, v < _c(b + n))
        return _e.select(inside, x[tuple(v - _c(b) for v, (b, _) in zip(i, widths))], fill)

    return te.compute(out.shape, element, name="T_pad")


_injective("pad", _pad_infer, _pad_lower,
           lambda x, *, pad_width, constant_values=0: np.pad(x, pad_width, constant_values=constant_values),
           "``np.pad(x, pad_width, constant_values=...)`` (constant mode).")


def _flip_lower(x, *, axis=None):
    axes = normalize_axes("flip", axis, x.ndim)
    return te.compute(x.shape, lambda *i: x[tuple(_c(n - 1) - v if d in axes else v
                                                  for d, (v, n) in enumerate(zip(i, x.shape)))],
                      name="T_flip")


_injective("flip",
           lambda x, *, axis=None: (normalize_axes("flip", axis, x.ndim), TensorType(x.shape, x.dtype))[1],
           _flip_lower, lambda x, *, axis=None: np.flip(x, axis).copy(),
           "``np.flip(x, axis)``; ``axis=None`` reverses every dimension.",
           numpy=NumpyAPI("(m, axis=None)", "``np.flip(m, axis)``."))
