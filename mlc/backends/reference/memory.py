"""Buffers' memory for the reference interpreter: flat arrays, bounds checks, writes.

Every buffer is backed by one-dimensional NumPy storage: a parameter by a flat
view of the caller's array, an allocation by a fresh array filled with
:func:`values.poison`. An allocation made while some loops run as lanes gets
one private copy per lane of those loops (it lives for one iteration), and a
``local`` (or ``wmma.*``) buffer gets one copy per GPU thread lane, since
every thread owns its registers.

Writes of many lanes at once keep serial semantics: a plain store whose index
repeats keeps the value of the last lane in serial order; a reduction update
combines every lane's value (``ufunc.at``).
"""
from __future__ import annotations

import numpy as np

from ...errors import BoundsError, MLCError, ShapeError
from ...ir.buffer import Buffer, aligned_strides
from ...ir.expr import IntImm
from .lanes import Ctx, align, is_scalar
from .values import identity, poison

__all__ = ["Storage", "NotVectorizable", "store_plain", "store_reduce", "to_lanes", "active_lanes",
           "is_unique", "repeated_axes", "position_bounds", "uniform_store"]

#: scopes whose buffers every GPU thread holds privately
_PER_THREAD_SCOPES = ("local", "wmma.matrix_a", "wmma.matrix_b", "wmma.accumulator")


class NotVectorizable(Exception):
    """Internal: running these lanes at once would not give serial order's result."""


def _static(values, what: str, buffer: Buffer) -> tuple[int, ...]:
    out = []
    for e in values:
        if not isinstance(e, IntImm):
            raise ShapeError(f"reference interpreter: buffer {buffer.name} has a symbolic {what} "
                             f"{e!r}; only static shapes can be run")
        out.append(e.value)
    return tuple(out)


