"""What LLVM knows about CPUs: the host's name and features, the names it accepts
for ``-mcpu`` and ``-mattr``, and how wide the vector registers of a (cpu,
features) pair are.

LLVM aborts the process on a feature without its ``+``/``-`` sign, cannot
generate code once ``64bit-mode``, ``64bit`` or ``sse`` is switched off
(:data:`REFUSED_FLAGS`), and on an unknown CPU
prints a warning for every subtarget it creates and goes on with generic
code. So a CPU name and a feature string are checked here, against the names
this LLVM lists in its ``-mcpu=help`` text, before any target machine sees them.

>>> from mlc.backends.llvm_cpus import check_cpu_and_features
>>> check_cpu_and_features("haswel", "")
Traceback (most recent call last):
  ...
mlc.errors.MLCError: unknown CPU 'haswel' for -mcpu; did you mean 'haswell'? ...
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache

from ..dependencies import check_llvmlite

check_llvmlite()  # first: an old llvmlite is named, not crashed on

import llvmlite.binding as llvm  # noqa: E402

from ..errors import MLCError  # noqa: E402
from .llvm_output import captured_stderr, llvm_output  # noqa: E402

__all__ = ["host_cpu", "known_cpus", "known_features", "check_cpu_and_features", "vector_bits",
           "converts_int64_vectors", "has_avx512_vnni", "VNNI_CPUS",
           "REFUSED_FLAGS"]

_MODE = "is not a CPU feature but the mode the code runs in, fixed by the x86_64 target"
#: Flags LLVM knows that x86_64 code cannot be generated with (LLVM aborts the process on
#: the ``-`` ones; the modes would give code for another mode), and why.
REFUSED_FLAGS = {
    **{f"{sign}{bits}bit-mode": _MODE for sign in "+-" for bits in (16, 32, 64)},
    "-64bit": "turns off the 64-bit instructions x86_64 code is made of",
    "-sse": "turns off SSE, where x86_64 code keeps its floating-point values",
}

_HELP_SCRIPT = ("import llvmlite.binding as llvm; llvm.initialize_native_target(); "
                "llvm.initialize_native_asmprinter(); "
                "llvm.Target.from_default_triple().create_target_machine(cpu='help')")


@lru_cache(maxsize=1)
def _initialise() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@lru_cache(maxsize=1)
def host_cpu() -> tuple[str, str]:
    """LLVM's name and feature string for the machine we run on."""
    _initialise()
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


@dataclass(frozen=True)
class _Catalogue:
    cpus: frozenset[str]
    features: frozenset[str]


def known_cpus() -> frozenset[str]:
    """The CPU names this LLVM accepts for ``-mcpu`` (for the host's architecture)."""
    return _catalogue().cpus


def known_features() -> frozenset[str]:
    """The feature names this LLVM accepts in ``-mattr`` (without their sign)."""
    return _catalogue().features


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    text = _help_text()
    cpus = _section(text, "Available CPUs")
    features = _section(text, "Available features")
    if not cpus or not features:
        raise MLCError(f"could not read the CPU and feature names of LLVM "
                       f"{'.'.join(map(str, llvm.llvm_version_info))} from its help text:\n{text[:2000]}")
    return _Catalogue(frozenset(cpus), frozenset(features))


def _help_text() -> str:
    """LLVM's ``-mcpu=help`` text, which it prints to stderr when a target machine is
    created for the CPU "help" (only the first time in a process: else a fresh one is asked)."""
    _initialise()
    with captured_stderr() as captured:
        llvm.Target.from_default_triple().create_target_machine(cpu="help")
    if "Available features" in captured.text:
        return captured.text
    import subprocess  # (only here: importing it costs every first build some 2 ms; keeps it fast)
    done = subprocess.run([sys.executable, "-c", _HELP_SCRIPT], capture_output=True, text=True, timeout=120)
    return done.stderr


def _section(text: str, title: str) -> list[str]:
    """The names listed under ``title`` (lines ``  name  - description``)."""
    start = text.find(title)
    if start < 0:
        return []
    names = []
    for line in text[start:].splitlines()[1:]:
        if not line.strip():
            if names:
                break
            continue
        match = re.match(r"^\s+(\S+)\s+- ", line)
        if match is None:
            break
        names.append(match.group(1))
    return names


def check_cpu_and_features(cpu: str, features: str) -> None:
    """Raise :class:`MLCError` unless LLVM knows ``cpu`` ("" for its default) and every
    ``+name``/``-name`` of the comma-separated ``features``, and none is one of
    :data:`REFUSED_FLAGS`."""
    if (cpu, features) == host_cpu():
        return
    _check(cpu, features)


