"""Targets say *what* to compile for (device kind, CPU name, features, GPU arch), not *how*.

A target kind ("llvm", "reference", ...) exists once something registered it
as a :class:`TargetKind`: the options its target string accepts, how they
become a :class:`Target`'s fields, a validator, and the properties a target of
that kind answers (``vector_bits`` for a CPU). Backends register the kinds
they compile (:func:`mlc.backends.registry.register_backend`); mlc's own
backends register theirs on first use, so that ``import mlc`` stays cheap
(:func:`add_kind_source` tells this module how to find them).

``"llvm"`` is this machine: its CPU name and whole feature string. ``-mcpu=``
names another CPU to tune for and, without ``-mattr=``, keeps this machine's
features; ``-mattr=`` replaces them. ``Target("llvm", cpu)`` is that CPU with
exactly its own features, whatever machine compiles it (golden tests pin it).
The llvm kind checks CPU and feature names against what LLVM knows
(:mod:`mlc.backends.llvm.target_kind`).

>>> Target.from_str("llvm").kind
'llvm'
>>> Target("llvm", "skylake-avx512").vector_bits
512
>>> Target("llvm", "skylake-avx512").vector_registers
32
>>> str(Target.from_str("reference"))
'reference'
"""
from __future__ import annotations

import re

from collections.abc import Callable, Mapping
from dataclasses import field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from .config import config
from .errors import ConfigError, MLCError
from .frozen import frozen

__all__ = ["Target", "TargetKind", "DeviceLimits", "MAX_SHARED_ATTR", "register_target_kind",
           "unregister_target_kind", "target_kind", "registered_target_kinds", "add_kind_source",
           "known_target_kinds", "load_kind", "host_caches", "host_l1_ways", "DEFAULT_CACHES", "kind_of"]

#: Data cache sizes in bytes (L1, L2, L3) of a CPU that is not this machine, by vector
#: width: AVX-512 CPUs (Skylake-SP and later, Zen 4/5) have 1-2 MiB of L2 per core,
#: AVX2 CPUs (Haswell to Alder Lake, Zen 1-3) 256-512 KiB; the smaller value of each.
DEFAULT_CACHES = {512: (32 << 10, 1 << 20, 16 << 20), 256: (32 << 10, 256 << 10, 8 << 20),
                  128: (32 << 10, 256 << 10, 4 << 20)}
_CACHE_DIR = Path("/sys/devices/system/cpu/cpu0/cache")


@lru_cache(maxsize=1)
def host_caches() -> tuple[int, int, int] | None:
    """This machine's L1 data, L2 and L3 cache sizes in bytes (Linux's sysfs), or None
    where it does not say (another OS, a container without sysfs)."""
    sizes = {}
    try:
        for index in sorted(_CACHE_DIR.glob("index*")):
            kind = (index / "type").read_text().strip()
            if kind == "Instruction":
                continue
            size = (index / "size").read_text().strip().upper()
            scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(size[-1:], 1)
            sizes[int((index / "level").read_text())] = int(size.rstrip("KMG")) * scale
    except (OSError, ValueError):
        return None
    if not {1, 2} <= sizes.keys():
        return None
    return sizes[1], sizes[2], sizes.get(3, sizes[2])


@lru_cache(maxsize=1)
def host_l1_ways() -> int:
    """The associativity of this machine's L1 data cache (ways per set, Linux's sysfs), or 0
    where it does not say (another OS, a container without sysfs, a fully associative cache)."""
    try:
        for index in sorted(_CACHE_DIR.glob("index*")):
            if (index / "level").read_text().strip() == "1" and (index / "type").read_text().strip() != "Instruction":
                return int((index / "ways_of_associativity").read_text())
    except (OSError, ValueError):
        return 0
    return 0


#: The attribute of a function written for one architecture whose blocks may use more shared
#: memory than its target's limits say (bytes): the wgmma kernel's, an H100's 227 KiB.
MAX_SHARED_ATTR = "mlc.max_shared_bytes"


