"""Single-element reads and writes at traced indices: ``element_get`` and ``element_set``.

``x[i, j]`` with a traced (0-d int) index on every axis reads one element; ``x[i, j] = v``
writes one. They are the ops a scalar loop body is made of (``a[i, j] = b[i, j] * 2 +
a[i - 1, j]``): a loop whose body holds only them and arithmetic on 0-d values becomes one
kernel (:mod:`.element_loop`). Outside such a loop each is a small kernel of its own, and
``element_set`` stores its one element in place (:mod:`.update`).

A negative index counts from the end, as in NumPy; a read still out of range is clipped
into the axis (as ``take`` clips it), a write out of range writes nothing.

>>> from mlc import te
>>> from mlc.ops import get_op
>>> x, i = te.placeholder((5, 3), "float32", "x"), te.placeholder((), "int64", "i")
>>> get_op("element_get").lower(x, i, i).shape
()
"""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from ...ir import dtype as dt
from ...ir import expr as _e
from ...ir import te
from ...ir.buffer import decl_buffer
from ...ir.expr import cast, const
from ...ir.tir import OVERLAPPING, BufferStore, IfThenElse
from ..registry import TensorType, register_op
from ._common import hand_written_func
from ._kernel import batch_loop
from .gather import wrapped_index

__all__ = ["in_axis", "region_store_func"]


def _check(op: str, x: TensorType, indices) -> None:
    if len(indices) != len(x.shape) or not x.shape:
        raise ShapeError(f"{op}: needs one index per axis of the array (ndim {len(x.shape)}), got {len(indices)}")
    if not all(isinstance(n, (int, np.integer)) for n in x.shape):
        raise ShapeError(f"{op}: the array's shape must be static, got {x.shape}")
    for k in indices:
        if k.shape != () or not dt.is_int(k.dtype):
            raise DTypeError(f"{op}: each index must be a 0-d int value, got {k.dtype}{list(k.shape)}")


def in_axis(i, n: int):
    """(``i`` as an INDEX counted from the end when negative, whether it is inside ``[0, n)``)."""
    i = cast(_e.convert(i), "int64")
    i = i + const(n, "int64") * cast(i < const(0, "int64"), "int64")
    ok = _e.logical_and(i >= const(0, "int64"), i < const(n, "int64"))
    return cast(i, dt.INDEX), ok


# ------------------------------------------------------------------ element_get

def _get_infer(x: TensorType, *indices: TensorType) -> TensorType:
    _check("element_get", x, indices)
    return TensorType((), x.dtype)


def _get_lower(x, *indices):
    # the index loads are made inside the compute, which records the tensors they read
    return te.compute((), lambda: x[tuple(wrapped_index(k[()], n) for k, n in zip(indices, x.shape))],
                      name="T_element")


def _get_reference(x, *indices):
    at = tuple(int(np.clip(int(k) + (n if int(k) < 0 else 0), 0, n - 1)) for k, n in zip(indices, x.shape))
    return np.asarray(x[at])


register_op("element_get", pattern="injective", infer=_get_infer, lower=_get_lower, reference=_get_reference,
            doc="``x[i, j, ...]``: one element of ``x`` at 0-d int indices, one per axis (negative ones "
                "count from the end; out-of-range ones are clipped).")


# ------------------------------------------------------------------ element_set

def region_store_func(x: TensorType, v: TensorType, starts: list[TensorType], steps) -> object:
    """The in-place kernel ``(x, v, *starts, out)``: ``out[start + k * step] = v[k]`` over ``v``'s
    shape (a 0-d ``v``: one element), each position inside ``out``'s axes; ``x`` is not read
    (``out`` holds it already, see the module)."""
    shape = tuple(int(n) for n in x.shape)
    extents = tuple(int(n) for n in v.shape) if v.shape else (1,) * len(shape)
    xb = decl_buffer(shape, x.dtype, "x")
    vb = decl_buffer(tuple(v.shape), v.dtype, "v")
    sb = [decl_buffer((), t.dtype, f"start{d}") for d, t in enumerate(starts)]
    out = decl_buffer(shape, x.dtype, "out")
    first = [in_axis(s[()], n)[0] for s, n in zip(sb, shape)]

    def nest(ks):
        d = len(ks)
        if d == len(shape):
            pos = [f + k * const(step, dt.INDEX) for f, k, step in zip(first, ks, steps)]
            ok = _e.and_all([_e.logical_and(p >= const(0, dt.INDEX), p < const(n, dt.INDEX))
                             for p, n in zip(pos, shape)])
            value = vb[tuple(ks)] if v.shape else vb[()]
            return IfThenElse(ok, BufferStore(out, value, tuple(pos)))
        # batch loops: the positions are distinct, so a GPU build runs one per thread
        return batch_loop(f"k{d}", extents[d], lambda k: nest(ks + [k]))
    # x and out are one buffer where the graph updates x in place; the value and the starts are
    # other memory (a kernel never writes a storage it reads, but the one it updates): their
    # loads stay out of the loops that store into out
    return hand_written_func([xb, vb, *sb, out], nest([])).with_attr(
        {"tir.noalias": False, OVERLAPPING: (xb.name, out.name)})



def _set_infer(x: TensorType, value: TensorType, *indices: TensorType) -> TensorType:
    _check("element_set", x, indices)
    if value.shape != () or value.dtype != x.dtype:
        raise DTypeError(f"element_set: the value must be a 0-d {x.dtype}, got {value.dtype}{list(value.shape)}")
    return TensorType(x.shape, x.dtype)


def _set_lower(x, value, *indices):
    def f(*ax):
        at = [in_axis(k[()], n) for k, n in zip(indices, x.shape)]  # inside: the compute records the reads
        hit = _e.and_all([_e.logical_and(ok, a == i) for a, (i, ok) in zip(ax, at)])
        return _e.select(hit, value[()], x[ax])
    return te.compute(tuple(x.shape), f, name="T_element_set")


def _set_reference(x, value, *indices):
    out = np.array(x, copy=True)
    at = tuple(int(k) for k in indices)
    if all(-n <= k < n for k, n in zip(at, x.shape)):
        out[at] = value
    return out


def _set_prim_func(x, value, *indices):
    """The in-place kernel: one store."""
    return region_store_func(x, value, list(indices), (1,) * len(x.shape))


register_op("element_set", pattern="opaque", infer=_set_infer, lower=_set_lower, reference=_set_reference,
            prim_func=_set_prim_func, inplace=((0, 0),),
            doc="``x`` with ``x[i, j, ...] = value``: one element written at 0-d int indices, one per "
                "axis (negative ones count from the end; an out-of-range write writes nothing).")
