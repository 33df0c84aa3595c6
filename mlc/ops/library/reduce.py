"""Reductions: sum, mean, max, min, all, any, prod, argmax, argmin, var, std, logsumexp.

Attributes follow NumPy: ``axis`` (None = all, an int, or a tuple) and
``keepdims``. Result dtypes are NumPy's: ``sum``/``prod`` of bool or of a
narrow integer accumulate in the platform integer (int64/uint64 here),
``mean``/``var``/``std`` of integers are float64. float16 data accumulates
in float32 and is rounded once at the end.

Each lowering is one reduction stage (a te.compute whose body is a reducer
over reduce axes) plus elementwise stages where the math needs them, so a
schedule can tile, rfactor or fuse them:

>>> from mlc import te
>>> from mlc.ops import get_op
>>> x = te.placeholder((3, 5), "int32", "x")
>>> s = get_op("sum").lower(x, axis=1)
>>> s.shape, s.dtype, len(s.op.reduce_axis)
((3,), 'int64', 1)
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ..registry import NumpyAPI, TensorType, register_op
from .scan import scan_func
from .scan_gpu import scan_gpu_func
from ._common import (accumulate_dtype, all_reducer, any_reducer, canonical_dtype, cast_stage,
                      highest, lowest, normalize_axes, normalize_axis, one, prod_reducer,
                      reduce_compute, zero)

__all__ = ["reduced_shape", "reduced_indices", "kept_indices", "reduce_over", "moments"]

def reduced_shape(op: str, shape, axis, keepdims, scalar_axis: bool = False
                  ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(sorted reduced axes, output shape) of reducing ``shape`` over ``axis``.

    ``scalar_axis``: NumPy's ufunc reductions (sum, prod, max, min) accept
    ``axis=0`` or ``axis=-1`` -- an int, not a tuple -- on a 0-d array and
    reduce nothing; ``mean``/``var``/``std`` refuse them, as NumPy does.

    >>> reduced_shape("sum", (), -1, False, scalar_axis=True), reduced_shape("sum", (2, 3), 1, True)
    (((), ()), ((1,), (2, 1)))
    """
    if not isinstance(keepdims, bool):
        raise ShapeError(f"{op}: keepdims must be True or False, got {keepdims!r}")
    if scalar_axis and not shape and _is_int(axis) and int(axis) in (0, -1):
        return (), ()
    axes = normalize_axes(op, axis, len(shape))
    if keepdims:
        out = tuple(1 if d in axes else n for d, n in enumerate(shape))
    else:
        out = tuple(n for d, n in enumerate(shape) if d not in axes)
    return axes, out


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def reduced_indices(ndim: int, axes, keepdims: bool, out_idx, red_vars) -> tuple:
    """Input indices for an output point ``out_idx`` and reduce variables ``red_vars``."""
    out_idx, red = list(out_idx), iter(red_vars)
    result, pos = [], 0
    for d in range(ndim):
        if d in axes:
            result.append(next(red))
            pos += keepdims
        else:
            result.append(out_idx[pos])
            pos += 1
    return tuple(result)


def kept_indices(index, axes, keepdims: bool) -> tuple:
    """The output index of the input point ``index``: reduced dims dropped, or 0 with keepdims."""
    if keepdims:
        return tuple(_e.const(0, dt.INDEX) if d in axes else i for d, i in enumerate(index))
    return tuple(i for d, i in enumerate(index) if d not in axes)


