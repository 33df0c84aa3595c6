"""The ``llvm`` target kind: this machine's CPU, or one LLVM knows, and its features.

``-mcpu=`` names the CPU and ``-mattr=`` its features; without ``-mattr=`` a
named CPU keeps this machine's features, ``-mattr=default`` gives it its own
(as ``Target("llvm", cpu)``), and no option at all is this machine. ``-mtriple=`` names
another machine to build for (``llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72``): its CPU
is LLVM's generic one unless ``-mcpu=`` names one, with that CPU's own features unless
``-mattr=`` adds some; such code is exported (``lib.export``), not run here. CPU and
feature names are checked against LLVM's own lists
(:mod:`mlc.backends.llvm.cpus`) before any target machine sees them.

``--num-cores=N`` (TVM's option, which its tuner reads) is accepted and checked
(a positive integer), and changes nothing in the code: mlc's kernels split
their parallel loops over the threads of ``mlc.set_num_threads`` (at most
``MLC_NUM_THREADS``), chosen when they run, not when they are compiled; call
``mlc.set_num_threads(1)`` for one core.

>>> from mlc.target import Target
>>> Target.from_str("llvm --num-cores=1") == Target.from_str("llvm")
True
"""
from __future__ import annotations

from ...errors import MLCError
from ...target import DEFAULT_CACHES, Target, TargetKind, host_caches, host_l1_ways
from .cpus import check_cpu_and_features, has_avx512_vnni, host_cpu, vector_bits

__all__ = ["LLVM_KIND"]


#: ``-mattr=`` value for the named CPU's own features (what ``Target("llvm", cpu)`` has).
OWN_FEATURES = "default"


def _parse(options: dict[str, str]) -> dict[str, str]:
    cores = options.get("num-cores")
    if cores is not None and not (cores.isdigit() and int(cores) >= 1):
        raise MLCError(f"target option -num-cores={cores}: expected a positive integer (as in TVM's "
                       "'llvm --num-cores=1')")
    triple = options.get("mtriple", "")
    if triple:
        features = options.get("mattr", OWN_FEATURES)
        return {"cpu": options.get("mcpu", "generic"), "features": "" if features == OWN_FEATURES else features,
                "triple": triple}
    cpu, features = host_cpu()
    features = options.get("mattr", features)
    return {"cpu": options.get("mcpu", cpu), "features": "" if features == OWN_FEATURES else features}


def _validate(target: Target) -> None:
    check_cpu_and_features(target.cpu, target.features, target.triple)


def _describe(target: Target) -> str:
    """The target string that parses back to ``target``: this machine's features go without
    ``-mattr=``, a CPU's own features as ``-mattr=default``."""
    if target.triple:
        return f"llvm -mtriple={target.triple} -mcpu={target.cpu} -mattr={target.features or OWN_FEATURES}"
    if target.features == host_cpu()[1]:
        return f"llvm -mcpu={target.cpu}"
    return f"llvm -mcpu={target.cpu} -mattr={target.features or OWN_FEATURES}"


def _vector_bits(target: Target) -> int:
    return vector_bits(target.cpu, target.features, target.triple)


def _vector_registers(target: Target) -> int:
    """32 with AVX-512 (zmm0-31, and ymm/xmm16-31), else 16."""
    return 32 if _vector_bits(target) == 512 else 16


def _caches(target: Target) -> tuple[int, int, int]:
    """This machine's caches (read once) when the target is this machine, or this machine's
    CPU with features turned off and none added (``-mcpu=<this CPU> -mattr=-avx512f``: the
    same cores running narrower code, as ``python -m benchmarks --isa avx2`` builds);
    else :data:`~mlc.target.DEFAULT_CACHES` for its vector width, so that code for a
    named CPU does not depend on where it is compiled."""
    if _on_host_cores(target):
        found = host_caches()
        if found is not None:
            return found
    return DEFAULT_CACHES.get(_vector_bits(target), DEFAULT_CACHES[128])


def _on_host_cores(target: Target) -> bool:
    """Whether ``target`` is this machine's CPU, with its features or some turned off."""
    cpu, features = host_cpu()
    return not target.triple and target.cpu == cpu and (target.features == features or
                                                        _only_removes(target.features))


def _l1_ways(target: Target) -> int:
    """The L1 data cache's associativity where the target runs on this machine's cores (as
    :func:`_caches`); for a named CPU, its own (:data:`NAMED_L1_WAYS`), else 0: unknown (the
    rules then assume no conflicts). A named CPU's code does not depend on where it is compiled."""
    if _on_host_cores(target):
        return host_l1_ways()
    return NAMED_L1_WAYS.get(target.cpu, 0)


#: The L1 data cache's associativity of the named CPUs whose L1 is the 32 KiB of
#: :data:`~mlc.target.DEFAULT_CACHES` (8 ways, 4 KiB a way; the cores of these names all have
#: it): the code built for one of them (``-mcpu=haswell``, portable AVX2 code) lays out a
#: matmul's A as on such a core (unknown, it read A as stored on an 8-way host whose own code
#: packs it: benchmarks/results/decisions.md, "AVX2 sgemm on Zen 3"). CPUs with another L1
#: (Ice Lake and later: 48 KiB, 12 ways; Zen 5) are not named: unknown.
NAMED_L1_WAYS = dict.fromkeys(("haswell", "broadwell", "skylake", "skylake-avx512", "cascadelake", "cooperlake",
                               "znver1", "znver2", "znver3", "znver4"), 8)


def _only_removes(features: str) -> bool:
    """Whether ``features`` turns features off and none on.

    >>> _only_removes("-avx512f,-avx512bw"), _only_removes("-avx512f,+avx2"), _only_removes("")
    (True, False, False)
    """
    items = [f for f in features.split(",") if f]
    return bool(items) and all(f.startswith("-") for f in items)


LLVM_KIND = TargetKind(
    "llvm", options=("mcpu", "mattr", "mtriple", "num-cores"), parse=_parse, validate=_validate, describe=_describe,
    properties={"vector_bits": _vector_bits, "vector_registers": _vector_registers, "caches": _caches, "l1_ways": _l1_ways,
                "avx512_vnni": lambda target: has_avx512_vnni(target.cpu, target.features, target.triple),
                "avx512f": lambda target: _vector_bits(target) == 512},
    keys=("cpu",))
