"""storage_align on GPU shared staging: the compacted shared tile keeps the requested
row alignment (padding against bank conflicts), and the kernel computes the same."""
import numpy as np
import pytest

from mlc.schedules.gpu.default import MATMUL_STAGES
from mlc.backends.cuda import emulate, lower
from mlc.driver import schedule_module
from mlc.schedules import Schedule

from examples.ch7_gpu_acceleration import matmul


@pytest.mark.parametrize("factor, offset, stride", [(32, 1, 33), (16, 4, 20), (8, 0, 8)])
def test_padded_shared_tile_is_compacted_with_its_alignment(factor, offset, stride):
    sch = Schedule(schedule_module(matmul(64), "cuda"))  # 32 x 8 tiles of A staged per k step
    sch.storage_align(sch.get_block("A_shared"), 0, 0, factor, offset)
    lowered = lower(sch.mod)["main"].script()
    # one padded tile per stage of the default's pipeline, each copy 128-byte aligned
    copy = -(-(31 * stride + 8) // 32) * 32
    assert f'A_shared = T.allocate([{copy * MATMUL_STAGES}], "float32", "shared")' in lowered
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((64, 64)).astype("float32"), rng.standard_normal((64, 64)).astype("float32")
    c = np.zeros((64, 64), "float32")
    emulate(sch.mod)["main"](a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)
