"""lower_complex on its own: every complex operation becomes float TIR on the parts (only
loads, stores and T.complex/T.real/T.imag handle complex values after it), and the float
TIR it writes, run by the reference interpreter, is NumPy's complex arithmetic and math
(Hypothesis parts among them inf, NaN, -0, subnormals and huge ones)."""
import importlib
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlc
from mlc import te
from mlc.backends.intrinsics import has_intrinsic_lowering
from mlc.ir import dtype as dt
from mlc.ir.expr import Binary, Call, Cast, Select
from mlc.ir.functor import pre_order_nodes
from mlc.ir.ops import MATH_CALLS
from mlc.ir.tir import Allocate
from mlc.passes.tir.lower_complex import COMPLEX_MATH, complex_lowering_for, lower_complex
from tests.cuda.programs_complex import assert_division_agrees, close_or_special, exactly

COMPLEX = ("complex64", "complex128")
BINARY = {"add": (lambda a, b: a + b, np.add), "sub": (lambda a, b: a - b, np.subtract),
          "mul": (lambda a, b: a * b, np.multiply), "div": (lambda a, b: a / b, np.divide),
          "eq": (lambda a, b: a == b, np.equal), "ne": (lambda a, b: a != b, np.not_equal)}
#: NumPy's function of each math call (the op table's column).
UNARY = sorted(COMPLEX_MATH)


def _unary(op, n, dtype):
    z = te.placeholder((n,), dtype, "Z")
    y = te.compute((n,), lambda i: Call(op, (z[i],), MATH_CALLS[op].result_dtype(dtype)), "Y")
    return te.create_prim_func([z, y])


def _binary(name, n, dtype):
    a, b = te.placeholder((n,), dtype, "A"), te.placeholder((n,), dtype, "B")
    return te.create_prim_func([a, b, te.compute((n,), lambda i: BINARY[name][0](a[i], b[i]), "C")])


def _astype(t, dtype):
    return lambda i: t[i].astype(dtype)


def _casts(n, dtype):
    z = te.placeholder((n,), dtype, "Z")
    f = te.placeholder((n,), "float32", "F")
    other = "complex64" if dtype == "complex128" else "complex128"
    outs = [te.compute((n,), _astype(z, d), f"to_{d}") for d in (other, "float64", "bool", "int32")]
    outs.append(te.compute((n,), lambda i: f[i].astype(dtype), "from_float"))
    return te.create_prim_func([z, f, *outs])


def complex_operations(func):
    """The nodes of ``func`` that compute with complex values (all but the primitives)."""
    bad = []
    for n in pre_order_nodes(func.body):
        if isinstance(n, Binary) and dt.is_complex(n.a.dtype) or isinstance(n, Select) and dt.is_complex(n.dtype):
            bad.append(n)
        elif isinstance(n, Cast) and (dt.is_complex(n.dtype) or dt.is_complex(n.value.dtype)):
            bad.append(n)
        elif isinstance(n, Call) and n.op not in ("real", "imag") and any(dt.is_complex(a.dtype) for a in n.args):
            bad.append(n)
    return bad


@pytest.mark.parametrize("dtype", COMPLEX)
def test_only_loads_stores_and_the_three_primitives_handle_complex_values(dtype):
    funcs = [_unary(op, 4, dtype) for op in UNARY] + [_binary(name, 4, dtype) for name in BINARY]
    funcs.append(_casts(4, dtype))
    for func in funcs:
        assert complex_operations(func)  # (the programs compute with complex values)
        assert complex_operations(lower_complex(func)) == []


def test_a_backend_keeps_the_complex_calls_it_has_natively():
    importlib.import_module("mlc.backends.llvm.complex")  # (registers the llvm lowerings)
    func = _unary("sin", 4, "complex128")
    kept = complex_operations(complex_lowering_for(lambda op, d: has_intrinsic_lowering("llvm", op, d))(func))
    assert [n.op for n in kept] == ["sin"]  # libm's csin
    assert complex_operations(complex_lowering_for(lambda op, d: has_intrinsic_lowering("cuda", op, d))(func)) == []


