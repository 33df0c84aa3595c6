"""Writes at traced offsets, in place: ``dynamic_update_slice`` and the kernel it shares with ``element_set`` (:func:`.element.region_store_func`).

``dynamic_update_slice(x, v, *starts, steps=...)`` is ``x`` with ``v`` written at the positions
``start[d] + k * steps[d]`` (``k`` in ``range(v.shape[d])``) of each axis ``d``: the region's
extents are static (``v``'s shape), its starts 0-d int values known when the function runs
(a loop's index, a computed int): ``C[:, i] = c``, ``p[1:N-1, j] = q``, ``A[i, j] = s``. A
negative start counts from the end, as NumPy's int index; a position still outside its axis is
not written (the tracer checks a traced index's bounds when NumPy would raise, before).

Its kernel stores ``v`` into the region and touches nothing else: the op is *in place*
(``inplace=((0, 0),)`` on its registration), its output's buffer holding ``x`` when the kernel
starts — ``x``'s own buffer where ``x`` is dead after the write (a loop's carry, an intermediate),
else a copy of it (:mod:`mlc.passes.graph.inplace`). A write of one element in a loop of ``n``
iterations costs ``n`` stores, not ``n`` passes over the array.

>>> import numpy as np
>>> from mlc.ops import get_op
>>> x, v = np.zeros((3, 4), "float32"), np.ones((3, 1), "float32")
>>> get_op("dynamic_update_slice").reference(x, v, np.int64(0), np.int64(-1), steps=(1, 1))[:, 3]
array([1., 1., 1.], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ...ir.expr import const
from ..registry import TensorType, register_op
from .element import in_axis, region_store_func

# ------------------------------------------------------------------ dynamic_update_slice

def _check(x: TensorType, v: TensorType, starts, steps) -> tuple[int, ...]:
    if not all(isinstance(n, (int, np.integer)) for n in tuple(x.shape) + tuple(v.shape)):
        raise ShapeError(f"dynamic_update_slice: the array and the value need static shapes, got {x.shape} "
                         f"and {v.shape}")
    if len(v.shape) != len(x.shape) or len(starts) != len(x.shape) or len(steps) != len(x.shape):
        raise ShapeError(f"dynamic_update_slice: needs a value of the array's ndim ({len(x.shape)}) and one start "
                         f"and one step per axis, got a value of shape {tuple(v.shape)}, {len(starts)} starts "
                         f"and {len(steps)} steps")
    for s in starts:
        if s.shape != () or not dt.is_int(s.dtype):
            raise DTypeError(f"dynamic_update_slice: each start must be a 0-d int value, got "
                             f"{s.dtype}{list(s.shape)}")
    if v.dtype != x.dtype:
        raise DTypeError(f"dynamic_update_slice: the value must have the array's dtype {x.dtype}, got {v.dtype}")
    if any(int(s) == 0 for s in steps):
        raise ShapeError("dynamic_update_slice: a step must not be 0")
    return tuple(int(s) for s in steps)


def _infer(x: TensorType, v: TensorType, *starts: TensorType, steps=()) -> TensorType:
    _check(x, v, starts, steps)
    return TensorType(tuple(x.shape), x.dtype)


def _lower(x, v, *starts, steps=()):
    """The functional form (a pass over ``x``): each element ``v``'s where the region holds it."""
    def f(*ax):
        hit, at = [], []
        for a, s, step, n, m in zip(ax, starts, steps, x.shape, v.shape):
            first, _ = in_axis(s[()], int(n))
            off = a - first
            k = _e.floordiv(off, const(step, dt.INDEX))
            hit.append(_e.and_all([off - k * const(step, dt.INDEX) == const(0, dt.INDEX),
                                   k >= const(0, dt.INDEX), k < const(int(m), dt.INDEX)]))
            at.append(_e.max(_e.min(k, const(int(m) - 1, dt.INDEX)), const(0, dt.INDEX)))
        return _e.select(_e.and_all(hit), v[tuple(at)], x[ax])
    return te.compute(tuple(x.shape), f, name="T_dynamic_update_slice")


def _reference(x, v, *starts, steps=()):
    out = np.array(x, copy=True)
    v = np.asarray(v)
    for k in np.ndindex(*v.shape):
        pos = []
        for s, kk, step, n in zip(starts, k, steps, x.shape):
            s = int(s)
            p = (s + n if s < 0 else s) + kk * int(step)
            pos.append(p)
        if all(0 <= p < n for p, n in zip(pos, x.shape)):
            out[tuple(pos)] = v[k]
    return out


def _prim_func(x, v, *starts, steps=()):
    return region_store_func(x, v, list(starts), _check(x, v, starts, steps))


register_op("dynamic_update_slice", pattern="opaque", infer=_infer, lower=_lower, reference=_reference,
            prim_func=_prim_func, inplace=((0, 0),),
            doc="``x`` with ``v`` written at ``x[s0::t0][:m0, s1::t1][:m1, ...]``: starts ``s`` 0-d int values "
                "(negative ones count from the end), steps ``t`` static, extents ``m`` ``v``'s shape; "
                "positions outside ``x`` are not written. Updated in place (only the region is stored).")