@frozen
class DeviceLimits:
    """What one kernel launch of a GPU may use, as its target kind registers it: threads per
    block, static shared memory per block in bytes, threads per warp (the unit of shuffles
    and of warp-wide calls), shared memory per block with the opt-in, and the largest block
    and grid extents along x, y and z.

    >>> limits = DeviceLimits(max_threads_per_block=256, max_shared_memory_per_block=32768, warp_size=64)
    >>> limits.warp_size, limits.max_block
    (64, (1024, 1024, 64))
    """
    max_threads_per_block: int = 1024
    max_shared_memory_per_block: int = 48 * 1024
    warp_size: int = 32
    #: shared memory a block may use once its kernel opts in (dynamic shared memory); a kernel
    #: over the static limit gets its shared buffers from one dynamic allocation
    max_dynamic_shared_memory_per_block: int = 48 * 1024
    max_block: tuple[int, int, int] = (1024, 1024, 64)
    max_grid: tuple[int, int, int] = ((1 << 31) - 1, 65535, 65535)


@frozen
class TargetKind:
    """One kind of target, as its backend registers it (TVM's ``TargetKind``).

    - ``options``: the ``-key=value`` options a target string of this kind takes
      (``("mcpu", "mattr")`` for llvm).
    - ``parse``: option values (key without dash -> value) to :class:`Target` field
      values (``cpu``, ``features``, ``arch``); None takes the options as field names.
    - ``validate``: raises :class:`~mlc.errors.MLCError` for a target it refuses.
    - ``describe``: the target string of a target (``str(target)``); None writes
      the kind and its non-empty fields as options.
    - ``properties``: name -> ``f(target)`` for what a target of this kind knows
      beyond its fields (``vector_bits``, ``vector_registers``, ``caches`` for CPUs).
    - ``keys``: what kind of device it compiles for, which picks the default schedule
      rules, design spaces and pass pipelines that fit it: ``("cpu",)`` for llvm,
      ``("gpu",)`` for a GPU (which then gives ``limits``), ``()`` for code run as written.
    - ``limits``: a GPU kind's :class:`DeviceLimits`, which its schedules and launches respect.
    - ``device``: where the arrays of a module built for it live (``"cpu"``: NumPy arrays;
      a GPU kind whose modules run on the GPU names its device kind of :mod:`mlc.runtime.ndarray`).
    - ``emulator``: for a GPU kind, the kind that runs the same kernels on the host (with the
      same options), where candidates are checked without a device; "" when there is none.
    """
    name: str
    options: tuple[str, ...] = ()
    parse: Callable[[dict[str, str]], dict[str, str]] | None = None
    validate: Callable[[Target], None] | None = None
    describe: Callable[[Target], str] | None = None
    properties: Mapping[str, Callable[[Target], Any]] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    limits: DeviceLimits | None = None
    device: str = "cpu"
    emulator: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*", self.name):
            raise MLCError(f"TargetKind: name must be a word like 'llvm' or 'cuda-emulator', got {self.name!r}")
        if isinstance(self.keys, str) or not all(isinstance(k, str) for k in self.keys):
            raise MLCError(f"TargetKind {self.name!r}: keys must be a tuple of words like ('gpu',), got {self.keys!r}")
        if "gpu" in self.keys and not isinstance(self.limits, DeviceLimits):
            raise MLCError(f"TargetKind {self.name!r}: a GPU kind (keys ('gpu',)) gives its device limits, "
                           f"limits=DeviceLimits(...); got {self.limits!r}")


class KindSource(Protocol):
    """Where kinds not registered yet come from (mlc's own backends, registered on first use)."""

    def known(self) -> Mapping[str, str | None]:
        """Kind -> None when :meth:`load` registers it, else why it is unavailable."""

    def load(self, kind: str) -> None:
        """Register ``kind`` (by importing what registers it)."""


_KINDS: dict[str, TargetKind] = {}
_SOURCES: list[KindSource] = []


