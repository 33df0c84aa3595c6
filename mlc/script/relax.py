"""``R``: graph functions in TVMScript (``from mlc.script import relax as R``).

Inside an ``@I.ir_module`` class, ``@R.function`` functions call the class's
``@T.prim_func`` kernels with ``R.call_tir`` (and library functions with
``R.call_dps_packed``); the class becomes a :class:`mlc.graph.GraphModule`,
the module a BlockBuilder writes. :func:`build` is ``mlc.build`` of it, and
``VirtualMachine(build(mod, "llvm"), mlc.cpu())["main"](*arrays)`` runs it the
way the course does.

It is also ``mlc.relax`` (``from mlc import relax``, where ``tvm.relax`` users
look): ``relax.BlockBuilder``, ``relax.Var``, ``relax.TensorStructInfo``,
``relax.op.add(x, y)`` / ``relax.op.nn.relu(x)`` (registry ops), ``relax.build``,
``relax.VirtualMachine`` and ``relax.transform.FuseOps()`` / ``FuseTIR()`` /
``LegalizeOps()`` / ``DeadCodeElimination()`` / ``BindParams(...)`` (the passes
of :mod:`mlc.graph`):

>>> from mlc import relax
>>> relax.transform.FuseOps()
<mlc.graph pass FuseOps>
>>> relax.op.nn.relu(relax.Var("x", relax.TensorStructInfo((2,), "float32"))).op
'nn.relu'
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..driver import build as mlc_build
from ..errors import MLCError
from ..graph.build import GraphLibrary
from ..graph.builder import BlockBuilder
from ..graph.builder import Tensor as TensorStructInfo
from ..graph.builder import op as _op
from ..graph.transform import DeadCodeElimination, FuseOps, FuseTIR, LegalizeOps
from ..ir.graph import Var
from ..ops.registry import get_op
from ..graph.module import GraphModule
from ..graph.params import bind_params
from ..runtime.ndarray import NDArray, check_device
from ..runtime.timing import time_function

__all__ = ["function", "Tensor", "build", "VirtualMachine", "transform", "BlockBuilder", "Var", "op",
           "TensorStructInfo"]


class _DeferredFunction:
    """What ``@R.function`` leaves in a class body: ``@I.ir_module`` parses the class."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        raise MLCError(f"@R.function {self.fn.__name__} is read as part of its @I.ir_module class; "
                       "call the module's built function instead: "
                       "mlc.script.relax.build(Module)[\"main\"](...)")


def function(fn=None, *, private: bool = False, pure: bool = True):
    """Mark a graph function of an ``@I.ir_module`` class (``@R.function`` or ``@R.function(private=True)``)."""
    if fn is None:
        return _DeferredFunction
    return _DeferredFunction(fn)


class _TensorType:
    """``R.Tensor((n, m), "float32")`` in annotations."""

    def __call__(self, *args, **kwargs):
        return self

    def __repr__(self) -> str:
        return "R.Tensor"


Tensor = _TensorType()


def build(mod: GraphModule, target="llvm", schedule=None) -> GraphLibrary:
    """``mlc.build(mod, target, schedule)`` of a module with graph functions (the course's
    ``relax.build``): ``lib["main"](*arrays)`` runs graph function ``main``."""
    if not isinstance(mod, GraphModule):
        raise MLCError(f"relax.build takes a module with @R.function graphs (an mlc.graph.GraphModule), "
                       f"got {type(mod).__name__}; build a module of PrimFuncs with mlc.build")
    return mlc_build(mod, target, schedule)


def _nd(array):
    return np.asarray(array).view(NDArray)


class VirtualMachine:
    """The course's ``relax.VirtualMachine(ex, dev)``: ``vm["main"](*arrays)`` returns
    ``mlc.nd`` arrays (``.numpy()``), a tuple of them for several results."""

    def __init__(self, library: GraphLibrary, dev=None):
        if not isinstance(library, GraphLibrary):
            raise MLCError(f"relax.VirtualMachine takes what relax.build returns (a GraphLibrary), "
                           f"got {type(library).__name__}")
        check_device(library.target, dev, "relax.VirtualMachine")
        self.library = library

    def __getitem__(self, name: str):
        if name not in self.library.graphs:
            raise KeyError(f"the virtual machine runs graph functions; there is no {name!r} among "
                           f"{sorted(self.library.graphs)}")
        func = self.library.graphs[name]

        def run(*arrays):
            out = func(*arrays)
            return tuple(_nd(o) for o in out) if isinstance(out, tuple) else _nd(out)
        return run

    @property
    def module(self) -> VirtualMachine:
        """The course times a graph as ``vm.module.time_evaluator("main", dev)``: the machine itself."""
        return self

    def time_evaluator(self, name: str, dev=None, number: int = 10, repeat: int = 3, warmup: int = 1):
        """A timer for graph function ``name``: a callable taking its arguments and giving a
        :class:`~mlc.runtime.timing.TimeResult` (``repeat`` means of ``number`` calls each)."""
        check_device(self.library.target, dev, "VirtualMachine.time_evaluator")
        run = self[name]
        return lambda *arrays: time_function(lambda: run(*arrays), number, repeat, warmup)


def _bind_params(func_name: str, params):
    """``relax.transform.BindParams("main", params)``: a pass binding ``params`` (name -> array)
    as constants of graph function ``func_name`` (:func:`mlc.graph.bind_params`)."""
    def apply(mod: GraphModule) -> GraphModule:
        return bind_params(mod, params, func_name)
    return apply


#: The course's ``relax.transform`` passes: ``BindParams`` and mlc.graph's module passes.
transform = SimpleNamespace(BindParams=_bind_params, FuseOps=FuseOps, FuseTIR=FuseTIR, LegalizeOps=LegalizeOps,
                            DeadCodeElimination=DeadCodeElimination)


class _Ops:
    """``relax.op.add(x, y)``, ``relax.op.nn.relu(x)``: a call of the registry op of that name
    (``mlc.graph.op("add", x, y)``), for ``bb.emit``."""

    def __init__(self, prefix: str = ""):
        self._prefix = prefix

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        full = self._prefix + name
        if full == "nn":
            return _Ops("nn.")
        get_op(full)  # an unknown op: an MLCError naming it

        def call(*args, **attrs):
            return _op(full, *args, **attrs)
        call.__name__ = call.__qualname__ = name
        return call


op = _Ops()