def reduce_over(x, axes, keepdims, out_shape, acc, reducer, identity, name, fn=None):
    """One reduction stage of ``fn(x[index], index)`` cast to ``acc`` over ``axes`` of ``x``
    (a float32 sum of many elements: two, see :func:`_blocked_sum`)."""
    fn = fn or (lambda v, idx: v)
    extents = [x.shape[a] for a in axes]
    blocks = (_sum_blocks(extents) if reducer is te.sum and acc in _WIDER and x.ndim - 1 in axes
              else None)  # (a sum down columns adds each output's elements apart: NumPy's order too)
    if blocks is not None:
        return _blocked_sum(x, axes, keepdims, out_shape, fn, name, blocks, acc)
    if (reducer is te.sum and acc in _WIDER and x.ndim - 1 in axes
            and not all(isinstance(e, int) for e in extents)):
        # a dynamic axis's length is known only when the kernel runs, so it is not cut into
        # blocks: its float32 elements are added in float64 instead, as accurate at any length
        def wide(idx, ks):
            index = reduced_indices(x.ndim, axes, keepdims, idx, ks)
            return _e.cast(_e.cast(fn(x[index], index), acc), _WIDER[acc])
        total = reduce_compute(out_shape, extents, wide, reducer, identity, f"{name}_{_WIDER[acc]}", _WIDER[acc])
        return te.compute(out_shape, lambda *i: _e.cast(total[i], acc), name=name)

    def body(idx, ks):
        index = reduced_indices(x.ndim, axes, keepdims, idx, ks)
        return _e.cast(fn(x[index], index), acc)

    return reduce_compute(out_shape, extents, body, reducer, identity, name, acc)


#: The dtypes whose long sums are added in blocks, and the wider dtype adding the blocks.
_WIDER = {"float32": "float64", "complex64": "complex128"}

#: A float32 sum of at least this many elements per output is summed in blocks
#: (:func:`_blocked_sum`); shorter ones (rows of a softmax or a layer norm) in one stage.
BLOCKED_SUM_FROM = 1 << 15
#: The elements of one block: summed in float32 (32 vector lanes, 64 additions each).
SUM_BLOCK = 2048


