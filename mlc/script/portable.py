"""``mlc.load_portable``: rebuild a module exported in the portable form for this machine.

>>> import numpy as np, mlc, os, tempfile
>>> from mlc import te
>>> A = te.placeholder((4,), "float32", "A")
>>> lib = mlc.build(mlc.IRModule({"double": te.create_prim_func([A, te.compute((4,), lambda i: A[i] * 2, "B")])}))
>>> path = lib.export(os.path.join(tempfile.mkdtemp(), "double.mlc"), format="mlc")
>>> b = np.empty(4, "float32"); mlc.load_portable(path)["double"](np.arange(4, dtype="float32"), b); b
array([0., 2., 4., 6.], dtype=float32)
"""
from __future__ import annotations

from ..driver import build
from ..runtime.entry import MainEntry
from ..runtime.loader import returned
from ..runtime.portable import decode_array, read_portable
from .parser import parse

__all__ = ["load_portable"]


def _as_scheduled(sch) -> None:
    """The schedule of a portable module: none, since its functions come scheduled."""
    return None


def load_portable(path, target="llvm"):
    """Parse the portable module at ``path`` and build it, as scheduled, for ``target``
    (default: this machine's CPU): a runtime Module like ``mlc.build``'s, or for a jitted
    function a :class:`PortableFunction` called like it (``f(x)``)."""
    document = read_portable(path)
    mod = parse(document["script"])
    lib = build(mod, target, schedule=_as_scheduled, fast_math=bool(document.get("fast_math", False)))
    graphs = document.get("graphs", [])
    return PortableFunction(lib, graphs[0]) if len(graphs) == 1 else lib


class PortableFunction:
    """A jitted function rebuilt from its portable form: ``f(*arrays)`` returns its result
    (one array, or a tuple), as the exported library's loader does; ``lib`` is the module."""

    def __init__(self, lib, graph: dict):
        self.lib = lib
        self.name = graph["name"]
        constants = [decode_array(c) for c in graph["constants"]]
        self.entry = MainEntry(lib[graph["function"]], graph["inputs"], constants)
        self.outputs, self.single = tuple(graph["outputs"]), bool(graph["single"])

    def __call__(self, *inputs):
        return returned(self.entry(list(inputs)), self.outputs, self.single)

    def __repr__(self) -> str:
        return f"<mlc PortableFunction {self.name} for {self.lib.target}>"
