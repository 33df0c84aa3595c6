"""The targets that tests describing generated code pin, whatever machine runs them.

Golden IR, tile sizes and assembly depend on the CPU's vector width, so such
tests name a CPU with exactly its own features (``Target("llvm", cpu)``) and a
number of threads, and compile without running (``compile_sources``). Each
runs for an AVX2 CPU and an AVX-512 one, on every host. Tests that run code
build for the host (``"llvm"``).
"""
import pytest

from mlc.target import Target
from mlc.config import override

#: An AVX2 CPU (256-bit vectors) and an AVX-512 one (512-bit vectors).
AVX2 = Target("llvm", "haswell")
AVX512 = Target("llvm", "skylake-avx512")
PINNED = {"avx2": AVX2, "avx512": AVX512}

#: Threads the pinned schedules are made for.
THREADS = 2

#: ``@each_pinned_target``: the test takes ``isa`` ("avx2" or "avx512") and ``target``.
each_pinned_target = pytest.mark.parametrize("isa, target", list(PINNED.items()), ids=list(PINNED))


def pinned_threads():
    """``with pinned_threads():`` schedules are made for :data:`THREADS` threads."""
    return override(num_threads=THREADS)

#: An AVX-512 CPU with VNNI (int8 dot products, ``vpdpbusd``), for the int8 tensor intrinsics.
VNNI = Target("llvm", "cascadelake")


def _runnable() -> dict[str, object]:
    """"host": this machine ("llvm"); on a machine with 512-bit vectors also "avx2", the
    AVX2 CPU: its 256-bit code runs here, so one CI host tests both vector widths' code."""
    from mlc.backends.llvm.cpus import host_cpu
    out = {"host": "llvm"}
    host = Target.from_str("llvm")
    _, features = host_cpu()
    if host.vector_bits == 512 and {"+avx2", "+fma"} <= set(features.split(",")):
        out["avx2"] = AVX2
    return out


#: Targets whose code this machine runs (:func:`_runnable`), by name.
RUNNABLE = _runnable()

#: ``@each_runnable_target``: the test takes ``target``, the host's and, on an AVX-512
#: machine, the AVX2 CPU's: code that runs for both vector widths wherever CI runs.
each_runnable_target = pytest.mark.parametrize("target", list(RUNNABLE.values()), ids=list(RUNNABLE))