def _sum_blocks(extents) -> list[int] | None:
    """The inner extent of each reduced axis in a blocked sum of ``extents`` (their product
    about :data:`SUM_BLOCK`; the axes before the one split are blocked by 1, those after it
    whole), or None: a short sum, or a symbolic extent. The split axis takes a divisor of its
    extent near the block size where it has one, else the block size and a shorter tail."""
    if not extents or not all(isinstance(e, int) for e in extents) or math.prod(extents) < BLOCKED_SUM_FROM:
        return None
    inner, room = [1] * len(extents), SUM_BLOCK
    for n in range(len(extents) - 1, -1, -1):  # the last (contiguous) axes fill the block first
        e = extents[n]
        if e <= room:
            inner[n], room = e, room // e
            continue
        if room > 1:
            inner[n] = next((d for d in range(room, room // 4, -1) if e % d == 0), room)
        break
    return inner


def _blocked_sum(x, axes, keepdims, out_shape, fn, name, inner, acc="float32"):
    """``sum(fn(x[index], index))`` over ``axes`` as NumPy's pairwise summation bounds its
    error: each block of about :data:`SUM_BLOCK` elements is summed in float32 (``T_..._block``,
    one element per output point and block, the blocks side by side on threads; the split
    axis's last, shorter block apart, in ``T_..._tail``), and the block sums in float64. A
    float32 sum of 2^24 elements is then within a few ulp, where one float32 accumulator per
    vector lane drifts by thousands (2^19 additions each). ``acc`` complex64: the blocks in
    complex64, their sums in complex128.

    >>> from mlc.ir import te
    >>> x = te.placeholder((1 << 16,), "float32", "x")
    >>> total = reduce_over(x, (0,), False, (), "float32", te.sum, zero, "T_sum")
    >>> [(t.name, t.shape, t.dtype) for t in (total.op.inputs[0].op.inputs[0], total.op.inputs[0], total)]
    [('T_sum_block', (32,), 'float32'), ('T_sum_blocks', (), 'float64'), ('T_sum', (), 'float32')]
    """
    extents = [x.shape[a] for a in axes]
    blocked = [n for n, (e, i) in enumerate(zip(extents, inner)) if i < e]
    split = blocked[-1]  # the innermost blocked axis: blocks of inner[split], maybe a tail
    counts = {n: extents[n] // inner[n] for n in blocked}
    tail = extents[split] % inner[split]
    spatial = [d for d in range(x.ndim) if d not in axes]
    space = [x.shape[d] for d in spatial]

    def stage(outer_axes, extents_in, offset, suffix):
        """float32 sums over ``extents_in`` for each block of ``outer_axes`` and spatial point;
        axis ``split`` starts at ``offset`` within its block."""
        def body(idx, ks):
            where = dict(zip(spatial, idx[:len(spatial)]))
            outer = dict(zip(outer_axes, idx[len(spatial):]))
            for n, (a, k) in enumerate(zip(axes, ks)):
                start = outer[n] * _e.const(inner[n], dt.INDEX) if n in outer else None
                if n == split and offset:
                    start = _e.const(offset, dt.INDEX)
                where[a] = k if start is None else start + k
            index = tuple(where[d] for d in range(x.ndim))
            return _e.cast(fn(x[index], index), acc)
        return reduce_compute(space + [counts[n] for n in outer_axes], extents_in, body, te.sum, zero,
                              f"{name}_{suffix}", acc)

    dims = _out_dims(x.ndim, axes, keepdims)

    def wide_sum(part, outer_axes, suffix):
        def body(idx, ks):
            points = tuple(i for i, d in zip(idx, dims) if d is not None)
            return _e.cast(part[points + tuple(ks)], _WIDER[acc])
        return reduce_compute(out_shape, [counts[n] for n in outer_axes], body, te.sum, zero,
                              f"{name}_{suffix}", _WIDER[acc])

    total = wide_sum(stage(blocked, inner, 0, "block"), blocked, "blocks")
    if not tail:
        return te.compute(tuple(out_shape), lambda *idx: _e.cast(total[idx], acc), name=name)
    rest = [n for n in blocked if n != split]
    extents_in = [tail if n == split else inner[n] for n in range(len(axes))]
    rest_total = wide_sum(stage(rest, extents_in, counts[split] * inner[split], "tail"), rest, "tails")
    return te.compute(tuple(out_shape), lambda *idx: _e.cast(total[idx] + rest_total[idx], acc),
                      name=name)


def _out_dims(ndim: int, axes, keepdims: bool) -> list[int | None]:
    """For each output dimension, the input dimension it indexes (None: a kept reduced one)."""
    if keepdims:
        return [None if d in axes else d for d in range(ndim)]
    return [d for d in range(ndim) if d not in axes]


def _sum_dtype(dtype: str) -> str:
    """NumPy's default accumulator for ``sum``/``prod``: the platform int for narrow ints."""
    if dtype == "bool" or (dt.is_signed(dtype) and dt.bits(dtype) < 64):
        return "int64"
    if dt.is_unsigned(dtype) and dt.bits(dtype) < 64:
        return "uint64"
    return dtype


# ------------------------------------------------------------------ sum / prod

#: NumPy's parameters of its reductions, with and without ``dtype``, and with a start value.
_REDUCE = "(a, axis=None, dtype=None, out=None, keepdims=False)"
_REDUCE_NO_DTYPE = "(a, axis=None, out=None, keepdims=False)"
_REDUCE_INITIAL = "(a, axis=None, dtype=None, out=None, keepdims=False, initial=None)"
_REDUCE_NO_DTYPE_INITIAL = "(a, axis=None, out=None, keepdims=False, initial=None)"


def start_value(name: str, initial, dtype: str):
    """NumPy's start value ``initial`` of a reduction whose result is ``dtype``, as a constant:
    an integer result takes ``int(initial)`` (-2.5 starts at -2; an infinity, NaN or a value
    outside the dtype is an error, as in NumPy), a float one the value rounded to it.

    >>> start_value("max", -2.5, "int8").value, bool(start_value("sum", 0.1, "float32").value == np.float32(0.1))
    (-2, True)
    """
    try:
        value = np.array(int(initial), dtype) if np.dtype(dtype).kind in "biu" else np.asarray(initial).astype(dtype)
    except (TypeError, ValueError, OverflowError) as err:
        raise DTypeError(f"{name}: initial={initial!r} is no start value for a result of dtype {dtype} "
                         f"({err})") from None
    return _e.const(value.item(), dtype)


def _started(t, name: str, initial, combine):
    """``t`` with each element combined with the start value ``initial`` (NumPy's ``initial=``),
    as a stage of its own after the reduction, whose partial results (a schedule may split
    it) start from the reducer's identity; ``t`` itself without one."""
    if initial is None:
        return t
    start = start_value(name, initial, t.dtype)
    return te.compute(t.shape, lambda *i: combine(t[i], start), name=f"T_{name}_initial")


def _numpy_initial(initial) -> dict:
    return {} if initial is None else {"initial": initial}


def _sum_like(name, reducer, bool_reducer, identity, numpy_fn, combine):
    def out_dtype(x_dtype, dtype):
        return canonical_dtype(name, dtype) if dtype is not None else _sum_dtype(x_dtype)

    def infer(x: TensorType, *, axis=None, keepdims=False, dtype=None, initial=None) -> TensorType:
        _, shape = reduced_shape(name, x.shape, axis, keepdims, scalar_axis=True)
        out = out_dtype(x.dtype, dtype)
        if initial is not None:
            start_value(name, initial, out)
        return TensorType(shape, out)

    def lower(x, *, axis=None, keepdims=False, dtype=None, initial=None):
        axes, shape = reduced_shape(name, x.shape, axis, keepdims, scalar_axis=True)
        out = out_dtype(x.dtype, dtype)
        acc = accumulate_dtype(out)
        red = bool_reducer if acc == "bool" else reducer
        s = reduce_over(x, axes, keepdims, shape, acc, red, identity, f"T_{name}")
        return _started(cast_stage(s, out, f"T_{name}_cast"), name, initial, combine)

    def reference(x, *, axis=None, keepdims=False, dtype=None, initial=None):
        return np.asarray(numpy_fn(x, axis=axis, keepdims=keepdims, dtype=dtype, **_numpy_initial(initial)))

    register_op(name, pattern="reduction", infer=infer, lower=lower, reference=reference,
                doc=f"``np.{name}(x, axis, keepdims=..., dtype=..., initial=...)``.",
                numpy=NumpyAPI(_REDUCE_INITIAL, f"``np.{name}(a, axis, dtype, keepdims=..., initial=...)``: "
                                                f"``initial`` starts each {name}."))


_sum_like("sum", te.sum, any_reducer, zero, np.sum, lambda a, b: a + b)
_sum_like("prod", prod_reducer, all_reducer, one, np.prod, lambda a, b: a * b)


# ------------------------------------------------------------------ all / any

def _truth(name, reducer, identity, numpy_fn, numpy_doc):
    """``all``/``any``: every element read as a bool (nonzero, NaN included), reduced."""
    def infer(x: TensorType, *, axis=None, keepdims=False) -> TensorType:
        _, shape = reduced_shape(name, x.shape, axis, keepdims, scalar_axis=True)
        return TensorType(shape, "bool")

    def lower(x, *, axis=None, keepdims=False):
        axes, shape = reduced_shape(name, x.shape, axis, keepdims, scalar_axis=True)
        return reduce_over(x, axes, keepdims, shape, "bool", reducer, lambda _: _e.const(identity, "bool"),
                           f"T_{name}", fn=lambda v, idx: v != _e.const(0, v.dtype))

    register_op(name, pattern="reduction", infer=infer, lower=lower,
                reference=lambda x, *, axis=None, keepdims=False: np.asarray(
                    numpy_fn(x, axis=axis, keepdims=keepdims)),
                doc=f"``np.{name}(x, axis, keepdims)``: bool; an empty slice gives {identity}.",
                numpy=NumpyAPI(_REDUCE_NO_DTYPE, numpy_doc))


_truth("all", all_reducer, True, np.all,
       "``np.all(a, axis, keepdims=...)``: whether every element is nonzero (True when empty).")
_truth("any", any_reducer, False, np.any,
       "``np.any(a, axis, keepdims=...)``: whether some element is nonzero (False when empty).")


# ------------------------------------------------------------------ max / min

def _refuse_complex(name: str, dtype: str) -> None:
    """max, min, argmax, argmin: complex numbers are not ordered (the Array API)."""
    if dt.is_complex(dtype):
        raise DTypeError(f"{name}: complex numbers are not ordered, got {dtype}; reduce abs(x), "
                         f"real(x) or imag(x) instead")


#: What NumPy says of a reduction without an identity over an empty axis (a ShapeError here;
#: over a dynamic axis, at the call: :func:`mlc.tracer.compile.nonempty_axes`).
EMPTY_REDUCTION = {"max": "zero-size array to reduction operation maximum which has no identity",
                   "min": "zero-size array to reduction operation minimum which has no identity",
                   "argmax": "attempt to get argmax of an empty sequence",
                   "argmin": "attempt to get argmin of an empty sequence"}


def _extremum(name, reducer, identity, numpy_fn, combine):
    def infer(x: TensorType, *, axis=None, keepdims=False, initial=None) -> TensorType:
        _refuse_complex(name, x.dtype)
        axes, shape = reduced_shape(name, x.shape, axis, keepdims, scalar_axis=True)
        if initial is None and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(f"{name}: {EMPTY_REDUCTION[name]} (axis {axis!r} of shape {x.shape} is "
                             f"empty); reduce over non-empty axes, or give initial=")
        if initial is not None:
            start_value(name, initial, x.dtype)
        return TensorType(shape, x.dtype)

    def lower(x, *, axis=None, keepdims=False, initial=None):
        infer(x, axis=axis, keepdims=keepdims, initial=initial)
        axes, shape = reduced_shape(name, x.shape, axis, keepdims, scalar_axis=True)
        # an empty slice reduces to the identity, which the start value then replaces
        return _started(reduce_over(x, axes, keepdims, shape, x.dtype, reducer, identity, f"T_{name}"),
                        name, initial, combine)

    register_op(name, pattern="reduction", infer=infer, lower=lower,
                reference=lambda x, *, axis=None, keepdims=False, initial=None: np.asarray(
                    numpy_fn(x, axis=axis, keepdims=keepdims, **_numpy_initial(initial))),
                doc=f"``np.{name}(x, axis, keepdims, initial=...)``; a NaN in a slice gives NaN.",
                numpy=NumpyAPI(_REDUCE_NO_DTYPE_INITIAL, f"``np.{name}(a, axis, keepdims=..., initial=...)``: "
                                                         f"``initial`` takes part in each {name}, and is "
                                                         f"the {name} of an empty slice."))


_extremum("max", te.max, lowest, np.max, _e.max)
_extremum("min", te.min, highest, np.min, _e.min)


# ------------------------------------------------------------------ argmax / argmin

def _arg_extremum(name, reducer, identity, numpy_fn):
    def signature(x, axis, keepdims):
        if axis is not None:
            axis = normalize_axis(name, axis, x.ndim) if x.ndim else normalize_axis(name, axis, 1)
        axes, shape = reduced_shape(name, x.shape, axis if x.ndim else None, keepdims)
        if any(x.shape[a] == 0 for a in axes) or (x.ndim and not axes):
            raise ShapeError(f"{name}: {EMPTY_REDUCTION[name]} (shape {x.shape})")
        return axes, shape

    def infer(x: TensorType, *, axis=None, keepdims=False) -> TensorType:
        _refuse_complex(name, x.dtype)
        return TensorType(signature(x, axis, keepdims)[1], "int64")

    def lower(x, *, axis=None, keepdims=False):
        axes, shape = signature(x, axis, keepdims)
        best = reduce_over(x, axes, True, tuple(1 if d in axes else n for d, n in enumerate(x.shape)),
                             x.dtype, reducer, identity, f"T_{name}_value")
        strides = [1] * len(axes)
        for n in range(len(axes) - 2, -1, -1):
            strides[n] = strides[n + 1] * x.shape[axes[n + 1]]
        none = _e.const(np.iinfo("int64").max, "int64")

        def first_match(v, index):
            m = best[kept_indices(index, axes, True)]
            hit = v == m
            if dt.is_float(x.dtype):
                hit = _e.logical_or(hit, _e.isnan(v))  # a NaN is the extremum; take the first
            linear = _e.const(0, "int64")
            for a, stride in zip(axes, strides):
                linear = linear + _e.cast(index[a], "int64") * _e.const(stride, "int64")
            return _e.select(hit, linear, none)

        return reduce_over(x, axes, keepdims, shape, "int64", te.min, highest, f"T_{name}",
                             first_match)

    register_op(name, pattern="reduction", infer=infer, lower=lower,
                reference=lambda x, *, axis=None, keepdims=False: np.asarray(
                    numpy_fn(x, axis=axis, keepdims=keepdims)),
                doc=f"``np.{name}(x, axis, keepdims)``: the first index of the extremum "
                    "(of the first NaN when there is one), int64.",
                numpy=NumpyAPI(_REDUCE_NO_DTYPE, f"``np.{name}(a, axis, keepdims=...)``: int64 indices of "
                                                 f"the first {name[3:]}imum."))


_arg_extremum("argmax", te.max, lowest, np.argmax)
_arg_extremum("argmin", te.min, highest, np.argmin)


# ------------------------------------------------------------------ mean / var / std

def _moment_dtype(name: str, x_dtype: str, dtype) -> str:
    """The dtype of a mean (float, or complex for complex data) or variance (float)."""
    if dt.is_complex(x_dtype) and name != "mean":
        raise DTypeError(f"{name}: complex data ({x_dtype}) is not supported; the {name} of a "
                         f"complex array is that of its parts combined: compute it from "
                         f"real(x) and imag(x)")
    if dtype is not None:
        out = canonical_dtype(name, dtype)
        if not (dt.is_float(out) or dt.is_complex(out) and name == "mean"):
            raise DTypeError(f"{name}: dtype must be a float dtype, got {out}")
        return out
    return x_dtype if dt.is_inexact(x_dtype) else "float64"


def count_value(count, dtype: str) -> _e.PrimExpr:
    """The element count of a reduction (an int, or an expression of dynamic sizes) as a
    ``dtype`` value."""
    return _e.const(count, dtype) if isinstance(count, int) else _e.cast(count, dtype)


def _mean_stage(x, axes, keepdims, shape, acc, name):
    count = 1
    for a in axes:
        count = count * x.shape[a]
    s = reduce_over(x, axes, keepdims, shape, acc, te.sum, zero, f"{name}_sum")
    return te.compute(shape, lambda *i: s[i] / count_value(count, acc), name=f"{name}_mean"), count


def moments(x, axes, acc: str, name: str):
    """Two-pass moment stages over ``axes``, reduced dims kept as size 1.

    Returns (mean, sum of squared deviations from it, element count); the
    variance is ``squares / (count - ddof)``. Used by var/std and layer_norm.
    """
    kept = tuple(1 if d in axes else n for d, n in enumerate(x.shape))
    mean, count = _mean_stage(x, axes, True, kept, acc, name)

    def deviation(v, index):
        diff = _e.cast(v, acc) - mean[kept_indices(index, axes, True)]
        return diff * diff

    return mean, reduce_over(x, axes, True, kept, acc, te.sum, zero, f"{name}_sq", deviation), count


def _mean_infer(x: TensorType, *, axis=None, keepdims=False, dtype=None) -> TensorType:
    _, shape = reduced_shape("mean", x.shape, axis, keepdims)
    return TensorType(shape, _moment_dtype("mean", x.dtype, dtype))


def _mean_lower(x, *, axis=None, keepdims=False, dtype=None):
    axes, shape = reduced_shape("mean", x.shape, axis, keepdims)
    out = _moment_dtype("mean", x.dtype, dtype)
    m, _ = _mean_stage(x, axes, keepdims, shape, accumulate_dtype(out), "T_mean")
    return cast_stage(m, out, "T_mean_cast")


def _mean_reference(x, *, axis=None, keepdims=False, dtype=None):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.mean(x, axis=axis, keepdims=keepdims, dtype=dtype))


register_op("mean", pattern="reduction", infer=_mean_infer, lower=_mean_lower,
            reference=_mean_reference, doc="``np.mean(x, axis, keepdims=..., dtype=...)``.",
            numpy=NumpyAPI(_REDUCE, "``np.mean(a, axis, dtype, keepdims=...)``; integers average in float64."))


def _check_ddof(name, ddof):
    if isinstance(ddof, bool) or not isinstance(ddof, (int, float)):
        raise ShapeError(f"{name}: ddof must be an int or float, got {ddof!r}")


def _variance(name, take_sqrt, numpy_fn):
    def infer(x: TensorType, *, axis=None, keepdims=False, ddof=0) -> TensorType:
        _check_ddof(name, ddof)
        _, shape = reduced_shape(name, x.shape, axis, keepdims)
        return TensorType(shape, _moment_dtype(name, x.dtype, None))

    def lower(x, *, axis=None, keepdims=False, ddof=0):
        _check_ddof(name, ddof)
        axes, shape = reduced_shape(name, x.shape, axis, keepdims)
        out = _moment_dtype(name, x.dtype, None)
        acc = accumulate_dtype(out)
        _, sq, count = moments(x, axes, acc, f"T_{name}")
        denom = (_e.const(max(count - ddof, 0), acc) if isinstance(count, int) else
                 _e.max(count_value(count, acc) - _e.const(ddof, acc), _e.const(0, acc)))
        zeros = [_e.const(0, dt.INDEX)] * len(axes)

        def finish(*i):
            v = sq[reduced_indices(x.ndim, axes, keepdims, i, zeros)] / denom
            return _e.cast(_e.sqrt(v) if take_sqrt else v, out)

        return te.compute(shape, finish, name=f"T_{name}")

    def reference(x, *, axis=None, keepdims=False, ddof=0):
        # in the lowering's accumulation dtype: NumPy sums float16's squared deviations in
        # float16, which overflows to inf for values as small as 96
        out = _moment_dtype(name, str(x.dtype), None)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            result = numpy_fn(x, axis=axis, keepdims=keepdims, ddof=ddof, dtype=accumulate_dtype(out))
        return np.asarray(result).astype(out, copy=False)

    register_op(name, pattern="reduction", infer=infer, lower=lower, reference=reference,
                doc=f"``np.{name}(x, axis, keepdims=..., ddof=...)`` (two-pass: mean, then squares; "
                    "float16 accumulates in float32, where NumPy's sum of squares can overflow).")


_variance("var", False, np.var)
_variance("std", True, np.std)


# ------------------------------------------------------------------ logsumexp

def _lse_dtype(dtype: str) -> str:
    """SciPy's rule: floats keep their dtype, integers and bool give float64."""
    return dtype if dt.is_float(dtype) else "float64"


def _lse_infer(x: TensorType, *, axis=None, keepdims=False) -> TensorType:
    _, shape = reduced_shape("logsumexp", x.shape, axis, keepdims)
    return TensorType(shape, _lse_dtype(x.dtype))


def _lse_lower(x, *, axis=None, keepdims=False):
    """max stage, sum of ``exp(x - max)`` stage, then ``log(sum) + max``."""
    axes, shape = reduced_shape("logsumexp", x.shape, axis, keepdims)
    out = _lse_dtype(x.dtype)
    acc = accumulate_dtype(out)
    m = reduce_over(x, axes, keepdims, shape, acc, te.max, lowest, "T_logsumexp_max")
    shift = te.compute(shape, lambda *i: _e.select(_e.isfinite(m[i]), m[i], zero(acc)),
                       name="T_logsumexp_shift")

    def shifted_exp(v, index):
        out_index = kept_indices(index, axes, keepdims)
        return _e.exp(_e.cast(v, acc) - shift[out_index])

    s = reduce_over(x, axes, keepdims, shape, acc, te.sum, zero, "T_logsumexp_sum", shifted_exp)
    return te.compute(shape, lambda *i: _e.cast(_e.log(s[i]) + shift[i], out), name="T_logsumexp")


def _lse_reference(x, *, axis=None, keepdims=False):
    out = _lse_dtype(x.dtype.name)
    x = x.astype(accumulate_dtype(out))
    axes = normalize_axes("logsumexp", axis, x.ndim)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
        m = np.where(np.isfinite(m), m, 0)
        r = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    if not keepdims:
        r = r.reshape([n for d, n in enumerate(x.shape) if d not in axes])
    return np.asarray(r.astype(out))


register_op("logsumexp", pattern="reduction", infer=_lse_infer, lower=_lse_lower,
            reference=_lse_reference,
            doc="``log(sum(exp(x)))`` over ``axis``, computed stably by subtracting the max.")


# ------------------------------------------------------------------ cumsum / cumprod

def _scan(name, reducer, bool_reducer, identity, numpy_fn):
    """Inclusive scans along one axis: ``out[..., i, ...]`` reduces ``x[..., k, ...]`` for ``k <= i``.

    Compiled from a hand-written PrimFunc (:func:`.scan.scan_func`): one pass with an
    accumulator per line, O(n); on the GPU a thread per line, or chunks of long lines
    (:func:`.scan_gpu.scan_gpu_func`). ``lower`` is the same scan as te stages for the te
    pipeline's users: one reduction whose reduce axis runs the whole ``axis`` with the
    condition ``k <= i`` (quadratic in the axis length), then a cast stage when the
    accumulator differs.
    """
    def out_dtype(x_dtype, dtype):
        return canonical_dtype(name, dtype) if dtype is not None else _sum_dtype(x_dtype)

    def infer(x: TensorType, *, axis=0, dtype=None) -> TensorType:
        normalize_axis(name, axis, x.ndim)
        return TensorType(x.shape, out_dtype(x.dtype, dtype))

    def lower(x, *, axis=0, dtype=None):
        axis = normalize_axis(name, axis, x.ndim)
        out = out_dtype(x.dtype, dtype)
        acc = accumulate_dtype(out)
        red = bool_reducer if acc == "bool" else reducer
        n = x.shape[axis]
        if n == 0:
            return te.compute(x.shape, lambda *i: identity(out), name=f"T_{name}")
        k = te.reduce_axis((0, n), "k")

        def body(*i):
            src = i[:axis] + (k.var,) + i[axis + 1:]
            return red(_e.cast(x[src], acc), axis=[k], where=k.var <= i[axis])

        return cast_stage(te.compute(x.shape, body, name=f"T_{name}"), out, f"T_{name}_cast")

    def kernel(build):
        def prim_func(x: TensorType, *, axis=0, dtype=None):
            out = infer(x, axis=axis, dtype=dtype)
            return build(x, out.dtype, axis=normalize_axis(name, axis, x.ndim), product=name == "cumprod")
        return prim_func

    register_op(name, pattern="opaque", infer=infer, lower=lower, prim_func=kernel(scan_func),
                gpu_prim_func=kernel(scan_gpu_func),
                reference=lambda x, *, axis=0, dtype=None: np.asarray(numpy_fn(x, axis=axis, dtype=dtype)),
                doc=f"``np.{name}(x, axis, dtype=...)`` along one axis (sum's dtype rule), in one pass.")


_scan("cumsum", te.sum, any_reducer, zero, np.cumsum)
_scan("cumprod", prod_reducer, all_reducer, one, np.cumprod)
