"""Run a lowered graph whose shapes are symbolic: sizes bound from the inputs at each call.

``@mlc.jit(dynamic=...)`` traces an axis as a shape variable (``n``): the
graph's values have shapes like ``(n, 128)`` and its kernels take arrays of any
``n`` (:mod:`mlc.ir.shape_vars`). :class:`SymbolicGraphExecutor` runs such a
graph: each call binds every shape variable from the first input dimension it
is (and checks the others against it, a ShapeError naming the input and the
dimension otherwise), allocates each result at its size for this call, and
calls the kernels one after another with the arrays (each kernel reads its
sizes from its arrays). The memory plan of a static graph (storages reused
across calls) does not apply: sizes change from call to call.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ShapeError
from ..ir.arith import eval_int
from ..ir.expr import PrimExpr, Var
from ..ir.graph import Graph
from ..ir.shape_vars import dim_to_str
from ..ir.control import CONTROL_OPS
from .module import Module
from .ndarray import c_contiguous
from .packed import get_func

__all__ = ["SymbolicGraphExecutor", "is_symbolic_graph"]

def is_symbolic_graph(graph: Graph) -> bool:
    """True when some input of ``graph`` has a symbolic dimension."""
    return any(isinstance(d, PrimExpr) for v in graph.inputs for d in v.shape)


def _shape_str(shape) -> str:
    return "(" + ", ".join(dim_to_str(d) if isinstance(d, PrimExpr) else str(d) for d in shape) + ")"


class SymbolicGraphExecutor:
    """``executor(inputs) -> [outputs]`` for a lowered graph with symbolic shapes (see the
    module docstring): one array per graph output."""

    def __init__(self, graph: Graph, lib: Module, nonempty: Sequence[tuple[PrimExpr, str]] = ()):
        self.graph, self.lib = graph, lib
        #: (size, what to say when it is 0): the axes a reduction without identity (max, min,
        #: argmax, argmin) reduces, checked at each call before any kernel runs
        self.nonempty = tuple(nonempty)
        self._binders: list[tuple[Var, int, int]] = []
        seen: set[int] = set()
        for n, v in enumerate(graph.inputs):
            for d, e in enumerate(v.shape):
                if isinstance(e, Var) and id(e) not in seen:
                    seen.add(id(e))
                    self._binders.append((e, n, d))
        steps = []
        for b in graph.bindings:
            if b.op == "call_tir":
                steps.append(("call", lib[b.attr("func")].kernel, b))
            elif b.op == "call_dps_packed":
                steps.append(("call", _packed(get_func(b.attr("func"))), b))
            elif b.op == "view":
                steps.append(("view", None, b))
            elif b.op in CONTROL_OPS:
                raise ShapeError(f"graph {graph.name!r}: a compiled loop or conditional ({b.op}) does "
                                 "not run with dynamic axes yet; call the function without dynamic=, "
                                 "or with the loop unrolled" + (f"\n  at {b.loc}" if b.loc else ""))
            else:
                raise ShapeError(f"graph {graph.name!r}: binding {b.describe()} cannot run; the "
                                 "symbolic-shape executor runs call_tir, call_dps_packed and view")
        self._steps = steps
        self._constants = {id(c): c_contiguous(c.data) for c in graph.constants()}

    def _bind(self, inputs: Sequence[np.ndarray]) -> dict[int, int]:
        graph = self.graph
        if len(inputs) != len(graph.inputs):
            raise ShapeError(f"{graph.name}() takes {len(graph.inputs)} arrays, got {len(inputs)}")
        env: dict[int, int] = {}
        where: dict[int, str] = {}
        for var, n, d in self._binders:
            if inputs[n].ndim != len(graph.inputs[n].shape):
                break  # reported below, with the expected shape
            env[id(var)] = inputs[n].shape[d]
            where[id(var)] = f"dimension {d} of {graph.inputs[n].name}"
        for v, a in zip(graph.inputs, inputs):
            expected = v.shape
            ok = a.ndim == len(expected)
            bad = None
            for d, e in enumerate(expected if ok else ()):
                value = e if isinstance(e, int) else eval_int(e, env)
                if value != a.shape[d]:
                    bad = (d, e, value)
                    break
            if not ok or bad is not None:
                detail = ""
                if bad is not None and isinstance(bad[1], PrimExpr):
                    names = {id(x): x for x, _, _ in self._binders}
                    bound = ", ".join(f"{names[k].name}={env[k]} (from {where[k]})" for k in env)
                    detail = f"; dimension {bad[0]} is `{dim_to_str(bad[1])}` = {bad[2]} with {bound}"
                elif bad is not None:
                    detail = f"; dimension {bad[0]} must be {bad[2]}"
                raise ShapeError(f"{graph.name}(): argument {v.name} must have shape "
                                 f"{_shape_str(expected)}, got {a.shape}{detail}; only the dynamic "
                                 "axes may change size between calls, and arrays sharing one must "
                                 "agree on it")
        return env

    def sizes(self, inputs: Sequence[np.ndarray]) -> dict[int, int]:
        """The sizes ``inputs`` bind (shape variable id -> int), checked as :meth:`run` checks
        them: what a size expression of the graph (a bounds check's axis) is at this call."""
        return self._bind(inputs)

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        env = self._bind(inputs)
        for size, message in self.nonempty:
            if eval_int(size, env) <= 0:
                raise ShapeError(message)
        values: dict[int, np.ndarray] = dict(self._constants)
        for v, a in zip(self.graph.inputs, inputs):
            values[id(v)] = a if a.flags.c_contiguous else np.ascontiguousarray(a)
        fresh: set[int] = set()
        for kind, fn, b in self._steps:
            if kind == "view":
                (source,), (view,) = b.args, b.outputs
                values[id(view)] = values[id(source)].reshape(self._shape(view.shape, env))
                continue
            outs = []
            updated = dict(b.attr("inplace", ()) or ())  # (output, argument): the kernel updates a copy
            for o, v in enumerate(b.outputs):
                array = np.empty(self._shape(v.shape, env), v.dtype)
                if o in updated:
                    array[...] = values[id(b.args[updated[o]])]
                values[id(v)] = array
                fresh.add(id(v))
                outs.append(array)
            fn([values[id(a)] for a in b.args] + outs)
        return [values[id(a)] if id(a) in fresh else values[id(a)].copy() for a in self.graph.outputs]

    @staticmethod
    def _shape(shape, env) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else eval_int(d, env) for d in shape)

    def __call__(self, inputs: Sequence[np.ndarray]):
        return self.run(inputs)

    def __repr__(self) -> str:
        return f"<SymbolicGraphExecutor {self.graph.name}: {len(self._steps)} call(s)>"


def _packed(fn):
    def call(arrays):
        fn(*arrays)
    return call
