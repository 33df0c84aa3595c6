"""Read a device bundle: what ``lib.export`` writes for a module built for a GPU target.

A bundle is a zip file, or a directory holding the same files: its metadata
(``mlc-bundle.json``), the device code and constants its backend's export wrote, and
``loader.py``, the device's own loader. The metadata says the bundle's kind
(``"kind": "cuda-bundle"``) and the name of that loader's module, and lists a SHA-256
of every other file. :func:`load_bundle` checks every file before anything of it is
used (a damaged, truncated or foreign bundle is refused), then hands the metadata and
the files to the device's loader: where mlc is installed, the one its backend
registered for the kind (:mod:`.bundle_loaders`: the runtime names no
backend), else the copy the bundle carries. So a process that loaded
:mod:`mlc.runtime.loader` by path, without mlc, loads a bundle of any device with
NumPy and the device's array library only.

>>> import tempfile, os
>>> is_bundle(tempfile.mkdtemp())
False

:func:`write_bundle` writes one (a GPU backend's export gives it the device code and its
loader). Like :mod:`.loader`, this module imports only the standard library and NumPy.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
import types
import zipfile

if __package__:  # in mlc (not a copy loaded by path): the loaders the backends registered
    from .bundle_loaders import registered_loader

__all__ = ["BUNDLE_FORMAT", "METADATA_NAME", "LOADER_MEMBER", "MAX_BUNDLE", "is_bundle", "read_bundle",
           "write_bundle", "load_bundle"]

#: The bundle format this reader reads (and the exports write).
BUNDLE_FORMAT = 2
METADATA_NAME = "mlc-bundle.json"
#: The member holding the device's loader (the source of the module the metadata names).
LOADER_MEMBER = "loader.py"
#: The most bytes a bundle's members may hold in all (a zip bomb is refused).
MAX_BUNDLE = 4 << 30
def is_bundle(path) -> bool:
    """Whether ``path`` is a bundle (a directory with its metadata, or a zip file)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return os.path.exists(os.path.join(path, METADATA_NAME))
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def read_bundle(path, errors) -> tuple[dict, dict[str, bytes]]:
    """(metadata, files) of the bundle at ``path``, every file checked against its SHA-256;
    an ``errors.LoadError`` (``errors``: the host loader's module or namespace) for
    anything else."""
    LoadError = errors.LoadError
    path = os.fspath(path)
    files: dict[str, bytes] = {}
    try:
        if os.path.isdir(path):
            for member in os.listdir(path):
                full = os.path.join(path, member)
                if os.path.isfile(full) and not member.startswith("."):
                    with open(full, "rb") as f:
                        files[member] = f.read()
        else:
            with zipfile.ZipFile(path) as z:
                if sum(i.file_size for i in z.infolist()) > MAX_BUNDLE:
                    raise LoadError(f"{path} is not a bundle mlc exported: its files would take more than "
                                    f"{MAX_BUNDLE >> 30} GiB")
                files = {i.filename: z.read(i) for i in z.infolist()}
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as err:
        raise LoadError(f"cannot read bundle {path}: it is damaged or truncated ({err}); export it again") from None
    if METADATA_NAME not in files:
        raise LoadError(f"{path} is not a bundle exported by mlc (no {METADATA_NAME}); export one with "
                        "lib.export(path) of a module built for a GPU target")
    try:
        metadata = json.loads(files.pop(METADATA_NAME))
    except ValueError as err:
        raise LoadError(f"{path} is damaged: its metadata is not JSON ({err})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("format"), int) or \
            not str(metadata.get("kind", "")).endswith("-bundle"):
        raise LoadError(f"{path} is not a bundle exported by mlc (its metadata says otherwise)")
    if metadata["format"] > BUNDLE_FORMAT:
        raise LoadError(f"{path} was exported by mlc {metadata.get('mlc_version', '?')} in bundle format "
                        f"{metadata['format']}; this loader reads format {BUNDLE_FORMAT} and older: upgrade mlc "
                        "here, or export it with this machine's mlc")
    loader = metadata.get("loader")
    if metadata["format"] < BUNDLE_FORMAT or not (isinstance(loader, str) and loader.isascii()
                                                   and all(p.isidentifier() for p in loader.split("."))):
        raise LoadError(f"{path} was exported by mlc {metadata.get('mlc_version', '?')} in bundle format "
                        f"{metadata['format']}, which carries no loader of its own; export it again")
    sums = metadata.get("checksums", {})
    for member, digest in sums.items():
        if member not in files:
            raise LoadError(f"{path} is damaged: it lacks {member}; export it again")
        if hashlib.sha256(files[member]).hexdigest() != digest:
            raise LoadError(f"{path} is damaged: {member} does not match its checksum; export it again")
    extra = sorted(set(files) - set(sums))
    if extra:
        raise LoadError(f"{path} holds files its metadata does not list ({', '.join(extra)}); a bundle mlc "
                        "exported holds only its own")
    if LOADER_MEMBER not in sums:
        raise LoadError(f"{path} is damaged: it lacks {LOADER_MEMBER}; export it again")
    return metadata, files


def write_bundle(where, kind: str, loader, files: dict[str, bytes], metadata: dict) -> pathlib.Path:
    """Write a bundle of ``kind`` (``"cuda-bundle"``) that :func:`read_bundle` reads back:
    ``files``, the source of ``loader`` (the device loader's module, carried as
    :data:`LOADER_MEMBER`) and ``metadata`` (the kind's own fields) completed by the format,
    the kind, the loader's name and every file's SHA-256. ``where`` is a directory (one, or
    a path ending with a separator) or a zip file, written whole or not at all. Returns it."""
    files = {**files, LOADER_MEMBER: pathlib.Path(loader.__file__).read_bytes()}
    metadata = {**metadata, "format": BUNDLE_FORMAT, "kind": kind, "loader": loader.__name__,
                "checksums": {m: hashlib.sha256(data).hexdigest() for m, data in sorted(files.items())}}
    files[METADATA_NAME] = json.dumps(metadata, sort_keys=True, indent=1).encode()
    path = pathlib.Path(where)
    if path.is_dir() or os.fspath(where).endswith(os.sep):
        path.mkdir(parents=True, exist_ok=True)
        for member, data in files.items():
            fd, tmp = tempfile.mkstemp(dir=path, prefix=f".{member}.")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path / member)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
            for member, data in files.items():
                z.writestr(member, data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_bundle(path, host):
    """The bundle at ``path``, checked and loaded by its device's loader. ``host``: the
    loader's names (:mod:`mlc.runtime.loader`, or the namespace of a copy loaded by path),
    which the device loader uses for errors and argument handling."""
    metadata, files = read_bundle(path, host)
    return device_loader(metadata, files, host).load(os.fspath(path), metadata, files)


def device_loader(metadata: dict, files: dict, host):
    """The loader of bundles of ``metadata``'s kind: the one registered for it where mlc
    is (:func:`~.bundle_loaders.registered_loader`; an ``errors.LoadError`` of ``host``
    where none is), else the bundle's own ``loader.py`` run with ``host`` as its
    ``HOST_LOADER``."""
    if __package__:
        return registered_loader(metadata["kind"], host.LoadError)
    module = types.ModuleType(metadata["loader"].rsplit(".", 1)[-1])
    module.HOST_LOADER = host
    exec(compile(files[LOADER_MEMBER], LOADER_MEMBER, "exec"), module.__dict__)  # noqa: S102 - checksummed above
    return module
