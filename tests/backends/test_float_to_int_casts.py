"""Float -> int casts give NumPy's values where the value does not fit, at every length.

LLVM's ``fptosi``/``fptoui`` of NaN, an infinity or an out-of-range value is poison: short
loops wrapped (-5.0 as uint8 was 251) while vectorised ones clamped (0), and a cast to
uint8 and back to float could drop the uint8 step. The kernels now convert as NumPy does
on x86 (its casts are plain C: a 32- or 64-bit truncation whose low bits are kept), so
they agree with NumPy, and with the reference interpreter, at every length.
"""
import warnings

import numpy as np
import pytest

import mlc
from mlc import te
from mlc.schedules import as_written

VALUES = [-5.0, 300.0, np.nan, 2.0, -0.7, 0.7, 1e10, -1e10, np.inf, -np.inf, 65535.9, -129.0, 127.9, 2.0 ** 31,
          -2.0 ** 31, -2.0 ** 31 - 1, 2.0 ** 32 - 1, 2.0 ** 32 + 5, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 1.8e19, -1.0,
          4294967295.0, 3e38, -3e38]
INTS = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]


def _numpy_cast(x, dst):
    """NumPy's cast of each element as its vectorised loop does it (64 copies of the element).

    NumPy's own scalar loop (a lone element, or the last few of an array) differs from it
    for float -> uint32 out of range: -1e10 gives 2884901888 alone, 2147483648 in a long
    array. Elsewhere the two agree."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "invalid value encountered in cast"
        return np.array([np.repeat(v, 64).astype(dst)[0] for v in x], dst)


@pytest.mark.parametrize("src", ["float16", "float32", "float64"])
@pytest.mark.parametrize("dst", INTS)
@pytest.mark.parametrize("copies", [1, 9])
def test_jitted_casts_match_numpy_at_every_length(src, dst, copies):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # float16 overflows to inf, as meant
        x = np.resize(np.array(VALUES, src), copies * len(VALUES))
    want = _numpy_cast(x, dst)
    np.testing.assert_array_equal(mlc.jit(lambda v: v.astype(dst))(x), want)
    # the narrowing stays when the value goes on (a cast back used to drop it)
    np.testing.assert_array_equal(mlc.jit(lambda v: v.astype(dst).astype(np.float64))(x), want.astype(np.float64))


@pytest.mark.parametrize("dst", ["uint8", "int32", "uint64"])
def test_the_compiled_kernel_agrees_with_the_reference_interpreter(dst):
    x = np.resize(np.array(VALUES, "float32"), 64)
    A = te.placeholder((64,), "float32", name="A")
    B = te.compute((64,), lambda i: A[i].astype(dst), name="B")
    mod = mlc.IRModule({"main": te.create_prim_func([A, B])})
    outs = {}
    for target in ("llvm", "reference"):
        out = np.zeros(64, dst)
        mlc.build(mod, target, schedule=as_written)["main"](x, out)
        outs[target] = out
    np.testing.assert_array_equal(outs["llvm"], outs["reference"])
    np.testing.assert_array_equal(outs["llvm"], _numpy_cast(x, dst))
