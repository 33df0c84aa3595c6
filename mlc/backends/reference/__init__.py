"""The NumPy reference interpreter of PrimFuncs: the oracle every backend is tested against.

``run(func, arrays)`` executes a PrimFunc in place (destination passing);
importing this package registers the ``reference`` backend (:mod:`.backend`),
which ``mlc.build(mod, "reference")`` uses: each function of the module runs
on the interpreter, as written.

>>> import numpy as np
>>> from mlc import te
>>> A = te.placeholder((4,), "float32", "A")
>>> B = te.compute((4,), lambda i: A[i] * 2, "B")
>>> b = np.zeros(4, "float32")
>>> run(te.create_prim_func([A, B]), [np.arange(4, dtype="float32"), b]); b
array([0., 2., 4., 6.], dtype=float32)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...ir.tir import PrimFunc
from ..registry import register_backend
from .backend import ReferenceBackend, ReferenceModule
from .interpreter import LANE_LIMIT, Program

__all__ = ["run", "Program", "LANE_LIMIT", "ReferenceBackend", "ReferenceModule", "BACKEND"]


def run(func: PrimFunc, args: Sequence[np.ndarray]) -> None:
    """Execute ``func`` in place on ``args`` (one array per parameter, in order)."""
    Program(func).run(args)


#: The registered reference backend.
BACKEND = register_backend(ReferenceBackend())