@lru_cache(maxsize=64)
def _check(cpu: str, features: str) -> None:
    catalogue = _catalogue()
    if cpu and cpu not in catalogue.cpus:
        raise MLCError(f"unknown CPU {cpu!r} for -mcpu; {_suggest(cpu, catalogue.cpus)}"
                       f"LLVM knows {len(catalogue.cpus)} CPUs ({', '.join(sorted(catalogue.cpus)[:6])}, ...); "
                       f"leave -mcpu out to compile for this machine ({host_cpu()[0]})")
    for flag in filter(None, features.split(",")):  # as LLVM splits them: empty items skipped
        sign, name = flag[0], flag[1:]
        if sign not in "+-" and flag in catalogue.features:
            raise MLCError(f"feature {flag!r} in -mattr has no sign: write +{flag} to enable it "
                           f"or -{flag} to disable it (e.g. -mattr=+avx2,-avx512f)")
        if sign not in "+-":
            raise MLCError(f"-mattr={features!r} has {flag!r}, not a +feature or -feature; "
                           f"{_suggest(flag.strip().lstrip('+-'), catalogue.features)}"
                           "write the features as -mattr=+avx2,-avx512f (no spaces)")
        if name not in catalogue.features:
            raise MLCError(f"unknown CPU feature {name!r} in -mattr={features}; "
                           f"{_suggest(name, catalogue.features)}"
                           f"LLVM knows {len(catalogue.features)} features (avx2, avx512f, fma, ...)")
        if flag in REFUSED_FLAGS:
            raise MLCError(f"-mattr={features} cannot be compiled for: {flag!r} {REFUSED_FLAGS[flag]}; "
                           f"remove {flag} from -mattr")


def _suggest(name: str, names) -> str:
    """"did you mean ...? " for the known names closest to ``name`` (difflib's close matches;
    failing those, the longest known names it starts with: "cf000" for "cf")."""
    import difflib  # (only for an error message; keeps the first build fast)
    close = difflib.get_close_matches(name, sorted(names), n=4, cutoff=0.6)
    if not close:
        close = sorted((n for n in names if len(n) >= 2 and name.startswith(n)), key=len, reverse=True)[:2]
    return f"did you mean {' or '.join(map(repr, close))}? " if close else ""


_PROBE = """
define void @probe(ptr %p) {
  %v = load <16 x float>, ptr %p, align 4
  %w = fadd <16 x float> %v, %v
  store <16 x float> %w, ptr %p, align 4
  ret void
}

define void @probe_int64(ptr %p) {
  %v = load <4 x double>, ptr %p, align 8
  %k = fptosi <4 x double> %v to <4 x i64>
  store <4 x i64> %k, ptr %p, align 8
  ret void
}
"""


@lru_cache(maxsize=32)
def _probe_assembly(cpu: str, features: str) -> str:
    """LLVM's assembly of :data:`_PROBE` for ``cpu`` and ``features``: what it says about the
    vector registers and conversions that code gets."""
    check_cpu_and_features(cpu, features)
    _initialise()
    with llvm_output():
        machine = llvm.Target.from_default_triple().create_target_machine(cpu=cpu, features=features, opt=2)
        return machine.emit_assembly(llvm.parse_assembly(_PROBE))


@lru_cache(maxsize=32)
def vector_bits(cpu: str, features: str) -> int:
    """Width in bits of the vector registers LLVM generates code with for ``cpu`` and
    ``features`` (512 with AVX-512, 256 with AVX, else 128), asked of LLVM itself: it
    compiles a 16-float addition and the registers it used say."""
    asm = _probe_assembly(cpu, features)
    asm = asm[:asm.find("probe_int64:")]
    for register, bits in (("zmm", 512), ("ymm", 256)):
        if re.search(rf"%{register}\d", asm):
            return bits
    return 128


#: CPUs (LLVM names) whose own features include AVX-512 VNNI.
VNNI_CPUS = frozenset({"cascadelake", "cooperlake", "icelake-client", "icelake-server", "tigerlake",
                       "rocketlake", "sapphirerapids", "emeraldrapids", "graniterapids",
                       "graniterapids-d", "diamondrapids", "znver4", "znver5"})


def has_avx512_vnni(cpu: str, features: str) -> bool:
    """Whether code for ``cpu`` and ``features`` may use AVX-512 VNNI (``vpdpbusd`` on 512-bit
    vectors): the features say so (``+avx512vnni``/``-avx512vnni``; the host's list every
    feature) or, where they say nothing, the CPU has it; and its vectors are 512 bits wide
    (``-avx512f`` takes VNNI with it).

    >>> has_avx512_vnni("cascadelake", ""), has_avx512_vnni("znver4", "-avx512f"), has_avx512_vnni("haswell", "")
    (True, False, False)
    """
    flags = {f[1:]: f[0] == "+" for f in features.split(",") if f[:1] in "+-" and len(f) > 1}
    return flags.get("avx512vnni", cpu in VNNI_CPUS) and vector_bits(cpu, features) == 512


@lru_cache(maxsize=32)
def converts_int64_vectors(cpu: str, features: str) -> bool:
    """Whether LLVM converts a vector of doubles to int64 in vector registers for ``cpu``
    and ``features``, asked of LLVM itself: on x86 that takes AVX-512DQ (``vcvttpd2qq``);
    AVX2 has no such instruction, and LLVM converts lane by lane through scalar registers
    (``cvttsd2si``)."""
    asm = _probe_assembly(cpu, features)
    return not re.search(r"cvttsd2si", asm[asm.find("probe_int64:"):])
