"""``R``: graph functions in TVMScript (``from mlc.script import relax as R``).

Inside an ``@I.ir_module`` class, ``@R.function`` functions call the class's
``@T.prim_func`` kernels with ``R.call_tir``; the class becomes a
:class:`~mlc.script.graph_module.GraphModule`. :func:`build` compiles it
(the graph is memory-planned and run by mlc's graph executor), and
``VirtualMachine(build(mod), mlc.cpu())["main"](*arrays)`` runs it the way
the course does.
"""
from __future__ import annotations

from ..backends.target import Target
from ..errors import MLCError
from ..runtime.graph_executor import LEAF_LIST
from ..runtime.ndarray import NDArray, check_device
from ..tracer.compile import build_lowered
from .graph_module import GraphModule

__all__ = ["function", "Tensor", "build", "Executable", "VirtualMachine"]


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


class Executable:
    """A built GraphModule: ``ex["main"](*arrays)`` returns the result array(s)."""

    def __init__(self, mod: GraphModule, target, schedule=None):
        self.target = Target.from_str(target)
        self._compiled = {name: build_lowered(g, LEAF_LIST, self.target, schedule)
                          for name, g in mod.graphs.items()}

    def __getitem__(self, name: str):
        try:
            compiled = self._compiled[name]
        except KeyError:
            raise KeyError(f"no graph function {name!r}; there are {sorted(self._compiled)}") from None
        n_inputs = len(compiled.graph.inputs)

        def run(*arrays):
            if len(arrays) != n_inputs:
                raise MLCError(f"{name}() takes {n_inputs} arrays, got {len(arrays)}")
            outs = [o.view(NDArray) for o in compiled.run(list(arrays))]
            return outs[0] if len(outs) == 1 else tuple(outs)
        return run


def build(mod: GraphModule, target="llvm", schedule=None) -> Executable:
    """Compile every graph function of ``mod`` (and the kernels it calls) for ``target``.

    ``schedule`` is as for ``mlc.build``: None schedules the kernels no one
    has scheduled with the target's default rules.
    """
    if not isinstance(mod, GraphModule):
        raise MLCError(f"relax.build takes a module with @R.function graphs, got {type(mod).__name__}; "
                       "build a module of PrimFuncs with mlc.build")
    return Executable(mod, target, schedule)


class VirtualMachine:
    """The course's ``relax.VirtualMachine(ex, dev)``: ``vm["main"](*arrays)``."""

    def __init__(self, executable: Executable, dev=None):
        check_device(executable.target, dev)
        self.executable = executable

    def __getitem__(self, name: str):
        return self.executable[name]
