"""fast_math: the cheaper exp/expm1/tanh/sigmoid/erf of mlc/passes/tir/math/fast.py,
and float32's logarithms (no division) and inverse trig (in float, not double).

Their stated bounds (FAST_BOUNDS: relative error where the result is a normal
number) are checked against NumPy/SciPy in float64 with Hypothesis, special
values against NumPy exactly; the default build must keep its own routines;
a fast and a default jit of one function coexist; and float64 exp/log/erf
loops compile to SIMD code without calls on both pinned targets.
"""
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.llvm import compile_sources
from mlc.passes.tir.math.fast import FAST_BOUNDS
from mlc.schedules.default import default_schedule
from mlc.target import Target
from tests.backends.test_vector_math import (MAX_ULPS, build_atan2, build_pow, float32_sweep,
                                             near_half_pi_multiples, reference, ulp_errors)
from tests.targets import each_pinned_target, each_runnable_target

FAST_OPS = ["exp", "expm1", "tanh", "sigmoid", "erf"]
N = 257


def _module(dtype, ops=FAST_OPS, n=N):
    funcs = {}
    for op in ops:
        X = te.placeholder((n,), dtype, "X")
        fn = getattr(te, op)
        funcs[op] = te.create_prim_func([X, te.compute((n,), lambda i: fn(X[i]), "Y")])
    return mlc.IRModule(funcs)


_LIBS = {}


def _lib(dtype, fast):
    if (dtype, fast) not in _LIBS:
        _LIBS[dtype, fast] = mlc.build(_module(dtype), "llvm", fast_math=fast)
    return _LIBS[dtype, fast]


def _run(dtype, op, x, fast=True):
    y = np.empty_like(x)
    _lib(dtype, fast)[op](x, y)
    return y


def _relative_errors(op, x, y):
    want = reference(op, x)
    tiny = np.finfo(x.dtype).tiny
    normal = np.isfinite(want) & (np.abs(want) >= tiny) & (np.abs(want) <= np.finfo(x.dtype).max)
    with np.errstate(all="ignore"):
        err = np.abs(y.astype("float64") - want) / np.abs(want)
    return np.where(normal, err, 0.0), want


@settings(max_examples=25, deadline=None)
@given(dtype=st.sampled_from(["float32", "float64"]), op=st.sampled_from(FAST_OPS),
       scale=st.sampled_from([1e-3, 0.5, 3.0, 30.0, 700.0]), seed=st.integers(0, 2**32 - 1))
def test_fast_math_within_stated_bound(dtype, op, scale, seed):
    x = (np.random.default_rng(seed).standard_normal(N) * scale).astype(dtype)
    err, want = _relative_errors(op, x, _run(dtype, op, x))
    worst = int(np.argmax(err))
    assert err[worst] <= FAST_BOUNDS[dtype], (
        f"fast {op} {dtype}: relative error {err[worst]:.3g} at x={x[worst]!r}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fast_math_sweep_within_bound(dtype):
    """A dense sweep of each op's interesting range (both polynomial pieces of erf and tanh)."""
    x = np.linspace(-12, 12, N).astype(dtype)
    for op in FAST_OPS:
        err, _ = _relative_errors(op, x, _run(dtype, op, x))
        assert err.max() <= FAST_BOUNDS[dtype], f"fast {op} {dtype}: {err.max():.3g}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fast_math_special_values_as_numpy(dtype):
    big = 1000.0  # exp overflows to inf, underflows to 0; tanh/erf/sigmoid saturate
    x = np.resize(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, big, -big], dtype), N)
    for op in FAST_OPS:
        got, want = _run(dtype, op, x)[:7], reference(op, x[:7]).astype(dtype)
        np.testing.assert_array_equal(got, want, err_msg=f"fast {op} {dtype}")
        assert (np.signbit(got) == np.signbit(want))[~np.isnan(want)].all(), f"fast {op} {dtype}"


def test_default_build_keeps_accurate_routines():
    """fast_math=False (the default) gives the accurate routines, fast_math=True others."""
    mod = _module("float32", ["exp"])
    x = np.linspace(-80, 80, N).astype("float32")
    ulps = ulp_errors(_run("float32", "exp", x, fast=False), reference("exp", x), "float32")
    assert ulps.max() <= MAX_ULPS["float32"]["exp"]
    fast_ir = compile_sources(mod, mlc.Target("llvm"), fast_math=True)["ll-unoptimized"]
    slow_ir = compile_sources(mod, mlc.Target("llvm"))["ll-unoptimized"]
    # (exp written out as TIR by lower_math: the fast polynomial is a degree shorter, one FMA fewer)
    assert fast_ir.count("call") < slow_ir.count("call") and slow_ir.count("llvm.fma") > 0