def register_target_kind(kind: TargetKind) -> TargetKind:
    """Make ``kind.name`` a target kind; a name already registered is refused."""
    if not isinstance(kind, TargetKind):
        raise MLCError(f"register_target_kind takes a TargetKind, got {type(kind).__name__}")
    taken = _KINDS.get(kind.name)
    if taken is not None and taken is not kind:
        raise MLCError(f"register_target_kind: target kind {kind.name!r} is already registered; "
                       "unregister it first (unregister_target_kind) to replace it")
    _KINDS[kind.name] = kind
    return kind


def unregister_target_kind(name: str) -> None:
    """Forget target kind ``name`` (tests that register their own)."""
    _KINDS.pop(name, None)


def registered_target_kinds() -> dict[str, TargetKind]:
    """Name -> TargetKind of every kind registered so far."""
    return dict(_KINDS)


def add_kind_source(source: KindSource) -> None:
    """Ask ``source`` for kinds not registered yet (see :class:`KindSource`)."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def known_target_kinds() -> dict[str, str | None]:
    """Every kind a target may name: registered ones (None) and those a source knows
    (None when it can register them, else why they are unavailable), sorted by name."""
    known: dict[str, str | None] = {}
    for source in _SOURCES:
        for name, reason in source.known().items():
            known.setdefault(name, reason)
    known.update({name: None for name in _KINDS})
    return dict(sorted(known.items()))


def describe_known_kinds() -> str:
    """``llvm, reference, cuda (unavailable: why)``: the kinds for an error message."""
    items = [name if why is None else f"{name} (unavailable: {why})"
             for name, why in known_target_kinds().items()]
    return ", ".join(items) or "none"


def load_kind(name: str) -> None:
    """Register kind ``name`` from the source that knows it, if one does and it is not
    registered yet (so that a backend registering a builtin kind meets its owner)."""
    if name in _KINDS:
        return
    for source in _SOURCES:
        if source.known().get(name, "unknown") is None:
            source.load(name)
            return


def target_kind(name: str, what: str = "target kind") -> TargetKind:
    """The registered TargetKind ``name``, registering it from a source on first use;
    an MLCError lists the known kinds, and why each unavailable one is, otherwise
    (``what`` names ``name`` there: "target kind", or "target" for a target string)."""
    kind = _KINDS.get(name)
    if kind is not None:
        return kind
    reason = "unknown"
    for source in _SOURCES:
        known = source.known()
        if name in known:
            reason = known[name]
            if reason is None:
                source.load(name)
                if name in _KINDS:
                    return _KINDS[name]
                reason = "its backend did not register it"
            break
    head = (f"unknown {what} {name!r}" if reason == "unknown"
            else f"{what} {name!r} is unavailable: {reason}")
    raise MLCError(f"{head}; the known target kinds are: {describe_known_kinds()}")


def kind_of(spec) -> str:
    """The kind a target names (a Target, a target string, None: ``MLC_TARGET``), read without
    parsing the rest: parsing an llvm target asks LLVM for this machine's CPU, which starts LLVM
    (a fraction of a second, once a process); "" where ``spec`` names none. Only for decisions
    that need the kind alone (whether a first tier may serve a call); what builds parses.

    >>> kind_of("llvm -mcpu=znver3"), kind_of(Target.from_str("reference")), kind_of("")
    ('llvm', 'reference', '')
    """
    if isinstance(spec, Target):
        return spec.kind
    if spec is None:
        spec = config().target
    return spec.split()[0] if isinstance(spec, str) and spec.split() else ""


_FIELDS = ("cpu", "features", "arch", "triple")


@frozen
class Target:
    """A compilation target: a registered kind and its fields.

    ``cpu`` and ``features`` are LLVM's names for llvm (host values by default;
    ``features`` "" means the CPU's own); ``arch`` is a GPU architecture
    ("sm_80"); ``triple`` an LLVM target triple for code built for another kind of
    machine ("aarch64-linux-gnu"; "" is this machine's). What else a target knows comes from its kind
    (:attr:`TargetKind.properties`).
    """
    kind: str
    cpu: str = ""
    features: str = ""
    arch: str = ""
    triple: str = ""

    def __post_init__(self):
        if not isinstance(self.kind, str):
            raise MLCError(f"Target: kind must be a string like 'llvm', got {self.kind!r}")
        if " " in self.kind.strip():
            raise MLCError(f"unknown target kind {self.kind!r}; to parse a target string use "
                           f"Target.from_str({self.kind!r})")
        kind = target_kind(self.kind)
        if kind.validate is not None:
            kind.validate(self)

    @property
    def kind_info(self) -> TargetKind:
        """The registered :class:`TargetKind` of this target."""
        return target_kind(self.kind)

    def get(self, name: str) -> Any:
        """What the kind's ``properties[name]`` says of this target; an MLCError when the
        kind does not define it."""
        getter = self.kind_info.properties.get(name)
        if getter is None:
            raise MLCError(f"target {self} has no property {name!r}; target kind {self.kind!r} "
                           f"defines {sorted(self.kind_info.properties) or 'none'}")
        return getter(self)

    @property
    def keys(self) -> tuple[str, ...]:
        """What kind of device the target compiles for (:attr:`TargetKind.keys`): ``("cpu",)``, ``("gpu",)``."""
        return self.kind_info.keys

    @property
    def is_gpu(self) -> bool:
        """Whether the target's kind has the ``"gpu"`` key."""
        return "gpu" in self.kind_info.keys

    @property
    def limits(self) -> DeviceLimits:
        """The :class:`DeviceLimits` of a GPU target; an MLCError for a target that has none."""
        limits = self.kind_info.limits
        if limits is None:
            raise MLCError(f"target {self} has no device limits: only a GPU target kind (keys ('gpu',)) "
                           "registers them (TargetKind(..., keys=('gpu',), limits=DeviceLimits(...)))")
        return limits

    @property
    def vector_bits(self) -> int:
        """Width of the vector registers code for this (CPU) target uses: 128, 256, 512."""
        return self.get("vector_bits")

    @property
    def vector_registers(self) -> int:
        """Vector registers of the (CPU) target's register file."""
        return self.get("vector_registers")

    @property
    def caches(self) -> tuple[int, int, int]:
        """L1 data, L2 and L3 cache sizes in bytes of the (CPU) target."""
        return self.get("caches")

    @staticmethod
    def from_str(spec) -> Target:
        """Parse "llvm", "llvm -mcpu=znver3 -mattr=+avx2", "reference"; None is the
        configured default (``MLC_TARGET``); a Target is returned as it is."""
        if isinstance(spec, Target):
            return spec
        if spec is None:
            spec = config().target
            try:
                return Target.from_str(spec)
            except MLCError as err:
                raise ConfigError(f"MLC_TARGET={spec!r} is not a target mlc accepts: {err}. Set it to a "
                                  "target such as 'llvm', 'llvm -mcpu=znver3' or 'reference', or unset "
                                  "it for 'llvm'") from None
        if not isinstance(spec, str) or not spec.split():
            raise MLCError(f"target must be a string like 'llvm' or 'reference', got {spec!r}")
        name, *opts = spec.split()
        kind = target_kind(name, "target")
        values = {}
        for opt in opts:
            key, _, value = opt.lstrip("-").partition("=")
            if key not in kind.options or not value:
                expected = ", ".join(f"-{o}=" for o in kind.options) or "no options"
                raise MLCError(f"unknown target option {opt!r} in {spec!r}; target kind {name!r} "
                               f"takes {expected}")
            if key in values:
                raise MLCError(f"target option -{key}= given twice in {spec!r}; give it once")
            values[key] = value
        if kind.parse is not None:
            values = kind.parse(values)
        unknown = sorted(set(values) - set(_FIELDS))
        if unknown:
            raise MLCError(f"target kind {name!r} parsed {spec!r} into unknown fields {unknown}; "
                           f"a Target has {', '.join(_FIELDS)}")
        return Target(name, **values)

    def __str__(self) -> str:
        describe = self.kind_info.describe
        if describe is not None:
            return describe(self)
        return " ".join([self.kind] + [f"-{f.name}={getattr(self, f.name)}" for f in fields(self)
                                       if f.name != "kind" and getattr(self, f.name)])
