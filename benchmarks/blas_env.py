"""NumPy's best BLAS kernels for the baseline: variables that hold OpenBLAS back are lifted.

``OPENBLAS_CORETYPE`` names the kernels OpenBLAS runs whatever the CPU (``Haswell``:
its AVX2 ones), and ``OPENBLAS_L2_SIZE`` the cache size its blocking assumes. Some
machines set them for every process, since old OpenBLAS builds chose wrong kernels
on new CPUs; on a current build they hold NumPy's matrix products back (on an AVX-512
Zen 5, the Haswell kernels ran a 128^3 matmul 1.5x slower than OpenBLAS's own choice,
SkylakeX). A native run's baseline is NumPy's best spelling on its best kernels, so
:func:`free_blas` asks a fresh interpreter without the variables which kernels
OpenBLAS then picks and whether they multiply exactly (integer-valued matrices, whose
float32 and float64 products are exact, against NumPy's integer product, which does
not call the BLAS); only if they do are the variables unset for this run, before
NumPy loads. ``--keep-blas-env`` keeps them; ``--isa avx2`` sets its own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

__all__ = ["BLAS_VARIABLES", "free_blas"]

#: The variables that hold OpenBLAS to kernels or cache sizes not of its own choosing.
BLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# Run in a fresh interpreter without BLAS_VARIABLES: OpenBLAS's kernels, and whether
# their products of integer-valued matrices (exact in float32 and float64) are right,
# on shapes that take its blocked kernels, edges and both threads.
_PROBE = """
import json, numpy as np
rng = np.random.default_rng(0)
ok = True
for m, k, n in ((1, 64, 64), (7, 33, 65), (129, 257, 191), (512, 512, 512)):
    a = rng.integers(-4, 5, (m, k)); b = rng.integers(-4, 5, (k, n))
    exact = a @ b
    for dtype in ("float32", "float64"):
        ok = ok and bool((a.astype(dtype) @ b.astype(dtype) == exact).all())
try:
    from threadpoolctl import threadpool_info
    kernels = sorted({i.get("architecture", "?") for i in threadpool_info() if i.get("user_api") == "blas"})
except ImportError:
    kernels = []
print(json.dumps({"ok": ok, "kernels": kernels}))
"""


def _probe(env: dict[str, str]) -> dict | None:
    """What OpenBLAS does in a fresh interpreter with ``env``: {"ok", "kernels"}, or None
    where the interpreter failed (a crash in the BLAS)."""
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                              timeout=120)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def free_blas(keep: bool = False, hint: str = "; --keep-blas-env keeps them") -> str | None:
    """Unset :data:`BLAS_VARIABLES` for this run where OpenBLAS's own choice of kernels
    works without them (call it before NumPy loads); returns a line for the run's header
    saying what was set and what was done (ending in ``hint``: how the caller keeps them),
    or None where none of them is set. With
    ``OPENBLAS_CORETYPE=Haswell`` set on an AVX-512 machine::

        BLAS: OPENBLAS_CORETYPE=Haswell unset for this run (set in the environment): NumPy's
        baseline runs the kernels OpenBLAS picks here (SkylakeX; exact on integer-valued
        matrices in a fresh interpreter); --keep-blas-env keeps them
    """
    held = {v: os.environ[v] for v in BLAS_VARIABLES if v in os.environ}
    if not held:
        return None
    named = ", ".join(f"{v}={value}" for v, value in held.items())
    if keep:
        return f"BLAS: {named} kept from the environment (--keep-blas-env): NumPy may not run its best kernels"
    env = {k: v for k, v in os.environ.items() if k not in held}
    result = _probe(env)
    if result is None or not result["ok"]:
        why = "crashed" if result is None else "multiplied wrongly"
        return (f"BLAS: {named} kept from the environment: without it, OpenBLAS's own kernels {why} "
                "in a fresh interpreter")
    for v in held:
        del os.environ[v]
    picked = ", ".join(result["kernels"]) or "unknown (no threadpoolctl)"
    return (f"BLAS: {named} unset for this run (set in the environment): NumPy's baseline runs the kernels "
            f"OpenBLAS picks here ({picked}; exact on integer-valued matrices in a fresh interpreter){hint}")
