"""The portable form of an exported module: its scheduled IR as TVMScript text.

``lib.export(path, format="mlc")`` writes a JSON document holding the module as
scheduled (``IRModule.script()``, which ``mlc.parse`` reads back), the target it
was built for and its build options, and for a jitted function its graph entry
(which parameters of ``main`` are inputs, the constants as ``.npy`` bytes in
base64, how results map to outputs); :func:`mlc.load_portable` parses it and builds
it for this machine's CPU, schedules untouched. For programs shipped to machines
whose CPU is not known in advance.
"""
from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import numpy as np

from ..errors import LoadError, MLCError
from ..version import __version__
from .ndarray import c_contiguous

__all__ = ["write_portable", "read_portable", "decode_array", "PORTABLE_FORMAT", "PORTABLE_KEY"]

#: The key whose value (the format version) marks a portable file.
PORTABLE_KEY = "mlc_portable"
PORTABLE_FORMAT = 1


def write_portable(path, mod, target: str, fast_math: bool = False, entries=()) -> Path:
    """Write ``mod`` (an IRModule as scheduled) in the portable form to ``path``; ``entries``:
    graph entries (:class:`~.exported.EntrySpec` of kind "graph") to keep with it."""
    path = Path(path)
    graphs = []
    for entry in entries:
        if entry.kind != "graph":
            raise MLCError(f"export: the portable form keeps mlc.build modules and jitted functions with "
                           f"static shapes; {entry.name} is a {entry.kind}. Export a shared library instead")
        graphs.append({"name": entry.name, "function": entry.symbol,
                       "inputs": sum(1 for p in entry.params if p.role == "in"),
                       "constants": [_encode_array(c) for c in entry.constants],
                       "outputs": list(entry.outputs), "single": entry.single})
    document = {PORTABLE_KEY: PORTABLE_FORMAT, "mlc_version": __version__, "built_for": target,
                "fast_math": bool(fast_math), "functions": list(mod.keys()), "graphs": graphs,
                "script": mod.script()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=1))
    os.replace(tmp, path)
    return path


def read_portable(path) -> dict:
    """The document of the portable file at ``path``; a LoadError for any other file."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise LoadError(f"{path} is not an mlc portable module ({type(err).__name__}: {err}); write one "
                        "with lib.export(path, format='mlc')") from None
    if not isinstance(document, dict) or PORTABLE_KEY not in document or "script" not in document:
        raise LoadError(f"{path} is not an mlc portable module; write one with lib.export(path, format='mlc')")
    if document[PORTABLE_KEY] > PORTABLE_FORMAT:
        raise LoadError(f"{path} is in portable format {document[PORTABLE_KEY]} (mlc "
                        f"{document.get('mlc_version')}); this mlc reads format {PORTABLE_FORMAT}: upgrade mlc")
    return document


def _encode_array(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, c_contiguous(array), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_array(text: str) -> np.ndarray:
    """The array a portable document keeps as ``text`` (``.npy`` bytes in base64)."""
    return np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)
