"""runner="ray": candidates measured as Ray tasks on a local two-worker Ray, failures recorded.

The time-outs leave room for a fresh Ray worker importing mlc on a busy machine; the
injected hang costs one whole time-out."""
import pytest

import mlc
from mlc.tune import Timing

from .workloads import check_fault_records, matmul

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'mlc[distributed]')")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_tuning_on_ray_records_good_and_failed_candidates(local_ray, tmp_path):
    mod = matmul(16, 16, 16, name="mm")
    db = mlc.tune(mod, "llvm", trials=10, work_dir=str(tmp_path), runner="ray", batch_size=10, cost_model=False,
                  progress=False, build_timeout_s=20, run_timeout_s=4, kernel_hook="tests.tune.workloads:faulty",
                  timing=Timing(repeat=2, min_repeat_s=0.0005, gap_s=0.0))
    records = db.records()
    assert len(records) == 10
    check_fault_records(records)
    assert ray.is_initialized()          # the runner leaves a Ray it did not start running