class Storage:
    """The memory behind one buffer: one flat array per privatisation key.

    ``depth`` is the number of lane axes at allocation: lanes of those axes get
    private copies. The key of an access is the extents of its private axes.
    """

    __slots__ = ("buffer", "dims", "strides", "size", "depth", "per_thread", "arrays", "threads")

    def __init__(self, buffer: Buffer, depth: int = 0, array: np.ndarray | None = None):
        self.buffer = buffer
        self.dims = _static(buffer.shape, "extent", buffer)
        if buffer.strides:
            self.strides = _static(buffer.strides, "stride", buffer)
            self.size = 0 if 0 in self.dims else 1 + sum((n - 1) * s for n, s in zip(self.dims, self.strides))
        else:
            self.strides = aligned_strides(self.dims, {})  # row-major
            self.size = int(np.prod(self.dims, dtype=np.int64))
        self.depth = depth
        self.per_thread = buffer.scope in _PER_THREAD_SCOPES and array is None
        self.threads: tuple[int, ...] | None = None  # the thread lanes of its first access
        self.arrays: dict[tuple[int, ...], np.ndarray] = {}
        if array is not None:
            if array.size != self.size and not (buffer.strides and array.size > self.size):
                raise ShapeError(f"reference interpreter: the array for {buffer.name} has "
                                 f"{array.size} elements, the buffer needs {self.size}")
            self.arrays[()] = array

    def _array(self, key: tuple[int, ...]) -> np.ndarray:
        arr = self.arrays.get(key)
        if arr is None:
            copies = int(np.prod(key, dtype=np.int64))
            arr = self.arrays[key] = np.full(copies * self.size, poison(self.buffer.dtype), self.buffer.dtype)
        return arr

    def locate(self, indices: list, ctx: Ctx):
        """(flat array, flat index) of ``buffer[indices]`` in every lane of ``ctx``.

        Raises IndexError for an out-of-bounds index in an active lane; indices
        of inactive lanes are clamped. The array is None when the buffer is empty.
        """
        if len(indices) != len(self.dims):
            raise MLCError(f"reference interpreter: buffer {self.buffer.name} has {len(self.dims)} "
                           f"dimension(s), accessed with {len(indices)} index(es)")
        flat = 0
        for i, n, s in zip(indices, self.dims, self.strides):
            if not isinstance(i, np.ndarray):
                iv = int(i)
                if not 0 <= iv < n:
                    self._out_of_bounds(indices, ctx, None)
                flat += iv * s
                continue
            if i.size and (i.min() < 0 or i.max() >= n):
                bad = (i < 0) | (i >= n)
                if ctx.mask is not None:
                    bad = bad & ctx.mask
                if bad.any():
                    self._out_of_bounds(indices, ctx, bad)
                i = np.clip(i, 0, max(n - 1, 0))
            flat = flat + i.astype(np.int64) * np.int64(s)
        if self.size == 0:
            return None, flat
        key, lane = self._private_lane(ctx)
        if lane is not None:
            flat = flat + lane * np.int64(self.size)
        return self._array(key), flat

    def private_to_every_lane(self, ctx: Ctx) -> bool:
        """Whether every lane of ``ctx`` has a copy of its own (an allocation made under all of
        its axes): no lane then sees what another lane does to it."""
        return all(k < self.depth or (self.per_thread and a.lockstep) for k, a in enumerate(ctx.axes))

    def _private_lane(self, ctx: Ctx):
        """The privatisation key of ``ctx`` and each lane's copy number (None: shared)."""
        axes = ctx.axes
        if self.per_thread:
            self._check_threads(tuple(a.size for k, a in enumerate(axes) if k >= self.depth and a.lockstep))
        if not axes:
            return (), None
        private = [k for k in range(len(axes))
                   if k < self.depth or (self.per_thread and axes[k].lockstep)]
        if not private:
            return (), None
        lane, key = np.int64(0), []
        for k in private:
            lane = lane * np.int64(axes[k].size) + ctx.arange(k)
            key.append(axes[k].size)
        return tuple(key), lane

    def _check_threads(self, threads: tuple[int, ...]) -> None:
        """A per-thread buffer must be accessed under the same thread axes every time: one
        accessed outside a thread loop (on a GPU every thread runs that access on its own
        copy) and inside it has no meaning here that equals the GPU's."""
        if self.threads is None:
            self.threads = threads
        elif self.threads != threads:
            where = lambda t: f"under thread axes of extents {t}" if t else "outside every thread loop"
            raise MLCError(
                f"reference interpreter: {self.buffer.scope} buffer {self.buffer.name} is accessed "
                f"{where(self.threads)} and {where(threads)}; each GPU thread owns a copy, which "
                "this interpreter keeps only under the thread loops. Run GPU programs on "
                "target 'cuda-emulator', or compute the buffer under the threadIdx loops")

    def _out_of_bounds(self, indices, ctx: Ctx, bad) -> None:
        """Raise BoundsError (an IndexError) naming the buffer, the index of the first bad
        lane and the shape."""
        if bad is None:
            bad = ctx.mask
        if bad is None:
            where = (0,) * ctx.ndim
        else:
            where = tuple(int(w) for w in np.unravel_index(int(np.argmax(bad)), bad.shape))
            where += (0,) * (ctx.ndim - len(where))
        point = []
        for i in indices:
            if is_scalar(i):
                point.append(int(i))
            else:
                i = align(i, len(where))
                point.append(int(i[tuple(w if s > 1 else 0 for w, s in zip(where, i.shape))]))
        raise BoundsError(f"buffer {self.buffer.name}: index {tuple(point)} is out of bounds for "
                          f"shape {self.dims}")

    def snapshot(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(arr, arr.copy()) for arr in self.arrays.values()]


# ------------------------------------------------------------------- writes

def is_unique(flat: np.ndarray) -> bool:
    """True when no index repeats (cheap for increasing indices)."""
    if flat.size < 2:
        return True
    if (flat[1:] > flat[:-1]).all():
        return True
    s = np.sort(flat)
    return bool((s[1:] != s[:-1]).all())


def repeated_axes(flat, ctx: Ctx) -> list[int]:
    """Axes along which the index does not change although there are several lanes."""
    return [k for k, a in enumerate(ctx.axes) if a.extent > 1 and flat.shape[k] == 1]


def active_lanes(ctx: Ctx, *arrays):
    """The arrays broadcast over the lanes and raveled, keeping active lanes only."""
    mask = ctx.mask
    full = np.broadcast_arrays(*arrays, *(() if mask is None else (mask,)))
    if mask is None:
        return [np.ravel(a) for a in full]
    keep = np.ravel(full[-1])
    return [np.ravel(a)[keep] for a in full[:-1]]


