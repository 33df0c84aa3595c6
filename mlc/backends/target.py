"""Targets say *what* to compile for (device, CPU name, features), not *how*.

>>> Target.from_str("llvm").kind
'llvm'
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..errors import MLCError

__all__ = ["Target", "KINDS"]

KINDS = ("llvm", "cuda", "reference")


@dataclass(frozen=True, slots=True)
class Target:
    """A compilation target.

    ``cpu`` and ``features`` are LLVM's names (host values by default);
    ``arch`` is the CUDA compute capability ("sm_80") for cuda.
    """
    kind: str
    cpu: str = ""
    features: str = ""
    arch: str = ""

    @staticmethod
    def from_str(spec) -> Target:
        """Parse "llvm", "llvm -mcpu=znver3 -mattr=+avx2", "cuda -arch=sm_80", "reference"."""
        if isinstance(spec, Target):
            return spec
        if spec is None:
            from ..config import config
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
            values[key] = value
        if kind == "llvm":
            cpu, features = host_cpu()
            return Target("llvm", values.get("mcpu", cpu), values.get("mattr", features))
        return Target(kind, arch=values.get("arch", ""))

    def __str__(self) -> str:
        if self.kind == "llvm":
            return f"llvm -mcpu={self.cpu}"
        if self.kind == "cuda" and self.arch:
            return f"cuda -arch={self.arch}"
        return self.kind


@lru_cache(maxsize=1)
def host_cpu() -> tuple[str, str]:
    """LLVM's name and feature string for the machine we run on."""
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
