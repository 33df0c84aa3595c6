"""The complex helpers of the CUDA codegen (mlc/backends/cuda/complex.py), run on the host.

A machine without a GPU cannot run the kernels, so the helpers' C++ is compiled here by the
host's C++ compiler, with the few CUDA intrinsics it names defined as their host meaning
(``__fmul_rn`` is a product, ``__int_as_float`` a bit cast), and called through ctypes:
arithmetic and ==/!= bit for bit NumPy's on every pair of special values; every math call
on the special values as the op tests check every target (NaNs, infinities and zeros exactly,
signs included; other parts within a few ulps of the modulus); and on drawn values over the
whole float range, NumPy's within a few ulps of the modulus.
"""
import ctypes
import math
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlc.backends.cuda.complex import C_TYPES, COMPLEX_CALLS, PRELUDE
from mlc.ir.ops import MATH_CALLS

from .programs_complex import close_or_special, exactly, rounding_rtol, special_values

COMPILER = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
pytestmark = pytest.mark.skipif(COMPILER is None, reason="no host C++ compiler (c++, g++ or clang++)")

COMPLEX = tuple(C_TYPES)
#: The helpers of the binary ops, and NumPy's functions.
BINARY = {"mlc_cadd": np.add, "mlc_csub": np.subtract, "mlc_cmul": np.multiply, "mlc_cdiv": np.divide,
          "mlc_ceq": np.equal, "mlc_cne": np.not_equal}

#: The CUDA names the helpers use, as what they mean on the host.
HOST = r"""
#include <math.h>
#include <string.h>
#define __device__
#define __forceinline__ inline
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, sizeof f); return f; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
template <typename T> T __shfl_down_sync(unsigned, T v, int, int) { return v; }
"""


def _result(op: str, dtype: str) -> str:
    spec = MATH_CALLS[op]
    out = spec.result_dtype(dtype)
    return C_TYPES.get(out) or {"bool": "bool", "float32": "float", "float64": "double"}[out]


def _source() -> str:
    lines = [HOST, PRELUDE]
    for dtype, ctype in C_TYPES.items():
        for op, helper in COMPLEX_CALLS.items():
            lines.append(f'extern "C" void {helper}_{dtype}(const {ctype}* z, {_result(op, dtype)}* out, long n) '
                         f'{{ for (long i = 0; i < n; ++i) out[i] = {helper}(z[i]); }}')
        for helper in BINARY:
            out = "bool" if helper in ("mlc_ceq", "mlc_cne") else ctype
            lines.append(f'extern "C" void {helper}_{dtype}(const {ctype}* a, const {ctype}* b, {out}* out, '
                         f'long n) {{ for (long i = 0; i < n; ++i) out[i] = {helper}(a[i], b[i]); }}')
    return "\n".join(lines)


@pytest.fixture(scope="module")
def helpers(tmp_path_factory):
    """The helpers as a host shared library (no contraction of a * b + c: as NVRTC's, the
    helpers' own products decide where a sum is fused)."""
    folder = tmp_path_factory.mktemp("complex_helpers")
    (folder / "helpers.cpp").write_text(_source())
    subprocess.run([COMPILER, "-O2", "-std=c++17", "-fPIC", "-shared", "-ffp-contract=off", "helpers.cpp",
                    "-o", "helpers.so"], cwd=folder, check=True, capture_output=True)
    return ctypes.CDLL(str(folder / "helpers.so"))


