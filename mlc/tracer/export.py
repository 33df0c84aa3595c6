"""``mlc.export``: anything mlc compiles for a CPU, written as a library that runs without it.

>>> import numpy as np, mlc, os, tempfile
>>> path = mlc.export(lambda x: np.exp(x) * 2, np.ones(3, "float32"),
...                   path=os.path.join(tempfile.mkdtemp(), "twice_exp.so"))
>>> mlc.runtime.load(path)(np.zeros(3, "float32"))
array([2., 2., 2.], dtype=float32)
"""
from __future__ import annotations

from ..errors import MLCError
from .jit import JitFunction, jit
from .stages import Compiled

__all__ = ["export"]


def export(f, *example_args, path, cc=None, format: str = "so", **example_kwargs):
    """Export ``f`` to ``path``: a shared library with its C header (``format="so"``), or
    the portable form (``format="mlc"``).

    ``f`` is a jitted function (or a plain one, jitted here), compiled for the signature
    of ``example_args``: ``f.trace(*args).lower().compile().export(path)``; a
    :class:`~.stages.Compiled`; or a module ``mlc.build`` returned (``lib.export(path)``,
    which takes no example arguments). ``cc``: the C compiler/linker (default: cc, gcc or
    clang on PATH). Returns ``path``."""
    if isinstance(f, Compiled):
        return f.export(path, cc=cc, format=format)
    if hasattr(f, "export") and hasattr(f, "function_names"):  # a built runtime Module
        if example_args or example_kwargs:
            raise MLCError("export: a built module exports as it is; pass no example arguments")
        return f.export(path, cc=cc, format=format)
    if not isinstance(f, JitFunction):
        if not callable(f):
            raise MLCError(f"export: expected a jitted function, a function, a Compiled or a built module, "
                           f"got {type(f).__name__}")
        f = jit(f)
    return f.trace(*example_args, **example_kwargs).lower().compile().export(path, cc=cc, format=format)
