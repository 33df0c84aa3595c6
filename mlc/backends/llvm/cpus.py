"""What LLVM knows about CPUs: the host's name and features, the names it accepts
for ``-mcpu`` and ``-mattr``, and how wide the vector registers of a (cpu,
features) pair are.

LLVM aborts the process on a feature without its ``+``/``-`` sign, cannot
generate code once ``64bit-mode``, ``64bit`` or ``sse`` is switched off
(:data:`REFUSED_FLAGS`), and on an unknown CPU
prints a warning for every subtarget it creates and goes on with generic
code. So a CPU name and a feature string are checked here, against the names
this LLVM lists in its ``-mcpu=help`` text, before any target machine sees them.

>>> from mlc.backends.llvm.cpus import check_cpu_and_features
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

from ...dependencies import check_llvmlite

check_llvmlite()  # first: an old llvmlite is named, not crashed on

import llvmlite.binding as llvm  # noqa: E402

from ...errors import MLCError  # noqa: E402
from .output import captured_stderr, llvm_output  # noqa: E402

__all__ = ["host_cpu", "known_cpus", "known_features", "check_cpu_and_features", "vector_bits",
           "converts_int64_vectors", "has_avx512_vnni", "VNNI_CPUS",
           "REFUSED_FLAGS", "llvm_target"]

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
def _initialise_all() -> None:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()


def llvm_target(triple: str = "") -> llvm.Target:
    """LLVM's target for ``triple`` ("" is this machine's); an MLCError for a triple this
    LLVM cannot generate code for.

    >>> llvm_target("aarch64-linux-gnu").name
    'aarch64'
    """
    _initialise()
    if not triple:
        return llvm.Target.from_default_triple()
    _initialise_all()
    try:
        return llvm.Target.from_triple(triple)
    except RuntimeError as err:
        raise MLCError(f"unknown target triple {triple!r} for -mtriple ({err}); give one LLVM "
                       "knows, such as 'aarch64-linux-gnu' or 'x86_64-linux-gnu'") from None


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


def check_cpu_and_features(cpu: str, features: str, triple: str = "") -> None:
    """Raise :class:`MLCError` unless LLVM knows ``cpu`` ("" for its default) and every
    ``+name``/``-name`` of the comma-separated ``features``, and none is one of
    :data:`REFUSED_FLAGS`. ``triple``: another architecture than this machine's
    (``"aarch64-linux-gnu"``), whose names LLVM checks as it makes a target machine."""
    if triple:
        _check_foreign(cpu, features, triple)
        return
    if (cpu, features) == host_cpu():
        return
    _check(cpu, features)


@lru_cache(maxsize=16)
def _check_foreign(cpu: str, features: str, triple: str) -> None:
    """:func:`check_cpu_and_features` for another architecture: LLVM warns on stderr of a
    CPU or feature it does not know for ``triple``'s target, and the warning is the error."""
    target = llvm_target(triple)
    for flag in filter(None, features.split(",")):
        if flag[0] not in "+-":
            raise MLCError(f"-mattr={features!r} has {flag!r}, not a +feature or -feature; write "
                           "the features as -mattr=+neon,-sve (no spaces)")
    with captured_stderr() as captured:
        target.create_target_machine(cpu=cpu, features=features, opt=2)
    for line in captured.text.splitlines():
        if "not a recognized" in line:
            raise MLCError(f"{line.strip()} ({triple}); give -mcpu= and -mattr= names LLVM knows for "
                           f"{target.name}, such as -mcpu=cortex-a72 for aarch64")


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


@lru_cache(maxsize=64)
def _assembly(ir_text: str, cpu: str, features: str, triple: str = "") -> str:
    """LLVM's assembly of ``ir_text`` (a probe) for ``cpu`` and ``features`` (on ``triple``'s
    architecture; "": this machine's): what it says about the instructions that code gets
    (the vector registers, the conversions, ...)."""
    check_cpu_and_features(cpu, features, triple)
    _initialise()
    with llvm_output():
        machine = llvm_target(triple).create_target_machine(cpu=cpu, features=features, opt=2)
        return machine.emit_assembly(llvm.parse_assembly(ir_text))


@lru_cache(maxsize=32)
def vector_bits(cpu: str, features: str, triple: str = "") -> int:
    """Width in bits of the vector registers LLVM generates code with for ``cpu`` and
    ``features`` (512 with AVX-512, 256 with AVX, else 128), asked of LLVM itself: it
    compiles a 16-float addition and the registers it used say."""
    asm = _assembly(_PROBE, cpu, features, triple)
    asm = asm[:asm.find("probe_int64:")]
    for register, bits in (("zmm", 512), ("ymm", 256)):
        if re.search(rf"%{register}\d", asm):
            return bits
    return 128


#: CPUs (LLVM names) whose own features include AVX-512 VNNI.
VNNI_CPUS = frozenset({"cascadelake", "cooperlake", "icelake-client", "icelake-server", "tigerlake",
                       "rocketlake", "sapphirerapids", "emeraldrapids", "graniterapids",
                       "graniterapids-d", "diamondrapids", "znver4", "znver5"})