def position_bounds(ctx: Ctx, flat, positions):
    """(index, earliest, latest position) of the active lanes, grouped along the
    axes where ``flat`` does not change (a repeated index counts once).

    ``positions(at_min=, at_max=)`` is ``ctx.serial_positions`` or
    ``ctx.chain_positions``; positions grow along every axis, so the extremes
    along an axis are its first and last active lane.
    """
    flat = to_lanes(flat, ctx.ndim)
    same = repeated_axes(flat, ctx)
    mask = ctx.mask
    if mask is None:
        low, high = positions(at_min=same), positions(at_max=same)
        return [np.ravel(a) for a in np.broadcast_arrays(flat, low, high)]
    others = [k for k in range(ctx.ndim) if k not in same]
    if any(mask.shape[k] > 1 for k in others):
        f, p = active_lanes(ctx, flat, positions())
        return f, p, p
    # The mask depends only on the repeated axes: every index has the same active set there.
    along, active = np.broadcast_arrays(positions(at_min=others), mask)
    along = along[active]
    if along.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    base = positions(at_min=same)
    low, high = base + along.min(), base + along.max()
    return [np.ravel(a) for a in np.broadcast_arrays(flat, low, high)]


def to_lanes(x, ndim: int) -> np.ndarray:
    """``x`` as an array with one dimension per lane axis."""
    return align(np.asarray(x), ndim)


def uniform_store(flat, value, ctx: Ctx) -> bool:
    """True when lanes that store to one element all store the same bits (so
    which of them writes last does not matter)."""
    flat, value = to_lanes(flat, ctx.ndim), to_lanes(value, ctx.ndim)
    if ctx.mask is not None or not is_unique(np.ravel(flat)):
        return False  # (masks: conservatively not uniform)
    repeated = repeated_axes(flat, ctx)
    raw = value.view(f"u{value.dtype.itemsize}") if value.dtype.kind == "f" else value
    for k in repeated:
        if raw.shape[k] > 1 and not (raw == raw.take([-1], axis=k)).all():
            return False
    return True


def store_plain(arr: np.ndarray, flat, value, ctx: Ctx, strict: bool) -> None:
    """``arr[flat] = value`` in every active lane; a repeated index keeps the last
    lane's value in serial order. ``strict``: repeated indices raise NotVectorizable."""
    flat, value = to_lanes(flat, ctx.ndim), to_lanes(value, ctx.ndim)
    if ctx.mask is None:
        repeated = repeated_axes(flat, ctx)
        if repeated and strict:
            raise NotVectorizable
        for k in repeated:
            if value.shape[k] > 1:
                value = value.take([-1], axis=k)  # the last lane writes last
        f, v = (np.ravel(a) for a in np.broadcast_arrays(flat, value))
    else:
        f, v = active_lanes(ctx, flat, value)
    if is_unique(f):
        arr[f] = v
        return
    if strict:
        raise NotVectorizable
    _store_last_writer(arr, flat, value, ctx)


def _store_last_writer(arr, flat, value, ctx: Ctx) -> None:
    """General plain store with repeated indices: order the lanes serially, keep the last."""
    pos = ctx.serial_positions()
    f, v, p = active_lanes(ctx, flat, value, pos)
    order = np.lexsort((np.arange(f.size), p))
    f, v = f[order], v[order]
    uniq, first_in_reverse = np.unique(f[::-1], return_index=True)
    arr[uniq] = v[f.size - 1 - first_in_reverse]


def store_reduce(arr: np.ndarray, flat, rest, ufunc, ctx: Ctx) -> None:
    """``arr[flat] = ufunc(arr[flat], rest)`` in every active lane, combining all lanes
    that hit one element (in some order: float sums may round differently)."""
    flat, rest = to_lanes(flat, ctx.ndim), to_lanes(rest, ctx.ndim)
    mask = ctx.mask
    if mask is not None:
        rest = np.where(mask, rest, identity(ufunc, arr.dtype.name))
    for k in repeated_axes(flat, ctx):
        if rest.shape[k] == 1 and ufunc in (np.add, np.multiply):
            rest = np.broadcast_to(rest, rest.shape[:k] + (ctx.axes[k].extent,) + rest.shape[k + 1:])
        if rest.shape[k] > 1:
            rest = ufunc.reduce(rest, axis=k, keepdims=True, dtype=arr.dtype)
        if mask is not None and mask.shape[k] > 1:
            mask = mask.any(axis=k, keepdims=True)
    arrays = np.broadcast_arrays(flat, rest, *(() if mask is None else (mask,)))
    f, r = np.ravel(arrays[0]), np.ravel(arrays[1])
    if mask is not None:
        keep = np.ravel(arrays[2])
        f, r = f[keep], r[keep]
    if is_unique(f):
        arr[f] = ufunc(arr[f], r)
    else:
        ufunc.at(arr, f, r)