def call(lib, helper, dtype, *arrays, out_dtype):
    arrays = [np.ascontiguousarray(a, dtype) for a in arrays]
    out = np.empty(arrays[0].shape, out_dtype)
    getattr(lib, f"{helper}_{dtype}")(*(a.ctypes.data_as(ctypes.c_void_p) for a in arrays),
                                      out.ctypes.data_as(ctypes.c_void_p), ctypes.c_long(out.size))
    return out


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("helper", sorted(BINARY))
def test_arithmetic_and_comparisons_are_numpys_bit_for_bit(helpers, helper, dtype):
    values = special_values(dtype)
    rng = np.random.default_rng(0)
    scale = rng.choice([1e-30, 1e-3, 1.0, 1e3, 1e30], (4, 2000))
    random = rng.standard_normal((4, 2000)) * scale
    a = np.concatenate([np.repeat(values, len(values)), (random[0] + 1j * random[1]).astype(dtype)])
    b = np.concatenate([np.tile(values, len(values)), (random[2] + 1j * random[3]).astype(dtype)])
    with np.errstate(all="ignore"):
        want = BINARY[helper](a, b)
    exactly(call(helpers, helper, dtype, a, b, out_dtype=want.dtype), want, helper)


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("op", sorted(COMPLEX_CALLS))
def test_math_calls_on_the_special_values_are_numpys(helpers, op, dtype):
    """As tests/ops/test_complex.py checks every target."""
    x = special_values(dtype)
    with np.errstate(all="ignore"):
        want = MATH_CALLS[op].numpy(x)
    close_or_special(call(helpers, COMPLEX_CALLS[op], dtype, x, out_dtype=want.dtype), want, dtype, op)


N = 64


def wide_values(seed: int, dtype: str) -> np.ndarray:
    """N complex values whose parts span the dtype's whole range (half of the decimal exponents
    drawn evenly from it, half from [-3, 3]; either sign), with zeros of both signs, subnormals,
    infinities and NaNs among them."""
    part = "float32" if dtype == "complex64" else "float64"
    info = np.finfo(part)
    rng = np.random.default_rng(seed)
    top = math.log10(float(info.max))
    exponents = np.where(rng.random((2, N)) < 0.5, rng.uniform(-top, top, (2, N)), rng.uniform(-3, 3, (2, N)))
    parts = rng.choice([-1.0, 1.0], (2, N)) * 10.0 ** exponents
    specials = np.array([0.0, -0.0, float(info.smallest_subnormal), -float(info.tiny), math.inf, -math.inf,
                         math.nan, 1.0, -1.0])
    where = rng.random((2, N)) < 0.15
    parts[where] = rng.choice(specials, int(where.sum()))
    with np.errstate(all="ignore"):
        return (parts[0].astype(part) + 1j * parts[1].astype(part)).astype(dtype)


@pytest.mark.parametrize("dtype", COMPLEX)
@pytest.mark.parametrize("op", sorted(set(COMPLEX_CALLS) - {"isnan", "isinf", "isfinite", "conj"}))
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_math_calls_over_the_whole_range_match_numpy(helpers, op, dtype, seed):
    """NaNs and infinities where NumPy has them; finite parts within a few ulps of the modulus
    (of the part itself where the other is infinite), subnormal ones within a few of the
    smallest normal (NumPy's complex64 functions compute in float and lose their digits)."""
    x = wide_values(seed, dtype)
    with np.errstate(all="ignore"):
        want = MATH_CALLS[op].numpy(x)
    got = call(helpers, COMPLEX_CALLS[op], dtype, x, out_dtype=want.dtype)
    part = np.finfo(want.real.dtype)
    scale = np.abs(want).astype("float64")
    for name, g, w in (("real", got.real, want.real), ("imag", got.imag, want.imag)) if want.dtype.kind == "c" \
            else (("", got, want),):
        assert (np.isnan(g) == np.isnan(w)).all() and (g[np.isinf(w)] == w[np.isinf(w)]).all() and \
            not np.isinf(g[~np.isinf(w)]).any(), f"{op} {name}: {x}, got {got}, want {want}"
        finite = np.isfinite(w)
        bound = rounding_rtol(dtype) * np.where(np.isfinite(scale), scale, np.abs(w)) + 4 * float(part.tiny)
        with np.errstate(invalid="ignore"):  # (inf - inf where NumPy's part is infinite: not finite)
            bad = finite & ~(np.abs(g.astype("float64") - w) <= bound)
        assert not bad.any(), f"{op} {name} of {x[bad]}: got {got[bad]}, want {want[bad]}"
