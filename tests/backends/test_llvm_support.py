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


def test_a_quick_build_skips_optimisation_and_runs_the_same():
    """The support module is built quickly (``_compile(..., quick=True)``: O0, fast
    instruction selection): its code keeps what O3 would fold, and computes the same; the
    quick build is cached under a key of its own."""
    import ctypes
    import tempfile
    from mlc.backends.llvm import jit, object_cache
    from mlc.config import override
    from mlc.target import Target
    target = Target.from_str("llvm")
    triple, layout = jit.target_layout(target)
    text = (f'target triple = "{triple}"\ntarget datalayout = "{layout}"\n'
            'define i32 @"sum_to"(i32 %n) {\nentry:\n  %acc = alloca i32\n  store i32 0, ptr %acc\n'
            '  br label %loop\nloop:\n  %i = phi i32 [0, %entry], [%i.next, %loop]\n'
            '  %a = load i32, ptr %acc\n  %b = add i32 %a, %i\n  store i32 %b, ptr %acc\n'
            '  %i.next = add i32 %i, 1\n  %c = icmp slt i32 %i.next, %n\n  br i1 %c, label %loop, label %done\n'
            'done:\n  %r = load i32, ptr %acc\n  ret i32 %r\n}\n')
    with tempfile.TemporaryDirectory() as cache, override(cache_dir=cache):
        with jit._LOCK:
            built = {quick: jit._compile((text,), target, frozenset({"sum_to"}), quick=quick)
                     for quick in (False, True)}
        assert "alloca" in built[True].optimized_ir and "alloca" not in built[False].optimized_ir
        for compiled in built.values():
            sum_to = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int32)(compiled.address("sum_to"))
            assert sum_to(10) == 45 and sum_to(1) == 0
        assert len([n for n in os.listdir(object_cache.directory()) if not n.startswith(".")]) == 2
