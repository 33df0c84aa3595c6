"""Export: a scheduled module and its entries -> a shared library, its header and metadata.

:func:`export_library` generates the objects for the target (:mod:`.objects`),
writes the C runtime (:mod:`.cruntime`), the entries' wrappers and constants
(:mod:`mlc.runtime.c_header`), links them with the system's C compiler (:mod:`.toolchain`), and
appends the metadata the loader reads (:mod:`mlc.runtime.loader`): the entries and
their arrays, the target, its CPU features, mlc's version and a checksum. Beside
``name.so`` it writes ``name.h``.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ....errors import MLCError
from ....ir.tir import IRModule
from ....runtime.loader import FORMAT_VERSION, pack_trailer
from ....version import __version__
from ..cpus import required_features
from ..jit import target_layout
from .cruntime import RUNTIME_SOURCE, runtime_api
from .objects import export_objects
from ....runtime.c_header import constant_arrays, header_source, wrapper_source
from ....runtime.exported import EntrySpec, c_identifier
from .toolchain import check_library, find_cc, run_cc

__all__ = ["export_library", "library_prefix"]


def library_prefix(path: Path) -> str:
    """The prefix of the library's C symbols: ``mlc_<file stem>_``.

    >>> library_prefix(Path("out/mm-relu.so"))
    'mlc_mm_relu_'
    """
    stem = path.name.split(".", 1)[0] or "lib"
    return f"mlc_{c_identifier(stem)}_"


def export_library(mod: IRModule, target, entries: Sequence[EntrySpec], path, *, cc=None,
                   fast_math: bool = False) -> Path:
    """Write the shared library of ``mod`` (as scheduled) for ``target`` to ``path``, with
    ``entries`` as its C functions, and its header beside it (``path`` with ``.h``).
    Returns ``path``."""
    path = Path(path)
    if target.kind != "llvm":
        raise MLCError(f"export: a library holds CPU code; this module was built for {target}. Build it "
                       "for 'llvm' (or 'llvm -mtriple=...' for another CPU)")
    triple = target_layout(target)[0]
    command = find_cc(cc, triple)
    objects, symbols = export_objects(mod, target, fast_math)
    prefix = library_prefix(path)
    with tempfile.TemporaryDirectory(prefix="mlc-export-") as tmp:
        work = Path(tmp)
        names = []
        for n, obj in enumerate(objects):
            (work / f"unit{n}.o").write_bytes(obj)
            names.append(f"unit{n}.o")
        files = {}
        for k, entry in enumerate(entries):
            for n, const in enumerate(constant_arrays(entry)):
                files[(k, n)] = str(work / f"const{k}_{n}.bin")
                Path(files[(k, n)]).write_bytes(np.ascontiguousarray(const).tobytes())
        (work / "runtime.c").write_text(RUNTIME_SOURCE + runtime_api(prefix))
        (work / "entries.c").write_text(wrapper_source(prefix, entries, files, symbols))
        (work / "exports.map").write_text(f"{{\n  global: {prefix}*;\n  local: *;\n}};\n")
        run_cc([*command, "-shared", "-fPIC", "-O2", "-o", "lib.so", f"-Wl,-soname,{path.name}", *names,
                "runtime.c", "entries.c", "-Wl,--version-script=exports.map", "-Wl,-z,defs",
                "-Wl,-z,noexecstack", "-static-libgcc", "-lm", "-lpthread"], work)
        data = (work / "lib.so").read_bytes()
    check_library(data, triple, command)
    entry_metadata = [e.metadata(prefix) for e in entries]
    metadata = {  # (format 1 where no entry needs what the loader does around a call, which 2 adds)
        "format": FORMAT_VERSION if any("call" in e for e in entry_metadata) else 1,
        "mlc_version": __version__, "prefix": prefix, "target": str(target),
        "triple": triple, "arch": triple.split("-", 1)[0], "cpu": target.cpu,
        "cpu_features": sorted(required_features(target.cpu, target.features, target.triple)),
        "fast_math": bool(fast_math), "entries": entry_metadata,
    }
    _write(path, pack_trailer(data, metadata))
    guard = c_identifier(path.name.split(".", 1)[0]).upper()
    _write(path.with_name(path.name.split(".", 1)[0] + ".h"),
           header_source(prefix, guard, entries, str(target)).encode())
    return path


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o755 if path.suffix == ".so" else 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
