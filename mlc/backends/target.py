"""Targets say *what* to compile for (device, CPU name, features), not *how*.

``"llvm"`` is this machine: its CPU name and its whole feature string, so
code built for it runs here. ``-mcpu=`` names another CPU to tune for and,
without ``-mattr=``, keeps this machine's features; ``-mattr=`` replaces them
(LLVM then starts from the named CPU's own features). A target that describes
code rather than runs it (golden IR and assembly in the tests) names both,
or is built as ``Target("llvm", cpu)``: that CPU with exactly its own
features, whatever machine compiles it. CPU and feature names are checked
against what LLVM knows (:mod:`.llvm_cpus`).

>>> Target.from_str("llvm").kind
'llvm'
>>> Target("llvm", "skylake-avx512").vector_bits
512
>>> Target("llvm", "skylake-avx512").vector_registers
32
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..config import config
from ..errors import MLCError
from .llvm_cpus import check_cpu_and_features, host_cpu, vector_bits

__all__ = ["Target", "KINDS", "host_cpu", "host_caches", "DEFAULT_CACHES"]

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

KINDS = ("llvm", "cuda", "reference")


@dataclass(frozen=True, slots=True)
class Target:
    """A compilation target.

    ``cpu`` and ``features`` are LLVM's names (host values by default; ``features``
    "" means the CPU's own); ``arch`` is the CUDA compute capability ("sm_80") for cuda.
    """
    kind: str
    cpu: str = ""
    features: str = ""
    arch: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            hint = (f"; to parse a target string use Target.from_str({self.kind!r})"
                    if isinstance(self.kind, str) and " " in self.kind else "")
            raise MLCError(f"unknown target kind {self.kind!r}; expected one of {', '.join(KINDS)}{hint}")
        if self.kind == "llvm":
            check_cpu_and_features(self.cpu, self.features)

    @property
    def vector_bits(self) -> int:
        """Width of the vector registers code for this (llvm) target uses: 128, 256, 512."""
        return vector_bits(self.cpu, self.features)

    @property
    def vector_registers(self) -> int:
        """Vector registers of the (llvm) target's register file: 32 with AVX-512 (zmm0-31,
        and ymm/xmm16-31), else 16."""
        return 32 if self.vector_bits == 512 else 16

    @property
    def caches(self) -> tuple[int, int, int]:
        """L1 data, L2 and L3 cache sizes in bytes: this machine's when the target is this
        machine (read from the host once), else :data:`DEFAULT_CACHES` for its vector width,
        so that code for a named CPU does not depend on where it is compiled."""
        if (self.cpu, self.features) == host_cpu():
            found = host_caches()
            if found is not None:
                return found
        return DEFAULT_CACHES.get(self.vector_bits, DEFAULT_CACHES[128])

    @staticmethod
    def from_str(spec) -> Target:
        """Parse "llvm", "llvm -mcpu=znver3 -mattr=+avx2", "cuda -arch=sm_80", "reference"."""
        if isinstance(spec, Target):
            return spec
        if spec is None:
            spec = config().target
        if not isinstance(spec, str) or not spec.split():
            raise MLCError(f"target must be a string like 'llvm' or 'cuda', got {spec!r}")
        kind, *opts = spec.split()
        if kind not in KINDS:
            raise MLCError(f"unknown target {kind!r}; expected one of {', '.join(KINDS)}")
        values = {}
        for opt in opts:
            key, _, value = opt.lstrip("-").partition("=")
            if key not in ("mcpu", "mattr", "arch") or not value:
                raise MLCError(f"unknown target option {opt!r} in {spec!r}; expected -mcpu=, -mattr= or -arch=")
            if key in values:
                raise MLCError(f"target option -{key}= given twice in {spec!r}; give it once")
            values[key] = value
        if kind == "llvm":
            cpu, features = host_cpu()
            return Target("llvm", values.get("mcpu", cpu), values.get("mattr", features))
        return Target(kind, arch=values.get("arch", ""))

    def __str__(self) -> str:
        if self.kind == "llvm":
            own = self.features in ("", host_cpu()[1])
            return f"llvm -mcpu={self.cpu}" + ("" if own else f" -mattr={self.features}")
        if self.kind == "cuda" and self.arch:
            return f"cuda -arch={self.arch}"
        return self.kind

