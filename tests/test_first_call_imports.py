"""A first call imports only what compiling needs: no module loaded for an error message or
a rare fallback (``difflib``, ``subprocess``), and no ``numpy.ma`` (NumPy loads it on first
use, some 5 ms; no masked array can exist before it is loaded, so the masked-array checks
need not load it)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CODE = """
import sys, numpy as np, mlc
f = mlc.jit(lambda x, w: np.maximum(x @ w, 0).sum(axis=1))
x, w = np.ones((4, 8), "float32"), np.ones((8, 3), "float32")
assert (f(x, w) == 24).all()
assert (mlc.numpy.maximum(np.array([-1.0, 2.0], "float32"), 0) == [0, 2]).all()
print(sorted(m for m in ("numpy.ma", "subprocess", "difflib") if m in sys.modules))
"""


def test_a_first_call_loads_no_numpy_ma_subprocess_or_difflib(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MLC_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
