"""``python -m benchmarks tune`` runs end to end at tiny sizes and prints its tables (no timing asserted)."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tune_rows_run_at_tiny_sizes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "tune", "--tiny", "--trials", "3", "--rounds", "1",
                           "--work-dir", str(tmp_path), "bmm"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "batch matmul 2x32x32x32 float32, 3 trials" in out
    assert "default schedule" in out and "mlc.tune, 3 trials" in out and "np.matmul(out=)" in out
    assert "excl. kernels" in out and (tmp_path / "bmm" / "database.sqlite").exists()
    # MetaSchedule's contender and tuning row are there: timed where it runs, else saying why not
    assert "tvm MetaSchedule, 3 trials" in out and "batch matmul 2x32x32x32 float32 [MetaSchedule]" in out
    ms_row = next(line for line in out.splitlines() if "[MetaSchedule]" in line)
    assert re.search(r"not installed|cannot run here|crashed|failed: |\d+\.\ds\s+\d+", ms_row), ms_row
