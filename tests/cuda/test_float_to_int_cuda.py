"""Float to int conversions in the CUDA C give NumPy's bits where the value does not fit.

The GPU's own conversions saturate (``-1.0`` as uint8 is 0 there, 255 in NumPy; NaN as
int32 is 0 there, the lowest int32 in NumPy), and the emulator converts with NumPy, so it
cannot see the difference. Here the codegen's conversions (its prelude's ``mlc_trunc32``,
``mlc_trunc64``, ``mlc_f2u32``, ``mlc_f2u64`` and the expression ``_float_to_int`` writes)
are compiled by the host's C++ compiler and run on special values against NumPy's
``astype``; the kernels of ``astype`` are checked to use them; where a GPU is present they
run on it.
"""
import ctypes
import platform
import shutil
import subprocess
import warnings

import numpy as np
import pytest

import mlc
from mlc.backends.cuda.c_types import C_TYPES, float_to_int
from mlc.backends.cuda.codegen import PRELUDE

from .conftest import NVRTC_MISSING, needs_gpu

COMPILER = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
HOST = "#include <math.h>\n#include <stdint.h>\n#include <string.h>\n#define __device__\n#define __forceinline__ inline\n"
INTS = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
FLOATS = ["float32", "float64"]


def _special(dtype):
    values = [np.nan, np.inf, -np.inf, -0.0, 0.0, 0.5, -0.5, -1.0, -5.75, 127.5, 255.9, 256.0, 300.0, -129.0,
              65535.0, 65536.0, -32769.0, 2.0 ** 31 - 128, 2.0 ** 31, -(2.0 ** 31), -(2.0 ** 31) - 4096, 2.0 ** 32,
              2.0 ** 32 + 8192, 2.0 ** 63, -(2.0 ** 63), 2.0 ** 64, 1e20, -1e20, 3.0e38]
    return np.array(values, dtype)


def _numpy(values, dst):
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")
        return values.astype(dst)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    if COMPILER is None:
        pytest.skip("no host C++ compiler (c++, g++ or clang++)")
    lines = [HOST, PRELUDE]
    for src in FLOATS:
        for dst in INTS:
            lines.append(f'extern "C" void cvt_{src}_{dst}(const {C_TYPES[src]}* a, {C_TYPES[dst]}* out, long n) '
                         f'{{ for (long i = 0; i < n; ++i) out[i] = ({C_TYPES[dst]}){float_to_int("a[i]", src, dst)}; }}')
    folder = tmp_path_factory.mktemp("float_to_int")
    (folder / "cvt.cpp").write_text("\n".join(lines))
    subprocess.run([COMPILER, "-O2", "-std=c++17", "-fPIC", "-shared", "cvt.cpp", "-o", "cvt.so"],
                   cwd=folder, check=True, capture_output=True)
    return ctypes.CDLL(str(folder / "cvt.so"))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="NumPy's out-of-range conversions are x86's (other CPUs saturate)")
@pytest.mark.parametrize("dst", INTS)
@pytest.mark.parametrize("src", FLOATS)
def test_the_conversions_give_numpys_bits_on_special_values(host, src, dst):
    values = _special(src)
    out = np.empty(values.size, dst)
    getattr(host, f"cvt_{src}_{dst}")(values.ctypes.data_as(ctypes.c_void_p), out.ctypes.data_as(ctypes.c_void_p),
                                      ctypes.c_long(values.size))
    np.testing.assert_array_equal(out, _numpy(values, dst), err_msg=f"{src} -> {dst} of {values.tolist()}")


@pytest.mark.skipif(NVRTC_MISSING is not None, reason=str(NVRTC_MISSING))
@pytest.mark.parametrize("src", ["float16", "float32", "float64"])
def test_astype_kernels_convert_through_the_helpers(src):
    x = np.zeros(7, src)
    f = mlc.jit(target="cuda")(lambda a: (a.astype("uint8"), a.astype("int32"), a.astype("uint32"), a.astype("uint64")))
    kernels = f.lower(x).compile().lib.get_source("cuda")
    kernels = kernels[kernels.index("__global__"):]
    for helper in ("mlc_trunc32(", "mlc_f2u64("):
        assert helper in kernels
    assert "(unsigned char)(" not in kernels, "a plain C conversion saturates on the GPU"


@needs_gpu
@pytest.mark.parametrize("src", ["float16", "float32", "float64"])
def test_astype_on_the_gpu_is_numpys(src):
    values = _special(src) if src != "float16" else _special("float32").astype("float16")
    f = mlc.jit(target="cuda")(lambda a: tuple(a.astype(d) for d in INTS))
    for dst, got in zip(INTS, f(values), strict=True):
        got = np.asarray(got.get() if hasattr(got, "get") else got)
        np.testing.assert_array_equal(got, _numpy(values, dst), err_msg=f"{src} -> {dst} on the GPU")