def test_repeated_operands_are_computed_once_into_a_local_scalar():
    """exp(w log z): log's parts are used many times by exp's formula; they are a load of a
    local one-element buffer there, not the whole expression again."""
    z, w = te.placeholder((4,), "complex128", "Z"), te.placeholder((4,), "complex128", "W")
    y = te.compute((4,), lambda i: te.exp(w[i] * te.log(z[i])), "Y")
    lowered = lower_complex(te.create_prim_func([z, w, y]))
    allocs = [n for n in pre_order_nodes(lowered.body) if isinstance(n, Allocate)]
    assert allocs and all(a.buffer.scope == "local" for a in allocs)
    assert sum(1 for _ in pre_order_nodes(lowered.body)) < 3000
    a = np.array([1 + 2j, -0.5 + 0j, 3e200 - 1e-310j, -2 - 7j])
    b = np.array([0.5 - 1j, 2 + 0j, 1e-3 + 0j, -1 + 1j])
    out = np.empty(4, "complex128")
    mlc.build(lowered, "reference")["main"](a, b, out)
    close_or_special(out, np.exp(b * np.log(a)), "complex128", "exp(w log z)")


def _parts(width):
    """Float parts of every kind: ordinary, huge, tiny and subnormal, zeros of both signs,
    infinities and NaN."""
    special = st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 1e300 if width == 64 else 1e38,
                               5e-324 if width == 64 else 1e-45, 710.0, -745.0, 30.0])
    return st.one_of(special, st.floats(width=width, allow_nan=True, allow_infinity=True),
                     st.floats(-50, 50, width=width))


def _values(data, dtype, n):
    width = 32 if dtype == "complex64" else 64
    re = data.draw(st.lists(_parts(width), min_size=n, max_size=n), label="re")
    im = data.draw(st.lists(_parts(width), min_size=n, max_size=n), label="im")
    out = np.empty(n, dtype)
    out.real, out.imag = re, im
    return out


#: Ops where NumPy's libm and the formula may disagree beyond the few ulps of the modulus on
#: drawn parts (and how the op tests check them: on the special values, tests/ops/test_complex.py).
_LOOSE = {"asin", "acos", "atan", "asinh", "acosh", "atanh", "tan", "tanh", "sin", "cos", "sinh", "cosh", "exp",
          "expm1", "log1p"}


@pytest.mark.parametrize("dtype", COMPLEX)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_lowered_arithmetic_is_numpys_on_the_reference_interpreter(dtype, data):
    n = data.draw(st.sampled_from([1, 3, 7]), label="n")
    a, b = _values(data, dtype, n), _values(data, dtype, n)
    name = data.draw(st.sampled_from(sorted(BINARY)), label="op")
    lowered = lower_complex(_binary(name, n, dtype))
    out = np.empty(n, "bool" if name in ("eq", "ne") else dtype)
    mlc.build(lowered, "reference")["main"](a, b, out)
    if name == "div":  # NumPy's Smith's algorithm, scaled where it overflows or underflows
        assert_division_agrees(out, a, b, name)
        return
    with np.errstate(all="ignore"):
        exactly(out, BINARY[name][1](a, b), name)  # NumPy's loops step by step: bit for bit


@pytest.mark.parametrize("dtype", COMPLEX)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_lowered_math_is_numpys_on_the_reference_interpreter(dtype, data):
    n = data.draw(st.sampled_from([1, 4, 9]), label="n")
    z = _values(data, dtype, n)
    op = data.draw(st.sampled_from(UNARY), label="op")
    if op in _LOOSE:  # finite parts of a moderate size (special values: the op tests')
        z = np.where(np.isfinite(z) & (np.abs(z) < 1e3), z, np.asarray(0.5 - 0.25j, dtype)).astype(dtype)
    lowered = lower_complex(_unary(op, n, dtype))
    out = np.empty(n, MATH_CALLS[op].result_dtype(dtype))
    mlc.build(lowered, "reference")["main"](z, out)
    with np.errstate(all="ignore"):
        close_or_special(out, MATH_CALLS[op].numpy(z), dtype, op)


