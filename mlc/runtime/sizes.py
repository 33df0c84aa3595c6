"""The sizes of one call of a graph's ``main`` with symbolic shapes, bound from its inputs.

``@mlc.jit(dynamic=...)`` traces an axis as a shape variable (``n``): the
graph's ``main`` then takes arrays of shapes like ``(n, 128)``, and its results
have shapes computed from them (:mod:`mlc.ir.shape_vars`). A
:class:`SizeBinder` binds every shape variable from the first input dimension
that is it, checks every other input dimension against the value it then has
(a ShapeError naming the input and the dimension otherwise) and the sizes that
must not be 0 (the axes a reduction without identity reduces), and evaluates a
shape at those sizes (an output's, allocated for this call).

>>> from mlc.ir.buffer import decl_buffer
>>> from mlc.ir.expr import Var
>>> n = Var("n", "int64")
>>> binder = SizeBinder("f", [decl_buffer((n, 2), "float32", "x")])
>>> import numpy as np
>>> sizes = binder.bind([np.zeros((3, 2), "float32")])
>>> binder.shape((n * 2,), sizes)
(6,)
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import BoundsError, ShapeError
from ..ir.arith import eval_int
from ..ir.buffer import Buffer
from ..ir.expr import IntImm, PrimExpr
from ..ir.shape_vars import dim_to_str, shape_to_str, shape_vars

__all__ = ["SizeBinder", "is_symbolic"]


def is_symbolic(params: Sequence[Buffer]) -> bool:
    """True when some of ``params`` has a dimension that is not a constant."""
    return any(not isinstance(e, IntImm) for p in params for e in p.shape)


class EmptyTake(str):
    """The message of a size that must not be 0 because elements are taken (indexed) along an
    axis of that size: a call where it is 0 raises BoundsError, as NumPy raises IndexError for
    an index into an empty axis (the other sizes' messages raise ShapeError, NumPy's ValueError
    for a reduction without identity over an empty axis).

    >>> isinstance(EmptyTake("take: ..."), str)
    True
    """

    __slots__ = ()


class SizeBinder:
    """``bind(inputs)``: the sizes (shape variable id -> int) of a call of ``name`` whose
    inputs are ``params``; ``nonempty``: (size, what to say when it is 0) of each size the
    call needs positive."""

    def __init__(self, name: str, params: Sequence[Buffer], nonempty: Sequence[tuple[PrimExpr, str]] = ()):
        self.name, self.params, self.nonempty = name, tuple(params), tuple(nonempty)
        self._binders = shape_vars(self.params)

    def bind(self, inputs: Sequence) -> dict[int, int]:
        """The sizes ``inputs`` (arrays, one per parameter) bind; ShapeError where an input
        disagrees with them, or a size that must not be 0 is."""
        name, params = self.name, self.params
        if len(inputs) != len(params):
            raise ShapeError(f"{name}() takes {len(params)} arrays, got {len(inputs)}")
        env: dict[int, int] = {}
        where: dict[int, str] = {}
        for var, n, d in self._binders:
            if inputs[n].ndim != len(params[n].shape):
                break  # reported below, with the expected shape
            env[id(var)] = inputs[n].shape[d]
            where[id(var)] = f"dimension {d} of {params[n].name}"
        for p, a in zip(params, inputs):
            ok = a.ndim == len(p.shape)
            bad = None
            for d, e in enumerate(p.shape if ok else ()):
                value = eval_int(e, env)
                if value != a.shape[d]:
                    bad = (d, e, value)
                    break
            if not ok or bad is not None:
                detail = ""
                if bad is not None and not isinstance(bad[1], IntImm):
                    names = {id(x): x for x, _, _ in self._binders}
                    bound = ", ".join(f"{names[k].name}={env[k]} (from {where[k]})" for k in env)
                    detail = f"; dimension {bad[0]} is `{dim_to_str(bad[1])}` = {bad[2]} with {bound}"
                elif bad is not None:
                    detail = f"; dimension {bad[0]} must be {bad[2]}"
                raise ShapeError(f"{name}(): argument {p.name} must have shape {shape_to_str(p.shape)}, "
                                 f"got {a.shape}{detail}; only the dynamic axes may change size between "
                                 "calls, and arrays sharing one must agree on it")
        for size, message in self.nonempty:
            if eval_int(size, env) <= 0:
                raise (BoundsError if isinstance(message, EmptyTake) else ShapeError)(message)
        return env

    @staticmethod
    def shape(shape: Sequence[PrimExpr], sizes: dict[int, int]) -> tuple[int, ...]:
        """``shape`` (extents that may name shape variables) at ``sizes``."""
        return tuple(eval_int(e, sizes) for e in shape)

    def __repr__(self) -> str:
        return f"<SizeBinder {self.name}: {', '.join(v.name for v, _, _ in self._binders)}>"