def test_jit_fast_and_default_coexist():
    def f(x):
        return mlc.numpy.exp(x)

    fast, slow = mlc.jit(f, fast_math=True), mlc.jit(f)
    x = np.linspace(-20, 20, 1001).astype("float32")
    a, b = fast(x), slow(x)
    assert a.dtype == b.dtype == np.float32
    assert np.max(np.abs(a - np.exp(x)) / np.exp(x)) <= FAST_BOUNDS["float32"]
    assert ulp_errors(b, reference("exp", x), "float32").max() <= MAX_ULPS["float32"]["exp"]
    assert not np.array_equal(a, b)  # different polynomials: results differ somewhere
    assert fast.trace_count == slow.trace_count == 1
    np.testing.assert_array_equal(slow(x), b)
    np.testing.assert_array_equal(fast(x), a)


def test_fast_math_must_be_bool():
    with pytest.raises(mlc.MLCError, match="fast_math"):
        mlc.build(_module("float32", ["exp"]), "llvm", fast_math="yes")
    with pytest.raises(mlc.MLCError, match="fast_math"):
        mlc.jit(lambda x: x, fast_math=1)


#: Vector lanes of double LLVM's vectorizer picks: the whole register, on skylake-avx512
#: too (mlc turns off the 256-bit preference LLVM's tuning gives Intel's AVX-512 CPUs).
_F64_LANES = {"avx2": 4, "avx512": 8}
_ZNVER4 = Target("llvm", "znver4")


def _float64_math_sources(target, fast):
    n = 1024
    X = te.placeholder((n,), "float64", "X")
    Y = te.compute((n,), lambda i: te.exp(te.log(X[i])) + te.erf(X[i]) + te.sqrt(X[i]) / X[i]
                   + te.tanh(X[i]) + te.sigmoid(X[i]), "Y")
    mod = mlc.IRModule({"main": te.create_prim_func([X, Y])})
    return compile_sources(mod, target, fast_math=fast)


def _without_object_entries(asm: str) -> list[str]:
    """The lines of ``asm`` outside the object entries (``<kernel>__objects`` and
    ``<kernel>__checked``, whose one call is to the kernel: the ways Python calls it)."""
    lines, entry = [], False
    for line in asm.splitlines():
        if re.match(r"[^.\s][^:]*:", line):  # a function's label (blocks' start with a dot)
            entry = line.rstrip(":").strip('"').endswith(("__objects", "__checked"))
        if not entry:
            lines.append(line)
    return lines


def _assert_simd_without_calls(src, lanes):
    assert f"<{lanes} x double>" in src["ll"]
    calls = [line for line in _without_object_entries(src["asm"]) if re.match(r"\s+(call|jmp)\w*\s+[^.\s]", line)]
    assert not calls, calls


@each_pinned_target
@pytest.mark.parametrize("fast", [False, True])
def test_float64_math_loops_are_simd_without_calls(isa, target, fast):
    """exp, log, erf, tanh, sigmoid, sqrt and division on float64 vectorise at the
    target's vector width with no call (libm or other) in the code."""
    _assert_simd_without_calls(_float64_math_sources(target, fast), _F64_LANES[isa])


def test_float64_math_uses_512_bit_vectors_where_preferred():
    _assert_simd_without_calls(_float64_math_sources(_ZNVER4, False), 8)


def test_fast_float32_tanh_is_the_fitted_rational_function():
    """fast_math's float32 tanh is x P(x^2) / Q(x^2) (no exponential: no round-to-integer
    in its code), with the coefficients that tools/fit_vecmath.py's fit_tanh_rational gives (rounded to float32),
    whose approximation error leaves room for the rounding under the stated bound."""
    from mlc.passes.tir.math.fast import FAST_COEFFICIENTS
    spec = importlib.util.spec_from_file_location("mlc_tools_fit_vecmath",
                                                  Path(__file__).resolve().parents[2] / "tools" / "fit_vecmath.py")
    fit_tanh_rational = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_tanh_rational)
    fit_tanh_rational = fit_tanh_rational.fit_tanh_rational

    p, q, err = fit_tanh_rational()
    assert err < 0.1 * FAST_BOUNDS["float32"]
    for name, fitted in (("tanh_rational_p", p), ("tanh_rational_q", q)):
        np.testing.assert_allclose(FAST_COEFFICIENTS[name, "float32"], fitted.astype("float32"), rtol=1e-6)
    src = compile_sources(_module("float32", ["tanh"]), Target("llvm", "haswell"), fast_math=True)["ll"]
    assert "fdiv" in src and "llvm.roundeven" not in src and "llvm.rint" not in src and "shl <" not in src
    default = compile_sources(_module("float32", ["tanh"]), Target("llvm", "haswell"))["ll"]
    assert "shl <" in default  # (the default reduces 2|x| as exp does: 2^k made in the exponent's bits)


