"""``python -m benchmarks --isa avx2``: the table an AVX2 machine would print, measured here.

On a machine with AVX-512, every contender is held to AVX2 code (256-bit vectors) on
the same cores, each by its own switch, set before NumPy and the peers load:

=========  ===========================================================================
mlc        ``MLC_TARGET="llvm -mcpu=<this CPU> -mattr=-avx512f"`` (this CPU's tuning
           and caches, no AVX-512: 8 float lanes, 16 vector registers)
NumPy      ``NPY_DISABLE_CPU_FEATURES`` naming its AVX-512 dispatch targets: its AVX2
           loops run, and libm where it has no SIMD loop (as on an AVX2 machine)
OpenBLAS   ``OPENBLAS_CORETYPE=Haswell``: its AVX2 kernels
JAX        ``XLA_FLAGS=--xla_cpu_max_isa=AVX2``
Numba      ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``: this CPU without AVX-512
TVM        ``-mattr=-avx512f`` on its target (:func:`llvm_attrs`)
=========  ===========================================================================

The percentages of peak are then of the FMA peak of 8-lane vectors, and a contender faster
than that peak cannot be running 8-lane code: its rows are marked as not held to AVX2
(JAX's matrix products: XLA's dot picks AVX-512 kernels at run time whatever
``--xla_cpu_max_isa`` says, 366 GFLOP/s against a measured 8-lane peak of 262 on a
Zen 5), and they are no AVX2 machine's figure. What this cannot
show is a different core: the cores stay this machine's (on Zen 4, whose AVX-512
runs on 256-bit units, the same FMA peak; on Intel's AVX-512 cores, half of it). It
answers whether mlc's 8-lane code, and its lead or lag, hold where the peers lose
their AVX-512 code too; a real AVX2 machine remains the final word.
"""
from __future__ import annotations

import os

__all__ = ["ISAS", "emulate", "emulated", "llvm_attrs", "host_runs_avx2"]

#: The instruction sets ``--isa`` accepts ("native": whatever this machine has).
ISAS = ("native", "avx2")

#: Set while a run emulates an instruction set (read back by :func:`emulated`).
_VARIABLE = "MLC_BENCH_ISA"



def _numpy_avx512_targets() -> str:
    """NumPy's dispatch targets above AVX2 ("X86_V4 AVX512_ICL AVX512_SPR" for NumPy 2.4),
    asked of a fresh interpreter: this one must not load NumPy before the variable is set,
    and NumPy refuses names it does not dispatch to."""
    import subprocess
    import sys
    code = ("import numpy as np\n"
            "try:\n    from numpy._core._multiarray_umath import __cpu_dispatch__ as d\n"
            "except ImportError:\n    from numpy.core._multiarray_umath import __cpu_dispatch__ as d\n"
            "print(' '.join(t for t in d if '512' in t or t == 'X86_V4'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def emulated() -> str:
    """The instruction set this run emulates: "native" or "avx2"."""
    return os.environ.get(_VARIABLE, "native")


def llvm_attrs() -> list[str]:
    """LLVM ``-mattr`` flags every LLVM-based contender adds under the emulation."""
    return ["-avx512f"] if emulated() == "avx2" else []


def _host() -> tuple[str, str, set[str]]:
    """This machine's LLVM CPU name, feature string and enabled features (llvmlite only:
    NumPy must not load before :func:`emulate`)."""
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    features = llvm.get_host_cpu_features().flatten()
    return llvm.get_host_cpu_name(), features, {f[1:] for f in features.split(",") if f.startswith("+")}


def host_runs_avx2() -> bool:
    """Whether this machine runs AVX2 code: it has AVX2 and FMA."""
    return {"avx2", "fma"} <= _host()[2]


def emulate(isa: str) -> str | None:
    """Set the environment for ``isa`` before NumPy and the peers load; returns why it
    cannot be emulated here (None when it is, or for "native")."""
    if isa == "native":
        return None
    if isa not in ISAS:
        return f"unknown instruction set {isa!r}; choose from {', '.join(ISAS)}"
    cpu, features, enabled = _host()
    if not {"avx2", "fma"} <= enabled:
        return f"this CPU ({cpu}) has no AVX2 and FMA to run AVX2 code"
    if "avx512f" not in enabled:
        return f"this CPU ({cpu}) is an AVX2 machine already: run without --isa"
    os.environ[_VARIABLE] = isa
    os.environ["MLC_TARGET"] = f"llvm -mcpu={cpu} -mattr=-avx512f"
    os.environ["NPY_DISABLE_CPU_FEATURES"] = _numpy_avx512_targets()
    os.environ["OPENBLAS_CORETYPE"] = "Haswell"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_max_isa=AVX2").strip()
    os.environ["NUMBA_CPU_NAME"] = cpu
    os.environ["NUMBA_CPU_FEATURES"] = ",".join(
        "-" + f[1:] if f.startswith("+avx512") else f for f in features.split(",") if f)
    return None