@lru_cache(maxsize=32)
def has_avx512_vnni(cpu: str, features: str, triple: str = "") -> bool:
    """Whether code for ``cpu`` and ``features`` may use AVX-512 VNNI (``vpdpbusd`` on 512-bit
    vectors): the features say so (``+avx512vnni``/``-avx512vnni``; the host's list every
    feature) or, where they say nothing, the CPU has it; and its vectors are 512 bits wide
    (``-avx512f`` takes VNNI with it).

    >>> has_avx512_vnni("cascadelake", ""), has_avx512_vnni("znver4", "-avx512f"), has_avx512_vnni("haswell", "")
    (True, False, False)
    """
    flags = {f[1:]: f[0] == "+" for f in features.split(",") if f[:1] in "+-" and len(f) > 1}
    return flags.get("avx512vnni", cpu in VNNI_CPUS) and vector_bits(cpu, features, triple) == 512


@lru_cache(maxsize=32)
def converts_int64_vectors(cpu: str, features: str, triple: str = "") -> bool:
    """Whether LLVM converts a vector of doubles to int64 in vector registers for ``cpu``
    and ``features``, asked of LLVM itself: on x86 that takes AVX-512DQ (``vcvttpd2qq``);
    AVX2 has no such instruction, and LLVM converts lane by lane through scalar registers
    (``cvttsd2si``)."""
    asm = _assembly(_PROBE, cpu, features, triple)
    return not re.search(r"cvttsd2si", asm[asm.find("probe_int64:"):])


#: x86 instructions whose presence in LLVM's code for a CPU shows that it has a feature:
#: feature -> (the IR of a function using it, a pattern of the instruction LLVM then emits).
_FEATURE_PROBES = {
    "sse4.1": ("define <4 x i32> @p(<4 x i32> %a, <4 x i32> %b) {\n  %c = mul <4 x i32> %a, %b\n  ret <4 x i32> %c\n}",
               r"pmulld"),
    "popcnt": ("declare i32 @llvm.ctpop.i32(i32)\ndefine i32 @p(i32 %a) {\n  %c = call i32 @llvm.ctpop.i32(i32 %a)\n"
               "  ret i32 %c\n}", r"\bpopcnt"),
    "avx": ("define <8 x float> @p(<8 x float> %a, <8 x float> %b) {\n  %c = fadd <8 x float> %a, %b\n"
            "  ret <8 x float> %c\n}", r"vaddps\s+%ymm"),
    "avx2": ("define <8 x i32> @p(<8 x i32> %a, <8 x i32> %b) {\n  %c = add <8 x i32> %a, %b\n  ret <8 x i32> %c\n}",
             r"vpaddd\s+%ymm"),
    "fma": ("declare <4 x float> @llvm.fma.v4f32(<4 x float>, <4 x float>, <4 x float>)\n"
            "define <4 x float> @p(<4 x float> %a, <4 x float> %b, <4 x float> %c) {\n"
            "  %d = call <4 x float> @llvm.fma.v4f32(<4 x float> %a, <4 x float> %b, <4 x float> %c)\n"
            "  ret <4 x float> %d\n}", r"vfmadd"),
    "bmi2": ("define i64 @p(i64 %a, i64 %b) {\n  %c = shl i64 %a, %b\n  ret i64 %c\n}", r"shlx"),
    "f16c": ("define <4 x float> @p(<4 x half> %a) {\n  %c = fpext <4 x half> %a to <4 x float>\n"
             "  ret <4 x float> %c\n}", r"vcvtph2ps"),
    "avx512f": ("define <16 x float> @p(<16 x float> %a, <16 x float> %b) {\n  %c = fadd <16 x float> %a, %b\n"
                "  ret <16 x float> %c\n}", r"%zmm"),
}


@lru_cache(maxsize=16)
def required_features(cpu: str, features: str, triple: str = "") -> frozenset[str]:
    """The CPU features (LLVM's names) code for ``cpu`` and ``features`` may use: those
    ``features`` turns on, and on x86 those the CPU itself has, asked of LLVM (code that
    needs them is compiled for the CPU, and the instructions LLVM picks say which it
    has: AVX2 if it adds 256-bit integer vectors in one instruction, ...). A machine
    that lacks one may crash running the code (an exported library's loader checks).

    >>> sorted(required_features("haswell", ""))
    ['avx', 'avx2', 'bmi2', 'f16c', 'fma', 'popcnt', 'sse4.1']
    """
    flags = {f[1:]: f[0] == "+" for f in features.split(",") if f[:1] in "+-" and len(f) > 1}
    found = {name for name, on in flags.items() if on}
    arch = (triple or llvm.get_process_triple()).split("-", 1)[0]
    if arch == "x86_64":
        found.update(name for name, (text, pattern) in _FEATURE_PROBES.items()
                     if flags.get(name, True) and re.search(pattern, _assembly(text, cpu, features, triple)))
    elif arch == "aarch64":
        found.add("neon")
    return frozenset(found)
