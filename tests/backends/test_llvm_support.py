"""The support functions kernels share (mlc/backends/llvm/support.py).

A parallel kernel's module declares them and defines none; the support module defines
every one, externally; the first object that needs them builds and loads the support
module, and later objects link against the same copy; kernels built before and after
it run right.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from mlc.backends.llvm import parallel, placement, support
from mlc.backends.llvm.module import generate_ir
from mlc.passes.tir import lower
from tests.targets import AVX2

from .test_llvm_parallel import elementwise_2d, parallel_outer_loops

pytestmark = pytest.mark.skipif(not parallel.openmp_available(), reason="libgomp is not available")


def test_a_parallel_kernel_declares_the_support_functions_and_defines_none():
    text = generate_ir({"f": lower(parallel_outer_loops(elementwise_2d(64, 64), ["B"]))}, AVX2)
    names = support.support_functions()
    assert {"__mlc_parallel_threads", "__mlc_parallel_review"} <= set(names)
    assert placement.available() == ("__mlc_parallel_place_worker" in names)
    for name in names:
        assert f'declare void @"{name}"' in text or f'declare i32 @"{name}"' in text
        assert f'@"{name}"(' not in "".join(line for line in text.splitlines() if line.startswith("define"))


def test_the_support_module_defines_every_support_function_externally():
    text = support.support_ir("x86_64-unknown-linux-gnu", "")
    defined = [line for line in text.splitlines() if line.startswith("define")]
    assert len(defined) == len(support.support_functions())
    for name in support.support_functions():
        assert any(f'@"{name}"(' in line and "internal" not in line for line in defined)


_ONE_BUILD = textwrap.dedent("""
    import os, sys, tempfile
    os.environ["MLC_CACHE_DIR"] = tempfile.mkdtemp()
    import numpy as np
    import mlc
    from mlc.backends.llvm import jit, support
    from mlc.backends.llvm.symbols import PARALLEL_STATE
    built = []
    original = support.support_ir
    support.support_ir = lambda *a: built.append(1) or original(*a)
    a = np.arange(1 << 16, dtype="float32").reshape(256, 256)
    serial = mlc.jit(lambda x: x + 1)(np.ones(3, "float32"))  # no parallel loop: no support module
    assert not built and not jit._SUPPORT, built
    before = PARALLEL_STATE.pooled
    for fn in (lambda x: np.maximum(x @ x, 0), lambda x: x * 3 - 1, lambda x: x @ x + x):
        np.testing.assert_allclose(mlc.jit(fn)(a), fn(a), rtol=1e-5)
    assert len(built) == 1, built  # built by the first parallel kernel, shared by the others
    assert PARALLEL_STATE.pooled > before  # (their launches ran on the team)
    print("ok")
""")


def test_the_support_module_is_built_once_and_shared_by_later_kernels():
    out = subprocess.run([sys.executable, "-c", _ONE_BUILD], capture_output=True, text=True,
                         env={**os.environ, "MLC_NUM_THREADS": "2"})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]