@pytest.mark.parametrize("dtype", COMPLEX)
def test_lowered_casts_are_numpys(dtype):
    z = np.array([1.5 - 2j, -0.0 + 0j, np.inf - 1j, complex(np.nan, 0), 0 - 0j, 3e38 + 1e-45j], dtype)
    f = np.array([1.5, -0.0, np.inf, np.nan, 2.0, -7.25], "float32")
    other = "complex64" if dtype == "complex128" else "complex128"
    outs = [np.empty(6, d) for d in (other, "float64", "bool", "int32", dtype)]
    mlc.build(lower_complex(_casts(6, dtype)), "reference")["main"](z, f, *outs)
    with np.errstate(all="ignore"):
        wants = [z.astype(other), z.real.astype("float64"), z.astype(bool), None, f.astype(dtype)]
    for got, want in zip(outs, wants):
        if want is not None:
            exactly(got, want)


def _division_bands(dtype):
    """Magnitudes of every size Smith's algorithm can trip on: subnormals, small normals,
    ordinary values, values near the largest float (each band with its edges)."""
    info = np.finfo("float32" if dtype == "complex64" else "float64")
    width = 32 if dtype == "complex64" else 64
    tiny, big, sub = float(info.tiny), float(info.max), float(info.smallest_subnormal)
    small, large = 2.0 ** (-66 if width == 32 else -930), 2.0 ** (100 if width == 32 else 963)
    return [st.one_of(st.sampled_from([sub, 3 * sub, tiny / 4]), st.floats(sub, tiny, width=width)),
            st.one_of(st.just(tiny), st.floats(tiny, small, width=width)),
            st.floats(0.5, 4.0, width=width),
            st.one_of(st.sampled_from([big / 2, big]), st.floats(large, big, width=width))]


def _complex_in(band):
    """A complex value whose parts are in ``band``, one of them maybe zero, inf or NaN."""
    part = st.builds(lambda m, negative: -m if negative else m, band, st.booleans())
    other = st.one_of(part, part, part, st.sampled_from([0.0, -0.0, math.inf, math.nan]))
    return st.builds(lambda re, im, swap: complex(im, re) if swap else complex(re, im), part, other, st.booleans())


_DIVIDE = {target: mlc.jit(lambda a, b: a / b, target=target, tiered=False) for target in ("llvm", "reference")}
_RECIPROCAL = mlc.jit(lambda b: 1 / b, tiered=False)


@pytest.mark.parametrize("dtype", COMPLEX)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_division_by_huge_and_subnormal_parts_is_accurate_on_every_backend(dtype, data):
    """Smith's algorithm as NumPy writes it gives inf or NaN for a subnormal divisor (its
    1 / (c + d r) overflows) and for parts near the largest float: the lowered division
    scales those operands, so the quotient is the exact one within a few ulps, and NumPy's
    bit for bit elsewhere. Each pair of operands is drawn from a band each (the same one
    half the time: a quotient in range)."""
    bands = _division_bands(dtype)
    n = data.draw(st.sampled_from([1, 3, 8]), label="n")
    a, b = np.empty(n, dtype), np.empty(n, dtype)
    for i in range(n):
        kb = data.draw(st.integers(0, len(bands) - 1), label="divisor's band")
        ka = data.draw(st.one_of(st.just(kb), st.integers(0, len(bands) - 1)), label="dividend's band")
        b[i], a[i] = data.draw(_complex_in(bands[kb]), label="b"), data.draw(_complex_in(bands[ka]), label="a")
    for target, divide in _DIVIDE.items():
        assert_division_agrees(divide(a, b), a, b, f"{dtype} {target}")
    assert_division_agrees(_RECIPROCAL(b), np.ones(1, dtype), b, f"{dtype} 1 / b")


@pytest.mark.parametrize("dtype", COMPLEX)
def test_division_by_a_subnormal_divisor(dtype):
    t = float(np.finfo("float32" if dtype == "complex64" else "float64").tiny) / 4
    a = np.array([t, 1 + 2j, complex(t, 2 * t), 3j], dtype)
    b = np.array([t, complex(t, t), complex(t, 3 * t), complex(0, t)], dtype)
    got = _DIVIDE["llvm"](a, b)
    want = np.array([1, (1 + 2j) / (1 + 1j) / t, (1 + 2j) / (1 + 3j), 3 / t])
    with np.errstate(over="ignore"):
        want = want.astype(dtype)  # (1 / t overflows complex64: inf parts, not checked)
    finite = np.isfinite(want)
    assert finite.sum() >= 2
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-6)
    np.testing.assert_array_equal(_DIVIDE["reference"](a, b), got)
