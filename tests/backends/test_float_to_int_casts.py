"""Float -> int casts give NumPy's values where the value does not fit, at every length.

LLVM's ``fptosi``/``fptoui`` of NaN, an infinity or an out-of-range value is poison: short
loops wrapped (-5.0 as uint8 was 251) while vectorised ones clamped (0), and a cast to
uint8 and back to float could drop the uint8 step. The kernels now convert as NumPy does
on x86 (its casts are plain C: a 32- or 64-bit truncation whose low bits are kept), so
they agree with NumPy, and with the reference interpreter, at every length. The tests
hold the kernels to that rule written out (:func:`_x86_cast`) and NumPy to it where C
defines the value, so they do not depend on the host's NumPy elsewhere.
"""
import platform
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


def _truncated(v: float, bits: int) -> int:
    """x86's cvtt into ``bits``: toward zero, or the lowest int for NaN and values out of range."""
    low = -(1 << (bits - 1))
    return int(v) if v == v and low <= v < -low else low


def _x86_cast(x, dst):
    """The rule the kernels follow (``mlc/backends/llvm/arith.py: _float_to_int``), written
    out: signed types and uint8/uint16 keep the low bits of a 32-bit (int64: 64-bit)
    truncation, uint32/uint64 shift values from half their range down first; float16 widens
    to float32, and as NumPy goes to uint32 through 64 bits."""
    src, dst = np.dtype(x.dtype), np.dtype(dst)
    wide = x.astype(np.float32) if src == np.float16 else x
    bits = dst.itemsize * 8
    out = []
    for v in wide:
        through64 = bits == 64 or (src == np.float16 and dst == np.uint32)
        if dst.kind == "i" or bits < 32 or through64 and bits == 32:
            r = _truncated(float(v), 64 if through64 else 32)
        elif v >= 2.0 ** (bits - 1):
            r = _truncated(float(v - wide.dtype.type(2.0 ** (bits - 1))), bits) ^ (1 << (bits - 1))
        else:
            r = _truncated(float(v), bits)
        out.append(r % (1 << bits))
    return np.array(out, dtype=f"u{dst.itemsize}").view(dst)


def _defined(x, dst) -> np.ndarray:
    """Where C defines the conversion (the truncated value fits ``dst``): there NumPy, on any
    host, gives it; elsewhere NumPy's result is its compiler's and its CPU's."""
    info = np.iinfo(dst)
    with np.errstate(invalid="ignore"):
        t = np.trunc(x.astype(np.float64))
        return (t >= info.min) & (t <= info.max)


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
    want = _x86_cast(x, dst)
    defined = _defined(x, dst)
    np.testing.assert_array_equal(want[defined], _numpy_cast(x[defined], dst))
    np.testing.assert_array_equal(mlc.jit(lambda v: v.astype(dst))(x), want)
    # the narrowing stays when the value goes on (a cast back used to drop it)
    np.testing.assert_array_equal(mlc.jit(lambda v: v.astype(dst).astype(np.float64))(x), want.astype(np.float64))


@pytest.mark.parametrize("src", ["float16", "float32", "float64"])
@pytest.mark.parametrize("dst", INTS)
def test_the_rule_is_numpys_on_this_x86_host_where_c_leaves_the_value_open(src, dst):
    """NumPy's vectorised casts on x86 compile to the same truncations (checked on Zen 3 and
    on an AVX-512 Xeon with NumPy 2.4's loops): to signed types and to uint8/uint16 through
    a signed 32- or 64-bit truncation on every x86 host. Only to uint32/uint64 may a CPU
    convert out-of-range values its own way (AVX-512 has unsigned conversions): there a
    host whose NumPy differs skips, saying so."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip(f"the rule is x86's; this host is {platform.machine()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x = np.array(VALUES, src)
    got, want = _numpy_cast(x, dst), _x86_cast(x, dst)
    if dst in ("uint32", "uint64") and not np.array_equal(got, want):
        pytest.skip(f"this host's NumPy converts out-of-range {src} to {dst} otherwise: "
                    f"{got[~_defined(x, dst)]}")
    np.testing.assert_array_equal(got, want)


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
    defined = _defined(x, dst)  # the reference interpreter casts with NumPy
    np.testing.assert_array_equal(outs["llvm"][defined], outs["reference"][defined])
    np.testing.assert_array_equal(outs["llvm"], _x86_cast(x, dst))
