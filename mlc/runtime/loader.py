"""Load a library ``mlc.export`` wrote, with NumPy and ctypes only: no compiler, no llvmlite.

An exported library is an ELF shared object followed by a trailer::

    [shared object][metadata (JSON)][u64 length of the JSON][SHA-256 of all before it][MAGIC]

:func:`load` reads the file, refuses it before anything of it runs (``dlopen`` runs
its constructors) when the trailer is missing, the checksum does not match (a
damaged or truncated file), it is not an mlc library, its format is newer than this
loader reads, or it was built for another architecture or for CPU features this
machine lacks (the alternative is an illegal-instruction crash); then it opens it
with ctypes. Each entry is called as its in-process counterpart is, and takes NumPy
arrays or other host arrays without a copy (objects with ``__dlpack__``, a CPU
``torch.Tensor``; buffers, ``memoryview``, ``array.array``: :func:`host_array`):

* a jitted function's ``main`` (``kind="graph"``): ``y = lib(x)`` or ``lib["main"](x)``;
  inputs of the exact dtypes and shapes it was built for (a DTypeError or ShapeError
  naming the argument otherwise; non-contiguous inputs are copied), outputs
  allocated per call: one array, or a tuple;
* a PrimFunc of ``mlc.build`` (``kind="function"``): ``lib["mm_relu"](a, b, c)``,
  destination passing, arrays checked as ``Module`` checks them; symbolic extents
  are read from the arrays' shapes and must agree;
* a jitted function with dynamic axes (``kind="program"``): called as a graph; the
  dynamic sizes are read from the inputs, the outputs allocated at the sizes their
  shapes' expressions give (``["*", "n", 2]``: :func:`evaluate_size`).

This module imports only the standard library and NumPy: a process may load it by
path (``importlib.util.spec_from_file_location``) without importing mlc, and its
errors are then plain exceptions of the same names. Imported as ``mlc.runtime.loader``
they are :mod:`mlc.errors`' ``LoadError``, ``ShapeError`` and ``DTypeError``.

>>> import mlc.runtime.loader as loader
>>> loader.pack_trailer(b"\\x7fELF", {"format": 1})[-8:] == loader.MAGIC
True
"""
from __future__ import annotations

import array
import ctypes
import hashlib
import json
import os
import platform
import struct
import sys

import numpy as np

try:
    from ..errors import BoundsError, DTypeError, LoadError, MLCError, ShapeError
except ImportError:  # loaded by path, outside the mlc package
    class MLCError(Exception):
        """mlc's base error (stand-in where the loader runs without mlc)."""

    class LoadError(MLCError):
        """The library cannot be loaded here."""

    class ShapeError(MLCError, ValueError):
        """An argument of the wrong shape."""

    class DTypeError(MLCError, TypeError):
        """An argument of the wrong dtype."""

    class BoundsError(MLCError, IndexError):
        """An index out of bounds when the function ran."""

__all__ = ["load", "returned", "alias_pattern", "Entries", "Library", "MainSteps", "check_count", "check_dtype",
           "wrong_shape", "LibraryFunction", "host_array", "pack_trailer", "read_metadata", "host_cpu_features",
           "evaluate_size", "MAGIC", "FORMAT_VERSION"]

#: The last 8 bytes of every library mlc exports.
MAGIC = b"\x00MLCLIB\x01"
#: The metadata format this loader reads (and ``export`` writes): 2 adds what an entry does
#: around its C call (an entry's ``"call"``: Python numbers, random keys, checks, write-back).
FORMAT_VERSION = 2
_LENGTH = struct.Struct("<Q")
_DIGEST = 32
_TAIL = _LENGTH.size + _DIGEST + len(MAGIC)
#: Metadata larger than this is not metadata: the file is refused.
MAX_METADATA = 64 << 20


def pack_trailer(shared_object: bytes, metadata: dict) -> bytes:
    """``shared_object`` with the trailer holding ``metadata`` appended (what export writes)."""
    text = json.dumps(metadata, sort_keys=True).encode()
    body = shared_object + text + _LENGTH.pack(len(text))
    return body + hashlib.sha256(body).digest() + MAGIC


