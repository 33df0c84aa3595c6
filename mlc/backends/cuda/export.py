"""Export a ``cuda`` module as a bundle that runs without mlc's compiler or NVRTC.

A bundle is a zip file (or a directory holding the same files) of:

* ``mlc-bundle.json``: the metadata (:mod:`mlc.runtime.bundle`) :mod:`.bundle_loader` reads: each
  kernel function's parameters, workspace and launches (kernel name, grid, block,
  arguments), each graph ``main``'s steps (:mod:`mlc.runtime.main_steps`), the entries a
  caller calls, the architectures, mlc's version and a SHA-256 of every other file;
* ``kernels.sm_XX.cubin``: the kernels compiled by NVRTC for each architecture asked
  for (``archs=``; by default the build's and sm_90), and ``kernels.compute_XX.ptx``
  for the lowest one, which the driver compiles itself for a GPU no cubin fits;
* ``const<k>_<n>.npy``: the constants of a jitted function's ``main``;
* ``loader.py``: :mod:`.bundle_loader`, which loads all this where mlc is not installed.

The loader needs NumPy and CuPy only: it loads a cubin with the driver
(``cuModuleLoadData`` through CuPy) and launches its kernels in the order and
geometry the metadata says.

>>> import mlc, tempfile, os
>>> from mlc import te
>>> A = te.placeholder((4,), "float32", "A")
>>> B = te.compute((4,), lambda i: A[i] * 2, "B")
>>> lib = mlc.build(mlc.IRModule({"double": te.create_prim_func([A, B])}), "cuda")  # doctest: +SKIP
>>> lib.export(os.path.join(tempfile.mkdtemp(), "double.cubin-bundle"))  # doctest: +SKIP
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import MLCError
from ...ir.calls import is_graph_main
from ...runtime.bundle import write_bundle
from ...runtime.main_steps import main_steps, static_shape
from ...version import __version__
from ..gpu.launch import workspace
from . import bundle_loader
from .nvrtc import compile_cuda

__all__ = ["export_bundle", "DEFAULT_ARCHS"]

#: The architectures a bundle holds cubins for unless ``archs=`` says otherwise (with the
#: build's own): Ampere and Hopper; the PTX of the lowest serves newer GPUs.
DEFAULT_ARCHS = ("sm_80", "sm_90")
#: The attribute holding a function's parameters before lowering (``backend.SIGNATURE_ATTR``).
SIGNATURE_ATTR = "mlc.signature"


def function_metadata(name: str, func, source) -> dict:
    """A kernel function: its parameters (as the user's signature has them: the attribute
    ``backend.keep_signature`` sets before lowering flattens them), workspace and launches."""
    signature = func.attr(SIGNATURE_ATTR)
    params = ([[n, list(shape), dtype] for n, shape, dtype in signature] if signature is not None else
              [[b.name, static_shape(b), b.dtype] for b in func.params])
    return {"name": name, "kind": "kernels", "params": params,
            "workspace": [[static_shape(b), b.dtype] for b in workspace(func)],
            "launches": [[l.kernel, list(l.grid), list(l.block), list(l.args)] for l in source.launches]}


def export_bundle(artifact, code: str, target, path, *, entries: Sequence[dict] | None = None,
                  constants: Sequence[Sequence[np.ndarray]] = (), archs: Sequence[str] | None = None) -> Path:
    """Write the bundle of a built ``cuda`` module (its codegen ``artifact``, the joined
    CUDA C ``code``) to ``path``: a directory where ``path`` is one or ends with a
    separator, else a zip file. ``entries``: what callers call (default: every function,
    destination passing); ``constants[k]``: the constants of entry ``k`` (a graph's).
    ``archs``: the architectures to hold cubins for. Returns ``path``."""
    lowered = artifact.module
    functions = {}
    for name, func in lowered.items():
        if not is_graph_main(func):
            functions[name] = function_metadata(name, func, artifact.sources[name])
    for name, func in lowered.items():
        if is_graph_main(func):
            functions[name] = main_steps(name, func, functions)
    for arch in [artifact.arch, *(archs or DEFAULT_ARCHS)]:
        if not (isinstance(arch, str) and arch.startswith("sm_") and arch[3:].isdigit()):
            raise MLCError(f"export: archs must look like 'sm_80', got {arch!r}")
    wanted = sorted({artifact.arch, *(archs or DEFAULT_ARCHS)}, key=lambda a: int(a[3:]))
    files: dict[str, bytes] = {}
    for arch in wanted:
        files[f"kernels.{arch}.cubin"] = (artifact.cubin if arch == artifact.arch and artifact.cubin
                                          else compile_cuda(code, arch))
    lowest = wanted[0]
    files[f"kernels.compute_{lowest[3:]}.ptx"] = compile_cuda(code, lowest, ptx=True)
    if entries is None:
        entries = [{"name": n, "function": n, "kind": "function"} for n in functions]
    entries = [dict(e) for e in entries]
    for k, entry in enumerate(entries):
        consts = constants[k] if k < len(constants) else ()
        entry["constants"] = []
        for n, c in enumerate(consts):
            member = f"const{k}_{n}.npy"
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(c), allow_pickle=False)
            files[member] = buf.getvalue()
            entry["constants"].append(member)
    return write_bundle(path, "cuda-bundle", bundle_loader, files,
                        {"mlc_version": __version__, "target": str(target), "archs": wanted,
                         "ptx": f"compute_{lowest[3:]}", "functions": functions, "entries": entries})
