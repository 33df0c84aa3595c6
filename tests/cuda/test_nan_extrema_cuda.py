"""NaN in the CUDA C of minimum and maximum.

The emulator computes ``min``/``max`` with NumPy, so it cannot see what the CUDA C does
with a NaN. Here the codegen's helpers (``mlc_min``/``mlc_max`` of its prelude) are
compiled by the host's C++ compiler and called on every pair of special values against
``np.minimum``/``np.maximum``; the kernels of NumPy's extrema are checked to call them (and
not C's ``fmaxf``, which drops the NaN); where a GPU is present the kernels run on it.
"""
import ctypes
import re
import shutil
import subprocess

import numpy as np
import pytest

import mlc
from mlc.backends.cuda.codegen import PRELUDE

from ..backends.test_nan_extrema import NAMES, _with_nans, extrema
from .conftest import NVRTC_MISSING, needs_gpu

COMPILER = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")

#: The CUDA names the prelude uses, as what they mean on the host.
HOST = r"""
#include <math.h>
#include <stdint.h>
#include <string.h>
#define __device__
#define __forceinline__ inline
"""
CTYPES = {"float32": "float", "float64": "double", "int32": "int32_t", "int8": "int8_t", "uint8": "uint8_t",
          "int64": "int64_t"}


def _source() -> str:
    lines = [HOST, PRELUDE]
    for dtype, c in CTYPES.items():
        for op in ("min", "max"):
            lines.append(f'extern "C" void {op}_{dtype}(const {c}* a, const {c}* b, {c}* out, long n) '
                         f'{{ for (long i = 0; i < n; ++i) out[i] = mlc_{op}(a[i], b[i]); }}')
    return "\n".join(lines)


@pytest.fixture(scope="module")
def helpers(tmp_path_factory):
    if COMPILER is None:
        pytest.skip("no host C++ compiler (c++, g++ or clang++)")
    folder = tmp_path_factory.mktemp("prelude")
    (folder / "prelude.cpp").write_text(_source())
    subprocess.run([COMPILER, "-O2", "-std=c++17", "-fPIC", "-shared", "prelude.cpp", "-o", "prelude.so"],
                   cwd=folder, check=True, capture_output=True)
    return ctypes.CDLL(str(folder / "prelude.so"))


def _pairs(dtype):
    if dtype.startswith("float"):
        values = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, 1.0, -1.5, 3.25, np.finfo(dtype).max], dtype)
    else:
        info = np.iinfo(dtype)
        values = np.array([info.min, info.min + 1, -1 if info.min else 0, 0, 1, 7, info.max - 1, info.max], dtype)
    return np.repeat(values, len(values)), np.tile(values, len(values))


@pytest.mark.parametrize("dtype", sorted(CTYPES))
@pytest.mark.parametrize("op", ["min", "max"])
def test_prelude_min_and_max_are_numpys_on_special_values(helpers, op, dtype):
    a, b = _pairs(dtype)
    out = np.empty_like(a)
    getattr(helpers, f"{op}_{dtype}")(a.ctypes.data_as(ctypes.c_void_p), b.ctypes.data_as(ctypes.c_void_p),
                                      out.ctypes.data_as(ctypes.c_void_p), ctypes.c_long(a.size))
    want = (np.minimum if op == "min" else np.maximum)(a, b)
    np.testing.assert_array_equal(out, want, err_msg=f"mlc_{op} of {dtype} on {list(zip(a, b))}")


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_the_kernels_of_float_extrema_call_the_nan_propagating_helpers(dtype):
    """maximum/minimum, clip and the row reductions (cross-thread: 130 columns) all go through
    mlc_max/mlc_min, whose NaN handling the test above checks (float16 widened to float, whose
    overload tests for NaN); fmax/fmin test for NaN themselves."""
    x = np.zeros((3, 130), dtype)
    f = mlc.jit(target="cuda")(lambda a, b: (np.maximum(a, b), np.max(a, axis=-1), np.min(b, axis=-1),
                                             np.clip(a, -0.5, 0.5), np.fmax(a, b)))
    source = f.lower(x, x).compile().lib.get_source("cuda")
    assert "mlc_max(" in source and "mlc_min(" in source
    if dtype == "float16":  # no half overload: the template's a > b ? a : b would drop NaN
        kernels = source[source.index("__global__"):]
        unwidened = re.findall(r"mlc_m(?:in|ax)\((?!\(\(float\)|__int_as_float\().{40}", kernels)
        assert not unwidened, f"float16 extrema not computed in float: {unwidened}"
    for libm in ("fmaxf(", "fminf(", " fmax(", " fmin("):
        assert libm not in source, f"{libm} ignores NaN, NumPy's maximum does not"


@needs_gpu
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("cols", [1, 7, 130])
def test_nan_wins_on_the_gpu(dtype, cols):
    f = mlc.jit(extrema, target="cuda")
    for where_x, where_y in (("none", "none"), ("first", "last"), ("middle", "none"), ("all", "middle")):
        x, y = _with_nans((3, cols), dtype, where_x, 0), _with_nans((3, cols), dtype, where_y, 1)
        with np.errstate(invalid="ignore"):
            want = extrema(x, y)
        for name, g, w in zip(NAMES, f(x, y), want, strict=True):
            g = np.asarray(g.get() if hasattr(g, "get") else g)
            assert g.dtype == w.dtype, name
            np.testing.assert_array_equal(g, w, err_msg=f"{name} on the GPU")
