"""Lanes: how the interpreter runs one statement for many loop iterations at once.

A :class:`Ctx` says where a statement runs. Each vectorised loop is an
:class:`Axis`; a value is a NumPy scalar (the same for every lane) or an
array broadcastable to the axes' shape, with one array dimension per axis.
``mask`` marks the active lanes (None: all of them).

Axes are *serial* (a loop whose iterations run in order; vectorising it must
give what serial order gives) or *lockstep* (GPU thread axes: every thread
runs a statement before the next statement starts). The serial position of a
lane is its C-order index over the serial axes; lockstep axes do not change it.

>>> ctx = Ctx().with_axis(Axis(3, lockstep=False), None, None)
>>> ctx.lanes(), ctx.serial_positions().ravel().tolist()
(3, [0, 1, 2])
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["Axis", "Ctx", "align", "is_scalar"]


class Axis:
    """One vectorised loop: ``extent`` lanes with coordinates ``start ..``.

    ``size`` is the loop's full lane count (``extent`` is smaller in a slice of
    the loop, see :meth:`Ctx.slice`). ``weight`` is set on the axes of a region's
    chain (see interpreter) and gives the lane's position in the region.
    """

    __slots__ = ("extent", "lockstep", "weight", "start", "size")

    def __init__(self, extent: int, lockstep: bool, weight: int | None = None, start: int = 0,
                 size: int | None = None):
        self.extent, self.lockstep, self.weight = extent, lockstep, weight
        self.start, self.size = start, extent if size is None else size


def is_scalar(value) -> bool:
    """True for a value that is the same in every lane."""
    return not isinstance(value, np.ndarray)


def align(value, ndim: int):
    """``value`` with trailing unit dimensions added up to ``ndim`` dimensions."""
    if isinstance(value, np.ndarray) and value.ndim < ndim:
        return value.reshape(value.shape + (1,) * (ndim - value.ndim))
    return value


class Ctx:
    """The lanes a statement runs on, the values of variables, the active mask and
    the region being vectorised (None outside regions)."""

    __slots__ = ("axes", "env", "mask", "region")

    def __init__(self, axes: tuple[Axis, ...] = (), env: dict | None = None, mask=None, region=None):
        self.axes = axes
        self.env = {} if env is None else env
        self.mask = mask
        self.region = region

    @property
    def ndim(self) -> int:
        return len(self.axes)

    def lanes(self) -> int:
        """The number of lanes (active or not)."""
        return math.prod(a.extent for a in self.axes)

    def has_serial_axes(self) -> bool:
        return any(not a.lockstep for a in self.axes)

    # ----------------------------------------------------------- derivation

    def bind(self, var, value) -> Ctx:
        """A context where ``var`` has ``value`` (the env is copied)."""
        env = dict(self.env)
        env[var] = value
        return Ctx(self.axes, env, self.mask, self.region)

    def with_axis(self, axis: Axis, var, values, extra_mask=None) -> Ctx:
        """A context with ``axis`` appended; ``var`` (if any) takes ``values``."""
        ndim = len(self.axes) + 1
        env = dict(self.env)
        if var is not None:
            env[var] = values
        mask = align(self.mask, ndim)
        if extra_mask is not None:
            mask = extra_mask if mask is None else mask & extra_mask
        return Ctx(self.axes + (axis,), env, mask, self.region)

    def narrow(self, cond) -> Ctx | None:
        """The context restricted to lanes where ``cond`` holds; None when no lane is left."""
        if is_scalar(cond):
            return self if cond else None
        mask = cond if self.mask is None else self.mask & cond
        if not mask.any():
            return None
        if mask.all():
            mask = None
        return Ctx(self.axes, self.env, mask, self.region)

    def in_region(self, region) -> Ctx:
        return Ctx(self.axes, self.env, self.mask, region)

    def slice(self, coords: dict[int, int]) -> Ctx | None:
        """The lanes whose coordinate along axis ``k`` is lane ``coords[k]``, for
        each ``k``; None when none of them is active."""
        def cut(value):
            if isinstance(value, np.ndarray):
                for k, c in coords.items():
                    if value.ndim > k and value.shape[k] > 1:
                        value = value[(slice(None),) * k + (slice(c, c + 1),)]
            return value

        mask = cut(self.mask)
        if mask is not None and not mask.any():
            return None
        axes = list(self.axes)
        for k, c in coords.items():
            a = axes[k]
            axes[k] = Axis(1, a.lockstep, a.weight, a.start + c, a.size)
        env = {var: cut(value) for var, value in self.env.items()}
        return Ctx(tuple(axes), env, mask, self.region)

    # -------------------------------------------------------------- lanes

    def arange(self, k: int, dtype="int64") -> np.ndarray:
        """The lane coordinate along axis ``k``, shaped to broadcast over all axes."""
        axis = self.axes[k]
        shape = [1] * len(self.axes)
        shape[k] = axis.extent
        return np.arange(axis.start, axis.start + axis.extent, dtype=dtype).reshape(shape)

    def _positions(self, weights: dict[int, int], at_min=(), at_max=()):
        """sum(coordinate_k * weights[k]); axes in ``at_min``/``at_max`` are fixed at
        their first/last lane (so the result does not vary along them)."""
        out = np.int64(0)
        for k, w in weights.items():
            axis = self.axes[k]
            if k in at_min:
                out = out + np.int64(axis.start * w)
            elif k in at_max:
                out = out + np.int64((axis.start + axis.extent - 1) * w)
            else:
                out = out + self.arange(k) * np.int64(w)
        return align(out, len(self.axes))

    def serial_weights(self) -> dict[int, int]:
        """C-order weights of the serial axes (over whole loops, also in a slice)."""
        weights, w = {}, 1
        for k in range(len(self.axes) - 1, -1, -1):
            if not self.axes[k].lockstep:
                weights[k] = w
                w *= self.axes[k].size
        return weights

    def serial_positions(self, at_min=(), at_max=()):
        """Each lane's index in serial order (lockstep axes ignored)."""
        return self._positions(self.serial_weights(), at_min, at_max)

    def chain_positions(self, at_min=(), at_max=()):
        """Each lane's position along the current region's chain axes."""
        weights = {k: a.weight for k, a in enumerate(self.axes) if a.weight is not None}
        return self._positions(weights, at_min, at_max)