# float32's fast logarithms (no division), inverse trig and cube root (in float, not
# double) and sin, cos, tan (whole vectors: the polynomials in float)
FAST32_OPS = ["log", "log2", "log10", "log1p", "atan", "asin", "acos", "sin", "cos", "tan", "cbrt"]


def _fast32_lib(target, n):
    return mlc.build(_module("float32", FAST32_OPS, n), target, fast_math=True)


def _within_bound_else_exact(name, got, want, where, exact=None, subnormal_slack=True):
    """``got`` (a fast float32 result) within FAST_BOUNDS of ``want`` (float64) where that is a
    normal number; NumPy's value, sign included, where ``exact`` (by default wherever it
    is not normal: inf, nan, 0, +-pi/2...), a result below the normal range within two
    subnormal spacings of it unless not ``subnormal_slack``. ``where``: the argument(s) to
    name in a failure."""
    info = np.finfo("float32")
    with np.errstate(all="ignore"):
        normal = np.isfinite(want) & (np.abs(want) >= info.tiny) & (np.abs(want) <= info.max)
        err = np.where(normal, np.abs(got.astype("float64") - want) / np.abs(want), 0.0)
        expect = want.astype("float32")
        near = (np.abs(want) < info.tiny) & (np.abs(got.astype("float64") - want) <= 2 * info.smallest_subnormal)
    near &= subnormal_slack
    worst = int(np.argmax(err))
    assert err[worst] <= FAST_BOUNDS["float32"], (
        f"fast {name} float32: relative error {err[worst]:.3g} at {[w[worst] for w in where]!r}: got {got[worst]!r}")
    exact = ~normal if exact is None else exact
    ok = (got == expect) & (np.signbit(got) == np.signbit(expect)) | (np.isnan(got) & np.isnan(expect)) | near
    bad = np.flatnonzero(exact & ~ok)
    assert bad.size == 0, (f"fast {name} float32 at {[w[bad[:3]] for w in where]!r}: got {got[bad[:3]]!r}, "
                           f"want {expect[bad[:3]]!r}")


def _fast32_check(op, x, y):
    _within_bound_else_exact(op, y, reference(op, x), [x])


@each_runnable_target
def test_fast_float32_logs_and_inverse_trig_over_the_whole_range(target):
    """Every 1021st float32 bit pattern of both signs (subnormals, the extremes, NaN,
    infinities, zeros included): within 1e-6 relative, NumPy's values elsewhere."""
    x = float32_sweep()
    lib = _fast32_lib(target, x.size)
    for op in FAST32_OPS:
        y = np.empty_like(x)
        lib[op](x, y)
        _fast32_check(op, x, y)


@each_runnable_target
def test_fast_float32_trig_near_multiples_of_half_pi(target):
    """The float32 arguments closest to multiples of pi/2 (1 to 2^20 of them, where whole
    vectors take the fast form, and beyond, where the lanes go to the scalar routine)."""
    x = near_half_pi_multiples(seed=3, below=2**21, small=2000, large=300)
    lib = mlc.build(_module("float32", ["sin", "cos", "tan"], x.size), target, fast_math=True)
    for op in ("sin", "cos", "tan"):
        y = np.empty_like(x)
        lib[op](x, y)
        _fast32_check(op, x, y)


@each_runnable_target
def test_fast_float32_atan2_in_every_direction(target):
    rng = np.random.default_rng(7)
    n = 40_000
    magnitude = 10.0 ** rng.uniform(-44, 38, (2, n))
    y, x = (magnitude * rng.choice([-1.0, 1.0], (2, n))).astype("float32")
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-45, 3e38], "float32")
    sy, sx = np.meshgrid(specials, specials)
    y, x = np.concatenate([y, sy.ravel()]), np.concatenate([x, sx.ravel()])
    out = np.empty_like(y)
    build_atan2("float32", y.size, target, fast_math=True)["main"](y, x, out)
    with np.errstate(all="ignore"):
        want = np.arctan2(y.astype("float64"), x.astype("float64"))
    _within_bound_else_exact("atan2", out, want, [y, x])