def read_metadata(path) -> dict:
    """The metadata of the library at ``path``, once its checksum is verified; a LoadError
    for a file that is not an intact library mlc exported."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise LoadError(f"cannot read library {path}: {err}") from None
    if data[:1] == b"{" and b'"mlc_portable"' in data[:200]:
        raise LoadError(f"{path} is mlc's portable form (scheduled IR), which needs mlc's compiler: rebuild it "
                        "for this machine with mlc.load_portable(path)")
    if len(data) < _TAIL + 4 or data[-len(MAGIC):] != MAGIC:
        raise LoadError(f"{path} is not a library exported by mlc (no mlc trailer at its end: a foreign or "
                        "truncated file); export one with mlc.export(...) or compiled.export(path)")
    body, digest = data[:-_DIGEST - len(MAGIC)], data[-_DIGEST - len(MAGIC):-len(MAGIC)]
    if hashlib.sha256(body).digest() != digest:
        raise LoadError(f"{path} is damaged: its checksum does not match its contents (a changed or "
                        "partly copied file); export it again")
    (length,) = _LENGTH.unpack_from(body, len(body) - _LENGTH.size)
    start = len(body) - _LENGTH.size - length
    if length > MAX_METADATA or start < 4 or data[:4] != b"\x7fELF":
        raise LoadError(f"{path} is damaged: its metadata does not fit the file")
    try:
        metadata = json.loads(body[start:len(body) - _LENGTH.size])
    except ValueError as err:
        raise LoadError(f"{path} is damaged: its metadata is not JSON ({err})") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("format"), int):
        raise LoadError(f"{path} is damaged: its metadata has no format version")
    if metadata["format"] > FORMAT_VERSION:
        raise LoadError(f"{path} was exported by mlc {metadata.get('mlc_version', '?')} in library format "
                        f"{metadata['format']}; this loader reads format {FORMAT_VERSION} and older: "
                        "upgrade mlc here, or export the program with this machine's mlc")
    return metadata


#: LLVM's name of a CPU feature -> the name Linux gives it in /proc/cpuinfo, for the
#: features code may need (others, such as tuning flags, are not checked).
CPUINFO_NAMES = {
    "x86_64": {"sse3": "pni", "ssse3": "ssse3", "sse4.1": "sse4_1", "sse4.2": "sse4_2", "popcnt": "popcnt",
               "avx": "avx", "avx2": "avx2", "fma": "fma", "f16c": "f16c", "bmi": "bmi1", "bmi2": "bmi2",
               "lzcnt": "abm", "movbe": "movbe", "aes": "aes", "pclmul": "pclmulqdq", "sha": "sha_ni",
               "adx": "adx", "gfni": "gfni", "vaes": "vaes", "vpclmulqdq": "vpclmulqdq",
               "avx512f": "avx512f", "avx512bw": "avx512bw", "avx512cd": "avx512cd", "avx512dq": "avx512dq",
               "avx512vl": "avx512vl", "avx512vnni": "avx512_vnni", "avx512bf16": "avx512_bf16",
               "avx512fp16": "avx512_fp16", "avx512vbmi": "avx512vbmi", "avx512vbmi2": "avx512_vbmi2",
               "avx512ifma": "avx512ifma", "avx512bitalg": "avx512_bitalg",
               "avx512vpopcntdq": "avx512_vpopcntdq", "avxvnni": "avx_vnni",
               "amx-tile": "amx_tile", "amx-int8": "amx_int8", "amx-bf16": "amx_bf16"},
    "aarch64": {"neon": "asimd", "fp-armv8": "fp", "crc": "crc32", "aes": "aes", "sha2": "sha2",
                "lse": "atomics", "fullfp16": "fphp", "dotprod": "asimddp", "sve": "sve", "sve2": "sve2",
                "i8mm": "i8mm", "bf16": "bf16", "rcpc": "lrcpc"},
}


def host_arch() -> str:
    """This machine's architecture as LLVM's triples name it ("x86_64", "aarch64")."""
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def host_cpu_features(cpuinfo: str | None = None) -> frozenset[str] | None:
    """The CPU feature flags Linux lists for this machine (``flags`` or ``Features`` of
    /proc/cpuinfo, or of ``cpuinfo``'s text); None where they cannot be read.

    >>> sorted(host_cpu_features("flags : fpu avx2 fma\\n"))
    ['avx2', 'fma', 'fpu']
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo") as f:
                cpuinfo = f.read()
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def missing_features(metadata: dict, arch: str | None = None, flags: frozenset[str] | None = None) -> list[str]:
    """The CPU features (LLVM's names) the library needs that this machine (``arch``,
    ``flags``: by default read here) lacks; the architecture itself first when it differs."""
    arch = arch or host_arch()
    if metadata.get("arch") != arch:
        return [f"the {metadata.get('arch')} architecture"]
    flags = host_cpu_features() if flags is None else flags
    names = CPUINFO_NAMES.get(arch, {})
    if flags is None:
        return []
    return [f for f in metadata.get("cpu_features", ()) if f in names and names[f] not in flags]


#: The kinds of entry this loader calls (:mod:`mlc.runtime.exported`).
_KINDS = frozenset({"graph", "function", "program"})


def load(path, check_cpu: bool = True) -> Library:
    """The library mlc exported at ``path``, checked (module docstring) and opened; a
    device bundle (a zip file or directory a GPU module's export wrote) is checked and
    loaded by :func:`mlc.runtime.bundle.load_bundle`, with its device's array library.

    ``check_cpu=False`` skips the comparison of CPU features (for a machine whose
    /proc/cpuinfo does not tell the truth, an emulator say); the architecture is
    always checked."""
    path = os.fspath(path)
    if os.path.isdir(path) or _starts_with(path, b"PK\x03\x04"):  # a device bundle (a directory or a zip)
        try:
            from . import bundle  # deferred: keeps loading a CPU library fast (no zipfile)
            host = sys.modules[__name__]
        except ImportError:  # loaded by path: the reader beside this file, and this copy's names
            import importlib.util
            import types
            spec = importlib.util.spec_from_file_location(
                "mlc_bundle", os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundle.py"))
            bundle = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(bundle)
            host = types.SimpleNamespace(**globals())
        return bundle.load_bundle(path, host)
    metadata = read_metadata(path)
    lacking = missing_features(metadata, flags=None if check_cpu else frozenset(
        CPUINFO_NAMES.get(host_arch(), {}).values()))
    if lacking:
        raise LoadError(f"{path} was built for {metadata.get('target')} and needs CPU features this machine "
                        f"({host_arch()}) lacks: {', '.join(lacking)}; running it would crash with an illegal "
                        "instruction. Export it for this machine's CPU (target='llvm', or -mcpu= a CPU this "
                        "machine has), or its portable form (format='mlc') to rebuild here")
    unknown = sorted({e.get("kind") for e in metadata.get("entries", ())} - _KINDS)
    if unknown:
        raise LoadError(f"{path} has entries of kind {unknown}, which this loader (mlc library format "
                        f"{FORMAT_VERSION}) does not know; load it with the mlc that exported it, or newer")
    try:
        handle = ctypes.CDLL(os.path.abspath(path))
    except OSError as err:
        raise LoadError(f"{path} passed its checks but the dynamic loader refused it: {err}") from None
    return Library(path, metadata, handle)


def _starts_with(path: str, magic: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


class Entries:
    """What a loaded library, a device bundle and a built module share: ``lib[name]`` is the
    entry ``name`` of ``functions``, ``name in lib`` asks whether there is one, and a library
    with a single entry (a jitted function's) is called as ``lib(*args)``."""

    functions: dict
    path: str

    def __getitem__(self, name: str):
        try:
            return self.functions[name]
        except KeyError:
            raise self._missing(name) from None

    def __contains__(self, name: str) -> bool:
        return name in self.functions

    def _missing(self, name: str) -> Exception:
        return MLCError(f"{self.path} has no entry {name!r}; it has {', '.join(self.functions)}")

    def _sole(self):
        """The entry ``lib(*args)`` calls: the only one, else None (:meth:`_not_sole` says why)."""
        return next(iter(self.functions.values())) if len(self.functions) == 1 else None

    def _not_sole(self) -> MLCError:
        return MLCError(f"{self.path} has {len(self.functions)} entries ({', '.join(self.functions)}); "
                        "call one by name: lib[name](...)")


def bind_keywords(name: str, names, args: tuple, kwargs: dict) -> tuple:
    """``args`` and ``kwargs`` as one positional tuple in the order of the parameter ``names``
    (a call by keyword, as the Python function was called).

    >>> bind_keywords("f", ["x", "y"], (1,), {"y": 2})
    (1, 2)
    """
    if not kwargs:
        return args
    names = list(names)
    out = list(args) + [None] * max(len(names) - len(args), 0)
    given = [True] * len(args) + [False] * max(len(names) - len(args), 0)
    for key, value in kwargs.items():
        if key not in names:
            raise ShapeError(f"{name}() has no argument {key!r}: it takes {', '.join(names)}")
        n = names.index(key)
        if n < len(args):
            raise ShapeError(f"{name}() got argument {key!r} twice, by position and by keyword")
        out[n], given[n] = value, True
    missing = [names[n] for n, g in enumerate(given) if not g]
    if missing:
        raise ShapeError(f"{name}() is missing argument{'s' * (len(missing) > 1)} {', '.join(missing)}")
    return tuple(out)


def check_count(name: str, params, args) -> None:
    """Raise unless ``args`` has one argument per parameter (``params``: names first)."""
    if len(args) != len(params):
        raise ShapeError(f"{name}() takes {len(params)} arrays ({', '.join(p[0] for p in params)}), "
                         f"got {len(args)}")


def check_dtype(name: str, pname: str, dtype: np.dtype, arg) -> None:
    """Raise unless the array ``arg`` for parameter ``pname`` of ``name`` has ``dtype``."""
    if arg.dtype != dtype:
        raise DTypeError(f"{name}(): argument {pname} must have dtype {dtype.name}, got "
                         f"{arg.dtype.name}; convert it with .astype('{dtype.name}')")


def wrong_shape(name: str, pname: str, shape: tuple, arg) -> ShapeError:
    """The error for an array ``arg`` whose shape is not parameter ``pname``'s ``shape``."""
    return ShapeError(f"{name}(): argument {pname} must have shape {shape}, got {arg.shape}")


class Library(Entries):
    """An exported library, loaded: ``lib[name]`` is an entry; ``lib(*args)`` calls the one
    entry of a library that has a single one (a jitted function's)."""

    def __init__(self, path: str, metadata: dict, handle: ctypes.CDLL):
        self.path, self.metadata, self._handle = path, metadata, handle
        self.functions = {e["name"]: LibraryFunction(e, handle) for e in metadata["entries"]}
        self._only = self._sole()
        prefix = metadata["prefix"]
        self._set_threads = getattr(handle, prefix + "set_num_threads")
        self._set_threads.argtypes, self._set_threads.restype = [ctypes.c_int], ctypes.c_int

    def __call__(self, *args, **kwargs):
        only = self._only
        if only is None:
            raise self._not_sole()
        if kwargs or only.kind == "function":
            return only(*args, **kwargs)
        return only._run(args)  # (the call's fast path: no keywords to bind)

    def set_num_threads(self, n: int) -> int:
        """Threads the library's parallel loops use from now on; returns the count in force."""
        return self._set_threads(int(n))

    def __repr__(self) -> str:
        return f"<mlc Library {self.path}: {', '.join(self.functions)} for {self.metadata.get('target')}>"


_ndarray = np.ndarray
_empty = np.empty
_DATA_OFFSET = object.__basicsize__  # PyObject_HEAD: NumPy's array struct has its data pointer next
_read_pointer = ctypes.c_void_p.from_address


def _struct_pointer(array: np.ndarray) -> int:
    return _read_pointer(id(array) + _DATA_OFFSET).value or 0


#: ``data_pointer(array)``: the address of an array's first element, read from its struct
#: (ten times faster than ``array.ctypes.data``) where this interpreter's layout is the one
#: expected, checked once here.
data_pointer = (_struct_pointer if all(_struct_pointer(a) == a.ctypes.data for a in (
    np.arange(5, dtype="float32"), np.zeros((3, 2), "int8")[1:])) else (lambda a: a.ctypes.data))


class LibraryFunction:
    """One entry of a loaded library (see the module docstring for how it is called)."""

    def __init__(self, entry: dict, handle: ctypes.CDLL):
        self.name, self.kind = entry["name"], entry["kind"]
        self.params = [(p["name"], np.dtype(p["dtype"]), tuple(p["shape"]), p["role"]) for p in entry["params"]]
        self.size_vars = [tuple(v) for v in entry["size_vars"]]
        self.outputs, self.single = tuple(entry["outputs"]), entry["single"]
        cfunc = getattr(handle, entry["symbol"])
        cfunc.argtypes = [ctypes.c_void_p] * len(self.params) + [ctypes.c_int64] * len(self.size_vars)
        cfunc.restype = None
        self._cfunc = cfunc
        self._static = not self.size_vars
        self._inputs = [p for p in self.params if p[3] == "in"] if self.kind != "function" else self.params
        self._outputs = [p for p in self.params if p[3] != "in"] if self.kind != "function" else []
        self._input_specs = [(dtype, shape) for _, dtype, shape, _ in self._inputs]
        self._output_specs = [(dtype, shape) for _, dtype, shape, _ in self._outputs]
        self._plain_outputs = self.outputs == tuple(range(len(self._outputs)))
        self._run = self._call_program if self.kind == "program" else self._call_graph
        self._nonempty = entry.get("nonempty", [])
        self._nonempty_taken = set(entry.get("nonempty_taken", ()))  # raised as BoundsError
        if self.kind == "program":
            cfunc.restype = ctypes.c_int
        call = entry.get("call")
        self._names = [p[0] for p in self._inputs]  # what a call by keyword names
        if call is not None:
            self._around = _Around(self.name, call, self._inputs)
            self._names = [p[0] for p in self._around.visible]
            inner, self.single = self._run, False
            self._run = lambda args: self._around(args, inner, entry["single"])
        elif self.kind == "graph" and self._plain_outputs and self.single and data_pointer is _struct_pointer:
            if len(self._inputs) == 1:
                self._run = _one_in_one_out(cfunc, *self._input_specs[0], *self._output_specs[0], self._call_graph)
            elif len(self._inputs) == 2:
                self._run = _two_in_one_out(cfunc, *self._input_specs, *self._output_specs[0], self._call_graph)

    def __call__(self, *args, **kwargs):
        if kwargs:
            args = bind_keywords(self.name, self._names, args, kwargs)
        if self.kind != "function":
            return self._run(args)
        self._call_function(args)
        return None

    def _check(self, args, params) -> dict:
        """Raise for an argument whose type, dtype or shape is not its parameter's; the value
        of each symbolic extent."""
        check_count(self.name, params, args)
        sizes: dict = {}
        for (pname, dtype, shape, role), arg in zip(params, args):
            if not isinstance(arg, _ndarray):
                raise DTypeError(f"{self.name}(): argument {pname} must be a numpy.ndarray of {dtype.name}, "
                                 f"got {type(arg).__name__}; wrap it with np.asarray")
            check_dtype(self.name, pname, dtype, arg)
            if arg.shape == shape:
                continue
            if len(arg.shape) != len(shape):
                raise wrong_shape(self.name, pname, shape, arg)
            for expected, got in zip(shape, arg.shape):
                if isinstance(expected, str):
                    if sizes.setdefault(expected, got) != got:
                        raise ShapeError(f"{self.name}(): argument {pname} has shape {arg.shape}, where "
                                         f"{expected} must be {sizes[expected]} (from an earlier argument)")
                elif expected != got:
                    raise wrong_shape(self.name, pname, shape, arg)
        return sizes

    def _call_graph(self, args):
        specs = self._input_specs
        if any(type(a) is not _ndarray for a in args):
            args = tuple(map(host_array, args))
        if len(args) != len(specs):
            self._check(args, self._inputs)
        inputs = list(args)
        for n, (a, (dtype, shape)) in enumerate(zip(args, specs)):
            if type(a) is not _ndarray or (a.dtype is not dtype and a.dtype != dtype) or a.shape != shape:
                self._check(args, self._inputs)  # (raises, naming the argument)
            if not a.flags.c_contiguous:
                inputs[n] = np.ascontiguousarray(a)
        outs = [_empty(shape, dtype) for dtype, shape in self._output_specs]
        self._cfunc(*map(data_pointer, inputs), *map(data_pointer, outs))
        if self._plain_outputs:
            return outs[0] if self.single else tuple(outs)
        return returned(outs, self.outputs, self.single)

    def _call_program(self, args):
        args = tuple(map(host_array, args))
        sizes = self._check(args, self._inputs)
        inputs = [a if a.flags.c_contiguous else np.ascontiguousarray(a) for a in args]
        outs = [_empty(tuple(evaluate_size(d, sizes) for d in shape), dtype) for dtype, shape in self._output_specs]
        status = self._cfunc(*map(data_pointer, inputs), *map(data_pointer, outs),
                             *[sizes[name] for name, _, _, _ in self.size_vars])
        if status == 1:  # (a library whose C main allocated the intermediates: an earlier mlc's)
            raise MemoryError(f"{self.name}(): the library could not allocate its intermediate arrays")
        if status:
            error = BoundsError if status - 2 in self._nonempty_taken else ShapeError
            raise error(self._nonempty[status - 2] if 0 <= status - 2 < len(self._nonempty) else
                        f"{self.name}(): the library refused these sizes (status {status})")
        if self._plain_outputs:
            return outs[0] if self.single else tuple(outs)
        return returned(outs, self.outputs, self.single)

    def _call_function(self, args) -> None:
        if any(type(a) is not _ndarray for a in args):
            args = tuple(map(host_array, args))
        sizes = self._check(args, self.params)
        for (pname, _, _, role), arg in zip(self.params, args):
            if not arg.flags.c_contiguous:
                raise ShapeError(f"{self.name}(): argument {pname} must be C-contiguous; pass "
                                 "np.ascontiguousarray(x)")
            if role != "in" and not arg.flags.writeable:
                raise MLCError(f"{self.name}(): argument {pname} is written but the array is read-only")
        for n, (pname, _, _, role) in enumerate(self.params):
            for m, other in enumerate(args):
                if role != "in" and m != n and np.may_share_memory(args[n], other):
                    raise MLCError(f"{self.name}(): arguments {pname} and {self.params[m][0]} share memory, and "
                                   f"{pname} is written; the code assumes its arrays do not alias. Pass a copy "
                                   "(x.copy()) or a separate output array")
        self._cfunc(*map(data_pointer, args), *[sizes[name] for name, _, _, _ in self.size_vars])

    def __repr__(self) -> str:
        return f"<mlc LibraryFunction {self.name} ({self.kind})>"


#: DLPack's device type of host memory (and of pinned host memory, ``kDLCUDAHost``).
_DLPACK_HOST = (1, 3)


class MainSteps:
    """A graph's ``main`` as a device bundle's metadata holds it (:mod:`mlc.runtime.main_steps`),
    run on a device's arrays: ``run(arrays)`` allocates with ``empty(shape, dtype)``, views
    with ``reshape``/``view``, launches ``functions[name].launch(arrays)`` and evaluates the
    loops', conditionals' and counters' scalars (a load reads one element of a device array: a
    copy to the host, which waits for the kernels before it)."""

    def __init__(self, name: str, steps: list, functions: dict, empty):
        self.name, self.empty = name, empty
        self.steps = self._compile(steps, functions)

    def run(self, args) -> None:
        self._run(self.steps, dict(enumerate(args)), {})

    def _compile(self, steps, functions) -> list:
        out = []
        for step in steps:
            kind = step[0]
            if kind == "call":
                out.append(("call", functions[step[1]], tuple(step[2])))
            elif kind == "allocate":
                out.append(("allocate", step[1], (tuple(step[2]), np.dtype(step[3]))))
            elif kind == "view":
                out.append(("view", step[1], (step[2], tuple(step[3]), np.dtype(step[4]))))
            elif kind == "for":
                out.append(("for", step[1], (step[2], step[3], self._compile(step[4], functions))))
            elif kind == "while":
                out.append(("while", None, (step[1], self._compile(step[2], functions))))
            elif kind == "if":
                out.append(("if", None, (step[1], self._compile(step[2], functions),
                                         self._compile(step[3], functions))))
            elif kind == "store":
                out.append(("store", step[1], (step[2], step[3])))
            else:
                raise LoadError(f"{self.name}: a step {kind!r} this loader does not run; load the bundle with the "
                                "mlc that exported it, or newer")
        return out

    def _run(self, steps, arrays: dict, variables: dict) -> None:
        empty = self.empty
        for kind, what, how in steps:
            if kind == "call":
                what.launch([arrays[n] for n in how])
            elif kind == "allocate":
                arrays[what] = empty(*how)
            elif kind == "view":
                source, shape, dtype = how
                nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                arrays[what] = arrays[source].reshape(-1).view(np.uint8)[:nbytes].view(dtype).reshape(shape)
            elif kind == "for":
                begin = int(_main_scalar(how[0], arrays, variables))
                for i in range(begin, begin + int(_main_scalar(how[1], arrays, variables))):
                    variables[what] = i
                    self._run(how[2], arrays, variables)
            elif kind == "while":
                while _main_scalar(how[0], arrays, variables):
                    self._run(how[1], arrays, variables)
            elif kind == "if":
                self._run(how[1] if _main_scalar(how[0], arrays, variables) else how[2], arrays, variables)
            else:  # a store of one element (a loop's counter)
                arrays[what].reshape(-1)[int(_main_scalar(how[0], arrays, variables))] = \
                    _main_scalar(how[1], arrays, variables)


def _truncdiv(a, b):
    return np.trunc(np.true_divide(a, b)).astype(np.result_type(a, b)) if np.result_type(a, b).kind in "iu" \
        else np.true_divide(a, b)


#: The binary operations of a main's scalars (``mlc.ir.ops.BINARY_OPS``' names), as NumPy's.
_MAIN_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
                "floordiv": np.floor_divide, "floormod": np.remainder, "truncdiv": _truncdiv, "truncmod": np.fmod,
                "min": np.minimum, "max": np.maximum, "eq": np.equal, "ne": np.not_equal, "lt": np.less,
                "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal, "and": np.logical_and,
                "or": np.logical_or, "bitand": np.bitwise_and, "bitor": np.bitwise_or, "bitxor": np.bitwise_xor,
                "shl": np.left_shift, "shr": np.right_shift}


def _main_scalar(tree, arrays: dict, variables: dict):
    """The value of a main's scalar (:func:`mlc.runtime.main_steps.scalar_steps`)."""
    kind = tree[0]
    if kind == "const":
        return tree[1]
    if kind == "var":
        return variables[tree[1]]
    if kind == "load":
        element = arrays[tree[1]].reshape(-1)[int(_main_scalar(tree[2], arrays, variables))]
        return element.item() if hasattr(element, "item") else element
    if kind == "cast":
        return np.array(_main_scalar(tree[2], arrays, variables)).astype(tree[1]).item()
    if kind == "bin":
        _, op, a, b, da, db = tree
        with np.errstate(all="ignore"):
            return np.asarray(_MAIN_BINARY[op](np.array(_main_scalar(a, arrays, variables), da),
                                               np.array(_main_scalar(b, arrays, variables), db))).item()
    raise LoadError(f"a scalar of kind {kind!r} this loader does not evaluate")


def host_array(a):
    """``a`` as a NumPy array sharing its memory where it is another host array: an object
    with ``__dlpack__`` (a CPU torch.Tensor, a JAX array) or a buffer (``memoryview``,
    ``array.array``, ``bytearray``); anything else as it is (the checks then name it).

    >>> import array
    >>> host_array(array.array("d", [1.5])).dtype
    dtype('float64')
    """
    if type(a) is _ndarray:
        return a
    if isinstance(a, (memoryview, bytearray, array.array)):
        return np.asarray(a)
    if hasattr(a, "__dlpack__"):
        device = getattr(a, "__dlpack_device__", None)
        if device is not None and device()[0] not in _DLPACK_HOST:
            raise DTypeError(f"a {type(a).__name__} in device memory (DLPack device {tuple(device())}) was "
                             "passed to a CPU library; copy it to the host first (np.asarray(x.cpu()), "
                             "cupy.asnumpy(x))")
        try:
            return np.from_dlpack(a)
        except (TypeError, ValueError, BufferError, RuntimeError):
            return a
    return a


class _Around:
    """What a loaded entry does around its C call where a jitted call does it around ``main``
    (the entry's ``"call"`` metadata, :class:`mlc.runtime.exported.CallSpec`): Python numbers
    become 0-d arrays; one random key per hidden key input is drawn from NumPy's global
    generator (``np.random.seed(0)`` makes the calls reproducible, as it does a jitted
    call's) or fresh entropy; after the call the traced Python ints are verified, then
    the arguments the function writes receive their last versions."""

    def __init__(self, name: str, call: dict, inputs, convert=None):
        self.name, self.convert = name, convert or host_array
        self.keys = tuple(call.get("keys", ()))
        self.visible = inputs[:len(inputs) - len(self.keys)]
        self.scalars = tuple(call.get("scalars", ())) + (None,) * len(self.visible)
        self.checks = [tuple(c) for c in call.get("checks", ())]
        self.writes = tuple(call.get("writes", ()))
        aliases = call.get("aliases")
        self.aliases = None if aliases is None else tuple(aliases)

    def arguments(self, args) -> list:
        if len(args) != len(self.visible):
            names = ", ".join(p[0] for p in self.visible)
            raise ShapeError(f"{self.name}() takes {len(self.visible)} arguments ({names}), got {len(args)}")
        out = list(args)
        for n, (arg, kind, (pname, dtype, _, _)) in enumerate(zip(args, self.scalars, self.visible)):
            if kind is None:
                out[n] = self.convert(arg)
                continue
            if type(arg) is not _PYTHON_TYPES[kind]:
                raise DTypeError(f"{self.name}(): argument {pname} was a Python {kind} when exported, got "
                                 f"{type(arg).__name__}; pass a Python {kind} (a jitted function compiles "
                                 "again for another type, a library cannot)")
            if kind == "int" and not _INT64_MIN <= arg <= _INT64_MAX:
                raise DTypeError(f"{self.name}(): argument {pname} = {arg} does not fit int64, as the exported "
                                 "code takes it; pass it as an array of a wider dtype")
            out[n] = np.asarray(arg, dtype)
        return out

    def _overlap(self, m: int, n: int) -> MLCError:
        return MLCError(f"{self.name}(): arguments {m} and {n} overlap in memory (one is a view into the "
                        "other) and the function writes into one of them; pass a copy of one of them")

    def __call__(self, args, run, single: bool):
        args = self.arguments(args)
        if self.writes and alias_pattern(args, self.writes, self._overlap) != self.aliases:
            raise MLCError(f"{self.name}(): the arguments share memory differently than the arguments it was "
                           "exported with, and it writes into its arguments; pass separate arrays (or the "
                           "same array where it was the same when exported)")
        keys = [_draw_key(source) for source in self.keys]
        outs = list(run(tuple(args) + tuple(keys)))
        n = len(outs) - len(self.writes)
        m = n - len(self.checks)
        for check, value in zip(self.checks, outs[m:n]):  # before any argument is written
            _verify(self.name, check, value)
        for k, value in zip(self.writes, outs[n:]):
            target = args[k]
            if not isinstance(target, np.ndarray):  # a CuPy array (a CUDA bundle's)
                target[...] = value
                continue
            if not target.flags.writeable:
                raise MLCError(f"{self.name}(): argument {self.visible[k][0]} is written (NumPy's in-place "
                               "meaning) but the array is read-only; pass a writeable array")
            np.copyto(target, value if isinstance(value, np.ndarray) else value.get(), casting="unsafe")
        results = outs[:m]
        return results[0] if single else tuple(results)


_PYTHON_TYPES = {"int": int, "float": float, "bool": bool, "complex": complex}
_INT64_MIN, _INT64_MAX = -2**63, 2**63 - 1


def _draw_key(source: str) -> np.ndarray:
    """One call's random key (uint32[2]) as a jitted call draws it (``numpy_random.draw_key``)."""
    if source == "entropy":
        return np.random.SeedSequence().generate_state(2, np.uint32)
    return np.random.randint(0, 2**32, size=2, dtype=np.uint32)


def _layout(a):
    return a.__array_interface__["data"][0], a.shape, a.strides, a.dtype


def alias_pattern(args, writes, overlap_error) -> tuple[int, ...] | None:
    """None when no two NumPy arrays of ``args`` share memory; else, per argument, the first
    that is the same array (itself where none is). Where two overlap in part and one of them
    is among ``writes`` (positions), raises ``overlap_error(m, n)``: NumPy would see each
    write through the other. (The jit's check too: ``mlc.tracer.writeback``.)

    >>> x = np.zeros(3)
    >>> alias_pattern([x, x, np.ones(2)], set(), None)
    (0, 0, 2)
    """
    arrays = [(n, a) for n, a in enumerate(args) if type(a) is np.ndarray and a.size]
    pattern = None
    for i, (n, a) in enumerate(arrays):
        for m, b in arrays[:i]:
            if not np.may_share_memory(a, b):
                continue
            if _layout(a) == _layout(b):
                pattern = pattern or list(range(len(args)))
                pattern[n] = pattern[m]
                break
            if n in writes or m in writes:
                raise overlap_error(m, n)
    return None if pattern is None else tuple(pattern)


def _verify(name: str, check, value) -> None:
    """Raise where a traced Python int is out of what the code was traced for (as
    ``RangeCheck.verify``)."""
    dtype, op, limit = check
    if dtype == "status":  # a compiled loop's or conditional's: [the failing check's number, its value]
        site, v = int(value[0]), int(value[1])  # (a NumPy or a CuPy array)
        if site:
            _verify(name, tuple(op[site - 1]), np.int64(v))
        return
    v = int(value)
    if dtype == "index":
        if not -limit <= v < limit:
            what, axis, where = op
            raise BoundsError(f"{name}(): {what}: index {v} is out of bounds for axis {axis} with size {limit} "
                              f"(NumPy raises IndexError); no argument was written{where}")
    elif dtype == "bounds":
        if v:
            raise BoundsError(f"{name}(): item assignment: {v} traced index(es) out of bounds when the function "
                              f"ran (NumPy raises IndexError); no argument was written{op}")
    elif dtype == "below":
        if not 0 <= v < limit:
            raise ShapeError(f"{name}(): {op}: the value {v} is {'negative' if v < 0 else 'not below'} "
                             f"{'' if v < 0 else f'the static length {limit} '}the function was exported for; "
                             "pass a length that holds every value")
    elif dtype == "exponent":
        if v < 0:
            raise ShapeError(f"{name}(): {op}: integers to negative integer powers are not allowed, as in "
                             f"NumPy, and the exponent is {v}; use a float base")
    else:
        info = np.iinfo(dtype)
        if not info.min <= v <= info.max:
            raise DTypeError(f"{name}(): {op}: Python integer {v} (a Python scalar argument, or computed from "
                             f"one) is out of bounds for {dtype}, in [{info.min}, {info.max}]; pass a value in "
                             "range, or cast the array to a wider dtype")


_SIZE_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
             "//": lambda a, b: a // b, "%": lambda a, b: a % b, "min": min, "max": max}


def returned(outs, order, single: bool):
    """A call's results from its output arrays ``outs``: result ``k`` is ``outs[order[k]]``, a
    copy where that value was returned before (one array each time); the lone result where
    ``single``, else a tuple.

    >>> a, b = returned([np.zeros(1), np.ones(1)], (1, 1), False)
    >>> a is b
    False
    """
    results, seen = [], set()
    for index in order:
        results.append(outs[index].copy() if index in seen else outs[index])
        seen.add(index)
    return results[0] if single else tuple(results)


def evaluate_size(tree, sizes: dict) -> int:
    """The value of a size expression (an int, a size's name, or ``[op, a, b]``) at ``sizes``.

    >>> evaluate_size(["+", ["*", "n", 2], 1], {"n": 5})
    11
    """
    if isinstance(tree, int):
        return tree
    if isinstance(tree, str):
        return sizes[tree]
    op, a, b = tree
    return _SIZE_OPS[op](evaluate_size(a, sizes), evaluate_size(b, sizes))


def _two_in_one_out(cfunc, first, second, out_dtype, out_shape, general):
    """:func:`_one_in_one_out` for two inputs (``a + b``, ``x @ w``)."""
    read, offset = _read_pointer, _DATA_OFFSET
    (dtype0, shape0), (dtype1, shape1) = first, second

    def run(args):
        if len(args) == 2:
            x, y = args
            if type(x) is _ndarray and type(y) is _ndarray and x.dtype is dtype0 and y.dtype is dtype1 \
                    and x.shape == shape0 and y.shape == shape1 and x.flags.c_contiguous and y.flags.c_contiguous:
                out = _empty(out_shape, out_dtype)
                cfunc(read(id(x) + offset).value, read(id(y) + offset).value, read(id(out) + offset).value)
                return out
        return general(args)
    return run


def _one_in_one_out(cfunc, dtype, shape, out_dtype, out_shape, general):
    """``run(args)`` for the commonest entry, one input and one output: the checks a plain
    call passes inline (an array of exactly the input's dtype object and shape), anything
    else through ``general``; about a microsecond less a call than the general path."""
    read, offset, contiguous = _read_pointer, _DATA_OFFSET, np.ascontiguousarray

    def run(args):
        if len(args) == 1:
            x = args[0]
            if type(x) is _ndarray and x.dtype is dtype and x.shape == shape:
                if not x.flags.c_contiguous:
                    x = contiguous(x)
                out = _empty(out_shape, out_dtype)
                cfunc(read(id(x) + offset).value, read(id(out) + offset).value)
                return out
        return general(args)
    return run
