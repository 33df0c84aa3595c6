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
from ..runtime.portable import read_portable
from .parser import parse

__all__ = ["load_portable"]


def _as_scheduled(sch) -> None:
    """The schedule of a portable module: none, since its functions come scheduled."""
    return None


def load_portable(path, target="llvm"):
    """Parse the portable module at ``path`` and build it, as scheduled, for ``target``
    (default: this machine's CPU): a runtime Module like ``mlc.build``'s."""
    document = read_portable(path)
    mod = parse(document["script"])
    return build(mod, target, schedule=_as_scheduled, fast_math=bool(document.get("fast_math", False)))