def test_fast_float32_inverse_trig_runs_in_float_and_logs_do_not_divide():
    """The accurate float32 atan/asin/acos widen to double; fast_math's stay in float (16
    lanes a zmm register, float's division and square root). The accurate log divides
    (s = f / (2 + f)); fast_math's is a polynomial. cbrt's Newton steps, accurate or fast,
    run in float and divide by nothing."""
    ops = ["atan", "asin", "acos", "cbrt", "log", "log2", "log10"]
    from mlc.backends.llvm.generate import LLVM_TIR_PASSES, LLVM_TIR_PASSES_FAST_MATH
    from mlc.passes.tir import run_passes
    mod = _module("float32", ops)
    for op in ("atan", "asin", "acos"):  # (lower_math's: the lowered TIR's dtypes)
        for fast_math, passes in ((False, LLVM_TIR_PASSES), (True, LLVM_TIR_PASSES_FAST_MATH)):
            lowered = run_passes(mod[op], passes).script()
            assert f"T.{op}" not in lowered and ('"float64"' in lowered) != fast_math, (op, fast_math)
    for op in ("log", "log2", "log10"):  # (lower_math's too)
        for fast_math, passes in ((False, LLVM_TIR_PASSES), (True, LLVM_TIR_PASSES_FAST_MATH)):
            lowered = run_passes(mod[op], passes).script()
            assert f"T.{op}" not in lowered and (" / " in lowered) != fast_math, (op, fast_math)
    for passes in (LLVM_TIR_PASSES, LLVM_TIR_PASSES_FAST_MATH):  # (both)
        lowered = run_passes(mod["cbrt"], passes).script()
        assert "T.cbrt" not in lowered and '"float64"' not in lowered and " / " not in lowered


@each_pinned_target
def test_fast_float32_trig_vectors_evaluate_in_float(isa, target):
    """The vector form of float32 tan (what the default schedule's vectorized loop calls):
    its polynomials and quotient in double by default, in float under fast_math (the
    reduction stays double in both)."""
    n = 1 << 16
    X = te.placeholder((n,), "float32", "X")
    mod = mlc.IRModule({"main": te.create_prim_func([X, te.compute((n,), lambda i: te.tan(X[i]), "Y")])})
    scheduled = default_schedule(mod, target).mod

    def divisions(fast):
        ir = compile_sources(scheduled, target, fast_math=fast)["ll-unoptimized"]
        return set(re.findall(r"fdiv (?:[a-z]+ )*<\d+ x ([a-z]+)>", ir))
    assert divisions(False) == {"double"}
    assert divisions(True) == {"float"}


@each_runnable_target
def test_fast_float32_pow_within_bound_and_special_values_exact(target):
    """fast_math's float32 pow (shorter double polynomials): within 1e-6 relative where the
    result is normal, |x| over every exponent and y up to where the result overflows (a
    fifth of them integers, a third of the x negative); among every pair of special values
    (zeros, ones, infinities, NaN, halves, huge and tiny), C99's values exactly."""
    rng = np.random.default_rng(11)
    n = 400_000
    info = np.finfo("float32")
    x = np.exp2(rng.uniform(np.log2(float(info.tiny)) - 10, np.log2(float(info.max)), n))
    y = rng.uniform(-1, 1, n) * np.log(float(info.max)) * 1.05 / np.maximum(np.abs(np.log(x)), 1e-3)
    y = np.where(rng.random(n) < 0.2, np.round(y), y)
    x = np.where(rng.random(n) < 0.3, -x, x).astype("float32")
    big = float(info.max) / 2
    values = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, np.inf, -np.inf, np.nan,
                       1 / big, big, -big], "float32")
    sx, sy = (a.ravel() for a in np.meshgrid(values, values))
    x, y = np.concatenate([x, sx]), np.concatenate([y.astype("float32"), sy])
    z = np.empty_like(x)
    build_pow("float32", x.size, target, fast_math=True)["main"](x, y, z)
    with np.errstate(all="ignore"):
        want = np.power(x.astype("float64"), y.astype("float64"))
        normal = np.isfinite(want) & (np.abs(want) >= info.tiny) & (np.abs(want) <= info.max)
    # C99's values (zero or infinite operands, NaN, y = 0, x = 1, results out of range): exact
    exact = ~normal | (x == 0) | (y == 0) | (x == 1) | ~np.isfinite(x) | ~np.isfinite(y)
    exact[:n] = False
    assert exact.sum() > 150
    _within_bound_else_exact("pow", z, want, [x, y], exact, subnormal_slack=False)


@pytest.mark.parametrize("n", [1, 3, 17, 33])
def test_fast_float32_routines_on_short_and_ragged_arrays(n):
    """Arrays of one element, and of lengths no vector divides (the loop's tail, and a
    tail-only loop): the same bounds and special values as whole vectors."""
    x = np.resize(np.array([0.37, -2.5, 1e-30, np.inf, -0.0, 7.0, np.nan, 0.999], "float32"), n)
    lib = _fast32_lib("llvm", n)
    for op in FAST32_OPS:
        y = np.empty_like(x)
        lib[op](x, y)
        _fast32_check(op, x, y)
