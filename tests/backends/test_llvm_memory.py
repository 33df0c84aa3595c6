"""Building does not leak native memory: an uncached compile frees what LLVM allocated."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: Builds one tiny program ``count`` times with the disk cache off, dropping each module,
#: and prints the growth of the resident set in bytes per build.
_GROWTH_PER_BUILD = """
import gc, os, sys
from mlc import IRModule, build, te
from mlc.config import override

def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

A = te.placeholder((4,), "float32", "A")
mod = IRModule({"double": te.create_prim_func([A, te.compute((4,), lambda i: A[i] * 2, "B")])})
count = int(sys.argv[1])
with override(cache_dir=""):
    for _ in range(30):  # warm up: LLVM's and mlc's one-time allocations
        build(mod, "llvm")
    gc.collect()
    before = resident()
    for _ in range(count):
        build(mod, "llvm")
    gc.collect()
    print((resident() - before) / count)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident set from Linux /proc")
def test_uncached_builds_do_not_grow_the_resident_set():
    """Each O3 pipeline used to stay allocated with the state its passes grew (~65 KB a
    build); what is left is under 4 KB a build (LLVM's per-run instrumentation callbacks)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _GROWTH_PER_BUILD, "200"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    per_build = float(out.stdout.split()[-1])
    assert per_build < 16 * 1024, f"each uncached build kept {per_build / 1024:.1f} KiB of memory"
