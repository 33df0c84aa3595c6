"""ptxas's report (through NVRTC, no GPU needed) on the default schedules of the benchmark
workloads, for sm_80 and sm_90: no register spills, and the shared memory the schedule means."""
import re

import numpy as np
import pytest

import mlc
from mlc.driver import schedule_module
import mlc.numpy as mnp
from mlc import te
from mlc.backends.cuda import compile_sources, lower, render
from mlc.backends.cuda.resources import kernel_resources
from mlc.errors import CompileError
from mlc.schedules.gpu.default import MATMUL_STAGES, matmul_tile
from mlc.schedules.gpu.simt import A_PAD, SIMT_TILE, simt_fits

from .conftest import ARCHS, TARGETS


def _shape(*shape):
    """A float32 array of ``shape`` that takes no memory: tracing needs shapes only."""
    return np.broadcast_to(np.float32(0), shape)


def gelu(x):
    return 0.5 * x * (1 + mnp.tanh(0.79788456 * (x + 0.044715 * x * x * x)))


def softmax(x):
    e = mnp.exp(x - mnp.max(x, axis=-1, keepdims=True))
    return e / mnp.sum(e, axis=-1, keepdims=True)


def layer_norm(x, gamma, beta):
    mean = mnp.mean(x, axis=-1, keepdims=True)
    var = mnp.mean((x - mean) ** 2, axis=-1, keepdims=True)
    return (x - mean) / mnp.sqrt(var + 1e-5) * gamma + beta


def _jit_source(fn, *args, arch):
    return mlc.jit(target=f"cuda -arch={arch}")(fn).lower(*args).compile().lib.get_source("cuda")


def _declared_shared(source: str) -> dict[str, int]:
    """Kernel -> bytes of the ``__shared__`` arrays the codegen declares in it."""
    out = {}
    for kernel in source.split('extern "C" __global__')[1:]:
        name = re.search(r"\)\s+(\w+)\(", kernel).group(1)
        sizes = {"float": 4, "double": 8, "int": 4, "half": 2, "long long": 8}
        out[name] = sum(sizes[t] * int(n) for t, n in re.findall(r"__shared__ (?:__align__\(\d+\) )?(float|double|int|half|long long) \w+\[(\d+)\]",
                                                                  kernel))
    return out


def _check(source, arch):
    report = kernel_resources(source, arch)
    declared = _declared_shared(source)
    assert set(report) == set(declared)
    for name, r in report.items():
        assert not r.spills, r
        assert r.shared_bytes == declared[name], (r, declared[name])
    return report


@pytest.mark.parametrize("arch", ARCHS)
def test_gelu_on_2_26_elements_spills_nothing_and_needs_no_shared_memory(arch):
    report = _check(_jit_source(gelu, _shape(1 << 26), arch=arch), arch)
    assert all(r.shared_bytes == 0 and r.barriers == 0 for r in report.values())


@pytest.mark.parametrize("arch", ARCHS)
def test_row_reductions_keep_the_row_and_one_slot_per_warp_in_shared_memory(arch):
    """softmax and layer_norm on 8192 x 4096: one kernel (gpu_rows), a block per row, the
    row (16 KiB) fetched into shared memory once; each reduction shuffles within warps and
    combines them through one shared slot per warp (256 threads: 8), its result one
    shared float."""
    for fn, args, reductions in ((softmax, (_shape(8192, 4096),), 2),
                                 (layer_norm, (_shape(8192, 4096), _shape(4096), _shape(4096)), 2)):
        report = _check(_jit_source(fn, *args, arch=arch), arch)
        (r,) = report.values()
        assert r.barriers
        assert 4096 * 4 <= r.shared_bytes <= 4096 * 4 + reductions * (8 * 4 + 4) + 16


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("n", [1024, 4096])  # 4096: the benchmark's sgemm, past what the
def test_the_default_sgemm_tiles_use_the_shared_memory_of_their_tiles_and_no_spills(arch, n):  # checks enumerate
    A = te.placeholder((n, n), "float32", "A")
    B = te.placeholder((n, n), "float32", "B")
    k = te.reduce_axis((0, n), "k")
    C = te.compute((n, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "C")
    mod = schedule_module(mlc.IRModule({"sgemm": te.create_prim_func([A, B, C])}), "cuda")
    code, _ = compile_sources(mod, TARGETS[arch])
    (r,) = _check(code, arch).values()
    if simt_fits(n, n, n):  # 4096: warp-tiled 128 x 128 blocks, the stages in dynamic shared memory
        (launch,) = render(lower(mod, TARGETS[arch])["sgemm"]).launches
        bm, bn, ks = SIMT_TILE  # A's tile transposed, its rows padded
        assert r.shared_bytes == 0
        assert launch.shared_bytes == (ks * (bm + A_PAD) + ks * bn) * 4 * MATMUL_STAGES
        return
    ti, tj, ri, rj, ks = matmul_tile(n, n)  # 1024: 64 x 64 blocks
    assert (ti * ri, ks) == (64, 8)
    # a tile of A and one of B per pipeline stage
    assert r.shared_bytes == (ti * ri * ks + ks * tj * rj) * 4 * MATMUL_STAGES


def test_a_kernel_that_does_not_compile_is_a_compile_error():
    with pytest.raises(CompileError, match="NVRTC could not compile"):
        kernel_resources('extern "C" __global__ void k() { undefined_name = 1; }', "sm_80")
