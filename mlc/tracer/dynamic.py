"""Dynamic axes of ``@mlc.jit(dynamic=...)``: array axes traced as shape variables.

``dynamic=("x", 0)`` makes axis 0 of argument ``x`` a shape variable: the trace
sees ``x`` as ``float32[x_dim0, 784]``, the kernels take any size along it
(:mod:`mlc.ir.shape_vars`), and the cache key leaves that axis out, so a new
batch size neither retraces nor recompiles. The other axes stay specialized.

The spec is one ``(argument, axis)`` pair, a ``(argument, axis, name)``
triple, or a list of them; ``argument`` is a parameter name or position.
Axes given the same ``name`` share one size: arrays that disagree on it are a
ShapeError at the call. Unnamed axes get a size of their own, ``{arg}_dim{axis}``.

>>> d = DynamicAxes.of([("x", 0, "batch"), ("y", 0, "batch")], ("x", "y"))
>>> sorted(d.axes), d.axes["x"][0] is d.axes["y"][0]
(['x', 'y'], True)
"""
from __future__ import annotations

from ..errors import TraceError
from ..ir import dtype as dt
from ..ir.expr import Var

__all__ = ["DynamicAxes"]


class DynamicAxes:
    """The parsed ``dynamic`` spec: for each argument name, axis -> shape variable."""

    __slots__ = ("axes",)

    def __init__(self, axes: dict[str, dict[int, Var]]):
        self.axes = axes

    @staticmethod
    def of(spec, param_names) -> DynamicAxes:
        if spec is None or spec == ():
            return DynamicAxes({})
        entries = [spec] if _is_entry(spec) else spec
        if not isinstance(entries, (list, tuple)) or not all(_is_entry(e) for e in entries):
            raise TraceError(f"mlc.jit: dynamic must be an (argument, axis) pair, an (argument, axis, "
                             f"name) triple or a list of them, got {spec!r}; e.g. dynamic=('x', 0)")
        names: dict[str, Var] = {}
        axes: dict[str, dict[int, Var]] = {}
        for entry in entries:
            arg, axis = entry[0], entry[1]
            if isinstance(arg, int):
                if not 0 <= arg < len(param_names):
                    raise TraceError(f"mlc.jit: dynamic names argument position {arg}, but the "
                                     f"function has {len(param_names)} named parameter(s) "
                                     f"({', '.join(param_names)})")
                arg = param_names[arg]
            name = entry[2] if len(entry) == 3 else f"{arg}_dim{axis}"
            var = names.setdefault(name, Var(name, dt.INDEX))
            if axis in axes.setdefault(arg, {}) and axes[arg][axis] is not var:
                raise TraceError(f"mlc.jit: axis {axis} of argument {arg!r} is marked dynamic twice "
                                 "with different names")
            axes[arg][axis] = var
        return DynamicAxes(axes)

    def __bool__(self) -> bool:
        return bool(self.axes)

    def check_names(self, leaf_names, fn_name: str) -> None:
        """TraceError when the spec names an argument that is not an array argument of this call."""
        for arg in self.axes:
            if arg not in leaf_names:
                raise TraceError(f"{fn_name}(): dynamic=... marks argument {arg!r}, which is not an "
                                 f"array argument of this call (array arguments: "
                                 f"{', '.join(leaf_names) or 'none'}); static arguments and Python "
                                 "scalars have no axes")

    def key_shape(self, leaf_name: str, shape: tuple[int, ...], where) -> tuple:
        """``shape`` with the dynamic axes of ``leaf_name`` left out (None): the cache key."""
        axes = self.axes.get(leaf_name)
        if not axes:
            return shape
        self._check_rank(leaf_name, axes, len(shape), where)
        return tuple(None if (d in axes or d - len(shape) in axes) else s for d, s in enumerate(shape))

    def trace_shape(self, leaf_name: str, shape: tuple[int, ...]) -> tuple:
        """``shape`` with each dynamic axis of ``leaf_name`` replaced by its shape variable."""
        axes = self.axes.get(leaf_name)
        if not axes:
            return tuple(shape)
        out = []
        for d, s in enumerate(shape):
            var = axes.get(d, axes.get(d - len(shape)))
            out.append(var if var is not None else s)
        return tuple(out)

    @staticmethod
    def _check_rank(leaf_name: str, axes, ndim: int, where) -> None:
        for axis in axes:
            if not -ndim <= axis < ndim:
                raise TraceError(f"{where()}: axis {axis} is marked dynamic, but the array has "
                                 f"{ndim} dimension(s); mark an axis in [-{ndim}, {ndim})")


def _is_entry(e) -> bool:
    return (isinstance(e, tuple) and len(e) in (2, 3) and isinstance(e[0], (str, int))
            and not isinstance(e[0], bool) and isinstance(e[1], int) and not isinstance(e[1], bool)
            and (len(e) == 2 or (isinstance(e[2], str) and e[2].isidentifier())))
